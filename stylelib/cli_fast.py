"""``stylelib train`` and ``stylelib stylize``: fast style transfer (Johnson et al. 2016)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``stylize`` subcommands to the ``stylelib`` parser."""
