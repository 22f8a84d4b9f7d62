"""`stylelib train-sr` and `stylelib upscale` (under construction)."""

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``stylelib`` parser."""
