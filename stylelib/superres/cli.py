"""``stylelib train-sr`` and ``stylelib upscale``: super-resolution (Johnson et al. 2016, Sec. 4).

``train-sr`` fits an :class:`~stylelib.superres.network.SRNet` (x4 or x8) to random patches of a
folder of photos and writes a checkpoint that says its factor; ``upscale`` runs that
checkpoint on images, one forward pass each. The conventions are ``train``'s and
``stylize``'s (:mod:`stylelib.johnson.cli`): ``--resume``, torchrun, one line and exit status 2
for bad input::

    stylelib train-sr --data coco/train2014 -o sr4.pth --factor 4 --loss feature
    stylelib upscale sr4.pth small.png -o large.png
"""

from __future__ import annotations

import argparse
import os
import sys

from stylelib.commands import (
    apply_each,
    expand_inputs,
    finish_training,
    output_folder,
    plan_outputs,
)

# --- stylelib train-sr ---------------------------------------------------------------------


def sr_config(args: argparse.Namespace):
    """The run's SRConfig: the paper's defaults (or, resuming, the checkpoint's settings) with
    every flag the user gave replaced in it."""
    from dataclasses import fields, replace

    from stylelib.checkpoints import config_from_checkpoint, load_checkpoint
    from stylelib.superres.config import CHECKPOINT as SR_CHECKPOINT
    from stylelib.superres.config import SRConfig

    if args.resume:
        base = config_from_checkpoint(
            load_checkpoint(args.resume, kind=SR_CHECKPOINT), SR_CHECKPOINT
        )
    else:
        base = SRConfig()
    names = {f.name for f in fields(SRConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return replace(base, **given)


def cmd_train_sr(args: argparse.Namespace) -> int:
    from stylelib.blocks import count_parameters
    from stylelib.superres.network import SRNet
    from stylelib.superres.train import train_sr

    config = sr_config(args)
    rank0 = os.environ.get("RANK", "0") == "0"
    if rank0:
        net = SRNet(config.factor, config.norm, config.upsample)
        lowres = config.image_size // config.factor
        loss = (
            f"feature loss at {config.feature_layer} of {config.arch} ({config.weights})"
            if config.loss == "feature"
            else "pixel loss (MSE)"
        )
        print(
            f"SRNet x{config.factor}: {count_parameters(net):,} parameters ({config.norm} norm, "
            f"{config.upsample} upsampling); {loss}; {config.steps:,} steps of "
            f"{config.batch_size} x {config.image_size}² patches from {lowres}² inputs",
            file=sys.stderr,
        )
    result = train_sr(
        args.data,
        config,
        args.output,
        resume=args.resume,
        overwrite=args.overwrite,
        tensorboard=args.tensorboard,
        progress=not args.quiet,
    )
    return finish_training(result, "stylelib train-sr", "stylelib upscale {path} IMAGE -o OUT.png")


def add_train_sr_arguments(p: argparse.ArgumentParser) -> None:
    """Flags named after SRConfig fields (dest), default None: SRConfig decides."""
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training photos")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pth", help="checkpoint file")
    g = p.add_argument_group("what to train (defaults: the paper, Sec. 4.2)")
    g.add_argument("--factor", type=int, metavar="4|8", help="upscaling factor (default 4)")
    g.add_argument(
        "--loss",
        choices=["feature", "pixel"],
        help="feature: relu2_2 of VGG-16 (the paper, default); pixel: the MSE baseline",
    )
    g.add_argument("--steps", type=int, help="Adam iterations (paper: 200000)")
    g.add_argument("--image-size", type=int, help="side of the high-resolution patches (288)")
    g.add_argument("--batch-size", type=int, help="global batch (paper: 4)")
    g.add_argument("--lr", type=float, help="Adam learning rate (paper: 1e-3)")
    g.add_argument("--weight", type=float, help="weight of the pixel or feature loss (1.0)")
    g.add_argument("--tv-weight", type=float, help="lambda_TV (default 1e-6)")
    g.add_argument("--blur-sigma", type=float, help="Gaussian blur before downsampling (1.0)")
    g.add_argument("--norm", choices=["batch", "instance"], help="batch (the paper) or instance")
    g.add_argument(
        "--upsample",
        choices=["transpose", "resize"],
        help="stride-1/2 convolutions (the paper) or resize-then-convolve",
    )
    g.add_argument("--weights", metavar="imagenet|random|PATH", help="loss network VGG16 weights")
    g.add_argument("--seed", type=int, help="seed of initialisation, data order and crops")
    g = p.add_argument_group("running")
    g.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    g.add_argument("--workers", type=int, help="data-loading processes (default 0)")
    g.add_argument("--checkpoint-every", type=int, metavar="N", help="save every N steps (1000)")
    g.add_argument("--resume", metavar="MODEL.pth", help="continue from this checkpoint")
    g.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
    g.add_argument("--overwrite", action="store_true", help="replace -o MODEL if it exists")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


# --- stylelib upscale ----------------------------------------------------------------------


def cmd_upscale(args: argparse.Namespace) -> int:
    import torch

    from stylelib.devices import pick_device
    from stylelib.superres.network import SRNet

    inputs, from_folders = expand_inputs(args.inputs)
    several = len(inputs) > 1 or bool(from_folders)
    outputs = plan_outputs(inputs, args.output, several, args.overwrite)
    device = pick_device(args.device)
    net = SRNet.from_checkpoint(args.model, map_location=device)
    if args.precision == "bf16":
        net = net.to(torch.bfloat16)
    with output_folder(outputs):  # only now that the model has loaded
        return _upscale_all(args, net, device, inputs, outputs, from_folders)


def _upscale_all(args, net, device, inputs, outputs, from_folders) -> int:
    """Upscale each input into its output (:func:`stylelib.commands.apply_each`); a summary."""
    from stylelib.superres.network import match_histograms, upscale_image

    def upscale(image):
        out = upscale_image(net, image)
        return match_histograms(out, image) if args.match_histogram else out

    done, total = apply_each(
        upscale,
        inputs,
        outputs,
        from_folders,
        size=args.size,
        device=device,
        overwrite=args.overwrite,
    )
    skipped = f"; {len(inputs) - done} unreadable skipped" if done < len(inputs) else ""
    print(
        f"upscaled {done} image(s) x{net.factor} on {device} in {total:.2f} s of network time "
        f"({total / done:.3f} s per image, {args.precision}){skipped}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train-sr`` and ``upscale`` subcommands to the ``stylelib`` parser."""
    p = sub.add_parser(
        "train-sr",
        help="super-resolution: train a x4 or x8 network (Johnson et al. 2016, Sec. 4)",
        description="Train a Johnson et al. 2016 super-resolution network on random patches of "
        "a folder of photos, with the feature (relu2_2 of VGG-16) or the pixel loss. Runs "
        "under torchrun for several processes.",
    )
    add_train_sr_arguments(p)
    p.set_defaults(func=cmd_train_sr)

    s = sub.add_parser(
        "upscale",
        help="super-resolution: enlarge images with a trained network",
        description="Upscale images x4 or x8 with a model from `stylelib train-sr`: one "
        "forward pass each.",
    )
    s.add_argument("model", help="a checkpoint written by `stylelib train-sr`")
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
        help="bf16: the network in bfloat16 (faster on CPUs with bf16 units)",
    )
    s.add_argument(
        "--match-histogram",
        action="store_true",
        help="match each output's colour histogram to its input's (the paper's post-processing)",
    )
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.set_defaults(func=cmd_upscale)
