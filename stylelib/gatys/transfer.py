"""Gatys et al. (2016) style transfer: optimise the pixels of an image, not a network.

The whole method is one loop. Build the targets once — the content image's features P^l and
the style images' Gram matrices A^l — then change the pixels x to lower

    L(x) = alpha * L_content(p, x) + beta * L_style(a, x) + tv_weight * TV(x)
           - gamma * L_style(p, x)          (the γ term of [Ng], gatys.config)

with L-BFGS or Adam, keeping the pixels in [0, 1] after every step (a projection), so that
the image returned is exactly the image whose loss was reported. One *step* is one optimiser
iteration and one loss evaluation (a forward and a backward pass); each scale adds one
evaluation that sets the loss scale and one forward pass that scores the final image, and
all are counted. Texture synthesis is ``content_weight=0``; feature inversion ("what does
relu3_1 keep?") is ``style_weight=0``: the same function. Spatial control (Gatys et al.
2017) is ``masks=``: one region per style image, each matched through guided Gram matrices
(:mod:`stylelib.gatys.guided`), a style of None leaving its region to the content loss.

Example::

    >>> from dataclasses import replace
    >>> import torch
    >>> from stylelib.presets import get as preset
    >>> from stylelib.gatys.transfer import transfer
    >>> cfg = replace(preset("gatys2016"), weights="random", size=48, steps=2, device="cpu")
    >>> result = transfer(torch.rand(1, 3, 48, 48), torch.rand(1, 3, 48, 48), cfg, progress=False)
    >>> result.image.shape, result.steps
    (torch.Size([1, 3, 48, 48]), 2)
"""

from __future__ import annotations

import functools
import math
import numbers
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib import color
from stylelib.blend import blend_weights
from stylelib.config import config_or_default
from stylelib.devices import pick_device
from stylelib.errors import Diverged, ImageError
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.objective import Targets, evaluate, extractor, gradient_scale, make_targets
from stylelib.images import MIN_SIDE, check_output_path, load_image, resize, save_image
from stylelib.masks import MaskError, region_masks
from stylelib.vgg import VGGFeatures, layer_index

# callback(step, image, record) after every step; True stops the run.
TransferCallback = Callable[[int, Tensor, dict], "bool | None"]
# extra_loss(x) -> a scalar the caller adds to the loss, weighted by the caller, x the image
# being optimised at the current scale, in [0, 1]
ExtraLoss = Callable[[Tensor], Tensor]


# L-BFGS is scored at the clamped image while its iterate may leave [0, 1] (see in_range);
# in 100-step runs it strays to |x| <= 10. An iterate beyond this has diverged: its image is
# saturated noise however finite its loss.
MAX_ITERATE = 1e4


@dataclass
class Result:
    """What :func:`transfer` returns.

    Attributes:
        image: the best image found at the final scale, ``(1, 3, H, W)`` in [0, 1], on the CPU.
        history: one dict per step: ``step``, ``size``, ``evaluations`` (cumulative), ``loss``
            (weighted total, at the start of the step), ``content``/``style`` (unweighted
            per-layer values), ``content_total``, ``style_total``, ``tv_total``,
            ``gamma_total`` (weighted terms) and ``seconds`` since the start; with masks also
            ``region`` (index of each region with a style -> its unweighted style loss,
            Σ_l w_l E_l,r).
        steps: optimiser iterations run, over all scales.
        evaluations: loss evaluations (forward + backward passes), over all scales.
        stopped: ``"finished"``, ``"interrupted"`` (Ctrl-C), ``"stopped"`` (the callback
            asked) or ``"diverged"`` (NaN/Inf; ``image`` is the last good one).
        message: one line saying how it ended.
        seconds: wall time.
        device: where it ran.
        loss: the loss of ``image`` as scored (the minimum over every image scored at the
            final scale; ``image`` is clamped to [0, 1] before scoring); None when the run
            ended at a coarser scale and ``image`` was upsampled, or before the first score.
    """

    image: Tensor
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    evaluations: int = 0
    stopped: str = "finished"
    message: str = ""
    seconds: float = 0.0
    device: str = "cpu"
    loss: float | None = None


