"""Training one MultiStyleNet on several styles, its files and its contact sheet.

Oracles: torch's own Adam (StyleAdam on a table whose rows all get gradients is Adam, to
float64 rounding); the style schedule against its definition (every style once per round);
the weights after every step of a run against the weights before it (the rows of the styles
not trained at that step are torch.equal); an uninterrupted run against one that stops and
resumes (torch.equal on every weight and optimiser state); the network a file rebuilds
against the one that was saved; the tiles of a contact sheet against stylize_styles.
Everything runs on the CPU with random VGG16 weights, 32 px crops and a few steps.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from stylelib import trainkit
from stylelib.checkpoints import CheckpointError
from stylelib.data import procedural_style
from stylelib.errors import OutputError
from stylelib.images import save_image
from stylelib.johnson.conditional import MultiStyleNet, StyleWeightsError, stylize_styles
from stylelib.johnson.multistyle import (
    GAP,
    contact_sheet,
    is_multistyle_file,
    load_multistyle,
    save_multistyle,
)
from stylelib.johnson.published import PublishedFileError
from stylelib.johnson.train import (
    StyleAdam,
    style_for_step,
    style_tables,
    train,
    train_styles,
)
from stylelib.presets import get as preset

STYLES = ["mosaic", "waves", "dots"]


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
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("mosaic", "waves", "dots", "strokes")):
        save_image(procedural_style(name, size=48, seed=i)[..., :40, :], folder / f"p{i}.png")
    return folder


def tables_of(state: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.endswith((".gamma", ".beta"))}


def snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --- the schedule and the optimiser ---------------------------------------------------------


def test_the_schedule_visits_every_style_once_a_round_in_a_seeded_order():
    for n in (1, 3, 5):
        for r in range(4):
            assert sorted(style_for_step(r * n + i, n, seed=2) for i in range(n)) == list(range(n))
    order = [style_for_step(k, 5, seed=2) for k in range(20)]
    assert order == [style_for_step(k, 5, seed=2) for k in range(20)]  # a function, no state
    assert order[:5] != order[5:10] or order[5:10] != order[10:15]  # reshuffled each round
    assert order != [style_for_step(k, 5, seed=3) for k in range(20)]


def test_style_adam_is_torch_adam_when_every_row_has_a_gradient():
    gen = torch.Generator().manual_seed(0)
    conv = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    table = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    ours = [torch.nn.Parameter(conv.clone()), torch.nn.Parameter(table.clone())]
    theirs = [torch.nn.Parameter(conv.clone()), torch.nn.Parameter(table.clone())]
    a = StyleAdam(ours[:1], ours[1:], lr=0.01)
    b = torch.optim.Adam(theirs, lr=0.01)
    for _ in range(5):
        grads = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in ours]
        for params, opt in ((ours, a), (theirs, b)):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.clone()
            opt.step()
    assert torch.equal(ours[0], theirs[0])  # the shared weights: torch's Adam itself
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-12, atol=1e-14)


def test_style_adam_leaves_a_row_without_gradient_alone_even_with_momentum():
    """Plain Adam keeps moving a row that trained before; StyleAdam does not."""
    ours, theirs = (torch.nn.Parameter(torch.ones(3, 4)) for _ in range(2))
    a, b = StyleAdam([], [ours], lr=0.1), torch.optim.Adam([theirs], lr=0.1)
    for step in range(6):
        grad = torch.zeros(3, 4)
        grad[step % 2] = torch.linspace(-1, 1, 4) + 0.1  # rows 0 and 1 by turns, never 2
        for p, opt in ((ours, a), (theirs, b)):
            before = p.detach().clone()
            p.grad = grad.clone()
            opt.step()
            moved = (p.detach() != before).any(dim=1)
            if opt is a:
                assert moved.tolist() == [step % 2 == 0, step % 2 == 1, False], step
            elif step:
                assert moved[1 - step % 2], "plain Adam moves the other row by its momentum"
    state = a.state[ours]
    assert state["step"].tolist() == [3, 3, 0]  # each row counts its own updates
    assert not state["exp_avg"][2].any() and not state["exp_avg_sq"][2].any()


# --- training -------------------------------------------------------------------------------


def test_each_style_row_moves_only_on_its_own_batches(photos, monkeypatch):
    """After every step of style s, rows != s of every γ/β table are unchanged, row s and
    the shared convolutions have moved: over three rounds, so every row has momentum."""
    runs, states = [], []
    start = trainkit.TrainingRun.start

    def spy(run, model, optimizer):  # the network as built, before any step
        runs.append(model)
        states.append(snapshot(model))
        start(run, model, optimizer)

    def after_step(step, record):
        states.append(snapshot(runs[0]))

    monkeypatch.setattr(trainkit.TrainingRun, "start", spy)
    config = tiny(steps=9, checkpoint_every=0)
    layout = "magenta-android"
    train_styles(STYLES, photos, config, layout=layout, progress=False, callback=after_step)
    assert len(runs) == 1 and len(states) == 10
    for k, (before, after) in enumerate(zip(states[:-1], states[1:], strict=True)):
        s = style_for_step(k, 3, seed=0)
        others = [r for r in range(3) if r != s]
        for name, table in tables_of(after).items():
            assert torch.equal(table[others], before[name][others]), (k, name)
        moved = [n for n, t in tables_of(after).items() if not torch.equal(t[s], before[n][s])]
        assert moved, f"step {k + 1}: style {s}'s rows did not move"
        assert not torch.equal(after["res.0.0.conv.weight"], before["res.0.0.conv.weight"])


def test_resuming_is_bit_exact(photos, tmp_path):
    """4 steps in one go == 2 steps, then --resume for 2 more: every weight, every moment."""
    full, half = tmp_path / "full.pth", tmp_path / "half.pth"
    train_styles(STYLES, photos, tiny(steps=4), full, progress=False)
    train_styles(STYLES, photos, tiny(steps=2), half, progress=False)
    resumed = train_styles(STYLES, photos, tiny(steps=4), half, resume=half, progress=False)
    assert resumed.steps == 4
    a, b = torch.load(half, weights_only=True), torch.load(full, weights_only=True)
    assert a["step"] == b["step"] == 4 and a["layout"] == "dumoulin2017"
    for key, value in b["model"].items():
        assert torch.equal(a["model"][key], value), key
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    for index, state in b["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(a["optimizer"]["state"][index][name], value), (index, name)
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]


def test_the_checkpoint_records_the_network_and_the_styles(photos, tmp_path):
    style = save_image(procedural_style("strokes", size=40), tmp_path / "strokes.png")
    out = tmp_path / "m.pth"
    result = train_styles(["mosaic", style], photos, tiny(steps=2), out, progress=False)
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["format"] == "stylelib-johnson-multistyle" and ckpt["num_styles"] == 2
    assert ckpt["layout"] == "dumoulin2017" and ckpt["config"]["image_size"] == 32
    assert [s["name"] for s in ckpt["styles"]] == ["mosaic", str(style)]
    assert (
        ckpt["styles"][1]["sha256"] == __import__("hashlib").sha256(style.read_bytes()).hexdigest()
    )
    net = load_multistyle(out)
    assert is_multistyle_file(out) and (net.num_styles, net.layout) == (2, "dumoulin2017")
    photo = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(1))
    for k in (0, 1, "0:1,1:3"):
        assert torch.equal(stylize_styles(net, photo, k), stylize_styles(result.model, photo, k))


def test_resume_refuses_other_styles_order_layout_or_settings(photos, tmp_path):
    out = tmp_path / "m.pth"
    train_styles(STYLES, photos, tiny(steps=2), out, progress=False)

    def resume(styles, **kw):
        config = tiny(steps=4, **kw.pop("config", {}))
        train_styles(styles, photos, config, out, resume=out, progress=False, **kw)

    with pytest.raises(CheckpointError, match=r"trained on 3 styles \(mosaic, waves, dots\), this"):
        resume(STYLES[:2])
    with pytest.raises(CheckpointError, match="its style 0 was mosaic .*, this run's is waves"):
        resume(["waves", "mosaic", "dots"])
    with pytest.raises(CheckpointError, match="the dumoulin2017 layout, not magenta-android"):
        resume(STYLES, layout="magenta-android")
    with pytest.raises(CheckpointError, match=r"other settings \(lr 0.001 -> 0.002\)"):
        resume(STYLES, config={"lr": 2e-3})
    with pytest.raises(CheckpointError, match="checkpoint of another format"):
        single = tmp_path / "single.pth"
        train("mosaic", photos, tiny(steps=1), single, progress=False)
        train_styles(STYLES, photos, tiny(steps=2), single, resume=single, progress=False)


def test_bad_style_lists_are_refused_in_one_line(photos):
    with pytest.raises(ValueError, match="styles 0 .mosaic. and 2 .mosaic. are the same image"):
        train_styles(["mosaic", "dots", "mosaic"], photos, tiny(), progress=False)
    for bad in ([], "mosaic"):
        with pytest.raises(ValueError, match="a list of one or more style images"):
            train_styles(bad, photos, tiny(), progress=False)


# --- files ----------------------------------------------------------------------------------


def test_save_and_load_round_trip_and_wrong_files(tmp_path):
    torch.manual_seed(0)
    net = MultiStyleNet(4, "magenta-android")
    with torch.no_grad():
        for table in style_tables(net)[1]:
            table.add_(torch.randn(table.shape))
    path = save_multistyle(net, tmp_path / "four.pth", styles=["a", "b", "c", "d"])
    loaded = load_multistyle(path)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.layout == "magenta-android" and not loaded.training
    ckpt = torch.load(path, weights_only=True)
    with pytest.raises(OutputError, match="already exists"):
        save_multistyle(net, path)
    for change, match in (
        ({"num_styles": 5}, r"do not fit MultiStyleNet\(5, 'magenta-android'\)"),
        ({"layout": "vgg16"}, "has layout 'vgg16'"),
        ({"format": "stylelib-johnson-transformer"}, "checkpoint of another format"),
    ):
        bad = tmp_path / "bad.pth"
        torch.save({**ckpt, **change}, bad)
        with pytest.raises(CheckpointError, match=match) as info:
            load_multistyle(bad)
        assert "\n" not in str(info.value)
        bad.unlink()
    (tmp_path / "text.onnx").write_text("not onnx")
    with pytest.raises(PublishedFileError, match="is not an ONNX model"):
        load_multistyle(tmp_path / "text.onnx")
    assert is_multistyle_file(tmp_path / "text.onnx") and not is_multistyle_file(tmp_path / "no")


# --- the contact sheet ----------------------------------------------------------------------


def test_contact_sheet_tiles_are_the_styles_and_carry_their_numbers():
    torch.manual_seed(0)
    net = MultiStyleNet(5, "magenta-android").eval()
    with torch.no_grad():
        for table in style_tables(net)[1]:
            table.add_(torch.randn(table.shape) * 0.5)  # five visibly different styles
    photo = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(2))
    sheet = contact_sheet(net, photo, columns=2)
    assert sheet.shape[:2] == (1, 3) and sheet.shape[-1] == 2 * 44 + 3 * GAP
    rows = math.ceil(5 / 2)
    strip = (sheet.shape[-2] - GAP) // rows - 30 - GAP  # the text strip under each tile
    assert strip > 2 * GAP
    for k in range(5):
        r, c = divmod(k, 2)
        y, x = GAP + r * (30 + strip + GAP), GAP + c * (44 + GAP)
        tile = sheet[..., y : y + 30, x : x + 44]
        expected = (stylize_styles(net, photo, k) * 255).round() / 255  # 8-bit, as drawn
        torch.testing.assert_close(tile, expected, atol=1e-6, rtol=0)
        text = sheet[..., y + 30 : y + 30 + strip, x : x + 44]
        assert text.min() < 0.5, f"no label under tile {k}"  # dark text on white
    assert (sheet[..., -GAP:, :] == 1).all()  # the margin is white
    with pytest.raises(ValueError, match="2 labels for 5 styles"):
        contact_sheet(net, photo, labels=["a", "b"])
    with pytest.raises(StyleWeightsError, match="must have 5 values"):
        stylize_styles(net, photo, [0.5, 0.5])


# --- processes ------------------------------------------------------------------------------

# As in test_johnson_train.py: both runs in float64, where the two shards' all-reduced
# gradients and the single process's differ by rounding only (~1e-16 relative, far below
# Adam's eps), so the losses agree to DDP_RTOL and fail at once (~1e-1) if the shards do not
# make up the single-process batch or the ranks train different styles.
DDP_RTOL = 1e-9
DEADLINE_S = 600

DDP_SCRIPT = """
import hashlib, os, sys, warnings
from dataclasses import replace
import torch
from stylelib.presets import get as preset
from stylelib.johnson.train import train_styles

