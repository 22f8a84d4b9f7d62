"""Catalogue of bad numbers, dtypes and checkpoint fields: each refused where it enters.

One case per bad input, across the command line and the Python API, in four classes: the
numbers of a config (finite, in range, of the right type, sizes capped by pixel count), the
arguments of the library's functions (blend weights, save_every, dtypes and ranges of
tensors), checkpoint files (config and run state, checked in one place) and training errors
(a data-loading process, a run that diverges). Each case asserts the exit status and the
one ``stylelib: error:`` line (command line) or the exception type and its one-line message
(Python), and that nothing the user had changed: every file in ``tmp_path`` keeps its bytes
and modification time, no file or folder appears, and tensors passed in keep their values.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest
import torch
from helpers import assert_one_line_error, run_cli

from stylelib import losses
from stylelib.checkpoints import CheckpointError, load_checkpoint
from stylelib.data import procedural_style
from stylelib.errors import ImageError
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.transfer import transfer
from stylelib.images import save_image
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.config import JohnsonConfig
from stylelib.johnson.network import TransformerNet, stylize_image
from stylelib.johnson.train import train
from stylelib.presets import get as preset
from stylelib.trainset import DataError, UnreadableImageWarning

TRANSFER = ["--weights", "random", "--device", "cpu", "--size", "48", "--steps", "2", "--quiet"]
TRAIN = "--weights random --image-size 32 --style-size 32 --batch-size 2 --steps 2".split()
TRAIN += ["--device", "cpu", "--quiet"]


# --------------------------------------------------------------------------- what must not change


def snapshot(root: Path) -> dict:
    """Every path under ``root``: a file's bytes and mtime, or a folder's name."""
    state = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        state[path] = (path.read_bytes(), stat.st_mtime_ns) if path.is_file() else "folder"
    return state


def assert_one_line(error: BaseException, fragment: str) -> None:
    message = str(error)
    assert fragment in message, message
    assert "\n" not in message and "Traceback" not in message, message


@dataclass
class Files:
    """A content and a style image, a folder of photos, and a file that must survive."""

    root: Path
    content: Path
    style: Path
    photos: Path
    keep: Path


@pytest.fixture
def files(tmp_path) -> Files:
    content = save_image(procedural_style("mosaic", size=48), tmp_path / "content.png")
    style = save_image(procedural_style("waves", size=48), tmp_path / "style.png")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        save_image(procedural_style("dots", size=40, seed=i), photos / f"p{i}.png")
    keep = tmp_path / "out.png"
    keep.write_bytes(b"a file the user had")
    return Files(tmp_path, content, style, photos, keep)


def tiny_gatys(**changes) -> GatysConfig:
    base = replace(preset("gatys2016"), weights="random", device="cpu", size=48, steps=2)
    return replace(base, **changes)


def tiny_johnson(**changes) -> JohnsonConfig:
    base = replace(
        preset("johnson2016"),
        weights="random",
        device="cpu",
        image_size=32,
        style_size=32,
        batch_size=2,
        steps=1,
        checkpoint_every=0,
    )
    return replace(base, **changes)


# --------------------------------------------------------------------------- 1. config numbers

# (name, the config to vary, the change, the fragment of the one-line ValueError)
CONFIG_CASES = [
    (
        "gatys-content-weight-nan",
        tiny_gatys,
        {"content_weight": float("nan")},
        "content_weight must be a finite number, got nan",
    ),
    (
        "gatys-style-weight-inf",
        tiny_gatys,
        {"style_weight": float("inf")},
        "style_weight must be a finite number, got inf",
    ),
    (
        "gatys-tv-weight-minus-inf",
        tiny_gatys,
        {"tv_weight": float("-inf")},
        "tv_weight must be a finite number, got -inf",
    ),
    ("gatys-gamma-nan", tiny_gatys, {"gamma": float("nan")}, "gamma must be a finite number"),
    ("gatys-lr-nan", tiny_gatys, {"lr": float("nan")}, "lr must be a finite number, got nan"),
    (
        "gatys-layer-weight-nan",
        tiny_gatys,
        {"style_layer_weights": (0.2,) * 4 + (float("nan"),)},
        "style_layer_weights[4] must be a finite number",
    ),
    (
        "gatys-size-100000",
        tiny_gatys,
        {"size": 100_000},
        "over the limit of 16,777,216 (4096 x 4096)",
    ),
    (
        "gatys-style-scale-inf",
        tiny_gatys,
        {"style_scale": float("inf")},
        "style_scale must be a finite number, got inf",
    ),
    (
        "gatys-style-scale-100",
        tiny_gatys,
        {"size": 512, "style_scale": 100.0},
        "lower style_scale or size",
    ),
    ("gatys-seed-2**64", tiny_gatys, {"seed": 2**64}, "seed must be an int from 0 to 2**63 - 1"),
    ("gatys-seed-negative", tiny_gatys, {"seed": -1}, "seed must be an int from 0 to 2**63 - 1"),
    (
        "gatys-content-weight-str",
        tiny_gatys,
        {"content_weight": "1e-3"},
        "content_weight must be a number, got '1e-3' (str)",
    ),
    (
        "gatys-steps-float",
        tiny_gatys,
        {"steps": 2.5},
        "steps must be a whole number (an int), got 2.5",
    ),
    (
        "gatys-steps-bool",
        tiny_gatys,
        {"steps": True},
        "steps must be a whole number (an int), got True",
    ),
    (
        "gatys-normalize-network-int",
        tiny_gatys,
        {"normalize_network": 1},
        "normalize_network must be True or False",
    ),
    (
        "gatys-content-layers-str",
        tiny_gatys,
        {"content_layers": "relu4_2"},
        "content_layers must be a tuple of layer names",
    ),
    ("gatys-scales-too-many", tiny_gatys, {"size": 512, "scales": 40}, "use fewer scales"),
    ("johnson-lr-nan", tiny_johnson, {"lr": float("nan")}, "lr must be a finite number, got nan"),
    (
        "johnson-style-weight-inf",
        tiny_johnson,
        {"style_weight": float("inf")},
        "style_weight must be a finite number",
    ),
    (
        "johnson-image-size-100000",
        tiny_johnson,
        {"image_size": 100_000},
        "lower image_size or batch_size",
    ),
    (
        "johnson-batch-of-1000",
        tiny_johnson,
        {"batch_size": 1000, "image_size": 256},
        "over the limit of 16,777,216",
    ),
    ("johnson-style-size-huge", tiny_johnson, {"style_size": 5000}, "lower style_size"),
    ("johnson-workers-1000", tiny_johnson, {"workers": 1000}, "workers must be at most 64"),
    (
        "johnson-seed-2**63",
        tiny_johnson,
        {"seed": 2**63},
        "seed must be an int from 0 to 2**63 - 1",
    ),
    (
        "johnson-batch-size-float",
        tiny_johnson,
        {"batch_size": 4.0},
        "batch_size must be a whole number",
    ),
]


@pytest.mark.parametrize(
    ("make", "change", "fragment"),
    [pytest.param(m, c, f, id=name) for name, m, c, f in CONFIG_CASES],
)
def test_config_numbers_are_checked_where_they_enter(files, make, change, fragment):
    # Only the config is built: without the check, several of these would start a run
    # that fills the memory (a 100000 px image, 1000 data-loading processes).
    before = snapshot(files.root)
    with pytest.raises(ValueError) as info:
        make(**change)
    assert_one_line(info.value, fragment)
    assert snapshot(files.root) == before


# --------------------------------------------------------------------------- 2. function arguments


def _transfer(files: Files, **kwargs) -> Callable:
    return lambda: transfer(files.content, files.style, tiny_gatys(), progress=False, **kwargs)


def _blend(*weights) -> Callable:
    return lambda f: transfer(
        f.content, [f.style, f.content], tiny_gatys(), blend=weights, progress=False
    )


def _stylize(key: str, how: Callable = lambda x: x) -> Callable:
    return lambda f: stylize_image(_net(), how(f.tensors[key]))


NAN = float("nan")

# (name, the call given the files, the exception type, the fragment)
ARGUMENT_CASES = [
    ("transfer-blend-nan", _blend(NAN, 1), ValueError, "blend weights must be finite numbers"),
    ("transfer-blend-inf", _blend(float("inf"), 1), ValueError, "blend weights must be finite"),
    ("transfer-blend-str", _blend(*"11"), ValueError, "blend must be numbers, one weight per"),
    (
        "transfer-no-style",
        lambda f: transfer(f.content, [], tiny_gatys(), progress=False),
        ValueError,
        "no style image was given",
    ),
    (
        "transfer-save-every-negative",
        lambda f: _transfer(f, save_every=-1, save_path=f.root / "snap.png")(),
        ValueError,
        "save_every must be >= 0",
    ),
    (
        "transfer-save-every-float",
        lambda f: _transfer(f, save_every=0.5, save_path=f.root / "snap.png")(),
        ValueError,
        "save_every must be a whole number of steps",
    ),
    (
        "transfer-johnson-config",
        lambda f: transfer(f.content, f.style, tiny_johnson(), progress=False),
        ValueError,
        "config must be a GatysConfig",
    ),
    (
        "transfer-step-file-exists",
        lambda f: _transfer(f, save_every=1, save_path=f.root / "out.png", net=_no_net())(),
        OSError,
        "out.step00001.png' already exists",
    ),
    (
        "train-gatys-config",
        lambda f: train(f.style, f.photos, tiny_gatys(), progress=False),
        ValueError,
        "config must be a JohnsonConfig",
    ),
    (
        "gram-of-uint8",
        lambda f: losses.gram_matrix(f.tensors["bytes"]),
        ValueError,
        ".float() / 255 for an image of bytes",
    ),
    (
        "content-loss-of-int64",
        lambda f: losses.content_loss(f.tensors["ints"], f.tensors["ints"]),
        ValueError,
        "floating-point tensor, got dtype torch.int64",
    ),
    (
        "tv-of-bool",
        lambda f: losses.total_variation(f.tensors["ints"] > 0),
        ValueError,
        "got dtype torch.bool",
    ),
    (
        "style-loss-int-gram",
        lambda f: losses.layer_style_loss(f.tensors["image"], f.tensors["ints"][:, :, :3, 0]),
        ValueError,
        "target_gram must be a floating-point tensor",
    ),
    ("stylize-0-255", _stylize("image", lambda x: x * 255), ImageError, "divide by 255"),
    ("stylize-3d", _stylize("image", lambda x: x[0]), ImageError, "add one with x.unsqueeze(0)"),
    ("stylize-4-channels", _stylize("rgba"), ImageError, "must have 3 (RGB) channels, got 4"),
    ("stylize-uint8", _stylize("bytes"), ImageError, "convert with x.float() / 255"),
    ("stylize-nan", _stylize("image", lambda x: x * NAN), ImageError, "NaN/Inf"),
    (
        "transformer-net-uint8",
        lambda f: _net()(f.tensors["bytes"]),
        ValueError,
        "TransformerNet's input must be a float tensor in [0, 1], got dtype torch.uint8",
    ),
]


def _net() -> TransformerNet:
    return TransformerNet().eval()


def _no_net():
    """A stand-in network: the case must be refused before any VGG pass."""

    class NoNet(torch.nn.Module):
        def forward(self, *args, **kwargs):
            pytest.fail("the work started")

    return NoNet()


@pytest.mark.parametrize(
    ("call", "kind", "fragment"),
    [pytest.param(c, k, f, id=name) for name, c, k, f in ARGUMENT_CASES],
)
def test_function_arguments_are_checked_like_the_command_line(files, call, kind, fragment):
    generator = torch.Generator().manual_seed(0)
    files.tensors = {
        "image": torch.rand(1, 3, 40, 40, generator=generator),
        "rgba": torch.rand(1, 4, 40, 40, generator=generator),
        "bytes": torch.randint(0, 256, (1, 3, 40, 40), generator=generator, dtype=torch.uint8),
        "ints": torch.randint(0, 9, (1, 3, 40, 40), generator=generator),
    }
    (files.root / "out.step00001.png").write_bytes(b"a step file of an earlier run")
    given = {k: v.clone() for k, v in files.tensors.items()}
    before = snapshot(files.root)
    with pytest.raises(kind) as info:
        call(files)
    assert_one_line(info.value, fragment)
    assert snapshot(files.root) == before
    assert all(torch.equal(given[k], v) for k, v in files.tensors.items())  # inputs unchanged


def test_gram_of_bytes_would_have_wrapped_around():
    # why uint8 is refused rather than computed: 200 * 200 = 40000 = 64 modulo 256
    features = torch.full((1, 1, 1, 1), 200, dtype=torch.uint8)
    assert torch.bmm(features.view(1, 1, 1), features.view(1, 1, 1)).item() == 64
    assert losses.gram_matrix(features.float()).item() == 40000


# --------------------------------------------------------------------------- 3. the command line

TRANSFER_FLAG_CASES = [
    (
        "content-weight-nan",
        ["--content-weight", "nan"],
        "content_weight must be a finite number, got nan",
    ),
    (
        "style-weight-inf",
        ["--style-weight", "inf"],
        "style_weight must be a finite number, got inf",
    ),
    ("tv-weight-minus-inf", ["--tv-weight=-inf"], "tv_weight must be a finite number"),
    ("gamma-inf", ["--gamma", "inf"], "gamma must be a finite number"),
    ("lr-nan", ["--lr", "nan"], "lr must be a finite number, got nan"),
    (
        "style-layer-weights-nan",
        ["--style-layer-weights", "0.2,0.2,0.2,0.2,nan"],
        "style_layer_weights[4] must be a finite number",
    ),
    ("style-blend-nan", ["--style-blend", "nan,1"], "blend weights must be finite numbers"),
    ("style-scale-inf", ["--style-scale", "inf"], "style_scale must be a finite number, got inf"),
    ("size-100000", ["--size", "100000"], "over the limit of 16,777,216 (4096 x 4096)"),
    ("seed-2**64", ["--seed", str(2**64)], "seed must be an int from 0 to 2**63 - 1"),
    ("save-every-negative", ["--save-every", "-1"], "must be >= 0"),
    ("steps-0", ["--steps", "0"], "steps must be positive, got 0"),
]


@pytest.mark.parametrize(
    ("flags", "fragment"), [pytest.param(f, m, id=name) for name, f, m in TRANSFER_FLAG_CASES]
)
def test_transfer_flags_are_checked(capsys, files, flags, fragment):
    before = snapshot(files.root)
    out = files.root / "new.png"
    styles = [files.style, files.content] if "--style-blend" in flags else [files.style]
    code, _, err = run_cli(capsys, "transfer", files.content, *styles, "-o", out, *TRANSFER, *flags)
    assert_one_line_error(code, err, fragment)
    assert snapshot(files.root) == before and not out.exists()


TRAIN_FLAG_CASES = [
    ("lr-nan", ["--lr", "nan"], "lr must be a finite number, got nan"),
    ("style-weight-nan", ["--style-weight", "nan"], "style_weight must be a finite number"),
    ("tv-weight-inf", ["--tv-weight", "inf"], "tv_weight must be a finite number, got inf"),
    ("content-weight-minus-inf", ["--content-weight=-inf"], "content_weight must be a finite"),
    ("seed-negative", ["--seed", "-1"], "seed must be an int from 0 to 2**63 - 1"),
    ("seed-2**64", ["--seed", str(2**64)], "seed must be an int from 0 to 2**63 - 1"),
]


@pytest.mark.parametrize(
    ("flags", "fragment"), [pytest.param(f, m, id=name) for name, f, m in TRAIN_FLAG_CASES]
)
def test_train_flags_are_checked(capsys, files, flags, fragment):
    before = snapshot(files.root)
    model = files.root / "m.pth"
    code, _, err = run_cli(
        capsys, "train", files.style, "--data", files.photos, "-o", model, *TRAIN, *flags
    )
    assert_one_line_error(code, err, fragment)
    assert snapshot(files.root) == before and not model.exists()


# --------------------------------------------------------------------------- 4. training errors


def test_a_folder_of_broken_images_with_a_worker_process_is_one_line(capsys, files):
    # the DataLoader worker's error used to arrive with the worker's traceback as its message
    broken = files.root / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    (broken / "b.jpg").write_bytes(b"not a jpeg")
    before = snapshot(files.root)
    model = files.root / "m.pth"
    argv = ["train", files.style, "--data", broken, "-o", model, *TRAIN, "--workers", "1"]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "none of the 2 image files under")
    assert snapshot(files.root) == before and not model.exists()


def test_the_same_in_python_raises_the_libraries_data_error(files):
    broken = files.root / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not a png")
    before = snapshot(files.root)
    with warnings.catch_warnings(), pytest.raises(DataError) as info:
        warnings.simplefilter("ignore", UnreadableImageWarning)
        train(files.style, broken, tiny_johnson(workers=1), files.root / "m.pth", progress=False)
    assert_one_line(info.value, "none of the 1 image files under")
    assert "DataLoader worker" not in str(info.value)
    assert snapshot(files.root) == before


@pytest.mark.slow
def test_a_training_run_whose_weights_blow_up_is_a_diverged_run(capsys, files):
    # an update to inf/NaN weights used to reach VGG as "the input contains NaN": a bad-input
    # error (exit 2) for what is a diverged run (exit 1, the last checkpoint kept)
    before = snapshot(files.root)
    model = files.root / "m.pth"
    flags = ["--lr", "1e30", "--content-weight", "1e30", "--steps", "5"]
    code, _, err = run_cli(
        capsys, "train", files.style, "--data", files.photos, "-o", model, *TRAIN, *flags
    )
    assert code == 1 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("stylelib: error:")]
    assert (
        len(lines) == 1 and "became NaN/Inf" in lines[0] and "lower the learning rate" in lines[0]
    )
    assert snapshot(files.root) == before and not model.exists()


# --------------------------------------------------------------------------- 5. checkpoint files


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A real checkpoint of one training step, its style file and its photos."""
    root = tmp_path_factory.mktemp("trained")
    style = save_image(procedural_style("waves", size=48), root / "style.png")
    photos = root / "photos"
    photos.mkdir()
    for i in range(3):
        save_image(procedural_style("dots", size=40, seed=i), photos / f"p{i}.png")
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setenv("TORCH_HOME", str(root / "torch_home"))  # as conftest's offline cache
        warnings.simplefilter("ignore")  # the random weights' one-time warning
        train(style, photos, tiny_johnson(), root / "m.pth", progress=False)
    return root / "m.pth", style, photos


