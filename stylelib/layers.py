"""VGG16 and VGG19 by layer name: the one table from names to modules, shapes and parameters.

Simonyan & Zisserman (2015) stack 3x3 convolutions in five blocks separated by 2x2 max
pooling; VGG16 and VGG19 differ only in the number of convolutions in blocks 3-5 (three or
four). Style transfer names layers as the papers do::

    conv1_1 relu1_1 conv1_2 relu1_2 pool1  conv2_1 ... pool5

This module owns the one map from those names to torchvision's ``features`` indices, so no
other code picks a layer by number.

What a name means depends on who says it (``NAMING`` below holds the same table as text):

============  =====================================  =====================================
here          Caffe, and so Gatys et al. 2016          torchvision ``vgg19().features``
============  =====================================  =====================================
``conv4_2``   (no blob holds it: Caffe's ReLU runs    module 21's output, *before* the
              in place over the conv4_2 blob)         in-place ReLU of module 22 runs
``relu4_2``   blob ``conv4_2`` after the forward      module 22's output
              pass: the *rectified* features the
              papers read (Gatys' Eq. 2 gradient
              is zero where F < 0)
============  =====================================  =====================================

So the paper's "conv4_2" is ``relu4_2`` here, and ``conv4_2`` here is the pre-ReLU output
that no Caffe-based paper could read; it stays available because the difference is a
lesson of its own (lesson 03).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import LayerError

if TYPE_CHECKING:  # torch is loaded only when a network is built
    from torch import nn

NAMING = (
    "here: conv4_2 = the convolution's output before its ReLU; relu4_2 = after it.\n"
    "Caffe (and so Gatys et al. 2016): the ReLU runs in place, so the "
    "blob named conv4_2 holds the rectified features, i.e. relu4_2 here.\n"
    "torchvision: vgg19().features[21] is conv4_2, [22] its in-place ReLU; a hook on [21] "
    "sees its output overwritten by the ReLU.\n"
    "The paper's conv4_2 (content) and conv1_1 ... conv5_1 (style) are relu4_2 and "
    "relu1_1 ... relu5_1 here."
)


# Convolutions per block: Simonyan & Zisserman 2015, Table 1, columns D (VGG16) and E (VGG19).
BLOCK_DEPTHS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
BLOCK_CHANNELS = (64, 128, 256, 512, 512)

# The classifier that torchvision puts after ``features``: adaptive average pooling to 7x7,
# then fc6 (25088 -> 4096), fc7 (4096 -> 4096), fc8 (4096 -> 1000). Used for the parameter
# table only; the extractor never builds it.
CLASSIFIER = (("fc6", 512 * 7 * 7, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000))


@dataclass(frozen=True)
class Layer:
    """One entry of ``features``: its paper name, torchvision index and what it is."""

    name: str  # "conv4_2"
    index: int  # position in torchvision's ``vgg19().features``
    kind: str  # "conv", "relu" or "pool"
    in_channels: int
    out_channels: int


def check_arch(arch: str) -> str:
    """Return ``arch`` if it is ``"vgg16"`` or ``"vgg19"``, else raise a one-line LayerError."""
    if arch not in BLOCK_DEPTHS:
        raise LayerError(f"unknown architecture {arch!r}; choose 'vgg16' or 'vgg19'")
    return arch


def layers(arch: str = "vgg19") -> list[Layer]:
    """Every layer of ``features`` in order, with its paper name and torchvision index."""
    out: list[Layer] = []
    in_ch = 3
    for block, (depth, ch) in enumerate(
        zip(BLOCK_DEPTHS[check_arch(arch)], BLOCK_CHANNELS, strict=True), 1
    ):
        for i in range(1, depth + 1):
            out.append(Layer(f"conv{block}_{i}", len(out), "conv", in_ch, ch))
            out.append(Layer(f"relu{block}_{i}", len(out), "relu", ch, ch))
            in_ch = ch
        out.append(Layer(f"pool{block}", len(out), "pool", ch, ch))
    return out


def block_of(name: str) -> int:
    """The block a layer name is in: ``conv3_2``, ``relu3_1`` and ``pool3`` are in block 3.

    Layers of one block share their channel count N_l (Simonyan & Zisserman 2015, Table 1).

    Raises:
        LayerError: not a VGG layer name.
    """
    kind, number = name[:4], name[4:].split("_")[0]
    if kind not in ("conv", "relu", "pool") or not number.isdigit() or not 1 <= int(number) <= 5:
        raise LayerError(f"{name!r} is not a VGG layer name; use names like conv3_2 or relu4_1")
    return int(number)


def layer_names(arch: str = "vgg19") -> list[str]:
    """The paper's names, in forward order: ``["conv1_1", "relu1_1", ..., "pool5"]``."""
    return [layer.name for layer in layers(arch)]


