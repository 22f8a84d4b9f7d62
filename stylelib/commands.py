"""What every method's commands share: flags made from a config, inputs and outputs, the loop
over photos, the end of a training.

Flags. A method's config dataclass is its command line, as in nanoGPT: every field becomes a
flag (``steps`` -> ``--steps``) whose type, choices (a ``Literal``) and help (the source
comment on the field's line) are read from the class, so that a new field is a new flag with
no code here. Each flag defaults to None, "not given"; :func:`config_from_args` replaces the
flags that were given in a base config (a preset, or a checkpoint's config on ``--resume``)::

    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Toy:
    ...     steps: int = 10  # optimiser iterations
    ...     pooling: typing.Literal["max", "avg"] = "max"  # as trained
    >>> parser = argparse.ArgumentParser()
    >>> add_config_flags(parser, Toy)
    >>> args = parser.parse_args(["--steps", "3"])
    >>> config_from_args(args, Toy())
    Toy(steps=3, pooling='max')

The flags several commands share (``--device``, ``--overwrite``, ``-o``, ``--quiet``, the
"running" group of the training commands) are defined here once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import inspect
import io
import os
import sys
import textwrap
import time
import tokenize
import types
import typing
from pathlib import Path

# --- flags made from a config dataclass ----------------------------------------------------


def add_config_flags(
    group: argparse._ActionsContainer,
    cls: type,
    *,
    only: typing.Collection[str] | None = None,
    skip: typing.Collection[str] = (),
    rename: typing.Mapping[str, str] | None = None,
) -> None:
    """One flag per field of the config dataclass ``cls``, each with default None ("not given").

    The flag is ``--field-name`` (``rename`` maps a field to another flag name), a bool field
    ``--field-name`` (default False) or ``--no-field-name`` (default True) that sets the other
    value; its type and choices come from the annotation (:func:`_keywords`), its help from
    the field's source comment (:func:`field_comments`). Left out: the fields in ``skip``,
    those not in ``only`` (when given), and those the parser has a flag for already (same
    dest), so that a command's own flags come first and this adds the rest.
    """
    taken = {action.dest for action in group._actions}
    hints, docs = typing.get_type_hints(cls), field_comments(cls)
    for field in dataclasses.fields(cls):
        name = field.name
        if name in taken or name in skip or (only is not None and name not in only):
            continue
        flag = (rename or {}).get(name) or _flag_name(name, hints[name], field.default)
        keywords = _keywords(hints[name], field.default)
        group.add_argument(flag, dest=name, default=None, help=docs.get(name), **keywords)


def config_from_args(args: argparse.Namespace, base, **changes):
    """``base`` (a preset, or a checkpoint's config) with every config flag given replaced in it.

    A flag was given when its value is not None (:func:`add_config_flags`); ``changes`` are
    fields a command worked out from flags of its own. New style layers without their weights
    are weighted by :func:`stylelib.config.style_layer_weights`, the rule every place that
    changes the layers follows. The config's own checks then refuse a bad value in one line.
    """
    from stylelib.config import with_style_layers

    names = {f.name for f in dataclasses.fields(base)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    given.update(changes)
    layers_only = "style_layers" in given and "style_layer_weights" not in given
    if layers_only and "style_layer_weights" in names:
        base = with_style_layers(base, given["style_layers"])
    return dataclasses.replace(base, **given)


def resumed_or(args: argparse.Namespace, checkpoint, preset):
    """The config a training run starts from: ``preset``, or, resuming (``--resume``) without
    ``--preset``, the config the checkpoint was trained with."""
    from stylelib.checkpoints import config_from_checkpoint, load_checkpoint

    if getattr(args, "preset", None) is None and args.resume:
        return config_from_checkpoint(load_checkpoint(args.resume, kind=checkpoint), checkpoint)
    return preset


@functools.cache
def field_comments(cls: type) -> dict[str, str]:
    """Each field's source comment in the class body of ``cls``: the ``# ...`` on its line,
    with the comment-only lines right below it; ``{}`` where the source cannot be read.

    For ``lr: float = 1e-3  # [J16] Sec. 4.1: Adam, learning rate 1e-3`` that is the help
    ``[J16] Sec. 4.1: Adam, learning rate 1e-3`` (``%`` doubled, as argparse wants it).
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[str, list[str]] = {}
    field, last, line_start = None, None, True
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        kind, text = token.type, token.string
        if kind == tokenize.COMMENT and (field or last):
            comments.setdefault(field or last, []).append(text.lstrip("#").strip())
        elif kind == tokenize.NL and line_start:
            last = None  # a blank line ends a field's comment
        elif kind == tokenize.NEWLINE:
            field, last = None, field
        elif line_start and kind not in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT):
            field, last = (text if text in names else None), None
        line_start = kind in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
    return {name: " ".join(parts).replace("%", "%%") for name, parts in comments.items()}


def _flag_name(name: str, hint: object, default: object) -> str:
    flag = name.replace("_", "-")
    return f"--no-{flag}" if hint is bool and default is True else f"--{flag}"


