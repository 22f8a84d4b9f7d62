"""The harness under every check: run a student's function, compare its result, diagnose.

:func:`run` calls the function under a time limit and fails on an exception, a time-out, an
input modified in place or a forbidden call (:mod:`.guard`); :func:`check_exercise` drives a
tensor exercise (values on several inputs, then the gradient, then the speed), comparing with
:mod:`.compare`. The lesson modules next to this one only describe their exercises.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..errors import one_line
from .compare import RTOL, Factor, _diagnose_values, _type_problem
from .compare import _name_factor as _name_factor  # re-exported (tests)
from .device import SimulatedGPU, has_values, simulated_gpu
from .guard import Foreign, _LibraryGuard

# Every call of a student's function is interrupted after this long. A vectorised answer takes
# milliseconds on the timing inputs; a Python loop over pixels or entries takes tens of seconds
# (~10 µs a step). 2 s leaves room for a slow CPU and a busy grader.
SLOW_SECONDS = 2.0
SEED = 2016  # both papers' year; input i of a check uses SEED + i


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


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread meanwhile: on the checks' tiny tensors threads only wait for
    each other, and on a busy grader for the other processes too (measured: 5 s against 80 s
    for one module's tests on two shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _tensors(names: Sequence[str], args: Sequence[Any]) -> Iterator[tuple[str, Tensor]]:
    """Every tensor among the arguments, with a readable path such as ``features['conv1_1']``."""
    for name, value in zip(names, args, strict=True):
        if isinstance(value, Tensor):
            yield name, value
        elif isinstance(value, dict):
            yield from ((f"{name}[{k!r}]", v) for k, v in value.items() if isinstance(v, Tensor))


def describe(names: Sequence[str], args: Sequence[Any]) -> str:
    """``features=(3, 5, 6, 4) float64, target=...`` for messages."""

    def one(value: Any, with_dtype: bool = True) -> str:
        if isinstance(value, Tensor) and value.dim():
            return f"{tuple(value.shape)}" + (f" {_dtype_name(value)}" if with_dtype else "")
        if isinstance(value, Tensor):
            return f"tensor({value.item():g})" if has_values(value) else "a 0-d tensor"
        if isinstance(value, dict):  # {conv1_1: (1, 3, 8, 6), ...} float64
            inner = ", ".join(f"{k}: {one(v, False)}" for k, v in value.items())
            first = next(iter(value.values()), None)
            return (
                "{" + inner + "}" + (f" {_dtype_name(first)}" if isinstance(first, Tensor) else "")
            )
        text = repr(value)
        return text if len(text) <= 60 and "\n" not in text else f"<{type(value).__name__}>"

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


def run(
    fn: Callable,
    name: str,
    arg_names: Sequence[str],
    args: Sequence[Any],
    *,
    forbid: Sequence[ModuleType | Foreign] = (),
    limit: float | None = None,
    slow: str | None = None,
) -> Any:
    """``fn(*args)``, failing on an exception, a time-out, a changed argument, or a call into
    the library code of ``forbid`` (the reference answers: see :func:`library_calls`) or into
    a :class:`Foreign` function that is the answer.

    Every argument is snapshot first (tensor values, dict keys and entries), so an answer that
    writes into its inputs — in place, through ``.data``, or by adding keys — is caught.
    ``limit`` (seconds) replaces :data:`SLOW_SECONDS` for work that is large by nature, and
    ``slow`` the advice of a time-out (by default: vectorise the Python loop).
    """
    limit = SLOW_SECONDS if limit is None else limit
    where = describe(arg_names, args)
    on = f" (on {where})" if where else ""
    before = _snapshot(arg_names, args)
    guard = _LibraryGuard(forbid)
    start = time.perf_counter()
    try:
        with _time_limit(limit), one_thread(), guard:
            out = fn(*args)
    except _TooSlow:  # may arrive inside the profiler, which Python then switches off
        start, guard.tampered = -math.inf, False
    except Exception as exc:
        guard.verdict(name)  # a library call explains the exception better than its message
        hint = next((h for key, h in _EXCEPTION_HINTS.items() if key in str(exc)), "")
        if isinstance(exc, KeyError) and any(isinstance(a, dict) for a in args):
            hint = "loop over the layers of target_grams and look each one up by name"
        summary = one_line(exc, limit=200, first_line=True)
        raise AssertionError(
            f"{raised(name, exc, summary)}{on}" + (f"; hint: {hint}." if hint else ".")
        ) from exc
    guard.verdict(name)
    if time.perf_counter() - start > limit:
        advice = slow or (
            "a Python loop over pixels or entries? Vectorise with matrix products/tensor ops "
            "(torch.bmm, einsum, .sum(dim=...))"
        )
        raise AssertionError(f"{name} is too slow: it took more than {limit:g} s{on}; {advice}.")
    _compare_snapshot(name, where, before)
    return out


def _snapshot(names: Sequence[str], args: Sequence[Any]) -> list:
    """What the caller's arguments hold now: tensors (values and version), dicts (entries)."""
    saved = []
    for name, value in zip(names, args, strict=True):
        if isinstance(value, dict):
            saved.append((name, value, dict(value)))
    for path, tensor in _tensors(names, args):
        saved.append((path, tensor, (tensor.detach().clone(), tensor._version)))
    return saved