def make_optimizer(x: Tensor, config: GatysConfig) -> torch.optim.Optimizer:
    """L-BFGS (one iteration and one evaluation per step, as in the authors' code) or Adam.

    L-BFGS's default ``tolerance_grad=1e-7`` ends the run after one evaluation whenever the
    largest gradient entry is below it — which is what mean-reduced losses and small weights
    give. Both tolerances are 0 here, so it always runs the steps asked for. A strong-Wolfe
    line search was tried and left out: on these losses it spent two evaluations per step and
    stalled on texture synthesis, where the plain iteration kept descending.
    """
    if config.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            [x],
            lr=config.step_size,
            max_iter=1,
            history_size=100,
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
    return torch.optim.Adam([x], lr=config.step_size)


def level_sizes(size: int, scales: int) -> list[int]:
    """Long sides of the coarse-to-fine levels, e.g. (512, 3) -> [128, 256, 512]."""
    return [round(size / 2 ** (scales - 1 - i)) for i in range(scales)]


def level_steps(config: GatysConfig) -> list[int]:
    """Steps at each coarse-to-fine level, coarsest first: ``coarse_steps`` (None: ``steps``)
    at every coarser level, ``steps`` at the last; a run's steps are their sum, and its step
    numbers (``save_every``, the callback) count on across the levels."""
    return [config.coarse_steps or config.steps] * (config.scales - 1) + [config.steps]


