"""AdaIN's networks and their files: the encoder, the decoder, the whole network, stylisation.

The encoder is VGG-19 up to relu4_1 in the PyTorch port's layout (naoto0804/pytorch-AdaIN,
``net.py``): a 1 x 1 convolution in front that turns RGB in [0, 1] into Caffe's
mean-subtracted BGR 0-255, reflection padding before every 3 x 3 convolution, max pooling
with ``ceil_mode``. The decoder mirrors it (Huang & Belongie 2017, Sec. 6.1). Both read the
port's files (``vgg_normalised.pth``, ``decoder.pth``) module for module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from stylelib import netnorm
from stylelib import weights as weights_module
from stylelib.adain.config import CHECKPOINT, CONTENT_LAYER, PADDINGS, STYLE_LAYERS, AdaINConfig
from stylelib.adain.layer import target
from stylelib.checkpoints import config_from_checkpoint, validate
from stylelib.composite import check_weights, composite, hard_masks
from stylelib.errors import LayerError, WeightsError
from stylelib.images import check_image
from stylelib.layers import layer_index
from stylelib.layers import layers as vgg_layers


def _port_layout(upto: str = "relu5_4") -> list[tuple[str, str, int, int]]:
    """``(name, kind, c_in, c_out)`` per module of the port's ``vgg`` Sequential, in order.

    Module 0 is the 1 × 1 input convolution; each 3 × 3 convolution is preceded by its
    padding module (``pad3_1`` ...), so that module indices, and state-dict keys, are the
    port's: conv1_1 is module 2, relu4_1 module 30, conv5_4 module 51.
    """
    out = [("input", "conv1x1", 3, 3)]
    for layer in vgg_layers("vgg19"):
        if layer.kind == "conv":
            out.append(("pad" + layer.name[4:], "pad", layer.in_channels, layer.in_channels))
        out.append((layer.name, layer.kind, layer.in_channels, layer.out_channels))
        if layer.name == upto:
            break
    return out


def port_index(name: str) -> int:
    """The module index of a VGG-19 layer in the port's encoder (``conv4_2`` is 32).

    torchvision's index plus 1 (the input convolution) plus one padding module per
    convolution up to this layer: ``port_index("relu4_1") == 30``, their ``enc_layers[:31]``.
    """
    layer_index(name, "vgg19")  # a LayerError for a name that is not VGG-19's
    return [n for n, *_ in _port_layout()].index(name)


def encoder_shapes(upto: str = "relu5_4") -> dict[str, tuple[int, ...]]:
    """Key → shape of the port's encoder state dict up to ``upto`` (their file: relu5_4)."""
    shapes = {}
    for i, (_, kind, c_in, c_out) in enumerate(_port_layout(upto)):
        if kind in ("conv", "conv1x1"):
            k = 1 if kind == "conv1x1" else 3
            shapes[f"{i}.weight"], shapes[f"{i}.bias"] = (c_out, c_in, k, k), (c_out,)
    return shapes


