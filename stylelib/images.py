"""Images in, images out: the one image contract of stylelib.

Inside the library an image is a float32 tensor ``(B, 3, H, W)``, RGB, values in ``[0, 1]``
(ImageNet normalisation happens inside the VGG extractor, never here). This module is the
border: :func:`load_image` converts files, PIL images, arrays and tensors to the contract,
:func:`check_image` guards it, and :func:`to_pil`, :func:`to_numpy` and :func:`save_image`
take images out again. Problems raise ``ImageError`` / ``OutputError`` with one line that
says what was expected, what was given and what to do.

Sizes follow one rule, applied the same way by :func:`load_image`, :func:`resize` and
:func:`check_image`: every image has at least :data:`MIN_SIDE` (32) px on each side, both as
given and after any resizing, because VGG's five 2x2 poolings divide it by 32. Nothing
smaller is ever upscaled: a 1 x 1 or a 1 x 5000 image is refused with its size and the
minimum, and so is a resize whose short side would fall below 32 px. At the other end, an
image as decoded (checked from the file header) and an image as resized may hold at most
``max_pixels`` (:data:`MAX_PIXELS`, 64 megapixels: about 770 MB as float32 before VGG's
first layer makes 64 channels of it); ``load_image(..., size=10**7)`` is refused with that
limit, not left to the allocator. :func:`check_image` checks sides only: a tensor it is
given already exists.

Example:
    >>> import torch
    >>> from stylelib.images import load_image, check_image
    >>> x = load_image(torch.rand(3, 96, 128), size=64)
    >>> x.shape
    torch.Size([1, 3, 48, 64])
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from stylelib.config import MIN_SIDE  # VGG's smallest side: one home, in config
from stylelib.errors import ImageError, OutputError, one_line
from stylelib.files import atomic_write, check_target

T = TypeVar("T")

# Default decompression-bomb guard: a 64-megapixel photo is about the largest a user means to
# load; a tiny file that claims more would decode into gigabytes of memory.
MAX_PIXELS = 64_000_000
# Lower-case suffixes that PIL can read and that we accept for loading and saving.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")

_SAVE_FORMATS = {
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".png": ("PNG", {}),
    ".bmp": ("BMP", {}),
    ".gif": ("GIF", {}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
    ".webp": ("WEBP", {"quality": 95}),
}
_ATOL = 1e-6  # tolerance on the [0, 1] range, for values a float round-off outside it
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")

ImageSource = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


# --------------------------------------------------------------------------- checking


def check_image(
    x: object,
    name: str = "image",
    *,
    allow_batch: bool = True,
    check_range: bool = True,
    check_finite: bool = True,
    min_side: int = MIN_SIDE,
    min_side_why: str = "",
) -> None:
    """Check that ``x`` follows the image contract; raise a teaching ImageError if not.

    The contract: a floating ``torch.Tensor`` of shape ``(B, 3, H, W)``, finite, with values
    in ``[0, 1]`` (within 1e-6), and both ``H`` and ``W`` at least :data:`MIN_SIDE`.

    Args:
        x: the object to check.
        name: what to call ``x`` in the message (e.g. ``"content"``).
        allow_batch: if False, ``B`` must be 1.
        check_range: if False, skip the ``[0, 1]`` check (for an image being optimised,
            which may stray outside the range between steps; NaN/Inf are still refused).
        check_finite: if False, skip the NaN/Inf and the range checks: only the type, shape,
            dtype and size are checked, which costs no pass over the values (the guard of a
            network's ``forward``, run at every training step).
        min_side: the smallest side; VGG's :data:`MIN_SIDE` unless a network takes smaller
            images (the transform network takes 5 px).
        min_side_why: the reason for a ``min_side`` other than VGG's, for the message
            (``"its 9x9 convolution reflects 4 px"``).

    Raises:
        ImageError: one line naming ``name``, what was found and how to fix it.

    Example:
        >>> check_image(torch.rand(1, 3, 64, 64), "content")
    """
    _check(
        x,
        name,
        allow_batch=allow_batch,
        min_side=min_side,
        check_range=check_range,
        check_finite=check_finite,
        min_side_why=min_side_why,
    )


def _check(
    x: object,
    name: str,
    *,
    allow_batch: bool,
    min_side: int,
    check_range: bool,
    check_finite: bool = True,
    min_side_why: str = "",
) -> None:
    """The checks behind :func:`check_image`, with the size and range checks adjustable."""
    if not isinstance(x, torch.Tensor):
        raise ImageError(
            f"{name} must be a torch.Tensor of shape (B, 3, H, W) in [0, 1], got "
            f"{type(x).__name__}; convert it with stylelib.images.load_image(...)"
        )
    shape = tuple(x.shape)
    if x.ndim == 3 and shape[0] == 3:
        raise ImageError(
            f"{name} must have shape (B, 3, H, W), got {shape} without a batch dimension; "
            "add one with x.unsqueeze(0)"
        )
    if x.ndim == 4 and shape[1] != 3 and shape[3] == 3:
        raise ImageError(
            f"{name} must be channels-first (B, 3, H, W), got channels-last {shape}; "
            "reorder it with x.permute(0, 3, 1, 2)"
        )
    if x.ndim != 4:
        raise ImageError(f"{name} must have shape (B, 3, H, W), got {x.ndim}-D shape {shape}")
    if shape[1] == 1:
        raise ImageError(
            f"{name} must have 3 (RGB) channels, got 1 (grayscale) in {shape}; "
            "repeat it with x.expand(-1, 3, -1, -1) or load the image as RGB"
        )
    if shape[1] != 3:
        raise ImageError(
            f"{name} must have 3 (RGB) channels, got {shape[1]} in {shape}; "
            "drop alpha or extra channels (x[:, :3]) or load it with load_image"
        )
    if not allow_batch and shape[0] != 1:
        raise ImageError(
            f"{name} must be a single image (1, 3, H, W), got a batch of {shape[0]}; "
            "pick one with x[i:i + 1]"
        )
    if not x.is_floating_point():
        hint = "convert with x.float() / 255" if x.dtype == torch.uint8 else "use x.float()"
        raise ImageError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}; {hint}")
    bad = (~torch.isfinite(x)).sum().item() if check_finite else 0
    if bad:
        raise ImageError(
            f"{name} contains {bad} NaN/Inf value(s) out of {x.numel()}; "
            "find where they come from (a too-large learning rate is a common cause)"
        )
    if check_range and check_finite and x.numel():
        lo, hi = x.min().item(), x.max().item()
        if lo < -_ATOL or hi > 1 + _ATOL:
            raise ImageError(f"{name} {_range_problem(lo, hi, 'x')}")
    if min(shape[2:]) < 1:
        raise ImageError(f"{name} is empty ({shape[2]}x{shape[3]} px); pass an image with pixels")
    if min_side == MIN_SIDE:
        _check_sides(shape[2], shape[3], name)
    elif min(shape[2:]) < min_side:
        why = f" ({min_side_why})" if min_side_why else ""
        raise ImageError(
            f"{name} is {shape[2]}x{shape[3]} px (HxW); it needs at least {min_side} px on each "
            f"side{why}; use a larger image"
        )


def _check_sides(h: int, w: int, name: str, fix: str | None = None) -> None:
    """The size rule's lower end: both sides >= MIN_SIDE, said the same way everywhere."""
    if min(h, w) < MIN_SIDE:
        fix = fix or (
            f"stylelib never upscales an image that small: use one with both sides >= {MIN_SIDE} px"
        )
        raise ImageError(
            f"{name} is {h}x{w} px (HxW), smaller than the {MIN_SIDE} px VGG needs on each "
            f"side; {fix}"
        )


def _range_problem(lo: float, hi: float, var: str) -> str:
    """The second half of a 'values outside [0, 1]' message, with a fix that fits."""
    if lo >= 0 and 2 <= hi <= 255:  # far above 1 but within 255: 8-bit values, surely
        fix = f"it looks like 0-255 values: divide by 255 ({var} / 255)"
    else:
        fix = f"rescale it, or clip with {var}.clamp(0, 1) / np.clip({var}, 0, 1)"
    return f"must have values in [0, 1], found min {lo:.4g} and max {hi:.4g}; {fix}"


# --------------------------------------------------------------------------- loading


def load_image(
    source: ImageSource, size: int | None = None, *, max_pixels: int = MAX_PIXELS
) -> torch.Tensor:
    """Load an image from a file, PIL image, numpy array or tensor as a stylelib image.

    Args:
        source: one of
            - a path (``str`` or ``pathlib.Path``): EXIF orientation is honoured;
            - a PIL image in any common mode (L, LA, P, RGB, RGBA, CMYK, I;16, I, F, 1);
              transparency is composited on white, 16-bit values are divided by 65535;
            - a numpy array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (RGBA):
              uint8 is divided by 255, uint16 by 65535, float must already be in [0, 1];
            - a float tensor ``(3, H, W)`` or ``(B, 3, H, W)`` in [0, 1] (returned detached,
              on its device, as float32).
        size: if given, resize so the long side is ``size`` px (aspect ratio kept,
            antialiased). Must be an int >= :data:`MIN_SIDE`, and the resized image must
            keep both sides >= :data:`MIN_SIDE` and hold at most ``max_pixels``.
        max_pixels: refuse files and PIL images with more pixels than this (decompression
            bomb guard), checked from the header before decoding, and a ``size`` that would
            make more.

    Returns:
        A new float32 tensor ``(1, 3, H, W)`` (``(B, 3, H, W)`` for a batched tensor source)
        in [0, 1]. It never shares memory with ``source``, which is left unchanged.

    Raises:
        ImageError: the source cannot be read, is not a valid image, or breaks the size rule
            of this module (one-line message).

    Example:
        >>> x = load_image(np.zeros((40, 80, 3), dtype=np.uint8), size=64)
        >>> tuple(x.shape), x.dtype
        ((1, 3, 32, 64), torch.float32)
    """
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int) or size < MIN_SIDE
    ):
        raise ImageError(
            f"size must be an int >= {MIN_SIDE} (the long side in px; VGG needs at least "
            f"{MIN_SIDE}), got {size!r}; pass e.g. size=256, or size=None to keep the size"
        )
    if isinstance(source, (str, os.PathLike)):
        x = open_image_file(Path(source), max_pixels, _from_pil)
    elif isinstance(source, Image.Image):
        x = _from_pil(source, max_pixels, "PIL image")
    elif isinstance(source, np.ndarray):
        x = _to_batch(_from_numpy_array(source, "numpy array"))
    elif isinstance(source, torch.Tensor):
        x = _from_tensor(source)
    else:
        raise ImageError(
            f"cannot load an image from a {type(source).__name__}; pass a file path, "
            "a PIL image, a numpy array (H, W, 3) or a tensor (3, H, W)"
        )
    name = f"image '{source}'" if isinstance(source, (str, os.PathLike)) else "image"
    _check_sides(*x.shape[-2:], name)  # as given: nothing below MIN_SIDE is upscaled
    if size is not None:
        x = _resize(x, size, max_pixels, name)
        name += f" resized to long side {size}"
    check_image(x, name)
    return x


