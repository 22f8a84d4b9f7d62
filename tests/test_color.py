"""Tests for stylelib.color: YIQ, luminance-only transfer and colour matching (arXiv:1606.05897).

Oracles are independent of the code under test: skimage's ``rgb2yiq`` as a second YIQ
formulation, numpy's mean / ``np.cov`` / ``np.quantile`` for the statistics, closed forms
(grey has I = Q = 0; a scaled copy of the content is matched back to the content). Test images
are seeded, tiny and mid-range where a property only holds before clamping to [0, 1].
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2yiq

from stylelib.color import (
    COLOR_MODES,
    MATCH_METHODS,
    combine_luminance,
    luminance,
    luminance_only_inputs,
    match_colors,
    match_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)
from stylelib.errors import ImageError


def _rand(*shape: int, seed: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    """A seeded uniform tensor in [lo, hi)."""
    return lo + (hi - lo) * torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _correlated(h: int, w: int, mix: list[list[float]], scale: float, seed: int) -> torch.Tensor:
    """A (1, 3, h, w) image 0.5 + scale · mix @ (uniform − 0.5): channels mixed by ``mix``."""
    z = _rand(1, 3, h, w, seed=seed) - 0.5
    return 0.5 + scale * torch.einsum("kc,bchw->bkhw", torch.tensor(mix), z)


def _mean_cov(image: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """numpy's pixel mean (3,) and population covariance (3, 3) of one (1, 3, H, W) image."""
    pixels = image[0].reshape(3, -1).double().numpy()
    return pixels.mean(axis=1), np.cov(pixels, bias=True)


def _in_open_unit(x: torch.Tensor) -> bool:
    """True if no value touches 0 or 1: then clamping to [0, 1] changed nothing."""
    return bool(x.min() > 0 and x.max() < 1)


def _raises_one_line(error, match, fn, *args, **kwargs):
    with pytest.raises(error, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- YIQ


def test_constants():
    assert COLOR_MODES == ("none", "luminance", "histogram", "linear")
    assert set(MATCH_METHODS) == set(COLOR_MODES) - {"none", "luminance"}


def test_yiq_round_trip_is_identity(image):
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(image)), image, atol=1e-6, rtol=0)


def test_yiq_keeps_device_and_dtype(image):
    yiq = rgb_to_yiq(image.double())
    assert yiq.dtype == torch.float64 and yiq.device == image.device and yiq.shape == image.shape


def test_grey_has_its_grey_value_as_y_and_no_colour():
    values = torch.tensor([0.0, 0.25, 0.5, 1.0]).view(4, 1, 1, 1)
    grey = values.expand(4, 3, 8, 8)
    yiq = rgb_to_yiq(grey)
    torch.testing.assert_close(yiq[:, :1], values.expand(4, 1, 8, 8), atol=1e-6, rtol=0)
    torch.testing.assert_close(yiq[:, 1:], torch.zeros(4, 2, 8, 8), atol=1e-6, rtol=0)
    torch.testing.assert_close(luminance(grey), yiq[:, :1])


def test_yiq_agrees_with_skimage(image):
    ours = rgb_to_yiq(image)[0].permute(1, 2, 0).double().numpy()
    theirs = rgb2yiq(image[0].permute(1, 2, 0).double().numpy())
    np.testing.assert_allclose(ours[..., 0], theirs[..., 0], atol=1e-6)  # same Y weights
    # I and Q: our coefficients are rounded to 4 decimals, skimage's are not
    np.testing.assert_allclose(ours, theirs, atol=2e-4)


def test_yiq_is_differentiable():
    x = _rand(1, 3, 4, 5, seed=1).double().requires_grad_()
    assert torch.autograd.gradcheck(rgb_to_yiq, (x,))
    assert torch.autograd.gradcheck(yiq_to_rgb, (x,))


def test_yiq_to_rgb_does_not_clamp():
    yiq = torch.zeros(1, 3, 2, 2)
    yiq[:, 0] = 0.5
    yiq[:, 1] = 0.6  # far more red than any grey of Y = 0.5 can hold
    assert yiq_to_rgb(yiq).max() > 1


# --------------------------------------------------------------------------- luminance only


def test_match_luminance_gives_the_content_mean_and_std():
    style_y = _rand(2, 1, 40, 56, seed=2, lo=0.1, hi=0.9)
    content_y = _rand(1, 1, 48, 64, seed=3, lo=0.4, hi=0.6)
    matched = match_luminance(style_y, content_y).double().numpy()
    target = content_y.double().numpy()
    assert matched.shape == (2, 1, 40, 56)
    for image in matched:
        np.testing.assert_allclose(image.mean(), target.mean(), atol=1e-5)
        np.testing.assert_allclose(image.std(), target.std(), atol=1e-5)


def test_match_luminance_of_a_constant_style_is_the_content_mean():
    content_y = _rand(1, 1, 32, 32, seed=4)
    matched = match_luminance(torch.full((1, 1, 40, 40), 0.7), content_y)
    assert torch.isfinite(matched).all()
    torch.testing.assert_close(matched, torch.full_like(matched, content_y.mean().item()))


