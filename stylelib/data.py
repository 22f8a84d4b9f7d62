"""Images to practise on: built-in photos, procedural styles and a catalogue of classic artworks.

Three sources, all returned as stylelib images (float32 ``(1, 3, H, W)`` in ``[0, 1]``):

- :func:`content_image`: photos bundled with scikit-image (no download), credited in
  :data:`CONTENT_CREDITS`.
- :func:`procedural_style`: style images this project draws itself with numpy, deterministic
  from a seed (``data/make_styles.py`` saves them to ``data/styles/``).
- :func:`artwork`: the classic paintings of the style-transfer papers, listed in
  :data:`ARTWORKS` with title, artist, year, licence and public address, fetched once from
  Wikimedia Commons into :func:`cache_folder`, or read from an offline mirror folder named by
  ``$STYLELIB_DATA_DIR``.

:func:`resolve_image` turns what a user typed (a file path or any of these names) into an image.

Example:
    >>> from stylelib.data import content_image, procedural_style
    >>> content_image("chelsea", size=64).shape
    torch.Size([1, 3, 43, 64])
    >>> procedural_style("mosaic", size=64, seed=0).shape
    torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch
import torch

from stylelib.downloads import DownloadError, download
from stylelib.errors import ImageError, OutputError, StylelibError
from stylelib.images import MAX_PIXELS, MIN_SIDE, ImageSource, load_image, save_image

DATA_DIR_ENV = "STYLELIB_DATA_DIR"  # an offline mirror: a folder holding Artwork.filename files
CACHE_ENV = "STYLELIB_CACHE"  # where downloaded artworks are kept (default: pooch.os_cache)


class DataUnavailable(StylelibError):
    """An artwork that is neither in the mirror nor in the cache, and could not be downloaded."""


def _check_name(name: object, names: tuple[str, ...] | dict, what: str) -> None:
    """Raise an ImageError listing ``names`` unless ``name`` is one of them."""
    if not isinstance(name, str) or name not in names:
        raise ImageError(f"unknown {what} {name!r}; expected one of: {', '.join(names)}")


# --------------------------------------------------------------------------- content photos

CONTENT_IMAGES = ("chelsea", "astronaut", "coffee", "rocket")
# From the docstrings of skimage.data.<name> (scikit-image 0.26), which bundles the files.
CONTENT_CREDITS = {
    "chelsea": "Chelsea the cat; photo by Stefan van der Walt, CC0 (scikit-image sample)",
    "astronaut": "Astronaut Eileen Collins; NASA photo, public domain (scikit-image sample)",
    "coffee": "Coffee cup at Pikolo Espresso Bar; photo by Rachel Michetti, CC0 "
    "(scikit-image sample)",
    "rocket": "Launch of DSCOVR on a Falcon 9; photo by SpaceX, public domain "
    "(scikit-image sample)",
}


def content_image(name: str = "chelsea", size: int | None = None) -> torch.Tensor:
    """A photo bundled with scikit-image, as a stylelib image (no download needed).

    Args:
        name: one of :data:`CONTENT_IMAGES` (credits in :data:`CONTENT_CREDITS`).
        size: long side in px (>= 32), or None for the original size (300 to 640 px).

    Returns:
        Float32 tensor ``(1, 3, H, W)`` in ``[0, 1]``.

    Example:
        >>> content_image("astronaut", size=128).shape
        torch.Size([1, 3, 128, 128])
    """
    import skimage.data  # imported here: only this function needs it

    _check_name(name, CONTENT_IMAGES, "content image")
    return load_image(getattr(skimage.data, name)(), size=size)


# --------------------------------------------------------------------------- procedural styles


def sample_photos(folder: str | os.PathLike, size: int = 256) -> list[Path]:
    """Write the built-in photos (and their mirror images) to ``folder`` as a training set.

    Eight PNGs with long side ``size``: enough for a few minutes of Johnson-style training in
    a lesson; real training uses COCO's 83,000 photos. Existing files are left alone.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in CONTENT_IMAGES:
        image = content_image(name, size=size)
        for suffix, picture in (("", image), ("-mirrored", image.flip(-1))):
            path = folder / f"{name}{suffix}.png"
            if not path.exists():
                save_image(picture, path)
            paths.append(path)
    return paths


