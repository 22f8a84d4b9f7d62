"""How good an upscaled image is: PSNR and SSIM on the luminance, as the papers report them."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def psnr(estimate: Tensor, reference: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB, one per image: 10 · log10(1 / MSE), peak 1.

    MSE is the mean over the C·H·W values of each image; the images are in [0, 1], so the
    peak value is 1. Identical images give +inf. Differentiable.

    Args:
        estimate, reference: ``(B, C, H, W)``, the same shape.

    Returns:
        ``(B,)``.

    Example:
        >>> psnr(torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.6))  # MSE 0.01
        tensor([20.0000])
    """
    if estimate.shape != reference.shape or estimate.dim() != 4:
        raise ValueError(
            f"psnr compares two (B, C, H, W) images of one shape, got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )
    mse = (estimate - reference).pow(2).flatten(1).mean(dim=1)
    return -10 * torch.log10(mse)


def luma(image: Tensor) -> np.ndarray:
    """Y of YCbCr (ITU-R BT.601, scikit-image's ``rgb2ycbcr``) scaled to [0, 1]: ``(H, W)``.

    Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 1]: the channel the
    super-resolution papers measure on.
    """
    from skimage.color import rgb2ycbcr

    rgb = image[0].detach().permute(1, 2, 0).cpu().double().numpy()
    return rgb2ycbcr(rgb)[..., 0] / 255.0


def measure(
    estimate: Tensor, reference: Tensor, *, channel: str = "y", border: int = 0
) -> dict[str, float]:
    """PSNR (dB) and SSIM of one image against the original, by scikit-image.

    As the paper (Sec. 4.2, "computing both only on the Y channel after converting to the
    YCbCr colorspace, following [SRCNN]") with ``channel="y"``; ``channel="rgb"`` measures
    the three channels (SSIM averaged over them). ``border`` pixels are shaved off each side
    first (SRCNN's evaluation shaves the factor). SSIM is Wang et al. 2004's, with
    scikit-image's defaults (7 x 7 uniform window, data range 1).

    Args:
        estimate, reference: ``(1, 3, H, W)`` in [0, 1], the same shape.

    Returns:
        ``{"psnr": ..., "ssim": ...}``.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if estimate.shape != reference.shape or estimate.dim() != 4 or estimate.shape[0] != 1:
        raise ValueError(
            f"measure compares two (1, 3, H, W) images of one shape, got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )
    if channel not in ("y", "rgb"):
        raise ValueError(f"channel={channel!r} is not one of y, rgb")
    if border:
        estimate = estimate[..., border:-border, border:-border]
        reference = reference[..., border:-border, border:-border]
    if channel == "y":
        a, b, axis = luma(estimate), luma(reference), None
    else:
        a, b = (
            t[0].detach().permute(1, 2, 0).cpu().double().numpy() for t in (estimate, reference)
        )
        axis = -1
    with np.errstate(divide="ignore"):  # identical images: PSNR is +inf, not a warning
        value = float(peak_signal_noise_ratio(b, a, data_range=1.0))
    return {
        "psnr": value,
        "ssim": float(structural_similarity(b, a, data_range=1.0, channel_axis=axis)),
    }


def _hwc(image: Tensor) -> np.ndarray:
    """The first image of a batch as a float64 ``(H, W, C)`` numpy array."""
    return image[0].detach().permute(1, 2, 0).cpu().double().numpy()


def compare(images: dict[str, Tensor], reference: Tensor, **kwargs) -> dict[str, dict[str, float]]:
    """:func:`measure` of each named image against ``reference``: ``{name: {psnr, ssim}}``."""
    return {name: measure(image, reference, **kwargs) for name, image in images.items()}
