"""Arbitrary style in one forward pass: adaptive instance normalisation (AdaIN).

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017. Gatys et al. optimise one image per style; Johnson et al. train
one network per style. AdaIN trains one network for *every* style: a fixed encoder f (VGG-19
up to relu4_1) maps the content photo c and the style image s to feature maps, the AdaIN
layer gives the content features the per-channel mean and standard deviation of the style
features (Sec. 5, Eq. 8)::

    t = AdaIN(f(c), f(s)) = σ(f(s)) · (f(c) − μ(f(c))) / σ(f(c)) + μ(f(s))

and a decoder g, trained once on many photos and many paintings, turns t back into an image,
T(c, s) = g(t). Nothing depends on the style but two vectors of 512 numbers, so any style
works without training, and at test time t can be mixed: with the content's own features
(α, Eq. 14), between several styles (Sec. 7.3), by region (masks, Sec. 7.3).

**Statistics.** μ and σ are over the H·W positions of each channel of each image (Eqs. 5-6):
σ = sqrt(1/(HW) Σ (x − μ)² + ε), the *population* variance with ε inside the square root, as
in instance normalisation. That is the paper's definition and what this module computes
(``unbiased=False``). The authors' Torch code agrees for the content (a batch-norm layer in
training mode) but takes the style's σ without ε; the PyTorch port (naoto0804/pytorch-AdaIN,
``function.py``) uses the *unbiased* variance (÷ (HW − 1)) plus ε for both, which
``unbiased=True`` reproduces. At relu4_1 of a 256 px image (32 × 32 positions) the two
differ by a factor sqrt(1024/1023) in σ, far below what a decoder can show.

**Loss** (Sec. 6.2, Eqs. 11-13), the decoder's only: L = L_c + λ L_s with

    L_c = ‖f(g(t)) − t‖                              content: relu4_1, against t itself
    L_s = Σ_i ‖μ(φ_i(g(t))) − μ(φ_i(s))‖ + ‖σ(φ_i(g(t))) − σ(φ_i(s))‖
          over φ_i = relu1_1, relu2_1, relu3_1, relu4_1.

The paper writes Euclidean norms; both codes square them. The PyTorch port averages the
squares (``nn.MSELoss``: over B·C·H·W for L_c, over B·C for L_s) with λ = 10; the Torch code
averages L_c but *sums* L_s over B·C (``sizeAverage = false``) with λ = 0.01 (0.1 for its
released ``decoder.t7``). :class:`AdaINConfig` keeps both as presets, ``reduction`` saying
which normalisation λ belongs to.

**Files** of the PyTorch port load as they are: ``vgg_normalised.pth`` (the normalised VGG-19
of Gatys et al. with a 1 × 1 convolution in front that turns RGB in [0, 1] into Caffe's
mean-subtracted BGR 0-255, reflection padding before every 3 × 3 convolution, max pooling
with ``ceil_mode``) and ``decoder.pth``, each an ``nn.Sequential`` state dict keyed
``N.weight``/``N.bias`` by module index. :class:`Encoder` and :class:`Decoder` are those
Sequentials, module for module; :func:`check_encoder_state` and :func:`check_decoder_state`
say in one line what is wrong with a file. Without their file, :meth:`Encoder.from_vgg` builds
the same encoder from any of stylelib's VGG-19 weights (:mod:`stylelib.weights`): their input
convention becomes the 1 × 1 convolution, torchvision's indices become the port's
(:func:`port_index`).

Example::

    >>> import torch
    >>> c, s = torch.randn(1, 4, 5, 6), torch.randn(1, 4, 7, 3)
    >>> t = adain(c, s)
    >>> mean, std = mean_std(t)
    >>> s_mean, s_std = mean_std(s)
    >>> torch.allclose(mean, s_mean, atol=1e-5), torch.allclose(std, s_std, atol=1e-4)
    (True, True)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from . import netnorm
from . import weights as weights_module
from .checkpoints import CheckpointKind, config_from_checkpoint, validate
from .config import MAX_SEED, Weights, check_fields
from .errors import LayerError, WeightsError
from .images import check_image
from .layers import layer_index
from .layers import layers as vgg_layers
from .trainkit import (
    CropDataset,
    TrainCallback,
    TrainingRun,
    TrainResult,
    files_digest,
    list_images,
    run_training,
    seed_all,
)

EPS = 1e-5  # inside the square root of σ (Eq. 6; both codes' default)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # Sec. 6.2, L_s
CONTENT_LAYER = "relu4_1"  # Sec. 6.1: the encoder ends here; L_c and the AdaIN layer
PADDINGS = ("reflect", "zeros")


# --- the AdaIN layer (Sec. 5) ------------------------------------------------------------------


def _check_features(x: object, name: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float feature map (B, C, H, W), got {got}")


def mean_std(
    features: Tensor, eps: float = EPS, *, unbiased: bool = False
) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation over positions (Huang & Belongie, Eqs. 5-6).

    μ_bc = 1/(HW) Σ_hw x_bchw and σ_bc = sqrt(1/(HW) Σ_hw (x_bchw − μ_bc)² + ε); with
    ``unbiased=True`` the variance is ÷ (HW − 1) instead (the PyTorch port's ``calc_mean_std``).

    Args:
        features: ``(B, C, H, W)``.
        eps: added to the variance inside the square root.

    Returns:
        ``(mean, std)``, each ``(B, C, 1, 1)``.

    Example:
        >>> mean, std = mean_std(torch.ones(2, 3, 4, 4))
        >>> mean.flatten().tolist(), round(std.max().item(), 6)
        ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0.003162)
    """
    _check_features(features, "features")
    var = features.var(dim=(2, 3), keepdim=True, correction=1 if unbiased else 0)
    return features.mean(dim=(2, 3), keepdim=True), (var + eps).sqrt()


