"""What every trained method of the course shares: the processes and the resumable loop.

Fast style transfer (:mod:`stylelib.johnson.train`), super-resolution
(:mod:`stylelib.superres.train`) and the AdaIN decoder (:mod:`stylelib.adain.train`) all train
a network with Adam on random crops of an image folder (:mod:`stylelib.trainset`), and all
promise the same things:

- **Exact resume.** The data order and every crop are functions of ``(seed, sample number)``
  only (:class:`~stylelib.trainset.CropDataset`, :class:`~stylelib.trainset.ShardSampler`),
  and a checkpoint records the step, the
  optimiser and the generators, so a run killed at any moment continues from its last
  checkpoint to bit-identical weights.
- **torchrun.** Every process takes its slice of each global batch, DistributedDataParallel
  averages the gradients, and only rank 0 writes files (:func:`start_processes`).
- **Files that survive.** Checkpoints are written atomically and never replace a file the
  user had (:func:`stylelib.checkpoints.save_checkpoint`); a folder of broken images gives one
  :class:`~stylelib.trainset.DataError` line, with or without data-loading processes.

A method subclasses :class:`TrainingRun` and supplies what differs: its checkpoint ``kind``,
the names of its loss ``parts``, the ``dataset``, the network and optimiser (:meth:`start`)
and :meth:`TrainingRun.losses`, the loss of one batch. Its config is a frozen dataclass with
at least ``steps``, ``batch_size``, ``lr``, ``checkpoint_every``, ``seed``, ``device`` and
``workers`` (checked by :func:`stylelib.config.check_fields`).

Example, the skeleton of a method::

    class _Run(TrainingRun):
        kind = MY_KIND                     # a stylelib.checkpoints.CheckpointKind
        parts = ("pixel",)

        def __init__(self, data, config, output, resume, overwrite, tensorboard, procs):
            super().__init__(config, output, resume, overwrite, tensorboard, procs)
            self.use_data(list_images(data), data)   # stylelib.trainset: crops of image_size
            self.check_resumable()                   # same config and files as the checkpoint
            seed_all(config.seed)
            net = MyNet()
            self.start(net, torch.optim.Adam(net.parameters(), lr=config.lr))

        def losses(self, batch):
            y = self.ddp(batch)
            loss = F.mse_loss(y, batch)
            return loss, {"pixel": loss}, y

    result = run_training(_Run, data, config, output)   # or _Run(...).loop(progress, callback)
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from stylelib.checkpoints import (
    CheckpointError,
    CheckpointKind,
    check_model_path,
    check_resumable,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    training_state,
)
from stylelib.devices import pick_device
from stylelib.errors import Diverged, StylelibError, one_line
from stylelib.trainset import (
    CropDataset,
    ErrorsAsValues,
    ShardSampler,
    UnreadableImageWarning,
    collate,
    files_digest,
)

# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Processes:
    """Where this process stands: its rank among ``world_size`` and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # True if this run started the process group (and ends it)


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


# callback(step, record) after every step; True stops the run.
TrainCallback = Callable[[int, dict], "bool | None"]


@dataclass
class TrainResult:
    """What a training run returns (on every process).

    Attributes:
        model: the trained network (unwrapped from DDP), in eval mode, on the device.
        steps: the step reached (a resumed run counts from its checkpoint's step).
        history: one dict per step: ``step``, ``loss`` (weighted total before the update),
            the method's weighted parts (``content``, ``style``, ``tv`` ...), ``seconds``;
            averaged over all processes; a resumed run carries the checkpoint's history.
        path: the checkpoint written last, or None.
        stopped: ``"finished"``, ``"stopped"`` (the callback asked) or ``"interrupted"``.
        message: one line saying how it ended.
        seconds: wall time of this call.
        skipped: unreadable training files skipped (by this process).
    """

    model: nn.Module
    steps: int
    history: list[dict]
    path: Path | None = None
    stopped: str = "finished"
    message: str = ""
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)


# --- the loop ------------------------------------------------------------------------------


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's (the legacy global one, as training scripts use) and torch's
    global generators. numpy's takes 32-bit words, so a larger seed goes in as two."""
    random.seed(seed)
    words = seed if seed < 2**32 else [seed % 2**32, seed >> 32]
    np.random.seed(words)  # noqa: NPY002
    torch.manual_seed(seed)


