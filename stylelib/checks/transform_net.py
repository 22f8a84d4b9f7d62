"""Checks of lesson 05's transform network exercise: Johnson et al.'s (2016) residual block.

The check judges behaviour, not names: it runs the student's block once and watches which
torch functions it calls (a :class:`~torch.overrides.TorchFunctionMode`), so it finds the two
convolutions and the two normalisations by their role, in the order they run, whatever the
modules are called and whether they are modules at all (``F.conv2d`` with the block's own
``nn.Parameter``). It gives the block seeded random weights, builds the paper's block from
those same weights with torch operations, and compares the two outputs.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylelib import blocks, johnson
from stylelib.checks.device import SimulatedGPU, simulated_gpu
from stylelib.checks.guard import library_calls
from stylelib.checks.harness import SEED, raised, randn, run
from stylelib.checks.trace import NORMS, Call, Trace
from stylelib.johnson import network as johnson_network

# (channels, input shape): a batch of 2, so that batch statistics differ from each image's own;
# H ≠ W; and a second, odd channel count, so that nothing may be fixed to one size.
CASES = ((8, (2, 8, 10, 12)), (5, (2, 5, 9, 7)))
# Both accepted, per convolution: the lesson asks for "padding 1" (nn.Conv2d's zeros), the
# library pads by reflection (the authors' later code, pytorch/examples).
PADDINGS = ("zeros", "reflect")
WRONG_PADDINGS = ("replicate", "circular")
EXPECTED = ("conv", "instance norm", "ReLU", "conv", "instance norm")
RTOL = 1e-4  # float32, of the largest expected magnitude
BLOCK = "Johnson's block: conv3x3, instance norm, ReLU, conv3x3, instance norm, then x + that"


def _forward(block: nn.Module, x: Tensor, trace: Trace | None = None) -> Any:
    """``block(x)`` through the harness (time limit, input unchanged, no library call)."""

    def forward(x: Tensor) -> Any:
        if trace is None:
            return block(x)
        with trace:
            return block(x)

    return run(forward, "ResidualBlock.forward", ("x",), (x,), forbid=(johnson, blocks))


# --- The reference block ------------------------------------------------------------------------


class _Roles(NamedTuple):
    """The block's weights by role: convolution 1 and 2, and norm 1 and 2's scale and shift."""

    w1: Tensor
    b1: Tensor | None
    g1: Tensor
    s1: Tensor
    w2: Tensor
    b2: Tensor | None
    g2: Tensor
    s2: Tensor

    def detached(self, channels: int) -> _Roles:
        """Copies cut off from autograd; scales, shifts and biases as vectors of C values."""
        vector = (channels,)
        return _Roles(
            *(
                None if t is None else t.detach().reshape(vector if i % 4 else t.shape)
                for i, t in enumerate(self)
            )
        )


def _conv(x: Tensor, weight: Tensor, bias: Tensor | None, padding: str) -> Tensor:
    mode = "constant" if padding == "zeros" else padding
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode=mode), weight, bias)


def _branch(x: Tensor, r: _Roles, pads: Sequence[str]) -> Tensor:
    """F(x) of Johnson et al.'s supplementary material, with the student's weights."""
    h = F.instance_norm(_conv(x, r.w1, r.b1, pads[0]), weight=r.g1, bias=r.s1)
    h = _conv(torch.relu(h), r.w2, r.b2, pads[1])
    return F.instance_norm(h, weight=r.g2, bias=r.s2)


def _reference(x: Tensor, r: _Roles, pads: Sequence[str]) -> Tensor:
    return x + _branch(x, r, pads)


def _close(got: Tensor, expected: Tensor, rtol: float = RTOL) -> bool:
    if got.shape != expected.shape:
        return False
    got, expected = got.detach().double(), expected.detach().double()
    return (got - expected).abs().max().item() <= rtol * expected.abs().max().item() + 1e-6


def _constant_ratio(got: Tensor, expected: Tensor) -> float | None:
    """got / expected if it is the same everywhere, else None."""
    got, expected = got.detach().double(), expected.detach().double()
    mask = expected.abs() > 1e-2 * expected.abs().max()
    ratios = got[mask] / expected[mask]
    middle = ratios.median().item()
    if (ratios - middle).abs().max().item() > 1e-3 * max(abs(middle), 1e-3):
        return None
    return middle


# --- The check --------------------------------------------------------------------------------


def check_residual_block(cls: Callable[[int], nn.Module]) -> None:
    """Check ``cls(channels)``: the residual block of Johnson et al. (2016, supplementary).

    Expected: ``x + F(x)`` with F = 3x3 convolution C → C, instance norm with a learned scale
    and shift, ReLU, 3x3 convolution C → C, instance norm with a learned scale and shift; no
    ReLU after the sum. Each convolution may pad with zeros (``padding=1``, what the lesson
    asks) or by reflection (what :mod:`stylelib.blocks` does); a convolution without a
    bias is right too, since the instance norm after it removes any bias.

    How: the block gets seeded random weights (norm scales and shifts too); one run, watched,
    gives its convolutions and norms in the order they run (found by role, so module names
    and functional code do not matter); the paper's block, built here with torch operations
    from those same weights, must give the same output on a batch of 2 non-square images, in
    train and in eval mode; each image's output must not depend on the other images; the
    gradient must match; and the block must run on another device (``meta``). The library's
    own :mod:`stylelib.blocks` and :mod:`stylelib.johnson` may not be used, subclassed or called.

    Limits: a convolution written without ``conv2d`` (unfold and matmul) is not found, and the
    check says so; a normalisation written by hand is found among the block's parameters of C
    values (at most six of them).
    """
    _refuse_library(cls)
    for index, (channels, shape) in enumerate(CASES):
        _check_case(cls, channels, shape, SEED + 10 * index)
    print(
        f"✓ ResidualBlock: correct on {len(CASES)} blocks (C = 8, 5), batched, train and eval "
        "mode, differentiable, any device"
    )


def _refuse_library(cls: Callable[[int], nn.Module]) -> None:
    """Fail an answer that is, subclasses, wraps or calls :mod:`stylelib.johnson.network`."""
    seen = None
    if isinstance(cls, type):
        seen = next(
            (
                f"{k.__module__}.{k.__qualname__}"
                for k in cls.__mro__
                if k.__module__ in (johnson_network.__name__, blocks.__name__)
            ),
            None,
        )
    if seen is None:
        x = randn((2, 8, 10, 12), torch.float32, SEED)
        try:
            seen = run(
                lambda c: library_calls(lambda: cls(c)(x), [johnson, blocks]),
                "ResidualBlock",
                ("channels",),
                (8,),
            )
        except AssertionError:
            return  # an error of another kind: the checks that follow explain it
    if seen:
        raise AssertionError(
            f"ResidualBlock uses {seen}, the library's own answer to this exercise: write the "
            "block yourself with torch.nn layers (it is compared with the library's)."
        )


def _build(cls: Callable[[int], nn.Module], channels: int) -> nn.Module:
    block = run(cls, "ResidualBlock", ("channels",), (channels,), forbid=(johnson, blocks))
    if not isinstance(block, nn.Module):
        raise AssertionError(
            f"ResidualBlock({channels}) is a {type(block).__name__}: subclass torch.nn.Module "
            "(class ResidualBlock(nn.Module)) and call super().__init__() first."
        )
    return block


def _randomise(block: nn.Module, seed: int) -> None:
    """Seeded weights: convolutions ~ 0.3·N(0, 1), vectors and scalars ~ 1 + 0.5·N(0, 1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float64)
            p.copy_((0.3 * noise if p.dim() >= 2 else 1 + 0.5 * noise).to(p.dtype))


