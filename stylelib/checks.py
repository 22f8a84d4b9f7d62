"""Autograder checks for the lessons' exercises: a student's function against the library's.

Each ``check_*`` calls the student's function on fresh seeded inputs of several shapes (one
image and batches, H ≠ W, different channel counts, float64 and float32), compares the result
with the library's own function from :mod:`stylelib.losses` (or a closed form for the
arithmetic exercises) and raises ``AssertionError`` with a one- or two-sentence diagnosis of
*what* is wrong: the shape (and the expected one), a constant factor (named when it is a
known one such as 4·N²·M²), asymmetry, an input modified in place, a broken or wrong
gradient, a batch treated as one image, an exception, or a call too slow to be vectorised.
On success it prints one line, e.g.
``✓ gram_matrix (Gatys): correct on 4 inputs, batched, differentiable, fast``.

What the checks do not verify: inputs other than the ones generated here, and the order of
floating-point operations (values are compared with a tolerance relative to their size).

Example (the test cell of an nbgrader exercise)::

    >>> from stylelib import checks
    >>> checks.check_gram_matrix(gram_matrix)  # doctest: +SKIP
    ✓ gram_matrix (Gatys): correct on 4 inputs, batched, differentiable, fast
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import numbers
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from typing import Any, NamedTuple

import torch
from torch import Tensor

from . import losses

# A vectorised answer takes milliseconds on the timing inputs; a Python loop over pixels or
# entries takes tens of seconds (~10 µs a step). 2 s leaves room for a slow CPU and a busy
# grader. Every call of a student's function is interrupted after this long.
SLOW_SECONDS = 2.0
TIMING_FEATURES = (2, 64, 48, 40)  # Gram exercises: a loop over G_ij's terms is ~1.6·10⁷ steps
TIMING_ELEMENTWISE = (2, 128, 96, 80)  # content loss: a loop over elements is ~2·10⁶ steps
TIMING_IMAGE = (2, 3, 512, 512)  # total variation: a loop over pixels is ~1.6·10⁶ steps
RTOL = {torch.float64: 1e-7, torch.float32: 1e-4}  # of the largest expected magnitude
SEED = 2016  # both papers' year; input i of a check uses SEED + i


class Factor(NamedTuple):
    """A constant a wrong answer may be off by: its label, and what to do either way."""

    label: str  # "4·N²·M²"
    value: float
    large: str = ""  # advice when the answer is ``value`` times too large
    small: str = ""  # ... and when it is ``value`` times too small


class _TooSlow(BaseException):
    """Raised by the timer inside the student's code (BaseException: ``except`` misses it)."""


