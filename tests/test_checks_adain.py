"""stylelib.checks.adain: wrong and right answers to lesson 07's AdaIN layer.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks
from stylelib.adain.layer import adain
from stylelib.checks import adain as MODULE

CATALOGUE: dict = {}

EPS = 1e-5


def _stats(x, dims=(2, 3), correction=0, eps=EPS):
    return x.mean(dim=dims, keepdim=True), (
        x.var(dim=dims, keepdim=True, correction=correction) + eps
    ).sqrt()


# Right answers ----------------------------------------------------------------------------------


def adain_right(content_feat, style_feat, eps=1e-5):
    c_mean, c_std = _stats(content_feat)
    s_mean, s_std = _stats(style_feat)
    return s_std * (content_feat - c_mean) / c_std + s_mean


def adain_instance_norm(content_feat, style_feat):
    """F.instance_norm normalises with the population variance and ε inside the root."""
    s_mean, s_std = _stats(style_feat)
    return F.instance_norm(content_feat, eps=EPS) * s_std + s_mean


def adain_flattened(content_feat, style_feat):
    b, c = content_feat.shape[:2]
    x, y = content_feat.reshape(b, c, -1), style_feat.reshape(b, c, -1)
    x_std = torch.sqrt(x.std(dim=2, unbiased=False, keepdim=True) ** 2 + EPS)
    y_std = torch.sqrt(y.std(dim=2, unbiased=False, keepdim=True) ** 2 + EPS)
    out = (x - x.mean(2, keepdim=True)) / x_std * y_std + y.mean(2, keepdim=True)
    return out.reshape(content_feat.shape)


def adain_var_mean(content_feat, style_feat):
    vx, mx = torch.var_mean(content_feat, dim=(2, 3), correction=0, keepdim=True)
    vy, my = torch.var_mean(style_feat, dim=(2, 3), correction=0, keepdim=True)
    return (content_feat - mx) * torch.rsqrt(vx + EPS) * torch.sqrt(vy + EPS) + my


def adain_einsum(content_feat, style_feat):
    """Second moments by einsum: var = E[x²] − μ²."""
    h, w = content_feat.shape[-2:]
    hs, ws = style_feat.shape[-2:]
    mx = content_feat.mean(dim=(2, 3))
    my = style_feat.mean(dim=(2, 3))
    vx = torch.einsum("bchw,bchw->bc", content_feat, content_feat) / (h * w) - mx**2
    vy = torch.einsum("bchw,bchw->bc", style_feat, style_feat) / (hs * ws) - my**2
    scale = ((vy + EPS) / (vx + EPS)).sqrt()[..., None, None]
    return scale * (content_feat - mx[..., None, None]) + my[..., None, None]


# Wrong answers ----------------------------------------------------------------------------------


def adain_library(content_feat, style_feat):
    return adain(content_feat, style_feat)


def adain_unbiased(content_feat, style_feat):
    """The PyTorch port's calc_mean_std: .var() is unbiased by default."""
    c_mean, c_std = _stats(content_feat, correction=1)
    s_mean, s_std = _stats(style_feat, correction=1)
    return s_std * (content_feat - c_mean) / c_std + s_mean


def adain_eps_outside(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat, eps=0.0)
    s_mean, s_std = _stats(style_feat, eps=0.0)
    return (s_std + EPS) * (content_feat - c_mean) / (c_std + EPS) + s_mean


def adain_no_eps(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat, eps=0.0)
    s_mean, s_std = _stats(style_feat, eps=0.0)
    return s_std * (content_feat - c_mean) / c_std + s_mean


def adain_per_image(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat, dims=(1, 2, 3))
    s_mean, s_std = _stats(style_feat, dims=(1, 2, 3))
    return s_std * (content_feat - c_mean) / c_std + s_mean


def adain_batch_stats(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat, dims=(0, 2, 3))
    s_mean, s_std = _stats(style_feat, dims=(0, 2, 3))
    return s_std * (content_feat - c_mean) / c_std + s_mean


def adain_content_std(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat)
    s_mean, _ = _stats(style_feat)
    return c_std * (content_feat - c_mean) / c_std + s_mean


def adain_swapped_std(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat)
    s_mean, s_std = _stats(style_feat)
    return c_std * (content_feat - c_mean) / s_std + s_mean


def adain_swapped_means(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat)
    s_mean, s_std = _stats(style_feat)
    return s_std * (content_feat - s_mean) / c_std + c_mean


def adain_instance_norm_only(content_feat, style_feat):
    return F.instance_norm(content_feat, eps=EPS)


def adain_detached_style(content_feat, style_feat):
    s_mean, s_std = _stats(style_feat.detach())
    return F.instance_norm(content_feat, eps=EPS) * s_std + s_mean


def adain_in_place(content_feat, style_feat):
    c_mean, c_std = _stats(content_feat)
    s_mean, s_std = _stats(style_feat)
    content_feat.data.sub_(c_mean)
    return s_std * content_feat / c_std + s_mean


def adain_returns_statistics(content_feat, style_feat):
    return _stats(style_feat)[1]


def adain_style_positions(content_feat, style_feat):
    s_mean, s_std = _stats(style_feat)
    return F.instance_norm(style_feat, eps=EPS) * s_std + s_mean


def adain_std_plus_eps(content_feat, style_feat):  # torch's default std, ε outside the root
    mx, my = content_feat.mean(dim=(2, 3), keepdim=True), style_feat.mean(dim=(2, 3), keepdim=True)
    sx = content_feat.std(dim=(2, 3), keepdim=True) + EPS
    sy = style_feat.std(dim=(2, 3), keepdim=True) + EPS
    return sy * (content_feat - mx) / sx + my


def adain_std_mean_plus_eps(content_feat, style_feat):
    sx, mx = torch.std_mean(content_feat, dim=(2, 3), keepdim=True)
    sy, my = torch.std_mean(style_feat, dim=(2, 3), keepdim=True)
    return (sy + EPS) * (content_feat - mx) / (sx + EPS) + my


def adain_std_no_eps(content_feat, style_feat):
    flat_x, flat_y = content_feat.flatten(2), style_feat.flatten(2)
    mx, my = flat_x.mean(-1)[..., None, None], flat_y.mean(-1)[..., None, None]
    sx, sy = flat_x.std(-1)[..., None, None], flat_y.std(-1)[..., None, None]
    return sy * (content_feat - mx) / sx + my


CATALOGUE["adain"] = (
    checks.check_adain,
    {},
    [
        (adain_library, "the library's own answer"),
        (adain_unbiased, "unbiased variance"),
        (adain_eps_outside, "inside the square root"),
        (adain_no_eps, "there is no ε"),
        (adain_per_image, "each whole image"),
        (adain_batch_stats, "over the batch"),
        (adain_content_std, "content's std"),
        (adain_swapped_std, "swapped"),
        (adain_swapped_means, "μ(x) and μ(y) are swapped"),
        (adain_instance_norm_only, "instance normalisation only"),
        (adain_detached_style, "detached"),
        (adain_in_place, "in place"),
        (adain_returns_statistics, "those are statistics"),
        (adain_style_positions, "the style's"),
        (adain_std_plus_eps, "unbiased std with ε added outside the root"),
        (adain_std_mean_plus_eps, "unbiased std with ε added outside the root"),
        (adain_std_no_eps, "unbiased std (x.std(), ÷ (H·W − 1)) with no ε"),
    ],
    [adain_right, adain_instance_norm, adain_flattened, adain_var_mean, adain_einsum],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)
