"""stylelib.checks.video: wrong and right answers to lesson 08's warping error.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept: grid_sample with either pixel grid, bilinear interpolation
written out with gather (no grid_sample), a loop over the pairs, and the library's own code
loaded from another file (the same arithmetic, not the library's function).
"""

from __future__ import annotations

import importlib.util
import inspect

import pytest
import torch
import torch.nn.functional as F
from helpers import catalogue_tests

from stylelib import checks, flow
from stylelib.checks import video as MODULE

CATALOGUE: dict = {}


def _pixels(flow_):
    _, _, h, w = flow_.shape
    return torch.meshgrid(
        torch.arange(h, dtype=flow_.dtype, device=flow_.device),
        torch.arange(w, dtype=flow_.dtype, device=flow_.device),
        indexing="ij",
    )


def _warp(previous, flow_, *, align=True, mode="bilinear", swap=False, sign=1.0):
    """grid_sample at p + sign·flow(p); ``align``: the grid of align_corners=True."""
    _, _, h, w = flow_.shape
    ys, xs = _pixels(flow_)
    u, v = (flow_[:, 1], flow_[:, 0]) if swap else (flow_[:, 0], flow_[:, 1])
    x, y = xs + sign * u, ys + sign * v
    if align:
        grid = torch.stack((2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1), dim=-1)
    else:
        grid = torch.stack(((2 * x + 1) / w - 1, (2 * y + 1) / h - 1), dim=-1)
    return F.grid_sample(previous, grid, mode=mode, align_corners=align)


def _lai(warped, frame, mask):
    diff = (warped - frame) * mask
    counted = mask.expand_as(diff).sum(dim=(1, 2, 3))
    total = diff.pow(2).sum(dim=(1, 2, 3))
    return torch.where(counted > 0, total / counted.clamp(min=1), torch.zeros_like(total)).mean()


# Right answers ----------------------------------------------------------------------------------


def warping_grid_sample(frame, previous, flow, mask):
    """The lesson's solution: grid_sample with align_corners=True."""
    return _lai(_warp(previous, flow), frame, mask)


def warping_pixel_centres(frame, previous, flow, mask):
    """align_corners=False with its own grid, (2x + 1)/W − 1; diff² weighted by the 0/1 mask."""
    warped = _warp(previous, flow, align=False)
    squared = ((warped - frame) ** 2 * mask).flatten(1).sum(1)
    counted = mask.flatten(1).sum(1) * frame.shape[1]
    return (squared / counted.clamp(min=1)).mean()


def warping_gather(frame, previous, flow, mask):
    """Bilinear interpolation written out: the four neighbours by gather, no grid_sample."""
    b, c, h, w = previous.shape
    ys, xs = _pixels(flow)
    x = (xs + flow[:, 0]).clamp(0, w - 1)  # the mask is 0 where the source leaves the frame
    y = (ys + flow[:, 1]).clamp(0, h - 1)
    x0, y0 = x.floor().long().clamp(max=w - 2), y.floor().long().clamp(max=h - 2)
    fx, fy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)
    flat = previous.flatten(2)

    def at(yy, xx):
        index = (yy * w + xx).flatten(1).unsqueeze(1).expand(b, c, h * w)
        return flat.gather(2, index).view(b, c, h, w)

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return _lai(top * (1 - fy) + bottom * fy, frame, mask)


def warping_plain_where(frame, previous, flow, mask):
    """torch.where(N > 0, Σ/N, 0) without clamping N: right values (its NaN gradient at
    N = 0 is not graded)."""
    diff = (_warp(previous, flow) - frame) * mask
    n = mask.expand_as(diff).sum(dim=(1, 2, 3))
    return torch.where(n > 0, diff.pow(2).sum(dim=(1, 2, 3)) / n, 0.0).mean()


def warping_pair_by_pair(frame, previous, flow, mask):
    """One pair at a time, then the mean of the pairs' errors."""
    errors = []
    for i in range(frame.shape[0]):
        one = slice(i, i + 1)
        warped = _warp(previous[one], flow[one])
        diff = (warped - frame[one]) * mask[one]
        n = mask[one].sum() * frame.shape[1]
        errors.append(torch.where(n > 0, diff.pow(2).sum() / n.clamp(min=1), 0 * n))
    return torch.stack(errors).mean()


