"""`stylelib adain` and `stylelib train-adain`: round trips, the output rules, and every bad
input -> exit 2 with one line.

In-process through ``stylelib.cli.main``, on synthetic files in the PyTorch port's layout
(seeded random tensors: the decoder, and the encoder cut at relu4_1, which the loader
accepts) and on random VGG-19 weights for training, at 32-48 px.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib.adain.networks import decoder_shapes, encoder_shapes, load_network, stylize
from stylelib.data import procedural_style
from stylelib.images import load_image, save_image

TRAIN = (
    "--encoder random --no-normalize-encoder --image-size 32 --load-size 40 --batch-size 2 "
    "--device cpu --quiet"
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """decoder.pth and vgg_normalised.pth (to relu4_1) in the port's layout, seeded."""
    folder = tmp_path_factory.mktemp("adain_cli")
    g = torch.Generator().manual_seed(0)

    def fill(shapes, scale):
        state = {}
        for key, shape in shapes.items():
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=g) * (scale / fan_in) ** 0.5
        return state

    encoder = fill(encoder_shapes("relu4_1"), 2.0)
    encoder["0.weight"] = torch.eye(3).view(3, 3, 1, 1)  # RGB in [0, 1] as it is
    torch.save(encoder, folder / "vgg_normalised.pth")
    torch.save(fill(decoder_shapes(), 2.0), folder / "decoder.pth")
    return folder


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    (folder / "photos").mkdir(parents=True)
    for i, name in enumerate(("mosaic", "waves")):
        save_image(
            procedural_style(name, size=48, seed=i)[..., :40, :], folder / "photos" / f"p{i}.png"
        )
    save_image(procedural_style("dots", size=48), folder / "dots.png")
    save_image(procedural_style("strokes", size=40), folder / "strokes.png")
    return folder


def run(capsys, *argv):
    args = [str(a) for a in argv]
    if args[0] == "train-adain":  # the user's flags come last, so they win
        args = ["train-adain", *TRAIN.split(), *args[1:]]
    elif args[0] == "adain":
        args = ["adain", "--size", "48", "--style-size", "48", "--device", "cpu", *args[1:]]
    return run_cli(capsys, *args)


def test_adain_stylizes_with_their_files_and_says_so(files, images, tmp_path, capsys):
    out = tmp_path / "out.png"
    photo = images / "photos" / "p0.png"
    flags = ["--decoder", files / "decoder.pth", "--encoder", files / "vgg_normalised.pth"]
    code, stdout, err = run(capsys, "adain", photo, images / "dots.png", "-o", out, *flags)
    assert code == 0, err
    assert f"{photo} -> {out} (48 x 40)" in stdout and "1 style(s), alpha 1" in stdout
    result = load_image(out)
    net = load_network(files / "decoder.pth", files / "vgg_normalised.pth")
    expected = stylize(net, load_image(photo, size=48), load_image(images / "dots.png", size=48))
    assert (result - expected).abs().max() <= 1 / 255 + 1e-6  # the PNG's 8 bits


def test_adain_mixes_styles_with_weights_alpha_and_colour(files, images, tmp_path, capsys):
    out = tmp_path / "mix.png"
    flags = ["--decoder", files / "decoder.pth", "--encoder", files / "vgg_normalised.pth"]
    flags += ["--style-weights", "1", "3", "--alpha", "0.5", "--preserve-color"]
    styles = [images / "dots.png", images / "strokes.png"]
    code, stdout, err = run(
        capsys, "adain", images / "photos" / "p1.png", *styles, "-o", out, *flags
    )
    assert code == 0, err
    assert "2 style(s), alpha 0.5" in stdout and out.is_file()


def test_adain_folder_in_folder_out_and_never_overwrites(files, images, tmp_path, capsys):
    flags = ["--decoder", files / "decoder.pth", "--encoder", files / "vgg_normalised.pth"]
    outdir = tmp_path / "out"
    code, _, err = run(
        capsys, "adain", images / "photos", images / "dots.png", "-o", outdir, *flags
    )
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == ["p0.png", "p1.png"]
    photo = images / "photos" / "p0.png"
    before = photo.read_bytes()
    code, _, err = run(capsys, "adain", photo, images / "dots.png", "-o", photo, *flags)
    one_line_error(code, err, "refusing to overwrite the input image")
    code, _, err = run(
        capsys, "adain", photo, images / "dots.png", "-o", images / "dots.png", *flags
    )
    one_line_error(code, err, "refusing to overwrite the input image")
    assert photo.read_bytes() == before
    code, _, err = run(capsys, "adain", photo, images / "dots.png", "-o", outdir / "p0.png", *flags)
    one_line_error(code, err, "already exists; choose another name or pass --overwrite")
    argv = ("adain", photo, images / "dots.png", "-o", outdir / "p0.png", "--overwrite", *flags)
    assert run(capsys, *argv)[0] == 0


