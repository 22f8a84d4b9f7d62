"""`stylelib train` and `stylelib stylize`: a round trip, every output rule, and every bad
input -> exit 2 with one line.

In-process through ``stylelib.cli.main`` on random VGG16 weights, 32 px crops, a few steps.
The subprocess runs (SIGKILL and resume, torchrun) live in test_johnson_train.py.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib.cli import main
from stylelib.data import procedural_style
from stylelib.images import load_image, save_image
from stylelib.johnson.network import TransformerNet, stylize_image

TINY = "--weights random --image-size 32 --style-size 32 --batch-size 2 --device cpu --quiet"


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("mosaic", "waves", "dots")):
        save_image(procedural_style(name, size=48, seed=i)[..., :40, :], folder / f"p{i}.png")
    return folder


@pytest.fixture
def model(photos, tmp_path, capsys):
    path = tmp_path / "mosaic.pth"
    code, _, _ = run(capsys, "train", "mosaic", "--data", photos, "-o", path, "--steps", "2")
    assert code == 0
    return path


def run(capsys, *argv):
    args = [str(a) for a in argv]
    if args[0] == "train":  # the user's flags come last, so they win
        args = ["train", *TINY.split(), *args[1:]]
    return run_cli(capsys, *args)


def test_train_prints_the_parameter_count_and_writes_the_model(photos, tmp_path, capsys):
    out = tmp_path / "m.pth"
    code, stdout, err = run(capsys, "train", "mosaic", "--data", photos, "-o", out, "--steps", "3")
    assert code == 0 and f"wrote {out}: trained 3 steps" in stdout
    assert "TransformerNet: 1,679,235 parameters (instance norm, resize upsampling)" in err
    assert torch.load(out, weights_only=True)["step"] == 3


def test_every_training_flag_reaches_the_config(photos, tmp_path, capsys):
    out = tmp_path / "m.pth"
    flags = "--preset johnson2016-code --norm batch --upsample transpose --content-weight 2"
    flags += " --style-weight 3 --tv-weight 1e-5 --lr 2e-3 --seed 4 --checkpoint-every 1"
    flags += " --workers 1 --steps 2"
    style = save_image(procedural_style("dots", size=40), tmp_path / "style.png")
    code, _, err = run(capsys, "train", style, "--data", photos, "-o", out, *flags.split())
    assert code == 0, err
    config = torch.load(out, weights_only=True)["config"]
    expected = {
        "content_layers": ("relu3_3",),
        "transformer_norm": "batch",
        "upsample": "transpose",
        "content_weight": 2.0,
        "style_weight": 3.0,
        "tv_weight": 1e-5,
        "lr": 2e-3,
        "seed": 4,
        "checkpoint_every": 1,
        "workers": 1,
        "image_size": 32,
        "batch_size": 2,
        "style_size": 32,
        "weights": "random",
    }
    assert {k: config[k] for k in expected} == expected


@pytest.mark.slow
def test_resume_needs_no_other_flags(photos, model, capsys):
    code, stdout, _ = main_resume(capsys, photos, model, "--steps", "4")
    assert code == 0 and "trained 2 steps (to step 4 of 4)" in stdout
    code, _, err = main_resume(capsys, photos, model, "--lr", "0.5")
    one_line_error(code, err, "with other settings (lr 0.001 -> 0.5)")


def main_resume(capsys, photos, model, *flags):
    code = main(["train", "mosaic", "--data", str(photos), "-o", str(model), "--quiet"]
                + ["--resume", str(model), *flags])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_stylize_round_trips_a_trained_model_at_any_size(model, tmp_path, capsys):
    photo = save_image(torch.rand(1, 3, 33, 47), tmp_path / "odd.png")
    out = tmp_path / "odd-mosaic.png"
    code, stdout, _ = run(capsys, "stylize", model, photo, "-o", out)
    assert code == 0 and f"{photo} -> {out} (47 x 33) in " in stdout
    cli = load_image(out)
    library = stylize_image(TransformerNet.from_checkpoint(model), load_image(photo))
    assert cli.shape == library.shape == (1, 3, 33, 47)
    assert (cli - library).abs().max() <= 0.5 / 255 + 1e-6  # the PNG's 8-bit rounding only
    code, stdout, _ = run(capsys, "stylize", model, photo, "-o", tmp_path / "s.png", "--size", "64")
    assert code == 0 and "(64 x 45)" in stdout


@pytest.mark.slow
def test_stylize_several_inputs_into_a_folder(model, photos, tmp_path, capsys):
    extra = save_image(torch.rand(1, 3, 36, 36), tmp_path / "extra.jpg")
    (photos / "broken.png").write_bytes(b"junk")
    outdir = tmp_path / "out"
    code, stdout, err = run(
        capsys, "stylize", model, photos, extra, "-o", outdir, "--precision", "bf16"
    )
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == ["extra.png", "p0.png", "p1.png", "p2.png"]
    assert "stylized 4 image(s)" in stdout and "1 unreadable skipped" in stdout
    assert "skipped an unreadable input" in err


def test_stylize_never_overwrites_inputs_or_existing_outputs(model, photos, tmp_path, capsys):
    photo = photos / "p0.png"
    before = photo.read_bytes()
    code, _, err = run(capsys, "stylize", model, photo, "-o", photo)
    one_line_error(code, err, "refusing to overwrite the input image")
    code, _, err = run(capsys, "stylize", model, photos, "-o", photos)  # p0.png -> p0.png
    one_line_error(code, err, "refusing to overwrite the input image")
    assert photo.read_bytes() == before
    out = tmp_path / "o.png"
    assert run(capsys, "stylize", model, photo, "-o", out)[0] == 0
    code, _, err = run(capsys, "stylize", model, photo, "-o", out)
    one_line_error(code, err, "already exists; choose another name or pass --overwrite")
    assert run(capsys, "stylize", model, photo, "-o", out, "--overwrite")[0] == 0


def test_bad_inputs_exit_2_with_one_line(model, photos, tmp_path, capsys):
    photo = photos / "p0.png"
    vgg = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, vgg)
    empty = tmp_path / "empty"
    empty.mkdir()
    a, m = tmp_path / "a.png", tmp_path / "m.pth"
    cases = [
        (("stylize", vgg, photo, "-o", a), "not a stylelib checkpoint"),
        (("stylize", tmp_path / "no.pth", photo, "-o", a), "model file not found"),
        (("stylize", model, tmp_path / "no.png", "-o", a), "input image not found"),
        (("stylize", model, photo, photo, "-o", a), "need -o to be a folder"),
        (("stylize", model, photo, "-o", tmp_path / "a.txt"), "cannot tell the image format"),
        (("train", "mosaic", "--data", empty, "-o", m), "no images in"),
        (("train", tmp_path / "no.jpg", "--data", photos, "-o", m), "neither a file"),
        (("train", "mosaic", "--data", photos, "-o", a), "should end in .pt or .pth"),
        (("train", "mosaic", "--data", photos, "-o", model), "already exists; continue it"),
        (("train", "mosaic", "--data", photos, "-o", m, "--resume", vgg),
         "not a stylelib checkpoint"),
        (("train", "mosaic", "--data", photos, "-o", m, "--batch-size", "0"),
         "batch_size must be positive"),
    ]  # fmt: skip
    for argv, fragment in cases:
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, fragment)
    assert not m.exists() and not a.exists()


def test_stylize_makes_no_folder_before_the_model_loads(photos, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    outdir = tmp_path / "out"
    code, _, err = run(capsys, "stylize", bad, photos, "-o", outdir)
    assert code == 2 and "Traceback" not in err
    assert not outdir.exists()


def test_stylize_trailing_slash_means_a_folder(model, photos, tmp_path, capsys):
    photo = photos / "p1.png"
    code, stdout, err = run(capsys, "stylize", model, photo, "-o", f"{tmp_path / 'single'}/")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "single").iterdir()) == ["p1.png"]
    (tmp_path / "afile").write_bytes(b"mine")
    code, _, err = run(capsys, "stylize", model, photos, "-o", tmp_path / "afile")
    one_line_error(code, err, "is a file, not a folder")
    assert (tmp_path / "afile").read_bytes() == b"mine"


def test_stylize_keeps_existing_outputs_in_a_folder(model, photos, tmp_path, capsys):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "p1.png").write_bytes(b"an earlier result")
    code, _, err = run(capsys, "stylize", model, photos, "-o", outdir)
    one_line_error(code, err, "p1.png' already exists")
    assert sorted(p.name for p in outdir.iterdir()) == ["p1.png"]  # nothing written at all
    assert (outdir / "p1.png").read_bytes() == b"an earlier result"


@pytest.fixture
def random_net(tmp_path):
    from stylelib.johnson.network import save_transformer

    torch.manual_seed(0)
    return save_transformer(TransformerNet().eval(), tmp_path / "net.pth")


def test_stylize_with_one_tile_equals_one_pass(random_net, tmp_path, capsys):
    """A tile larger than the photo: one window, its own statistics: the untiled picture."""
    photo = tmp_path / "photo.png"
    save_image(procedural_style("waves", size=64)[..., :50, :], photo)
    whole, tiled = tmp_path / "whole.png", tmp_path / "tiled.png"
    assert run(capsys, "stylize", random_net, photo, "-o", whole)[0] == 0
    code, out, err = run(capsys, "stylize", random_net, photo, "-o", tiled, "--tile", "256")
    assert code == 0, err
    assert "(64 x 50)" in out
    assert (load_image(tiled) - load_image(whole)).abs().max() <= 1 / 255 + 1e-6


@pytest.mark.slow
def test_stylize_in_tiles_equals_one_pass(random_net, tmp_path, capsys):
    """Several windows normalised with the whole image's statistics (about 20 s here)."""
    photo = tmp_path / "photo.png"
    save_image(procedural_style("mosaic", size=260)[..., :190, :], photo)
    whole, tiled = tmp_path / "whole.png", tmp_path / "tiled.png"
    assert run(capsys, "stylize", random_net, photo, "-o", whole)[0] == 0
    args = ["--tile", "200", "--overlap", "8", "--quiet"]
    assert run(capsys, "stylize", random_net, photo, "-o", tiled, *args)[0] == 0
    assert (load_image(tiled) - load_image(whole)).abs().max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--tile", "100"], "use a tile of at least"),
        (["--overlap", "8"], "give --tile PX too"),
        (["--tile", "512", "--mask", "top"], "--tile does not go with --mask"),
        (["--tile", "512", "--precision", "bf16"], "--tile runs in fp32"),
    ],
)
def test_bad_tiles_exit_2_with_one_line(random_net, tmp_path, capsys, flags, fragment):
    photo = tmp_path / "photo.png"
    save_image(procedural_style("waves", size=64), photo)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "stylize", random_net, photo, "-o", out, *flags)
    one_line_error(code, err, fragment)
    assert not out.exists()
