"""Tests for stylelib.adain: the AdaIN layer, its test-time controls, the networks and files.

Oracles: the closed form of AdaIN (its output's per-channel mean and std are the style's, a
constant channel becomes the style's mean), the formula written out channel by channel in
float64, float64 gradcheck; the layouts of the PyTorch port (naoto0804/pytorch-AdaIN,
net.py) written out here as literal key lists; synthetic files in that layout from seeded
random tensors, run through a forward pass written in this file, and the same tensors in the
authors' VGG layout through stylelib's VGGFeatures (a second formulation of the encoder).
What is not checked: that a trained decoder stylises well (that needs the released files).
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from stylelib.adain.config import STYLE_LAYERS
from stylelib.adain.layer import adain, target
from stylelib.adain.losses import losses, statistics_loss, target_feature_loss
from stylelib.adain.networks import (
    AdaINNet,
    Decoder,
    Encoder,
    check_decoder_state,
    check_encoder_state,
    decoder_shapes,
    encoder_shapes,
    load_network,
    port_index,
    stylize,
)
from stylelib.adain.train import PairDataset, train_decoder
from stylelib.errors import LayerError, WeightsError
from stylelib.presets import get
from stylelib.vgg import VGGFeatures

# The port's net.py, read by index: the encoder's convolutions (module 0 is the 1 x 1 input
# convolution) and the decoder's.
PORT_ENCODER_CONVS = {
    0: (3, 3, 1),
    2: (64, 3, 3),
    5: (64, 64, 3),
    9: (128, 64, 3),
    12: (128, 128, 3),
    16: (256, 128, 3),
    19: (256, 256, 3),
    22: (256, 256, 3),
    25: (256, 256, 3),
    29: (512, 256, 3),
    32: (512, 512, 3),
    35: (512, 512, 3),
    38: (512, 512, 3),
    42: (512, 512, 3),
    45: (512, 512, 3),
    48: (512, 512, 3),
    51: (512, 512, 3),
}
PORT_DECODER_CONVS = {
    1: (256, 512),
    5: (256, 256),
    8: (256, 256),
    11: (256, 256),
    14: (128, 256),
    18: (128, 128),
    21: (64, 128),
    25: (64, 64),
    28: (3, 64),
}
# relu1_1, relu2_1, relu3_1, relu4_1 in the port's Sequential (its enc_1 ... enc_4 ends)
PORT_RELUS = {"relu1_1": 3, "relu2_1": 10, "relu3_1": 17, "relu4_1": 30}
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- the layer -----------------------------------------------------------------------------------


def adain_by_hand(x, y, eps=1e-5, unbiased=False):
    """Eq. 8 channel by channel, in float64, with Python's own sums."""
    out = torch.empty_like(x, dtype=torch.float64)
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            xs = x[b, c].double().flatten().tolist()
            ys = y[b if y.shape[0] > 1 else 0, c].double().flatten().tolist()

            def stats(v):
                m = sum(v) / len(v)
                var = sum((a - m) ** 2 for a in v) / (len(v) - (1 if unbiased else 0))
                return m, (var + eps) ** 0.5

            (mx, sx), (my, sy) = stats(xs), stats(ys)
            out[b, c] = sy * (x[b, c].double() - mx) / sx + my
    return out


@pytest.mark.parametrize("unbiased", [False, True])
def test_adain_equals_eq8_written_channel_by_channel(unbiased):
    x, y = randn(2, 3, 5, 4, seed=1), randn(2, 3, 3, 7, seed=2) * 3 + 1
    got = adain(x.double(), y.double(), unbiased=unbiased)
    assert torch.allclose(got, adain_by_hand(x, y, unbiased=unbiased), atol=1e-12)


