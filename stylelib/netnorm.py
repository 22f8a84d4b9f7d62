"""Network normalisation (Gatys et al. 2016, Sec. 2): every filter's mean activation is 1.

Gatys et al. "normalized the network by scaling the weights such that the mean activation
of each convolutional filter over images and positions is equal to one", which changes
nothing the network computes but the units of its features, channel by channel ("Such
re-scaling can be done for the VGG network without changing its output", Sec. 2): ReLU is
positively homogeneous
(``relu(x / s) = relu(x) / s`` for s > 0), and max and average pooling and zero padding
commute with a positive per-channel scale. So with s_l the mean rectified activation of the
filters of conv layer l (a vector over its output channels), the rescaled layer

    W'_l = W_l · s_{l-1}[in] / s_l[out],    b'_l = b_l / s_l[out]        (s_0 = 1)

gives every layer of the new network the old features divided by s_l, channel by channel,
conv and relu and pool outputs alike. The paper's loss weights (α/β = 10⁻³, the authors'
10³/N_l²) are numbers in those units; on un-normalised weights the same numbers weigh content
and style differently, by orders of magnitude between layers.

**Not only units: the losses, and so the best image, change too.** The scales differ from
channel to channel, and the losses sum over channels: the content loss weighs channel c's
squared error by 1/s_c², a Gram entry G_ij is divided by s_i s_j and its squared error in
E_l by (s_i s_j)². Normalising boosts the filters that fire weakly and damps those that fire
strongly, within every layer; the image that minimises α L_content + β L_style on the
normalised network is in general not the one that minimises it on the raw one, whatever α/β.

**Calibration set.** The paper averaged over ImageNet images; here, by default, the four
built-in photos (scikit-image's ``chelsea``, ``astronaut``, ``coffee``, ``rocket``) at a long
side of 224 px (ImageNet's training size), or every image of a folder of your own. The mean
is taken over the positions of each image, then over the images (each image counts once),
on the network as trained (max pooling): the scales belong to the weights, whichever pooling
a transfer then uses. A filter that (almost) never fires on the calibration set — mean below
``SILENT`` = 10⁻³ of its layer's median — is given its layer's median as scale instead of
being amplified a thousandfold or more: the paper's ImageNet average had no such filters, a
few photos can.

**Cache.** Scales are computed once per weights and kept in the weights cache folder as
``ARCH-scales-DIGEST.pt``, where DIGEST is the SHA-256 of the weights' tensors
(:func:`stylelib.weights.tensor_digest`); ``stylelib weights normalize`` computes them (for a
folder of your own with ``--calibration DIR``), ``stylelib weights status`` lists them. Random
weights are calibrated in memory only.

Example::

    >>> from stylelib import weights, netnorm
    >>> w = weights.load("vgg16", "random")
    >>> scales = netnorm.filter_scales(w, netnorm.calibration_images(size=48))
    >>> scales["conv1_1"].shape
    torch.Size([64])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .data import CONTENT_IMAGES, content_image
from .errors import WeightsError
from .files import atomic_write
from .images import IMAGE_EXTENSIONS, load_image
from .layers import build_features, layers
from .weights import VGGWeights, cache_dir, tensor_digest

SCALES_FORMAT = "stylelib-vgg-scales"
CALIBRATION_SIZE = 224  # long side of the calibration images: ImageNet's training size
SILENT = 1e-3  # a filter below this fraction of its layer's median mean activation is silent


@dataclass(frozen=True)
class Calibration:
    """The images the mean activations are measured on, and a name and digest for them."""

    images: tuple[Tensor, ...]  # each (1, 3, H, W) in [0, 1]
    description: str

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for image in self.images:
            h.update(str(tuple(image.shape)).encode())
            h.update(image.float().contiguous().numpy().tobytes())
        return h.hexdigest()


def calibration_images(
    folder: str | Path | None = None, size: int = CALIBRATION_SIZE
) -> Calibration:
    """The built-in photos (default) or every image file in ``folder``, long side ``size``."""
    if folder is None:
        images = tuple(content_image(name, size=size) for name in CONTENT_IMAGES)
        return Calibration(images, f"built-in photos {', '.join(CONTENT_IMAGES)} at {size} px")
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"calibration folder {folder} does not exist; give a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise WeightsError(
            f"calibration folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
            "add a few photos or leave --calibration out to use the built-in ones"
        )
    images = tuple(load_image(p, size=size) for p in files)
    return Calibration(images, f"{len(files)} images of {folder} at {size} px")


def conv_names(arch: str) -> list[str]:
    return [layer.name for layer in layers(arch) if layer.kind == "conv"]


@torch.no_grad()
def mean_activations(
    weights: VGGWeights, calibration: Calibration, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """Each conv layer's mean rectified activation per filter, ``{conv name: (C,) float64}``.

    The network as trained (max pooling, the weights' own input convention); per image the
    mean over positions, then the mean over images.
    """
    with torch.device("meta"):
        features = build_features(weights.arch, "max")
    features.load_state_dict({k: v.to(dtype) for k, v in weights.state.items()}, assign=True)
    mean = torch.tensor(weights.convention.mean, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(weights.convention.std, dtype=dtype).view(1, 3, 1, 1)
    names = {layer.index: layer.name for layer in layers(weights.arch) if layer.kind == "relu"}
    sums: dict[str, Tensor] = {}
    for image in calibration.images:
        x = (image.to(dtype) - mean) / std
        for i, module in enumerate(features):
            x = module(x)
            if i in names:
                per_image = x.mean(dim=(0, 2, 3), dtype=torch.float64)
                conv = names[i].replace("relu", "conv")
                sums[conv] = sums[conv] + per_image if conv in sums else per_image
    return {name: total / len(calibration.images) for name, total in sums.items()}


def filter_scales(
    weights: VGGWeights, calibration: Calibration, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """The per-filter scales s_l (float64): the mean activations, except for silent filters.

    A filter whose mean activation is below ``SILENT`` times its layer's median (0 included)
    barely fires on the calibration set; dividing by its mean would amplify it by up to 10⁸
    (measured on random weights), and on any other image it would then dominate every loss.
    It gets its layer's median as scale instead: the units of a typical filter of its layer.
    """
    means = mean_activations(weights, calibration, dtype)
    scales = {}
    for name, m in means.items():
        typical = m.median().clamp(min=torch.finfo(torch.float64).tiny)
        scales[name] = torch.where(m > SILENT * typical, m, typical)
    return scales


def rescale(state: dict[str, Tensor], arch: str, scales: dict[str, Tensor]) -> dict[str, Tensor]:
    """A new state dict with W' = W · s_in / s_out and b' = b / s_out for every conv.

    Only the convolutions present in ``state`` are rescaled (a truncated network is fine);
    the input is never modified. The factors are computed in float64 and applied in the dtype
    of ``state``.
    """
    out = dict(state)
    previous = None
    for layer in layers(arch):
        if layer.kind != "conv":
            continue
        w_key, b_key = f"{layer.index}.weight", f"{layer.index}.bias"
        s_out = scales[layer.name].double()
        if w_key in state:
            w, b = state[w_key], state[b_key]
            s_in = previous if previous is not None else torch.ones(w.shape[1], dtype=torch.float64)
            factor = s_in.view(1, -1, 1, 1) / s_out.view(-1, 1, 1, 1)  # small: C_out x C_in
            out[w_key] = w * factor.to(w.dtype)  # no float64 copy of 80 MB of weights
            out[b_key] = (b.double() / s_out).to(b.dtype)
        previous = s_out
    return out


# --- the cache -------------------------------------------------------------------------------

_memory: dict[tuple, dict[str, Tensor]] = {}


def scales_path(weights: VGGWeights, digest: str | None = None) -> Path:
    """Where the scales of ``weights`` are kept: ``ARCH-scales-DIGEST.pt`` in the cache."""
    digest = digest or tensor_digest(weights.state)
    return cache_dir() / f"{weights.arch}-scales-{digest[:16]}.pt"


def scales_for(
    weights: VGGWeights, calibration: Calibration | None = None, *, recompute: bool = False
) -> dict[str, Tensor]:
    """The scales of ``weights``: from memory, from the cache file, or computed (and cached).

    With ``calibration`` given (or ``recompute``), they are measured again and replace what
    was cached; otherwise whatever calibration computed them last is used.
    """
    fresh = recompute or calibration is not None
    if not fresh and weights.key in _memory:
        return _memory[weights.key]
    digest = None if weights.key[0] == "random" else tensor_digest(weights.state)
    path = scales_path(weights, digest) if digest else None
    scales = None if fresh or path is None else read_scales(path, weights.arch, digest)
    if scales is None:
        calibration = calibration or calibration_images()
        scales = filter_scales(weights, calibration)
        if path is not None:
            _write_scales(path, weights, digest, scales, calibration)
    _memory[weights.key] = scales
    return scales


def read_scales(path: Path, arch: str, digest: str | None = None) -> dict[str, Tensor] | None:
    """Scales from a cache file, or None if it is missing, invalid or for other weights."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    if not isinstance(obj, dict) or obj.get("format") != SCALES_FORMAT:
        return None
    if digest is not None and obj.get("weights_digest") != digest:
        return None
    scales = obj.get("scales")
    if not isinstance(scales, dict) or sorted(scales) != sorted(conv_names(arch)):
        return None
    if not all(isinstance(v, Tensor) and bool((v > 0).all()) for v in scales.values()):
        return None
    return scales


def describe_scales(path: Path) -> str | None:
    """One line about a cache file's scales (calibration, range), or None if there is none."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        values = torch.cat([v.flatten() for v in obj["scales"].values()])
        return (
            f"scales {values.min():.3g} .. {values.max():.3g} over {values.numel()} filters, "
            f"calibrated on {obj['calibration']}"
        )
    except Exception:
        return None


def describe_cached(weights: VGGWeights) -> str:
    """One line on the normalisation of ``weights``: by its authors, cached scales, or none."""
    if weights.normalized:
        return "normalised by its authors (mean activation 1)"
    return describe_scales(scales_path(weights)) or (
        "not normalised yet: `stylelib weights normalize` (or the first Gatys transfer) "
        "computes its scales"
    )


def _write_scales(
    path: Path,
    weights: VGGWeights,
    digest: str,
    scales: dict[str, Tensor],
    calibration: Calibration,
) -> None:
    payload = {
        "format": SCALES_FORMAT,
        "version": 1,
        "arch": weights.arch,
        "weights": weights.label,
        "weights_digest": digest,
        "calibration": calibration.description,
        "calibration_digest": calibration.digest,
        "scales": scales,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, overwrite=True) as f:  # stale scales are replaced
            torch.save(payload, f)
    except OSError:
        pass  # a read-only cache: the scales stay in memory for this process


def normalize(
    weights: VGGWeights, calibration: Calibration | None = None
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The normalised state dict of ``weights`` and its scales (already normalised: as is)."""
    if weights.normalized:
        return dict(weights.state), {}
    scales = scales_for(weights, calibration)
    return rescale(weights.state, weights.arch, scales), scales


__all__: Sequence[str] = [
    "Calibration",
    "calibration_images",
    "mean_activations",
    "filter_scales",
    "rescale",
    "scales_for",
    "normalize",
]
