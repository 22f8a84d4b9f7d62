"""Notebooks run under pytest --nbmake in quick mode: small images, few steps, same code."""

import os

os.environ.setdefault("STYLELIB_QUICK", "1")
