"""What every method's configuration shares: the one validator, the types, the style-layer rule.

Each method keeps its hyperparameters in a frozen dataclass beside its code
(:mod:`stylelib.gatys.config`, :mod:`stylelib.johnson.config`, :mod:`stylelib.superres.config`,
:mod:`stylelib.adain.config`), every default with its source, and its presets beside it
(:mod:`stylelib.presets` gathers them). This module holds what they have in common.

Checks. Every field is checked when a config is made, by the constructor, by
``dataclasses.replace``, by the command line (which replaces flags into a preset) and by a
checkpoint's reader alike: numbers are finite and of their annotated type (a bool is not an
int, a string not a float), counts lie in their range, seeds in torch's (0 to 2**63 - 1),
and one VGG pass holds at most :data:`MAX_VGG_PIXELS` pixels (4096 x 4096, about 41 GB of
activations). Each refusal is one ValueError line naming the field::

    >>> from dataclasses import dataclass, field, replace
    >>> @dataclass(frozen=True)
    ... class Toy:
    ...     content_weight: float = 1.0
    ...     steps: int = 10
    ...     def __post_init__(self):
    ...         check_fields(self)
    >>> replace(Toy(), content_weight=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: content_weight must be a finite number, got nan
    >>> replace(Toy(), steps=0)
    Traceback (most recent call last):
    ...
    ValueError: steps must be positive, got 0
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal, Union

from stylelib.layers import block_of

Arch = Literal["vgg16", "vgg19"]


Pooling = Literal["max", "avg"]


Normalization = Literal["gatys", "johnson"]


TVKind = Literal["squared", "l1", "isotropic"]


Weights = str | os.PathLike  # "imagenet", "caffe", "gatys", "random" or a file (stylelib.weights)


# VGG halves an image five times (pool1 ... pool5): 2**5 px is the smallest side it takes.
MIN_SIDE = 32


# A VGG pass keeps every activation up to its deepest loss layer for the backward pass: 610
# float32 values, 2.4 kB, per input pixel for VGG-19 to relu5_1 (556 for VGG-16 to relu4_3;
# stylelib.layers.layer_table). 4096 x 4096 px is then about 41 GB before the backward pass
# adds as much again: what one of the largest accelerators holds, and days on a CPU. Past it a
# run would fail deep inside the allocator; configs are refused here instead, in one line.
MAX_VGG_PIXELS = 4096 * 4096


BYTES_PER_PIXEL = 2440  # VGG-19 to relu5_1 in float32, the figure the messages quote


# torch.manual_seed takes a signed 64-bit seed; numpy's SeedSequence any int >= 0.
MAX_SEED = 2**63 - 1


# Data-loading processes: 4 to 8 keep a GPU busy; each more costs a process's memory.
MAX_WORKERS = 64


# Counts and their smallest value; every other number of a config is a float.
_MINIMUM = {
    "steps": 1,
    "size": 1,
    "scales": 1,
    "coarse_steps": 1,
    "image_size": MIN_SIDE,
    "style_size": MIN_SIDE,
    "batch_size": 1,
    "checkpoint_every": 0,
    "workers": 0,
    "seed": 0,
}


_MAXIMUM = {"seed": MAX_SEED, "workers": MAX_WORKERS}


_POSITIVE = ("lr", "style_scale")  # floats > 0; the other floats are weights, >= 0


_HOW_TO_SWITCH_OFF = {
    "checkpoint_every": "; use 0 to save only at the end",
    "workers": "; use 0 to load data in the training process",
}


def check_fields(config: object) -> None:
    """Check every field of ``config`` against its annotation and range; normalise in place.

    The annotations are the specification: ``float`` is a finite real number (an int is
    accepted and stored as a float), ``int`` a whole number that is not a bool, ``bool`` a
    bool, ``tuple[X, ...]`` a tuple or list of X (stored as a tuple), a ``Literal`` one of its
    values, ``X | None`` also None. Then the ranges: ``_MINIMUM``/``_MAXIMUM`` for counts,
    > 0 for ``_POSITIVE`` floats, >= 0 for every other float (loss weights).
    """
    hints = _hints(type(config))
    for f in fields(config):
        given = getattr(config, f.name)
        value = _checked(f.name, given, hints[f.name])
        if value is not given:
            object.__setattr__(config, f.name, value)  # frozen: set once, while constructing
        _check_range(f.name, value)


@functools.cache
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)  # the annotations, resolved in this module


def _checked(name: str, value: object, hint: object) -> object:
    """``value`` as the type ``hint`` describes, or a one-line ValueError naming ``name``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _checked(name, value, option)
            except ValueError as exc:
                errors.append(exc)
        if os.PathLike in args:
            raise ValueError(f"{name} must be a name or a path, got {_shown(value)}")
        raise errors[0]
    if origin is Literal:
        if isinstance(value, str) and value in args:
            return value
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(str, args))}")
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            what = "layer names" if args[0] is str else "numbers"
            raise ValueError(
                f"{name} must be a tuple of {what}, got {_shown(value)}; e.g. {name}=("
                + ("'relu4_2',)" if args[0] is str else "1.0,)")
            )
        items = tuple(_checked(f"{name}[{i}]", v, args[0]) for i, v in enumerate(value))
        return value if items == value and isinstance(value, tuple) else items
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be True or False, got {_shown(value)}")
    if hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return value if type(value) is int else int(value)
        raise ValueError(f"{name} must be a whole number (an int), got {_shown(value)}")
    if hint is float:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {_shown(value)}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
        return value if type(value) is float else float(value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{name} must be a string, got {_shown(value)}")
    if hint is os.PathLike and isinstance(value, os.PathLike):
        return value
    if hint is os.PathLike:
        raise ValueError(f"{name} must be a path, got {_shown(value)}")
    raise TypeError(f"no rule checks a config field of type {hint}")  # a new field's type


def _shown(value: object) -> str:
    """``value`` for a message: its repr (cut short) and its type."""
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} ({type(value).__name__})"


