"""The experiments of the lessons, each the one loop with some weights set to zero.

Feature inversion ("what does relu3_1 keep?", Gatys et al. 2016, Fig. 1, content) is
``style_weight=0``; texture synthesis (Fig. 1, style) is ``content_weight=0``; a sweep runs
the loop over a grid of values; the gradient balance says how hard each weighted term pulls
on the pixels at the start (the alpha/beta diagnosis of the lessons). :func:`tv_denoise`
shows the total-variation prior on its own, and :data:`FIGURE3` lists the paintings and
ratios of Gatys et al.'s Fig. 3.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from stylelib import data
from stylelib.config import with_style_layers
from stylelib.devices import pick_device
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.objective import evaluate, extractor, make_targets
from stylelib.gatys.transfer import Result, _check_layers, _initial_image, transfer
from stylelib.images import MIN_SIDE, load_image, resize
from stylelib.losses import total_variation

# Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016:
# content photo "the Neckarfront in Tübingen" (Fig. 3 A) and, per panel, the painting (Fig. 3
# caption) and alpha/beta (Sec. 3: "1 × 10−3 (Fig 3 B), 8 × 10−4 (Fig 3 C), 5 × 10−3 (Fig 3
# D), or 5 × 10−4 (Fig 3 E, F)"). Panel E, Picasso's "Femme nue assise" (1910), is not in
# stylelib.data (Picasso died in 1973: not in the public domain), so it is left out.
FIGURE3_CONTENT = "tubingen"
FIGURE3: tuple[tuple[str, str, float], ...] = (
    ("B", "shipwreck", 1e-3),  # The Shipwreck of the Minotaur, J.M.W. Turner
    ("C", "starry_night", 8e-4),  # The Starry Night, Vincent van Gogh
    ("D", "the_scream", 5e-3),  # Der Schrei, Edvard Munch
    ("F", "composition_vii", 5e-4),  # Composition VII, Wassily Kandinsky
)


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


def local_artworks(keys: Sequence[str]) -> list[str]:
    """The artworks of ``keys`` that are on disk now (``$STYLELIB_DATA_DIR`` or the cache).

    Nothing is downloaded: an optional cell asks this first and skips when a file is missing.
    """
    mirror = os.environ.get(data.DATA_DIR_ENV)
    folders = [Path(mirror).expanduser()] if mirror else []
    folders.append(data.cache_folder())
    return [
        key
        for key in keys
        if any((folder / data.ARTWORKS[key].filename).is_file() for folder in folders)
    ]


def tv_denoise(image, weight: float, steps: int = 30, kind: str = "squared") -> Tensor:
    """The image closest to ``image`` with less total variation: TV as a prior on its own.

    Minimises ``½ Σ (x − image)² + weight · TV(x)`` over the pixels x with L-BFGS from
    ``image`` (:func:`stylelib.losses.total_variation`, ``kind`` as there); ``weight=0``
    returns the image itself. No network is involved, so it takes a fraction of a second:
    the lessons use it to show what a TV weight does before adding TV to a transfer.

    Args:
        image: ``(1, 3, H, W)`` in ``[0, 1]`` (or anything :func:`load_image` reads).
        weight: the TV weight, >= 0 (for ``"squared"``, about the square of the blur radius
            in pixels).
        steps: L-BFGS iterations.
        kind: ``"squared"``, ``"l1"`` or ``"isotropic"``.

    Returns:
        The smoothed image, clamped to ``[0, 1]``.

    Example:
        >>> noisy = torch.rand(1, 3, 32, 32)
        >>> smooth = tv_denoise(noisy, weight=1.0)
        >>> bool(total_variation(smooth) < total_variation(noisy))
        True
    """
    if weight < 0:
        raise ValueError(f"weight={weight} is negative; a TV weight is 0 (off) or positive")
    target = load_image(image).detach()
    x = target.clone().requires_grad_(True)
    if weight == 0:
        return target.clone()
    optimizer = torch.optim.LBFGS([x], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = 0.5 * (x - target).pow(2).sum() + weight * total_variation(x, kind)
        loss.backward()
        return loss

    optimizer.step(closure)
    return x.detach().clamp(0, 1)


def reproduce_figure3(config: GatysConfig, **kwargs) -> list[tuple[str, Tensor]]:
    """Gatys et al.'s Fig. 3 (CVPR 2016): the Tübingen photo in the style of each painting.

    Panel A is the photo; each panel of :data:`FIGURE3` is :func:`transfer` with ``config``
    (its layers, size, steps, start image) and the panel's α/β as ``style_weight`` over
    ``content_weight``. The images come from :func:`stylelib.data.artwork`, which downloads
    what is missing: ask :func:`local_artworks` first to stay offline. ``kwargs`` go to
    :func:`transfer` (``progress=False`` by default).

    Returns:
        ``[(title, image), ...]``: panel A, then one per painting.
    """
    kwargs.setdefault("progress", False)
    photo = data.artwork(FIGURE3_CONTENT, size=config.size)
    panels = [("A: " + data.ARTWORKS[FIGURE3_CONTENT].title, photo)]
    for panel, key, ratio in FIGURE3:
        cell = replace(config, style_weight=config.content_weight / ratio)
        image = transfer(photo, data.artwork(key, size=config.size), cell, **kwargs).image
        panels.append((f"{panel}: {data.ARTWORKS[key].title}, α/β = {ratio:g}", image))
    return panels
