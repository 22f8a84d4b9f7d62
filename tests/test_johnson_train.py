"""Tests for stylelib.johnson.train: data, loss, checkpoints, exact resume and torchrun.

Everything runs offline on the CPU with seeded random VGG16 weights, 32 px crops from a
folder of small procedural images made in tmp_path, and a few steps. Oracles: the data
pipeline is checked against its definition (a function of seed and sample number, one
permutation per epoch); the loss of the trained network against the same seeded network
before training, on a fixed batch; a run killed with SIGKILL and resumed against an
uninterrupted run (torch.equal on every parameter and optimiser state); a 2-process torchrun
against itself (the same parameters on both ranks) and against a single process (the same
losses, since the global batches are the same). What is not checked: picture quality, GPUs
and NCCL (opt-in hardware), TensorBoard when it is not installed beyond the error.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from stylelib.checkpoints import CheckpointError
from stylelib.data import procedural_style
from stylelib.errors import Diverged, StylelibError
from stylelib.images import save_image
from stylelib.johnson import train as johnson_train
from stylelib.johnson.network import TransformerNet
from stylelib.johnson.train import loss_network, perceptual_loss, style_targets, train
from stylelib.presets import get as preset
from stylelib.trainset import (
    CropDataset,
    DataError,
    ShardSampler,
    UnreadableImageWarning,
    list_images,
)

STYLES = ("mosaic", "waves", "strokes", "dots")


def tiny(**changes):
    """The paper's preset at 32 px, batch 2, a few steps, random VGG16 on the CPU."""
    base = replace(
        preset("johnson2016"),
        weights="random",
        image_size=32,
        style_size=32,
        batch_size=2,
        steps=4,
        checkpoint_every=2,
        device="cpu",
    )
    return replace(base, **changes)


