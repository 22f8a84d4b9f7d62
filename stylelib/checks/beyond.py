"""Checks of lesson 04's exercises: the γ term and luminance-only transfer.

- :func:`check_gamma_loss`: L = α L_content(p, x) + β L_style(a, x) − γ L_style(p, x), the
  extension proposed in notes on Gatys et al. (``GatysConfig.gamma``, source [Ng]), checked against
  :mod:`stylelib.losses` as :func:`stylelib.gatys.objective.evaluate` combines it.
- :func:`check_luminance_transfer`: the stylised image's luminance with the content's colour
  (Gatys, Bethge, Hertzmann, Shechtman, "Preserving Color in Neural Artistic Style Transfer",
  2016, Sec. 3), checked against :mod:`stylelib.color`'s NTSC YIQ conversions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from stylelib import color, gatys, losses

from .harness import (
    SEED,
    Exercise,
    Factor,
    check_device,
    check_exercise,
    describe,
    raised,
    randn,
    run,
)

# --- the γ term -------------------------------------------------------------------------------

GAMMA_FORBID = (losses, gatys)  # the reference losses and the loop that weighs them
GAMMA_ARGS = (
    "features",
    "content_features",
    "style_grams",
    "content_layers",
    "alpha",
    "beta",
    "gamma",
)
# (C, H, W) of each layer, in VGG order; the paper's content layer is relu4_2.
GAMMA_LAYERS = {
    "relu1_1": (3, 8, 6),
    "relu2_1": (5, 6, 4),
    "relu3_1": (7, 4, 3),
    "relu4_2": (6, 3, 4),
}
# (batch, style layers, content layers, α, β, γ, dicts shuffled): one image first; two or three
# style layers (so that w_l = 1/L is not the paper's 1/5); one or two content layers, once
# also a style layer; in two cases the features hold a layer that neither term uses.
GAMMA_CASES = [
    ((1, ("relu1_1", "relu2_1", "relu3_1"), ("relu4_2",), 1.0, 1e3, 300.0, False), torch.float64),
    ((3, ("relu1_1", "relu3_1"), ("relu2_1", "relu4_2"), 0.5, 2e2, 80.0, True), torch.float64),
    ((2, ("relu1_1", "relu2_1"), ("relu2_1",), 2.0, 5e2, 150.0, False), torch.float64),
    ((2, ("relu1_1", "relu2_1", "relu3_1"), ("relu4_2",), 1.0, 1e3, 400.0, True), torch.float32),
]


def _gamma_inputs(case, dtype, seed, grad):
    batch, style_layers, content_layers, alpha, beta, gamma, shuffled = case
    names = list(GAMMA_LAYERS)  # every layer: one of them is used by neither term
    features = {
        n: randn((batch, *GAMMA_LAYERS[n]), dtype, seed + i, grad) for i, n in enumerate(names)
    }
    photo = {n: randn((1, *GAMMA_LAYERS[n]), dtype, seed + 10 + i) for i, n in enumerate(names)}
    painting = {n: randn((1, *GAMMA_LAYERS[n]), dtype, seed + 20 + i) for i, n in enumerate(names)}
    grams = {n: losses.gram_matrix(painting[n]) for n in style_layers}
    if shuffled:
        features, photo = dict(reversed(features.items())), dict(reversed(photo.items()))
        grams = dict(reversed(grams.items()))
    return features, photo, grams, tuple(content_layers), alpha, beta, gamma


def _style_term(features, grams, weight) -> Tensor:
    return sum(weight * losses.layer_style_loss(features[n], g) for n, g in grams.items())


def _terms(features, photo, grams, content_layers) -> dict[str, Tensor]:
    """The unweighted pieces a right answer and the known mistakes are made of."""
    w = 1.0 / len(grams)
    own = {n: losses.gram_matrix(photo[n]) for n in grams}
    return {
        "content": sum(losses.content_loss(features[n], photo[n]) for n in content_layers),
        "style": _style_term(features, grams, w),
        "gamma": _style_term(features, own, w),
        "w": w,
        "own": own,
    }


def gamma_reference(features, photo, grams, content_layers, alpha, beta, gamma) -> Tensor:
    """α Σ_l L_content + β Σ_l w_l E_l(x, a) − γ Σ_l w_l E_l(x, p), w_l = 1/L over ``grams``:
    what :func:`stylelib.gatys.objective.evaluate` computes for ``GatysConfig.gamma``."""
    t = _terms(features, photo, grams, content_layers)
    return alpha * t["content"] + beta * t["style"] - gamma * t["gamma"]


def _gamma_known(args) -> list[tuple[Tensor, str]]:
    features, photo, grams, content_layers, alpha, beta, gamma = args
    t = _terms(features, photo, grams, content_layers)
    c, s, g, w, own = t["content"], t["style"], t["gamma"], t["w"], t["own"]
    base = alpha * c + beta * s
    johnson = {n: losses.gram_matrix(photo[n], "johnson") for n in grams}
    on_content = {n: losses.gram_matrix(photo[n]) for n in content_layers}
    as_content = sum(w * losses.content_loss(features[n], photo[n]) for n in grams)
    paper = 0.2 / w  # w_l = 1/5 instead of 1/L
    half = sum((features[n] - photo[n]).pow(2).mean() for n in content_layers)
    unnormalised = sum(
        w * (losses.gram_matrix(features[n]) - own[n]).pow(2).sum(dim=(1, 2)).mean() for n in grams
    )
    return [
        (base + gamma * g, "you add the γ term: subtract it, L = … − γ L_style(p, x)"),
        (
            base,
            "the γ term is missing or zero: subtract γ Σ_l w_l E_l between x's Grams and the "
            "photo's, Gram(content_features[l]) (not x's own)",
        ),
        (
            alpha * c + (beta - gamma) * s,
            "the γ term compares x with the painting's Grams: it compares with the photo's, "
            "Gram(content_features[l]) for every style layer",
        ),
        (
            base - gamma * as_content,
            "the γ term is a content loss at the style layers: it is a style loss, E_l between "
            "x's Gram and the photo's Gram",
        ),
        (
            base - gamma * _style_term(features, on_content, 1.0 / len(on_content)),
            "the γ term runs over the content layers: it runs over the style layers (those of "
            "style_grams), with the photo's Grams there",
        ),
        (
            base - gamma * g / w,
            "the γ term's layers are not weighted: use the same w_l = 1/L as the style term",
        ),
        (
            alpha * c + paper * (beta * s - gamma * g),
            f"w_l = 1/5 is the paper's for five layers: here L = {len(grams)}, w_l = 1/L",
        ),
        (
            alpha * c + (beta * s - gamma * g) / w,
            f"the style layers are not weighted: w_l = 1/L = 1/{len(grams)} (Eq. 5)",
        ),
        (beta * c + alpha * s - gamma * g, "α and β are swapped: α weights the content term"),
        (
            alpha * c + beta * (s - gamma * g),
            "γ weighs L_style(p, x) on its own: − γ L_style(p, x), not − β γ L_style(p, x)",
        ),
        (
            base - gamma * _style_term(features, johnson, w),
            "the photo's Grams are divided by C·H·W (Johnson's): use Gatys' F Fᵀ, like the "
            "painting's in style_grams",
        ),
        (
            alpha * half + beta * s - gamma * g,
            "the content loss is a mean over entries; Gatys Eq. 1 sums: ½ Σ (F − P)²",
        ),
        (
            alpha * 2 * c + beta * s - gamma * g,
            "the content loss lacks the ½ of Gatys Eq. 1: ½ Σ (F − P)²",
        ),
        (
            base - gamma * unnormalised,
            "the γ term lacks E_l's 1/(4 N_l² M_l²) (Gatys Eq. 4): it is the same style loss "
            "as the β term, with the photo's Grams as targets",
        ),
    ]


def check_gamma_loss(fn: Callable[..., Tensor]) -> None:
    """Check ``fn(features, content_features, style_grams, content_layers, alpha, beta, gamma)``.

    ``features`` are x's ``(B, C, H, W)`` by layer, ``content_features`` the photo's
    ``(1, C, H, W)`` at every layer, ``style_grams`` the painting's Gatys Grams ``(1, C, C)``
    (its keys are the style layers). The answer is
    α Σ_l ½ Σ (F − P)² + β Σ_l w_l E_l(F, A) − γ Σ_l w_l E_l(F, Gram(P)), w_l = 1/L, each
    term averaged over the batch (Gatys et al. 2016, Eqs. 1, 4, 5, 7, and the γ term of
    ``GatysConfig.gamma``); checked on values and gradient.
    """
    ex = Exercise(
        "gamma_loss",
        "gamma_loss (α L_content + β L_style − γ L_style(p, x))",
        GAMMA_ARGS,
        _gamma_inputs,
        gamma_reference,
        GAMMA_CASES,
        None,
        lambda args: [Factor("2", 2), Factor("B", args[0][next(iter(args[0]))].shape[0])],
        _gamma_known,
        forbid=GAMMA_FORBID,
    )
    try:
        check_exercise(fn, ex)
    except AssertionError as e:
        raise AssertionError(_briefly(str(e))) from e.__cause__


def _briefly(message: str) -> str:
    """The message with the inputs described in a few words instead of three dicts' shapes."""
    for case, dtype in GAMMA_CASES:
        where = describe(GAMMA_ARGS, _gamma_inputs(case, dtype, SEED, False))
        if where in message:
            batch, style, content, alpha, beta, gamma, _ = case
            brief = (
                f"B = {batch}, style layers {', '.join(style)}, content layers "
                f"{', '.join(content)}, α = {alpha:g}, β = {beta:g}, γ = {gamma:g}, "
                f"{str(dtype).removeprefix('torch.')}"
            )
            return message.replace(where, brief)
    return message


