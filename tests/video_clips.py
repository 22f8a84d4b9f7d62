"""Short clips with known motion, for the flow and video tests.

Each clip is made from a built-in photo (Chelsea the cat, scikit-image's sample) by moving a
virtual camera or an object, so the true backward flow of every frame (frame t to t-1, the
convention of :mod:`stylelib.flow`) and the true set of pixels that were hidden in the
previous frame are known in closed form:

- :func:`pan`: the camera slides by ``(dx, dy)`` px per frame; the backward flow is the
  constant ``(dx, dy)``. Integer shifts make each frame an exact crop of the scene; a
  sub-pixel shift samples the scene bilinearly.
- :func:`zoom`: the camera zooms in by ``scale`` per frame about the frame's centre ``c``;
  the backward flow is ``(p - c) (1 / scale - 1)``.
- :func:`occluder`: a static background and a flat square moving right by ``step`` px per
  frame; the backward flow is ``(-step, 0)`` on the square and 0 elsewhere, and the pixels
  it uncovers (on the square at t-1, not at t) were hidden in the previous frame.

``Clip.forwards`` holds the true forward flows (frame t-1 to t) for the consistency check.
``Clip.hidden[i]`` is 1 where frame i+1 shows something frame i did not (uncovered, or come
from outside the frame): ``1 - hidden`` is the ideal mask before motion boundaries, which
Ruder's check also drops. :func:`write_clip` writes a pan as a video file with PyAV alone,
:func:`write_empty` a video without frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import torch
import torch.nn.functional as F

from stylelib.data import content_image

SIZE = (96, 128)  # (H, W) of every clip's frames


@dataclass
class Clip:
    frames: list[torch.Tensor]  # T images (1, 3, H, W) in [0, 1]
    flows: list[torch.Tensor]  # T-1 true backward flows (1, 2, H, W); flows[i]: i+1 -> i
    forwards: list[torch.Tensor]  # T-1 true forward flows; forwards[i]: i -> i+1
    hidden: list[torch.Tensor]  # T-1 masks (1, 1, H, W), 1 where frame i+1 shows new content


def scene(long_side: int = 256) -> torch.Tensor:
    """The photo the camera looks at, float64 for exact sampling."""
    return content_image("chelsea", size=long_side).double()


def sample(image: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``image`` at pixel coordinates ``x``, ``y`` (each (H, W))."""
    h, w = image.shape[-2:]
    grid = torch.stack((2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1), dim=-1)[None]
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", align_corners=True)