def broken_checkpoint(trained, folder: Path, change: Callable[[dict], None]) -> Path:
    """A copy of the trained checkpoint in ``folder`` with ``change`` made to its dict."""
    model, style, photos = trained
    state = torch.load(model, weights_only=True)
    change(state)
    path = folder / "m.pth"
    torch.save(state, path)
    shutil.copy(style, folder / "trained_style.png")
    shutil.copytree(photos, folder / "trained_photos")
    return path


def _set(key: str, value) -> Callable[[dict], None]:
    return lambda state: state.__setitem__(key, value)


def _config(**fields) -> Callable[[dict], None]:
    return lambda state: state["config"].update(fields)


STYLIZE_CASES = [
    ("config-steps-str", _config(steps="3"), "steps must be a whole number (an int), got '3'"),
    (
        "config-layers-str",
        _config(content_layers="relu2_2"),
        "content_layers must be a tuple of layer names",
    ),
    ("config-layers-ints", _config(content_layers=[1, 2]), "content_layers[0] must be a string"),
    ("config-lr-nan", _config(lr=float("nan")), "lr must be a finite number, got nan"),
    ("config-seed-2**64", _config(seed=2**64), "seed must be an int from 0 to 2**63 - 1"),
    (
        "config-upsample-unknown",
        _config(upsample="pixelshuffle"),
        "its config is not one a training run writes",
    ),
    (
        "config-unknown-fields-only",
        _set("config", {"epochs": 2, "colour": "red"}),
        "none of JohnsonConfig's fields",
    ),
]


