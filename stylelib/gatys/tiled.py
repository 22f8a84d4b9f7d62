"""Gatys transfer beyond one pass: the whole image's loss, its gradient assembled tile by tile.

:func:`~stylelib.gatys.transfer.transfer` runs VGG on the whole image at once: 2.4 kB of
activations per pixel, 41 GB at 4096². Here VGG sees one window at a time
(:mod:`stylelib.tiling`), and the loss is still the loss of the *whole* image (Gatys et al.
2016, Eq. 7), with its exact gradient:

- The content loss and total variation are sums over positions: each window adds its part,
  every position weighted by the window's blend weight (the weights of all windows sum to 1,
  so each position counts once).
- The style loss is not a sum over positions: E_l = 1/(4 N² M²) Σ (G − A)² with G the Gram
  matrix of the whole image. But G = Σ_p F_p F_pᵀ is, and the gradient at a position p is
  dE/dF_p = 2 (K + Kᵀ) F_p with K = dE/dG, a C x C matrix. So a step takes two passes over
  the windows: the first (no gradient) sums G; the second backpropagates ⟨K, G_window⟩, whose
  gradient is exactly the whole loss's on the window's positions.
- Each window keeps a halo as wide as VGG's receptive field up to the deepest layer used
  (96 px to relu5_1; :func:`vgg_halo`), so every feature a window contributes is the one the
  whole image would have; gradients from neighbouring windows add up in a full-image buffer.

The result is the whole image's gradient to float round-off, whatever the tiles (tested
against :func:`~stylelib.gatys.objective.evaluate`). The grid still moves between steps (a
deterministic low-discrepancy shift): with a halo cut below the receptive field (``halo=``,
to save work) the errors sit along the tile borders, and moving them keeps any one place
from collecting them; :func:`stylelib.tiling.seam_ratio` measures what is left.

The optimiser is Adam, whatever ``config.optimizer`` says. L-BFGS keeps pairs of full-image
vectors: transfer's history of 100 is 58 GB at 6000 x 4000, and even 5 pairs (2.9 GB) would
leave little of a 6 GB budget to VGG. Adam's state is two full-image float32 tensors; with
the image and its gradient that is 4 x 12 bytes per pixel (1.15 GB at 6000 x 4000), plus
one window's VGG activations (about 1.5 GB at 768 px). The content image and the best image
so far are kept as uint8.

A step costs a forward pass (the Grams), a forward and a backward pass, and a forward pass
of the content image to its layer, over windows that overlap by (tile / step)².

Example::

    >>> import torch
    >>> from stylelib.gatys.config import GatysConfig
    >>> cfg = GatysConfig(weights="random", steps=1, device="cpu", init="content",
    ...                   content_layers=("relu2_2",), style_layers=("relu1_1", "relu2_1"),
    ...                   style_layer_weights=(0.5, 0.5))
    >>> result = transfer_tiled(torch.rand(1, 3, 96, 72), torch.rand(1, 3, 64, 64), cfg,
    ...                         tile=80, overlap=16, progress=False)
    >>> result.image.shape, result.steps
    ((96, 72, 3), 1)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from stylelib.blend import blend_weights
from stylelib.config import MIN_SIDE, config_or_default
from stylelib.devices import pick_device
from stylelib.errors import Diverged, ImageError
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.objective import extractor, features, used_layers
from stylelib.layers import layers as vgg_layers
from stylelib.losses import content_loss, gram_matrix
from stylelib.tiling import (
    Grid,
    Span,
    TileError,
    align_up,
    check_tiling,
    from_uint8,
    grid_shift,
    load_uint8,
    make_grid,
    pooled_weights,
    resize_uint8,
    to_uint8,
    window_tensor,
)
from stylelib.vgg import VGGFeatures

TILE = 768  # px; measured: a 1200 x 900 step peaks at 2.0 GB RSS (1.5 GB with 512 px tiles)
OVERLAP = 32  # px of blend between windows, beyond the halo
ADAM_LR = 0.02  # on [0, 1] pixels, as transfer's Adam (config.lr applies when optimizer="adam")
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # PyTorch's defaults (Kingma & Ba 2015)

# callback(step, image, record): image an (H, W, 3) uint8 array; True stops the run
TiledCallback = Callable[[int, np.ndarray, dict], "bool | None"]


@dataclass
class TiledResult:
    """What :func:`transfer_tiled` returns: transfer's ``Result``, its image as ``(H, W, 3)``
    uint8 (the best found). ``history`` has one dict per step in transfer's layout (``loss``
    at the start of the step, ``content``/``style`` per layer, the weighted totals,
    ``seconds``) plus ``shift``, the grid's offset (rows, columns), and ``windows``; ``halo``
    is what each window gave up, px; ``loss`` the loss of ``image`` (None if never scored).
    """

    image: np.ndarray
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    stopped: str = "finished"
    message: str = ""
    seconds: float = 0.0
    loss: float | None = None
    halo: int = 0


# --------------------------------------------------------------------------- geometry


def vgg_reach(name: str, arch: str = "vgg19") -> tuple[int, int]:
    """How far (px) past its own block of input pixels a feature of layer ``name`` sees, and
    the block's side (2^pools): relu5_1 of VGG-19 sees 70 px either side of a 16 px block.

    Interval arithmetic backwards through the layers: a 3 x 3 convolution (padding 1) widens
    the interval [a, b] of positions by one on each side, a 2 x 2 pooling maps it to
    [2a, 2b + 1].
    """
    chain = []
    for layer in vgg_layers(arch):
        chain.append(layer.kind)
        if layer.name == name:
            break
    a, b, factor = 0, 0, 1
    for kind in reversed(chain):
        if kind == "conv":
            a, b = a - 1, b + 1
        elif kind == "pool":
            a, b, factor = 2 * a, 2 * b + 1, factor * 2
    return max(-a, b - (factor - 1)), factor


def vgg_halo(config: GatysConfig) -> tuple[int, int]:
    """The exact halo and the alignment, px, for the layers a config uses.

    A feature with weight in a window has its block within ``factor - 1`` px of the window's
    weighted part, which lies ``halo`` px inside the window: with ``halo >= reach + factor - 1``
    all it sees is in the window. Windows start on multiples of the deepest block (the
    alignment), so their pooling grids are the whole image's.
    """
    content, style = used_layers(config)
    halo, align = 0, 1
    for name in content + style:
        reach, factor = vgg_reach(name, config.arch)
        halo, align = max(halo, reach + factor - 1), max(align, factor)
    return align_up(halo, align), align


def positions_of(arch: str, height: int, width: int, layers: Sequence[str]) -> dict[str, int]:
    """M_l = H_l x W_l of each layer for a whole ``height x width`` image (floor pooling)."""
    return {n: (height // vgg_reach(n, arch)[1]) * (width // vgg_reach(n, arch)[1]) for n in layers}


# --------------------------------------------------------------------------- sums over windows


def _factor(f: Tensor, window: Tensor) -> int:
    """A map's block side: the window's height over the map's (a power of 2)."""
    return 2 ** round(math.log2(window.shape[2] / f.shape[2]))


