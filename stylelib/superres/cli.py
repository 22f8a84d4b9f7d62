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
import sys

from stylelib.commands import (
    OUTPUTS_HELP,
    add_device,
    add_output,
    add_overwrite,
    add_precision,
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
from stylelib.superres.config import CHECKPOINT, SRConfig

# --- stylelib train-sr ---------------------------------------------------------------------


def sr_config(args: argparse.Namespace) -> SRConfig:
    """The run's SRConfig: the paper's x4 (or, resuming, the checkpoint's settings) with every
    flag the user gave replaced in it."""
    return config_from_args(args, resumed_or(args, CHECKPOINT, preset("johnson2016-sr4")))


def cmd_train_sr(args: argparse.Namespace) -> int:
    from stylelib.blocks import count_parameters
    from stylelib.superres.network import SRNet
    from stylelib.superres.train import train_sr

    config = sr_config(args)
    if is_rank0():
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
        **training_options(args),
    )
    return finish_training(result, "stylelib train-sr", "stylelib upscale {path} IMAGE -o OUT.png")


def add_train_sr_arguments(p: argparse.ArgumentParser) -> None:
    """``--data DIR``, then a flag per SRConfig field, default None: SRConfig decides (see
    :func:`stylelib.commands.add_training_flags`)."""
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training photos")
    add_training_flags(p, SRConfig, "what to train (defaults: the paper, Sec. 4.2)")


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
    what = f"upscaled {done} image(s) x{net.factor} on {device}"
    report_each(what, done, len(inputs), total, of=" of network time", note=f", {args.precision}")
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
    add_output(s, OUTPUTS_HELP)
    s.add_argument("--size", type=int, help="resize each input to this long side first")
    add_device(s)
    add_precision(s, "bf16: the network in bfloat16 (faster on CPUs with bf16 units)")
    s.add_argument(
        "--match-histogram",
        action="store_true",
        help="match each output's colour histogram to its input's (the paper's post-processing)",
    )
    add_overwrite(s, "replace existing outputs")
    s.set_defaults(func=cmd_upscale)
