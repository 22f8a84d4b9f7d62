"""What the Gatys loop lowers: the targets, one evaluation of the loss, the network.

The targets are built once: the content image's features P^l and the style images' Gram
matrices A^l (Gatys et al. 2016, Sec. 2). One evaluation runs the network on the current
image x and returns L(x) = alpha L_content + beta L_style + tv_weight TV(x) - gamma
L_style(p, x) with each part, in the normalisation the config names
(:mod:`stylelib.losses`).

With spatial control (Gatys et al. 2017; :mod:`stylelib.gatys.guided`) the style term is a
sum over the regions that have a style, each with weight 1/K (K such regions): region r's
guided Grams against the Grams of its own style image. A region without a style adds no
style loss; the content loss stays over the whole image.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from stylelib.errors import Diverged
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.guided import guided_layer_loss, layer_guides, normalize_guide
from stylelib.losses import content_loss, gram_matrix, layer_style_loss, style_gram, total_variation
from stylelib.masks import MaskError
from stylelib.vgg import VGGFeatures


@dataclass(frozen=True)
class RegionTargets:
    """One region of spatial control at one scale: where it is at each style layer, and the
    Grams of its style image there."""

    index: int  # its place among the masks given (history records it as region/<index>)
    guides: dict[str, Tensor]  # layer -> normalised guide (1, 1, h, w); empty layers left out
    grams: dict[str, Tensor]  # layer -> A_r^l of the region's style image, same layers
    weight: float  # 1/K over the K regions with a style (the authors' gw = 1/n_ch)


@dataclass(frozen=True)
class Targets:
    """What the image is pulled towards at one scale: features and Gram matrices."""

    content: dict[str, Tensor]  # P^l of the content image
    style: dict[str, Tensor]  # blended A^l of the style images, for x's size
    content_grams: dict[str, Tensor]  # G^l of the content image (the gamma term), or empty
    regions: tuple[RegionTargets, ...] = ()  # spatial control: the style term is theirs

    def style_layers(self) -> list[str]:
        """The layers the style term reads: the blended Grams', or every region's."""
        if not self.regions:
            return list(self.style)
        return list(dict.fromkeys(n for r in self.regions for n in r.grams))


def used_layers(config: GatysConfig) -> tuple[list[str], list[str]]:
    """The content and style layers that carry weight (none when their weight is 0)."""
    content = list(config.content_layers) if config.content_weight > 0 else []
    style = list(config.style_layers) if (config.style_weight > 0 or config.gamma > 0) else []
    return content, style


def features(net: VGGFeatures, image: Tensor, layers: Sequence[str], precision: str) -> dict:
    """VGG features for the losses, in fp32 (fp64 from a ``net.double()``, as tests use);
    under ``precision="bf16"`` the network runs in bfloat16 and its features come back fp32."""
    autocast = torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    with autocast:
        out = net(image, layers=layers)
    wide = (torch.float32, torch.float64)
    return {name: f if f.dtype in wide else f.float() for name, f in out.items()}


def make_targets(
    net: VGGFeatures,
    content: Tensor,
    styles: Sequence[Tensor],
    blend: Sequence[float],
    config: GatysConfig,
    masks: Sequence[Tensor] | None = None,
) -> Targets:
    """Content features, blended style Grams and (for gamma > 0) content Grams, detached.

    With ``masks`` (one ``(1, 1, H, W)`` region mask per entry of ``styles``, at the content's
    size, from :func:`stylelib.masks.region_masks`), each region gets its guides and its
    style's Grams instead of a blend (``blend`` is not used), and a style of None gives a
    region without style loss.
    """
    if masks is not None:
        return _region_targets(net, content, styles, masks, config)
    content_layers, style_layers = used_layers(config)
    with torch.no_grad():
        p = features(net, content, content_layers + style_layers, config.precision)
        positions = {n: p[n].shape[2] * p[n].shape[3] for n in style_layers}
        content_grams = {}
        if config.gamma > 0:
            content_grams = {n: gram_matrix(p[n], config.normalization) for n in style_layers}
        p = {n: p[n] for n in content_layers}  # the style layers' maps are not needed any more
        grams: dict[str, Tensor] = {}
        for weight, style in zip(blend, styles if style_layers else [], strict=False):
            a = features(net, style, style_layers, config.precision)
            for name in style_layers:
                g = weight * style_gram(a[name], positions[name], config.normalization)
                grams[name] = grams[name] + g if name in grams else g
            del a  # one style image's feature maps at a time
    return Targets(p, grams, content_grams)


def _region_targets(
    net: VGGFeatures,
    content: Tensor,
    styles: Sequence[Tensor | None],
    masks: Sequence[Tensor],
    config: GatysConfig,
) -> Targets:
    """Content features, and per region with a style: its guides and its style's Grams."""
    content_layers, style_layers = used_layers(config)
    if not config.style_weight > 0:
        style_layers = []
    styled = [i for i, s in enumerate(styles) if s is not None]
    regions = []
    with torch.no_grad():
        p = features(net, content, content_layers + style_layers, config.precision)
        positions = {n: p[n].shape[2] * p[n].shape[3] for n in style_layers}
        p = {n: p[n] for n in content_layers}
        for i in styled if style_layers else []:
            mask = masks[i].to(content.device, content.dtype)
            guides = layer_guides(mask, config.arch, style_layers, config.guide_mode)
            guides = {n: normalize_guide(g) for n, g in guides.items() if bool(g.amax() > 0)}
            if not guides:
                raise MaskError(
                    f"region {i + 1} has no position in any style layer with "
                    f"guide_mode={config.guide_mode!r} at {content.shape[-1]} x "
                    f"{content.shape[-2]} px; use guide_mode='simple', a larger size or a "
                    "larger region"
                )
            a = features(net, styles[i], list(guides), config.precision)
            grams = {n: style_gram(a[n], positions[n], config.normalization) for n in guides}
            del a
            regions.append(RegionTargets(i, guides, grams, 1.0 / len(styled)))
    return Targets(p, {}, {}, tuple(regions))


