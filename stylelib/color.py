"""Colour preservation: keep the content photo's colours through a style transfer.

Gatys, Bethge, Hertzmann, Shechtman, "Preserving Color in Neural Artistic Style Transfer",
arXiv:1606.05897, 2016, give two ways to stop the style image from repainting the content
photo in its own colours:

- **colour matching** (Sec. 2): recolour the *style* image so that its colours match the
  content's, then run ordinary style transfer with it (:func:`match_colors`);
- **luminance-only transfer** (Sec. 3): transfer style between the luminance channels only,
  then put back the content's colour channels (:func:`luminance_only_inputs` before the
  optimisation, :func:`combine_luminance` after it).

Luminance and colour are separated in YIQ, the NTSC colour space the paper uses: Y is the
luminance, I and Q the two colour (chrominance) channels. Images follow the stylelib contract,
float ``(B, 3, H, W)`` RGB in ``[0, 1]``; no function here modifies its inputs.

Example:
    >>> import torch
    >>> content, style = torch.rand(1, 3, 48, 64), torch.rand(1, 3, 64, 64)
    >>> match_colors(style, content, method="linear").shape
    torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage.exposure import match_histograms
from torch import Tensor

from stylelib.errors import ImageError
from stylelib.images import check_image

# What the optimisation's colour option accepts: plain transfer, luminance-only transfer
# (Sec. 3), or the style image recoloured by one of the MATCH_METHODS (Sec. 2).
COLOR_MODES: tuple[str, ...] = ("none", "luminance", "histogram", "linear")
MATCH_METHODS: tuple[str, ...] = ("histogram", "linear")

# NTSC YIQ, rows Y, I, Q. Y has the BT.601 luma weights, which sum to 1 (white has Y = 1); the
# I and Q rows (rounded to four decimals) each sum to 0, so every grey has I = Q = 0 exactly.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]],
    dtype=torch.float64,
)
# The exact inverse of the matrix above, so that rgb -> yiq -> rgb is the identity.
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)
# A luminance std at or below this counts as a constant image: far below one uint8 step, 1/255.
_FLAT_STD = 1e-6
# Ridge added to both colour covariances before their square roots (see match_colors).
LINEAR_RIDGE = 1e-5


def _check_three_channels(x: object, name: str) -> None:
    """The shape check of a colour conversion: any float (B, 3, H, W), any range or size."""
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ImageError(
            f"{name} must be a float tensor (B, 3, H, W), got {got}; "
            "load images with stylelib.images.load_image(...)"
        )


def _check_batches(b_target: int, b_source: int, target: str, source: str) -> None:
    """``source`` is matched to ``target`` image by image, or one source serves them all."""
    if b_source not in (1, b_target):
        raise ImageError(
            f"{source} has a batch of {b_source} but {target} has {b_target}; "
            f"give one {source} image for all, or one per {target} image"
        )


def _check_broadcast(b_a: int, b_b: int, a: str, b: str) -> None:
    """Two batches combine image by image, or one of them is a single image for all."""
    if 1 not in (b_a, b_b) and b_a != b_b:
        raise ImageError(
            f"{a} has a batch of {b_a} but {b} has {b_b}; give them the same batch size, "
            "or one image for all"
        )


def _convert(matrix: Tensor, x: Tensor, name: str) -> Tensor:
    """Apply a (K, 3) colour matrix to every pixel: (B, 3, H, W) -> (B, K, H, W)."""
    _check_three_channels(x, name)
    return torch.einsum("kc,bchw->bkhw", matrix.to(device=x.device, dtype=x.dtype), x)


def rgb_to_yiq(image: Tensor) -> Tensor:
    """Convert RGB to NTSC YIQ with a 3x3 matrix per pixel (differentiable).

    Args:
        image: ``(B, 3, H, W)`` RGB, usually in ``[0, 1]``.

    Returns:
        ``(B, 3, H, W)`` YIQ on the input's device and dtype: Y in ``[0, 1]`` for inputs in
        ``[0, 1]``, I in about ``[-0.6, 0.6]``, Q in about ``[-0.52, 0.52]``.

    Example:
        >>> yiq = rgb_to_yiq(torch.full((1, 3, 2, 2), 0.5))  # grey: Y = 0.5, I = Q = 0
        >>> torch.allclose(yiq[0, :, 0, 0], torch.tensor([0.5, 0.0, 0.0]), atol=1e-6)
        True
    """
    return _convert(_RGB_TO_YIQ, image, "image")


def yiq_to_rgb(yiq: Tensor) -> Tensor:
    """Convert NTSC YIQ back to RGB; the exact inverse of :func:`rgb_to_yiq`.

    Not clamped: a Y with foreign I and Q can lie outside the RGB cube, and the caller
    decides what to do with that (the image functions here clamp to ``[0, 1]``).

    Example:
        >>> x = torch.rand(1, 3, 4, 4)
        >>> torch.allclose(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-6)
        True
    """
    return _convert(_YIQ_TO_RGB, yiq, "yiq")


def luminance(image: Tensor) -> Tensor:
    """The Y (luminance) channel of YIQ: ``(B, 3, H, W)`` RGB -> ``(B, 1, H, W)``.

    Example:
        >>> luminance(torch.ones(1, 3, 2, 2)).shape  # white has Y = 1
        torch.Size([1, 1, 2, 2])
    """
    return _convert(_RGB_TO_YIQ[:1], image, "image")


def match_luminance(style_y: Tensor, content_y: Tensor) -> Tensor:
    """Shift and scale the style's luminance to the content's mean and spread (Sec. 3).

    Y_s' = (σ_c / σ_s) (Y_s − μ_s) + μ_c, with μ and σ each image's mean and population std
    (÷ H·W) over its pixels. A constant style (σ_s = 0) becomes μ_c everywhere. Not clamped.

    Args:
        style_y: ``(B_s, 1, H, W)`` style luminance.
        content_y: ``(B_c, 1, H', W')`` content luminance; the size may differ, and the
            batches pair up image by image (B_s = B_c) or one image serves all (1).

    Returns:
        ``(max(B_s, B_c), 1, H, W)`` matched style luminance.

    Example:
        >>> y = match_luminance(torch.rand(1, 1, 8, 8), torch.full((1, 1, 4, 4), 0.3))
        >>> torch.allclose(y, torch.full_like(y, 0.3))  # a flat content flattens the style
        True
    """
    for y, name in ((style_y, "style_y"), (content_y, "content_y")):
        if not isinstance(y, Tensor) or y.ndim != 4 or y.shape[1] != 1 or not y.is_floating_point():
            got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, Tensor) else type(y).__name__
            raise ImageError(
                f"{name} must be a float luminance tensor (B, 1, H, W), got {got}; "
                "take it from an RGB image with stylelib.color.luminance(image)"
            )
    _check_broadcast(style_y.shape[0], content_y.shape[0], "style_y", "content_y")
    mu_s, sigma_s = _mean_std(style_y)
    mu_c, sigma_c = _mean_std(content_y)
    flat = sigma_s <= _FLAT_STD
    scale = torch.where(flat, torch.zeros_like(sigma_s), sigma_c / sigma_s.clamp_min(_FLAT_STD))
    return scale * (style_y - mu_s) + mu_c


def _mean_std(y: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image mean and population std over the pixels of ``(B, 1, H, W)``, as (B, 1, 1, 1)."""
    return y.mean(dim=(2, 3), keepdim=True), y.std(dim=(2, 3), correction=0, keepdim=True)


