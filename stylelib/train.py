"""Training the transform network of fast style transfer (Johnson et al. 2016).

One network learns one style. Each step takes a batch of photos x (random crops from any
folder of images; COCO train2014 in the paper), stylises them, y = f_W(x), and lowers the
perceptual loss of the frozen VGG16 loss network φ (Johnson et al. 2016, Sec. 3, Eqs. 2-5):

    L = λ_c Σ_j ‖φ_j(y) − φ_j(x)‖² / (C_j H_j W_j)            content: relu2_2 (or relu3_3)
      + λ_s Σ_j ‖G_j(y) − G_j(s)‖²_F                           style: relu1_2 ... relu4_3
      + λ_TV TV(y)

with the style image s fixed and G_j the Gram matrix ÷ C_j H_j W_j (see
:mod:`stylelib.losses`). Adam updates the weights W; VGG stays frozen.

The run is exactly reproducible and resumable: the data order and every crop are functions
of ``(seed, sample number)`` only, so a checkpoint needs to record the step, and a run
killed at any moment continues from its last checkpoint to bit-identical weights. Under
``torchrun`` every process takes its slice of each global batch, DistributedDataParallel
averages the gradients, and only rank 0 writes files.

Example::

    >>> from dataclasses import replace
    >>> from stylelib.config import preset
    >>> from stylelib.train import train
    >>> cfg = replace(preset("johnson2016"), weights="random", image_size=32, steps=2,
    ...               batch_size=2, device="cpu")
    >>> result = train("mosaic", "photos/", cfg, "mosaic.pth", progress=False)  # doctest: +SKIP
    >>> result.steps  # doctest: +SKIP
    2
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler

from .checkpoints import (
    CheckpointError,
    check_model_path,
    check_resumable,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    training_state,
)
from .config import JohnsonConfig
from .data import resolve_image
from .deprecation import moved
from .devices import pick_device
from .errors import Diverged, ImageError, StylelibError, one_line
from .images import IMAGE_EXTENSIONS, load_image
from .losses import content_loss, style_gram, style_loss, total_variation
from .transformer import TransformerNet
from .vgg import VGGFeatures, layer_table


class DataError(StylelibError, ValueError):
    """A training folder with no usable images."""


class UnreadableImageWarning(UserWarning):
    """A training image that could not be read and was skipped."""


# --- data ----------------------------------------------------------------------------------


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


def collate(items: list) -> tuple[Tensor | StylelibError, list[tuple[str, str]]]:
    """Stack the crops; gather the skipped files. A sample that is an error (see
    :class:`_ErrorsAsValues`) makes the whole batch that error, for the loop to raise."""
    for item in items:
        if isinstance(item, StylelibError):
            return item, []
    return torch.stack([crop for crop, _ in items]), [s for _, skip in items for s in skip]


class _ErrorsAsValues(Dataset):
    """``dataset`` with its one-line errors (StylelibError) returned as samples, not raised.

    A DataLoader worker's exception reaches the training process re-raised by torch, with
    the worker's whole traceback as its message; returned as a value it arrives as it was
    raised, and :func:`train` raises it there: the same one line with ``workers=0`` or 4.
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


# --- the loss ------------------------------------------------------------------------------


def loss_network(config: JohnsonConfig) -> VGGFeatures:
    """Frozen VGG16 up to the deepest loss layer (relu4_3): the rest is never built."""
    layers = list(config.content_layers) + list(config.style_layers)
    return VGGFeatures(config.arch, config.weights, layers, config.pooling, seed=config.seed)


@torch.no_grad()
def style_targets(net: VGGFeatures, style: Tensor, config: JohnsonConfig) -> dict[str, Tensor]:
    """Gram matrices ``(1, C, C)`` of the style image at every style layer.

    With ``normalization="gatys"`` the unnormalised Gram is rescaled to the number of
    positions of an ``image_size`` crop (:func:`stylelib.losses.style_gram`).
    """
    feats = net(style, layers=config.style_layers)
    shapes = {r["name"]: r["output"] for r in layer_table(config.arch, config.image_size, False)}
    return {
        name: style_gram(f, shapes[name][0] * shapes[name][1], config.normalization)
        for name, f in feats.items()
    }