def test_adain_output_has_the_style_statistics_closed_form():
    # content: per-channel affine maps of one pattern; style: known means 5, -2 and stds 3, 0.5
    z = randn(1, 2, 16, 16, seed=3, dtype=torch.float64)
    z = (z - z.mean(dim=(2, 3), keepdim=True)) / z.std(dim=(2, 3), correction=0, keepdim=True)
    x = z * torch.tensor([7.0, 0.1]).view(1, 2, 1, 1).double() + 4
    style = z.flip(-1) * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1).double()
    style = style + torch.tensor([5.0, -2.0]).view(1, 2, 1, 1).double()
    out = adain(x, style, eps=0.0)
    assert torch.allclose(out.mean(dim=(2, 3)).flatten(), torch.tensor([5.0, -2.0]).double())
    std = out.std(dim=(2, 3), correction=0).flatten()
    assert torch.allclose(std, torch.tensor([3.0, 0.5]).double())
    assert torch.allclose(out, style.flip(-1))  # same pattern, the style's statistics


def test_a_constant_content_channel_becomes_the_style_mean():
    x = torch.full((1, 1, 4, 4), 2.5, dtype=torch.float64)
    y = randn(1, 1, 6, 6, seed=4, dtype=torch.float64)
    assert torch.allclose(adain(x, y), torch.full_like(x, y.mean().item()))


def test_one_style_serves_a_whole_batch_and_each_image_keeps_its_own_statistics():
    x, y = randn(3, 4, 6, 6, seed=5), randn(1, 4, 5, 5, seed=6)
    batch = adain(x, y)
    for i in range(3):
        assert torch.allclose(batch[i : i + 1], adain(x[i : i + 1], y), atol=1e-6)


def test_adain_gradcheck_float64():
    x = randn(2, 3, 4, 5, seed=7, dtype=torch.float64).requires_grad_()
    y = randn(2, 3, 3, 3, seed=8, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: adain(a, b), (x, y))
    m = torch.zeros(4, 5, dtype=torch.float64)
    m[:, :2] = 1
    y2 = randn(1, 3, 4, 4, seed=9, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b, c: target(a, [b, c], masks=[m, 1 - m], alpha=0.7), (x, y[:1], y2)
    )
    assert torch.autograd.gradcheck(
        lambda a, b: target(a, [b, None], masks=[m, 1 - m], alpha=0.7), (x, y[:1])
    )