def adain(
    content_feat: Tensor, style_feat: Tensor, eps: float = EPS, *, unbiased: bool = False
) -> Tensor:
    """Adaptive instance normalisation (Eq. 8): the content's features, the style's statistics.

    AdaIN(x, y) = σ(y) · (x − μ(x)) / σ(x) + μ(y), channel by channel and image by image, with
    μ and σ of :func:`mean_std` (population variance, ε inside the root). No learned
    parameters: the style *is* the affine transform.

    Args:
        content_feat: ``(B, C, H, W)``, the content image's features x.
        style_feat: ``(B or 1, C, H', W')``, the style's y; any size (only its statistics
            count), one style for the whole batch or one per image.
        eps: see :func:`mean_std`.
        unbiased: the PyTorch port's variance (÷ (HW − 1)).

    Returns:
        ``(B, C, H, W)`` whose per-channel means and stds are the style's (up to ε).
    """
    _check_features(content_feat, "content_feat")
    _check_features(style_feat, "style_feat")
    b, c = content_feat.shape[:2]
    if style_feat.shape[1] != c or style_feat.shape[0] not in (1, b):
        raise ValueError(
            f"style_feat {tuple(style_feat.shape)} does not fit content_feat "
            f"{tuple(content_feat.shape)}: it needs the same {c} channels and a batch of 1 or {b}"
        )
    c_mean, c_std = mean_std(content_feat, eps, unbiased=unbiased)
    s_mean, s_std = mean_std(style_feat, eps, unbiased=unbiased)
    return s_std * (content_feat - c_mean) / c_std + s_mean


def masked_mean_std(
    features: Tensor, mask: Tensor, eps: float = EPS, *, unbiased: bool = False
) -> tuple[Tensor, Tensor]:
    """:func:`mean_std` over the positions where ``mask`` (``(B or 1, 1, H, W)``, 0 or 1) is 1.

    An empty region gives mean 0 and std sqrt(ε); it then contributes nothing anyway.
    """
    mask = mask.to(features.dtype)
    count = mask.sum(dim=(2, 3), keepdim=True)
    mean = (features * mask).sum(dim=(2, 3), keepdim=True) / count.clamp(min=1)
    squares = ((features - mean) ** 2 * mask).sum(dim=(2, 3), keepdim=True)
    var = squares / (count - (1 if unbiased else 0)).clamp(min=1)
    return mean, (var + eps).sqrt()