# --- Running the student's function ----------------------------------------------------------


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with SIGALRM.

    Where that is impossible (Windows, a thread other than the main one) or someone else's
    alarm is pending (a grader's own time-out), the block just runs and the caller measures it.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def on_alarm(signum, frame):
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


def _tensors(names: Sequence[str], args: Sequence[Any]) -> Iterator[tuple[str, Tensor]]:
    """Every tensor among the arguments, with a readable path such as ``features['conv1_1']``."""
    for name, value in zip(names, args, strict=True):
        if isinstance(value, Tensor):
            yield name, value
        elif isinstance(value, dict):
            yield from ((f"{name}[{k!r}]", v) for k, v in value.items() if isinstance(v, Tensor))


def _describe(names: Sequence[str], args: Sequence[Any]) -> str:
    """``features=(3, 5, 6, 4) float64, target=...`` for messages."""

    def one(value: Any, with_dtype: bool = True) -> str:
        if isinstance(value, Tensor) and value.dim():
            return f"{tuple(value.shape)}" + (f" {_dtype_name(value)}" if with_dtype else "")
        if isinstance(value, Tensor):
            return f"tensor({value.item():g})"
        if isinstance(value, dict):  # {conv1_1: (1, 3, 8, 6), ...} float64
            inner = ", ".join(f"{k}: {one(v, False)}" for k, v in value.items())
            first = next(iter(value.values()), None)
            return (
                "{" + inner + "}" + (f" {_dtype_name(first)}" if isinstance(first, Tensor) else "")
            )
        return repr(value)

    return ", ".join(f"{name}={one(v)}" for name, v in zip(names, args, strict=True))


def _dtype_name(tensor: Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


_EXCEPTION_HINTS = {  # a fragment of torch's message -> what it usually means in an exercise
    "in-place operation": "an in-place operation (relu_(), +=, -=) on a tensor autograd needs",
    "numpy": "going through numpy cuts the autograd graph: stay with torch operations",
    "view size is not compatible": "use .reshape(...) or .flatten(2) instead of .view(...)",
    "maximum recursion depth": "something calls itself without end: a closure must not call "
    "optimizer.step, the loop does",
}


def _run(fn: Callable, name: str, arg_names: Sequence[str], args: Sequence[Any]) -> Any:
    """``fn(*args)``, failing on an exception, a time-out or an input modified in place."""
    where = _describe(arg_names, args)
    before = [(path, t, t.detach().clone(), t._version) for path, t in _tensors(arg_names, args)]
    start = time.perf_counter()
    try:
        with _time_limit(SLOW_SECONDS):
            out = fn(*args)
    except _TooSlow:
        start = -math.inf
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        hint = next((h for key, h in _EXCEPTION_HINTS.items() if key in str(exc)), "")
        if isinstance(exc, KeyError) and any(isinstance(a, dict) for a in args):
            hint = "loop over the layers of target_grams and look each one up by name"
        raise AssertionError(
            f"{name} raised {type(exc).__name__}: {first_line} (on {where})"
            + (f"; hint: {hint}." if hint else ".")
        ) from exc
    if time.perf_counter() - start > SLOW_SECONDS:
        raise AssertionError(
            f"{name} is too slow: it took more than {SLOW_SECONDS:g} s on {where}. A Python "
            "loop over pixels or entries? Vectorise with matrix products/tensor ops "
            "(torch.bmm, einsum, .sum(dim=...))."
        )
    for path, tensor, copy, version in before:
        if tensor._version != version or not torch.equal(tensor.detach(), copy):
            raise AssertionError(
                f"{name} modifies its input {path} in place (relu_(), +=, -=, x[...] = ...) "
                f"on {where}, so the caller's tensor changes: use out-of-place operations "
                "(x = x - y, torch.relu(x)) or work on a copy."
            )
    return out


# --- Comparing values -------------------------------------------------------------------------


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
) -> str | None:
    """None if ``got`` is right; else a known mistake, a named factor, or the size of the error."""
    if _close(got, expected):
        return None
    for value, message in known:
        if value.shape == got.shape and _close(got, value):
            return message
    ratio = _constant_ratio(got, expected)
    if ratio is not None and (named := _name_factor(ratio, factors)):
        return named
    if ratio is not None and got.numel() > 1:
        return f"your values are {ratio:.4g} times the expected ones: a constant factor is off"
    if got.dim() == 0:
        return f"your value is {got.item():.6g}, expected {expected.item():.6g}"
    diff = (got.detach().double() - expected.detach().double()).abs().max().item()
    scale = expected.detach().abs().max().item()
    return f"wrong values: off by up to {diff:.3g} where the expected values reach {scale:.3g}"


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


def _scalar_shape_hint(got: tuple, args: tuple) -> str:
    """Advice for a loss that should be a 0-d tensor but has shape ``got``."""
    batch = _batch(args)
    if got == (batch,):
        return f"it returns one loss per image, shape (B,) = {got}: average them (.mean())"
    if len(got) >= 3:
        return f"it returns shape {got}: a loss is a scalar, so sum the terms (.sum())"
    return f"it returns shape {got}: a loss is a 0-d tensor (use .sum() or .squeeze())"


def _randn(shape: Sequence[int], dtype: torch.dtype, seed: int, grad: bool = False) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).requires_grad_(grad)


def _batch(args: Sequence[Any]) -> int:
    """The batch size of the first tensor argument (1 for scalars)."""
    first = next(t for _, t in _tensors([str(i) for i in range(len(args))], args))
    return first.shape[0] if first.dim() else 1


# --- The driver shared by the tensor exercises -------------------------------------------------