# --- luminance-only transfer ----------------------------------------------------------------

LUMINANCE_FORBID = (color,)
LUMINANCE_ARGS = ("stylised", "content")
# (B, 3, H, W), dtype: one image, then batches; H ≠ W; sizes VGG accepts (≥ 32 px).
LUMINANCE_CASES = [
    ((1, 3, 32, 40), torch.float64),
    ((2, 3, 36, 32), torch.float64),
    ((3, 3, 33, 34), torch.float32),
]
# YIQ variants agree within this (pixel units, [0, 1]): BT.601's Y with the 1953 FCC rounding
# (0.30, 0.59, 0.11), 3-decimal I and Q rows, or a published 3-decimal inverse, differ from
# stylelib.color's by up to ~0.006; a wrong luma (BT.709, the mean) by ~0.1.
LUMINANCE_TOL = 0.01
BT601 = (0.299, 0.587, 0.114)


def _luminance_inputs(shape, dtype, seed) -> tuple[Tensor, Tensor]:
    """A stylised image in [0, 1] and a colourful content photo: saturated primaries (which
    leave the RGB cube when given another luminance) and a flat patch."""
    stylised = randn(shape, dtype, seed).sigmoid()
    content = randn(shape, dtype, seed + 50).sigmoid()
    primaries = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=dtype)
    for i, rgb in enumerate(primaries):
        content[:, :, 4 * i : 4 * i + 4, :6] = rgb.view(1, 3, 1, 1)
    content[:, :, -5:, -5:] = 0.5
    stylised[:, :, :2, :] = 1.0  # white strokes over the primaries
    return stylised, content


