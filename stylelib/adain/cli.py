"""``stylelib adain`` and ``stylelib train-adain``: arbitrary style (Huang & Belongie 2017).

``adain`` stylises a photo (or a folder of them) with any painting in one forward pass: the
AdaIN layer of :mod:`stylelib.adain` between the VGG-19 encoder and a trained decoder. Several
styles are mixed with ``--style-weights``, ``--alpha`` trades content for style (Eq. 14),
``--preserve-color`` keeps the photo's colours, ``--mask`` gives each region its own style
(Sec. 7.3, spatial control; :func:`stylelib.adain.networks.stylize` with ``regions=``).
``train-adain`` trains that decoder on a folder of photos and a folder of paintings. The
conventions are ``stylize``'s and ``train``'s (:mod:`stylelib.johnson.cli`): outputs never
replace inputs or existing files without ``--overwrite``, ``--resume``, torchrun, one line and
exit status 2 for bad input::

    stylelib adain photo.jpg painting.jpg -o out.png --alpha 0.8
    stylelib adain photo.jpg a.jpg b.jpg --style-weights 1 3 -o mix.png
    stylelib adain photo.jpg --mask sky.png:a.jpg --mask rest:b.jpg -o regions.png
    stylelib adain photo.jpg --mask top:a.jpg --mask rest:none -o sky-only.png
    stylelib train-adain --content coco/train2014 --styles wikiart/train -o decoder.pth

Without ``--decoder``/``--encoder``, the authors' files are used when installed
(``stylelib models fetch adain-decoder``, then ``adain-vgg``; :mod:`stylelib.catalogue`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

from stylelib.adain.config import CHECKPOINT, PRESETS, AdaINConfig
from stylelib.commands import (
    add_device,
    add_output,
    add_overwrite,
    add_training_flags,
    apply_each,
    config_from_args,
    expand_inputs,
    finish_training,
    is_rank0,
    output_folder,
    plan_outputs,
    report_each,
    resumed_or,
    training_options,
)
from stylelib.presets import get as preset

# --- stylelib adain -------------------------------------------------------------------------


def network_files(args: argparse.Namespace):
    """The decoder and encoder to load: the flags, else the installed published files."""
    from stylelib import catalogue
    from stylelib.errors import WeightsError

    decoder = args.decoder
    if decoder is None:
        decoder = catalogue.path("adain-decoder")
        if decoder is None:
            raise WeightsError(
                "no AdaIN decoder: pass --decoder FILE (the port's decoder.pth, or a model from "
                "`stylelib train-adain`), or install the published one with `stylelib models "
                "fetch adain-decoder`"
            )
    encoder = args.encoder
    if encoder is None:
        from stylelib.adain.networks import checkpoint_config

        if checkpoint_config(decoder) is None:  # the published decoder: the published encoder
            encoder = catalogue.path("adain-vgg") or "gatys"
    return decoder, encoder


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse a bad --alpha or --style-weights before any file is read."""
    from stylelib.adain.layer import check_alpha
    from stylelib.blend import blend_weights

    check_alpha(args.alpha)
    if args.masks and args.style_weights is not None:
        raise ValueError(
            "--style-weights mixes the styles everywhere and --mask gives each region its "
            "own style; use one of them"
        )
    if not args.masks and not args.styles:
        raise ValueError(
            "give a STYLE image, or regions with their styles: --mask MASK:STYLE (e.g. "
            "--mask top:painting.jpg --mask rest:none)"
        )
    if args.style_weights is not None:
        if len(args.styles) < 2:
            raise ValueError("--style-weights mixes several styles; give two or more STYLE images")
        blend_weights(args.style_weights, len(args.styles))


def cmd_adain(args: argparse.Namespace) -> int:
    from stylelib.adain.networks import load_network
    from stylelib.devices import pick_device
    from stylelib.errors import ImageError
    from stylelib.images import check_output_path

    _check_numbers(args)
    contents, from_folders = expand_inputs([args.content])
    regions = _regions(args)  # a bad --mask: one line, before any file is written
    styles, style_folders = expand_inputs(regions.styles if regions else args.styles)
    if style_folders:
        raise ImageError(
            "STYLE must name image files, not a folder: several styles are mixed into one "
            "picture (--style-weights)"
        )
    protected = [*styles, *(regions.files if regions else [])]  # never replaced
    several = len(contents) > 1 or bool(from_folders)
    if Path(args.output).expanduser().is_file():  # a style is an input too: never replaced
        check_output_path(args.output, inputs=[*contents, *protected], overwrite=True)
    outputs = plan_outputs(contents, args.output, several, args.overwrite)
    decoder, encoder = network_files(args)
    device = pick_device(args.device)
    net = load_network(decoder, encoder, device=device)
    with output_folder(outputs):  # only now that the network has loaded
        return _stylize_all(
            args, net, device, contents, styles, outputs, from_folders, regions, protected
        )