def _check_case(cls: Callable[[int], nn.Module], channels: int, shape: tuple, seed: int) -> None:
    block = _build(cls, channels)
    _randomise(block, seed)
    x = 1.5 * randn(shape, torch.float32, seed + 1) + 0.3
    block.train()
    trace = Trace()
    out = _forward(block, x, trace)
    where = f"ResidualBlock({channels}) on x of shape {tuple(x.shape)}"
    _check_output(out, x, where)
    convs = _convolutions(trace.calls, block, channels)
    _check_batch_independence(block, x, out, trace.calls, where)
    found = _match(out, x, convs, _norm_candidates(trace.calls, block, channels, convs), channels)
    if found is None:
        raise AssertionError(f"{_diagnose(out, x, trace.calls, convs, channels)} ({where}).")
    roles, sources, pads = found
    block.eval()
    out_eval = _forward(block, x)
    if not isinstance(out_eval, Tensor) or not _close(out_eval, _reference(x, roles, pads)):
        raise AssertionError(
            "in eval mode (block.eval()) your block gives other values than in train mode: "
            "instance norm normalises each image with its own statistics at test time too, so "
            f"do not keep running statistics (track_running_stats=False, the default) ({where})."
        )
    block.train()
    _check_gradient(block, x, roles, sources, pads, where)
    _check_device(block, x, where)


