"""Every method's presets in one registry: look one up by name, list them by method.

Each method keeps its presets beside its config (``stylelib.<method>.config.PRESETS``, every
value with its source, and ``PRESET_UNITS``: what the preset's loss weights assume about the
network). This module only gathers them, so that one function answers "which config is
``gatys2016``?" for the command line, the control panels and the lessons alike.

Example::

    >>> from dataclasses import replace
    >>> cfg = replace(get("gatys2016"), steps=100, size=256)
    >>> cfg.content_layers, cfg.pooling, cfg.normalize_network
    (('relu4_2',), 'avg', True)
    >>> names("johnson")
    ('johnson2016', 'johnson2016-code')
"""

from __future__ import annotations

from types import MappingProxyType

from stylelib.adain import config as adain
from stylelib.gatys import config as gatys
from stylelib.johnson import config as johnson
from stylelib.superres import config as superres

METHODS = MappingProxyType(
    {"gatys": gatys, "johnson": johnson, "superres": superres, "adain": adain}
)
PRESETS = MappingProxyType({n: c for m in METHODS.values() for n, c in m.PRESETS.items()})
UNITS = MappingProxyType({n: u for m in METHODS.values() for n, u in m.PRESET_UNITS.items()})


def get(name: str):
    """The preset called ``name``; vary it with ``dataclasses.replace``.

    An unknown name is one ValueError line listing the known ones.
    """
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


def names(method: str | None = None) -> tuple[str, ...]:
    """The presets of ``method`` (``"gatys"``, ``"johnson"``, ``"superres"``, ``"adain"``);
    all of them when ``method`` is None."""
    if method is None:
        return tuple(PRESETS)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    return tuple(METHODS[method].PRESETS)


def method_of(name: str) -> str:
    """The method whose preset ``name`` is (``"gatys2016"`` -> ``"gatys"``)."""
    get(name)
    return next(m for m, module in METHODS.items() if name in module.PRESETS)


__all__ = ["METHODS", "PRESETS", "UNITS", "get", "method_of", "names"]