def _weights(rows: Span, cols: Span, factor: int, like: Tensor) -> Tensor:
    """The window's blend weights on a map ``factor`` times smaller, ``(1, 1, h, w)``."""
    w = np.outer(pooled_weights(rows, factor), pooled_weights(cols, factor))
    return torch.from_numpy(w).to(like.device, like.dtype)[None, None]


def gram_sums(net, image, grid: Grid, layers, config, device, tick=lambda: None) -> dict:
    """Per layer, Σ over windows of F diag(w) Fᵀ (the weighted, unnormalised Gram), float64:
    the whole image's Σ_p F_p F_pᵀ when the halo covers the receptive field."""
    sums: dict[str, Tensor] = {}
    with torch.no_grad():
        for rows, cols in grid.windows():
            if isinstance(image, Tensor):  # the image being optimised, (1, 3, H, W)
                xw = image[:, :, rows.start : rows.stop, cols.start : cols.stop].to(device)
            else:  # a content or style image, (H, W, 3) uint8
                xw = window_tensor(image, rows, cols).to(device)
            f = features(net, xw, layers, config.precision)
            for name in layers:
                w = _weights(rows, cols, _factor(f[name], xw), f[name])
                g = gram_matrix(f[name] * w.sqrt())[0].double()
                sums[name] = sums[name] + g if name in sums else g
            tick()
    return sums