def _check_output(out: Any, x: Tensor, where: str) -> None:
    if not isinstance(out, Tensor):
        raise AssertionError(
            f"ResidualBlock.forward returns {type(out).__name__}: return the tensor x + F(x) "
            f"({where})."
        )
    if out.shape != x.shape:
        raise AssertionError(
            f"ResidualBlock turns {tuple(x.shape)} into {tuple(out.shape)}: keep the shape, "
            "with 3x3 convolutions C → C and padding 1 (zeros or reflection) so that H and W "
            "stay."
        )


def _convolutions(calls: list[Call], block: nn.Module, channels: int) -> list[Call]:
    """The two 3x3 convolutions C → C in the order they run, or a message saying what is off."""
    convs = [c for c in calls if c.kind == "conv"]
    c = channels
    if not convs:
        raise AssertionError(
            f"ResidualBlock({c}) runs no convolution: use two 3x3 convolutions, "
            f"nn.Conv2d({c}, {c}, 3, padding=1) (or F.conv2d with your own weights)."
        )
    if len(convs) == 1:
        raise AssertionError(
            "one convolution is missing: Johnson's block has two 3x3 convolutions, each "
            "followed by an instance norm."
        )
    if len(convs) > 2:
        raise AssertionError(
            f"ResidualBlock({c}) runs {len(convs)} convolutions; Johnson's block has two: "
            "conv3x3, instance norm, ReLU, conv3x3, instance norm."
        )
    for conv in convs:
        if not isinstance(conv.weight, Tensor) or tuple(conv.weight.shape) != (c, c, 3, 3):
            got = tuple(conv.weight.shape) if isinstance(conv.weight, Tensor) else None
            raise AssertionError(
                f"a convolution of ResidualBlock({c}) has weights of shape {got}, expected "
                f"{(c, c, 3, 3)}: both are 3x3 convolutions C → C, nn.Conv2d({c}, {c}, 3, "
                "padding=1)."
            )
        stride, dilation, groups = conv.settings
        if set(stride) != {1} or set(dilation) != {1} or groups != 1:
            raise AssertionError(
                f"a convolution has stride {stride}, dilation {dilation}, groups {groups}: "
                "the block's convolutions have stride 1, no dilation and groups=1."
            )
    if convs[0].weight is convs[1].weight:
        raise AssertionError(
            "the same convolution is applied twice: the block has two, each with its own "
            "weights (self.conv1 and self.conv2)."
        )
    owned = {id(p) for p in block.parameters()}
    if any(id(conv.weight) not in owned for conv in convs):
        raise AssertionError(
            "a convolution's weights are not parameters of the block: create the layers in "
            "__init__ (a layer made in forward gets new random weights at every call and is "
            "never trained)."
        )
    return convs


