"""Super-resolution's configuration: the paper's values, the presets, the checkpoint kind.

Johnson, Alahi, Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution", ECCV 2016, Sec. 4.2 and the supplementary material.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from stylelib.config import MIN_SIDE, CheckpointKind, TVKind, Weights, check_fields
from stylelib.layers import layer_index

FACTORS: tuple[int, ...] = (4, 8)  # Sec. 4.2: "×4 and ×8 super-resolution"


LOSSES: tuple[str, ...] = ("pixel", "feature")


FEATURE_LAYER = "relu2_2"  # Sec. 4.2: "feature reconstruction loss at layer relu2_2"


BLUR_SIGMA = 1.0  # Sec. 4.2: "a Gaussian kernel of width σ = 1.0"


BLUR_TRUNCATE = 3.0  # the kernel reaches 3σ each side (7 x 7 at σ = 1): 99.7 % of its mass


PATCH_SIZE = 288  # Sec. 4.2: "288×288 patches"


CHANNELS = 64  # supplementary material: 64 filters in every hidden layer


BLOCKS = 4  # supplementary material: four residual blocks


Upsample = Literal["transpose", "resize", "subpixel"]  # the paper's first
UPSAMPLES: tuple[str, ...] = get_args(Upsample)


# The 9x9 convolutions reflect 4 px, and reflection needs more pixels than it pads.
MIN_INPUT_SIDE = 5


# Parameter counts of the defaults (batch norm), pinned in the tests by a count by hand.
PARAMETERS = {4: 401_859, 8: 438_915}


def check_factor(factor: object) -> int:
    """``factor`` if it is 4 or 8, else a one-line ValueError saying which are possible."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor not in FACTORS:
        raise ValueError(
            f"factor must be one of {', '.join(map(str, FACTORS))} (the paper's x4 and x8), "
            f"got {factor!r}"
        )
    return factor


@dataclass(frozen=True)
class SRConfig:
    """Training a super-resolution network (Johnson et al. 2016, Sec. 4.2); the paper's values.

    The loss is ``weight`` x (ℓ_pixel or ℓ_feat) + ``tv_weight`` x TV(ŷ), with ℓ_pixel and
    ℓ_feat both divided by C·H·W (:func:`stylelib.losses.content_loss`, ``"johnson"``) and
    TV the sum of squared neighbour differences (:func:`stylelib.losses.total_variation`).
    Sources: [J16] Johnson, Alahi, Fei-Fei, ECCV 2016; [Jc] the authors' released code.
    """

    factor: int = 4  # [J16] Sec. 4.2: x4 and x8 (4 or 8)
    loss: Literal["pixel", "feature"] = "feature"  # [J16] Sec. 4.2: ℓ_feat; ℓ_pixel, the
    # baseline trained with "identical data, architecture, and training", is the comparison
    arch: Literal["vgg16"] = "vgg16"  # [J16] Sec. 4.2: "the VGG-16 loss network"
    weights: Weights = "imagenet"  # [J16] Sec. 3: pretrained on ImageNet, frozen
    feature_layer: str = FEATURE_LAYER  # [J16] Sec. 4.2: "at layer relu2_2"
    weight: float = 1.0  # λ of the main loss: not published; only its ratio to tv_weight counts
    tv_weight: float = 1e-6  # [J16] Sec. 3.3 regularises with TV, but publishes no strength
    # for super-resolution: Sec. 4.1's smallest, 1e-6 ([Jc]'s -tv_strength default too)
    tv_kind: TVKind = "squared"  # as JohnsonConfig: squared neighbour differences
    blur_sigma: float = BLUR_SIGMA  # [J16] Sec. 4.2: Gaussian blur, σ = 1.0, then bicubic
    norm: Literal["batch", "instance"] = "batch"  # [J16] Sec. 3.1: batch normalisation
    upsample: Upsample = "transpose"  # [J16] Sec. 3.1:
    # stride 1/2; "resize" as Odena et al. 2016; "subpixel" as Shi et al. 2016 (PixelShuffle)
    image_size: int = PATCH_SIZE  # [J16] Sec. 4.2: 288 x 288 patches (high resolution)
    batch_size: int = 4  # [J16] Sec. 4.2: "a batch size of 4"
    lr: float = 1e-3  # [J16] Sec. 4.2: Adam, "a learning rate of 1×10⁻³"
    steps: int = 200_000  # [J16] Sec. 4.2: "200k iterations" (10k COCO images)
    checkpoint_every: int = 1000  # as JohnsonConfig; 0: only at the end
    seed: int = 0  # data order, crops, initialisation and random weights are seeded
    device: str = "auto"  # CUDA, then Apple MPS, then CPU; under torchrun, one GPU per process
    workers: int = 0  # data-loading processes (0: in the training process)

    def __post_init__(self) -> None:
        size = self.image_size
        if isinstance(size, int) and not isinstance(size, bool) and size < MIN_SIDE:
            raise ValueError(
                f"image_size={size} must be at least {MIN_SIDE} px (the loss network halves "
                "it five times); the paper uses 288"
            )
        check_fields(self)
        check_factor(self.factor)
        if self.image_size % self.factor or self.image_size // self.factor < MIN_INPUT_SIDE:
            raise ValueError(
                f"image_size={self.image_size} must be a multiple of factor={self.factor} "
                f"with at least {MIN_INPUT_SIDE} px left after dividing (the paper: 288)"
            )
        if not self.blur_sigma > 0:
            raise ValueError(f"blur_sigma must be positive, got {self.blur_sigma!r}")
        if self.weight == 0 and self.tv_weight == 0:
            raise ValueError("weight and tv_weight are both 0: nothing to train")
        layer_index(self.feature_layer, self.arch)  # a LayerError naming an unknown layer


PRESETS: dict[str, SRConfig] = {
    "johnson2016-sr4": SRConfig(),  # [J16] Sec. 4.2: x4, feature loss at relu2_2
    "johnson2016-sr8": SRConfig(factor=8),  # [J16] Sec. 4.2: x8, the same otherwise
}

# What each preset's loss weights assume about the network: its units.
PRESET_UNITS = {
    "johnson2016-sr4": "torchvision's raw VGG-16 on RGB [0, 1]/std",
    "johnson2016-sr8": "torchvision's raw VGG-16 on RGB [0, 1]/std",
}

# What ``stylelib train-sr`` writes: its own format, so that a style network is refused.
CHECKPOINT = CheckpointKind("stylelib-superres", 1, SRConfig, "stylelib train-sr", "SRNet")