class Encoder(nn.Sequential):
    """VGG-19 to relu4_1 as the PyTorch port builds it: module indices and keys are theirs.

    Module 0, a 1 × 1 convolution, applies the weights' input convention (their file: RGB in
    [0, 1] → BGR 0-255 minus Caffe's mean); then pad, conv, ReLU ... with max pooling in
    ``ceil_mode`` (their layout; the same as floor for sides divisible by 8). ``padding``:
    ``"reflect"`` as the port and the authors' Torch code, or ``"zeros"`` as torchvision's
    VGG and :class:`stylelib.vgg.VGGFeatures`, with which it then agrees to rounding.

    Parameters are frozen; ``forward`` returns relu4_1, :meth:`features` any layers by name.
    Build it with :meth:`from_file` (their ``vgg_normalised.pth``) or :meth:`from_vgg`.
    """

    def __init__(self, padding: str = "reflect", upto: str = CONTENT_LAYER) -> None:
        if padding not in PADDINGS:
            raise ValueError(f"padding={padding!r} is not one of {', '.join(PADDINGS)}")
        modules: list[nn.Module] = []
        for _, kind, c_in, c_out in _port_layout(upto):
            if kind == "conv1x1":
                modules.append(nn.Conv2d(3, 3, 1))
            elif kind == "pad":
                modules.append(nn.ReflectionPad2d(1) if padding == "reflect" else nn.ZeroPad2d(1))
            elif kind == "conv":
                modules.append(nn.Conv2d(c_in, c_out, 3))
            elif kind == "relu":
                modules.append(nn.ReLU())
            else:
                modules.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        super().__init__(*modules)
        self.padding, self.upto = padding, upto
        self._index = {name: i for i, (name, *_) in enumerate(_port_layout(upto))}
        self.source = "untrained"
        self.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> Encoder:
        """The encoder stays in eval mode and frozen (Sec. 6.1: only the decoder learns)."""
        return super().train(False)

    def features(self, image: Tensor, layers: Sequence[str] = STYLE_LAYERS) -> dict[str, Tensor]:
        """``{name: (B, C, H', W')}`` of an RGB image batch (any float values)."""
        wanted = {}
        for name in layers:
            if name not in self._index:
                layer_index(name, "vgg19")
                raise LayerError(f"layer {name!r} lies past {self.upto}, where this encoder ends")
            wanted[self._index[name]] = name
        check_image(image, "the encoder's input", check_range=False, min_side=16)
        x, out = image.to(self[0].weight.dtype), {}
        last = max(wanted)
        for i, module in enumerate(self):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
            if i == last:
                break
        return out

    def forward(self, image: Tensor) -> Tensor:
        return self.features(image, (self.upto,))[self.upto]

    @classmethod
    def from_state(
        cls, state: Mapping[str, Tensor], padding: str = "reflect", source: str = "a state dict"
    ) -> Encoder:
        """An encoder from a state dict in the port's layout (checked first)."""
        check_encoder_state(state, source)
        encoder = cls(padding)
        keep = {k: v for k, v in state.items() if int(k.split(".")[0]) < len(encoder)}
        encoder.load_state_dict({k: v.float() for k, v in keep.items()})
        encoder.source = source
        return encoder

    @classmethod
    def from_file(cls, path: str | os.PathLike, padding: str = "reflect") -> Encoder:
        """The encoder of the port's ``vgg_normalised.pth`` (or any file in its layout)."""
        return cls.from_state(_read_state(path, "encoder"), padding, str(path))

    @classmethod
    def from_vgg(
        cls,
        weights: str | os.PathLike = "gatys",
        *,
        normalize: bool = True,
        padding: str = "reflect",
        seed: int = 0,
    ) -> Encoder:
        """The encoder from stylelib's VGG-19 weights (:func:`stylelib.weights.load`).

        ``"gatys"`` is the normalised VGG-19 that the authors' encoder was made from;
        ``normalize`` rescales other weights to mean activation 1 (:mod:`stylelib.netnorm`) so
        that their features have the same units; ``"random"`` runs everywhere and says so.
        """
        return cls.from_state(
            vgg_to_port(weights, normalize=normalize, seed=seed), padding, f"VGG-19 {weights}"
        )


def vgg_to_port(
    weights: str | os.PathLike = "gatys", *, normalize: bool = True, seed: int = 0
) -> dict[str, Tensor]:
    """stylelib's VGG-19 weights as the port's encoder state dict, up to relu4_1.

    The input convention ``(x − mean) / std`` (channel order already folded into conv1_1 by
    :mod:`stylelib.weights`) becomes the 1 × 1 convolution: weight diag(1/std), bias
    −mean/std. Each convolution moves from torchvision's index to :func:`port_index`'s.
    """
    loaded = weights_module.load("vgg19", weights, seed=seed)
    state = netnorm.normalize(loaded)[0] if normalize else dict(loaded.state)
    mean = torch.tensor(loaded.convention.mean, dtype=torch.float64)
    std = torch.tensor(loaded.convention.std, dtype=torch.float64)
    out = {
        "0.weight": torch.diag(1 / std).view(3, 3, 1, 1).float(),
        "0.bias": (-mean / std).float(),
    }
    for layer in vgg_layers("vgg19"):
        if layer.kind == "conv" and layer.index <= layer_index(CONTENT_LAYER):
            for kind in ("weight", "bias"):
                out[f"{port_index(layer.name)}.{kind}"] = state[f"{layer.index}.{kind}"].float()
    return out


