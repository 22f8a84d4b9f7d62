"""What this machine offers: the device to run on, the weights in the cache, quick mode.

Every lesson starts with ``print(report())``::

    >>> from stylelib.env import pick_device
    >>> pick_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import os
import shutil

import torch

QUICK_ENV = "STYLELIB_QUICK"


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


def quick_mode() -> bool:
    """True when ``STYLELIB_QUICK=1``: lessons shrink sizes and step counts (never code paths)."""
    return os.environ.get(QUICK_ENV, "0") not in ("", "0", "false", "False")


def budget(*, quick, cpu, gpu):
    """What a lesson can afford here: ``quick`` in quick mode (CI), else ``gpu`` or ``cpu``.

    Lessons size their work with it, e.g. ``size, steps = budget(quick=(48, 10),
    cpu=(192, 150), gpu=(512, 500))``; only sizes and counts change, never code paths.
    """
    if quick_mode():
        return quick
    return cpu if pick_device().type == "cpu" else gpu


def vgg_weights(arch: str = "vgg19") -> str:
    """``"imagenet"`` when torchvision's file is in the cache, else ``"random"`` (and says so)."""
    from . import weights

    if weights.cached_file(arch):
        return "imagenet"
    print(
        f"{arch}: no pretrained weights here, using seeded random ones - the pictures below "
        "will not look like the papers' (see `stylelib weights status`)"
    )
    return "random"


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def report() -> str:
    """A few lines on torch, the device, the VGG weights, graphviz and quick mode."""
    from . import weights

    lines = [f"torch {torch.__version__}; device: {describe_device(pick_device())}"]
    for row in weights.status():
        if row["file"]:
            lines.append(f"{row['arch']} weights: pretrained ({row['file'].name})")
        else:
            lines.append(
                f"{row['arch']} weights: MISSING - lessons use random weights; "
                "run `stylelib weights fetch` (see the README)"
            )
    lines.append(
        "graphviz dot: "
        + ("found" if shutil.which("dot") else "missing - diagrams need `apt-get install graphviz`")
    )
    lines.append(f"quick mode: {'on' if quick_mode() else 'off'} ({QUICK_ENV})")
    return "\n".join(lines)
