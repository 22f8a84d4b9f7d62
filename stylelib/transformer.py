"""The image transformation network of fast style transfer (Johnson et al. 2016).

Gatys et al. optimise the pixels of every new image; Johnson, Alahi and Fei-Fei train a
feed-forward network once per style, against the same VGG perceptual loss, and then stylise
an image with one forward pass. The network (Johnson et al. 2016, Sec. 3.1 and the
supplementary material, Table 1)::

    conv1   9x9 conv,  3 -> 32, stride 1          norm, ReLU     H   x W
    conv2   3x3 conv, 32 -> 64, stride 2          norm, ReLU     H/2 x W/2
    conv3   3x3 conv, 64 -> 128, stride 2         norm, ReLU     H/4 x W/4
    res1-5  residual blocks, 128 channels: conv, norm, ReLU, conv, norm, + input
    up1     x2 upsampling, 128 -> 64               norm, ReLU     H/2 x W/2
    up2     x2 upsampling, 64 -> 32                norm, ReLU     H   x W
    conv4   9x9 conv, 32 -> 3, stride 1           (tanh + 1) / 2 H   x W

Three choices, each a constructor argument:

- ``norm``: ``"instance"`` (default; Ulyanov, Vedaldi, Lempitsky, "Instance Normalization:
  The Missing Ingredient for Fast Stylization", arXiv:1607.08022, 2016, which
  shows it improving on batch norm; the authors' released code uses it by default) or
  ``"batch"`` (the paper).
- ``upsample``: ``"resize"`` (default; nearest-neighbour x2 then a 3x3 convolution, Odena,
  Dumoulin, Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016) or
  ``"transpose"`` (the paper's fractionally strided convolution, stride 1/2, whose uneven
  kernel overlap paints a checkerboard pattern into the output).
- Padding is by reflection in every convolution, so the borders see image-like context
  instead of black zeros. (The paper pads the input once by 40 px and uses unpadded
  convolutions in the residual blocks; per-convolution reflection, as in the authors' later
  code and in pytorch/examples, keeps every layer the size of its input.)

Output: the paper ends with a scaled tanh so pixels lie in [0, 255]; here ``(tanh(x) + 1) / 2``
maps to the library's [0, 1] (the same curve as ``sigmoid(2x)``). Every output is a valid
image without clamping, and, unlike a clamp, the gradient is never exactly zero.

Any input size works: the two stride-2 convolutions need H and W divisible by 4, so the input
is reflection-padded up to the next multiple of 4 and the output cropped back.

Example::

    >>> import torch
    >>> net = TransformerNet()
    >>> net(torch.rand(1, 3, 33, 47)).shape
    torch.Size([1, 3, 33, 47])
    >>> count_parameters(net)
    1679235
"""

from __future__ import annotations

import os
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoints import CheckpointError, load_checkpoint
from .deprecation import moved
from .errors import one_line
from .images import check_image

Norm = Literal["instance", "batch"]
Upsample = Literal["resize", "transpose"]
NORMS: tuple[str, ...] = ("instance", "batch")
UPSAMPLES: tuple[str, ...] = ("resize", "transpose")

# Defaults give 1,679,235 parameters: the paper's ~1.68 M (tests pin it to a hand count).
DEFAULT_PARAMETERS = 1_679_235
# Two stride-2 convolutions: the spatial size must be a multiple of 2**2 on the way through.
STRIDE = 4
# The 9x9 convolution reflects 4 px, and reflection needs more pixels than it pads. (VGG's
# own minimum, 32 px, is stylelib.images.MIN_SIDE.)
MIN_INPUT_SIDE = 5


def _norm_layer(kind: str, channels: int) -> nn.Module:
    """Instance norm with a learned scale and shift (as Ulyanov's code), or batch norm."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.BatchNorm2d(channels)


class ConvLayer(nn.Sequential):
    """Reflection padding of k // 2 pixels, then a k x k convolution: stride 1 keeps H x W."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


