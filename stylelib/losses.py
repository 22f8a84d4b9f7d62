"""Style-transfer losses as pure functions: Gram matrix, content, style, total variation,
and the temporal loss of video style transfer.

Notation (Gatys et al. 2016, Sec. 2): a layer's features are a tensor ``(B, C, H, W)``;
N = C is the number of filters, M = H·W the number of positions, and F is the ``(B, N, M)``
reshape, so ``F[b, i, k]`` is filter i at position k of image b.

Two normalisations are offered, because loss weights only mean something together with one:

- ``"gatys"``: Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional Neural
  Networks", CVPR 2016, Eqs. 1-7 (arXiv:1508.06576, 2015). Unnormalised Gram, ½-sum content
  loss, 1/(4 N² M²) per style layer.
- ``"johnson"``: Johnson, Alahi, Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
  Super-Resolution", ECCV 2016, Sec. 3.2-3.3. Everything divided by C·H·W.

Every loss returns a scalar: the per-image value, then the mean over the batch, so that with
B = 1 it is exactly the paper's formula. No function modifies its inputs.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping

import torch
from torch import Tensor

from .config import Normalization, TVKind, equal_layer_weights

NORMALIZATIONS: tuple[str, ...] = typing.get_args(Normalization)
TV_KINDS: tuple[str, ...] = typing.get_args(TVKind)
TV_EPS = 1e-8  # keeps the isotropic TV differentiable where both differences are zero


def _check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}; "
            "use 'gatys' for the CVPR 2016 paper or 'johnson' for the ECCV 2016 paper."
        )


def _check_4d(tensor: Tensor, name: str) -> None:
    """A floating-point ``(B, C, H, W)`` tensor: integer arithmetic would wrap around (uint8
    squares modulo 256) or truncate, silently, and give a plausible-looking wrong loss."""
    if not isinstance(tensor, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (B, C, H, W), got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor, got dtype {tensor.dtype}; convert it "
            "with .float() / 255 for an image of bytes (uint8), .float() otherwise"
        )
    if tensor.dim() != 4:
        raise ValueError(
            f"{name} must be a 4-D tensor (B, C, H, W), got shape {tuple(tensor.shape)}; "
            "add a batch dimension with .unsqueeze(0) if you have a single (C, H, W) map."
        )


def _check_batch_target(features: Tensor, target: Tensor, expected_rest: tuple, what: str) -> None:
    """A target must have batch 1 (broadcast) or B, and ``expected_rest`` after that."""
    if target.shape[0] not in (1, features.shape[0]) or tuple(target.shape[1:]) != expected_rest:
        batch = features.shape[0]
        raise ValueError(
            f"{what} must have shape (1 or {batch}, {', '.join(map(str, expected_rest))}) to "
            f"match features of shape {tuple(features.shape)}, got {tuple(target.shape)}; "
            "compute the target from the same layer of the network."
        )


def gram_matrix(features: Tensor, normalization: Normalization = "gatys") -> Tensor:
    """Gram matrix of each image's feature maps: the style representation.

    ``"gatys"`` (Gatys et al. 2016, Eq. 3): G_ij = Σ_k F_ik F_jk, i.e. G = F Fᵀ, no division.
    ``"johnson"`` (Johnson et al. 2016, Sec. 3.2): G = F Fᵀ / (C·H·W).

    Args:
        features: ``(B, C, H, W)`` feature maps of one layer.
        normalization: ``"gatys"`` or ``"johnson"``.

    Returns:
        ``(B, C, C)`` symmetric Gram matrices.

    Example:
        >>> gram_matrix(torch.ones(1, 2, 3, 3))  # every entry is H·W = 9
        tensor([[[9., 9.],
                 [9., 9.]]])
    """
    _check_normalization(normalization)
    _check_4d(features, "features")
    b, c, h, w = features.shape
    gram = _Gram.apply(features.reshape(b, c, h * w))
    return gram / (c * h * w) if normalization == "johnson" else gram


class _Gram(torch.autograd.Function):
    """G = F Fᵀ with one matrix product in the backward pass instead of autograd's two.

    dL/dF = (dL/dG + dL/dGᵀ) F. Autograd differentiates ``bmm(f, fᵀ)`` as two products, one
    per factor, each writing a C×M tensor, and adds them; at relu1_1 of a 512 px image each is
    45 MB and the pair the largest cost of a Gatys step outside VGG itself.
    """

    @staticmethod
    def forward(ctx, f: Tensor) -> Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f, f.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (f,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), f)


def style_gram(features: Tensor, positions: int, normalization: Normalization = "gatys") -> Tensor:
    """A style image's Gram matrix, made comparable with an image of ``positions`` = H·W.

    Gatys' unnormalised Gram grows with the number of positions M, so the Gram of a style
    image of another size (or at a style scale) is multiplied by M_x / M_a; Johnson's is per
    position already. Both methods build their style targets with it.

    Example:
        >>> style_gram(torch.ones(1, 1, 2, 2), positions=16)  # 4 positions, counted as 16
        tensor([[[16.]]])
    """
    gram = gram_matrix(features, normalization)
    if normalization == "gatys":
        gram = gram * (positions / (features.shape[2] * features.shape[3]))
    return gram


def content_loss(
    features: Tensor, target: Tensor, normalization: Normalization = "gatys"
) -> Tensor:
    """Content (feature reconstruction) loss between features F and target features P.

    ``"gatys"`` (Gatys et al. 2016, Eq. 1): L_content = ½ Σ_ij (F_ij − P_ij)².
    ``"johnson"`` (Johnson et al. 2016, Sec. 3.2): ‖F − P‖²₂ / (C·H·W).

    Args:
        features: ``(B, C, H, W)`` features of the image being generated.
        target: ``(B, C, H, W)``, or ``(1, C, H, W)`` broadcast to every image.
        normalization: ``"gatys"`` or ``"johnson"``.

    Returns:
        Scalar: the per-image loss, averaged over the batch.

    Example:
        >>> content_loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2))  # ½ · 8 · 1²
        tensor(4.)
    """
    _check_normalization(normalization)
    _check_4d(features, "features")
    _check_4d(target, "target")
    _check_batch_target(features, target, tuple(features.shape[1:]), "target")
    per_image = (features - target).pow(2).flatten(1).sum(dim=1)
    _, c, h, w = features.shape
    scale = 0.5 if normalization == "gatys" else 1.0 / (c * h * w)
    return (scale * per_image).mean()


def layer_style_loss(
    features: Tensor, target_gram: Tensor, normalization: Normalization = "gatys"
) -> Tensor:
    """Style loss of one layer: distance between the Gram of ``features`` and a target Gram A.

    ``"gatys"`` (Gatys et al. 2016, Eq. 4): E_l = 1/(4 N² M²) Σ_ij (G_ij − A_ij)², with
    G = gram_matrix(features, "gatys") and M = H·W the positions of ``features``. A must be the
    Gram of features with the same M; a style image of another size gives a Gram that grows with
    its own M_a, so the caller rescales it by M_x / M_a first.
    ``"johnson"`` (Johnson et al. 2016, Sec. 3.2): ‖G − A‖²_F with Johnson-normalised Grams
    (already divided by C·H·W, so style images of any size compare directly).

    Args:
        features: ``(B, C, H, W)`` features of the image being generated.
        target_gram: ``(B, C, C)``, or ``(1, C, C)`` broadcast to every image, computed with
            the same ``normalization``.
        normalization: ``"gatys"`` or ``"johnson"``.

    Returns:
        Scalar: the per-image loss, averaged over the batch.

    Example:
        >>> f = torch.ones(1, 2, 2, 2)
        >>> layer_style_loss(f, gram_matrix(f))
        tensor(0.)
    """
    _check_normalization(normalization)
    _check_4d(features, "features")
    c = features.shape[1]
    if not isinstance(target_gram, Tensor) or not target_gram.is_floating_point():
        raise ValueError(
            "target_gram must be a floating-point tensor (B, C, C), got "
            f"{getattr(target_gram, 'dtype', type(target_gram).__name__)}; build it with "
            "gram_matrix(style_features) from float features"
        )
    if target_gram.dim() != 3:
        raise ValueError(
            f"target_gram must be a 3-D tensor (B, C, C), got shape {tuple(target_gram.shape)}; "
            "build it with gram_matrix(style_features)."
        )
    _check_batch_target(features, target_gram, (c, c), "target_gram")
    gram = gram_matrix(features, normalization)
    per_image = (gram - target_gram).pow(2).sum(dim=(1, 2))
    if normalization == "gatys":
        m = features.shape[2] * features.shape[3]
        per_image = per_image / (4.0 * c**2 * m**2)
    return per_image.mean()


def style_loss(
    features: Mapping[str, Tensor],
    target_grams: Mapping[str, Tensor],
    layer_weights: Mapping[str, float] | None = None,
    normalization: Normalization = "gatys",
) -> Tensor:
    """Weighted sum of per-layer style losses over the layers named in ``target_grams``.

    L_style = Σ_l w_l E_l (Gatys et al. 2016, Eq. 5; Johnson et al. 2016, Sec. 3.2), with E_l
    from :func:`layer_style_loss`. Default weights: ``"gatys"`` w_l = 1/L (the paper's 1/5 for
    five layers); ``"johnson"`` w_l = 1, the paper's plain sum.

    Args:
        features: layer name → ``(B, C, H, W)`` features; extra layers are ignored.
        target_grams: layer name → ``(1 or B, C, C)`` target Gram; decides which layers count.
        layer_weights: layer name → w_l for every layer of ``target_grams``, or None.
        normalization: ``"gatys"`` or ``"johnson"``.

    Returns:
        Scalar loss.

    Example:
        >>> f = {"relu1_1": torch.ones(1, 2, 2, 2)}
        >>> style_loss(f, {"relu1_1": torch.zeros(1, 2, 2)})  # 1 · 4 · 4² / (4 · 2² · 4²)
        tensor(0.2500)
    """
    _check_normalization(normalization)
    layers = list(target_grams)
    if not layers:
        raise ValueError("target_grams is empty; give at least one layer name → Gram matrix.")
    missing = [name for name in layers if name not in features]
    if missing:
        raise ValueError(
            f"features lack the style layers {missing} (have {sorted(features)}); "
            "extract every layer named in target_grams."
        )
    if layer_weights is None:
        layer_weights = dict(
            zip(layers, equal_layer_weights(len(layers), normalization), strict=True)
        )
    unweighted = [name for name in layers if name not in layer_weights]
    extra = [name for name in layer_weights if name not in target_grams]
    if unweighted or extra:
        raise ValueError(
            f"layer_weights must name exactly the layers of target_grams {layers}: missing "
            f"{unweighted}, unexpected {extra}; give one weight per style layer."
        )
    terms = [
        layer_weights[name] * layer_style_loss(features[name], target_grams[name], normalization)
        for name in layers
    ]
    return torch.stack(terms).sum()


def total_variation(image: Tensor, kind: TVKind = "squared") -> Tensor:
    """Total variation: a smoothness prior on an image, with Δ_h, Δ_w its neighbour differences.

    With Δ_h = x_{i+1,j} − x_{i,j} and Δ_w = x_{i,j+1} − x_{i,j}:

    - ``"squared"``: Σ Δ_h² + Σ Δ_w², anisotropic; the β = 2 TV of Mahendran & Vedaldi,
      "Understanding Deep Image Representations by Inverting Them", CVPR 2015 (each difference
      summed wherever it exists), and what Johnson et al.'s released code uses.
    - ``"l1"``: Σ |Δ_h| + Σ |Δ_w|, the anisotropic L1 variation.
    - ``"isotropic"``: Σ sqrt(Δ_h² + Δ_w² + 1e-8) over the (H−1)×(W−1) grid where both
      differences exist; Mahendran & Vedaldi with β = 1. The eps (``TV_EPS``) keeps the
      gradient finite where the image is flat.

    Each sum runs over channels and pixels of one image; the result is the batch mean.

    Args:
        image: ``(B, C, H, W)`` image (or feature maps).
        kind: ``"squared"``, ``"l1"`` or ``"isotropic"``.

    Returns:
        Scalar loss.

    Example:
        >>> ramp = torch.arange(3.0).expand(1, 1, 2, 3)  # steps of 1 along W
        >>> total_variation(ramp), total_variation(ramp, "l1")
        (tensor(4.), tensor(4.))
    """
    if kind not in TV_KINDS:
        raise ValueError(
            f"kind must be one of {TV_KINDS}, got {kind!r}; 'squared' is the usual choice."
        )
    _check_4d(image, "image")
    d_h = image[:, :, 1:, :] - image[:, :, :-1, :]
    d_w = image[:, :, :, 1:] - image[:, :, :, :-1]
    if kind == "squared":
        per_image = d_h.pow(2).flatten(1).sum(1) + d_w.pow(2).flatten(1).sum(1)
    elif kind == "l1":
        per_image = d_h.abs().flatten(1).sum(1) + d_w.abs().flatten(1).sum(1)
    else:
        grid = d_h[:, :, :, :-1].pow(2) + d_w[:, :, :-1, :].pow(2)
        per_image = (grid + TV_EPS).sqrt().flatten(1).sum(1)
    return per_image.mean()


def temporal_loss(x: Tensor, warped: Tensor, mask: Tensor) -> Tensor:
    """Short-term temporal loss of video style transfer: L = 1/D Σ_k c_k (x_k − ω_k)².

    Ruder, Dosovitskiy, Brox, "Artistic style transfer for videos", arXiv 1604.08610, 2016,
    Sec. 3.1: x is the frame being generated, ω the previous stylised frame warped onto it
    along the optical flow, c the per-pixel weight (1 where the flow is reliable, 0 in
    disoccluded regions and on motion boundaries: :func:`stylelib.flow.consistency_mask`),
    D = C·H·W the number of values. The authors' code computes exactly this (an
    ``nn.MSECriterion`` on √c·x against √c·ω, which divides by every element, masked or
    not) on images in Caffe's units (×256), so its weight 1e3 is 1e3 · 256² on the [0, 1]
    images of this library.

    Args:
        x: ``(B, C, H, W)`` the image being generated.
        warped: ``(B, C, H, W)`` or ``(1, C, H, W)``: the previous output, warped.
        mask: ``(B or 1, 1 or C, H, W)`` weights c in [0, 1].

    Returns:
        Scalar: the per-image loss, averaged over the batch.

    Example:
        >>> x, w = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
        >>> half = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
        >>> temporal_loss(x, w, half)  # 6 of 12 values count, each 1², divided by all 12
        tensor(0.5000)
    """
    _check_4d(x, "x")
    _check_4d(warped, "warped")
    _check_4d(mask, "mask")
    b, c, h, w = x.shape
    for name, t, channels in (("warped", warped, (c,)), ("mask", mask, (1, c))):
        if t.shape[0] not in (1, b) or t.shape[1] not in channels or t.shape[2:] != (h, w):
            raise ValueError(
                f"{name} must have shape (1 or {b}, {' or '.join(map(str, channels))}, {h}, "
                f"{w}) to go with x of shape {tuple(x.shape)}, got {tuple(t.shape)}; compute "
                "it at the frame's size"
            )
    per_image = (mask * (x - warped).pow(2)).flatten(1).sum(1)
    return (per_image / (c * h * w)).mean()


def total_loss(
    content: Tensor,
    style: Tensor,
    *,
    alpha: float,
    beta: float,
    tv: Tensor | None = None,
    tv_weight: float = 0.0,
) -> Tensor:
    """Weighted total loss: L = α L_content + β L_style (+ tv_weight · TV).

    Gatys et al. 2016, Eq. 7 (CVPR 2016 Fig. 3 uses α/β from 5e-4 to 5e-3, the 2015 preprint's
    Fig. 2 1e-3 and 1e-4, each with the paper's own normalisation);
    the TV term is Johnson et al. 2016, Sec. 3.3.

    Args:
        content: scalar content loss.
        style: scalar style loss.
        alpha: content weight α.
        beta: style weight β.
        tv: scalar total variation, or None.
        tv_weight: weight of ``tv``; must be 0 when ``tv`` is None.

    Returns:
        Scalar loss.

    Example:
        >>> total_loss(torch.tensor(2.0), torch.tensor(3.0), alpha=1.0, beta=10.0)
        tensor(32.)
    """
    if tv is None and tv_weight != 0.0:
        raise ValueError(
            f"tv_weight is {tv_weight} but no tv was given; pass tv=total_variation(image)."
        )
    loss = alpha * content + beta * style
    return loss if tv is None else loss + tv_weight * tv
