"""Video in, video out, one frame at a time.

Frames are stylelib images (float32 ``(1, 3, H, W)`` RGB in ``[0, 1]``), decoded and encoded
with PyAV (FFmpeg's libraries, in its wheel). Nothing holds more than a few frames: a
ten-minute 1080p clip streams through in constant memory.

- :func:`probe` describes a file (:class:`VideoInfo`); :func:`read_frames` yields its frames.
- :class:`VideoWriter` encodes frames (H.264 by libx264, or MPEG-4 Part 2 where FFmpeg lacks
  it), copies the audio of a source through unchanged, and publishes the file atomically
  under :mod:`stylelib.files`' rules (an existing file only with ``overwrite``, an input
  never). Encoding is deterministic (fixed CRF, one thread, no macroblock tree): same
  frames, same bytes.

Runs that survive being killed (frames kept in a work folder, the video encoded from them)
are :mod:`stylelib.videorun`'s.

Decisions: a variable frame rate is refused, not resampled (flow and warping assume one
frame per tick; ``ffmpeg -i in.mp4 -r 30 cfr.mp4`` converts); odd sides are refused, not
padded (yuv420p halves the chroma, and a silent size change would break "size in = size
out"; :func:`check_even` says so and :func:`even_size` gives the size to use). Colour is
encoded with the BT.709 matrix in limited range and tagged so; decoding honours a file's
tag. Rotation metadata and non-square pixels are ignored.

Example:
    >>> import torch
    >>> frames = [torch.full((1, 3, 64, 96), t / 10) for t in range(10)]
    >>> write_video(frames, "clip.mp4", fps=25)  # doctest: +SKIP
    PosixPath('/home/me/clip.mp4')
    >>> probe("clip.mp4").frames, len(list(read_frames("clip.mp4")))  # doctest: +SKIP
    (10, 10)
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from stylelib.errors import StylelibError, one_line
from stylelib.files import atomic_path, check_target
from stylelib.images import check_image

# 4096 x 2160 (DCI 4K). Such a frame is 106 MB as a float32 tensor and 2.3 GB as VGG's first
# 64-channel activation: beyond it per-frame style transfer does not fit a GPU.
MAX_PIXELS = 4096 * 2160
# Frames whose timestamps tell a constant from a variable rate: 4-5 s, enough to see a
# phone's rate drift, few enough to probe in milliseconds.
VFR_PROBE_FRAMES = 120
CRF = 18  # x264's constant rate factor (0-51, lower is better): 18 is near transparent
PRESET = "medium"  # x264's default speed/size trade-off
# x264's macroblock-tree rate control gave other bytes for the same frames after other work
# in the process (measured, PyAV 18.1's x264 core 165: 11 different files from 20 encodes of
# one grainy 64 x 96 clip, 3 from 15 of a 256 x 320 pan; with it off, every encode the same).
# Off, files are larger at the same CRF and error (+50 % on that pan, +30 % on a stylised
# clip); a resumed run needs the same bytes.
X264_PARAMS = "mbtree=0"
MPEG4_QSCALE = 2  # the fallback codec's fixed quantiser (1 best, 31 worst)
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that hold H.264 and AAC alike
_REORDER = 16  # H.264's deepest B-frame reordering: packets arrive up to 16 frames early


class VideoError(StylelibError, ValueError):
    """A file that is not a video this module can read, or a video it cannot write."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found in a video file."""

    path: Path
    fps: Fraction  # the stream's average frame rate, exact (30000/1001 for NTSC)
    frames: int  # the container's frame count, or its video packets counted
    width: int
    height: int
    codec: str  # FFmpeg's decoder name: "h264", "hevc", "vp9", ...
    has_audio: bool
    variable_frame_rate: bool  # timestamps not evenly spaced at 1/fps (see probe)


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a file for reading; FFmpeg's refusals become one VideoError line."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video '{path}' does not exist (or is not a file); check the path")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as e:
        raise VideoError(f"'{path}' is not a video file FFmpeg can read ({one_line(e)})") from e
    name = container.format.name
    if name == "image2" or name.endswith("_pipe") or not container.streams.video:
        container.close()
        raise VideoError(
            f"'{path}' holds no video stream (FFmpeg reads it as '{name}'); give a video "
            "file such as an .mp4, .mov or .mkv"
        )
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream of ``path`` without decoding it.

    The rate is variable if the presentation timestamps of the first
    :data:`VFR_PROBE_FRAMES` frames (from packets, sorted: B-frames come out of order) are
    not spaced at ``1 / fps`` within one tick of the time base plus 1 % of a frame. The
    timestamps are the evidence: the container's average and base rates are summaries that
    can agree on a variable rate (a Matroska file whose frames alternate 50 and 33 ms
    reports 30 fps for both).

    Raises:
        VideoError: not a file, not a video, or zero frames (one line).
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        times, count, wanted = [], 0, VFR_PROBE_FRAMES + _REORDER
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's empty flush packet
                continue
            count += 1
            if len(times) < wanted and packet.pts is not None:
                times.append(packet.pts)
            if stream.frames and len(times) == wanted:
                break  # the container knows the count: no need to read on
        frames = stream.frames or count
        if frames == 0 or not rate or rate <= 0:
            raise VideoError(f"video '{path}' has no frames; give a video with at least one")
        times = sorted(times)[: VFR_PROBE_FRAMES if len(times) == wanted else None]
        context = stream.codec_context
        return VideoInfo(
            Path(path),
            Fraction(rate),
            frames,
            context.width,
            context.height,
            context.name,
            bool(container.streams.audio),
            _uneven(times, stream.time_base, Fraction(rate)),
        )


