"""The extractor against torchvision's own VGG: names, indices, outputs, shapes, parameters."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import DEVICE_DTYPES, TOLERANCE, relative_error
from torch import nn
from torchvision.models import vgg16, vgg19
from torchvision.models.vgg import cfgs, make_layers

from stylelib.errors import ImageError, LayerError
from stylelib.vgg import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGGFeatures,
    layer_index,
    layer_names,
    layer_table,
    layers,
)

# Read before conftest points TORCH_HOME at an empty folder for every test.
REAL_TORCH_HOME = os.environ.get("TORCH_HOME")

TORCHVISION_CFG = {"vgg16": "D", "vgg19": "E"}


def torchvision_features(arch: str) -> nn.Sequential:
    """torchvision's own ``features`` (the same builder vgg16()/vgg19() use), no classifier."""
    return make_layers(cfgs[TORCHVISION_CFG[arch]])


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_layer_map_matches_torchvision_modules(arch):
    tv = torchvision_features(arch)
    ours = layers(arch)
    assert len(ours) == len(tv)
    kinds = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}
    for layer, module in zip(ours, tv, strict=True):
        assert layer.kind == kinds[type(module)], layer
        if layer.kind == "conv":
            assert (layer.in_channels, layer.out_channels) == (
                module.in_channels,
                module.out_channels,
            )


def test_layer_indices_pinned():
    # torchvision's vgg19().features: conv4_2 is module 21, its ReLU 22 (VGG-19 is column E of
    # Simonyan & Zisserman 2015, Table 1).
    assert layer_index("conv4_2", "vgg19") == 21
    assert layer_index("relu4_2", "vgg19") == 22
    assert layer_index("conv5_1", "vgg19") == 28
    assert layer_index("pool5", "vgg19") == 36
    assert layer_index("relu3_3", "vgg16") == 15
    assert layer_index("relu4_3", "vgg16") == 22
    assert layer_index("pool5", "vgg16") == 30
    assert layer_names("vgg16")[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert "conv5_4" in layer_names("vgg19") and "conv5_4" not in layer_names("vgg16")


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_outputs_equal_slicing_torchvision_features(arch, image):
    names = ["conv1_1", "relu1_2", "pool1", "conv3_1", "relu4_2", "pool4"]
    ours = VGGFeatures(arch, weights="random", layers=names, seed=3)
    tv = torchvision_features(arch)
    tv.load_state_dict(ours.features.state_dict(), strict=False)
    normalised = (image - ours.mean) / ours.std
    out = ours(image)
    for name in names:
        expected = tv[: layer_index(name, arch) + 1](normalised.clone())
        torch.testing.assert_close(out[name], expected, rtol=1e-5, atol=1e-6)


def test_conv_output_is_not_relu_output(image):
    net = VGGFeatures("vgg19", weights="random", layers=["conv1_1", "relu1_1", "conv1_2"])
    out = net(image)
    assert (out["conv1_1"] < 0).any(), "conv1_1 has no negatives: an in-place ReLU overwrote it"
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp(min=0))
    assert all(not (isinstance(m, nn.ReLU) and m.inplace) for m in net.features)


def test_truncates_at_deepest_requested_layer(image):
    net = VGGFeatures("vgg19", weights="random", layers=["relu2_1", "conv3_1"])
    assert len(net.features) == layer_index("conv3_1") + 1
    called = []
    for i, module in enumerate(net.features):
        module.register_forward_hook(lambda m, a, o, i=i: called.append(i))
    out = net(image, layers=["relu2_1"])
    assert list(out) == ["relu2_1"]
    assert max(called) == layer_index("relu2_1"), "ran past the deepest requested layer"


def test_classifier_never_built():
    net = VGGFeatures("vgg19", weights="random")
    assert not any(isinstance(m, nn.Linear) for m in net.modules())
    assert sum(p.numel() for p in net.parameters()) == 20_024_384  # VGG19 features only


def test_frozen_but_differentiable_in_the_image(image):
    net = VGGFeatures("vgg16", weights="random", layers=["relu2_2"])
    assert not any(p.requires_grad for p in net.parameters())
    x = image.clone().requires_grad_(True)
    net(x)["relu2_2"].square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    net.train()
    assert not net.training


