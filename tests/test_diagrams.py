"""stylelib.diagrams: graphviz sources, rendered files, and `stylelib diagram`."""

from __future__ import annotations

import warnings
from collections import Counter

import pytest
import torch
import torchvision
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli
from torch import nn

from stylelib import diagrams, weights
from stylelib.errors import LayerError, OutputError, StylelibError
from stylelib.vgg import VGGFeatures, layers

MAGIC = {".svg": b"<svg", ".png": b"\x89PNG", ".pdf": b"%PDF"}


def edges(dot) -> list[tuple[str, str]]:
    """(tail, head) of every edge in a graphviz source."""
    out = []
    for line in dot.body:
        if " -> " in line:
            tail, head = line.split(" [")[0].strip().split(" -> ")
            out.append((tail.strip('"'), head.strip('"')))
    return out


def joins(dot) -> list[str]:
    """Nodes with two or more incoming edges: where a skip or a concatenation joins."""
    return [head for head, n in Counter(head for _, head in edges(dot)).items() if n >= 2]


# --------------------------------------------------------------------------- vgg_diagram


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_vgg_diagram_names_every_conv_and_pool(arch):
    source = diagrams.vgg_diagram(arch, 300).source
    for layer in layers(arch):
        assert layer.name in source  # relus appear as "+ ReLU (relu1_1)" inside the conv box
    # seed 000's worked example: conv1_1 keeps 300 x 300, pool1 halves it
    assert "conv1_1</b> · 3×3, 64 · 300×300×64" in source
    assert "pool1</b> · 2×2/2 · 150×150×64" in source
    assert "input</b> · 300×300×3" in source
    assert source.count("cluster_") == 6  # five blocks and the classifier


# --------------------------------------------------------------------------- gatys_diagram


def test_gatys_diagram_draws_targets_once_and_the_loop_back_to_x():
    dot = diagrams.gatys_diagram()
    source, arrows = dot.source, edges(dot)
    # the paper's layers (CVPR 2016, Sec. 3), rectified: relu4_2 and relu1_1 ... relu5_1
    assert "relu4_2" in source and "relu1_1, relu2_1, relu3_1, relu4_1, relu5_1" in source
    # p and a each pass through VGG once, into the targets; the targets only feed the losses
    assert ("p", "vgg_p") in arrows and ("vgg_p", "P") in arrows and ("P", "Lc") in arrows
    assert ("a", "vgg_a") in arrows and ("vgg_a", "A") in arrows and ("A", "Ls") in arrows
    assert not any(tail in ("P", "A") and head == "x" for tail, head in arrows)
    # x -> VGG -> losses -> total -> gradient -> step -> x: the only cycle
    loop = [("x", "vgg_x"), ("Ls", "L"), ("Lc", "L"), ("L", "grad"), ("grad", "step")]
    assert all(edge in arrows for edge in loop) and ("step", "x") in arrows
    assert "cluster_targets" in source and "cluster_loop" in source


def test_gatys_diagram_names_the_layers_it_is_given():
    source = diagrams.gatys_diagram(["relu2_2"], ["conv1_1", "conv2_1"]).source
    assert "relu2_2" in source and "conv1_1, conv2_1" in source and "relu4_2" not in source


def test_vgg_diagram_classifier_toggles():
    full = diagrams.vgg_diagram("vgg16").source
    assert "classifier — not used by style transfer" in full
    assert "fc6" in full and "102,764,544 parameters" in full and "138,357,544" in full
    short = diagrams.vgg_diagram("vgg16", classifier=False).source
    assert "classifier" not in short and "fc6" not in short and "avgpool" not in short
    assert "14,714,688" in short and "pool5" in short


def test_vgg_diagram_bad_arguments():
    with pytest.raises(LayerError, match="vgg16"):
        diagrams.vgg_diagram("vgg11")
    with pytest.raises(ValueError, match="rankdir"):
        diagrams.vgg_diagram("vgg16", rankdir="up")
    assert "<br/>" in diagrams.vgg_diagram("vgg19", rankdir="LR").source  # stacked labels


# --------------------------------------------------------------------------- model_diagram


