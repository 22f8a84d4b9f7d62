"""Single-image super-resolution with perceptual losses (Johnson, Alahi, Fei-Fei 2016, Sec. 4).

The same idea as fast style transfer, turned to another task: a feed-forward network f_W
takes a low-resolution image and returns one ``factor`` times larger, trained against a
loss. Two losses are compared (Johnson et al. 2016, "Perceptual Losses for Real-Time Style
Transfer and Super-Resolution", ECCV 2016, Sec. 3.2 and 4.2):

- ``"pixel"``: ℓ_pixel(ŷ, y) = ‖ŷ − y‖²₂ / (C H W), the per-pixel loss (a mean squared error,
  what PSNR measures);
- ``"feature"``: ℓ_feat(ŷ, y) = ‖φ(ŷ) − φ(y)‖²₂ / (C_j H_j W_j) at ``relu2_2`` of a frozen
  VGG-16, the feature reconstruction loss (:func:`stylelib.losses.content_loss`,
  ``"johnson"``);

each plus λ_TV times the total variation of ŷ (Sec. 3.3). The paper's finding (Sec. 4.2):
the network trained on the feature loss reconstructs sharper edges and finer detail, yet
scores lower PSNR and SSIM than the per-pixel one, since "PSNR is equivalent to the
per-pixel loss ℓ_pixel, so as measured by PSNR a model trained to minimize per-pixel loss
should always outperform a model trained to minimize feature reconstruction loss".

The network (Sec. 3.1: "several residual blocks followed by log₂ f convolutional layers with
stride 1/2"; supplementary material, the ×4 table; ×8 adds one more upsampling layer)::

    head   9x9 conv, 3 -> 64, stride 1            norm, ReLU     h    x w
    res    4 residual blocks, 64 channels                         h    x w
    up     log2(f) x: 3x3 conv, 64 -> 64, stride 1/2, norm, ReLU  2h   x 2w ... fh x fw
    tail   9x9 conv, 64 -> 3, stride 1            (tanh + 1) / 2  fh   x fw

Unlike SRCNN (Dong et al. 2016), which first enlarges the input by bicubic interpolation, the
residual blocks work at the low resolution: for ×4 on 16 times fewer pixels. The building
blocks are those of :mod:`stylelib.transformer`. Defaults are the paper's: batch
normalisation and fractionally strided ("transpose") convolutions; ``norm="instance"`` and
``upsample="resize"`` are there too, as for the style network. (Instance norm normalises
each image's features right after the first layer, and with them much of its overall
brightness and colour, which a super-resolution network must give back: batch norm, the
paper's, is the default here.)

Data (Sec. 4.2): 288 x 288 patches; the low-resolution input is made by "blurring with a
Gaussian kernel of width σ = 1.0 and downsampling with bicubic interpolation"
(:func:`degrade`).

Example::

    >>> import torch
    >>> net = SRNet(factor=4).eval()
    >>> net(torch.rand(1, 3, 18, 20)).shape
    torch.Size([1, 3, 72, 80])
    >>> count_parameters(net)
    401859
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoints import CheckpointError, CheckpointKind, load_checkpoint
from .config import MIN_SIDE, TVKind, Weights, check_fields
from .errors import ImageError, one_line
from .images import check_image
from .layers import layer_index
from .losses import content_loss, total_variation
from .trainkit import TrainCallback, TrainingRun, TrainResult, list_images, run_training, seed_all
from .transformer import (
    ConvLayer,
    ConvNormReLU,
    ResidualBlock,
    UpsampleConv,
    count_parameters,
)
from .vgg import VGGFeatures

FACTORS: tuple[int, ...] = (4, 8)  # Sec. 4.2: "×4 and ×8 super-resolution"
LOSSES: tuple[str, ...] = ("pixel", "feature")
FEATURE_LAYER = "relu2_2"  # Sec. 4.2: "feature reconstruction loss at layer relu2_2"
BLUR_SIGMA = 1.0  # Sec. 4.2: "a Gaussian kernel of width σ = 1.0"
BLUR_TRUNCATE = 3.0  # the kernel reaches 3σ each side (7 x 7 at σ = 1): 99.7 % of its mass
PATCH_SIZE = 288  # Sec. 4.2: "288×288 patches"
CHANNELS = 64  # supplementary material: 64 filters in every hidden layer
BLOCKS = 4  # supplementary material: four residual blocks
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


# --- the network -----------------------------------------------------------------------------


class SRNet(nn.Module):
    """Johnson et al.'s super-resolution network: low-resolution image in, ``factor`` x larger out.

    Args:
        factor: 4 or 8; the network has log₂(factor) upsampling layers.
        norm: ``"batch"`` (the paper, default) or ``"instance"``.
        upsample: ``"transpose"`` (the paper's stride-1/2 convolutions, default) or
            ``"resize"`` (nearest x2 then a 3x3 convolution; Odena et al. 2016).

    Input: ``(B, 3, h, w)`` in ``[0, 1]``, h, w >= 5, any float dtype (converted to the
    weights'). Output: ``(B, 3, factor·h, factor·w)`` in ``[0, 1]``.

    Example:
        >>> SRNet(8, upsample="resize").eval()(torch.rand(2, 3, 9, 7)).shape
        torch.Size([2, 3, 72, 56])
    """

    def __init__(self, factor: int = 4, norm: str = "batch", upsample: str = "transpose") -> None:
        super().__init__()
        self.factor = check_factor(factor)
        if norm not in ("batch", "instance"):
            raise ValueError(f"norm={norm!r} is not one of batch, instance")
        if upsample not in ("transpose", "resize"):
            raise ValueError(f"upsample={upsample!r} is not one of transpose, resize")
        self.norm, self.upsample = norm, upsample
        self.head = ConvNormReLU(3, CHANNELS, 9, 1, norm)
        self.res = nn.Sequential(*(ResidualBlock(CHANNELS, norm) for _ in range(BLOCKS)))
        doublings = int(math.log2(factor))
        self.up = nn.Sequential(
            *(UpsampleConv(CHANNELS, CHANNELS, upsample, norm) for _ in range(doublings))
        )
        self.tail = ConvLayer(CHANNELS, 3, 9)

    def forward(self, image: Tensor) -> Tensor:
        """Upscale ``image`` ``(B, 3, h, w)`` to ``(B, 3, factor·h, factor·w)``."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(
                f"SRNet takes images (B, 3, H, W), got shape {tuple(image.shape)}; "
                "add a batch dimension with x.unsqueeze(0)"
            )
        h, w = image.shape[-2:]
        if min(h, w) < MIN_INPUT_SIDE:
            raise ValueError(
                f"SRNet needs at least {MIN_INPUT_SIDE} px on each side of its low-resolution "
                f"input (its 9x9 convolution reflects 4 px), got {h}x{w}; use a larger image"
            )
        if not image.is_floating_point():
            raise ValueError(
                f"SRNet takes float images in [0, 1], got dtype {image.dtype}; "
                "convert with x.float() / 255 for an image of bytes"
            )
        dtype = next(self.parameters()).dtype
        x = self.head(image if image.dtype == dtype else image.to(dtype))
        x = self.tail(self.up(self.res(x)))
        return (torch.tanh(x) + 1) / 2  # the paper's scaled tanh, mapped to [0, 1]

    def extra_repr(self) -> str:
        return f"factor={self.factor}, norm={self.norm!r}, upsample={self.upsample!r}"

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> SRNet:
        """Rebuild the network ``stylelib train-sr`` saved (factor, norm, upsampling from the
        config in the file), in eval mode.

        Raises:
            CheckpointError: a missing file, or a file of another format or architecture
                (e.g. a style network of ``stylelib train``), explained in one line.
        """
        checkpoint = load_checkpoint(path, map_location, kind=SR_CHECKPOINT)
        config = checkpoint["config"]
        try:
            net = cls(config["factor"], config["norm"], config["upsample"])
            net.load_state_dict(checkpoint["model"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"'{path}': its weights do not fit the SRNet its config describes "
                f"({one_line(exc, limit=160)}); the file was changed or written by another program"
            ) from None
        return net.eval()


def parameter_table(net: SRNet) -> str:
    """One line per stage with its parameters, and the total.

    Example:
        >>> print(parameter_table(SRNet(4)).splitlines()[-1])
        total      401,859
    """
    lines = [f"{name:<8} {count_parameters(child):>9,}" for name, child in net.named_children()]
    lines.append(f"{'total':<8} {count_parameters(net):>9,}")
    return "\n".join(lines)


# --- the degradation ---------------------------------------------------------------------------


def gaussian_kernel(sigma: float = BLUR_SIGMA, truncate: float = BLUR_TRUNCATE) -> Tensor:
    """The 1-D Gaussian ``exp(-x² / 2σ²)`` at x = −r … r, r = ceil(truncate·σ), summing to 1.

    Example:
        >>> gaussian_kernel(1.0).shape, round(float(gaussian_kernel(1.0).sum()), 6)
        (torch.Size([7]), 1.0)
    """
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number of pixels, got {sigma!r}")
    radius = max(1, math.ceil(truncate * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def blur(image: Tensor, sigma: float = BLUR_SIGMA) -> Tensor:
    """Gaussian blur of ``(B, C, H, W)``, separable, reflection at the borders, same shape."""
    kernel = gaussian_kernel(sigma).to(image.dtype).to(image.device)
    k, c = kernel.numel(), image.shape[1]
    x = F.pad(image, (k // 2,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, kernel.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def degrade(image: Tensor, factor: int = 4, sigma: float = BLUR_SIGMA) -> Tensor:
    """The paper's low-resolution input: Gaussian blur (σ = 1.0), then bicubic downsampling.

    Johnson et al. 2016, Sec. 4.2: "prepare low-resolution inputs by blurring with a Gaussian
    kernel of width σ = 1.0 and downsampling with bicubic interpolation".

    Which bicubic: ``F.interpolate(mode="bicubic", antialias=False)``, Keys' cubic
    convolution with a = −0.75 evaluated at the low-resolution pixel centres. The Gaussian
    is the anti-aliasing filter, as the sentence above has it; an antialiased bicubic (PIL's
    ``Image.BICUBIC``, MATLAB's ``imresize``) would stretch the cubic over ``factor`` pixels
    and blur a second time. For an integer factor f every output pixel lies halfway between
    two input pixels, so each is the same four-tap filter, (−0.09375, 0.59375, 0.59375,
    −0.09375), of the f x f block it sits in (the tests check this closed form). Values are
    clamped to [0, 1] (the cubic's negative lobes can overshoot).

    Args:
        image: ``(B, 3, H, W)`` in [0, 1], H and W multiples of ``factor`` (see
            :func:`crop_to_multiple`).
        factor: 4 or 8.
        sigma: the blur's standard deviation in high-resolution pixels.

    Returns:
        ``(B, 3, H / factor, W / factor)`` in [0, 1], the same dtype.

    Example:
        >>> degrade(torch.rand(2, 3, 64, 32), 8).shape
        torch.Size([2, 3, 8, 4])
    """
    check_factor(factor)
    check_image(image, "the image to degrade", min_side=1)
    h, w = image.shape[-2:]
    if h % factor or w % factor or min(h, w) < 2 * factor:
        raise ImageError(
            f"the image to degrade is {h}x{w}, not a multiple of the factor {factor} of at "
            f"least {2 * factor} px; crop it first with crop_to_multiple(image, {factor})"
        )
    small = F.interpolate(
        blur(image, sigma), size=(h // factor, w // factor), mode="bicubic", antialias=False
    )
    return small.clamp(0, 1)


def crop_to_multiple(image: Tensor, factor: int) -> Tensor:
    """``image`` cropped at the bottom and right to multiples of ``factor`` (a view)."""
    h, w = image.shape[-2:]
    return image[..., : h - h % factor, : w - w % factor]


def bicubic_upscale(image: Tensor, factor: int) -> Tensor:
    """The baseline: bicubic interpolation ``factor`` x larger, clamped to [0, 1]."""
    check_image(image, "the image to upscale", min_side=1)
    h, w = image.shape[-2:]
    up = F.interpolate(image, size=(h * factor, w * factor), mode="bicubic", antialias=False)
    return up.clamp(0, 1)


# --- inference ---------------------------------------------------------------------------------


@torch.no_grad()
def upscale_image(net: SRNet, image: Tensor, *, autocast: bool = False) -> Tensor:
    """One forward pass: ``(B, 3, h, w)`` in [0, 1] -> ``(B, 3, f·h, f·w)``, float32.

    The network runs where its weights are and in their dtype (``net.to(torch.bfloat16)``
    runs it in bfloat16); ``autocast=True`` keeps fp32 weights under ``torch.autocast``.

    Example:
        >>> upscale_image(SRNet(4).eval(), torch.rand(1, 3, 10, 12)).shape
        torch.Size([1, 3, 40, 48])
    """
    check_image(image, "the image to upscale", min_side=1)
    weight = next(net.parameters())
    x = image.to(weight.device, torch.float32 if autocast else weight.dtype)
    with torch.autocast(weight.device.type, dtype=torch.bfloat16, enabled=autocast):
        out = net(x)
    return out.float().contiguous()


def match_histograms(image: Tensor, reference: Tensor) -> Tensor:
    """Each channel of ``image`` given the histogram of ``reference``'s (scikit-image).

    The paper's post-processing (Sec. 4.2): "we perform histogram matching between our
    network output and the low-resolution input". Shapes ``(1, 3, H, W)``; any sizes.
    """
    from skimage.exposure import match_histograms as _match

    a = image[0].permute(1, 2, 0).cpu().double().numpy()
    b = reference[0].permute(1, 2, 0).cpu().double().numpy()
    matched = _match(a, b, channel_axis=-1)
    return torch.from_numpy(matched).permute(2, 0, 1)[None].to(image.dtype).clamp(0, 1)


# --- quality -----------------------------------------------------------------------------------


def psnr(estimate: Tensor, reference: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB, one per image: 10 · log10(1 / MSE), peak 1.

    MSE is the mean over the C·H·W values of each image; the images are in [0, 1], so the
    peak value is 1. Identical images give +inf. Differentiable.

    Args:
        estimate, reference: ``(B, C, H, W)``, the same shape.

    Returns:
        ``(B,)``.

    Example:
        >>> psnr(torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.6))  # MSE 0.01
        tensor([20.0000])
    """
    if estimate.shape != reference.shape or estimate.dim() != 4:
        raise ValueError(
            f"psnr compares two (B, C, H, W) images of one shape, got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )
    mse = (estimate - reference).pow(2).flatten(1).mean(dim=1)
    return -10 * torch.log10(mse)


def luma(image: Tensor) -> np.ndarray:
    """Y of YCbCr (ITU-R BT.601, scikit-image's ``rgb2ycbcr``) scaled to [0, 1]: ``(H, W)``.

    Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 1]: the channel the
    super-resolution papers measure on.
    """
    from skimage.color import rgb2ycbcr

    rgb = image[0].detach().permute(1, 2, 0).cpu().double().numpy()
    return rgb2ycbcr(rgb)[..., 0] / 255.0


def measure(
    estimate: Tensor, reference: Tensor, *, channel: str = "y", border: int = 0
) -> dict[str, float]:
    """PSNR (dB) and SSIM of one image against the original, by scikit-image.

    As the paper (Sec. 4.2, "computing both only on the Y channel after converting to the
    YCbCr colorspace, following [SRCNN]") with ``channel="y"``; ``channel="rgb"`` measures
    the three channels (SSIM averaged over them). ``border`` pixels are shaved off each side
    first (SRCNN's evaluation shaves the factor). SSIM is Wang et al. 2004's, with
    scikit-image's defaults (7 x 7 uniform window, data range 1).

    Args:
        estimate, reference: ``(1, 3, H, W)`` in [0, 1], the same shape.

    Returns:
        ``{"psnr": ..., "ssim": ...}``.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if estimate.shape != reference.shape or estimate.dim() != 4 or estimate.shape[0] != 1:
        raise ValueError(
            f"measure compares two (1, 3, H, W) images of one shape, got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )
    if channel not in ("y", "rgb"):
        raise ValueError(f"channel={channel!r} is not one of y, rgb")
    if border:
        estimate = estimate[..., border:-border, border:-border]
        reference = reference[..., border:-border, border:-border]
    if channel == "y":
        a, b, axis = luma(estimate), luma(reference), None
    else:
        a, b = (
            t[0].detach().permute(1, 2, 0).cpu().double().numpy() for t in (estimate, reference)
        )
        axis = -1
    with np.errstate(divide="ignore"):  # identical images: PSNR is +inf, not a warning
        value = float(peak_signal_noise_ratio(b, a, data_range=1.0))
    return {
        "psnr": value,
        "ssim": float(structural_similarity(b, a, data_range=1.0, channel_axis=axis)),
    }


def _hwc(image: Tensor) -> np.ndarray:
    """The first image of a batch as a float64 ``(H, W, C)`` numpy array."""
    return image[0].detach().permute(1, 2, 0).cpu().double().numpy()


def compare(images: dict[str, Tensor], reference: Tensor, **kwargs) -> dict[str, dict[str, float]]:
    """:func:`measure` of each named image against ``reference``: ``{name: {psnr, ssim}}``."""
    return {name: measure(image, reference, **kwargs) for name, image in images.items()}


# --- training ----------------------------------------------------------------------------------


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
    upsample: Literal["transpose", "resize"] = "transpose"  # [J16] Sec. 3.1: stride 1/2
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


# What ``stylelib train-sr`` writes: its own format, so that a style network is refused.
SR_CHECKPOINT = CheckpointKind("stylelib-superres", 1, SRConfig, "stylelib train-sr", "SRNet")


def loss_network(config: SRConfig) -> VGGFeatures | None:
    """The frozen VGG-16 up to ``config.feature_layer`` for the feature loss; None for pixel."""
    if config.loss != "feature":
        return None
    return VGGFeatures(config.arch, config.weights, [config.feature_layer], seed=config.seed)


def sr_loss(
    net: VGGFeatures | None, output: Tensor, target: Tensor, config: SRConfig
) -> tuple[Tensor, dict[str, Tensor]]:
    """Johnson et al. 2016, Sec. 3.2-3.3: ``weight`` x ℓ_pixel or ℓ_feat, plus λ_TV TV(ŷ).

    Args:
        net: the loss network (:func:`loss_network`), None for the pixel loss.
        output: ``(B, 3, S, S)`` the network's ŷ.
        target: ``(B, 3, S, S)`` the high-resolution patches y (no gradient).
        config: which loss and the weights.

    Returns:
        ``(total, {"pixel" or "feature": ..., "tv": ...})``, each part weighted.
    """
    if config.loss == "feature":
        layer = config.feature_layer
        feats = net(output, layers=[layer])[layer]
        with torch.no_grad():
            wanted = net(target, layers=[layer])[layer]
        main = content_loss(feats, wanted, "johnson")  # ‖φ(ŷ) − φ(y)‖² / (C H W)
    else:
        main = content_loss(output, target, "johnson")  # ‖ŷ − y‖² / (C H W): the MSE
    parts = {config.loss: config.weight * main}
    if config.tv_weight > 0:
        parts["tv"] = config.tv_weight * total_variation(output, config.tv_kind)
    return torch.stack(list(parts.values())).sum(), parts


def train_sr(
    data: str | os.PathLike,
    config: SRConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    tensorboard: str | os.PathLike | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
) -> TrainResult:
    """Train an :class:`SRNet` on random patches of a folder of photos (Sec. 4.2).

    Each step takes ``batch_size`` random ``image_size`` crops y, makes their low-resolution
    inputs x = :func:`degrade` (y), and lowers :func:`sr_loss` (f_W(x), y) with Adam. The
    conventions are :mod:`stylelib.trainkit`'s: exact ``resume``, atomic checkpoints every
    ``checkpoint_every`` steps, ``torchrun``, a progress bar, Ctrl-C keeps the last step.

    Args:
        data: a folder of training photos, searched recursively (COCO for the real thing).
        config: an :class:`SRConfig` (default: the paper's x4 with the feature loss).
        output: the checkpoint file (``.pt``/``.pth``), or None to write nothing.
        resume: a checkpoint of this method to continue from (same settings and files;
            ``steps``, ``checkpoint_every``, ``device``, ``workers`` may change).
        overwrite: replace an existing ``output``.
        tensorboard: a folder for TensorBoard logs.
        progress: show a progress bar (rank 0 only).
        callback: ``callback(step, record)`` after every step; True stops the run.

    Returns:
        A :class:`stylelib.trainkit.TrainResult` whose ``model`` is the SRNet.

    Raises:
        DataError, ImageError, CheckpointError, OutputError: bad inputs, one line each.
        Diverged: the loss or the output became NaN/Inf (the last checkpoint is kept).
    """
    config = SRConfig() if config is None else config
    if not isinstance(config, SRConfig):
        raise ValueError(
            f"config must be an SRConfig, got {type(config).__name__}; start from SRConfig() "
            "and vary it with dataclasses.replace"
        )
    return run_training(
        lambda procs: _SRTraining(data, config, output, resume, overwrite, tensorboard, procs),
        progress=progress,
        callback=callback,
        device=config.device,
    )


class _SRTraining(TrainingRun):
    """One run of :func:`train_sr`."""

    kind = SR_CHECKPOINT
    parts = ("pixel", "feature", "tv")
    image_tag = "upscaled"

    def __init__(self, data, config, output, resume, overwrite, tensorboard, procs):
        super().__init__(config, output, resume, overwrite, tensorboard, procs)
        self.use_data(list_images(data), data)
        self.check_resumable()
        seed_all(config.seed)
        model = SRNet(config.factor, config.norm, config.upsample)
        self.start(model, torch.optim.Adam(model.parameters(), lr=config.lr))
        net = loss_network(config)
        self.net = None if net is None else net.to(procs.device)

    def losses(self, batch: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        low = degrade(batch, self.config.factor, self.config.blur_sigma)
        y = self.ddp(low)
        if not torch.isfinite(y).all():  # the last update broke the weights
            raise self.diverged(f"the network's output became NaN/Inf at step {self.step + 1}")
        loss, parts = sr_loss(self.net, y, batch, self.config)
        return loss, parts, y

    def run_state(self) -> dict:
        return {"factor": self.config.factor}  # also in the config: the file says its factor


__all__ = [
    "SRNet",
    "SRConfig",
    "SR_CHECKPOINT",
    "FACTORS",
    "PARAMETERS",
    "train_sr",
    "sr_loss",
    "loss_network",
    "degrade",
    "blur",
    "gaussian_kernel",
    "crop_to_multiple",
    "bicubic_upscale",
    "upscale_image",
    "match_histograms",
    "psnr",
    "measure",
    "compare",
    "luma",
    "parameter_table",
    "count_parameters",
]
