"""The ``stylelib`` command: one subcommand per job, each a small function.

Exit status 0 on success and 2 on bad input, with one line on stderr (``--debug`` shows the
traceback instead). Run ``stylelib --help`` or ``stylelib SUBCOMMAND --help``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from .errors import StylelibError


def cmd_layers(args: argparse.Namespace) -> None:
    from .vgg import check_arch, format_layer_table, layer_table

    rows = layer_table(check_arch(args.arch), args.input_size, classifier=not args.features_only)
    print(
        f"{args.arch} at {args.input_size} x {args.input_size} x 3 "
        f"({'features only' if args.features_only else 'with the classifier'})"
    )
    print(format_layer_table(rows))


def cmd_weights_status(args: argparse.Namespace) -> None:
    from . import weights

    print(f"cache folder: {weights.cache_dir()}  (set TORCH_HOME to move it)")
    for row in weights.status():
        if row["file"]:
            print(f"{row['arch']}: ready  {row['file']}  ({row['size_mb']:.0f} MB)")
        else:
            print(
                f"{row['arch']}: missing  want {row['expected'].name} from {row['url']}; "
                f"run `stylelib weights fetch --arch {row['arch']}` or install a copied file"
            )


def cmd_weights_fetch(args: argparse.Namespace) -> None:
    from . import weights

    for arch in _archs(args.arch):
        path = weights.cached_file(arch)
        if path is None:
            path = weights.download(arch, timeout=args.timeout)
        print(f"{arch}: {path}")


def cmd_weights_install(args: argparse.Namespace) -> None:
    from . import weights

    print(f"installed {weights.install(args.file)}")


def cmd_weights_export(args: argparse.Namespace) -> None:
    from . import weights

    path = weights.export(args.arch, args.output)
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB); on another machine run "
        f"`stylelib weights install {path.name}`"
    )


def _archs(choice: str) -> list[str]:
    return ["vgg16", "vgg19"] if choice == "all" else [choice]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylelib", description=__doc__.split("\n")[0])
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
        help="side of the square RGB input in pixels (default 224; seed 000 uses 300)",
    )
    p.add_argument(
        "--features-only",
        action="store_true",
        help="leave out the classifier (avgpool, fc6-fc8) that style transfer never uses",
    )
    p.set_defaults(func=cmd_layers)

    w = sub.add_parser("weights", help="pretrained VGG weights: status, fetch, install, export")
    wsub = w.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = wsub.add_parser("status", help="which weights are in the cache and where")
    s.set_defaults(func=cmd_weights_status)
    s = wsub.add_parser("fetch", help="download torchvision's ImageNet weights into the cache")
    s.add_argument("--arch", choices=["vgg16", "vgg19", "all"], default="vgg19")
    s.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the server")
    s.set_defaults(func=cmd_weights_fetch)
    s = wsub.add_parser("install", help="check a .pth file copied by hand and put it in the cache")
    s.add_argument("file", help="vgg16-397923af.pth, vgg19-dcbb9e9d.pth or an exported file")
    s.set_defaults(func=cmd_weights_install)
    s = wsub.add_parser("export", help="write a features-only file (80 MB) for offline classrooms")
    s.add_argument("--arch", choices=["vgg16", "vgg19"], default="vgg19")
    s.add_argument("-o", "--output", help="output file (default: ./ARCH-features-HASH.pth)")
    s.set_defaults(func=cmd_weights_export)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"stylelib: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        args.func(args)
    except (StylelibError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"stylelib: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylelib: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