def _compare_snapshot(name: str, where: str, saved: list) -> None:
    for path, value, kept in saved:
        if isinstance(value, dict):
            added, removed = sorted(set(value) - set(kept)), sorted(set(kept) - set(value))
            replaced = [k for k in kept if k in value and value[k] is not kept[k]]
            if added or removed or replaced:
                change = (
                    f"adds {added}"
                    if added
                    else f"removes {removed}"
                    if removed
                    else f"replaces the entries {replaced}"
                )
                raise AssertionError(
                    f"{name} changes its argument {path}: it {change} (on {where}); a function "
                    "must not change the caller's dict: build a new one if you need it."
                )
            continue
        copy, version = kept
        same = not has_values(value) or torch.equal(value.detach(), copy)  # meta, fake
        if value._version != version or not same:
            raise AssertionError(
                f"{name} modifies its input {path} in place (relu_(), +=, -=, x[...] = ..., "
                f"x.data) on {where}, so the caller's tensor changes: use out-of-place "
                "operations (x = x - y, torch.relu(x)) or work on a copy."
            )


# --- What a loss's shape says (comparing values: see .compare) -----------------------------


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
    forbid: tuple[ModuleType | Foreign, ...] = ()  # code the answer must not call
    differentiable: bool = True  # False: a formula for a gradient, compared by value only
    hard: bool = True  # also run on values beyond [0, 1] with a flat patch (see _hard)
    # Where the function has a kink (|x| at x = 0, met at the flat patch's ties), every value
    # of the subdifferential is a right gradient: for each input that requires grad, how far
    # each entry may lie from the reference's gradient (per unit of a scalar output); None:
    # smooth everywhere, compared entry by entry.
    slack: Callable[[tuple], list[Tensor]] | None = None


def check_exercise(fn: Callable, ex: Exercise) -> None:
    """Values on every case and on a hard one, the gradient (finite, the library's), the device
    of the result, then the speed; print one line on success."""
    if not callable(fn):
        raise AssertionError(f"expected your {ex.name} function, got {type(fn).__name__}")
    single_ok = False  # once one image is right, a failure on a batch is about batching
    for index, (case, dtype) in enumerate(ex.cases):
        args = ex.make(case, dtype, SEED + index, False)
        _check_values(fn, ex, args, ex.make(case, dtype, SEED + index, False), single_ok)
        single_ok = single_ok or batch_size(args) == 1
    # Beyond [0, 1] with a flat patch (ties): a hidden clamp, a relu of the input or a
    # sqrt(x²) that has no gradient at 0 passes tame inputs and fails here.
    if ex.hard:
        hard = _largest_case(ex)
        args = _hard(ex.make(hard, torch.float64, SEED + 7, False))
        ref_args = _hard(ex.make(hard, torch.float64, SEED + 7, False))
        _check_values(fn, ex, args, ref_args, True, "values beyond [0, 1] and a flat patch")
    if ex.differentiable:
        if ex.hard:
            _check_gradient(fn, ex, _hard, "values beyond [0, 1] and a flat patch")
        _check_gradient(fn, ex)
    if ex.timing_case is not None:
        timing = ex.make(ex.timing_case, torch.float32, SEED, False)
        run(fn, ex.name, ex.arg_names, timing, forbid=ex.forbid)
    _check_device(fn, ex)
    batched = any(batch_size(ex.make(c, d, SEED, False)) > 1 for c, d in ex.cases)
    print(
        f"✓ {ex.title}: correct on {len(ex.cases) + ex.hard} inputs"
        f"{', batched' if batched else ''}"
        f"{', differentiable' if ex.differentiable else ''}"
        f"{', fast' if ex.timing_case is not None else ''}"
    )


