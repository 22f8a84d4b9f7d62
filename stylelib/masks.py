"""Region masks: which pixels of the output image each style (or the photo alone) governs.

A mask is a float32 tensor ``(1, 1, H, W)`` with values in [0, 1]: 1 where the region is,
0 where it is not, in between on a soft edge. The methods use masks for spatial control:
one style in the sky, another on the ground, the photo left alone elsewhere.

**Where a mask comes from** (:func:`load_mask`):

- an image file of any mode. If the file has an alpha channel that is not opaque
  everywhere, the mask is its alpha (painted = in the region: what a paint program's
  transparent layer means); otherwise it is the luminance, ITU-R 601 weights
  0.299 R + 0.587 G + 0.114 B as PIL's mode "L" uses (white = in the region);
- an array or tensor ``(H, W)`` (also ``(1, H, W)``, ``(1, 1, H, W)``): bool, uint8
  (÷ 255) or float in [0, 1];
- a built-in name, drawn at any size (:data:`BUILT_INS`): ``top``, ``bottom``, ``left``,
  ``right`` (halves; where the middle falls inside a pixel row or column of an odd size,
  that pixel gets the fraction of it on the region's side, so ``top`` + ``bottom`` = 1
  exactly and each covers exactly half), ``centre`` (the ellipse spanning the middle two
  thirds of each side, area π/9 ≈ 34.9 % of the image, edge antialiased by 4 × 4
  supersampling), ``all`` (every pixel), and ``rest`` (see below). An existing file of the
  same name wins over a built-in.

**Size.** A mask belongs to the image it is drawn on. One of another size but the same
aspect ratio (within 1 %) is resized to the image (bilinear, antialiased when shrinking)
with a one-line warning; one of a different aspect ratio is refused, because stretching it
would move its edges off what they outline.

**A set of regions** (:func:`region_masks`), one rule each:

- ``rest`` means "every pixel the other masks leave": 1 − (their sum), clamped to [0, 1].
  At most one ``rest``.
- Soft and overlapping masks are *normalised*: each pixel's weights are divided by their
  sum, so that they sum to 1 everywhere. A pixel half in the sky mask and half in the
  ground mask counts half for each region; two masks that both claim a pixel fully share it
  equally. (Normalising rather than refusing keeps antialiased edges and hand-painted masks
  usable.)
- Pixels no mask covers (weight sum below :data:`EMPTY`, one 8-bit level) are refused,
  with the fraction uncovered: the method would not know what to do there. Add
  ``rest:none`` (the photo's content only) or a mask that covers them.
- A mask with no pixel above :data:`EMPTY` is refused: it names no pixels (also a ``rest``
  that the others leave empty).

Example:
    >>> top, rest = region_masks(["top", "rest"], (4, 6))
    >>> top[0, 0, :, 0].tolist(), float((top + rest).min())
    ([1.0, 1.0, 0.0, 0.0], 1.0)
    >>> parse_mask_flag("sky.png:starry_night"), parse_mask_flag("rest:none")
    (('sky.png', 'starry_night'), ('rest', None))
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import Tensor

from stylelib.errors import StylelibError, one_line
from stylelib.images import MAX_PIXELS

REST = "rest"  # the built-in resolved by region_masks: what the other masks leave
BUILT_INS = ("top", "bottom", "left", "right", "centre", "all", REST)
NONE = "none"  # the style part of --mask MASK:none: content only in that region
EMPTY = 1 / 255  # a weight below one 8-bit level counts as no weight
ASPECT_TOLERANCE = 0.01  # relative difference of H/W under which a mask is resized
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, PIL's convert("L")
_SUPERSAMPLE = 4  # sub-pixels per side for the antialiased edge of ``centre``

MaskSpec = str | os.PathLike | np.ndarray | Tensor


class MaskError(StylelibError, ValueError):
    """A mask that cannot be read, does not fit the image, or a set of masks that breaks the
    rules of :func:`region_masks`; one line, exit status 2 on the command line."""


def load_mask(spec: MaskSpec, size: tuple[int, int] | None = None, *, what: str = "mask") -> Tensor:
    """A mask from a file, an array or tensor, or a built-in name, at ``size``.

    Args:
        spec: an image file, an array/tensor ``(H, W)`` in [0, 1] (bool and uint8 too), or a
            name of :data:`BUILT_INS` other than ``rest`` (see the module docstring).
        size: ``(H, W)`` of the image the mask is for, or None to keep the mask's own size
            (built-ins need one). A mask of the same aspect ratio (within 1 %) is resized
            with a warning; another aspect ratio is refused.
        what: how messages name the mask, e.g. ``"--mask 'sky.png'"``.

    Returns:
        A new float32 tensor ``(1, 1, H, W)`` in [0, 1].

    Raises:
        MaskError: unreadable, wrong shape or range, different aspect ratio (one line).

    Example:
        >>> load_mask("left", (2, 4)).flatten().tolist()
        [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    """
    size = _check_size(size, what)
    name = _built_in_name(spec)
    if name == REST:
        raise MaskError(
            f"{what}: 'rest' means whatever the other masks leave, so it has no pixels of its "
            "own; use it among several masks (region_masks, or --mask rest:STYLE)"
        )
    if name is not None:
        if size is None:
            raise MaskError(f"{what}: the built-in mask '{name}' needs the image's size (H, W)")
        return _draw(name, *size)
    if isinstance(spec, (str, os.PathLike)):
        mask = _from_file(Path(spec), what)
    elif isinstance(spec, (np.ndarray, Tensor)):
        mask = _from_array(spec, what)
    else:
        raise MaskError(
            f"{what}: cannot make a mask from a {type(spec).__name__}; give an image file, "
            f"an array (H, W) in [0, 1] or one of the names {', '.join(BUILT_INS)}"
        )
    return mask if size is None else _fit(mask, size, what)


def _check_size(size, what: str) -> tuple[int, int] | None:
    if size is None:
        return None
    ok = isinstance(size, (tuple, list, torch.Size)) and len(size) == 2
    if not ok or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise MaskError(f"{what}: size must be (H, W), two positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _built_in_name(spec) -> str | None:
    """The built-in ``spec`` names, unless it is an existing file (a file always wins)."""
    if not isinstance(spec, str) or Path(spec).expanduser().exists():
        return None
    name = spec.strip().lower()
    return name if name in BUILT_INS else None


def _draw(name: str, h: int, w: int) -> Tensor:
    """A built-in mask at h × w: the fraction of each pixel inside the region."""
    if name == "all":
        return torch.ones(1, 1, h, w)
    if name == "centre":
        return _ellipse(h, w)
    # The fraction of pixel row i (spanning [i, i + 1]) above the middle h / 2.
    rows = (h / 2 - torch.arange(h, dtype=torch.float64)).clamp(0, 1)
    cols = (w / 2 - torch.arange(w, dtype=torch.float64)).clamp(0, 1)
    half = {
        "top": rows[:, None].expand(h, w),
        "bottom": 1 - rows[:, None].expand(h, w),
        "left": cols[None, :].expand(h, w),
        "right": 1 - cols[None, :].expand(h, w),
    }[name]
    return half.float().reshape(1, 1, h, w).clone()


def _ellipse(h: int, w: int) -> Tensor:
    """The centred ellipse with semi-axes h/3 and w/3, supersampled 4 × 4 per pixel."""
    s = _SUPERSAMPLE
    y = (torch.arange(h * s, dtype=torch.float64) + 0.5) / s  # sub-pixel centres
    x = (torch.arange(w * s, dtype=torch.float64) + 0.5) / s
    inside = ((y[:, None] - h / 2) / (h / 3)) ** 2 + ((x[None, :] - w / 2) / (w / 3)) ** 2 <= 1
    return F.avg_pool2d(inside.double()[None, None], s).float()


def _from_file(path: Path, what: str) -> Tensor:
    """Alpha if the file has transparency, else luminance (see the module docstring).

    Read here rather than by :func:`stylelib.images.load_image`, whose 32 px rule is VGG's
    and not a mask's, but with its guards: a missing file, a folder, no image, a bomb.
    """
    path = path.expanduser()
    if not path.exists():
        raise MaskError(
            f"{what}: no file '{path}' and no built-in mask of that name "
            f"({', '.join(BUILT_INS)}); check the path"
        )
    if path.is_dir():
        raise MaskError(f"{what}: '{path}' is a folder, expected an image file")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise MaskError(
                    f"{what}: '{path}' has {w}x{h} pixels, more than {MAX_PIXELS:,}; "
                    "draw the mask at the image's size"
                )
            img.load()
            return _from_pil(ImageOps.exif_transpose(img), what)
    except MaskError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's "cannot identify" is an OSError
        raise MaskError(
            f"{what}: '{path}' is not an image PIL can read ({one_line(exc, limit=80)}); "
            "save the mask as PNG"
        ) from None


def _from_pil(img: Image.Image, what: str) -> Tensor:
    """An opened image as a mask: its alpha if not opaque, else its luminance."""
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        alpha = np.asarray(img.convert("RGBA"))[..., 3]
        if alpha.min() < 255:
            return _from_array(alpha, what)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):  # 16-bit grey
        grey = np.asarray(img).astype(np.float32) / 65535
        return _from_array(np.clip(grey, 0, 1), what)
    if img.mode == "F":  # float grey, in [0, 1] like any float array
        return _from_array(np.asarray(img), what)
    rgb = np.asarray(img.convert("RGB")).astype(np.float64) / 255
    return _from_array((rgb @ np.array(_LUMA)).astype(np.float32), what)


def _from_array(a: np.ndarray | Tensor, what: str) -> Tensor:
    """An (H, W) array or tensor (leading 1s allowed) as a checked (1, 1, H, W) mask."""
    t = torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a.detach().cpu()
    shape = tuple(t.shape)
    while t.dim() > 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 2 or min(t.shape) < 1:
        raise MaskError(
            f"{what} must be one channel (H, W), got shape {shape}; take one channel or "
            "convert a colour picture to grey first"
        )
    if t.dtype == torch.bool:
        t = t.float()
    elif t.dtype == torch.uint8:
        t = t.float() / 255
    elif t.is_floating_point():
        t = t.float()
        if not bool(torch.isfinite(t).all()):
            raise MaskError(f"{what} contains NaN/Inf values; fix or drop them first")
        lo, hi = float(t.min()), float(t.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            fix = "divide by 255" if lo >= 0 and hi <= 255 else "rescale it to [0, 1]"
            raise MaskError(f"{what} must have values in [0, 1], found {lo:.4g} to {hi:.4g}; {fix}")
    else:
        raise MaskError(f"{what} must be bool, uint8 or float in [0, 1], got dtype {t.dtype}")
    return t.clamp(0, 1).reshape(1, 1, *t.shape).clone()


def _fit(mask: Tensor, size: tuple[int, int], what: str) -> Tensor:
    """``mask`` at ``size``: as it is, resized with a warning, or refused (aspect ratio)."""
    h, w = mask.shape[-2:]
    if (h, w) == size:
        return mask
    ratio, wanted = h / w, size[0] / size[1]
    if abs(ratio / wanted - 1) > ASPECT_TOLERANCE:
        raise MaskError(
            f"{what} is {w} x {h} px (W x H) but the image is {size[1]} x {size[0]}, another "
            "aspect ratio; draw the mask on the image at its size (or crop it to the image's "
            "aspect ratio)"
        )
    warnings.warn(
        f"{what} is {w} x {h} px, resized to the image's {size[1]} x {size[0]}", stacklevel=3
    )
    shrink = size[0] < h or size[1] < w
    out = F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return out.clamp(0, 1)


def region_masks(masks: Sequence[MaskSpec], size: tuple[int, int]) -> list[Tensor]:
    """A set of region masks at ``size``, normalised so that each pixel's weights sum to 1.

    The rules (each explained in the module docstring): at most one ``rest``, which is 1 −
    the others (clamped); no mask may be empty; every pixel must be covered; overlaps and
    soft edges are shared out in proportion to the weights.

    Args:
        masks: one spec per region, as for :func:`load_mask`, or ``"rest"``.
        size: ``(H, W)`` of the image.

    Returns:
        One float32 ``(1, 1, H, W)`` tensor per region, in order, summing to 1 at every pixel.

    Raises:
        MaskError: one line naming the rule broken and the fix.

    Example:
        >>> a, b = region_masks([torch.ones(2, 2), "left"], (2, 2))  # overlap on the left
        >>> a.flatten().tolist(), b.flatten().tolist()
        ([0.5, 1.0, 0.5, 1.0], [0.5, 0.0, 0.5, 0.0])
    """
    specs = list(masks)
    size = _check_size(size, "masks")
    if size is None:
        raise MaskError("region_masks needs the image's size (H, W)")
    if not specs:
        raise MaskError("no masks were given; give one mask per region")
    rests = [i for i, s in enumerate(specs) if _built_in_name(s) == REST]
    if len(rests) > 1:
        raise MaskError(
            f"'rest' is given {len(rests)} times; it means what the others leave, so give it once"
        )
    loaded: list[Tensor | None] = [
        None if i in rests else load_mask(s, size, what=_name(s, i)) for i, s in enumerate(specs)
    ]
    if rests:
        others = sum((m for m in loaded if m is not None), torch.zeros(1, 1, *size))
        loaded[rests[0]] = (1 - others).clamp(0, 1)
    for i, m in enumerate(loaded):
        if float(m.max()) < EMPTY:
            why = "the other masks already cover every pixel" if i in rests else "it is all 0"
            raise MaskError(f"{_name(specs[i], i)} names no pixels ({why}); drop it or fix it")
    total = sum(loaded)
    uncovered = float((total < EMPTY).float().mean())
    if uncovered > 0:
        raise MaskError(
            f"the masks leave {_percent(uncovered)} of the image uncovered; add --mask "
            "rest:none (the photo's content there) or a mask that covers those pixels"
        )
    return [m / total for m in loaded]


def _name(spec, i: int) -> str:
    return f"mask '{spec}'" if isinstance(spec, (str, os.PathLike)) else f"mask {i + 1}"


def _percent(fraction: float) -> str:
    """A fraction as a percentage that never rounds a nonzero fraction to 0."""
    percent = fraction * 100
    return f"{percent:.1f} %" if percent >= 0.1 else f"{percent:.2g} %"


def parse_mask_flag(text: str) -> tuple[str, str | None]:
    """``MASK:STYLE`` of ``--mask`` as ``(mask, style)``; a style of ``none`` gives None.

    The text is split at its *last* colon, so a mask path may hold colons (``C:\\sky.png``,
    ``a:b.png``); a style file's name may not. ``MASK`` is a file or a built-in name,
    ``STYLE`` a file, a built-in image name or ``none`` (content only in that region).

    Raises:
        MaskError: no colon, an empty side, or a text that is one existing file or ends
            in a Windows drive path (a mask that names no style), in one line.

    Example:
        >>> parse_mask_flag(r"C:\\masks\\sky.png:mosaic")
        ('C:\\\\masks\\\\sky.png', 'mosaic')
    """
    usage = (
        f"--mask {text!r} names no style; write --mask MASK:STYLE, e.g. --mask "
        "sky.png:starry_night, or MASK:none for the photo's content only"
    )
    mask, colon, style = str(text).rpartition(":")
    # No colon, an empty side, a whole existing file, or "C:\\sky.png" split at its drive.
    no_style = not colon or not style.strip() or Path(str(text)).expanduser().is_file()
    if no_style or (len(mask) == 1 and mask.isalpha() and style[:1] in ("\\", "/")):
        raise MaskError(usage)
    if not mask.strip():
        raise MaskError(
            f"--mask {text!r} names no mask before the colon; write --mask MASK:STYLE, e.g. "
            "--mask sky.png:starry_night or --mask top:mosaic"
        )
    return mask, None if style.strip().lower() == NONE else style
