"""Styles by region: stylelib.composite, stylelib.johnson.masked and AdaIN's regions
(``stylelib.adain.networks.stylize(..., regions=)``), in Python.

Oracles: the single-style output of the same network (a region of weight 1 must be exactly
it, bit for bit), the photo's own pixels (a ``none`` region), Σ_r m_r · y_r written out as a
float64 loop, cell averages and argmax written out by hand (hard masks), AdaIN by region
composed here step by step (encode, per-region statistics from ``masked_mean_std``, Eq. 8,
decode, the photo blended back), AdaIN's own ``stylize(..., masks=)`` on masks drawn by hand
at the feature size, and a count of forward passes. Seeded random networks at 32-48 px; what
a trained network makes of it is not checked.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from stylelib.adain.layer import masked_mean_std
from stylelib.adain.networks import AdaINNet, Decoder, Encoder, stylize
from stylelib.composite import check_weights, composite, composite_regions, hard_masks
from stylelib.johnson.conditional import MultiStyleNet, StyleWeightsError, stylize_styles
from stylelib.johnson.masked import region_keys, stylize_regions
from stylelib.johnson.network import TransformerNet, stylize_image
from stylelib.masks import region_masks

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def soft_masks(h, w, seed=0):
    """Three overlapping soft masks (random, not normalised) and their normalised weights."""
    raw = [rand(h, w, seed=seed + i) for i in range(3)]
    return region_masks(raw, (h, w))


@pytest.fixture(scope="module")
def multi():
    """A seeded 3-style network whose styles differ (random γ/β rows)."""
    torch.manual_seed(0)
    net = MultiStyleNet(3, "magenta-android")
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("gamma", "beta")):
                p.add_(torch.randn(p.shape) * 0.5)
    return net.eval()


@pytest.fixture(scope="module")
def adain_net():
    """Random weights that answer: PyTorch's default decoder makes ~0.01 from its biases
    whatever the features, which clamping to [0, 1] then hides. He-scaled weights (x sqrt(6)
    on the default bound), no biases, and a last layer that lands near 0.5 ± 0.2 make the
    output a function of the features, in range (a 0.1 % change of them moves it ~4e-4)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, on purpose
        net = AdaINNet(Encoder.from_vgg("random"), Decoder(seed=0)).eval()
    convs = [m for m in net.decoder if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        for conv in convs:
            conv.weight.mul_(6**0.5)
            conv.bias.zero_()
        convs[-1].weight.mul_(0.05)
        convs[-1].bias.fill_(0.65)
    return net


# --- composite --------------------------------------------------------------------------------


def test_a_full_mask_gives_exactly_its_picture():
    y, z = rand(2, 3, 8, 10, seed=1), rand(2, 3, 8, 10, seed=2)
    ones, zeros = torch.ones(1, 1, 8, 10), torch.zeros(1, 1, 8, 10)
    assert torch.equal(composite([y], [ones]), y)
    assert torch.equal(composite([y, z], [ones, zeros]), y)
    assert torch.equal(composite([z, y], [zeros, ones]), y)


def test_composite_is_the_weighted_sum_written_out_in_float64():
    pictures = [rand(1, 3, 6, 7, seed=s) for s in range(3)]
    weights = soft_masks(6, 7)
    expected = torch.zeros(1, 3, 6, 7, dtype=torch.float64)
    for i in range(6):
        for j in range(7):
            for y, m in zip(pictures, weights, strict=True):
                expected[0, :, i, j] += m[0, 0, i, j].double() * y[0, :, i, j].double()
    assert torch.allclose(composite(pictures, weights).double(), expected, atol=1e-6)


def test_the_weights_sum_to_one_at_every_pixel():
    """One picture in every region: the blend is that picture (within rounding), and the
    weights region_masks gives add up to 1 everywhere; weights that do not are refused."""
    weights = soft_masks(9, 5, seed=4)
    assert float((sum(weights) - 1).abs().max()) < 1e-6
    y = rand(1, 3, 9, 5, seed=5)
    assert torch.allclose(composite([y, y, y], weights), y, atol=1e-6)
    with pytest.raises(ValueError, match="must sum to 1 at every pixel"):
        composite([y, y], [weights[0], weights[1]])
    with pytest.raises(ValueError, match="outside"):
        check_weights([torch.full((1, 1, 2, 2), 1.5), torch.full((1, 1, 2, 2), -0.5)])
    with pytest.raises(ValueError, match="different sizes"):
        check_weights([torch.ones(1, 1, 2, 2)], (3, 3))
    with pytest.raises(ValueError, match="2 pictures for 1 regions"):
        composite([y, y], [torch.ones(1, 1, 9, 5)])


def test_hard_masks_take_the_majority_of_each_cell():
    """Against cell means and argmax written out, ties to the first region; the result is
    an exact partition, and a hard mask aligned with the cells comes out unchanged."""
    weights = soft_masks(16, 24, seed=7)
    cells = hard_masks(weights, (4, 6))
    assert torch.equal(sum(cells), torch.ones(1, 1, 4, 6))
    for i in range(4):
        for j in range(6):
            means = [float(m[0, 0, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].mean()) for m in weights]
            best = max(range(3), key=lambda r: (means[r], -r))
            assert [float(c[0, 0, i, j]) for c in cells] == [float(r == best) for r in range(3)]
    left = torch.zeros(1, 1, 16, 24)
    left[..., :12] = 1
    got = hard_masks([left, 1 - left], (4, 6))
    assert torch.equal(got[0][0, 0], (torch.arange(6) < 3).float().expand(4, 6))
    tie = torch.full((1, 1, 2, 2), 0.5)
    assert [float(m.sum()) for m in hard_masks([tie, tie], (1, 1))] == [1.0, 0.0]


def test_composite_regions_runs_once_per_distinct_key_and_skips_empty_regions():
    photo = rand(1, 3, 4, 6, seed=8)
    calls = []

    def render(key):
        calls.append(key)
        return torch.full_like(photo, key)

    top = torch.zeros(1, 1, 4, 6)
    top[..., :2, :] = 1
    out = composite_regions(render, photo, [0.25, 0.25, None], [top / 2, top / 2, 1 - top])
    assert calls == [0.25]
    assert torch.equal(out[..., :2, :], torch.full_like(photo[..., :2, :], 0.25))
    assert torch.equal(out[..., 2:, :], photo[..., 2:, :])
    calls.clear()
    empty = composite_regions(render, photo, [0.5, None], [torch.zeros_like(top), 1 - 0 * top])
    assert calls == [] and torch.equal(empty, photo)


# --- feed-forward networks --------------------------------------------------------------------


def test_multistyle_left_and_right_halves_are_each_styles_output_exactly(multi):
    photo = rand(1, 3, 20, 24, seed=9)
    weights = region_masks(["left", "right"], (20, 24))  # even width: hard halves
    out = stylize_regions(multi, photo, weights, [1, 2])
    assert torch.equal(out[..., :12], stylize_styles(multi, photo, 1)[..., :12])
    assert torch.equal(out[..., 12:], stylize_styles(multi, photo, 2)[..., 12:])
    assert not torch.equal(out[..., :12], stylize_styles(multi, photo, 2)[..., :12])


def test_a_full_mask_equals_the_unmasked_network_and_a_mix_is_one_style(multi):
    photo = rand(1, 3, 17, 23, seed=10)
    all_ = region_masks(["all"], (17, 23))
    assert torch.equal(
        stylize_regions(multi, photo, all_, ["0:1,2:3"]),
        stylize_styles(multi, photo, "0:0.25,2:0.75"),
    )
    keys = region_keys(multi, [2, "2", "2:5", "0:1,2:1", None])
    assert keys[0] == keys[1] == keys[2] != keys[3] and keys[4] is None


def test_a_none_region_is_the_photo_and_a_soft_edge_is_the_blend(multi):
    photo = rand(1, 3, 16, 21, seed=11)  # odd width: the middle column is half and half
    left, rest = region_masks(["left", "rest"], (16, 21))
    out = stylize_regions(multi, photo, [left, rest], [0, None])
    styled = stylize_styles(multi, photo, 0)
    assert torch.equal(out[..., 11:], photo[..., 11:])
    assert torch.equal(out[..., :10], styled[..., :10])
    middle = 0.5 * styled[..., 10] + 0.5 * photo[..., 10]
    assert torch.allclose(out[..., 10], middle, atol=1e-6)


def test_regions_that_share_a_style_share_one_forward_pass(multi, monkeypatch):
    photo = rand(1, 3, 12, 12, seed=12)
    calls = []
    forward = MultiStyleNet.forward

    def counted(self, image, weights):
        calls.append(weights.argmax().item())
        return forward(self, image, weights)

    monkeypatch.setattr(MultiStyleNet, "forward", counted)
    weights = region_masks(["top", "left", "centre", "rest"], (12, 12))
    stylize_regions(multi, photo, weights, [1, "1:2", None, 2])
    assert sorted(calls) == [1, 2]


def test_one_style_network_styles_its_regions_and_keeps_the_photo():
    torch.manual_seed(0)
    net = TransformerNet().eval()
    photo = rand(1, 3, 20, 16, seed=13)
    top, rest = region_masks(["top", "rest"], (20, 16))
    out = stylize_regions(net, photo, [top, rest], [0, None])
    assert torch.equal(out[..., :10, :], stylize_image(net, photo)[..., :10, :])
    assert torch.equal(out[..., 10:, :], photo[..., 10:, :])
    with pytest.raises(StyleWeightsError, match="one-style network has only its own style"):
        stylize_regions(net, photo, [top, rest], [1, None])


def test_styles_out_of_range_or_too_few_are_refused(multi):
    photo = rand(1, 3, 8, 8, seed=14)
    weights = region_masks(["left", "right"], (8, 8))
    with pytest.raises(StyleWeightsError, match="style 3 does not exist"):
        stylize_regions(multi, photo, weights, [0, 3])
    with pytest.raises(ValueError, match="1 styles for 2 masks"):
        stylize_regions(multi, photo, weights, [0])


# --- AdaIN by region --------------------------------------------------------------------------


def adain_by_region(net, photo, styles, cells, weights=None, alpha=1.0):
    """AdaIN by region written out: encode; each region's content statistics over its cells
    (masked_mean_std), its style's over the whole style image, Eq. 8 there; a None region
    keeps f(c); Eq. 14; decode, crop, clamp; then a None region's soft weight m blends the
    photo back, (1 - m) * decoded + m * photo."""
    with torch.no_grad():
        x = net.encoder(photo)
        t = torch.zeros_like(x)
        for style, m in zip(styles, cells, strict=True):
            if style is None:
                t = t + m * x
                continue
            y = net.encoder(style)
            c_mean, c_std = masked_mean_std(x, m)
            s_mean, s_std = masked_mean_std(y, torch.ones_like(y[:, :1]))
            adain = s_std * (x - c_mean) / c_std + s_mean
            t = t + m * (alpha * adain + (1 - alpha) * x)
        out = net.decoder(t)[..., : photo.shape[-2], : photo.shape[-1]].clamp(0, 1)
    for style, m in zip(styles, weights or [], strict=False):
        if style is None:
            out = (1 - m) * out + m * photo
    return out


def test_adain_one_region_is_exactly_plain_adain(adain_net):
    photo, style = rand(1, 3, 40, 48, seed=15), rand(1, 3, 48, 48, seed=16)
    whole = region_masks(["all"], (40, 48))
    out = stylize(adain_net, photo, [style], regions=whole, alpha=0.7)
    assert torch.equal(out, stylize(adain_net, photo, style, alpha=0.7))
    assert torch.equal(stylize(adain_net, photo, [None], regions=whole), photo)
    # a region with no weight anywhere is dropped: the rest is one region
    empty = torch.zeros_like(whole[0])
    out = stylize(adain_net, photo, [None, style], regions=[empty, whole[0]])
    assert torch.equal(out, stylize(adain_net, photo, style))


def test_adain_regions_are_per_region_adain_on_cells_drawn_by_hand(adain_net):
    """left:A, right:B on a 48 px wide photo: relu4_1 is 6 cells wide, 3 for each style."""
    photo = rand(1, 3, 40, 48, seed=17)
    a, b = rand(1, 3, 40, 40, seed=18), rand(1, 3, 32, 48, seed=19) * 0.5
    weights = region_masks(["left", "right"], (40, 48))
    out = stylize(adain_net, photo, [a, b], regions=weights, alpha=0.8)
    left = (torch.arange(6) < 3).float().expand(1, 1, 5, 6)
    assert torch.equal(out, stylize(adain_net, photo, [a, b], masks=[left, 1 - left], alpha=0.8))
    by_hand = adain_by_region(adain_net, photo, [a, b], [left, 1 - left], alpha=0.8)
    assert torch.allclose(out, by_hand, atol=1e-5)
    # hard masks with None: the photo's features there, decoded (no pixels put back)
    kept = stylize(adain_net, photo, [a, None], masks=[left, 1 - left], alpha=0.8)
    by_hand = adain_by_region(adain_net, photo, [a, None], [left, 1 - left], alpha=0.8)
    assert torch.allclose(kept, by_hand, atol=1e-5)
    # the same style twice (the same tensor, or an equal one) is one region, its statistics
    # pooled: the unmasked stylize, not two halves
    for twin in (a, a.clone()):
        twice = stylize(adain_net, photo, [a, twin], regions=weights)
        assert torch.equal(twice, stylize(adain_net, photo, a))


def test_adain_soft_regions_and_none_equal_the_composition_written_out(adain_net):
    """Three soft overlapping regions (A, B, the photo) on a 41 x 50 photo (relu4_1 is 6 x 7,
    ceil-mode pooling): cells by majority at the encoder's output size, one decoder pass,
    the photo blended back by its soft weight."""
    photo = rand(1, 3, 41, 50, seed=22)
    a, b = rand(1, 3, 40, 40, seed=23), rand(1, 3, 32, 48, seed=24) * 0.5
    weights = soft_masks(41, 50, seed=25)
    out = stylize(adain_net, photo, [a, b, None], regions=weights, alpha=0.9)
    cells = hard_masks(weights, (6, 7))
    assert all(bool(c.any()) for c in cells)  # each region holds some cells
    expected = adain_by_region(adain_net, photo, [a, b, None], cells, weights, alpha=0.9)
    assert torch.allclose(out, expected, atol=1e-5)


def test_adain_none_region_gets_the_photos_pixels_back(adain_net):
    photo, style = rand(1, 3, 40, 47, seed=20), rand(1, 3, 48, 48, seed=21)
    left, rest = region_masks(["left", "rest"], (40, 47))  # odd width: column 23 is shared
    out = stylize(adain_net, photo, [style, None], regions=[left, rest])
    assert torch.equal(out[..., 24:], photo[..., 24:])
    cells = hard_masks([left, rest], (5, 6))
    expected = adain_by_region(adain_net, photo, [style, None], cells, [left, rest])
    assert torch.allclose(out, expected, atol=1e-5)
    assert not torch.allclose(out[..., :23], photo[..., :23], atol=1e-2)


def test_adain_none_region_encodes_no_stand_in_style(adain_net, monkeypatch):
    """The photo is encoded once, each distinct style once, a None region not at all."""
    photo, style = rand(1, 3, 40, 48, seed=26), rand(1, 3, 32, 32, seed=27)
    calls = []
    forward = Encoder.forward

    def counted(self, image):
        calls.append(tuple(image.shape[-2:]))
        return forward(self, image)

    monkeypatch.setattr(Encoder, "forward", counted)
    weights = region_masks(["top", "left", "rest"], (40, 48))
    stylize(adain_net, photo, [style, style, None], regions=weights)
    assert sorted(calls) == [(32, 32), (40, 48)]


def test_adain_regions_refuse_what_does_not_fit(adain_net):
    photo, style = rand(1, 3, 40, 48, seed=28), rand(1, 3, 32, 32, seed=29)
    left, rest = region_masks(["left", "rest"], (40, 48))
    cases = [
        (([style, None],), {}, "needs regions="),
        (([style, None],), {"regions": [left, rest], "masks": [left, rest]}, "not both"),
        (([style],), {"regions": [left, rest]}, "1 styles for 2 regions"),
        (([style, style],), {"regions": [left, rest], "style_weights": [1, 1]}, "not both"),
        (([style, None],), {"regions": [left[..., :20], rest[..., :20]]}, "different sizes"),
        (([style, None],), {"regions": [left, left]}, "sum to 1"),
    ]
    for args, kwargs, fragment in cases:
        with pytest.raises(ValueError, match=fragment) as err:
            stylize(adain_net, photo, *args, **kwargs)
        assert "\n" not in str(err.value), fragment