def luminance_only_inputs(content: Tensor, style: Tensor) -> tuple[Tensor, Tensor]:
    """The two inputs of luminance-only transfer (Sec. 3): grey content, matched grey style.

    VGG wants three channels, so each luminance is repeated into R, G and B. Run ordinary
    style transfer on these, then give the result back its colours with
    :func:`combine_luminance`.

    Args:
        content: ``(B_c, 3, H, W)`` in ``[0, 1]``.
        style: ``(B_s, 3, H', W')`` in ``[0, 1]``; its size may differ from the content's,
            and the batches pair up image by image (B_s = B_c) or one image serves all (1).

    Returns:
        ``grey_content`` ``(B_c, 3, H, W)`` and ``grey_style`` ``(max(B_s, B_c), 3, H', W')``,
        grey (R = G = B = Y) and in ``[0, 1]``; the style's Y has the content's mean and std
        (before clamping).

    Example:
        >>> c, s = luminance_only_inputs(torch.rand(1, 3, 48, 64), torch.rand(1, 3, 32, 32))
        >>> c.shape, s.shape
        (torch.Size([1, 3, 48, 64]), torch.Size([1, 3, 32, 32]))
    """
    check_image(content, "content")
    check_image(style, "style")
    _check_broadcast(content.shape[0], style.shape[0], "content", "style")
    content_y = luminance(content)
    style_y = match_luminance(luminance(style), content_y)
    return content_y.clamp(0.0, 1.0).repeat(1, 3, 1, 1), style_y.clamp(0.0, 1.0).repeat(1, 3, 1, 1)


def combine_luminance(result: Tensor, content: Tensor) -> Tensor:
    """The final image of luminance-only transfer: the result's Y with the content's I and Q.

    Y is taken from the result's RGB (the optimised image drifts a little from exact grey).
    A content of another size is resized to the result's with antialiased bilinear.

    Args:
        result: ``(B, 3, H, W)`` stylised grey image; may stray a little outside ``[0, 1]``.
        content: ``(1 or B, 3, H', W')`` the colour content photo, in ``[0, 1]``.

    Returns:
        ``(B, 3, H, W)`` RGB in ``[0, 1]``, on the result's device and dtype.

    Example:
        >>> out = combine_luminance(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 64, 64))
        >>> out.shape
        torch.Size([1, 3, 32, 32])
    """
    check_image(result, "result", check_range=False)
    check_image(content, "content")
    _check_batches(result.shape[0], content.shape[0], "result", "content")
    content = content.to(device=result.device, dtype=result.dtype)
    size = tuple(result.shape[-2:])
    if tuple(content.shape[-2:]) != size:
        content = F.interpolate(content, size=size, mode="bilinear", antialias=True)
    iq = rgb_to_yiq(content)[:, 1:].expand(result.shape[0], -1, -1, -1)
    return yiq_to_rgb(torch.cat([luminance(result), iq], dim=1)).clamp(0.0, 1.0)