def library_copy(tmp_path_factory):
    """stylelib.flow's own code, loaded from another file: the same arithmetic, not the
    library's functions (which the check refuses as answers)."""
    path = tmp_path_factory.mktemp("copy") / "my_flow.py"
    path.write_text(inspect.getsource(flow))
    spec = importlib.util.spec_from_file_location("my_flow", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Wrong answers ----------------------------------------------------------------------------------


def warping_library(frame, previous, flow_, mask):
    return flow.warping_error(frame, previous, flow_, mask)


def warping_library_warp(frame, previous, flow_, mask):
    return _lai(flow.warp(previous, flow_), frame, mask)


def warping_no_mask(frame, previous, flow, mask):
    return ((_warp(previous, flow) - frame) ** 2).mean()


def warping_all_values(frame, previous, flow, mask):
    diff = (_warp(previous, flow) - frame) * mask
    return (diff.pow(2).flatten(1).sum(1) / diff[0].numel()).mean()


def warping_pixels_not_values(frame, previous, flow, mask):
    diff = (_warp(previous, flow) - frame) * mask
    return (diff.pow(2).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)).mean()


def warping_no_warp(frame, previous, flow, mask):
    return _lai(previous, frame, mask)


def warping_current_frame(frame, previous, flow, mask):
    return _lai(_warp(frame, flow), previous, mask)


def warping_forward(frame, previous, flow, mask):
    return _lai(_warp(previous, flow, sign=-1.0), frame, mask)


def warping_swapped_xy(frame, previous, flow, mask):
    return _lai(_warp(previous, flow, swap=True), frame, mask)


def warping_align_default(frame, previous, flow, mask):
    """The align_corners=True grid, but grid_sample's default align_corners=False."""
    _, _, h, w = flow.shape
    ys, xs = _pixels(flow)
    grid = torch.stack(
        (2 * (xs + flow[:, 0]) / (w - 1) - 1, 2 * (ys + flow[:, 1]) / (h - 1) - 1), dim=-1
    )
    return _lai(F.grid_sample(previous, grid, align_corners=False), frame, mask)


def warping_grid_by_width(frame, previous, flow, mask):
    _, _, h, w = flow.shape
    ys, xs = _pixels(flow)
    grid = torch.stack((2 * (xs + flow[:, 0]) / w - 1, 2 * (ys + flow[:, 1]) / h - 1), dim=-1)
    return _lai(F.grid_sample(previous, grid, align_corners=True), frame, mask)


def warping_nearest(frame, previous, flow, mask):
    return _lai(_warp(previous, flow, mode="nearest"), frame, mask)


def warping_sum(frame, previous, flow, mask):
    return ((_warp(previous, flow) - frame) * mask).pow(2).sum(dim=(1, 2, 3)).mean()


def warping_pairs_added(frame, previous, flow, mask):
    diff = (_warp(previous, flow) - frame) * mask
    return (
        diff.pow(2).sum(dim=(1, 2, 3)) / mask.expand_as(diff).sum(dim=(1, 2, 3)).clamp(min=1)
    ).sum()


def warping_rmse(frame, previous, flow, mask):
    return _lai(_warp(previous, flow), frame, mask).sqrt()


def warping_abs(frame, previous, flow, mask):
    diff = ((_warp(previous, flow) - frame) * mask).abs()
    return (diff.sum(dim=(1, 2, 3)) / mask.expand_as(diff).sum(dim=(1, 2, 3)).clamp(min=1)).mean()


def warping_one_batch_mean(frame, previous, flow, mask):
    diff = (_warp(previous, flow) - frame) * mask
    return diff.pow(2).sum() / mask.expand_as(diff).sum()


def warping_nan_without_reliable_pixels(frame, previous, flow, mask):
    diff = (_warp(previous, flow) - frame) * mask
    return (diff.pow(2).sum(dim=(1, 2, 3)) / mask.expand_as(diff).sum(dim=(1, 2, 3))).mean()


def warping_per_pair(frame, previous, flow, mask):
    diff = (_warp(previous, flow) - frame) * mask
    return diff.pow(2).sum(dim=(1, 2, 3)) / mask.expand_as(diff).sum(dim=(1, 2, 3)).clamp(min=1)


