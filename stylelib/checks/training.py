"""Checks of lesson 05's training exercises: the feature reconstruction loss and one step.

Johnson et al. (2016) train the transform network f_W by stochastic gradient descent on a
weighted sum of perceptual losses (Eq. 1), Adam with learning rate 10⁻³ (Sec. 4.1); the
content term is the feature reconstruction loss of Eq. 2. :func:`check_feature_loss`
compares the student's loss with :func:`stylelib.losses.content_loss` (``"johnson"``);
:func:`check_train_step` compares one optimisation step with a reference step run here.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from stylelib import johnson, losses, trainkit, trainset

from .harness import SEED, Exercise, Factor, check_exercise, randn, run

# --- feature_loss ------------------------------------------------------------------------------

# (B, C, H, W): one image first; B = 3 next, so that a sum over the batch (a factor 3) is not
# mistaken for a ½; H ≠ W and C different everywhere; one float32 input.
FEATURE_CASES = [
    ((1, 3, 4, 5), torch.float64),
    ((3, 5, 6, 4), torch.float64),
    ((2, 7, 3, 8), torch.float64),
    ((2, 6, 5, 7), torch.float32),
]
# float32 timing input: vectorised, milliseconds; a Python loop over its ~2·10⁶ elements is
# far beyond harness.SLOW_SECONDS.
TIMING_FEATURES = (2, 128, 96, 80)
EQ2 = "ℓ_feat = ‖φ(ŷ) − φ(y)‖²₂ / (C·H·W), Johnson Eq. 2"


def _features_and_target(shape, dtype, seed, grad):
    return randn(shape, dtype, seed, grad), randn(shape, dtype, seed + 100)


def _per_image(values: Tensor) -> Tensor:
    return values.flatten(1).sum(dim=1)


def check_feature_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(features, target) -> scalar``: Johnson et al. 2016's feature loss, Eq. 2.

    ℓ_feat(ŷ, y) = ‖φ_j(ŷ) − φ_j(y)‖²₂ / (C_j H_j W_j) per image, averaged over the batch;
    ``features`` = φ_j(ŷ) and ``target`` = φ_j(y), both ``(B, C, H, W)``. The reference is
    :func:`stylelib.losses.content_loss` with ``normalization="johnson"``, which the answer
    may not call.
    """

    def factors(args):
        b, c, h, w = args[0].shape
        return [
            Factor("C·H·W", c * h * w, large=f"divide by C·H·W: {EQ2}", small="divide only once"),
            Factor("2", 2, small="Johnson's feature loss has no ½ (that is Gatys's Eq. 1)"),
            Factor("C", c, large="divide by C·H·W, not only by H·W"),
            Factor("H·W", h * w, large="divide by C·H·W, not only by C"),
            Factor(
                "B",
                b,
                large="average over the batch (.mean() of per-image losses), don't sum",
                small="don't divide by the batch size twice",
            ),
        ]

    def known(args):
        features, target = args
        diff = features - target
        chw = diff[0].numel()
        return [
            (
                losses.content_loss(features, target, "gatys"),
                "that is Gatys's content loss ½ Σ (F − P)²; Johnson's divides by C·H·W and has "
                f"no ½: {EQ2}",
            ),
            (
                (_per_image(diff.pow(2)).sqrt() / chw).mean(),
                f"the norm is squared: ‖·‖²₂ is the sum of squares, with no square root; {EQ2}",
            ),
            (
                diff.pow(2).sum().sqrt() / chw,
                f"the norm is squared: ‖·‖²₂ is the sum of squares, with no square root; {EQ2}",
            ),
            (diff.pow(2).mean().sqrt(), f"no square root: the loss is the mean square; {EQ2}"),
            (
                (_per_image(diff.abs()) / chw).mean(),
                f"you used |F − P|: square the differences, {EQ2}",
            ),
            (
                losses.content_loss(features[:1], target[:1], "johnson"),
                "only the first image of the batch is used",
            ),
        ]

    ex = Exercise(
        "feature_loss",
        "feature_loss (Johnson Eq. 2)",
        ("features", "target"),
        _features_and_target,
        lambda f, p: losses.content_loss(f, p, "johnson"),
        FEATURE_CASES,
        TIMING_FEATURES,
        factors,
        known,
        forbid=(losses,),
    )
    check_exercise(fn, ex)