def _check_range(name: str, value: object) -> None:
    if value is None or isinstance(value, (str, bool, os.PathLike)):
        return
    values = value if isinstance(value, tuple) else (value,)
    if name == "seed" and not 0 <= value <= MAX_SEED:
        raise ValueError(
            f"seed must be an int from 0 to 2**63 - 1 (the range torch's generators take), "
            f"got {value}"
        )
    if name in _MINIMUM and value < _MINIMUM[name]:
        if _MINIMUM[name] == 1:
            raise ValueError(f"{name} must be positive, got {value!r}")
        if _MINIMUM[name] == 0:
            raise ValueError(
                f"{name} must not be negative, got {value!r}{_HOW_TO_SWITCH_OFF.get(name, '')}"
            )
        raise ValueError(
            f"{name}={value} must be at least {MIN_SIDE} px (VGG halves it five times); "
            "the paper uses 256"
        )
    if name in _MAXIMUM and value > _MAXIMUM[name]:
        raise ValueError(f"{name} must be at most {_MAXIMUM[name]}, got {value!r}")
    if name in _POSITIVE and not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    if values and isinstance(values[0], float) and any(v < 0 for v in values):
        raise ValueError(f"{name} must not be negative, got {value!r}; use 0 to switch it off")


def check_pixels(what: str, pixels: float, fix: str) -> None:
    """Refuse a pass of more than ``MAX_VGG_PIXELS`` pixels, saying why (VGG's activations)."""
    if pixels > MAX_VGG_PIXELS:
        gigabytes = pixels * BYTES_PER_PIXEL / 1e9
        raise ValueError(
            f"{what} makes up to {pixels:,.0f} px, over the limit of {MAX_VGG_PIXELS:,} "
            "(4096 x 4096): "
            f"VGG keeps about {BYTES_PER_PIXEL / 1000:.1f} kB of activations per pixel, "
            f"{gigabytes:,.0f} GB here; {fix}"
        )


def check_layers(config: object) -> None:
    layers, weights = config.style_layers, config.style_layer_weights
    if len(layers) != len(weights):
        raise ValueError(
            f"style_layers has {len(layers)} names but style_layer_weights has {len(weights)} "
            "values; give one weight per layer"
        )
    if not config.content_layers and not layers:
        raise ValueError("give at least one content layer or one style layer")


def equal_layer_weights(n: int, normalization: str) -> tuple[float, ...]:
    """w_l for ``n`` equally weighted style layers, in the papers' terms.

    ``"gatys"``: 1/n ([G16] Fig. 3: w_l = 1/5 on five layers, so that the style loss does not
    grow with the number of layers); ``"johnson"``: 1 ([J16] Eq. 5: a plain sum).

    Example:
        >>> equal_layer_weights(4, "gatys"), equal_layer_weights(2, "johnson")
        ((0.25, 0.25, 0.25, 0.25), (1.0, 1.0))
    """
    _checked("normalization", normalization, Normalization)
    return ((1.0 / n) if normalization == "gatys" else 1.0,) * n if n else ()


