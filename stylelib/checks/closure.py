"""Checks of lesson 03's exercise on the optimisation loop: the closure L-BFGS calls."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from stylelib import gatys

from .harness import SEED, randn, run

# The library's loop (stylelib.gatys) holds the reference closure: an answer may not call it.
FORBID = (gatys,)
STEPS = 8  # L-BFGS steps the closure is watched for; the problem below is far from solved by then
RTOL = 1e-9  # float64, the same operations: a right closure agrees to rounding


def _problem() -> Callable[[Tensor], Tensor]:
    """A smooth, non-quadratic loss of 12 unknowns (least squares plus a log-cosh term), so the
    gradient changes at every step. Built here from torch alone: it calls no library code."""
    a, b = randn((20, 12), torch.float64, SEED), randn((20,), torch.float64, SEED + 1)

    def loss_fn(v: Tensor) -> Tensor:
        return 0.5 * (a @ v - b).pow(2).sum() + torch.cosh(2 * v).log().sum()

    return loss_fn


def _fresh(loss_fn: Callable[[Tensor], Tensor], at: Tensor) -> tuple[Tensor, Tensor]:
    """loss_fn and its gradient at ``at``, on a new leaf: what the closure should leave."""
    v = at.detach().clone().requires_grad_(True)
    loss = loss_fn(v)
    (grad,) = torch.autograd.grad(loss, v)
    return loss.detach(), grad


def _close(got: Tensor, expected: Tensor) -> bool:
    scale = expected.abs().max().item()
    return (got.detach() - expected).abs().max().item() <= RTOL * scale + 1e-300


def _ratio(got: Tensor, expected: Tensor) -> float | None:
    """got / expected when it is one constant for every entry, else None."""
    got, expected = got.detach().reshape(-1), expected.reshape(-1)
    mask = expected.abs() > 1e-6 * expected.abs().max()
    if not mask.any():
        return None
    ratios = got[mask] / expected[mask]
    middle = ratios.median().item()
    if middle == 0 or (ratios - middle).abs().max().item() > 1e-6 * abs(middle):
        return None
    return middle


def _reaches(loss: Tensor, x: Tensor) -> bool | None:
    """Whether the returned loss's graph reaches x: None when backward already freed it."""
    if loss.grad_fn is None:
        return False
    try:
        (grad,) = torch.autograd.grad(loss, x, retain_graph=True, allow_unused=True)
    except RuntimeError:
        return None
    return grad is not None


def _works_with_a_gradient(closure: Callable[[], Tensor], x: Tensor) -> bool:
    """Whether ``closure()`` runs when ``x.grad`` exists (zeros): to tell a closure that
    needs a gradient to be there (``x.grad.zero_()``) from one that fails anyway."""
    x.grad = torch.zeros_like(x)
    try:
        run(closure, "the closure", (), (), forbid=FORBID)
    except AssertionError:
        return False
    finally:
        x.grad = None
    return True


def _call(closure: Callable[[], Tensor], step: int, x: Tensor) -> Tensor:
    """One call of the student's closure, with its exceptions said in the closure's terms."""
    try:
        return run(closure, f"the closure (step {step})", (), (), forbid=FORBID)
    except AssertionError as e:
        cause = str(e.__cause__ or "")
        if "does not require grad" in cause:
            raise AssertionError(
                f"on step {step} the loss has no graph back to x, so backward fails: compute "
                "loss_fn(x) on x itself (no .detach(), no torch.no_grad()) in the closure."
            ) from None
        if x.grad is None and _works_with_a_gradient(closure, x):
            raise AssertionError(
                f"on step {step} the closure fails while x.grad is None ({cause[:80]}) and runs "
                "once x has a gradient: before the first backward, as L-BFGS first calls the "
                "closure, x.grad is None; clear it with optimizer.zero_grad(), which handles "
                "both cases."
            ) from None
        if "backward through the graph a second time" in cause:
            raise AssertionError(
                f"on step {step} the closure back-propagates a loss computed before it was "
                "called: compute loss = loss_fn(x) inside the closure, on every call."
            ) from None
        raise


def _gradient_problem(
    grad: Tensor | None, fresh: Tensor, stale: Tensor | None, first: Tensor, out: Tensor, x, step
) -> str | None:
    """What is wrong with the x.grad a closure left, or None."""
    if grad is not None and _close(grad, fresh):
        return None
    if grad is None or not grad.abs().max().item():
        reaches = _reaches(out, x)
        if reaches:
            return (
                "x.grad is empty after the closure: call loss.backward() in the closure "
                "(L-BFGS reads the gradient from x.grad)"
            )
        return (
            "no gradient reaches x: the loss was computed on a copy of x; compute loss_fn(x) "
            "on x itself (no .detach(), no .clone().detach(), no torch.tensor(x))"
        )
    if stale is not None and _close(grad, fresh + stale):
        return (
            "x.grad holds the previous gradient plus the new one (gradients accumulate): call "
            "optimizer.zero_grad() at the start of the closure"
        )
    if step > 1 and _close(grad, first):
        return (
            "x.grad is still the gradient at the starting x: the loss is computed once, outside "
            "the closure; compute loss = loss_fn(x) inside it, on every call"
        )
    ratio = _ratio(grad, fresh)
    if ratio is not None:
        return (
            f"x.grad is {ratio:.4g} times the gradient of loss_fn(x): back-propagate "
            "loss_fn(x) once, unscaled (one loss.backward())"
        )
    return (
        "x.grad is not the gradient of loss_fn at the current x: zero the gradient, compute "
        "loss = loss_fn(x), then call loss.backward() once"
    )