def test_adain_refuses_features_that_do_not_fit():
    with pytest.raises(ValueError, match="same 3 channels"):
        adain(torch.rand(1, 3, 4, 4), torch.rand(1, 4, 4, 4))
    with pytest.raises(ValueError, match="batch of 1 or 2"):
        adain(torch.rand(2, 3, 4, 4), torch.rand(3, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        adain(torch.rand(3, 4, 4), torch.rand(1, 3, 4, 4))


# --- test-time controls (Eq. 14, Sec. 7.3) -----------------------------------------------------


def test_alpha_interpolates_between_the_content_and_the_full_style():
    x, y = randn(1, 4, 6, 6, seed=10, dtype=torch.float64), randn(1, 4, 5, 5, seed=11).double()
    full = adain(x, y)
    assert torch.equal(target(x, [y], alpha=0.0), x)
    assert torch.allclose(target(x, [y], alpha=1.0), full)
    assert torch.allclose(target(x, [y], alpha=0.3), 0.3 * full + 0.7 * x)
    for bad in (-0.1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="alpha"):
            target(x, [y], alpha=bad)


def test_style_interpolation_is_the_weighted_mean_of_adain_outputs():
    x = randn(1, 4, 6, 6, seed=12, dtype=torch.float64)
    y1, y2 = randn(1, 4, 5, 5, seed=13).double(), randn(1, 4, 7, 3, seed=14).double() * 2
    a1, a2 = adain(x, y1), adain(x, y2)
    assert torch.allclose(target(x, [y1, y2], style_weights=[1, 0]), a1)
    assert torch.allclose(target(x, [y1, y2], style_weights=[2, 2]), (a1 + a2) / 2)
    assert torch.allclose(target(x, [y1, y2], style_weights=[1, 3]), 0.25 * a1 + 0.75 * a2)
    assert torch.allclose(target(x, [y1, y2]), (a1 + a2) / 2)  # default: equal weights
    for bad, fragment in (([1], "2 styles"), ([1, -1], ">= 0"), ([0, 0], "not all 0")):
        with pytest.raises(ValueError, match=fragment):
            target(x, [y1, y2], style_weights=bad)


def test_spatial_control_gives_each_region_its_styles_statistics():
    x = randn(1, 3, 8, 8, seed=15, dtype=torch.float64)
    y1 = randn(1, 3, 6, 6, seed=16, dtype=torch.float64) * 0.5 + 3
    y2 = randn(1, 3, 6, 6, seed=17, dtype=torch.float64) * 2 - 1
    m = torch.zeros(16, 16, dtype=torch.float64)  # image-sized mask, resized to 8 x 8
    m[:, :6] = 1
    out = target(x, [y1, y2], masks=[m, 1 - m], eps=0.0)
    left, right = out[..., :3], out[..., 3:]
    for region, style in ((left, y1), (right, y2)):
        assert torch.allclose(region.mean(dim=(2, 3)), style.mean(dim=(2, 3)))
        assert torch.allclose(
            region.std(dim=(2, 3), correction=0), style.std(dim=(2, 3), correction=0)
        )
    whole = torch.ones(8, 8, dtype=torch.float64)
    assert torch.allclose(target(x, [y1, y2], masks=[whole, 0 * whole]), adain(x, y1))


def test_masks_must_be_a_partition_of_zeros_and_ones():
    x, y = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    m = torch.zeros(8, 8)
    m[:4] = 1
    with pytest.raises(ValueError, match="exactly once"):
        target(x, [y, y], masks=[m, m])
    with pytest.raises(ValueError, match="other than 0 and 1"):
        target(x, [y, y], masks=[m * 0.5, 1 - m * 0.5])
    with pytest.raises(ValueError, match="one mask per style"):
        target(x, [y, y], masks=[m])
    with pytest.raises(ValueError, match="not both"):
        target(x, [y, y], masks=[m, 1 - m], style_weights=[1, 1])


@pytest.mark.parametrize("alpha", [1.0, 0.6, 0.0])
def test_a_none_region_keeps_the_contents_features_exactly(alpha):
    """left: a style, right: None. The right is f(c) bit for bit at any alpha (no α·f(c) +
    (1 − α)·f(c) rounding); the left is what it is with any style on the right, and Eq. 8
    written out in float64 on the left columns alone (their statistics are the region's)."""
    x = randn(1, 3, 6, 8, seed=30)
    y, other = randn(1, 3, 5, 5, seed=31) * 2 + 1, randn(1, 3, 4, 4, seed=32)
    m = torch.zeros(6, 8)
    m[:, :3] = 1
    out = target(x, [y, None], masks=[m, 1 - m], alpha=alpha)
    assert torch.equal(out[..., 3:], x[..., 3:])
    styled = target(x, [y, other], masks=[m, 1 - m], alpha=alpha)
    assert torch.equal(out[..., :3], styled[..., :3])
    by_hand = alpha * adain_by_hand(x[..., :3], y) + (1 - alpha) * x[..., :3].double()
    assert torch.allclose(out[..., :3].double(), by_hand, atol=1e-5)
    assert torch.equal(target(x, [None, None], masks=[m, 1 - m], alpha=alpha), x)


def test_a_none_style_without_masks_is_refused_in_one_line():
    x, y = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    for styles in ([None], [y, None]):
        with pytest.raises(ValueError, match="needs masks=") as err:
            target(x, styles)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="needs masks="):
        target(x, [y, None], style_weights=[1, 1])


# --- layouts and files ----------------------------------------------------------------------------


def test_layouts_are_the_ports_module_for_module():
    enc = {k: v for k, v in encoder_shapes().items() if k.endswith("weight")}
    assert {int(k.split(".")[0]): v[:2] + v[3:] for k, v in enc.items()} == PORT_ENCODER_CONVS
    dec = {k: v for k, v in decoder_shapes().items() if k.endswith("weight")}
    assert {int(k.split(".")[0]): v[:2] for k, v in dec.items()} == PORT_DECODER_CONVS
    assert all(v[2:] == (3, 3) for v in dec.values())
    assert {name: port_index(name) for name in PORT_RELUS} == PORT_RELUS
    assert port_index("conv4_2") == 32
    assert len(Encoder()) == 31  # their vgg[:31], input to relu4_1
    assert sum(p.numel() for p in Decoder().parameters()) == sum(
        o * i * 9 + o for o, i in PORT_DECODER_CONVS.values()
    )


def _vgg_convs(seed=0):
    """Seeded random VGG-19 convolutions, Caffe style (BGR input filters): name -> (w, b)."""
    g = torch.Generator().manual_seed(seed)
    from stylelib.layers import layers

    out = {}
    for layer in layers("vgg19"):
        if layer.kind == "conv":
            fan_in = layer.in_channels * 9
            w = torch.randn(layer.out_channels, layer.in_channels, 3, 3, generator=g)
            out[layer.name] = (
                w * (2 / fan_in) ** 0.5,
                torch.randn(layer.out_channels, generator=g) * 0.1,
            )
    return out


def _port_encoder_state(convs):
    """Their vgg_normalised.pth: the 1 x 1 conv RGB [0, 1] -> BGR 0-255 minus Caffe's mean."""
    perm = torch.zeros(3, 3)
    perm[0, 2] = perm[1, 1] = perm[2, 0] = 255.0  # output B, G, R from input R, G, B: reversed
    state = {"0.weight": perm.view(3, 3, 1, 1), "0.bias": -torch.tensor(CAFFE_MEAN_BGR)}
    names = list(convs)
    conv_indices = [k for k in PORT_ENCODER_CONVS if k != 0]
    for name, index in zip(names, conv_indices, strict=True):
        state[f"{index}.weight"], state[f"{index}.bias"] = convs[name]
    return state


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Synthetic files: their encoder and decoder, and the same VGG in the authors' layout."""
    folder = tmp_path_factory.mktemp("adain_files")
    convs = _vgg_convs()
    torch.save(_port_encoder_state(convs), folder / "vgg_normalised.pth")
    torch.save(
        {f"{k}.{p}": v for k, (w, b) in convs.items() for p, v in (("weight", w), ("bias", b))},
        folder / "vgg_conv.pth",
    )
    g = torch.Generator().manual_seed(1)
    dec = {}
    for index, (o, i) in PORT_DECODER_CONVS.items():
        dec[f"{index}.weight"] = torch.randn(o, i, 3, 3, generator=g) * (2 / (9 * i)) ** 0.5
        dec[f"{index}.bias"] = torch.randn(o, generator=g) * 0.01
    torch.save(dec, folder / "decoder.pth")
    return folder


def port_forward(state, x, pad_mode="reflect", upto=30):
    """Their vgg Sequential to module ``upto``, written out from the layout: {index: output}."""
    out, convs = {}, sorted(PORT_ENCODER_CONVS)
    i = 0
    x = F.conv2d(x, state["0.weight"], state["0.bias"])
    for index in convs[1:]:
        if index > upto:
            break
        if index - i == 4:  # a pooling module sat between (indices 7, 14, 27, 40)
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        x = F.pad(x, (1, 1, 1, 1), mode=pad_mode if pad_mode != "zeros" else "constant")
        x = F.relu(F.conv2d(x, state[f"{index}.weight"], state[f"{index}.bias"]))
        out[index + 1] = x
        i = index
    return out


def test_their_encoder_file_loads_and_pads_by_reflection_as_their_layout(files):
    state = torch.load(files / "vgg_normalised.pth", weights_only=True)
    encoder = Encoder.from_file(files / "vgg_normalised.pth")
    image = rand(2, 3, 40, 48, seed=20)
    got = encoder.features(image, STYLE_LAYERS)
    by_hand = port_forward(state, image)
    for name, index in PORT_RELUS.items():
        assert torch.allclose(got[name], by_hand[index], rtol=1e-4, atol=1e-4), name
    assert not any(p.requires_grad for p in encoder.parameters())


def test_their_encoder_equals_stylelibs_vgg_with_the_same_weights(files):
    """Second formulation: the same tensors as the authors' vgg_conv.pth through VGGFeatures
    (Caffe convention, zero padding) give the port's encoder's features with zero padding."""
    encoder = Encoder.from_file(files / "vgg_normalised.pth", padding="zeros")
    vgg = VGGFeatures("vgg19", weights=files / "vgg_conv.pth", layers=list(STYLE_LAYERS))
    image = rand(1, 3, 48, 64, seed=21)
    ours, theirs = encoder.features(image), vgg(image)
    for name in STYLE_LAYERS:
        scale = theirs[name].abs().max()
        assert (ours[name] - theirs[name]).abs().max() <= 1e-4 * scale, name


def test_from_vgg_maps_stylelibs_weights_onto_the_ports_layout():
    encoder = Encoder.from_vgg("random", normalize=False, padding="zeros")
    vgg = VGGFeatures("vgg19", weights="random", layers=list(STYLE_LAYERS))
    image = rand(1, 3, 40, 56, seed=22)
    ours, theirs = encoder.features(image), vgg(image)
    for name in STYLE_LAYERS:
        assert torch.allclose(
            ours[name], theirs[name], rtol=1e-4, atol=1e-5 * theirs[name].abs().max()
        )
    with pytest.raises(LayerError, match="past relu4_1"):
        encoder.features(image, ["relu5_1"])


def test_their_decoder_file_loads_and_runs_end_to_end(files):
    state = torch.load(files / "decoder.pth", weights_only=True)
    net = load_network(files / "decoder.pth", files / "vgg_normalised.pth")
    t = randn(1, 512, 5, 6, seed=23)
    x = t
    for index in sorted(PORT_DECODER_CONVS):  # the decoder written out from its layout
        if index in (5, 18, 25):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.conv2d(
            F.pad(x, (1, 1, 1, 1), mode="reflect"), state[f"{index}.weight"], state[f"{index}.bias"]
        )
        x = F.relu(x) if index != 28 else x
    with torch.no_grad():
        assert torch.allclose(net.decoder(t), x, rtol=1e-4, atol=1e-5)
    out = stylize(net, rand(1, 3, 50, 70, seed=24), rand(1, 3, 64, 64, seed=25), alpha=0.8)
    assert out.shape == (1, 3, 50, 70) and 0 <= out.min() and out.max() <= 1


def test_file_checks_name_what_is_wrong_in_one_line(files, tmp_path):
    enc = torch.load(files / "vgg_normalised.pth", weights_only=True)
    dec = torch.load(files / "decoder.pth", weights_only=True)
    check_encoder_state({k: v for k, v in enc.items() if int(k.split(".")[0]) <= 29}, "cut.pth")
    cases = [
        (check_decoder_state, enc, "holds the encoder"),
        (check_encoder_state, dec, "holds the decoder"),
        (
            check_decoder_state,
            {**dec, "5.weight": torch.zeros(256, 256, 1, 1)},
            "5.weight has shape",
        ),
        (
            check_decoder_state,
            {k: v for k, v in dec.items() if k != "28.bias"},
            "missing 28.bias",
        ),
        (check_encoder_state, {**enc, "features.0.weight": torch.zeros(1)}, "plain VGG file"),
        (
            check_encoder_state,
            {**enc, "2.weight": torch.zeros(64, 3, 5, 5)},
            "2.weight has shape",
        ),
        (check_encoder_state, [1, 2], "holds a list"),
        (check_decoder_state, {**dec, "1.weight": dec["1.weight"] * float("nan")}, "non-finite"),
    ]
    for check, state, fragment in cases:
        with pytest.raises(WeightsError) as info:
            check(state, "x.pth")
        message = str(info.value)
        assert fragment in message and "\n" not in message and "x.pth" in message, message
    (tmp_path / "junk.pth").write_text("not a torch file")
    with pytest.raises(WeightsError, match="not a PyTorch weights file"):
        Decoder.from_file(tmp_path / "junk.pth")
    with pytest.raises(WeightsError, match="not found"):
        Encoder.from_file(tmp_path / "missing.pth")


# --- stylisation and the loss ---------------------------------------------------------------


@pytest.fixture(scope="module")
def net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, on purpose
        return AdaINNet(Encoder.from_vgg("random", normalize=False), Decoder(seed=0))


def test_preserve_color_recolours_the_style_before_encoding(net):
    from stylelib.color import match_colors

    content, style = rand(1, 3, 40, 40, seed=26), rand(1, 3, 48, 48, seed=27) * 0.3
    got = stylize(net, content, style, preserve_color=True)
    assert torch.allclose(got, stylize(net, content, match_colors(style, content, "linear")))
    assert not torch.allclose(got, stylize(net, content, style))


def test_content_and_style_losses_against_their_definitions():
    g = {n: randn(2, 4, 5, 5, seed=i) for i, n in enumerate(STYLE_LAYERS)}
    s = {n: randn(2, 4, 6, 3, seed=10 + i) * 2 for i, n in enumerate(STYLE_LAYERS)}
    assert statistics_loss(s, s) == 0
    expected_mean = expected_sum = 0.0
    for n in STYLE_LAYERS:
        for stat in (
            lambda f: f.mean(dim=(2, 3)),
            lambda f: (f.var(dim=(2, 3), correction=0) + 1e-5).sqrt(),
        ):
            d = stat(g[n]) - stat(s[n])
            expected_mean += F.mse_loss(stat(g[n]), stat(s[n])).item()
            expected_sum += (d**2).sum().item()
    assert statistics_loss(g, s).item() == pytest.approx(expected_mean, rel=1e-5)
    assert statistics_loss(g, s, reduction="sum").item() == pytest.approx(expected_sum, rel=1e-5)
    a, b = randn(2, 4, 3, 3, seed=30), randn(2, 4, 3, 3, seed=31)
    assert target_feature_loss(a, b).item() == pytest.approx(F.mse_loss(a, b).item())


def test_training_loss_reaches_the_decoder_only(net):
    out = losses(net, rand(2, 3, 32, 32, seed=32), rand(2, 3, 32, 32, seed=33))
    assert set(out) == {"content", "style", "loss"}
    assert out["loss"].item() == pytest.approx(
        out["content"].item() + 10 * out["style"].item(), rel=1e-5
    )
    out["loss"].backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() for p in net.decoder.parameters()
    )
    assert all(p.grad is None for p in net.encoder.parameters())
    net.decoder.zero_grad(set_to_none=True)


