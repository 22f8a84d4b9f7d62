"""Checks of lesson 04's transform network exercise: Johnson et al.'s (2016) residual block."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy

import torch
from torch import Tensor

from .harness import SEED, raised, run


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
            raise AssertionError(raised(f"ResidualBlock({channels})", e)) from None
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
        out = run(block, "ResidualBlock.forward", ("x",), (x,))
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
