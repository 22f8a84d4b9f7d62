"""stylelib.errors: the one way an exception's message becomes one line.

Oracle: hand-written expected strings for each option of ``one_line``.
"""

from __future__ import annotations

import pytest

from stylelib.errors import ImageError, LayerError, StylelibError, one_line


def test_one_line_joins_lines_and_squeezes_spaces():
    assert one_line(OSError("could not\n  write\tthe file ")) == "could not write the file"
    assert one_line(RuntimeError("")) == "RuntimeError"


def test_one_line_keeps_only_the_summary_when_asked():
    error = RuntimeError("Error(s) in loading state_dict:\n\tMissing key(s): 'a'")
    assert one_line(error, first_line=True) == "Error(s) in loading state_dict:"
    assert one_line(error).endswith("Missing key(s): 'a'")


@pytest.mark.parametrize(
    "error, expected",
    [
        (KeyError("relu9_9"), "KeyError: 'relu9_9'"),
        (ValueError("size must be positive"), "size must be positive"),
        (ImageError("not an image"), "not an image"),
        (LayerError("no layer 'x'"), "no layer 'x'"),
    ],
)
def test_one_line_names_the_type_only_where_the_message_needs_it(error, expected):
    assert one_line(error, with_type=True) == expected
    assert isinstance(error, (StylelibError, ValueError)) == (":" not in expected)


def test_one_line_cuts_at_the_limit_with_an_ellipsis():
    text = one_line(ValueError("x" * 300), limit=50)
    assert len(text) == 50 and text.endswith("…")
    assert one_line(ValueError("short"), limit=50) == "short"
