"""Checks of lesson 03's exercise: the whole Gatys loop, written top to bottom.

The answer is ``gatys_transfer(features_fn, content, style, content_layers, style_layers,
alpha, beta, steps)``: compute the targets once (the content image's features P^l and the style
image's Gram matrices A^l, detached), start from a copy of the content image, and run
``steps`` L-BFGS iterations (``torch.optim.LBFGS([x], max_iter=1)``, one iteration per step)
on L = α Σ_l ½ Σ (F^l − P^l)² + β Σ_l w_l E_l, with E_l = Σ (G^l − A^l)² / (4 N_l² M_l²)
and w_l = 1/L over the style layers (Gatys, Ecker, Bethge, "Image Style Transfer Using
Convolutional Neural Networks", CVPR 2016, Eqs. 1, 3, 4, 5, 7), clamping the pixels to
[0, 1] after every step, and return the image, detached.

The check runs the answer and a reference loop on a tiny seeded network (four 3x3
convolutions, no VGG weights needed) and tiny images, in float64, and compares the images;
when they differ it runs the reference with each known mistake to name it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib import gatys, losses

from .harness import SEED, one_thread, raised, run

# The library's loop and losses are the reference answers: an answer may not call them.
FORBID = (gatys, losses)
LAYERS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2")  # the tiny network's, in order
ARG_NAMES = (
    "features_fn",
    "content",
    "style",
    "content_layers",
    "style_layers",
    "alpha",
    "beta",
    "steps",
)
# (content/style shape, content layers, style layers, alpha, beta, steps): H ≠ W, one or two
# content layers, two or three style layers (w_l = 1/L differs from the paper's 1/5), and
# weights under which both terms move the image and unclamped pixels leave [0, 1].
CASES = [
    ((1, 3, 12, 10), ("relu2_2",), ("relu1_1", "relu2_1"), 1.0, 1e2, 6),
    ((1, 3, 10, 14), ("relu1_2", "relu2_1"), ("relu1_1", "relu1_2", "relu2_2"), 0.5, 3e2, 4),
]
LIMIT = 20.0  # seconds: the reference takes milliseconds; a busy grader is slower
ATOL = 1e-7  # float64 images in [0, 1]: the same loop agrees to ~1e-12


class _TinyNet:
    """``image (B, 3, H, W) -> {layer: features}``: four seeded 3x3 convolutions with ReLU,
    average pooling before block 2. Its weights require grad, as a network's do unless frozen,
    so that a target left attached to the graph shows (``target_grads`` counts it)."""

    def __init__(self, dtype: torch.dtype = torch.float64) -> None:
        generator = torch.Generator().manual_seed(SEED)
        self.params = []
        for c_in, c_out in ((3, 4), (4, 4), (4, 6), (6, 6)):
            w = torch.randn(c_out, c_in, 3, 3, generator=generator, dtype=dtype)
            b = torch.randn(c_out, generator=generator, dtype=dtype)
            self.params.append(
                ((w / math.sqrt(9 * c_in)).requires_grad_(), (0.1 * b).requires_grad_())
            )
        self.images: list[Tensor] = []  # every image x the answer evaluates (requires grad)
        self.targets: list[Tensor] = []  # every other image: the targets' sources
        self.target_grads = 0  # backward passes that reached a target's features

    def __call__(self, image: Tensor) -> dict[str, Tensor]:
        out, x = {}, image
        for name, (w, b) in zip(LAYERS, self.params, strict=True):
            if name == "relu2_1":
                x = F.avg_pool2d(x, 2)
            x = torch.relu(F.conv2d(x, w, b, padding=1))
            out[name] = x
        if image.requires_grad:
            self.images.append(image.detach().clone())
            return out
        self.targets.append(image.detach().clone())
        if torch.is_grad_enabled():  # a target computed with the graph kept
            for f in out.values():
                f.register_hook(self._reached)
        return out

    def __repr__(self) -> str:  # in messages: features_fn=<a 4-layer network>
        return "<a 4-layer network>"

    def _reached(self, grad: Tensor) -> None:
        self.target_grads += 1


def _images(case: tuple) -> tuple[Tensor, Tensor]:
    """Content with saturated pixels (0 and 1) and a flat patch, and a style, in [0, 1]."""
    shape = case[0]
    generator = torch.Generator().manual_seed(SEED + shape[2])
    content = torch.rand(shape, generator=generator, dtype=torch.float64)
    content[..., :2, :2] = 1.0
    content[..., -2:, -2:] = 0.0
    content[..., 4:7, 3:6] = 0.5
    style = torch.rand(shape, generator=generator, dtype=torch.float64).pow(2)
    return content, style


# --- the reference loop, and the same loop with each known mistake ---------------------------


def _loop(net, content, style, content_layers, style_layers, alpha, beta, steps, **mistake):
    """The reference loop; ``mistake`` switches one known error on. Returns the image and the
    images it evaluated."""
    opt = mistake.get
    steps += opt("extra_steps", 0)
    if opt("swap"):
        alpha, beta = beta, alpha
    with torch.no_grad():
        p, a = net(content), net(style)
    targets = {n: p[n] for n in content_layers}
    grams = {n: losses.gram_matrix(a[n]) for n in style_layers}
    weight = opt("weight", 1.0 / len(style_layers))
    x = content.clone().requires_grad_(True)

    def new_optimizer():
        return torch.optim.LBFGS([x], max_iter=opt("max_iter", 1))

    optimizer, seen = new_optimizer(), []

    def closure():
        if not opt("accumulate"):
            optimizer.zero_grad()
        image = x.clamp(0, 1) if opt("clamp") == "forward" else x
        seen.append(x.detach().clone())
        f = net(image)
        content_term = sum(_content_term(f[n], targets[n], opt) for n in content_layers)
        style_term = sum(weight * _style_term(f[n], grams[n], opt) for n in style_layers)
        loss = alpha * content_term + beta * style_term
        loss.backward()
        return loss

    for _ in range(steps):
        if opt("new_optimizer"):
            optimizer = new_optimizer()
        optimizer.step(closure)
        if opt("clamp") in (None, "each"):
            with torch.no_grad():
                x.clamp_(0, 1)
    out = x.detach()
    return (out if opt("clamp") == "none" else out.clamp(0, 1)), seen


def _content_term(f: Tensor, target: Tensor, opt: Callable) -> Tensor:
    if opt("content_from_x"):
        return (f - f.detach()).pow(2).sum()  # zero: the target follows x
    if opt("content_mean"):
        return (f - target).pow(2).mean()
    return losses.content_loss(f, target) * (2 if opt("no_half") else 1)


def _style_term(f: Tensor, gram: Tensor, opt: Callable) -> Tensor:
    if opt("no_style_norm"):
        return (losses.gram_matrix(f) - gram).pow(2).sum()
    return losses.layer_style_loss(f, gram)


def _mistakes(style_layers: Sequence[str], steps: int) -> list[tuple[dict, str]]:
    """Each known mistake: the switch of :func:`_loop` that makes it, and what to say."""
    n = len(style_layers)
    return [
        (
            {"extra_steps": -1},
            f"it runs {steps - 1} steps instead of steps={steps}: loop range(steps)",
        ),
        (
            {"extra_steps": 1},
            f"it runs {steps + 1} steps instead of steps={steps}: loop range(steps)",
        ),
        (
            {"max_iter": 20},
            "L-BFGS runs up to 20 iterations per step (its default max_iter=20): create it "
            "with torch.optim.LBFGS([x], max_iter=1) so that one step is one iteration",
        ),
        (
            {"new_optimizer": True},
            "a new L-BFGS every step forgets its curvature memory: create the optimiser once, "
            "before the loop",
        ),
        (
            {"clamp": "end"},
            "it clamps the pixels only at the end: clamp x to [0, 1] after every step "
            "(with torch.no_grad(): x.clamp_(0, 1))",
        ),
        (
            {"clamp": "forward"},
            "it clamps inside the loss instead of clamping x itself: after every step, "
            "with torch.no_grad(): x.clamp_(0, 1)",
        ),
        (
            {"accumulate": True},
            "gradients accumulate across evaluations: call optimizer.zero_grad() at the "
            "start of the closure",
        ),
        (
            {"swap": True},
            "α and β are swapped: α weights the content loss, β the style loss (Eq. 7)",
        ),
        (
            {"content_from_x": True},
            "the content term does not pull: its target P^l follows x (recomputed from x?); "
            "compute P^l once from the content image, before the loop",
        ),
        ({"no_half": True}, "the content loss lacks the ½ of Eq. 1: ½ Σ (F − P)²"),
        (
            {"content_mean": True},
            "the content loss is a mean over entries (F.mse_loss's default); Eq. 1 sums: "
            "½ Σ (F − P)²",
        ),
        (
            {"no_style_norm": True},
            "E_l lacks its 1/(4 N_l² M_l²) (Eq. 4), with N_l channels and M_l = H·W positions",
        ),
        ({"weight": 1.0}, f"the style layers are not weighted: w_l = 1/L = 1/{n} (Eq. 5)"),
        (
            {"weight": 0.2},
            f"w_l = 1/5 is the paper's for its five layers: here L = {n}, w_l = 1/{n}",
        ),
    ]


# --- running and diagnosing the answer -------------------------------------------------------


class _Raised(NamedTuple):
    """What the answer raised, kept until the library verdict of :func:`harness.run`."""

    error: Exception


_ERROR_HINTS = {  # a fragment of torch's message -> what it means in this loop
    "does not require grad": "compute the loss on x = content.clone().requires_grad_(True) "
    "itself, not on a detached copy or under torch.no_grad()",
    "non-leaf": "optimise a leaf tensor: x = content.clone().requires_grad_(True)",
    "leaf Variable that requires grad": "clamp x under torch.no_grad(): with torch.no_grad(): "
    "x.clamp_(0, 1)",
    "Double": "keep the images' dtype (float64 here): create tensors with dtype=content.dtype",
    "dtype": "keep the images' dtype (float64 here): create tensors with dtype=content.dtype",
    "closure": "L-BFGS needs a closure: optimizer.step(closure)",
}


def _run(fn: Callable, net: _TinyNet, args: tuple) -> object:
    """The answer's image, with the loop's usual exceptions said in its terms.

    An exception is caught inside the call and reported after the library verdict, so that
    an answer which calls the library is told so even when the library raises.
    """
    steps, shape = args[-1], tuple(args[1].shape)

    def shielded(*answer_args):
        try:
            return fn(*answer_args)
        except Exception as e:  # noqa: BLE001 - reported below, after the library verdict
            return _Raised(e)

    slow = (
        f"the reference takes milliseconds for {steps} steps on a {shape[2]}x{shape[3]} image "
        "and a 4-convolution network: does L-BFGS run far more than one iteration per step?"
    )
    out = run(shielded, "gatys_transfer", ARG_NAMES, args, forbid=FORBID, limit=LIMIT, slow=slow)
    if not isinstance(out, _Raised):
        return out
    text = str(out.error)
    if net.target_grads or "backward through the graph a second time" in text:
        raise AssertionError(_TARGETS) from out.error
    hint = next((h for key, h in _ERROR_HINTS.items() if key in text), "")
    raise AssertionError(
        f"{raised('gatys_transfer', out.error)} (on {shape[2]}x{shape[3]} images, {steps} steps)"
        + (f"; hint: {hint}." if hint else ".")
    ) from out.error


_TARGETS = (
    "gatys_transfer back-propagates into its targets (the content features or the style "
    "Grams): compute them once, before the loop, under torch.no_grad() or with .detach()."
)


def _result_problem(out: object, content: Tensor) -> str | None:
    """What is wrong with the returned object itself, or None."""
    if not isinstance(out, Tensor):
        kind = "a numpy array" if type(out).__module__ == "numpy" else type(out).__name__
        return f"it returns {kind}: return the image, a torch tensor (1, 3, H, W)"
    if out.shape != content.shape:
        return f"it returns shape {tuple(out.shape)}, expected the content's {tuple(content.shape)}"
    if out.dtype != content.dtype:
        return f"it returns {out.dtype} for {content.dtype} images: keep the content's dtype"
    if out is content or out.data_ptr() == content.data_ptr():
        return "it returns the content tensor itself: optimise a copy, x = content.clone()"
    if not torch.isfinite(out).all():
        return "the image holds NaN or Inf: did the loss blow up (a weight or a step too large)?"
    if out.requires_grad:
        return (
            "it returns a tensor that requires grad (the optimised variable itself?): "
            "return the image detached, x.detach()"
        )
    return None


def _first_step_problem(images: list[Tensor], content: Tensor, style: Tensor) -> str | None:
    """Where the loop starts and how its first step moves: noise, the style, Adam."""
    if not images:
        return (
            "features_fn never sees an image that requires grad: optimise "
            "x = content.clone().requires_grad_(True) and compute the loss on x"
        )
    start = images[0]
    if start.shape != content.shape or not torch.allclose(start, content, atol=ATOL, rtol=0):
        if start.shape == style.shape and torch.allclose(start, style, atol=ATOL, rtol=0):
            return "it starts from the style image: start from a copy of the content image"
        return (
            "it starts from another image than the content (white noise?): start from a "
            "copy of the content image, x = content.clone()"
        )
    if len(images) < 2:
        return None
    step = (images[1] - start).abs()
    inside = (images[1] > 0) & (images[1] < 1) & (step > 0)
    if inside.sum() >= 8:
        moves = step[inside]
        middle = moves.median()
        if ((moves - middle).abs() <= 1e-3 * middle).float().mean() > 0.9:
            return (
                "its first step moves every pixel by the same amount, as Adam's does: use "
                "torch.optim.LBFGS([x], max_iter=1)"
            )
    return None


def _holds(images: list[Tensor], wanted: Tensor) -> bool:
    """Whether ``wanted`` (1, 3, H, W) is one of the images, or of their batch entries."""
    return any(
        image.shape[1:] == wanted.shape[1:] and _close_any(image, wanted) for image in images
    )


def _close_any(batch: Tensor, wanted: Tensor) -> bool:
    return any(not _differs(entry.unsqueeze(0), wanted) for entry in batch)


def _target_problem(net: _TinyNet, out: Tensor, content: Tensor, style: Tensor) -> str | None:
    """The style image must go through the network, and the image must move."""
    if not _holds(net.targets, style):
        return (
            "the style image never goes through features_fn: compute the targets A^l = "
            "Gram(features_fn(style)[l]) once, before the loop (not from the content or x)"
        )
    if not _differs(out, content):
        return (
            "the image never moves from the content image. There the content loss is 0, so "
            "only the style term can move it: is it β Σ w_l E_l with Gatys' Gram F Fᵀ (not "
            "÷ C·H·W) of the style image's features?"
        )
    return None


def _differs(out: Tensor, expected: Tensor) -> bool:
    return not (out - expected).abs().max().item() <= ATOL  # NaN differs too


def _diagnose(out: Tensor, images: list[Tensor], args: tuple, ref_images: list[Tensor]) -> str:
    """Name the mistake that makes ``out``, or say where the loop leaves the reference's."""
    _, content, style, content_layers, style_layers, alpha, beta, steps = args
    for mistake, message in _mistakes(style_layers, steps):
        if mistake.get("extra_steps", 0) + steps < 0:
            continue
        variant, _ = _loop(_TinyNet(), content, style, *args[3:], **mistake)
        if not _differs(out, variant):
            return message
    agree = 0
    for got, expected in zip(images, ref_images, strict=False):
        if got.shape != expected.shape or _differs(got, expected):
            break
        agree += 1
    where = (
        f"its first {agree} evaluated images agree with the reference loop's, then they differ"
        if agree > 1
        else "its first step already differs from the reference loop's"
    )
    return (
        f"{where}: check the loss (½ Σ (F − P)², E_l ÷ 4 N_l² M_l², w_l = 1/L, Eq. 7), "
        "LBFGS(max_iter=1) created once, zero_grad in the closure, a clamp after every step"
    )


