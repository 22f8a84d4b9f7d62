"""Checks of lesson 02's analytic gradients: Gatys et al. 2016, Eqs. 2 and 6, with the ReLU mask.

Gatys et al. read rectified features F^l = relu(X^l) and give the gradients of the content
loss and of one layer's style loss with respect to the activations, with the mask of the
rectifier: zero wherever F^l_ij = 0 (X^l_ij < 0), because no change of such a unit moves
the loss. Per image (F is N_l × M_l, N_l = C channels, M_l = H·W positions)::

    Eq. 2   ∂L_content/∂F_ij = (F − P)_ij                        if F_ij > 0, else 0
    Eq. 6   ∂E_l/∂F_ij       = (1 / (N_l² M_l²)) ((G − A) F)_ij  if F_ij > 0, else 0

(the paper writes ((F^l)ᵀ (G^l − A^l))_ji, the same matrix transposed; G − A is symmetric).
Each answer is compared with the gradient that autograd finds for the library's loss of
relu(X) with respect to X — a second, independent way to the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .. import losses
from .harness import Exercise, Factor, check_exercise, randn

# The library's losses (autograd of them is the reference) may not be called by an answer.
FORBID = (losses,)

# (B, C, H, W), one image first; H ≠ W; about half of every map is rectified to exactly 0.
GRADIENT_CASES = [
    ((1, 3, 4, 5), torch.float64),
    ((1, 5, 6, 4), torch.float64),
    ((2, 4, 3, 7), torch.float64),
    ((2, 6, 5, 3), torch.float32),
]


def _rectified(shape, dtype, seed) -> Tensor:
    return torch.relu(randn(shape, dtype, seed))


def _features_and_target(case, dtype, seed, grad):
    return _rectified(case, dtype, seed), _rectified(case, dtype, seed + 50)


def _features_and_gram(case, dtype, seed, grad):
    target = _rectified(case, dtype, seed + 50)
    return _rectified(case, dtype, seed), losses.gram_matrix(target)


def _autograd(loss: Callable[[Tensor], Tensor], features: Tensor) -> Tensor:
    """d loss(relu(X)) / dX at X = features, per image (the library averages over the batch)."""
    x = features.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss(torch.relu(x)), x)
    return grad * features.shape[0]


def _factors(args) -> list[Factor]:
    b, c, h, w = args[0].shape
    m = h * w
    return [
        Factor("N²·M²", c**2 * m**2, large=f"divide by N² M² (N = C = {c}, M = H·W = {m})"),
        Factor("4", 4, large="the 4 of Eq. 4 cancels against the 2 · 2 of the derivative"),
        Factor("B", b, small="this is the gradient of one image's loss: do not average"),
        Factor("2", 2, large="the ½ of Eq. 1 cancels the 2 of the square's derivative"),
    ]


def _known_content(args):
    f, p = args
    return [
        (f - p, "you left out the ReLU mask: Eq. 2 is 0 wherever F_ij = 0 (the unit is off)"),
        (p - f, "the sign is flipped: the gradient of ½ Σ (F − P)² is F − P"),
        ((f - p) * (p > 0), "you masked by P > 0; the mask is F > 0, the unit of x that is on"),
        (-(f - p) * (f > 0), "the sign is flipped: the gradient of ½ Σ (F − P)² is F − P"),
    ]


def check_content_gradient(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(features, target) -> ∂L_content/∂F`` (Gatys et al. 2016, Eq. 2).

    ``features`` F = relu(X) and ``target`` P are ``(B, C, H, W)``; the answer is the gradient of
    each image's ½ Σ (F − P)², with the ReLU mask, of the same shape.
    """
    name, loss = "content_gradient", losses.content_loss
    _check(fn, name, "Eq. 2", "target", _features_and_target, loss, _known_content)


def _known_style(args):
    f, a = args
    b, c, h, w = f.shape
    m = h * w
    flat = f.flatten(2)
    g = flat @ flat.transpose(1, 2)
    raw = ((g - a) @ flat).reshape(f.shape)
    mask = (f > 0).to(f.dtype)
    return [
        (raw / (c**2 * m**2), "you left out the ReLU mask: Eq. 6 is 0 wherever F_ij = 0"),
        (raw * mask / (c * m), f"divide by N² M² (N = {c}, M = {m}), not by N·M"),
        (raw * mask / (4 * c**2 * m**2), "the 4 of Eq. 4 cancels: 1/(N² M²) remains"),
        ((a - g) @ flat / (c**2 * m**2), "the sign is flipped: (G − A) F, not (A − G) F"),
        (-raw * mask / (c**2 * m**2), "the sign is flipped: (G − A) F, not (A − G) F"),
    ]


def _shape_hint(got, args):
    b, c, h, w = args[0].shape
    if got in ((b, c, h * w), (c, h * w)):
        return f"shape {got}: reshape the N × M matrix back to the features' (B, C, H, W)"
    return None


def check_style_gradient(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(features, target_gram) -> ∂E_l/∂F`` (Gatys et al. 2016, Eq. 6).

    ``features`` F = relu(X) is ``(B, C, H, W)``, ``target_gram`` A is ``(B, C, C)``; the answer
    is the gradient of each image's E_l = 1/(4 N² M²) Σ (G − A)², with the ReLU mask, shaped
    like the features.
    """
    name, loss = "style_gradient", losses.layer_style_loss
    _check(fn, name, "Eq. 6", "target_gram", _features_and_gram, loss, _known_style)


def _check(fn, name: str, equation: str, target: str, make, loss, known) -> None:
    """The gradient exercise ``name``: ``fn(features, target)`` against autograd of ``loss``."""
    ex = Exercise(
        name,
        f"{name} (Gatys {equation})",
        ("features", target),
        make,
        lambda f, t: _autograd(lambda x: loss(x, t), f),
        GRADIENT_CASES,
        factors=_factors,
        known=known,
        shape_hint=_shape_hint,
        forbid=FORBID,
        differentiable=False,
        hard=False,  # the inputs are rectified by definition; their zeros are the ties
    )
    check_exercise(fn, ex)


__all__ = ["check_content_gradient", "check_style_gradient"]
