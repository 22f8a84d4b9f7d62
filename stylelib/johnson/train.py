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
averages the gradients, and only rank 0 writes files. (The loop, the data and the processes
are every trained method's: :mod:`stylelib.trainkit`.)

Example::

    >>> from dataclasses import replace
    >>> from stylelib.presets import get as preset
    >>> from stylelib.johnson.train import train
    >>> cfg = replace(preset("johnson2016"), weights="random", image_size=32, steps=2,
    ...               batch_size=2, device="cpu")
    >>> result = train("mosaic", "photos/", cfg, "mosaic.pth", progress=False)  # doctest: +SKIP
    >>> result.steps  # doctest: +SKIP
    2
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from stylelib.config import config_or_default
from stylelib.data import resolve_image
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.config import JohnsonConfig
from stylelib.johnson.network import TransformerNet
from stylelib.losses import content_loss, style_gram, style_loss, total_variation
from stylelib.trainkit import TrainCallback, TrainingRun, TrainResult, run_training, seed_all
from stylelib.trainset import image_digest, list_images
from stylelib.vgg import VGGFeatures, layer_table

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
        config: a :class:`~stylelib.johnson.config.JohnsonConfig` (default: the paper's preset).
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
    config = config_or_default(config, JohnsonConfig, "johnson2016")
    return run_training(
        lambda procs: _Training(style, data, config, output, resume, overwrite, tensorboard, procs),
        progress=progress,
        callback=callback,
        device=config.device,
    )


class _Training(TrainingRun):
    """One run of :func:`train`: the transform network against the perceptual loss."""

    kind = JOHNSON
    parts = ("content", "style", "tv")
    image_tag = "stylized"

    def __init__(self, style, data, config, output, resume, overwrite, tensorboard, procs):
        super().__init__(config, output, resume, overwrite, tensorboard, procs)
        self.use_data(list_images(data), data)
        style_image = resolve_image(style, size=config.style_size)
        self.style_sha = image_digest(style, style_image)
        self.style_name = str(style) if not isinstance(style, Tensor) else "tensor"
        self.check_resumable(self.style_sha)
        seed_all(config.seed)
        model = TransformerNet(config.transformer_norm, config.upsample)
        self.start(model, torch.optim.Adam(model.parameters(), lr=config.lr))
        self.net = loss_network(config).to(procs.device)
        self.grams = style_targets(self.net, style_image.to(procs.device), config)

    def losses(self, batch: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        y = self.ddp(batch)
        if not torch.isfinite(y).all():  # the last update broke the weights
            raise self.diverged(f"the network's output became NaN/Inf at step {self.step + 1}")
        loss, parts = perceptual_loss(self.net, y, batch, self.grams, self.config)
        return loss, parts, y

    def run_state(self) -> dict:
        return {"style": self.style_name, "style_sha256": self.style_sha}


__all__ = ["train", "perceptual_loss", "style_targets", "loss_network"]
