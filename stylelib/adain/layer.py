"""Arbitrary style in one forward pass: adaptive instance normalisation (AdaIN).

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017. Gatys et al. optimise one image per style; Johnson et al. train
one network per style. AdaIN trains one network for *every* style: a fixed encoder f (VGG-19
up to relu4_1) maps the content photo c and the style image s to feature maps, the AdaIN
layer gives the content features the per-channel mean and standard deviation of the style
features (Sec. 5, Eq. 8)::

    t = AdaIN(f(c), f(s)) = σ(f(s)) · (f(c) − μ(f(c))) / σ(f(c)) + μ(f(s))

and a decoder g, trained once on many photos and many paintings, turns t back into an image,
T(c, s) = g(t). Nothing depends on the style but two vectors of 512 numbers, so any style
works without training, and at test time t can be mixed: with the content's own features
(α, Eq. 14), between several styles (Sec. 7.3), by region (masks, Sec. 7.3).

**Statistics.** μ and σ are over the H·W positions of each channel of each image (Eqs. 5-6):
σ = sqrt(1/(HW) Σ (x − μ)² + ε), the *population* variance with ε inside the square root, as
in instance normalisation. That is the paper's definition and what this module computes
(``unbiased=False``). The authors' Torch code agrees for the content (a batch-norm layer in
training mode) but takes the style's σ without ε; the PyTorch port (naoto0804/pytorch-AdaIN,
``function.py``) uses the *unbiased* variance (÷ (HW − 1)) plus ε for both, which
``unbiased=True`` reproduces. At relu4_1 of a 256 px image (32 × 32 positions) the two
differ by a factor sqrt(1024/1023) in σ, far below what a decoder can show.

**Loss** (Sec. 6.2, Eqs. 11-13), the decoder's only: L = L_c + λ L_s with

    L_c = ‖f(g(t)) − t‖                              content: relu4_1, against t itself
    L_s = Σ_i ‖μ(φ_i(g(t))) − μ(φ_i(s))‖ + ‖σ(φ_i(g(t))) − σ(φ_i(s))‖
          over φ_i = relu1_1, relu2_1, relu3_1, relu4_1.

The paper writes Euclidean norms; both codes square them. The PyTorch port averages the
squares (``nn.MSELoss``: over B·C·H·W for L_c, over B·C for L_s) with λ = 10; the Torch code
averages L_c but *sums* L_s over B·C (``sizeAverage = false``) with λ = 0.01 (0.1 for its
released ``decoder.t7``). :class:`AdaINConfig` keeps both as presets, ``reduction`` saying
which normalisation λ belongs to.

**Files** of the PyTorch port load as they are: ``vgg_normalised.pth`` (the normalised VGG-19
of Gatys et al. with a 1 × 1 convolution in front that turns RGB in [0, 1] into Caffe's
mean-subtracted BGR 0-255, reflection padding before every 3 × 3 convolution, max pooling
with ``ceil_mode``) and ``decoder.pth``, each an ``nn.Sequential`` state dict keyed
``N.weight``/``N.bias`` by module index. :class:`Encoder` and :class:`Decoder` are those
Sequentials, module for module; :func:`check_encoder_state` and :func:`check_decoder_state`
say in one line what is wrong with a file. Without their file, :meth:`Encoder.from_vgg` builds
the same encoder from any of stylelib's VGG-19 weights (:mod:`stylelib.weights`): their input
convention becomes the 1 × 1 convolution, torchvision's indices become the port's
(:func:`port_index`).

Example::

    >>> import torch
    >>> c, s = torch.randn(1, 4, 5, 6), torch.randn(1, 4, 7, 3)
    >>> t = adain(c, s)
    >>> mean, std = mean_std(t)
    >>> s_mean, s_std = mean_std(s)
    >>> torch.allclose(mean, s_mean, atol=1e-5), torch.allclose(std, s_std, atol=1e-4)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib.blend import blend_weights

EPS = 1e-5  # inside the square root of σ (Eq. 6; both codes' default)


def _check_features(x: object, name: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float feature map (B, C, H, W), got {got}")


def mean_std(
    features: Tensor, eps: float = EPS, *, unbiased: bool = False
) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation over positions (Huang & Belongie, Eqs. 5-6).

    μ_bc = 1/(HW) Σ_hw x_bchw and σ_bc = sqrt(1/(HW) Σ_hw (x_bchw − μ_bc)² + ε); with
    ``unbiased=True`` the variance is ÷ (HW − 1) instead (the PyTorch port's ``calc_mean_std``).

    Args:
        features: ``(B, C, H, W)``.
        eps: added to the variance inside the square root.

    Returns:
        ``(mean, std)``, each ``(B, C, 1, 1)``.

    Example:
        >>> mean, std = mean_std(torch.ones(2, 3, 4, 4))
        >>> mean.flatten().tolist(), round(std.max().item(), 6)
        ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0.003162)
    """
    _check_features(features, "features")
    var = features.var(dim=(2, 3), keepdim=True, correction=1 if unbiased else 0)
    return features.mean(dim=(2, 3), keepdim=True), (var + eps).sqrt()