class _Regions(NamedTuple):
    """What the ``--mask`` flags say: each region's mask and style (an index into ``styles``,
    or None for the photo), the style files in order, and the mask files (never replaced)."""

    masks: list[str]
    keys: list[int | None]
    styles: list[str]
    files: list[Path]


def _regions(args: argparse.Namespace) -> _Regions | None:
    """The ``--mask MASK:STYLE`` flags, read and checked (None without them).

    A region's STYLE is one of the STYLE arguments (the same file) or another style file,
    which joins them; ``none`` keeps the photo there. Every STYLE argument must be some
    region's: a style no region names would be silently unused.
    """
    from stylelib.masks import BUILT_INS, load_mask, parse_mask_flag

    if not args.masks:
        return None
    styles, keys, masks, files = list(args.styles), [], [], []
    for text in args.masks:
        mask, style = parse_mask_flag(text)
        if mask.strip().lower() not in BUILT_INS or Path(mask).expanduser().exists():
            load_mask(mask, what=f"--mask {text!r}")  # missing or unreadable: said now
            files.append(Path(mask).expanduser())
        masks.append(mask)
        if style is None:
            keys.append(None)
            continue
        same = [i for i, s in enumerate(styles) if _same_file(s, style)]
        if not same:
            styles.append(style)
        keys.append(same[0] if same else len(styles) - 1)
    unused = [s for i, s in enumerate(styles) if i not in keys]
    if unused:
        raise ValueError(
            f"STYLE {unused[0]} is named by no --mask; with --mask each region names its style "
            f"(--mask MASK:{unused[0]}), so leave it out or give it a region"
        )
    return _Regions(masks, keys, styles, files)


def _same_file(a: str, b: str) -> bool:
    """Two names of one file (as given, or resolved)."""
    if a == b:
        return True
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def _stylize_all(
    args, net, device, contents, styles, outputs, from_folders, regions, protected
) -> int:
    """Stylise each content image; print one line each and a summary."""
    from stylelib.adain.networks import stylize
    from stylelib.images import load_image
    from stylelib.masks import region_masks

    style_images = [load_image(p, size=args.style_size) for p in styles]

    def one(image):
        if regions is None:
            return stylize(
                net,
                image,
                style_images,
                alpha=args.alpha,
                style_weights=args.style_weights,
                preserve_color=args.preserve_color,
            )
        return stylize(  # one style (None: the photo) and one soft weight per region
            net,
            image,
            [None if k is None else style_images[k] for k in regions.keys],
            alpha=args.alpha,
            regions=region_masks(regions.masks, tuple(image.shape[-2:])),
            preserve_color=args.preserve_color,
        )

    done, total = apply_each(
        one,
        contents,
        outputs,
        from_folders,
        size=args.size,
        device=device,
        overwrite=args.overwrite,
        protected=protected,
    )
    where = f" in {len(regions.masks)} regions" if regions else ""
    what = (
        f"stylized {done} image(s) with {len(styles)} style(s){where}, alpha {args.alpha:g}, "
        f"on {device}"
    )
    report_each(what, done, len(contents), total)
    return 0


# --- stylelib train-adain ----------------------------------------------------------------------


def adain_config(args: argparse.Namespace) -> AdaINConfig:
    """The run's AdaINConfig: ``--preset`` (or, resuming without one, the checkpoint's
    settings) with every flag the user gave replaced in it."""
    base = resumed_or(args, CHECKPOINT, preset(args.preset or "adain2017"))
    return config_from_args(args, base)