def test_adain_bad_inputs_exit_2_with_one_line(files, images, tmp_path, capsys):
    photo, dots, strokes = images / "photos" / "p0.png", images / "dots.png", images / "strokes.png"
    dec, enc = files / "decoder.pth", files / "vgg_normalised.pth"
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    out = tmp_path / "o.png"
    both = ["--decoder", dec, "--encoder", enc]
    cases = [
        ((photo, dots, "-o", out, *both, "--alpha", "2"), "alpha must be a number from 0"),
        ((photo, dots, "-o", out, *both, "--style-weights", "1", "2"), "two or more STYLE"),
        ((photo, dots, strokes, "-o", out, *both, "--style-weights", "1"), "1 style weights for 2"),
        ((photo, dots, strokes, "-o", out, *both, "--style-weights", "0", "0"), "not all 0"),
        ((photo, dots, "-o", out, "--decoder", enc, "--encoder", enc), "holds the encoder"),
        ((photo, dots, "-o", out, "--decoder", dec, "--encoder", dec), "is not the AdaIN encoder"),
        ((photo, dots, "-o", out, "--decoder", tmp_path / "no.pth"), "decoder file not found"),
        ((photo, dots, "-o", out, "--decoder", junk, "--encoder", enc), "not a PyTorch weights"),
        ((photo, dots, "-o", out), "no AdaIN decoder: pass --decoder FILE"),
        ((photo, images / "photos", "-o", out, *both), "not a folder"),
        ((tmp_path / "no.png", dots, "-o", out, *both), "input image not found"),
        ((photo, dots, "-o", tmp_path / "o.txt", *both), "cannot tell the image format"),
    ]
    for argv, fragment in cases:
        code, _, err = run(capsys, "adain", *argv)
        one_line_error(code, err, fragment)
    assert not out.exists()


def test_train_adain_writes_a_decoder_that_adain_uses_with_its_encoder(images, tmp_path, capsys):
    photos, styles = images / "photos", tmp_path / "styles"
    styles.mkdir()
    for name in ("dots.png", "strokes.png"):
        (styles / name).write_bytes((images / name).read_bytes())
    model = tmp_path / "decoder.pth"
    code, stdout, err = run(
        capsys, "train-adain", "--content", photos, "--styles", styles, "-o", model, "--steps", "2"
    )
    assert code == 0, err
    assert f"wrote {model}: trained 2 steps" in stdout
    assert "AdaIN decoder: 3,505,219 parameters" in err and "lambda 10 (mean" in err
    ckpt = torch.load(model, weights_only=True)
    assert ckpt["config"]["encoder"] == "random" and ckpt["config"]["normalize_encoder"] is False
    code, _, err = run(
        capsys, "train-adain", "--content", photos, "--styles", styles, "-o", model,
        "--resume", model, "--steps", "3",
    )  # fmt: skip
    assert code == 0, err
    assert torch.load(model, weights_only=True)["step"] == 3
    out = tmp_path / "o.png"
    code, _, err = run(
        capsys, "adain", photos / "p0.png", images / "dots.png", "-o", out, "--decoder", model
    )
    assert code == 0, err  # the checkpoint's own encoder (random), no --encoder needed


def test_train_adain_bad_inputs_exit_2_with_one_line(images, tmp_path, capsys):
    photos = images / "photos"
    m = tmp_path / "m.pth"
    johnson = tmp_path / "johnson.pth"
    torch.save({"format": "stylelib-johnson-transformer", "format_version": 1}, johnson)
    cases = [
        (("--content", photos, "--styles", tmp_path / "none", "-o", m), "is not a folder"),
        (("--content", photos, "--styles", photos, "-o", m, "--batch-size", "0"),
         "batch_size must be positive"),
        (("--content", photos, "--styles", photos, "-o", m, "--load-size", "16"),
         "load_size=16 is smaller"),
        (("--content", photos, "--styles", photos, "-o", tmp_path / "m.png"),
         "should end in .pt or .pth"),
        (("--content", photos, "--styles", photos, "-o", m, "--resume", johnson),
         "checkpoint of another format"),
    ]  # fmt: skip
    for argv, fragment in cases:
        code, _, err = run(capsys, "train-adain", *argv)
        one_line_error(code, err, fragment)
    assert not m.exists()
