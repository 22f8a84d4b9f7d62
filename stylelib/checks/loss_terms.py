"""Checks of the loss exercises: the Gram matrix and the terms of the style transfer loss.

Lesson 02's Gram matrix, content loss, layer style loss and style loss (Gatys et al.'s 2015
preprint, "A Neural Algorithm of Artistic Style", Eq. 1-5; lesson 05 checks its Gram with
Johnson's normalisation), and lesson 00's total variation and total loss (the preprint's
Eq. 7), each against its function in :mod:`stylelib.losses`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .. import losses
from .harness import Exercise, Factor, batch_size, check_exercise, randn

# The library's losses are the reference answers: an answer may not call them.
FORBID = (losses,)

# Timing inputs (float32): vectorised, milliseconds; as a Python loop, far beyond
# harness.SLOW_SECONDS.
TIMING_FEATURES = (2, 64, 48, 40)  # Gram exercises: a loop over G_ij's terms is ~1.6·10⁷ steps
TIMING_ELEMENTWISE = (2, 128, 96, 80)  # content loss: a loop over elements is ~2·10⁶ steps
TIMING_IMAGE = (2, 3, 512, 512)  # total variation: a loop over pixels is ~1.6·10⁶ steps

# (B, C, H, W): one image first; B = 3 next, so that summing over the batch (a factor 3) is
# not mistaken for a forgotten ½; H ≠ W and C different everywhere; one float32 input.
FEATURE_CASES = [
    ((1, 3, 4, 5), torch.float64),
    ((3, 5, 6, 4), torch.float64),
    ((2, 7, 3, 8), torch.float64),
    ((2, 6, 5, 7), torch.float32),
]


def _shape_factors(b: int, c: int, h: int, w: int) -> list[Factor]:
    """Factors behind common normalisation mistakes for features (B, C, H, W)."""
    return [
        Factor(
            "B",
            b,
            large="average over the batch (.mean() of per-image values), don't sum",
            small="don't divide by the batch size (x.numel() counts every image of the batch)",
        ),
        Factor("C·H·W", c * h * w),
        Factor("H·W", h * w),
        Factor("C", c),
        Factor("B·C·H·W", b * c * h * w),
        Factor("2", 2),
        Factor("4", 4),
    ]


def _features(shape, dtype, seed, grad):
    return (randn(shape, dtype, seed, grad),)


def _title(name: str, normalization: str) -> str:
    return f"{name} ({'Johnson' if normalization == 'johnson' else 'Gatys'})"


def check_gram_matrix(fn: Callable[[Tensor], Tensor], normalization: str = "gatys") -> None:
    """Check ``fn(features (B, C, H, W)) -> (B, C, C)`` against :func:`losses.gram_matrix`.

    ``normalization="gatys"``: G = F Fᵀ (Gatys Eq. 3); ``"johnson"``: F Fᵀ / (C·H·W).
    """
    losses._check_normalization(normalization)
    if normalization == "johnson":
        hints = {"large": "divide by C·H·W (Johnson Sec. 3.2)", "small": "divide only once"}
    else:
        hints = {"small": "the Gatys Gram F Fᵀ is not normalised (÷ C·H·W is Johnson's)"}

    def factors(args):
        b, c, h, w = args[0].shape
        own = [Factor("C·H·W", c * h * w, **hints)]
        if normalization == "johnson":
            own.append(Factor("C", c, large="divide by C·H·W, not only by H·W"))
        return [*own, *_shape_factors(b, c, h, w)]

    def shape_hint(got, args):
        b, c, h, w = args[0].shape
        if got in ((b, h * w, h * w), (h * w, h * w)):
            return (
                f"shape {got}: you computed Fᵀ F over positions (M × M, M = H·W = {h * w}); "
                f"the Gram matrix is F Fᵀ over channels, C × C with C = {c}"
            )
        if got == (c, c):
            return (
                f"shape {got}: the batch dimension is missing; return one C × C Gram per "
                f"image, shape (B, C, C) = {(b, c, c)}, e.g. with torch.bmm"
            )
        if got == (b * c, b * c):
            return f"shape {got}: the batch is mixed into the channels; use (B, C, H·W) and bmm"
        return None

    def known(args):
        first = losses.gram_matrix(args[0][:1], normalization).expand(args[0].shape[0], -1, -1)
        return [(first, "every Gram is the first image's: compute one per image of the batch")]

    def symmetric(out):
        if torch.allclose(out, out.transpose(-1, -2), rtol=1e-4, atol=1e-6):
            return None
        return (
            "your Gram matrices are not symmetric, but G = F Fᵀ is: multiply F by its "
            "transpose (.transpose(1, 2) or .mT; a reshape/view to (H·W, C) is not one)"
        )

    ex = Exercise(
        "gram_matrix",
        _title("gram_matrix", normalization),
        ("features",),
        _features,
        lambda f: losses.gram_matrix(f, normalization),
        FEATURE_CASES,
        TIMING_FEATURES,
        factors,
        known,
        shape_hint,
        symmetric,
    )
    check_exercise(fn, ex._replace(forbid=FORBID))


def _features_and_target(shape, dtype, seed, grad):
    return randn(shape, dtype, seed, grad), randn(shape, dtype, seed + 100)


def check_content_loss(
    fn: Callable[[Tensor, Tensor], Tensor], normalization: str = "gatys"
) -> None:
    """Check ``fn(features, target) -> scalar`` against :func:`losses.content_loss`.

    ``"gatys"``: ½ Σ (F − P)² (Eq. 1); ``"johnson"``: Σ (F − P)² / (C·H·W); batch mean.
    """
    losses._check_normalization(normalization)
    johnson = normalization == "johnson"

    def factors(args):
        b, c, h, w = args[0].shape
        if johnson:
            own = [
                Factor("C·H·W", c * h * w, large="divide by C·H·W (Johnson Sec. 3.2)"),
                Factor("2", 2, small="Johnson's feature loss has no ½ (that is Gatys's)"),
                Factor("C", c, large="divide by C·H·W, not only by H·W"),
            ]
        else:
            own = [
                Factor("2", 2, large="you forgot the ½ of Gatys Eq. 1, L = ½ Σ (F − P)²"),
                Factor("C·H·W", c * h * w, small="you used mean instead of sum (Eq. 1 sums)"),
            ]
        return [*own, *_shape_factors(b, c, h, w)]

    def known(args):
        features, target = args
        first = losses.content_loss(features[:1], target[:1], normalization)
        mistakes = [(first, "only the first image of the batch is used")]
        if not johnson:
            mean = losses.content_loss(features, target, "johnson")
            mistakes.append((mean, "you used mean instead of sum and no ½: ½ Σ (F − P)²"))
        return mistakes

    ex = Exercise(
        "content_loss",
        _title("content_loss", normalization),
        ("features", "target"),
        _features_and_target,
        lambda f, p: losses.content_loss(f, p, normalization),
        FEATURE_CASES,
        TIMING_ELEMENTWISE,
        factors,
        known,
    )
    check_exercise(fn, ex._replace(forbid=FORBID))


def _features_and_gram(shape, dtype, seed, grad):
    return randn(shape, dtype, seed, grad), losses.gram_matrix(randn(shape, dtype, seed + 100))


def check_layer_style_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(features, target_gram) -> scalar``: E_l = Σ (G − A)² / (4 N² M²), Gatys Eq. 4.

    ``target_gram`` is the Gatys Gram of other features of the same shape.
    """

    def factors(args):
        b, n, h, w = args[0].shape
        m = h * w
        sizes = f"N = C = {n}, M = H·W = {m}"
        return [
            Factor(
                "4·N²·M²", 4 * n**2 * m**2, large=f"divide by 4 N² M² as in Gatys Eq. 4 ({sizes})"
            ),
            Factor("N²·M²", n**2 * m**2, large=f"divide by 4 N² M², not only N² M² ({sizes})"),
            Factor("4", 4, large="you forgot the 4 in 1/(4 N² M²)"),
            Factor("N·M", n * m, large=f"square N and M: divide by 4 N² M² ({sizes})"),
            Factor("4·N·M", 4 * n * m, large=f"you divided by N·M; Eq. 4 has 4 N² M² ({sizes})"),
            Factor("M²", m**2, large=f"divide by M² as well ({sizes})"),
            Factor("N²", n**2, small="you averaged the N × N entries: sum them (.sum())"),
            *_shape_factors(b, n, h, w),
        ]

    def known(args):
        first = losses.layer_style_loss(args[0][:1], args[1][:1])
        return [(first, "only the first image of the batch is used")]

    ex = Exercise(
        "layer_style_loss",
        "layer_style_loss (Gatys)",
        ("features", "target_gram"),
        _features_and_gram,
        losses.layer_style_loss,
        FEATURE_CASES,
        TIMING_FEATURES,
        factors,
        known,
    )
    check_exercise(fn, ex._replace(forbid=FORBID))