def _evaluations_problem(got: int, expected: int, steps: int) -> str:
    """The image is right but the loss was evaluated another number of times."""
    return (
        f"the image is right, but the loss is evaluated {got} times in {steps} steps where "
        f"L-BFGS with max_iter=1 evaluates it {expected} times (once per step): a line search "
        "(line_search_fn='strong_wolfe') or an extra loss evaluation per step costs a forward "
        "and backward pass each; use torch.optim.LBFGS([x], max_iter=1) and one closure call "
        "per step"
    )


def check_gatys_loop(fn: Callable[..., Tensor]) -> None:
    """Check ``fn(features_fn, content, style, content_layers, style_layers, alpha, beta,
    steps) -> image`` against the reference loop (see the module's docstring).

    On each case: the targets must not take gradients, the result must be a new detached
    ``(1, 3, H, W)`` tensor in [0, 1], the loop must start from the content image and take
    L-BFGS steps, and the image must equal the reference's within 1e-7 (float64).
    """
    if not callable(fn):
        raise AssertionError(f"expected your gatys_transfer function, got {type(fn).__name__}")
    with one_thread():
        for case in CASES:
            _check_case(fn, case)
    print(
        f"✓ gatys_transfer: correct on {len(CASES)} transfers (targets detached, L-BFGS from "
        "the content image, pixels clamped after every step, Gatys' normalisations)"
    )


