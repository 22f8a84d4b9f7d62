"""`stylelib train-sr` and `stylelib upscale`: a round trip, the flags, the output rules, and
every bad input -> exit 2 with one line.

In-process through ``stylelib.cli.main`` on random VGG16 weights, 32 px patches, a few
steps. Oracle for ``upscale``: the file it writes equals
:func:`stylelib.superres.network.upscale_image` of the same input through the same
checkpoint, to the 8-bit rounding of a PNG.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib.checkpoints import save_checkpoint, training_state
from stylelib.data import procedural_style
from stylelib.images import load_image, save_image
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.config import JohnsonConfig
from stylelib.johnson.network import TransformerNet
from stylelib.superres.network import SRNet, upscale_image

TINY = "--weights random --image-size 32 --batch-size 2 --device cpu --quiet"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(("mosaic", "waves", "dots")):
        save_image(procedural_style(name, size=48, seed=i)[..., :40, :], folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="module")
def model(photos, tmp_path_factory):
    from stylelib.cli import main

    path = tmp_path_factory.mktemp("model") / "sr.pth"
    argv = ["train-sr", *TINY.split(), "--data", str(photos), "-o", str(path), "--steps", "2"]
    assert main([*argv, "--loss", "pixel"]) == 0
    return path


def train(capsys, *argv):
    return run_cli(capsys, "train-sr", *TINY.split(), *argv)


def test_train_sr_prints_the_network_and_writes_a_checkpoint_with_its_factor(
    photos, tmp_path, capsys
):
    out = tmp_path / "x8.pth"
    flags = "--factor 8 --image-size 48 --loss pixel --steps 2 --tv-weight 1e-5 --seed 3"
    flags += " --norm instance --upsample resize --lr 5e-4 --blur-sigma 1.5 --weight 2"
    code, stdout, err = train(capsys, "--data", photos, "-o", out, *flags.split())
    assert code == 0 and f"wrote {out}: trained 2 steps" in stdout
    assert "SRNet x8: 438,915 parameters (instance norm, resize upsampling); pixel loss" in err
    saved = torch.load(out, weights_only=True)
    assert saved["factor"] == 8 and saved["step"] == 2
    config = saved["config"]
    assert (config["factor"], config["image_size"], config["tv_weight"], config["seed"]) == (
        8,
        48,
        1e-5,
        3,
    )
    assert (config["norm"], config["upsample"], config["lr"], config["blur_sigma"]) == (
        "instance",
        "resize",
        5e-4,
        1.5,
    )
    assert config["weight"] == 2.0 and config["loss"] == "pixel"


def test_resume_continues_with_the_checkpoints_settings(photos, tmp_path, capsys):
    out = tmp_path / "m.pth"
    assert train(capsys, "--data", photos, "-o", out, "--steps", "1", "--loss", "pixel")[0] == 0
    code, stdout, _ = train(capsys, "--data", photos, "-o", out, "--steps", "2", "--resume", out)
    assert code == 0 and "to step 2 of 2" in stdout
    assert torch.load(out, weights_only=True)["config"]["loss"] == "pixel"


def test_upscale_writes_what_the_network_computes(model, photos, tmp_path, capsys):
    out = tmp_path / "big.png"
    code, stdout, _ = run_cli(capsys, "upscale", model, photos / "p0.png", "-o", out)
    assert code == 0 and f"-> {out} (192 x 160)" in stdout
    expected = upscale_image(SRNet.from_checkpoint(model), load_image(photos / "p0.png"))
    assert (load_image(out) - expected).abs().max() <= 0.5 / 255 + 1e-6


def test_upscale_a_folder_with_bf16_and_histogram_matching(model, photos, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["upscale", model, photos, "-o", f"{out}/", "--precision", "bf16", "--match-histogram"]
    code, stdout, _ = run_cli(capsys, *argv)
    assert code == 0 and "upscaled 3 image(s) x4" in stdout and "bf16" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_upscale_never_overwrites_without_being_asked(model, photos, tmp_path, capsys):
    out = tmp_path / "big.png"
    out.write_bytes(b"mine")
    code, _, err = run_cli(capsys, "upscale", model, photos / "p0.png", "-o", out)
    one_line_error(code, err, "already exists")
    assert out.read_bytes() == b"mine"
    code, _, _ = run_cli(capsys, "upscale", model, photos / "p0.png", "-o", out, "--overwrite")
    assert code == 0 and out.read_bytes() != b"mine"


def test_a_style_network_is_not_an_upscaler(photos, tmp_path, capsys):
    style = tmp_path / "style.pth"
    save_checkpoint(
        training_state(JohnsonConfig(), TransformerNet().state_dict(), kind=JOHNSON), style
    )
    code, _, err = run_cli(capsys, "upscale", style, photos / "p0.png", "-o", tmp_path / "o.png")
    one_line_error(code, err, "another format ('stylelib-johnson-transformer')", alone=True)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["upscale", "{missing}", "{photo}", "-o", "{out}"], "model file not found"),
        (["upscale", "{model}", "{missing}", "-o", "{out}"], "input image not found"),
        (["upscale", "{model}", "{photo}", "-o", "{photo}"], "input"),
        (["upscale", "{model}", "{photo}", "-o", "{out}", "--size", "8"], "size must be"),
        (["train-sr", "--data", "{missing}", "-o", "{pth}"], "is not a folder"),
        (["train-sr", "--data", "{photos}", "-o", "{out}"], "should end in .pt or .pth"),
        (["train-sr", "--data", "{photos}", "-o", "{pth}", "--factor", "2"], "factor must be"),
        (["train-sr", "--data", "{photos}", "-o", "{pth}", "--image-size", "34"], "multiple"),
        (["train-sr", "--data", "{photos}", "-o", "{pth}", "--lr", "0"], "lr must be positive"),
        (["train-sr", "--data", "{photos}", "-o", "{pth}", "--steps", "0"], "steps must be"),
        (["train-sr", "--data", "{photos}", "-o", "{pth}", "--resume", "{missing}"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, fragment, model, photos, tmp_path, capsys):
    names = {
        "missing": tmp_path / "nothing.pth",
        "photo": photos / "p1.png",
        "out": tmp_path / "o.png",
        "model": model,
        "photos": photos,
        "pth": tmp_path / "new.pth",
    }
    argv = [a.format(**names) for a in argv]
    if argv[0] == "train-sr":
        argv = ["train-sr", *TINY.split(), *argv[1:]]
    code, _, err = run_cli(capsys, *argv)
    one_line_error(code, err, fragment)
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "new.pth").exists()