# Style layers (C, H, W) in VGG order with unequal weights, and a content layer that sits
# among them in ``features`` but is no style layer: a solution must loop over target_grams.
STYLE_LAYERS = {"conv1_1": (3, 8, 6), "conv2_1": (5, 6, 4), "conv3_1": (7, 4, 3)}
CONTENT_LAYER = "conv2_2", (6, 6, 4)
STYLE_WEIGHTS = {"conv1_1": 0.5, "conv2_1": 2.0, "conv3_1": 0.25}
# (batch, with the content layer in features, dicts in different orders)
STYLE_CASES = [
    ((1, False, False), torch.float64),
    ((3, True, False), torch.float64),
    ((2, False, True), torch.float64),
    ((2, True, True), torch.float32),
]


def _style_inputs(case, dtype, seed, grad):
    batch, with_content, shuffled = case
    shapes = dict(STYLE_LAYERS)
    if with_content:
        shapes = {"conv1_1": shapes["conv1_1"], "conv2_1": shapes["conv2_1"]}
        shapes |= {CONTENT_LAYER[0]: CONTENT_LAYER[1], "conv3_1": STYLE_LAYERS["conv3_1"]}
    features = {
        name: randn((batch, *shape), dtype, seed + i, grad)
        for i, (name, shape) in enumerate(shapes.items())
    }
    grams = {
        name: losses.gram_matrix(randn((batch, *shape), dtype, seed + 100 + i))
        for i, (name, shape) in enumerate(STYLE_LAYERS.items())
    }
    weights = dict(STYLE_WEIGHTS)
    if shuffled:
        features = dict(reversed(features.items()))
        weights = {name: weights[name] for name in ("conv3_1", "conv1_1", "conv2_1")}
    return features, grams, weights