def test_average_pooling_switch(image):
    mx = VGGFeatures("vgg19", weights="random", layers=["pool1", "pool2"], pooling="max")
    av = VGGFeatures("vgg19", weights="random", layers=["pool1", "pool2"], pooling="avg")
    assert sum(isinstance(m, nn.AvgPool2d) for m in av.features) == 2
    assert not any(isinstance(m, nn.AvgPool2d) for m in mx.features)
    a, m = av(image), mx(image)
    # pool1 sees the same relu1_2 in both: the mean of a 2x2 window never exceeds its max
    assert (a["pool1"] <= m["pool1"] + 1e-6).all() and not torch.allclose(a["pool1"], m["pool1"])
    expected = torch.nn.functional.avg_pool2d(net_upto(av, "relu1_2", image), 2)
    torch.testing.assert_close(a["pool1"], expected)
    assert a["pool2"].shape == m["pool2"].shape == (1, 128, 12, 16)


def net_upto(net, name, image):
    """Run ``net``'s modules by hand up to ``name`` (an independent path to a feature map)."""
    x = (image - net.mean) / net.std
    for module in net.features[: layer_index(name) + 1]:
        x = module(x)
    return x


def test_random_weights_are_seeded():
    a = VGGFeatures("vgg16", weights="random", layers=["conv2_1"], seed=1).features.state_dict()
    b = VGGFeatures("vgg16", weights="random", layers=["conv2_1"], seed=1).features.state_dict()
    c = VGGFeatures("vgg16", weights="random", layers=["conv2_1"], seed=2).features.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["0.weight"], c["0.weight"])


def test_seed000_shape_arithmetic():
    rows = {r["name"]: r for r in layer_table("vgg16", 300)}
    assert rows["conv1_1"]["output"] == (300, 300, 64)
    assert rows["conv1_1"]["params"] == 3 * 3 * 3 * 64 + 64
    assert rows["pool1"]["output"] == (150, 150, 64)
    assert rows["pool5"]["output"] == (9, 9, 512)  # 300 -> 150 -> 75 -> 37 -> 18 -> 9


@pytest.mark.parametrize("arch, total", [("vgg16", 138_357_544), ("vgg19", 143_667_240)])
def test_layer_table_params_match_torchvision(arch, total):
    with torch.device("meta"):  # builds the full network without allocating it
        model = {"vgg16": vgg16, "vgg19": vgg19}[arch]()
    assert sum(r["params"] for r in layer_table(arch, 300)) == total
    assert sum(p.numel() for p in model.parameters()) == total
    rows = [r for r in layer_table(arch, 300) if r["kind"] == "conv"]
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [r["params"] for r in rows] == [sum(p.numel() for p in m.parameters()) for m in convs]
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [r["params"] for r in layer_table(arch, 300) if r["kind"] == "fc"] == [
        sum(p.numel() for p in m.parameters()) for m in fcs
    ]


def test_layer_table_refuses_inputs_smaller_than_pool5():
    with pytest.raises(ValueError, match="at least 32 x 32"):
        layer_table("vgg16", 16)
    assert layer_table("vgg16", 32)[-5]["output"] == (1, 1, 512)  # pool5 of a 32 px input


def test_layer_table_shapes_match_a_real_forward():
    net = VGGFeatures("vgg16", weights="random", layers=layer_names("vgg16"))
    out = net(torch.rand(1, 3, 300, 300))
    for row in layer_table("vgg16", 300, classifier=False):
        _, c, h, w = out[row["name"]].shape
        assert row["output"] == (h, w, c), row["name"]


def test_unknown_layer_and_arch_are_one_line_errors(image):
    with pytest.raises(LayerError, match="vgg19 has no layer 'conv6_1'"):
        VGGFeatures("vgg19", weights="random", layers=["conv6_1"])
    with pytest.raises(LayerError, match="vgg16 has no layer 'conv5_4'"):
        layer_index("conv5_4", "vgg16")
    with pytest.raises(LayerError, match="unknown architecture 'vgg11'"):
        VGGFeatures("vgg11", weights="random")
    net = VGGFeatures("vgg19", weights="random", layers=["relu2_1"])
    assert set(net(image, layers=["conv1_2"])) == {"conv1_2"}  # shallower layers may be asked
    with pytest.raises(LayerError, match="lies past relu2_1, the deepest layer this extractor"):
        net(image, layers=["conv2_2"])
    with pytest.raises(LayerError, match="layers is empty"):
        VGGFeatures("vgg19", weights="random", layers=[])
    with pytest.raises(LayerError) as info:
        layer_index("conv6_1")
    assert "\n" not in str(info.value) and not str(info.value).startswith('"')


