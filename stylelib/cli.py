"""The ``stylelib`` command: one subcommand per job, each a small function.

Run ``stylelib --help`` or ``stylelib SUBCOMMAND --help``. Every failure is one line on
stderr, ``stylelib: error: ...`` (``--debug`` shows the traceback instead), and the exit
status says which kind it was (:data:`EXIT_CODES`, also in ``stylelib --help``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from .errors import Diverged, OutputError, StylelibError, one_line
from .files import atomic_write, check_distinct, check_target

EXIT_CODES = {
    0: "success (also a run stopped by its callback)",
    1: "the work ran but failed: a run that diverged (NaN/Inf; a transfer still writes its "
    "last good image, training keeps its last checkpoint), `course build --check` finding "
    "stale notebooks, or an unexpected error, a bug or a broken environment rather than "
    "your input (--debug shows its traceback)",
    2: "bad input or usage: a file, flag or value was refused, before the work wherever it "
    "can be checked; no existing file was written over",
    130: "interrupted (Ctrl-C); a transfer still writes its best image so far",
}


def cmd_layers(args: argparse.Namespace) -> None:
    from .vgg import check_arch, format_layer_table, layer_table

    rows = layer_table(check_arch(args.arch), args.input_size, classifier=not args.features_only)
    print(
        f"{args.arch} at {args.input_size} x {args.input_size} x 3 "
        f"({'features only' if args.features_only else 'with the classifier'})"
    )
    print(format_layer_table(rows))


def cmd_diagram(args: argparse.Namespace) -> None:
    """Draw a network to SVG/PNG/PDF: the replacement of Caffe's draw_net.py."""
    from . import diagrams

    # a bad suffix or folder, or an existing file, fails before any drawing
    target = diagrams.check_diagram_path(args.output, overwrite=args.overwrite)
    name, size = args.name, args.input_size
    if name in ("vgg16", "vgg19"):
        if args.autograd:
            dot = diagrams.autograd_diagram(name, input_size=size or 32)
        else:
            dot = diagrams.vgg_diagram(name, size or 224, classifier=not args.no_classifier)
    else:
        if args.autograd or args.no_classifier:
            raise ValueError(f"--autograd and --no-classifier apply to vgg16/vgg19, not {name!r}")
        if name in ("resnet18", "googlenet"):
            import torchvision  # random weights: a diagram needs shapes, not ImageNet

            if name == "resnet18":
                model = torchvision.models.resnet18(weights=None)
            else:
                model = torchvision.models.googlenet(
                    weights=None, aux_logits=False, init_weights=False
                )
            title = f"{name} (torchvision, random weights)"
        elif name.endswith(".pth"):
            if not Path(name).is_file():
                raise OutputError(f"checkpoint '{name}' does not exist; check the path")
            from .transformer import TransformerNet

            model = TransformerNet.from_checkpoint(name)
            title, size = f"TransformerNet from {Path(name).name}", size or 256
        else:
            raise ValueError(
                f"unknown network {name!r}; choose vgg16, vgg19, resnet18, googlenet or a "
                "TransformerNet checkpoint (.pth)"
            )
        dot = diagrams.model_diagram(model, (1, 3, size or 224, size or 224), title=title)
    print(f"wrote {diagrams.save_diagram(dot, target, overwrite=args.overwrite)}")


def cmd_weights_status(args: argparse.Namespace) -> None:
    from . import netnorm, weights

    print(f"cache folder: {weights.cache_dir()}  (set TORCH_HOME to move it)")
    for row in weights.status():
        name = f"{row['source']} {row['arch']}"
        if row["file"]:
            loaded = weights.read_features_file(row["file"], row["arch"])
            print(f"{name}: ready  {row['file']}  ({row['size_mb']:.0f} MB; {row['origin']})")
            print(f"    input: {row['convention']}; {netnorm.describe_cached(loaded)}")
        else:
            print(
                f"{name}: missing  want {row['expected'].name} from {row['url']}; run "
                f"`stylelib weights fetch --source {row['source']} --arch {row['arch']}` "
                "or install a copied file"
            )