def _check_batch_independence(
    block: nn.Module, x: Tensor, out: Tensor, calls: list[Call], where: str
) -> None:
    """The output must not be random, and each image's output alone must equal its row of the
    batch's output."""
    again = _forward(block, x)
    if not isinstance(again, Tensor) or not _close(again, out):
        raise AssertionError(
            "two runs on the same input give different outputs: the block must not be random "
            f"(Johnson's block has no dropout) ({where})."
        )
    singles = [_forward(block, x[i : i + 1]) for i in range(x.shape[0])]
    if all(isinstance(s, Tensor) and _close(s, out[i : i + 1]) for i, s in enumerate(singles)):
        return
    if any(c.kind == "batch norm" for c in calls):
        advice = (
            "that is batch norm, which normalises with the statistics of the whole batch; use "
            "instance norm, nn.InstanceNorm2d(C, affine=True), which normalises each image on "
            "its own (Ulyanov et al. 2016)"
        )
    else:
        advice = "normalise each image on its own (instance norm), not with the batch's statistics"
    raise AssertionError(
        f"each image's output depends on the other images of the batch: {advice} ({where})."
    )


def _norm_candidates(
    calls: list[Call], block: nn.Module, channels: int, convs: list[Call]
) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor]]:
    """Possible (scale 1, shift 1, scale 2, shift 2): the norms' weights as they ran or, when no
    norm call ran with the block's parameters (a norm written by hand), every order of the
    block's C-vectors that are not convolution biases."""
    params = list(block.parameters())
    owned = {id(p) for p in params}
    norms = [c for c in calls if c.kind in NORMS]

    def learned(t: Any) -> bool:
        return isinstance(t, Tensor) and id(t) in owned and t.numel() == channels

    if len(norms) == 2 and all(learned(n.weight) and learned(n.bias) for n in norms):
        vectors = (norms[0].weight, norms[0].bias, norms[1].weight, norms[1].bias)
        if len({id(v) for v in vectors}) == 4:
            yield vectors
            return  # the norms ran with these: no other arrangement is the block's
    used = {id(c.weight) for c in convs} | {id(c.bias) for c in convs if c.bias is not None}
    vectors = [p for p in params if p.numel() == channels and id(p) not in used]
    if 4 <= len(vectors) <= 6:
        yield from itertools.permutations(vectors, 4)


def _match(
    out: Tensor, x: Tensor, convs: list[Call], candidates: Iterator, channels: int
) -> tuple[_Roles, _Roles, tuple[str, str]] | None:
    """(weights, the block's own tensors, paddings) with which the paper's block gives ``out``."""
    with torch.no_grad():
        for g1, s1, g2, s2 in candidates:
            sources = _Roles(
                convs[0].weight, convs[0].bias, g1, s1, convs[1].weight, convs[1].bias, g2, s2
            )
            roles = sources.detached(channels)
            for pads in itertools.product(PADDINGS, repeat=2):
                if _close(out, _reference(x, roles, pads)):
                    return roles, sources, pads
    return None


