"""Checks of lesson 08's exercise: the warping error (Lai et al., ECCV 2018).

The student writes ``warping_error(frame, previous, flow, mask)``: stylised frame t against
stylised frame t-1 warped onto it along the backward flow, over the reliable pixels,

    warped(p) = previous(p + flow(p))  (bilinear),   diff = (warped − frame) · mask,
    error = Σ diff² / N,   N = the reliable values (pixels × channels), per pair of frames,

then the mean over the batch's pairs; a pair with no reliable pixel counts 0. The check
compares it with :func:`stylelib.flow.warping_error` on seeded frames of several shapes (one
pair and batches, one and three channels, H ≠ W, float64 and float32), sub-pixel flows and
0/1 masks that are 0 wherever ``p + flow(p)`` leaves the frame (as a consistency mask is:
what is read there does not matter, so any padding is right), one pair of a batch with no
reliable pixel; and its gradient with respect to both frames (where every pair has reliable
pixels). It names the usual slips by recomputing each of them: no mask, the mean over all
values instead of the reliable ones, the count of pixels instead of values, no warping, the
current frame warped instead of the previous, the flow's sign or its x and y swapped, the
pixel grid of ``align_corners=False``, nearest-neighbour reading, a sum instead of a mean,
the square root (an RMSE), absolute instead of squared differences, the pairs' errors
added, and one mean over the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib import flow as library  # the reference module: the answer may not call it
from stylelib.flow import in_frame, warp
from stylelib.flow import warping_error as reference

from .harness import Exercise, check_exercise

FORBID = (library,)
DEFINITION = (
    "diff = (warp(previous, flow) − frame) · mask, error = Σ diff² / N with N the reliable "
    "values (pixels × channels), per pair, then the mean over the batch"
)

# ((B, C, H, W), whether the last pair has no reliable pixel): one pair first, then batches;
# H ≠ W everywhere; a grey (C = 1) batch; B ≠ C where C = 3 (else B pairs added and C
# channels forgotten give one value); one float32 batch, whose last pair has no reliable
# pixel (its error is 0, not 0/0). The gradient is checked on the largest float64 batch,
# where every pair has reliable pixels: a torch.where(N > 0, Σ/N, 0) gives the right values
# with a NaN gradient at N = 0, a PyTorch subtlety this exercise does not grade.
CASES = [
    (((1, 3, 6, 8), False), torch.float64),
    (((4, 3, 7, 5), False), torch.float64),
    (((2, 1, 8, 6), False), torch.float64),
    (((3, 3, 6, 9), True), torch.float32),
]
# float32 timing input: two 256 x 320 frames; a Python loop over their 160,000 pixels takes
# far longer than harness.SLOW_SECONDS, grid_sample milliseconds.
TIMING = ((2, 3, 256, 320), False)


def _make(case, dtype, seed, grad):
    """Two frames with values beyond [0, 1], a sub-pixel flow of up to a few pixels, and a
    0/1 mask: about 70 % reliable, 0 where the source leaves the frame; with ``empty``, the
    last pair has no reliable pixel at all."""
    (b, c, h, w), empty = case
    generator = torch.Generator().manual_seed(seed)

    def draw(*size, scale=1.0, shift=0.0):
        return torch.randn(size, generator=generator, dtype=dtype) * scale + shift

    frame = draw(b, c, h, w, scale=0.6, shift=0.5)
    previous = draw(b, c, h, w, scale=0.6, shift=0.5)
    flow = draw(b, 2, h, w, scale=1.5)
    kept = torch.rand((b, 1, h, w), generator=generator, dtype=dtype) > 0.3
    mask = (kept & (in_frame(flow) > 0)).to(dtype)
    if empty:
        mask[-1] = 0
    return frame.requires_grad_(grad), previous.requires_grad_(grad), flow, mask


def _grid(flow: Tensor, align_corners: bool = True, swap: bool = False) -> Tensor:
    """grid_sample's grid for ``p + flow(p)``: the pixel grid of ``align_corners``, or the
    flow's channels taken as (y, x) with ``swap``."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype), indexing="ij"
    )
    u, v = (flow[:, 1], flow[:, 0]) if swap else (flow[:, 0], flow[:, 1])
    x, y = xs + u, ys + v
    if align_corners:
        return torch.stack((2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1), dim=-1)
    return torch.stack((2 * x / w - 1, 2 * y / h - 1), dim=-1)  # the slip: corners not aligned


def _counted(mask: Tensor, diff: Tensor) -> Tensor:
    """N of each pair: its reliable values (pixels × channels), or all values if none."""
    counted = mask.expand_as(diff).flatten(1).sum(1)
    return torch.where(counted > 0, counted, torch.full_like(counted, diff[0].numel()))


def _per_pair(diff: Tensor, mask: Tensor) -> Tensor:
    """Lai et al.'s Σ diff² / N for each pair."""
    return diff.pow(2).flatten(1).sum(1) / _counted(mask, diff)


# Where a wrong warp reads outside the frame, what it reads depends on grid_sample's padding
# (the right warp never reads there where the mask is 1): each such slip is made with both.
PADDINGS = ("zeros", "border")

_SWAPPED = (
    "x and y are swapped: flow channel 0 is the horizontal displacement u (added to x, the "
    "column), channel 1 the vertical v; grid_sample's grid is (x, y) too"
)
_UNALIGNED = (
    "your grid is scaled for align_corners=True (2x/(W−1) − 1) but grid_sample runs with "
    "align_corners=False: pass align_corners=True"
)
_BY_WIDTH = (
    "your grid puts pixel x at 2x/W − 1: with align_corners=True the first and last pixel "
    "centres are −1 and +1, so use 2x/(W−1) − 1 and 2y/(H−1) − 1"
)


