"""Blend weights: how much of each style image goes into a mix, checked and scaled to sum 1.

Mixing styles is a rule two methods share: Gatys et al.'s transfer blends the Gram targets of
several style images (``transfer(..., blend=...)``, ``stylelib transfer --style-blend``),
and AdaIN interpolates between the AdaIN outputs of several styles (Huang & Belongie 2017,
Sec. 7.3; ``style_weights=...``, ``stylelib adain --style-weights``). Both take one weight
per style from the user and normalise them here, once, with the same checks: numbers (no
strings, no booleans), finite, non-negative, not all zero, one per style; then divided by
their sum, so ``(1, 3)`` means a quarter of the first style and three quarters of the second.

Example:
    >>> blend_weights([1, 3], 2)
    [0.25, 0.75]
    >>> blend_weights(None, 4)
    [0.25, 0.25, 0.25, 0.25]
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def blend_weights(
    weights: Sequence[float] | None,
    count: int,
    *,
    name: str = "style",
    styles: str = "styles",
) -> list[float]:
    """One finite weight >= 0 per style, not all 0, scaled to sum 1; None gives equal weights.

    Args:
        weights: the user's weights, or None for ``count`` equal ones.
        count: the number of styles.
        name: what the caller calls the weights, for the messages: ``"blend"`` gives
            "blend weights must be finite numbers", ``"style"`` "style weights ...".
        styles: what the caller calls the styles (``"style images"``), for the messages.

    Returns:
        ``count`` floats >= 0 that sum to 1 (to rounding).

    Raises:
        ValueError: one line saying what is wrong and what to give instead.

    Example:
        >>> blend_weights([0, 0], 2)
        Traceback (most recent call last):
        ...
        ValueError: style weights must be >= 0 and not all 0 (a positive sum), got [0.0, 0.0]; ...
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"the number of {styles} must be an int >= 1, got {count!r}")
    if weights is None:
        return [1.0 / count] * count
    try:
        if isinstance(weights, (str, bytes)) or any(
            isinstance(w, (str, bytes, bool)) for w in weights
        ):
            raise TypeError
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be numbers, one weight per style, got {weights!r}; e.g. 1 1 for an "
            "even mix"
        ) from None
    if len(values) != count:
        raise ValueError(
            f"{len(values)} {name} weights for {count} {styles}; give one weight per style"
        )
    if not all(math.isfinite(w) for w in values):
        raise ValueError(f"{name} weights must be finite numbers, got {values}")
    if any(w < 0 for w in values) or not any(w > 0 for w in values):
        raise ValueError(
            f"{name} weights must be >= 0 and not all 0 (a positive sum), got {values}; "
            "e.g. 1 1 for an even mix"
        )
    if not math.isfinite(sum(values)):  # each finite, their sum not: scale them down first
        values = [w / max(values) for w in values]
    total = sum(values)
    return [w / total for w in values]


__all__ = ["blend_weights"]
