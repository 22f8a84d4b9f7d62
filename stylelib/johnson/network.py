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
  instead of black zeros, and every layer keeps the size of its input (as pytorch/examples'
  network does; the authors' code offers it as ``-padding_type reflect``). The paper does
  otherwise: its supplementary material found that "standard zero-padded convolutions
  resulted in severe artifacts around the borders of the generated image", removes the
  padding from the residual blocks' convolutions (the identity path is centre-cropped to
  match) and pads the input once by 40 px with reflection (its Table 1: 3 x 256 x 256 ->
  3 x 336 x 336). The authors' code does the same by default (``-padding_type
  reflect-start``). With ``norm="batch", upsample="transpose"`` this network is therefore
  *closer to* the paper's, not the paper's.

Output: the paper's output layer "uses a scaled tanh to ensure that the output has pixels in
the range [0, 255]" (Sec. 3.1); the authors' code multiplies a tanh by ``-tanh_constant``
(150 by default; its pixel convention is that of ``-preprocessing vgg``). Here
``(tanh(x) + 1) / 2`` maps to the library's [0, 1] (the same curve as ``sigmoid(2x)``).
Every output is a valid image without clamping, and, unlike a clamp, the gradient is never
exactly zero. That is ``output="tanh"``, what ``stylelib train`` trains.

