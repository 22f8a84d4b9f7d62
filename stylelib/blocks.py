"""The convolution blocks the feed-forward networks are built from.

Johnson et al.'s transform network (:mod:`stylelib.johnson.network`) and the
super-resolution network (:mod:`stylelib.superres.network`) share them: a reflection-padded
convolution, the same followed by a normalisation and a ReLU, a residual block (He et al.
2016) in the design Johnson et al. take from Gross and Wilber, with padded convolutions (see
:class:`ResidualBlock`), and x2 upsampling either by
nearest-neighbour resize and a 3x3 convolution (Odena, Dumoulin, Olah, Distill 2016) or by a
fractionally strided ("transpose") convolution, the paper's.

Example::

    >>> import torch
    >>> block = ResidualBlock(8, "instance")
    >>> block(torch.rand(1, 8, 12, 12)).shape
    torch.Size([1, 8, 12, 12])
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import Tensor, nn

Norm = Literal["instance", "batch"]


Upsample = Literal["resize", "transpose"]


Output = Literal["tanh", "pixels255"]


NORMS: tuple[str, ...] = get_args(Norm)


UPSAMPLES: tuple[str, ...] = get_args(Upsample)


OUTPUTS: tuple[str, ...] = get_args(Output)


def norm_layer(kind: str, channels: int) -> nn.Module:
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
        super().__init__(ConvLayer(c_in, c_out, kernel, stride), norm_layer(norm, c_out), nn.ReLU())


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with normalisation, added to the input (He et al. 2016).

    The layer order is Johnson et al.'s (ECCV 2016, Sec. 3.1: "the residual block design of
    [49]", Gross and Wilber, in the supplementary material): conv, norm, ReLU, conv, norm, then
    ``x + block(x)`` with no ReLU after the sum. The padding is not theirs: here each
    convolution is reflection-padded and keeps H x W, while the supplement's block uses
    unpadded convolutions and centre-crops the identity path to match (behind 40 px of
    reflection padding at the network's input). With ``norm="instance"`` (Ulyanov et al.
    2016) it is this course's block; the paper's uses batch norm.
    """

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ConvNormReLU(channels, channels, 3, 1, norm),
            ConvLayer(channels, channels, 3),
            norm_layer(norm, channels),
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
        super().__init__(*up, norm_layer(norm, c_out), nn.ReLU())


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters (batch norm's running statistics are buffers)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