def test_model_diagram_resnet18_shows_skips_and_shapes():
    dot = diagrams.model_diagram(torchvision.models.resnet18(), (1, 3, 64, 64))
    source = dot.source
    assert "layer1.0.conv1" in source and "Conv2d 7×7/2, 3→64" in source
    assert "32×32×64" in source and "2×2×512" in source and "Linear 512→1000" in source
    assert "traced with torch.fx" in source
    added = joins(dot)
    assert len(added) == 8  # one add per BasicBlock: 4 stages x 2 blocks
    assert all(name.startswith("add") for name in added)


def test_model_diagram_googlenet_shows_inception_branches():
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    dot = diagrams.model_diagram(model, (1, 3, 64, 64))
    assert "inception3a.branch4.1.conv" in dot.source and "8×8×256" in dot.source
    heads = Counter(head for _, head in edges(dot))
    cats = [name for name in joins(dot) if name.startswith("cat")]
    assert len(cats) == 9 and all(heads[c] == 4 for c in cats)  # nine Inception blocks


class Untraceable(nn.Module):
    """fx cannot trace an `if` on a tensor's value."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        if x.sum() >= 0:
            x = self.conv(x)
        return self.pool(x)


def test_model_diagram_falls_back_to_hooks_and_says_so():
    dot = diagrams.model_diagram(Untraceable(), (1, 3, 32, 32))
    assert "could not trace" in dot.source and "linear chain" in dot.source
    assert "Conv2d 3×3/2, 3→8 · 16×16×8" in dot.source
    assert "AdaptiveAvgPool2d → 1×1 · 1×1×8" in dot.source
    assert edges(dot) == [("input", "call0"), ("call0", "call1")] and not joins(dot)


def test_model_diagram_of_the_repo_vgg_features():
    net = VGGFeatures("vgg16", weights="random", layers=["pool2"])
    source = diagrams.model_diagram(net, (1, 3, 64, 64)).source
    assert "Conv2d 3×3, 64→128" in source and "16×16×128" in source


def test_model_diagram_leaves_the_model_as_it_was():
    model = torchvision.models.resnet18().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    diagrams.model_diagram(model, (1, 3, 32, 32))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_model_diagram_wrong_input_and_max_nodes():
    with pytest.raises(StylelibError, match=r"cannot run on an input of shape \(1, 1, 64, 64\)"):
        diagrams.model_diagram(torchvision.models.resnet18(), (1, 1, 64, 64))
    dot = diagrams.model_diagram(torchvision.models.resnet18(), (1, 3, 32, 32), max_nodes=5)
    assert "66 more nodes not drawn (max_nodes=5)" in dot.source


# --------------------------------------------------------------------------- autograd_diagram


def test_autograd_diagram_shows_backward_functions(monkeypatch):
    monkeypatch.setattr(weights, "_warned_random", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = diagrams.autograd_diagram("vgg16", "relu1_2").source
    for name in ("AccumulateGrad", "ConvolutionBackward", "ReluBackward", "SubBackward0"):
        assert name in source
    assert "image" in source and "(1, 3, 32, 32)" in source and "conv1_1" not in source
    # the one-time random-weights warning is for style transfer: neither shown nor used up
    assert not caught and weights._warned_random is False


# --------------------------------------------------------------------------- save_diagram


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf"])
def test_save_diagram_formats(tmp_path, suffix):
    path = diagrams.save_diagram(
        diagrams.vgg_diagram("vgg16", classifier=False), tmp_path / f"v{suffix}"
    )
    assert path == tmp_path / f"v{suffix}"
    assert MAGIC[suffix] in path.read_bytes()[:1000]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_save_diagram_refuses_bad_paths(tmp_path):
    dot = diagrams.vgg_diagram("vgg16")
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        diagrams.save_diagram(dot, tmp_path / "v.jpg")
    with pytest.raises(OutputError, match="does not exist"):
        diagrams.save_diagram(dot, tmp_path / "missing" / "v.svg")
    with pytest.raises(OutputError, match="is a folder"):
        (tmp_path / "d.svg").mkdir()
        diagrams.save_diagram(dot, tmp_path / "d.svg")
    assert [p.name for p in tmp_path.iterdir()] == ["d.svg"]


def test_save_diagram_without_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere on PATH
    with pytest.raises(StylelibError) as info:
        diagrams.save_diagram(diagrams.vgg_diagram("vgg16"), tmp_path / "v.svg")
    message = str(info.value)
    assert "\n" not in message and "apt-get install graphviz" in message
    assert "conda install -c conda-forge graphviz" in message
    assert list(tmp_path.iterdir()) == []


def test_save_diagram_failed_render_keeps_the_old_file(tmp_path):
    class Broken:
        source = "digraph { a -> }"

    old = tmp_path / "v.svg"
    old.write_text("old")
    with pytest.raises(StylelibError, match="dot could not render"):
        diagrams.save_diagram(Broken(), old, overwrite=True)
    assert old.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["v.svg"]


def test_save_diagram_keeps_an_existing_file_unless_told(tmp_path):
    dot = diagrams.vgg_diagram("vgg16", classifier=False)
    old = tmp_path / "v.svg"
    old.write_text("an instructor's hand-edited diagram")
    with pytest.raises(OutputError, match="already exists; choose another name"):
        diagrams.save_diagram(dot, old)
    assert old.read_text() == "an instructor's hand-edited diagram"
    diagrams.save_diagram(dot, old, overwrite=True)
    assert MAGIC[".svg"] in old.read_bytes()[:1000]


# --------------------------------------------------------------------------- CLI


def run(capsys, *argv):
    return run_cli(capsys, *argv)


def assert_one_line_error(code, err, fragment):
    one_line_error(code, err, fragment, alone=True)


def test_cli_vgg16_at_300(tmp_path, capsys):
    out_file = tmp_path / "x.svg"
    code, out, _ = run(capsys, "diagram", "vgg16", "-o", str(out_file), "--input-size", "300")
    assert code == 0 and str(out_file) in out
    assert "300×300×64" in out_file.read_text()


def test_cli_resnet18_png_and_autograd_pdf(tmp_path, capsys):
    png, pdf = tmp_path / "r.png", tmp_path / "a.pdf"
    assert run(capsys, "diagram", "resnet18", "-o", str(png), "--input-size", "64")[0] == 0
    assert png.read_bytes().startswith(MAGIC[".png"])
    assert run(capsys, "diagram", "vgg19", "--autograd", "-o", str(pdf))[0] == 0
    assert pdf.read_bytes().startswith(MAGIC[".pdf"])


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["alexnet", "-o", "{tmp}/a.svg"], "unknown network 'alexnet'"),
        (["vgg16", "-o", "{tmp}/a.txt"], "use .svg, .png or .pdf"),
        (["vgg16", "-o", "{tmp}/missing/a.svg"], "does not exist"),
        (["resnet18", "--autograd", "-o", "{tmp}/a.svg"], "apply to vgg16/vgg19"),
        (["{tmp}/nothing.pth", "-o", "{tmp}/a.svg"], "does not exist"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, capsys, argv, fragment):
    code, _, err = run(capsys, "diagram", *(a.format(tmp=tmp_path) for a in argv))
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "a.svg").exists()


def test_cli_never_replaces_a_file_without_overwrite(tmp_path, capsys):
    photo = tmp_path / "holiday.png"
    photo.write_bytes(b"a holiday photo")
    code, _, err = run(capsys, "diagram", "vgg16", "-o", str(photo))
    assert_one_line_error(code, err, "already exists; choose another name or pass --overwrite")
    assert photo.read_bytes() == b"a holiday photo"
    code, _, _ = run(capsys, "diagram", "vgg16", "-o", str(photo), "--overwrite")
    assert code == 0 and photo.read_bytes().startswith(MAGIC[".png"])


def test_cli_checkpoint_goes_through_model_diagram(tmp_path, capsys, monkeypatch):
    from stylelib.johnson.network import TransformerNet

    checkpoint = tmp_path / "m.pth"
    checkpoint.write_bytes(b"stand-in")
    loaded = []
    tiny = nn.Sequential(nn.Conv2d(3, 4, 9, padding=4), nn.ReLU())

    def fake(path):
        loaded.append(str(path))
        return tiny

    monkeypatch.setattr(TransformerNet, "from_checkpoint", staticmethod(fake))
    code, _, _ = run(capsys, "diagram", str(checkpoint), "-o", str(tmp_path / "m.svg"))
    assert code == 0 and loaded == [str(checkpoint)]
    assert "TransformerNet from m.pth" in (tmp_path / "m.svg").read_text()