def check_style_loss(fn: Callable[[dict, dict, dict], Tensor]) -> None:
    """Check ``fn(features, target_grams, layer_weights) -> scalar`` = Σ_l w_l E_l (Gatys Eq. 5).

    ``features`` may hold more layers than ``target_grams`` (the content layer), and the dicts
    need not list the layers in the same order.
    """

    def known(args):
        features, grams, weights = args
        names = list(grams)
        e = [losses.layer_style_loss(features[n], grams[n]) for n in names]
        w = [weights[n] for n in names]
        norm = [4 * features[n][0, 0].numel() ** 2 * features[n].shape[1] ** 2 for n in names]
        raw = [e_l * n_l for e_l, n_l in zip(e, norm, strict=True)]
        weighted = [w_l * e_l for w_l, e_l in zip(w, e, strict=True)]
        by_position = [w_l * e_l for w_l, e_l in zip(weights.values(), e, strict=False)]
        return [
            (sum(e), "you forgot the layer weights: L_style = Σ_l w_l E_l"),
            (sum(e) / len(e), "you averaged the layers instead of the weighted sum Σ_l w_l E_l"),
            (sum(weighted) / len(e), "you averaged instead of the weighted sum Σ_l w_l E_l"),
            (weighted[0], "only the first layer is used: sum w_l E_l over every layer"),
            (weighted[-1], "only the last layer counts: accumulate, loss = loss + w_l E_l"),
            (
                sum(w_l * r for w_l, r in zip(w, raw, strict=True)),
                "wrong per-layer normalisation: each E_l has its own 1/(4 N_l² M_l²), Eq. 4",
            ),
            (
                sum(w_l * r for w_l, r in zip(w, raw, strict=True)) / norm[0],
                "wrong per-layer normalisation: you used the first layer's N and M everywhere",
            ),
            (sum(by_position), "look each weight up by name, layer_weights[name], not by order"),
        ]

    def factors(args):
        return [
            Factor("4", 4, large="you forgot the 4 in each layer's 1/(4 N_l² M_l²)"),
            Factor("B", batch_size(args), large="average over the batch, don't sum"),
            Factor("2", 2),
        ]

    ex = Exercise(
        "style_loss",
        "style_loss (Gatys)",
        ("features", "target_grams", "layer_weights"),
        _style_inputs,
        losses.style_loss,
        STYLE_CASES,
        None,
        factors,
        known,
    )
    check_exercise(fn, ex._replace(forbid=FORBID))