def test_bad_tensor_input_is_explained():
    net = VGGFeatures("vgg19", weights="random", layers=["relu1_1"])
    with pytest.raises(ImageError, match="unsqueeze"):
        net(torch.rand(3, 64, 64))
    with pytest.raises(ImageError, match="NaN"):
        net(torch.full((1, 3, 64, 64), float("nan")))


def test_an_image_of_another_float_dtype_runs_in_the_networks_dtype(image):
    # converted, not refused: float64 is what numpy gives, and float32 holds a [0, 1] image
    # far finer than its 8 bits; the gradient comes back in the caller's dtype
    net = VGGFeatures("vgg19", weights="random", layers=["relu2_1"])
    x64 = image.double().requires_grad_(True)
    out = net(x64)["relu2_1"]
    assert out.dtype == torch.float32 and torch.equal(out, net(image)["relu2_1"])
    out.sum().backward()
    assert x64.grad.dtype == torch.float64 and x64.grad.abs().sum() > 0
    half = net(image.half())["relu2_1"]
    assert relative_error(half, net(image)["relu2_1"]) < 1e-2  # fp16's 11 bits of the input
    net.double()  # a float64 network keeps float64 (gradcheck)
    assert net(image)["relu2_1"].dtype == torch.float64


def test_block_of_reads_the_block_from_a_name():
    from stylelib.layers import block_of

    for layer in layers("vgg19"):  # the table's own blocks: the N-th pool ends block N
        pools_before = sum(1 for other in layers("vgg19")[: layer.index] if other.kind == "pool")
        assert block_of(layer.name) == pools_before + 1
    for bad in ("fc7", "conv6_1", "relu_1", "poolx"):
        with pytest.raises(KeyError, match="not a VGG layer name"):
            block_of(bad)


@pytest.mark.parametrize("device, dtype", DEVICE_DTYPES)
def test_extractor_agrees_with_float64_on_every_device_and_dtype(device, dtype, image):
    """Features and the image's gradient on ``device`` in ``dtype`` against float64 on the CPU."""
    names = ["conv1_1", "relu2_1", "relu3_1", "pool4"]
    reference = VGGFeatures("vgg19", weights="random", layers=names, pooling="avg").double()
    net = VGGFeatures("vgg19", weights="random", layers=names, pooling="avg").to(device, dtype)
    x64 = image.double().requires_grad_(True)
    expected = reference(x64)
    sum(f.square().mean() for f in expected.values()).backward()
    x = image.to(device, dtype).requires_grad_(True)
    out = net(x)
    sum(f.square().mean() for f in out.values()).backward()
    tolerance = TOLERANCE[str(dtype)[6:]]
    for name in names:
        assert out[name].device.type == device and out[name].dtype == dtype, name
        assert relative_error(out[name], expected[name]) < tolerance, name
    assert x.grad.dtype == dtype and relative_error(x.grad, x64.grad) < 10 * tolerance


@pytest.mark.pretrained
def test_imagenet_weights_in_the_real_cache_match_torchvision(monkeypatch):
    """With torchvision's own VGG19 file in the user's cache (opt-in: ``-m pretrained``)."""
    import torchvision

    from stylelib import weights

    if REAL_TORCH_HOME:
        monkeypatch.setenv("TORCH_HOME", REAL_TORCH_HOME)
    else:
        monkeypatch.delenv("TORCH_HOME")
    path = weights.cached_file("vgg19")
    if path is None or not path.name.startswith("vgg19-dcbb9e9d"):
        pytest.skip("torchvision's vgg19-dcbb9e9d.pth is not in the torch cache")
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ours = VGGFeatures("vgg19", weights="imagenet", layers=["relu4_2"])(image)["relu4_2"]
    tv = torchvision.models.vgg19()
    tv.load_state_dict(torch.load(path, weights_only=True))
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    normalised = (image - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    expected = tv.features[: layer_index("relu4_2") + 1].eval()(normalised)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
