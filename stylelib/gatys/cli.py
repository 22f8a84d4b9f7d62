"""``stylelib transfer`` and ``stylelib demo``: Gatys et al.'s image optimisation from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from stylelib.errors import OutputError
from stylelib.files import atomic_write, check_distinct, check_target


def cmd_transfer(args: argparse.Namespace) -> int:
    from stylelib.gatys.config import GatysConfig

    config = config_from_args(args, GatysConfig)
    return run_transfer(args, config, args.content, args.styles)


def cmd_demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from stylelib import weights
    from stylelib.presets import get as preset

    source = args.weights or weights.best_available("vgg19")
    if source == "random":
        print(
            "stylelib: no pretrained VGG19 in the cache, so the demo runs on seeded random "
            "weights: expect a haze of the style's colours, not a painting "
            "(`stylelib weights status` says how to get them)",
            file=sys.stderr,
        )
    # The paper's preset from the content image, at alpha/beta = 1e-4 (Gatys et al. 2016,
    # Fig. 2 E-F; 1e-3 is the other ratio): within ~100 CPU steps the style shows.
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
    args.style_blend, args.init, args.save_every, args.log = None, None, 0, None
    print(
        f"demo: content '{DEMO_CONTENT}' (scikit-image), style '{DEMO_STYLE}' (made by "
        f"stylelib.data), {config.size} px, {config.steps} L-BFGS steps",
        file=sys.stderr,
    )
    return run_transfer(args, config, DEMO_CONTENT, [DEMO_STYLE])


DEMO_CONTENT, DEMO_STYLE = "chelsea", "mosaic"


def run_transfer(args: argparse.Namespace, config, content: str, styles: list[str]) -> int:
    """Check every output first, run :func:`stylelib.gatys.transfer.transfer`, save, report."""
    from stylelib.images import save_image
    from stylelib.gatys.transfer import transfer

    inputs = [s for s in (content, *styles, args.init) if s and Path(s).is_file()]
    out, log_path = check_transfer_outputs(args, config, inputs)
    init = args.init if args.init and args.init not in INIT_CHOICES else None
    with _jsonl_log(log_path, args.overwrite) as log:
        result = transfer(
            _image_arg(content),
            [_image_arg(s) for s in styles],
            config,
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
    return {"finished": 0, "stopped": 0, "interrupted": 130}.get(result.stopped, 1)


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

    from stylelib.gatys.transfer import _numbered

    steps = config.steps + (config.scales - 1) * (config.coarse_steps or config.steps)
    found = re.search(r"\.step(\d+)", path.name)
    step = int(found.group(1)) if found else 0
    return 0 < step <= steps and step % every == 0 and _numbered(out, step) == path


INIT_CHOICES = ("noise", "content", "style")


def _image_arg(spec: str):
    """A path stays a path (so it is never overwritten); anything else is a built-in name."""
    from stylelib.data import resolve_image

    return spec if Path(spec).exists() else resolve_image(spec)


def _fresh_name(path: Path) -> Path:
    """``path``, or ``name-1.png``, ``name-2.png`` ... : the demo never overwrites a file."""
    n, candidate = 0, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


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


def config_from_args(args: argparse.Namespace, kind):
    """The preset named by ``--preset`` with every flag the user gave replaced in it."""
    from dataclasses import fields, replace

    from stylelib.presets import get as preset
    from stylelib.config import with_style_layers

    config = preset(args.preset)
    if not isinstance(config, kind):
        raise ValueError(f"preset {args.preset!r} is not a {kind.__name__} preset")
    names = {f.name for f in fields(config)}
    changes = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if getattr(args, "network", None) is not None:
        changes["normalize_network"] = args.network == "normalized"
    if changes.get("init") not in (None, *INIT_CHOICES):
        del changes["init"]  # a path: passed to transfer as an image, not a config value
    if "style_layers" in changes and "style_layer_weights" not in changes:
        config = with_style_layers(config, changes["style_layers"])
    return replace(config, **changes)


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(n) for n in text.split(",") if n.strip())


def add_transfer_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``stylelib transfer``: every GatysConfig field, defaults from --preset."""
    g = p.add_argument_group("what to optimise (defaults come from --preset)")
    g.add_argument(
        "--preset",
        default="gatys2016",
        choices=["gatys2016", "gatys2016-code", "pytorch-tutorial"],
        help="gatys2016: the paper (relu4_2; relu1_1..relu5_1, the paper's conv4_2 ... after "
        "Caffe's in-place ReLU; normalised network, avg pooling, noise init); gatys2016-code: "
        "the authors' notebook (max pooling, content init, weights 1e3/N^2); "
        "pytorch-tutorial: the official PyTorch tutorial (raw torchvision weights, "
        "conv1_1..conv3_1, style weight 1e6)",
    )
    g.add_argument("--size", type=int, help="long side of the output in pixels (paper: 512)")
    g.add_argument("--steps", type=int, help="optimiser iterations per scale (paper code: 500)")
    g.add_argument("--optimizer", choices=["lbfgs", "adam"], help="L-BFGS (paper) or Adam")
    g.add_argument("--lr", type=float, help="step size (default 1 for L-BFGS, 0.02 for Adam)")
    g.add_argument("--content-weight", type=float, help="alpha, the weight of the content loss")
    g.add_argument("--style-weight", type=float, help="beta, the weight of the style loss")
    g.add_argument("--tv-weight", type=float, help="weight of the total-variation smoothing")
    g.add_argument("--tv-kind", choices=["squared", "l1", "isotropic"], help="TV definition")
    g.add_argument(
        "--content-layers", type=_names, metavar="L1,L2", help="content layers, e.g. relu4_2"
    )
    g.add_argument(
        "--style-layers",
        type=_names,
        metavar="L1,L2,...",
        help="style layers, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 (conv*: pre-ReLU)",
    )
    g.add_argument(
        "--style-layer-weights",
        type=_floats,
        metavar="W1,W2,...",
        help="one weight per style layer (default: equal, 1/L in the Gatys normalisation)",
    )
    g.add_argument(
        "--normalization",
        choices=["gatys", "johnson"],
        help="loss normalisation the weights refer to (see stylelib.losses)",
    )
    g.add_argument(
        "--gamma",
        type=float,
        help="subtract gamma * L_style(content, x), pushing away the photo's own style "
        "(try 1e-2 * beta)",
    )
    g.add_argument(
        "--init",
        metavar="noise|content|style|PATH",
        help="start from white noise (paper), the content, the style, or an image file",
    )
    g.add_argument("--seed", type=int, help="seed of the noise and of random weights")
    g = p.add_argument_group("styles and colour")
    g.add_argument(
        "--style-blend",
        type=_floats,
        metavar="W1,W2,...",
        help="one weight per style image (normalised to sum 1); default equal",
    )
    g.add_argument(
        "--style-scale",
        type=float,
        help="style image size relative to the output (e.g. 0.5 gives larger brush marks)",
    )
    g.add_argument(
        "--color",
        choices=["none", "luminance", "histogram", "linear"],
        help="keep the content's colours: luminance-only transfer, or recolour the "
        "style to the content's histogram / mean and covariance",
    )
    g.add_argument(
        "--scales",
        type=int,
        help="coarse-to-fine levels, each twice the size of the last (1 = off)",
    )
    g.add_argument(
        "--coarse-steps", type=int, help="steps at each coarser level (default: --steps)"
    )
    g = p.add_argument_group("network and machine")
    g.add_argument("--arch", choices=["vgg16", "vgg19"], help="loss network (paper: vgg19)")
    g.add_argument(
        "--weights",
        metavar="imagenet|caffe|gatys|random|PATH",
        help="VGG weights: torchvision's ImageNet file (default), Caffe's original VGG, the "
        "authors' normalised VGG-19, seeded random, or a file",
    )
    g.add_argument(
        "--network",
        choices=["normalized", "raw"],
        help="normalized: rescale every filter to mean activation 1, the paper's units "
        "(Gatys presets); raw: the weights as published (pytorch-tutorial)",
    )
    g.add_argument("--pooling", choices=["max", "avg"], help="max as trained, or avg (paper)")
    g.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    g.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        help="bf16 runs VGG under autocast (faster on recent CPUs and GPUs)",
    )
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
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT, its --save-every images and the --log file if they exist "
        "(never an input)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``transfer`` and ``demo`` to the ``stylelib`` command."""
    p = sub.add_parser(
        "transfer",
        help="Gatys style transfer: optimise an image",
        description="Gatys et al. 2016 style transfer. CONTENT and STYLE are image "
        "files or built-in names (chelsea, astronaut, mosaic, starry_night, ...).",
    )
    p.add_argument("content", help="content image: a file or a built-in name")
    p.add_argument("styles", nargs="+", metavar="STYLE", help="one or more style images")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    add_transfer_arguments(p)
    p.set_defaults(func=cmd_transfer)

    p = sub.add_parser("demo", help="the main job on built-in images, about a minute on a CPU")
    p.add_argument(
        "-o", "--output", help="output image (default: ./stylelib-demo.png, never overwritten)"
    )
    p.add_argument("--size", type=int, default=256, help="long side in pixels (default 256)")
    p.add_argument("--steps", type=int, default=100, help="L-BFGS steps (default 100)")
    p.add_argument(
        "--weights", metavar="imagenet|random|PATH", help="default: imagenet if cached, else random"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace -o OUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
