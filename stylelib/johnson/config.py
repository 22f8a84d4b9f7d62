"""Johnson et al.'s configuration: the paper's values and the authors' code, as presets.

Loss weights refer to ``normalization="johnson"`` (:mod:`stylelib.losses`): Gram and
feature losses divided by C·H·W, the style loss summed over layers.

Sources, cited per field:
  [J16]  Johnson, Alahi, Fei-Fei. Perceptual Losses for Real-Time Style Transfer and
         Super-Resolution. ECCV 2016 (the camera-ready), Sec. 3 and 4.1, and its supplementary
         material. Sec. 4.1: "we compute feature reconstruction loss at layer relu3_3".
  [J16a] The same paper's arXiv preprint, arXiv:1603.08155v1, p. 9: "we compute feature
         reconstruction loss at layer relu2_2". The two versions differ in this layer only,
         among the fields below.
  [Jc]   The authors' Torch code, github.com/jcjohnson/fast-neural-style (train.lua defaults),
         whose content layer relu3_3 is also the one the introductory blog posts describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stylelib.config import (
    Arch,
    CheckpointKind,
    Normalization,
    Pooling,
    TVKind,
    Weights,
    check_fields,
    check_layers,
    check_pixels,
)

JOHNSON_STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


@dataclass(frozen=True)
class JohnsonConfig:
    """Training a feed-forward transform network (Johnson et al. 2016); paper's values.

    The default content layer is the arXiv preprint's ([J16a], relu2_2); the ECCV camera-ready
    and the authors' code use relu3_3 (preset ``johnson2016-code``).

    Loss weights refer to ``normalization="johnson"`` (Gram and feature losses divided by
    C·H·W, style summed over the C x C Gram entries and over layers) on torchvision's VGG16
    with images in [0, 1]. [Jc] averages its style loss over the C² Gram entries and feeds
    Caffe's VGG16 0-255 pixels, so its numbers are a starting point here, not an equivalent.
    """

    arch: Arch = "vgg16"  # [J16] Sec. 3.2: a VGG-16 loss network pretrained on ImageNet
    weights: Weights = "imagenet"  # [J16] Sec. 3.2: the loss network is fixed, pretrained
    pooling: Pooling = "max"  # [J16] keeps VGG-16 as trained
    content_layers: tuple[str, ...] = ("relu2_2",)  # [J16a]; relu3_3 in [J16] Sec. 4.1 and [Jc]
    style_layers: tuple[str, ...] = JOHNSON_STYLE_LAYERS  # [J16] Sec. 4.1
    style_layer_weights: tuple[float, ...] = (1.0,) * 4  # [J16] Sec. 3.2: a plain sum over layers
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
        check_layers(self)
        check_pixels(
            f"batch_size={self.batch_size} crops of image_size={self.image_size}",
            self.batch_size * self.image_size**2,
            "lower image_size or batch_size",
        )
        check_pixels(f"style_size={self.style_size}", self.style_size**2, "lower style_size")


PRESETS: dict[str, JohnsonConfig] = {
    "johnson2016": JohnsonConfig(),
    # johnson2016: the arXiv preprint's content layer relu2_2 ([J16a]).
    # Both Johnson presets use instance norm and resize-convolution (the class defaults);
    # --norm batch --upsample transpose gives the paper's batch norm and transposed
    # convolutions, a network closer to the paper's (its padding stays this library's:
    # see stylelib.johnson.network).
    "johnson2016-code": JohnsonConfig(content_layers=("relu3_3",)),  # [J16] Sec. 4.1 and [Jc]
}

# What each preset's loss weights assume about the network: its units.
PRESET_UNITS = {
    "johnson2016": "torchvision's raw VGG-16 on RGB [0, 1]/std",
    "johnson2016-code": "torchvision's raw VGG-16 on RGB [0, 1]/std",
}

# The transform network of fast style transfer, as ``stylelib train`` saves it.
FORMAT = "stylelib-johnson-transformer"
VERSION = 1
CHECKPOINT = CheckpointKind(
    FORMAT, VERSION, JohnsonConfig, "stylelib train", "TransformerNet", {"style_sha256": str}
)

# One network for several styles (Dumoulin et al. 2017), as ``stylelib train --styles`` saves
# it: the same JohnsonConfig (the loss, the data, Adam), and beside it the network's ``layout``
# and ``num_styles`` and the ``styles`` trained, in order, each {"name", "sha256"}
# (stylelib.johnson.multistyle reads it; stylelib.johnson.train writes it).
MULTISTYLE_FORMAT = "stylelib-johnson-multistyle"
MULTISTYLE_VERSION = 1
MULTISTYLE_CHECKPOINT = CheckpointKind(
    MULTISTYLE_FORMAT,
    MULTISTYLE_VERSION,
    JohnsonConfig,
    "stylelib train --styles",
    "MultiStyleNet",
    {"layout": str, "num_styles": int, "styles": list},
)
