"""Feed-forward stylisation of images too large for one pass: tiles with whole-image statistics.

Cutting a photo into tiles and stylising each one does not work with these networks: instance
normalisation (Ulyanov et al. 2016; conditional, Dumoulin et al. 2017) subtracts each
channel's mean and divides by its standard deviation *over the image it is given*, so every
tile gets its own statistics, its own contrast and colour cast, and the borders between tiles
show. The fix: every tile is normalised with the statistics of the *whole* image, measured
first. Then a tile's output, away from its halo (:mod:`stylelib.tiling`), is exactly the
untiled network's output there.

The statistics of layer k depend on those of the layers before it, so they are measured in
passes: pass k runs every tile up to normalisation layer k, the layers before it normalised
with the statistics already known, and sums layer k's mean and variance over the tiles' cells
(each position counted once; merged in float64). That is one pass per normalisation layer
(15 in Johnson's network, 18 in the 26-style one) over the image, each stopping at its layer:
about 6 full forward passes in all, before the final one. An image that fits in one tile
takes a single pass that records its own statistics.

Why not the statistics of a downscaled copy, which would cost a few percent? Measured on the
published 26-style network (Dumoulin et al.'s, trained): statistics from the photo at half
size differ from the full-size ones by a few per cent per layer, and the network amplifies
that into output differences of up to 0.99 of the [0, 1] range (mean 0.07; a 1% change of the
first layer's statistics alone moves some pixels by 0.6). ``stats_size=N`` still offers it,
as an approximation for previews; the default is exact, so a tiled run equals the untiled
one to float round-off (measured: 2e-6) wherever both fit.

Memory: the input and the output are ``(H, W, 3)`` uint8 arrays (300 MB each at 10,000²);
besides them a run holds one window's activations and one band of float rows
(:func:`stylelib.tiling.stitch`).

Example::

    >>> import numpy as np
    >>> from stylelib.johnson.network import TransformerNet
    >>> photo = np.random.default_rng(0).integers(0, 256, (200, 150, 3), dtype=np.uint8)
    >>> stylize_tiled(TransformerNet().eval(), photo, tile=192, overlap=16).shape
    (200, 150, 3)
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from stylelib.johnson.conditional import (
    CondConv,
    ConditionalInstanceNorm,
    MultiStyleNet,
    style_vector,
)
from stylelib.johnson.network import TransformerNet
from stylelib.tiling import (
    Span,
    check_tiling,
    load_uint8,
    make_grid,
    resize_uint8,
    stitch,
    window_tensor,
)

Statistics = Literal["whole", "tile"]

# Windows of 1024 px: about 1 GB of activations in Johnson's network (measured), and a halo
# (60 px) that costs 30% extra work; 512 px windows cost 70% extra.
TILE = 1024
OVERLAP = 32  # the blend between windows, px; the halo already makes them agree


class _Stop(Exception):
    """Raised by the layer whose statistics a pass measures: nothing after it is needed."""


class _WholeImageNorm(nn.Module):
    """Stands in for one instance norm: normalises with given statistics, or measures them.

    Modes: ``"own"`` normalises with the window's own statistics and records them (one
    window holding the whole image: its statistics are the image's); ``"use"`` normalises
    with ``self.mean``/``self.var``; ``"measure"`` adds the window's cell to the running
    sums and stops the forward pass.
    """

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.inner, self.eps = norm, norm.eps
        self.mode, self.factor = "own", 1
        self.mean = self.var = None  # (C,) float64, whole image
        self.cell: tuple[slice, slice] | None = None  # the window's cell, in input pixels
        self._parts: list[tuple[int, Tensor, Tensor]] = []

    def forward(self, x: Tensor, style_weights: Tensor | None = None) -> Tensor:
        if self.mode == "measure":
            f = self.factor
            cy, cx = (
                slice(s.start // f, None if s.stop is None else s.stop // f) for s in self.cell
            )
            self._add(x[:, :, cy, cx])
            raise _Stop
        if self.mode == "own":
            self._parts = []
            self._add(x)
            self.finish()
        scale, shift = (t.to(self.mean.device) for t in self._affine(style_weights))
        a = scale * torch.rsqrt(self.var + self.eps)
        b = shift - self.mean * a
        return x * a.to(x).view(1, -1, 1, 1) + b.to(x).view(1, -1, 1, 1)

    def _affine(self, style_weights: Tensor | None) -> tuple[Tensor, Tensor]:
        """γ and β (float64, (C,)) of the replaced layer, for this style mix."""
        if isinstance(self.inner, ConditionalInstanceNorm):
            w = style_weights.double().reshape(-1, self.inner.num_styles)[0]
            return w @ self.inner.gamma.double(), w @ self.inner.beta.double()
        c = self.inner.num_features
        if self.inner.weight is None:
            return torch.ones(c, dtype=torch.float64), torch.zeros(c, dtype=torch.float64)
        return self.inner.weight.double(), self.inner.bias.double()

    def _add(self, part: Tensor) -> None:
        wide = part if part.dtype in (torch.float32, torch.float64) else part.float()
        var, mean = torch.var_mean(wide, dim=(0, 2, 3), correction=0)
        self._parts.append((part.numel() // part.shape[1], mean.double(), var.double()))

    def finish(self) -> None:
        """Merge the parts measured so far into the whole image's mean and (biased) variance
        (Chan et al.'s pairwise formula, exact in float64)."""
        n = sum(k for k, _, _ in self._parts)
        mean = sum(k * m for k, m, _ in self._parts) / n
        self.var = sum(k * (v + (m - mean) ** 2) for k, m, v in self._parts) / n
        self.mean, self._parts = mean, []


@dataclass
class _Prepared:
    """A copy of the network with its norms replaced, and what tiling needs to know of it."""

    net: nn.Module
    norms: list[_WholeImageNorm]
    halo: int
    align: int
    style_weights: Tensor | None


def prepare(net: nn.Module, style: object = None) -> _Prepared:
    """A copy of ``net`` whose instance norms take whole-image statistics; its halo and stride.

    The copy's parameters need no gradient and it runs its plain path (a MultiStyleNet's
    inference path normalises by function and would bypass the replaced layers).
    """
    if isinstance(net, MultiStyleNet):
        if style is None:
            raise ValueError(
                f"this network holds {net.num_styles} styles: choose one with style=K or a mix"
            )
        weights = style_vector(style, net.num_styles)
    elif isinstance(net, TransformerNet):
        if style is not None:
            raise ValueError("style= chooses a style of a multi-style network; leave it out")
        weights = None  # batch norm (in eval mode) has fixed statistics: nothing to replace
    else:
        raise TypeError(f"expected a TransformerNet or a MultiStyleNet, got {type(net).__name__}")
    copied = copy.deepcopy(net).eval().requires_grad_(False)
    norms = []
    for module in list(copied.modules()):
        for name, child in module.named_children():
            if isinstance(child, (nn.InstanceNorm2d, ConditionalInstanceNorm)):
                replacement = _WholeImageNorm(child)
                setattr(module, name, replacement)
                norms.append(replacement)
    prepared = _Prepared(copied, [], receptive_halo(net), 4, weights)
    prepared.norms = _forward_order(prepared, norms)
    return prepared


def receptive_halo(net: nn.Module, align: int = 4) -> int:
    """How far (px) an output pixel of ``net`` can depend on the input, rounded up to ``align``.

    Walks the layers in order: a k x k convolution at a resolution ``f`` times below the
    input's reaches ``(k // 2) f`` px further; a stride multiplies ``f``; an x2 upsampling
    halves it and adds up to ``f / 2`` px of rounding (counted as ``f``).
    """
    f, reach = 1.0, 0.0
    for m in net.modules():
        if isinstance(m, nn.ConvTranspose2d):
            reach += (m.kernel_size[0] // 2) * f
            f /= m.stride[0]
            reach += f
        elif isinstance(m, nn.Conv2d):
            reach += (m.kernel_size[0] // 2) * m.dilation[0] * f
            f *= m.stride[0]
        elif isinstance(m, nn.Upsample) or (isinstance(m, CondConv) and m.upsample):
            f /= 2
            reach += f
    return math.ceil(reach / align) * align


def _forward_order(prepared: _Prepared, norms: list[_WholeImageNorm]) -> list[_WholeImageNorm]:
    """The norms in the order the forward pass meets them, each with its resolution factor
    (found on a 64 x 64 probe)."""
    order = []

    def hook(module, args):
        module.factor = 64 // args[0].shape[-1]
        order.append(module)

    handles = [n.register_forward_pre_hook(hook) for n in norms]
    try:
        _forward(prepared, torch.zeros(1, 3, 64, 64))
    finally:
        for h in handles:
            h.remove()
    return order


def _forward(prepared: _Prepared, x: Tensor) -> Tensor:
    """The copy's forward pass on its plain path, building no graph (no tensor needs one)."""
    x = x.to(next(prepared.net.parameters()).device)
    with torch.enable_grad():
        if prepared.style_weights is None:
            return prepared.net(x)
        return prepared.net(x, prepared.style_weights)


@contextlib.contextmanager
def _modes(norms: list[_WholeImageNorm], modes: list[str]) -> Iterator[None]:
    for n, m in zip(norms, modes, strict=True):
        n.mode = m
    try:
        yield
    finally:
        for n in norms:
            n.mode = "own"


def measure_statistics(prepared: _Prepared, image: np.ndarray, tile: int, *, progress=None) -> None:
    """Set every norm of ``prepared`` to the statistics of the whole ``image`` (uint8 HW3).

    One window: a single forward pass, each layer with its own (= the image's) statistics.
    Several: one pass per layer, as the module docstring says.
    """
    h, w = image.shape[:2]
    grid = make_grid(h, w, tile, halo=prepared.halo, align=prepared.align)
    norms = prepared.norms
    if len(grid) == 1:
        with torch.no_grad(), _modes(norms, ["own"] * len(norms)):
            _forward(prepared, window_tensor(image, *next(grid.windows())))
        return
    for k, norm in enumerate(norms):
        modes = ["use"] * k + ["measure"] + ["use"] * (len(norms) - k - 1)
        with torch.no_grad(), _modes(norms, modes):
            for rows, cols in grid.windows():
                norm.cell = (_cell(rows), _cell(cols))
                try:
                    _forward(prepared, window_tensor(image, rows, cols))
                except _Stop:
                    pass
                if progress is not None:
                    progress()
        norm.finish()


def _cell(span: Span) -> slice:
    """The span's cell in window coordinates; open-ended at the image's end, where the
    network's maps run on past the image (padded to a multiple of 4, or rounded up)."""
    stop = span.cell_stop - span.start if span.cell_stop < span.stop else None
    return slice(span.cell_start - span.start, stop)


def stylize_tiled(
    net: TransformerNet | MultiStyleNet,
    image,
    style: object = None,
    *,
    tile: int = TILE,
    overlap: int = OVERLAP,
    statistics: Statistics = "whole",
    stats_size: int | None = None,
    out: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Stylise an image of any size with bounded memory: ``(H, W, 3)`` uint8 in and out.

    Args:
        net: a :class:`TransformerNet` (instance norm) or a :class:`MultiStyleNet`; left as
            it is (a copy runs).
        image: an ``(H, W, 3)`` uint8 array, a path, a PIL image or an image tensor
            (:func:`stylelib.tiling.load_uint8`).
        style: a MultiStyleNet's style or mix (:func:`~stylelib.johnson.conditional.style_vector`).
        tile: each window's side, px; memory grows with its square.
        overlap: the blend between neighbouring windows, px, beyond the halo.
        statistics: ``"whole"`` (the fix) or ``"tile"``: each window normalised with its own
            statistics, the naive way whose seams the lessons show.
        stats_size: None (default): exact statistics, one pass per norm layer; a long side:
            measure them on the image resized to it when the image is larger, a cheap
            approximation (see the module docstring) for previews.
        out: a preallocated ``(H, W, 3)`` array to write into, uint8 or float32 (tests).
        progress: show a tqdm progress bar over the windows.

    Returns:
        ``out`` (a new uint8 array if None was given).

    Raises:
        TileError: a tile too small for the network's receptive field, a bad overlap.
    """
    prepared = prepare(net, style)
    tile, overlap = check_tiling(
        tile, overlap, halo=prepared.halo, align=prepared.align, what=type(net).__name__
    )
    if statistics not in ("whole", "tile"):
        raise ValueError(f"statistics must be 'whole' or 'tile', got {statistics!r}")
    if stats_size is not None and (
        isinstance(stats_size, bool) or not isinstance(stats_size, int) or stats_size < 64
    ):
        raise ValueError(
            f"stats_size must be a long side of at least 64 px or None, got {stats_size}"
        )
    image = load_uint8(image)
    h, w = image.shape[:2]
    grid = make_grid(h, w, tile, halo=prepared.halo, overlap=overlap, align=prepared.align)
    out = np.empty((h, w, 3), np.uint8) if out is None else out
    bar = _bar(progress)
    try:
        whole = statistics == "whole" and len(grid) > 1  # one window: its own are the image's
        if whole:
            small = image
            if stats_size is not None and max(h, w) > stats_size:
                small = resize_uint8(image, stats_size)
            measure_statistics(prepared, small, tile, progress=bar.update)
        modes = ["use" if whole else "own"] * len(prepared.norms)
        with torch.no_grad(), _modes(prepared.norms, modes):
            stitch(grid, lambda ys, xs: _window(prepared, image, ys, xs), out, progress=bar.update)
    finally:
        bar.close()
    return out


def _window(prepared: _Prepared, image: np.ndarray, rows: Span, cols: Span) -> np.ndarray:
    """The network's output on one window, ``(h, w, 3)`` float32."""
    y = _forward(prepared, window_tensor(image, rows, cols))
    return y[0].float().permute(1, 2, 0).cpu().contiguous().numpy()


def _bar(enabled: bool):
    """A tqdm counter of windows run (statistics passes included), or a silent one."""
    from tqdm.auto import tqdm

    return tqdm(desc="stylize (tiles)", unit="window", disable=not enabled, leave=False)


def untiled_reference(net: nn.Module, image: np.ndarray, style: object = None) -> np.ndarray:
    """The network on the whole image at once, ``(H, W, 3)`` float32: what a tiled run must
    equal (tests and the lesson compare the two)."""
    x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    x = x.to(next(net.parameters()).device)
    with torch.no_grad():
        y = net(x) if style is None else net(x, style_vector(style, net.num_styles))
    return y[0].float().permute(1, 2, 0).cpu().numpy()
