"""stylelib.flow: flow against clips with known motion, warping, masks, the warping error.

Oracles: the true flows and hidden regions of ``tests/video_clips.py`` (a pan, a zoom, a
moving square, all made from one photo); closed forms (a linear ramp warps exactly, an
integer pan reproduces the next frame, a consistent clip has no warping error); explicit
per-pixel loops for bilinear warping and for Ruder's two inequalities; float64 gradcheck.

Measured on this machine (96 x 128 px, 8 px from the borders, on pixels not hidden in the
previous frame), mean end-point error in px, DIS / Farnebäck: integer pan (2, 1) 0.03 /
0.005, sub-pixel pan (1.5, 0.5) 0.07 / 0.04, zoom x1.04 0.10 / 0.14, flat square moving 6 px
0.59 / 0.67 (the flat inside of the square carries no motion a flow method can see) and a
textured square 0.19 / 0.55. The thresholds below are about twice these.
"""

from __future__ import annotations

import math

import pytest
import torch
import video_clips as vc

from stylelib import flow
from stylelib.errors import WeightsError


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return ((values * mask).sum() / mask.sum()).item()


# --------------------------------------------------------------------------- warping


def bilinear_loop(image: torch.Tensor, flow_: torch.Tensor) -> torch.Tensor:
    """out(p) = image(p + flow(p)) by the textbook formula, sources clamped to the frame."""
    _, c, h, w = image.shape
    out = torch.zeros_like(image)
    for y in range(h):
        for x in range(w):
            sx = min(max(x + flow_[0, 0, y, x].item(), 0.0), w - 1.0)
            sy = min(max(y + flow_[0, 1, y, x].item(), 0.0), h - 1.0)
            x0, y0 = min(int(math.floor(sx)), w - 2), min(int(math.floor(sy)), h - 2)
            ax, ay = sx - x0, sy - y0
            top = (1 - ax) * image[0, :, y0, x0] + ax * image[0, :, y0, x0 + 1]
            bottom = (1 - ax) * image[0, :, y0 + 1, x0] + ax * image[0, :, y0 + 1, x0 + 1]
            out[0, :, y, x] = (1 - ay) * top + ay * bottom
    return out


def test_warp_matches_the_bilinear_formula():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 9, 11, generator=g, dtype=torch.float64)
    flow_ = (torch.rand(1, 2, 9, 11, generator=g, dtype=torch.float64) - 0.5) * 6
    torch.testing.assert_close(flow.warp(image, flow_), bilinear_loop(image, flow_))


def test_warp_of_a_linear_ramp_is_exact_for_a_subpixel_flow():
    """Bilinear interpolation reproduces a linear function: a + b x + c y moves exactly."""
    ys, xs = torch.meshgrid(torch.arange(40.0), torch.arange(50.0), indexing="ij")
    ramp = (0.1 + 0.01 * xs + 0.005 * ys).expand(1, 3, 40, 50).double()
    u, v = 1.3, -0.6
    shift = torch.tensor([u, v], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, 40, 50)
    expected = 0.1 + 0.01 * (xs + u) + 0.005 * (ys + v)
    inside = flow.in_frame(shift)[0, 0] > 0
    warped = flow.warp(ramp, shift)[0, 0]
    torch.testing.assert_close(warped[inside], expected[inside].double())


@pytest.mark.parametrize("make", [vc.pan, vc.occluder], ids=["pan", "occluder"])
def test_warping_the_previous_frame_by_the_true_flow_gives_the_current_one(make):
    """Integer motion: each visible pixel of frame t is a pixel of frame t-1 (exact up to the
    float32 rounding of grid_sample's normalised coordinates, ~1e-6)."""
    clip = make(frames=3)
    for t, (backward, hidden) in enumerate(zip(clip.flows, clip.hidden, strict=True), 1):
        warped = flow.warp(clip.frames[t - 1], backward)
        seen = (1 - hidden).expand_as(warped) > 0
        torch.testing.assert_close(warped[seen], clip.frames[t][seen], atol=1e-5, rtol=0)


def test_warp_gradcheck():
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 2, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    flow_ = torch.rand(1, 2, 6, 7, generator=g, dtype=torch.float64) * 2 + 0.25
    flow_.requires_grad_(True)  # sources between pixel centres, where the warp is smooth
    assert torch.autograd.gradcheck(flow.warp, (image, flow_))


