"""``stylelib train`` and ``stylelib stylize``: fast style transfer (Johnson et al. 2016).

``train`` fits a :class:`~stylelib.johnson.network.TransformerNet` to one style on a folder of
photos and writes a checkpoint; ``stylize`` runs that checkpoint on images, one forward pass
each. Both report bad input as one line and exit status 2 (see :mod:`stylelib.cli`)::

    stylelib train mosaic --data coco/train2014 -o mosaic.pth
    torchrun --nproc_per_node 4 -m stylelib train mosaic --data coco/train2014 -o mosaic.pth
    stylelib stylize mosaic.pth photo.jpg -o photo-mosaic.png
    stylelib stylize candy photo.jpg -o out/

``stylize`` also reads the PyTorch examples' published networks (``candy.pth`` ...), by path
or, once installed (``stylelib models fetch candy``), by catalogue name.
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

PRESETS = ("johnson2016", "johnson2016-code")


def train_config(args: argparse.Namespace):
    """The run's JohnsonConfig: ``--preset`` (or, resuming without one, the checkpoint's
    settings) with every flag the user gave replaced in it."""
    from dataclasses import fields, replace

    from stylelib.checkpoints import config_from_checkpoint, load_checkpoint
    from stylelib.johnson.config import CHECKPOINT, JohnsonConfig
    from stylelib.presets import get as preset

    if args.preset is None and args.resume:
        base = config_from_checkpoint(load_checkpoint(args.resume, kind=CHECKPOINT), CHECKPOINT)
    else:
        base = preset(args.preset or "johnson2016")
    names = {f.name for f in fields(JohnsonConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return replace(base, **given)


def cmd_train(args: argparse.Namespace) -> int:
    from stylelib.johnson.train import train
    from stylelib.johnson.network import TransformerNet
    from stylelib.blocks import count_parameters

    config = train_config(args)
    rank0 = os.environ.get("RANK", "0") == "0"
    if rank0:
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
        resume=args.resume,
        overwrite=args.overwrite,
        tensorboard=args.tensorboard,
        progress=not args.quiet,
    )
    return finish_training(result, "stylelib train", "stylelib stylize {path} PHOTO -o OUT.png")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """Flags named after JohnsonConfig fields (dest), default None: the preset decides."""
    p.add_argument("style", help="style image: a file or a built-in name (mosaic, starry_night)")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training photos")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pth", help="checkpoint file")
    g = p.add_argument_group("what to train (defaults come from --preset)")
    g.add_argument(
        "--preset",
        choices=PRESETS,
        help="johnson2016: the paper (content relu2_2, the default); johnson2016-code: the "
        "authors' code (content relu3_3); with --resume, the checkpoint's settings",
    )
    g.add_argument("--steps", type=int, help="Adam iterations (paper: 40000)")
    g.add_argument("--image-size", type=int, help="side of the training crops (paper: 256)")
    g.add_argument("--batch-size", type=int, help="global batch (paper: 4)")
    g.add_argument("--style-size", type=int, help="long side of the style image (code: 256)")
    g.add_argument("--content-weight", type=float, help="lambda_c (code: 1.0)")
    g.add_argument("--style-weight", type=float, help="lambda_s (code: 5.0)")
    g.add_argument("--tv-weight", type=float, help="lambda_TV (paper: 1e-6 to 1e-4)")
    g.add_argument("--lr", type=float, help="Adam learning rate (paper: 1e-3)")
    g.add_argument(
        "--norm",
        dest="transformer_norm",
        choices=["instance", "batch"],
        help="instance (Ulyanov 2016, default) or batch (the paper)",
    )
    g.add_argument(
        "--upsample",
        choices=["resize", "transpose"],
        help="resize-then-conv (default, no checkerboard) or transposed conv (the paper)",
    )
    g.add_argument("--weights", metavar="imagenet|random|PATH", help="loss network VGG16 weights")
    g.add_argument("--seed", type=int, help="seed of initialisation, data order and crops")
    g = p.add_argument_group("running")
    g.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    g.add_argument("--workers", type=int, help="data-loading processes (default 0)")
    g.add_argument(
        "--checkpoint-every", type=int, metavar="N", help="save every N steps (code: 1000)"
    )
    g.add_argument("--resume", metavar="MODEL.pth", help="continue from this checkpoint")
    g.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
    g.add_argument("--overwrite", action="store_true", help="replace -o MODEL if it exists")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def model_file(spec: str) -> str | Path:
    """The model file ``spec`` names: a path as given, or an installed catalogue network.

    An existing file wins over a catalogue name; a name that is not installed, or that is
    not a fast-style network, is refused in one line saying how to get it.
    """
    from stylelib import catalogue
    # FIXME bare module models (models)

    if spec not in catalogue.MODELS or Path(spec).expanduser().exists():
        return spec  # the loader explains a missing or wrong file
    model = catalogue.entry(spec)
    if model.kind != "fast-style":
        raise catalogue.ModelError(
            f"{spec} is the {model.what}, not a fast-style network; choose one of "
            f"{', '.join(catalogue.FAST_STYLE)} or a model file"
        )
    found = catalogue.path(spec)
    if found is None:
        raise catalogue.ModelUnavailable(
            f"{spec} ({model.filename}) is not installed; run `stylelib models fetch {spec}`, "
            f"or `stylelib models install PATH/{model.filename}` for a copy brought by hand"
        )
    return found


def cmd_stylize(args: argparse.Namespace) -> int:
    import torch

    from stylelib.devices import pick_device
    from stylelib.johnson.network import TransformerNet

    model = model_file(args.model)
    inputs, from_folders = expand_inputs(args.inputs)
    several = len(inputs) > 1 or bool(from_folders)
    outputs = plan_outputs(inputs, args.output, several, args.overwrite)
    device = pick_device(args.device)
    # a checkpoint of `stylelib train` or a PyTorch examples network (load_transformer)
    net = TransformerNet.from_checkpoint(model, map_location=device)
    if args.precision == "bf16":
        net = net.to(torch.bfloat16)
    with output_folder(outputs):  # only now that the model has loaded
        return _stylize_all(args, net, device, inputs, outputs, from_folders)


def _stylize_all(args, net, device, inputs, outputs, from_folders) -> int:
    """Stylise each input into its output; print one line each and a summary."""
    from stylelib.johnson.network import stylize_image

    done, total = apply_each(
        lambda image: stylize_image(net, image),
        inputs,
        outputs,
        from_folders,
        size=args.size,
        device=device,
        overwrite=args.overwrite,
    )
    skipped = f"; {len(inputs) - done} unreadable skipped" if done < len(inputs) else ""
    print(
        f"stylized {done} image(s) on {device} in {total:.2f} s of network time "
        f"({total / done:.3f} s per image, {args.precision}){skipped}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``stylize`` subcommands to the ``stylelib`` parser."""
    p = sub.add_parser(
        "train",
        help="fast style transfer: train a network for one style (Johnson et al. 2016)",
        description="Train a Johnson et al. 2016 transform network on a folder of photos "
        "against a VGG16 perceptual loss. Runs under torchrun for several processes.",
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
        help="a checkpoint written by `stylelib train`, a PyTorch examples network (candy.pth), "
        "or the name of an installed one (candy; see `stylelib models list`)",
    )
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them")
    s.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file for one input; a folder (made if missing) for several, or when "
        "written with a trailing slash (out/)",
    )
    s.add_argument("--size", type=int, help="resize each input to this long side first")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="bf16: the network in bfloat16, about 2x faster on CPUs with bf16 units "
        "(pixels within ~0.03 of fp32)",
    )
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.set_defaults(func=cmd_stylize)