def target(
    content_feat: Tensor,
    style_feats: Sequence[Tensor],
    *,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[Tensor] | Tensor | None = None,
    eps: float = EPS,
    unbiased: bool = False,
) -> Tensor:
    """The decoder's input t, with the paper's test-time controls (Sec. 7.3).

    - one style: t = AdaIN(f(c), f(s));
    - several styles, ``style_weights`` w_k (Sec. 7.3, style interpolation): t = Σ_k w_k
      AdaIN(f(c), f(s_k)), the weights rescaled to sum to 1 (default: equal);
    - ``masks``, one per style (spatial control): each region of the content gets AdaIN with
      its style's statistics and the statistics of the content *in that region*;
    - ``alpha`` (Eq. 14, content-style trade-off): t ← α t + (1 − α) f(c); α = 0 gives back
      the content's features, 1 the full style.

    Args:
        content_feat: ``(B, C, H, W)``.
        style_feats: K tensors ``(B or 1, C, H_k, W_k)``.
        alpha: in [0, 1].
        style_weights: K numbers ≥ 0, not all 0; not with ``masks``.
        masks: K masks ``(H', W')``, ``(1, H', W')`` or ``(B or 1, 1, H', W')`` of 0s and 1s
            that cover every position exactly once (a partition), at any size (resized to
            H × W, nearest); or one tensor ``(K, H', W')``.
    """
    _check_features(content_feat, "content_feat")
    styles = list(style_feats) if not isinstance(style_feats, Tensor) else [style_feats]
    if not styles:
        raise ValueError("give at least one style feature map")
    alpha = _check_alpha(alpha)
    if masks is not None:
        if style_weights is not None:
            raise ValueError(
                "give style_weights or masks, not both: masks choose a style per region"
            )
        t = _regional(content_feat, styles, masks, eps, unbiased)
    else:
        w = normalized_weights(style_weights, len(styles))
        t = sum(
            wk * adain(content_feat, s, eps, unbiased=unbiased)
            for wk, s in zip(w, styles, strict=True)
        )
    return t if alpha == 1.0 else alpha * t + (1 - alpha) * content_feat


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(
            f"alpha must be a number from 0 (the content's own features) to 1 (the full "
            f"style), got {alpha!r}"
        )
    return float(alpha)


def normalized_weights(weights: Sequence[float] | None, k: int) -> list[float]:
    """``weights`` rescaled to sum to 1 (None: K equal weights); a ValueError if unusable."""
    if weights is None:
        return [1.0 / k] * k
    weights = [float(w) for w in weights]
    if len(weights) != k:
        raise ValueError(f"{len(weights)} style weights for {k} styles; give one weight per style")
    if any(not w >= 0 or w == float("inf") for w in weights) or sum(weights) == 0:
        raise ValueError(
            f"style weights must be finite numbers >= 0, not all 0, got {weights}; "
            "e.g. 1 1 for an even mix"
        )
    total = sum(weights)
    return [w / total for w in weights]


def _as_masks(masks: Sequence[Tensor] | Tensor, k: int, size: tuple[int, int]) -> list[Tensor]:
    """K masks as ``(B or 1, 1, h, w)`` float tensors at the features' size, checked."""
    listed = list(masks.unbind(0)) if isinstance(masks, Tensor) else list(masks)
    if len(listed) != k:
        raise ValueError(f"{len(listed)} masks for {k} styles; give one mask per style")
    out = []
    for i, m in enumerate(listed):
        if not isinstance(m, Tensor) or m.dim() not in (2, 3, 4):
            raise ValueError(f"mask {i} must be a tensor (H, W), got {type(m).__name__}")
        m = m.reshape((1, 1, *m.shape[-2:])) if m.dim() < 4 else m
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"mask {i} holds values other than 0 and 1; threshold it (m > 0.5)")
        out.append(F.interpolate(m.float(), size=size, mode="nearest"))
    if not torch.equal(sum(out), torch.ones_like(out[0]).expand_as(sum(out))):
        raise ValueError(
            "the masks must cover every position exactly once (sum to 1 everywhere); "
            "e.g. a mask and 1 - mask"
        )
    return out


