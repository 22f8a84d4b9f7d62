"""Old names that still work for one release, with a warning that says where the name went.

>>> import warnings
>>> def transfer(x):
...     return x + 1
>>> stylize = renamed(transfer, "stylelib.optimize.stylize", "stylelib.optimize.transfer")
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     stylize(1)
2
>>> print(caught[0].message)
stylelib.optimize.stylize is now stylelib.optimize.transfer; the old name goes in the next release
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Mapping


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is now {new}; the old name goes in the next release",
        DeprecationWarning,
        stacklevel=3,
    )


def renamed(function: Callable, old: str, new: str) -> Callable:
    """``function`` under its old dotted name ``old``, warning once per call site."""

    @functools.wraps(function)
    def old_name(*args, **kwargs):
        _warn(old, new)
        return function(*args, **kwargs)

    old_name.__doc__ = f"Deprecated: use :func:`{new}`."
    return old_name


def moved(module: str, names: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for names that moved: ``{"old": "stylelib.new_module:new"}``.

    Use as ``__getattr__ = moved(__name__, {...})`` at the end of the old module.
    """

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target, _, attr = names[name].partition(":")
        _warn(f"{module}.{name}", f"{target}.{attr}")
        return getattr(importlib.import_module(target), attr)

    return __getattr__


__all__ = ["renamed", "moved"]
