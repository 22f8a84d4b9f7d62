"""stylelib.checks.beyond: wrong and right answers to lesson 04's exercises.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks, color, losses
from stylelib.checks import beyond as MODULE
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.objective import Targets, evaluate

CATALOGUE: dict = {}

# --- gamma_loss (lesson 04) -------------------------------------------------------------------


def gram(f):
    b, n, h, w = f.shape
    f = f.reshape(b, n, h * w)
    return f @ f.transpose(1, 2)


def layer_style(f, target):
    b, n, h, w = f.shape
    return ((gram(f) - target).pow(2).sum(dim=(1, 2)) / (4 * n**2 * (h * w) ** 2)).mean()


def content_term(features, content_features, content_layers):
    return sum(
        0.5 * (features[n] - content_features[n]).pow(2).flatten(1).sum(1).mean()
        for n in content_layers
    )


def gamma_right(features, content_features, style_grams, content_layers, alpha, beta, gamma):
    w = 1 / len(style_grams)
    style = sum(w * layer_style(features[n], a) for n, a in style_grams.items())
    own = sum(w * layer_style(features[n], gram(content_features[n])) for n in style_grams)
    return (
        alpha * content_term(features, content_features, content_layers)
        + beta * style
        - gamma * own
    )


def gamma_one_style_function(
    features, content_features, style_grams, content_layers, alpha, beta, gamma
):
    """The γ term is the style loss with other targets: one function, two target dicts."""

    def style_loss(targets):
        return sum(layer_style(features[n], g) for n, g in targets.items()) / len(targets)

    photo_grams = {n: gram(content_features[n]).detach() for n in style_grams}
    content = sum(
        F.mse_loss(features[n], content_features[n].expand_as(features[n]), reduction="sum")
        / 2
        / features[n].shape[0]
        for n in content_layers
    )
    return alpha * content + beta * style_loss(style_grams) - gamma * style_loss(photo_grams)


def gamma_einsum(features, content_features, style_grams, content_layers, alpha, beta, gamma):
    total = 0.0
    for name in content_layers:
        d = features[name] - content_features[name]
        total = total + alpha * 0.5 * torch.einsum("bchw,bchw->b", d, d).mean()
    for name in sorted(style_grams):
        f = features[name]
        _, c, h, w = f.shape
        g = torch.einsum("bchw,bdhw->bcd", f, f)
        p = content_features[name]
        own = torch.einsum("bchw,bdhw->bcd", p, p)
        scale = 4.0 * c * c * h * h * w * w * len(style_grams)
        total = total + beta * ((g - style_grams[name]) ** 2).sum((1, 2)).mean() / scale
        total = total - gamma * ((g - own) ** 2).sum((1, 2)).mean() / scale
    return total


def gamma_wrong(**change):
    """gamma_right with one mistake switched on."""
    name = "gamma_" + "_".join(change)

    def gamma_loss(features, content_features, style_grams, content_layers, alpha, beta, gamma):
        if change.get("swap"):
            alpha, beta = beta, alpha
        w = change.get("weight", 1 / len(style_grams))
        style = sum(w * layer_style(features[n], a) for n, a in style_grams.items())
        layers = list(content_layers if change.get("content_layers") else style_grams)
        if change.get("painting"):
            targets = style_grams
        elif change.get("own_of_x"):
            targets = {n: gram(features[n]) for n in layers}
        else:
            targets = {n: gram(content_features[n]) for n in layers}
        if change.get("as_content"):
            own = content_term(features, content_features, layers) * w
        else:
            gw = change.get("gamma_weight", 1 / len(layers))
            own = sum(gw * layer_style(features[n], targets[n]) for n in layers)
        if change.get("detached"):
            own = own.detach()
        sign = 1 if change.get("plus") else -1
        content = content_term(features, content_features, content_layers)
        if change.get("beta_gamma"):
            return alpha * content + beta * (style + sign * gamma * own)
        if change.get("mutates"):
            content_features.update({f"gram_{n}": gram(content_features[n]) for n in style_grams})
        return alpha * content + beta * style + sign * gamma * own

    gamma_loss.__name__ = name
    return gamma_loss


def gamma_via_library(features, content_features, style_grams, content_layers, alpha, beta, gamma):
    w = {n: 1 / len(style_grams) for n in style_grams}
    own = {n: losses.gram_matrix(content_features[n]) for n in style_grams}
    content = sum(losses.content_loss(features[n], content_features[n]) for n in content_layers)
    return (
        alpha * content
        + beta * losses.style_loss(features, style_grams, w)
        - gamma * losses.style_loss(features, own, w)
    )


def gamma_returns_float(
    features, content_features, style_grams, content_layers, alpha, beta, gamma
):
    return float(
        gamma_right(features, content_features, style_grams, content_layers, alpha, beta, gamma)
    )


CATALOGUE["gamma_loss"] = (
    checks.check_gamma_loss,
    {},
    [
        (gamma_wrong(plus=True), "add the γ term"),
        (gamma_wrong(painting=True), "compares x with the painting's Grams"),
        (gamma_wrong(own_of_x=True), "missing or zero"),
        (gamma_wrong(as_content=True), "a content loss at the style layers"),
        (gamma_wrong(content_layers=True), "runs over the content layers"),
        (gamma_wrong(gamma_weight=1.0), "the γ term's layers are not weighted"),
        (gamma_wrong(weight=0.2, gamma_weight=0.2), "w_l = 1/5"),
        (gamma_wrong(swap=True), "α and β are swapped"),
        (gamma_wrong(beta_gamma=True), "not − β γ"),
        (gamma_wrong(detached=True), "wrong gradient"),
        (gamma_wrong(mutates=True), "changes its argument content_features"),
        (gamma_returns_float, "Python float"),
        (gamma_via_library, "the library's own answer"),
    ],
    [gamma_right, gamma_one_style_function, gamma_einsum],
)


# --- luminance_transfer (lesson 04) -----------------------------------------------------------

YIQ = [[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]]


def luminance_right(stylised, content):
    m = torch.tensor(YIQ, dtype=stylised.dtype, device=stylised.device)
    y = torch.einsum("kc,bchw->bkhw", m[:1], stylised)
    iq = torch.einsum("kc,bchw->bkhw", m[1:], content)
    rgb = torch.einsum("kc,bchw->bkhw", torch.linalg.inv(m), torch.cat([y, iq], dim=1))
    return rgb.clamp(0, 1)


def luminance_channels_last_skimage(stylised, content):
    """skimage's YIQ matrix and numpy's inverse, with the channels moved last."""
    from skimage.color.colorconv import yiq_from_rgb

    m = torch.as_tensor(yiq_from_rgb, dtype=stylised.dtype, device=stylised.device)
    inverse = torch.as_tensor(np.linalg.inv(yiq_from_rgb), dtype=stylised.dtype).to(m.device)
    s, c = stylised.permute(0, 2, 3, 1), content.permute(0, 2, 3, 1)
    yiq = torch.cat([s @ m[:1].T, c @ m[1:].T], dim=-1)
    return (yiq @ inverse.T).permute(0, 3, 1, 2).clamp(0.0, 1.0)


def luminance_by_difference(stylised, content):
    """With I and Q zero on grey, the new RGB is the content plus the change of Y on each
    channel; the FCC's 1953 weights 0.30, 0.59, 0.11 round BT.601's."""
    r, g, b = (0.30, 0.59, 0.11)

    def y(x):
        return r * x[:, 0:1] + g * x[:, 1:2] + b * x[:, 2:3]

    return torch.clamp(content + (y(stylised) - y(content)), min=0, max=1)


def luminance_yuv(stylised, content):
    """YUV has the same Y and a rotated chroma plane: the result is the same."""
    yuv = torch.tensor(
        [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]],
        dtype=stylised.dtype,
        device=stylised.device,
    )
    mix = torch.cat([yuv[:1] @ stylised.flatten(2), yuv[1:] @ content.flatten(2)], dim=1)
    return (torch.linalg.solve(yuv, mix)).reshape(stylised.shape).clamp(0, 1)


def luminance_wrong(**change):
    name = "luminance_" + "_".join(change)

    def luminance_transfer(stylised, content):
        m = torch.tensor(change.get("matrix", YIQ), dtype=stylised.dtype, device=stylised.device)
        if change.get("transposed"):
            m = m.T
        if change.get("swap"):
            stylised, content = content, stylised
        y = torch.einsum("kc,bchw->bkhw", m[:1], stylised)
        if change.get("mean"):
            y = stylised.mean(dim=1, keepdim=True)
        iq = torch.einsum("kc,bchw->bkhw", m[1:], content)
        back = m.T if change.get("transpose_inverse") else torch.linalg.inv(m)
        rgb = torch.einsum("kc,bchw->bkhw", back, torch.cat([y, iq], dim=1))
        if change.get("in_place"):
            content.copy_(rgb.clamp(0, 1))
            return content.clone()
        if change.get("channels_last_out"):
            return rgb.clamp(0, 1).permute(0, 2, 3, 1)
        if change.get("on_cpu"):
            return rgb.clamp(0, 1).cpu()
        return rgb if change.get("no_clamp") else rgb.clamp(0, 1)

    luminance_transfer.__name__ = name
    return luminance_transfer


def luminance_channels_last_input(stylised, content):
    m = torch.tensor(YIQ, dtype=stylised.dtype)
    y = stylised @ m[:1].T  # the matrix on the last axis (W), not on the channels
    iq = content @ m[1:].T
    return (torch.cat([y, iq], dim=-1) @ torch.linalg.inv(m).T).clamp(0, 1)


def luminance_via_library(stylised, content):
    return color.combine_luminance(stylised, content)


def luminance_matrix_on_cpu(stylised, content):
    m = torch.tensor(YIQ, dtype=stylised.dtype)  # on the CPU whatever the inputs' device
    s, c = stylised.permute(0, 2, 3, 1), content.permute(0, 2, 3, 1)
    yiq = torch.cat([s @ m[:1].T, c @ m[1:].T], dim=-1)
    return (yiq @ torch.linalg.inv(m).T).permute(0, 3, 1, 2).clamp(0, 1)


# The same slip (a matrix made without device=) written the ways the lesson's students write it:
# on a GPU each raises "Expected all tensors to be on the same device".


def luminance_einsum_on_cpu(stylised, content):  # the lesson's own solution, device= forgotten
    m = torch.tensor(YIQ, dtype=stylised.dtype)
    y = torch.einsum("kc,bchw->bkhw", m[:1], stylised)
    iq = torch.einsum("kc,bchw->bkhw", m[1:], content)
    rgb = torch.einsum("kc,bchw->bkhw", torch.linalg.inv(m), torch.cat([y, iq], dim=1))
    return rgb.clamp(0, 1)


def luminance_conv2d_on_cpu(stylised, content):  # 1x1 convolutions with the matrix's rows
    m = torch.tensor(YIQ, dtype=stylised.dtype)
    y = F.conv2d(stylised, m[:1, :, None, None])
    iq = F.conv2d(content, m[1:, :, None, None])
    return F.conv2d(torch.cat([y, iq], 1), torch.linalg.inv(m)[:, :, None, None]).clamp(0, 1)


def luminance_torch_matmul_on_cpu(stylised, content):
    m = torch.tensor(YIQ, dtype=stylised.dtype)
    y = torch.matmul(m[:1], stylised.flatten(2))
    iq = torch.matmul(m[1:], content.flatten(2))
    rgb = torch.matmul(torch.linalg.inv(m), torch.cat([y, iq], dim=1))
    return rgb.reshape(stylised.shape).clamp(0, 1)


def luminance_broadcast_on_cpu(stylised, content):  # weights broadcast over (B, 3, H, W)
    weights = torch.tensor(YIQ[0], dtype=stylised.dtype).view(1, 3, 1, 1)
    delta = (stylised * weights).sum(1, keepdim=True) - (content * weights).sum(1, keepdim=True)
    return (content + delta).clamp(0, 1)


GLOBAL_YIQ = torch.tensor(YIQ, dtype=torch.float64)  # a notebook cell's constant


def luminance_global_matrix(stylised, content):
    m = GLOBAL_YIQ.to(stylised.dtype)  # the dtype follows, the device does not
    y = torch.einsum("kc,bchw->bkhw", m[:1], stylised)
    iq = torch.einsum("kc,bchw->bkhw", m[1:], content)
    return torch.einsum("kc,bchw->bkhw", torch.linalg.inv(m), torch.cat([y, iq], 1)).clamp(0, 1)


def luminance_conv2d_new_tensor(stylised, content):  # right: the matrix from the input
    m = stylised.new_tensor(YIQ)
    y = F.conv2d(stylised, m[:1, :, None, None])
    iq = F.conv2d(content, m[1:, :, None, None])
    return F.conv2d(torch.cat([y, iq], 1), torch.linalg.inv(m)[:, :, None, None]).clamp(0, 1)


def luminance_global_moved(stylised, content):  # right: the constant moved to the input
    m = GLOBAL_YIQ.to(stylised)
    weights = m[0].view(1, 3, 1, 1)
    delta = (stylised * weights).sum(1, keepdim=True) - (content * weights).sum(1, keepdim=True)
    return (content + delta).clamp(0, 1)


BT709 = [[0.2126, 0.7152, 0.0722], [-0.09991, -0.33609, 0.436], [0.615, -0.55861, -0.05639]]

CATALOGUE["luminance_transfer"] = (
    checks.check_luminance_transfer,
    {},
    [
        (luminance_wrong(swap=True), "the roles are swapped"),
        (luminance_wrong(mean=True), "plain mean of R, G, B"),
        (luminance_wrong(no_clamp=True), "clamp the result to [0, 1]"),
        (luminance_wrong(matrix=BT709), "BT.709"),
        (luminance_wrong(transposed=True), "applied transposed"),
        (luminance_wrong(transpose_inverse=True), "not M's inverse"),
        (luminance_wrong(in_place=True), "modifies its input content in place"),
        (luminance_wrong(channels_last_out=True), "channels-last"),
        (luminance_channels_last_input, "the channels are axis 1"),
        (luminance_matrix_on_cpu, "on the input's device"),
        (luminance_einsum_on_cpu, "tensor made by torch.tensor(...) without device= meets"),
        (luminance_conv2d_on_cpu, "in torch.conv2d(...)"),
        (luminance_torch_matmul_on_cpu, "in torch.matmul(...)"),
        (luminance_broadcast_on_cpu, "the (1, 3, 1, 1) tensor made by torch.tensor(...)"),
        (luminance_global_matrix, "made before the function runs"),
        (luminance_via_library, "the library's own answer"),
    ],
    [
        luminance_right,
        luminance_channels_last_skimage,
        luminance_by_difference,
        luminance_yuv,
        luminance_conv2d_new_tensor,
        luminance_global_moved,
    ],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


class _Layers:
    """A stand-in network for optimize.evaluate: returns given features by name."""

    def __init__(self, features):
        self.features = features

    def __call__(self, image, layers):
        return {name: self.features[name] for name in layers}


@pytest.mark.parametrize("case", [c for c, _ in MODULE.GAMMA_CASES if c[0] == 1])
def test_gamma_reference_is_what_the_library_loop_computes(case):
    """The check's γ loss equals optimize.evaluate's total with GatysConfig.gamma."""
    features, photo, grams, content_layers, alpha, beta, gamma = MODULE._gamma_inputs(
        case, torch.float64, 0, False
    )
    style_layers = tuple(grams)
    config = GatysConfig(
        content_layers=content_layers,
        style_layers=style_layers,
        style_layer_weights=(1 / len(style_layers),) * len(style_layers),
        content_weight=alpha,
        style_weight=beta,
        gamma=gamma,
    )
    targets = Targets(
        {n: photo[n] for n in content_layers},
        grams,
        {n: losses.gram_matrix(photo[n]) for n in style_layers},
    )
    image = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
    total, _ = evaluate(_Layers(features), image, targets, config)
    reference = MODULE.gamma_reference(features, photo, grams, content_layers, alpha, beta, gamma)
    assert torch.allclose(total.double(), reference, rtol=1e-5)


def test_luminance_reference_is_the_library_combination():
    """On images VGG accepts, the check's reference is color.combine_luminance."""
    stylised, content = MODULE._luminance_inputs((2, 3, 32, 40), torch.float64, 0)
    expected = color.combine_luminance(stylised, content)
    assert torch.allclose(MODULE.luminance_reference(stylised, content), expected, atol=1e-12)