def adain(
    content_feat: Tensor, style_feat: Tensor, eps: float = EPS, *, unbiased: bool = False
) -> Tensor:
    """Adaptive instance normalisation (Eq. 8): the content's features, the style's statistics.

    AdaIN(x, y) = σ(y) · (x − μ(x)) / σ(x) + μ(y), channel by channel and image by image, with
    μ and σ of :func:`mean_std` (population variance, ε inside the root). No learned
    parameters: the style *is* the affine transform.

    Args:
        content_feat: ``(B, C, H, W)``, the content image's features x.
        style_feat: ``(B or 1, C, H', W')``, the style's y; any size (only its statistics
            count), one style for the whole batch or one per image.
        eps: see :func:`mean_std`.
        unbiased: the PyTorch port's variance (÷ (HW − 1)).

    Returns:
        ``(B, C, H, W)`` whose per-channel means and stds are the style's (up to ε).
    """
    _check_features(content_feat, "content_feat")
    _check_features(style_feat, "style_feat")
    b, c = content_feat.shape[:2]
    if style_feat.shape[1] != c or style_feat.shape[0] not in (1, b):
        raise ValueError(
            f"style_feat {tuple(style_feat.shape)} does not fit content_feat "
            f"{tuple(content_feat.shape)}: it needs the same {c} channels and a batch of 1 or {b}"
        )
    c_mean, c_std = mean_std(content_feat, eps, unbiased=unbiased)
    s_mean, s_std = mean_std(style_feat, eps, unbiased=unbiased)
    return s_std * (content_feat - c_mean) / c_std + s_mean


def masked_mean_std(
    features: Tensor, mask: Tensor, eps: float = EPS, *, unbiased: bool = False
) -> tuple[Tensor, Tensor]:
    """:func:`mean_std` over the positions where ``mask`` (``(B or 1, 1, H, W)``, 0 or 1) is 1.

    An empty region gives mean 0 and std sqrt(ε); it then contributes nothing anyway.
    """
    mask = mask.to(features.dtype)
    count = mask.sum(dim=(2, 3), keepdim=True)
    mean = (features * mask).sum(dim=(2, 3), keepdim=True) / count.clamp(min=1)
    squares = ((features - mean) ** 2 * mask).sum(dim=(2, 3), keepdim=True)
    var = squares / (count - (1 if unbiased else 0)).clamp(min=1)
    return mean, (var + eps).sqrt()


