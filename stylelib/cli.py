"""The ``stylelib`` command: one subcommand per job, each a small function.

Run ``stylelib --help`` or ``stylelib SUBCOMMAND --help``. Every failure is one line on
stderr, ``stylelib: error: ...`` (``--debug`` shows the traceback instead), and the exit
status says which kind it was (:data:`EXIT_CODES`, also in ``stylelib --help``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from stylelib.commands import add_output, add_overwrite
from stylelib.downloads import DOWNLOAD_TIMEOUT_S
from stylelib.errors import Diverged, OutputError, StylelibError, one_line

TIMEOUT_HELP = "seconds to wait for each connection and each read (a dead network fails)"

EXIT_CODES = {
    0: "success (also a run stopped by its callback)",
    1: "the work ran but failed: a run that diverged (NaN/Inf; a transfer still writes its "
    "last good image, training keeps its last checkpoint), `course build --check` finding "
    "stale notebooks, or an unexpected error, a bug or a broken environment rather than "
    "your input (--debug shows its traceback)",
    2: "bad input or usage: a file, flag or value was refused, before the work wherever it "
    "can be checked; no existing file was written over",
    130: "interrupted (Ctrl-C); a transfer still writes its best image so far; a video keeps "
    "its finished frames (run it again to continue)",
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
            from stylelib.johnson.network import TransformerNet

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
    from stylelib.catalogue import cache_dir, catalogue

    print(f"cache folder: {cache_dir()}  (set TORCH_HOME to move it)")
    for row in catalogue():
        state = f"ready  {row['path']}" if row["path"] else f"missing  ({row['size']})"
        print(f"{row['name']:<14} {row['what']}: {state}")
    print("get one: `stylelib models fetch NAME`, or `stylelib models install FILE` for a copy")


def cmd_models_fetch(args: argparse.Namespace) -> None:
    from .catalogue import fetch

    print(f"{args.name}: {fetch(args.name, timeout=args.timeout)}")


def cmd_models_install(args: argparse.Namespace) -> None:
    from .catalogue import install

    print(f"installed {install(args.file, args.name, overwrite=args.overwrite)}")


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
    add_output(p, "output file: .svg, .png or .pdf")
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
    add_overwrite(p, "replace -o FILE if it exists")
    p.set_defaults(func=cmd_diagram)

    from stylelib.adain import cli as adain_cli
    from stylelib.gatys import cli as gatys_cli
    from stylelib.johnson import cli as johnson_cli
    from stylelib.superres import cli as superres_cli

    gatys_cli.register(sub)  # transfer: image optimisation (Gatys et al. 2016)
    johnson_cli.register(sub)  # train, stylize, styles: fast style transfer (Johnson; Dumoulin)
    superres_cli.register(sub)  # train-sr, upscale: super-resolution (Johnson et al. 2016, Sec. 4)
    adain_cli.register(sub)  # adain, train-adain: arbitrary style (Huang and Belongie 2017)

    from stylelib import export

    export.register(sub)  # export-onnx: the feed-forward networks as ONNX, checked

    from stylelib import demo

    demo.register(sub)  # demo: a trained network's painting, then Gatys' loop

    from stylelib import video

    video.register(sub)  # video: frames, blend along the optical flow, Ruder et al. 2016

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
    s.add_argument("--timeout", type=float, default=DOWNLOAD_TIMEOUT_S, help=TIMEOUT_HELP)
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
    add_output(s, "output file (default: ./ARCH-features-HASH.pth)", required=False)
    add_overwrite(s, "replace -o OUT if it exists")
    s.set_defaults(func=cmd_weights_export)

    m = sub.add_parser(
        "models", help="community model files (candy.pth, AdaIN, VGG): list, fetch, install"
    )
    msub = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = msub.add_parser("list", help="the catalogue, and which files are in the cache")
    s.set_defaults(func=cmd_models_list)
    s = msub.add_parser("fetch", help="download a catalogue file into the cache")
    s.add_argument("name", help="a name from `stylelib models list` (candy, adain-decoder ...)")
    s.add_argument("--timeout", type=float, default=DOWNLOAD_TIMEOUT_S, help=TIMEOUT_HELP)
    s.set_defaults(func=cmd_models_fetch)
    s = msub.add_parser("install", help="check a file copied by hand and put it in the cache")
    s.add_argument(
        "file", help="candy.pth, decoder.pth, vgg_conv.pth ... (recognised by structure)"
    )
    s.add_argument("--name", help="its catalogue name, if the file name does not say (candy ...)")
    add_overwrite(s, "replace another installed copy")
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