def _check_values(
    fn: Callable, ex: Exercise, args: tuple, ref_args: tuple, single_ok: bool, why: str = ""
) -> None:
    """One case: the type, the shape, the exercise's own property, then the values."""
    expected = ex.reference(*ref_args)
    out = run(fn, ex.name, ex.arg_names, args, forbid=ex.forbid)
    problem = _type_problem(out, expected)
    if not problem and out.shape != expected.shape:
        got = tuple(out.shape)
        wrong_shape = f"wrong output shape {got}, expected {tuple(expected.shape)}"
        problem = ex.shape_hint(got, args) or wrong_shape
    problem = problem or ex.extra(out)
    inputs = list(_tensors(ex.arg_names, args))
    problem = problem or _diagnose_values(out, expected, ex.factors(args), ex.known(args), inputs)
    if problem:
        batch = batch_size(args)
        batching = f"correct for B = 1 but not for B = {batch}: " if single_ok and batch > 1 else ""
        where = describe(ex.arg_names, args) + (f", {why}" if why else "")
        raise AssertionError(f"{ex.name}: {batching}{problem} (on {where}).")


def _largest_case(ex: Exercise) -> Any:
    return max((c for c, d in ex.cases if d == torch.float64), key=lambda c: _batch_of(ex, c))


def _map_tensors(args: tuple, change: Callable[[Tensor], Tensor]) -> tuple:
    """``args`` with every tensor (also inside dicts) replaced by ``change(tensor)``, as a new
    leaf that requires grad where the old one did."""

    def one(t: Tensor) -> Tensor:
        with torch.no_grad():
            new = change(t.detach())
        return new.requires_grad_(t.requires_grad)

    out = []
    for value in args:
        if isinstance(value, Tensor):
            value = one(value)
        elif isinstance(value, dict):
            value = {k: one(v) if isinstance(v, Tensor) else v for k, v in value.items()}
        out.append(value)
    return tuple(out)


def _hard(args: tuple) -> tuple:
    """Values stretched to [-2, 3] (beyond an image's range, negative), and a 2 x 2 flat patch
    in the last two dimensions of every tensor that has them (equal neighbours: ties)."""

    def stretch(t: Tensor) -> Tensor:
        if not t.is_floating_point():
            return t.clone()
        t = (t - t.min()) / (t.max() - t.min()).clamp(min=1e-12) * 5 - 2 if t.numel() > 1 else t * 3
        if t.dim() >= 2 and t.shape[-1] >= 2 and t.shape[-2] >= 2:
            t[..., :2, :2] = t[..., :1, :1].clone()
        return t

    return _map_tensors(args, stretch)


def _check_device(fn: Callable, ex: Exercise) -> None:
    """The answer on a batch of inputs on another device (see :func:`check_device`)."""
    case, dtype = next(((c, d) for c, d in ex.cases if _batch_of(ex, c) > 1), ex.cases[0])
    args = ex.make(case, dtype, SEED, False)
    check_device(fn, ex.name, ex.arg_names, args, forbid=ex.forbid, reference=ex.reference)


def check_device(
    fn: Callable,
    name: str,
    arg_names: Sequence[str],
    args: Sequence[Any],
    *,
    forbid: Sequence[ModuleType] = (),
    reference: Callable[..., Any] | None = None,
) -> None:
    """``fn`` must run where its inputs are and return its result there.

    First on a simulated GPU (:mod:`.device`: fake CUDA tensors, which follow a GPU's rules
    for every operation, so a CPU tensor mixed in fails as on a GPU and is named). Where that
    cannot be made, or the answer fails there for another reason than a device slip (fake
    tensors hold no values: ``.item()``, a boolean mask, a module built in the answer and
    moved with ``.to``, autograd), it runs on ``meta`` inputs instead, which catch fewer
    slips; nothing is checked there where the ``reference`` itself cannot run on ``meta``.
    """
    gpu = simulated_gpu()
    if gpu is not None and _on_simulated_gpu(fn, name, arg_names, args, forbid, gpu):
        return
    _on_meta(fn, name, arg_names, args, forbid, reference)


def _on_simulated_gpu(fn, name, arg_names, args, forbid, gpu: SimulatedGPU) -> bool:
    """True when the answer passes on the simulated GPU; False to decide on ``meta``."""
    # No reference run here: only a device slip or a result left on the CPU is refused, and
    # both are the answer's own (backward needs a real CUDA context, so autograd cannot run).
    there = _map_tensors(tuple(args), gpu.make)

    def inside(*answer_args):
        with gpu.running():
            return fn(*answer_args)

    try:
        out = run(inside, name, arg_names, there, forbid=forbid)
    except AssertionError as e:
        problem = gpu.problem(name, e.__cause__) if e.__cause__ is not None else None
        if problem is None:
            return False
        raise AssertionError(f"{problem}.") from None
    if isinstance(out, Tensor) and out.device != gpu.device:
        raise AssertionError(_elsewhere(name, out, gpu.device, describe(arg_names, there)))
    return True