# (c_in, c_out) of each 3 x 3 convolution, "up" for nearest-neighbour x2 upsampling: the
# encoder's relu4_1 ... conv1_1 in reverse, pooling replaced by upsampling. The port's net.py.
DECODER_LAYOUT = (
    (512, 256), "up",
    (256, 256), (256, 256), (256, 256), (256, 128), "up",
    (128, 128), (128, 64), "up",
    (64, 64), (64, 3),
)  # fmt: skip


def decoder_shapes() -> dict[str, tuple[int, ...]]:
    """Key → shape of the port's ``decoder.pth`` (convolutions at 1, 5, 8, ..., 28)."""
    return {k: tuple(v.shape) for k, v in Decoder._meta().state_dict().items()}


class Decoder(nn.Sequential):
    """g: relu4_1 features back to an image (Sec. 6.1), the port's Sequential module for module.

    "The decoder mostly mirrors the encoder, with all pooling layers replaced by nearest
    up-sampling to reduce checkerboard effects"; reflection padding before every 3 × 3
    convolution "to avoid border artifacts"; no normalisation layer, since instance norm would
    undo the style AdaIN has just set. ReLU after every convolution but the last, whose output
    is unbounded (clamp it to [0, 1] to show it). 3.5 M parameters.

    ``seed`` makes the initial weights (PyTorch's default initialisation) reproducible.
    """

    def __init__(self, seed: int | None = 0) -> None:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            super().__init__(*self._modules_list())

    @staticmethod
    def _modules_list() -> list[nn.Module]:
        modules: list[nn.Module] = []
        convs = [e for e in DECODER_LAYOUT if e != "up"]
        for entry in DECODER_LAYOUT:
            if entry == "up":
                modules.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            modules += [nn.ReflectionPad2d(1), nn.Conv2d(*entry, 3)]
            if entry is not convs[-1]:
                modules.append(nn.ReLU())
        return modules

    @classmethod
    def _meta(cls) -> nn.Sequential:
        with torch.device("meta"):
            return nn.Sequential(*cls._modules_list())

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor], source: str = "a state dict") -> Decoder:
        check_decoder_state(state, source)
        decoder = cls(seed=None)
        decoder.load_state_dict({k: v.float() for k, v in state.items()})
        return decoder

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Decoder:
        """The port's ``decoder.pth``, or a checkpoint of :func:`train_decoder`."""
        obj = _read_state(path, "decoder")
        if isinstance(obj, Mapping) and "format" in obj:  # a checkpoint: its network
            obj = validate(obj, path, kind=CHECKPOINT)["model"]
        return cls.from_state(obj, str(path))


def _read_state(path: str | os.PathLike, what: str) -> object:
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"{what} file not found: '{path}'; check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"{path} is not a PyTorch weights file ({type(exc).__name__}); give the "
            f"{what} .pth file"
        ) from None


