"""Optical flow, warping, where a warp can be trusted, and how much a video flickers.

The tools of video style transfer (Ruder, Dosovitskiy, Brox, "Artistic style transfer for
videos", arXiv 1604.08610, 2016): the previous stylised frame, warped along the optical
flow, starts the next one, and a temporal loss holds the two together where the flow is
reliable.

**Convention.** A flow is a float32 tensor ``(B, 2, H, W)`` in pixels, channel 0 along x
(to the right), channel 1 along y (down). ``compute_flow(image, target)`` returns the flow
``f`` with ``image(p) ≈ target(p + f(p))``: where each pixel of ``image`` is found in
``target``. The *backward* flow of frame t, ``compute_flow(frame_t, frame_prev)``, warps
the previous frame into the current one: ``warp(frame_prev, backward) ≈ frame_t``. This is
the direction Ruder's code passes first to its consistency checker
(``makeOptFlow.sh``: ``consistencyChecker backward_j_i.flo forward_i_j.flo reliable_j_i``).

- :func:`compute_flow`: DIS (OpenCV, default), Farnebäck (OpenCV), or torchvision's RAFT
  when its pretrained weights are already in the torch cache (never downloaded here).
- :func:`warp`: bilinear backward warping; :func:`in_frame` marks pixels whose source lies
  outside the frame.
- :func:`consistency_mask`: Ruder's forward-backward check and motion boundaries.
- :func:`warping_error`, :func:`sequence_warping_error`: Lai et al. 2018's flicker measure.

Example:
    >>> import torch
    >>> from stylelib.flow import warp
    >>> ramp = torch.linspace(0, 1, 64).expand(1, 3, 48, 64)
    >>> shift = torch.tensor([2.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 48, 64)
    >>> torch.allclose(warp(ramp, shift)[..., :60], ramp[..., 2:62], atol=1e-6)
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from stylelib.errors import WeightsError
from stylelib.images import check_image

METHODS = ("dis", "farneback", "raft_small", "raft_large")
# OpenCV's DIS presets trade speed for accuracy: ultrafast, fast, medium.
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# Farnebäck's parameters as in OpenCV's optical-flow tutorial (pyramid scale, levels, window,
# iterations, polynomial neighbourhood and its sigma), with five pyramid levels instead of
# three so that shifts of several pixels at 96 px are still found.
FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2)
RAFT_UPDATES = 12  # torchvision's default number of recurrent refinements
RAFT_MIN_SIDE = 128  # torchvision's RAFT: 8x downsampling, then a 4-level pyramid of >= 16 px
# Ruder et al. 2016, Sec. 3.1 and their code (below): disoccluded where
# |w~ + w^|^2 > OCCLUSION_SCALE (|w~|^2 + |w^|^2) + OCCLUSION_OFFSET; a motion boundary where
# |grad u^|^2 + |grad v^|^2 > BOUNDARY_SCALE |w^|^2 + BOUNDARY_OFFSET.
OCCLUSION_SCALE, OCCLUSION_OFFSET = 0.01, 0.5
BOUNDARY_SCALE, BOUNDARY_OFFSET = 0.01, 0.002
SMOOTH_SIGMA = 0.8  # the authors' code blurs its 0/255 mask with this Gaussian (SMOOTH_STRENGH)
_MIN_SIDE = 8  # a flow pyramid needs a few pixels; style transfer needs 32 anyway


# --------------------------------------------------------------------------- flow


def compute_flow(
    image: torch.Tensor, target: torch.Tensor, *, method: str | torch.nn.Module = "dis"
) -> torch.Tensor:
    """Dense optical flow from ``image`` to ``target``: ``image(p) ≈ target(p + flow(p))``.

    For the backward flow of frame t, pass ``(frame_t, frame_prev)``; for the forward flow of
    frame t-1, ``(frame_prev, frame_t)``.

    Args:
        image, target: images ``(B, 3, H, W)`` in [0, 1] of one shape.
        method: "dis" (OpenCV's DIS, preset :data:`DIS_PRESET`; Kroeger et al., ECCV 2016),
            "farneback" (OpenCV, :data:`FARNEBACK`; Farnebäck, SCIA 2003), "raft_small" or
            "raft_large" (torchvision's RAFT; Teed & Deng, ECCV 2020; weights from the torch
            cache, see :func:`load_raft`), or a RAFT model (load it once for a whole video).

    Returns:
        Float32 ``(B, 2, H, W)`` in pixels (x, y), on ``image``'s device.

    Example:
        >>> a = torch.rand(1, 3, 48, 64)
        >>> compute_flow(a, a).abs().max() < 0.5
        tensor(True)
    """
    check_image(image, "image", min_side=_MIN_SIDE, min_side_why="the flow's pyramid")
    check_image(target, "target", min_side=_MIN_SIDE, min_side_why="the flow's pyramid")
    if image.shape != target.shape:
        raise ValueError(
            f"image and target must have one shape, got {tuple(image.shape)} and "
            f"{tuple(target.shape)}; resize one of them"
        )
    if isinstance(method, torch.nn.Module) or method in ("raft_small", "raft_large"):
        model = method if isinstance(method, torch.nn.Module) else load_raft(method)
        return _raft(model, image, target)
    if method not in ("dis", "farneback"):
        raise ValueError(f"unknown flow method {method!r}; use one of {', '.join(METHODS)}")
    flows = [_opencv(a, b, method) for a, b in zip(_gray(image), _gray(target), strict=True)]
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).contiguous().to(image.device)


def _gray(image: torch.Tensor) -> np.ndarray:
    """Luma (ITU-R BT.601 weights, as OpenCV's RGB2GRAY) as ``(B, H, W)`` uint8."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype, device=image.device)
    luma = torch.einsum("bchw,c->bhw", image.detach().clamp(0, 1), weights)
    return (luma * 255).round().to(torch.uint8).cpu().numpy()


def _opencv(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """OpenCV's flow from gray ``a`` to gray ``b``, ``(H, W, 2)`` float32."""
    if method == "dis":
        return cv2.DISOpticalFlow_create(DIS_PRESET).calc(a, b, None)
    return cv2.calcOpticalFlowFarneback(a, b, None, flags=0, **FARNEBACK)


def raft_weights_file(name: str) -> Path:
    """Where torchvision keeps RAFT's weights: the torch cache's ``checkpoints`` folder."""
    from torchvision.models import optical_flow

    weights = getattr(optical_flow, _raft_weights_class(name)).DEFAULT
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def _raft_weights_class(name: str) -> str:
    if name not in ("raft_small", "raft_large"):
        raise ValueError(f"unknown RAFT model {name!r}; use 'raft_small' or 'raft_large'")
    return "Raft_Small_Weights" if name == "raft_small" else "Raft_Large_Weights"


def load_raft(name: str = "raft_small") -> torch.nn.Module:
    """torchvision's pretrained RAFT, from the torch cache only (this never downloads).

    Raises:
        WeightsError: the weights file is not in the cache, with the command that fetches it.
    """
    from torchvision.models import optical_flow

    path, cls = raft_weights_file(name), _raft_weights_class(name)
    if not path.is_file():
        raise WeightsError(
            f"RAFT's weights '{path.name}' are not in the torch cache ({path.parent}); fetch "
            f'them once with: python -c "from torchvision.models.optical_flow import {name}, '
            f'{cls}; {name}(weights={cls}.DEFAULT)", or copy the file there'
        )
    model = getattr(optical_flow, name)(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


@torch.no_grad()
def _raft(model: torch.nn.Module, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RAFT's flow: inputs scaled to [-1, 1], edge-padded to sides that are multiples of 8 and
    at least :data:`RAFT_MIN_SIDE` (its correlation pyramid needs both), flow cropped back."""
    h, w = image.shape[-2:]
    pad = (0, max(RAFT_MIN_SIDE, w + -w % 8) - w, 0, max(RAFT_MIN_SIDE, h + -h % 8) - h)
    a, b = (F.pad(x.float() * 2 - 1, pad, mode="replicate") for x in (image, target))
    model = model.to(image.device)
    flow = model(a, b, num_flow_updates=RAFT_UPDATES)[-1]
    return flow[..., :h, :w].float()


# --------------------------------------------------------------------------- warping


def _grid(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute source coordinates ``x + u`` and ``y + v`` in pixels, each ``(B, H, W)``."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype, device=flow.device),
        torch.arange(w, dtype=flow.dtype, device=flow.device),
        indexing="ij",
    )
    return xs + flow[:, 0], ys + flow[:, 1]


def _check_flow(flow: torch.Tensor, name: str = "flow") -> None:
    if not isinstance(flow, torch.Tensor) or flow.ndim != 4 or flow.shape[1] != 2:
        shape = tuple(flow.shape) if isinstance(flow, torch.Tensor) else type(flow).__name__
        raise ValueError(f"{name} must be a tensor (B, 2, H, W) in pixels, got {shape}")


def warp(image: torch.Tensor, flow: torch.Tensor, *, padding: str = "border") -> torch.Tensor:
    """Backward warping: ``out(p) = image(p + flow(p))``, bilinear.

    Pixel centres sit at integer coordinates and the corner pixels' centres at the ends of
    ``grid_sample``'s [-1, 1] (``align_corners=True``), so a flow of (1, 0) reads exactly the
    next pixel to the right. Differentiable in ``image`` and ``flow``.

    Args:
        image: ``(B, C, H, W)``, any values (an image, or a flow to carry along another).
        flow: ``(B, 2, H, W)`` in pixels (see the module's convention).
        padding: ``grid_sample``'s padding mode for sources outside the frame: "border"
            (nearest edge pixel, no black seams for an initial image) or "zeros". Either
            way :func:`in_frame` tells which pixels those are.

    Returns:
        ``(B, C, H, W)``, of ``image``'s dtype.
    """
    _check_flow(flow)
    if image.shape[0] != flow.shape[0] or image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(
            f"image {tuple(image.shape)} and flow {tuple(flow.shape)} must share batch, "
            "height and width"
        )
    _, _, h, w = flow.shape
    x, y = _grid(flow.to(image.dtype))
    grid = torch.stack((2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1), dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def in_frame(flow: torch.Tensor) -> torch.Tensor:
    """1 where ``p + flow(p)`` lies inside the frame (between the outer pixel centres), else 0.

    Returns:
        Float ``(B, 1, H, W)`` of 0 and 1.
    """
    _check_flow(flow)
    _, _, h, w = flow.shape
    x, y = _grid(flow)
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return inside.unsqueeze(1).to(flow.dtype)


# --------------------------------------------------------------------------- reliability


def _pad_symmetric(x: torch.Tensor, p: int) -> torch.Tensor:
    """Mirror ``p`` pixels on each side, edge pixel repeated (``dcba|abcd``), as CFilter.h."""
    x = torch.cat((x[..., :p].flip(-1), x, x[..., -p:].flip(-1)), dim=-1)
    return torch.cat((x[..., :p, :].flip(-2), x, x[..., -p:, :].flip(-2)), dim=-2)


def _gaussian(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, radius ceil(2 sigma), symmetric edges (the authors' CSmooth)."""
    radius = int(np.ceil(2 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=mask.dtype, device=mask.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = _pad_symmetric(mask, radius)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))


def motion_boundaries(flow: torch.Tensor) -> torch.Tensor:
    """1 where the flow changes fast: ``|∇u|² + |∇v|² > 0.01 |w|² + 0.002``, else 0.

    Derivatives are central differences ``(f(x+1) - f(x-1)) / 2`` with mirrored edges, as in
    the authors' code (``CDerivative<float> derivative(3)`` of CFilter.h, and
    ``motionEdge(ax, ay) > 0.01 * (u2*u2+v2*v2) + 0.002f`` in
    ``manuelruder/artistic-videos@40e7447953e22485aee800626180d88beabeda30:
    consistencyChecker/consistencyChecker.cpp``).

    Returns:
        Float ``(B, 1, H, W)`` of 0 and 1.
    """
    _check_flow(flow)
    padded = _pad_symmetric(flow, 1)
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    edge = (dx**2 + dy**2).sum(1, keepdim=True)
    magnitude = (flow**2).sum(1, keepdim=True)
    return (edge > BOUNDARY_SCALE * magnitude + BOUNDARY_OFFSET).to(flow.dtype)


def consistency_mask(
    backward: torch.Tensor,
    forward: torch.Tensor,
    *,
    boundaries: bool = True,
    smooth: bool = False,
) -> torch.Tensor:
    """Where warping the previous frame along ``backward`` can be trusted: 1 reliable, 0 not.

    Ruder et al. 2016, Sec. 3.1: with ``ŵ`` the backward flow of frame t
    and ``w̃(p) = w(p + ŵ(p))`` the forward flow of frame t-1 read where ``p`` came from, ``p``
    is disoccluded where ``|w̃ + ŵ|² > 0.01 (|w̃|² + |ŵ|²) + 0.5`` (the two flows do not undo
    each other). It is also unreliable on :func:`motion_boundaries` of ``ŵ`` and where
    ``p + ŵ(p)`` leaves the frame. The authors' code
    (``manuelruder/artistic-videos@40e7447:consistencyChecker/consistencyChecker.cpp``) tests
    the same two inequalities (with ``>=`` for the first) and marks sources outside the
    frame unreliable too; ``w̃`` is read bilinearly there as here. (Its outside test,
    ``x2 >= xSize`` with ``x2 = floor(x) + 1``, also drops every pixel whose source lies on
    the last row or column; here those stay reliable.)

    Args:
        backward: ``(B, 2, H, W)`` flow of frame t to frame t-1 (``ŵ``).
        forward: ``(B, 2, H, W)`` flow of frame t-1 to frame t (``w``).
        boundaries: also exclude motion boundaries (the paper and its code do).
        smooth: the authors' code's soft mask instead of the paper's 0/1: disoccluded pixels
            get -1, boundaries and outside 0, the rest 1, blurred by a Gaussian of sigma
            :data:`SMOOTH_SIGMA` and clipped to [0, 1] (so disocclusions spread outwards).

    Returns:
        Float ``(B, 1, H, W)`` in [0, 1] (0 and 1 only unless ``smooth``).
    """
    _check_flow(backward, "backward")
    _check_flow(forward, "forward")
    if backward.shape != forward.shape:
        raise ValueError(
            f"backward {tuple(backward.shape)} and forward {tuple(forward.shape)} flows must "
            "have one shape"
        )
    carried = warp(forward, backward, padding="zeros")  # w~, meaningful where in_frame
    mismatch = ((carried + backward) ** 2).sum(1, keepdim=True)
    scale = (carried**2).sum(1, keepdim=True) + (backward**2).sum(1, keepdim=True)
    disoccluded = mismatch > OCCLUSION_SCALE * scale + OCCLUSION_OFFSET
    outside = in_frame(backward) == 0
    edges = motion_boundaries(backward) > 0 if boundaries else torch.zeros_like(outside)
    if not smooth:
        return (~(disoccluded | edges | outside)).to(backward.dtype)
    soft = torch.ones_like(mismatch)
    soft = torch.where(disoccluded, -1.0, torch.where(edges, 0.0, soft))
    soft = torch.where(outside, 0.0, soft)
    return _gaussian(soft, SMOOTH_SIGMA).clamp(0, 1)


# --------------------------------------------------------------------------- flicker


def warping_error(
    current: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Mean squared difference between a frame and the previous one warped onto it, masked.

    Lai et al., ECCV 2018 ("Learning Blind Video Temporal Consistency"; their
    ``evaluate_WarpError.py``): ``diff =
    (warped - frame) * mask``, ``error = sum(diff²) / N`` with ``N`` the number of
    non-occluded values (pixels x channels), or of all values if none is. They warp frame t
    onto t-1 with the forward flow; here frame t-1 is warped onto t with the backward flow
    (the direction of Ruder's temporal loss), the same measure the other way round. Images
    in [0, 1] give errors in [0, 1]; a batch gives the mean of its items' errors.

    Args:
        current: stylised frame t, ``(B, C, H, W)``.
        previous: stylised frame t-1, same shape.
        flow: backward flow of frame t (computed on the *input* video), ``(B, 2, H, W)``.
        mask: ``(B, 1, H, W)``, 1 where reliable (:func:`consistency_mask`).

    Returns:
        A scalar tensor.

    Example:
        >>> a = torch.rand(1, 3, 32, 32)
        >>> zero = torch.zeros(1, 2, 32, 32)
        >>> warping_error(a, a, zero, torch.ones(1, 1, 32, 32)).item()
        0.0
    """
    if current.shape != previous.shape:
        raise ValueError(
            f"current {tuple(current.shape)} and previous {tuple(previous.shape)} frames "
            "must have one shape"
        )
    diff = (warp(previous, flow) - current) * mask
    counted = mask.expand_as(diff).flatten(1).sum(1)
    counted = torch.where(counted > 0, counted, torch.full_like(counted, diff[0].numel()))
    return ((diff**2).flatten(1).sum(1) / counted).mean()


def sequence_warping_error(
    frames: Iterable[torch.Tensor],
    flows: Iterable[torch.Tensor],
    masks: Iterable[torch.Tensor],
) -> torch.Tensor:
    """The mean :func:`warping_error` over a clip's consecutive pairs (Lai et al. 2018).

    Args:
        frames: T stylised frames (any iterable: a clip can stream through).
        flows: T-1 backward flows; ``flows[i]`` goes from frame i+1 to frame i.
        masks: T-1 reliability masks, ``masks[i]`` for frame i+1.

    Returns:
        A scalar tensor: the mean over the T-1 pairs.

    Raises:
        ValueError: fewer than two frames, or counts that do not match.
    """
    frames, total, pairs = iter(frames), 0.0, 0
    previous = next(frames, None)
    for current, flow, mask in zip(frames, flows, masks, strict=True):
        total = total + warping_error(current, previous, flow, mask)
        previous, pairs = current, pairs + 1
    if pairs == 0:
        raise ValueError("a warping error needs at least two frames and one flow")
    return total / pairs


def flow_and_mask(
    previous: torch.Tensor, current: torch.Tensor, *, method: str | torch.nn.Module = "dis"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The backward flow of ``current`` and its :func:`consistency_mask` (both directions)."""
    backward = compute_flow(current, previous, method=method)
    forward = compute_flow(previous, current, method=method)
    return backward, consistency_mask(backward, forward)


def endpoint_error(flow: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-pixel end-point error ``|flow - truth|`` in pixels, ``(B, 1, H, W)``."""
    return (flow - truth).norm(dim=1, keepdim=True)