def _wrong_warps(previous: Tensor, frame: Tensor, flow: Tensor, padding: str) -> list:
    """``(wrongly warped previous frame, the message)`` for the slips of the warp itself."""

    def read(image: Tensor, grid: Tensor, align: bool = True, mode: str = "bilinear"):
        return F.grid_sample(image, grid, mode=mode, padding_mode=padding, align_corners=align)

    return [
        (
            read(previous, _grid(-flow)),
            "you warp along −flow (as if it were the forward flow): the flow given is the "
            "backward flow of frame t, so read previous at p + flow(p)",
        ),
        (read(previous, _grid(flow, swap=True)), _SWAPPED),
        (read(previous, _grid(flow), align=False), _UNALIGNED),
        (read(previous, _grid(flow, align_corners=False), align=False), _BY_WIDTH),
        (read(previous, _grid(flow, align_corners=False)), _BY_WIDTH),
        (
            read(previous, _grid(flow), mode="nearest"),
            "you read the nearest pixel: the flow is sub-pixel, read bilinearly "
            "(grid_sample's default mode='bilinear')",
        ),
    ]


def _known(args) -> list[tuple[Tensor, str]]:
    """The usual wrong answers, computed, each with what to change."""
    frame, previous, flow, mask = (a.detach() for a in args)
    diff = (warp(previous, flow) - frame) * mask
    squared = diff.pow(2).flatten(1).sum(1)
    per_pair = _per_pair(diff, mask)
    pixels = mask.flatten(1).sum(1)
    pixels = torch.where(pixels > 0, pixels, torch.full_like(pixels, frame[0, 0].numel()))
    known = []
    for padding in PADDINGS:
        unmasked = (warp(previous, flow, padding=padding) - frame).pow(2).mean()
        known.append((unmasked, f"you forgot the mask: only reliable pixels count; {DEFINITION}"))
        current = (warp(frame, flow, padding=padding) - previous) * mask
        known.append(
            (
                _per_pair(current, mask).mean(),
                "you warp the current frame onto the previous one: the flow is frame t's "
                "backward flow (where each pixel of frame t was in frame t−1), so warp the "
                "previous frame by it, previous(p + flow(p)), and compare with frame",
            )
        )
        for warped, message in _wrong_warps(previous, frame, flow, padding):
            known.append((_per_pair((warped - frame) * mask, mask).mean(), message))
    return [
        *known,
        (
            (squared / diff[0].numel()).mean(),
            "you divide by all values (C·H·W) instead of the reliable ones: N is the number "
            f"of values where the mask is 1 (mask.expand_as(diff).sum()); {DEFINITION}",
        ),
        (
            (squared / pixels).mean(),
            "you divide by the number of reliable pixels, not values: each pixel has C "
            f"channels, so N = C × mask.sum() (or mask.expand_as(diff).sum()); {DEFINITION}",
        ),
        (
            _per_pair((previous - frame) * mask, mask).mean(),
            "you compare with the previous frame as it is: warp it first, previous(p + "
            "flow(p)), so that the motion itself is not counted",
        ),
        (
            squared.mean(),
            f"you return the sum of the squared differences, not their mean: {DEFINITION}",
        ),
        (
            per_pair.sum(),
            "you add up the pairs' errors: a batch of B pairs gives their mean (.mean())",
        ),
        *(
            (
                rmse,
                "you take the square root (an RMSE): the warping error is the mean squared "
                "difference itself, no root",
            )
            for rmse in (per_pair.sqrt().mean(), per_pair.mean().sqrt())
        ),
        (
            (diff.abs().flatten(1).sum(1) / _counted(mask, diff)).mean(),
            f"you use |diff|: square the differences; {DEFINITION}",
        ),
        (
            diff.pow(2).sum() / mask.expand_as(diff).sum().clamp(min=1),
            "one mean over the whole batch: pairs with more reliable pixels weigh more; "
            f"compute each pair's error, then average the pairs; {DEFINITION}",
        ),
    ]


def _shape_hint(got: tuple, args) -> str | None:
    frame = args[0]
    b = frame.shape[0]
    if got == (b,):
        return f"it returns one error per pair, shape {got}: average them (.mean())"
    if got == tuple(frame.shape) or got == (b, 1, *frame.shape[-2:]):
        return (
            f"it returns shape {got}, a map of differences: the warping error is one number, "
            f"{DEFINITION}"
        )
    return f"it returns shape {got}: the warping error is a 0-d tensor, {DEFINITION}"


def check_warping_error(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(frame, previous, flow, mask) -> 0-d tensor``: Lai et al.'s warping error.

    Against :func:`stylelib.flow.warping_error` (which the answer may not call, nor anything
    else of :mod:`stylelib.flow`), values on every case and gradients with respect to both
    frames (the flow and the mask are data).
    """
    ex = Exercise(
        "warping_error",
        "warping_error (Lai et al. 2018)",
        ("frame", "previous", "flow", "mask"),
        _make,
        lambda frame, previous, flow, mask: reference(frame, previous, flow, mask),
        CASES,
        TIMING,
        known=_known,
        shape_hint=_shape_hint,
        forbid=FORBID,
        hard=False,  # the frames already go beyond [0, 1]; stretching a 0/1 mask breaks it
    )
    check_exercise(fn, ex)


__all__ = ["check_warping_error"]
