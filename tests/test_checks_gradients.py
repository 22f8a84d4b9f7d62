"""stylelib.checks.gradients: wrong and right answers to lesson 02's analytic gradients.

The oracle of the checks is autograd on the library's losses; here it is checked once more
against central finite differences, and the answers below against the check.
"""

from __future__ import annotations

import pytest
import torch
from helpers import catalogue_tests

from stylelib import checks, losses
from stylelib.checks import gradients as MODULE

# --- content_gradient (Gatys Eq. 2) ------------------------------------------------------------


def content_masked(features, target):
    return (features - target) * (features > 0)


def content_where(features, target):
    return torch.where(features > 0, features - target, torch.zeros_like(features))


def content_by_autograd(features, target):  # the student's own loss, differentiated
    x = features.detach().clone().requires_grad_(True)
    loss = 0.5 * (torch.relu(x) - target).pow(2).sum()
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def content_sign_of_f(features, target):
    return (features - target) * features.sign()


def content_no_mask(features, target):
    return features - target


def content_flipped(features, target):
    return (target - features) * (features > 0)


def content_doubled(features, target):
    return 2 * (features - target) * (features > 0)


def content_target_mask(features, target):
    return (features - target) * (target > 0)


def content_batch_mean(features, target):
    return (features - target) * (features > 0) / len(features)


def content_summed_over_channels(features, target):
    return ((features - target) * (features > 0)).sum(dim=1, keepdim=True)


def content_on_the_cpu(features, target):
    mask = torch.zeros(features.shape, dtype=features.dtype)
    return (features - target) * (mask + (features > 0))


def content_mask_by_division(features, target):  # F / F is 1 where F > 0, 0/0 = NaN at 0
    return (features - target) * (features / features)


def content_mask_by_division_nan_to_zero_missed(features, target):
    mask = torch.where(features > 0, features / features, features / features)
    return (features - target) * mask


def content_library(features, target):
    x = features.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(losses.content_loss(torch.relu(x), target), x)
    return grad * len(features)


# --- style_gradient (Gatys Eq. 6) --------------------------------------------------------------


def _style(features, target_gram, scale=1.0, mask=True, sign=1.0, transpose_f=False):
    b, c, h, w = features.shape
    f = features.flatten(2)
    g = f @ f.transpose(1, 2)
    grad = sign * ((g - target_gram) @ f) / (scale * c**2 * (h * w) ** 2)
    grad = grad.reshape(features.shape)
    return grad * (features > 0) if mask else grad


def style_matrix(features, target_gram):
    return _style(features, target_gram)


def style_paper_transposed(features, target_gram):  # ((F^l)^T (G^l - A^l))_ji, as printed
    b, c, h, w = features.shape
    f = features.flatten(2)
    g = f @ f.transpose(1, 2)
    grad = (f.transpose(1, 2) @ (g - target_gram)).transpose(1, 2) / (c**2 * (h * w) ** 2)
    return grad.reshape(features.shape) * (features > 0)


def style_einsum(features, target_gram):
    b, c, h, w = features.shape
    g = torch.einsum("bchw,bdhw->bcd", features, features)
    grad = torch.einsum("bcd,bdhw->bchw", g - target_gram, features)
    return torch.where(features > 0, grad / (c**2 * (h * w) ** 2), 0.0)


def style_no_mask(features, target_gram):
    return _style(features, target_gram, mask=False)


def style_with_the_four(features, target_gram):
    return _style(features, target_gram, scale=4.0)


def style_flipped(features, target_gram):
    return _style(features, target_gram, sign=-1.0)


def style_n_m(features, target_gram):
    b, c, h, w = features.shape
    return _style(features, target_gram, scale=1 / (c * h * w))


def style_flat(features, target_gram):
    return _style(features, target_gram).flatten(2)


def style_on_the_cpu(features, target_gram):
    return _style(features, target_gram) + torch.zeros(features.shape, dtype=features.dtype)


def style_mask_by_division(features, target_gram):
    return _style(features, target_gram, mask=False) * features / features


def style_library(features, target_gram):
    x = features.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(losses.layer_style_loss(torch.relu(x), target_gram), x)
    return grad * len(features)


CATALOGUE = {
    "content_gradient": (
        checks.check_content_gradient,
        {},
        [
            (content_no_mask, "left out the ReLU mask"),
            (content_flipped, "sign is flipped"),
            (content_doubled, "2 times too large"),
            (content_target_mask, "masked by P > 0"),
            (content_batch_mean, "do not average"),
            (content_summed_over_channels, "wrong output shape"),
            (content_on_the_cpu, "another device"),
            (content_mask_by_division, "returns NaN at"),
            (content_mask_by_division_nan_to_zero_missed, "exactly where features is 0"),
            (content_library, "the library's own answer"),
        ],
        [content_masked, content_where, content_by_autograd, content_sign_of_f],
    ),
    "style_gradient": (
        checks.check_style_gradient,
        {},
        [
            (style_no_mask, "left out the ReLU mask"),
            (style_with_the_four, "the 4 of Eq. 4 cancels"),
            (style_flipped, "sign is flipped"),
            (style_n_m, "not by N·M"),
            (style_flat, "reshape the N × M matrix back"),
            (style_on_the_cpu, "another device"),
            (style_mask_by_division, "returns NaN at"),
            (style_library, "the library's own answer"),
        ],
        [style_matrix, style_paper_transposed, style_einsum],
    ),
}

(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


@pytest.mark.parametrize("formula", [content_masked, style_matrix])
def test_the_paper_formulas_agree_with_finite_differences(formula):
    """Eqs. 2 and 6 against central differences of ½ Σ (relu(X) − P)² and E_l, in float64."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 4, 5, generator=g, dtype=torch.float64)
    x = x + 0.2 * x.sign()  # no unit within 0.2 of the kink, where a difference straddles it
    other = torch.relu(torch.randn(1, 3, 4, 5, generator=g, dtype=torch.float64))
    if formula is content_masked:
        target = other

        def loss(z):
            return 0.5 * (torch.relu(z) - target).pow(2).sum()
    else:
        f = other.flatten(2)
        target = f @ f.transpose(1, 2)

        def loss(z):
            r = torch.relu(z).flatten(2)
            return (r @ r.transpose(1, 2) - target).pow(2).sum() / (4 * 3**2 * 20**2)

    analytic = formula(torch.relu(x), target)
    numeric = torch.zeros_like(x)
    h = 1e-6
    for i in range(x.numel()):
        step = torch.zeros(x.numel(), dtype=x.dtype)
        step[i] = h
        step = step.view_as(x)
        numeric.view(-1)[i] = (loss(x + step) - loss(x - step)) / (2 * h)
    torch.testing.assert_close(analytic, numeric, rtol=1e-6, atol=1e-9)