def _palette(*hex_colours: str) -> np.ndarray:
    """``"#rrggbb"`` strings as an ``(N, 3)`` float array in [0, 1]."""
    return np.array([[int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)] for h in hex_colours])


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres as ``(y, x)`` arrays in [0, 1): features are drawn in these units, so
    a larger ``size`` draws the same picture with more pixels."""
    t = (np.arange(size) + 0.5) / size
    return np.meshgrid(t, t, indexing="ij")


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 below ``edge0``, 1 above ``edge1``, a smooth ramp between (antialiased edges)."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _mosaic(size: int, rng: np.random.Generator) -> np.ndarray:
    """Stained glass: Voronoi cells in bold glass colours, shaded, with dark lead lines."""
    k = 8  # an 8 x 8 grid of jittered seeds: even cells, no slivers
    gy, gx = np.divmod(np.arange(k * k), k)
    seeds = (np.stack([gy, gx], axis=1) + 0.5 + rng.uniform(-0.4, 0.4, (k * k, 2))) / k
    glass = _palette(
        "#b3122e", "#1d3f9e", "#1f7a3a", "#e8a317", "#6a2c8e", "#129b9b", "#e2601b", "#f2d16b"
    )
    colour = glass[rng.integers(len(glass), size=k * k)] * rng.uniform(0.8, 1.1, (k * k, 1))
    grain = rng.uniform(0, np.pi, k * k)  # direction of the streaks in each pane
    y, x = _grid(size)
    d1 = np.full((size, size), np.inf)  # squared distance to the nearest seed...
    d2 = np.full((size, size), np.inf)  # ...and to the second nearest
    label = np.zeros((size, size), dtype=np.intp)
    for i, (sy, sx) in enumerate(seeds):
        d = (y - sy) ** 2 + (x - sx) ** 2
        closer = d < d1
        d2 = np.where(closer, d1, np.minimum(d2, d))
        d1 = np.where(closer, d, d1)
        label[closer] = i
    r1, gap = np.sqrt(d1), np.sqrt(d2) - np.sqrt(d1)  # gap ~ 0 on a border between panes
    lead = _smoothstep(0.008, 0.016, gap)[..., None]  # 0 on the lead lines (~3 px at 256)
    rel = r1 / (r1 + gap / 2)  # 0 at the pane's seed, 1 at its border
    angle = grain[label]
    streak = 0.08 * np.sin(90 * (x * np.cos(angle) + y * np.sin(angle)))
    pane = colour[label] * (1.08 - 0.35 * rel + streak)[..., None]
    return pane * lead + _palette("#121010")[0] * (1 - lead)


def _waves(size: int, rng: np.random.Generator) -> np.ndarray:
    """Hokusai-like swirling bands: sinusoid bands in a warped plane, cream crests, ink edges."""
    y, x = _grid(size)
    u, v = x, y
    for _ in range(3):  # domain warping: rotate the plane around three vortices
        cy, cx = rng.uniform(0.1, 0.9, 2)
        turn = rng.uniform(2.5, 4.5) * rng.choice([-1, 1])  # radians at the vortex centre
        radius = rng.uniform(0.15, 0.3)
        dy, dx = v - cy, u - cx
        theta = turn * np.exp(-(dx * dx + dy * dy) / radius**2)
        c, s = np.cos(theta), np.sin(theta)
        u, v = cx + c * dx - s * dy, cy + s * dx + c * dy
    phase = rng.uniform(0, 2 * np.pi, 3)
    height = (
        7 * v  # seven bands from top to bottom, bent by the sums of sinusoids below
        + 0.9 * np.sin(2 * np.pi * 1.3 * u + phase[0])
        + 0.45 * np.sin(2 * np.pi * (3.1 * u + 1.7 * v) + phase[1])
        + 0.15 * np.sin(2 * np.pi * (9 * u - 4 * v) + phase[2])
    )
    t = height - np.floor(height)  # 0 -> 1 across each band: deep water up to foam
    ramp = _palette("#0b1e3f", "#1b3f73", "#3f6fa3", "#a9c6d6", "#f4efe0")
    pos = t * (len(ramp) - 1)
    k = np.minimum(pos.astype(np.intp), len(ramp) - 2)
    f = (pos - k)[..., None]
    water = ramp[k] * (1 - f) + ramp[k + 1] * f
    ink = _smoothstep(0.0, 0.05, t) * (1 - _smoothstep(0.97, 1.0, t))  # dark outline per band
    return water * (0.25 + 0.75 * ink)[..., None]


def _strokes(size: int, rng: np.random.Generator) -> np.ndarray:
    """Short brush strokes with bristle marks, following a smooth flow field, on ochre canvas."""
    y, x = _grid(size)
    canvas = np.broadcast_to(_palette("#c9b48a")[0], (size, size, 3)).copy()
    paints = _palette(
        "#1c3f94", "#2e6fc0", "#f2c230", "#e8e0c8", "#d9482b", "#2f7a4d", "#8a4b2a", "#0f1f3a"
    )
    n = 1600
    phase = rng.uniform(0, 2 * np.pi, 4)
    cy, cx = rng.random(n), rng.random(n)
    length, width = rng.uniform(0.05, 0.1, n), rng.uniform(0.008, 0.015, n)
    angle = (  # the flow field, with a little hand-shake per stroke
        0.9 * np.sin(2 * np.pi * (0.8 * cx + 0.5 * cy) + phase[0])
        + 0.6 * np.sin(2 * np.pi * (1.1 * cy - 0.6 * cx) + phase[1])
        + rng.normal(0, 0.1, n)
    )
    # colours come in patches (a slow field picks the paint), with 12% strays from anywhere
    region = 0.5 + 0.5 * np.sin(2 * np.pi * (1.1 * cx + 0.4 * cy) + phase[2]) * np.sin(
        2 * np.pi * 0.9 * cy + phase[3]
    )
    pick = np.minimum((region * len(paints)).astype(np.intp), len(paints) - 1)
    pick = np.where(rng.random(n) < 0.12, rng.integers(len(paints), size=n), pick)
    colour = np.clip(paints[pick] * rng.uniform(0.85, 1.15, (n, 1)), 0, 1)
    bristle = rng.uniform(0, 2 * np.pi, n)
    for i in range(n):  # each stroke touches only its bounding box: fast at any size
        reach = length[i] / 2 + width[i]
        y0, y1 = max(int((cy[i] - reach) * size), 0), min(int((cy[i] + reach) * size) + 2, size)
        x0, x1 = max(int((cx[i] - reach) * size), 0), min(int((cx[i] + reach) * size) + 2, size)
        dy, dx = y[y0:y1, x0:x1] - cy[i], x[y0:y1, x0:x1] - cx[i]
        c, s = np.cos(angle[i]), np.sin(angle[i])
        along, across = dx * c + dy * s, dy * c - dx * s
        half = length[i] / 2
        dist = np.hypot(along - np.clip(along, -half, half), across)  # to the stroke's spine
        alpha = (1 - _smoothstep(0.6 * width[i], width[i], dist))[..., None]
        marks = 1 + 0.12 * np.sin(9 * across / width[i] + bristle[i])  # bristle grooves
        paint = np.clip(colour[i] * marks[..., None], 0, 1)
        patch = canvas[y0:y1, x0:x1]
        patch += alpha * (paint - patch)
    return canvas


def _dots(size: int, rng: np.random.Generator) -> np.ndarray:
    """Pointillism: a sunny landscape painted in round dots, with pure-colour accents."""
    y, x = _grid(size)
    phase = rng.uniform(0, 2 * np.pi)
    horizon = 0.45 + 0.05 * np.sin(2 * np.pi * 1.5 * x + phase)
    sky = _palette("#6fa8dc")[0] * (1 - y[..., None]) + _palette("#f6d7a7")[0] * y[..., None]
    field = _palette("#3f8f3a")[0] * (1 - y[..., None]) + _palette("#d9b43a")[0] * y[..., None]
    land = _smoothstep(-0.01, 0.01, y - horizon)[..., None]
    scene = sky * (1 - land) + field * land
    sun_y, sun_x = rng.uniform(0.12, 0.3), rng.uniform(0.2, 0.8)
    sun = (1 - _smoothstep(0.07, 0.09, np.hypot(y - sun_y, x - sun_x)))[..., None]
    scene = scene * (1 - sun) + _palette("#ffe14d")[0] * sun
    out = np.broadcast_to(_palette("#f3ecd8")[0], (size, size, 3)).copy()  # bare canvas
    accents = _palette("#e8553d", "#3d5ce8", "#f2e24b", "#8a3dd6", "#2fb36b")
    g = 1 / 40  # grid cell; one dot per cell per layer, so each pixel sees one dot per layer
    cells = int(np.ceil(1 / g)) + 1
    for _ in range(5):  # five shifted layers of dots cover the canvas
        off_y, off_x = rng.random(2) * g
        r = rng.uniform(0.28, 0.42, (cells, cells)) * g
        jit_y, jit_x = rng.random((cells, cells)), rng.random((cells, cells))
        is_accent = rng.random((cells, cells)) < 0.18
        accent = accents[rng.integers(len(accents), size=(cells, cells))]
        tint = rng.normal(0, 0.06, (cells, cells, 3))
        iy = np.floor((y + off_y) / g).astype(np.intp)
        ix = np.floor((x + off_x) / g).astype(np.intp)
        rad = r[iy, ix]
        dot_y = (iy + 0.5) * g - off_y + (jit_y[iy, ix] - 0.5) * (g - 2 * rad)  # dot stays in
        dot_x = (ix + 0.5) * g - off_x + (jit_x[iy, ix] - 0.5) * (g - 2 * rad)  # its cell
        row = np.clip((dot_y * size).astype(np.intp), 0, size - 1)
        col = np.clip((dot_x * size).astype(np.intp), 0, size - 1)
        under = scene[row, col]  # the scene's colour at the dot's centre
        colour = np.where(
            is_accent[iy, ix][..., None], 0.5 * under + 0.5 * accent[iy, ix], under + tint[iy, ix]
        )
        d = np.hypot(y - dot_y, x - dot_x)
        alpha = (1 - _smoothstep(rad - 0.6 / size, rad + 0.6 / size, d))[..., None]
        out = out * (1 - alpha) + np.clip(colour, 0, 1) * alpha
    return out


_STYLE_PAINTERS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "mosaic": _mosaic,
    "waves": _waves,
    "strokes": _strokes,
    "dots": _dots,
}
PROCEDURAL_STYLES = tuple(_STYLE_PAINTERS)


def procedural_style(name: str = "mosaic", size: int = 256, seed: int = 0) -> torch.Tensor:
    """A style image drawn by this project with numpy: strong texture, no licence to worry about.

    - ``"mosaic"``: stained glass, Voronoi panes in bold colours with dark lead lines;
    - ``"waves"``: Hokusai-like swirling bands, sinusoids in a domain-warped plane;
    - ``"strokes"``: short oriented brush strokes following a flow field;
    - ``"dots"``: a pointillist landscape of round dots.

    The same ``(name, size, seed)`` gives a bit-identical image on the same machine (NumPy's
    ``default_rng``; ``sin`` may differ in the last bit between CPUs). The random draws do not
    depend on ``size``, so a larger ``size`` draws the same picture with more pixels.

    Args:
        name: one of :data:`PROCEDURAL_STYLES`.
        size: side of the square image in px (an int >= 32, size² at most
            :data:`stylelib.images.MAX_PIXELS`).
        seed: a non-negative int; another seed gives another picture of the same kind.

    Returns:
        Float32 tensor ``(1, 3, size, size)`` in ``[0, 1]``.

    Example:
        >>> procedural_style("waves", size=128, seed=1).shape
        torch.Size([1, 3, 128, 128])
    """
    _check_name(name, PROCEDURAL_STYLES, "procedural style")
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_SIDE:
        raise ImageError(
            f"size must be an int >= {MIN_SIDE} (the side in px), got {size!r}; e.g. size=256"
        )
    if size**2 > MAX_PIXELS:  # numpy would allocate several float64 canvases of that size
        raise ImageError(
            f"size={size} would draw {size**2:,} px, over the {MAX_PIXELS:,} an image may hold "
            "(stylelib.images.MAX_PIXELS); e.g. size=256"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ImageError(f"seed must be a non-negative int, got {seed!r}; e.g. seed=0")
    rgb = np.clip(_STYLE_PAINTERS[name](size, np.random.default_rng(seed)), 0.0, 1.0)
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1).unsqueeze(0).contiguous()


# --------------------------------------------------------------------------- artworks


@dataclass(frozen=True)
class Artwork:
    """One classic image of the style-transfer literature, and where to get it.

    Attributes:
        key: short name used in code and on the command line (``"starry_night"``).
        title: the work's title.
        artist: who made it.
        year: when (a string: ``"c. 1810"``).
        licence: copyright status of the work and of the file.
        url: a 1024-px rendition on Wikimedia Commons (``Special:FilePath`` redirects to it).
        filename: the local file name, in the cache and in a ``$STYLELIB_DATA_DIR`` mirror.
        page: the public description page (author, source, licence in full).
        credit: the line to print beside the image.
        kind: ``"style"`` for paintings, ``"content"`` for the photo.
    """

    key: str
    title: str
    artist: str
    year: str
    licence: str
    url: str
    filename: str
    page: str
    credit: str
    kind: str = "style"


def _commons(
    key: str,
    commons_file: str,
    filename: str,
    title: str,
    artist: str,
    year: str,
    licence: str = "",
    credit: str = "",
    kind: str = "style",
) -> Artwork:
    """An Artwork whose file lives on Wikimedia Commons as ``File:<commons_file>``."""
    licence = licence or f"public domain ({artist} died more than 70 years ago)"
    return Artwork(
        key=key,
        title=title,
        artist=artist,
        year=year,
        licence=licence,
        url=f"https://commons.wikimedia.org/wiki/Special:FilePath/{commons_file}?width=1024",
        filename=filename,
        page=f"https://commons.wikimedia.org/wiki/File:{commons_file}",
        credit=credit or f"{artist}, {title} ({year}); {licence}; via Wikimedia Commons",
        kind=kind,
    )


ARTWORKS: dict[str, Artwork] = {
    a.key: a
    for a in (
        _commons(
            "starry_night",
            "Van_Gogh_-_Starry_Night_-_Google_Art_Project.jpg",
            "starry_night.jpg",
            "The Starry Night",
            "Vincent van Gogh",
            "1889",
        ),
        _commons(
            "the_scream",
            "Edvard_Munch,_1893,_The_Scream,_oil,_tempera_and_pastel_on_cardboard,"
            "_91_x_73_cm,_National_Gallery_of_Norway.jpg",
            "the_scream.jpg",
            "The Scream",
            "Edvard Munch",
            "1893",
        ),
        _commons(
            "shipwreck",
            "Shipwreck_turner.jpg",
            "shipwreck.jpg",
            "The Shipwreck of the Minotaur",
            "J. M. W. Turner",
            "c. 1810",
        ),
        _commons(
            "composition_vii",
            "Vassily_Kandinsky,_1913_-_Composition_7.jpg",
            "composition_vii.jpg",
            "Composition VII",
            "Wassily Kandinsky",
            "1913",
        ),
        _commons(
            "woman_with_hat",
            "Matisse-Woman-with-a-Hat.jpg",
            "woman-with-hat-matisse.jpg",
            "Woman with a Hat",
            "Henri Matisse",
            "1905",
            licence="public domain in the US (published before 1930) and, since 2025, in the "
            "EU (Matisse died in 1954); check the rules of your country",
        ),
        _commons(
            "great_wave",
            "The_Great_Wave_off_Kanagawa.jpg",
            "great_wave.jpg",
            "The Great Wave off Kanagawa",
            "Katsushika Hokusai",
            "c. 1831",
        ),
        _commons(
            "tubingen",
            "Tuebingen_Neckarfront.jpg",
            "tubingen.jpg",
            "Neckarfront in Tübingen (photo)",
            "Andreas Praefcke",
            "2003",
            licence="CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/): "
            "attribution required",
            credit="Neckarfront in Tübingen, photo by Andreas Praefcke, CC BY 3.0, "
            "via Wikimedia Commons (the content photo of Gatys et al. 2016)",
            kind="content",
        ),
    )
}


def cache_folder() -> Path:
    """Where downloaded artworks are kept: ``$STYLELIB_CACHE``, else pooch's per-user cache
    (``~/.cache/stylelib`` on Linux)."""
    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("stylelib")).expanduser()


def artwork_path(key: str, *, progress: bool = True) -> Path:
    """The local file of an artwork: from the mirror, else the cache, else downloaded once.

    1. If ``$STYLELIB_DATA_DIR`` names a folder holding ``Artwork.filename``, that file is
       returned as it is (never copied or changed).
    2. Otherwise the copy in :func:`cache_folder` is returned, if there is one.
    3. Otherwise the file is downloaded into the cache (:func:`stylelib.downloads.download`:
       atomic, with its timeout policy).

    Args:
        key: one of :data:`ARTWORKS`.
        progress: show a download progress bar.

    Returns:
        Path of a JPEG file.

    Raises:
        ImageError: unknown key.
        DataUnavailable: not in the mirror or the cache, and the download failed; the one-line
            message names the address, the cache folder and the two ways to fix it.
    """
    _check_name(key, ARTWORKS, "artwork")
    art = ARTWORKS[key]
    mirror = os.environ.get(DATA_DIR_ENV)
    if mirror and (Path(mirror).expanduser() / art.filename).is_file():
        return Path(mirror).expanduser() / art.filename
    folder = cache_folder()
    if (folder / art.filename).is_file():  # downloaded before
        return folder / art.filename
    try:
        # No hash: those of Wikimedia's renditions cannot be known offline (and Wikimedia may
        # re-render them), so the file is trusted as downloaded over HTTPS.
        return download(art.url, folder / art.filename, check=_check_picture, progress=progress)
    except (DownloadError, OutputError) as exc:
        raise DataUnavailable(_unavailable_message(art, folder, mirror, exc)) from None


def _check_picture(path: Path) -> None:
    """Refuse a download that is not an image (a web page instead of the painting)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DownloadError(f"the server sent something that is not an image ({exc})") from None


