"""stylelib.blend: one rule for the weights of a style mix, shared by Gatys and AdaIN.

Oracles: closed forms (equal weights, (1, 3) -> (1/4, 3/4)), the sum of the result (1), and
the two callers' own error messages, which must come from here.
"""

from __future__ import annotations

import math

import pytest
import torch

from stylelib.adain.layer import adain, target
from stylelib.blend import blend_weights


def test_none_gives_equal_weights_and_numbers_are_scaled_to_sum_one():
    assert blend_weights(None, 3) == pytest.approx([1 / 3] * 3)
    assert blend_weights([1, 3], 2) == [0.25, 0.75]
    assert blend_weights((2.0, 0), 2) == [1.0, 0.0]
    assert blend_weights([torch.tensor(1.0), 1], 2) == [0.5, 0.5]  # anything float() takes


def test_huge_finite_weights_whose_sum_overflows_still_normalise():
    weights = blend_weights([1e308, 1e308], 2)
    assert weights == [0.5, 0.5] and math.isfinite(sum(weights))


@pytest.mark.parametrize(
    ("weights", "count", "words"),
    [
        ([1], 2, "1 style weights for 2 styles"),
        ([1, 2, 3], 2, "3 style weights for 2 styles"),
        ([1, -1], 2, ">= 0 and not all 0"),
        ([0, 0], 2, r"not all 0 \(a positive sum\)"),
        ([math.nan, 1], 2, "must be finite numbers"),
        ([math.inf, 1], 2, "must be finite numbers"),
        ("11", 2, "must be numbers, one weight per style"),
        ([True, 1], 2, "must be numbers"),
        ([None, 1], 2, "must be numbers"),
        (5, 1, "must be numbers"),
        (None, 0, "must be an int >= 1"),
    ],
)
def test_unusable_weights_are_one_line_value_errors(weights, count, words):
    with pytest.raises(ValueError, match=words) as info:
        blend_weights(weights, count)
    assert "\n" not in str(info.value)


def test_the_callers_words_appear_in_the_messages():
    with pytest.raises(ValueError, match="2 blend weights for 1 style images"):
        blend_weights([1, 1], 1, name="blend", styles="style images")
    with pytest.raises(ValueError, match="^blend must be numbers"):
        blend_weights(["a"], 1, name="blend", styles="style images")


def test_adain_interpolation_uses_the_shared_rule():
    x = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y1, y2 = x.flip(-1) * 2 + 1, x.flip(-2) * 0.5 - 1
    expected = 0.25 * adain(x, y1) + 0.75 * adain(x, y2)
    assert torch.allclose(target(x, [y1, y2], style_weights=[1, 3]), expected)
    with pytest.raises(ValueError, match="^style must be numbers"):
        target(x, [y1, y2], style_weights=[True, False])
