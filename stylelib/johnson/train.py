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

Several styles in one network (Dumoulin, Shlens, Kudlur 2017, "A Learned Representation for
Artistic Style", ICLR 2017): :func:`train_styles` trains a
:class:`~stylelib.johnson.conditional.MultiStyleNet` on N style images with the same loss,
data and config. Each batch trains one style s, chosen by :func:`style_for_step`, against
s's Gram matrices, with the one-hot style weights of s; :class:`StyleAdam` then moves the
shared convolutions and the rows s of the γ/β tables only.

Example::

    >>> from dataclasses import replace
    >>> from stylelib.presets import get as preset
    >>> from stylelib.johnson.train import train
    >>> cfg = replace(preset("johnson2016"), weights="random", image_size=32, steps=2,
    ...               batch_size=2, device="cpu")
    >>> result = train("mosaic", "photos/", cfg, "mosaic.pth", progress=False)  # doctest: +SKIP
    >>> result.steps  # doctest: +SKIP
    2
    >>> result = train_styles(["mosaic", "waves", "dots"], "photos/", cfg, "three.pth",
    ...                       progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from stylelib.checkpoints import CheckpointError
from stylelib.config import config_or_default
from stylelib.data import resolve_image
from stylelib.johnson.conditional import MultiStyleNet, one_hot
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.config import MULTISTYLE_CHECKPOINT as MULTISTYLE
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


# --- several styles in one network (Dumoulin et al. 2017) ----------------------------------

DEFAULT_LAYOUT = "dumoulin2017"  # Dumoulin et al. 2017, Sec. 3: Johnson et al.'s channels
STYLE_STREAM = 1  # the seed stream of the style schedule (CropDataset's file order is 0)


def style_for_step(step: int, num_styles: int, seed: int) -> int:
    """The style that step ``step`` (counted from 0) trains.

    Every round of ``num_styles`` steps visits each style once, in an order shuffled anew
    for each round from ``(seed, round)``. Like the crops, it is a function of its arguments
    only: a resumed run and every torchrun process agree without saving anything.
    (The paper says only that training "follows Johnson et al. (2016)"; Magenta's released
    code, ``image_stylization_train.py`` with ``image_utils.style_image_inputs``, draws a
    style at random for every image of a batch. One style per batch, in rounds, keeps every
    style's number of steps equal at each multiple of N and lets :class:`StyleAdam` leave the
    other styles' rows alone.)

    Example:
        >>> sorted(style_for_step(step, 3, seed=0) for step in range(3, 6))
        [0, 1, 2]
    """
    round_, position = divmod(step, num_styles)
    order = np.random.default_rng([seed, STYLE_STREAM, round_]).permutation(num_styles)
    return int(order[position])


def style_tables(model: MultiStyleNet) -> tuple[list[Tensor], list[Tensor]]:
    """``(shared, tables)``: the convolutions every style uses, and the ``(N, C)`` γ/β tables."""
    named = list(model.named_parameters())
    tables = [p for name, p in named if name.endswith((".gamma", ".beta"))]
    shared = [p for name, p in named if not name.endswith((".gamma", ".beta"))]
    return shared, tables


class StyleAdam(torch.optim.Adam):
    """Adam, except that a style's rows of the γ/β tables move on its own batches only.

    Why: a batch of style s runs the network with the one-hot weights of s, so the gradient
    of every other row r of a table is exactly zero (∂(wᵀγ)/∂γ_r = w_r = 0). Plain Adam would
    still move row r: once style r has trained, its first moment is non-zero, decays by β1 a
    step and keeps pushing (m̂ / (√v̂ + ε) ≠ 0), so style s's batches would go on changing
    style r. Here a row whose gradient is zero in every
    entry is left alone: its weights, its two moments and its own step count, as in
    TensorFlow's LazyAdamOptimizer and ``torch.optim.SparseAdam``. Each style's rows thus
    follow Adam on their own batches' gradients, the bias correction counting their own
    updates (a row's k-th update divides by 1 − β^k, whatever the global step).

    The ``shared`` parameters get torch's Adam unchanged. No weight decay, no AMSGrad.

    Args:
        shared: the parameters every batch trains.
        tables: the ``(N, C)`` style tables (:func:`style_tables`), updated row by row.
        lr, betas, eps: Adam's (Kingma and Ba 2015), for both.

    Example:
        >>> table = torch.nn.Parameter(torch.ones(3, 2))
        >>> opt = StyleAdam([], [table], lr=0.1)
        >>> table.grad = torch.tensor([[0.0, 0.0], [1.0, -1.0], [0.0, 0.0]])
        >>> opt.step()
        >>> table.data
        tensor([[1.0000, 1.0000],
                [0.9000, 1.1000],
                [1.0000, 1.0000]])
    """

    def __init__(
        self,
        shared: Iterable[Tensor],
        tables: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        groups = [{"params": list(shared)}, {"params": list(tables), "style_rows": True}]
        super().__init__([g for g in groups if g["params"]], lr=lr, betas=betas, eps=eps)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        rows = [g for g in self.param_groups if g.get("style_rows")]
        held = [(p, p.grad) for g in rows for p in g["params"]]
        for p, _ in held:
            p.grad = None  # torch's Adam skips a parameter without a gradient
        try:
            super().step()
        finally:
            for p, grad in held:
                p.grad = grad
        for group in rows:
            for table in group["params"]:
                if table.grad is not None:
                    self._step_rows(table, group)
        return loss

    def _step_rows(self, table: Tensor, group: dict) -> None:
        """Adam on the rows of ``table`` whose gradient is not all zero (torch's formula).

        The state has Adam's keys, with ``step`` a count per row: float64 on the CPU (as
        torch's Adam keeps its count, and as loading a checkpoint leaves it), so the bias
        corrections are the same numbers before and after a resume, on any device."""
        grad = table.grad
        rows = grad.ne(0).any(dim=1).nonzero().squeeze(1)
        if rows.numel() == 0:
            return
        state = self.state[table]
        if not state:
            state["step"] = torch.zeros(table.shape[0], dtype=torch.float64)
            state["exp_avg"] = torch.zeros_like(table)
            state["exp_avg_sq"] = torch.zeros_like(table)
        (beta1, beta2), g = group["betas"], grad.index_select(0, rows)
        counted = rows.cpu()
        step = state["step"].index_select(0, counted) + 1
        state["step"].index_copy_(0, counted, step)
        step_size = (group["lr"] / (1 - beta1**step)).to(table.device, table.dtype)[:, None]
        bias2_sqrt = (1 - beta2**step).sqrt().to(table.device, table.dtype)[:, None]
        m = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(g, alpha=1 - beta1)
        v = state["exp_avg_sq"].index_select(0, rows).mul_(beta2)
        v.addcmul_(g, g, value=1 - beta2)
        update = m / (v.sqrt() / bias2_sqrt).add_(group["eps"]) * step_size
        table.index_copy_(0, rows, table.index_select(0, rows) - update)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)


def train_styles(
    styles: Sequence[object],
    data: str | os.PathLike,
    config: JohnsonConfig | None = None,
    output: str | os.PathLike | None = None,
    *,
    layout: str | None = None,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    tensorboard: str | os.PathLike | None = None,
    progress: bool = True,
    callback: TrainCallback | None = None,
) -> TrainResult:
    """Train one :class:`MultiStyleNet` for several styles (Dumoulin et al. 2017).

    Everything is :func:`train`'s (the loss, the crops, Adam's settings, checkpoints, exact
    resume, torchrun) except the network and two rules: step k trains the style
    ``style_for_step(k, N, config.seed)`` alone, and :class:`StyleAdam` moves that style's
    rows of the γ/β tables only (the shared convolutions every step).

    Args:
        styles: the N style images, in the order that numbers them 0 to N-1: files,
            built-in names or image tensors, each resized to ``config.style_size``.
        data, config, output, overwrite, tensorboard, progress, callback: as :func:`train`.
        layout: ``"dumoulin2017"`` (the paper's channels; the default for a new run) or
            ``"magenta-android"``; None when resuming: the checkpoint's.
        resume: a checkpoint of ``train_styles`` to continue; refused in one line if its
            layout, its styles (count, order, SHA-256), its settings or its training files
            differ.

    Returns:
        A :class:`TrainResult` whose ``model`` is the MultiStyleNet. The checkpoint holds
        ``layout``, ``num_styles`` and ``styles`` (``[{"name", "sha256"}, ...]``) besides
        :func:`train`'s keys (:mod:`stylelib.johnson.multistyle` reads it).

    Raises:
        ValueError: no styles, or the same image twice. The rest as :func:`train`.
    """
    config = config_or_default(config, JohnsonConfig, "johnson2016")
    if isinstance(styles, (str, os.PathLike, Tensor)) or not len(styles):
        raise ValueError("styles is a list of one or more style images, e.g. ['a.jpg', 'b.jpg']")
    return run_training(
        lambda procs: _StylesTraining(
            list(styles), data, config, layout, output, resume, overwrite, tensorboard, procs
        ),
        progress=progress,
        callback=callback,
        device=config.device,
    )


class _StylesTraining(TrainingRun):
    """One run of :func:`train_styles`: a MultiStyleNet, one style per batch."""

    kind = MULTISTYLE
    parts = ("content", "style", "tv")
    image_tag = "stylized"

    def __init__(self, styles, data, config, layout, output, resume, overwrite, tb, procs):
        super().__init__(config, output, resume, overwrite, tb, procs)
        self.use_data(list_images(data), data)
        images = [resolve_image(s, size=config.style_size) for s in styles]
        self.styles = [
            {
                "name": str(s) if not isinstance(s, Tensor) else f"tensor {i}",
                "sha256": image_digest(s, image),
            }
            for i, (s, image) in enumerate(zip(styles, images, strict=True))
        ]
        _refuse_twins(self.styles)
        saved = self.checkpoint["layout"] if self.checkpoint else None
        self.layout = layout or saved or DEFAULT_LAYOUT
        if self.checkpoint:
            _check_same_styles(self.checkpoint, self.styles, self.layout, resume)
        self.check_resumable()  # the config and the training files
        seed_all(config.seed)
        model = MultiStyleNet(len(images), self.layout)
        self.start(model, StyleAdam(*style_tables(model), lr=config.lr))
        self.net = loss_network(config).to(procs.device)
        self.grams = [style_targets(self.net, im.to(procs.device), config) for im in images]

    def losses(self, batch: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        n = len(self.styles)
        style = style_for_step(self.step, n, self.config.seed)
        y = self.ddp(batch, one_hot(style, n).to(batch.device))
        if not torch.isfinite(y).all():  # the last update broke the weights
            raise self.diverged(f"the network's output became NaN/Inf at step {self.step + 1}")
        loss, parts = perceptual_loss(self.net, y, batch, self.grams[style], self.config)
        return loss, parts, y

    def run_state(self) -> dict:
        return {"layout": self.layout, "num_styles": len(self.styles), "styles": self.styles}


def _refuse_twins(styles: list[dict]) -> None:
    """One line if two styles are the same image: their rows would learn the same thing."""
    first: dict[str, int] = {}
    for i, style in enumerate(styles):
        j = first.setdefault(style["sha256"], i)
        if j != i:
            raise ValueError(
                f"styles {j} ({styles[j]['name']}) and {i} ({style['name']}) are the same "
                "image; give each style once"
            )


def _check_same_styles(checkpoint, styles: list[dict], layout: str, path) -> None:
    """Refuse, in one line, to resume with another layout or other styles (count, order)."""
    saved = checkpoint["styles"]
    if checkpoint["layout"] != layout:
        raise CheckpointError(
            f"cannot resume '{path}': it trains the {checkpoint['layout']} layout, not "
            f"{layout}; leave out --layout (layout=None) or start a new run"
        )
    if len(saved) != checkpoint["num_styles"] or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("sha256"), str)
        for s in saved
    ):
        raise CheckpointError(
            f"cannot resume '{path}': its styles are not {checkpoint['num_styles']} records "
            "of a name and a SHA-256; the file was changed or written by another program"
        )
    if len(saved) != len(styles):
        raise CheckpointError(
            f"cannot resume '{path}': it was trained on {len(saved)} styles "
            f"({', '.join(s['name'] for s in saved)}), this run has {len(styles)}; pass the "
            "same style images in the same order"
        )
    for i, (was, now) in enumerate(zip(saved, styles, strict=True)):
        if was["sha256"] != now["sha256"]:
            raise CheckpointError(
                f"cannot resume '{path}': its style {i} was {was['name']} (SHA-256 "
                f"{was['sha256'][:12]}...), this run's is {now['name']} ({now['sha256'][:12]}"
                "...); pass the same style images in the same order"
            )


__all__ = [
    "train",
    "perceptual_loss",
    "style_targets",
    "loss_network",
    "train_styles",
    "style_for_step",
    "StyleAdam",
    "DEFAULT_LAYOUT",
]