def transfer(
    content,
    style,
    config: GatysConfig | None = None,
    *,
    blend: Sequence[float] | None = None,
    init=None,
    callback: TransferCallback | None = None,
    save_every: int = 0,
    save_path: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    net: VGGFeatures | None = None,
    extra_loss: ExtraLoss | None = None,
    masks: Sequence | None = None,
) -> Result:
    """Gatys style transfer of ``content`` in the style of ``style`` (one image or a list).

    Args:
        content: the content image: a path, PIL image, array or ``(1, 3, H, W)`` tensor.
        style: a style image, or a list of them to blend.
        config: a :class:`~stylelib.gatys.config.GatysConfig` (default: the paper's preset).
        blend: one weight per style image (normalised to sum 1); default equal weights.
        init: an image to start from, overriding ``config.init``.
        callback: ``callback(step, image, record)`` after every step, with the current image
            (in [0, 1], detached) and the step's history record; returning True stops the run
            and returns the best image so far.
        save_every: also save the current image every this many steps (an int >= 0; 0:
            never) to ``save_path`` with ``.stepNNNNN`` before its suffix, atomically.
        save_path: see ``save_every``; inputs given as paths are never overwritten.
        overwrite: let ``save_every`` replace existing step files (refused before any work
            without it).
        progress: show a tqdm progress bar.
        net: a :class:`VGGFeatures` to reuse (built from the config when None).
        extra_loss: ``extra_loss(x) -> scalar`` added to the loss as it is (weighted by the
            caller), ``x`` the image being optimised, at each scale's size; recorded as
            ``extra_total``. Video style transfer adds its temporal loss this way. The loss
            scale (:func:`~stylelib.gatys.objective.gradient_scale`) is set without it.
        masks: spatial control: one region mask per entry of ``style`` (an image file, an
            ``(H, W)`` array in [0, 1], or a built-in name such as ``"top"`` or ``"rest"``;
            :mod:`stylelib.masks` states the rules: resized with a warning if only the size
            differs, normalised to sum 1 per pixel, every pixel covered). Region i takes the
            style of ``style[i]``, or none (content only) where it is None; regions are
            weighted equally (``config.guide_mode`` carries the masks to the layers). Not
            with ``blend`` or ``config.gamma``. A region without style keeps the photo only
            if the run starts from it (``init="content"``); from noise it becomes the
            content reconstruction (a warning says so).

    Returns:
        A :class:`Result`; ``result.image`` is ``(1, 3, H, W)`` with long side ``config.size``.
    """
    config = config_or_default(config, GatysConfig, "gatys2016")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise ValueError("no style image was given (an empty list); pass one or more styles")
    _check_masks_args(masks, styles, blend, config, init)
    if masks is None:
        blend = blend_weights(blend, len(styles), name="blend", styles="style images")
    save_every = check_save_every(save_every)
    device = pick_device(config.device)
    content_img = load_image(content, size=config.size)
    regions = None if masks is None else region_masks(masks, tuple(content_img.shape[-2:]))
    style_imgs = [None if s is None else load_image(s) for s in styles]
    if config.color in ("histogram", "linear"):
        style_imgs = [_maybe(color.match_colors, s, content_img, config.color) for s in style_imgs]
    sizes = level_sizes(config.size, config.scales)
    _check_level_sizes(content_img, style_imgs, sizes, config.style_scale)
    _check_layers(config)
    inputs = _paths(content, *styles, init, *(masks or []))
    if save_every and save_path:  # refuse a bad path now, not after the first save_every steps
        check_output_path(_numbered(save_path, 0), inputs=inputs)
        for step in range(save_every, sum(level_steps(config)) + 1, save_every):
            check_output_path(_numbered(save_path, step), inputs=inputs, overwrite=overwrite)
    net = net or extractor(config)
    net = net.to(device)
    run = _Run(
        net=net,
        config=config,
        result=Result(image=content_img, device=str(device)),
        callback=callback,
        view=functools.partial(_viewable, original=content_img, config=config),
        save_every=save_every if save_path else 0,
        save_path=save_path,
        overwrite=overwrite,
        inputs=inputs,
        extra_loss=extra_loss,
    )
    steps = level_steps(config)
    run.bar = _progress(sum(steps), progress)
    x = None
    try:
        for size, n_steps in zip(sizes, steps, strict=True):
            level_content = resize(content_img, size).to(device)
            side = max(MIN_SIDE, round(size * config.style_scale))
            level_styles = [_maybe(resize, s, side) for s in style_imgs]
            level_styles = [_maybe(Tensor.to, s, device) for s in level_styles]
            if config.color == "luminance":
                level_content, level_styles = _luminance_inputs(level_content, level_styles)
            run.config = level_config(config, size, sizes[-1])
            level_masks = _level_masks(regions, level_content, device)
            if level_masks is None:
                targets = make_targets(net, level_content, level_styles, blend, run.config)
            else:
                targets = make_targets(
                    net, level_content, level_styles, blend, run.config, level_masks
                )
            first = next(s for s in level_styles if s is not None)
            x = _initial_image(x, init, level_content, first, config).to(device)
            x = run.level(x, targets, size, n_steps)
            if run.result.stopped != "finished":
                break
    except KeyboardInterrupt:  # between levels: keep the last level's result
        run.result.stopped = "interrupted"
        run.result.message = "interrupted; returning the best image so far"
    finally:
        run.bar.close()
    result = run.result
    result.seconds = time.perf_counter() - run.start
    if not result.message:
        result.message = (
            f"finished {result.steps} steps ({result.evaluations} evaluations) "
            f"in {result.seconds:.1f} s"
        )
    final_hw = resize(content_img, sizes[-1]).shape[-2:]
    if result.image.shape[-2:] != final_hw:  # stopped at a coarser scale: deliver the size asked
        result.loss = None
        result.image = F.interpolate(result.image, size=final_hw, mode="bicubic").clamp(0, 1)
    result.image = _viewable(result.image, content_img, config).cpu()
    return result