def cmd_weights_normalize(args: argparse.Namespace) -> None:
    from . import netnorm, weights

    loaded = weights.load(args.arch, args.weights, seed=args.seed)
    if loaded.normalized:
        print(f"{loaded.label}: normalised by its authors already; nothing to do")
        return
    calibration = netnorm.calibration_images(args.calibration, args.size)
    scales = netnorm.scales_for(loaded, calibration)
    print(f"{args.arch} ({loaded.label}), calibrated on {calibration.description}:")
    print(f"{'layer':<8} {'filters':>7} {'min':>10} {'median':>10} {'max':>10}  (mean activation)")
    for name, s in scales.items():
        print(
            f"{name:<8} {s.numel():>7} {s.min().item():>10.4g} {s.median().item():>10.4g} "
            f"{s.max().item():>10.4g}"
        )
    if loaded.key[0] == "random":
        print("random weights: scales are kept in memory only (each process calibrates)")
    else:
        print(f"wrote {netnorm.scales_path(loaded)}")


def cmd_weights_fetch(args: argparse.Namespace) -> None:
    from . import weights

    for arch in _archs(args.arch):
        path = weights.cached_file(arch, args.source)
        if path is None:
            path = weights.download(arch, args.source, timeout=args.timeout)
        print(f"{args.source} {arch}: {path}")


def cmd_weights_install(args: argparse.Namespace) -> None:
    from . import weights

    print(f"installed {weights.install(args.file)}")


def cmd_weights_export(args: argparse.Namespace) -> None:
    from . import weights

    path = weights.export(args.arch, args.output, overwrite=args.overwrite)
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB); on another machine run "
        f"`stylelib weights install {path.name}`"
    )


def cmd_models_list(args: argparse.Namespace) -> None:
    from . import models

    print(f"cache folder: {models.cache_dir()}  (set TORCH_HOME to move it)")
    for row in models.catalogue():
        state = f"ready  {row['path']}" if row["path"] else f"missing  ({row['size']})"
        print(f"{row['name']:<14} {row['what']}: {state}")
    print("get one: `stylelib models fetch NAME`, or `stylelib models install FILE` for a copy")


def cmd_models_fetch(args: argparse.Namespace) -> None:
    from . import models

    print(f"{args.name}: {models.fetch(args.name, timeout=args.timeout)}")


def cmd_models_install(args: argparse.Namespace) -> None:
    from . import models

    print(f"installed {models.install(args.file, args.name, overwrite=args.overwrite)}")


def cmd_transfer(args: argparse.Namespace) -> int:
    from .config import GatysConfig

    config = config_from_args(args, GatysConfig)
    return run_transfer(args, config, args.content, args.styles)