def _regional(
    content_feat: Tensor, styles: list[Tensor], masks, eps: float, unbiased: bool
) -> Tensor:
    """Σ_k m_k · AdaIN restricted to region k (the content's statistics inside it)."""
    out = torch.zeros_like(content_feat)
    masks = _as_masks(masks, len(styles), content_feat.shape[-2:])
    for style, m in zip(styles, masks, strict=True):
        m = m.to(content_feat.device, content_feat.dtype)
        c_mean, c_std = masked_mean_std(content_feat, m, eps, unbiased=unbiased)
        s_mean, s_std = mean_std(style, eps, unbiased=unbiased)
        out = out + m * (s_std * (content_feat - c_mean) / c_std + s_mean)
    return out


# --- the encoder: VGG-19 to relu4_1, in the PyTorch port's layout -----------------------------


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


# --- the decoder: the encoder mirrored (Sec. 6.1) ----------------------------------------------

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
            obj = validate(obj, path, kind=ADAIN_CHECKPOINT)["model"]
        return cls.from_state(obj, str(path))


# --- reading their files ------------------------------------------------------------------------


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


# --- the whole network -------------------------------------------------------------------------


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
    styles: Tensor | Sequence[Tensor],
    *,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[Tensor] | Tensor | None = None,
    preserve_color: bool = False,
) -> Tensor:
    """One forward pass: the content photo in the style(s), ``(B, 3, H, W)`` in [0, 1].

    Args:
        net: an :class:`AdaINNet`.
        content: ``(B, 3, H, W)`` in [0, 1].
        styles: one image ``(1 or B, 3, H', W')`` or several (any sizes) for interpolation
            (``style_weights``) or spatial control (``masks``), see :func:`target`.
        alpha: the content-style trade-off of Eq. 14.
        preserve_color: recolour each style to the content's colour mean and covariance first
            (Sec. 7.3, after Gatys et al. 2016, "Preserving Color in Neural Artistic Style
            Transfer"; :func:`stylelib.color.match_colors` ``"linear"``, the port's ``coral``).

    The decoder's output is cropped to the content's size (the encoder's ceil-mode pooling
    rounds odd sides up) and clamped to [0, 1]. Runs without autograd.
    """
    from .color import match_colors

    check_image(content, "content")
    styles = [styles] if isinstance(styles, Tensor) else list(styles)
    for i, style in enumerate(styles):
        check_image(style, f"style {i + 1}" if len(styles) > 1 else "style")
    device = next(net.decoder.parameters()).device
    content = content.to(device)
    if preserve_color:
        styles = [
            match_colors(s, content[:1] if s.shape[0] == 1 else content, "linear") for s in styles
        ]
    with torch.no_grad():
        content_feat = net.encoder(content)
        style_feats = [net.encoder(s.to(device)) for s in styles]
        t = target(content_feat, style_feats, alpha=alpha, style_weights=style_weights, masks=masks)
        out = net.decoder(t)
    h, w = content.shape[-2:]
    return out[..., :h, :w].clamp(0.0, 1.0)


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
    return config_from_checkpoint(validate(obj, path, kind=ADAIN_CHECKPOINT), ADAIN_CHECKPOINT)


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


# --- the loss (Sec. 6.2) -------------------------------------------------------------------------

REDUCTIONS = ("mean", "sum")


def _squared(diff: Tensor, reduction: str) -> Tensor:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction={reduction!r} is not one of {', '.join(REDUCTIONS)}")
    squares = diff.pow(2)
    return squares.mean() if reduction == "mean" else squares.sum()


def content_loss(decoded_feat: Tensor, target_feat: Tensor) -> Tensor:
    """L_c (Eq. 12) as both codes compute it: the mean of (f(g(t)) − t)² over B·C·H·W.

    ``target_feat`` (t) is a target, not a path for gradients: it is detached here.
    """
    return _squared(decoded_feat - target_feat.detach(), "mean")