def test_in_frame_marks_the_sources_outside():
    clip = vc.pan(frames=2, shift=(2.0, 1.0))
    inside = flow.in_frame(clip.flows[0])
    assert torch.equal(inside, 1 - clip.hidden[0])
    assert (inside == 0).sum() == 2 * 96 + 1 * 128 - 2  # the last 2 columns and last row


def test_warp_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="share batch, height and width"):
        flow.warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        flow.warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


# --------------------------------------------------------------------------- flow

EPE_LIMITS = {  # (clip, method) -> largest mean end-point error in px (measured x ~2)
    ("pan", "dis"): 0.1,
    ("pan", "farneback"): 0.05,
    ("subpixel_pan", "dis"): 0.15,
    ("subpixel_pan", "farneback"): 0.1,
    ("zoom", "dis"): 0.2,
    ("zoom", "farneback"): 0.3,
    ("textured_square", "dis"): 0.4,
    ("textured_square", "farneback"): 1.0,
}
CLIPS = {
    "pan": lambda: vc.pan(frames=2, shift=(2.0, 1.0)),
    "subpixel_pan": lambda: vc.pan(frames=2, shift=(1.5, 0.5)),
    "zoom": lambda: vc.zoom(frames=2, scale=1.04),
    "textured_square": lambda: vc.occluder(frames=2, textured=True),
}


@pytest.mark.parametrize(("clip", "method"), sorted(EPE_LIMITS))
def test_flow_end_point_error_is_small_away_from_borders(clip, method):
    c = CLIPS[clip]()
    backward = flow.compute_flow(c.frames[1], c.frames[0], method=method)
    assert backward.shape == (1, 2, 96, 128) and backward.dtype == torch.float32
    where = vc.interior() * (1 - c.hidden[0])
    epe = masked_mean(flow.endpoint_error(backward, c.flows[0]), where)
    assert epe < EPE_LIMITS[clip, method], f"{clip}/{method}: EPE {epe:.3f} px"


def test_the_forward_flow_points_the_other_way():
    c = vc.pan(frames=2, shift=(2.0, 1.0))
    forward = flow.compute_flow(c.frames[0], c.frames[1])
    assert masked_mean(flow.endpoint_error(forward, c.forwards[0]), vc.interior()) < 0.1


def test_flow_of_a_still_image_is_zero(image):
    for method in ("dis", "farneback"):
        assert flow.compute_flow(image, image, method=method).abs().max() < 0.05


def test_compute_flow_refuses_bad_input(image):
    with pytest.raises(ValueError, match="unknown flow method 'lk'"):
        flow.compute_flow(image, image, method="lk")
    with pytest.raises(ValueError, match="one shape"):
        flow.compute_flow(image, image[..., :32])


# --------------------------------------------------------------------------- masks


def reliable_loop(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """Ruder's two inequalities per pixel, the forward flow read bilinearly at p + w^(p)."""
    _, _, h, w = backward.shape
    padded = torch.nn.functional.pad(backward, (1, 1, 1, 1), mode="replicate")
    carried = bilinear_loop(forward, backward)
    out = torch.ones(1, 1, h, w, dtype=backward.dtype)
    for y in range(h):
        for x in range(w):
            u, v = backward[0, :, y, x].tolist()
            if not (0 <= x + u <= w - 1 and 0 <= y + v <= h - 1):
                out[0, 0, y, x] = 0
                continue
            cu, cv = carried[0, :, y, x].tolist()
            if (cu + u) ** 2 + (cv + v) ** 2 > 0.01 * (cu**2 + cv**2 + u**2 + v**2) + 0.5:
                out[0, 0, y, x] = 0
                continue
            dx = (padded[0, :, y + 1, x + 2] - padded[0, :, y + 1, x]) / 2
            dy = (padded[0, :, y + 2, x + 1] - padded[0, :, y, x + 1]) / 2
            if (dx**2).sum() + (dy**2).sum() > 0.01 * (u**2 + v**2) + 0.002:
                out[0, 0, y, x] = 0
    return out


def test_consistency_mask_matches_ruders_inequalities_pixel_by_pixel():
    g = torch.Generator().manual_seed(2)
    base = torch.nn.functional.interpolate(
        torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64) * 3, size=(10, 12)
    )  # blocky flows: flat parts, motion boundaries and disagreements
    backward = base
    forward = -base + (torch.rand(1, 2, 10, 12, generator=g, dtype=torch.float64) > 0.8) * 2
    mask = flow.consistency_mask(backward, forward)
    assert 0 < mask.mean() < 1
    torch.testing.assert_close(mask, reliable_loop(backward, forward))


