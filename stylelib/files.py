"""Writing files safely: checked before the work, atomic, and never over a file by accident.

Every output of the library (images, diagrams, checkpoints, weights, notebooks, logs) goes
through here, under three rules:

- **Checked first.** :func:`check_target` says, before any long work, whether a file can be
  written at a path (the folder exists and is writable, the path is not a folder, not one of
  the inputs, and not an existing file unless ``overwrite``); :func:`check_distinct` refuses
  two outputs of one command that name the same file.
- **Atomic.** The data goes to a temporary file beside the target, which is renamed into
  place at the end: a crash, Ctrl-C or SIGKILL leaves the old file or the new one, never half
  of one, and no temporary file after an exception.
- **No clobbering.** ``overwrite`` defaults to False everywhere: a writer that means to
  replace a file (a checkpoint it saves again, a cache it refreshes) says so. Without it the
  final step is an atomic no-replace (a hard link, then the temporary name is removed): if
  the target appeared while the data was being written (another run writing the same new
  file), this run raises :class:`~stylelib.errors.OutputError` and the other file stays.

Temporary files are named ``.NAME.<pid>.<random><suffix>`` after the writer's process id. A
write killed by SIGKILL cannot remove its own; the next write of the same target removes the
ones whose process is no longer running (process ids are this machine's: a folder shared by
several machines writing the same file at the same time is not supported).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from .errors import OutputError


def exists_message(target: str | os.PathLike) -> str:
    """The one line for an output that is already there."""
    return (
        f"'{target}' already exists; choose another name or pass --overwrite "
        "(overwrite=True in Python) to replace it"
    )


def check_target(
    path: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
    kind: str = "file",
    example: str = "out.png",
) -> Path:
    """Check, before any long work, that a file can be written at ``path``; return it resolved.

    Args:
        path: the output file.
        inputs: files the command reads, which are never overwritten (also through a
            symbolic or hard link).
        overwrite: if False, an existing file (or link) at ``path`` is refused.
        kind: what the inputs are called in the message ("image" for images).
        example: a file name to suggest when ``path`` is a folder.

    Raises:
        OutputError: one line, for a missing or unwritable folder, a folder at ``path``,
            ``path`` being one of ``inputs``, or an existing file without ``overwrite``.
    """
    target = Path(path).expanduser().resolve()
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(
            f"output folder '{folder}' does not exist; create it (mkdir -p) or choose another"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder '{folder}' is not writable; choose another folder")
    if target.is_dir():
        raise OutputError(f"'{target}' is a folder; give a file name such as {example}")
    for source in inputs:
        if same_file(target, Path(source).expanduser().resolve()):
            raise OutputError(
                f"refusing to overwrite the input {kind} '{target}'; choose another output path"
            )
    if not overwrite and os.path.lexists(target):
        raise OutputError(exists_message(target))
    return target


def check_distinct(outputs: Mapping[str, str | os.PathLike | Iterable]) -> None:
    """Refuse two outputs of one command that name the same file.

    Args:
        outputs: what each output is called (``"-o"``, ``"--log"``) -> its path, or an
            iterable of paths (``"--save-every"`` -> the step files).

    Raises:
        OutputError: one line naming the two outputs and the file.
    """
    seen: dict[Path, str] = {}
    for name, value in outputs.items():
        paths = [value] if isinstance(value, (str, os.PathLike)) else list(value)
        for path in paths:
            target = Path(path).expanduser().resolve()
            other = next((n for p, n in seen.items() if same_file(p, target)), None)
            if other is not None:
                raise OutputError(
                    f"{other} and {name} both name '{target}'; give each output its own file"
                )
            seen[target] = name


def same_file(a: Path, b: Path) -> bool:
    """True if two resolved paths name the same file (also via hard links)."""
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: they cannot be the same file
        return False


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike, suffix: str = ".tmp", *, overwrite: bool = False
) -> Iterator[Path]:
    """A temporary path beside ``target``, moved to ``target`` if the block ends without error.

    For writers that want a path (a subprocess, a downloader). The new file keeps the old
    file's permissions, or gets the usual 0644 (``mkstemp`` would leave it private, 0600).

    Args:
        target: the file to write.
        suffix: the temporary file's suffix.
        overwrite: replace an existing ``target``. If False (the default), an existing
            target is refused before the block runs, and again at the end, atomically, if it
            appeared meanwhile.

    Raises:
        OutputError: ``target`` exists and ``overwrite`` is False (one line).
    """
    target = Path(target)
    if not overwrite and os.path.lexists(target):
        raise OutputError(exists_message(target))
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=suffix
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        _publish(Path(tmp), target, overwrite)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(
    target: str | os.PathLike,
    mode: str = "wb",
    *,
    encoding: str | None = None,
    suffix: str = ".tmp",
    overwrite: bool = False,
) -> Iterator[IO]:
    """An open file beside ``target``, flushed to disk and moved to ``target`` at the end.

    ``overwrite`` as in :func:`atomic_path`: without it an existing target is never replaced.
    """
    with (
        atomic_path(target, suffix, overwrite=overwrite) as tmp,
        open(tmp, mode, encoding=encoding) as f,
    ):
        yield f
        f.flush()
        os.fsync(f.fileno())


def _publish(tmp: Path, target: Path, overwrite: bool) -> None:
    """Move ``tmp`` to ``target``: a rename over it, or a link that fails if it exists."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # atomic, and refuses an existing target (even a dangling link)
    except FileExistsError:
        raise OutputError(
            f"{exists_message(target)} (it appeared while this file was being written)"
        ) from None
    except OSError:  # a file system without hard links (FAT, some network shares)
        if os.path.lexists(target):
            raise OutputError(exists_message(target)) from None
        os.replace(tmp, target)  # the best that is left: a check, then a rename


# ``.NAME.<pid>.<8 random characters from mkstemp><suffix>``
_TEMP_TAIL = re.compile(r"(\d+)\.[a-z0-9_]{8}\.[A-Za-z0-9_-]+")


def remove_stale_temps(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``target`` left by writers that are no longer running.

    Returns the paths removed. Files whose writer is alive (or cannot be told) are kept.
    """
    target = Path(target)
    prefix = f".{target.name}."
    removed = []
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix)]
    except OSError:
        return removed
    for name in names:
        match = _TEMP_TAIL.fullmatch(name[len(prefix) :])
        if match is None or _alive(int(match.group(1))):
            continue
        path = target.parent / name
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running on this machine (True when it cannot be told)."""
    if pid == os.getpid() or os.name != "posix":  # on Windows os.kill(pid, 0) would signal it
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such process id)
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True