def _shape_problems(state: Mapping, expected: Mapping[str, tuple], optional: set[str]) -> str:
    keys = [k for k in state if isinstance(k, str)]
    missing = [k for k in expected if k not in state and k not in optional]
    extra = [k for k in keys if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
        if extra:
            parts.append(f"unexpected {', '.join(extra[:3])}" + (" ..." if len(extra) > 3 else ""))
        return f"wrong keys ({'; '.join(parts)})"
    for key, shape in expected.items():
        if key in state:
            value = state[key]
            if not isinstance(value, Tensor):
                return f"{key} is a {type(value).__name__}, not a tensor"
            if tuple(value.shape) != shape:
                return f"{key} has shape {tuple(value.shape)} where {shape} belongs"
            if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
                return f"{key} holds non-finite or non-float values"
    return ""


def check_encoder_state(state: object, path: str | os.PathLike) -> None:
    """Refuse, in one WeightsError line, a state dict that is not the port's encoder.

    Accepted: their ``vgg_normalised.pth`` (to relu5_4, 17 convolutions) or the same cut at
    any layer from relu4_1 on; refused: another layout, shapes or keys, the decoder.
    """
    what = f"{path} is not the AdaIN encoder (vgg_normalised.pth)"
    if not isinstance(state, Mapping):
        raise WeightsError(f"{what}: it holds a {type(state).__name__}, not a state dict")
    if "1.weight" in state and "0.weight" not in state:
        raise WeightsError(f"{what}: it holds the decoder (decoder.pth); give it as the decoder")
    full, needed = encoder_shapes(), encoder_shapes(CONTENT_LAYER)
    problem = _shape_problems(state, full, set(full) - set(needed))
    if "features.0.weight" in state or "conv1_1.weight" in state:
        problem = "it is a plain VGG file; load it with Encoder.from_vgg(PATH)"
    if problem:
        raise WeightsError(f"{what}: {problem}")


def check_decoder_state(state: object, path: str | os.PathLike) -> None:
    """Refuse, in one WeightsError line, a state dict that is not the port's decoder."""
    what = f"{path} is not the AdaIN decoder (decoder.pth)"
    if not isinstance(state, Mapping):
        raise WeightsError(f"{what}: it holds a {type(state).__name__}, not a state dict")
    if "0.weight" in state and "2.weight" in state:
        raise WeightsError(
            f"{what}: it holds the encoder (vgg_normalised.pth); give it as the encoder"
        )
    problem = _shape_problems(state, decoder_shapes(), set())
    if problem:
        raise WeightsError(f"{what}: {problem}")


class AdaINNet(nn.Module):
    """Encoder f, AdaIN layer, decoder g: T(c, s) = g(AdaIN(f(c), f(s))) (Sec. 6.1, Eq. 10).

    Only ``decoder`` has trainable parameters; ``encoder`` is frozen and kept in eval mode.
    """

    def __init__(self, encoder: Encoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, content: Tensor, style: Tensor, alpha: float = 1.0) -> Tensor:
        """g(t) for one style per image (or one for all), unclamped."""
        return self.decoder(target(self.encoder(content), [self.encoder(style)], alpha=alpha))


def stylize(
    net: AdaINNet,
    content: Tensor,
    styles: Tensor | Sequence[Tensor | None],
    *,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[Tensor] | Tensor | None = None,
    regions: Sequence[Tensor] | None = None,
    preserve_color: bool = False,
) -> Tensor:
    """One forward pass: the content photo in the style(s), ``(B, 3, H, W)`` in [0, 1].

    Spatial control (Huang & Belongie 2017, Sec. 7.3) takes one of two forms, one keyword each
    (a 0/1 picture is both a partition and a set of soft weights, and the two are treated
    differently, so the keyword says which is meant):

    - ``masks``: a partition, one 0/1 mask per style at any size, resized to the features
      (nearest) and handed to :func:`~stylelib.adain.layer.target` as they are (a style of
      None keeps the photo's features in its region, decoded: no pixels are put back);
    - ``regions``: soft weights at the content's size that sum to 1 at every pixel, one per
      style (:func:`stylelib.masks.region_masks` makes them). Regions with the same style
      (the same tensor, or equal ones) are one region, their weights added; regions with no
      weight anywhere are dropped. The relu4_1 grid is split among the rest by
      :func:`stylelib.composite.hard_masks` at the encoder's actual output size (each cell to
      the region holding most of it), and one decoder pass decodes the per-region AdaIN.
      A style of None keeps the photo there: its cells keep the photo's own features (no
      stand-in style is encoded), and after decoding the photo's pixels come back by the
      region's soft weight m at full resolution, out = (1 − m) · decoded + m · photo, so it
      is exactly the photo wherever m = 1. With one region left, the result is exactly the
      unmasked ``stylize`` in its style (or the photo, for None).

    Args:
        net: an :class:`AdaINNet`.
        content: ``(B, 3, H, W)`` in [0, 1].
        styles: one image ``(1 or B, 3, H', W')`` or several (any sizes) for interpolation
            (``style_weights``) or spatial control (``masks``, ``regions``; None there keeps
            the content), see :func:`target`.
        alpha: the content-style trade-off of Eq. 14.
        style_weights: the mix of several styles everywhere; not with masks or regions.
        masks: K hard masks, one per style (above).
        regions: K soft weights ``(B or 1, 1, H, W)``, one per style (above).
        preserve_color: recolour each style to the content's colour mean and covariance first
            (Sec. 7.3, after Gatys et al. 2016, "Preserving Color in Neural Artistic Style
            Transfer"; :func:`stylelib.color.match_colors` ``"linear"``, the port's ``coral``).

    The decoder's output is cropped to the content's size (the encoder's ceil-mode pooling
    rounds odd sides up) and clamped to [0, 1]. Runs without autograd.
    """
    check_image(content, "content")
    styles = [styles] if isinstance(styles, Tensor) else list(styles)
    if masks is not None and regions is not None:
        raise ValueError("give masks (a 0/1 partition) or regions (soft weights), not both")
    if any(s is None for s in styles) and masks is None and regions is None:
        raise ValueError(
            "a style of None keeps the photo in its region and needs regions= (or masks=); "
            "without them, leave it out"
        )
    for i, style in enumerate(styles):
        if style is not None:
            check_image(style, f"style {i + 1}" if len(styles) > 1 else "style")
    device = next(net.decoder.parameters()).device
    content = content.to(device)
    if regions is not None:
        if style_weights is not None:
            raise ValueError(
                "give style_weights or regions, not both: regions choose a style per region"
            )
        return _stylize_regions(net, content, styles, regions, alpha, preserve_color)
    with torch.no_grad():
        content_feat, style_feats = _encode(net, content, styles, preserve_color)
        t = target(content_feat, style_feats, alpha=alpha, style_weights=style_weights, masks=masks)
        return _decode(net, t, content)


def _encode(
    net: AdaINNet, content: Tensor, styles: list[Tensor | None], preserve_color: bool
) -> tuple[Tensor, list[Tensor | None]]:
    """f(c) and each f(s) (None stays None), the styles recoloured first if asked."""
    from stylelib.color import match_colors

    def recolour(style: Tensor) -> Tensor:
        return match_colors(style, content[:1] if style.shape[0] == 1 else content, "linear")

    if preserve_color:
        styles = [None if s is None else recolour(s) for s in styles]
    content_feat = net.encoder(content)
    return content_feat, [None if s is None else net.encoder(s.to(content.device)) for s in styles]


def _decode(net: AdaINNet, t: Tensor, content: Tensor) -> Tensor:
    """g(t) cropped to the content's size (ceil-mode pooling rounds odd sides up), in [0, 1]."""
    h, w = content.shape[-2:]
    return net.decoder(t)[..., :h, :w].clamp(0.0, 1.0)


def _stylize_regions(
    net: AdaINNet,
    content: Tensor,
    styles: list[Tensor | None],
    regions: Sequence[Tensor],
    alpha: float,
    preserve_color: bool,
) -> Tensor:
    """:func:`stylize` with ``regions``: soft weights -> cells, one pass, the photo put back."""
    weights = check_weights(regions, content.shape[-2:])
    if len(weights) != len(styles):
        raise ValueError(
            f"{len(styles)} styles for {len(weights)} regions; give one style (or None, for "
            "the photo) per region"
        )
    distinct: list[Tensor | None] = []  # one entry per style, in order of first appearance
    merged: list[Tensor] = []  # its regions' weights, added up
    for style, m in zip(styles, weights, strict=True):
        same = [i for i, d in enumerate(distinct) if _same_style(d, style)]
        if same:
            merged[same[0]] = merged[same[0]] + m
        else:
            distinct.append(style)
            merged.append(m)
    used = [i for i, m in enumerate(merged) if bool((m > 0).any())]
    distinct, merged = [distinct[i] for i in used], [merged[i] for i in used]
    if len(distinct) == 1 and distinct[0] is None:
        return content.float().clone()
    with torch.no_grad():
        content_feat, style_feats = _encode(net, content, distinct, preserve_color)
        if len(distinct) == 1:  # exactly the unmasked stylize (whole-image statistics)
            return _decode(net, target(content_feat, style_feats, alpha=alpha), content)
        cells = hard_masks(merged, tuple(content_feat.shape[-2:]))
        t = target(content_feat, style_feats, alpha=alpha, masks=cells)
        out = _decode(net, t, content)
    photo = [m for d, m in zip(distinct, merged, strict=True) if d is None]
    if not photo:
        return out
    m = photo[0].to(out)
    return composite([out, content.to(out)], [1 - m, m])


def _same_style(a: Tensor | None, b: Tensor | None) -> bool:
    """One style: both None, the same tensor, or equal tensors."""
    if a is None or b is None:
        return a is b
    return a is b or (a.shape == b.shape and bool(torch.equal(a, b.to(a.device))))


def load_encoder(
    spec: str | os.PathLike = "gatys",
    *,
    normalize: bool = True,
    padding: str = "reflect",
    seed: int = 0,
) -> Encoder:
    """The encoder ``spec`` names: a file in the port's layout (their ``vgg_normalised.pth``,
    recognised by its 1 × 1 input convolution) or any VGG-19 weights stylelib reads
    (``"gatys"``, ``"imagenet"``, ``"caffe"``, ``"random"``, a file: :meth:`Encoder.from_vgg`).
    """
    path = Path(spec)
    if spec not in ("random", *weights_module.SOURCES) and path.is_file():
        state = _read_state(path, "encoder")
        first = state.get("0.weight") if isinstance(state, Mapping) else None
        if isinstance(first, Tensor) and tuple(first.shape) == (3, 3, 1, 1):
            return Encoder.from_state(state, padding, str(path))
        vgg_keys = ("0.weight", "features.0.weight", "conv1_1.weight", "format")
        if not isinstance(state, Mapping) or not any(k in state for k in vgg_keys):
            check_encoder_state(state, path)  # neither layout: say what it is (the decoder?)
    return Encoder.from_vgg(spec, normalize=normalize, padding=padding, seed=seed)


def checkpoint_config(path: str | os.PathLike) -> AdaINConfig | None:
    """The :class:`AdaINConfig` a decoder file was trained with, if it is a checkpoint of
    :func:`train_decoder` (None for the port's bare ``decoder.pth``)."""
    obj = _read_state(path, "decoder")
    if not (isinstance(obj, Mapping) and "format" in obj):
        return None
    return config_from_checkpoint(validate(obj, path, kind=CHECKPOINT), CHECKPOINT)


def load_network(
    decoder: str | os.PathLike | None = None,
    encoder: str | os.PathLike | None = None,
    *,
    normalize: bool = True,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> AdaINNet:
    """An :class:`AdaINNet`: the decoder from a file (the port's ``decoder.pth`` or a
    checkpoint of :func:`train_decoder`), the encoder as :func:`load_encoder` reads it.

    ``encoder`` None: the one a checkpoint was trained with (its config), else ``"gatys"``.
    A decoder only makes pictures with the encoder it was trained with. ``decoder`` None: an
    untrained decoder (seeded), which paints noise: say so where it is shown.
    """
    if encoder is None:
        config = checkpoint_config(decoder) if decoder is not None else None
        encoder = config.encoder if config is not None else "gatys"
        normalize = config.normalize_encoder if config is not None else normalize
    enc = load_encoder(encoder, normalize=normalize, seed=seed)
    dec = Decoder.from_file(decoder) if decoder is not None else Decoder(seed)
    return AdaINNet(enc, dec).to(device)