IMAGE_CASES = [
    ((1, 3, 5, 7), torch.float64),
    ((3, 3, 6, 4), torch.float64),
    ((2, 1, 8, 9), torch.float64),
    ((2, 3, 7, 5), torch.float32),
]
TV_FORMULAS = {
    "squared": "Σ Δ_h² + Σ Δ_w²",
    "l1": "Σ |Δ_h| + Σ |Δ_w|",
    "isotropic": "Σ sqrt(Δ_h² + Δ_w²)",
}


def _image(shape, dtype, seed, grad):
    return (randn(shape, dtype, seed).sigmoid().requires_grad_(grad),)  # in (0, 1)


def _tv_along(image: Tensor, dims: Sequence[int], kind: str, wrap: bool = False) -> Tensor:
    """An anisotropic TV over any dims (the value of a mistake), batch mean as in the library."""
    total = 0
    for d in dims:
        diff = image.roll(-1, d) - image if wrap else image.diff(dim=d)
        total = total + (diff.pow(2) if kind == "squared" else diff.abs()).flatten(1).sum(1)
    return total.mean()


def _tie_slack(args: tuple) -> list[Tensor]:
    """How far the gradient of the L1 TV may be from the library's at each pixel: |d| has the
    subdifferential [-1, 1] where d = 0, and torch's .abs() picks 0; a pixel in k tied pairs
    may be off by up to k (÷ B, the batch mean). Only the flat patch of the hard input has ties.
    """
    image = args[0].detach()
    count = torch.zeros_like(image)
    ties_h = (image.diff(dim=2) == 0).to(image.dtype)
    ties_w = (image.diff(dim=3) == 0).to(image.dtype)
    count[:, :, 1:, :] += ties_h
    count[:, :, :-1, :] += ties_h
    count[:, :, :, 1:] += ties_w
    count[:, :, :, :-1] += ties_w
    return [count / image.shape[0]]