def cmd_train_adain(args: argparse.Namespace) -> int:
    from stylelib.adain.networks import Decoder
    from stylelib.adain.train import train_decoder

    config = adain_config(args)
    if is_rank0():
        params = sum(p.numel() for p in Decoder(seed=None).parameters())
        print(
            f"AdaIN decoder: {params:,} parameters; encoder VGG-19 to relu4_1 "
            f"({config.encoder}); lambda {config.style_weight:g} ({config.reduction} of the "
            f"style terms); {config.steps:,} steps of {config.batch_size} pairs of "
            f"{config.image_size}² crops",
            file=sys.stderr,
        )
    result = train_decoder(
        args.content,
        args.styles,
        config,
        args.output,
        **training_options(args),
    )
    return finish_training(
        result,
        "stylelib train-adain",
        "stylelib adain PHOTO PAINTING --decoder {path} -o OUT.png",
    )


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """``--content DIR --styles DIR``, then a flag per AdaINConfig field, default None: the
    preset decides (see :func:`stylelib.commands.add_training_flags`)."""
    p.add_argument("--content", required=True, metavar="DIR", help="folder of photos (MS-COCO)")
    p.add_argument("--styles", required=True, metavar="DIR", help="folder of paintings (WikiArt)")
    add_training_flags(
        p,
        AdaINConfig,
        "what to train (defaults come from --preset)",
        presets=PRESETS,
        preset_help="adain2017: lambda 10 on mean squares (the PyTorch port, default); "
        "adain2017-code: lambda 0.01 on summed squares (the authors' Torch code); with "
        "--resume, the checkpoint's settings",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``adain`` and ``train-adain`` subcommands to the ``stylelib`` parser."""
    s = sub.add_parser(
        "adain",
        help="arbitrary style: any painting in one forward pass (Huang and Belongie 2017)",
        description="Stylise a photo (or a folder of photos) with one or several paintings "
        "through the AdaIN layer and a trained decoder: one forward pass each, no training "
        "per style.",
    )
    s.add_argument("content", metavar="CONTENT", help="a photo, or a folder of photos")
    s.add_argument(
        "styles",
        nargs="*",
        metavar="STYLE",
        help="a painting; several are mixed (Sec. 7.3); with --mask, optional (the masks name "
        "their styles)",
    )
    add_output(s, "output file for one photo; a folder (made if missing) for a folder of photos")
    s.add_argument(
        "--style-weights",
        type=float,
        nargs="+",
        metavar="W",
        help="one weight per style for the mix, e.g. 1 3 (rescaled to sum to 1; default equal)",
    )
    s.add_argument(
        "--mask",
        dest="masks",
        action="append",
        metavar="MASK:STYLE",
        help="a region and its style, once per region (Sec. 7.3, spatial control): MASK an "
        "image file (white, or a transparent layer's paint, = the region) or top, bottom, "
        "left, right, centre, all, rest (what the other masks leave); STYLE a style image, "
        "or none to keep the photo there. Soft or overlapping masks are shared out per pixel; "
        "pixels no mask covers are refused (add --mask rest:none). Each feature cell (8 x 8 "
        "px) takes the style of the region holding most of it; a none region gets the "
        "photo's pixels back. Not with --style-weights",
    )
    s.add_argument(
        "--alpha",
        type=float,
        default=1.0,
        help="content-style trade-off from 0 (the photo) to 1 (full style, default), Eq. 14",
    )
    s.add_argument(
        "--decoder",
        metavar="FILE",
        help="the port's decoder.pth or a model from `stylelib train-adain` (default: the "
        "installed adain-decoder)",
    )
    s.add_argument(
        "--encoder",
        metavar="FILE|gatys|imagenet|random",
        help="the port's vgg_normalised.pth or VGG-19 weights (default: what the decoder was "
        "trained with; the installed adain-vgg for the published decoder)",
    )
    s.add_argument(
        "--preserve-color",
        action="store_true",
        help="recolour the styles to the photo's colours first (keeps the photo's colours)",
    )
    s.add_argument("--size", type=int, default=512, help="long side of the photo (512)")
    s.add_argument("--style-size", type=int, default=512, help="long side of the styles (512)")
    add_device(s)
    add_overwrite(s, "replace existing outputs")
    s.set_defaults(func=cmd_adain)

    t = sub.add_parser(
        "train-adain",
        help="arbitrary style: train the AdaIN decoder on photos and paintings",
        description="Train the decoder of Huang and Belongie 2017 on random crops of a folder "
        "of photos and a folder of paintings. Runs under torchrun for several processes.",
    )
    add_train_arguments(t)
    t.set_defaults(func=cmd_train_adain)
