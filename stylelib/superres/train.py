"""Training the super-resolution network against a per-pixel or a feature loss (Sec. 4.2).

The same resumable loop as every trained method (:mod:`stylelib.trainkit`); the feature
loss is :func:`stylelib.losses.content_loss` at relu2_2 of a frozen VGG-16.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from stylelib.config import config_or_default
from stylelib.losses import content_loss, total_variation
from stylelib.superres.config import CHECKPOINT, SRConfig
from stylelib.superres.degrade import degrade
from stylelib.superres.network import SRNet
from stylelib.trainkit import (
    TrainCallback,
    TrainingRun,
    TrainResult,
    run_training,
    seed_all,
)
from stylelib.trainset import list_images
from stylelib.vgg import VGGFeatures


def loss_network(config: SRConfig) -> VGGFeatures | None:
    """The frozen VGG-16 up to ``config.feature_layer`` for the feature loss; None for pixel."""
    if config.loss != "feature":
        return None
    return VGGFeatures(config.arch, config.weights, [config.feature_layer], seed=config.seed)


def sr_loss(
    net: VGGFeatures | None, output: Tensor, target: Tensor, config: SRConfig
) -> tuple[Tensor, dict[str, Tensor]]:
    """Johnson et al. 2016, Sec. 3.2-3.3: ``weight`` x ℓ_pixel or ℓ_feat, plus λ_TV TV(ŷ).

    Args:
        net: the loss network (:func:`loss_network`), None for the pixel loss.
        output: ``(B, 3, S, S)`` the network's ŷ.
        target: ``(B, 3, S, S)`` the high-resolution patches y (no gradient).
        config: which loss and the weights.

    Returns:
        ``(total, {"pixel" or "feature": ..., "tv": ...})``, each part weighted.
    """
    if config.loss == "feature":
        layer = config.feature_layer
        feats = net(output, layers=[layer])[layer]
        with torch.no_grad():
            wanted = net(target, layers=[layer])[layer]
        main = content_loss(feats, wanted, "johnson")  # ‖φ(ŷ) − φ(y)‖² / (C H W)
    else:
        main = content_loss(output, target, "johnson")  # ‖ŷ − y‖² / (C H W): the MSE
    parts = {config.loss: config.weight * main}
    if config.tv_weight > 0:
        parts["tv"] = config.tv_weight * total_variation(output, config.tv_kind)
    return torch.stack(list(parts.values())).sum(), parts


def train_sr(
    data: str | os.PathLike,
    config: SRConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    tensorboard: str | os.PathLike | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
) -> TrainResult:
    """Train an :class:`SRNet` on random patches of a folder of photos (Sec. 4.2).

    Each step takes ``batch_size`` random ``image_size`` crops y, makes their low-resolution
    inputs x = :func:`degrade` (y), and lowers :func:`sr_loss` (f_W(x), y) with Adam. The
    conventions are :mod:`stylelib.trainkit`'s: exact ``resume``, atomic checkpoints every
    ``checkpoint_every`` steps, ``torchrun``, a progress bar, Ctrl-C keeps the last step.

    Args:
        data: a folder of training photos, searched recursively (COCO for the real thing).
        config: an :class:`SRConfig` (default: the paper's x4 with the feature loss).
        output: the checkpoint file (``.pt``/``.pth``), or None to write nothing.
        resume: a checkpoint of this method to continue from (same settings and files;
            ``steps``, ``checkpoint_every``, ``device``, ``workers`` may change).
        overwrite: replace an existing ``output``.
        tensorboard: a folder for TensorBoard logs.
        progress: show a progress bar (rank 0 only).
        callback: ``callback(step, record)`` after every step; True stops the run.

    Returns:
        A :class:`stylelib.trainkit.TrainResult` whose ``model`` is the SRNet.

    Raises:
        DataError, ImageError, CheckpointError, OutputError: bad inputs, one line each.
        Diverged: the loss or the output became NaN/Inf (the last checkpoint is kept).
    """
    config = config_or_default(config, SRConfig, "johnson2016-sr4")
    return run_training(
        lambda procs: _SRTraining(data, config, output, resume, overwrite, tensorboard, procs),
        progress=progress,
        callback=callback,
        device=config.device,
    )


class _SRTraining(TrainingRun):
    """One run of :func:`train_sr`."""

    kind = CHECKPOINT
    parts = ("pixel", "feature", "tv")
    image_tag = "upscaled"

    def __init__(self, data, config, output, resume, overwrite, tensorboard, procs):
        super().__init__(config, output, resume, overwrite, tensorboard, procs)
        self.use_data(list_images(data), data)
        self.check_resumable()
        seed_all(config.seed)
        model = SRNet(config.factor, config.norm, config.upsample)
        self.start(model, torch.optim.Adam(model.parameters(), lr=config.lr))
        net = loss_network(config)
        self.net = None if net is None else net.to(procs.device)

    def losses(self, batch: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        low = degrade(batch, self.config.factor, self.config.blur_sigma)
        y = self.ddp(low)
        if not torch.isfinite(y).all():  # the last update broke the weights
            raise self.diverged(f"the network's output became NaN/Inf at step {self.step + 1}")
        loss, parts = sr_loss(self.net, y, batch, self.config)
        return loss, parts, y

    def run_state(self) -> dict:
        return {"factor": self.config.factor}  # also in the config: the file says its factor