class _Exercise(NamedTuple):
    """What a check knows about one exercise; :func:`_check` does the rest."""

    name: str  # in messages: "gram_matrix"
    title: str  # on success: "gram_matrix (Gatys)"
    arg_names: tuple[str, ...]
    make: Callable[..., tuple]  # (case, dtype, seed, requires_grad) -> fresh arguments
    reference: Callable[..., Tensor]  # the library's answer for those arguments
    cases: Sequence[tuple[Any, torch.dtype]]  # one image first, then batches
    timing_case: Any = None  # a float32 case too big for a Python loop; None: not timed
    factors: Callable[[tuple], list[Factor]] = lambda args: []
    known: Callable[[tuple], list[tuple[Tensor, str]]] = lambda args: []  # named wrong values
    shape_hint: Callable[[tuple, tuple], str | None] = _scalar_shape_hint
    extra: Callable[[Tensor], str | None] = lambda out: None  # a property, e.g. symmetry


def _check(fn: Callable, ex: _Exercise) -> None:
    """Values on every case, then the gradient, then the speed; print one line on success."""
    if not callable(fn):
        raise AssertionError(f"expected your {ex.name} function, got {type(fn).__name__}")
    single_ok = False  # once one image is right, a failure on a batch is about batching
    for index, (case, dtype) in enumerate(ex.cases):
        args = ex.make(case, dtype, SEED + index, False)
        expected = ex.reference(*ex.make(case, dtype, SEED + index, False))
        out = _run(fn, ex.name, ex.arg_names, args)
        problem = _type_problem(out, expected)
        if not problem and out.shape != expected.shape:
            got = tuple(out.shape)
            wrong_shape = f"wrong output shape {got}, expected {tuple(expected.shape)}"
            problem = ex.shape_hint(got, args) or wrong_shape
        problem = problem or ex.extra(out)
        problem = problem or _diagnose_values(out, expected, ex.factors(args), ex.known(args))
        batch = _batch(args)
        if problem:
            batching = f"correct for B = 1 but not for B = {batch}: " if single_ok else ""
            where = _describe(ex.arg_names, args)
            raise AssertionError(
                f"{ex.name}: {batching if batch > 1 else ''}{problem} (on {where})."
            )
        single_ok = single_ok or batch == 1
    _check_gradient(fn, ex)
    if ex.timing_case is not None:
        _run(fn, ex.name, ex.arg_names, ex.make(ex.timing_case, torch.float32, SEED, False))
    batched = any(_batch(ex.make(c, d, SEED, False)) > 1 for c, d in ex.cases)
    print(
        f"✓ {ex.title}: correct on {len(ex.cases)} inputs{', batched' if batched else ''}, "
        f"differentiable{', fast' if ex.timing_case is not None else ''}"
    )


def _check_gradient(fn: Callable, ex: _Exercise) -> None:
    """Autograd must reach every input that requires grad, with the library's gradient."""
    case = max((c for c, d in ex.cases if d == torch.float64), key=lambda c: _batch_of(ex, c))
    args = ex.make(case, torch.float64, SEED, True)
    ref_args = ex.make(case, torch.float64, SEED, True)
    where = _describe(ex.arg_names, args)
    out = _run(fn, ex.name, ex.arg_names, args)
    if not isinstance(out, Tensor) or out.grad_fn is None:
        raise AssertionError(
            f"{ex.name} breaks the gradient: its output has no grad_fn although the inputs "
            f"require grad (on {where}), so loss.backward() cannot reach the image. Remove "
            ".detach(), .item(), .numpy() or torch.tensor(...) from the computation."
        )
    ref_out = ex.reference(*ref_args)
    weight = _randn(ref_out.shape, torch.float64, SEED)  # a random direction to back-propagate
    leaves = [(path, t) for path, t in _tensors(ex.arg_names, args) if t.requires_grad]
    ref_leaves = [t for _, t in _tensors(ex.arg_names, ref_args) if t.requires_grad]
    grads = torch.autograd.grad((out * weight).sum(), [t for _, t in leaves], allow_unused=True)
    ref_grads = torch.autograd.grad((ref_out * weight).sum(), ref_leaves, allow_unused=True)
    for (path, leaf), grad, ref_grad in zip(leaves, grads, ref_grads, strict=True):
        if grad is None and ref_grad is None:  # e.g. a content layer among the style features
            continue
        ref_grad = torch.zeros_like(leaf) if ref_grad is None else ref_grad
        problem = "it does not depend on it" if grad is None else _diagnose_values(grad, ref_grad)
        if problem:
            raise AssertionError(
                f"{ex.name} has the wrong gradient with respect to {path}: {problem} (on "
                f"{where}). Is part of the computation detached or done outside torch?"
            )


