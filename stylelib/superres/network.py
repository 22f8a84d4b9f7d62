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
blocks are those of :mod:`stylelib.johnson.network`. Defaults are the paper's: batch
normalisation and fractionally strided ("transpose") convolutions; ``norm="instance"`` and
``upsample="resize"`` are there too, as for the style network, and ``upsample="subpixel"``:
the sub-pixel convolution of Shi et al. (2016, "Real-Time Single Image and Video
Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016,
Sec. 2.2), a convolution at the *low* resolution to 4 x the channels, then
:class:`torch.nn.PixelShuffle` moving each group of 4 channels into a 2 x 2 block of pixels.
:func:`upsampler_table` compares the three. (Instance norm normalises
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

import torch
from torch import Tensor, nn

from stylelib.blocks import (
    ConvLayer,
    ConvNormReLU,
    ResidualBlock,
    UpsampleConv,
    count_parameters,
    norm_layer,
)
from stylelib.checkpoints import CheckpointError, load_checkpoint
from stylelib.errors import one_line
from stylelib.images import check_image
from stylelib.superres.config import (
    BLOCKS,
    CHANNELS,
    CHECKPOINT,
    MIN_INPUT_SIDE,
    UPSAMPLES,
    check_factor,
)


class SubPixelConv(nn.Sequential):
    """Double H and W by a sub-pixel convolution, then norm and ReLU (Shi et al. 2016).

    A reflection-padded 3 x 3 convolution at the *input* resolution makes ``4 * c_out``
    channels; :class:`torch.nn.PixelShuffle` (2) moves channels ``4c .. 4c + 3`` into the
    2 x 2 block of output channel ``c``: "a periodic shuffling operator that rearranges the
    elements of a H × W × C·r² tensor to a tensor of shape rH × rW × C" (Shi et al., Sec. 2.2).
    Parameters: ``9 * c_in * 4 * c_out + 4 * c_out``, four times a resize convolution's, for
    the same number of multiply-adds (its convolution runs on 4 x fewer pixels).

    ``icnr=True`` (default) starts the four sub-kernels of each output channel equal, so that
    at initialisation the layer *is* a nearest-neighbour resize after a convolution and has no
    checkerboard; training then lets them differ. This is the "convolution NN resize"
    initialisation of Aitken et al. 2017 ("Checkerboard artifact free sub-pixel convolution",
    arXiv 1707.02937).

    Example:
        >>> import torch
        >>> SubPixelConv(8, 5, "batch")(torch.rand(2, 8, 6, 7)).shape
        torch.Size([2, 5, 12, 14])
    """

    def __init__(self, c_in: int, c_out: int, norm: str, icnr: bool = True) -> None:
        conv = ConvLayer(c_in, 4 * c_out, 3)
        if icnr:
            tie_subkernels(conv[1])
        super().__init__(conv, nn.PixelShuffle(2), norm_layer(norm, c_out), nn.ReLU())


@torch.no_grad()
def tie_subkernels(conv: nn.Conv2d, r: int = 2) -> None:
    """Copy each output channel's first sub-kernel over its other r² − 1 (Aitken et al. 2017).

    PixelShuffle(r) takes output channel c's r x r block from channels ``r²c ... r²c + r² − 1``;
    with those equal, every block is constant: a nearest-neighbour resize of one convolution.
    """
    groups = conv.out_channels // (r * r)
    w = conv.weight.view(groups, r * r, *conv.weight.shape[1:])
    w.copy_(w[:, :1].expand_as(w))
    if conv.bias is not None:
        b = conv.bias.view(groups, r * r)
        b.copy_(b[:, :1].expand_as(b))


def upsampling_layer(mode: str, c_in: int, c_out: int, norm: str) -> nn.Module:
    """One x2 upsampling unit of :class:`SRNet`: ``"transpose"``, ``"resize"`` or ``"subpixel"``."""
    if mode == "subpixel":
        return SubPixelConv(c_in, c_out, norm)
    return UpsampleConv(c_in, c_out, mode, norm)


def upsampler_table(channels: int = CHANNELS, side: int = 18) -> str:
    """The three x2 upsamplers side by side: output shape, parameters, multiply-adds.

    Each is run on a ``(1, channels, side, side)`` input; multiply-adds are those of its
    convolution, counted by :class:`torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2).
    The transposed convolution multiplies each *input* pixel by its 3 x 3 kernel; the resize
    convolution convolves the 4 x larger image; the sub-pixel one convolves the small image
    to 4 x the channels: the same work as the resize, four times the parameters.

    Example:
        >>> print(upsampler_table(8, 4).splitlines()[0])
        upsampling   output shape         parameters   multiply-adds
    """
    from torch.utils.flop_counter import FlopCounterMode

    lines = [f"{'upsampling':<12} {'output shape':<20} {'parameters':>10}   {'multiply-adds':>13}"]
    x = torch.zeros(1, channels, side, side)
    for mode in UPSAMPLES:
        layer = upsampling_layer(mode, channels, channels, "batch").eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            shape = tuple(layer(x).shape)
        params = count_parameters(layer) - 2 * channels  # the convolution's: without the norm
        macs = counter.get_total_flops() // 2
        lines.append(f"{mode:<12} {str(shape):<20} {params:>10,}   {macs:>13,}")
    return "\n".join(lines)


class SRNet(nn.Module):
    """Johnson et al.'s super-resolution network: low-resolution image in, ``factor`` x larger out.

    Args:
        factor: 4 or 8; the network has log₂(factor) upsampling layers.
        norm: ``"batch"`` (the paper, default) or ``"instance"``.
        upsample: ``"transpose"`` (the paper's stride-1/2 convolutions, default),
            ``"resize"`` (nearest x2 then a 3x3 convolution; Odena et al. 2016) or
            ``"subpixel"`` (a 3x3 convolution to 4x the channels, then PixelShuffle(2);
            Shi et al. 2016, :class:`SubPixelConv`).

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
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample={upsample!r} is not one of {', '.join(UPSAMPLES)}")
        self.norm, self.upsample = norm, upsample
        self.head = ConvNormReLU(3, CHANNELS, 9, 1, norm)
        self.res = nn.Sequential(*(ResidualBlock(CHANNELS, norm) for _ in range(BLOCKS)))
        doublings = int(math.log2(factor))
        self.up = nn.Sequential(
            *(upsampling_layer(upsample, CHANNELS, CHANNELS, norm) for _ in range(doublings))
        )
        self.tail = ConvLayer(CHANNELS, 3, 9)

    def forward(self, image: Tensor) -> Tensor:
        """Upscale ``image`` ``(B, 3, h, w)`` to ``(B, 3, factor·h, factor·w)``."""
        check_image(
            image,
            "SRNet's low-resolution input",
            check_finite=False,  # shape, dtype and size only: no pass over the values
            min_side=MIN_INPUT_SIDE,
            min_side_why="its 9x9 convolution reflects 4 px",
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
        checkpoint = load_checkpoint(path, map_location, kind=CHECKPOINT)
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