def _pixels(size=SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(
        torch.arange(size[0], dtype=torch.float64),
        torch.arange(size[1], dtype=torch.float64),
        indexing="ij",
    )
    return xs, ys


def _outside(flow: torch.Tensor) -> torch.Tensor:
    xs, ys = _pixels(flow.shape[-2:])
    x, y = xs + flow[0, 0], ys + flow[0, 1]
    h, w = flow.shape[-2:]
    return ((x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)).double()[None, None]


def pan(frames: int = 4, shift: tuple[float, float] = (2.0, 1.0), size=SIZE) -> Clip:
    """The camera moves by ``shift`` = (dx, dy) px per frame over the scene."""
    image, (dx, dy) = scene(), shift
    xs, ys = _pixels(size)
    out = [sample(image, xs + 20 + t * dx, ys + 20 + t * dy).float() for t in range(frames)]
    flow = torch.tensor([dx, dy], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, *size)
    flows = [flow.float().clone() for _ in range(frames - 1)]
    return Clip(out, flows, [-f for f in flows], [_outside(flow).float() for _ in flows])


def zoom(frames: int = 4, scale: float = 1.04, size=SIZE) -> Clip:
    """The camera zooms in by ``scale`` per frame about the frame's centre."""
    image = scene()
    xs, ys = _pixels(size)
    cx, cy = (size[1] - 1) / 2, (size[0] - 1) / 2
    sx, sy = image.shape[-1] / 2, image.shape[-2] / 2  # the scene point at the centre
    out = []
    for t in range(frames):
        k = scale**-t
        out.append(sample(image, sx + (xs - cx) * k, sy + (ys - cy) * k).float())
    flow = torch.stack(((xs - cx) * (1 / scale - 1), (ys - cy) * (1 / scale - 1)))[None]
    forward = torch.stack(((xs - cx) * (scale - 1), (ys - cy) * (scale - 1)))[None]
    flows = [flow.float() for _ in range(frames - 1)]
    forwards = [forward.float() for _ in flows]
    return Clip(out, flows, forwards, [_outside(flow).float() for _ in flows])


def occluder(
    frames: int = 4, step: int = 6, side: int = 32, textured: bool = False, size=SIZE
) -> Clip:
    """A square of ``side`` px moves right by ``step`` px per frame over a still photo.

    The square is flat red, or with ``textured`` a patch of the photo turned upside down
    that moves with it (flow estimators see motion only where there is texture).
    """
    image = scene()
    xs, ys = _pixels(size)
    background = sample(image, xs + 20, ys + 20).float()
    top, left0 = (size[0] - side) // 2, 24
    patch = sample(image, xs + 60, ys + 40).float().flip(-2)

    def paint(t: int) -> torch.Tensor:
        if not textured:
            return torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1)
        return torch.roll(patch, shifts=t * step, dims=-1)

    def square(t: int) -> torch.Tensor:
        m = torch.zeros(1, 1, *size)
        m[..., top : top + side, left0 + t * step : left0 + t * step + side] = 1
        return m

    out = [torch.where(square(t) > 0, paint(t), background) for t in range(frames)]
    zero = torch.zeros(1, 1, *size)
    flows = [torch.cat((-step * square(t), zero), 1) for t in range(1, frames)]
    forwards = [torch.cat((step * square(t), zero), 1) for t in range(frames - 1)]
    hidden = [square(t - 1) * (1 - square(t)) for t in range(1, frames)]
    return Clip(out, flows, forwards, hidden)


def interior(size=SIZE, margin: int = 8) -> torch.Tensor:
    """1 at least ``margin`` px from every border, ``(1, 1, H, W)``."""
    m = torch.zeros(1, 1, *size)
    m[..., margin:-margin, margin:-margin] = 1
    return m


def write_clip(
    path,
    frames: int = 30,
    size=SIZE,
    fps: Fraction = Fraction(25),
    audio: bool = False,
    codec: str = "libx264",
    times: list[int] | None = None,
) -> None:
    """Write a test video with PyAV directly (independently of stylelib.videoio).

    Frames pan over the scene by 2 px each; ``audio`` adds a 440 Hz sine (AAC, mono, 44.1
    kHz) as long as the video; ``times`` gives each frame's timestamp in milliseconds (a
    variable frame rate when uneven).
    """
    photo = scene(long_side=max(size) + 2 * frames + 64)[0].permute(1, 2, 0)
    photo = (photo * 255).round().byte().numpy()  # crops of it, by integer shifts
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = size[1], size[0], "yuv420p"
        if times is not None:
            video.codec_context.time_base = Fraction(1, 1000)
        sound = container.add_stream("aac", rate=44100) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for t in range(frames):
            array = np.ascontiguousarray(photo[8 : 8 + size[0], 8 + 2 * t : 8 + 2 * t + size[1]])
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = t if times is None else times[t]
            if times is not None:
                frame.time_base = Fraction(1, 1000)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = int(44100 * frames / fps)
            wave = 0.3 * np.sin(2 * math.pi * 440 * np.arange(samples) / 44100)
            for start in range(0, samples, 1024):
                chunk = wave[start : start + 1024].astype(np.float32)[None]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44100, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)


def write_empty(path) -> None:
    """A Matroska file whose video track has no frame (and a sound: MP4 would drop the track)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("aac", rate=44100)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate, frame.pts = 44100, 0
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        container.mux([*sound.encode(frame), *sound.encode()])