class ConvNormReLU(nn.Sequential):
    """``ConvLayer`` followed by normalisation and a ReLU: the network's basic unit."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, norm: str) -> None:
        super().__init__(
            ConvLayer(c_in, c_out, kernel, stride), _norm_layer(norm, c_out), nn.ReLU()
        )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with normalisation, added to the input (He et al. 2016).

    As in the paper's supplementary material (after Gross and Wilber's study of residual
    blocks): conv, norm, ReLU, conv, norm, then ``x + block(x)`` with no ReLU after the sum.
    """

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ConvNormReLU(channels, channels, 3, 1, norm),
            ConvLayer(channels, channels, 3),
            _norm_layer(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class UpsampleConv(nn.Sequential):
    """Double H and W, then norm and ReLU: resize-then-convolve, or a transposed convolution.

    ``"resize"``: nearest-neighbour x2 and a 3x3 convolution; every output pixel sees the same
    number of input pixels, so there is no checkerboard (Odena et al. 2016).
    ``"transpose"``: ``ConvTranspose2d(3, stride=2, padding=1, output_padding=1)``, exactly
    2H x 2W; its 3x3 kernel overlaps itself unevenly at stride 2, the source of checkerboards.
    Both have ``9 * c_in * c_out + c_out`` parameters.
    """

    def __init__(self, c_in: int, c_out: int, mode: str, norm: str) -> None:
        if mode == "resize":
            up: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")]
            up.append(ConvLayer(c_in, c_out, 3))
        else:
            up = [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)]
        super().__init__(*up, _norm_layer(norm, c_out), nn.ReLU())


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network: image in, stylised image out.

    Args:
        norm: ``"instance"`` (default, Ulyanov et al. 2016) or ``"batch"`` (the paper).
        upsample: ``"resize"`` (default, Odena et al. 2016) or ``"transpose"`` (the paper).

    Input: ``(B, 3, H, W)`` in ``[0, 1]``, any H, W >= 5, any float dtype (converted to the
    weights' dtype). Output: ``(B, 3, H, W)`` in ``[0, 1]``, the same size as the input.

    Example:
        >>> net = TransformerNet(norm="batch", upsample="transpose").eval()
        >>> net(torch.rand(2, 3, 64, 48)).shape
        torch.Size([2, 3, 64, 48])
    """

    def __init__(self, norm: Norm = "instance", upsample: Upsample = "resize") -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm={norm!r} is not one of {', '.join(NORMS)}")
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample={upsample!r} is not one of {', '.join(UPSAMPLES)}")
        self.norm, self.upsample = norm, upsample
        self.conv1 = ConvNormReLU(3, 32, 9, 1, norm)
        self.conv2 = ConvNormReLU(32, 64, 3, 2, norm)
        self.conv3 = ConvNormReLU(64, 128, 3, 2, norm)
        self.res = nn.Sequential(*(ResidualBlock(128, norm) for _ in range(5)))
        self.up1 = UpsampleConv(128, 64, upsample, norm)
        self.up2 = UpsampleConv(64, 32, upsample, norm)
        self.conv4 = ConvLayer(32, 3, 9)

    def forward(self, image: Tensor) -> Tensor:
        """Stylise ``image`` ``(B, 3, H, W)``; reflection-pad to a multiple of 4, crop back."""
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(
                f"TransformerNet takes images (B, 3, H, W), got shape {tuple(image.shape)}; "
                "add a batch dimension with x.unsqueeze(0)"
            )
        h, w = image.shape[-2:]
        if min(h, w) < MIN_INPUT_SIDE:
            raise ValueError(
                f"TransformerNet needs at least {MIN_INPUT_SIDE} px on each side (its 9x9 "
                f"convolution reflects 4 px), got {h}x{w}; use a larger image"
            )
        if not image.is_floating_point():
            raise ValueError(
                f"TransformerNet takes float images in [0, 1], got dtype {image.dtype}; "
                "convert with x.float() / 255 for an image of bytes"
            )
        dtype = next(self.parameters()).dtype  # another float dtype: the network's, as VGG's
        image = image if image.dtype == dtype else image.to(dtype)
        pad_h, pad_w = -h % STRIDE, -w % STRIDE
        x = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else image
        x = self.conv3(self.conv2(self.conv1(x)))
        x = self.up2(self.up1(self.res(x)))
        x = self.conv4(x)[..., :h, :w]
        return (torch.tanh(x) + 1) / 2  # the paper's scaled tanh, mapped to [0, 1]

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}, upsample={self.upsample!r}"

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> TransformerNet:
        """Rebuild the network that ``stylelib train`` saved, from the config in the file.

        Args:
            path: a checkpoint written by :func:`stylelib.train.train`.
            map_location: where to put the weights.

        Returns:
            The network in eval mode.

        Raises:
            CheckpointError: a missing file, or a file of another format or architecture,
                explained in one line.
        """
        checkpoint = load_checkpoint(path, map_location)
        config = checkpoint["config"]
        try:
            net = cls(config.get("transformer_norm", "instance"), config.get("upsample", "resize"))
            net.load_state_dict(checkpoint["model"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"'{path}': its weights do not fit the TransformerNet its config describes "
                f"({one_line(exc, limit=160)}); the file was changed or written by another program"
            ) from None
        return net.eval()


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters (batch norm's running statistics are buffers)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def parameter_table(net: TransformerNet) -> str:
    """One line per stage with its parameters, and the total: what the lesson prints.

    Example:
        >>> print(parameter_table(TransformerNet()).splitlines()[-1])
        total    1,679,235
    """
    lines = [f"{name:<8} {count_parameters(child):>9,}" for name, child in net.named_children()]
    lines.append(f"{'total':<8} {count_parameters(net):>9,}")
    return "\n".join(lines)


@torch.no_grad()
def stylize_image(
    net: TransformerNet, image: Tensor, *, autocast: bool = False, channels_last: bool = False
) -> Tensor:
    """One forward pass: ``image`` ``(B, 3, H, W)`` in [0, 1] -> stylised, same shape, fp32.

    The network runs where its weights are and in their dtype: ``net.to(torch.bfloat16)``
    runs every layer in bfloat16 (on a 2-core CPU with bf16 units about twice as fast as
    fp32 at 512², pixels within about 0.03 of the fp32 output, 0.004 on average).
    ``autocast=True`` keeps fp32 weights and lets ``torch.autocast`` cast each layer to
    bfloat16 instead, which is slower on a CPU (a copy at every layer). ``channels_last``
    changes the memory layout only.

    The image must follow the library's contract (:func:`stylelib.images.check_image`) but
    for VGG's 32 px: a float ``(B, 3, H, W)`` in [0, 1], any H, W >= 5. An image of 0-255
    values is refused, not stylised into a plausible picture.

    Example:
        >>> net = TransformerNet().eval()
        >>> stylize_image(net.to(torch.bfloat16), torch.rand(1, 3, 40, 52)).dtype
        torch.float32
    """
    # the contract's checks (shape, channels, dtype, NaN, range) without VGG's 32 px minimum;
    # the network's own 5 px minimum is TransformerNet.forward's
    check_image(image, "the image to stylize", min_side=1)
    weight = next(net.parameters())
    x = image.to(weight.device, torch.float32 if autocast else weight.dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(weight.device.type, dtype=torch.bfloat16, enabled=autocast):
        out = net(x)
    return out.float().contiguous()


__all__ = [
    "TransformerNet",
    "count_parameters",
    "parameter_table",
    "stylize_image",
]

# Old names: the checkpoint format has its own module, and MIN_SIDE is VGG's in images.
__getattr__ = moved(
    __name__,
    {
        "CHECKPOINT_FORMAT": "stylelib.checkpoints:FORMAT",
        "CHECKPOINT_VERSION": "stylelib.checkpoints:VERSION",
        "MIN_SIDE": "stylelib.transformer:MIN_INPUT_SIDE",
    },
)