def _elsewhere(name: str, out: Tensor, device: torch.device, where: str) -> str:
    return (
        f"{name} returns its result on {out.device} for inputs on {device} (on {where}): a "
        "tensor made without device= stays on the CPU; create it from the inputs "
        "(torch.zeros_like(x), x.new_zeros(...)) or pass device=x.device."
    )


def _on_meta(fn, name, arg_names, args, forbid, reference) -> None:
    """The answer on ``meta`` inputs (shapes only, no data, no time)."""
    args = _map_tensors(tuple(args), lambda t: t.to("meta"))
    if reference is not None:
        try:
            reference(*args)
        except (NotImplementedError, RuntimeError):  # the reference itself cannot
            return
    try:
        out = run(fn, name, arg_names, args, forbid=forbid)
    except AssertionError as e:
        error = str(e).split(" raised ", 1)[-1].split(" (on ", 1)[0][:160]
        raise AssertionError(
            f"{name} fails on inputs on another device (meta, shapes only): {error}; on a "
            "GPU it would fail too: create every tensor from the inputs (torch.zeros_like(x), "
            "x.new_tensor(...), device=x.device), no .item() or .numpy()."
        ) from None
    if isinstance(out, Tensor) and out.device.type != "meta":
        raise AssertionError(_elsewhere(name, out, torch.device("meta"), describe(arg_names, args)))


def _check_gradient(
    fn: Callable, ex: Exercise, change: Callable[[tuple], tuple] | None = None, why: str = ""
) -> None:
    """Autograd must reach every input that requires grad, finite, with the library's gradient."""
    change = change or (lambda args: args)
    case = _largest_case(ex)
    args = change(ex.make(case, torch.float64, SEED, True))
    ref_args = change(ex.make(case, torch.float64, SEED, True))
    where = describe(ex.arg_names, args) + (f", {why}" if why else "")
    out = run(fn, ex.name, ex.arg_names, args, forbid=ex.forbid)
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
    try:
        grads = torch.autograd.grad((out * weight).sum(), [t for _, t in leaves], allow_unused=True)
    except Exception as e:  # noqa: BLE001 - the answer's graph failed: say so in one line
        hint = next((h for key, h in _EXCEPTION_HINTS.items() if key in str(e)), "")
        raise AssertionError(
            f"{ex.name}'s gradient cannot be computed: {raised('backward', e)} (on {where})"
            + (f"; hint: {hint}." if hint else ".")
        ) from None
    ref_grads = torch.autograd.grad((ref_out * weight).sum(), ref_leaves, allow_unused=True)
    slacks = ex.slack(ref_args) if ex.slack else [None] * len(leaves)
    for (path, leaf), grad, ref_grad, slack in zip(leaves, grads, ref_grads, slacks, strict=True):
        if grad is None and ref_grad is None:  # e.g. a content layer among the style features
            continue
        if grad is not None and not torch.isfinite(grad).all():
            raise AssertionError(
                f"{ex.name}'s gradient with respect to {path} is NaN or infinite (on {where}): "
                "at equal neighbours or zeros, sqrt(x²) or sqrt(0) has no finite slope; use "
                ".abs() for |x| and a small ε inside a square root."
            )
        ref_grad = torch.zeros_like(leaf) if ref_grad is None else ref_grad
        if grad is not None and slack is not None:  # at a kink: the nearest valid subgradient
            room = slack * weight.abs().sum()
            ref_grad = ref_grad + (grad.detach() - ref_grad).clamp(-room, room)
        problem = "it does not depend on it" if grad is None else _diagnose_values(grad, ref_grad)
        if problem:
            cause = (
                "Only at the flat patch: what slope does your function give where two values "
                "are equal?"
                if grad is not None and _only_near_patch(grad, ref_grad)
                else "Is part of the computation detached or done outside torch?"
            )
            raise AssertionError(
                f"{ex.name} has the wrong gradient with respect to {path}: {problem} (on "
                f"{where}). {cause}"
            )


def _only_near_patch(grad: Tensor, want: Tensor) -> bool:
    """Whether every wrong entry lies next to the flat 2 x 2 patch of :func:`_hard` (the first
    three rows and columns), so that ties, not the formula, are the likely cause."""
    if grad.dim() < 2 or grad.shape[-1] < 4 or grad.shape[-2] < 4:
        return False
    wrong = (grad.detach() - want).abs() > RTOL.get(want.dtype, 1e-4) * want.abs().max()
    return bool(wrong.any()) and not bool(wrong[..., 3:, :].any() or wrong[..., :, 3:].any())


def _batch_of(ex: Exercise, case: Any) -> int:
    return batch_size(ex.make(case, torch.float64, SEED, False))