def luminance_reference(stylised: Tensor, content: Tensor) -> Tensor:
    """The stylised Y with the content's I and Q, back to RGB, clamped to [0, 1]
    (:func:`stylelib.color.combine_luminance` for images of one size)."""
    iq = color.rgb_to_yiq(content)[:, 1:]
    return color.yiq_to_rgb(torch.cat([color.luminance(stylised), iq], dim=1)).clamp(0, 1)


def _convert(matrix: Tensor, x: Tensor) -> Tensor:
    return torch.einsum("kc,bchw->bkhw", matrix.to(x), x)


def _with_luma(stylised: Tensor, content: Tensor, y_s, y_c) -> Tensor:
    """Content + (y_s·stylised − y_c·content) on every channel: a transfer with other luma
    weights for either image (with I and Q orthogonal to grey, that is what YIQ gives)."""
    ys = _convert(torch.tensor([y_s], dtype=torch.float64), stylised)
    yc = _convert(torch.tensor([y_c], dtype=torch.float64), content)
    return (content + ys - yc).clamp(0, 1)


def _luminance_known(stylised: Tensor, content: Tensor) -> list[tuple[Tensor, str]]:
    m = color._RGB_TO_YIQ
    yiq_c, yiq_s = _convert(m, content), _convert(m, stylised)
    t = m.T
    mixed = torch.cat([_convert(t[:1], stylised), _convert(t[1:], content)], 1)
    transposed = _convert(torch.linalg.inv(t), mixed).clamp(0, 1)
    bt709, mean = (0.2126, 0.7152, 0.0722), (1 / 3, 1 / 3, 1 / 3)
    yiq_kept = torch.cat([yiq_s[:, :1], yiq_c[:, 1:]], 1)
    return [
        (
            luminance_reference(content, stylised),
            "the roles are swapped: take Y from the stylised image and I, Q from the content",
        ),
        (stylised, "it returns the stylised image: replace its colours (I, Q) by the content's"),
        (content, "it returns the content image: take the luminance Y from the stylised image"),
        (
            _with_luma(stylised, content, mean, mean),
            "Y is the plain mean of R, G, B: YIQ's luminance is Y = 0.299 R + 0.587 G + 0.114 B",
        ),
        (
            _with_luma(stylised, content, mean, BT601),
            "the stylised Y is the plain mean of R, G, B: use Y = 0.299 R + 0.587 G + 0.114 B",
        ),
        (
            _with_luma(stylised, content, bt709, bt709),
            "Y has BT.709's (HDTV) weights 0.2126, 0.7152, 0.0722: YIQ's Y is 0.299 R + "
            "0.587 G + 0.114 B",
        ),
        (
            transposed,
            "the YIQ matrix is applied transposed: each output channel k is Σ_c M[k, c] x_c "
            "(einsum 'kc,bchw->bkhw', or x.permute(0, 2, 3, 1) @ M.T)",
        ),
        (
            _convert(m.T, yiq_kept).clamp(0, 1),
            "the way back uses Mᵀ, which is not M's inverse: convert back with torch.linalg.inv(M)",
        ),
        (yiq_kept.clamp(0, 1), "it returns YIQ: convert back to RGB with the inverse matrix"),
    ]