def _keywords(hint: object, default: object) -> dict:
    """argparse's keywords for a field annotated ``hint``: ``int`` and ``float`` as such,
    ``Literal`` as choices, ``tuple[str | float | int, ...]`` as comma lists,
    ``bool`` as a switch to the other value, ``X | None`` as X, a name or a path as text."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if os.PathLike in args:
            return {"metavar": "NAME|PATH"}
        return _keywords(next(a for a in args if a is not type(None)), default)
    if origin is typing.Literal:
        return {"choices": list(args)}
    if origin is tuple:
        lists = {float: (floats, "X,X,..."), int: (integers, "N,N,...")}
        kind, metavar = lists.get(args[0], (names, "A,B,..."))
        return {"type": kind, "metavar": metavar}
    if hint is bool:
        return {"action": "store_const", "const": not default}
    return {"type": hint} if hint in (int, float) else {}


def names(text: str) -> tuple[str, ...]:
    """A comma list of names, ``"relu1_1, relu2_1"`` -> ``("relu1_1", "relu2_1")``."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def floats(text: str) -> tuple[float, ...]:
    """A comma list of numbers, ``"1,3"`` -> ``(1.0, 3.0)``."""
    return tuple(float(n) for n in text.split(",") if n.strip())


def integers(text: str) -> tuple[int, ...]:
    """A comma list of whole numbers, ``"1,2,4"`` -> ``(1, 2, 4)``."""
    return tuple(int(n) for n in text.split(",") if n.strip())


# --- the flags several commands share ------------------------------------------------------

# -o of the commands that apply a network to photos (plan_outputs)
OUTPUTS_HELP = (
    "output file for one input; a folder (made if missing) for several, or when written "
    "with a trailing slash (out/)"
)


def add_output(parser: argparse._ActionsContainer, help: str, **keywords) -> None:
    """``-o/--output``; required unless ``required=False`` is given."""
    keywords.setdefault("required", True)
    parser.add_argument("-o", "--output", help=help, **keywords)


def add_device(group: argparse._ActionsContainer, default: str | None = "auto") -> None:
    """``--device``: None (a config field's flag) lets the config decide, as ``auto``."""
    help = "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps"
    group.add_argument("--device", default=default, help=help)


def add_precision(group: argparse._ActionsContainer, help: str) -> None:
    """``--precision`` of a command that runs a network: fp32 (default) or bf16."""
    group.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help=help)


def add_overwrite(group: argparse._ActionsContainer, help: str) -> None:
    """``--overwrite``: what it lets the command replace (never an input)."""
    group.add_argument("--overwrite", action="store_true", help=help)


def add_quiet(group: argparse._ActionsContainer) -> None:
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def add_preset(group: argparse._ActionsContainer, presets, help: str, default=None) -> None:
    """``--preset``, one of ``presets`` (a method's ``config.PRESETS``)."""
    group.add_argument("--preset", default=default, choices=list(presets), help=help)


def add_training_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    title: str,
    presets=None,
    preset_help: str = "",
    **config_flags,
) -> None:
    """What every training command takes besides its data: ``-o MODEL.pth``; a group ``title``
    with ``--preset`` (when the method has ``presets`` to choose from) and a flag per field of
    ``cls`` (``config_flags``: see :func:`add_config_flags`); the "running" group: where and
    how it runs, ``--resume``, logs."""
    add_output(parser, "checkpoint file", metavar="MODEL.pth")
    settings = parser.add_argument_group(title)
    if presets is not None:
        add_preset(settings, presets, preset_help)
    running = parser.add_argument_group("running")
    add_device(running, default=None)
    add_config_flags(running, cls, only=("workers", "checkpoint_every"))
    running.add_argument("--resume", metavar="MODEL.pth", help="continue from this checkpoint")
    running.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
    add_overwrite(running, "replace -o MODEL if it exists")
    add_quiet(running)
    add_config_flags(settings, cls, **config_flags)  # every other field


def training_options(args: argparse.Namespace) -> dict:
    """The keyword arguments every method's train function takes from the running flags."""
    return {
        "resume": args.resume,
        "overwrite": args.overwrite,
        "tensorboard": args.tensorboard,
        "progress": not args.quiet,
    }


def is_rank0() -> bool:
    """True in the one process that prints and writes (always, outside torchrun)."""
    return os.environ.get("RANK", "0") == "0"


def finish_training(result, command: str, use: str) -> int:
    """What every training command says at the end (on rank 0 only), and its exit status:
    where the checkpoint went, then how to continue it (interrupted: 130) or use it (0)."""
    if is_rank0():
        print(f"wrote {result.path}: {result.message}")
        if result.stopped == "interrupted":
            print(f"continue with: {command} ... --resume {result.path}", file=sys.stderr)
        else:
            print(f"{use.split()[1]} with: {use.format(path=result.path)}", file=sys.stderr)
    return 130 if result.stopped == "interrupted" else 0