def layer_from_sum(s: Tensor, target: Tensor, positions: int, normalization: str) -> Tensor:
    """E_l of the whole image from its Gram sum ``s`` (C x C) and M = ``positions``: the two
    normalisations of :func:`stylelib.losses.layer_style_loss`, written on the sum.

    ``"gatys"``: G = s, E = Σ (G − A)² / (4 C² M²); ``"johnson"``: G = s / (C M), E = Σ (G − A)².
    """
    c = s.shape[-1]
    if normalization == "gatys":
        return (s - target).pow(2).sum() / (4.0 * c**2 * positions**2)
    return (s / (c * positions) - target).pow(2).sum()


def target_from_sum(s: Tensor, m_style: int, m_out: int, normalization: str) -> Tensor:
    """A style image's target A_l from its Gram sum: :func:`stylelib.losses.style_gram`
    written on the sum (``"gatys"``: rescaled to the output's M; ``"johnson"``: s / (C M_a))."""
    if normalization == "gatys":
        return s * (m_out / m_style)
    return s / (s.shape[-1] * m_style)


def style_targets(net, styles, blend, config, positions, window: dict, device) -> dict:
    """The blended A_l, computed once per run; each style image is tiled like the output
    (``window``: make_grid's tile, halo, overlap, align), so any style size fits."""
    _, layers = used_layers(config)
    targets: dict[str, Tensor] = {}
    for weight, style in zip(blend, styles, strict=True):
        h, w = style.shape[:2]
        sums = gram_sums(net, style, make_grid(h, w, **window), layers, config, device)
        m_style = positions_of(config.arch, h, w, layers)
        for name in layers:
            a = target_from_sum(sums[name], m_style[name], positions[name], config.normalization)
            targets[name] = targets[name] + weight * a if name in targets else weight * a
    return targets


def weighted_tv(x: Tensor, w: Tensor, kind: str) -> Tensor:
    """:func:`stylelib.losses.total_variation` with each difference weighted by ``w``
    ``(1, 1, H, W)`` at its first pixel: windows whose weights sum to 1 add up to the TV of
    the whole image."""
    d_h, d_w = x[:, :, 1:, :] - x[:, :, :-1, :], x[:, :, :, 1:] - x[:, :, :, :-1]
    if kind == "isotropic":
        grid = d_h[:, :, :, :-1].pow(2) + d_w[:, :, :-1, :].pow(2)
        return (w[:, :, :-1, :-1] * (grid + 1e-8).sqrt()).sum()
    f = torch.square if kind == "squared" else torch.abs
    return (w[:, :, :-1] * f(d_h)).sum() + (w[:, :, :, :-1] * f(d_w)).sum()


# --------------------------------------------------------------------------- the objective