def style_loss(
    decoded_feats: Mapping[str, Tensor],
    style_feats: Mapping[str, Tensor],
    layers: Sequence[str] = STYLE_LAYERS,
    *,
    reduction: str = "mean",
    eps: float = EPS,
) -> Tensor:
    """L_s (Eq. 13): Σ_i ‖μ(φ_i(g(t))) − μ(φ_i(s))‖² + ‖σ(φ_i(g(t))) − σ(φ_i(s))‖².

    Each squared norm over the B·C statistics is averaged (``"mean"``, the PyTorch port's
    ``nn.MSELoss``) or summed (``"sum"``, the Torch code's ``sizeAverage = false``); the
    style's statistics are detached targets. σ as in :func:`mean_std`.
    """
    total = None
    for name in layers:
        g_mean, g_std = mean_std(decoded_feats[name], eps)
        s_mean, s_std = (v.detach() for v in mean_std(style_feats[name], eps))
        term = _squared(g_mean - s_mean, reduction) + _squared(g_std - s_std, reduction)
        total = term if total is None else total + term
    return total


def loss_terms(
    encoder: Encoder,
    decoder: nn.Module,
    content: Tensor,
    style: Tensor,
    *,
    layers: Sequence[str] = STYLE_LAYERS,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor, Tensor]:
    """One training pass (Sec. 6.2): ``(L_c, L_s, g(t))``, the two terms unweighted.

    t = AdaIN(f(c), f(s)) is computed without gradients (a target, as the style's
    statistics); g(t) is re-encoded for both terms, so the gradient reaches the decoder
    through the frozen encoder.
    """
    deepest = [CONTENT_LAYER, *layers]
    with torch.no_grad():
        style_feats = encoder.features(style, deepest)
        t = adain(encoder(content), style_feats[CONTENT_LAYER])
    decoded = decoder(t)
    decoded_feats = encoder.features(decoded, deepest)
    l_content = content_loss(decoded_feats[CONTENT_LAYER], t)
    return l_content, style_loss(decoded_feats, style_feats, layers, reduction=reduction), decoded


def losses(
    net: AdaINNet,
    content: Tensor,
    style: Tensor,
    *,
    style_weight: float = 10.0,
    content_weight: float = 1.0,
    reduction: str = "mean",
    layers: Sequence[str] = STYLE_LAYERS,
) -> dict[str, Tensor]:
    """Eq. 11 on one batch: ``{"content": L_c, "style": L_s, "loss": L}``, each 0-d.

    L = content_weight · L_c + style_weight · L_s (:func:`loss_terms`). Defaults: the
    PyTorch port (λ = 10, means).
    """
    l_content, l_style, _ = loss_terms(
        net.encoder, net.decoder, content, style, layers=layers, reduction=reduction
    )
    loss = content_weight * l_content + style_weight * l_style
    return {"content": l_content, "style": l_style, "loss": loss}


# --- training the decoder (Sec. 6.2) ------------------------------------------------------------
#
# Sources of the defaults, cited per field:
#   [A17]  Huang & Belongie 2017, Sec. 6.2: MS-COCO photos and WikiArt paintings (about 80,000
#          each), Adam, batches of 8 content-style pairs, the smallest side of both images
#          resized to 512, then random 256 x 256 crops. The paper gives no step count or lr.
#   [Ac]   The authors' Torch code, github.com/xunhuang1995/AdaIN-style, train.lua defaults.
#   [Ap]   The PyTorch port, github.com/naoto0804/pytorch-AdaIN, train.py defaults.