@dataclass
class _Run:
    """What every level of one :func:`transfer` call shares: network, settings, bookkeeping."""

    net: VGGFeatures
    config: GatysConfig
    result: Result
    callback: TransferCallback | None
    view: Callable[[Tensor], Tensor]
    save_every: int
    save_path: str | Path | None
    overwrite: bool
    inputs: list
    extra_loss: ExtraLoss | None = None
    bar: object = None
    start: float = field(default_factory=time.perf_counter)

    def level(self, x0: Tensor, targets: Targets, size: int, steps: int) -> Tensor:
        """Optimise at one scale; return the best image, recording history in ``result``."""
        net, config, result = self.net, self.config, self.result
        x = x0.detach().clone().requires_grad_(True)
        optimizer = make_optimizer(x, config)
        log: list[dict] = []  # every evaluation's loss parts, as floats

        def closure() -> Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss, parts = self.evaluate(in_range(x), targets)
            drift = x.detach().abs().amax()  # how far the iterate has left the image range
            *values, drift = torch.stack(
                [loss.detach(), *(v.detach() for v in parts.values()), drift]
            ).tolist()
            if not math.isfinite(values[0]):
                raise Diverged(_diverged_message(config, result.steps))
            if not drift <= MAX_ITERATE:
                raise Diverged(_diverged_message(config, result.steps, finite=True))
            log.append({"loss": values[0], **dict(zip(parts, values[1:], strict=True))})
            (loss * scale).backward()
            return loss.detach() * scale

        best, best_loss = x.detach().clone(), math.inf
        try:
            scale = gradient_scale(net, x, targets, config)
            result.evaluations += 1
            for _ in range(steps):
                before, first = x.detach().clone(), len(log)
                optimizer.step(closure)
                if config.optimizer == "adam":
                    with torch.no_grad():  # projected gradient: Adam stays in the image range
                        x.clamp_(0.0, 1.0)
                record = _record(
                    log[first],
                    result.steps + 1,
                    size,
                    result.evaluations + len(log) - first,
                    time.perf_counter() - self.start,
                )
                result.steps, result.evaluations = record["step"], record["evaluations"]
                result.history.append(record)
                if record["loss"] < best_loss:  # the loss of ``before``, where the step began
                    best, best_loss = before, record["loss"]
                if self._after_step(x, record):
                    break
            with torch.no_grad():
                final_loss = self.evaluate(in_range(x.detach()), targets)[0].item()
            result.evaluations += 1
            if final_loss < best_loss:
                best, best_loss = x.detach().clone(), final_loss
        except Diverged as exc:
            result.stopped, result.message = "diverged", str(exc)
        except KeyboardInterrupt:
            result.stopped = "interrupted"
            result.message = f"interrupted at step {result.steps}; returning the best image so far"
        result.image = best
        result.loss = best_loss if math.isfinite(best_loss) else None
        return best

    def evaluate(self, x: Tensor, targets: Targets) -> tuple[Tensor, dict[str, Tensor]]:
        """:func:`~stylelib.gatys.objective.evaluate`, plus the caller's ``extra_loss``."""
        loss, parts = evaluate(self.net, x, targets, self.config)
        if self.extra_loss is not None:
            parts["extra_total"] = self.extra_loss(x)
            loss = loss + parts["extra_total"]
        return loss, parts

    def _after_step(self, x: Tensor, record: dict) -> bool:
        """Progress bar, intermediate saves and the callback; True if the callback says stop."""
        step = record["step"]
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
        if self.save_every and step % self.save_every == 0:
            path = _numbered(self.save_path, step)
            save_image(self.view(x.detach()), path, inputs=self.inputs, overwrite=self.overwrite)
        if self.callback is not None and self.callback(step, self.view(x.detach()), record):
            self.result.stopped, self.result.message = "stopped", f"stopped at step {step}"
            return True
        return False