def open_image_file(
    path: Path, max_pixels: int, convert: Callable[[Image.Image, int, str], T]
) -> T:
    """Open an image file lazily (its header first) and return ``convert(img, max_pixels,
    what)``, ``what`` the quoted path for messages: every way a file can fail (missing, a
    folder, empty, unreadable, not an image, truncated, a decompression bomb) is one line
    (:class:`ImageError`). :func:`load_image` converts to a float tensor,
    :func:`stylelib.tiling.load_uint8` to a uint8 array."""
    path = path.expanduser()
    if not path.exists():
        raise ImageError(f"image file not found: '{path}'; check the path and the folder")
    if path.is_dir():
        raise ImageError(f"'{path}' is a folder, expected an image file; pass one file in it")
    if path.stat().st_size == 0:
        raise ImageError(f"'{path}' is empty (0 bytes); re-export or download the image again")
    try:
        with Image.open(path) as img:  # lazy: reads the header only
            return convert(img, max_pixels, f"'{path}'")
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(
            f"cannot read '{path}': permission denied; check its permissions"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"'{path}' is not an image PIL can read; expected one of "
            f"{' '.join(IMAGE_EXTENSIONS)}; check that it is the file you meant"
        ) from None
    except Image.DecompressionBombError as e:
        raise ImageError(
            f"'{path}' is refused by PIL's own decompression-bomb guard ({one_line(e)}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS too if you trust this file"
        ) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(
            f"could not decode '{path}' ({one_line(e)}); the file may be truncated or "
            "corrupt: re-export or download it again"
        ) from None


