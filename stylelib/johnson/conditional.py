"""One network, many styles: conditional instance normalisation (Dumoulin et al. 2017).

Johnson et al. train one transform network per style. Dumoulin, Shlens and Kudlur ("A Learned
Representation for Artistic Style", ICLR 2017) observe that the styles can share every
convolution and differ only in the scale and shift that follow each instance normalisation:
"we augment the γ and β parameters so that they're N×C matrices", and style ``s`` uses row
``s`` of each, ``z = γ_s (x − µ)/σ + β_s``, with ``µ`` and ``σ`` the mean and standard
deviation of ``x`` over its spatial axes. Their network is otherwise Johnson et al.'s, with
"zero-padding … replaced with mirror-padding, and transposed convolutions … replaced with
nearest-neighbor upsampling followed by a convolution"; of its "roughly 1.6M parameters, only
around 3K (or 0.2%) … specify individual artistic styles".

A *mix* of styles is a weight vector ``w`` over the N styles: the layer uses ``wᵀγ`` and
``wᵀβ``, so a one-hot ``w`` is one style and a convex combination blends them.

Two layouts (:data:`LAYOUTS`), the same code:

- ``"dumoulin2017"``: the paper's, Johnson et al.'s channels (32, 64, 128; five residual
  blocks; 64, 32, 3), what ``stylelib train --styles`` trains.
- ``"magenta-android"``: the smaller network of the published 26-style file
  ``multistyle26.onnx`` (see :mod:`stylelib.johnson.published`): channels 32, 32, 32; six
  residual blocks; 8, 4, 3 on the way up; 166,104 parameters. Every convolution is without
  bias and followed by a conditional instance norm, the last one too, then a sigmoid.

Sizes: every convolution is reflection-padded by ``k // 2``; the two stride-2 convolutions give
``ceil(n / 2)`` rows each and each upsampling doubles, as in the published file, so the
network computes an output of ``4 * ceil(H / 4)`` rows, which is cropped to ``H``.

Example::

    >>> import torch
    >>> net = MultiStyleNet(4, layout="magenta-android").eval()
    >>> net(torch.rand(1, 3, 33, 47), one_hot(2, 4)).shape
    torch.Size([1, 3, 33, 47])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylelib.blocks import count_parameters
from stylelib.images import check_image

Layout = Literal["dumoulin2017", "magenta-android"]
LAYOUT_NAMES: tuple[str, ...] = get_args(Layout)

# The 9x9 convolution reflects 4 px, and reflection needs more pixels than it pads.
MIN_INPUT_SIDE = 5


@dataclass(frozen=True)
class LayoutSpec:
    """The channels of one layout: down (three convolutions), residual, up (three)."""

    down: tuple[int, int, int]
    residual_blocks: int
    up: tuple[int, int]


LAYOUTS: dict[str, LayoutSpec] = {
    "dumoulin2017": LayoutSpec((32, 64, 128), 5, (64, 32)),
    "magenta-android": LayoutSpec((32, 32, 32), 6, (8, 4)),
}


class StyleWeightsError(ValueError):
    """A style choice or mix that the network cannot use: index out of range, wrong length,
    negative or all-zero weights."""


class ConditionalInstanceNorm(nn.Module):
    """Instance normalisation whose γ and β are rows of an (N, C) table, chosen by a style.

    ``forward(x, w)``: ``x`` is ``(B, C, H, W)``; ``w`` is a weight vector ``(N,)`` (one for
    the batch) or ``(B, N)`` (one per image). The scale is ``w @ gamma`` and the shift
    ``w @ beta``: a one-hot ``w`` picks one style's row; weights summing to 1 blend rows.
    The statistics are each image's and channel's own (biased variance, ``eps`` inside the
    root), those of :func:`torch.nn.functional.instance_norm`.

    Example:
        >>> norm = ConditionalInstanceNorm(3, 8)
        >>> norm(torch.rand(2, 8, 5, 5), one_hot(1, 3)).shape
        torch.Size([2, 8, 5, 5])
    """

    def __init__(self, num_styles: int, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_styles, self.channels, self.eps = num_styles, channels, eps
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        if _fast_path(x):
            return _norm_(self, x.clone(memory_format=torch.channels_last), style_weights)
        w = style_weights.to(self.gamma.dtype)
        scale = (w @ self.gamma)[..., :, None, None]  # (C, 1, 1) or (B, C, 1, 1)
        shift = (w @ self.beta)[..., :, None, None]
        return F.instance_norm(x, eps=self.eps) * scale + shift

    def extra_repr(self) -> str:
        return f"num_styles={self.num_styles}, channels={self.channels}, eps={self.eps}"


class CondConv(nn.Module):
    """Optional nearest x2 upsampling, reflection pad ``k // 2``, a convolution without bias,
    conditional instance norm, optional ReLU: the unit the multi-style network is built of."""

    def __init__(
        self,
        num_styles: int,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 1,
        *,
        upsample: bool = False,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.upsample, self.relu, self.pad = upsample, relu, kernel // 2
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, bias=False)
        self.norm = ConditionalInstanceNorm(num_styles, c_out)

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.norm(self.conv(F.pad(x, (self.pad,) * 4, mode="reflect")), style_weights)
        return F.relu(x) if self.relu else x


class CondResidual(nn.Module):
    """Two 3x3 units, the second without ReLU, added to the input (as Johnson et al.'s)."""

    def __init__(self, num_styles: int, channels: int) -> None:
        super().__init__()
        self.add_module("0", CondConv(num_styles, channels, channels, 3))
        self.add_module("1", CondConv(num_styles, channels, channels, 3, relu=False))

    def forward(self, x: Tensor, style_weights: Tensor) -> Tensor:
        first, second = self.children()
        return x + second(first(x, style_weights), style_weights)


class MultiStyleNet(nn.Module):
    """A transform network for ``num_styles`` styles sharing one set of convolutions.

    Args:
        num_styles: N, the rows of every γ/β table.
        layout: ``"dumoulin2017"`` (default) or ``"magenta-android"`` (:data:`LAYOUTS`).

    ``forward(image, style_weights)``: ``image`` ``(B, 3, H, W)`` in [0, 1], any H, W >= 5;
    ``style_weights`` ``(N,)`` or ``(B, N)`` (:func:`one_hot`, :func:`style_vector`). The
    weights are used as given, as the published file does; :func:`style_vector` normalises a
    user's mix to sum 1. Output ``(B, 3, H, W)`` in (0, 1), through a sigmoid.

    Module names follow the published file (``contract.0``, ``res.3.1``, ``expand.2``), each
    holding ``conv.weight``, ``norm.gamma`` and ``norm.beta``.
    """

    def __init__(self, num_styles: int, layout: Layout = "dumoulin2017") -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r} is not one of {', '.join(LAYOUT_NAMES)}")
        if not isinstance(num_styles, int) or num_styles < 1:
            raise ValueError(f"num_styles={num_styles!r}: give a whole number of styles >= 1")
        self.num_styles, self.layout = num_styles, layout
        spec, n = LAYOUTS[layout], num_styles
        (c1, c2, c3), (u1, u2) = spec.down, spec.up
        self.contract = nn.ModuleList(
            [CondConv(n, 3, c1, 9), CondConv(n, c1, c2, 3, 2), CondConv(n, c2, c3, 3, 2)]
        )
        self.res = nn.ModuleList(CondResidual(n, c3) for _ in range(spec.residual_blocks))
        self.expand = nn.ModuleList(
            [
                CondConv(n, c3, u1, 3, upsample=True),
                CondConv(n, u1, u2, 3, upsample=True),
                CondConv(n, u2, 3, 9, relu=False),
            ]
        )

    def forward(self, image: Tensor, style_weights: Tensor) -> Tensor:
        check_image(
            image,
            "MultiStyleNet's input",
            check_finite=False,
            min_side=MIN_INPUT_SIDE,
            min_side_why="its 9x9 convolution reflects 4 px",
        )
        weights = check_style_weights(style_weights, self.num_styles, batch=image.shape[0])
        h, w = image.shape[-2:]
        dtype = self.contract[0].conv.weight.dtype
        x = image if image.dtype == dtype else image.to(dtype)
        weights = weights.to(x.device, dtype)
        if _fast_path(x):
            return _fast_forward(self, x, weights)
        for unit in self.contract:
            x = unit(x, weights)
        for block in self.res:
            x = block(x, weights)
        for unit in self.expand:
            x = unit(x, weights)
        return torch.sigmoid(x[..., :h, :w])

    def extra_repr(self) -> str:
        return f"num_styles={self.num_styles}, layout={self.layout!r}"

    def style_parameters(self) -> int:
        """Parameters that belong to one style: one row of every γ and β table."""
        return sum(
            p.shape[1] for name, p in self.named_parameters() if name.endswith(("gamma", "beta"))
        )


