"""stylelib.deprecation: old names keep working, warn at the caller, and say where they went."""

from __future__ import annotations

import warnings

import pytest

from stylelib.deprecation import moved, renamed


def new(x, *, y=1):
    """The new function."""
    return x + y


def test_renamed_calls_the_new_function_and_warns_at_the_call_site():
    old = renamed(new, "pkg.old", "pkg.new")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert old(1, y=2) == 3
    assert len(caught) == 1 and caught[0].category is DeprecationWarning
    assert caught[0].filename == __file__  # the caller's line, not the library's
    assert str(caught[0].message) == "pkg.old is now pkg.new; the old name goes in the next release"
    assert old.__name__ == "new" and "pkg.new" in old.__doc__


def test_moved_names_resolve_lazily_and_unknown_names_still_fail():
    getattr_ = moved("pkg.old", {"dumps": "json:dumps"})
    with pytest.warns(DeprecationWarning, match="pkg.old.dumps is now json.dumps"):
        import json

        assert getattr_("dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'pkg.old' has no attribute 'loads'"):
        getattr_("loads")