# --- training the decoder ---------------------------------------------------------------------


def tiny(**changes):
    """The paper's preset at 32 px crops of 40 px images, batch 2, random VGG-19, the CPU."""
    from dataclasses import replace

    base = replace(
        get("adain2017"),
        encoder="random",
        normalize_encoder=False,
        image_size=32,
        load_size=40,
        batch_size=2,
        steps=4,
        checkpoint_every=2,
        device="cpu",
    )
    return replace(base, **changes)


@pytest.fixture
def folders(tmp_path):
    """Three small photos and two small paintings, of different sizes."""
    from stylelib.data import procedural_style
    from stylelib.images import save_image

    content, styles = tmp_path / "content", tmp_path / "styles"
    content.mkdir()
    styles.mkdir()
    for i in range(3):
        save_image(rand(1, 3, 40 + 4 * i, 48, seed=40 + i), content / f"c{i}.png")
    for i, name in enumerate(("mosaic", "waves")):
        save_image(procedural_style(name, size=48 + 8 * i, seed=i), styles / f"s{i}.png")
    return content, styles


def state_digest(state):
    import hashlib

    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode() + state[key].detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_config_checks_fields_and_presets_differ_in_normalisation():
    assert get("adain2017").style_weight == 10 and get("adain2017").reduction == "mean"
    assert get("adain2017-code").reduction == "sum"
    for changes, fragment in (
        ({"lr": 0}, "lr must be positive"),
        ({"steps": 1.5}, "steps must be a whole number"),
        ({"load_size": 16}, "load_size=16 is smaller"),
        ({"style_layers": ("relu5_1",)}, "past relu4_1"),
        ({"reduction": "max"}, "reduction='max' is not one of"),
    ):
        with pytest.raises(ValueError, match=fragment):
            tiny(**changes)
    with pytest.raises(ValueError, match="unknown preset .adain."):
        get("adain")


