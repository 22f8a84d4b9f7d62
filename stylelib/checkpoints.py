"""The checkpoint formats of training: one module for writing, reading and resuming.

A checkpoint is a ``torch.save`` dict that ``torch.load(..., weights_only=True)`` reads (no
code can run from it). Every checkpoint holds what stylisation needs; a training run adds
what an exact ``--resume`` needs::

    format, format_version       the kind's format and version: what wrote it, which layout
    stylelib_version, torch_version
    config                       the method's config as a dict (lists for tuples)
    model                        the network's state dict (on the CPU)
    optimizer, step              Adam's state and the steps done
    data                         files, files_sha256, seed, samples_seen, skipped
    rng                          the torch, CUDA, numpy and Python generators (rng_state)
    style, style_sha256          the style image's name and the digest a resume must match
    world_size, history, seconds

Each trained method has its own format, described by a :class:`CheckpointKind` (the
``format`` string, the config class, the command that writes it) that lives in the method's
``config`` module (``stylelib.johnson.config.CHECKPOINT`` ...); every function here takes the
kind it reads or writes, and none assumes one.

Writes are atomic (:func:`stylelib.files.atomic_write`): a run killed at any moment leaves
the old file or the new one, never half of one. Reading validates the file here, in one
place (:func:`validate`): the layout, the config (built as the kind's config class, so with
every check of :mod:`stylelib.config`) and, for ``--resume``, the values of the run state; anything
else is refused with one :class:`CheckpointError` line naming the file and what is wrong.

Example::

    >>> from dataclasses import dataclass
    >>> import torch
    >>> @dataclass(frozen=True)
    ... class Toy:
    ...     steps: int = 1
    >>> toy = CheckpointKind("toy-net", 1, Toy, "toy train", "ToyNet")
    >>> state = {"format": "toy-net", "format_version": 1, "config": {},
    ...          "model": {"w": torch.zeros(1)}}
    >>> validate(state, "m.pth", kind=toy) is state
    True
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import __version__
from .config import CheckpointKind
from .errors import OutputError, StylelibError, one_line
from .files import atomic_write, check_target

# What ``stylelib train`` writes; readers refuse other files by these two keys.
SUFFIXES = (".pt", ".pth")
# Config fields a resumed run may change: they do not alter the arithmetic of a step.
# What ``--resume`` reads beyond the model, and the type each must have.
RESUME_KEYS = {
    "optimizer": Mapping,
    "step": int,
    "data": Mapping,
    "rng": Mapping,
    "history": list,
    "seconds": (int, float),
}


class CheckpointError(StylelibError):
    """A file that is not a checkpoint of the expected kind, or one that does not fit this run."""


# --- writing -------------------------------------------------------------------------------


def training_state(config, model: Mapping, *, kind: CheckpointKind, **run) -> dict:
    """The dict a training run saves: ``kind``'s format keys, versions, ``config`` and
    ``model`` (moved to the CPU, so that the file loads on any device), and the run state in
    ``run`` (``optimizer``, ``step``, ``data``, ``rng``, ``style``, ``style_sha256``, ...).

    A path in the config (``weights=Path(...)``) is stored as a string: ``weights_only``
    loading reads no other objects."""
    saved = {
        k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in asdict(config).items()
    }
    return {
        "format": kind.format,
        "format_version": kind.version,
        "stylelib_version": __version__,
        "torch_version": str(torch.__version__),
        "config": saved,
        "model": to_cpu(dict(model)),
        **{k: to_cpu(v) for k, v in run.items()},
    }


def save_checkpoint(state: dict, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``state`` with ``torch.save`` atomically: a temp file, fsync, then a rename.

    A crash or SIGKILL at any moment leaves either the old file or the new one, never half.
    Without ``overwrite`` an existing file is never replaced, even one that appeared while
    this one was written (:func:`stylelib.files.atomic_write`): a run says ``overwrite=True``
    for its own file once it has written it (or was allowed to replace or resume it).
    """
    target = Path(path)
    with atomic_write(target, overwrite=overwrite) as f:
        torch.save(state, f)
    return target