def _unavailable_message(art: Artwork, folder: Path, mirror: str | None, exc: Exception) -> str:
    """The one line that says what failed and both ways to get the file."""
    reason = exc.reason if isinstance(exc, DownloadError) else str(exc)
    missing = f"; {DATA_DIR_ENV}={mirror} has no {art.filename}" if mirror else ""
    return (
        f"artwork {art.key!r} ({art.title}) is not in the cache and could not be downloaded "
        f"from {art.url} ({reason}{missing}); either download it by hand and save it as "
        f"{folder / art.filename}, or set {DATA_DIR_ENV} to a folder that holds {art.filename}"
    )


def artwork(key: str, size: int | None = None) -> torch.Tensor:
    """A classic artwork from :data:`ARTWORKS` as a stylelib image (see :func:`artwork_path`).

    Args:
        key: e.g. ``"starry_night"``; ``list(ARTWORKS)`` has them all.
        size: long side in px (>= 32), or None for the file's size (about 1024 px).

    Returns:
        Float32 tensor ``(1, 3, H, W)`` in ``[0, 1]``.

    Raises:
        ImageError: unknown key, or a file that cannot be read.
        DataUnavailable: the file is neither local nor downloadable (one line, with fixes).

    Example:
        >>> artwork("starry_night", size=256).shape  # doctest: +SKIP
        torch.Size([1, 3, 203, 256])
    """
    return load_image(artwork_path(key), size=size)