@pytest.fixture
def photos(tmp_path):
    """Six small non-square images, two of them in a subfolder."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(6):
        image = procedural_style(STYLES[i % 4], size=64, seed=i)[..., : 36 + 5 * i, :]
        save_image(image, folder / ("sub" if i >= 4 else "") / f"p{i}.png")
    return folder


def digest(state: dict) -> str:
    h = hashlib.sha256()
    for key, value in state.items():
        h.update(key.encode() + value.cpu().numpy().tobytes())
    return h.hexdigest()


# --- data ----------------------------------------------------------------------------------


def test_list_images_is_recursive_sorted_and_explains_empty_folders(photos, tmp_path):
    (photos / "notes.txt").write_text("not an image")
    names = [p.relative_to(photos).as_posix() for p in list_images(photos)]
    assert names == ["p0.png", "p1.png", "p2.png", "p3.png", "sub/p4.png", "sub/p5.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in .*empty.* or its subfolders"):
        list_images(tmp_path / "empty")
    with pytest.raises(DataError, match="is not a folder"):
        list_images(tmp_path / "missing")


def test_crops_are_a_function_of_seed_and_sample_number(photos):
    files = list_images(photos)
    a, b = CropDataset(files, 32, seed=5), CropDataset(files, 32, seed=5)
    crop, skipped = a[7]
    assert crop.shape == (3, 32, 32) and skipped == () and 0 <= crop.min() <= crop.max() <= 1
    assert torch.equal(crop, b[7][0]) and torch.equal(a[3][0], b[3][0])  # order does not matter
    assert not torch.equal(crop, a[8][0])
    for epoch in range(3):  # every file once per epoch, in a new order each epoch
        assert sorted(a.order(epoch)) == list(range(len(files)))
    assert not np.array_equal(a.order(0), a.order(1))
    assert not np.array_equal(a.order(0), CropDataset(files, 32, seed=6).order(0))


def test_shards_of_any_world_size_make_the_same_global_batches():
    one = list(ShardSampler(3, 6, batch_size=4))
    ranks = [list(ShardSampler(3, 6, batch_size=4, rank=r, world_size=2)) for r in (0, 1)]
    assert one == list(range(12, 24))
    merged = [x for step in range(3) for r in (0, 1) for x in ranks[r][2 * step : 2 * step + 2]]
    assert merged == one and len(ShardSampler(3, 6, 4, 1, 2)) == 6


@pytest.mark.slow
def test_unreadable_images_are_skipped_with_a_warning_and_counted(photos):
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(UnreadableImageWarning, match="broken.jpg.*1 skipped so far"):
        result = train("mosaic", photos, tiny(steps=4, batch_size=4), progress=False)
    assert result.skipped == [str(photos / "broken.jpg")]
    assert "1 unreadable image(s) skipped" in result.message


def test_a_folder_of_only_unreadable_files_is_a_clear_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"junk")
    with warnings.catch_warnings(), pytest.raises(DataError, match="none of the 1 image files"):
        warnings.simplefilter("ignore", UnreadableImageWarning)
        train("mosaic", tmp_path, tiny(steps=1), progress=False)


def test_a_seed_beyond_32_bits_seeds_every_generator(photos):
    # numpy's global generator takes 32-bit seeds; a larger one goes in as two words
    a = train("mosaic", photos, tiny(steps=1, seed=2**40), progress=False)
    b = train("mosaic", photos, tiny(steps=1, seed=2**40 + 2**32), progress=False)
    assert a.steps == b.steps == 1 and a.history[0]["loss"] != b.history[0]["loss"]


def test_broken_images_read_by_a_worker_process_end_in_the_same_one_line(tmp_path):
    (tmp_path / "a.png").write_bytes(b"junk")
    with warnings.catch_warnings(), pytest.raises(DataError) as info:
        warnings.simplefilter("ignore", UnreadableImageWarning)
        train("mosaic", tmp_path, tiny(steps=1, workers=1), progress=False)
    assert str(info.value).startswith("none of the 1 image files") and "\n" not in str(info.value)


# --- loss and training ---------------------------------------------------------------------


@pytest.mark.slow
def test_training_lowers_the_loss_on_a_fixed_batch(photos):
    config = tiny(steps=30, checkpoint_every=0)
    torch.manual_seed(config.seed)
    before = TransformerNet().eval()  # train() seeds the same way: this is its start
    result = train("mosaic", photos, config, progress=False)
    net = loss_network(config)
    grams = style_targets(net, procedural_style("mosaic", size=32), config)
    batch = torch.stack([CropDataset(list_images(photos), 32, seed=99)[k][0] for k in range(4)])
    with torch.no_grad():
        loss_before, _ = perceptual_loss(net, before(batch), batch, grams, config)
        loss_after, parts = perceptual_loss(net, result.model(batch), batch, grams, config)
    assert loss_after < 0.9 * loss_before, (loss_before, loss_after)  # 0.68 when written
    losses = [r["loss"] for r in result.history]  # and on the training batches, on average
    assert sum(losses[-10:]) < 0.9 * sum(losses[:10])
    assert set(parts) == {"content", "style", "tv"}
    assert [r["step"] for r in result.history] == list(range(1, 31))


def test_perceptual_loss_matches_the_papers_formulas_written_out(photos):
    """Johnson et al. 2016, Eqs. 2-5 by hand: mean squared feature difference, Gram / CHW,
    squared Frobenius norm summed over layers, squared TV; each averaged over the batch.

    In float64: the two sides sum the same terms in different orders (einsum against bmm),
    which float32 rounds differently on different CPUs (~sqrt(n) x 6e-8 for n ~ 1e5 terms);
    float64 leaves ~1e-12, so the tolerance checks the formulas only."""
    config = tiny(content_weight=2.0, style_weight=3.0, tv_weight=1e-3)
    net = loss_network(config).double()
    style = procedural_style("dots", size=32).double()
    grams = style_targets(net, style, config)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    total, parts = perceptual_loss(net, y, x, grams, config)

    def gram(f):
        b, c, h, w = f.shape
        return torch.einsum("bchw,bdhw->bcd", f, f) / (c * h * w)

    fy, fx, fs = net(y), net(x), net(style)
    content = ((fy["relu2_2"] - fx["relu2_2"]) ** 2).mean()
    style_sum = sum(
        ((gram(fy[n]) - gram(fs[n])) ** 2).sum(dim=(1, 2)).mean() for n in config.style_layers
    )
    tv = ((y[:, :, 1:] - y[:, :, :-1]) ** 2).sum() + ((y[..., 1:] - y[..., :-1]) ** 2).sum()
    assert total.dtype == torch.float64
    assert torch.allclose(parts["content"], 2.0 * content, rtol=1e-10)
    assert torch.allclose(parts["style"], 3.0 * style_sum, rtol=1e-10)
    assert torch.allclose(parts["tv"], 1e-3 * tv / 2, rtol=1e-10)
    assert torch.allclose(total, parts["content"] + parts["style"] + parts["tv"], rtol=1e-12)
    _, without_style = perceptual_loss(net, x, x, grams, replace(config, style_weight=0.0))
    assert "style" not in without_style and without_style["content"] == 0


def test_nan_loss_stops_with_a_clear_error(photos, monkeypatch):
    def broken(net, stylized, content, grams, config):
        loss = stylized.mean() * float("nan")
        return loss, {"content": loss}

    monkeypatch.setattr(johnson_train, "perceptual_loss", broken)
    with pytest.raises(Diverged, match="the loss became nan at step 1; lower the learning rate"):
        train("mosaic", photos, tiny(), progress=False)


# --- checkpoints ---------------------------------------------------------------------------


def test_checkpoint_carries_everything_a_resume_needs(photos, tmp_path):
    style = save_image(procedural_style("waves", size=48), tmp_path / "style.png")
    out = tmp_path / "m.pth"
    result = train(style, photos, tiny(steps=3, checkpoint_every=2), out, progress=False)
    ckpt = torch.load(out, weights_only=True)  # no pickled code: weights_only loads it
    assert ckpt["format"] == "stylelib-johnson-transformer" and ckpt["step"] == 3
    assert ckpt["stylelib_version"] == __import__("stylelib").__version__
    assert ckpt["style_sha256"] == hashlib.sha256(style.read_bytes()).hexdigest()
    assert ckpt["config"]["content_layers"] == ("relu2_2",) and ckpt["config"]["steps"] == 3
    assert ckpt["data"]["samples_seen"] == 6 and ckpt["data"]["files"] == 6
    assert set(ckpt["rng"]) == {"torch", "cuda", "numpy", "python"}
    assert len(ckpt["history"]) == 3 and set(ckpt["optimizer"]["state"])
    assert digest(ckpt["model"]) == digest(result.model.state_dict())
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"


def test_resume_refuses_another_style_config_or_folder(photos, tmp_path):
    out = tmp_path / "m.pth"
    train("mosaic", photos, tiny(steps=2), out, progress=False)
    with pytest.raises(CheckpointError, match="trained on a style image with SHA-256"):
        train("waves", photos, tiny(steps=4), out, resume=out, progress=False)
    with pytest.raises(CheckpointError, match=r"other settings \(lr 0.001 -> 0.002\)"):
        train("mosaic", photos, tiny(steps=4, lr=2e-3), out, resume=out, progress=False)
    (photos / "p0.png").rename(photos / "renamed.png")
    with pytest.raises(CheckpointError, match="the training folder changed"):
        train("mosaic", photos, tiny(steps=4), out, resume=out, progress=False)
    with pytest.raises(StylelibError, match="already exists; continue it with --resume"):
        train("mosaic", photos, tiny(steps=4), out, progress=False)


@pytest.mark.slow
def test_interrupt_saves_the_last_complete_step_and_resume_continues(photos, tmp_path):
    out, full = tmp_path / "m.pth", tmp_path / "full.pth"

    def ctrl_c(step, record):
        if step == 3:
            raise KeyboardInterrupt

    result = train("mosaic", photos, tiny(steps=6), out, progress=False, callback=ctrl_c)
    assert result.stopped == "interrupted" and result.message.startswith("interrupted")
    assert torch.load(out, weights_only=True)["step"] == 3
    resumed = train("mosaic", photos, tiny(steps=6), out, resume=out, progress=False)
    train("mosaic", photos, tiny(steps=6), full, progress=False)
    a, b = torch.load(out, weights_only=True), torch.load(full, weights_only=True)
    assert resumed.steps == 6 and digest(a["model"]) == digest(b["model"])


@pytest.mark.slow
def test_tensorboard_is_optional_and_explained_when_missing(photos, tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(StylelibError, match="pip install tensorboard"):
            train("mosaic", photos, tiny(), tensorboard=tmp_path / "tb", progress=False)
    else:
        train("mosaic", photos, tiny(), tensorboard=tmp_path / "tb", progress=False)
        assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


# --- processes -----------------------------------------------------------------------------


# A limit for a subprocess to finish, there to end a run that hangs, not to time one: each
# takes about 5 s alone, and 20x that on two cores shared with other work (measured 10x).
DEADLINE_S = 600


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical_to_an_uninterrupted_run(photos, tmp_path):
    """The CLI in subprocesses: SIGKILL right after the first checkpoint, then --resume."""
    command = [sys.executable, "-m", "stylelib", "train", "mosaic", "--data", str(photos)]
    command += "--weights random --image-size 32 --style-size 32 --batch-size 2 --steps 30".split()
    command += "--checkpoint-every 5 --device cpu --seed 3 --quiet".split()
    full, killed = tmp_path / "full.pth", tmp_path / "killed.pth"
    # one thread each: the two runs share the CPU without oversubscribing it (and all three
    # runs use the same number of threads, which bit-identical arithmetic needs)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "env": env}
    uninterrupted = subprocess.Popen([*command, "-o", str(full)], **quiet)
    victim = subprocess.Popen([*command, "-o", str(killed)], **quiet)
    deadline = time.monotonic() + DEADLINE_S
    while not killed.exists():
        assert victim.poll() is None, victim.stderr.read().decode()
        assert time.monotonic() < deadline, f"no checkpoint within {DEADLINE_S} s"
        time.sleep(0.002)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    step = torch.load(killed, weights_only=True)["step"]
    assert 5 <= step < 30, step
    assert uninterrupted.wait(timeout=DEADLINE_S) == 0, uninterrupted.stderr.read().decode()
    resume = subprocess.run([*command, "-o", str(killed), "--resume", str(killed)], **quiet)
    assert resume.returncode == 0, resume.stderr.decode()
    a, b = torch.load(killed, weights_only=True), torch.load(full, weights_only=True)
    assert a["step"] == b["step"] == 30
    for key in b["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    for index, state in b["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(a["optimizer"]["state"][index][name], value), (index, name)
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]


# Both the torchrun run and the single process it is compared with run in float64 (the
# default dtype: the networks are built in it and take the float32 crops in it). Why: in
# float32 the two runs differ by rounding (the all-reduce adds the two half-batch gradients,
# one process sums all four in another order), and Adam turns that into real differences:
# a gradient entry that is rounding noise (a bias before instance norm has none in exact
# arithmetic) of the size of Adam's eps=1e-8 moves its weight by up to lr either way. Measured
# on two machines: relative loss differences 0 and 2.1e-5 at step 3, 2.4e-4 at step 5. In
# float64 that noise is ~1e-16 relative, far below eps, and the bound is plain rounding: about
# steps x n x 1.1e-16 for sums of n ~ 3e5 terms, ~1e-10; measured at most 3e-15 over 8 steps.
# DDP_RTOL = 1e-9 keeps a margin over the bound and still fails at once if the shards do
# not make up the single-process batch (differences of ~1e-1).
DDP_RTOL = 1e-9

DDP_SCRIPT = """
import hashlib, os, sys, warnings
from dataclasses import replace
import torch
from stylelib.presets import get as preset
from stylelib.johnson.train import train