def _from_pil(img: Image.Image, max_pixels: int, what: str) -> torch.Tensor:
    """Guard the pixel count, decode, orient and convert a PIL image (left unchanged)."""
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(
            f"{what} has {w}x{h} = {w * h:,} pixels, more than the limit of {max_pixels:,} "
            "(decompression-bomb guard); resize it first, or pass a larger max_pixels= "
            "if you trust it"
        )
    img.load()  # force the decode here, so a truncated file fails now and not later
    img = ImageOps.exif_transpose(img)  # a rotated copy; the caller's image is untouched
    return _to_batch(_pil_to_rgb_array(img))


def _pil_to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to an (H, W, 3) float32 array in [0, 1] (a new array)."""
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:  # 16-bit grayscale: scale by 65535, never clip to 255
        gray = np.asarray(img).astype(np.float32) / 65535.0
        return np.repeat(np.clip(gray, 0.0, 1.0)[..., None], 3, axis=2)
    if mode == "F":  # 32-bit float grayscale: assumed in [0, 1] like any float array
        return _from_numpy_array(np.asarray(img), "mode 'F' image")
    if mode in _ALPHA_MODES or mode == "P" or "transparency" in img.info:
        if mode == "La":
            img = img.convert("LA")  # PIL converts premultiplied La only to LA
        return _from_numpy_array(np.asarray(img.convert("RGBA")), "image")
    try:
        rgb = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX, ...
    except (ValueError, OSError) as e:
        raise ImageError(
            f"cannot convert PIL mode '{mode}' to RGB ({one_line(e)}); "
            "convert the image to RGB yourself, e.g. img.convert('RGB')"
        ) from None
    return np.asarray(rgb).astype(np.float32) / 255.0


def _from_numpy_array(a: np.ndarray, what: str) -> np.ndarray:
    """Check and convert an (H, W), (H, W, 1|3|4) array to a new (H, W, 3) float32 array."""
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        raise ImageError(
            f"{what} must be channels-last (H, W, 3), got channels-first {a.shape}; "
            "reorder it with np.transpose(a, (1, 2, 0))"
        )
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise ImageError(
            f"{what} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got {a.shape}; pass one image at a time"
        )
    if a.dtype == np.uint8:
        x = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        x = a.astype(np.float32) / 65535.0
    elif np.issubdtype(a.dtype, np.floating):
        x = a.astype(np.float32)  # always a copy
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise ImageError(f"{what} contains {bad} NaN/Inf value(s); fix or drop them first")
        if x.size and (x.min() < -_ATOL or x.max() > 1 + _ATOL):
            raise ImageError(f"{what} {_range_problem(float(x.min()), float(x.max()), 'a')}")
        x = np.clip(x, 0.0, 1.0)
    else:
        raise ImageError(
            f"{what} must be uint8, uint16 or float in [0, 1], got dtype {a.dtype}; "
            "convert it, e.g. a.astype(np.float32) / a.max()"
        )
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] == 4:  # RGBA: composite on white, weighted by alpha
        rgb, alpha = x[..., :3], x[..., 3:]
        x = rgb * alpha + (1.0 - alpha)
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    return np.ascontiguousarray(x, dtype=np.float32)


def _from_tensor(t: torch.Tensor) -> torch.Tensor:
    """Check a (3, H, W) or (B, 3, H, W) tensor and return a detached float32 copy."""
    if t.ndim == 3 and t.shape[0] != 3 and t.shape[2] == 3:
        raise ImageError(
            f"tensor must be channels-first (3, H, W), got channels-last {tuple(t.shape)}; "
            "reorder it with x.permute(2, 0, 1)"
        )
    x = t.detach().unsqueeze(0) if t.ndim == 3 else t.detach()
    _check(x, "tensor", allow_batch=True, min_side=1, check_range=True)
    return x.to(torch.float32, copy=True).clamp_(0.0, 1.0)


def _to_batch(rgb: np.ndarray) -> torch.Tensor:
    """An (H, W, 3) float32 array as a contiguous (1, 3, H, W) tensor."""
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()


# --------------------------------------------------------------------------- resizing


def resize(image: torch.Tensor, size: int, *, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Resize so that the long side is ``size`` px, keeping the aspect ratio.

    The short side is rounded. Bicubic interpolation with antialiasing, so shrinking averages
    away detail instead of aliasing it; the result is clamped to [0, 1] because bicubic can
    overshoot. The module's size rule holds on both ends: ``image`` and the result have at
    least :data:`MIN_SIDE` px on each side, and the result at most ``max_pixels`` pixels.

    Args:
        image: float tensor ``(B, 3, H, W)`` in [0, 1], both sides >= :data:`MIN_SIDE`.
        size: the new long side in px, an int.
        max_pixels: the most pixels (H' x W') the result may have.

    Returns:
        A new float tensor ``(B, 3, H', W')`` with ``max(H', W') == size``.

    Raises:
        ImageError: a bad ``size``, or an image or result outside the size rule (one line).

    Example:
        >>> resize(torch.rand(1, 3, 100, 200), 64).shape
        torch.Size([1, 3, 32, 64])
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ImageError(f"size must be a positive int (the long side in px), got {size!r}")
    _check(image, "image", allow_batch=True, min_side=MIN_SIDE, check_range=False)
    return _resize(image, size, max_pixels, "image")


def _resize(image: torch.Tensor, size: int, max_pixels: int, name: str) -> torch.Tensor:
    """:func:`resize` of a checked image, refusing a result outside the size rule."""
    h, w = image.shape[-2:]
    long, short = max(h, w), min(h, w)
    if size > max_pixels:  # too many even one pixel high; integers avoid a float overflow
        new = (h * size // long, w * size // long)
    else:
        new = (round(h * size / long), round(w * size / long))
    if new[0] * new[1] > max_pixels:
        raise ImageError(
            f"{name} resized to long side {size:,} would be {new[0]:,}x{new[1]:,} = "
            f"{new[0] * new[1]:,} pixels, more than the limit of {max_pixels:,} (max_pixels: "
            f"{max_pixels * 12 / 1e9:.2g} GB as float32 RGB, before VGG makes 64 channels of "
            f"it); choose a long side of at most {_largest_size(h, w, max_pixels):,}"
        )
    if min(new) < MIN_SIDE:
        needed = math.ceil((MIN_SIDE - 0.5) * long / short)
        while round(short * needed / long) < MIN_SIDE:
            needed += 1
        _check_sides(*new, f"{name} resized to long side {size}", f"choose a long side >= {needed}")
    if new == (h, w):
        return image.clone()
    out = F.interpolate(image, size=new, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


def _largest_size(h: int, w: int, max_pixels: int) -> int:
    """The largest long side whose resize of an h x w image keeps within ``max_pixels``."""
    long, short = max(h, w), min(h, w)
    size = math.isqrt(max_pixels * long // short) + 1
    while size > 1 and size * round(short * size / long) > max_pixels:
        size -= 1
    return size


# --------------------------------------------------------------------------- output


def _one_image(image: torch.Tensor) -> torch.Tensor:
    """Check a (3, H, W) or (1, 3, H, W) tensor; return it as (H, W, 3) float on the CPU."""
    x = image.unsqueeze(0) if isinstance(image, torch.Tensor) and image.ndim == 3 else image
    _check(x, "image", allow_batch=False, min_side=1, check_range=False)
    return x.detach()[0].permute(1, 2, 0).to("cpu", torch.float32).clamp(0.0, 1.0)


def to_pil(image: torch.Tensor) -> Image.Image:
    """Convert one image ``(1, 3, H, W)`` or ``(3, H, W)`` to an RGB PIL image.

    Values are clamped to [0, 1] (optimised images may stray a little) and rounded to uint8.

    Example:
        >>> to_pil(torch.ones(1, 3, 32, 48)).size
        (48, 32)
    """
    array = (_one_image(image) * 255.0).round().to(torch.uint8).numpy()
    return Image.fromarray(array)  # (H, W, 3) uint8 is RGB


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """Convert one image ``(1, 3, H, W)`` or ``(3, H, W)`` to a new ``(H, W, 3)`` float32 array.

    Values are clamped to [0, 1].

    Example:
        >>> to_numpy(torch.zeros(3, 32, 48)).shape
        (32, 48, 3)
    """
    return _one_image(image).numpy().copy()


def check_output_path(
    path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False
) -> Path:
    """Check, before any long work, that an image can be saved at ``path``; return it resolved.

    Raises OutputError (one line) for a suffix that is not an image format, a missing or
    unwritable folder, a folder in place of a file, ``path`` being one of ``inputs``, or,
    unless ``overwrite``, an existing file (:func:`stylelib.files.check_target`).
    """
    target = Path(path).expanduser().resolve()
    suffix = target.suffix.lower()
    if suffix not in _SAVE_FORMATS:
        raise OutputError(
            f"cannot tell the image format of '{target}' from its suffix '{suffix}'; "
            f"use one of {' '.join(IMAGE_EXTENSIONS)} (e.g. out.png)"
        )
    return check_target(target, inputs=inputs, overwrite=overwrite, kind="image")


def save_image(
    image: torch.Tensor,
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
) -> Path:
    """Save one image atomically, never overwriting an input, nor any file unless told to.

    The format comes from the suffix (one of :data:`IMAGE_EXTENSIONS`; JPEG and WebP at
    quality 95, PNG is lossless). The image is written to a temporary file in the same folder
    and then moved to ``path`` (:mod:`stylelib.files`), so a crash never leaves a half-written
    file, and an existing file at ``path`` is kept unless ``overwrite`` (also when another
    program creates it while this one writes).

    Args:
        image: one image ``(1, 3, H, W)`` or ``(3, H, W)``; values are clamped to [0, 1].
        path: where to write it.
        inputs: paths that must not be overwritten (e.g. the content and style images).
        overwrite: replace an existing file at ``path`` (never one of ``inputs``).

    Returns:
        The resolved path that was written.

    Raises:
        OutputError: bad suffix, missing or unwritable folder, ``path`` is an input or exists
            (without ``overwrite``), or the write failed (one-line message).

    Example:
        >>> save_image(torch.rand(1, 3, 32, 32), "out.png", inputs=["in.jpg"])  # doctest: +SKIP
        PosixPath('/home/me/out.png')
    """
    target = check_output_path(path, inputs=inputs, overwrite=overwrite)
    return write_pil(to_pil(image), target, overwrite=overwrite)  # converted before any file


def write_pil(pil: Image.Image, target: Path, *, overwrite: bool = False) -> Path:
    """Write ``pil`` to ``target`` (checked already: :func:`check_output_path`) atomically, in
    the format its suffix names; a failure is one line (:class:`OutputError`)."""
    fmt, options = _SAVE_FORMATS[target.suffix.lower()]
    try:
        with atomic_write(target, overwrite=overwrite) as f:
            pil.save(f, format=fmt, **options)
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"could not write '{target}' ({one_line(e)})") from e
    return target
