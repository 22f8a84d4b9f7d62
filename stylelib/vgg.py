"""VGG16 and VGG19 as style transfer sees them: named layers, features only.

Simonyan & Zisserman (2015) stack 3x3 convolutions in five blocks separated by 2x2 max
pooling; VGG16 and VGG19 differ only in the number of convolutions in blocks 3-5 (three or
four). Style transfer uses the convolutional part as a fixed feature extractor, by the layer
names of the papers::

    conv1_1 relu1_1 conv1_2 relu1_2 pool1  conv2_1 ... pool5

This module owns the one map from those names to torchvision's ``features`` indices, so no
other code picks a layer by number. :class:`VGGFeatures` returns a dict of the requested
feature maps, runs only as deep as the deepest of them, keeps ReLUs out of place (a ``conv``
output really is the convolution's output), can swap max for average pooling (Gatys et al.
2016, Sec. 2), normalises with the ImageNet mean and std inside, and never builds the
classifier, whose 124 M parameters style transfer does not use.

Example::

    >>> import torch
    >>> from stylelib.vgg import VGGFeatures
    >>> net = VGGFeatures("vgg19", weights="random", layers=["conv1_1", "relu4_2"])
    >>> feats = net(torch.rand(1, 3, 64, 64))
    >>> feats["relu4_2"].shape
    torch.Size([1, 512, 8, 8])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import LayerError
from .images import check_image

# Convolutions per block: Simonyan & Zisserman 2015, Table 1, columns D (VGG16) and E (VGG19).
BLOCK_DEPTHS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
BLOCK_CHANNELS = (64, 128, 256, 512, 512)

# ImageNet statistics the torchvision weights were trained with (RGB, images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

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
    modules: list[nn.Module] = []
    for layer in layers(arch)[:stop]:
        if layer.kind == "conv":
            modules.append(nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1))
        elif layer.kind == "relu":
            modules.append(nn.ReLU(inplace=False))
        else:
            modules.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    return nn.Sequential(*modules)


class VGGFeatures(nn.Module):
    """A frozen VGG feature extractor that answers by layer name.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"imagenet"`` (torchvision's pretrained weights from its cache, see
            :mod:`stylelib.weights`), ``"random"`` (seeded, for tests and offline work; warns
            once) or a path to a local weights file.
        layers: the names returned by default; the network is built only up to the deepest
            of them, and ``forward(x, layers=...)`` may ask for any layer up to that one.
            ``None`` builds all of ``features`` (to ``pool5``) and returns every layer.
        pooling: ``"max"`` as trained, or ``"avg"`` as in Gatys et al. 2016.
        seed: seed of the random weights.

    Input: images ``(B, 3, H, W)`` in ``[0, 1]`` RGB, H and W at least 32. The ImageNet mean
    and std are applied here and nowhere else. Output: ``{name: (B, C, H', W')}``.
    """

    def __init__(
        self,
        arch: str = "vgg19",
        weights: str | Path = "imagenet",
        layers: Iterable[str] | None = None,
        pooling: str = "max",
        seed: int = 0,
    ) -> None:
        from .weights import load_features_state  # weights imports vgg's layer table

        super().__init__()
        self.arch = check_arch(arch)
        order = {name: i for i, name in enumerate(layer_names(arch))}
        wanted = list(order) if layers is None else list(layers)
        for name in wanted:
            layer_index(name, arch)  # raises a LayerError naming the bad layer
        if not wanted:
            raise LayerError("layers is empty; name at least one layer, e.g. ['relu4_2']")
        self.layers = tuple(sorted(set(wanted), key=order.__getitem__))
        self.pooling = pooling
        with torch.device("meta"):  # shapes only: the weights below are the only allocation
            self.features = build_features(arch, pooling, upto=self.layers[-1])
        state = load_features_state(arch, weights, seed=seed)
        kept = {k: v for k, v in state.items() if _fits(k, self.features)}
        self.features.load_state_dict(kept, assign=True)
        self.features.requires_grad_(False).eval()
        self._index = {name: i for name, i in order.items() if i < len(self.features)}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> VGGFeatures:
        """The extractor stays in eval mode: it has no dropout or batch norm to train."""
        return super().train(False)

    def forward(
        self, image: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Feature maps of ``image`` at ``layers`` (default: all layers given at construction)."""
        check_image(image, "the input to VGGFeatures", check_range=False)
        names = self.layers if layers is None else tuple(layers)
        for name in names:
            if name not in self._index:
                layer_index(name, self.arch)  # unknown to VGG at all: that error first
                raise LayerError(
                    f"layer {name!r} lies past {self.layers[-1]}, the deepest layer this "
                    f"extractor was built to; include it in `layers=` at construction"
                )
        wanted = {self._index[name]: name for name in names}
        out: dict[str, torch.Tensor] = {}
        if not wanted:
            return out
        x = (image - self.mean) / self.std
        for i, module in enumerate(self.features[: max(wanted) + 1]):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def _fits(key: str, features: nn.Sequential) -> bool:
    """Keep ``"12.weight"`` only if module 12 exists in the (possibly truncated) network."""
    return int(key.split(".", 1)[0]) < len(features)


def layer_table(arch: str = "vgg16", input_size: int = 224, classifier: bool = True) -> list[dict]:
    """Shape and parameter arithmetic of every layer, as in seed 000's worked example.

    Each row: ``name, kind, kernel, stride, padding, channels_in, channels_out, output (H, W,
    C), params``. A 3x3 convolution with padding 1 keeps H and W and has ``3*3*C_in*C_out +
    C_out`` parameters; a 2x2 pooling with stride 2 halves H and W (floor) and has none.
    With ``classifier=True`` the rows end with torchvision's 7x7 adaptive average pooling and
    fc6-fc8, so the total is the whole network's (VGG16: 138,357,544).
    """
    if not isinstance(input_size, int) or input_size < 32:
        raise ValueError(
            f"input_size={input_size!r}: VGG needs at least 32 x 32 pixels (five 2x2 poolings "
            "halve it to 1 x 1 at pool5); seed 000 uses 300, ImageNet 224"
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
