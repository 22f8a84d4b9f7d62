"""The decoder's training loss (Huang & Belongie 2017, Sec. 6.2, Eqs. 11-13).

    L_c = ||f(g(t)) - t||                    content: relu4_1 features against t itself
    L_s = sum_i ||mu(phi_i(g(t))) - mu(phi_i(s))|| + ||sigma(phi_i(g(t))) - sigma(phi_i(s))||

These are not Gatys et al.'s losses (:mod:`stylelib.losses`): the content target is the
AdaIN output, and the style is matched by channel statistics, not Gram matrices, so the
functions are named for what they compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from stylelib.adain.config import CONTENT_LAYER, STYLE_LAYERS
from stylelib.adain.layer import EPS, adain, mean_std
from stylelib.adain.networks import AdaINNet, Encoder

REDUCTIONS = ("mean", "sum")


def _squared(diff: Tensor, reduction: str) -> Tensor:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction={reduction!r} is not one of {', '.join(REDUCTIONS)}")
    squares = diff.pow(2)
    return squares.mean() if reduction == "mean" else squares.sum()


def target_feature_loss(decoded_feat: Tensor, target_feat: Tensor) -> Tensor:
    """L_c (Eq. 12) as both codes compute it: the mean of (f(g(t)) − t)² over B·C·H·W.

    ``target_feat`` (t) is a target, not a path for gradients: it is detached here.
    """
    return _squared(decoded_feat - target_feat.detach(), "mean")


def statistics_loss(
    decoded_feats: Mapping[str, Tensor],
    style_feats: Mapping[str, Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    *,
    reduction: str = "mean",
    eps: float = EPS,
) -> Tensor:
    """L_s (Eq. 13): Σ_i ‖μ(φ_i(g(t))) − μ(φ_i(s))‖² + ‖σ(φ_i(g(t))) − σ(φ_i(s))‖².

    Each squared norm over the B·C statistics is averaged (``"mean"``, the PyTorch port's
    ``nn.MSELoss``) or summed (``"sum"``, the Torch code's ``sizeAverage = false``); the
    style's statistics are detached targets. σ as in :func:`mean_std`.
    """
    total = None
    for name in layers:
        g_mean, g_std = mean_std(decoded_feats[name], eps)
        s_mean, s_std = (v.detach() for v in mean_std(style_feats[name], eps))
        term = _squared(g_mean - s_mean, reduction) + _squared(g_std - s_std, reduction)
        total = term if total is None else total + term
    return total


def loss_terms(
    encoder: Encoder,
    decoder: nn.Module,
    content: Tensor,
    style: Tensor,
    *,
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor, Tensor]:
    """One training pass (Sec. 6.2): ``(L_c, L_s, g(t))``, the two terms unweighted.

    t = AdaIN(f(c), f(s)) is computed without gradients (a target, as the style's
    statistics); g(t) is re-encoded for both terms, so the gradient reaches the decoder
    through the frozen encoder.
    """
    deepest = [CONTENT_LAYER, *layers]
    with torch.no_grad():
        style_feats = encoder.features(style, deepest)
        t = adain(encoder(content), style_feats[CONTENT_LAYER])
    decoded = decoder(t)
    decoded_feats = encoder.features(decoded, deepest)
    l_content = target_feature_loss(decoded_feats[CONTENT_LAYER], t)
    return (
        l_content,
        statistics_loss(decoded_feats, style_feats, layers, reduction=reduction),
        decoded,
    )


def losses(
    net: AdaINNet,
    content: Tensor,
    style: Tensor,
    *,
    style_weight: float = 10.0,
    content_weight: float = 1.0,
    reduction: str = "mean",
    layers: Sequence[str] = STYLE_LAYERS,
) -> dict[str, Tensor]:
    """Eq. 11 on one batch: ``{"content": L_c, "style": L_s, "loss": L}``, each 0-d.

    L = content_weight · L_c + style_weight · L_s (:func:`loss_terms`). Defaults: the
    PyTorch port (λ = 10, means).
    """
    l_content, l_style, _ = loss_terms(
        net.encoder, net.decoder, content, style, layers=layers, reduction=reduction
    )
    loss = content_weight * l_content + style_weight * l_style
    return {"content": l_content, "style": l_style, "loss": loss}
