"""`--mask` on `stylelib adain` and `stylelib stylize`: the command equals the Python API,
a `none` region keeps the photo's pixels, and every bad mask -> exit 2, one line, nothing
written.

In-process through ``stylelib.cli.main`` on the other CLI tests' synthetic networks: AdaIN
files in the port's layout (test_cli_adain's seeded tensors), a seeded 3-style
MultiStyleNet and a seeded one-style TransformerNet. Oracles: ``stylize(..., masks=)`` with
masks drawn by hand at the feature size, the library's ``stylize(..., regions=)`` (what the
command must call), ``stylize_styles``/``stylize_image`` on the whole photo, and the photo's
own pixels (a PNG of a PNG keeps them exactly).
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli
from test_cli_adain import files  # noqa: F401  (a fixture: the AdaIN files)
from test_cli_multistyle import random_net

from stylelib.adain.networks import load_network, stylize
from stylelib.data import procedural_style
from stylelib.images import load_image, save_image
from stylelib.johnson.conditional import stylize_styles
from stylelib.johnson.multistyle import load_multistyle, save_multistyle
from stylelib.johnson.network import TransformerNet, save_transformer, stylize_image
from stylelib.masks import region_masks

PIXEL = 1 / 255


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def images(tmp_path):
    """A 48 x 40 photo (W x H), two styles, and masks: the photo's left half at twice its
    size (same aspect ratio: resized), a square one (another aspect ratio), an empty one."""
    folder = tmp_path / "images"
    folder.mkdir()
    save_image(procedural_style("waves", size=48, seed=1)[..., :40, :], folder / "photo.png")
    save_image(procedural_style("dots", size=48), folder / "dots.png")
    save_image(procedural_style("strokes", size=40), folder / "strokes.png")
    left = torch.zeros(1, 3, 80, 96)
    left[..., :48] = 1
    save_image(left, folder / "left.png")
    save_image(torch.ones(1, 3, 48, 48), folder / "square.png")
    save_image(torch.zeros(1, 3, 40, 48), folder / "black.png")
    return folder


@pytest.fixture
def three(tmp_path):
    return save_multistyle(random_net(3), tmp_path / "three.pth", styles=["a", "b", "c"])


@pytest.fixture
def single(tmp_path):
    torch.manual_seed(0)
    return save_transformer(TransformerNet(), tmp_path / "single.pth")


def adain(capsys, files, *argv):  # noqa: F811  (the fixture's value)
    flags = ["--decoder", files / "decoder.pth", "--encoder", files / "vgg_normalised.pth"]
    base = ["adain", "--size", "48", "--style-size", "48", "--device", "cpu", *flags]
    return run_cli(capsys, *base, *argv)


def quantized(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255).round() / 255


# --- AdaIN --------------------------------------------------------------------------------------


def test_adain_masks_equal_the_python_api_and_name_styles_by_file(files, images, tmp_path, capsys):  # noqa: F811
    """left:dots (a file mask twice the photo's size), rest:strokes: per-region AdaIN on
    relu4_1's 6 columns, 3 per style, as stylize(masks=) computes it on masks drawn here."""
    out = tmp_path / "regions.png"
    photo = images / "photo.png"
    code, stdout, err = adain(
        capsys, files, photo, images / "dots.png",
        "--mask", f"{images / 'left.png'}:{images / 'dots.png'}",
        "--mask", f"rest:{images / 'strokes.png'}", "--alpha", "0.9", "-o", out,
    )  # fmt: skip
    assert code == 0, err
    assert "resized to the image's 48 x 40" in err  # the mask file: same aspect, twice the size
    assert "2 style(s) in 2 regions, alpha 0.9" in stdout
    net = load_network(files / "decoder.pth", files / "vgg_normalised.pth")
    styles = [load_image(images / n, size=48) for n in ("dots.png", "strokes.png")]
    left = (torch.arange(6) < 3).float().expand(1, 1, 5, 6)
    expected = stylize(net, load_image(photo), styles, masks=[left, 1 - left], alpha=0.9)
    assert (load_image(out) - expected).abs().max() <= PIXEL / 2 + 1e-6
    regions = region_masks(["left", "rest"], (40, 48))
    library = stylize(net, load_image(photo), styles, regions=regions, alpha=0.9)
    assert (load_image(out) - library).abs().max() <= PIXEL / 2 + 1e-6


def test_adain_none_keeps_the_photo_and_a_full_mask_is_plain_adain(files, images, tmp_path, capsys):  # noqa: F811
    photo = images / "photo.png"
    kept = tmp_path / "kept.png"
    code, _, err = adain(
        capsys, files, photo, "--mask", f"left:{images / 'dots.png'}", "--mask", "rest:none",
        "-o", kept,
    )  # fmt: skip
    assert code == 0, err
    assert torch.equal(load_image(kept)[..., 24:], load_image(photo)[..., 24:])
    assert not torch.equal(load_image(kept)[..., :24], load_image(photo)[..., :24])
    net = load_network(files / "decoder.pth", files / "vgg_normalised.pth")
    regions = region_masks(["left", "rest"], (40, 48))
    dots = load_image(images / "dots.png", size=48)
    library = stylize(net, load_image(photo), [dots, None], regions=regions)
    assert (load_image(kept) - library).abs().max() <= PIXEL / 2 + 1e-6
    full, plain = tmp_path / "full.png", tmp_path / "plain.png"
    code, _, err = adain(capsys, files, photo, "--mask", f"all:{images / 'dots.png'}", "-o", full)
    assert code == 0, err
    code, _, err = adain(capsys, files, photo, images / "dots.png", "-o", plain)
    assert code == 0, err
    assert full.read_bytes() == plain.read_bytes()


def test_adain_bad_masks_exit_2_with_one_line_and_write_nothing(files, images, tmp_path, capsys):  # noqa: F811
    photo, dots, strokes = images / "photo.png", images / "dots.png", images / "strokes.png"
    out = tmp_path / "o.png"
    cases = [
        ((photo, "--mask", f"{images / 'square.png'}:{dots}", "--mask", "rest:none"),
         "another aspect ratio"),
        ((photo, "--mask", f"top:{dots}"), "uncovered; add --mask rest:none"),
        ((photo, "--mask", f"{tmp_path / 'no.png'}:{dots}", "--mask", "rest:none"),
         "check the path"),
        ((photo, "--mask", "top"), "names no style"),
        ((photo, "--mask", f"top:{tmp_path / 'no.png'}", "--mask", "rest:none"),
         "input image not found"),
        ((photo, dots, strokes, "--mask", f"top:{dots}", "--mask", "rest:none"),
         f"STYLE {strokes} is named by no --mask"),
        ((photo, dots, strokes, "--style-weights", "1", "2", "--mask", f"all:{dots}"),
         "use one of them"),
        ((photo, "--mask", f"{images / 'black.png'}:{dots}", "--mask", "rest:none"),
         "names no pixels"),
        ((photo, "--mask", f"top:{dots}", "--mask", "rest:none", "--mask", "rest:none"),
         "'rest' is given 2 times"),
        ((photo,), "give a STYLE image, or regions with their styles"),
    ]  # fmt: skip
    for argv, fragment in cases:
        code, _, err = adain(capsys, files, *argv, "-o", out)
        one_line_error(code, err, fragment)
        assert not out.exists(), fragment
    left = images / "left.png"
    before = left.read_bytes()
    code, _, err = adain(
        capsys, files, photo, "--mask", f"{left}:{dots}", "--mask", "rest:none", "-o", left,
        "--overwrite",
    )  # fmt: skip
    one_line_error(code, err, "refusing to overwrite the input image")
    assert left.read_bytes() == before


# --- feed-forward networks ----------------------------------------------------------------------


def test_stylize_masks_give_each_half_its_style_and_the_photo(three, images, tmp_path, capsys):
    photo = images / "photo.png"
    image, net = load_image(photo), load_multistyle(three)
    out = tmp_path / "lr.png"
    code, stdout, err = run_cli(
        capsys, "stylize", three, photo, "--mask", "left:1", "--mask", "right:0:1,2:1", "-o", out
    )
    assert code == 0, err
    assert "in 2 regions" in stdout
    got = load_image(out)
    assert torch.equal(got[..., :24], quantized(stylize_styles(net, image, 1))[..., :24])
    mix = quantized(stylize_styles(net, image, "0:0.5,2:0.5"))
    assert torch.equal(got[..., 24:], mix[..., 24:])
    kept = tmp_path / "kept.png"
    mask = f"{images / 'left.png'}:2"
    code, _, err = run_cli(
        capsys, "stylize", three, photo, "--mask", mask, "--mask", "rest:none", "-o", kept
    )
    assert code == 0, err
    # the mask file was resized (antialiased): its edge is soft over a column or two
    styled = quantized(stylize_styles(net, image, 2))
    assert torch.equal(load_image(kept)[..., 26:], image[..., 26:])
    assert torch.equal(load_image(kept)[..., :22], styled[..., :22])


def test_a_full_mask_is_the_unmasked_stylize(three, single, images, tmp_path, capsys):
    photo = images / "photo.png"
    for model, extra in ((three, ["--style", "2"]), (single, [])):
        full, plain = tmp_path / "full.png", tmp_path / "plain.png"
        mask = "all:2" if model == three else "all"
        code, _, err = run_cli(capsys, "stylize", model, photo, "--mask", mask, "-o", full)
        assert code == 0, err
        code, _, err = run_cli(capsys, "stylize", model, photo, *extra, "-o", plain)
        assert code == 0, err
        assert full.read_bytes() == plain.read_bytes()
        full.unlink(), plain.unlink()


def test_one_style_network_styles_the_mask_and_keeps_the_photo(single, images, tmp_path, capsys):
    photo = images / "photo.png"
    out = tmp_path / "top.png"
    code, _, err = run_cli(
        capsys, "stylize", single, photo, "--mask", "top", "--mask", "rest:none", "-o", out
    )
    assert code == 0, err
    image = load_image(photo)
    torch.manual_seed(0)
    styled = quantized(stylize_image(TransformerNet.from_checkpoint(single).eval(), image))
    assert torch.equal(load_image(out)[..., :20, :], styled[..., :20, :])
    assert torch.equal(load_image(out)[..., 20:, :], image[..., 20:, :])


def test_stylize_bad_masks_exit_2_with_one_line_and_write_nothing(
    three, single, images, tmp_path, capsys
):
    photo, out = images / "photo.png", tmp_path / "o.png"
    cases = [
        ((three, "--mask", f"{images / 'square.png'}:1", "--mask", "rest:none"),
         "another aspect ratio"),
        ((three, "--mask", "top", "--mask", "rest:none"), "'top': it names no style"),
        ((three, "--mask", "top:mosaic", "--mask", "rest:none"), "'mosaic' is not an index"),
        ((three, "--mask", "top:3", "--mask", "rest:none"), "style 3 does not exist"),
        ((three, "--mask", "top:0:-1,1:2", "--mask", "rest:none"), "must not be negative"),
        ((three, "--mask", "top:1"), "uncovered; add --mask rest:none"),
        ((three, "--mask", f"{tmp_path / 'no.png'}:1", "--mask", "rest:none"),
         "check the path"),
        ((three, "--mask", "all:1", "--style", "1"), "use one of them"),
        ((single, "--mask", "top:mosaic", "--mask", "rest:none"),
         "a one-style network has no style 'mosaic'"),
        ((single, "--mask", "top:2", "--mask", "rest:none"), "only its own style (0)"),
        ((single, "--mask", f"{images / 'black.png'}", "--mask", "rest:none"), "names no pixels"),
    ]  # fmt: skip
    for (model, *argv), fragment in cases:
        code, _, err = run_cli(capsys, "stylize", model, photo, *argv, "-o", out)
        one_line_error(code, err, fragment)
        assert not out.exists(), fragment
    left = images / "left.png"
    before = left.read_bytes()
    code, _, err = run_cli(
        capsys, "stylize", three, photo, "--mask", f"{left}:1", "--mask", "rest:none",
        "-o", left, "--overwrite",
    )  # fmt: skip
    one_line_error(code, err, "refusing to overwrite the input image")
    assert left.read_bytes() == before