@pytest.mark.parametrize(
    ("change", "fragment"), [pytest.param(c, f, id=name) for name, c, f in STYLIZE_CASES]
)
def test_stylize_refuses_a_checkpoint_with_a_broken_config(
    capsys, trained, tmp_path, change, fragment
):
    path = broken_checkpoint(trained, tmp_path, change)
    photo = save_image(procedural_style("mosaic", size=40), tmp_path / "photo.png")
    before = snapshot(tmp_path)
    out = tmp_path / "styled.png"
    code, _, err = run_cli(capsys, "stylize", path, photo, "-o", out, "--device", "cpu")
    assert_one_line_error(code, err, fragment)
    assert f"'{path}'" in err  # the message names the file
    assert snapshot(tmp_path) == before and not out.exists()


def _drop_model_key(state: dict) -> None:
    del state["model"][next(iter(state["model"]))]


RESUME_CASES = [
    ("step-negative", _set("step", -1), "its step is -1"),
    ("history-too-short", lambda s: s.__setitem__("history", []), "its history is not 1 records"),
    ("seconds-nan", _set("seconds", float("nan")), "its seconds is nan"),
    ("data-without-skipped", lambda s: s["data"].pop("skipped"), "its data['skipped'] is missing"),
    (
        "rng-torch-a-list",
        lambda s: s["rng"].__setitem__("torch", [1, 2]),
        "its rng['torch'] is a list",
    ),
    (
        "model-missing-a-tensor",
        _drop_model_key,
        "its model, optimizer or generator state does not fit",
    ),
]


@pytest.mark.parametrize(
    ("change", "fragment"), [pytest.param(c, f, id=name) for name, c, f in RESUME_CASES]
)
def test_resume_refuses_a_checkpoint_with_a_broken_run_state(
    capsys, trained, tmp_path, change, fragment
):
    path = broken_checkpoint(trained, tmp_path, change)
    before = snapshot(tmp_path)
    argv = ["train", tmp_path / "trained_style.png", "--data", tmp_path / "trained_photos"]
    code, _, err = run_cli(
        capsys, *argv, "-o", path, "--resume", path, "--device", "cpu", "--quiet"
    )
    assert_one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before  # the checkpoint itself is untouched


def test_the_python_api_reads_checkpoints_through_the_same_check(trained, tmp_path):
    path = broken_checkpoint(trained, tmp_path, _config(batch_size=0))
    before = snapshot(tmp_path)
    for read in (partial(load_checkpoint, kind=JOHNSON), TransformerNet.from_checkpoint):
        with pytest.raises(CheckpointError) as info:
            read(path)
        assert_one_line(info.value, "batch_size must be positive, got 0")
    assert snapshot(tmp_path) == before
