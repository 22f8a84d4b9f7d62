"""The experiments of the lessons, each the one loop with some weights set to zero.

Feature inversion ("what does relu3_1 keep?", Gatys et al. 2016, Fig. 1, content) is
``style_weight=0``; texture synthesis (Fig. 1, style) is ``content_weight=0``; a sweep runs
the loop over a grid of values; the gradient balance says how hard each weighted term pulls
on the pixels at the start (the alpha/beta diagnosis of the lessons).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from stylelib.config import with_style_layers
from stylelib.devices import pick_device
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.objective import evaluate, extractor, make_targets
from stylelib.gatys.transfer import Result, _check_layers, _initial_image, transfer
from stylelib.images import MIN_SIDE, load_image, resize


def reconstruct_content(image, layer: str, config: GatysConfig | None = None, **kwargs) -> Result:
    """Feature inversion: from white noise, find an image with ``image``'s features at ``layer``.

    Gatys et al. 2016, Fig. 1 (content reconstructions). It is :func:`transfer` with the style
    weight at 0 and the content layer set to ``layer``; ``kwargs`` go to :func:`transfer`.
    """
    config = replace(
        config or GatysConfig(),
        content_layers=(layer,),
        content_weight=1.0,
        style_weight=0.0,
        gamma=0.0,
        init="noise",
    )
    return transfer(image, image, config, **kwargs)


def synthesize_texture(
    style, layers: Sequence[str], config: GatysConfig | None = None, **kwargs
) -> Result:
    """Texture synthesis: from white noise, match ``style``'s Gram matrices on ``layers``.

    Gatys et al. 2016, Fig. 1 (style reconstructions from growing layer sets), with the layer
    weights the preset gives ``layers`` (:func:`stylelib.config.style_layer_weights`: 1/L
    for the paper's). It is :func:`transfer` with the content weight at 0; the output has the
    style's shape.
    """
    config = replace(
        with_style_layers(config or GatysConfig(), layers), content_weight=0.0, init="noise"
    )
    return transfer(style, style, config, **kwargs)


def style_distance(image, reference, config: GatysConfig | None = None) -> float:
    """L_style(reference, image): how far ``image``'s Gram matrices are from ``reference``'s.

    With the config's style layers, weights and normalisation (Gatys et al. 2016, Eq. 5); the
    quantity the γ term subtracts (``GatysConfig.gamma``), measured on its own.
    """
    config = replace(
        config or GatysConfig(), content_weight=0.0, style_weight=1.0, gamma=0.0, tv_weight=0.0
    )
    _check_layers(config)
    net = extractor(config)
    image = load_image(image)
    device = pick_device(config.device)
    net, image = net.to(device), image.to(device)
    targets = make_targets(net, image, [load_image(reference).to(device)], [1.0], config)
    with torch.no_grad():
        return evaluate(net, image, targets, config)[0].item()


def sweep(
    content, style, config: GatysConfig, rows: Sequence[dict], cols: Sequence[dict], **kwargs
) -> list[list[Tensor]]:
    """Images of :func:`transfer` over a grid of config changes: ``rows[i] | cols[j]``.

    For the lessons' comparison figures, e.g. style layer sets (rows) against alpha/beta
    ratios (columns). A style-layer change without weights gets the weights the preset gives
    those layers (:func:`stylelib.config.style_layer_weights`).
    """
    grid = []
    for row in rows:
        line = []
        for col in cols:
            changes = {**row, **col}
            cell = config
            if "style_layers" in changes and "style_layer_weights" not in changes:
                cell = with_style_layers(config, changes["style_layers"])
            kwargs.setdefault("progress", False)
            line.append(transfer(content, style, replace(cell, **changes), **kwargs).image)
        grid.append(line)
    return grid


def gradient_balance(content, style, config: GatysConfig | None = None, *, at=None) -> dict:
    """How hard each weighted term pulls on the pixels: the balance meter of a transfer.

    The root-mean-square per pixel of the gradient of every weighted term of the loss
    (``α L_content``, ``β L_style``, and the TV and γ terms when they carry weight) with
    respect to the image, at ``at`` (default: the image ``config.init`` starts from).
    L-BFGS and Adam follow the sum of these gradients, so their ratio says which term will
    shape the picture: ``style / content`` far above 1 and the photo is lost under the
    painting's texture; far below 1 and the painting is ignored. Which α/β gives a ratio
    near 1 depends on the images, the layers, the weights and the normalisation — that is
    why the papers' α/β rarely carries over to another implementation.

    Returns:
        ``{"content": ..., "style": ..., "tv": ..., "gamma": ...}`` for the terms with a
        weight, floats in the units of the image's gradient.

    Example:
        >>> from dataclasses import replace
        >>> from stylelib.presets import get as preset
        >>> import torch
        >>> cfg = replace(preset("gatys2016"), weights="random", size=32, device="cpu")
        >>> meter = gradient_balance(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), cfg)
        >>> sorted(meter)
        ['content', 'style']
    """
    config = GatysConfig() if config is None else config
    _check_layers(config)
    device = pick_device(config.device)
    net = extractor(config).to(device)
    content_img = load_image(content, size=config.size).to(device)
    style_img = resize(load_image(style), max(MIN_SIDE, round(config.size * config.style_scale)))
    targets = make_targets(net, content_img, [style_img.to(device)], [1.0], config)
    start = _initial_image(None, at, content_img, style_img, config).to(device)
    x = start.detach().requires_grad_(True)
    _, parts = evaluate(net, x, targets, config)
    terms = [name for name in parts if name.endswith("_total")]
    grads = []
    for i, name in enumerate(terms):
        (g,) = torch.autograd.grad(parts[name], x, retain_graph=i < len(terms) - 1)
        grads.append(g.pow(2).mean().sqrt().item())
    return {name.removesuffix("_total"): g for name, g in zip(terms, grads, strict=True)}