class TrainingRun:
    """Everything one training run holds; :meth:`loop` runs it. Subclass it (module docstring).

    The base class checks the batch split and the output path, opens TensorBoard, reads the
    ``--resume`` checkpoint and, in :meth:`loop`, runs the steps: data loading (in worker
    processes if ``config.workers``), :meth:`losses`, backward (averaged over processes under
    torchrun), a check that the loss is finite, Adam's step, the record, TensorBoard,
    checkpoints every ``config.checkpoint_every`` steps and at the end, Ctrl-C, the callback.
    """

    kind: CheckpointKind  # the method's checkpoint format
    parts: tuple[str, ...] = ()  # names of the weighted loss parts :meth:`losses` returns
    image_tag = "output"  # TensorBoard's name for the image :meth:`losses` returns

    def __init__(self, config, output, resume, overwrite, tensorboard, procs: Processes) -> None:
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
        self.writer = tensorboard_writer(tensorboard) if tensorboard and procs.rank == 0 else None
        self.resume_path = resume
        self.checkpoint = load_checkpoint(resume, resume=True, kind=self.kind) if resume else None
        self.step, self.history, self.skipped, self.seconds0 = 0, [], [], 0.0
        self.saved_step = -1  # the step of the last checkpoint this run wrote
        self.dataset: Dataset | None = None
        self.data_info: dict = {}

    # --- what a method supplies ---------------------------------------------------------

    def use_data(self, files: Sequence[Path], root: str | os.PathLike) -> None:
        """Train on random crops of ``config.image_size`` from ``files`` (under ``root``)."""
        self.dataset = CropDataset(files, self.config.image_size, self.config.seed)
        self.data_info = {"files": len(files), "files_sha256": files_digest(files, root)}

    def check_resumable(self, style_sha: str | None = None) -> None:
        """Refuse to resume with other settings or files (or another style, if given)."""
        if self.checkpoint:
            check_resumable(
                self.checkpoint,
                self.config,
                style_sha,
                self.data_info["files_sha256"],
                self.resume_path,
                self.kind,
            )

    def start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """The network to train (moved to the device) and its optimiser; a resumed run
        restores both, the step, the history and the generators here."""
        self.model, self.optimizer = model.to(self.procs.device), optimizer
        if self.checkpoint:
            self._restore(self.checkpoint, self.resume_path)
        self.ddp: nn.Module = self.model

    def losses(self, batch) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """One batch's ``(total loss, {part: weighted loss}, an image for TensorBoard)``.
        Run the network as ``self.ddp(...)`` so torchrun averages its gradients."""
        raise NotImplementedError

    def run_state(self) -> dict:
        """Keys the method saves beside the common run state (e.g. ``style``)."""
        return {}

    # --- the loop -------------------------------------------------------------------------

    def _restore(self, checkpoint: Mapping, path) -> None:
        """Weights, the optimiser's state, the step, the history and the generators."""
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
        """Run from ``self.step`` to ``config.steps``, saving as configured."""
        from tqdm.auto import tqdm

        config, procs, start = self.config, self.procs, time.perf_counter()
        if procs.world_size > 1 and self.ddp is self.model:
            ids = [procs.device.index] if procs.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(self.model, device_ids=ids)
        sampler = ShardSampler(
            self.step, config.steps, config.batch_size, procs.rank, procs.world_size
        )
        loader = DataLoader(
            ErrorsAsValues(self.dataset),
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
                loss, parts, image = self.losses(_to(batch, procs.device))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()  # under DDP: gradients are averaged over the processes here
                record = self._record(loss, parts, time.perf_counter() - start)
                if not np.isfinite(record["loss"]):
                    raise self.diverged(
                        f"the loss became {record['loss']} at step {record['step']}"
                    )
                updating = True
                self.optimizer.step()
                self.step, updating = self.step + 1, False
                self.history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
                bar.update(1)
                self._log(record, image)
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
        names = ["loss", *self.parts]
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

    def _log(self, record: dict, image: Tensor | None) -> None:
        if self.writer is None:
            return
        for name in ("loss", *self.parts):
            self.writer.add_scalar(f"loss/{name}", record[name], record["step"])
        every = self.config.checkpoint_every
        if image is not None and every and record["step"] % every == 0:
            self.writer.add_images(self.image_tag, image[:1].detach().float().cpu(), record["step"])

    def diverged(self, what: str) -> Diverged:
        """The error for a run whose loss or output became NaN/Inf: what to lower, and the
        checkpoint that is kept."""
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
            kind=self.kind,
            optimizer=self.optimizer.state_dict(),
            step=self.step,
            data={
                **self.data_info,
                "seed": config.seed,
                "samples_seen": self.step * config.batch_size,  # the sampler position
                "skipped": list(self.skipped),
            },
            rng=rng_state(),
            **self.run_state(),
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


def _to(batch, device: torch.device):
    """A batch (a tensor, or a tuple/list of tensors) moved to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    return type(batch)(_to(b, device) for b in batch)


def run_training(
    make: Callable[[Processes], TrainingRun],
    *,
    progress: bool = True,
    callback: TrainCallback | None = None,
    device: str = "auto",
) -> TrainResult:
    """Start the processes (one, or torchrun's group), build the run with ``make(procs)``,
    run its loop, and end the process group if this call started it."""
    procs = start_processes(device)
    try:
        return make(procs).loop(progress, callback)
    finally:
        if procs.owns_group:
            dist.destroy_process_group()


def tensorboard_writer(folder: str | os.PathLike):
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
    "Processes",
    "start_processes",
    "TrainCallback",
    "TrainResult",
    "seed_all",
    "TrainingRun",
    "run_training",
    "tensorboard_writer",
]
