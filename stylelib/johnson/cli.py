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
import sys
from pathlib import Path

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
from stylelib.johnson.config import CHECKPOINT, PRESETS, JohnsonConfig
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


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """``STYLE --data DIR``, then a flag per JohnsonConfig field, default None: the preset
    decides (see :func:`stylelib.commands.add_training_flags`)."""
    p.add_argument("style", help="style image: a file or a built-in name (mosaic, starry_night)")
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
    not a fast-style network, is refused in one line saying how to get it.
    """
    from stylelib import catalogue

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
    what = f"stylized {done} image(s) on {device}"
    report_each(what, done, len(inputs), total, of=" of network time", note=f", {args.precision}")
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
    add_output(s, OUTPUTS_HELP)
    s.add_argument("--size", type=int, help="resize each input to this long side first")
    add_device(s)
    add_precision(
        s,
        "bf16: the network in bfloat16, about 2x faster on CPUs with bf16 units "
        "(pixels within ~0.03 of fp32)",
    )
    add_overwrite(s, "replace existing outputs")
    s.set_defaults(func=cmd_stylize)