def _check_case(fn: Callable[..., Tensor], case: tuple) -> None:
    """One transfer: run the answer, then diagnose its image."""
    shape, content_layers, style_layers, alpha, beta, steps = case
    content, style = _images(case)
    net = _TinyNet()
    args = (net, content, style, content_layers, style_layers, alpha, beta, steps)
    out = _run(fn, net, args)
    where = f"(on {shape[2]}x{shape[3]} images, {steps} steps, α={alpha:g}, β={beta:g})"
    if net.target_grads:
        raise AssertionError(_TARGETS)
    problem = _result_problem(out, content)
    problem = problem or _first_step_problem(net.images, content, style)
    problem = problem or _target_problem(net, out, content, style)
    if not problem and (out.min().item() < 0 or out.max().item() > 1):
        problem = (
            f"the image has pixels outside [0, 1] ({out.min().item():.3g} to "
            f"{out.max().item():.3g}): clamp x to [0, 1] after every step"
        )
    if not problem:
        expected, ref_images = _loop(_TinyNet(), content, style, *args[3:])
        if _differs(out, expected):
            problem = _diagnose(out, net.images, args, ref_images)
        elif len(net.images) != len(ref_images):
            problem = _evaluations_problem(len(net.images), len(ref_images), steps)
    if problem:
        raise AssertionError(f"gatys_transfer: {problem} {where}.")


__all__ = ["check_gatys_loop"]
