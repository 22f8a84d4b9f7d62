"""``stylelib adain`` and ``stylelib train-adain``: arbitrary style (Huang & Belongie 2017).

``adain`` stylises a photo (or a folder of them) with any painting in one forward pass: the
AdaIN layer of :mod:`stylelib.adain` between the VGG-19 encoder and a trained decoder. Several
styles are mixed with ``--style-weights``, ``--alpha`` trades content for style (Eq. 14),
``--preserve-color`` keeps the photo's colours. ``train-adain`` trains that decoder on a
folder of photos and a folder of paintings. The conventions are ``stylize``'s and ``train``'s
(:mod:`stylelib.johnson.cli`): outputs never replace inputs or existing files without
``--overwrite``, ``--resume``, torchrun, one line and exit status 2 for bad input::

    stylelib adain photo.jpg painting.jpg -o out.png --alpha 0.8
    stylelib adain photo.jpg a.jpg b.jpg --style-weights 1 3 -o mix.png
    stylelib train-adain --content coco/train2014 --styles wikiart/train -o decoder.pth

Without ``--decoder``/``--encoder``, the authors' files are used when installed
(``stylelib models fetch adain-decoder``, then ``adain-vgg``; :mod:`stylelib.catalogue`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def _network_files(args: argparse.Namespace):
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
    from stylelib.adain.layer import _check_alpha
    from stylelib.blend import blend_weights

    _check_alpha(args.alpha)
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
    styles, style_folders = expand_inputs(args.styles)
    if style_folders:
        raise ImageError(
            "STYLE must name image files, not a folder: several styles are mixed into one "
            "picture (--style-weights)"
        )
    several = len(contents) > 1 or bool(from_folders)
    if Path(args.output).expanduser().is_file():  # a style is an input too: never replaced
        check_output_path(args.output, inputs=[*contents, *styles], overwrite=True)
    outputs = plan_outputs(contents, args.output, several, args.overwrite)
    decoder, encoder = _network_files(args)
    device = pick_device(args.device)
    net = load_network(decoder, encoder, device=device)
    with output_folder(outputs):  # only now that the network has loaded
        return _stylize_all(args, net, device, contents, styles, outputs, from_folders)


def _stylize_all(args, net, device, contents, styles, outputs, from_folders) -> int:
    """Stylise each content image; print one line each and a summary."""
    from stylelib.adain.networks import stylize
    from stylelib.images import load_image

    style_images = [load_image(p, size=args.style_size) for p in styles]
    done, total = apply_each(
        lambda image: stylize(
            net,
            image,
            style_images,
            alpha=args.alpha,
            style_weights=args.style_weights,
            preserve_color=args.preserve_color,
        ),
        contents,
        outputs,
        from_folders,
        size=args.size,
        device=device,
        overwrite=args.overwrite,
        protected=styles,
    )
    what = (
        f"stylized {done} image(s) with {len(styles)} style(s), alpha {args.alpha:g}, on {device}"
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
        "styles", nargs="+", metavar="STYLE", help="a painting; several are mixed (Sec. 7.3)"
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