# --- train_step --------------------------------------------------------------------------------

STEPS = 3  # calls per optimizer: a gradient left from one step shows in the next
# Two optimizers: SGD is linear in the gradient (a doubled or accumulated gradient shows), and
# its momentum, like Adam's moments, is state that a fresh optimizer would lose; Adam is
# what Johnson et al. train with (Sec. 4.1).
OPTIMIZERS: dict[str, Callable[[Any], torch.optim.Optimizer]] = {
    "SGD(lr=0.1, momentum=0.9)": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
    "Adam(lr=0.05)": lambda params: torch.optim.Adam(params, lr=0.05),
}
PHOTOS = (3, 3, 6, 7)  # 3 small non-square photos: a loss × B is not a backward twice (× 2)
STEP = (
    "optimizer.zero_grad(), stylized = net(photos), loss = loss_fn(stylized, photos), "
    "loss.backward(), optimizer.step(), return loss.item()"
)


def _tiny_net(seed: int) -> nn.Module:
    """A stand-in transform network: one seeded 3x3 convolution and a sigmoid, float64."""
    net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid()).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return net


def _loss(stylized: Tensor, photos: Tensor) -> Tensor:
    """Asymmetric on purpose: swapping the arguments changes the value and the gradient."""
    return (stylized - 0.5 * photos).pow(2).mean() + 0.1 * stylized.mean()


class _LossFn:
    """The ``loss_fn`` handed to the student: ``_loss``, noting what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[Tensor, Tensor]] = []

    def __call__(self, stylized: Tensor, photos: Tensor) -> Tensor:
        self.calls.append((stylized, photos))
        return _loss(stylized, photos)


class _State(NamedTuple):
    """The reference's network, gradients and optimizer between two steps."""

    weights: dict
    grads: list
    optimizer: dict


def _state(net: nn.Module, optimizer: torch.optim.Optimizer) -> _State:
    return _State(
        {k: v.clone() for k, v in net.state_dict().items()},
        [None if p.grad is None else p.grad.clone() for p in net.parameters()],
        copy.deepcopy(optimizer.state_dict()),  # the live one shares the optimizer's tensors
    )


def _replay(make_opt: Callable, state: _State, photos: Tensor, variant: str = "") -> tuple:
    """One step from ``state``, done right (``variant=""``) or with a known mistake.

    Returns (network, optimizer, loss value).
    """
    net = _tiny_net(0)
    net.load_state_dict(state.weights)
    optimizer = make_opt(net.parameters())
    optimizer.load_state_dict(copy.deepcopy(state.optimizer))  # step() updates it in place
    for p, g in zip(net.parameters(), state.grads, strict=True):
        p.grad = None if g is None else g.clone()
    if variant == "fresh optimizer":
        optimizer = make_opt(net.parameters())
    if variant != "no zero_grad":
        optimizer.zero_grad()
    loss = _loss(net(photos), photos)
    (loss * len(photos) if variant == "times B" else loss).backward()
    if variant == "doubled":
        for p in net.parameters():
            p.grad = 2 * p.grad
    optimizer.step()
    if variant == "two steps":
        optimizer.step()
    return net, optimizer, loss.item()


