"""VGG16 and VGG19 as style transfer sees them: a frozen feature extractor by layer name.

:class:`VGGFeatures` returns a dict of the requested feature maps, runs only as deep as the
deepest of them, keeps ReLUs out of place (a ``conv`` output really is the convolution's
output, a ``relu`` output the rectified one — see :mod:`stylelib.layers` for what each name
means in Caffe, in the papers and in torchvision), can swap max for average pooling (Gatys et
al. 2016, Sec. 2), applies the input convention of its weights inside (torchvision's ImageNet
mean and std, or Caffe's BGR 0-255 minus the mean; :mod:`stylelib.weights`), can rescale
itself to the paper's normalised network (:mod:`stylelib.netnorm`), and never builds the
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
from pathlib import Path

import torch
from torch import nn

from . import netnorm
from . import weights as weights_module
from .errors import LayerError
from .images import check_image
from .layers import (  # noqa: F401  (the layer table, re-exported for callers of stylelib.vgg)
    BLOCK_CHANNELS,
    BLOCK_DEPTHS,
    CLASSIFIER,
    NAMING,
    Layer,
    build_features,
    check_arch,
    fits,
    format_layer_table,
    layer_index,
    layer_names,
    layer_table,
)
from .layers import layers as _all_layers
from .weights import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401


class VGGFeatures(nn.Module):
    """A frozen VGG feature extractor that answers by layer name.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"imagenet"`` (torchvision's file), ``"caffe"`` (Caffe's original VGG,
            converted), ``"gatys"`` (the authors' normalised VGG-19), ``"random"`` (seeded,
            for tests and offline work; warns once) or a path to a weights file; see
            :mod:`stylelib.weights`. Each brings its own input convention, applied here.
        layers: the names returned by default; the network is built only up to the deepest
            of them, and ``forward(x, layers=...)`` may ask for any layer up to that one.
            ``None`` builds all of ``features`` (to ``pool5``) and returns every layer.
        pooling: ``"max"`` as trained, or ``"avg"`` as in Gatys et al. 2016.
        seed: seed of the random weights.
        normalize: rescale the weights so that every filter's mean activation on the
            calibration images is 1 (Gatys et al. 2016, Sec. 2; :mod:`stylelib.netnorm`).
            Features are then the raw ones divided by ``self.scales[conv name]`` per channel.

    Input: images ``(B, 3, H, W)`` in ``[0, 1]`` RGB, H and W at least 32; the weights'
    input convention (mean, std, channel order) is applied here and nowhere else. Output:
    ``{name: (B, C, H', W')}``.
    """

    def __init__(
        self,
        arch: str = "vgg19",
        weights: str | Path = "imagenet",
        layers: Iterable[str] | None = None,
        pooling: str = "max",
        seed: int = 0,
        normalize: bool = False,
    ) -> None:
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
        loaded = weights_module.load(arch, weights, seed=seed)
        state, self.scales = loaded.state, {}
        if normalize:
            state, self.scales = netnorm.normalize(loaded)
        self.source, self.convention = loaded.label, loaded.convention
        self.normalized = normalize or loaded.normalized
        kept = {k: v for k, v in state.items() if fits(k, self.features)}
        self.features.load_state_dict(kept, assign=True)
        self.features.requires_grad_(False).eval()
        self._index = {name: i for name, i in order.items() if i < len(self.features)}
        mean, std = (
            torch.tensor(v).view(1, 3, 1, 1)
            for v in (loaded.convention.mean, loaded.convention.std)
        )
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def train(self, mode: bool = True) -> VGGFeatures:
        """The extractor stays in eval mode: it has no dropout or batch norm to train."""
        return super().train(False)

    def forward(
        self, image: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Feature maps of ``image`` at ``layers`` (default: all layers given at construction).

        An image of another floating dtype than the network's (float64 from numpy, float16)
        is converted to the network's: any float holds a [0, 1] image far finer than its 8
        bits, and the gradient flows back to ``image`` in its own dtype. (``net.double()``
        runs the network itself in float64, for gradcheck.)
        """
        check_image(image, "the input to VGGFeatures", check_range=False)
        dtype = self.features[0].weight.dtype
        if image.dtype != dtype:
            image = image.to(dtype)
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


layers = _all_layers  # re-exported: stylelib.vgg.layers(arch), the layer table