def style_layer_weights(config: object, layers) -> tuple[float, ...]:
    """The weights ``config``'s preset gives a new set of style ``layers``.

    The one rule for every place that changes the style layers without giving weights (the
    command line, the lessons' sweeps, the control panel): a preset with equal weights gets
    :func:`equal_layer_weights` for its normalisation; a preset with per-layer weights
    ([Gc]'s 1e3/N_l², [PT]'s 1/C_l²) keeps them for the layers it lists, and another layer
    takes the weight of a listed layer of the same block (the same N_l), or else their mean.

    Example:
        >>> from types import SimpleNamespace
        >>> paper = SimpleNamespace(style_layers=("relu1_1", "relu5_1"),
        ...                         style_layer_weights=(0.5, 0.5), normalization="gatys")
        >>> style_layer_weights(paper, ("relu1_1", "relu2_1", "relu3_1", "relu4_1"))
        (0.25, 0.25, 0.25, 0.25)
        >>> code = SimpleNamespace(style_layers=("relu1_1", "relu2_1"),
        ...                        style_layer_weights=(1e3 / 64**2, 1e3 / 128**2),
        ...                        normalization="johnson")
        >>> [round(w, 4) for w in style_layer_weights(code, ("relu2_1", "relu2_2", "relu3_1"))]
        [0.061, 0.061, 0.1526]
    """
    layers = tuple(layers)
    if len(set(config.style_layer_weights)) <= 1:
        return equal_layer_weights(len(layers), config.normalization)
    known = dict(zip(config.style_layers, config.style_layer_weights, strict=True))
    by_block = {block_of(name): weight for name, weight in known.items()}
    mean = sum(known.values()) / len(known)
    return tuple(known.get(n, by_block.get(block_of(n), mean)) for n in layers)


def with_style_layers(config: object, layers) -> object:
    """``config`` with ``layers`` as its style layers, weighted by :func:`style_layer_weights`."""
    layers = tuple(layers)
    return replace(
        config, style_layers=layers, style_layer_weights=style_layer_weights(config, layers)
    )


def config_or_default(config: object, cls: type, preset: str):
    """``cls()`` for None, ``config`` itself if it is a ``cls``; else one ValueError line that
    names the ``preset`` to start from (every method's entry point checks its config so).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class ToyConfig:
        ...     steps: int = 3
        >>> config_or_default(None, ToyConfig, "toy")
        ToyConfig(steps=3)
        >>> config_or_default({"steps": 3}, ToyConfig, "toy")
        Traceback (most recent call last):
        ...
        ValueError: config must be a ToyConfig, got dict; start from preset('toy') and vary it ...
    """
    if config is None:
        return cls()
    if not isinstance(config, cls):
        article = "an" if cls.__name__[0] in "AEIOSU" else "a"
        raise ValueError(
            f"config must be {article} {cls.__name__}, got {type(config).__name__}; start from "
            f"preset({preset!r}) and vary it with dataclasses.replace"
        )
    return config


def describe(config: object) -> str:
    """One ``field = value`` per line, marking the fields that differ from the class defaults."""
    default = type(config)()
    lines = []
    for f in fields(config):
        value = getattr(config, f.name)
        mark = "" if value == getattr(default, f.name) else "   (changed)"
        lines.append(f"{f.name} = {value!r}{mark}")
    return "\n".join(lines)


# --- what a method's checkpoints are ------------------------------------------------------

# Config fields a resumed run may change: they do not alter a step's arithmetic.
RESUME_MAY_CHANGE = ("steps", "checkpoint_every", "device", "workers")


@dataclass(frozen=True)
class CheckpointKind:
    """One trained method's checkpoint format.

    Attributes:
        format, version: the two keys that identify the file (readers refuse others).
        config: the config dataclass saved in the file, rebuilt (and so checked) on reading.
        command: what writes it, for messages (``"stylelib train"``).
        network: what it holds, for messages (``"TransformerNet"``).
        resume_keys: what ``--resume`` reads beyond :data:`RESUME_KEYS`, and each one's type.
        may_change: config fields a resumed run may change (they do not alter a step's
            arithmetic).
    """

    format: str
    version: int
    config: type
    command: str
    network: str
    resume_keys: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)
    may_change: tuple[str, ...] = RESUME_MAY_CHANGE
