r"""Tiles: an image too large for one pass cut into overlapping windows, and put back together.

A network (or VGG) that cannot hold a whole image runs on one *window* at a time. Near a
window's edge its output is wrong: the convolutions there see padding instead of the
neighbouring pixels. So each window keeps a *halo*, as wide as the network's receptive field,
whose output is thrown away; the part that remains is exact. Neighbouring windows overlap by
the two halos plus a *ramp* of ``overlap`` px, where the two are blended with raised-cosine
weights that sum to 1, so that what little still differs between them (rounding, a halo chosen
smaller than the receptive field) fades from one to the other instead of making a seam.

One axis, windows of ``tile`` px advancing by ``step = tile - 2 halo - overlap`` (rounded down
to ``align``, the network's total stride, so that every window sees the same pooling grid as
the whole image)::

    window i     |halo|.........valid..........|halo|
    window i+1                   |halo|........ valid ........|halo|
    weight i     ___/‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾\___
    weight i+1                         /‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾
                                  ramp: sin² up, cos² down, sum 1

A window that touches the image's border needs no halo on that side: the network pads the
whole image there the same way. The two-dimensional weight of a window is the product of its
two axes' weights, so it too sums to 1 at every pixel. Each ramp also holds a *cell boundary*
(a multiple of ``align``): the cells partition the image, each pixel counted once, which is
how statistics of the whole image (instance norm's mean and variance, a Gram matrix) are
summed window by window.

:func:`stitch` blends windows into a preallocated ``(H, W, 3)`` uint8 array, one band of
rows at a time, so that no float copy of the whole image is ever made: a 10,000 x 10,000 px
picture is 300 MB as uint8 and 1.2 GB as float32. :func:`load_uint8` and :func:`save_uint8`
read and write such arrays with PIL, under :data:`TILED_MAX_PIXELS` instead of
:data:`stylelib.images.MAX_PIXELS`. :func:`seam_ratio` measures what tiling must not leave.

Example:
    >>> [(s.start, s.stop, s.lo, s.hi) for s in spans(300, 128, halo=16, overlap=16)]
    [(0, 128, 0, 112), (80, 208, 96, 192), (160, 288, 176, 272), (240, 300, 256, 300)]
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from stylelib.errors import ImageError, StylelibError
from stylelib.images import check_output_path, open_image_file, write_pil

# The tiled paths' guard against decompression bombs, in place of images.MAX_PIXELS (64 Mpx,
# set by a float32 whole-image tensor): a 16,384² px image is 805 MB as uint8 in and as much
# out, which is what a tiled run holds besides one window.
TILED_MAX_PIXELS = 16_384 * 16_384

# Every window advances by at least this much: less would spend nearly all its work on halo.
MIN_STEP = 16


class TileError(StylelibError, ValueError):
    """A tile size or overlap that cannot work (too small for the halo, negative, ...)."""


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Span:
    """One window along one axis, in pixels of the whole image (``stop`` exclusive).

    ``start:stop`` is what the network sees; ``lo:hi`` where the window's weight is above 0;
    ``cell_start:cell_stop`` the part of the disjoint partition that this window owns. The
    ramps: ``left`` and ``right`` are ``(first pixel, width)`` of the rising and the falling
    ramp, or None at the image's border.
    """

    start: int
    stop: int
    lo: int
    hi: int
    cell_start: int
    cell_stop: int
    left: tuple[int, int] | None
    right: tuple[int, int] | None

    def weights(self) -> np.ndarray:
        """The blending weight of each pixel ``start:stop`` (float64, in [0, 1]).

        Raised cosine: across a ramp of ``n`` px starting at ``a`` the rising window has
        ``sin²(π/2 · t)`` with ``t = (p + 0.5 - a) / n``, the falling one ``cos²`` of the same
        angle, so the two sum to 1 (Hann-window cross-fade).
        """
        p = np.arange(self.start, self.stop, dtype=np.float64)
        w = np.ones_like(p)
        if self.left is not None:
            w *= _rise(p, *self.left)
        if self.right is not None:
            w *= 1.0 - _rise(p, *self.right)
        return w


def _rise(p: np.ndarray, first: int, width: int) -> np.ndarray:
    """0 before the ramp, sin² across it, 1 after (a step at ``first`` when ``width`` is 0)."""
    if width == 0:
        return (p >= first).astype(np.float64)
    t = np.clip((p + 0.5 - first) / width, 0.0, 1.0)
    return np.sin(0.5 * np.pi * t) ** 2


def min_tile(halo: int, overlap: int, align: int = 1) -> int:
    """The smallest ``tile`` for this halo and overlap: two halos, the ramp, and a step of at
    least :data:`MIN_STEP` and of ``overlap + align`` (so that a ramp never meets the next)."""
    step = align_up(max(MIN_STEP, overlap + align), align)
    return align_up(2 * halo + overlap + step, align)


def check_tiling(
    tile: object, overlap: object, *, halo: int = 0, align: int = 1, what: str = "the network"
) -> tuple[int, int]:
    """``(tile, overlap)`` as ints if they can tile an image, else a one-line TileError.

    Args:
        tile: the window's side in px (the memory is set by it).
        overlap: the width of the blend between neighbours, px (0: a hard cut).
        halo: the px each window gives up on each side (``what``'s receptive field).
        align: the network's total stride; windows start on multiples of it.
        what: the network, for the message.

    Example:
        >>> check_tiling(512, 32, halo=64)
        (512, 32)
        >>> try:
        ...     check_tiling(100, 32, halo=64)
        ... except TileError as e:
        ...     print(e)
        tile=100 is too small for the network: ... use a tile of at least 193 px ...
    """
    for name, value in (("tile", tile), ("overlap", overlap)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TileError(f"{name} must be a whole number of pixels, got {value!r}")
    tile, overlap = int(tile), int(overlap)
    if tile <= 0:
        raise TileError(f"tile must be a positive number of pixels (e.g. 512), got {tile}")
    if overlap < 0:
        raise TileError(f"overlap must be >= 0 px (0: no blending), got {overlap}")
    if 2 * overlap >= tile:
        raise TileError(
            f"overlap={overlap} must be less than half the tile ({tile} px): neighbouring "
            f"tiles would blend over most of each tile; use e.g. overlap={max(tile // 8, 0)}"
        )
    needed = min_tile(halo, overlap, align)
    if tile < needed:
        raise TileError(
            f"tile={tile} is too small for {what}: each tile gives up a halo of {halo} px on "
            f"each side to its receptive field and blends over {overlap} px; use a tile of at "
            f"least {needed} px (or a smaller overlap)"
        )
    return tile, overlap


def spans(
    length: int, tile: int, *, halo: int = 0, overlap: int = 0, align: int = 1, shift: int = 0
) -> tuple[Span, ...]:
    """The windows along one axis of ``length`` px (checked with :func:`check_tiling` first).

    Windows start at ``shift - step`` (clipped to 0; none when ``shift`` is 0), ``shift``,
    ``shift + step``, ... until one reaches the end; ``shift`` (a multiple of ``align``,
    taken modulo ``step``) moves the whole grid, so that a loop can put its seams somewhere
    new at every iteration. A ``length`` that fits in one tile gives one window with weight 1.
    """
    if length <= tile:
        return (Span(0, length, 0, length, 0, length, None, None),)
    step = (tile - 2 * halo - overlap) // align * align
    if step <= 0 or shift % align:
        raise TileError(f"no step fits tile={tile}, halo={halo}, overlap={overlap}, align={align}")
    shift %= step
    starts = [shift - step if shift else 0]
    while starts[-1] + tile < length:
        starts.append(starts[-1] + step)
    ramps, bounds = [], []
    for a, b in zip(starts, starts[1:], strict=False):
        v0, v1 = b + halo, a + tile - halo  # where both windows are valid
        bound = min(max(align * round((v0 + v1) / 2 / align), v0), v1) // align * align
        width = min(overlap, v1 - v0)
        first = min(max(bound - width // 2, v0), v1 - width)
        ramps.append((first, width))
        bounds.append(bound)
    out = []
    for i, s in enumerate(starts):
        left = ramps[i - 1] if i else None
        right = ramps[i] if i < len(ramps) else None
        out.append(
            Span(
                start=max(s, 0),
                stop=min(s + tile, length),
                lo=left[0] if left else 0,
                hi=right[0] + right[1] if right else length,
                cell_start=bounds[i - 1] if i else 0,
                cell_stop=bounds[i] if right else length,
                left=left,
                right=right,
            )
        )
    return tuple(out)


def align_up(n: int, align: int) -> int:
    """``n`` rounded up to a multiple of ``align`` (a network's stride)."""
    return -(-n // align) * align


@dataclass(frozen=True)
class Grid:
    """Windows over a ``height x width`` image: every pair of a row span and a column span."""

    height: int
    width: int
    rows: tuple[Span, ...]
    cols: tuple[Span, ...]

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def windows(self) -> Iterator[tuple[Span, Span]]:
        """``(row span, column span)`` of every window, row by row."""
        for ys in self.rows:
            for xs in self.cols:
                yield ys, xs

    def boundaries(self) -> tuple[list[int], list[int]]:
        """The cell boundaries inside the image: rows, columns (where a seam would be)."""
        return [s.cell_start for s in self.rows[1:]], [s.cell_start for s in self.cols[1:]]


def make_grid(
    height: int,
    width: int,
    tile: int,
    *,
    halo: int = 0,
    overlap: int = 0,
    align: int = 1,
    shift: tuple[int, int] = (0, 0),
) -> Grid:
    """The :class:`Grid` of ``tile x tile`` windows over an image (see :func:`spans`).

    Example:
        >>> grid = make_grid(300, 200, 128, halo=16, overlap=16)
        >>> len(grid), grid.boundaries()
        (8, ([104, 184, 264], [104]))
    """
    kwargs = {"halo": halo, "overlap": overlap, "align": align}
    return Grid(
        height,
        width,
        spans(height, tile, shift=shift[0], **kwargs),
        spans(width, tile, shift=shift[1], **kwargs),
    )


# Step k's grid moves by (frac(k a1), frac(k a2)) of a step: the R2 low-discrepancy sequence
# (a_i = 1 / g^i, g the plastic number), so that successive grids spread their seams evenly.
_PLASTIC = 1.324717957244746


def grid_shift(step: int, stride: int, align: int = 1) -> tuple[int, int]:
    """A loop's grid offset (rows, columns) at ``step``: (0, 0) at step 0, then spread over
    ``[0, stride)`` in multiples of ``align`` (pass it as :func:`make_grid`'s ``shift``).

    Example:
        >>> [grid_shift(k, 64, 16) for k in range(4)]
        [(0, 0), (48, 32), (32, 0), (16, 32)]
    """
    shift = [int((step / _PLASTIC**i) % 1.0 * stride) // align * align for i in (1, 2)]
    return shift[0], shift[1]


def pooled_weights(span: Span, factor: int) -> np.ndarray:
    """A window's weights at a feature map ``factor`` times smaller (floor, as pooling is):
    the mean over each block of ``factor`` pixels, so that they still sum to 1 over windows."""
    w = span.weights()
    n = len(w) // factor
    return w[: n * factor].reshape(n, factor).mean(axis=1)


# --------------------------------------------------------------------------- blending


def stitch(
    grid: Grid,
    compute: Callable[[Span, Span], np.ndarray],
    out: np.ndarray,
    *,
    progress: Callable[[], None] | None = None,
) -> np.ndarray:
    """Blend ``compute(rows, cols)`` of every window into ``out``, band by band.

    Args:
        grid: the windows.
        compute: the window's result, ``(rows.stop - rows.start, cols.stop - cols.start, 3)``
            float32 in [0, 1].
        out: a preallocated ``(H, W, 3)`` array, uint8 (rounded, for big images) or float32.
        progress: called after each window.

    Only one band of rows (at most ``tile x W x 3`` float32) is ever held besides ``out``:
    rows that no later window reaches are written out as soon as their band is done.

    Returns:
        ``out``.
    """
    if out.shape != (grid.height, grid.width, 3):
        raise ValueError(f"out must have shape {(grid.height, grid.width, 3)}, got {out.shape}")
    tallest = max(ys.hi - ys.lo for ys in grid.rows)
    buffer = np.empty((tallest, grid.width, 3), np.float32)  # one band, reused
    done = 0  # rows [0, done) are in out; rows [done, done + held) wait in buffer
    held = 0
    for ys in grid.rows:
        final = ys.lo - done  # rows above this band's weights: no later window reaches them
        _flush(buffer[:final], out, done)
        buffer[: held - final] = buffer[final:held].copy()  # the rows this band adds to
        buffer[held - final :] = 0.0
        done, held = ys.lo, ys.hi - ys.lo
        acc = buffer[:held]
        wy = ys.weights()[ys.lo - ys.start : ys.hi - ys.start].astype(np.float32)
        for xs in grid.cols:
            y = compute(ys, xs)
            wx = xs.weights()[xs.lo - xs.start : xs.hi - xs.start].astype(np.float32)
            part = y[ys.lo - ys.start : ys.hi - ys.start, xs.lo - xs.start : xs.hi - xs.start]
            acc[:, xs.lo : xs.hi] += part * (wy[:, None, None] * wx[None, :, None])
            if progress is not None:
                progress()
    _flush(buffer[:held], out, done)
    return out


def _flush(rows: np.ndarray, out: np.ndarray, first: int) -> None:
    """Write finished float rows into ``out`` from row ``first`` (rounded for uint8)."""
    if out.dtype != np.uint8:
        out[first : first + len(rows)] = rows
        return
    for i in range(0, len(rows), 64):  # 64 rows at a time: no full-band temporaries
        chunk = rows[i : i + 64] * 255.0
        out[first + i : first + i + len(chunk)] = np.clip(np.rint(chunk), 0, 255)


def window_tensor(image: np.ndarray, rows: Span, cols: Span) -> torch.Tensor:
    """One window of an ``(H, W, 3)`` uint8 (or float in [0, 1]) array as a float32 image
    ``(1, 3, h, w)`` in [0, 1]: the only float copy a tiled run makes of its input."""
    part = torch.from_numpy(
        np.ascontiguousarray(image[rows.start : rows.stop, cols.start : cols.stop])
    )
    part = part.permute(2, 0, 1).unsqueeze(0)
    if part.dtype == torch.uint8:
        return part.float().div_(255.0)
    return part.float().contiguous()


# --------------------------------------------------------------------------- seams


def seam_ratio(
    image: np.ndarray | torch.Tensor,
    rows: list[int] | tuple[int, ...],
    cols: list[int] | tuple[int, ...],
    *,
    width: int = 1,
) -> float:
    """Gradient energy across the given boundaries over that everywhere else: 1 is no seam.

    The squared differences between neighbouring pixels (all channels), the vertical ones for
    the row boundaries and the horizontal ones for the column boundaries; a difference is *at*
    a boundary ``b`` when it is one of the ``width`` on either side (``width=1``: the pair
    ``b - 1, b`` alone). The ratio is the mean of those at boundaries over the mean of the
    others. A blend ramp spreads a seam over its width, so give that ``width`` to find one.

    Args:
        image: ``(H, W, 3)`` array (uint8 or float) or ``(1, 3, H, W)`` tensor.
        rows, cols: boundary positions (e.g. :meth:`Grid.boundaries`).
        width: differences on each side of a boundary that count as at it.

    Example:
        >>> flat = np.zeros((64, 64, 3))
        >>> flat[:, 32:] = 1.0  # a seam at column 32 on an otherwise flat image
        >>> seam_ratio(flat + np.random.default_rng(0).random((64, 64, 3)) * 0.1, [], [32]) > 50
        True
    """
    a = _hw3(image)
    total = at = 0.0
    count = count_at = 0
    for axis, bounds in ((0, rows), (1, cols)):
        d = np.diff(a, axis=axis) ** 2  # d[i] is the pair (i, i + 1)
        energy = d.sum(axis=tuple(i for i in range(3) if i != axis))  # per pair position
        mask = np.zeros(len(energy), bool)
        for b in bounds:
            mask[max(b - width, 0) : max(b + width - 1, 0)] = True
        per_pair = d.size / len(energy)
        total += energy[~mask].sum()
        at += energy[mask].sum()
        count += int((~mask).sum() * per_pair)
        count_at += int(mask.sum() * per_pair)
    if count_at == 0 or count == 0:
        raise ValueError("seam_ratio needs at least one boundary and pixels away from it")
    inside = total / count
    return float((at / count_at) / inside) if inside > 0 else math.inf


def _hw3(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """An image as an (H, W, 3) float64 array in [0, 1]."""
    if isinstance(image, torch.Tensor):
        if image.ndim == 4:
            image = image[0]
        image = image.detach().permute(1, 2, 0).cpu().double().numpy()
    a = np.asarray(image)
    return a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)


# --------------------------------------------------------------------------- files


def load_uint8(
    source: str | os.PathLike | Image.Image | np.ndarray | torch.Tensor,
    size: int | None = None,
    *,
    max_pixels: int = TILED_MAX_PIXELS,
) -> np.ndarray:
    """An image as an ``(H, W, 3)`` uint8 RGB array, never as float: the tiled paths' loader.

    Like :func:`stylelib.images.load_image` (EXIF orientation, transparency on white, a
    header check against ``max_pixels`` before decoding) but in 8 bits, so a 100-megapixel
    photo costs 300 MB instead of 1.2 GB. 16-bit images are reduced to 8 bits.

    Args:
        source: a path, a PIL image, an ``(H, W, 3)`` uint8 array (returned as it is, not
            copied, when no ``size`` is asked for) or a float image tensor ``(1, 3, H, W)`` in
            [0, 1] (rounded).
        size: resize so that the long side is ``size`` px (PIL's Lanczos, antialiased).
        max_pixels: refuse images (as decoded, and as resized) with more pixels.

    Raises:
        ImageError: an unreadable file, a refused size (one line).
    """
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3:
            raise ImageError(
                f"an array image for tiling must be (H, W, 3) uint8, got {source.shape} "
                f"{source.dtype}; load it with stylelib.tiling.load_uint8(path)"
            )
        array = source  # used as it is, never written to: no copy of a large image
    elif isinstance(source, torch.Tensor):
        x = source[0] if source.ndim == 4 else source
        array = (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
        array = array.cpu().numpy().copy()
    elif isinstance(source, Image.Image):
        array = _pil_uint8(source, max_pixels, "PIL image")
    else:
        array = _path_uint8(Path(source).expanduser(), max_pixels)
    if size is not None:
        array = resize_uint8(array, size, max_pixels=max_pixels)
    return array


def _path_uint8(path: Path, max_pixels: int) -> np.ndarray:
    previous = Image.MAX_IMAGE_PIXELS
    try:
        # PIL's own guard (89 Mpx) would warn or refuse at open; ours is checked from the
        # header in _pil_uint8, before anything is decoded.
        Image.MAX_IMAGE_PIXELS = max(previous or 0, max_pixels)
        return open_image_file(path, max_pixels, _pil_uint8)
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _pil_uint8(img: Image.Image, max_pixels: int, what: str) -> np.ndarray:
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(
            f"{what} has {w}x{h} = {w * h:,} pixels, more than the tiled limit of "
            f"{max_pixels:,} (TILED_MAX_PIXELS, decompression-bomb guard); resize it first"
        )
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        gray = np.asarray(img).astype(np.uint32) // 257
        return np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA", "P") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("RGB")).copy()


def resize_uint8(
    array: np.ndarray,
    size: int | None = None,
    *,
    shape: tuple[int, int] | None = None,
    max_pixels: int = TILED_MAX_PIXELS,
) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 array to a long side of ``size`` px, or to ``shape``
    ``(H', W')`` exactly (PIL's Lanczos, antialiased); the array itself when nothing changes."""
    h, w = array.shape[:2]
    if shape is None:
        shape = (max(1, round(h * size / max(h, w))), max(1, round(w * size / max(h, w))))
    if shape[0] * shape[1] > max_pixels:
        raise ImageError(
            f"resizing to {shape[0]:,}x{shape[1]:,} px gives {shape[0] * shape[1]:,} pixels, "
            f"more than the tiled limit of {max_pixels:,}; choose a smaller size"
        )
    if tuple(shape) == (h, w):
        return array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pil = Image.fromarray(array).resize(shape[::-1], Image.Resampling.LANCZOS)
        return np.asarray(pil).copy()


def to_uint8(x: torch.Tensor, rows: int = 256, out: np.ndarray | None = None) -> np.ndarray:
    """A float image ``(1, 3, H, W)`` in [0, 1] as an ``(H, W, 3)`` uint8 array, made a band
    of ``rows`` at a time (no full-size float temporary); written into ``out`` when given
    (a loop that keeps its best image reuses one array instead of allocating one per step)."""
    _, _, h, w = x.shape
    if out is None:
        out = np.empty((h, w, 3), np.uint8)
    for r in range(0, h, rows):
        band = x[0, :, r : r + rows].detach().cpu().clamp(0, 1).mul(255).round_()
        out[r : r + rows] = band.to(torch.uint8).permute(1, 2, 0).numpy()
    return out


def from_uint8(image: np.ndarray) -> torch.Tensor:
    """An ``(H, W, 3)`` uint8 array as a new float32 image ``(1, 3, H, W)``, a channel at a
    time (the one float copy an optimised image needs)."""
    h, w, _ = image.shape
    x = torch.empty(1, 3, h, w)
    for c in range(3):
        x[0, c] = torch.from_numpy(np.ascontiguousarray(image[..., c])).float().div_(255.0)
    return x


def save_uint8(
    array: np.ndarray,
    path: str | os.PathLike,
    *,
    inputs: tuple | list = (),
    overwrite: bool = False,
) -> Path:
    """Save an ``(H, W, 3)`` uint8 array atomically, as :func:`stylelib.images.save_image` does
    (the format from the suffix; an input or, unless ``overwrite``, an existing file is kept)."""
    target = check_output_path(path, inputs=inputs, overwrite=overwrite)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pil = Image.fromarray(np.ascontiguousarray(array))
    return write_pil(pil, target, overwrite=overwrite)
