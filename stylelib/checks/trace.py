"""Watching a student's network run: which layers it calls, in which order, with which weights.

A check that judges behaviour rather than names runs the student's module once under
:class:`Trace`, a :class:`~torch.overrides.TorchFunctionMode` that sees every torch function
call. :func:`layer_call` turns the layer-like ones (convolutions, normalisations,
activations) into :class:`Call` records holding their weights, so the check finds the layers
by role, whatever the modules are called and whether they are modules at all (``F.conv2d``
with the block's own ``nn.Parameter``). Used by :mod:`stylelib.checks.transform_net`.

Example:
    >>> import torch
    >>> from torch import nn
    >>> block = nn.Sequential(nn.Conv2d(2, 2, 3), nn.InstanceNorm2d(2, affine=True), nn.ReLU())
    >>> with Trace() as trace:
    ...     _ = block(torch.rand(1, 2, 6, 6))
    >>> [call.kind for call in trace.calls]
    ['conv', 'instance norm', 'ReLU']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

# function -> positions of (weight, bias) among its positional arguments
_NORM_ARGS: dict[Callable, tuple[int, int]] = {
    F.instance_norm: (3, 4),
    torch.instance_norm: (1, 2),
    F.batch_norm: (3, 4),
    torch.batch_norm: (1, 2),
    F.group_norm: (2, 3),
    torch.group_norm: (2, 3),
    F.layer_norm: (2, 3),
    torch.layer_norm: (2, 3),
}
_ACTIVATIONS = {"relu": "ReLU", "relu_": "ReLU"} | {
    name: name for name in ("leaky_relu", "elu", "gelu", "selu", "silu", "sigmoid", "tanh", "relu6")
}
NORMS = ("instance norm", "batch norm", "group norm", "layer norm")


class Call(NamedTuple):
    """One layer-like call of the block: its kind and, for convolutions and norms, weights."""

    kind: str  # "conv", "instance norm", "batch norm", ..., "ReLU", "leaky_relu", ...
    weight: Tensor | None = None
    bias: Tensor | None = None
    settings: tuple = ()  # conv: (stride, dilation, groups)


def _argument(args: Sequence, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _pair(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def layer_call(func: Callable, args: Sequence, kwargs: dict) -> Call | None:
    """The call as a layer of the block, or None for anything else (shapes, additions...)."""
    name = getattr(func, "__name__", "")
    if name == "conv2d":
        settings = (
            _pair(_argument(args, kwargs, 3, "stride", 1)),
            _pair(_argument(args, kwargs, 5, "dilation", 1)),
            _argument(args, kwargs, 6, "groups", 1),
        )
        weight, bias = _argument(args, kwargs, 1, "weight"), _argument(args, kwargs, 2, "bias")
        return Call("conv", weight, bias, settings)
    if func in _NORM_ARGS:
        at_weight, at_bias = _NORM_ARGS[func]
        weight = _argument(args, kwargs, at_weight, "weight")
        bias = _argument(args, kwargs, at_bias, "bias")
        kind = name.replace("_", " ")
        if kind == "group norm" and _argument(args, kwargs, 1, "num_groups") == args[0].shape[1]:
            kind = "instance norm"  # one group per channel is instance norm
        return Call(kind, weight, bias)
    if name in _ACTIVATIONS:
        return Call(_ACTIVATIONS[name])
    return None


class Trace(TorchFunctionMode):
    """Records the layer-like calls; ``on_meta``: also notes a tensor left on the CPU."""

    def __init__(self, on_meta: bool = False) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.on_meta, self.cpu_tensor = on_meta, ""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        call = layer_call(func, args, kwargs)
        if call is not None:
            self.calls.append(call)
        if self.on_meta and not self.cpu_tensor:
            for value in [*args, *kwargs.values()]:
                if isinstance(value, Tensor) and value.dim() and value.device.type == "cpu":
                    self.cpu_tensor = getattr(func, "__name__", "an operation")
        return func(*args, **kwargs)


__all__ = ["NORMS", "Call", "Trace", "layer_call"]
