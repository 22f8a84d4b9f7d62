"""Regions of one picture from several pictures: per-pixel compositing by region weights.

Spatial control in a feed-forward method is a blend of whole pictures: the network (or the
photo itself, for a region left unstyled) makes one picture y_r per region r, and each pixel
takes them in the proportions its region weights m_r say::

    out = Σ_r m_r · y_r,      m_r ≥ 0,  Σ_r m_r = 1 at every pixel

so a pixel inside one region (m_r = 1, the others 0) is exactly y_r, and only a soft edge
mixes. The weights are the normalised region masks of :func:`stylelib.masks.region_masks`;
:func:`composite` checks, it does not normalise (that rule lives in one place).

Feature-level methods need a partition instead (AdaIN's per-region statistics, Huang &
Belongie 2017, Sec. 7.3, take 0/1 masks that cover each position once):
:func:`hard_masks` turns soft weights into one at the features' size, each cell going to the
region that holds the most of it.

Example:
    >>> import torch
    >>> red, photo = torch.zeros(1, 3, 2, 4), torch.ones(1, 3, 2, 4)
    >>> left = torch.tensor([[1.0, 1.0, 0.5, 0.0]]).expand(2, 4).reshape(1, 1, 2, 4)
    >>> composite([red, photo], [left, 1 - left])[0, 0, 0].tolist()
    [0.0, 0.0, 0.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

SUM_TOLERANCE = 1e-4  # Σ_r m_r may miss 1 by this much (float32 rounding of a normalisation)


def check_weights(weights: Sequence[Tensor], size: tuple[int, int] | None = None) -> list[Tensor]:
    """Region weights as ``(B or 1, 1, H, W)`` float tensors, refused in one line unless each
    lies in [0, 1], all share one size (``size`` where given) and they sum to 1 at every pixel.
    """
    weights = list(weights)
    if not weights:
        raise ValueError("no region weights: give one mask per region")
    out = []
    for i, m in enumerate(weights):
        if not isinstance(m, Tensor) or m.dim() != 4 or m.shape[1] != 1:
            got = tuple(m.shape) if isinstance(m, Tensor) else type(m).__name__
            raise ValueError(f"region weight {i} must be a tensor (B, 1, H, W), got {got}")
        if not m.is_floating_point():
            m = m.float()
        if not bool(((m >= 0) & (m <= 1)).all()):
            raise ValueError(f"region weight {i} holds values outside [0, 1] (or NaN)")
        out.append(m)
    sizes = {tuple(m.shape[-2:]) for m in out} | ({tuple(size)} if size is not None else set())
    if len(sizes) > 1:
        raise ValueError(f"region weights of different sizes {sorted(sizes)}; give them one size")
    error = float((sum(out) - 1).abs().max())
    if error > SUM_TOLERANCE:
        raise ValueError(
            f"region weights must sum to 1 at every pixel (they miss it by up to {error:.3g}); "
            "normalise them with stylelib.masks.region_masks"
        )
    return out


def composite(outputs: Sequence[Tensor], weights: Sequence[Tensor]) -> Tensor:
    """Σ_r m_r · y_r: each pixel from the pictures in its regions' proportions.

    Args:
        outputs: R pictures ``(B, 3, H, W)`` (any float values), one per region.
        weights: R region weights ``(B or 1, 1, H, W)`` in [0, 1] that sum to 1 at every
            pixel (:func:`stylelib.masks.region_masks`).

    Returns:
        ``(B, 3, H, W)`` in the outputs' dtype. Where one weight is 1, the pixel is exactly
        that picture's (the others are multiplied by 0 and added).

    Example:
        >>> y = torch.rand(1, 3, 4, 4)
        >>> torch.equal(composite([y, torch.zeros_like(y)], [torch.ones(1, 1, 4, 4),
        ...     torch.zeros(1, 1, 4, 4)]), y)
        True
    """
    outputs = list(outputs)
    if len(outputs) != len(weights):
        raise ValueError(f"{len(outputs)} pictures for {len(weights)} regions; give one each")
    shapes = {tuple(y.shape) for y in outputs}
    if len(shapes) != 1 or len(next(iter(shapes))) != 4:
        raise ValueError(f"the pictures must share one shape (B, 3, H, W), got {sorted(shapes)}")
    weights = check_weights(weights, outputs[0].shape[-2:])
    out = outputs[0] * weights[0].to(outputs[0])
    for y, m in zip(outputs[1:], weights[1:], strict=True):
        out = out + y * m.to(y)
    return out


def hard_masks(weights: Sequence[Tensor], size: tuple[int, int]) -> list[Tensor]:
    """Soft region weights -> a partition at ``size``: 0/1 masks, each cell in one region.

    Each weight is averaged over the cell of the full-size picture that a position at ``size``
    covers (area resampling, :func:`torch.nn.functional.adaptive_avg_pool2d`), and the cell
    goes to the region with the largest average, the first one on a tie. A hard mask stays
    itself wherever a cell lies wholly inside one region; a boundary moves by at most half a
    cell. This is what per-region statistics need (:func:`stylelib.adain.layer.target`).

    Args:
        weights: R region weights ``(B or 1, 1, H, W)`` summing to 1 (:func:`check_weights`).
        size: ``(h, w)`` of the result, e.g. a feature map's.

    Returns:
        R masks ``(B or 1, 1, h, w)`` of 0.0 and 1.0 that sum to exactly 1 everywhere.

    Example:
        >>> left = torch.tensor([[1.0, 0.9, 0.2, 0.0]]).reshape(1, 1, 1, 4)
        >>> [m.flatten().tolist() for m in hard_masks([left, 1 - left], (1, 2))]
        [[1.0, 0.0], [0.0, 1.0]]
    """
    weights = check_weights(weights)
    batch = max(m.shape[0] for m in weights)
    stacked = torch.cat([m.expand(batch, -1, -1, -1) for m in weights], dim=1)
    pooled = F.adaptive_avg_pool2d(stacked.float(), tuple(size))
    chosen = F.one_hot(pooled.argmax(dim=1), len(weights)).permute(0, 3, 1, 2).float()
    return [chosen[:, r : r + 1] for r in range(len(weights))]


def composite_regions(
    render: Callable[[Hashable], Tensor],
    photo: Tensor,
    keys: Sequence[Hashable | None],
    weights: Sequence[Tensor],
) -> Tensor:
    """Σ_r m_r · y_r where y_r = ``render(keys[r])``, or the photo itself where a key is None.

    Regions with the same key share one picture: ``render`` runs once per distinct key (a
    region given no weight anywhere costs nothing), and their weights add up. This is what
    makes a network with one style per region cost one pass per *style*, not per region.

    Args:
        render: key -> ``(B, 3, H, W)``, e.g. the network's output in that style.
        photo: ``(B, 3, H, W)``, the picture for regions keyed None (kept as it is).
        keys: one hashable key per region; None keeps the photo there.
        weights: one weight per region, as :func:`composite` takes them.

    Example:
        >>> photo = torch.zeros(1, 3, 2, 2)
        >>> half = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
        >>> calls = []
        >>> out = composite_regions(lambda k: calls.append(k) or photo + k, photo,
        ...                         [1.0, None, 1.0], [half / 2, 1 - half, half / 2])
        >>> calls, out[0, 0].tolist()
        ([1.0], [[1.0, 0.0], [1.0, 0.0]])
    """
    if len(keys) != len(weights):
        raise ValueError(f"{len(keys)} region keys for {len(weights)} region weights")
    weights = check_weights(weights, photo.shape[-2:])
    merged: dict[Hashable | None, Tensor] = {}
    for key, m in zip(keys, weights, strict=True):
        merged[key] = merged[key] + m if key in merged else m
    used = {key: m for key, m in merged.items() if bool((m > 0).any())}
    pictures = [photo if key is None else render(key) for key in used]
    return composite(pictures, list(used.values()))