def layer_index(name: str, arch: str = "vgg19") -> int:
    """torchvision's ``features`` index of a named layer (VGG19 ``conv4_2`` is 21)."""
    for layer in layers(arch):
        if layer.name == name:
            return layer.index
    names = layer_names(arch)
    raise LayerError(
        f"{arch} has no layer {name!r}; its layers run from {names[0]} to {names[-2]} and "
        f"pool1..pool5 (see `stylelib layers {arch}`)"
    )


def build_features(
    arch: str = "vgg19", pooling: str = "max", upto: str | None = None
) -> nn.Sequential:
    """The convolutional part as ``nn.Sequential``, up to and including layer ``upto``.

    Module indices equal torchvision's, so its ``features.*`` state-dict keys load directly.
    ReLUs are out of place; pooling is ``nn.MaxPool2d(2, 2)`` or ``nn.AvgPool2d(2, 2)``.
    """
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling={pooling!r} is not 'max' or 'avg'")
    stop = layer_index(upto, arch) + 1 if upto else None
    from torch import nn  # here, so that reading the layer table does not load torch

    modules: list[nn.Module] = []
    for layer in layers(arch)[:stop]:
        if layer.kind == "conv":
            modules.append(nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1))
        elif layer.kind == "relu":
            modules.append(nn.ReLU(inplace=False))
        else:
            modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    return nn.Sequential(*modules)


def fits(key: str, features: nn.Sequential) -> bool:
    """Keep ``"12.weight"`` only if module 12 exists in the (possibly truncated) network."""
    return int(key.split(".", 1)[0]) < len(features)


def layer_table(arch: str = "vgg16", input_size: int = 224, classifier: bool = True) -> list[dict]:
    """Shape and parameter arithmetic of every layer, as in the VGG lab's worked example.

    Each row: ``name, kind, kernel, stride, padding, channels_in, channels_out, output (H, W,
    C), params``. A 3x3 convolution with padding 1 keeps H and W and has ``3*3*C_in*C_out +
    C_out`` parameters; a 2x2 pooling with stride 2 halves H and W (floor) and has none.
    With ``classifier=True`` the rows end with torchvision's 7x7 adaptive average pooling and
    fc6-fc8, so the total is the whole network's (VGG16: 138,357,544).
    """
    if not isinstance(input_size, int) or input_size < 32:
        raise ValueError(
            f"input_size={input_size!r}: VGG needs at least 32 x 32 pixels (five 2x2 poolings "
            "halve it to 1 x 1 at pool5); the VGG lab uses 300, ImageNet 224"
        )
    h = w = input_size
    rows = []
    for layer in layers(arch):
        kernel, stride, pad, params = "", "", "", 0
        if layer.kind == "conv":
            kernel, stride, pad = "3x3", 1, 1
            params = 3 * 3 * layer.in_channels * layer.out_channels + layer.out_channels
        elif layer.kind == "pool":
            kernel, stride, pad = "2x2", 2, 0
            h, w = h // 2, w // 2
        rows.append(
            _row(
                layer.name,
                layer.kind,
                kernel,
                stride,
                pad,
                layer.in_channels,
                layer.out_channels,
                (h, w, layer.out_channels),
                params,
            )
        )
    if classifier:
        rows.append(_row("avgpool", "adaptive avg pool", "", "", "", 512, 512, (7, 7, 512), 0))
        for name, n_in, n_out in CLASSIFIER:
            rows.append(
                _row(name, "fc", "", "", "", n_in, n_out, (1, 1, n_out), n_in * n_out + n_out)
            )
    return rows


def _row(name, kind, kernel, stride, padding, c_in, c_out, output, params) -> dict:
    return {
        "name": name,
        "kind": kind,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "channels_in": c_in,
        "channels_out": c_out,
        "output": output,
        "params": params,
    }


def format_layer_table(rows: list[dict]) -> str:
    """The table as aligned text with a total line, for the terminal and notebooks."""

    def line(name, kind, kernel, stride, pad, shape, params) -> str:
        return (
            f"{name:<8} {kind:<17} {kernel:<6} {stride!s:>6} {pad!s:>3}  {shape:<18} {params:>12}"
        )

    head = line("layer", "kind", "kernel", "stride", "pad", "output (H x W x C)", "params")
    rule = "-" * len(head)
    lines = [head, rule]
    for r in rows:
        shape = " x ".join(str(d) for d in r["output"])
        lines.append(
            line(
                r["name"],
                r["kind"],
                r["kernel"],
                r["stride"],
                r["padding"],
                shape,
                f"{r['params']:,}",
            )
        )
    total = sum(r["params"] for r in rows)
    lines += [rule, line("total", "", "", "", "", "", f"{total:,}")]
    return "\n".join(lines)