def _diagnose(out: Tensor, x: Tensor, calls: list[Call], convs: list[Call], c: int) -> str:
    """What is wrong with a block whose output no arrangement of its weights explains."""
    norms = [n for n in calls if n.kind in NORMS]
    if not norms:
        return (
            "no instance norm found (a normalisation written by hand must normalise each "
            "channel of each image over H × W with the biased variance, (h − mean) / "
            f"sqrt(var + 1e-5)): put nn.InstanceNorm2d({c}, affine=True) after each convolution"
        )
    other = next((n.kind for n in norms if n.kind != "instance norm"), None)
    if other:
        return (
            f"the block uses {other}: use instance norm, nn.InstanceNorm2d({c}, affine=True), "
            "which normalises each channel of each image over H × W"
        )
    if len(norms) != 2:
        return (
            "one instance norm is missing: there is one after each convolution"
            if len(norms) == 1
            else f"the block runs {len(norms)} normalisations; {BLOCK}"
        )
    if any(n.weight is None or n.bias is None for n in norms):
        return (
            "the instance norms have no learned scale and shift: use "
            f"nn.InstanceNorm2d({c}, affine=True), as Ulyanov et al.'s and the library's code do"
        )
    if norms[0].weight is norms[1].weight:
        return (
            "the same instance norm is applied twice: the block has two, each with its own "
            "scale and shift"
        )
    if any(t.numel() != c for n in norms for t in (n.weight, n.bias)):
        return f"the instance norms' scale and shift must have one value per channel ({c}): {BLOCK}"
    sources = _Roles(
        convs[0].weight,
        convs[0].bias,
        norms[0].weight,
        norms[0].bias,
        convs[1].weight,
        convs[1].bias,
        norms[1].weight,
        norms[1].bias,
    )
    message = _known_mistake(out, x, sources.detached(c))
    if message:
        return message
    layers = tuple(call.kind for call in calls)
    if layers != EXPECTED:
        yours, johnsons = " → ".join(layers), " → ".join(EXPECTED)
        if sorted(layers) == sorted(EXPECTED):
            return (
                f"the layers run in the wrong order, {yours}; Johnson's block runs {johnsons}, "
                "then the input is added"
            )
        if len(layers) == len(EXPECTED):
            i = next(i for i, (a, b) in enumerate(zip(layers, EXPECTED, strict=True)) if a != b)
            return (
                f"your block runs {layers[i]} where Johnson's runs {EXPECTED[i]}: {johnsons}, "
                "then the input is added"
            )
        return (
            f"your block runs {yours}; Johnson's runs {johnsons}, then the input is added: "
            "add what is missing and remove the rest"
        )
    diff = (out - _reference(x, sources.detached(c), PADDINGS[:1] * 2)).abs().max().item()
    return (
        f"with the same weights your block's output differs from Johnson's by up to {diff:.3g}: "
        f"{BLOCK}, and no ReLU after the sum"
    )


def _known_mistake(out: Tensor, x: Tensor, roles: _Roles) -> str | None:
    """A mistake that, with the block's weights in their roles, gives exactly ``out``."""
    with torch.no_grad():
        for pads in itertools.product(PADDINGS + WRONG_PADDINGS, repeat=2):
            branch = _branch(x, roles, pads)
            if _close(out, branch):
                return (
                    "the skip connection is missing: add the input, return x + F(x) "
                    "(the layers learn only a change of x)"
                )
            if _close(out, torch.relu(x + branch)):
                return (
                    "there is a ReLU after the sum: return x + F(x) as it is (Johnson et al.'s "
                    "supplementary material drops the final ReLU)"
                )
            if _close(out, x + torch.relu(branch)):
                return "there is a ReLU after the second instance norm: F(x) ends with the norm"
            wrong = [p for p in pads if p in WRONG_PADDINGS]
            if wrong and _close(out, x + branch):
                return (
                    f"the convolutions pad in mode {wrong[0]!r}: pad with zeros (padding=1) "
                    "or by reflection"
                )
            skip = out - branch
            if not wrong and (ratio := _constant_ratio(skip, x)) is not None:
                return (
                    f"the input is added {ratio:.3g} times: return x + F(x), with x as it came in"
                )
            same = ((skip - x).abs() <= RTOL * x.abs().max()).float().mean().item()
            if not wrong and 0.2 < same < 1:
                return (
                    f"the skip path changes part of the input ({1 - same:.0%} of its values; a "
                    "clamp or a ReLU on x?): return x + F(x), with x as it came in"
                )
            ratio = _constant_ratio(out - x, branch)
            if ratio is not None and wrong == []:
                return (
                    f"the branch is scaled by {ratio:.3g}: return x + F(x), with no factor on "
                    "F(x) (a scale is what the last instance norm learns)"
                )
    return None


