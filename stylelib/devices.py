"""Where tensors run: ``"auto"`` picks CUDA, then Apple's MPS, then the CPU.

>>> from stylelib.devices import pick_device
>>> pick_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import torch


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; anything else is checked.

    Raises ValueError (one line) for a device this machine does not have, e.g. ``"cuda"``
    without a GPU, saying which devices there are.
    """
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a device name; use 'auto', 'cpu', 'cuda' or 'mps'"
        ) from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(chosen.type, False):
        have = ", ".join(k for k, v in available.items() if v)
        raise ValueError(
            f"device {str(chosen)!r} is not available on this machine (it has: {have}); "
            "use device='auto'"
        )
    return chosen


def describe_device(device: torch.device) -> str:
    """A few words on ``device``: the GPU's name and memory, or the CPU's thread count."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


__all__ = ["pick_device", "describe_device"]