def _value_problem(out: Tensor, fresh: Tensor, first: Tensor, step: int) -> str | None:
    """What is wrong with the value a closure returned (its gradient being right), or None."""
    value = out.detach().reshape(())
    if _close(value, fresh):
        return None
    if step > 1 and _close(value, first):
        return (
            "it returns the loss at the starting x: return the loss it just computed and "
            "back-propagated"
        )
    return (
        f"it returns {value.item():.6g}, a different number than loss_fn(x) = {fresh.item():.6g}, "
        "although its gradient is right: return the loss it back-propagated (L-BFGS compares "
        "those numbers)"
    )


def _problem_of(out, grad: Tensor | None, stale: Tensor | None, calls: list, x: Tensor) -> str:
    """What is wrong with one call's result (returned loss, ``x.grad``), or ""."""
    if not isinstance(out, Tensor) or out.numel() != 1:
        what = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, Tensor) else None
        return (
            f"it returns {what or type(out).__name__}: return the loss tensor itself (L-BFGS "
            "reads it), not None, a float or a list"
        )
    (fresh_loss, fresh_grad), (first_loss, first_grad), step = calls[-1], calls[0], len(calls)
    problem = _gradient_problem(grad, fresh_grad, stale, first_grad, out, x, step)
    if problem is None:
        return _value_problem(out, fresh_loss, first_loss, step) or ""
    value_ratio = out.item() / fresh_loss.item() if fresh_loss.item() else None
    grad_ratio = None if grad is None else _ratio(grad, fresh_grad)
    if value_ratio is not None and grad_ratio is not None and abs(value_ratio - 1) > 1e-6:
        if abs(value_ratio - grad_ratio) <= 1e-6 * abs(grad_ratio):
            return (
                f"it returns and back-propagates {value_ratio:.4g} times loss_fn(x), a different "
                "number than loss_fn(x): return loss_fn(x) itself and back-propagate it unscaled"
            )
    return problem


def check_closure(fn: Callable[..., Callable[[], Tensor]]) -> None:
    """Check ``fn(optimizer, x, loss_fn)`` returns an L-BFGS closure that is right.

    A right closure zeroes the gradient, computes ``loss = loss_fn(x)``, back-propagates it
    and returns it. The check runs L-BFGS with it for :data:`STEPS` steps on a small smooth
    problem and, on every call, compares the loss it returns and the gradient it leaves in
    ``x.grad`` with a fresh ``loss_fn`` and gradient at the same x. ``x`` starts as a fresh
    leaf, as L-BFGS first sees it: ``x.grad`` is None on the first call (a closure that needs
    it, ``x.grad.zero_()``, fails there), and from the second call on holds the previous
    call's gradient, which a right closure clears.
    """
    if not callable(fn):
        raise AssertionError(f"expected your make_closure function, got {type(fn).__name__}")
    loss_fn = _problem()
    x = torch.zeros(12, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=1, history_size=10, tolerance_grad=0.0, tolerance_change=0.0
    )
    closure = run(
        fn, "make_closure", ("optimizer", "x", "loss_fn"), (optimizer, x, loss_fn), forbid=FORBID
    )
    if not callable(closure):
        raise AssertionError(
            f"make_closure returns {type(closure).__name__}: return the inner "
            "function itself (def closure(): ... ; return closure), not its result."
        )
    calls: list[tuple[Tensor, Tensor]] = []  # the fresh loss and gradient of every call

    def watched() -> Tensor:
        step = len(calls) + 1
        before = x.detach().clone()
        stale = None if x.grad is None else x.grad.detach().clone()
        calls.append(_fresh(loss_fn, before))
        out = _call(closure, step, x)
        if not torch.equal(x.detach(), before):
            raise AssertionError(
                f"on step {step} the closure changes x: it must not call optimizer.step (the "
                "loop does); it only computes the loss and its gradient."
            )
        grad = None if x.grad is None else x.grad.detach().clone()
        problem = _problem_of(out, grad, stale, calls, x)
        if problem:
            raise AssertionError(f"the closure is wrong on step {step} of {STEPS}: {problem}.")
        return out

    for _ in range(STEPS):
        try:
            optimizer.step(watched)
        except Exception as e:  # noqa: BLE001 - reported to the student in one line
            if isinstance(e, AssertionError):
                raise
            raise AssertionError(
                f"optimizer.step(closure) raised {type(e).__name__}: {str(e)[:160]}; the "
                "closure must return the loss tensor and leave its gradient in x.grad."
            ) from None
    print(
        f"✓ make_closure: correct on {STEPS} L-BFGS steps, each call's loss and x.grad equal to "
        "a fresh loss_fn(x) and its gradient"
    )


__all__ = ["check_closure"]