def _luminance_shape(got: tuple, expected: tuple) -> str:
    b, c, h, w = expected
    if got == (b, h, w, c):
        return (
            f"it returns channels-last {got}: move the channels back to axis 1 with "
            ".permute(0, 3, 1, 2)"
        )
    if got == (b, c, w, h):
        return f"it returns {got}, H and W swapped: undo .permute(0, 2, 3, 1) with (0, 3, 1, 2)"
    return f"it returns shape {got}, expected {expected}"


_AXIS_HINT = (
    "the channels are axis 1 of (B, 3, H, W): apply the 3x3 matrix along it "
    "(torch.einsum('kc,bchw->bkhw', M, x)), or move them last with .permute(0, 2, 3, 1) "
    "and back with .permute(0, 3, 1, 2)"
)


def _run_luminance(fn: Callable, args: tuple) -> object:
    try:
        return run(fn, "luminance_transfer", LUMINANCE_ARGS, args, forbid=LUMINANCE_FORBID)
    except AssertionError as e:
        cause = e.__cause__
        text = str(cause or "")
        if cause is not None and any(
            key in text for key in ("shapes cannot be multiplied", "einsum", "must match the size")
        ):
            where = describe(LUMINANCE_ARGS, args)
            raise AssertionError(
                f"{raised('luminance_transfer', cause)} (on {where}); hint: {_AXIS_HINT}."
            ) from None
        raise