def test_true_flows_of_a_pan_are_reliable_wherever_the_source_is_in_the_frame():
    c = vc.pan(frames=2, shift=(1.5, 0.5))
    mask = flow.consistency_mask(c.flows[0], c.forwards[0])
    assert torch.equal(mask, 1 - c.hidden[0])


def test_true_flows_of_a_square_mark_exactly_the_uncovered_strip_and_its_edges():
    """Unreliable: the 6 x 32 px strip the square uncovered (disoccluded) and the pixels
    whose central difference straddles the square's outline (motion boundaries)."""
    c = vc.occluder(frames=2)
    square = (c.flows[0][:, :1] != 0).double()
    padded = torch.nn.functional.pad(square, (1, 1, 1, 1), mode="replicate")
    edge = (padded[..., 1:-1, 2:] != padded[..., 1:-1, :-2]) | (
        padded[..., 2:, 1:-1] != padded[..., :-2, 1:-1]
    )
    expected = (1 - c.hidden[0]) * (1 - edge.float())
    mask = flow.consistency_mask(c.flows[0], c.forwards[0])
    assert torch.equal(mask, expected)
    assert c.hidden[0].sum() == 6 * 32


def test_a_zoom_trips_the_boundary_test_at_its_centre():
    """Ruder's 0.002 offset is absolute: a zoom x1.04 has |grad w|^2 = 2 (1/1.04 - 1)^2 =
    0.0030 everywhere, above 0.01 |w|^2 + 0.002 within ~8 px of the centre, where w is small."""
    c = vc.zoom(frames=2, scale=1.04)
    mask = flow.consistency_mask(c.flows[0], c.forwards[0])
    gradient = 2 * (1 / 1.04 - 1) ** 2
    centre = gradient > 0.01 * (c.flows[0] ** 2).sum(1, keepdim=True) + 0.002
    assert 150 < centre.sum() < 250  # a disc of radius ~8 px: pi 8^2 = 201
    assert torch.equal(mask, (1 - c.hidden[0]) * (~centre).float())


def test_smooth_mask_follows_the_authors_code():
    """Soft mask: in [0, 1], 0 on the uncovered strip (its -1s spread outwards), 1 far away."""
    c = vc.occluder(frames=2)
    binary = flow.consistency_mask(c.flows[0], c.forwards[0])
    soft = flow.consistency_mask(c.flows[0], c.forwards[0], smooth=True)
    assert soft.min() >= 0 and soft.max() <= 1
    assert (soft * c.hidden[0]).max() == 0
    far = -torch.nn.functional.max_pool2d(-binary, 5, stride=1, padding=2)  # 1 if 2 px clear
    torch.testing.assert_close(soft[far > 0], torch.ones_like(soft[far > 0]))


@pytest.mark.parametrize(
    ("method", "hidden_caught", "rest_kept"), [("dis", 0.7, 0.8), ("farneback", 0.4, 0.7)]
)
def test_estimated_flows_flag_the_uncovered_strip(method, hidden_caught, rest_kept):
    """Flat square moving 6 px (measured, DIS / Farnebäck): 82 % / 51 % of the uncovered
    strip unreliable, 88 % / 79 % of the other pixels reliable (8 px from the borders)."""
    c = vc.occluder(frames=2)
    _, mask = flow.flow_and_mask(c.frames[0], c.frames[1], method=method)
    strip = c.hidden[0] * vc.interior()
    rest = (1 - c.hidden[0]) * vc.interior()
    assert masked_mean(1 - mask, strip) > hidden_caught
    assert masked_mean(mask, rest) > rest_kept


@pytest.mark.parametrize("make", [vc.pan, vc.zoom], ids=["pan", "zoom"])
def test_estimated_flows_of_camera_motion_are_mostly_reliable(make):
    """Measured: pan 100 %, zoom 96 % of interior pixels reliable (DIS)."""
    c = make(frames=2)
    _, mask = flow.flow_and_mask(c.frames[0], c.frames[1])
    assert masked_mean(mask, vc.interior()) > 0.9


# --------------------------------------------------------------------------- warping error


