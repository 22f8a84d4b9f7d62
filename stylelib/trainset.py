"""The training set of every trained method: an image folder, random crops, the sampler, batches.

Fast style transfer (:mod:`stylelib.johnson.train`), super-resolution
(:mod:`stylelib.superres.train`) and the AdaIN decoder (:mod:`stylelib.adain.train`) train
on random square crops of the photos in a folder (COCO for the real thing, any folder for a
demo). For :mod:`stylelib.trainkit`'s exact resume, everything here is a pure function of
``(seed, sample number)``: which file (:class:`CropDataset`, a permutation per epoch), where
the crop is, and which samples a process takes at a step (:class:`ShardSampler`). A
checkpoint then needs only the step to continue with the same data.

A folder of broken images gives one :class:`DataError` line, with or without data-loading
processes (:class:`ErrorsAsValues`); an unreadable file among good ones is skipped with an
:class:`UnreadableImageWarning`.

Example:
    >>> import torch
    >>> crops = [(torch.zeros(3, 8, 8), ()), (torch.ones(3, 8, 8), (("bad.jpg", "why"),))]
    >>> batch, skipped = collate(crops)
    >>> tuple(batch.shape), skipped
    ((2, 3, 8, 8), [('bad.jpg', 'why')])
    >>> list(ShardSampler(start_step=1, steps=3, batch_size=4, rank=1, world_size=2))
    [6, 7, 10, 11]
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from stylelib.errors import ImageError, StylelibError
from stylelib.images import IMAGE_EXTENSIONS, load_image


class DataError(StylelibError, ValueError):
    """A training folder with no usable images."""


class UnreadableImageWarning(UserWarning):
    """A training image that could not be read and was skipped."""


# --- the image folder ----------------------------------------------------------------------


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Every image file under ``folder`` (recursively), sorted by relative path.

    Raises DataError (one line) for a missing folder or one without image files.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(
            f"training data '{root}' is not a folder; give a folder of photos "
            "(COCO train2014 for the real thing, any folder for a demo)"
        )
    files = sorted(
        (p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    if not files:
        raise DataError(
            f"no images in '{root}' or its subfolders (looked for {' '.join(IMAGE_EXTENSIONS)}); "
            "put training photos there, e.g. COCO train2014"
        )
    return files


def files_digest(files: Sequence[Path], root: str | os.PathLike) -> str:
    """SHA-256 of the sorted relative paths: a resumed run must see the same files."""
    names = "\n".join(p.relative_to(Path(root).expanduser()).as_posix() for p in files)
    return hashlib.sha256(names.encode()).hexdigest()


# --- crops, sampler, batches ----------------------------------------------------------------


def random_crop(image: Tensor, size: int, rng: np.random.Generator) -> Tensor:
    """Resize ``(1, 3, H, W)`` so the short side is ``size``, then crop ``(3, size, size)``.

    Bicubic with antialiasing, as :func:`stylelib.images.resize`; the crop position is drawn
    from ``rng``.
    """
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    new = (max(size, round(h * scale)), max(size, round(w * scale)))
    if new != (h, w):
        image = F.interpolate(image, size=new, mode="bicubic", antialias=True).clamp_(0, 1)
    top = int(rng.integers(0, new[0] - size + 1))
    left = int(rng.integers(0, new[1] - size + 1))
    return image[0, :, top : top + size, left : left + size].contiguous()


class CropDataset(Dataset):
    """Sample number k -> one random crop, a pure function of ``(seed, k)``.

    Epoch e = k // n visits the n files in a permutation drawn from ``(seed, e)``; the crop
    of sample k is drawn from ``(seed, k)``. An unreadable file is replaced by the next file
    of the same permutation (so the result still depends on k only) and reported back.

    Returns, per sample: ``(crop (3, S, S) in [0, 1], ((path, reason), ...) skipped)``.
    """

    def __init__(self, files: Sequence[Path], image_size: int, seed: int) -> None:
        self.files, self.image_size, self.seed = list(files), image_size, seed
        self._epoch, self._order = -1, np.arange(0)
        self._bad: dict[int, str] = {}  # file index -> why it could not be read

    def __len__(self) -> int:
        return len(self.files)

    def order(self, epoch: int) -> np.ndarray:
        """The permutation of file indices for ``epoch``."""
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, 0, epoch])
            self._epoch, self._order = epoch, rng.permutation(len(self.files))
        return self._order

    def __getitem__(self, k: int) -> tuple[Tensor, tuple[tuple[str, str], ...]]:
        n = len(self.files)
        order = self.order(k // n)
        skipped = []
        for offset in range(n):
            index = int(order[(k + offset) % n])
            if index not in self._bad:
                try:
                    image = load_image(self.files[index])
                except ImageError as exc:
                    self._bad[index] = str(exc)
                    skipped.append((str(self.files[index]), str(exc)))
                    continue
                rng = np.random.default_rng([self.seed, 1, k])
                return random_crop(image, self.image_size, rng), tuple(skipped)
        folder = os.path.commonpath([str(f.parent) for f in self.files])
        raise DataError(
            f"none of the {n} image files under '{folder}' could be read (e.g. "
            f"{next(iter(self._bad.values()))}); check the training folder"
        )


class ShardSampler(Sampler[int]):
    """Global sample numbers for one process: step s, rank r takes its slice of the batch.

    Step s uses samples ``[s B, (s + 1) B)`` of the global order (B = global batch); rank r of
    W takes ``B / W`` consecutive ones. Any world size sees the same global batches, and a
    resumed run starts at ``start_step``: the "sampler position" is the step.
    """

    def __init__(
        self, start_step: int, steps: int, batch_size: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.start_step, self.steps = start_step, steps
        self.per_rank = batch_size // world_size
        self.batch_size, self.rank = batch_size, rank

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start_step, self.steps):
            first = step * self.batch_size + self.rank * self.per_rank
            yield from range(first, first + self.per_rank)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step) * self.per_rank


def collate(items: list) -> tuple[Tensor | tuple[Tensor, ...] | StylelibError, list]:
    """Stack the samples (a tensor each, or a tuple of tensors each: a tuple of stacks);
    gather the skipped files. A sample that is an error (see :class:`ErrorsAsValues`) makes
    the whole batch that error, for the loop to raise."""
    for item in items:
        if isinstance(item, StylelibError):
            return item, []
    samples = [sample for sample, _ in items]
    skipped = [s for _, skip in items for s in skip]
    if isinstance(samples[0], Tensor):
        return torch.stack(samples), skipped
    return tuple(torch.stack(column) for column in zip(*samples, strict=True)), skipped


class ErrorsAsValues(Dataset):
    """``dataset`` with its one-line errors (StylelibError) returned as samples, not raised.

    A DataLoader worker's exception reaches the training process re-raised by torch, with
    the worker's whole traceback as its message; returned as a value it arrives as it was
    raised, and the training loop raises it there: the same one line with ``workers=0`` or 4.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, k: int):
        try:
            return self.dataset[k]
        except StylelibError as exc:
            return exc


# --- what a resumed run must see again ------------------------------------------------------


def image_digest(source: object, image: Tensor) -> str:
    """SHA-256 of the file ``source`` names; for a built-in name or a tensor, of ``image``'s
    8-bit pixels (so a last-bit difference between machines does not change it)."""
    if isinstance(source, (str, os.PathLike)) and Path(source).expanduser().is_file():
        return hashlib.sha256(Path(source).expanduser().read_bytes()).hexdigest()
    pixels = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    header = "x".join(map(str, pixels.shape)).encode()
    return hashlib.sha256(header + pixels.numpy().tobytes()).hexdigest()


__all__ = [
    "DataError",
    "UnreadableImageWarning",
    "list_images",
    "files_digest",
    "random_crop",
    "CropDataset",
    "ShardSampler",
    "collate",
    "ErrorsAsValues",
    "image_digest",
]
