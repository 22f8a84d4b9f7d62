"""stylelib.checks.device: CPU-tensor slips are refused as a GPU would refuse them.

Every check that takes tensors runs its answer once on a simulated GPU (fake CUDA tensors).
Here a right answer from each check's own catalogue is given one CPU tensor, written the five
ways students write one (``@``, ``einsum``, ``F.conv2d``, ``torch.matmul``, broadcasting): the
values stay exact on the CPU, so only the device check can refuse it, and must. The same
answer given a tensor made from the input (``device=x.device``, ``new_tensor``, ``*_like``, a
Python scalar, a module moved with ``.to(x.device)``) must pass.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_checks import CATALOGUE as LOSS_TERMS
from test_checks_adain import CATALOGUE as ADAIN
from test_checks_beyond import CATALOGUE as BEYOND
from test_checks_gradients import CATALOGUE as GRADIENTS
from test_checks_superres import CATALOGUE as SUPERRES
from test_checks_training import CATALOGUE as TRAINING
from test_checks_transform_net import CATALOGUE as TRANSFORM_NET
from torch import nn

from stylelib import checks
from stylelib.checks import device, harness

# --- the slips and their right twins, applied to one tensor x ---------------------------------


def _n(x):
    return x.shape[-1] if x.dim() else 1


def _rows(x):
    return x.reshape(-1, _n(x))


def slip_at(x):
    return (_rows(x) @ torch.eye(_n(x), dtype=x.dtype)).reshape(x.shape)


def slip_einsum(x):
    return torch.einsum("ij,jk->ik", _rows(x), torch.eye(_n(x), dtype=x.dtype)).reshape(x.shape)


def slip_conv2d(x):
    kernel = torch.ones(1, 1, 1, 1, dtype=x.dtype)
    return F.conv2d(x.reshape(1, 1, -1, _n(x)), kernel).reshape(x.shape)


def slip_matmul(x):
    return torch.matmul(_rows(x), torch.eye(_n(x), dtype=x.dtype)).reshape(x.shape)


def slip_broadcast(x):
    return (x * torch.ones(_n(x), dtype=x.dtype)).reshape(x.shape)


SLIPS = {
    "@": (slip_at, "Tensor.matmul"),  # x @ m reaches torch as Tensor.matmul
    "einsum": (slip_einsum, "torch.einsum(...)"),
    "conv2d": (slip_conv2d, "torch.conv2d(...)"),
    "matmul": (slip_matmul, "torch.matmul(...)"),
    "broadcast": (slip_broadcast, "Tensor.mul"),
}


def right_device(x):
    return (_rows(x) @ torch.eye(_n(x), dtype=x.dtype, device=x.device)).reshape(x.shape)


def right_new_tensor(x):
    eye = x.new_tensor([[float(i == j) for j in range(_n(x))] for i in range(_n(x))])
    return torch.einsum("ij,jk->ik", _rows(x), eye).reshape(x.shape)


def right_like(x):
    return x * torch.ones_like(x) + torch.zeros_like(x)


def right_scalars(x):
    return x * 1.0 * torch.tensor(1.0)  # a 0-d CPU tensor is allowed on a GPU too


def right_module_moved(x):
    conv = nn.Conv2d(1, 1, 1, bias=False, dtype=x.dtype).to(x.device)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    return conv(x.reshape(1, 1, -1, _n(x))).reshape(x.shape)


RIGHTS = [right_device, right_new_tensor, right_like, right_scalars, right_module_moved]


# --- a right answer per check, from the catalogues ----------------------------------------------

_CATALOGUES = {**LOSS_TERMS, **GRADIENTS, **BEYOND, **ADAIN, **SUPERRES, **TRAINING}
FUNCTIONS = {
    name: (check, kwargs, rights[0])
    for name, (check, kwargs, _, rights) in _CATALOGUES.items()
    if name != "train_step"  # takes a network and an optimizer; runs on the CPU
}
BLOCK = TRANSFORM_NET["residual_block"][3][0]


def _with(answer, change):
    """``answer`` with ``change`` applied to its first tensor argument (or dict of them)."""

    def changed(first, *rest):
        if isinstance(first, dict):
            first = {k: change(v) if isinstance(v, torch.Tensor) else v for k, v in first.items()}
        else:
            first = change(first)
        return answer(first, *rest)

    changed.__name__ = f"{answer.__name__}_{change.__name__}"
    return changed


def _block_with(change):
    class Block(BLOCK):
        def forward(self, x):
            return super().forward(change(x))

    Block.__name__ = f"{BLOCK.__name__}_{change.__name__}"
    return Block


CASES = [
    (n, *FUNCTIONS[n][:2], _with(FUNCTIONS[n][2], s), k)
    for n in FUNCTIONS
    for s, k in SLIPS.values()
]
# The block's check finds its convolutions by role, so an extra F.conv2d or conv module is
# another mistake there; its catalogue's BlockCpuBias is the conv2d slip, inside a conv.
CASES += [
    ("residual_block", checks.check_residual_block, {}, _block_with(s), k)
    for name, (s, k) in SLIPS.items()
    if name != "conv2d"
]
RIGHT_CASES = [(n, *FUNCTIONS[n][:2], _with(FUNCTIONS[n][2], r)) for n in FUNCTIONS for r in RIGHTS]
RIGHT_CASES += [
    ("residual_block", checks.check_residual_block, {}, _block_with(r))
    for r in RIGHTS
    if r is not right_module_moved
]


@pytest.mark.parametrize(
    ("name", "check", "kwargs", "answer", "where"),
    CASES,
    ids=[f"{c[0]}-{c[3].__name__.rsplit('slip_', 1)[-1]}" for c in CASES],
)
def test_a_cpu_tensor_is_refused_however_it_meets_the_input(name, check, kwargs, answer, where):
    with pytest.raises(AssertionError) as info:
        check(answer, **kwargs)
    message = str(info.value)
    assert "on the CPU with inputs on another device (a simulated GPU" in message, message
    assert f"in {where}" in message, message
    assert "\n" not in message and len(message) < 500, message


@pytest.mark.parametrize(
    ("name", "check", "kwargs", "answer"),
    RIGHT_CASES,
    ids=[f"{c[0]}-{c[3].__name__}" for c in RIGHT_CASES],
)
def test_tensors_made_from_the_input_pass(name, check, kwargs, answer, capsys):
    check(answer, **kwargs)
    assert capsys.readouterr().out.startswith("✓ ")


def _no_mode_left():
    assert torch._C._len_torch_dispatch_stack() == 0
    assert torch._C._len_torch_function_stack() == 0


def test_the_simulated_gpu_is_left_when_the_answer_raises():
    def gram(features):
        if features.device.type != "cpu":
            raise ValueError("only on the GPU")
        return features.flatten(2) @ features.flatten(2).mT

    with pytest.raises(AssertionError, match="another device"):
        checks.check_gram_matrix(gram)
    _no_mode_left()


def test_the_simulated_gpu_is_left_when_the_answer_loops(monkeypatch):
    monkeypatch.setattr(harness, "SLOW_SECONDS", 0.3)

    def gram(features):
        while features.device.type != "cpu":
            features = features + 0
        return features.flatten(2) @ features.flatten(2).mT

    with pytest.raises(AssertionError, match="too slow"):
        checks.check_gram_matrix(gram)
    _no_mode_left()


def test_meta_is_the_fallback_where_no_fake_cuda_can_be_made(monkeypatch, capsys):
    """Without the simulated GPU the answer runs on meta inputs: a result left on the CPU is
    still refused, and a right answer passes. (Which slips meta shows depends on the operation,
    and even on what ran before: the reason for the simulated GPU.)"""
    from test_checks import gram_on_the_cpu

    monkeypatch.setattr(harness, "simulated_gpu", lambda: None)
    with pytest.raises(AssertionError, match="meta"):
        checks.check_gram_matrix(gram_on_the_cpu)
    checks.check_gram_matrix(_with(LOSS_TERMS["gram_matrix"][3][0], right_new_tensor))
    assert capsys.readouterr().out.startswith("✓ ")


def test_the_simulated_gpu_can_be_made_here():
    gpu = device.simulated_gpu()
    assert gpu is not None
    x = gpu.make(torch.zeros(2, 3))
    assert x.device.type == "cuda" and not device.has_values(x)
    _no_mode_left()


def test_a_factor_of_one_is_never_a_diagnosis():
    assert harness._name_factor(1.0, [checks.Factor("B", 1)]) is None