def target(
    content_feat: Tensor,
    style_feats: Sequence[Tensor | None],
    *,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[Tensor] | Tensor | None = None,
    eps: float = EPS,
    unbiased: bool = False,
) -> Tensor:
    """The decoder's input t, with the paper's test-time controls (Sec. 7.3).

    - one style: t = AdaIN(f(c), f(s));
    - several styles, ``style_weights`` w_k (Sec. 7.3, style interpolation): t = Σ_k w_k
      AdaIN(f(c), f(s_k)), the weights rescaled to sum to 1 by
      :func:`stylelib.blend.blend_weights` (default: equal);
    - ``masks``, one per style (spatial control): each region of the content gets AdaIN with
      its style's statistics and the statistics of the content *in that region*;
    - a style of ``None`` with ``masks`` (this library's addition, not the paper's): its
      region keeps the content's own features, t = f(c) there exactly, as if α were 0 in that
      region alone; the other regions are as without it. No style image needs encoding for a
      region left as the photo;
    - ``alpha`` (Eq. 14, content-style trade-off): t ← α t + (1 − α) f(c); α = 0 gives back
      the content's features, 1 the full style.

    Args:
        content_feat: ``(B, C, H, W)``.
        style_feats: K tensors ``(B or 1, C, H_k, W_k)``; with ``masks``, None for a region
            that keeps the content's features.
        alpha: in [0, 1].
        style_weights: K numbers ≥ 0, not all 0; not with ``masks``.
        masks: K masks ``(H', W')``, ``(1, H', W')`` or ``(B or 1, 1, H', W')`` of 0s and 1s
            that cover every position exactly once (a partition), at any size (resized to
            H × W, nearest); or one tensor ``(K, H', W')``.

    Example:
        >>> x, y = torch.randn(1, 4, 2, 4), torch.randn(1, 4, 3, 3)
        >>> left = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(2, 4)
        >>> t = target(x, [y, None], masks=[left, 1 - left])
        >>> torch.equal(t[..., 2:], x[..., 2:])
        True
    """
    _check_features(content_feat, "content_feat")
    styles = list(style_feats) if not isinstance(style_feats, Tensor) else [style_feats]
    if not styles:
        raise ValueError("give at least one style feature map")
    alpha = check_alpha(alpha)
    if masks is None:
        if any(s is None for s in styles):
            raise ValueError(
                "a style of None keeps the content's features in its region and needs masks=; "
                "without masks, leave it out (or use alpha=0 for the content everywhere)"
            )
        w = blend_weights(style_weights, len(styles), name="style", styles="styles")
        t = sum(
            wk * adain(content_feat, s, eps, unbiased=unbiased)
            for wk, s in zip(w, styles, strict=True)
        )
        return t if alpha == 1.0 else alpha * t + (1 - alpha) * content_feat
    if style_weights is not None:
        raise ValueError("give style_weights or masks, not both: masks choose a style per region")
    masks = _as_masks(masks, len(styles), content_feat.shape[-2:])
    masks = [m.to(content_feat.device, content_feat.dtype) for m in masks]
    styled = [(s, m) for s, m in zip(styles, masks, strict=True) if s is not None]
    t = _regional(content_feat, styled, eps, unbiased)
    if alpha != 1.0:
        t = alpha * t + (1 - alpha) * content_feat
    kept = [m for s, m in zip(styles, masks, strict=True) if s is None]
    if kept:  # the content's own features, exactly (not α·f(c) + (1 − α)·f(c))
        t = torch.where(sum(kept).bool(), content_feat, t)
    return t


def check_alpha(alpha: object) -> float:
    """``alpha`` as a float, or one line saying it must be a number from 0 to 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(
            f"alpha must be a number from 0 (the content's own features) to 1 (the full "
            f"style), got {alpha!r}"
        )
    return float(alpha)


def _as_masks(masks: Sequence[Tensor] | Tensor, k: int, size: tuple[int, int]) -> list[Tensor]:
    """K masks as ``(B or 1, 1, h, w)`` float tensors at the features' size, checked."""
    listed = list(masks.unbind(0)) if isinstance(masks, Tensor) else list(masks)
    if len(listed) != k:
        raise ValueError(f"{len(listed)} masks for {k} styles; give one mask per style")
    out = []
    for i, m in enumerate(listed):
        if not isinstance(m, Tensor) or m.dim() not in (2, 3, 4):
            raise ValueError(f"mask {i} must be a tensor (H, W), got {type(m).__name__}")
        m = m.reshape((1, 1, *m.shape[-2:])) if m.dim() < 4 else m
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"mask {i} holds values other than 0 and 1; threshold it (m > 0.5)")
        out.append(F.interpolate(m.float(), size=size, mode="nearest"))
    if not torch.equal(sum(out), torch.ones_like(out[0]).expand_as(sum(out))):
        raise ValueError(
            "the masks must cover every position exactly once (sum to 1 everywhere); "
            "e.g. a mask and 1 - mask"
        )
    return out


def _regional(
    content_feat: Tensor, styled: list[tuple[Tensor, Tensor]], eps: float, unbiased: bool
) -> Tensor:
    """Σ_k m_k · AdaIN restricted to region k (the content's statistics inside it), over the
    ``(style, mask)`` pairs given; positions in none of their masks are 0."""
    out = torch.zeros_like(content_feat)
    for style, m in styled:
        c_mean, c_std = masked_mean_std(content_feat, m, eps, unbiased=unbiased)
        s_mean, s_std = mean_std(style, eps, unbiased=unbiased)
        out = out + m * (s_std * (content_feat - c_mean) / c_std + s_mean)
    return out
