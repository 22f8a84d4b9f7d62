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
import os
import sys
from pathlib import Path

from stylelib.commands import (
    apply_each,
    expand_inputs,
    finish_training,
    output_folder,
    plan_outputs,
)

# --- stylelib adain -------------------------------------------------------------------------


def _network_files(args: argparse.Namespace):
    """The decoder and encoder to load: the flags, else the installed published files."""
    from stylelib.adain.layer import models
    from stylelib.errors import WeightsError

    decoder = args.decoder
    if decoder is None:
        decoder = models.path("adain-decoder")
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
            encoder = models.path("adain-vgg") or "gatys"
    return decoder, encoder


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse a bad --alpha or --style-weights before any file is read."""
    from stylelib.adain.layer import _check_alpha, normalized_weights

    _check_alpha(args.alpha)
    if args.style_weights is not None:
        if len(args.styles) < 2:
            raise ValueError("--style-weights mixes several styles; give two or more STYLE images")
        normalized_weights(args.style_weights, len(args.styles))


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
    skipped = f"; {len(contents) - done} unreadable skipped" if done < len(contents) else ""
    print(
        f"stylized {done} image(s) with {len(styles)} style(s), alpha {args.alpha:g}, on "
        f"{device} in {total:.2f} s ({total / done:.3f} s per image){skipped}"
    )
    return 0


# --- stylelib train-adain ----------------------------------------------------------------------


def adain_config(args: argparse.Namespace):
    """The run's AdaINConfig: ``--preset`` (or, resuming without one, the checkpoint's
    settings) with every flag the user gave replaced in it."""
    from dataclasses import fields, replace

    from stylelib.adain.config import CHECKPOINT as ADAIN_CHECKPOINT
    from stylelib.adain.config import AdaINConfig
    from stylelib.checkpoints import config_from_checkpoint, load_checkpoint
    from stylelib.presets import get as preset

    if args.preset is None and args.resume:
        checkpoint = load_checkpoint(args.resume, kind=ADAIN_CHECKPOINT)
        base = config_from_checkpoint(checkpoint, ADAIN_CHECKPOINT)
    else:
        base = preset(args.preset or "adain2017")
    names = {f.name for f in fields(AdaINConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return replace(base, **given)


def cmd_train_adain(args: argparse.Namespace) -> int:
    from stylelib.adain.networks import Decoder
    from stylelib.adain.train import train_decoder

    config = adain_config(args)
    rank0 = os.environ.get("RANK", "0") == "0"
    if rank0:
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
        resume=args.resume,
        overwrite=args.overwrite,
        tensorboard=args.tensorboard,
        progress=not args.quiet,
    )
    return finish_training(
        result,
        "stylelib train-adain",
        "stylelib adain PHOTO PAINTING --decoder {path} -o OUT.png",
    )


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """Flags named after AdaINConfig fields (dest), default None: the preset decides."""
    p.add_argument("--content", required=True, metavar="DIR", help="folder of photos (MS-COCO)")
    p.add_argument("--styles", required=True, metavar="DIR", help="folder of paintings (WikiArt)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pth", help="checkpoint file")
    g = p.add_argument_group("what to train (defaults come from --preset)")
    g.add_argument(
        "--preset",
        choices=["adain2017", "adain2017-code"],
        help="adain2017: lambda 10 on mean squares (the PyTorch port, default); "
        "adain2017-code: lambda 0.01 on summed squares (the authors' Torch code); with "
        "--resume, the checkpoint's settings",
    )
    g.add_argument(
        "--encoder",
        metavar="gatys|imagenet|random|PATH",
        help="VGG-19 weights of the encoder, or the port's vgg_normalised.pth (default gatys)",
    )
    g.add_argument(
        "--no-normalize-encoder",
        dest="normalize_encoder",
        action="store_const",
        const=False,
        help="use the encoder's weights as they are (default: rescaled to mean activation 1, "
        "as the authors' normalised VGG-19; a no-op for gatys and their file)",
    )
    g.add_argument("--steps", type=int, help="Adam iterations (the codes: 160000)")
    g.add_argument("--image-size", type=int, help="side of the training crops (paper: 256)")
    g.add_argument("--load-size", type=int, help="smallest side before cropping (paper: 512)")
    g.add_argument("--batch-size", type=int, help="global batch of pairs (paper: 8)")
    g.add_argument("--style-weight", type=float, help="lambda of Eq. 11")
    g.add_argument("--content-weight", type=float, help="weight of L_c (1.0)")
    g.add_argument("--lr", type=float, help="Adam learning rate (the codes: 1e-4)")
    g.add_argument("--lr-decay", type=float, help="lr / (1 + decay * step) (the codes: 5e-5)")
    g.add_argument("--seed", type=int, help="seed of initialisation, data order and crops")
    g = p.add_argument_group("running")
    g.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    g.add_argument("--workers", type=int, help="data-loading processes (default 0)")
    g.add_argument("--checkpoint-every", type=int, metavar="N", help="save every N steps (10000)")
    g.add_argument("--resume", metavar="MODEL.pth", help="continue from this checkpoint")
    g.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
    g.add_argument("--overwrite", action="store_true", help="replace -o MODEL if it exists")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


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
    s.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file for one photo; a folder (made if missing) for a folder of photos",
    )
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
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.set_defaults(func=cmd_adain)

    t = sub.add_parser(
        "train-adain",
        help="arbitrary style: train the AdaIN decoder on photos and paintings",
        description="Train the decoder of Huang and Belongie 2017 on random crops of a folder "
        "of photos and a folder of paintings. Runs under torchrun for several processes.",
    )
    add_train_arguments(t)
    t.set_defaults(func=cmd_train_adain)