# The inference path, taken where no gradient can be asked for (torch.no_grad, inference_mode)
# on the CPU: the same function computed in another order, as fast as onnxruntime on the
# published file (benchmarks/bench_multistyle.py; tests/test_multistyle_speedpath.py holds the
# two paths together). Each trick is there because it measured faster: activations stay
# channels_last (oneDNN's convolutions run 1.5-2.5x faster on them); no tensor is copied to be
# padded; the norm is applied in place (at 1024² a fresh tensor costs more in page faults than
# its arithmetic); no upsampled tensor is made; no convolution has 3 or 4 output channels.


def _recording() -> bool:
    """A tracer, compiler or exporter is recording a graph (which cannot read values)."""
    exporting = getattr(torch.compiler, "is_exporting", lambda: False)  # torch >= 2.6
    return bool(
        torch.jit.is_tracing()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
        or exporting()
    )


def _fast_path(x: Tensor) -> bool:
    """No autograd, a plain 4-d CPU float tensor, no tracer (an export records the plain path)."""
    if torch.is_grad_enabled() or type(x) is not Tensor or x.dim() != 4 or x.device.type != "cpu":
        return False
    return x.dtype in (torch.float32, torch.float64) and not _recording()


def _stats(y: Tensor, phases: int = 1) -> tuple[Tensor, Tensor]:
    """Mean and biased variance (B, C), float64, of a channels_last ``y`` whose channel ``c`` is
    ``y``'s ``phases`` channels from ``c * phases``. ``batch_norm_update_stats`` is fast but sums
    float32 one value after another (6e-4 off over 1024² pixels), so each column of pixels is a
    channel of its own (a view (1, W * C, H, 1): sums of H values), merged exactly in float64."""
    b, c, h, w = y.shape
    columns = y.permute(0, 2, 3, 1).reshape(b, h, 1, w * c).permute(0, 3, 1, 2)
    st = [torch.stack(torch.batch_norm_update_stats(x, None, None, 0.0)) for x in columns.split(1)]
    mean, var = torch.stack(st).double().view(b, 2, w, -1, phases).unbind(1)
    m = mean.mean((1, 3))
    return m, (var + (mean - m[:, None, :, None]) ** 2).mean((1, 3))


