"""Hyperparameters of the two methods, as frozen dataclasses with their sources.

A loss weight only means something together with the normalisation of the loss it
multiplies (see :mod:`stylelib.losses`), so every preset carries both. Where a paper and its
authors' released code differ, both are presets side by side::

    >>> from dataclasses import replace
    >>> from stylelib.config import preset
    >>> cfg = replace(preset("gatys2016"), steps=100, size=256)
    >>> cfg.content_layers, cfg.pooling, cfg.normalize_network
    (('relu4_2',), 'avg', True)

Units. Loss weights are numbers in the units of the network's features. The paper's VGG-19
was Caffe's, fed mean-subtracted BGR 0-255 pixels and *normalised* (every filter's mean
activation over images and positions rescaled to 1, [G16] Sec. 2), and the paper read the
rectified features (Caffe's ReLU overwrites its conv blob: the paper's "conv4_2" is
``relu4_2`` here; see :mod:`stylelib.layers`). The Gatys presets therefore read relu layers
and set ``normalize_network=True``: whatever weights are chosen (torchvision's ImageNet
file, Caffe's, random), the extractor rescales them to mean activation 1 on a calibration
set (:mod:`stylelib.netnorm`) and applies their own input convention, so that α/β = 1e-3
means what it meant in the paper. The ``pytorch-tutorial`` preset instead keeps
torchvision's raw weights, for which its weights were tuned.

Checks. Every field is checked when a config is made, by the constructor, by
``dataclasses.replace``, by the command line (which replaces flags into a preset) and by a
checkpoint's reader alike: numbers are finite and of their annotated type (a bool is not an
int, a string not a float), counts lie in their range, seeds in torch's (0 to 2**63 - 1),
and one VGG pass holds at most :data:`MAX_VGG_PIXELS` pixels (4096 x 4096, about 41 GB of
activations). Each refusal is one ValueError line naming the field::

    >>> replace(preset("gatys2016"), content_weight=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: content_weight must be a finite number, got nan

Sources, cited per field:
  [G16]  Gatys, Ecker, Bethge. Image Style Transfer Using Convolutional Neural Networks.
         CVPR 2016 (and its preprint, A Neural Algorithm of Artistic Style, arXiv:1508.06576).
  [G16c] Gatys, Bethge, Hertzmann, Shechtman. Preserving Color in Neural Artistic Style
         Transfer. arXiv:1606.05897, 2016.
  [G17]  Gatys, Ecker, Bethge, Hertzmann, Shechtman. Controlling Perceptual Factors in Neural
         Style Transfer. CVPR 2017 (coarse-to-fine for high resolutions).
  [Gc]   The authors' PyTorch notebook, github.com/leongatys/PytorchNeuralStyleTransfer.
  [J16]  Johnson, Alahi, Fei-Fei. Perceptual Losses for Real-Time Style Transfer and
         Super-Resolution. ECCV 2016, Sec. 3 and 4.1.
  [Jc]   The authors' Torch code, github.com/jcjohnson/fast-neural-style (train.lua defaults),
         whose content layer relu3_3 is also the one the introductory blog posts describe.
  [PT]   The official PyTorch tutorial "Neural Transfer Using PyTorch" (A. Jacq, W. Falcon;
         pytorch.org/tutorials/advanced/neural_style_tutorial.html).
  [Ng]   The Chinese-language notes on [G16] that the course grew from, which propose
         subtracting a small γ L_style(content, x).
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import types
import typing
from dataclasses import dataclass, fields, replace
from typing import Literal, Union

from .layers import block_of

Arch = Literal["vgg16", "vgg19"]
Pooling = Literal["max", "avg"]
Normalization = Literal["gatys", "johnson"]
TVKind = Literal["squared", "l1", "isotropic"]
Weights = str | os.PathLike  # "imagenet", "caffe", "gatys", "random" or a file (stylelib.weights)

# [G16] Fig. 3 caption: "conv1_1 ... conv5_1" and content "conv4_2", Caffe blobs that hold the
# rectified features: relu1_1 ... relu5_1 and relu4_2 in this library's names.
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
JOHNSON_STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


# --- the one validator of both configs ----------------------------------------------------

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


def _check_pixels(what: str, pixels: float, fix: str) -> None:
    """Refuse a pass of more than ``MAX_VGG_PIXELS`` pixels, saying why (VGG's activations)."""
    if pixels > MAX_VGG_PIXELS:
        gigabytes = pixels * BYTES_PER_PIXEL / 1e9
        raise ValueError(
            f"{what} makes up to {pixels:,.0f} px, over the limit of {MAX_VGG_PIXELS:,} "
            "(4096 x 4096): "
            f"VGG keeps about {BYTES_PER_PIXEL / 1000:.1f} kB of activations per pixel, "
            f"{gigabytes:,.0f} GB here; {fix}"
        )


def _check_layers(config: object) -> None:
    layers, weights = config.style_layers, config.style_layer_weights
    if len(layers) != len(weights):
        raise ValueError(
            f"style_layers has {len(layers)} names but style_layer_weights has {len(weights)} "
            "values; give one weight per layer"
        )
    if not config.content_layers and not layers:
        raise ValueError("give at least one content layer or one style layer")


@dataclass(frozen=True)
class GatysConfig:
    """Image optimisation (Gatys et al. 2016); defaults are the paper's values."""

    arch: Arch = "vgg19"  # [G16] Sec. 2: the 19-layer VGG network, no fully connected layers
    weights: Weights = "imagenet"  # [G16] Sec. 2: VGG trained on ImageNet ("caffe": the paper's)
    normalize_network: bool = True  # [G16] Sec. 2: mean activation of every filter = 1
    pooling: Pooling = "avg"  # [G16] Sec. 2: average pooling gives "slightly more appealing" images
    content_layers: tuple[str, ...] = ("relu4_2",)  # [G16] Fig. 3 caption ("conv4_2", rectified)
    style_layers: tuple[str, ...] = GATYS_STYLE_LAYERS  # [G16] Fig. 3 caption
    style_layer_weights: tuple[float, ...] = (0.2,) * 5  # [G16] Fig. 3: w_l = 1/5 on those layers
    content_weight: float = 1.0  # alpha in Eq. 7; only the ratio alpha/beta matters
    style_weight: float = 1e3  # beta: [G16] Fig. 3 uses alpha/beta = 1e-3 (and 1e-4, 1e-2 ...)
    tv_weight: float = 0.0  # [G16] has no total-variation term
    normalization: Normalization = "gatys"  # [G16] Eqs. 1, 4, 5: 1/2 sum, 1/(4 N^2 M^2)
    init: Literal["noise", "content", "style"] = "noise"  # [G16] Sec. 2.3: from white noise
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"  # [G16] Sec. 2.3: L-BFGS works best
    lr: float | None = None  # None: 1.0 for L-BFGS (PyTorch's step), 0.02 for Adam on [0, 1]
    steps: int = 500  # per scale; not stated in [G16]; [Gc] runs 500 L-BFGS iterations
    size: int = 512  # long side; [G16] Sec. 5: 512 x 512 pixels (about an hour on a K40 GPU)
    seed: int = 0  # white-noise initialisation and random weights are seeded
    tv_kind: Literal["squared", "l1", "isotropic"] = "squared"  # see losses.total_variation
    style_scale: float = 1.0  # style image's long side / output's (neural-style -style_scale)
    color: Literal["none", "luminance", "histogram", "linear"] = "none"  # [G16c] Secs. 2-3
    scales: int = 1  # coarse-to-fine levels, each twice the size of the last ([G17] Sec. 5)
    coarse_steps: int | None = None  # steps at each coarser level (None: same as steps)
    gamma: float = 0.0  # [Ng]'s extension: subtract gamma * L_style(content, x)
    device: str = "auto"  # CUDA, then Apple MPS, then CPU
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: autocast VGG; Grams and losses in fp32

    def __post_init__(self) -> None:
        check_fields(self)
        _check_layers(self)
        _check_pixels(f"size={self.size}", self.size**2, "choose a smaller size")
        side = self.size * self.style_scale  # the style image's long side (inf if absurd)
        _check_pixels(
            f"style_scale={self.style_scale:g} (a style image of {side:.0f} px at "
            f"size={self.size})",
            side * side,
            "lower style_scale or size",
        )
        coarsest = self.size / 2 ** min(self.scales - 1, 64)
        if self.scales > 1 and coarsest < MIN_SIDE:
            raise ValueError(
                f"scales={self.scales} halves size={self.size} to {coarsest:.3g} px at the "
                f"coarsest level, below VGG's {MIN_SIDE} px; use fewer scales or a larger size"
            )

    @property
    def step_size(self) -> float:
        """``lr``, or the optimiser's default when ``lr`` is None."""
        if self.lr is not None:
            return self.lr
        return 1.0 if self.optimizer == "lbfgs" else 0.02


@dataclass(frozen=True)
class JohnsonConfig:
    """Training a feed-forward transform network (Johnson et al. 2016); paper's values.

    Loss weights refer to ``normalization="johnson"`` (Gram and feature losses divided by
    C·H·W, style summed over the C x C Gram entries and over layers) on torchvision's VGG16
    with images in [0, 1]. [Jc] averages its style loss over the C² Gram entries and feeds
    Caffe's VGG16 0-255 pixels, so its numbers are a starting point here, not an equivalent.
    """

    arch: Arch = "vgg16"  # [J16] Sec. 3: a VGG-16 loss network pretrained on ImageNet
    weights: Weights = "imagenet"  # [J16] Sec. 3: the loss network is fixed, pretrained
    pooling: Pooling = "max"  # [J16] keeps VGG-16 as trained
    content_layers: tuple[str, ...] = ("relu2_2",)  # [J16] Sec. 4.1: feature loss at relu2_2
    style_layers: tuple[str, ...] = JOHNSON_STYLE_LAYERS  # [J16] Sec. 4.1
    style_layer_weights: tuple[float, ...] = (1.0,) * 4  # [J16] Eq. 5: a plain sum over layers
    content_weight: float = 1.0  # lambda_c: not published in [J16]; [Jc] -content_weights 1.0
    style_weight: float = 5.0  # lambda_s: not published in [J16]; [Jc] -style_weights 5.0
    tv_weight: float = 1e-6  # [J16] Sec. 4.1: lambda_TV cross-validated in [1e-6, 1e-4]
    tv_kind: TVKind = "squared"  # [Jc] TotalVariation: squared neighbour differences
    normalization: Normalization = "johnson"  # [J16] Eqs. 2-5: divide by C_j H_j W_j
    image_size: int = 256  # [J16] Sec. 4.1: COCO images resized to 256 x 256 (here: crops)
    style_size: int = 256  # not stated in [J16]; [Jc] -style_image_size 256
    batch_size: int = 4  # [J16] Sec. 4.1; the global batch, split over torchrun processes
    lr: float = 1e-3  # [J16] Sec. 4.1: Adam, learning rate 1e-3
    steps: int = 40_000  # [J16] Sec. 4.1: 40k iterations, about two epochs of COCO
    transformer_norm: Literal["instance", "batch"] = "instance"  # [Jc] -use_instance_norm 1
    # (Ulyanov et al. 2016); [J16] Sec. 3.1 used batch normalisation
    upsample: Literal["resize", "transpose"] = "resize"  # Odena et al. 2016 (no checkerboard);
    # [J16] Sec. 3.1 used fractionally strided ("transpose") convolutions
    checkpoint_every: int = 1000  # [Jc] -checkpoint_every 1000; 0: only at the end
    seed: int = 0  # data order, crops, initialisation and random weights are seeded
    device: str = "auto"  # CUDA, then Apple MPS, then CPU; under torchrun, one GPU per process
    workers: int = 0  # data-loading processes (0: in the training process; try 4 on a GPU)

    def __post_init__(self) -> None:
        check_fields(self)
        _check_layers(self)
        _check_pixels(
            f"batch_size={self.batch_size} crops of image_size={self.image_size}",
            self.batch_size * self.image_size**2,
            "lower image_size or batch_size",
        )
        _check_pixels(f"style_size={self.style_size}", self.style_size**2, "lower style_size")


# [Gc] uses the same rectified layers and normalised network (its vgg_conv.pth), max
# pooling, starts from the content image, and writes its losses as means: Gram = F F^T / (H W),
# style = mean over the N^2 entries, content = mean over N M. Those are exactly the Johnson
# normalisations (Gram / (C H W), summed squares), so the variant keeps its own weights
# 1e3 / N_l^2 with normalization="johnson".
_GATYS_CODE_CHANNELS = (64, 128, 256, 512, 512)  # N_l of relu1_1 ... relu5_1

# [PT] names layers by counters: its conv_1 ... conv_5 are conv1_1, conv1_2, conv2_1, conv2_2,
# conv3_1 (pre-ReLU: it inserts its loss modules right after each convolution), its content
# layer conv_4 is conv2_2. Its Gram is F F^T / (a b c d) and both losses are MSE: with batch
# 1 that is Gram / (C H W), content / (C H W), and style = ||G - A||^2 / C^2, i.e. the Johnson
# normalisation with w_l = 1 / C_l^2 under its style weight 1e6.
_TUTORIAL_STYLE = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")
_TUTORIAL_CHANNELS = (64, 64, 128, 128, 256)

PRESETS: dict[str, GatysConfig | JohnsonConfig] = {
    "gatys2016": GatysConfig(),
    "gatys2016-code": GatysConfig(
        pooling="max",
        style_layer_weights=tuple(1e3 / n**2 for n in _GATYS_CODE_CHANNELS),
        content_weight=1.0,
        style_weight=1.0,
        normalization="johnson",
        init="content",
    ),
    "pytorch-tutorial": GatysConfig(
        normalize_network=False,  # [PT] tuned its weights on torchvision's raw VGG19
        pooling="max",  # [PT] keeps torchvision's max pooling
        content_layers=("conv2_2",),  # [PT] content_layers_default = ['conv_4']
        style_layers=_TUTORIAL_STYLE,  # [PT] style_layers_default = ['conv_1', ..., 'conv_5']
        style_layer_weights=tuple(1.0 / c**2 for c in _TUTORIAL_CHANNELS),  # MSE over C^2
        content_weight=1.0,  # [PT] run_style_transfer(content_weight=1)
        style_weight=1e6,  # [PT] run_style_transfer(style_weight=1000000)
        normalization="johnson",
        init="content",  # [PT] input_img = content_img.clone()
        steps=300,  # [PT] num_steps=300 (loss evaluations)
    ),
    "johnson2016": JohnsonConfig(),
    # Both Johnson presets use instance norm and resize-convolution (the class defaults);
    # the paper's batch norm and transposed convolutions are --norm batch --upsample transpose.
    "johnson2016-code": JohnsonConfig(content_layers=("relu3_3",)),  # [Jc]
}


# What each preset's loss weights assume about the network: its units.
PRESET_UNITS = {
    "gatys2016": "VGG-19 rescaled to mean activation 1, rectified layers, the paper's α/β",
    "gatys2016-code": "VGG-19 rescaled to mean activation 1, rectified layers, weights 1e3/N²",
    "pytorch-tutorial": "torchvision's raw VGG-19 on RGB [0, 1]/std, pre-ReLU layers",
    "johnson2016": "torchvision's raw VGG-16 on RGB [0, 1]/std",
    "johnson2016-code": "torchvision's raw VGG-16 on RGB [0, 1]/std",
}


def preset(name: str) -> GatysConfig | JohnsonConfig:
    """Return the preset called ``name`` (see ``PRESETS``); vary it with ``dataclasses.replace``."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(PRESETS)
        raise ValueError(f"unknown preset {name!r}; choose one of: {known}") from None


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


def style_layer_weights(config: GatysConfig | JohnsonConfig, layers) -> tuple[float, ...]:
    """The weights ``config``'s preset gives a new set of style ``layers``.

    The one rule for every place that changes the style layers without giving weights (the
    command line, the lessons' sweeps, the control panel): a preset with equal weights gets
    :func:`equal_layer_weights` for its normalisation; a preset with per-layer weights
    ([Gc]'s 1e3/N_l², [PT]'s 1/C_l²) keeps them for the layers it lists, and another layer
    takes the weight of a listed layer of the same block (the same N_l), or else their mean.

    Example:
        >>> style_layer_weights(GatysConfig(), ("relu1_1", "relu2_1"))
        (0.5, 0.5)
        >>> code = preset("gatys2016-code")
        >>> [round(w, 4) for w in style_layer_weights(code, ("relu2_1", "relu2_2"))]
        [0.061, 0.061]
    """
    layers = tuple(layers)
    if len(set(config.style_layer_weights)) <= 1:
        return equal_layer_weights(len(layers), config.normalization)
    known = dict(zip(config.style_layers, config.style_layer_weights, strict=True))
    by_block = {block_of(name): weight for name, weight in known.items()}
    mean = sum(known.values()) / len(known)
    return tuple(known.get(n, by_block.get(block_of(n), mean)) for n in layers)


def with_style_layers(config: GatysConfig | JohnsonConfig, layers) -> GatysConfig | JohnsonConfig:
    """``config`` with ``layers`` as its style layers, weighted by :func:`style_layer_weights`."""
    layers = tuple(layers)
    return replace(
        config, style_layers=layers, style_layer_weights=style_layer_weights(config, layers)
    )


def describe(config: GatysConfig | JohnsonConfig) -> str:
    """One ``field = value`` per line, marking the fields that differ from the class defaults."""
    default = type(config)()
    lines = []
    for f in fields(config):
        value = getattr(config, f.name)
        mark = "" if value == getattr(default, f.name) else "   (changed)"
        lines.append(f"{f.name} = {value!r}{mark}")
    return "\n".join(lines)


__all__ = [
    "GatysConfig",
    "JohnsonConfig",
    "PRESETS",
    "PRESET_UNITS",
    "preset",
    "describe",
    "equal_layer_weights",
    "style_layer_weights",
    "with_style_layers",
    "check_fields",
    "replace",
]
