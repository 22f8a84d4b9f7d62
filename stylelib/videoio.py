"""Video in, video out, one frame at a time, and runs that survive being killed.

Frames are stylelib images (float32 ``(1, 3, H, W)`` RGB in ``[0, 1]``), decoded and encoded
with PyAV (FFmpeg's libraries, in its wheel). Nothing holds more than a few frames: a
ten-minute 1080p clip streams through in constant memory.

- :func:`probe` describes a file (:class:`VideoInfo`); :func:`read_frames` yields its frames.
- :class:`VideoWriter` encodes frames (H.264 by libx264, or MPEG-4 Part 2 where FFmpeg lacks
  it), copies the audio of a source through unchanged, and publishes the file atomically
  under :mod:`stylelib.files`' rules (an existing file only with ``overwrite``, an input
  never). Encoding is deterministic (fixed CRF, one thread): same frames, same bytes.
- :class:`FrameStore` makes a long run resumable: each finished frame is kept as a lossless
  PNG in a work folder beside the output (``OUT.frames/``), written atomically, and the
  video is always encoded from the stored frames, so a run killed and started again writes
  a file byte-identical to an uninterrupted one. The cost is disk, until the video is
  written: 2-5 MB per 1080p frame, 4-9 GB per minute at 30 fps.

A run, by hand or by :func:`map_video`::

    store = FrameStore(work_folder("out.mp4"), "in.mp4")
    for index, frame in store.pending():  # decodes in.mp4, skipping finished frames
        store.save(index, stylise(frame))
    encode(store, "out.mp4", audio_from="in.mp4")
    store.remove()

Decisions: a variable frame rate is refused, not resampled (flow and warping assume one
frame per tick; ``ffmpeg -i in.mp4 -r 30 cfr.mp4`` converts); odd sides are refused, not
padded (yuv420p halves the chroma, and a silent size change would break "size in = size
out"; :func:`even_size` gives the size to use). Colour is encoded with the BT.709 matrix in
limited range and tagged so; decoding honours a file's tag. Rotation metadata and
non-square pixels are ignored.

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
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from stylelib.errors import StylelibError, one_line
from stylelib.files import atomic_path, atomic_write, check_target
from stylelib.images import check_image

# 4096 x 2160 (DCI 4K). Such a frame is 106 MB as a float32 tensor and 2.3 GB as VGG's first
# 64-channel activation: beyond it per-frame style transfer does not fit a GPU.
MAX_PIXELS = 4096 * 2160
# Frames whose timestamps tell a constant from a variable rate: 4-5 s, enough to see a
# phone's rate drift, few enough to probe in milliseconds.
VFR_PROBE_FRAMES = 120
CRF = 18  # x264's constant rate factor (0-51, lower is better): 18 is near transparent
PRESET = "medium"  # x264's default speed/size trade-off
MPEG4_QSCALE = 2  # the fallback codec's fixed quantiser (1 best, 31 worst)
PNG_LEVEL = 1  # zlib level of stored frames: at 1080p up to 4x faster than 6, <= 20% larger
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that hold H.264 and AAC alike
_REORDER = 16  # H.264's deepest B-frame reordering: packets arrive up to 16 frames early
_FRAME_NAME = re.compile(r"frame_(\d+)\.png")


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
    return (_to_image(array) for array in _decode(path))


def _decode(path: str | os.PathLike, skip: Callable[[int], bool] = lambda i: False):
    """Yield each frame as an (H, W, 3) uint8 array, or None where ``skip(index)``."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: faster, and the same pixels
        for index, frame in enumerate(container.decode(stream)):
            yield None if skip(index) else frame.to_ndarray(format="rgb24")


# Conversions in numpy, one thread: torch's thread pool costs more than it saves on one
# frame, and on a busy machine up to 30 times more (measured: 50 s against 1.7 s).
def _to_image(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> float32 (1, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)[None], np.float32) / 255)


def _to_array(image: torch.Tensor) -> np.ndarray:
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
        self.path = check_target(path, inputs=sources, overwrite=overwrite, kind="video")
        if self.path.suffix.lower() not in OUTPUT_SUFFIXES:
            raise VideoError(
                f"cannot write a video named '{self.path.name}'; end it in one of "
                f"{', '.join(OUTPUT_SUFFIXES)}"
            )
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
            array = _to_array(one)
            if self._video is None:
                self._video = self._start(*array.shape[:2])
            elif array.shape[:2] != (self._video.height, self._video.width):
                raise VideoError(
                    f"frame {self.frames} is {array.shape[0]}x{array.shape[1]} px but the "
                    f"video is {self._video.height}x{self._video.width}; resize it first"
                )
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709")
            frame.pts = self.frames
            self._mux(self._video.encode(frame))
            self.frames += 1

    def _start(self, height: int, width: int):
        """Add the video stream, sized after the first frame."""
        if height % 2 or width % 2:
            h, w = even_size(height, width)
            raise VideoError(
                f"frames are {height}x{width} px; yuv420p video needs even sides: resize or "
                f"crop them to {h}x{w} (stylelib.videoio.even_size)"
            )
        stream = self._out.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        context = stream.codec_context
        context.thread_count = 1  # other thread counts give other (valid) bytes
        context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709
        context.color_range = 1  # limited ("MPEG") range, what players expect
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": PRESET}
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


