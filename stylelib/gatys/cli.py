"""``stylelib transfer``: Gatys et al.'s image optimisation, run from the command line.

``stylelib demo`` (:mod:`stylelib.demo`) runs the same loop on built-in images through
:func:`run_transfer`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import typing
from pathlib import Path

from stylelib.commands import (
    add_config_flags,
    add_device,
    add_output,
    add_overwrite,
    add_preset,
    add_quiet,
    config_from_args,
    floats,
)
from stylelib.errors import OutputError
from stylelib.files import atomic_write, check_distinct, check_target
from stylelib.gatys.config import GatysConfig
from stylelib.presets import get as preset
from stylelib.presets import names

# --init's names (GatysConfig.init); anything else it is given is an image file
INIT_CHOICES = typing.get_args(typing.get_type_hints(GatysConfig)["init"])


def cmd_transfer(args: argparse.Namespace) -> int:
    check_styles_and_masks(args)
    if args.tile is not None or args.overlap is not None:
        return run_tiled(args, transfer_config(args), args.content, args.styles)
    return run_transfer(args, transfer_config(args), args.content, args.styles)


def run_tiled(args: argparse.Namespace, config, content: str, styles: list[str]) -> int:
    """``--tile``: :func:`stylelib.gatys.tiled.transfer_tiled`, the image in uint8 throughout.

    Its output has ``--size`` as its long side when given, else the content image's own size
    (the point of tiling); the optimiser is always Adam (L-BFGS's history would hold many
    copies of a large image)."""
    from stylelib.gatys.tiled import OVERLAP, transfer_tiled
    from stylelib.tiling import save_uint8

    unsupported = [
        flag
        for flag, given in (
            ("--tile", args.tile is None),
            ("no --mask", bool(args.masks)),
            ("no --save-every", args.save_every > 0),
            ("--optimizer adam", args.optimizer == "lbfgs"),
        )
        if given
    ]
    if unsupported:
        raise ValueError(
            f"tiled transfer needs {unsupported[0]} (--overlap goes with --tile PX; masks, "
            "step images and L-BFGS are not tiled)"
        )
    inputs, out, log_path, init = _prepare_run(args, config, (content, *styles))
    with _jsonl_log(log_path, args.overwrite) as log:
        result = transfer_tiled(
            _image_arg(content),
            [_image_arg(s) for s in styles],
            config,
            size=args.size,
            blend=args.style_blend,
            init=_image_arg(init) if init else None,
            tile=args.tile,
            overlap=OVERLAP if args.overlap is None else args.overlap,
            callback=log,
            progress=not args.quiet,
        )
        save_uint8(result.image, out, inputs=inputs, overwrite=args.overwrite)
    h, w = result.image.shape[:2]
    print(f"wrote {out} ({w} x {h}, in {args.tile} px windows); {result.message}")
    return exit_status(result.stopped)


def check_styles_and_masks(args: argparse.Namespace) -> None:
    """Positional STYLEs or ``--mask MASK:STYLE`` flags, never both; ``args.masks`` becomes
    ``[(mask, style or None), ...]`` and ``args.styles`` the styles of the masks."""
    from stylelib.masks import MaskError, parse_mask_flag

    flags = args.masks or []
    if not flags:
        if not args.styles:
            raise MaskError(
                "give at least one STYLE image (a file or a built-in name), or regions "
                "with --mask MASK:STYLE"
            )
        args.masks = None
        return
    if args.styles:
        raise MaskError(
            f"with --mask the styles come from the --mask flags (MASK:STYLE), so the "
            f"positional STYLE {args.styles[0]!r} has no region; drop it, or give it a "
            "region with --mask MASK:STYLE"
        )
    if args.style_blend is not None:
        raise MaskError(
            "--style-blend and --mask cannot go together: each --mask gives its region one "
            "style; drop --style-blend"
        )
    args.masks = [parse_mask_flag(flag) for flag in flags]
    args.styles = [style for _, style in args.masks]


def run_transfer(args: argparse.Namespace, config, content: str, styles: list[str]) -> int:
    """Check every output first, run :func:`stylelib.gatys.transfer.transfer`, save, report."""
    from stylelib.gatys.transfer import transfer
    from stylelib.images import save_image

    regions = getattr(args, "masks", None)  # [(mask, style or None)] from check_styles_and_masks
    masks = None if regions is None else [_mask_arg(m) for m, _ in regions]
    given = (content, *styles, *(m for m, _ in regions or []))
    inputs, out, log_path, init = _prepare_run(args, config, given)
    with _jsonl_log(log_path, args.overwrite) as log:
        result = transfer(
            _image_arg(content),
            [_image_arg(s) if s is not None else None for s in styles],
            config,
            masks=masks,
            blend=args.style_blend,
            init=_image_arg(init) if init else None,
            callback=log,
            save_every=args.save_every,  # transfer checks the step images before any work
            save_path=out,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
        save_image(result.image, out, inputs=inputs, overwrite=args.overwrite)
    h, w = result.image.shape[-2:]
    print(f"wrote {out} ({w} x {h}); {result.message}")
    return exit_status(result.stopped)


def exit_status(stopped: str) -> int:
    """A run's exit status from its result's ``stopped`` (stylelib.cli.EXIT_CODES): finished
    or stopped by a callback 0, diverged 1, interrupted 130."""
    return {"finished": 0, "stopped": 0, "interrupted": 130}.get(stopped, 1)


def _prepare_run(args: argparse.Namespace, config, given: tuple) -> tuple:
    """What both runs check before any work: ``(inputs, out, log or None, init image or
    None)``; ``inputs`` are the files among ``given`` and ``--start``, never overwritten."""
    inputs = [s for s in (*given, args.start) if s and Path(s).is_file()]
    out, log_path = check_transfer_outputs(args, config, inputs)
    init = args.start if args.start and args.start not in INIT_CHOICES else None
    return inputs, out, log_path, init


def check_transfer_outputs(args: argparse.Namespace, config, inputs: list[str]):
    """-o and --log, checked before any work: ``(out, log or None)``.

    They must name different files (the log not one of the ``--save-every`` images either),
    neither of them an input, nor an existing file unless ``--overwrite``. The step images
    themselves are checked by :func:`stylelib.gatys.transfer.transfer`, also before any work.
    """
    from stylelib.files import exists_message
    from stylelib.images import check_output_path

    out = check_output_path(args.output, inputs=inputs, overwrite=True)
    log = None
    if args.log:
        log = check_target(args.log, inputs=inputs, overwrite=True, example="losses.jsonl")
        check_distinct({"-o": out, "--log": log})
        if args.save_every > 0 and _is_step_image(log, out, args.save_every, config):
            raise OutputError(
                f"--log '{log}' is also a --save-every image; give the log its own name"
            )
    if not args.overwrite:
        for path in (out, log):
            if path is not None and os.path.lexists(path):
                raise OutputError(exists_message(path))
    return out, log


def _is_step_image(path: Path, out: Path, every: int, config) -> bool:
    """Whether ``--save-every EVERY`` will write an image at ``path``."""
    import re

    from stylelib.gatys.transfer import _numbered, level_steps

    steps = sum(level_steps(config))
    found = re.search(r"\.step(\d+)", path.name)
    step = int(found.group(1)) if found else 0
    return 0 < step <= steps and step % every == 0 and _numbered(out, step) == path


def _image_arg(spec: str):
    """A path stays a path (so it is never overwritten); anything else is a built-in name."""
    from stylelib.data import resolve_image

    return spec if Path(spec).exists() else resolve_image(spec)


def _mask_arg(spec: str) -> str | Path:
    """A mask file as a path (never overwritten), else the name for stylelib.masks."""
    return Path(spec) if Path(spec).expanduser().is_file() else spec


@contextlib.contextmanager
def _jsonl_log(target: Path | None, overwrite: bool):
    """A callback writing one JSON line per step to ``target`` (moved into place at the end)."""
    if target is None:
        yield None
        return
    with atomic_write(target, "w", encoding="utf-8", suffix=".part", overwrite=overwrite) as f:

        def write(step, image, record):
            f.write(json.dumps(record) + "\n")
            f.flush()

        yield write


def transfer_config(args: argparse.Namespace) -> GatysConfig:
    """The preset named by ``--preset`` with every flag the user gave replaced in it."""
    changes = {}
    if args.network is not None:
        changes["normalize_network"] = args.network == "normalized"
    if args.start in INIT_CHOICES:  # else a path, passed to transfer as an image
        changes["init"] = args.start
    return config_from_args(args, preset(args.preset), **changes)


# The fields whose flags say more than the field: --init also takes an image file, --network
# names normalize_network's two values. The others are made from GatysConfig, in these groups.
SKIP = ("init", "normalize_network")
STYLES = ("style_scale", "color", "scales", "coarse_steps")
MACHINE = ("arch", "weights", "pooling", "precision")


def add_transfer_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``stylelib transfer``: every GatysConfig field, defaults from --preset."""
    what = p.add_argument_group("what to optimise (defaults come from --preset)")
    add_preset(what, names("gatys"), PRESET_HELP, default="gatys2016")
    what.add_argument(
        "--init",
        dest="start",
        metavar="|".join((*INIT_CHOICES, "PATH")),
        help="start from white noise (paper), the content, the style, or an image file",
    )
    g = p.add_argument_group("styles and colour")
    g.add_argument(
        "--mask",
        dest="masks",
        action="append",
        metavar="MASK:STYLE",
        help="spatial control (Gatys et al. 2017): STYLE (a file, a built-in name, or none: "
        "the photo's content only) inside MASK (an image file, white or opaque = inside; or "
        "top, bottom, left, right, centre, all, rest = what the other masks leave). Repeat "
        "once per region, e.g. --mask sky.png:starry_night --mask rest:none; the styles then "
        "come from these flags only (no positional STYLE, no --style-blend). A mask of "
        "another size but the same aspect ratio is resized (with a warning); overlapping or "
        "soft masks are shared out to sum 1 per pixel; every pixel must be covered. "
        "--guide-mode says how masks reach each layer",
    )
    g.add_argument(
        "--style-blend",
        type=floats,
        metavar="W1,W2,...",
        help="one weight per style image (normalised to sum 1); default equal",
    )
    add_config_flags(g, GatysConfig, only=STYLES)
    g = p.add_argument_group("network and machine")
    add_config_flags(g, GatysConfig, only=MACHINE)
    g.add_argument(
        "--network",
        choices=["normalized", "raw"],
        help="normalized: rescale every filter to mean activation 1, the paper's units "
        "(Gatys presets); raw: the weights as published (pytorch-tutorial)",
    )
    add_device(g, default=None)
    g = p.add_argument_group("output")
    g.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also save the image every N steps as OUT.stepNNNNN.png",
    )
    g.add_argument(
        "--log", metavar="FILE.jsonl", help="write the losses of every step, one JSON per line"
    )
    add_overwrite(
        g, "replace OUT, its --save-every images and the --log file if they exist (never an input)"
    )
    add_quiet(g)
    g = p.add_argument_group("images larger than memory")
    g.add_argument(
        "--tile",
        type=int,
        metavar="PX",
        help="optimise in windows of PX x PX (e.g. 512), the Gram matrices summed over them "
        "and the windows moved every step; the output keeps the content's size unless --size "
        "is given; Adam, --steps steps; memory grows with PX², not the image",
    )
    g.add_argument(
        "--overlap", type=int, metavar="PX", help="with --tile: px of blend between windows"
    )
    add_config_flags(what, GatysConfig, skip=SKIP)  # every other field


PRESET_HELP = (
    "gatys2016: the paper (relu4_2; relu1_1..relu5_1, the paper's conv4_2 ... after Caffe's "
    "in-place ReLU; normalised network, avg pooling, noise init); gatys2016-code: the "
    "authors' notebook (max pooling, content init, weights 1e3/N^2); pytorch-tutorial: the "
    "official PyTorch tutorial (raw torchvision weights, conv1_1..conv3_1, style weight 1e6)"
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``transfer`` to the ``stylelib`` command."""
    p = sub.add_parser(
        "transfer",
        help="Gatys style transfer: optimise an image",
        description="Gatys et al. 2016 style transfer. CONTENT and STYLE are image "
        "files or built-in names (chelsea, astronaut, mosaic, starry_night, ...). With "
        "--mask MASK:STYLE (repeated), each region of the output gets its own style "
        "(Gatys et al. 2017) and no positional STYLE is given.",
    )
    p.add_argument("content", help="content image: a file or a built-in name")
    p.add_argument(
        "styles", nargs="*", metavar="STYLE", help="one or more style images (none with --mask)"
    )
    add_output(p, "output image (.png, .jpg, ...)")
    add_transfer_arguments(p)
    p.set_defaults(func=cmd_transfer)