def _norm_(norm: ConditionalInstanceNorm, y: Tensor, w: Tensor, phases: int = 1) -> Tensor:
    """``norm(y, w)`` in place on a channels_last ``y``: ``y <- a y + b`` per channel."""
    mean, var = _stats(y, phases)
    a = (w.double() @ norm.gamma.double()) * torch.rsqrt(var + norm.eps)
    b = w.double() @ norm.beta.double() - mean * a
    a, b = (t.to(y.dtype).repeat_interleave(phases, 1)[..., None, None] for t in (a, b))
    return torch.addcmul(b, y, a, out=y)


def _reflect_edges_(y: Tensor, x: Tensor, weight: Tensor, stride: int, pad: int) -> None:
    """Turn ``y = conv2d(x, weight, stride, padding=pad)`` into the reflect-padded convolution
    by recomputing the outputs whose window reaches past an edge of ``x``."""
    k = weight.shape[-1]
    for dim in (2, 3):
        n, n_out = x.shape[dim], y.shape[dim]
        clean, dirty = -(-pad // stride), (n + pad - k) // stride + 1  # first clean, dirty
        for first, end in ((0, clean), (dirty, n_out)):
            start, stop = first * stride - pad, (end - 1) * stride - pad + k  # x's rows used
            if first < end:
                strip = x.narrow(dim, max(start, 0), min(stop, n) - max(start, 0))
                along = [max(-start, 0), max(stop - n, 0)]  # F.pad: left, right, top, bottom
                pads = [pad, pad, *along] if dim == 2 else [*along, pad, pad]
                out = F.conv2d(F.pad(strip, pads, mode="reflect"), weight, stride=stride)
                y.narrow(dim, first, end - first).copy_(out)


def _block_weight(weight: Tensor, upsample: bool) -> Tensor:
    """``weight`` for images held as 2x2 blocks (channel ``4c + 2dy + dx``: pixel (dy, dx) of
    the blocks of channel ``c``). ``upsample``: 3x3 after a nearest x2 upsampling -> 3x3 on the
    small image, replicate-padded by 1. Else k x k -> ``(k + 1) // 2``, blocks to blocks."""
    o, k = weight.shape[0], weight.shape[-1]
    d, i = torch.arange(2)[:, None, None, None], torch.arange(k)
    if upsample:  # output pixel d, tap i reads the small image's row (d + i - 1) // 2 + 1 of 3
        pick = (torch.arange(3)[:, None] == (d[..., 0] + i - 1) // 2 + 1).to(weight)
        out = torch.einsum("yai,xbj,ocij->oyxcab", pick, pick, weight)
    else:  # output pixel d, tap i reads pixel e of block q, where 2q + e = d + i
        q, e = torch.arange((k + 1) // 2)[:, None], torch.arange(2)[:, None, None]
        pick = (2 * q + e == d + i).to(weight)
        out = torch.einsum("yeqi,xfrj,ocij->oyxcefqr", pick, pick, weight)
    return out.reshape(4 * o, -1, *out.shape[-2:]).contiguous()


def _pad_blocks(y: Tensor, pad: int) -> Tensor:
    """``reflect_pad(Y, pad)`` (pad even) as 2x2 blocks, channels_last, from ``Y`` as blocks
    ``y`` (B, 4C, h, w): a row or column of ``Y`` is a strided view of the buffer."""
    b, c4, h, w = y.shape
    buf = y.new_empty(b, h + pad, w + pad, c4)
    full = buf.unflatten(3, (-1, 2, 2)).permute(0, 3, 1, 4, 2, 5)  # (B, C, rows, dy, cols, dx)
    full[:, :, pad // 2 : pad // 2 + h, :, pad // 2 : pad // 2 + w] = (
        y.permute(0, 2, 3, 1).unflatten(3, (-1, 2, 2)).permute(0, 3, 1, 4, 2, 5)
    )
    for axis, n in ((2, 2 * h), (4, 2 * w)):  # rows of Y, then columns (corners too)
        for i in range(1, pad + 1):
            for dst, src in ((pad - i, pad + i), (pad + n - 1 + i, pad + n - 1 - i)):
                line = [full.select(axis, r // 2).select(axis, r % 2) for r in (dst, src)]
                line[0].copy_(line[1])
    return buf.permute(0, 3, 1, 2)


def _fast_unit(unit: CondConv, x: Tensor, w: Tensor) -> Tensor:
    """``unit(x, w)`` on the inference path; an upsampling unit returns 2x2 blocks."""
    weight, stride = unit.conv.weight, unit.conv.stride[0]
    if unit.upsample:  # reflect-padding an x2 upsampled image = upsampling a replicate-padded one
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), _block_weight(weight, True))
        y = _norm_(unit.norm, y, w, phases=4)
    else:
        y = F.conv2d(x, weight, stride=stride, padding=unit.pad)
        _reflect_edges_(y, x, weight, stride, unit.pad)
        y = _norm_(unit.norm, y, w)
    return y.relu_() if unit.relu else y


def _fast_forward(net: MultiStyleNet, image: Tensor, w: Tensor) -> Tensor:
    """``MultiStyleNet.forward`` on the inference path, after its checks."""
    h, wd = image.shape[-2:]
    x = image.contiguous(memory_format=torch.channels_last)
    for unit in net.contract:
        x = _fast_unit(unit, x, w)
    for block in net.res:
        first, second = block.children()
        x = _fast_unit(second, _fast_unit(first, x, w), w).add_(x)
    up1, up2, last = net.expand
    y = _fast_unit(up2, F.pixel_shuffle(_fast_unit(up1, x, w), 2), w)
    y = F.conv2d(_pad_blocks(y, last.pad), _block_weight(last.conv.weight, False))
    y = _norm_(last.norm, y, w, phases=4).sigmoid_()
    return F.pixel_shuffle(y, 2)[..., :h, :wd].contiguous()


def one_hot(index: int, num_styles: int) -> Tensor:
    """The weight vector of style ``index`` alone: ``(num_styles,)``, a 1 at ``index``."""
    check_index(index, num_styles)
    w = torch.zeros(num_styles)
    w[index] = 1.0
    return w


def check_index(index: object, num_styles: int) -> int:
    """``index`` as an int in ``[0, num_styles)``, or a one-line StyleWeightsError."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise StyleWeightsError(f"a style index is a whole number, got {index!r}")
    if not 0 <= index < num_styles:
        raise StyleWeightsError(
            f"style {index} does not exist: this network has {num_styles} styles, "
            f"numbered 0 to {num_styles - 1}"
        )
    return index


def check_style_weights(weights: object, num_styles: int, *, batch: int | None = None) -> Tensor:
    """The weights as a float tensor ``(N,)`` or ``(B, N)``; refused in one line when they
    have the wrong length, are not finite, negative, or all zero (for some image). While a
    graph is recorded (an ONNX export) only the shape is checked: the values are not known."""
    if not isinstance(weights, Tensor):
        raise StyleWeightsError(
            f"style weights must be a tensor of {num_styles} values (see one_hot, "
            f"style_vector), got {type(weights).__name__}"
        )
    if weights.dim() not in (1, 2) or weights.shape[-1] != num_styles:
        raise StyleWeightsError(
            f"style weights must have {num_styles} values (one per style), got shape "
            f"{tuple(weights.shape)}"
        )
    if weights.dim() == 2 and batch is not None and weights.shape[0] not in (1, batch):
        raise StyleWeightsError(
            f"style weights of shape {tuple(weights.shape)} for a batch of {batch}: give one "
            "row for the batch or one per image"
        )
    if not weights.is_floating_point():
        weights = weights.float()
    if _recording():  # a graph cannot branch on values: its runtime's inputs are its caller's
        return weights
    if not bool(torch.isfinite(weights).all()):
        raise StyleWeightsError("style weights contain NaN or infinity")
    if bool((weights < 0).any()):
        raise StyleWeightsError("style weights must not be negative; a mix is a weighted sum")
    if bool((weights.sum(-1) <= 0).any()):
        raise StyleWeightsError("style weights are all zero; give at least one style a weight")
    return weights


def style_vector(spec: object, num_styles: int) -> Tensor:
    """A user's choice of style as a weight vector ``(N,)`` summing to 1.

    ``spec`` is an index (``7``), a string (``"7"``, ``"3:0.5,12:0.5"``; a weight left out is
    1), a mapping ``{index: weight}``, or a sequence/tensor of N weights. The weights are
    divided by their sum, so ``"3:1,12:1"`` is the half-and-half mix ``"3:0.5,12:0.5"``.

    Example:
        >>> style_vector("3:0.5,1:1.5", 4).tolist()
        [0.0, 0.75, 0.0, 0.25]
    """
    if isinstance(spec, str):
        w = torch.zeros(num_styles)
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        if not parts:
            raise StyleWeightsError("no style given; use e.g. 7 or 3:0.5,12:0.5")
        for part in parts:
            index, sep, weight = part.partition(":")
            try:
                i, value = int(index), float(weight) if sep else 1.0
            except ValueError:
                raise StyleWeightsError(
                    f"cannot read the style {part!r} of {spec!r}; use e.g. 7 or 3:0.5,12:0.5"
                ) from None
            w[check_index(i, num_styles)] += value
    elif isinstance(spec, int) and not isinstance(spec, bool):
        w = one_hot(spec, num_styles)
    elif isinstance(spec, dict):
        w = torch.zeros(num_styles)
        for i, value in spec.items():
            w[check_index(i, num_styles)] += float(value)
    else:
        try:
            w = torch.as_tensor(spec, dtype=torch.float32).clone()
        except (TypeError, ValueError, RuntimeError):
            raise StyleWeightsError(
                f"cannot read the style {spec!r}: give an index, '3:0.5,12:0.5', "
                f"{{index: weight}} or {num_styles} weights"
            ) from None
        if w.dim() != 1:
            raise StyleWeightsError(
                f"style weights must have {num_styles} values, got shape {tuple(w.shape)}"
            )
    w = check_style_weights(w, num_styles)
    return w / w.sum()


def describe(net: MultiStyleNet) -> str:
    """One line: the layout, the parameters, and how many of them are the styles'."""
    total, own = count_parameters(net), net.style_parameters()
    return (
        f"MultiStyleNet ({net.layout}): {total:,} parameters for {net.num_styles} styles, "
        f"{own:,} per style ({own / total:.1%})"
    )


@torch.no_grad()
def stylize_styles(net: MultiStyleNet, image: Tensor, style: object) -> Tensor:
    """One forward pass in a style or mix (:func:`style_vector`): ``(B, 3, H, W)`` -> fp32."""
    check_image(image, "the image to stylize", min_side=1)
    weight = net.contract[0].conv.weight
    out = net(image.to(weight.device, weight.dtype), style_vector(style, net.num_styles))
    return out.float().contiguous()