``output="pixels255"`` is the other convention, that of the PyTorch examples' network
(pytorch/examples, ``fast_neural_style/neural_style/transformer_net.py``), whose published
models ``candy.pth``, ``mosaic.pth``, ``rain_princess.pth`` and ``udnie.pth`` students know:
the input is multiplied by 255, the last convolution has no activation, and its output is
read as 0-255 pixels, divided by 255 and clamped to [0, 1] (their script clamps when it
saves). The factor 255 is not cosmetic: instance norm divides by sqrt(variance + 1e-5), and
the first layer of a network trained on 0-255 pixels answers [0, 1] pixels with variances
near that epsilon, so without the factor the picture changes (by up to 0.8 of the [0, 1]
range on the tests' network).
With ``norm="instance", upsample="resize"`` the two networks have the same 1,679,235
parameters, under other names (:data:`PYTORCH_EXAMPLES_KEYS`); :func:`load_transformer`
reads either a stylelib checkpoint or such a file.

Sizes: the two stride-2 convolutions need H and W divisible by 4. Here the input is
reflection-padded up to the next multiple of 4 and the output cropped back, so the output is
always the size of the input. The PyTorch examples' network does not pad: each stride-2
convolution gives ceil(n / 2) rows and each upsampling doubles, so a 33 x 47 photo comes out
36 x 48 (H and W rounded up to a multiple of 4), and its instance-norm statistics are those
of the unpadded maps. On sizes divisible by 4 the two compute the same function; on other
sizes stylelib's output is, by definition, the examples' network applied to the
reflection-padded image, cropped to the input's size.

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
import re
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylelib.blocks import (
    NORMS,
    OUTPUTS,
    UPSAMPLES,
    ConvLayer,
    ConvNormReLU,
    Norm,
    Output,
    ResidualBlock,
    Upsample,
    UpsampleConv,
    count_parameters,
)
from stylelib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from stylelib.errors import one_line
from stylelib.images import check_image
from stylelib.johnson.config import CHECKPOINT, FORMAT, VERSION

# Defaults give 1,679,235 parameters (tests pin it to a hand count); batch norm and transposed
# convolutions give the same count.
DEFAULT_PARAMETERS = 1_679_235


# Two stride-2 convolutions: the spatial size must be a multiple of 2**2 on the way through.
STRIDE = 4


# The 9x9 convolution reflects 4 px, and reflection needs more pixels than it pads. (VGG's
# own minimum, 32 px, is stylelib.images.MIN_SIDE.)
MIN_INPUT_SIDE = 5


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network: image in, stylised image out.

    Args:
        norm: ``"instance"`` (default, Ulyanov et al. 2016) or ``"batch"`` (the paper).
        upsample: ``"resize"`` (default, Odena et al. 2016) or ``"transpose"`` (the paper).
        output: ``"tanh"`` (default: ``(tanh(y) + 1) / 2``, what ``stylelib train`` trains) or
            ``"pixels255"`` (input x 255, output / 255 clamped to [0, 1], no activation: the
            convention of the PyTorch examples' published models, see the module docstring).

    Input: ``(B, 3, H, W)`` in ``[0, 1]``, any H, W >= 5, any float dtype (converted to the
    weights' dtype). Output: ``(B, 3, H, W)`` in ``[0, 1]``, the same size as the input.

    Example:
        >>> net = TransformerNet(norm="batch", upsample="transpose").eval()
        >>> net(torch.rand(2, 3, 64, 48)).shape
        torch.Size([2, 3, 64, 48])
    """

    def __init__(
        self, norm: Norm = "instance", upsample: Upsample = "resize", output: Output = "tanh"
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm={norm!r} is not one of {', '.join(NORMS)}")
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample={upsample!r} is not one of {', '.join(UPSAMPLES)}")
        if output not in OUTPUTS:
            raise ValueError(f"output={output!r} is not one of {', '.join(OUTPUTS)}")
        self.norm, self.upsample, self.output = norm, upsample, output
        self.conv1 = ConvNormReLU(3, 32, 9, 1, norm)
        self.conv2 = ConvNormReLU(32, 64, 3, 2, norm)
        self.conv3 = ConvNormReLU(64, 128, 3, 2, norm)
        self.res = nn.Sequential(*(ResidualBlock(128, norm) for _ in range(5)))
        self.up1 = UpsampleConv(128, 64, upsample, norm)
        self.up2 = UpsampleConv(64, 32, upsample, norm)
        self.conv4 = ConvLayer(32, 3, 9)

    def forward(self, image: Tensor) -> Tensor:
        """Stylise ``image`` ``(B, 3, H, W)``; reflection-pad to a multiple of 4, crop back."""
        check_image(
            image,
            "TransformerNet's input",
            check_finite=False,  # shape, dtype and size only: no pass over the values
            min_side=MIN_INPUT_SIDE,
            min_side_why="its 9x9 convolution reflects 4 px",
        )
        h, w = image.shape[-2:]
        dtype = next(self.parameters()).dtype  # another float dtype: the network's, as VGG's
        image = image if image.dtype == dtype else image.to(dtype)
        pad_h, pad_w = -h % STRIDE, -w % STRIDE
        x = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect") if pad_h or pad_w else image
        if self.output == "pixels255":
            x = x * 255  # the PyTorch examples' networks were trained on 0-255 pixels
        x = self.conv3(self.conv2(self.conv1(x)))
        x = self.up2(self.up1(self.res(x)))
        x = self.conv4(x)[..., :h, :w]
        if self.output == "pixels255":
            return (x / 255).clamp(0, 1)  # no activation: 0-255 pixels, clamped as saved
        return (torch.tanh(x) + 1) / 2  # the paper's scaled tanh, mapped to [0, 1]

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}, upsample={self.upsample!r}, output={self.output!r}"

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> TransformerNet:
        """Load a network from a file: a stylelib checkpoint or a PyTorch examples model.

        A checkpoint of ``stylelib train`` (or :func:`save_transformer`) is rebuilt from the
        config in the file; a bare state dict with the layout of the PyTorch examples'
        ``fast_neural_style`` (``candy.pth`` ...) becomes
        ``TransformerNet("instance", "resize", output="pixels255")`` with its weights renamed
        (:func:`convert_pytorch_examples_state`). :func:`load_transformer` is the same.

        Args:
            path: the model file.
            map_location: where to put the weights.

        Returns:
            The network in eval mode.

        Raises:
            CheckpointError: a missing file, or a file of another format or architecture,
                explained in one line.
        """
        try:
            checkpoint = load_checkpoint(path, map_location, kind=CHECKPOINT)
        except CheckpointError:
            state = _read_pytorch_examples_file(path, map_location)
            if state is None:
                raise
            net = cls("instance", "resize", output="pixels255")
            net.load_state_dict(state)
            return net.to(map_location).eval()
        config = checkpoint["config"]
        try:
            net = cls(
                config.get("transformer_norm", "instance"),
                config.get("upsample", "resize"),
                config.get(OUTPUT_KEY, "tanh"),
            )
            net.load_state_dict(checkpoint["model"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"'{path}': its weights do not fit the TransformerNet its config describes "
                f"({one_line(exc, limit=160)}); the file was changed or written by another program"
            ) from None
        # load_state_dict copies into the new parameters, which are on the CPU
        return net.to(map_location).eval()


def load_transformer(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> TransformerNet:
    """The network in a model file, in eval mode: :meth:`TransformerNet.from_checkpoint`.

    Reads a checkpoint of ``stylelib train`` or :func:`save_transformer`, or a model of the
    PyTorch examples (``candy.pth``, ``mosaic.pth``, ``rain_princess.pth``, ``udnie.pth``,
    or one trained with their script); ``stylelib.catalogue.path("candy")`` finds the
    published ones once installed.

    Example:
        >>> net = load_transformer("candy.pth")  # doctest: +SKIP
        >>> net.output  # doctest: +SKIP
        'pixels255'
    """
    return TransformerNet.from_checkpoint(path, map_location)


def save_transformer(
    net: TransformerNet, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write ``net`` as a stylelib checkpoint that :func:`load_transformer` rebuilds exactly.

    The config holds the architecture (``transformer_norm``, ``upsample``) and the output
    convention (``transformer_output``); the other fields are JohnsonConfig's defaults. A
    converted PyTorch examples model saved this way keeps ``output="pixels255"``. Written
    atomically; an existing file is kept unless ``overwrite``.
    """
    state = {
        "format": FORMAT,
        "format_version": VERSION,
        "config": {
            "transformer_norm": net.norm,
            "upsample": net.upsample,
            OUTPUT_KEY: net.output,
        },
        "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    return save_checkpoint(state, path, overwrite=overwrite)


# Where a checkpoint's config keeps the output convention (absent: "tanh", what training makes).
OUTPUT_KEY = "transformer_output"


def _pytorch_examples_keys() -> dict[str, str]:
    """Their module names -> ours, for norm="instance", upsample="resize".

    Theirs (``transformer_net.py``): ``conv1 in1 conv2 in2 conv3 in3 res1..res5 deconv1 in4
    deconv2 in5 deconv3``, each convolution inside a ``ConvLayer`` as ``.conv2d``, each
    residual block ``conv1 in1 conv2 in2``. Ours: ``conv1..conv3`` = (ConvLayer, norm,
    ReLU), ``res.i.block`` = (ConvNormReLU, ConvLayer, norm), ``up1, up2`` = (Upsample,
    ConvLayer, norm, ReLU), ``conv4`` = ConvLayer; in a ConvLayer the convolution is ``.1``
    (after the padding).
    """
    modules = {
        "conv1.conv2d": "conv1.0.1",
        "in1": "conv1.1",
        "conv2.conv2d": "conv2.0.1",
        "in2": "conv2.1",
        "conv3.conv2d": "conv3.0.1",
        "in3": "conv3.1",
        "deconv1.conv2d": "up1.1.1",
        "in4": "up1.2",
        "deconv2.conv2d": "up2.1.1",
        "in5": "up2.2",
        "deconv3.conv2d": "conv4.1",
    }
    for i in range(5):
        modules |= {
            f"res{i + 1}.conv1.conv2d": f"res.{i}.block.0.0.1",
            f"res{i + 1}.in1": f"res.{i}.block.0.1",
            f"res{i + 1}.conv2.conv2d": f"res.{i}.block.1.1",
            f"res{i + 1}.in2": f"res.{i}.block.2",
        }
    return {f"{a}.{p}": f"{b}.{p}" for a, b in modules.items() for p in ("weight", "bias")}


# Their state-dict key -> ours (62 tensors: 16 convolutions and 15 instance norms, x2).
PYTORCH_EXAMPLES_KEYS: dict[str, str] = _pytorch_examples_keys()


# Buffers that InstanceNorm2d saved before PyTorch 0.4 and no longer has; their script deletes
# them with this pattern before loading (fast_neural_style/neural_style/neural_style.py).
_LEGACY_KEY = re.compile(r"in\d+\.running_(mean|var)$")


def looks_like_pytorch_examples(obj: object) -> bool:
    """True for a mapping with the first and last keys of the PyTorch examples' network."""
    return isinstance(obj, Mapping) and all(
        k in obj for k in ("conv1.conv2d.weight", "deconv3.conv2d.weight")
    )


def convert_pytorch_examples_state(
    state: Mapping, path: str | os.PathLike = "the state dict"
) -> dict[str, Tensor]:
    """Their state dict renamed to ours, after checking every key and shape.

    The legacy ``running_mean``/``running_var`` of instance norm are dropped; anything else
    that is missing, extra, or of another shape is refused in one line.

    Returns:
        A state dict for ``TransformerNet("instance", "resize", output="pixels255")``.

    Raises:
        CheckpointError: one line naming the file and the first keys that do not fit.
    """
    kept = {k: v for k, v in state.items() if not (isinstance(k, str) and _LEGACY_KEY.search(k))}
    missing = [k for k in PYTORCH_EXAMPLES_KEYS if k not in kept]
    extra = [str(k) for k in kept if k not in PYTORCH_EXAMPLES_KEYS]
    if missing or extra:
        what = (f"missing {', '.join(missing[:3])}" if missing else "") + (
            f"{'; ' if missing else ''}unexpected {', '.join(extra[:3])}" if extra else ""
        )
        raise CheckpointError(
            f"'{path}' looks like a PyTorch examples fast_neural_style model but its keys do "
            f"not fit ({what}); it is another network or a damaged file"
        )
    expected = _our_shapes()
    renamed = {}
    for theirs, ours in PYTORCH_EXAMPLES_KEYS.items():
        tensor = kept[theirs]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != expected[ours]:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
            raise CheckpointError(
                f"'{path}' looks like a PyTorch examples fast_neural_style model but its "
                f"{theirs} is {shape}, not {expected[ours]}; it is another network or a "
                "damaged file"
            )
        renamed[ours] = tensor
    return renamed


def is_pytorch_examples_state(obj: object) -> bool:
    """True if ``obj`` is a PyTorch examples fast_neural_style state dict: keys AND shapes."""
    if not looks_like_pytorch_examples(obj):
        return False
    try:
        convert_pytorch_examples_state(obj)
    except CheckpointError:
        return False
    return True


def _our_shapes() -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):  # shapes only, nothing allocated
        net = TransformerNet("instance", "resize", output="pixels255")
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _read_pytorch_examples_file(path, map_location) -> dict[str, Tensor] | None:
    """Our state dict from a PyTorch examples model file, None if the file is not one."""
    try:
        obj = torch.load(Path(path).expanduser(), map_location=map_location, weights_only=True)
    except Exception:  # not a torch file at all: load_checkpoint's message says so
        return None
    if not looks_like_pytorch_examples(obj):
        return None
    return convert_pytorch_examples_state(obj, path)


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