def test_luminance_only_inputs_are_grey():
    content, style = _rand(1, 3, 48, 64, seed=5), _rand(1, 3, 40, 32, seed=6)
    for grey in luminance_only_inputs(content, style):
        assert grey.min() >= 0 and grey.max() <= 1
        torch.testing.assert_close(grey[:, 1], grey[:, 0], atol=0, rtol=0)
        torch.testing.assert_close(grey[:, 2], grey[:, 0], atol=0, rtol=0)


def test_luminance_only_inputs_match_the_content_luminance():
    # mid-range images, different sizes: the matched style's Y stays inside (0, 1), unclamped
    content = _rand(1, 3, 48, 64, seed=7, lo=0.3, hi=0.7)
    style = _rand(1, 3, 40, 56, seed=8, lo=0.0, hi=1.0)
    grey_content, grey_style = luminance_only_inputs(content, style)
    assert grey_content.shape == content.shape and grey_style.shape == style.shape
    assert _in_open_unit(grey_style)
    y = luminance(content).double()
    torch.testing.assert_close(grey_content[:, :1].double(), y, atol=1e-6, rtol=0)
    matched = grey_style[0, 0].double().numpy()
    np.testing.assert_allclose(matched.mean(), y.mean().item(), atol=1e-4)
    np.testing.assert_allclose(matched.std(), y.std(correction=0).item(), atol=1e-4)


def test_combine_luminance_takes_y_from_result_and_iq_from_content():
    # a low-saturation mid-range content and a mid-grey result: nothing is clamped
    content = _rand(1, 3, 48, 64, seed=9, lo=0.45, hi=0.55)
    result = _rand(1, 3, 48, 64, seed=10, lo=0.4, hi=0.6)  # not exactly grey, on purpose
    out = combine_luminance(result, content)
    assert out.shape == result.shape and _in_open_unit(out)
    out_yiq, content_yiq = rgb_to_yiq(out), rgb_to_yiq(content)
    torch.testing.assert_close(out_yiq[:, :1], luminance(result), atol=2e-3, rtol=0)
    torch.testing.assert_close(out_yiq[:, 1:], content_yiq[:, 1:], atol=2e-3, rtol=0)


def test_combine_luminance_resizes_content_and_broadcasts_batch():
    content = torch.full((1, 3, 64, 96), 0.5)
    content[:, 0] = 0.6  # a flat reddish photo: resizing keeps it flat
    result = _rand(2, 3, 32, 48, seed=11, lo=0.4, hi=0.6)
    out = combine_luminance(result, content)
    assert out.shape == (2, 3, 32, 48)
    expected_iq = rgb_to_yiq(content)[:, 1:, :1, :1].expand(2, 2, 32, 48)
    torch.testing.assert_close(rgb_to_yiq(out)[:, 1:], expected_iq, atol=2e-3, rtol=0)