def _record(evaluation: dict, step: int, size: int, evaluations: int, seconds: float) -> dict:
    rec = {
        "step": step,
        "size": size,
        "evaluations": evaluations,
        "loss": evaluation["loss"],
        "content": {},
        "style": {},
        "seconds": round(seconds, 4),
    }
    for key, value in evaluation.items():
        group, _, name = key.partition("/")
        if name:  # content/<layer>, style/<layer>, region/<index>
            rec.setdefault(group, {})[name] = value
        elif key != "loss":
            rec[key] = value
    return rec


def _diverged_message(config: GatysConfig, steps: int, finite: bool = False) -> str:
    fix = f"lower the learning rate (lr={config.step_size:g})"
    if config.optimizer == "lbfgs":
        fix += ", or try optimizer='adam'"
    if config.precision == "bf16":
        fix += ", or use precision='fp32'"
    what = (
        f"the pixels left [0, 1] by over {MAX_ITERATE:g}" if finite else "the loss became NaN/Inf"
    )
    return f"{what} after step {steps}; {fix}; returning the last good image"


def check_save_every(save_every: object) -> int:
    """``save_every`` as an int >= 0 (0: no intermediate images), or a one-line ValueError."""
    if isinstance(save_every, bool) or not isinstance(save_every, numbers.Integral):
        raise ValueError(
            f"save_every must be a whole number of steps (0: never), got {save_every!r}"
        )
    if save_every < 0:
        raise ValueError(f"save_every must be >= 0 (0: never, N: every N steps), got {save_every}")
    return int(save_every)


def _check_masks_args(masks, styles: list, blend, config: GatysConfig, init) -> None:
    """What ``masks`` cannot go with, refused in one line before any work; the warning for a
    region without style that starts from noise."""
    if masks is None:
        if any(s is None for s in styles):
            raise ValueError(
                "a style of None means a region without style and needs masks=; without "
                "masks give every style image"
            )
        return
    if isinstance(masks, (str, Tensor)) or not isinstance(masks, Sequence):
        raise MaskError("masks must be a list with one mask per style (e.g. ['top', 'rest'])")
    if len(masks) != len(styles):
        raise MaskError(
            f"{len(masks)} masks for {len(styles)} styles; give one mask per style, with "
            "None as the style of a region that keeps the content only"
        )
    if blend is not None:
        raise MaskError("give blend or masks, not both: masks choose one style per region")
    if config.gamma > 0:
        raise MaskError(
            f"gamma={config.gamma:g} subtracts the whole photo's style, which masks leave "
            "undefined; use gamma=0 with masks"
        )
    if all(s is None for s in styles):
        raise MaskError(
            "every region's style is none, so there is no style to transfer; give at least "
            "one region a style image"
        )
    if any(s is None for s in styles) and init is None and config.init == "noise":
        warnings.warn(
            "a region without style starts from white noise (init='noise') and will show "
            "the content's reconstruction, not the photo; use init='content' (--init "
            "content) to keep it",
            stacklevel=3,
        )


def _maybe(function, image, *args):
    """``function(image, *args)``, or None for a region without style."""
    return None if image is None else function(image, *args)


def _luminance_inputs(content: Tensor, styles: list) -> tuple[Tensor, list]:
    """:func:`stylelib.color.luminance_only_inputs` for every style there is."""
    pairs = [_maybe(color.luminance_only_inputs, content, s) for s in styles]
    kept = [p for p in pairs if p is not None]
    return kept[0][0], [None if p is None else p[1] for p in pairs]


def _level_masks(regions: list[Tensor] | None, content: Tensor, device) -> list[Tensor] | None:
    """The region masks at one level's size: averaged over each pixel's footprint, so that
    they still sum to 1 everywhere."""
    if regions is None:
        return None
    size = tuple(content.shape[-2:])
    return [F.adaptive_avg_pool2d(m, size).to(device) for m in regions]


