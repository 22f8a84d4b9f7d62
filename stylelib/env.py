"""What a lesson can do on this machine: the set-up report, quick mode, the weights to use.

Every lesson starts with ``print(report())`` and sizes its work with :func:`budget`::

    >>> from stylelib.env import budget
    >>> budget(quick=(48, 10), cpu=(192, 150), gpu=(512, 500)) in ((48, 10), (192, 150), (512, 500))
    True

The device itself is chosen in :mod:`stylelib.devices` (re-exported here for the lessons).
"""

from __future__ import annotations

import os
import shutil

import torch

from . import weights
from .devices import describe_device, pick_device

QUICK_ENV = "STYLELIB_QUICK"


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
    """:func:`stylelib.weights.best_available` for ``arch``, saying so when it is random."""
    source = weights.best_available(arch)
    if source != "random":
        return source
    print(
        f"{arch}: no pretrained weights here, using seeded random ones - the pictures below "
        "will not look like the papers' (see `stylelib weights status`)"
    )
    return "random"


def report() -> str:
    """A few lines on torch, the device, the VGG weights, graphviz and quick mode."""
    lines = [f"torch {torch.__version__}; device: {describe_device(pick_device())}"]
    found: dict[str, list[str]] = {}  # arch -> the files of its sources that are here
    for row in weights.status():  # one row per (source, arch)
        files = found.setdefault(row["arch"], [])
        if row["file"]:
            files.append(f"{row['file'].name}, {row['source']}")
    for arch, files in found.items():
        if files:
            lines.append(f"{arch} weights: pretrained ({'; '.join(files)})")
        else:
            lines.append(
                f"{arch} weights: MISSING - lessons use random weights; "
                "run `stylelib weights fetch` (see the README)"
            )
    lines.append(
        "graphviz dot: "
        + ("found" if shutil.which("dot") else "missing - diagrams need `apt-get install graphviz`")
    )
    lines.append(f"quick mode: {'on' if quick_mode() else 'off'} ({QUICK_ENV})")
    return "\n".join(lines)


__all__ = ["report", "budget", "quick_mode", "vgg_weights", "pick_device", "describe_device"]