def expand_inputs(specs: list[str]) -> tuple[list[Path], set[Path]]:
    """Files as given, folders as their image files (sorted, not recursive).

    Returns the files and the subset found in folders (skipped with a warning if unreadable;
    a file named on the command line that cannot be read is an error).
    """
    from .errors import ImageError
    from .images import IMAGE_EXTENSIONS

    files: list[Path] = []
    from_folders: set[Path] = set()
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not found:
                raise ImageError(f"folder '{path}' holds no images ({' '.join(IMAGE_EXTENSIONS)})")
            files += found
            from_folders.update(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ImageError(f"input image not found: '{path}'; check the path")
    return files, from_folders


def plan_outputs(inputs: list[Path], out: str, several: bool, overwrite: bool) -> list[Path]:
    """One output path per input, all checked before any work (nothing is created here).

    One input and OUT neither a folder nor written with a trailing slash: OUT is the file.
    Otherwise OUT is a folder (made by :func:`output_folder` once the model has loaded)
    and input ``name.ext`` becomes ``OUT/name.png``. Inputs are never overwritten, nor
    existing files unless ``overwrite``.
    """
    from .errors import OutputError
    from .files import check_target
    from .images import IMAGE_EXTENSIONS, check_output_path

    folder_named = out.endswith(("/", os.sep))
    target = Path(out).expanduser()
    if not several and not folder_named and not target.is_dir():
        return [check_output_path(target, inputs=inputs, overwrite=overwrite)]
    if target.suffix.lower() in IMAGE_EXTENSIONS and not target.is_dir() and not folder_named:
        raise OutputError(
            f"{len(inputs)} inputs need -o to be a folder, got the file name '{target}'; "
            "give a folder (it is created if missing)"
        )
    if target.exists() and not target.is_dir():
        raise OutputError(f"-o '{target}' is a file, not a folder; give a folder for the outputs")
    names = [p.stem + ".png" for p in inputs]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise OutputError(
            f"several inputs would all be written as {', '.join(twins)}; rename them or "
            "stylize them in separate runs"
        )
    if target.is_dir():
        return [check_output_path(target / n, inputs=inputs, overwrite=overwrite) for n in names]
    # a folder still to be made: its parent must take it; nothing can exist inside it yet
    folder = check_target(target, inputs=inputs, example="out/")
    return [folder / n for n in names]


@contextlib.contextmanager
def output_folder(outputs: list[Path]):
    """The outputs' folder, created if missing, for the ``with`` block that writes them; if
    the block fails and the folder it made is still empty, the folder goes again, so that a
    failed command leaves nothing behind but what it wrote. Enter it only once the model
    has loaded (a bad model file then creates nothing)."""
    folder = outputs[0].parent
    try:
        folder.mkdir()
        made = True
    except FileExistsError:  # made meanwhile: save_image still never writes over a file
        made = False
    try:
        yield folder
    except BaseException:
        if made and not any(folder.iterdir()):
            folder.rmdir()
        raise


def report_each(what: str, done: int, count: int, seconds: float, *, of="", note="") -> None:
    """The summary line after :func:`apply_each`: ``{what} in 1.23 s{of} (0.411 s per
    image{note})``, and how many unreadable inputs were skipped."""
    skipped = f"; {count - done} unreadable skipped" if done < count else ""
    print(f"{what} in {seconds:.2f} s{of} ({seconds / done:.3f} s per image{note}){skipped}")


def apply_each(
    fn,
    inputs: list[Path],
    outputs: list[Path],
    from_folders: set[Path],
    *,
    size: int | None,
    device,
    overwrite: bool,
    protected: list | None = None,
    load=None,
    save=None,
) -> tuple[int, float]:
    """``fn(image) -> image`` on every input, each saved to its output: what every
    one-forward-pass command (``stylize``, ``upscale``, ``adain``) does to a list of photos.

    ``load(path, size=)`` and ``save(image, path, inputs=, overwrite=)`` default to
    :func:`stylelib.images.load_image` and :func:`~stylelib.images.save_image`; the tiled
    path passes the uint8 ones of :mod:`stylelib.tiling` (images as ``(H, W, 3)`` arrays).

    An unreadable file found in a folder is skipped with a warning (one named on the command
    line is an error); one line per image says where it went, at what size, in how long.
    Outputs never replace ``inputs`` or ``protected`` files (e.g. style images).

    Returns:
        ``(images done, seconds spent in fn)``; raises ImageError if none could be read.
    """
    import warnings

    import torch

    from .errors import ImageError
    from .images import load_image, save_image

    load, save = load or load_image, save or save_image
    total, done = 0.0, 0
    for source, target in zip(inputs, outputs, strict=True):
        try:
            image = load(source, size=size)
        except ImageError as exc:
            if source not in from_folders:
                raise
            warnings.warn(f"skipped an unreadable input: {exc}", stacklevel=1)
            continue
        start = time.perf_counter()
        out = fn(image)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        total, done = total + seconds, done + 1
        save(out, target, inputs=[*inputs, *(protected or [])], overwrite=overwrite)
        h, w = out.shape[:2] if out.ndim == 3 and out.shape[-1] == 3 else out.shape[-2:]
        print(f"{source} -> {target} ({w} x {h}) in {seconds:.3f} s")
    if not done:
        raise ImageError("none of the input images could be read (see the warnings above)")
    return done, total