def to_cpu(obj):
    """Tensors in nested dicts/lists moved to the CPU: checkpoints load on any device."""
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def check_model_path(
    path: str | os.PathLike, *, overwrite: bool = False, resume: str | os.PathLike | None = None
) -> Path:
    """Check, before any work, that a checkpoint can be written at ``path``; return it."""
    target = Path(path).expanduser().resolve()
    if target.suffix.lower() not in SUFFIXES:
        raise OutputError(f"model file '{target}' should end in .pt or .pth, e.g. mosaic.pth")
    # The folder checks are every output's; an existing file gets the resume-aware advice below.
    check_target(target, overwrite=True, example="mosaic.pth")
    continuing = resume is not None and Path(resume).expanduser().resolve() == target
    if target.exists() and not (overwrite or continuing):
        raise OutputError(
            f"'{target}' already exists; continue it with --resume {target.name}, choose "
            "another name, or pass --overwrite to start again"
        )
    return target


# --- reading -------------------------------------------------------------------------------


def load_checkpoint(
    path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    *,
    resume: bool = False,
    kind: CheckpointKind,
) -> dict:
    """Read a checkpoint of ``kind`` and
    :func:`validate` it.

    The file is read with ``weights_only=True`` (no code can run from it). With ``resume``
    it must also hold the run state that ``--resume`` continues from.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"model file not found: '{path}'; train one with `{kind.command}`")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # zip, pickle and torch errors all mean "not our file"
        raise CheckpointError(
            f"'{path}' is not a PyTorch checkpoint ({type(exc).__name__}); "
            f"pass a model file written by `{kind.command}`"
        ) from None
    return dict(validate(obj, path, resume=resume, kind=kind))


def validate(
    obj: object, path: str | os.PathLike, *, resume: bool = False, kind: CheckpointKind
) -> Mapping:
    """Return ``obj`` if it has the layout of a ``kind`` checkpoint, a config that makes a
    valid ``kind.config`` and (with ``resume``) a run state of the right types and values;
    else raise :class:`CheckpointError` with one line saying what it is instead."""
    if not isinstance(obj, Mapping) or obj.get("format") != kind.format:
        raise CheckpointError(
            f"'{path}' {_what_it_is(obj, kind)}; pass a model from `{kind.command}`"
        )
    version = obj.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(
            f"'{path}' has format_version {version!r}, not a whole number; the file was "
            "changed or written by another program"
        )
    if version > kind.version:
        raise CheckpointError(
            f"'{path}' was written by a newer stylelib ({obj.get('stylelib_version')}, format "
            f"{version}); upgrade stylelib to read it"
        )
    run_keys = {**RESUME_KEYS, **kind.resume_keys} if resume else {}
    expected = {"config": Mapping, "model": Mapping, **run_keys}
    for key, expected_type in expected.items():
        if key not in obj:
            raise CheckpointError(
                f"'{path}' has no {key!r}"
                + (", which --resume needs; it was not written by a training run" if resume else "")
                + f"; pass a checkpoint written by `{kind.command}`"
            )
        if isinstance(obj[key], bool) or not isinstance(obj[key], expected_type):
            raise CheckpointError(
                f"'{path}': its {key!r} is a {type(obj[key]).__name__}, which no checkpoint "
                "holds; the file was changed or written by another program"
            )
    _check_config(obj["config"], path, kind)
    if resume:
        problem = _run_state_problem(obj)
        if problem:
            raise CheckpointError(
                f"'{path}': {problem}, which no training run writes; --resume cannot continue "
                "from it (the file was changed or written by another program)"
            )
    return obj


def _check_config(saved: Mapping, path: str | os.PathLike, kind: CheckpointKind) -> None:
    """Build the config ``saved`` describes (the config's own checks, every field)."""
    names = {f.name for f in fields(kind.config)}
    if saved and not names.intersection(saved):
        unknown = ", ".join(map(repr, list(saved)[:3]))
        raise CheckpointError(
            f"'{path}': its config has none of {kind.config.__name__}'s fields (it has "
            f"{unknown} ...); the file was changed or written by another program"
        )
    try:
        config_from_checkpoint({"config": saved}, kind)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(
            f"'{path}': its config is not one a training run writes ({one_line(exc)}); the "
            "file was changed or written by another program"
        ) from None


def _run_state_problem(obj: Mapping) -> str | None:
    """What is wrong with the values of the run state ``--resume`` reads, or None."""
    step, history, data, rng = obj["step"], obj["history"], obj["data"], obj["rng"]
    if step < 0:  # an int already (RESUME_KEYS)
        return f"its step is {step!r}, not a count of steps >= 0"
    if len(history) != step or not all(
        isinstance(r, Mapping) and _is_number(r.get("loss")) for r in history
    ):
        return f"its history is not {step} records with a loss each (one per step done)"
    if not _is_number(obj["seconds"]) or not 0 <= obj["seconds"] < math.inf:
        return f"its seconds is {obj['seconds']!r}, not a time >= 0"
    kinds = {"files": int, "files_sha256": str, "skipped": list}
    for key, kind in kinds.items():
        if isinstance(data.get(key), bool) or not isinstance(data.get(key), kind):
            return f"its data[{key!r}] is {_kind(data.get(key))}, not {_kind(kind)}"
    kinds = {"torch": Tensor, "cuda": list, "numpy": Mapping, "python": (tuple, list)}
    for key, kind in kinds.items():
        if not isinstance(rng.get(key), kind):
            return f"its rng[{key!r}] is {_kind(rng.get(key))}, not a generator state"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind(value: object) -> str:
    """'a str', 'an int', 'missing': a value's (or a type's) kind, for a message."""
    if value is None:
        return "missing"
    name = (value if isinstance(value, type) else type(value)).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _what_it_is(obj: object, kind: CheckpointKind) -> str:
    """A few words on a file that is not a ``kind`` checkpoint."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, Tensor) for v in obj.values()):
        keys = list(obj)
        hint = ""
        if any(k.startswith(("features.", "classifier.")) for k in keys):
            hint = ", VGG weights"
        elif any(k.startswith(("conv1.conv2d", "deconv", "in1.")) for k in keys):
            hint = ", another project's transformer (e.g. pytorch/examples fast_neural_style)"
        return f"holds a bare state dict of {len(keys)} tensors{hint}, not a stylelib checkpoint"
    if isinstance(obj, Mapping):
        return f"is a checkpoint of another format ({obj.get('format', 'no format key')!r})"
    return f"holds a {type(obj).__name__}, not a stylelib {kind.network} checkpoint"


# --- resuming ------------------------------------------------------------------------------


def config_from_checkpoint(checkpoint: Mapping, kind: CheckpointKind):
    """The config (a ``kind.config``) a checkpoint was
    trained with."""
    names = {f.name for f in fields(kind.config)}
    saved = checkpoint["config"]
    return kind.config(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in names}
    )


def check_resumable(
    checkpoint: Mapping,
    config,
    style_sha: str | None,
    data_sha: str,
    path,
    kind: CheckpointKind,
) -> None:
    """Refuse, in one line, to resume with another style, config or set of training files.

    ``style_sha`` None: the method has no style image to compare (super-resolution)."""
    if style_sha is not None and checkpoint["style_sha256"] != style_sha:
        raise CheckpointError(
            f"cannot resume '{path}': it was trained on a style image with SHA-256 "
            f"{checkpoint['style_sha256'][:12]}..., this style has {style_sha[:12]}...; "
            "pass the same style image"
        )
    saved = asdict(config_from_checkpoint(checkpoint, kind))
    now = asdict(config)
    changed = [k for k in now if k not in kind.may_change and saved[k] != now[k]]
    if changed:
        diffs = ", ".join(f"{k} {saved[k]!r} -> {now[k]!r}" for k in changed)
        raise CheckpointError(
            f"cannot resume '{path}' with other settings ({diffs}); use the checkpoint's "
            f"settings (only {', '.join(kind.may_change)} may change) or start a new run"
        )
    if checkpoint["data"]["files_sha256"] != data_sha:
        raise CheckpointError(
            f"cannot resume '{path}': the training folder changed (it had "
            f"{checkpoint['data']['files']} files); an exact continuation needs the same files"
        )


def rng_state() -> dict:
    """The global generators of torch, numpy and Python, in a ``weights_only``-safe form."""
    # The legacy global generator is the one user code and libraries may draw from.
    _, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: Mapping) -> None:
    """Restore :func:`rng_state`'s generators (CUDA only where there is a GPU)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))  # noqa: NPY002
    random.setstate(state["python"])


__all__ = [
    "CheckpointError",
    "training_state",
    "save_checkpoint",
    "check_model_path",
    "load_checkpoint",
    "validate",
    "config_from_checkpoint",
    "check_resumable",
    "rng_state",
    "set_rng_state",
]
