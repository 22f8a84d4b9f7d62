"""Spatial control: guided Gram matrices (Gatys, Ecker, Bethge, Hertzmann, Shechtman 2017).

Each region r of the output has a mask (:mod:`stylelib.masks`) and its own style image, or
none (content only there). The mask is carried to every style layer l as a *guide* T_r^l,
one weight per position of that layer, and region r's style is compared through its guided
Gram matrix, the Gram of the features weighted by the guide:

    G_r^l = (F^l ∘ T̂_r^l)(F^l ∘ T̂_r^l)ᵀ,   T̂ = T / sqrt(mean_k T_k²)

so that G_r^l = Σ_k F_ik F_jk T_k² / mean_k(T_k²): a weighted average of F Fᵀ over the
region, counted over all M positions of the layer. It is then normalised and compared
exactly like an ordinary Gram (:func:`stylelib.losses.gram_matrix`,
:func:`stylelib.losses.layer_style_loss`): a guide of ones gives T̂ = 1 and so the unguided
Gram and loss *exactly*, in either normalisation; a region covering a quarter of the image
gives a Gram of the same scale as the whole image's, so it compares directly with the
(whole) style image's Gram. The style image's own Gram is the ordinary one of the whole style
image (the authors' code can guide it too, ``'all'`` being its whole-image guide).

The authors' code (github.com/leongatys/NeuralImageSynthesis, ``LossLayers.lua``
``GramMSEGuided`` and ``ExampleNotebooks/SpatialControl.ipynb``) does exactly this with
their Gram F Fᵀ / M and a mean-squared error: the features times the guide, the guide
divided by ``sqrt(diag(gram_matrix(guides)))``, i.e. by the root mean square over
positions, and a region whose guide is all zero at a layer skipped at that layer. Its style
weight per region is ``gw = [1./n_ch]*n_ch``: equal weights summing to 1, which
:func:`region_style_loss` takes as its default (over the regions that have a style).

**From the mask to each layer** (``guide_mode``, the authors' ``mode`` of
``get_fm_guides``: "simple|all|inside, downsampling|all neurons that see region| neurons that
see only region"):

- ``"simple"``: the mask averaged over each position's footprint (area downsampling to the
  layer's size). The authors zoom it with ``scipy.ndimage.zoom`` (a spline) instead; both
  keep soft values.
- ``"all"``: 1 at every position whose receptive field holds any pixel of the region.
- ``"inside"``: 1 at every position whose receptive field holds *only* pixels of the region
  (padding aside): the guides are eroded by the receptive field, so no style statistic of a
  region reads a pixel of another. Deep layers of a small image may have no such position;
  that layer is then skipped for the region.

For ``"all"`` and ``"inside"`` the mask is first made binary at 0.5 (the authors' ``th =
.5``). The authors find the positions by probing the network with noise placed inside (or
outside) the region and keeping the positions whose response varies; here the receptive
field is propagated exactly, layer by layer (a 3 × 3 convolution with padding 1 reaches a
position's 3 × 3 neighbourhood, a 2 × 2 pooling its 2 × 2 block), which is what the probe
measures unless a ReLU happens to silence a position for every probe. The authors' optional
dilation or erosion of the guides by k more positions is not offered here.

Example::

    >>> import torch
    >>> from stylelib.losses import gram_matrix
    >>> f = torch.rand(1, 4, 8, 8)
    >>> torch.allclose(guided_gram(f, torch.ones(1, 1, 8, 8)), gram_matrix(f))
    True
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib.config import Normalization
from stylelib.gatys.config import GuideMode
from stylelib.layers import layer_index, layers
from stylelib.losses import gram_matrix, layer_style_loss

GUIDE_MODES: tuple[str, ...] = typing.get_args(GuideMode)
THRESHOLD = 0.5  # masks are made binary at this value for "all" and "inside" (authors' th)


def layer_guides(
    mask: Tensor, arch: str, names: Sequence[str], mode: GuideMode = "simple"
) -> dict[str, Tensor]:
    """A region's mask carried to each named layer of VGG: one guide per layer.

    Args:
        mask: ``(1, 1, H, W)`` in [0, 1], at the size of the image the network sees.
        arch: ``"vgg16"`` or ``"vgg19"`` (only the layer sequence matters, not the weights).
        names: layer names, e.g. the style layers.
        mode: ``"simple"``, ``"all"`` or ``"inside"`` (see the module docstring).

    Returns:
        ``{name: (1, 1, h, w)}``, each at that layer's size, not yet normalised (an all-zero
        guide means the region has no position at that layer).

    Example:
        >>> m = torch.zeros(1, 1, 32, 32); m[..., :16] = 1  # the left half
        >>> g = layer_guides(m, "vgg19", ["relu1_1", "relu2_1"], "inside")
        >>> g["relu1_1"][0, 0, 0, 14:17].tolist(), g["relu2_1"].shape
        ([1.0, 0.0, 0.0], torch.Size([1, 1, 16, 16]))
    """
    if mode not in GUIDE_MODES:
        raise ValueError(f"guide_mode must be one of {GUIDE_MODES}, got {mode!r}")
    if not isinstance(mask, Tensor) or mask.dim() != 4 or mask.shape[:2] != (1, 1):
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a tensor (1, 1, H, W), got {got}")
    wanted = {layer_index(n, arch): n for n in names}
    binary = (mask >= THRESHOLD).to(mask.dtype)
    # "all" reaches from the region, "inside" is what the rest of the image cannot reach.
    reach = binary if mode == "all" else 1 - binary
    out: dict[str, Tensor] = {}
    for layer in layers(arch)[: max(wanted) + 1]:
        if layer.kind == "conv":
            reach = F.max_pool2d(reach, 3, stride=1, padding=1)  # padding is never the image
        elif layer.kind == "pool":
            reach = F.max_pool2d(reach, 2, stride=2)
        if layer.index in wanted:
            if mode == "simple":
                out[layer.name] = F.adaptive_avg_pool2d(mask, reach.shape[-2:])
            else:
                out[layer.name] = reach.clone() if mode == "all" else 1 - reach
    return {n: out[n] for n in names}


def normalize_guide(guide: Tensor) -> Tensor:
    """T̂ = T / sqrt(mean T²) over the positions: a guide of ones stays ones.

    The authors' ``guides / np.sqrt(np.diag(gram_matrix(guides)))`` with their Gram ÷ M.
    An all-zero guide is returned as it is (its region is skipped at that layer).
    """
    rms = guide.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
    return guide / torch.where(rms > 0, rms, torch.ones_like(rms))


def guided_gram(features: Tensor, guide: Tensor, normalization: Normalization = "gatys") -> Tensor:
    """G_r = (F ∘ T̂_r)(F ∘ T̂_r)ᵀ, normalised as :func:`stylelib.losses.gram_matrix`.

    Args:
        features: ``(B, C, h, w)`` one layer's features.
        guide: ``(1 or B, 1, h, w)`` the region's guide at that layer (normalised here).
        normalization: ``"gatys"`` (no division) or ``"johnson"`` (÷ C h w).

    Returns:
        ``(B, C, C)``; equal to ``gram_matrix(features)`` for a guide of ones.
    """
    return gram_matrix(features * normalize_guide(guide), normalization)


def guided_layer_loss(
    features: Tensor, guide: Tensor, target_gram: Tensor, normalization: Normalization = "gatys"
) -> Tensor:
    """One layer's style loss of one region: E_l,r, the ordinary E_l (Gatys et al. 2016,
    Eq. 4, or Johnson's) with the guided Gram in place of the Gram.

    ``target_gram`` is the region's style Gram for an image of this layer's h·w positions
    (:func:`stylelib.losses.style_gram`). With ``"gatys"`` the 1/(4 N² M²) keeps the
    whole layer's M, which the normalised guide makes consistent.
    """
    return layer_style_loss(features * normalize_guide(guide), target_gram, normalization)


def region_style_loss(
    features: Mapping[str, Tensor],
    guides: Mapping[str, Tensor],
    grams: Mapping[str, Tensor],
    layer_weights: Mapping[str, float],
    normalization: Normalization = "gatys",
) -> Tensor:
    """Σ_l w_l E_l,r over the layers of ``grams`` where region r's guide is not all zero.

    The style loss of one region against one style: what :mod:`stylelib.gatys.objective`
    sums over regions (each times 1/K), and what a test or a lesson evaluates to ask "is
    this region closer to its own style than to the other?".
    """
    terms = [
        layer_weights[n] * guided_layer_loss(features[n], guides[n], g, normalization)
        for n, g in grams.items()
        if bool(guides[n].amax() > 0)
    ]
    if not terms:
        return next(iter(features.values())).new_zeros(())
    return torch.stack(terms).sum()