def test_combine_luminance_of_grey_content_is_grey():
    grey = _rand(1, 1, 32, 32, seed=12).expand(1, 3, 32, 32)
    out = combine_luminance(_rand(1, 3, 32, 32, seed=13), grey)
    torch.testing.assert_close(out[:, 1:], out[:, :1].expand(1, 2, 32, 32), atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- colour matching


def test_linear_matching_gives_the_content_mean_and_covariance():
    content = _correlated(48, 64, [[1.0, 0.3, 0.0], [0.5, 0.6, 0.0], [0.0, 0.2, 0.5]], 0.2, seed=14)
    style = _correlated(40, 56, [[0.6, 0.0, 0.2], [0.0, 0.6, 0.0], [0.3, 0.2, 0.4]], 0.5, seed=15)
    out = match_colors(style, content, method="linear")
    assert out.shape == style.shape and out.dtype == torch.float32
    assert _in_open_unit(out)  # nothing was clamped
    out_mean, out_cov = _mean_cov(out)
    content_mean, content_cov = _mean_cov(content)
    np.testing.assert_allclose(out_mean, content_mean, atol=1e-6)
    # covariance entries are ~4e-3; the ridge leaves a relative error ~ ridge / λ_min(Σ_s)
    np.testing.assert_allclose(out_cov, content_cov, atol=5e-5)
    assert np.abs(content_cov - _mean_cov(style)[1]).max() > 1e-3  # there was work to do


def test_linear_matching_of_the_content_itself_changes_nothing(image):
    torch.testing.assert_close(match_colors(image, image, "linear"), image, atol=1e-6, rtol=0)


def test_linear_matching_undoes_a_uniform_contrast_change():
    # style = k·content + c: Σ_s = k² Σ_c, so A = I / k and the content comes back
    content = _rand(1, 3, 48, 64, seed=16, lo=0.3, hi=0.7)
    style = 0.5 * content + 0.4
    out = match_colors(style, content, method="linear")
    torch.testing.assert_close(out, content, atol=1e-3, rtol=0)


@pytest.mark.parametrize("value", [0.0, 0.4, 1.0])
def test_linear_matching_of_a_flat_style_gives_the_content_mean(value):
    content = _rand(1, 3, 48, 64, seed=17, lo=0.2, hi=0.8)
    out = match_colors(torch.full((1, 3, 32, 32), value), content, method="linear")
    assert torch.isfinite(out).all()
    expected = content.mean(dim=(2, 3), keepdim=True).expand_as(out)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_linear_ridge_keeps_a_near_grey_style_from_turning_noise_into_colour():
    # colour noise of std 1e-3 (a quarter of a uint8 step): its eigenvalues ~1e-6 << ridge
    noise = 1e-3 * 12**0.5 * (_rand(1, 3, 32, 32, seed=30) - 0.5)
    style = 0.1 + 0.8 * _rand(1, 1, 32, 32, seed=31).expand(1, 3, 32, 32) + noise
    content = _rand(1, 3, 48, 64, seed=32)
    out = match_colors(style, content, method="linear")
    out_iq_std = rgb_to_yiq(out)[:, 1:].std(dim=(2, 3))
    content_iq_std = rgb_to_yiq(content)[:, 1:].std(dim=(2, 3))
    assert (out_iq_std < 0.5 * content_iq_std).all()  # without the ridge: about equal


def test_linear_matching_of_a_grey_style_is_finite():
    grey = _rand(1, 1, 32, 32, seed=18).expand(1, 3, 32, 32)
    out = match_colors(grey, _rand(1, 3, 48, 64, seed=19), method="linear")
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_histogram_matching_of_equal_sizes_copies_the_content_values():
    content = _rand(1, 3, 48, 64, seed=20, lo=0.2, hi=0.8)
    style = _rand(1, 3, 48, 64, seed=21) ** 2  # a differently shaped histogram
    out = match_colors(style, content)  # "histogram" is the default
    assert out.shape == style.shape and out.dtype == torch.float32
    sorted_out = out.flatten(2).sort(dim=-1).values
    sorted_content = content.flatten(2).sort(dim=-1).values
    torch.testing.assert_close(sorted_out, sorted_content, atol=1e-3, rtol=0)
    # the ranks of the style survive: the brightest style pixel is still the brightest
    assert torch.equal(out.flatten(2).argmax(-1), style.flatten(2).argmax(-1))


def test_histogram_matching_of_other_sizes_matches_quantiles():
    content = _rand(1, 3, 48, 64, seed=22, lo=0.2, hi=0.8)
    style = _rand(1, 3, 40, 56, seed=23)
    out = match_colors(style, content, method="histogram")
    assert out.shape == style.shape
    q = np.linspace(0.05, 0.95, 19)
    for ch in range(3):
        np.testing.assert_allclose(
            np.quantile(out[0, ch].numpy(), q), np.quantile(content[0, ch].numpy(), q), atol=5e-3
        )


def test_histogram_matching_pairs_batches_image_by_image():
    content = torch.cat(
        [_rand(1, 3, 32, 32, seed=24) * 0.5, 0.5 + _rand(1, 3, 32, 32, seed=25) / 2]
    )
    out = match_colors(_rand(2, 3, 32, 32, seed=26), content)
    assert out[0].max() <= 0.5 and out[1].min() >= 0.5  # dark to the dark, bright to the bright
    broadcast = match_colors(_rand(2, 3, 32, 32, seed=26), content[:1])
    assert broadcast.shape == (2, 3, 32, 32) and broadcast.max() <= 0.5


# --------------------------------------------------------------------------- purity, errors


def test_inputs_are_not_modified():
    content, style = _rand(1, 3, 48, 64, seed=27), _rand(1, 3, 40, 56, seed=28)
    result = _rand(1, 3, 48, 64, seed=29)
    before = [t.clone() for t in (content, style, result)]
    rgb_to_yiq(content)
    yiq_to_rgb(style)
    luminance(content)
    match_luminance(luminance(style), luminance(content))
    luminance_only_inputs(content, style)
    combine_luminance(result, content)
    for method in MATCH_METHODS:
        match_colors(style, content, method=method)
    for t, b in zip((content, style, result), before, strict=True):
        assert torch.equal(t, b)


def test_unknown_method_lists_the_methods(image):
    _raises_one_line(ValueError, "histogram.*linear", match_colors, image, image, "cholesky")


@pytest.mark.parametrize(
    "call",
    [
        lambda x: rgb_to_yiq(x[0]),  # no batch dimension
        lambda x: luminance(x[:, :1]),  # one channel
        lambda x: match_luminance(x, luminance(x)),  # RGB where luminance is expected
        lambda x: luminance_only_inputs(x, x * 2),  # out of [0, 1]
        lambda x: combine_luminance(x, x.permute(0, 2, 3, 1)),  # channels-last
        lambda x: match_colors(x[..., :16, :16], x),  # smaller than VGG allows
        lambda x: match_colors(x, torch.cat([x, x, x])),  # batches that do not pair up
    ],
)
def test_bad_inputs_raise_one_line(image, call):
    _raises_one_line(ImageError, ".", call, image)