# --------------------------------------------------------------------------- any of them


def image_names() -> dict[str, tuple[str, ...]]:
    """The built-in names :func:`resolve_image` knows, by group.

    Example:
        >>> image_names()["procedural"]
        ('mosaic', 'waves', 'strokes', 'dots')
    """
    return {"content": CONTENT_IMAGES, "procedural": PROCEDURAL_STYLES, "artworks": tuple(ARTWORKS)}


def resolve_image(spec: ImageSource, size: int | None = None) -> torch.Tensor:
    """Turn what a user gave into an image: a file path, or a built-in name.

    In order: an existing file is loaded with :func:`~stylelib.images.load_image`; a name in
    :data:`CONTENT_IMAGES`, :data:`PROCEDURAL_STYLES` or :data:`ARTWORKS` gives that image
    (procedural styles are drawn at ``size`` px, 256 if None, with seed 0); a PIL image,
    array or tensor goes to ``load_image`` too.

    Args:
        spec: a path, a built-in name (case and ``-``/``_`` do not matter), or image data.
        size: long side in px (>= 32), or None to keep the size.

    Returns:
        Float32 tensor ``(1, 3, H, W)`` in ``[0, 1]``.

    Raises:
        ImageError: neither a file nor a built-in name (the message lists the names).
        DataUnavailable: an artwork that is not local and cannot be downloaded.

    Example:
        >>> resolve_image("dots", size=64).shape
        torch.Size([1, 3, 64, 64])
    """
    if not isinstance(spec, (str, os.PathLike)):
        return load_image(spec, size=size)
    if Path(spec).expanduser().is_file():
        return load_image(spec, size=size)
    name = str(spec).strip().lower().replace("-", "_")
    if name in CONTENT_IMAGES:
        return content_image(name, size=size)
    if name in PROCEDURAL_STYLES:
        return procedural_style(name, size=256 if size is None else size)
    if name in ARTWORKS:
        return artwork(name, size=size)
    groups = "; ".join(f"{group}: {', '.join(names)}" for group, names in image_names().items())
    raise ImageError(
        f"{str(spec)!r} is neither a file nor a built-in name; built-in names: {groups}; "
        f"check the path (relative to {Path.cwd()}) or use one of these names"
    )