def _weights(net: nn.Module) -> list[Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _same(a: list[Tensor], b: list[Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=1e-9, atol=1e-12) for x, y in zip(a, b, strict=True))


_MISTAKES = {  # variant of _replay -> what the student did
    "no zero_grad": "the gradients of the previous step are still added in: call "
    "optimizer.zero_grad() before loss.backward() in every step",
    "doubled": "the gradient is twice the loss's: is loss.backward() called twice (with "
    "retain_graph=True)? Back-propagate once per step",
    "times B": f"the gradient is B = {PHOTOS[0]} times the loss's: is the loss multiplied by "
    "the batch size (or summed over the images)? loss_fn already averages over the batch: "
    "back-propagate its loss as it is",
    "two steps": "optimizer.step() is called twice: once per step, after loss.backward()",
    "fresh optimizer": "a new optimizer is made in the step, which forgets its state (momentum, "
    "Adam's moments): use the optimizer you are given",
}
_BY_HAND = (
    "the weights are updated by hand (p -= lr * p.grad) instead of by the optimizer you are "
    "given: call optimizer.step(), which applies its own rule (momentum, Adam's moments)"
)


def check_train_step(fn: Callable[..., float]) -> None:
    """Check ``fn(net, optimizer, photos, loss_fn) -> float``: one training step of f_W.

    Expected (Johnson et al. 2016, Eq. 1, trained with Adam, Sec. 4.1): zero the gradients,
    stylise the batch, ``loss = loss_fn(net(photos), photos)``, back-propagate, take one
    optimizer step, and return the loss as a Python float. Checked on a tiny seeded network
    for 3 calls with each of two optimizers (SGD with momentum, Adam): after every call the
    weights must equal those of a reference step done here, and the value returned must be
    that step's loss. Zeroing the gradients at the end of the step instead of the start is
    right too: the check starts from zero gradients. The library's :mod:`stylelib.johnson.train` and
    :mod:`stylelib.trainkit` may not be called.
    """
    if not callable(fn):
        raise AssertionError(f"expected your train_step function, got {type(fn).__name__}")
    for index, (name, make_opt) in enumerate(OPTIMIZERS.items()):
        net = _tiny_net(SEED + index)
        optimizer = make_opt(net.parameters())
        state = _state(net, optimizer)
        for step in range(1, STEPS + 1):
            photos = randn(PHOTOS, torch.float64, SEED + 10 * index + step).sigmoid()
            where = f"step {step} of {STEPS} with {name}"
            ref_net, ref_optimizer, ref_loss = _replay(make_opt, state, photos)
            before = _weights(net)
            loss_fn = _LossFn()
            stepped: list[torch.optim.Optimizer] = []  # every optimizer.step() in the call
            out = _call(fn, net, optimizer, photos, loss_fn, where, stepped)
            _check_loss_calls(loss_fn, photos, ref_net, state, where)
            got = _weights(net)
            if not _same(got, _weights(ref_net)):
                mine = any(o is optimizer for o in stepped)
                raise AssertionError(
                    _wrong_weights(got, before, make_opt, state, photos, where, mine, stepped)
                )
            _check_returned(out, ref_loss, ref_net, photos, where)
            state = _state(ref_net, ref_optimizer)
    print(
        f"✓ train_step: correct on {STEPS} steps with each of {len(OPTIMIZERS)} optimizers "
        "(weights and returned loss)"
    )


def _call(
    fn: Callable, net, optimizer, photos: Tensor, loss_fn: _LossFn, where: str, stepped: list
) -> Any:
    """The student's step through the harness; a failed backward explained from the calls.
    ``stepped`` receives every optimizer whose step() runs meanwhile (any, not only ours)."""
    hook = register_optimizer_step_pre_hook(lambda opt, args, kwargs: stepped.append(opt))
    try:
        return run(
            lambda photos: fn(net, optimizer, photos, loss_fn),
            "train_step",
            ("photos",),
            (photos,),
            forbid=(johnson, trainkit, trainset),  # the training loop and its data
        )
    except AssertionError as e:
        text = str(e)
        if "does not require grad" in text:
            raise AssertionError(f"{_no_gradient(loss_fn, photos)} ({where}).") from None
        if "backward through the graph a second time" in text:
            raise AssertionError(
                f"loss.backward() is called twice on the same graph: back-propagate once per "
                f"step ({where})."
            ) from None
        raise
    finally:
        hook.remove()


def _no_gradient(loss_fn: _LossFn, photos: Tensor) -> str:
    """Why the loss had no gradient, from what loss_fn received."""
    if not loss_fn.calls:
        return f"train_step back-propagates something that is not loss_fn's loss: {STEP}"
    first = loss_fn.calls[0][0]
    if isinstance(first, Tensor) and first.shape == photos.shape and torch.equal(first, photos):
        return (
            "the loss is computed on the photos instead of the stylised images: "
            "loss_fn(net(photos), photos)"
        )
    return (
        "the stylised images are cut off from the network (.detach(), .data, torch.no_grad() "
        "or a copy): pass net(photos) itself to loss_fn, so that the gradient reaches the weights"
    )


def _check_loss_calls(
    loss_fn: _LossFn, photos: Tensor, ref_net: nn.Module, state: _State, where: str
) -> None:
    """loss_fn must get the stylised batch first and the photos second."""
    if not loss_fn.calls:
        raise AssertionError(f"train_step never calls loss_fn: {STEP} ({where}).")
    stylized, targets = loss_fn.calls[0]
    net = _tiny_net(0)
    net.load_state_dict(state.weights)
    with torch.no_grad():
        expected = net(photos)

    def is_(value: Any, reference: Tensor) -> bool:
        return (
            isinstance(value, Tensor)
            and value.shape == reference.shape
            and torch.allclose(value.detach(), reference, rtol=1e-9, atol=1e-12)
        )

    if is_(stylized, photos) and is_(targets, expected):
        raise AssertionError(
            f"the arguments of loss_fn are swapped: loss_fn(stylized, photos), the network's "
            f"output first ({where})."
        )
    if is_(stylized, photos):
        raise AssertionError(
            "the loss is computed on the photos instead of the stylised images: "
            f"loss_fn(net(photos), photos) ({where})."
        )
    if not is_(stylized, expected):
        raise AssertionError(
            f"the first argument of loss_fn is not net(photos), the stylised batch: {STEP} "
            f"({where})."
        )
    if not is_(targets, photos):
        raise AssertionError(
            "the second argument of loss_fn must be the photos themselves (the content "
            f"targets): loss_fn(stylized, photos) ({where})."
        )


def _wrong_weights(
    got: list[Tensor],
    before: list[Tensor],
    make_opt: Callable,
    state: _State,
    photos: Tensor,
    where: str,
    mine: bool = True,
    stepped: Sequence[torch.optim.Optimizer] = (),
) -> str:
    """Name the mistake behind weights that differ from the reference step's; ``mine``: the
    given optimizer's step() ran, ``stepped``: every optimizer whose step() ran."""
    if _same(got, before):
        return (
            "the weights did not change: call optimizer.step() after loss.backward() (a step "
            "before backward, or a zero_grad between backward and step, uses no gradient) "
            f"({where})."
        )
    if not mine:
        return f"{_MISTAKES['fresh optimizer'] if stepped else _BY_HAND} ({where})."
    for variant, message in _MISTAKES.items():
        if _same(got, _weights(_replay(make_opt, state, photos, variant)[0])):
            return f"{message} ({where})."
    return f"the weights after the step differ from one step of {STEP} ({where})."


def _check_returned(
    out: Any, ref_loss: float, ref_net: nn.Module, photos: Tensor, where: str
) -> None:
    if isinstance(out, Tensor):
        raise AssertionError(
            "train_step returns a tensor: return loss.item(), a Python float (a tensor keeps "
            f"the step's whole graph alive in the caller's list of losses) ({where})."
        )
    if isinstance(out, bool) or not isinstance(out, float):  # numpy's float64 is a float
        raise AssertionError(
            f"train_step returns {type(out).__name__}: return the step's loss as a Python "
            f"float, loss.item() ({where})."
        )
    if math.isclose(out, ref_loss, rel_tol=1e-9, abs_tol=1e-12):
        return
    with torch.no_grad():
        after = _loss(ref_net(photos), photos).item()
    if math.isclose(out, after, rel_tol=1e-9, abs_tol=1e-12):
        raise AssertionError(
            "train_step returns the loss after the update: return the loss of this step, the "
            f"one you back-propagated ({where})."
        )
    raise AssertionError(
        f"train_step returns {out:.6g}, but this step's loss is {ref_loss:.6g}: return "
        f"loss.item() of loss = loss_fn(net(photos), photos) ({where})."
    )


__all__ = ["check_feature_loss", "check_train_step"]
