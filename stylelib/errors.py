"""The errors stylelib raises on purpose.

Every error here carries one line that says what was expected, what was given and what to
do. The command line prints that line and exits with status 2; notebooks show it as-is.
"""

from __future__ import annotations


class StylelibError(Exception):
    """Base class: a problem with the user's input or environment, explained in one line."""


class ImageError(StylelibError, ValueError):
    """An image that cannot be read, or a tensor that is not a valid image."""


class LayerError(StylelibError, KeyError):
    """An unknown layer or architecture name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class WeightsError(StylelibError):
    """Pretrained weights that are missing, unreachable or not the expected file."""


class OutputError(StylelibError, OSError):
    """An output path that cannot be written, or would overwrite an input."""