warnings.simplefilter("ignore")
torch.set_default_dtype(torch.float64)
data, out = sys.argv[1], sys.argv[2]
config = replace(preset("johnson2016"), weights="random", image_size=32, style_size=32,
                 batch_size=4, steps=3, checkpoint_every=0, device="cpu")
result = train("mosaic", data, config, out, progress=False)
h = hashlib.sha256()
for key, value in result.model.state_dict().items():
    h.update(key.encode() + value.cpu().numpy().tobytes())
rank = os.environ["RANK"]
open(os.path.join(os.path.dirname(out), f"rank{rank}.sha256"), "w").write(h.hexdigest())
"""


@pytest.mark.slow
def test_torchrun_two_processes_keep_the_parameters_equal(photos, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    out = tmp_path / "ddp.pth"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(script), str(photos), str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE_S)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    ckpt = torch.load(out, weights_only=True)
    rank0, rank1 = (tmp_path / "rank0.sha256").read_text(), (tmp_path / "rank1.sha256").read_text()
    assert rank0 == rank1 == digest(ckpt["model"])  # ranks saw different crops, same weights
    assert ckpt["world_size"] == 2 and ckpt["step"] == 3
    assert all(v.dtype == torch.float64 for v in ckpt["model"].values() if v.is_floating_point())
    # the two shards make up the single-process batch: the losses agree to float64 rounding
    config = tiny(steps=3, batch_size=4, checkpoint_every=0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        single = train("mosaic", photos, config, progress=False)
    finally:
        torch.set_default_dtype(default)
    assert [r["loss"] for r in ckpt["history"]] == pytest.approx(
        [r["loss"] for r in single.history], rel=DDP_RTOL
    )


def test_batch_must_split_evenly_over_processes(photos, monkeypatch):
    from stylelib import trainkit

    monkeypatch.setattr(trainkit, "start_processes", lambda device: trainkit.Processes(0, 3))
    with pytest.raises(ValueError, match="batch_size=4 cannot be split evenly over 3 processes"):
        train("mosaic", photos, tiny(batch_size=4), progress=False)
