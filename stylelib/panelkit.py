"""What the control panel is built from: pickers of the built-in images, the regions of
spatial control, rows of layer checkboxes, labelled rows, image boxes and placeholders.

Kept apart from :mod:`stylelib.widgets` so that the panel's module reads as the panel.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import ipywidgets as w
import numpy as np
import torch
from PIL import Image as PILImage

from stylelib import data
from stylelib.errors import StylelibError, one_line
from stylelib.figures import image_png
from stylelib.layers import block_of
from stylelib.masks import NONE, load_mask

LABEL_WIDTH = "120px"
LABEL = {"description_width": LABEL_WIDTH}  # one label column, so the controls line up
SHORT = {"description_width": "60px"}
THUMBNAIL = 128  # px, long side of the thumbnails
# Spatial control (Gatys et al. 2017): where the chosen style goes; the rest of the picture
# gets the second style, or stays the photo (content only). Built-ins of stylelib.masks.
REGION_CHOICES = [
    ("everywhere (no masks)", ""),
    ("the top half", "top"),
    ("the bottom half", "bottom"),
    ("the left half", "left"),
    ("the right half", "right"),
    ("the centre (an ellipse)", "centre"),
]


class RegionPicker:
    """The panel's Regions tab: the style only inside a mask (a built-in or an uploaded
    one, white where the style goes), the rest another style or the photo.

    ``say(text, error=True)`` reports problems (the panel's status line).
    """

    def __init__(self, say: Callable[..., None]) -> None:
        self._say = say
        wide = {"style": LABEL, "layout": w.Layout(width="440px")}
        self.region = w.Dropdown(description="the style in", options=REGION_CHOICES, **wide)
        rest = [("the photo (content only)", NONE), *builtin_choices("style")]
        self.rest = w.Dropdown(description="the rest gets", options=rest, **wide)
        self.upload = w.FileUpload(
            accept="image/*", description="your mask", layout=w.Layout(width="auto")
        )
        self.thumb = w.Image(value=placeholder(3, 2), layout=image_box(THUMBNAIL))
        self._uploaded: dict[str, np.ndarray] = {}  # picker value -> an uploaded mask
        self._photo: torch.Tensor | None = None  # the content thumbnail's image
        self.region.observe(lambda _: self.show(), names="value")
        self.upload.observe(lambda change: self._on_upload(change["new"]), names="value")

    def rows(self) -> list[w.Widget]:
        note = (
            "<small>Spatial control (Gatys et al. 2017): each region matches its own style "
            "through guided Gram matrices.</small>"
        )
        return [self.region, self.rest, w.HBox([self.thumb, self.upload]), w.HTML(note)]

    def mask(self):
        """The chosen region's mask (a built-in name or an uploaded mask); None: everywhere."""
        value = self.region.value
        return self._uploaded[value] if value in self._uploaded else (value or None)

    def show(self, photo: torch.Tensor | None = None) -> None:
        """The content thumbnail (``photo``, once loaded), dimmed outside the chosen region."""
        self._photo = self._photo if photo is None else photo
        mask = self.mask()
        if self._photo is None:
            return
        try:
            size = tuple(self._photo.shape[-2:])
            with warnings.catch_warnings():  # resized to the thumbnail: of course
                warnings.simplefilter("ignore")
                m = 1.0 if mask is None else load_mask(mask, size, what="the mask")
        except (StylelibError, ValueError) as e:
            self._say(one_line(e, with_type=True), error=True)
            return
        self.thumb.value = image_png(self._photo * (0.25 + 0.75 * m))

    def _on_upload(self, files) -> None:
        if not files:
            return
        upload = files[-1]
        try:
            with PILImage.open(io.BytesIO(bytes(upload["content"]))) as img:
                mask = np.asarray(img.convert("L"))  # white: the region
        except (OSError, ValueError) as e:  # PIL: UnidentifiedImageError
            self._say(f"cannot read {upload['name']}: {one_line(e, with_type=True)}", error=True)
            return
        key = f"mask:{len(self._uploaded)}:{upload['name']}"
        self._uploaded[key] = mask
        self.region.options = [(f"uploaded: {upload['name']}", key), *REGION_CHOICES]
        self.region.value = key


def builtin_choices(side: str) -> list[tuple[str, str]]:
    """Dropdown entries: the likely images first (photos for content, paintings for style)."""
    names = data.image_names()
    photos = [(f"{n} (photo)", n) for n in names["content"]]
    drawn = [(f"{n} (drawn by stylelib)", n) for n in names["procedural"]]
    works = [(f"{data.ARTWORKS[n].title} (downloads once)", n) for n in names["artworks"]]
    return photos + works + drawn if side == "content" else drawn + works + photos


def layer_grid(boxes: dict[str, w.Checkbox]) -> w.VBox:
    """One row of checkboxes per VGG block."""
    rows: dict[int, list] = {}
    for name, box in boxes.items():
        rows.setdefault(block_of(name), []).append(box)
    return w.VBox(
        [
            w.HBox([w.HTML(f"block {b}", layout=w.Layout(width="60px")), *row])
            for b, row in rows.items()
        ]
    )


def labelled(text: str, widget: w.Widget) -> w.HBox:
    """``widget`` behind a label as wide as the descriptions, so that rows line up."""
    style = "text-align: right; padding-right: 8px"
    label = w.HTML(f'<div style="{style}">{text}</div>', layout=w.Layout(width=LABEL_WIDTH))
    return w.HBox([label, widget])


def ticked(boxes: dict[str, w.Checkbox]) -> tuple[str, ...]:
    return tuple(name for name, box in boxes.items() if box.value)


def is_file(source) -> bool:
    return isinstance(source, (str, Path)) and Path(source).expanduser().is_file()


def image_box(width: int, height: int | None = None) -> w.Layout:
    height = height or width
    return w.Layout(
        width=f"{width}px", height=f"{height}px", object_fit="contain", object_position="left top"
    )


def placeholder(width: int, height: int) -> bytes:
    """A light grey PNG with the given aspect ratio, until there is something to show."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (16 * width, 16 * height), (240, 240, 240)).save(buffer, format="PNG")
    return buffer.getvalue()