def _check_gradient(
    block: nn.Module, x: Tensor, roles: _Roles, sources: _Roles, pads: tuple, where: str
) -> None:
    """Autograd must reach the input and every weight, with the paper's block's gradient."""
    names = (
        "x",
        "the first convolution's weights",
        "the first norm's scale",
        "the first norm's shift",
        "the second convolution's weights",
        "the second norm's scale",
        "the second norm's shift",
    )
    xg = x.clone().requires_grad_()
    out = _forward(block, xg)
    leaves = [xg, sources.w1, sources.g1, sources.s1, sources.w2, sources.g2, sources.s2]
    ref_roles = _Roles(*(None if t is None else t.clone().requires_grad_() for t in roles))
    ref_x = x.clone().requires_grad_()
    ref_leaves = [
        ref_x,
        ref_roles.w1,
        ref_roles.g1,
        ref_roles.s1,
        ref_roles.w2,
        ref_roles.g2,
        ref_roles.s2,
    ]
    weight = randn(tuple(x.shape), torch.float32, SEED + 7)
    frozen = [name for name, t in zip(names, leaves, strict=True) if not t.requires_grad]
    if frozen:
        raise AssertionError(
            f"requires_grad is off for {frozen[0]}, so training would never change them: "
            f"leave it on (no requires_grad_(False)) ({where})."
        )
    if not isinstance(out, Tensor) or out.grad_fn is None:
        raise AssertionError(
            "no gradient flows through your block: its output has no grad_fn; remove "
            f"torch.no_grad(), .detach() or .data from forward ({where})."
        )
    try:
        grads = torch.autograd.grad((out * weight).sum(), leaves, allow_unused=True)
    except Exception as e:  # noqa: BLE001 - the answer's graph failed: say so in one line
        raise AssertionError(
            f"{raised('back-propagating through ResidualBlock', e)}: is a tensor autograd "
            f"needs changed in place (relu_(), +=) in forward? ({where})."
        ) from None
    ref_out = _reference(ref_x, ref_roles, pads)
    ref_grads = torch.autograd.grad((ref_out * weight).sum(), ref_leaves)
    for name, grad, ref_grad in zip(names, grads, ref_grads, strict=True):
        if grad is None or not _close(grad.reshape(ref_grad.shape), ref_grad, 1e-3):
            what = (
                f"no gradient reaches {name}"
                if grad is None
                else f"the gradient with respect to {name} is wrong"
            )
            raise AssertionError(
                f"the values are right but {what}: part of the block is detached (.detach(), "
                f".data, torch.no_grad()) ({where})."
            )


def _check_device(block: nn.Module, x: Tensor, where: str) -> None:
    """The block must run where its input and weights are: on a simulated GPU (see
    :mod:`.device`), or on the ``meta`` device where that cannot be made or does not run."""
    gpu = simulated_gpu()
    if gpu is not None and _on_simulated_gpu(block, x, where, gpu):
        return
    trace = Trace(on_meta=True)
    advice = (
        "create tensors in forward with device=x.device (torch.zeros(..., device=x.device)), "
        "and keep fixed tensors as nn.Parameter or register_buffer so that .to() moves them"
    )
    try:
        block.to("meta")
        x = x.to("meta")
        with trace:
            out = block(x)
    except Exception as e:  # noqa: BLE001 - reported to the student in one line
        raise AssertionError(
            f"{raised('ResidualBlock on another device', e)}: {advice} ({where})."
        ) from None
    if trace.cpu_tensor or not isinstance(out, Tensor) or out.device.type != "meta":
        raise AssertionError(
            f"ResidualBlock uses a tensor on the CPU whatever its input's device (in "
            f"{trace.cpu_tensor or 'forward'}), which fails on a GPU: {advice} ({where})."
        )


def _on_simulated_gpu(block: nn.Module, x: Tensor, where: str, gpu: SimulatedGPU) -> bool:
    """True when a copy of the block, moved to the simulated GPU, runs there; False to decide
    on ``meta`` (a failure that is not a device slip)."""
    try:
        moved = copy.deepcopy(block)
        with gpu.mode:
            moved.to(gpu.device)
        x = gpu.make(x)
        with gpu.running():
            out = moved(x)
    except Exception as e:  # noqa: BLE001 - a device slip is reported, the rest goes to meta
        problem = gpu.problem("ResidualBlock", e)
        if problem is None:
            return False
        raise AssertionError(f"{problem}; keep fixed tensors as buffers ({where}).") from None
    if isinstance(out, Tensor) and out.device != gpu.device:
        raise AssertionError(
            f"ResidualBlock returns its output on {out.device} for an input on {gpu.device}: "
            f"create tensors in forward with device=x.device ({where})."
        )
    return True


__all__ = ["check_residual_block"]
