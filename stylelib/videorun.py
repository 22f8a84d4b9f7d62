"""Runs over a video that survive being killed: finished frames on disk, the video from them.

:class:`FrameStore` keeps each finished frame as a lossless PNG in a work folder beside the
output (``OUT.frames/``, :func:`work_folder`), written atomically, and the video is always
encoded from the stored frames (:func:`encode`), so a run killed and started again writes a
file byte-identical to an uninterrupted one. The cost is disk, until the video is written:
2-5 MB per 1080p frame, 4-9 GB per minute at 30 fps. :func:`map_video` is the whole run.

A run, by hand or by :func:`map_video`::

    store = FrameStore(work_folder("out.mp4"), "in.mp4")
    for index, frame in store.pending():  # decodes in.mp4, skipping finished frames
        store.save(index, stylise(frame))
    encode(store, "out.mp4", audio_from="in.mp4")
    store.remove()

A method that looks back (video style transfer: the previous output, warped along the
flow between the previous and the current input frame) reads the previous *stored* output
(:meth:`FrameStore.load`), never one kept in memory: stored frames are rounded to 8 bits,
and a resumed run has only those, so an uninterrupted run must see the same. A method that
looks further back (Ruder et al.'s long-term loss) gets the source frames and stored outputs
of the ``look_back`` frames before, the same way (:meth:`FrameStore.pending_history`).

Example:
    >>> map_video("in.mp4", "dark.mp4", lambda frame: frame * 0.8)  # doctest: +SKIP
    PosixPath('/home/me/dark.mp4')
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from stylelib.files import atomic_write
from stylelib.images import check_image
from stylelib.videoio import (
    MAX_PIXELS,
    VideoError,
    array_to_image,
    check_readable,
    check_video_target,
    decode_arrays,
    image_to_array,
    probe,
    write_video,
)

PNG_LEVEL = 1  # zlib level of stored frames: at 1080p up to 4x faster than 6, <= 20% larger
_FRAME_NAME = re.compile(r"frame_(\d+)\.png")

# fn(frame, previous source frame or None, previous stored output or None) -> output; with a
# look-back of d > 1 frames also earlier={j: (source frame i-j, stored output i-j), 2 <= j <= d}
LookBack = Callable[..., torch.Tensor]


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
        max_pixels: the frame-size limit (:data:`~stylelib.videoio.MAX_PIXELS`).

    Raises:
        VideoError: the source cannot be read (see :func:`~stylelib.videoio.read_frames`), or
            ``folder`` was made for another source or other settings (one line).
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
        for index, frame, _ in self._pending(depth=0):
            yield index, frame

    def pending_pairs(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None]]:
        """As :meth:`pending`, with the source frame before each: ``(index, frame, previous)``
        (``previous`` None for frame 0), also where that frame is stored already."""
        for index, frame, earlier in self._pending(depth=1):
            yield index, frame, earlier[0] if earlier else None

    def pending_history(self, depth: int) -> Iterator[tuple[int, torch.Tensor, list[torch.Tensor]]]:
        """As :meth:`pending`, with the ``depth`` source frames before each, closest first:
        ``(index, frame, [frame index-1, ..., frame index-k])``, k = min(index, depth)."""
        return self._pending(depth)

    def _pending(self, depth: int):
        done = self.finished()

        def skip(i: int) -> bool:  # a stored frame is converted only if one it precedes is due
            return i in done and all(i + k in done for k in range(1, depth + 1))

        count, history = 0, deque(maxlen=max(depth, 1))
        for count, array in enumerate(decode_arrays(self.source, skip), 1):
            frame = None if array is None else array_to_image(array)
            if count - 1 not in done:
                yield count - 1, frame, list(history)[:depth]
            history.appendleft(frame)
        self._write_manifest({**self._manifest(), "complete": count})

    def save(self, index: int, image: torch.Tensor) -> Path:
        """Store frame ``index`` (one image, clamped to [0, 1] and rounded to 8 bits)."""
        check_image(image, "frame", allow_batch=False, check_finite=False, min_side=2)
        pil = Image.fromarray(image_to_array(image[0]))
        with atomic_write(self.path(index)) as f:
            pil.save(f, format="PNG", compress_level=PNG_LEVEL)
        return self.path(index)

    def load(self, index: int) -> torch.Tensor:
        """Frame ``index`` as a float32 ``(1, 3, H, W)`` image."""
        with Image.open(self.path(index)) as pil:
            return array_to_image(np.asarray(pil.convert("RGB")))

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

    ``options`` as for :class:`~stylelib.videoio.VideoWriter` (``audio_from``, ``overwrite``,
    ``codec``, ``crf``); the source is always among the protected inputs.
    """
    inputs = [store.source, *options.pop("inputs", ())]
    return write_video(store.frames(), output, store.info.fps, inputs=inputs, **options)


def map_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    fn: Callable[[torch.Tensor], torch.Tensor] | LookBack,
    *,
    overwrite: bool = False,
    settings: Mapping[str, object] | None = None,
    keep_frames: bool = False,
    look_back: bool | int = False,
    progress: bool = False,
) -> Path:
    """Apply ``fn`` to every frame of ``source`` and write ``output`` with its audio, resumably.

    Frames wait in ``work_folder(output)`` until the video is written (and stay with
    ``keep_frames``); running again after a crash continues where the last run stopped.

    Args:
        source, output: the video to read and the one to write.
        fn: ``fn(frame) -> image``; with ``look_back``, ``fn(frame, previous_frame,
            previous_output)``: the source frame before this one and the stored output of
            that frame (both None for frame 0); with ``look_back=d`` > 1, also
            ``earlier={j: (source frame i-j, stored output i-j)}`` for 2 <= j <= min(i, d).
        overwrite: replace an existing ``output`` (never ``source``).
        settings: what decides the frames besides the source (:class:`FrameStore`).
        keep_frames: keep the work folder once the video is written.
        look_back: call ``fn`` with the previous frame and output (True or 1), or with the
            ``look_back`` frames before (an int), as above.
        progress: a tqdm bar on stderr (frames done, rate, time left).

    Example:
        >>> map_video("in.mp4", "dark.mp4", lambda frame: frame * 0.8)  # doctest: +SKIP
        PosixPath('/home/me/dark.mp4')
    """
    from tqdm.auto import tqdm

    depth = int(look_back)  # True: 1
    if depth < 0:
        raise ValueError(f"look_back must be a number of frames >= 0, got {look_back}")
    target = check_video_target(output, inputs=[source], overwrite=overwrite)
    store = FrameStore(work_folder(target), source, settings)
    done = len(store.finished())
    total = store.info.frames
    with tqdm(
        total=total, initial=min(done, total), unit="frame", desc=target.name, disable=not progress
    ) as bar:
        for index, frame, history in store.pending_history(depth):
            if not depth:
                store.save(index, fn(frame))
            else:
                pairs = [(f, store.load(index - j)) for j, f in enumerate(history, 1)]
                previous, before = pairs[0] if pairs else (None, None)
                earlier = {j: pair for j, pair in enumerate(pairs, 1) if j > 1}
                extra = {"earlier": earlier} if depth > 1 else {}
                store.save(index, fn(frame, previous, before, **extra))
            bar.update(1)
    path = encode(store, target, audio_from=source, overwrite=overwrite)
    if not keep_frames:
        store.remove()
    return path