def check_total_variation(fn: Callable[[Tensor], Tensor], kind: str = "squared") -> None:
    """Check ``fn(image (B, C, H, W)) -> scalar`` against :func:`losses.total_variation`.

    For ``"l1"``, at equal neighbours (the hard input's flat patch) any subgradient of |Δ| is
    accepted (``torch.where(d >= 0, d, -d)`` gives +1 there, ``.abs()`` 0): each pixel's
    gradient may differ from the library's by up to its number of tied pairs ÷ B.
    """
    if kind not in losses.TV_KINDS:
        raise ValueError(f"kind must be one of {losses.TV_KINDS}, got {kind!r}")
    formula = TV_FORMULAS[kind]

    def known(args):
        image = args[0]
        mistakes = [
            (losses.total_variation(image, k), f"you computed the {k} TV {TV_FORMULAS[k]}")
            for k in losses.TV_KINDS
            if k != kind
        ]
        if kind == "isotropic":
            d_h = image[:, :, 1:, :-1] - image[:, :, :-1, :-1]
            d_w = image[:, :, :-1, 1:] - image[:, :, :-1, :-1]
            no_eps = (d_h**2 + d_w**2).sqrt().flatten(1).sum(1).mean()
            return mistakes + [
                (
                    no_eps,
                    f"you left out ε: sqrt(Δ_h² + Δ_w² + ε) with ε = {losses.TV_EPS:g} keeps the "
                    "value and the gradient finite where both differences are 0 (a flat patch)",
                )
            ]
        per_dim = [image.diff(dim=d).flatten(1) for d in (2, 3)]
        mean = sum(d.pow(2).mean(1) if kind == "squared" else d.abs().mean(1) for d in per_dim)
        return mistakes + [
            (losses.total_variation(image[:1], kind), "only the first image of the batch is used"),
            (_tv_along(image, [2], kind), f"only differences along H: add both, {formula}"),
            (_tv_along(image, [3], kind), f"only differences along W: add both, {formula}"),
            (_tv_along(image, [1, 2], kind), "differences along the channels: use H and W"),
            (
                _tv_along(image, [2, 3], kind, wrap=True),
                "torch.roll wraps around the border: use slices, x[:, :, 1:] − x[:, :, :-1]",
            ),
            (mean.mean(), f"you used mean instead of sum: {formula}"),
        ]

    ex = Exercise(
        "total_variation",
        f"total_variation ({kind})",
        ("image",),
        _image,
        lambda image: losses.total_variation(image, kind),
        IMAGE_CASES,
        TIMING_IMAGE,
        lambda args: _shape_factors(*args[0].shape),
        known,
    )
    slack = _tie_slack if kind == "l1" else None
    check_exercise(fn, ex._replace(forbid=FORBID, slack=slack))


TOTAL_LOSS_CASES = [  # (L_content, L_style, α, β)
    ((2.0, 3.0, 1.0, 10.0), torch.float64),
    ((0.5, 4.0, 1e-3, 1.0), torch.float64),
    ((7.0, 0.25, 5.0, 1e4), torch.float64),
    ((1.5, 2.5, 1.0, 1e3), torch.float32),
]


def _losses_and_weights(case, dtype, seed, grad):
    content, style, alpha, beta = case
    content, style = (torch.tensor(x, dtype=dtype, requires_grad=grad) for x in (content, style))
    return content, style, alpha, beta


def _weights_by_keyword(fn, content, style, alpha, beta):
    return fn(content, style, alpha=alpha, beta=beta)


def check_total_loss(fn: Callable[[Tensor, Tensor, float, float], Tensor]) -> None:
    """Check ``fn(content_loss, style_loss, alpha, beta) -> scalar`` = α·L_content + β·L_style."""
    eq7 = "L = α·L_content + β·L_style (Gatys et al. 2015, Eq. 7)"
    with contextlib.suppress(TypeError, ValueError):  # builtins may have no signature
        params = inspect.signature(fn).parameters
        if all(
            getattr(params.get(n), "kind", None) == inspect.Parameter.KEYWORD_ONLY
            for n in ("alpha", "beta")
        ):
            fn = functools.partial(_weights_by_keyword, fn)  # e.g. losses.total_loss itself

    def known(args):
        c, s, a, b = args
        return [
            (b * c + a * s, "α and β are swapped: α weights the content loss, β the style loss"),
            ((a / b) * c + s, f"you used the ratio α/β instead of both weights: {eq7}"),
            (c + (b / a) * s, f"you used the ratio β/α instead of both weights: {eq7}"),
            (c + b * s, f"you forgot α: {eq7}"),
            (a * c + s, f"you forgot β: {eq7}"),
            (c + s, f"you forgot both weights: {eq7}"),
        ]

    ex = Exercise(
        "total_loss",
        "total_loss",
        ("content_loss", "style_loss", "alpha", "beta"),
        _losses_and_weights,
        lambda c, s, a, b: losses.total_loss(c, s, alpha=a, beta=b),
        TOTAL_LOSS_CASES,
        None,
        lambda args: [Factor("2", 2, large=f"counted twice? {eq7}", small=f"no ½ or mean: {eq7}")],
        known,
    )
    check_exercise(fn, ex._replace(forbid=FORBID))


__all__ = [
    "check_gram_matrix",
    "check_content_loss",
    "check_layer_style_loss",
    "check_style_loss",
    "check_total_variation",
    "check_total_loss",
]