def evaluate(
    net: VGGFeatures, x: Tensor, targets: Targets, config: GatysConfig
) -> tuple[Tensor, dict[str, Tensor]]:
    """The total loss at ``x`` and its parts (per-layer values and weighted totals).

    A pure function of its inputs: Gatys et al. 2016, Eq. 7, plus TV and the gamma term.
    """
    layers = list(targets.content) + targets.style_layers()
    f = features(net, x, layers, config.precision)
    norm, parts = config.normalization, {}
    total = x.new_zeros(())
    if targets.content:
        for name, target in targets.content.items():
            parts[f"content/{name}"] = content_loss(f[name], target, norm)
        content = sum(parts[f"content/{n}"] for n in targets.content)
        parts["content_total"] = config.content_weight * content
        total = total + parts["content_total"]
    weights = dict(zip(config.style_layers, config.style_layer_weights, strict=True))
    if config.style_weight > 0 and targets.regions:
        parts.update(_region_parts(f, targets.regions, weights, norm))
        style = sum(weights[n] * parts[f"style/{n}"] for n in targets.style_layers())
        parts["style_total"] = config.style_weight * style
        total = total + parts["style_total"]
    elif config.style_weight > 0:
        for name, target in targets.style.items():
            parts[f"style/{name}"] = layer_style_loss(f[name], target, norm)
        style = sum(weights[n] * parts[f"style/{n}"] for n in targets.style)
        parts["style_total"] = config.style_weight * style
        total = total + parts["style_total"]
    if config.gamma > 0:
        own = sum(
            weights[n] * layer_style_loss(f[n], g, norm) for n, g in targets.content_grams.items()
        )
        parts["gamma_total"] = -config.gamma * own
        total = total + parts["gamma_total"]
    if config.tv_weight > 0:
        parts["tv_total"] = config.tv_weight * total_variation(x, config.tv_kind)
        total = total + parts["tv_total"]
    return total, parts


def _region_parts(
    f: dict[str, Tensor], regions: Sequence[RegionTargets], weights: dict, norm: str
) -> dict[str, Tensor]:
    """``style/<layer>``: Σ_r (1/K) E_l,r; ``region/<index>``: Σ_l w_l E_l,r (unweighted by β)."""
    parts: dict[str, Tensor] = {}
    for r in regions:
        per_layer = {n: guided_layer_loss(f[n], r.guides[n], g, norm) for n, g in r.grams.items()}
        for n, e in per_layer.items():
            key = f"style/{n}"
            parts[key] = parts[key] + r.weight * e if key in parts else r.weight * e
        parts[f"region/{r.index}"] = sum(weights[n] * e for n, e in per_layer.items())
    return parts


def gradient_scale(net: VGGFeatures, x: Tensor, targets: Targets, config: GatysConfig) -> float:
    """The constant c that gives c * L a gradient of root-mean-square 1 per pixel at ``x``.

    Minimising c * L finds the same image as minimising L, but the optimisers are not
    scale-free: PyTorch's L-BFGS skips its curvature update when y.s < 1e-10 and Adam adds
    eps = 1e-8 to its denominator, so with the tiny gradients of normalised losses (or random
    weights) both crawl. Reported losses are never scaled.
    """
    x = x.detach().requires_grad_(True)
    loss, _ = evaluate(net, x, targets, config)
    if not torch.isfinite(loss):
        raise Diverged("the loss is NaN/Inf at the start; check the images and the weights")
    (grad,) = torch.autograd.grad(loss, x)
    rms = grad.pow(2).mean().sqrt().item()
    return 1.0 / rms if rms > 0 and math.isfinite(rms) else 1.0


def extractor(config: GatysConfig) -> VGGFeatures:
    """The whole-network extractor a config asks for (arch, weights, pooling, normalisation).

    Cached: the lessons and the widgets call :func:`transfer` often.
    """
    return _extractor(
        config.arch, str(config.weights), config.pooling, config.seed, config.normalize_network
    )


@functools.lru_cache(maxsize=2)
def _extractor(arch: str, weights: str, pooling: str, seed: int, normalize: bool) -> VGGFeatures:
    return VGGFeatures(
        arch, weights=weights, layers=None, pooling=pooling, seed=seed, normalize=normalize
    )
