"""stylelib.checks.closure: wrong and right answers to lesson 03's closure exercise.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_accepted, assert_catalogue_complete, assert_rejected, catalogue_cases

from stylelib import checks
from stylelib.checks import closure as MODULE

CATALOGUE: dict = {}

# --- make_closure (lesson 03) -----------------------------------------------------------------


def closure_right(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss

    return closure


def closure_grad_by_hand(optimizer, x, loss_fn):
    def closure():
        x.grad = None
        loss = loss_fn(x)
        (x.grad,) = torch.autograd.grad(loss, x)
        return loss

    return closure


def closure_no_zero_grad(optimizer, x, loss_fn):
    def closure():
        loss = loss_fn(x)
        loss.backward()
        return loss

    return closure


def closure_no_backward(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        return loss_fn(x)

    return closure


def closure_returns_none(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss_fn(x).backward()

    return closure


def closure_calls_step(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        optimizer.step(closure)
        return loss

    return closure


def closure_called_not_returned(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss

    return closure()


def closure_on_a_detached_copy(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x.detach().requires_grad_(True))
        loss.backward()
        return loss

    return closure


def closure_scaled_loss(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        (2 * loss).backward()
        return 2 * loss

    return closure


CATALOGUE["make_closure"] = (
    checks.check_closure,
    {},
    [
        (closure_no_zero_grad, "zero_grad()"),
        (closure_no_backward, "loss.backward()"),
        (closure_returns_none, "returns NoneType"),
        (closure_calls_step, "must not call optimizer.step"),
        (closure_called_not_returned, "return the inner function"),
        (closure_on_a_detached_copy, "no .detach()"),
        (closure_scaled_loss, "a different number than loss_fn(x)"),
    ],
    [closure_right, closure_grad_by_hand],
)


WRONG, RIGHT = catalogue_cases(CATALOGUE)


@pytest.mark.parametrize(("check", "kwargs", "wrong", "keyword"), WRONG)
def test_rejects_wrong_answer_and_names_the_mistake(check, kwargs, wrong, keyword):
    assert_rejected(check, kwargs, wrong, keyword)


@pytest.mark.parametrize(("check", "kwargs", "right"), RIGHT)
def test_accepts_right_answer_and_says_so(check, kwargs, right, capsys):
    assert_accepted(check, kwargs, right, capsys)


def test_catalogue_covers_every_check_of_the_module():
    assert_catalogue_complete(CATALOGUE, MODULE)