def _luminance_problem(out: object, stylised: Tensor, content: Tensor) -> str | None:
    if not isinstance(out, Tensor):
        kind = "a numpy array" if type(out).__module__ == "numpy" else type(out).__name__
        return f"it returns {kind}: return a torch tensor (B, 3, H, W)"
    if out.shape != content.shape:
        return _luminance_shape(tuple(out.shape), tuple(content.shape))
    if out.dtype != content.dtype:
        return f"it returns {out.dtype} for {content.dtype} images: keep the input's dtype"
    low, high = out.min().item(), out.max().item()
    if low < -1e-6 or high > 1 + 1e-6:
        return (
            f"it returns values from {low:.3g} to {high:.3g}: a colour photo's I and Q with "
            "another Y can leave the RGB cube, so clamp the result to [0, 1]"
        )
    expected = luminance_reference(stylised, content)
    error = (out.double() - expected.double()).abs().max().item()
    if error <= LUMINANCE_TOL:
        return None
    for value, message in _luminance_known(stylised.double(), content.double()):
        if (out.double() - value.double()).abs().max().item() <= LUMINANCE_TOL:
            return message
    return (
        f"wrong values: off by up to {error:.3g}: keep the content's I and Q, take the "
        "stylised image's Y (Y = 0.299 R + 0.587 G + 0.114 B), convert back with the inverse "
        "matrix and clamp to [0, 1]"
    )


def check_luminance_transfer(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(stylised, content) -> (B, 3, H, W)``: the stylised Y with the content's I, Q.

    Both inputs are ``(B, 3, H, W)`` RGB in [0, 1] of one size. The check expects NTSC YIQ
    with BT.601's luminance Y = 0.299 R + 0.587 G + 0.114 B and I, Q rows that vanish on
    grey, as :mod:`stylelib.color` uses; any such matrix (skimage's ``rgb2yiq``, 3-decimal
    rows, YUV, a published 3-decimal inverse, the 1953 rounding 0.30/0.59/0.11) agrees within
    :data:`LUMINANCE_TOL`, and is accepted. The result is clamped to [0, 1].
    """
    if not callable(fn):
        raise AssertionError(f"expected your luminance_transfer function, got {type(fn).__name__}")
    for index, (shape, dtype) in enumerate(LUMINANCE_CASES):
        stylised, content = _luminance_inputs(shape, dtype, SEED + index)
        out = _run_luminance(fn, (stylised, content))
        problem = _luminance_problem(out, stylised, content)
        if problem:
            where = describe(LUMINANCE_ARGS, (stylised, content))
            raise AssertionError(f"luminance_transfer: {problem} (on {where}).")
    shape, dtype = LUMINANCE_CASES[1]
    check_device(
        fn,
        "luminance_transfer",
        LUMINANCE_ARGS,
        _luminance_inputs(shape, dtype, SEED),
        forbid=LUMINANCE_FORBID,
        reference=luminance_reference,
    )
    print(
        f"✓ luminance_transfer (YIQ, Gatys et al. 2016b): correct on {len(LUMINANCE_CASES)} "
        "inputs, batched, clamped, on the inputs' device"
    )


__all__ = ["check_gamma_loss", "check_luminance_transfer"]