@dataclass
class TiledObjective:
    """The whole-image loss of a config (Gatys et al. 2016, Eq. 7), window by window.

    ``content``: the content image (H, W, 3) uint8 (None without a content term);
    ``targets``: layer -> A_l for the output's size; ``positions``: layer -> M_l of the
    output; ``content_grams``: layer -> the content image's Grams (the gamma term).
    """

    net: VGGFeatures
    config: GatysConfig
    content: np.ndarray | None
    targets: dict[str, Tensor]
    positions: dict[str, int]
    content_grams: dict[str, Tensor] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    tick: Callable[[], None] = lambda: None

    def __call__(
        self, x: Tensor, grid: Grid, grad: Tensor | None = None
    ) -> tuple[float, dict[str, float]]:
        """The loss at ``x`` ``(1, 3, H, W)`` and its parts; with ``grad`` (a zero tensor
        like ``x``), its gradient added there. Two passes: the Grams, then the windows."""
        content_layers, style_layers = used_layers(self.config)
        parts: dict[str, Tensor] = {}
        k = {}
        if style_layers:
            sums = gram_sums(self.net, x, grid, style_layers, self.config, self.device, self.tick)
            parts, k = self._style_parts(sums), self._gram_gradients(sums)
        for rows, cols in grid.windows():
            for key, value in self._window(x, rows, cols, k, grad).items():
                parts[key] = parts.get(key, 0.0) + value
            self.tick()
        values = {key: float(v) for key, v in parts.items()}
        return sum(v for key, v in values.items() if key.endswith("_total")), values

    def _window(self, x: Tensor, rows: Span, cols: Span, k: dict, grad: Tensor | None) -> dict:
        """One window's content and TV parts; with ``grad``, the window's share of the whole
        loss's gradient (those parts and <K, G_window>, the style terms') added there."""
        area = (
            slice(None),
            slice(None),
            slice(rows.start, rows.stop),
            slice(cols.start, cols.stop),
        )
        xw = x[area].to(self.device).detach().clone().requires_grad_(grad is not None)
        content_layers, _ = used_layers(self.config)
        with torch.set_grad_enabled(grad is not None):
            layers = content_layers + (list(k) if grad is not None else [])
            f = features(self.net, xw, layers, self.config.precision) if layers else {}
            parts, total = self._window_parts(xw, f, rows, cols)
            if grad is not None:
                for name, kl in k.items():
                    w = _weights(rows, cols, _factor(f[name], xw), f[name]).sqrt()
                    total = total + (kl.to(w.dtype) * gram_matrix(f[name] * w)[0]).sum()
                total.backward()
                grad[area] += xw.grad.to(grad)
        return {key: value.detach() for key, value in parts.items()}

    def _style_parts(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        """The style (and gamma) parts of the loss, from the whole image's Gram sums."""
        config, parts = self.config, {}
        weights = dict(zip(config.style_layers, config.style_layer_weights, strict=True))
        norm = config.normalization
        if config.style_weight > 0:
            for n, s in sums.items():
                parts[f"style/{n}"] = layer_from_sum(s, self.targets[n], self.positions[n], norm)
            style = sum(weights[n] * parts[f"style/{n}"] for n in sums)
            parts["style_total"] = config.style_weight * style
        if config.gamma > 0:
            own = sum(
                weights[n] * layer_from_sum(s, self.content_grams[n], self.positions[n], norm)
                for n, s in sums.items()
            )
            parts["gamma_total"] = -config.gamma * own
        return parts

    def _gram_gradients(self, sums: dict[str, Tensor]) -> dict[str, Tensor]:
        """K_l = d(weighted style and gamma terms) / d(Gram sum of layer l), C x C."""
        leaves = {n: s.detach().clone().requires_grad_(True) for n, s in sums.items()}
        with torch.enable_grad():
            parts = self._style_parts(leaves)
            total = sum(parts[key] for key in ("style_total", "gamma_total") if key in parts)
            grads = torch.autograd.grad(total, list(leaves.values()))
        return dict(zip(leaves, grads, strict=True))

    def _window_parts(self, xw: Tensor, f: dict, rows: Span, cols: Span):
        """The window's share of the content loss and TV, each position by its weight, and
        their weighted sum (the content loss normalised for the whole image)."""
        config, parts = self.config, {}
        content_layers, _ = used_layers(config)
        if content_layers:
            with torch.no_grad():
                cw = window_tensor(self.content, rows, cols).to(self.device)
                p = features(self.net, cw, content_layers, config.precision)
            for name in content_layers:
                w = _weights(rows, cols, _factor(f[name], xw), f[name]).sqrt()
                value = content_loss(f[name] * w, p[name].to(w.dtype) * w, config.normalization)
                if config.normalization == "johnson":  # a mean over the window -> the image's
                    value = value * (w.shape[2] * w.shape[3] / self.positions[name])
                parts[f"content/{name}"] = value
            content = sum(parts[f"content/{n}"] for n in content_layers)
            parts["content_total"] = config.content_weight * content
        if config.tv_weight > 0:
            tv = weighted_tv(xw, _weights(rows, cols, 1, xw), config.tv_kind)
            parts["tv_total"] = config.tv_weight * tv
        total = sum((v for key, v in parts.items() if key.endswith("_total")), xw.new_zeros(()))
        return parts, total


def build_objective(
    net: VGGFeatures,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    blend: Sequence[float],
    config: GatysConfig,
    window: dict,
    device: torch.device,
    tick: Callable[[], None] = lambda: None,
) -> TiledObjective:
    """The objective of a run: the style targets (once), the content Grams for gamma.

    ``content`` and ``styles`` are (H, W, 3) uint8 arrays at their final sizes; ``window``
    holds make_grid's tile, halo, overlap and align.
    """
    content_layers, style_layers = used_layers(config)
    h, w = content.shape[:2]
    positions = positions_of(config.arch, h, w, content_layers + style_layers)
    targets, grams = {}, {}
    if config.style_weight > 0:
        targets = style_targets(net, styles, blend, config, positions, window, device)
    if config.gamma > 0:  # the content image's own Grams, normalised as the output's
        sums = gram_sums(net, content, make_grid(h, w, **window), style_layers, config, device)
        norm = config.normalization
        grams = {n: target_from_sum(s, positions[n], positions[n], norm) for n, s in sums.items()}
    return TiledObjective(net, config, content, targets, positions, grams, device, tick)


# --------------------------------------------------------------------------- the loop


def transfer_tiled(
    content,
    style,
    config: GatysConfig | None = None,
    *,
    size: int | None = None,
    blend: Sequence[float] | None = None,
    init=None,
    tile: int = TILE,
    overlap: int = OVERLAP,
    halo: int | None = None,
    shift: bool = True,
    callback: TiledCallback | None = None,
    progress: bool = True,
    net: VGGFeatures | None = None,
) -> TiledResult:
    """Gatys style transfer of an image of any size, one window of VGG at a time.

    Args:
        content: the content image: a path, PIL image, (H, W, 3) uint8 array or tensor.
        style: a style image, or a list of them to blend.
        config: a :class:`GatysConfig`; its ``steps`` (Adam steps), loss weights, layers,
            ``init``, ``style_scale``, ``seed`` and ``precision`` apply; not its ``size``
            (see ``size``), nor ``optimizer``: always Adam, with ``lr`` when
            ``optimizer="adam"``, else 0.02 (see the module docstring).
        size: the output's long side, px (the content resized with PIL's Lanczos); None keeps
            the content image's size. Style images are resized to ``size * style_scale``.
        blend: one weight per style image (normalised to sum 1).
        init: an image to start from (resized to the output), overriding ``config.init``;
            e.g. an untiled run's result at a smaller size: coarse to fine.
        tile: each window's side, px (memory grows with its square).
        overlap: the blend between neighbouring windows, px.
        halo: px each window gives up on each side; None: VGG's receptive field up to the
            deepest layer used (:func:`vgg_halo`), which makes the gradient exact; less saves
            work and leaves errors along the (moving) tile borders. Rounded up to the stride.
        shift: move the grid between steps (:func:`stylelib.tiling.grid_shift`); False keeps
            it in place, so that errors of a short halo pile up on the same borders.
        callback: ``callback(step, image, record)`` after each step, the current image as
            (H, W, 3) uint8; returning True stops the run with the best image so far.
        progress: a tqdm bar over the windows.
        net: a :class:`VGGFeatures` to reuse.

    Returns:
        A :class:`TiledResult`, also after Ctrl-C, a callback's stop or a divergence (with
        the best image so far).

    Raises:
        TileError: a tile too small for the halo, a bad overlap or halo (one line).
    """
    config = config_or_default(config, GatysConfig, "gatys2016")
    _check_supported(config)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise ValueError("no style image was given (an empty list); pass one or more styles")
    blend = blend_weights(blend, len(styles), name="blend", styles="style images")
    content_layers, style_layers = used_layers(config)
    exact, align = vgg_halo(config)
    halo = exact if halo is None else _check_halo(halo, align)
    deepest = max(content_layers + style_layers, key=lambda n: vgg_reach(n, config.arch))
    what = f"VGG to {deepest} (an exact gradient needs a halo of {exact} px)"
    tile, overlap = check_tiling(tile, overlap, halo=halo, align=align, what=what)
    if 2 * halo + overlap < MIN_SIDE:  # the narrowest window, at an edge of the image
        raise TileError(
            f"halo={halo} and overlap={overlap} leave windows of {2 * halo + overlap} px at the "
            f"image's edges, below VGG's {MIN_SIDE} px; make 2 * halo + overlap >= {MIN_SIDE}"
        )
    photo = load_uint8(content, size)
    h, w = photo.shape[:2]
    side = max(MIN_SIDE, round(max(h, w) * config.style_scale))
    style_arrays = [load_uint8(s, side) for s in styles]
    for array in (photo, *style_arrays):
        if min(array.shape[:2]) < MIN_SIDE:
            raise ImageError(
                f"an image would be {array.shape[0]}x{array.shape[1]} px, below VGG's "
                f"{MIN_SIDE} px; use a larger size or style_scale"
            )
    device = pick_device(config.device)
    net = (net or extractor(config)).to(device)
    window = {"tile": tile, "halo": halo, "overlap": overlap, "align": align}
    stride = (tile - 2 * halo - overlap) // align * align
    shifts = [grid_shift(k if shift else 0, stride, align) for k in range(config.steps)]
    plan = [(s, make_grid(h, w, shift=s, **window)) for s in shifts]
    passes = (2 if style_layers else 1) * (sum(len(g) for _, g in plan) + len(plan[-1][1]))
    bar = _progress(passes, progress)
    start = time.perf_counter()
    try:
        objective = build_objective(
            net, photo, style_arrays, blend, config, window, device, tick=bar.update
        )
        x = _initial(init, photo, style_arrays[0], config)
        result = _optimise(objective, x, plan, config, callback, start)
    finally:
        bar.close()
    result.halo, result.seconds = halo, time.perf_counter() - start
    if not result.message:
        result.message = f"finished {result.steps} steps in {result.seconds:.1f} s"
    return result


def _optimise(objective, x: Tensor, plan: list, config, callback, start) -> TiledResult:
    """Adam on the whole image, one exact gradient per step on each ``(shift, grid)`` of
    ``plan``; keeps the best image.

    Every full-size buffer (the gradient, Adam's moments, the best image) is made once and
    reused: freeing and re-allocating tens of MB each step would leave the C heap fragmented,
    and the resident memory growing with the image by more than the buffers themselves."""
    result = TiledResult(image=np.empty(0, np.uint8))
    m, v, grad = torch.zeros_like(x), torch.zeros_like(x), torch.zeros_like(x)
    lr = config.step_size if config.optimizer == "adam" else ADAM_LR
    best, best_loss, scale = np.empty((*x.shape[2:], 3), np.uint8), math.inf, None
    try:
        for k, (shift, grid) in enumerate(plan):
            loss, values = objective(x, grid, grad.zero_())
            norm = float(torch.linalg.vector_norm(grad))  # NaN/Inf if any element is
            if not math.isfinite(loss) or not math.isfinite(norm):
                raise Diverged(
                    f"the loss or its gradient became NaN/Inf at step {k + 1}; lower the "
                    f"learning rate (lr={lr:g}); returning the best image so far"
                )
            record = _record(values, loss, k + 1, time.perf_counter() - start)
            record.update(shift=shift, windows=len(grid))
            result.history.append(record)
            result.steps = k + 1
            if loss < best_loss:  # the loss of x before this step's update
                best_loss = loss
                to_uint8(x, out=best)
            if callback is not None and callback(k + 1, to_uint8(x), record):
                result.stopped, result.message = "stopped", f"stopped at step {k + 1}"
                break
            if scale is None:  # RMS 1 per pixel, as objective.gradient_scale: eps stays small
                rms = norm / math.sqrt(grad.numel())
                scale = 1.0 / rms if rms > 0 else 1.0
            adam_step_(x, grad, m, v, k + 1, lr, scale)
        else:  # score the last step's image too
            del grad, m, v
            final, _ = objective(x, plan[-1][1])
            if final < best_loss:
                best_loss = final
                to_uint8(x, out=best)
    except Diverged as exc:
        result.stopped, result.message = "diverged", str(exc)
    except KeyboardInterrupt:
        result.stopped = "interrupted"
        result.message = f"interrupted at step {result.steps}; returning the best image so far"
    result.image = best if math.isfinite(best_loss) else to_uint8(x)
    result.loss = best_loss if math.isfinite(best_loss) else None
    return result


def _record(values: dict, loss: float, step: int, seconds: float) -> dict:
    """One step's history entry, in transfer's layout."""
    rec = {"step": step, "loss": loss, "content": {}, "style": {}, "seconds": round(seconds, 4)}
    for key, value in values.items():
        group, _, name = key.partition("/")
        if name:
            rec[group][name] = value
        else:
            rec[key] = value
    return rec


def adam_step_(x, grad, m, v, t: int, lr: float, scale: float = 1.0, rows: int = 256) -> None:
    """One Adam step (Kingma & Ba 2015, Alg. 1; what ``torch.optim.Adam`` computes) on ``x``
    in place with the gradient ``grad * scale``, then the projection onto [0, 1] (as
    transfer's Adam); ``rows`` rows at a time, so no full-image temporary is made."""
    (b1, b2), eps = ADAM_BETAS, ADAM_EPS
    c1, c2 = 1 - b1**t, 1 - b2**t
    for r in range(0, x.shape[2], rows):
        g = grad[:, :, r : r + rows] * scale
        mr, vr = m[:, :, r : r + rows], v[:, :, r : r + rows]
        mr.mul_(b1).add_(g, alpha=1 - b1)
        vr.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (vr.sqrt() / math.sqrt(c2)).add_(eps)
        x[:, :, r : r + rows].addcdiv_(mr, denom, value=-lr / c1).clamp_(0.0, 1.0)


def _initial(init, photo: np.ndarray, style: np.ndarray, config: GatysConfig) -> Tensor:
    """``init`` resized to the output, else the config's choice (as transfer's)."""
    h, w = photo.shape[:2]
    if init is not None:
        return from_uint8(resize_uint8(load_uint8(init), shape=(h, w)))
    if config.init == "content":
        return from_uint8(photo)
    if config.init == "style":
        return from_uint8(resize_uint8(style, shape=(h, w)))
    generator = torch.Generator().manual_seed(config.seed)
    return torch.rand((1, 3, h, w), generator=generator)  # white noise, as in the paper


def _check_supported(config: GatysConfig) -> None:
    """What the tiled loop does not do, refused in one line."""
    if config.scales > 1:
        raise ValueError(
            f"scales={config.scales}: coarse-to-fine is not tiled; run transfer at a small size "
            "and pass its result as init= (it is resized to the output)"
        )
    if config.color != "none":
        raise ValueError(
            f"color={config.color!r} is not available with tiles; transfer with color='none' "
            "and recolour the result"
        )


def _check_halo(halo: object, align: int) -> int:
    """A halo as a whole number of px >= 0, rounded up to the stride."""
    if isinstance(halo, bool) or not isinstance(halo, int) or halo < 0:
        raise TileError(f"halo must be a whole number of px >= 0 (None: exact), got {halo!r}")
    return align_up(halo, align)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc="transfer (tiles)", unit="window", disable=not enabled, leave=False
    )
