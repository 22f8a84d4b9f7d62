"""Writing files atomically: a temporary file beside the target, renamed over it at the end.

A crash, Ctrl-C or SIGKILL at any moment leaves either the old file or the new one, never a
half-written one, and never a stray temporary file after an exception. Every output of the
library (images, diagrams, checkpoints, weights, notebooks, logs) goes through here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``target``, renamed over it if the block ends without error.

    For writers that want a path (a subprocess, a downloader). The new file keeps the old
    file's permissions, or gets the usual 0644 (``mkstemp`` would leave it private, 0600).
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(
    target: str | os.PathLike,
    mode: str = "wb",
    *,
    encoding: str | None = None,
    suffix: str = ".tmp",
) -> Iterator[IO]:
    """An open file beside ``target``, flushed to disk and renamed over it at the end."""
    with atomic_path(target, suffix) as tmp, open(tmp, mode, encoding=encoding) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())
