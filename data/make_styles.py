"""Render the procedural style images into ``data/styles/<name>.png``.

Run from anywhere, after ``pip install -e .``::

    python data/make_styles.py

Each style of :data:`stylelib.data.PROCEDURAL_STYLES` is drawn at 256 px with seed 0 and
saved atomically as a lossless PNG. ``tests/test_data.py`` checks that the committed files
equal a fresh rendering, so change a painter and you must run this script again.
"""

from __future__ import annotations

from pathlib import Path

from stylelib.data import PROCEDURAL_STYLES, procedural_style
from stylelib.images import save_image

SIZE = 256  # px; small enough for a quick lesson, large enough to show the texture
SEED = 0
OUT_DIR = Path(__file__).resolve().parent / "styles"


def main() -> None:
    OUT_DIR.mkdir(exist_ok=True)
    for name in PROCEDURAL_STYLES:
        path = save_image(procedural_style(name, size=SIZE, seed=SEED), OUT_DIR / f"{name}.png")
        print(f"{path}  {path.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