def warping_map(frame, previous, flow, mask):
    return ((_warp(previous, flow) - frame) * mask) ** 2


def warping_in_place(frame, previous, flow, mask):
    frame.data.mul_(mask)
    return _lai(_warp(previous, flow) * mask, frame, mask)


def warping_detached_frame(frame, previous, flow, mask):
    return _lai(_warp(previous, flow), frame.detach(), mask)


def warping_grid_on_the_cpu(frame, previous, flow, mask):
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype), indexing="ij"
    )
    grid = torch.stack(
        (2 * (xs + flow[:, 0]) / (w - 1) - 1, 2 * (ys + flow[:, 1]) / (h - 1) - 1), dim=-1
    )
    return _lai(F.grid_sample(previous, grid, align_corners=True), frame, mask)


CATALOGUE["warping_error"] = (
    checks.check_warping_error,
    {},
    [
        (warping_library, "the library's own answer"),
        (warping_library_warp, "the library's own answer"),
        (warping_no_mask, "you forgot the mask"),
        (warping_all_values, "divide by all values"),
        (warping_pixels_not_values, "number of reliable pixels, not values"),
        (warping_no_warp, "warp it first"),
        (warping_current_frame, "you warp the current frame"),
        (warping_forward, "−flow"),
        (warping_swapped_xy, "x and y are swapped"),
        (warping_align_default, "runs with align_corners=False"),
        (warping_grid_by_width, "2x/W − 1"),
        (warping_nearest, "nearest pixel"),
        (warping_sum, "sum of the squared differences"),
        (warping_pairs_added, "add up the pairs' errors"),
        (warping_rmse, "square root"),
        (warping_abs, "|diff|"),
        (warping_one_batch_mean, "one mean over the whole batch"),
        (warping_nan_without_reliable_pixels, "division by zero"),
        (warping_per_pair, "one error per pair"),
        (warping_map, "a map of differences"),
        (warping_in_place, "in place"),
        (warping_detached_frame, "wrong gradient with respect to frame"),
        (warping_grid_on_the_cpu, "tensor on the CPU"),
    ],
    [
        warping_grid_sample,
        warping_pixel_centres,
        warping_gather,
        warping_plain_where,
        warping_pair_by_pair,
    ],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


def test_the_library_formula_passes_its_own_check(tmp_path_factory, capsys):
    own = library_copy(tmp_path_factory)
    checks.check_warping_error(own.warping_error)
    assert "✓ warping_error (Lai et al. 2018): correct on 4 inputs" in capsys.readouterr().out


def test_the_inputs_are_what_the_docstring_promises():
    """Masks of 0 and 1, 0 wherever the source leaves the frame, and one pair with none."""
    empties = 0
    for index, (case, dtype) in enumerate(MODULE.CASES):
        frame, previous, flow_, mask = MODULE._make(case, dtype, 2016 + index, False)
        assert frame.dtype == previous.dtype == flow_.dtype == mask.dtype == dtype
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        assert (mask <= flow.in_frame(flow_)).all()
        assert frame.min() < 0 and frame.max() > 1  # not only image values
        assert frame.shape[-1] != frame.shape[-2]
        reliable = mask.flatten(1).sum(1)
        assert (reliable[:-1] > 0).all()
        empties += int(reliable[-1] == 0)
        assert (reliable[-1] == 0) == case[1]
    assert empties == 1


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_padding_does_not_matter_where_the_mask_is_0(padding, capsys):
    """Either padding is right: the check's masks hide every source outside the frame."""

    def answer(frame, previous, flow_, mask):
        return _lai(
            F.grid_sample(previous, _grid_of(flow_), padding_mode=padding, align_corners=True),
            frame,
            mask,
        )

    checks.check_warping_error(answer)
    assert capsys.readouterr().out.startswith("✓ warping_error")


def _grid_of(flow_):
    _, _, h, w = flow_.shape
    ys, xs = _pixels(flow_)
    return torch.stack(
        (2 * (xs + flow_[:, 0]) / (w - 1) - 1, 2 * (ys + flow_[:, 1]) / (h - 1) - 1), dim=-1
    )
