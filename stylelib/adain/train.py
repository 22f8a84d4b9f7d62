"""Training AdaIN's decoder on pairs of photos and paintings (Huang & Belongie 2017, Sec. 6.2).

The encoder is fixed; only the decoder learns, with Adam, on random crops of a content
folder and a style folder (MS-COCO and WikiArt in the paper), on the shared resumable loop of
:mod:`stylelib.trainkit`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from stylelib.adain.config import CHECKPOINT, AdaINConfig
from stylelib.adain.losses import loss_terms
from stylelib.adain.networks import Decoder, load_encoder
from stylelib.config import MAX_SEED, config_or_default
from stylelib.trainkit import TrainCallback, TrainingRun, TrainResult, run_training, seed_all
from stylelib.trainset import CropDataset, files_digest, list_images


class PairDataset(Dataset):
    """Sample k -> (content crop, style crop), each a pure function of ``(seed, k)``.

    Each image is resized so its smallest side is ``load_size`` and cut to a random square of
    that side (:class:`stylelib.trainkit.CropDataset`), then a random ``image_size`` crop is
    taken from it. The style stream draws from seed + 1, so the two never move in step.
    """

    def __init__(
        self, content: Sequence[Path], styles: Sequence[Path], config: AdaINConfig
    ) -> None:
        self.content = CropDataset(content, config.load_size, config.seed)
        self.styles = CropDataset(styles, config.load_size, (config.seed + 1) % (MAX_SEED + 1))
        self.size, self.seed = config.image_size, config.seed

    def __len__(self) -> int:
        return max(len(self.content), len(self.styles))

    def _crop(self, image: Tensor, stream: int, k: int) -> Tensor:
        rng = np.random.default_rng([self.seed, stream, k])
        side = image.shape[-1]
        top, left = (int(rng.integers(0, side - self.size + 1)) for _ in range(2))
        return image[:, top : top + self.size, left : left + self.size].contiguous()

    def __getitem__(self, k: int):
        content, skipped_c = self.content[k]
        style, skipped_s = self.styles[k]
        return (self._crop(content, 2, k), self._crop(style, 3, k)), skipped_c + skipped_s


def train_decoder(
    content_dir: str | os.PathLike,
    style_dir: str | os.PathLike,
    config: AdaINConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    tensorboard: str | os.PathLike | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
) -> TrainResult:
    """Train the AdaIN decoder on a folder of photos and a folder of paintings (Sec. 6.2).

    Each step takes ``batch_size`` content crops c and style crops s, and lowers
    content_weight · L_c + style_weight · L_s (:func:`loss_terms`) with Adam, the learning rate
    decaying as lr / (1 + lr_decay · step). Only the decoder learns; the encoder is
    ``config.encoder`` (:func:`load_encoder`). The conventions are :mod:`stylelib.trainkit`'s:
    exact ``resume``, atomic checkpoints every ``checkpoint_every`` steps, ``torchrun``, a
    progress bar, Ctrl-C keeps the last complete step.

    Args:
        content_dir: photos, searched recursively (MS-COCO train2014 for the real thing).
        style_dir: paintings, searched recursively (WikiArt for the real thing).
        config: an :class:`AdaINConfig` (default: :func:`preset` ``"adain2017"``).
        output: the checkpoint file (``.pt``/``.pth``), or None to write nothing; its
            ``"model"`` loads with :meth:`Decoder.from_file`.
        resume: a checkpoint of this method to continue from (same settings and folders;
            ``steps``, ``checkpoint_every``, ``device``, ``workers`` may change).
        overwrite: replace an existing ``output``.
        tensorboard: a folder for TensorBoard logs.
        progress: show a progress bar (rank 0 only).
        callback: ``callback(step, record)`` after every step; True stops the run.

    Returns:
        A :class:`stylelib.trainkit.TrainResult` whose ``model`` is the :class:`Decoder`.

    Raises:
        DataError, ImageError, CheckpointError, OutputError, WeightsError: one line each.
        Diverged: the loss or the decoder's output became NaN/Inf (the last checkpoint stays).
    """
    config = config_or_default(config, AdaINConfig, "adain2017")
    return run_training(
        lambda procs: _DecoderTraining(
            content_dir, style_dir, config, output, resume, overwrite, tensorboard, procs
        ),
        progress=progress,
        callback=callback,
        device=config.device,
    )


class _DecoderTraining(TrainingRun):
    """One run of :func:`train_decoder`."""

    kind = CHECKPOINT
    parts = ("content", "style")
    image_tag = "stylized"

    def __init__(self, content_dir, style_dir, config, output, resume, overwrite, tb, procs):
        super().__init__(config, output, resume, overwrite, tb, procs)
        content, styles = list_images(content_dir), list_images(style_dir)
        self.dataset = PairDataset(content, styles, config)
        both = files_digest(content, content_dir) + files_digest(styles, style_dir)
        self.data_info = {
            "files": len(content) + len(styles),
            "files_sha256": hashlib.sha256(both.encode()).hexdigest(),
        }
        self.check_resumable()
        seed_all(config.seed)
        self.encoder = load_encoder(
            config.encoder, normalize=config.normalize_encoder, seed=config.seed
        ).to(procs.device)
        decoder = Decoder(seed=config.seed)
        self.start(decoder, torch.optim.Adam(decoder.parameters(), lr=config.lr))

    def losses(self, batch) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        config = self.config
        for group in self.optimizer.param_groups:  # a function of the step: resumes exactly
            group["lr"] = config.lr / (1 + config.lr_decay * self.step)
        content, style = batch
        l_content, l_style, decoded = loss_terms(
            self.encoder,
            self.ddp,
            content,
            style,
            layers=config.style_layers,
            reduction=config.reduction,
        )
        if not torch.isfinite(decoded).all():
            raise self.diverged(f"the decoder's output became NaN/Inf at step {self.step + 1}")
        parts = {
            "content": config.content_weight * l_content,
            "style": config.style_weight * l_style,
        }
        return parts["content"] + parts["style"], parts, decoded.clamp(0, 1)