def match_colors(style: Tensor, content: Tensor, method: str = "histogram") -> Tensor:
    """Recolour the style image so that its colour distribution matches the content's.

    ``"linear"`` is the paper's Sec. 2: every style pixel x becomes x' = A x + b with
    A = Σ_c^{1/2} Σ_s^{-1/2} (symmetric square roots, the Image Analogies choice) and
    b = μ_c − A μ_s, so the style's pixel mean and 3x3 covariance become the content's.
    Both covariances get a ridge of ``LINEAR_RIDGE`` · I first, so a grey or constant style
    (Σ_s singular) does not blow up; the covariance then matches up to a relative error of
    about LINEAR_RIDGE / (smallest eigenvalue of Σ_s). Computed in float64.

    ``"histogram"`` matches each channel's whole histogram instead (skimage's
    ``match_histograms``): exact marginals, but channel correlations are ignored.

    Args:
        style: ``(B, 3, H, W)`` in ``[0, 1]``.
        content: ``(1 or B, 3, H', W')`` in ``[0, 1]``; its size may differ.
        method: one of :data:`MATCH_METHODS`.

    Returns:
        ``(B, 3, H, W)`` recoloured style in ``[0, 1]``, on the style's device and dtype.

    Raises:
        ValueError: an unknown ``method``; ImageError for a bad image.

    Example:
        >>> style = torch.rand(1, 3, 32, 32)
        >>> out = match_colors(style, torch.rand(1, 3, 48, 64) * 0.5, method="histogram")
        >>> bool(out.max() <= 0.5)  # the style now has the content's (darker) values
        True
    """
    if method not in MATCH_METHODS:
        raise ValueError(
            f"method must be one of {MATCH_METHODS}, got {method!r}; 'linear' matches mean "
            "and covariance (the paper's Sec. 2), 'histogram' each channel's histogram"
        )
    check_image(style, "style")
    check_image(content, "content")
    _check_batches(style.shape[0], content.shape[0], "style", "content")
    out = _match_linear(style, content) if method == "linear" else _match_histogram(style, content)
    return out.to(device=style.device, dtype=style.dtype).clamp(0.0, 1.0)


def _mean_cov(image: Tensor) -> tuple[Tensor, Tensor]:
    """Pixel mean ``(B, 3, 1)`` and population covariance ``(B, 3, 3)`` of ``(B, 3, H, W)``."""
    x = image.flatten(2)
    mean = x.mean(dim=2, keepdim=True)
    d = x - mean
    return mean, d @ d.transpose(1, 2) / x.shape[2]


def _ridge_power(cov: Tensor, power: float) -> Tensor:
    """(cov + LINEAR_RIDGE · I) ** power for symmetric ``(B, 3, 3)``, by eigendecomposition."""
    eye = torch.eye(3, dtype=cov.dtype, device=cov.device)
    eigvals, eigvecs = torch.linalg.eigh(cov + LINEAR_RIDGE * eye)
    return eigvecs @ torch.diag_embed(eigvals**power) @ eigvecs.mT


def _match_linear(style: Tensor, content: Tensor) -> Tensor:
    """x' = A x + b with mean and covariance (see match_colors), in float64."""
    device = "cpu" if style.device.type == "mps" else style.device  # MPS has no float64
    s = style.detach().to(device, torch.float64)
    c = content.detach().to(device, torch.float64)
    mu_s, cov_s = _mean_cov(s)
    mu_c, cov_c = _mean_cov(c)
    a = _ridge_power(cov_c, 0.5) @ _ridge_power(cov_s, -0.5)
    b = mu_c - a @ mu_s
    return (a @ s.flatten(2) + b).reshape(s.shape)


def _match_histogram(style: Tensor, content: Tensor) -> Tensor:
    """Per-channel histogram matching, image by image, with skimage on the CPU."""
    s = style.detach().to("cpu", torch.float64).permute(0, 2, 3, 1).numpy()
    c = content.detach().to("cpu", torch.float64).permute(0, 2, 3, 1).numpy()
    matched = [
        match_histograms(s[i], c[i if len(c) > 1 else 0], channel_axis=-1) for i in range(len(s))
    ]
    return torch.from_numpy(np.stack(matched)).permute(0, 3, 1, 2)