def test_warping_error_is_laís_masked_mean_square():
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 1, 3, 16, 20, generator=g, dtype=torch.float64)
    mask = (torch.rand(1, 1, 16, 20, generator=g) > 0.3).double()
    zero = torch.zeros(1, 2, 16, 20, dtype=torch.float64)
    diff = (b - a).numpy() * mask.numpy()  # the previous frame, not moved
    expected = (diff**2).sum() / (3 * mask.sum().item())  # N counts pixels x channels
    assert flow.warping_error(a, b, zero, mask).item() == pytest.approx(expected)
    none = torch.zeros_like(mask)  # nothing reliable: Lai divides by all values instead
    assert flow.warping_error(a, b, zero, none).item() == 0.0


def test_a_consistent_clip_has_no_warping_error_and_a_flickering_one_has():
    """Pan with true flows: 0 (measured 3e-15, float rounding). The same frames with a
    random brightness per frame (x0.8 to x1.2): measured 2.2e-3."""
    c = vc.pan(frames=5)
    masks = [1 - h for h in c.hidden]
    steady = flow.sequence_warping_error(c.frames, c.flows, masks)
    g = torch.Generator().manual_seed(4)
    gains = 0.8 + 0.4 * torch.rand(len(c.frames), generator=g)
    flicker = [(f * k).clamp(0, 1) for f, k in zip(c.frames, gains, strict=True)]
    flickering = flow.sequence_warping_error(flicker, c.flows, masks)
    assert steady < 1e-12
    assert flickering > 1e-4


def test_the_mask_removes_the_error_of_uncovered_pixels():
    """Estimated flow (DIS) on the flat square: measured 1.8e-3 unmasked, 2.7e-4 masked."""
    c = vc.occluder(frames=2)
    backward, mask = flow.flow_and_mask(c.frames[0], c.frames[1])
    masked = flow.warping_error(c.frames[1], c.frames[0], backward, mask)
    unmasked = flow.warping_error(c.frames[1], c.frames[0], backward, torch.ones_like(mask))
    assert masked < unmasked / 5


@pytest.mark.parametrize("make", [vc.pan, vc.zoom, vc.occluder], ids=["pan", "zoom", "square"])
def test_with_estimated_flows_flicker_still_stands_out(make):
    """DIS flows and masks, 5 frames; measured steady / flickering: pan 3.4e-6 / 2.2e-3,
    zoom 1.0e-4 / 2.3e-3, flat square 4.1e-4 / 2.5e-3."""
    c = make(frames=5)
    pairs = [flow.flow_and_mask(c.frames[i], c.frames[i + 1]) for i in range(4)]
    flows, masks = [f for f, _ in pairs], [m for _, m in pairs]
    gains = torch.tensor([1.02, 1.02, 0.84, 0.88, 0.80])
    flicker = [(f * k).clamp(0, 1) for f, k in zip(c.frames, gains, strict=True)]
    steady = flow.sequence_warping_error(c.frames, flows, masks)
    assert steady * 5 < flow.sequence_warping_error(flicker, flows, masks)


def test_sequence_warping_error_is_the_mean_over_pairs():
    c = vc.pan(frames=4)
    frames = [c.frames[0], c.frames[1], c.frames[2] * 0.9, c.frames[3]]
    masks = [1 - h for h in c.hidden]
    pairs = [flow.warping_error(frames[i + 1], frames[i], c.flows[i], masks[i]) for i in range(3)]
    total = flow.sequence_warping_error(iter(frames), c.flows, masks)
    assert total.item() == pytest.approx(sum(pairs).item() / 3)
    with pytest.raises(ValueError):
        flow.sequence_warping_error(frames, c.flows[:2], masks)


# --------------------------------------------------------------------------- RAFT


def test_raft_without_cached_weights_says_how_to_get_them(image):
    with pytest.raises(WeightsError, match=r"raft_small_.*\.pth' are not in the torch cache"):
        flow.compute_flow(image, image, method="raft_small")


def test_raft_plumbing_with_random_weights(offline_cache, image, monkeypatch):
    """Random weights: only the shape, dtype, the padding to 128 px and the cache path."""
    from torchvision.models.optical_flow import raft_small

    monkeypatch.setattr(flow, "RAFT_UPDATES", 1)  # plumbing only: one refinement is enough
    torch.manual_seed(0)
    model = raft_small(weights=None)
    path = flow.raft_weights_file("raft_small")
    assert path.parent == offline_cache
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    loaded = flow.load_raft("raft_small")
    assert not loaded.training
    out = flow.compute_flow(image, image.flip(-1), method=loaded)
    assert out.shape == (1, 2, 48, 64) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