def work_folder(output: str | os.PathLike) -> Path:
    """Where a run writing ``output`` keeps its finished frames: ``OUTPUT.frames`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".frames")


class FrameStore:
    """The finished frames of one run, numbered lossless PNGs in a work folder.

    The folder holds ``frame_000000.png``, ``frame_000001.png``, ... (each written
    atomically: a frame is there whole or not at all) and ``manifest.json``, which records
    the source (name, bytes, frame count, size, rate) and the caller's ``settings``. A folder
    made for another source or other settings is refused: a resumed run never mixes frames
    of two runs.

    Args:
        folder: the work folder, created if missing (:func:`work_folder` names one).
        source: the video being processed.
        settings: whatever else decides the frames (style, method, sizes), as JSON values.
        max_pixels: the frame-size limit (:data:`MAX_PIXELS`).

    Raises:
        VideoError: the source cannot be read (see :func:`read_frames`), or ``folder`` was
            made for another source or other settings (one line).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        source: str | os.PathLike,
        settings: Mapping[str, object] | None = None,
        *,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self.folder, self.source, self.info = Path(folder), Path(source), probe(source)
        check_readable(self.info, max_pixels)
        identity = {
            "source": self.source.name,
            "bytes": self.source.stat().st_size,
            "frames": self.info.frames,
            "size": [self.info.height, self.info.width],
            "fps": str(self.info.fps),
            "settings": json.loads(json.dumps(dict(settings or {}))),
        }
        self.folder.mkdir(exist_ok=True)
        stored = self._manifest().get("identity")
        if stored is None:
            self._write_manifest({"identity": identity, "complete": None})
        elif stored != identity:
            changed = ", ".join(k for k in identity if stored.get(k) != identity[k])
            raise VideoError(
                f"work folder '{self.folder}' holds frames of another run (its {changed} "
                "differ); remove it (rm -r) to start again, or give another output"
            )

    def _manifest(self) -> dict:
        path = self.folder / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def _write_manifest(self, data: dict) -> None:
        path = self.folder / "manifest.json"
        with atomic_write(path, "w", encoding="utf-8", overwrite=True) as f:
            json.dump(data, f, indent=1)

    def path(self, index: int) -> Path:
        """The file of frame ``index``."""
        return self.folder / f"frame_{index:06d}.png"

    def finished(self) -> set[int]:
        """The indices of the frames stored so far."""
        names = (_FRAME_NAME.fullmatch(n) for n in os.listdir(self.folder))
        return {int(m.group(1)) for m in names if m}

    def pending(self) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(index, frame)`` for each source frame not stored yet, in order.

        Stored frames are decoded but not converted (decoding from the start is exact;
        seeking is not). Once the source is exhausted the store records its frame count.
        """
        count = 0
        for count, array in enumerate(_decode(self.source, self.finished().__contains__), 1):
            if array is not None:
                yield count - 1, _to_image(array)
        self._write_manifest({**self._manifest(), "complete": count})

    def save(self, index: int, image: torch.Tensor) -> Path:
        """Store frame ``index`` (one image, clamped to [0, 1] and rounded to 8 bits)."""
        check_image(image, "frame", allow_batch=False, check_finite=False, min_side=2)
        pil = Image.fromarray(_to_array(image[0]))
        with atomic_write(self.path(index)) as f:
            pil.save(f, format="PNG", compress_level=PNG_LEVEL)
        return self.path(index)

    def load(self, index: int) -> torch.Tensor:
        """Frame ``index`` as a float32 ``(1, 3, H, W)`` image."""
        with Image.open(self.path(index)) as pil:
            return _to_image(np.asarray(pil.convert("RGB")))

    def frames(self) -> Iterator[torch.Tensor]:
        """Every frame, in order, once the store is complete.

        Raises:
            VideoError: the source was not read to its end, or frames are missing.
        """
        total = self._manifest().get("complete")
        missing = sorted(set(range(total or 0)) - self.finished())
        if total is None or missing:
            what = (
                "the source was not read to its end"
                if total is None
                else (f"{len(missing)} of {total} frames are missing, the first is {missing[0]}")
            )
            raise VideoError(f"work folder '{self.folder}' is unfinished: {what}; run again")
        return (self.load(index) for index in range(total))

    def remove(self) -> None:
        """Delete the work folder and everything in it."""
        shutil.rmtree(self.folder)


def encode(store: FrameStore, output: str | os.PathLike, **options) -> Path:
    """Encode a complete store into ``output`` at its source's frame rate; return the path.

    ``options`` as for :class:`VideoWriter` (``audio_from``, ``overwrite``, ``codec``,
    ``crf``); the source is always among the protected inputs.
    """
    inputs = [store.source, *options.pop("inputs", ())]
    return write_video(store.frames(), output, store.info.fps, inputs=inputs, **options)


def map_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    overwrite: bool = False,
    settings: Mapping[str, object] | None = None,
    keep_frames: bool = False,
) -> Path:
    """Apply ``fn`` to every frame of ``source`` and write ``output`` with its audio, resumably.

    Frames wait in ``work_folder(output)`` until the video is written (and stay with
    ``keep_frames``); running again after a crash continues where the last run stopped.

    Example:
        >>> map_video("in.mp4", "dark.mp4", lambda frame: frame * 0.8)  # doctest: +SKIP
        PosixPath('/home/me/dark.mp4')
    """
    target = check_target(output, inputs=[source], overwrite=overwrite, kind="video")
    store = FrameStore(work_folder(target), source, settings)
    for index, frame in store.pending():
        store.save(index, fn(frame))
    path = encode(store, target, audio_from=source, overwrite=overwrite)
    if not keep_frames:
        store.remove()
    return path