@dataclass(frozen=True)
class AdaINConfig:
    """Training the AdaIN decoder; defaults are the paper's values and the port's (λ)."""

    encoder: Weights = "gatys"  # [A17] Sec. 6.1: VGG-19 to relu4_1, pretrained; the codes
    # use the normalised VGG-19 (vgg_normalised); also their file, or any stylelib weights
    normalize_encoder: bool = True  # rescale other weights to mean activation 1 (netnorm)
    style_layers: tuple[str, ...] = STYLE_LAYERS  # [A17] Sec. 6.2: relu1_1 ... relu4_1
    content_weight: float = 1.0  # [Ac] [Ap]: L_c unweighted
    style_weight: float = 10.0  # λ: [Ap] 10 with "mean"; [Ac] 1e-2 with "sum" (its
    # released decoder.t7: 1e-1)
    reduction: Literal["mean", "sum"] = "mean"  # of L_s's squares: [Ap] nn.MSELoss, [Ac] sum
    image_size: int = 256  # [A17] random 256 x 256 crops
    load_size: int = 512  # [A17] smallest side of both images resized to 512 first
    batch_size: int = 8  # [A17] "a batch size of 8 content-style image pairs"
    lr: float = 1e-4  # [Ac] [Ap] Adam's learning rate
    lr_decay: float = 5e-5  # [Ac] [Ap] lr / (1 + lr_decay · step), every step
    steps: int = 160_000  # [Ac] [Ap] maxIter / max_iter (the paper gives none)
    checkpoint_every: int = 10_000  # [Ap] save_model_interval; 0: only at the end
    seed: int = 0  # data order, crops and the decoder's initial weights
    device: str = "auto"  # CUDA, then Apple MPS, then CPU; under torchrun, one GPU per process
    workers: int = 0  # data-loading processes (0: in the training process)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.load_size < self.image_size:
            raise ValueError(
                f"load_size={self.load_size} is smaller than image_size={self.image_size}: "
                "images are resized to load_size, then cropped to image_size (paper: 512, 256)"
            )
        if not self.style_layers:
            raise ValueError("style_layers is empty; the paper uses relu1_1 ... relu4_1")
        for name in self.style_layers:
            if port_index(name) > port_index(CONTENT_LAYER):
                raise ValueError(
                    f"style layer {name!r} lies past relu4_1, where the AdaIN encoder ends"
                )
        if self.content_weight == 0 and self.style_weight == 0:
            raise ValueError("content_weight and style_weight are both 0: nothing to train")


PRESETS = {
    "adain2017": AdaINConfig(),  # the paper's data and sizes, the port's λ = 10 (means)
    "adain2017-code": AdaINConfig(style_weight=1e-2, reduction="sum"),  # [Ac] train.lua
}


