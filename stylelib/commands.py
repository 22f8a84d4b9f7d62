"""What every method's commands share: inputs and outputs, the loop over photos, the end of a training."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path


def finish_training(result, command: str, use: str) -> int:
    """What every training command says at the end (on rank 0 only), and its exit status:
    where the checkpoint went, then how to continue it (interrupted: 130) or use it (0)."""
    if os.environ.get("RANK", "0") == "0":
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
) -> tuple[int, float]:
    """``fn(image) -> image`` on every input, each saved to its output: what every
    one-forward-pass command (``stylize``, ``upscale``, ``adain``) does to a list of photos.

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

    total, done = 0.0, 0
    for source, target in zip(inputs, outputs, strict=True):
        try:
            image = load_image(source, size=size)
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
        save_image(out, target, inputs=[*inputs, *(protected or [])], overwrite=overwrite)
        h, w = out.shape[-2:]
        print(f"{source} -> {target} ({w} x {h}) in {seconds:.3f} s")
    if not done:
        raise ImageError("none of the input images could be read (see the warnings above)")
    return done, total
