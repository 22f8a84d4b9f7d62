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


class Diverged(StylelibError):
    """The loss became NaN or infinite (the method's last good result is kept)."""


def one_line(
    error: BaseException,
    *,
    limit: int | None = None,
    with_type: bool = False,
    first_line: bool = False,
) -> str:
    """``error``'s message squeezed onto one line: how every message here reaches a user.

    Args:
        error: any exception.
        limit: cut the text at this many characters (ending in "…"), or None.
        with_type: put the exception's type in front (``"KeyError: 'x'"``) unless it is one
            of ours or a ValueError, whose messages say what went wrong on their own.
        first_line: keep only the message's first line (torch's multi-line errors put their
            summary there) instead of joining all of them.

    Example:
        >>> one_line(ValueError("two\\n   lines"))
        'two lines'
        >>> one_line(KeyError("relu9_9"), with_type=True)
        "KeyError: 'relu9_9'"
        >>> one_line(RuntimeError("summary\\n  detail"), first_line=True)
        'summary'
    """
    message = str(error).strip()
    if first_line:
        message = message.split("\n", 1)[0]
    text = " ".join(message.split())
    if not text:
        return type(error).__name__
    if with_type and not isinstance(error, (StylelibError, ValueError)):
        text = f"{type(error).__name__}: {text}"
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
