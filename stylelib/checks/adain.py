"""Checks of lesson 07's exercise: the AdaIN layer (Huang & Belongie 2017, Eq. 8).

The student writes ``adain(content_feat, style_feat)``: the content features normalised per
image and per channel, then given the style's per-channel mean and standard deviation,

    AdaIN(x, y) = σ(y) · (x − μ(x)) / σ(x) + μ(y),   σ = sqrt(population variance + ε),

with ε = 1e-5 (Eqs. 5-6). The check compares it with :func:`stylelib.adain.layer.adain` on seeded
feature maps whose content and style differ in size (only the style's statistics count),
and names the usual slips by recomputing each of them: the unbiased variance (the PyTorch
port's choice, a real alternative, but not the paper's), ε outside the root or missing,
statistics over the whole image or the whole batch instead of per channel, the roles of the
two inputs swapped, instance normalisation without the style, a detached style.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from stylelib import adain as library  # the method's package: the answer may not call it
from stylelib.adain.layer import EPS
from stylelib.adain.layer import adain as reference

from .harness import Exercise, check_exercise, randn

FORBID = (library,)

# (content shape, style shape): one image first, then batches; the style never has the
# content's size, channels differ between cases, H ≠ W; one float32 case.
CASES = [
    (((1, 3, 4, 5), (1, 3, 6, 3)), torch.float64),
    (((3, 5, 6, 4), (3, 5, 5, 7)), torch.float64),
    (((2, 7, 3, 8), (2, 7, 4, 4)), torch.float64),
    (((2, 6, 5, 7), (2, 6, 8, 6)), torch.float32),
]
TIMING = ((2, 256, 32, 32), (2, 256, 24, 40))  # a loop over positions is ~5·10⁵ steps


def _make(case, dtype, seed, grad):
    content_shape, style_shape = case
    content = randn(content_shape, dtype, seed, grad)
    style = randn(style_shape, dtype, seed + 100) * 2 + 0.5  # other mean and std than content
    return content, style.detach().requires_grad_(grad)


def _stats(x: Tensor, dims: tuple[int, ...], correction: int = 0, eps: float = EPS):
    mean = x.mean(dim=dims, keepdim=True)
    return mean, (x.var(dim=dims, keepdim=True, correction=correction) + eps).sqrt()


def _known(args) -> list[tuple[Tensor, str]]:
    """The usual wrong answers, computed, each with what to change."""
    x, y = (a.detach() for a in args)
    per_channel = (2, 3)
    mx, sx = _stats(x, per_channel)
    my, sy = _stats(y, per_channel)
    normalized = (x - mx) / sx
    mx1, sx1 = _stats(x, per_channel, 1)
    my1, sy1 = _stats(y, per_channel, 1)
    sx0, sy0 = _stats(x, per_channel, 0, 0.0)[1], _stats(y, per_channel, 0, 0.0)[1]
    mxi, sxi = _stats(x, (1, 2, 3))
    myi, syi = _stats(y, (1, 2, 3))
    mxb, sxb = _stats(x, (0, 2, 3))
    myb, syb = _stats(y, (0, 2, 3))
    sx1_0, sy1_0 = _stats(x, per_channel, 1, 0.0)[1], _stats(y, per_channel, 1, 0.0)[1]
    return [
        (
            (sy1_0 + EPS) * (x - mx) / (sx1_0 + EPS) + my,
            "σ is the unbiased std with ε added outside the root (x.std() + ε); the paper's σ "
            "= sqrt(population variance + ε): x.var(dim=(2, 3), correction=0) + ε, then sqrt",
        ),
        (
            sy1_0 * (x - mx) / sx1_0 + my,
            "σ is the unbiased std (x.std(), ÷ (H·W − 1)) with no ε; the paper's σ = "
            "sqrt(population variance + ε): x.var(dim=(2, 3), correction=0) + ε, then sqrt",
        ),
        (
            sy1 * (x - mx1) / sx1 + my1,
            "you use the unbiased variance (÷ (H·W − 1), torch's default for .var()/.std()); the "
            "paper's σ is the population one, ÷ H·W: pass correction=0 (or unbiased=False)",
        ),
        (
            (sy0 + EPS) * (x - mx) / (sx0 + EPS) + my,
            "ε is added to σ; it belongs inside the square root: σ = sqrt(variance + ε)",
        ),
        (
            sy0 * (x - mx) / (sx0 + EPS) + my,
            "ε is added to σ(x); it belongs inside the square root, for both σ(x) and σ(y)",
        ),
        (
            sy0 * (x - mx) / sx0 + my,
            "there is no ε: σ = sqrt(variance + ε) with ε = 1e-5 keeps a flat channel finite",
        ),
        (
            sy * (x - mx) / sx0 + my,
            "σ(x) has no ε: σ = sqrt(variance + ε) for the content too",
        ),
        (
            syi * (x - mxi) / sxi + myi,
            "your statistics are over each whole image (C, H and W together); AdaIN takes a "
            "mean and std per channel: reduce over dims (2, 3) only",
        ),
        (
            syb * (x - mxb) / sxb + myb,
            "your statistics are over the batch (dims 0, 2, 3, as batch norm); AdaIN takes them "
            "per image and per channel: reduce over dims (2, 3) only",
        ),
        (
            sx * (x - mx) / sy + my,
            "σ(x) and σ(y) are swapped: divide by the content's std, multiply by the style's",
        ),
        (
            sy * (x - my) / sx + mx,
            "μ(x) and μ(y) are swapped: subtract the content's mean, add the style's",
        ),
        (
            sx * (x - mx) / sx + my,
            "you scale by the content's std: the output's std must be the style's, σ(y)",
        ),
        (
            normalized,
            "this is instance normalisation only: scale by σ(y) and add μ(y), the style's",
        ),
        (
            normalized * sy,
            "the style's mean μ(y) is missing: add it after scaling by σ(y)",
        ),
        (
            normalized + my,
            "the style's std σ(y) is missing: multiply by it before adding μ(y)",
        ),
    ]


def _shape_hint(got: tuple, args) -> str | None:
    x, y = args
    b, c = x.shape[:2]
    if got in ((b, c), (b, c, 1, 1)):
        return (
            f"shape {got}: those are statistics; return the content features re-normalised, "
            f"shape {tuple(x.shape)}"
        )
    if got == tuple(y.shape):
        return (
            f"shape {got} is the style's: AdaIN keeps the content's positions and takes only "
            f"the style's statistics, so the output has the content's shape {tuple(x.shape)}"
        )
    return None


def check_adain(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(content_feat (B, C, H, W), style_feat (B, C, H', W')) -> (B, C, H, W)``.

    Against :func:`stylelib.adain.layer.adain` (Eq. 8: per image and channel, population variance,
    ε = 1e-5 inside the square root), values and gradients with respect to both inputs.
    """
    ex = Exercise(
        "adain",
        "adain (Huang & Belongie, Eq. 8)",
        ("content_feat", "style_feat"),
        _make,
        lambda x, y: reference(x, y),
        CASES,
        TIMING,
        known=_known,
        shape_hint=_shape_hint,
        forbid=FORBID,
    )
    check_exercise(fn, ex)


__all__ = ["check_adain"]