def test_a_few_steps_resume_bit_exact_and_the_checkpoint_loads_as_a_decoder(folders, tmp_path):
    content, styles = folders
    out, full = tmp_path / "run.pth", tmp_path / "full.pth"

    def ctrl_c(step, record):
        if step == 2:
            raise KeyboardInterrupt

    config = tiny(steps=3)
    first = train_decoder(content, styles, config, out, progress=False, callback=ctrl_c)
    assert first.stopped == "interrupted" and torch.load(out, weights_only=True)["step"] == 2
    resumed = train_decoder(content, styles, config, out, resume=out, progress=False)
    straight = train_decoder(content, styles, config, full, progress=False)
    a, b = torch.load(out, weights_only=True), torch.load(full, weights_only=True)
    assert resumed.steps == straight.steps == 3
    assert state_digest(a["model"]) == state_digest(b["model"])
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]
    assert a["format"] == "stylelib-adain-decoder" and a["data"]["files"] == 5
    # the learning rate decays with the step: lr / (1 + decay * 2) at the last step
    lr = a["optimizer"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(1e-4 / (1 + 5e-5 * 2))
    decoder = Decoder.from_file(out)
    assert state_digest(decoder.state_dict()) == state_digest(a["model"])
    check_decoder_state(a["model"], out)


def test_training_refuses_bad_folders_and_other_settings(folders, tmp_path):
    from stylelib.checkpoints import CheckpointError
    from stylelib.trainset import DataError

    content, styles = folders
    out = tmp_path / "m.pth"
    with pytest.raises(DataError, match="not a folder"):
        train_decoder(content, tmp_path / "missing", tiny(), progress=False)
    train_decoder(content, styles, tiny(steps=2), out, progress=False)
    with pytest.raises(CheckpointError, match=r"other settings \(style_weight 10.0 -> 1.0\)"):
        train_decoder(content, styles, tiny(style_weight=1.0), out, resume=out, progress=False)
    (styles / "s0.png").rename(styles / "renamed.png")
    with pytest.raises(CheckpointError, match="the training folder changed"):
        train_decoder(content, styles, tiny(steps=3), out, resume=out, progress=False)


def test_pair_dataset_is_a_function_of_seed_and_sample_number(folders):
    content, styles = folders
    from stylelib.trainset import list_images

    make = lambda: PairDataset(list_images(content), list_images(styles), tiny())  # noqa: E731
    (c1, s1), _ = make()[5]
    (c2, s2), _ = make()[5]
    assert torch.equal(c1, c2) and torch.equal(s1, s2) and c1.shape == (3, 32, 32)
    (c3, _), _ = make()[6]
    assert not torch.equal(c1, c3)
