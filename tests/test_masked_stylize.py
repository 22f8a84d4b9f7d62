"""Styles by region: stylelib.composite, stylelib.johnson.masked and AdaIN's regions
(stylelib.adain.cli.stylize_regions), in Python.

Oracles: the single-style output of the same network (a region of weight 1 must be exactly
it, bit for bit), the photo's own pixels (a ``none`` region), Σ_r m_r · y_r written out as a
float64 loop, cell averages and argmax written out by hand (hard masks), AdaIN's own
``stylize(..., masks=)`` on masks drawn by hand at the feature size, and a count of forward
passes. Seeded random networks at 32-48 px; what a trained network makes of it is not checked.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from stylelib.adain.cli import stylize_regions as adain_regions
from stylelib.adain.networks import AdaINNet, Decoder, Encoder, stylize
from stylelib.composite import check_weights, composite, composite_regions, hard_masks
from stylelib.johnson.conditional import MultiStyleNet, StyleWeightsError, stylize_styles
from stylelib.johnson.masked import region_keys, stylize_regions
from stylelib.johnson.network import TransformerNet, stylize_image
from stylelib.masks import region_masks


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second thread only waits (10x slower on two busy shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, on purpose
        return AdaINNet(Encoder.from_vgg("random", normalize=False), Decoder(seed=0)).eval()


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


def test_adain_one_region_is_exactly_plain_adain(adain_net):
    photo, style = rand(1, 3, 40, 48, seed=15), rand(1, 3, 48, 48, seed=16)
    out = adain_regions(adain_net, photo, [style], region_masks(["all"], (40, 48)), [0])
    assert torch.equal(out, stylize(adain_net, photo, style))
    kept = adain_regions(adain_net, photo, [style], region_masks(["all"], (40, 48)), [None])
    assert torch.equal(kept, photo)


def test_adain_regions_are_per_region_adain_on_cells_drawn_by_hand(adain_net):
    """left:A, right:B on a 48 px wide photo: relu4_1 is 6 cells wide, 3 for each style."""
    photo = rand(1, 3, 40, 48, seed=17)
    a, b = rand(1, 3, 40, 40, seed=18), rand(1, 3, 32, 48, seed=19) * 0.5
    weights = region_masks(["left", "right"], (40, 48))
    out = adain_regions(adain_net, photo, [a, b], weights, [0, 1], alpha=0.8)
    left = (torch.arange(6) < 3).float().expand(1, 1, 5, 6)
    expected = stylize(adain_net, photo, [a, b], masks=[left, 1 - left], alpha=0.8)
    assert torch.equal(out, expected)
    # the same style twice is one region (its statistics pooled), not two
    twice = adain_regions(adain_net, photo, [a], region_masks(["left", "right"], (40, 48)), [0, 0])
    assert torch.equal(twice, stylize(adain_net, photo, a, alpha=1.0))


def test_adain_none_region_gets_the_photos_pixels_back(adain_net):
    photo, style = rand(1, 3, 40, 48, seed=20), rand(1, 3, 48, 48, seed=21)
    left, rest = region_masks(["left", "rest"], (40, 48))
    out = adain_regions(adain_net, photo, [style], [left, rest], [0, None])
    cells = (torch.arange(6) < 3).float().expand(1, 1, 5, 6)
    decoded = stylize(adain_net, photo, [style, photo], masks=[cells, 1 - cells])
    assert torch.equal(out[..., 24:], photo[..., 24:])
    assert torch.equal(out[..., :24], decoded[..., :24])
