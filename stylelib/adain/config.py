"""AdaIN's configuration: the decoder's training, its presets, its checkpoint kind.

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017, Sec. 6: the encoder is VGG-19 up to relu4_1, the style loss reads
relu1_1, relu2_1, relu3_1 and relu4_1. Two presets, the PyTorch port's and the Torch code's,
differ in how their losses are reduced, and λ only means something with its reduction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stylelib.config import CheckpointKind, Weights, check_fields
from stylelib.layers import layer_index

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # Sec. 6.2, L_s


CONTENT_LAYER = "relu4_1"  # Sec. 6.1: the encoder ends here; L_c and the AdaIN layer


PADDINGS = ("reflect", "zeros")


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
            if layer_index(name, "vgg19") > layer_index(CONTENT_LAYER, "vgg19"):
                raise ValueError(
                    f"style layer {name!r} lies past relu4_1, where the AdaIN encoder ends"
                )
        if self.content_weight == 0 and self.style_weight == 0:
            raise ValueError("content_weight and style_weight are both 0: nothing to train")


PRESETS = {
    "adain2017": AdaINConfig(),  # the paper's data and sizes, the port's λ = 10 (means)
    "adain2017-code": AdaINConfig(style_weight=1e-2, reduction="sum"),  # [Ac] train.lua
}


# What ``stylelib train-adain`` writes: its "model" is a state dict in decoder.pth's layout.
CHECKPOINT = CheckpointKind(
    "stylelib-adain-decoder", 1, AdaINConfig, "stylelib train-adain", "AdaIN decoder"
)


# What each preset's loss weights assume about the network: its units.
PRESET_UNITS = {
    "adain2017": "the normalised VGG-19 of the AdaIN port, losses averaged (λ = 10)",
    "adain2017-code": "the normalised VGG-19 of the AdaIN port, style loss summed (λ = 0.01)",
}