def preset(name: str) -> AdaINConfig:
    """``"adain2017"`` (the port's loss normalisation) or ``"adain2017-code"`` (Torch's)."""
    if name not in PRESETS:
        raise ValueError(f"unknown AdaIN preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


# What ``stylelib train-adain`` writes: its "model" is a state dict in decoder.pth's layout.
ADAIN_CHECKPOINT = CheckpointKind(
    "stylelib-adain-decoder", 1, AdaINConfig, "stylelib train-adain", "AdaIN decoder"
)


class PairDataset(Dataset):
    """Sample k -> (content crop, style crop), each a pure function of ``(seed, k)``.

    Each image is resized so its smallest side is ``load_size`` and cut to a random square of
    that side (:class:`stylelib.trainkit.CropDataset`), then a random ``image_size`` crop is
    taken from it. The style stream draws from seed + 1, so the two never move in step.
    """

    def __init__(
        self, content: Sequence[Path], styles: Sequence[Path], config: AdaINConfig
    ) -> None:
        self.content = CropDataset(content, config.load_size, config.seed)
        self.styles = CropDataset(styles, config.load_size, (config.seed + 1) % (MAX_SEED + 1))
        self.size, self.seed = config.image_size, config.seed

    def __len__(self) -> int:
        return max(len(self.content), len(self.styles))

    def _crop(self, image: Tensor, stream: int, k: int) -> Tensor:
        rng = np.random.default_rng([self.seed, stream, k])
        side = image.shape[-1]
        top, left = (int(rng.integers(0, side - self.size + 1)) for _ in range(2))
        return image[:, top : top + self.size, left : left + self.size].contiguous()

    def __getitem__(self, k: int):
        content, skipped_c = self.content[k]
        style, skipped_s = self.styles[k]
        return (self._crop(content, 2, k), self._crop(style, 3, k)), skipped_c + skipped_s


def train_decoder(
    content_dir: str | os.PathLike,
    style_dir: str | os.PathLike,
    config: AdaINConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    tensorboard: str | os.PathLike | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
) -> TrainResult:
    """Train the AdaIN decoder on a folder of photos and a folder of paintings (Sec. 6.2).

    Each step takes ``batch_size`` content crops c and style crops s, and lowers
    content_weight · L_c + style_weight · L_s (:func:`loss_terms`) with Adam, the learning rate
    decaying as lr / (1 + lr_decay · step). Only the decoder learns; the encoder is
    ``config.encoder`` (:func:`load_encoder`). The conventions are :mod:`stylelib.trainkit`'s:
    exact ``resume``, atomic checkpoints every ``checkpoint_every`` steps, ``torchrun``, a
    progress bar, Ctrl-C keeps the last complete step.

    Args:
        content_dir: photos, searched recursively (MS-COCO train2014 for the real thing).
        style_dir: paintings, searched recursively (WikiArt for the real thing).
        config: an :class:`AdaINConfig` (default: :func:`preset` ``"adain2017"``).
        output: the checkpoint file (``.pt``/``.pth``), or None to write nothing; its
            ``"model"`` loads with :meth:`Decoder.from_file`.
        resume: a checkpoint of this method to continue from (same settings and folders;
            ``steps``, ``checkpoint_every``, ``device``, ``workers`` may change).
        overwrite: replace an existing ``output``.
        tensorboard: a folder for TensorBoard logs.
        progress: show a progress bar (rank 0 only).
        callback: ``callback(step, record)`` after every step; True stops the run.

    Returns:
        A :class:`stylelib.trainkit.TrainResult` whose ``model`` is the :class:`Decoder`.

    Raises:
        DataError, ImageError, CheckpointError, OutputError, WeightsError: one line each.
        Diverged: the loss or the decoder's output became NaN/Inf (the last checkpoint stays).
    """
    config = AdaINConfig() if config is None else config
    if not isinstance(config, AdaINConfig):
        raise ValueError(
            f"config must be an AdaINConfig, got {type(config).__name__}; start from "
            "preset('adain2017') and vary it with dataclasses.replace"
        )
    return run_training(
        lambda procs: _DecoderTraining(
            content_dir, style_dir, config, output, resume, overwrite, tensorboard, procs
        ),
        progress=progress,
        callback=callback,
        device=config.device,
    )


class _DecoderTraining(TrainingRun):
    """One run of :func:`train_decoder`."""

    kind = ADAIN_CHECKPOINT
    parts = ("content", "style")
    image_tag = "stylized"

    def __init__(self, content_dir, style_dir, config, output, resume, overwrite, tb, procs):
        super().__init__(config, output, resume, overwrite, tb, procs)
        content, styles = list_images(content_dir), list_images(style_dir)
        self.dataset = PairDataset(content, styles, config)
        both = files_digest(content, content_dir) + files_digest(styles, style_dir)
        self.data_info = {
            "files": len(content) + len(styles),
            "files_sha256": hashlib.sha256(both.encode()).hexdigest(),
        }
        self.check_resumable()
        seed_all(config.seed)
        self.encoder = load_encoder(
            config.encoder, normalize=config.normalize_encoder, seed=config.seed
        ).to(procs.device)
        decoder = Decoder(seed=config.seed)
        self.start(decoder, torch.optim.Adam(decoder.parameters(), lr=config.lr))

    def losses(self, batch) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        config = self.config
        for group in self.optimizer.param_groups:  # a function of the step: resumes exactly
            group["lr"] = config.lr / (1 + config.lr_decay * self.step)
        content, style = batch
        l_content, l_style, decoded = loss_terms(
            self.encoder,
            self.ddp,
            content,
            style,
            layers=config.style_layers,
            reduction=config.reduction,
        )
        if not torch.isfinite(decoded).all():
            raise self.diverged(f"the decoder's output became NaN/Inf at step {self.step + 1}")
        parts = {
            "content": config.content_weight * l_content,
            "style": config.style_weight * l_style,
        }
        return parts["content"] + parts["style"], parts, decoded.clamp(0, 1)


__all__ = [
    "EPS",
    "STYLE_LAYERS",
    "CONTENT_LAYER",
    "mean_std",
    "adain",
    "masked_mean_std",
    "target",
    "normalized_weights",
    "port_index",
    "encoder_shapes",
    "decoder_shapes",
    "Encoder",
    "Decoder",
    "AdaINNet",
    "vgg_to_port",
    "check_encoder_state",
    "check_decoder_state",
    "stylize",
    "load_network",
    "load_encoder",
    "checkpoint_config",
    "content_loss",
    "style_loss",
    "loss_terms",
    "losses",
    "AdaINConfig",
    "PRESETS",
    "preset",
    "ADAIN_CHECKPOINT",
    "PairDataset",
    "train_decoder",
]
