"""The video lesson's clips and figures: known motion, flicker made visible, flow and masks.

Clips with known motion, made from a built-in photo, so that the true flow and the truly
uncovered pixels are known exactly (the tests' own clips live in ``tests/video_clips.py``):
:func:`pan_clip` (a camera sliding by whole pixels: every frame is an exact crop) and
:func:`occluder_clip` (a textured square moving over a still photo). :func:`stylise_clip`
runs a per-frame stylisation, or a method that looks back (:class:`stylelib.video.Blend`,
:class:`stylelib.video.GatysVideo`), over a clip as ``stylelib video`` does, and
:func:`warping_errors` measures each consecutive pair (Lai et al. 2018,
:func:`stylelib.flow.warping_error`), :func:`mean_change` the same change in absolute terms.

Figures (each a ``matplotlib.figure.Figure`` outside pyplot, as in :mod:`stylelib.figures`):
:func:`flicker_strip` (frames, stylised frames, their plain and motion-compensated
differences), :func:`plot_warping_errors` (the error over time, one line per method),
:func:`methods_strip` (methods side by side) and :func:`flow_panel` (a pair, its flow as
colour with the colour key, the consistency mask, the truth).

Example:
    >>> from stylelib.data import content_image
    >>> from stylelib.flow import in_frame
    >>> frames, flow = pan_clip(content_image("chelsea", size=160), 3, (48, 64))
    >>> len(frames), tuple(frames[0].shape), flow[0, :, 0, 0].tolist()
    (3, (1, 3, 48, 64), [3.0, 1.0])
    >>> [round(e, 9) for e in warping_errors(frames, flow, in_frame(flow))]  # exact crops
    [0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from . import flow as flows
from .demo import _threads_for
from .figures import _figure, _image_panel, _wrap
from .images import to_numpy

UNRELIABLE = (0.25, 0.35, 0.75)  # colour of the pixels a flicker map does not compare


# --------------------------------------------------------------------------- clips


def pan_clip(
    photo: Tensor, frames: int, size: tuple[int, int], step: tuple[int, int] = (3, 1)
) -> tuple[list[Tensor], Tensor]:
    """A camera sliding over ``photo`` by ``step`` = (dx, dy) whole pixels per frame.

    Each frame is an exact crop, so the true backward flow (frame t to t-1, the convention of
    :mod:`stylelib.flow`) is ``(dx, dy)`` at every pixel and ``warp(frame[t-1], flow)``
    equals ``frame[t]`` wherever the source lies inside the frame
    (:func:`stylelib.flow.in_frame`).

    Returns:
        ``frames`` images ``(1, 3, H, W)`` and the true backward flow ``(1, 2, H, W)``.
    """
    (h, w), (dx, dy) = size, step
    need = (h + dy * (frames - 1), w + dx * (frames - 1))
    if dx < 0 or dy < 0 or photo.shape[-2] < need[0] or photo.shape[-1] < need[1]:
        raise ValueError(
            f"a pan of {frames} frames of {h} x {w} by {step} px needs a photo of at least "
            f"{need[0]} x {need[1]} and a step of whole non-negative pixels; got "
            f"{tuple(photo.shape[-2:])} and {step}"
        )
    clip = [photo[..., dy * t : dy * t + h, dx * t : dx * t + w] for t in range(frames)]
    flow = torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(1, 2, h, w)
    return [f.contiguous() for f in clip], flow.contiguous()


def occluder_clip(
    photo: Tensor, frames: int, size: tuple[int, int], side: int = 40, step: int = 6
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """A square of ``side`` px, a patch of ``photo`` upside down, moving right by ``step`` px
    a frame over a still crop of ``photo`` (textured, so that a flow method can track it).

    Returns:
        ``(frames, flows, uncovered)``: the images, the T-1 true backward flows (``(-step,
        0)`` on the square, 0 elsewhere) and the T-1 masks ``(1, 1, H, W)`` that are 1 where
        frame t shows background the square hid in frame t-1.
    """
    h, w = size
    left = w // 6
    top = (h - side) // 2
    too_small = photo.shape[-2] < h or photo.shape[-1] < w
    if too_small or left + side + step * (frames - 1) > w or side > h:
        raise ValueError(
            f"{frames} frames of a {side} px square moving {step} px need a photo of at least "
            f"{h} x {w}, with room for the square; got {tuple(photo.shape[-2:])}"
        )
    background = photo[..., :h, :w]
    patch = photo[..., top : top + side, w - side : w].flip(-2)  # upside down: not background

    def square(t: int) -> Tensor:
        m = torch.zeros(1, 1, h, w)
        m[..., top : top + side, left + step * t : left + step * t + side] = 1
        return m

    clip = []
    for t in range(frames):
        frame = background.clone()
        frame[..., top : top + side, left + step * t : left + step * t + side] = patch
        clip.append(frame)
    zero = torch.zeros(1, 1, h, w)
    moved = [torch.cat((-step * square(t), zero), 1) for t in range(1, frames)]
    uncovered = [square(t - 1) * (1 - square(t)) for t in range(1, frames)]
    return clip, moved, uncovered


def rounded(image: Tensor) -> Tensor:
    """As ``stylelib video`` stores a finished frame: clamped to [0, 1], 8 bits."""
    return (image.detach().cpu().clamp(0, 1) * 255).round() / 255


def stylise_clip(step: Callable, frames: Sequence[Tensor], *, look_back: bool) -> list[Tensor]:
    """``step`` over the frames as ``stylelib video`` runs it: each output rounded to 8 bits
    before the next frame reads it; ``look_back``: ``step(frame, previous frame, previous
    output)`` (:class:`stylelib.video.Blend`, :class:`~stylelib.video.GatysVideo`), else
    ``step(frame)``. Small frames on a CPU run on one thread, as :mod:`stylelib.demo`'s do
    (on a busy two-core machine a second thread made 20 Gatys steps on 40 x 56 frames 8
    times slower: 44 s against 5 s, measured)."""
    outputs: list[Tensor] = []
    for t, frame in enumerate(frames):
        with _threads_for(frame):
            if look_back:
                previous = (frames[t - 1], outputs[-1]) if t else (None, None)
                outputs.append(rounded(step(frame, *previous)))
            else:
                outputs.append(rounded(step(frame)))
    return outputs


def warping_errors(
    frames: Sequence[Tensor], flow: Tensor | Sequence[Tensor], mask: Tensor | Sequence[Tensor]
) -> list[float]:
    """The warping error of each consecutive pair: ``[e(1, 0), e(2, 1), ...]``.

    ``flow`` and ``mask`` are one tensor for every pair (a pan) or one per pair.
    """
    flow, mask = _per_pair(len(frames) - 1, flow, mask)
    return [
        flows.warping_error(frames[t + 1], frames[t], f, m).item()
        for t, (f, m) in enumerate(zip(flow, mask, strict=True))
    ]


def _per_pair(n: int, flow, mask) -> tuple[list[Tensor], list[Tensor]]:
    """``n`` flows and masks from one tensor each (used for every pair) or from lists."""
    flow = [flow] * n if isinstance(flow, Tensor) else list(flow)
    mask = [mask] * n if isinstance(mask, Tensor) else list(mask)
    if len(flow) != n or len(mask) != n:
        raise ValueError(f"{n + 1} frames need {n} flows and masks; got {len(flow)}, {len(mask)}")
    return flow, mask


def mean_change(
    frames: Sequence[Tensor], flow: Tensor | Sequence[Tensor], mask: Tensor | Sequence[Tensor]
) -> float:
    """The mean ``|t − warped (t−1)|`` over the reliable values, averaged over the pairs.

    The warping error's absolute counterpart, in the units of a pixel value (0 to 1): how
    much a frame changes beyond the motion, comparable with ``mean |a − b|`` of two
    versions of one frame (how much a method changed its look).
    """
    flow, mask = _per_pair(len(frames) - 1, flow, mask)
    total = 0.0
    for t, (f, m) in enumerate(zip(flow, mask, strict=True)):
        diff = (frames[t + 1] - flows.warp(frames[t], f)).abs() * m
        total += (diff.sum() / m.expand_as(diff).sum().clamp(min=1)).item()
    return total / len(flow)


# --------------------------------------------------------------------------- pictures


def flicker_map(
    current: Tensor,
    previous: Tensor,
    flow: Tensor | None = None,
    mask: Tensor | None = None,
    gain: float = 4.0,
) -> Tensor:
    """``|current - previous|`` as a grey picture, times ``gain``: bright where it changed.

    With ``flow``, ``previous`` is warped onto ``current`` first, so the motion itself is
    gone and what stays is what changed beyond it; pixels where ``mask`` is 0 (no reliable
    flow) are painted :data:`UNRELIABLE` (blue).

    Returns:
        ``(1, 3, H, W)`` in [0, 1].
    """
    before = previous if flow is None else flows.warp(previous, flow)
    grey = (current - before).abs().mean(1, keepdim=True).mul(gain).clamp(0, 1)
    picture = grey.expand(-1, 3, -1, -1)
    if mask is not None:
        blue = torch.tensor(UNRELIABLE, dtype=picture.dtype).view(1, 3, 1, 1)
        picture = torch.where(mask > 0.5, picture, blue)
    return picture.detach().cpu()


def image_rows(
    rows: Sequence[Sequence[Tensor]],
    *,
    row_titles: Sequence[str] | None = None,
    col_titles: Sequence[str],
    title: str,
    width: float = 2.4,
):
    """Rows of images, column titles on top, row titles on the left, each row as tall as its
    frames' aspect asks (landscape frames leave no empty bands, as square panels would).

    Args:
        rows: rows of equal length, images ``(1, 3, H, W)`` in [0, 1] (sizes may differ).
        row_titles: one per row (or None).
        col_titles: one per column.
        title: the figure's title.
        width: inches per panel.
    """
    rows = [list(r) for r in rows]
    ncols = len(col_titles)
    if not rows or any(len(r) != ncols for r in rows):
        raise ValueError(
            f"need rows of {ncols} images, one per column title; got rows of "
            f"{[len(r) for r in rows]}"
        )
    aspect = [max(im.shape[-2] / im.shape[-1] for im in row) for row in rows]
    height = sum(width * a + 0.08 for a in aspect) + 0.7 + 0.3 * title.count("\n")
    fig, axes = _figure(len(rows), ncols, ncols * width + 0.4 * bool(row_titles), height, title)
    fig.get_layout_engine().set(hspace=0.02, wspace=0.02)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            ax = axes[i, j]
            _image_panel(ax, to_numpy(image))
            if i == 0:
                ax.set_title(_wrap(col_titles[j], width, 10.0))
            if j == 0 and row_titles:
                ax.set_ylabel(row_titles[i])
    return fig


def _evenly(count: int, n: int) -> list[int]:
    """Up to ``n`` indices of pairs 1 .. count-1, evenly spread."""
    pairs = list(range(1, count))
    if len(pairs) <= n:
        return pairs
    return [pairs[round(i * (len(pairs) - 1) / (n - 1))] for i in range(n)]


def flicker_strip(
    inputs: Sequence[Tensor],
    outputs: Sequence[Tensor],
    flow: Tensor,
    mask: Tensor,
    *,
    title: str,
    columns: int = 5,
    gain: float = 4.0,
    size: float = 2.2,
):
    """Four rows over a few frames t: the input, the stylised frame, ``|t - (t-1)|`` and
    ``|t - warped (t-1)|`` of the stylised frames (``gain`` times; blue: not compared).

    ``flow`` and ``mask`` are the clip's backward flow and reliability mask (one for every
    pair: a pan).
    """
    shown = _evenly(len(outputs), columns)
    rows = [
        [inputs[t] for t in shown],
        [outputs[t] for t in shown],
        [flicker_map(outputs[t], outputs[t - 1], gain=gain) for t in shown],
        [flicker_map(outputs[t], outputs[t - 1], flow, mask, gain) for t in shown],
    ]
    return image_rows(
        rows,
        row_titles=["input", "stylised", f"|t − (t−1)| ×{gain:g}", f"|t − warped| ×{gain:g}"],
        col_titles=[f"frame {t}" for t in shown],
        title=title,
        width=size,
    )


def methods_strip(
    results: Mapping[str, Sequence[Tensor]],
    flow_of: Mapping[str, Tensor],
    mask_of: Mapping[str, Tensor],
    *,
    title: str,
    frame: int = -1,
    gain: float = 4.0,
    size: float = 2.4,
):
    """Methods side by side: each one's frame t (top) and ``|t - warped (t-1)|`` (bottom).

    Args:
        results: method name -> its stylised frames (methods may differ in frame size).
        flow_of: method name -> the backward flow of its clip (one for every pair).
        mask_of: method name -> the reliability mask of its clip.
        frame: which frame t (default: the last).
    """
    names = list(results)
    tops, bottoms = [], []
    for name in names:
        out = results[name]
        t = frame % len(out)
        tops.append(out[t])
        bottoms.append(flicker_map(out[t], out[t - 1], flow_of[name], mask_of[name], gain))
    return image_rows(
        [tops, bottoms],
        row_titles=["frame t", f"|t − warped| ×{gain:g}"],
        col_titles=names,
        title=title,
        width=size,
    )


def plot_warping_errors(
    curves: Mapping[str, Sequence[float]], *, title: str, log: bool | None = None
):
    """The warping error of each pair over time, one line per method.

    ``log``: a logarithmic y axis; by default when every value is positive and they span
    more than a factor 20 (methods a hundred times apart stay readable).
    """
    from matplotlib.ticker import MaxNLocator

    if not curves:
        raise ValueError("curves is empty; give {method: [error of pair 1, pair 2, ...]}")
    fig, axes = _figure(1, 1, 7.0, 3.6, title)
    ax = axes[0, 0]
    for name, errors in curves.items():
        ax.plot(range(1, len(errors) + 1), list(errors), marker="o", markersize=3, label=name)
    values = [v for errors in curves.values() for v in errors]
    if log is None:
        log = min(values) > 0 and max(values) > 20 * min(values)
    if log:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("frame t (against frame t − 1)")
    ax.set_ylabel("warping error" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    if ax.get_yscale() != "log":
        ax.set_ylim(bottom=0)
    ax.legend()
    return fig


def flow_image(flow: Tensor) -> Tensor:
    """A flow ``(1, 2, H, W)`` as colour (torchvision's ``flow_to_image``): the hue is the
    direction, the saturation the length relative to the longest vector; white is still."""
    from torchvision.utils import flow_to_image

    return flow_to_image(flow.detach().float().cpu()).float() / 255


def colour_key(side: int = 65) -> Tensor:
    """:func:`flow_image` of every direction and length up to 1, a disc: the legend."""
    r = torch.linspace(-1, 1, side)
    y, x = torch.meshgrid(r, r, indexing="ij")
    inside = (x**2 + y**2 <= 1).float()
    field = torch.stack((x, y))[None] * inside  # lengths up to 1 at the rim
    return flow_image(field) * inside + (1 - inside)


def flow_panel(
    previous: Tensor,
    current: Tensor,
    flow: Tensor,
    mask: Tensor,
    truth: Tensor | None = None,
    *,
    title: str,
    size: float = 2.4,
):
    """One pair and what the flow says about it, in a row: frame t-1, frame t, the backward
    flow as colour (its key inset), where the reliability mask is 0 (white) and, given
    ``truth``, the truly uncovered pixels (white)."""
    panels = [(previous, "frame t−1"), (current, "frame t"), (flow_image(flow), "flow t → t−1")]
    panels.append(((1 - mask).expand(-1, 3, -1, -1), "unreliable (mask 0)"))
    if truth is not None:
        panels.append((truth.expand(-1, 3, -1, -1), "truly uncovered"))
    h, w = current.shape[-2:]
    images, labels = zip(*panels, strict=True)
    fig = image_rows([images], col_titles=labels, title=title, width=size)
    for ax in fig.axes[2:]:  # white on white: outline the flow and the masks
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_edgecolor("0.6")
    key = fig.axes[2].inset_axes((0.7, 0.0, 0.3, 0.3 * w / h))
    _image_panel(key, to_numpy(colour_key()))
    return fig


__all__ = [
    "pan_clip",
    "occluder_clip",
    "rounded",
    "stylise_clip",
    "warping_errors",
    "mean_change",
    "flicker_map",
    "flicker_strip",
    "methods_strip",
    "plot_warping_errors",
    "flow_image",
    "colour_key",
    "flow_panel",
    "image_rows",
]
