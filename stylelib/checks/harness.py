"""The harness under every check: run a student's function, compare its result, diagnose.

:func:`run` calls the function under a time limit and fails on an exception, a time-out or an
input modified in place; :func:`check_exercise` drives a tensor exercise (values on several
inputs, then the gradient, then the speed) and :func:`check_integer` a whole-number one. The
lesson modules next to this one only describe their exercises.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..errors import one_line

# Every call of a student's function is interrupted after this long. A vectorised answer takes
# milliseconds on the timing inputs; a Python loop over pixels or entries takes tens of seconds
# (~10 µs a step). 2 s leaves room for a slow CPU and a busy grader.
SLOW_SECONDS = 2.0
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


def raised(what: str, error: BaseException, text: str | None = None) -> str:
    """``"<what> raised KeyError: <text>"``, the start of a failure message.

    ``text`` is by default the error's message on one line (:func:`stylelib.errors.one_line`).
    """
    text = one_line(error, limit=160) if text is None else text
    return f"{what} raised {type(error).__name__}: {text}"


def run(fn: Callable, name: str, arg_names: Sequence[str], args: Sequence[Any]) -> Any:
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
        hint = next((h for key, h in _EXCEPTION_HINTS.items() if key in str(exc)), "")
        if isinstance(exc, KeyError) and any(isinstance(a, dict) for a in args):
            hint = "loop over the layers of target_grams and look each one up by name"
        raise AssertionError(
            f"{raised(name, exc, one_line(exc, limit=200, first_line=True))} (on {where})"
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
    batch = batch_size(args)
    if got == (batch,):
        return f"it returns one loss per image, shape (B,) = {got}: average them (.mean())"
    if len(got) >= 3:
        return f"it returns shape {got}: a loss is a scalar, so sum the terms (.sum())"
    return f"it returns shape {got}: a loss is a 0-d tensor (use .sum() or .squeeze())"


# --- Making inputs ------------------------------------------------------------------------------


def randn(shape: Sequence[int], dtype: torch.dtype, seed: int, grad: bool = False) -> Tensor:
    """A standard normal tensor drawn from its own generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).requires_grad_(grad)


def batch_size(args: Sequence[Any]) -> int:
    """The batch size of the first tensor argument (1 for scalars)."""
    first = next(t for _, t in _tensors([str(i) for i in range(len(args))], args))
    return first.shape[0] if first.dim() else 1


# --- The driver shared by the tensor exercises -------------------------------------------------


class Exercise(NamedTuple):
    """What a check knows about one exercise; :func:`check_exercise` does the rest."""

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


def check_exercise(fn: Callable, ex: Exercise) -> None:
    """Values on every case, then the gradient, then the speed; print one line on success."""
    if not callable(fn):
        raise AssertionError(f"expected your {ex.name} function, got {type(fn).__name__}")
    single_ok = False  # once one image is right, a failure on a batch is about batching
    for index, (case, dtype) in enumerate(ex.cases):
        args = ex.make(case, dtype, SEED + index, False)
        expected = ex.reference(*ex.make(case, dtype, SEED + index, False))
        out = run(fn, ex.name, ex.arg_names, args)
        problem = _type_problem(out, expected)
        if not problem and out.shape != expected.shape:
            got = tuple(out.shape)
            wrong_shape = f"wrong output shape {got}, expected {tuple(expected.shape)}"
            problem = ex.shape_hint(got, args) or wrong_shape
        problem = problem or ex.extra(out)
        problem = problem or _diagnose_values(out, expected, ex.factors(args), ex.known(args))
        batch = batch_size(args)
        if problem:
            batching = f"correct for B = 1 but not for B = {batch}: " if single_ok else ""
            where = _describe(ex.arg_names, args)
            raise AssertionError(
                f"{ex.name}: {batching if batch > 1 else ''}{problem} (on {where})."
            )
        single_ok = single_ok or batch == 1
    _check_gradient(fn, ex)
    if ex.timing_case is not None:
        run(fn, ex.name, ex.arg_names, ex.make(ex.timing_case, torch.float32, SEED, False))
    batched = any(batch_size(ex.make(c, d, SEED, False)) > 1 for c, d in ex.cases)
    print(
        f"✓ {ex.title}: correct on {len(ex.cases)} inputs{', batched' if batched else ''}, "
        f"differentiable{', fast' if ex.timing_case is not None else ''}"
    )


def _check_gradient(fn: Callable, ex: Exercise) -> None:
    """Autograd must reach every input that requires grad, with the library's gradient."""
    case = max((c for c, d in ex.cases if d == torch.float64), key=lambda c: _batch_of(ex, c))
    args = ex.make(case, torch.float64, SEED, True)
    ref_args = ex.make(case, torch.float64, SEED, True)
    where = _describe(ex.arg_names, args)
    out = run(fn, ex.name, ex.arg_names, args)
    if not isinstance(out, Tensor) or out.grad_fn is None:
        raise AssertionError(
            f"{ex.name} breaks the gradient: its output has no grad_fn although the inputs "
            f"require grad (on {where}), so loss.backward() cannot reach the image. Remove "
            ".detach(), .item(), .numpy() or torch.tensor(...) from the computation."
        )
    ref_out = ex.reference(*ref_args)
    weight = randn(ref_out.shape, torch.float64, SEED)  # a random direction to back-propagate
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


def _batch_of(ex: Exercise, case: Any) -> int:
    return batch_size(ex.make(case, torch.float64, SEED, False))


# --- The driver of the whole-number exercises ---------------------------------------------------


def check_integer(
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
        got = run(fn, name, names, args)
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
