"""stylelib.checks.closure: wrong and right answers to lesson 03's closure exercise.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import torch
from helpers import catalogue_tests

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


def closure_doubled_gradient(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward(retain_graph=True)
        loss.backward()  # a second backward adds the gradient again
        return loss

    return closure


def closure_right_on_step_one_only(optimizer, x, loss_fn):
    loss = loss_fn(x)  # computed once, at the starting x

    def closure():
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        return loss

    return closure


def closure_zero_grad_once(optimizer, x, loss_fn):
    optimizer.zero_grad()  # outside: the gradients of later calls pile up

    def closure():
        loss = loss_fn(x)
        loss.backward()
        return loss

    return closure


def closure_returns_another_loss(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss_fn(x.detach()) + 1.0  # not the loss it back-propagated

    return closure


def closure_under_no_grad(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        with torch.no_grad():
            loss = loss_fn(x)
        loss.backward()
        return loss

    return closure


def closure_borrows_the_library(optimizer, x, loss_fn):
    from stylelib.gatys.transfer import in_range

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(in_range(x))  # the identity here, but the library's loop code
        loss.backward()
        return loss

    return closure


def closure_set_to_zeros(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad(set_to_none=False)
        loss = loss_fn(x)
        loss.backward()
        return loss.detach()  # returning a detached loss is fine: L-BFGS reads its value

    return closure


def closure_zeroes_x_grad_in_place(optimizer, x, loss_fn):
    def closure():
        x.grad.zero_()  # x.grad is None on L-BFGS's first call
        loss = loss_fn(x)
        loss.backward()
        return loss

    return closure


def closure_zeroes_x_grad_data(optimizer, x, loss_fn):
    def closure():
        x.grad.data.fill_(0.0)
        loss = loss_fn(x)
        loss.backward()
        return loss

    return closure


def closure_other_none_error(optimizer, x, loss_fn):
    def closure():
        optimizer.zero_grad()
        result = loss_fn(x).backward()  # backward returns None
        return result * 1.0

    return closure


def closure_with_enable_grad(optimizer, x, loss_fn):
    def closure():
        if x.grad is not None:
            x.grad.zero_()
        with torch.enable_grad():
            loss = loss_fn(x.clone())  # a clone keeps the graph back to x
        loss.backward()
        return loss

    return closure


CATALOGUE["make_closure"] = (
    checks.check_closure,
    {},
    [
        (closure_no_zero_grad, "zero_grad()"),
        (closure_zero_grad_once, "zero_grad()"),
        (closure_no_backward, "loss.backward()"),
        (closure_returns_none, "returns NoneType"),
        (closure_calls_step, "must not call optimizer.step"),
        (closure_called_not_returned, "return the inner function"),
        (closure_on_a_detached_copy, "no .detach()"),
        (closure_under_no_grad, "no torch.no_grad()"),
        (closure_scaled_loss, "a different number than loss_fn(x)"),
        (closure_doubled_gradient, "2 times the gradient"),
        (closure_right_on_step_one_only, "gradient at the starting x"),
        (closure_returns_another_loss, "the loss it back-propagated"),
        (closure_borrows_the_library, "the library's own answer"),
        (closure_zeroes_x_grad_in_place, "fails while x.grad is None"),
        (closure_zeroes_x_grad_data, "fails while x.grad is None"),
        (closure_other_none_error, "raised TypeError"),
    ],
    [closure_right, closure_grad_by_hand, closure_set_to_zeros, closure_with_enable_grad],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)
