"""Styles by region with a feed-forward network: one style in the sky, another (or the photo
itself) on the ground.

A transform network stylises the whole picture at once, and its instance normalisation
takes statistics over the whole picture, so a region cannot be stylised alone without
changing what the network sees. What can be done exactly is to blend whole pictures: the
network's output in each region's style, or the photo for a region kept as it is, each
pixel taking them in its normalised region weights' proportions (:mod:`stylelib.composite`)::

    out = Σ_r m_r · y_r,   y_r = net(photo, style_r), or the photo where style_r is None

A pixel wholly inside one region is exactly that style's output (or the photo's pixel); a
soft mask edge cross-fades. Regions that share a style share one forward pass, so the cost
is one pass per distinct style, not per region (and none for the photo).

For a multi-style network (:class:`~stylelib.johnson.conditional.MultiStyleNet`) a region's
style is an index or a mix (:func:`~stylelib.johnson.conditional.style_vector`: ``7``,
``"3:0.5,12:0.5"``); for a one-style :class:`~stylelib.johnson.network.TransformerNet` it is
``0``, the network's only style. ``None`` keeps the photo.

Example:
    >>> import torch
    >>> from stylelib.johnson.conditional import MultiStyleNet, stylize_styles
    >>> from stylelib.masks import region_masks
    >>> net, photo = MultiStyleNet(3, layout="magenta-android").eval(), torch.rand(1, 3, 8, 8)
    >>> left, rest = region_masks(["left", "rest"], (8, 8))
    >>> out = stylize_regions(net, photo, [left, rest], [2, None])
    >>> torch.equal(out[..., :4], stylize_styles(net, photo, 2)[..., :4])
    True
    >>> torch.equal(out[..., 4:], photo[..., 4:])
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from stylelib.composite import composite_regions
from stylelib.images import check_image
from stylelib.johnson.conditional import (
    MultiStyleNet,
    StyleWeightsError,
    style_vector,
    stylize_styles,
)
from stylelib.johnson.network import stylize_image


def region_keys(net, styles: Sequence[object]) -> list[tuple[float, ...] | int | None]:
    """Each region's style as a key that equal styles share, checked against ``net``.

    A multi-style network's style becomes its normalised weight vector (so ``3``, ``"3"``
    and ``"3:2"`` are one style); a one-style network's is ``0``. None stays None (the photo).
    Refused in one line: an index out of range, a bad mix, a style on a one-style network.
    """
    keys: list[tuple[float, ...] | int | None] = []
    for i, style in enumerate(styles):
        if style is None:
            keys.append(None)
        elif isinstance(net, MultiStyleNet):
            keys.append(tuple(style_vector(style, net.num_styles).tolist()))
        elif style in (0, "0"):
            keys.append(0)
        else:
            raise StyleWeightsError(
                f"region {i + 1} asks for style {style!r}, but a one-style network has only "
                "its own style (0); give 0 to stylise the region or None to keep the photo"
            )
    return keys


@torch.no_grad()
def stylize_regions(
    net, image: Tensor, masks: Sequence[Tensor], styles: Sequence[object]
) -> Tensor:
    """The photo with each region in its own style (or left as it is), blended per pixel.

    Args:
        net: a :class:`~stylelib.johnson.network.TransformerNet` or a
            :class:`~stylelib.johnson.conditional.MultiStyleNet`, in eval mode.
        image: ``(B, 3, H, W)`` in [0, 1].
        masks: one weight ``(B or 1, 1, H, W)`` per region, summing to 1 at every pixel
            (:func:`stylelib.masks.region_masks` makes them from files and built-ins).
        styles: one style per region (see the module docstring); None keeps the photo.

    Returns:
        ``(B, 3, H, W)`` float32 in [0, 1]: Σ_r m_r · y_r, one forward pass per distinct style.
    """
    check_image(image, "the image to stylize", min_side=1)
    if len(styles) != len(masks):
        raise ValueError(f"{len(styles)} styles for {len(masks)} masks; give one per region")
    keys = region_keys(net, styles)
    photo = image.to(next(net.parameters()).device, torch.float32)  # where the outputs are

    def render(key) -> Tensor:
        if isinstance(net, MultiStyleNet):
            return stylize_styles(net, photo, torch.tensor(key))
        return stylize_image(net, photo)

    return composite_regions(render, photo, keys, masks)