def perceptual_loss(
    net: VGGFeatures,
    stylized: Tensor,
    content: Tensor,
    grams: dict[str, Tensor],
    config: JohnsonConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Johnson et al. 2016, Eqs. 2-5 and Sec. 3.3: weighted content + style + TV loss.

    Args:
        net: the loss network, with every content and style layer.
        stylized: ``(B, 3, S, S)`` network output y.
        content: ``(B, 3, S, S)`` the photos x (the content targets, no gradient).
        grams: :func:`style_targets`.
        config: weights, layers and normalisation.

    Returns:
        ``(total, {"content", "style", "tv"})``: the scalar loss and its weighted parts.
    """
    norm, parts = config.normalization, {}
    content_layers = list(config.content_layers) if config.content_weight > 0 else []
    style_layers = list(config.style_layers) if config.style_weight > 0 else []
    feats = net(stylized, layers=content_layers + style_layers)
    if content_layers:
        with torch.no_grad():
            targets = net(content, layers=content_layers)  # runs only to the content layer
        loss = sum(content_loss(feats[n], targets[n], norm) for n in content_layers)
        parts["content"] = config.content_weight * loss
    if style_layers:
        weights = dict(zip(config.style_layers, config.style_layer_weights, strict=True))
        loss = style_loss(feats, grams, weights, norm)
        parts["style"] = config.style_weight * loss
    if config.tv_weight > 0:
        parts["tv"] = config.tv_weight * total_variation(stylized, config.tv_kind)
    if not parts:
        raise ValueError("content_weight, style_weight and tv_weight are all 0: nothing to train")
    return torch.stack(list(parts.values())).sum(), parts


# --- what a resumed run must see again ------------------------------------------------------


def style_digest(style: object, image: Tensor) -> str:
    """SHA-256 of the style file's bytes; for a built-in name or a tensor, of ``image``'s
    8-bit pixels (so a last-bit difference between machines does not change it)."""
    if isinstance(style, (str, os.PathLike)) and Path(style).expanduser().is_file():
        return hashlib.sha256(Path(style).expanduser().read_bytes()).hexdigest()
    pixels = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    header = "x".join(map(str, pixels.shape)).encode()
    return hashlib.sha256(header + pixels.numpy().tobytes()).hexdigest()


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Processes:
    """Where this process stands: its rank among ``world_size`` and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # True if train() started the process group (and ends it)


def start_processes(device: str = "auto") -> Processes:
    """One process, or under ``torchrun`` a process group: NCCL on GPUs, gloo on CPUs.

    ``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; each process then uses GPU
    ``LOCAL_RANK`` (or the CPU).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 and not dist.is_initialized():
        return Processes(device=pick_device(device))
    chosen = pick_device(device)
    if chosen.type == "cuda" and chosen.index is None:
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), chosen, owns)


# --- training ------------------------------------------------------------------------------

# callback(step, record) after every step; True stops the run.
TrainCallback = Callable[[int, dict], "bool | None"]


@dataclass
class TrainResult:
    """What :func:`train` returns (on every process).

    Attributes:
        model: the trained network (unwrapped from DDP), in eval mode, on the device.
        steps: the step reached (a resumed run counts from its checkpoint's step).
        history: one dict per step: ``step``, ``loss`` (weighted total before the update),
            ``content``, ``style``, ``tv`` (weighted parts), ``seconds``; averaged over all
            processes; a resumed run carries the checkpoint's history.
        path: the checkpoint written last, or None.
        stopped: ``"finished"``, ``"stopped"`` (the callback asked) or ``"interrupted"``.
        message: one line saying how it ended.
        seconds: wall time of this call.
        skipped: unreadable training files skipped (by this process).
    """

    model: TransformerNet
    steps: int
    history: list[dict]
    path: Path | None = None
    stopped: str = "finished"
    message: str = ""
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


def train(
    style: object,
    data: str | os.PathLike,
    config: JohnsonConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    tensorboard: str | os.PathLike | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
) -> TrainResult:
    """Train a :class:`TransformerNet` for one style (Johnson et al. 2016).

    Args:
        style: the style image: a file, a built-in name (``"mosaic"``, ``"starry_night"``
            ...) or an image tensor; resized to ``config.style_size`` (long side).
        data: a folder of training photos, searched recursively; unreadable files are
            skipped with a warning.
        config: a :class:`~stylelib.config.JohnsonConfig` (default: the paper's preset).
        output: the checkpoint file (``.pt``), written atomically every
            ``config.checkpoint_every`` steps and at the end; None writes nothing.
        resume: a checkpoint to continue from; refused if its style, settings or training
            files differ (``steps``, ``checkpoint_every``, ``device``, ``workers`` may change).
        overwrite: replace an existing ``output`` (without it, only ``resume`` may).
        tensorboard: a folder for TensorBoard logs (needs the ``tensorboard`` package).
        progress: show a tqdm progress bar (rank 0 only).
        callback: ``callback(step, record)`` after every step; return True to stop (return
            the same on every process under torchrun).

    Returns:
        A :class:`TrainResult`. The global generators of torch, numpy and Python are seeded
        with ``config.seed`` (a resumed run restores them from the checkpoint).

    Raises:
        DataError, ImageError, CheckpointError, OutputError: bad inputs, one line each.
        Diverged: the loss or the network's output became NaN/Inf (the last checkpoint is
            kept).
    """
    config = JohnsonConfig() if config is None else config
    if not isinstance(config, JohnsonConfig):
        raise ValueError(
            f"config must be a JohnsonConfig, got {type(config).__name__}; start from "
            "preset('johnson2016') and vary it with dataclasses.replace"
        )
    procs = start_processes(config.device)
    try:
        run = _Training(style, data, config, output, resume, overwrite, tensorboard, procs)
        return run.loop(progress, callback)
    finally:
        if procs.owns_group:
            dist.destroy_process_group()


class _Training:
    """Everything one training run holds; ``loop`` runs it. Built by :func:`train`."""

    def __init__(self, style, data, config, output, resume, overwrite, tensorboard, procs):
        self.config, self.procs = config, procs
        if config.batch_size % procs.world_size:
            raise ValueError(
                f"batch_size={config.batch_size} cannot be split evenly over "
                f"{procs.world_size} processes; choose a multiple of {procs.world_size}"
            )
        self.output = (
            check_model_path(output, overwrite=overwrite, resume=resume) if output else None
        )
        # Replacing the output file was allowed up front (--overwrite, or resuming it); else
        # the first save must not replace a file that appeared meanwhile, the later ones do.
        same = resume is not None and self.output == Path(resume).expanduser().resolve()
        self.replace_output = overwrite or same
        self.writer = _tensorboard_writer(tensorboard) if tensorboard and procs.rank == 0 else None
        files = list_images(data)
        self.dataset = CropDataset(files, config.image_size, config.seed)
        self.data_info = {"files": len(files), "files_sha256": files_digest(files, data)}
        style_image = resolve_image(style, size=config.style_size)
        self.style_sha = style_digest(style, style_image)
        self.style_name = str(style) if not isinstance(style, Tensor) else "tensor"
        checkpoint = load_checkpoint(resume, resume=True) if resume else None
        if checkpoint:
            check_resumable(
                checkpoint, config, self.style_sha, self.data_info["files_sha256"], resume
            )

        random.seed(config.seed)
        # the global one, as training scripts do; it takes 32-bit words, so a larger seed
        # goes in as two of them (a smaller one as itself, as it always has)
        words = config.seed if config.seed < 2**32 else [config.seed % 2**32, config.seed >> 32]
        np.random.seed(words)  # noqa: NPY002
        torch.manual_seed(config.seed)
        self.model = TransformerNet(config.transformer_norm, config.upsample).to(procs.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.step, self.history, self.skipped, self.seconds0 = 0, [], [], 0.0
        if checkpoint:
            self._restore(checkpoint, resume)
        self.net = loss_network(config).to(procs.device)
        self.grams = style_targets(self.net, style_image.to(procs.device), config)
        self.ddp = self.model
        if procs.world_size > 1:
            ids = [procs.device.index] if procs.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(self.model, device_ids=ids)
        self.saved_step = -1  # the step of the last checkpoint this run wrote

    def _restore(self, checkpoint: dict, path) -> None:
        """Weights, Adam's state, the step, the history and the generators of ``checkpoint``."""
        try:
            self.model.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            set_rng_state(checkpoint["rng"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(
                f"cannot resume '{path}': its model, optimizer or generator state does not "
                f"fit this run ({one_line(exc, limit=160, first_line=True, with_type=True)}); "
                "the file was changed or written by another program"
            ) from None
        self.step, self.history = checkpoint["step"], list(checkpoint["history"])
        self.skipped = list(checkpoint["data"]["skipped"])
        self.seconds0 = checkpoint["seconds"]

    def loop(self, progress: bool, callback: TrainCallback | None) -> TrainResult:
        """Run from ``self.step`` to ``config.steps``, saving as configured; see :func:`train`."""
        from tqdm.auto import tqdm

        config, procs, start = self.config, self.procs, time.perf_counter()
        sampler = ShardSampler(
            self.step, config.steps, config.batch_size, procs.rank, procs.world_size
        )
        loader = DataLoader(
            _ErrorsAsValues(self.dataset),
            batch_size=sampler.per_rank,
            sampler=sampler,
            num_workers=config.workers,
            collate_fn=collate,
        )
        bar = tqdm(
            total=config.steps,
            initial=self.step,
            desc="train",
            unit="step",
            disable=not progress or procs.rank != 0,
        )
        first_step, stopped, updating = self.step, "finished", False
        self.model.train()
        try:
            for batch, skipped in loader:
                if isinstance(batch, StylelibError):  # raised in a data-loading process
                    raise batch
                self._warn_skipped(skipped)
                x = batch.to(procs.device)
                y = self.ddp(x)
                if not torch.isfinite(y).all():  # the last update broke the weights
                    raise self._diverged(
                        f"the network's output became NaN/Inf at step {self.step + 1}"
                    )
                loss, parts = perceptual_loss(self.net, y, x, self.grams, config)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()  # under DDP: gradients are averaged over the processes here
                record = self._record(loss, parts, time.perf_counter() - start)
                if not np.isfinite(record["loss"]):
                    raise self._diverged(
                        f"the loss became {record['loss']} at step {record['step']}"
                    )
                updating = True
                self.optimizer.step()
                self.step, updating = self.step + 1, False
                self.history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
                bar.update(1)
                self._log(record, y)
                if config.checkpoint_every and self.step % config.checkpoint_every == 0:
                    self._save()
                if callback is not None and callback(self.step, record):
                    stopped = "stopped"
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
        finally:
            bar.close()
        if self.step != self.saved_step and not updating:
            self._save()
        if self.writer is not None:
            self.writer.close()
        seconds = time.perf_counter() - start
        return TrainResult(
            model=self.model.eval(),
            steps=self.step,
            history=self.history,
            path=self.output,
            stopped=stopped,
            message=self._message(stopped, updating, first_step, seconds),
            seconds=seconds,
            skipped=self.skipped,
        )

    def _record(self, loss: Tensor, parts: dict[str, Tensor], seconds: float) -> dict:
        """The step's losses, averaged over the processes (one small all-reduce)."""
        names = ["loss", "content", "style", "tv"]
        zero = loss.new_zeros(())
        values = torch.stack([loss.detach()] + [parts.get(n, zero).detach() for n in names[1:]])
        if self.procs.world_size > 1:
            dist.all_reduce(values)
            values /= self.procs.world_size
        record = {"step": self.step + 1, **dict(zip(names, values.tolist(), strict=True))}
        return {**record, "seconds": self.seconds0 + seconds}

    def _warn_skipped(self, skipped: list[tuple[str, str]]) -> None:
        for path, reason in skipped:
            if path not in self.skipped:
                self.skipped.append(path)
                warnings.warn(
                    f"skipping an unreadable training image ({reason}); "
                    f"{len(self.skipped)} skipped so far",
                    UnreadableImageWarning,
                    stacklevel=2,
                )

    def _log(self, record: dict, stylized: Tensor) -> None:
        if self.writer is None:
            return
        for name in ("loss", "content", "style", "tv"):
            self.writer.add_scalar(f"loss/{name}", record[name], record["step"])
        every = self.config.checkpoint_every
        if every and record["step"] % every == 0:
            self.writer.add_images("stylized", stylized[:1].detach().float().cpu(), record["step"])

    def _diverged(self, what: str) -> Diverged:
        return Diverged(
            f"{what}; lower the learning rate (lr={self.config.lr}) or the loss weights"
            + (f"; the last checkpoint is {self.output}" if self._on_disk() else "")
        )

    def _on_disk(self) -> bool:
        return self.output is not None and self.output.exists()

    def _save(self) -> None:
        """Rank 0 writes the checkpoint; other processes only note the step."""
        self.saved_step = self.step
        if self.output is None or self.procs.rank != 0:
            return
        config = self.config
        state = training_state(
            config,
            self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            step=self.step,
            data={
                **self.data_info,
                "seed": config.seed,
                "samples_seen": self.step * config.batch_size,  # the sampler position
                "skipped": list(self.skipped),
            },
            rng=rng_state(),
            style=self.style_name,
            style_sha256=self.style_sha,
            world_size=self.procs.world_size,
            history=self.history,
            seconds=self.history[-1]["seconds"] if self.history else self.seconds0,
        )
        save_checkpoint(state, self.output, overwrite=self.replace_output)
        self.replace_output = True  # this run's own file from now on

    def _message(self, stopped: str, updating: bool, first_step: int, seconds: float) -> str:
        done = self.step - first_step
        text = (
            f"trained {done} steps (to step {self.step} of {self.config.steps}) in {seconds:.1f} s"
        )
        if done and self.history:
            text += (
                f"; loss {self.history[first_step]['loss']:.4g} -> {self.history[-1]['loss']:.4g}"
            )
        if self.skipped:
            text += f"; {len(self.skipped)} unreadable image(s) skipped"
        if stopped == "interrupted":
            text = "interrupted: " + text
            if updating:
                text += "; stopped inside a weight update, so the checkpoint on disk is not updated"
        return text


def _tensorboard_writer(folder: str | os.PathLike):
    """A ``SummaryWriter`` for ``folder``, or a one-line error if TensorBoard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise StylelibError(
            "TensorBoard logging was asked for, but the tensorboard package is not installed; "
            "run `pip install tensorboard` or leave out --tensorboard"
        ) from None
    return SummaryWriter(log_dir=str(folder))


__all__ = [
    "train",
    "TrainResult",
    "perceptual_loss",
    "style_targets",
    "loss_network",
    "list_images",
    "CropDataset",
    "ShardSampler",
    "DataError",
    "UnreadableImageWarning",
]

# Moved to stylelib.checkpoints, the one module of the checkpoint format.
__getattr__ = moved(
    __name__,
    {
        "config_from_checkpoint": "stylelib.checkpoints:config_from_checkpoint",
        "MODEL_SUFFIXES": "stylelib.checkpoints:SUFFIXES",
        "RESUME_MAY_CHANGE": "stylelib.checkpoints:RESUME_MAY_CHANGE",
    },
)
