"""Gatys et al.'s configuration: the paper's values, the authors' code, the PyTorch tutorial.

A loss weight only means something together with the normalisation of the loss it
multiplies (see :mod:`stylelib.losses`), so every preset carries both. Where a paper and its
authors' released code differ, both are presets side by side::

    >>> from dataclasses import replace
    >>> cfg = replace(PRESETS["gatys2016"], steps=100, size=256)
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
means what it meant in the paper. (The rescaling is more than a change of units for the
losses: it weighs the channels inside every content and Gram loss differently, so the best
image changes with it; see :mod:`stylelib.netnorm`. And α/β alone fixes the best image, not
the optimiser's path, whose steps and tolerances depend on the loss's scale:
:func:`stylelib.gatys.objective.gradient_scale`.) The ``pytorch-tutorial`` preset instead keeps
torchvision's raw weights, for which its weights were tuned.



Sources, cited per field:
  [G16]  Gatys, Ecker, Bethge. Image Style Transfer Using Convolutional Neural Networks.
         CVPR 2016. Its Fig. 3 uses alpha/beta = 1e-3 (B), 8e-4 (C), 5e-3 (D), 5e-4 (E, F).
  [G15]  Gatys, Ecker, Bethge. A Neural Algorithm of Artistic Style. arXiv:1508.06576, 2015,
         the preprint of [G16]. Its Fig. 2 uses alpha/beta = 1e-3 (B, C, D) or 1e-4 (E, F).
  [G16c] Gatys, Bethge, Hertzmann, Shechtman. Preserving Color in Neural Artistic Style
         Transfer. arXiv:1606.05897, 2016.
  [G17]  Gatys, Ecker, Bethge, Hertzmann, Shechtman. Controlling Perceptual Factors in Neural
         Style Transfer. CVPR 2017. Sec. 5 is colour control (5.1 luminance-only transfer,
         5.2 colour matching); its abstract promises "large size, high-quality stylisation"
         more efficiently (the section of that procedure is not verified here).
  [G17c] The authors' code of [G17], github.com/leongatys/NeuralImageSynthesis
         (ExampleNotebooks/SpatialControl.ipynb, LossLayers.lua): spatial control.
  [Gc]   The authors' PyTorch notebook, github.com/leongatys/PytorchNeuralStyleTransfer.
  [J16]  Johnson, Alahi, Fei-Fei. Perceptual Losses for Real-Time Style Transfer and
         Super-Resolution. ECCV 2016, Sec. 3 and 4.1.
  [Jc]   The authors' Torch code, github.com/jcjohnson/fast-neural-style (train.lua defaults),
         whose content layer relu3_3 is also the one the introductory blog posts describe.
  [PT]   The official PyTorch tutorial "Neural Transfer Using PyTorch" (A. Jacq, W. Falcon;
         pytorch.org/tutorials/advanced/neural_style_tutorial.html).
  [Ng]   Chinese-language notes on "A Neural Algorithm of Artistic Style", which propose
         subtracting a small γ L_style(content, x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stylelib.config import (
    MIN_SIDE,
    Arch,
    Normalization,
    Pooling,
    TVKind,
    Weights,
    check_fields,
    check_layers,
    check_pixels,
)

# [G17c] get_fm_guides(mode=...): "simple|all|inside, downsampling|all neurons that see
# region| neurons that see only region" (stylelib.gatys.guided)
GuideMode = Literal["simple", "all", "inside"]

# [G16] Sec. 3, the settings of Fig. 3: style "conv1_1 ... conv5_1" and content "conv4_2" (also
# [G15], Fig. 2), Caffe blobs that hold the
# rectified features: relu1_1 ... relu5_1 and relu4_2 in this library's names.
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class GatysConfig:
    """Image optimisation (Gatys et al. 2016); defaults are the paper's values."""

    arch: Arch = "vgg19"  # [G16] Sec. 2: the 19-layer VGG network, no fully connected layers
    weights: Weights = "imagenet"  # [G16] Sec. 2: VGG trained on ImageNet ("caffe": the paper's)
    normalize_network: bool = True  # [G16] Sec. 2: mean activation of every filter = 1
    pooling: Pooling = "avg"  # [G16] Sec. 2: average pooling gives "slightly more appealing" images
    content_layers: tuple[str, ...] = ("relu4_2",)  # [G16] Sec. 3 ("conv4_2", rectified)
    style_layers: tuple[str, ...] = GATYS_STYLE_LAYERS  # [G16] Sec. 3, for Fig. 3
    style_layer_weights: tuple[float, ...] = (0.2,) * 5  # [G16] Sec. 3: w_l = 1/5 on those layers
    content_weight: float = 1.0  # alpha, Eq. 7; alpha/beta fixes the minimiser, not the path
    # beta: alpha/beta = 1e-3, [G16] Fig. 3 B and [G15] Fig. 2 B-D (other panels: see above)
    style_weight: float = 1e3
    tv_weight: float = 0.0  # [G16] has no total-variation term
    normalization: Normalization = "gatys"  # [G16] Eqs. 1, 4, 5: 1/2 sum, 1/(4 N^2 M^2)
    init: Literal["noise", "content", "style"] = "noise"  # [G16] Sec. 2.3: from white noise
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"  # [G16] Sec. 2.3: L-BFGS works best
    lr: float | None = None  # None: 1.0 for L-BFGS (PyTorch's step), 0.02 for Adam on [0, 1]
    steps: int = 500  # per scale; not stated in [G16]; [Gc] runs 500 L-BFGS iterations
    size: int = 512  # long side; [G16] Sec. 5: 512 x 512 pixels (about an hour on a K40 GPU)
    seed: int = 0  # white-noise initialisation and random weights are seeded
    tv_kind: TVKind = "squared"  # see losses.total_variation
    style_scale: float = 1.0  # style image's long side / output's (neural-style -style_scale)
    color: Literal["none", "luminance", "histogram", "linear"] = "none"  # [G16c], [G17] Sec. 5
    scales: int = 1  # coarse-to-fine levels, each twice the size of the last (after [G17])
    coarse_steps: int | None = None  # steps at each coarser level (None: same as steps)
    gamma: float = 0.0  # [Ng]'s extension: subtract gamma * L_style(content, x)
    device: str = "auto"  # CUDA, then Apple MPS, then CPU
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: autocast VGG; Grams and losses in fp32
    guide_mode: GuideMode = "simple"  # with masks: simple = the mask downsampled to each layer;
    # all / inside = the positions that see any / only pixels of the region (eroded);
    # [G17c] get_fm_guides' modes, "simple" in its two-style example (gatys.guided)

    def __post_init__(self) -> None:
        check_fields(self)
        check_layers(self)
        check_pixels(f"size={self.size}", self.size**2, "choose a smaller size")
        side = self.size * self.style_scale  # the style image's long side (inf if absurd)
        check_pixels(
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


PRESETS: dict[str, GatysConfig] = {
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
}


# What each preset's loss weights assume about the network: its units.
PRESET_UNITS = {
    "gatys2016": "VGG-19 rescaled to mean activation 1, rectified layers, the paper's α/β",
    "gatys2016-code": "VGG-19 rescaled to mean activation 1, rectified layers, weights 1e3/N²",
    "pytorch-tutorial": "torchvision's raw VGG-19 on RGB [0, 1]/std, pre-ReLU layers",
}