def cmd_demo(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from . import weights
    from .config import preset

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
    """Check every output first, run :func:`stylelib.optimize.transfer`, save, report."""
    from .images import save_image
    from .optimize import transfer

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
    themselves are checked by :func:`stylelib.optimize.transfer`, also before any work.
    """
    from .files import exists_message
    from .images import check_output_path

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

    from .optimize import _numbered

    steps = config.steps + (config.scales - 1) * (config.coarse_steps or config.steps)
    found = re.search(r"\.step(\d+)", path.name)
    step = int(found.group(1)) if found else 0
    return 0 < step <= steps and step % every == 0 and _numbered(out, step) == path


INIT_CHOICES = ("noise", "content", "style")


def _image_arg(spec: str):
    """A path stays a path (so it is never overwritten); anything else is a built-in name."""
    from .data import resolve_image

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

    from .config import preset, with_style_layers

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


def cmd_course_build(args: argparse.Namespace) -> int:
    from . import course

    lessons = Path(args.lessons) if args.lessons else course.LESSONS
    stale = course.build(lessons, check=args.check)
    if args.check:
        if stale:
            print(
                f"stylelib: error: out of date: {', '.join(stale)}; run `stylelib course build`",
                file=sys.stderr,
            )
            return 1
        print("student versions are up to date")
    else:
        changed = ", ".join(stale) or "none changed"
        print(f"wrote {len(stale)} student notebook(s) in {lessons}: {changed}")
    return 0


def _archs(choice: str) -> list[str]:
    return ["vgg16", "vgg19"] if choice == "all" else [choice]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylelib",
        description=__doc__.split("\n")[0],
        epilog=_exit_status_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("layers", help="table of VGG layer names, output shapes and parameters")
    p.add_argument("arch", choices=["vgg16", "vgg19"], help="which network")
    p.add_argument(
        "--input-size",
        type=int,
        default=224,
        metavar="N",
        help="side of the square RGB input in pixels (default 224; the VGG lab uses 300)",
    )
    p.add_argument(
        "--features-only",
        action="store_true",
        help="leave out the classifier (avgpool, fc6-fc8) that style transfer never uses",
    )
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser(
        "diagram",
        help="draw a network to .svg/.png/.pdf (needs Graphviz's `dot`)",
        description="Draw VGG by its layer names with shapes (vgg16, vgg19), its autograd "
        "graph (--autograd), any torchvision network traced with torch.fx (resnet18, "
        "googlenet; random weights, nothing downloaded) or a TransformerNet checkpoint.",
    )
    p.add_argument("name", metavar="NAME", help="vgg16, vgg19, resnet18, googlenet or FILE.pth")
    p.add_argument("-o", "--output", required=True, help="output file: .svg, .png or .pdf")
    p.add_argument(
        "--input-size",
        type=int,
        metavar="N",
        help="side of the square input (default 224; 32 with --autograd; the VGG lab uses 300)",
    )
    p.add_argument(
        "--autograd", action="store_true", help="vgg only: torchviz's autograd graph instead"
    )
    p.add_argument(
        "--no-classifier", action="store_true", help="vgg only: leave out avgpool and fc6-fc8"
    )
    p.add_argument("--overwrite", action="store_true", help="replace -o FILE if it exists")
    p.set_defaults(func=cmd_diagram)

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

    from . import cli_adain, cli_fast, cli_sr

    cli_fast.register(sub)  # train, stylize: fast style transfer (Johnson et al. 2016)
    cli_sr.register(sub)  # train-sr, upscale: super-resolution (Johnson et al. 2016, Sec. 4)
    cli_adain.register(sub)  # adain, train-adain: arbitrary style (Huang and Belongie 2017)

    c = sub.add_parser("course", help="instructors: build the student versions with nbgrader")
    csub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = csub.add_parser("build", help="generate lessons/NN_*.ipynb from lessons/instructor/source")
    s.add_argument("--check", action="store_true", help="only check they are up to date (CI)")
    s.add_argument("--lessons", help="the lessons folder (default: the one beside stylelib/)")
    s.set_defaults(func=cmd_course_build)

    w = sub.add_parser(
        "weights", help="pretrained VGG weights: status, fetch, install, normalize, export"
    )
    wsub = w.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = wsub.add_parser("status", help="which weights are in the cache and where")
    s.set_defaults(func=cmd_weights_status)
    s = wsub.add_parser("fetch", help="download published weights into the cache")
    s.add_argument("--arch", choices=["vgg16", "vgg19", "all"], default="vgg19")
    s.add_argument(
        "--source",
        choices=["imagenet", "caffe", "gatys"],
        default="imagenet",
        help="torchvision's file (default), Caffe's original VGG (the papers' network, "
        "converted by jcjohnson/pytorch-vgg), or the authors' normalised VGG-19 (vgg_conv.pth)",
    )
    s.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the server")
    s.set_defaults(func=cmd_weights_fetch)
    s = wsub.add_parser("install", help="check a .pth file copied by hand and put it in the cache")
    s.add_argument(
        "file",
        help="vgg19-dcbb9e9d.pth (torchvision), vgg19-d01eb7cb.pth (Caffe), vgg_conv.pth "
        "(the authors'), their VGG16 versions, or an exported file",
    )
    s.set_defaults(func=cmd_weights_install)
    s = wsub.add_parser(
        "normalize",
        help="rescale VGG so every filter's mean activation is 1 (Gatys et al. 2016, Sec. 2)",
        description="Measure every filter's mean rectified activation on a calibration set "
        "(the built-in photos, or --calibration DIR) and cache the scales beside the weights; "
        "Gatys transfers then use them (normalize_network=True).",
    )
    s.add_argument("--arch", choices=["vgg16", "vgg19"], default="vgg19")
    s.add_argument(
        "--weights", default="imagenet", metavar="imagenet|caffe|random|PATH", help="which weights"
    )
    s.add_argument("--calibration", metavar="DIR", help="a folder of images (default: built-in)")
    s.add_argument("--size", type=int, default=224, help="long side of the calibration images")
    s.add_argument("--seed", type=int, default=0, help="seed of random weights")
    s.set_defaults(func=cmd_weights_normalize)
    s = wsub.add_parser("export", help="write a features-only file (80 MB) for offline classrooms")
    s.add_argument("--arch", choices=["vgg16", "vgg19"], default="vgg19")
    s.add_argument("-o", "--output", help="output file (default: ./ARCH-features-HASH.pth)")
    s.add_argument("--overwrite", action="store_true", help="replace -o OUT if it exists")
    s.set_defaults(func=cmd_weights_export)

    m = sub.add_parser(
        "models", help="community model files (candy.pth, AdaIN, VGG): list, fetch, install"
    )
    msub = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = msub.add_parser("list", help="the catalogue, and which files are in the cache")
    s.set_defaults(func=cmd_models_list)
    s = msub.add_parser("fetch", help="download a catalogue file into the cache")
    s.add_argument("name", help="a name from `stylelib models list` (candy, adain-decoder ...)")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server")
    s.set_defaults(func=cmd_models_fetch)
    s = msub.add_parser("install", help="check a file copied by hand and put it in the cache")
    s.add_argument(
        "file", help="candy.pth, decoder.pth, vgg_conv.pth ... (recognised by structure)"
    )
    s.add_argument("--name", help="its catalogue name, if the file name does not say (candy ...)")
    s.add_argument("--overwrite", action="store_true", help="replace another installed copy")
    s.set_defaults(func=cmd_models_install)
    return parser


def _exit_status_help() -> str:
    """The exit codes, wrapped for ``stylelib --help``."""
    import textwrap

    lines = ["exit status (every error is one line on stderr; --debug shows the traceback):"]
    for code, meaning in EXIT_CODES.items():
        lines += textwrap.wrap(
            meaning, width=78, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7
        )
    return "\n".join(lines)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"stylelib: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``stylelib ARGV``; return the exit status (:data:`EXIT_CODES`)."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        code = args.func(args) or 0
    except KeyboardInterrupt:
        print("stylelib: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last resort: whatever happens, one line
        if args.debug:
            raise
        code, line = error_line(exc)
        print(f"stylelib: error: {line}", file=sys.stderr)
        return code
    return code


def error_line(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one line for an exception that ended a command.

    Ours (StylelibError), OSError and ValueError are about the input: 2 and their message; a
    diverged run: 1 and its message; anything else is unexpected: 1 and its type, its
    message and how to see more. An exception re-raised from a DataLoader worker carries
    the worker's traceback in its message: the line is the original exception's.
    """
    name, message = _unwrap_worker(exc)
    if isinstance(exc, Diverged):
        return 1, message
    if isinstance(exc, (StylelibError, OSError, ValueError)):
        return 2, message
    if len(message) > 300:  # somebody else's message: its start says what happened
        message = message[:299].rstrip() + "…"
    what = name if message == name else f"{name}: {message}"  # e.g. a bare AssertionError
    return 1, f"{what} (run with --debug for the traceback)"


_WORKER = "Original Traceback (most recent call last):"


def _unwrap_worker(exc: BaseException) -> tuple[str, str]:
    """``(type name, one-line message)`` of ``exc``, or of the worker exception it wraps.

    torch re-raises a DataLoader worker's exception as ``Caught X in DataLoader worker
    process N.`` + the worker's whole traceback; the original's message ends that text, after
    the last indented (frame) line, as ``module.X: message``.
    """
    text = str(exc)
    if _WORKER not in text:
        return type(exc).__name__, one_line(exc)
    lines = text.split(_WORKER, 1)[1].rstrip().splitlines()
    last_frame = max((i for i, line in enumerate(lines) if line.startswith(" ")), default=-1)
    original = " ".join(" ".join(lines[last_frame + 1 :]).split())
    qualified, _, message = original.partition(": ")
    name = qualified.rsplit(".", 1)[-1] if qualified and " " not in qualified else ""
    if not name:  # not "module.Type: message" after all: keep the text as it is
        return type(exc).__name__, original or type(exc).__name__
    return name, message or name


if __name__ == "__main__":
    sys.exit(main())