def _check_level_sizes(
    content: Tensor, styles: list[Tensor], sizes: list[int], style_scale: float
) -> None:
    """Every image at every scale must keep VGG's 32 px on its short side."""
    short = _short_side(content, sizes[0])
    if short < MIN_SIDE:
        raise ImageError(
            f"the smallest scale ({sizes[0]} px long side, {short} px short side) is below "
            f"{MIN_SIDE} px, which VGG's five poolings need; use fewer scales or a larger size"
        )
    for i, style in enumerate(styles, 1):
        if style is None:  # a region without style
            continue
        short = _short_side(style, max(MIN_SIDE, round(sizes[0] * style_scale)))
        if short < MIN_SIDE:
            raise ImageError(
                f"style image {i} would be {short} px on its short side at the smallest scale "
                f"(style_scale={style_scale:g}), below VGG's {MIN_SIDE} px; raise style_scale "
                "or size, use fewer scales, or crop the style image"
            )


def _short_side(image: Tensor, long_side: int) -> int:
    h, w = image.shape[-2:]
    return max(1, round(min(h, w) * long_side / max(h, w)))


def level_config(config: GatysConfig, size: int, final: int) -> GatysConfig:
    """The config of a coarse level: alpha scaled so that alpha/beta means what it does at the end.

    Gatys' content loss is a sum over the M positions of its layer, growing 4x when the side
    doubles, while the style loss, divided by M², does not: at half the size the same alpha
    weighs content 4x less, at a quarter 16x less, and the coarse levels would hand the final
    one a picture of the style that has lost its content. Johnson's losses are per position.
    """
    if config.normalization != "gatys" or size == final:
        return config
    return replace(config, content_weight=config.content_weight * (final / size) ** 2)


def _check_layers(config: GatysConfig) -> None:
    """Every layer name must exist, even those whose weight is 0 in this run."""
    for name in (*config.content_layers, *config.style_layers):
        layer_index(name, config.arch)


def _paths(*sources) -> list:
    """The sources given as file paths: outputs must never overwrite them."""
    return [s for s in sources if isinstance(s, (str, Path))]


def _initial_image(previous, init, content: Tensor, style: Tensor, config: GatysConfig) -> Tensor:
    """The coarser level's result upsampled, else ``init``, else the config's choice."""
    h, w = content.shape[-2:]
    if previous is not None:
        return F.interpolate(previous, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    if init is not None:
        image = load_image(init)
        return F.interpolate(image, size=(h, w), mode="bilinear", antialias=True).clamp(0, 1)
    if config.init == "content":
        return content.clone()
    if config.init == "style":
        return F.interpolate(style, size=(h, w), mode="bilinear", antialias=True).clamp(0, 1)
    generator = torch.Generator().manual_seed(config.seed)
    return torch.rand(content.shape, generator=generator)  # white noise, as in the paper


def in_range(x: Tensor) -> Tensor:
    """``x`` clamped to [0, 1] in the forward pass, the identity in the backward pass.

    L-BFGS is scored on the image it would return (the clamped one), so the reported loss
    is the returned image's loss, while its iterate and its curvature pairs stay those of an
    unconstrained problem: projecting the iterate after each step instead breaks the secant
    pairs (measured: texture synthesis on the raw network then rose instead of falling).
    Adam, which keeps no curvature, is projected after each step instead.
    """
    return x + (x.clamp(0.0, 1.0) - x).detach()


def _viewable(x: Tensor, original: Tensor, config: GatysConfig) -> Tensor:
    """The image as the user should see it: clamped, and recoloured in luminance mode."""
    x = x.detach().clamp(0, 1)
    if config.color == "luminance":
        x = color.combine_luminance(x, original.to(x.device))
    return x


def _numbered(path: str | Path, step: int) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.step{step:05d}{path.suffix}")


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="transfer", unit="step", disable=not enabled, leave=False)


# The verb of each method: Gatys' optimisation *transfers* a style (``stylelib transfer``);
# Johnson's network *stylizes* (``stylelib stylize``). The old name goes in the next release.
