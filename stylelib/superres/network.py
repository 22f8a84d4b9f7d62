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

import torch
from torch import Tensor, nn

from stylelib.blocks import ConvLayer, ConvNormReLU, ResidualBlock, UpsampleConv, count_parameters
from stylelib.checkpoints import CheckpointError, load_checkpoint
from stylelib.errors import one_line
from stylelib.images import check_image
from stylelib.superres.config import BLOCKS, CHANNELS, CHECKPOINT, MIN_INPUT_SIDE, check_factor


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
