"""A simulated GPU for the checks: inputs that claim to be on CUDA, without a GPU.

An answer that builds a tensor without ``device=`` (``torch.tensor([...])``, ``torch.eye(3)``,
``nn.Conv2d(...)`` left where it was made) works on the CPU and fails on a GPU. The ``meta``
device shows some of these slips and not others: ``einsum`` or ``F.conv2d`` between a CPU
tensor and a ``meta`` one quietly return a ``meta`` tensor. PyTorch's fake tensors
(:class:`torch._subclasses.fake_tensor.FakeTensorMode`) follow a real device's rules for every
operation, values aside: under :class:`SimulatedGPU`, tensors made with ``device="cuda"`` are
fake CUDA tensors and any CPU tensor (but a 0-d one, as on a GPU) mixed into an operation with
them raises the error a GPU raises. :class:`_Culprit` watches the operations meanwhile to say
which tensor was on the CPU and where it was made.

Where fake CUDA cannot be made (a torch build without CUDA support may refuse the device),
:func:`simulated_gpu` returns None and the checks fall back to ``meta`` inputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

ADVICE = (
    "create it on the input's device: x.new_tensor([...]), torch.zeros_like(x), "
    "torch.tensor(..., device=x.device), module.to(x.device)"
)
# Fragments of the errors torch raises when one operation gets tensors of two devices.
_MISMATCH = ("same device", "is on cpu", "device type", "different from other tensors")


def is_device_mismatch(error: BaseException | None) -> bool:
    """Whether ``error`` (or one of its causes) is torch's two-devices error."""
    while error is not None:
        if any(key in str(error).lower() for key in _MISMATCH):
            return True
        error = error.__cause__
    return False


def is_fake(tensor: Tensor) -> bool:
    """A fake tensor (shapes and device, no values) as :class:`SimulatedGPU` makes them."""
    return type(tensor).__name__ == "FakeTensor"


def has_values(tensor: Tensor) -> bool:
    return not (tensor.is_meta or is_fake(tensor))


class _Culprit(TorchFunctionMode):
    """Notes where each CPU tensor of the answer came from and, when an operation mixes one
    with the GPU's, a sentence naming it (``found``)."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: dict[int, tuple[Tensor, str]] = {}  # id -> (tensor kept alive, where)
        self.found = ""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            out = func(*args, **kwargs)
        except Exception as error:
            if not self.found and is_device_mismatch(error):
                self.found = self._describe(func, tree_leaves((args, kwargs)))
            raise
        if isinstance(out, Tensor) and out.device.type == "cpu" and out.dim():
            inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, Tensor)]
            known = [self._origin(t) for t in inputs if t.device.type == "cpu" and t.dim()]
            made = known[0] if known else f"made by {_name(func)} without device="
            self.origins[id(out)] = (out, made)
        return out

    def _origin(self, tensor: Tensor) -> str:
        kept = self.origins.get(id(tensor))
        if kept is not None and kept[0] is tensor:
            return kept[1]
        if isinstance(tensor, nn.Parameter):
            return "that is a module's weight (move the module with .to(x.device))"
        if not is_fake(tensor):
            return "made before the function runs (a global or a default argument?)"
        return "made without device="

    def _describe(self, func, leaves: list[Any]) -> str:
        cpu = [t for t in leaves if isinstance(t, Tensor) and t.device.type == "cpu" and t.dim()]
        if not cpu:
            return f"in {_name(func)}"
        tensor = cpu[0]
        return (
            f"the {tuple(tensor.shape)} tensor {self._origin(tensor)} meets them in {_name(func)}"
        )


_OPERATORS = {"matmul": "@", "mul": "*", "add": "+", "sub": "-", "truediv": "/", "pow": "**"}


def _name(func: Any) -> str:
    """``torch.einsum(...)``, ``Tensor.view``, ``the operator @``: roughly as it was written."""
    name = getattr(func, "__name__", "an operation")
    if name.startswith("__"):
        bare = name.strip("_").removeprefix("r").removeprefix("i")
        return f"the operator {_OPERATORS.get(bare, name)}"
    qualname = getattr(func, "__qualname__", name)
    if qualname.startswith(("TensorBase.", "Tensor.", "_TensorBase.")):
        return f"Tensor.{name}"
    return f"torch.{name}(...)"


class SimulatedGPU:
    """``with gpu:`` runs torch as on a GPU that holds no values; :meth:`make` gives inputs.

    The fake mode and the culprit watch are entered together and always left together, also
    when the answer raises or is interrupted (the checks' time limit raises inside it).
    """

    device = torch.device("cuda", 0)

    def __init__(self, mode: Any) -> None:
        self.mode = mode
        self.culprit = _Culprit()

    def make(self, tensor: Tensor) -> Tensor:
        """A fake CUDA tensor of ``tensor``'s shape and dtype (no values)."""
        with self.mode:
            return torch.empty(tuple(tensor.shape), dtype=tensor.dtype, device=self.device)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        with self.mode, self.culprit:
            yield

    def problem(self, name: str, error: BaseException) -> str | None:
        """The sentence for an answer that raised ``error`` here, or None if not a device slip."""
        if not is_device_mismatch(error):
            return None
        where = self.culprit.found or "a tensor made without device= meets them"
        return (
            f"{name} uses a tensor on the CPU with inputs on another device (a simulated GPU, "
            f"where this raises 'Expected all tensors to be on the same device'): {where}; "
            f"{ADVICE}"
        )


def simulated_gpu() -> SimulatedGPU | None:
    """A fresh :class:`SimulatedGPU`, or None where this torch cannot fake a CUDA tensor."""
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        mode = FakeTensorMode(allow_non_fake_inputs=True)
        with mode:
            torch.empty(1, device="cuda") + 1
    except Exception:  # noqa: BLE001 - any failure: the meta device is the fallback
        return None
    return SimulatedGPU(mode)


__all__ = ["ADVICE", "SimulatedGPU", "has_values", "is_device_mismatch", "is_fake", "simulated_gpu"]