def _uneven(pts: list[int], time_base: Fraction | None, fps: Fraction) -> bool:
    """True if sorted timestamps are not spaced at 1/fps (within a tick plus 1 % of a frame)."""
    if len(pts) < 3 or time_base is None:
        return False
    frame = 1 / fps
    tolerance = time_base + frame / 100
    return any(abs((b - a) * time_base - frame) > tolerance for a, b in itertools.pairwise(pts))


def check_readable(info: VideoInfo, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse a variable frame rate or frames over ``max_pixels`` (one VideoError line)."""
    if info.variable_frame_rate:
        raise VideoError(
            f"'{info.path}' has a variable frame rate (its frames are not evenly spaced); "
            f"convert it to a constant rate first: ffmpeg -i '{info.path}' -r "
            f"{float(info.fps):.3g} constant.mp4"
        )
    if info.width * info.height > max_pixels:
        raise VideoError(
            f"'{info.path}' has {info.width}x{info.height} frames, over the {max_pixels:,}-"
            f"pixel limit; scale it down first: ffmpeg -i '{info.path}' -vf scale=-2:1080 "
            "smaller.mp4"
        )


def read_frames(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> Iterator[torch.Tensor]:
    """Yield the frames of ``path`` one by one as float32 ``(1, 3, H, W)`` images in [0, 1].

    Raises:
        VideoError: not a video, zero frames, a variable frame rate, or frames over
            ``max_pixels``, before the first frame is decoded.
    """
    check_readable(probe(path), max_pixels)
    return (array_to_image(array) for array in decode_arrays(path))


def decode_arrays(
    path: str | os.PathLike, skip: Callable[[int], bool] = lambda i: False
) -> Iterator[np.ndarray | None]:
    """Yield each frame as an (H, W, 3) uint8 array, or None where ``skip(index)`` (decoded,
    since decoding from the start is exact and seeking is not, but not converted)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: faster, and the same pixels
        for index, frame in enumerate(container.decode(stream)):
            yield None if skip(index) else frame.to_ndarray(format="rgb24")


# Conversions in numpy, one thread: torch's thread pool costs more than it saves on one
# frame, and on a busy machine up to 30 times more (measured: 50 s against 1.7 s).
def array_to_image(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> float32 (1, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)[None], np.float32) / 255)