def _batch_of(ex: _Exercise, case: Any) -> int:
    return _batch(ex.make(case, torch.float64, SEED, False))


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


# --- Gram matrix and losses ------------------------------------------------------------------

# (B, C, H, W): one image first; B = 3 next, so that summing over the batch (a factor 3) is
# not mistaken for a forgotten ½; H ≠ W and C different everywhere; one float32 input.
FEATURE_CASES = [
    ((1, 3, 4, 5), torch.float64),
    ((3, 5, 6, 4), torch.float64),
    ((2, 7, 3, 8), torch.float64),
    ((2, 6, 5, 7), torch.float32),
]


def _features(shape, dtype, seed, grad):
    return (_randn(shape, dtype, seed, grad),)


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

    ex = _Exercise(
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
    _check(fn, ex)


def _features_and_target(shape, dtype, seed, grad):
    return _randn(shape, dtype, seed, grad), _randn(shape, dtype, seed + 100)


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

    ex = _Exercise(
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
    _check(fn, ex)


def _features_and_gram(shape, dtype, seed, grad):
    return _randn(shape, dtype, seed, grad), losses.gram_matrix(_randn(shape, dtype, seed + 100))


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

    ex = _Exercise(
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
    _check(fn, ex)


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
        name: _randn((batch, *shape), dtype, seed + i, grad)
        for i, (name, shape) in enumerate(shapes.items())
    }
    grams = {
        name: losses.gram_matrix(_randn((batch, *shape), dtype, seed + 100 + i))
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
            Factor("B", _batch(args), large="average over the batch, don't sum"),
            Factor("2", 2),
        ]

    ex = _Exercise(
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
    _check(fn, ex)


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
    return (_randn(shape, dtype, seed).sigmoid().requires_grad_(grad),)  # in (0, 1)


def _tv_along(image: Tensor, dims: Sequence[int], kind: str, wrap: bool = False) -> Tensor:
    """An anisotropic TV over any dims (the value of a mistake), batch mean as in the library."""
    total = 0
    for d in dims:
        diff = image.roll(-1, d) - image if wrap else image.diff(dim=d)
        total = total + (diff.pow(2) if kind == "squared" else diff.abs()).flatten(1).sum(1)
    return total.mean()


def check_total_variation(fn: Callable[[Tensor], Tensor], kind: str = "squared") -> None:
    """Check ``fn(image (B, C, H, W)) -> scalar`` against :func:`losses.total_variation`."""
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
            return mistakes
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

    ex = _Exercise(
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
    _check(fn, ex)


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
    eq7 = "L = α·L_content + β·L_style (Gatys Eq. 7)"
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

    ex = _Exercise(
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
    _check(fn, ex)


# --- Arithmetic exercises: whole numbers -----------------------------------------------------


def _check_integer(
    fn: Callable,
    name: str,
    arg_names: Sequence[str],
    cases: Sequence[tuple[tuple, int]],
    formula: str,
    mistakes: Sequence[tuple[Callable[..., int], str]],
    float_hint: str = "use integer arithmetic (k * k, not math.pow or /)",
) -> None:
    """Compare ``fn(*args)`` with each expected int; name a mistake that explains all answers."""
    if not callable(fn):
        raise AssertionError(f"expected your {name} function, got {type(fn).__name__}")
    answers = []
    for args, _ in cases:
        names = arg_names[: len(args)]
        got = _run(fn, name, names, args)
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(
                f"{name} returns {type(got).__name__} for {_describe(names, args)}: "
                f"return a Python int, {formula}."
            )
        if not isinstance(got, numbers.Integral):
            fraction = "" if float(got).is_integer() else ", not even a whole number"
            raise AssertionError(
                f"{name} returns {got!r} for {_describe(names, args)}, a float{fraction}: "
                f"{float_hint} to return an int, {formula}."
            )
        answers.append(int(got))
    wrong = [
        i for i, (got, (_, want)) in enumerate(zip(answers, cases, strict=True)) if got != want
    ]
    if not wrong:
        print(f"✓ {name}: correct on {len(cases)} cases")
        return
    args, want = cases[wrong[0]]
    where = _describe(arg_names[: len(args)], args)
    example = f"for {where} you return {answers[wrong[0]]}, expected {want}"
    for mistake, message in mistakes:
        if all(mistake(*a) == got for (a, _), got in zip(cases, answers, strict=True)):
            raise AssertionError(f"{name}: {message} ({example}).")
    raise AssertionError(f"{name}: {example}; the formula is {formula}.")


def check_conv_output_size(fn: Callable[..., int]) -> None:
    """Check ``fn(size, kernel, stride=1, padding=0)`` = floor((n + 2p − k)/s) + 1."""
    cases = [
        ((300, 3, 1, 1), 300),  # VGG's 3x3 convolution with padding 1 keeps the size (the VGG lab)
        ((300, 2, 2, 0), 150),  # its 2x2 max pooling with stride 2 halves it
        ((75, 2, 2, 0), 37),  # odd size: the floor drops the last row
        ((224, 7, 2, 3), 112),  # ResNet's first convolution
        ((227, 11, 4, 0), 55),  # AlexNet's first convolution
        ((6, 3, 2, 1), 3),  # (6 + 2 − 3)/2 = 2.5 rounds down
        ((37, 3, 2, 1), 19),
        ((7, 3, 1, 0), 5),
        ((32, 5), 28),  # the defaults: stride 1, padding 0
    ]

    def mistake(f):
        return lambda n, k, s=1, p=0: f(n, k, s, p)

    mistakes = [
        (mistake(lambda n, k, s, p: (n - k) // s + 1), "you forgot the padding: n + 2p"),
        (mistake(lambda n, k, s, p: (n + p - k) // s + 1), "padding is on both sides: n + 2p"),
        (mistake(lambda n, k, s, p: (n + 2 * p - k) // s), "you forgot the +1"),
        (
            mistake(lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1),
            "you used ceil: round down with //, a window that does not fit is dropped",
        ),
        (
            mistake(lambda n, k, s, p: round((n + 2 * p - k) / s) + 1),
            "you rounded: round down with //, a window that does not fit is dropped",
        ),
        (mistake(lambda n, k, s, p: n + 2 * p - k + 1), "you forgot the stride: divide by s"),
        (
            mistake(lambda n, k, s, p: (n + 2 * p - k + 1) // s),
            "you forgot the +1 after the division",
        ),
    ]
    _check_integer(
        fn,
        "conv_output_size",
        ("size", "kernel", "stride", "padding"),
        cases,
        "floor((n + 2p − k)/s) + 1",
        mistakes,
        float_hint="use floor division //, not /,",
    )


def check_conv_params(fn: Callable[..., int]) -> None:
    """Check ``fn(in_channels, out_channels, kernel_size, bias=True)`` = k²·C_in·C_out + C_out."""
    cases = [
        ((3, 64, 3), 1_792),  # VGG conv1_1
        ((64, 64, 3), 36_928),  # VGG conv1_2
        ((512, 512, 3), 2_359_808),  # VGG conv4_2
        ((3, 16, 5), 1_216),
        ((16, 8, 1), 136),
        ((64, 128, 3, False), 73_728),
        ((3, 10, 7, False), 1_470),
        ((8, 4, 3, True), 292),
    ]

    def mistake(f):
        return lambda ci, co, k, bias=True: f(ci, co, k, bias)

    mistakes = [
        (mistake(lambda ci, co, k, b: k * k * ci * co), "you forgot the bias, one per filter"),
        (
            mistake(lambda ci, co, k, b: k * k * ci * co + ci * b),
            "you counted one bias per input channel: it is one per output channel, + C_out",
        ),
        (mistake(lambda ci, co, k, b: k * k * ci * co + co), "bias=False has no bias terms"),
        (mistake(lambda ci, co, k, b: k * ci * co + co * b), "a k × k kernel has k², not k"),
        (mistake(lambda ci, co, k, b: k * k * ci * ci + co * b), "you squared C_in: k²·C_in·C_out"),
        (
            mistake(lambda ci, co, k, b: k * k * co * co + co * b),
            "you squared C_out: k²·C_in·C_out",
        ),
        (
            mistake(lambda ci, co, k, b: k * k * (ci + co) + co * b),
            "channels multiply: k²·C_in·C_out",
        ),
        (
            mistake(lambda ci, co, k, b: k * k * ci * co + k * k * co * b),
            "one bias per output channel, not one per kernel position: + C_out",
        ),
    ]
    _check_integer(
        fn,
        "conv_params",
        ("in_channels", "out_channels", "kernel_size", "bias"),
        cases,
        "k·k·C_in·C_out + C_out (no + C_out when bias=False)",
        mistakes,
    )


def check_receptive_field(fn: Callable[..., int]) -> None:
    """Check ``fn(n_layers, kernel=3)`` = 1 + n(k − 1) for a stack of stride-1 convolutions."""
    cases = [
        ((1, 3), 3),
        ((2, 3), 5),  # two 3x3 see 5x5 (Simonyan & Zisserman 2015, Sec. 2.3)
        ((3, 3), 7),  # three see 7x7
        ((4, 3), 9),
        ((2, 5), 9),
        ((3, 7), 19),
        ((0, 3), 1),  # no layers: a pixel sees itself
        ((2,), 5),  # the default kernel, 3
    ]

    def mistake(f):
        return lambda n, k=3: f(n, k)

    mistakes = [
        (
            mistake(lambda n, k: n * k),
            "you added the kernel sizes; windows overlap, each adds k − 1",
        ),
        (mistake(lambda n, k: n * (k - 1)), "you forgot the 1 (a pixel sees itself): 1 + n(k − 1)"),
        (mistake(lambda n, k: k**n), "with stride 1 the field grows linearly, not as k^n"),
        (mistake(lambda n, k: k + n * (k - 1)), "one layer too many: n layers see 1 + n(k − 1)"),
        (mistake(lambda n, k: 2 * n + 1), "you ignored kernel: each layer adds kernel − 1"),
        (mistake(lambda n, k: n + k - 1), "each layer adds k − 1, not 1: 1 + n(k − 1)"),
    ]
    _check_integer(fn, "receptive_field", ("n_layers", "kernel"), cases, "1 + n·(k − 1)", mistakes)


# --- Whole-network arithmetic (lesson 01) ------------------------------------------------------


def check_vgg_shapes(fn: Callable[[str, int], dict]) -> None:
    """Check ``fn(arch, input_size)`` -> ``{layer name: (H, W, C)}`` for every conv and pool.

    The reference is :func:`stylelib.vgg.layer_table` (the VGG lab's arithmetic, layer by layer).
    """
    from .vgg import layer_table

    cases = [("vgg16", 300), ("vgg16", 224), ("vgg19", 75), ("vgg16", 33)]
    for arch, size in cases:
        want = {
            r["name"]: r["output"]
            for r in layer_table(arch, size, classifier=False)
            if r["kind"] in ("conv", "pool")
        }
        got = _run(fn, "vgg_shapes", ("arch", "input_size"), (arch, size))
        if not isinstance(got, dict):
            raise AssertionError(
                f"vgg_shapes returns {type(got).__name__}: return a dict "
                "{'conv1_1': (H, W, C), ...} with one entry per conv and pool"
            )
        missing = [n for n in want if n not in got]
        if missing:
            raise AssertionError(
                f"vgg_shapes({arch!r}, {size}) has no entry for {missing[:4]}"
                f"{' ...' if len(missing) > 4 else ''}: give every conv and pool"
            )
        for name, shape in want.items():
            mine = tuple(int(v) for v in got[name]) if _is_triple(got[name]) else got[name]
            if mine == shape:
                continue
            hint = "give (height, width, channels)"
            if _is_triple(mine) and mine[:2] == shape[:2]:
                hint = "the channels: block b has 64, 128, 256, 512, 512 filters"
            elif _is_triple(mine) and mine[2] == shape[2]:
                hint = (
                    "the height and width: 3x3 convolutions with padding 1 keep them, "
                    "each 2x2 pooling with stride 2 halves them (rounding down)"
                )
            raise AssertionError(
                f"vgg_shapes({arch!r}, {size})[{name!r}] is {got[name]}, expected {shape}: {hint}."
            )
    print(f"✓ vgg_shapes: correct on {len(cases)} architectures and sizes, every conv and pool")


def _is_triple(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 3


def check_network_params(fn: Callable[[str], int]) -> None:
    """Check ``fn(arch)`` = all parameters of torchvision's VGG16 / VGG19, classifier included."""
    from .vgg import layer_table

    for arch in ("vgg16", "vgg19"):
        rows = layer_table(arch, 224)
        want = sum(r["params"] for r in rows)
        features = sum(r["params"] for r in rows if r["kind"] != "fc")
        biases = sum(r["channels_out"] for r in rows if r["kind"] in ("conv", "fc"))
        got = _run(fn, "network_params", ("arch",), (arch,))
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise AssertionError(f"network_params({arch!r}) returns {got!r}: return an int")
        if got == want:
            continue
        known = {
            features: "you counted the convolutions only: add fc6 (7·7·512 → 4096), fc7 and fc8",
            want - biases: "you forgot the biases (one per output channel or unit)",
            want - features: "you counted the classifier only: add the 13 or 16 convolutions",
        }
        hint = known.get(
            int(got), "add k·k·C_in·C_out + C_out per conv and n_in·n_out + n_out per fc"
        )
        raise AssertionError(
            f"network_params({arch!r}) is {int(got):,}, expected {want:,}: {hint}."
        )
    print("✓ network_params: correct on VGG16 (138,357,544) and VGG19 (143,667,240)")


# --- The optimisation loop (lesson 03) ----------------------------------------------------------


def check_closure(fn: Callable[..., Callable[[], Tensor]]) -> None:
    """Check ``fn(optimizer, x, loss_fn)`` returns an L-BFGS closure that is right.

    A right closure zeroes the gradient, computes ``loss = loss_fn(x)``, back-propagates it
    and returns it. The check runs L-BFGS with it on a small least-squares problem whose
    minimum is known, and compares every gradient it leaves with a fresh one.
    """
    torch.manual_seed(SEED)
    a, b = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    solution = torch.linalg.lstsq(a, b.unsqueeze(1)).solution.squeeze(1)

    def loss_fn(v: Tensor) -> Tensor:
        return 0.5 * (a @ v - b).pow(2).sum()

    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=1, history_size=10, tolerance_grad=0.0, tolerance_change=0.0
    )
    closure = _run(fn, "make_closure", ("optimizer", "x", "loss_fn"), (optimizer, x, loss_fn))
    if not callable(closure):
        raise AssertionError(
            f"make_closure returns {type(closure).__name__}: return the inner "
            "function itself (def closure(): ... ; return closure), not its result"
        )
    first = _run(closure, "the closure", (), ())
    if not isinstance(first, Tensor) or first.ndim != 0:
        raise AssertionError(
            f"the closure returns {type(first).__name__}: return the loss "
            "tensor itself (L-BFGS reads it), not None or a list"
        )
    for step in range(1, 31):
        x.grad = torch.full_like(x, 1e3) if step == 1 else x.grad  # stale gradient to clear
        before = x.detach().clone()
        try:
            loss = optimizer.step(closure)
        except RecursionError:
            raise AssertionError(
                "the closure calls optimizer.step: the closure only computes "
                "the loss and its gradient, the loop calls step"
            ) from None
        except Exception as e:  # noqa: BLE001 - reported to the student in one line
            raise AssertionError(
                f"optimizer.step(closure) raised {type(e).__name__}: {_first_line(e)}"
            ) from None
        if x.grad is None:
            raise AssertionError(
                "after the closure x.grad is None: compute loss_fn(x) on x "
                "itself (no .detach()) and call loss.backward() in the closure"
            )
        fresh = torch.autograd.functional.jacobian(loss_fn, before)
        if step == 1 and not torch.allclose(x.grad, fresh) and torch.allclose(x.grad, fresh + 1e3):
            raise AssertionError(
                "x.grad still holds the old gradient plus the new one: call "
                "optimizer.zero_grad() at the start of the closure"
            )
        if not isinstance(loss, Tensor) or loss.ndim != 0:
            raise AssertionError(
                f"the closure returns {type(loss).__name__}: return the loss "
                "tensor itself (L-BFGS reads it), not None or a list"
            )
        if not math.isclose(
            float(loss.detach()), float(loss_fn(before).detach()), rel_tol=1e-9, abs_tol=1e-12
        ):
            raise AssertionError(
                "the closure returns a different number than loss_fn(x): "
                "return loss_fn(x) as computed, not a scaled or detached copy"
            )
    if not torch.allclose(x.detach(), solution, atol=1e-6):
        raise AssertionError(
            "after 30 L-BFGS steps x is not at the minimum: the gradients "
            "your closure leaves are not those of loss_fn (zero_grad first, "
            "then loss_fn(x), then loss.backward())"
        )
    print("✓ make_closure: correct on a least-squares problem, L-BFGS converges in 30 steps")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:160]


# --- The transform network (lesson 04) ----------------------------------------------------------


def check_residual_block(cls: Callable[[int], torch.nn.Module]) -> None:
    """Check ``cls(channels)``: a residual block of Johnson et al. (2016, supplementary).

    Expected: ``x + block(x)`` where ``block`` is 3x3 conv, instance norm (affine), ReLU,
    3x3 conv, instance norm; the same shape out as in; no ReLU after the sum. Checked by
    shape, parameter count, an identity test (all convolution weights at zero must give back
    the input exactly: the skip path), and the gradient reaching the input.
    """
    for channels in (8, 16):
        try:
            block = cls(channels)
        except Exception as e:  # noqa: BLE001 - reported to the student in one line
            raise AssertionError(
                f"ResidualBlock({channels}) raised {type(e).__name__}: {_first_line(e)}"
            ) from None
        if not isinstance(block, torch.nn.Module):
            raise AssertionError(
                f"ResidualBlock({channels}) is a {type(block).__name__}: subclass torch.nn.Module"
            )
        want = 2 * (9 * channels * channels + channels) + 2 * (2 * channels)
        got = sum(p.numel() for p in block.parameters())
        if got != want:
            hint = (
                "two 3x3 convolutions C -> C with bias (2 x (9C² + C)) and two affine "
                "instance norms (2 x 2C)"
            )
            if got == want - 4 * channels:
                hint = "the instance norms need affine=True (a learned scale and shift)"
            elif got == (9 * channels * channels + channels) + 2 * channels:
                hint = "one convolution is missing: the block has two"
            raise AssertionError(
                f"ResidualBlock({channels}) has {got:,} parameters, expected {want:,}: {hint}."
            )
        torch.manual_seed(SEED)
        x = torch.randn(2, channels, 12, 10, requires_grad=True)
        out = _run(block, "ResidualBlock.forward", ("x",), (x,))
        if not isinstance(out, Tensor) or out.shape != x.shape:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise AssertionError(
                f"ResidualBlock({channels}) turns {tuple(x.shape)} into {shape}: "
                "use 3x3 kernels with padding 1 so H and W stay"
            )
        zeroed = deepcopy(block)
        with torch.no_grad():
            for m in zeroed.modules():
                if isinstance(m, torch.nn.Conv2d):
                    m.weight.zero_()
                    if m.bias is not None:
                        m.bias.zero_()
        with torch.no_grad():
            identity = zeroed(x)
        if torch.allclose(identity, x.clamp(min=0)) and not torch.allclose(identity, x):
            raise AssertionError(
                "there is a ReLU after the sum: return x + block(x) as it is "
                "(the supplementary material drops the final ReLU)"
            )
        if not torch.allclose(identity, x, atol=1e-6):
            raise AssertionError(
                "with every convolution at zero the block should return its "
                "input unchanged, and it does not: add the input, x + block(x)"
            )
        out.sum().backward()
        if x.grad is None or not torch.isfinite(x.grad).all():
            raise AssertionError("no gradient reaches the input: keep every step in torch")
    print("✓ ResidualBlock: correct on 2 channel counts: shape, parameters, skip path, gradient")