warnings.simplefilter("ignore")
torch.set_default_dtype(torch.float64)
data, out = sys.argv[1], sys.argv[2]
config = replace(preset("johnson2016"), weights="random", image_size=32, style_size=32,
                 batch_size=4, steps=4, checkpoint_every=0, device="cpu")
result = train_styles(["mosaic", "waves", "dots"], data, config, out, progress=False)
h = hashlib.sha256()
for key, value in result.model.state_dict().items():
    h.update(key.encode() + value.cpu().numpy().tobytes())
open(os.path.join(os.path.dirname(out), f"rank{os.environ['RANK']}.sha256"), "w").write(
    h.hexdigest())
"""


@pytest.mark.slow
def test_torchrun_two_processes_train_the_same_styles(photos, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "ddp_styles.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp.pth"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(script), str(photos), str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE_S)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    ckpt = torch.load(out, weights_only=True)
    assert (tmp_path / "rank0.sha256").read_text() == (tmp_path / "rank1.sha256").read_text()
    assert ckpt["world_size"] == 2 and ckpt["step"] == 4 and ckpt["num_styles"] == 3
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        config = tiny(steps=4, batch_size=4, checkpoint_every=0)
        single = train_styles(STYLES, photos, config, progress=False)
    finally:
        torch.set_default_dtype(default)
    assert [r["loss"] for r in ckpt["history"]] == pytest.approx(
        [r["loss"] for r in single.history], rel=DDP_RTOL
    )
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(ckpt["model"][key], value, rtol=1e-9, atol=1e-12)
