"""The low-resolution inputs of super-resolution: blur, then bicubic downsampling.

Johnson et al. 2016, Sec. 4.2: the input is made by "blurring with a Gaussian kernel of
width sigma = 1.0 and downsampling with bicubic interpolation".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib.errors import ImageError
from stylelib.images import check_image
from stylelib.superres.config import BLUR_SIGMA, BLUR_TRUNCATE, check_factor


def gaussian_kernel(sigma: float = BLUR_SIGMA, truncate: float = BLUR_TRUNCATE) -> Tensor:
    """The 1-D Gaussian ``exp(-x² / 2σ²)`` at x = −r … r, r = ceil(truncate·σ), summing to 1.

    Example:
        >>> gaussian_kernel(1.0).shape, round(float(gaussian_kernel(1.0).sum()), 6)
        (torch.Size([7]), 1.0)
    """
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number of pixels, got {sigma!r}")
    radius = max(1, math.ceil(truncate * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def blur(image: Tensor, sigma: float = BLUR_SIGMA) -> Tensor:
    """Gaussian blur of ``(B, C, H, W)``, separable, reflection at the borders, same shape."""
    kernel = gaussian_kernel(sigma).to(image.dtype).to(image.device)
    k, c = kernel.numel(), image.shape[1]
    x = F.pad(image, (k // 2,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, kernel.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def degrade(image: Tensor, factor: int = 4, sigma: float = BLUR_SIGMA) -> Tensor:
    """The paper's low-resolution input: Gaussian blur (σ = 1.0), then bicubic downsampling.

    Johnson et al. 2016, Sec. 4.2: "prepare low-resolution inputs by blurring with a Gaussian
    kernel of width σ = 1.0 and downsampling with bicubic interpolation".

    Which bicubic: ``F.interpolate(mode="bicubic", antialias=False)``, Keys' cubic
    convolution with a = −0.75 evaluated at the low-resolution pixel centres. The Gaussian
    is the anti-aliasing filter, as the sentence above has it; an antialiased bicubic (PIL's
    ``Image.BICUBIC``, MATLAB's ``imresize``) would stretch the cubic over ``factor`` pixels
    and blur a second time. For an integer factor f every output pixel lies halfway between
    two input pixels, so each is the same four-tap filter, (−0.09375, 0.59375, 0.59375,
    −0.09375), of the f x f block it sits in (the tests check this closed form). Values are
    clamped to [0, 1] (the cubic's negative lobes can overshoot).

    Args:
        image: ``(B, 3, H, W)`` in [0, 1], H and W multiples of ``factor`` (see
            :func:`crop_to_multiple`).
        factor: 4 or 8.
        sigma: the blur's standard deviation in high-resolution pixels.

    Returns:
        ``(B, 3, H / factor, W / factor)`` in [0, 1], the same dtype.

    Example:
        >>> degrade(torch.rand(2, 3, 64, 32), 8).shape
        torch.Size([2, 3, 8, 4])
    """
    check_factor(factor)
    check_image(image, "the image to degrade", min_side=1)
    h, w = image.shape[-2:]
    if h % factor or w % factor or min(h, w) < 2 * factor:
        raise ImageError(
            f"the image to degrade is {h}x{w}, not a multiple of the factor {factor} of at "
            f"least {2 * factor} px; crop it first with crop_to_multiple(image, {factor})"
        )
    small = F.interpolate(
        blur(image, sigma), size=(h // factor, w // factor), mode="bicubic", antialias=False
    )
    return small.clamp(0, 1)


def crop_to_multiple(image: Tensor, factor: int) -> Tensor:
    """``image`` cropped at the bottom and right to multiples of ``factor`` (a view)."""
    h, w = image.shape[-2:]
    return image[..., : h - h % factor, : w - w % factor]


def bicubic_upscale(image: Tensor, factor: int) -> Tensor:
    """The baseline: bicubic interpolation ``factor`` x larger, clamped to [0, 1]."""
    check_image(image, "the image to upscale", min_side=1)
    h, w = image.shape[-2:]
    up = F.interpolate(image, size=(h * factor, w * factor), mode="bicubic", antialias=False)
    return up.clamp(0, 1)
