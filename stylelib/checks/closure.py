"""Checks of lesson 03's exercise on the optimisation loop: the closure L-BFGS calls."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .harness import SEED, raised, run


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
    closure = run(fn, "make_closure", ("optimizer", "x", "loss_fn"), (optimizer, x, loss_fn))
    if not callable(closure):
        raise AssertionError(
            f"make_closure returns {type(closure).__name__}: return the inner "
            "function itself (def closure(): ... ; return closure), not its result"
        )
    first = run(closure, "the closure", (), ())
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
            raise AssertionError(raised("optimizer.step(closure)", e)) from None
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
