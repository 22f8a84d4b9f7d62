"""Comparing an answer's values with the reference's, and saying what is wrong: a known
mistake, a constant factor by name, NaN or Inf and where, a wrong type or dtype, or the size
of the error. Used by :mod:`.harness`'s drivers and by checks with their own drivers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .device import has_values

RTOL = {torch.float64: 1e-7, torch.float32: 1e-4}  # of the largest expected magnitude


class Factor(NamedTuple):
    """A constant a wrong answer may be off by: its label, and what to do either way."""

    label: str  # "4·N²·M²"
    value: float
    large: str = ""  # advice when the answer is ``value`` times too large
    small: str = ""  # ... and when it is ``value`` times too small


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _close(got: Tensor, expected: Tensor) -> bool:
    """Equal within RTOL of the largest expected magnitude."""
    rtol = RTOL.get(expected.dtype, 1e-4)
    got, expected = got.detach().double(), expected.detach().double()
    return (got - expected).abs().max().item() <= rtol * expected.abs().max().item() + 1e-12


def _constant_ratio(got: Tensor, expected: Tensor) -> float | None:
    """got / expected if it is the same for every entry (within 1e-4), else None."""
    got, expected = got.detach().double(), expected.detach().double()
    mask = expected.abs() > 1e-3 * expected.abs().max()
    if not mask.any():
        return None
    ratios = got[mask] / expected[mask]
    middle = ratios.median().item()
    if middle == 0 or (ratios - middle).abs().max().item() > 1e-4 * abs(middle):
        return None
    return middle


def _name_factor(ratio: float, factors: Sequence[Factor]) -> str | None:
    """'your value is 4·N²·M² (= 57600) times too large: ...' for the first factor that fits."""
    for f in factors:
        if math.isclose(f.value, 1.0):  # B = 1, C = 1: "1 times too large" names nothing
            continue
        number = "" if f.label == _fmt(f.value) else f" (= {_fmt(f.value)})"
        if math.isclose(ratio, f.value, rel_tol=1e-3):
            return f"your value is {f.label}{number} times too large: {f.large or 'divide by it'}"
        if math.isclose(ratio, 1 / f.value, rel_tol=1e-3):
            advice = f.small or "multiply by it, or remove a division by it"
            return f"your value is {f.label}{number} times too small: {advice}"
    if math.isclose(ratio, -1.0, rel_tol=1e-6):
        return "your value has the wrong sign"
    return None


def _diagnose_values(
    got: Tensor,
    expected: Tensor,
    factors: Sequence[Factor] = (),
    known: Sequence[tuple[Tensor, str]] = (),
    inputs: Sequence[tuple[str, Tensor]] = (),
) -> str | None:
    """None if ``got`` is right; else NaN or Inf, a known mistake, a named factor, or the size
    of the error. ``inputs`` (path, tensor) locate NaN at an input's zeros."""
    if _close(got, expected):
        return None
    nonfinite = _nonfinite(got, expected, inputs)
    if nonfinite:
        return nonfinite
    for value, message in known:
        if value.shape == got.shape and _close(got, value):
            return message
    ratio = _constant_ratio(got, expected)
    if ratio is not None and (named := _name_factor(ratio, factors)):
        return named
    diff = (got.detach().double() - expected.detach().double()).abs().max().item()
    scale = expected.detach().abs().max().item()
    if ratio is not None and abs(ratio - 1) < 1e-3:
        return (
            f"your values are close but not equal (off by up to {diff:.3g} where they reach "
            f"{scale:.3g}): precision is lost; compute in the inputs' dtype ({expected.dtype}), "
            "with no float32 tensor or Python float accumulator"
        )
    if ratio is not None and got.numel() > 1:
        return f"your values are {ratio:.4g} times the expected ones: a constant factor is off"
    if got.dim() == 0:
        ratio_text = ""
        if expected.item() != 0:
            slips = ", ".join(f.label for f in factors) or "a constant factor"
            ratio_text = (
                f": {got.item() / expected.item():.4g} times the right value, which is none of "
                f"the usual slips ({slips}), so a term or an index is wrong, not a normalisation"
            )
        return f"your value is {got.item():.6g}, expected {expected.item():.6g}{ratio_text}"
    return f"wrong values: off by up to {diff:.3g} where the expected values reach {scale:.3g}"


def _nonfinite(got: Tensor, expected: Tensor, inputs: Sequence[tuple[str, Tensor]]) -> str | None:
    """'it returns NaN at 12 of 60 entries, exactly where features is 0: ...', or None."""
    got, expected = got.detach(), expected.detach()
    bad = ~torch.isfinite(got) & torch.isfinite(expected)
    if not bad.any():
        return None
    nan, inf = bool(got[bad].isnan().any()), bool(got[bad].isinf().any())
    kind = "NaN and Inf" if nan and inf else "NaN" if nan else "Inf"
    zero = next(
        (
            path
            for path, t in inputs
            if t.shape == got.shape and has_values(t) and bool((t.detach()[bad] == 0).all())
        ),
        None,
    )
    return (
        f"it returns {kind} at {int(bad.sum())} of {bad.numel()} entries"
        + (f", exactly where {zero} is 0" if zero else "")
        + " (the expected values are finite there): a division by zero or 0/0 (x / x as a "
        "mask?), or log or sqrt of 0; build a mask with a comparison, (x > 0).to(x.dtype), "
        "or torch.where, and keep ε inside roots and logs"
    )


def _type_problem(out: Any, expected: Tensor) -> str | None:
    """What is wrong with the type or dtype of a result, or None."""
    if isinstance(out, numbers.Number):
        return (
            f"it returns a Python {type(out).__name__}, not a tensor: .item() or float() cut "
            "the result off from autograd, so keep it a torch tensor"
        )
    if not isinstance(out, Tensor):
        kind = "a numpy array" if type(out).__module__ == "numpy" else type(out).__name__
        return f"it returns {kind}, not a torch.Tensor: compute with torch operations only"
    if out.dtype != expected.dtype:
        return (
            f"it returns {out.dtype} for {expected.dtype} inputs: keep the input's dtype "
            "(create tensors with dtype=x.dtype or torch.zeros_like(x))"
        )
    return None