def image_to_array(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float -> (H, W, 3) uint8, clamped to [0, 1] and rounded; NaN/Inf refused."""
    values = image.detach().to("cpu", torch.float32).numpy()
    if not np.isfinite(values).all():
        raise VideoError("a frame contains NaN or Inf values; find where they come from")
    return np.ascontiguousarray(
        (np.clip(values, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)
    )


def even_size(height: int, width: int) -> tuple[int, int]:
    """The largest even ``(height, width)`` not above the given one (yuv420p needs even sides).

    >>> even_size(721, 1280)
    (720, 1280)
    """
    return height - height % 2, width - width % 2


def check_even(height: int, width: int, what: str = "frames") -> None:
    """Refuse odd sides (yuv420p needs even ones) in one VideoError line with the size to use.

    >>> check_even(96, 128)
    >>> check_even(97, 128)
    Traceback (most recent call last):
    ...
    stylelib.videoio.VideoError: frames are 97x128 px; ... crop them to 96x128 (...)
    """
    if height % 2 or width % 2:
        h, w = even_size(height, width)
        raise VideoError(
            f"{what} are {height}x{width} px; yuv420p video needs even sides: resize or "
            f"crop them to {h}x{w} (stylelib.videoio.even_size)"
        )


def _codec(name: str) -> str:
    """Resolve "auto" to libx264 (mpeg4 without it) and check that ``name`` encodes video."""
    if name == "auto":
        name = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    try:
        kind = av.Codec(name, "w").type
    except (av.FFmpegError, ValueError) as e:
        raise VideoError(
            f"cannot write video with codec {name!r} ({one_line(e)}); use 'auto', which "
            "picks libx264 (or mpeg4 where FFmpeg lacks it)"
        ) from e
    if kind != "video":
        raise VideoError(f"codec {name!r} is a {kind} codec; give a video codec such as libx264")
    return name


def check_video_target(
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
) -> Path:
    """Check, before any work, that a video can be written at ``path``; return it resolved.

    :func:`stylelib.files.check_target`'s rules (an existing file only with ``overwrite``, an
    input never), and a suffix from :data:`OUTPUT_SUFFIXES`.

    Raises:
        OutputError: see :func:`~stylelib.files.check_target` (one line).
        VideoError: another suffix (one line).
    """
    target = check_target(path, inputs=inputs, overwrite=overwrite, kind="video")
    if target.suffix.lower() not in OUTPUT_SUFFIXES:
        raise VideoError(
            f"cannot write a video named '{target.name}'; end it in one of "
            f"{', '.join(OUTPUT_SUFFIXES)}"
        )
    return target


class VideoWriter:
    """Encode frames into a video file, published atomically at the end; a context manager.

    The size comes from the first frame, and every frame must have it. Values are clamped
    to [0, 1] and rounded to 8 bits, as :func:`~stylelib.images.save_image` does.

    Args:
        path: the output, ending in one of :data:`OUTPUT_SUFFIXES`.
        fps: frames per second, kept exactly (``Fraction(30000, 1001)``, 25, ...).
        audio_from: a video whose audio stream is copied (remuxed, not re-encoded) up to the
            end of the written video; a source without audio adds none.
        overwrite: replace an existing ``path`` (never ``audio_from`` or ``inputs``).
        codec: "auto" (libx264, else mpeg4) or an FFmpeg encoder name.
        crf: libx264's constant rate factor (0 is lossless in YUV).
        inputs: other files the command reads, never overwritten.

    Raises:
        OutputError: ``path`` exists, is an input, or its folder is missing (one line).
        VideoError: an unknown suffix or codec, odd or changing frame sizes, no frames.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float | Fraction,
        *,
        audio_from: str | os.PathLike | None = None,
        overwrite: bool = False,
        codec: str = "auto",
        crf: int = CRF,
        inputs: Iterable[str | os.PathLike] = (),
    ) -> None:
        sources = [*inputs, *([audio_from] if audio_from is not None else [])]
        self.path = check_video_target(path, inputs=sources, overwrite=overwrite)
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        if self.fps <= 0:
            raise VideoError(f"fps must be positive, got {fps}")
        self.codec, self.crf, self.frames = _codec(codec), crf, 0
        self._video, self._audio, self._stack = None, None, contextlib.ExitStack()
        tmp = self._stack.enter_context(
            atomic_path(self.path, self.path.suffix, overwrite=overwrite)
        )
        try:
            self._out = self._stack.enter_context(av.open(str(tmp), "w"))
            if audio_from is not None:
                self._audio = _AudioCopy(self._out, audio_from)
                self._stack.callback(self._audio.input.close)
        except BaseException as e:
            self._abort(e)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self._stack.__exit__(kind, error, traceback)  # removes the temporary file

    def _abort(self, error: BaseException):
        """Remove the temporary file, publish nothing, and raise ``error``."""
        self._stack.__exit__(type(error), error, error.__traceback__)
        raise error

    def write(self, image: torch.Tensor) -> None:
        """Encode one image ``(1, 3, H, W)``, or each image of a batch ``(B, 3, H, W)``."""
        check_image(image, "frame", check_finite=False, min_side=2, min_side_why="yuv420p")
        for one in image:
            array = image_to_array(one)
            if self._video is None:
                self._video = self._start(*array.shape[:2])
            elif array.shape[:2] != (self._video.height, self._video.width):
                raise VideoError(
                    f"frame {self.frames} is {array.shape[0]}x{array.shape[1]} px but the "
                    f"video is {self._video.height}x{self._video.width}; resize it first"
                )
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            # one thread, as the encoder: the bytes must depend on the frames alone (swscale's
            # auto threads are no faster here: 4.8 ms per 1080p frame either way)
            frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", threads=1)
            frame.pts = self.frames
            self._mux(self._video.encode(frame))
            self.frames += 1

    def _start(self, height: int, width: int):
        """Add the video stream, sized after the first frame."""
        check_even(height, width)
        stream = self._out.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        context = stream.codec_context
        context.thread_count = 1  # other thread counts give other (valid) bytes
        context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709
        context.color_range = 1  # limited ("MPEG") range, what players expect
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": PRESET, "x264-params": X264_PARAMS}
        else:
            context.qscale = True  # a fixed quantiser, no rate control
            context.global_quality = MPEG4_QSCALE * 118  # FFmpeg's FF_QP2LAMBDA
        return stream

    def _mux(self, packets) -> None:
        try:
            for packet in packets:
                if self._audio is not None and packet.dts is not None:
                    self._audio.mux_until(float(packet.dts * packet.time_base))
                self._out.mux(packet)
        except av.FFmpegError as e:  # e.g. an audio codec this container cannot hold
            raise VideoError(
                f"FFmpeg cannot write '{self.path.name}' ({one_line(e)}); an .mkv output "
                "holds almost any codec"
            ) from e

    def close(self) -> Path:
        """Flush the encoder, copy the rest of the audio, publish the file; return its path."""
        try:
            if self._video is None:
                raise VideoError(f"no frames were written to '{self.path}'; nothing was saved")
            self._mux(self._video.encode())
            if self._audio is not None:
                self._audio.mux_until(self.frames / float(self.fps))
        except BaseException as e:
            self._abort(e)
        self._stack.close()
        return self.path


class _AudioCopy:
    """The audio packets of a source, muxed into an output in step with its video."""

    def __init__(self, out, source: str | os.PathLike) -> None:
        self.input, self._out, self._next = _open(source), out, None
        streams = self.input.streams.audio
        self._stream = out.add_stream_from_template(streams[0]) if streams else None
        packets = self.input.demux(streams[0]) if streams else iter(())
        self._packets = (p for p in packets if p.dts is not None)  # not the flush packet

    def mux_until(self, seconds: float) -> None:
        """Mux the packets that start before ``seconds``."""
        while True:
            packet = next(self._packets, None) if self._next is None else self._next
            if packet is None or float(packet.dts * packet.time_base) >= seconds:
                self._next = packet  # None once the source has no more packets
                return
            self._next, packet.stream = None, self._stream
            self._out.mux(packet)


def write_video(
    frames: Iterable[torch.Tensor], path: str | os.PathLike, fps: float | Fraction, **options
) -> Path:
    """Encode images into ``path`` and return it; ``options`` as for :class:`VideoWriter`."""
    with VideoWriter(path, fps, **options) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path
