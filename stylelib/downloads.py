"""Downloads: one way to fetch a file, with one timeout policy, for every file the course needs.

VGG weights (:mod:`stylelib.weights`), the catalogue's community models
(:mod:`stylelib.catalogue`) and the classic paintings (:mod:`stylelib.data`) all arrive
through :func:`download`, under the same rules:

- **A dead network fails, never hangs.** Every connection attempt and every read waits at
  most :data:`DOWNLOAD_TIMEOUT_S` seconds (a socket timeout, so a slow but live transfer of
  a 550 MB file is fine, while a server that stops answering is given up after that long).
  A closed port or an unknown host fails at once. (Name resolution itself is the operating
  system's and has its own timeout.)
- **Atomic.** The bytes stream to a temporary file beside the target
  (:func:`stylelib.files.atomic_path`), are checked (a SHA-256 prefix, a caller's
  structure check), and only then renamed into place: an interrupted or refused download
  leaves no file, old or partial, under the target's name.
- **Visible.** A tqdm progress bar (``progress=False`` hides it).
- **One line.** Every failure is a :class:`DownloadError` whose message names the address
  and the reason in a few words; the caller adds what the user can do about it.

:func:`install_file` is the same atomic, checked publication for a file the user brought by
hand (a classroom without internet), and :func:`sha256_file` the hash both check with.

Example (a ``file://`` address, as the tests use; ``http(s)://`` works the same)::

    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "source.txt").write_text("hello")
    >>> path = download((folder / "source.txt").as_uri(), folder / "copy.txt", progress=False)
    >>> path.read_text(), sha256_file(path)[:8]
    ('hello', '2cf24dba')
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from stylelib.errors import OutputError, StylelibError, one_line
from stylelib.files import atomic_path

# Seconds per connection attempt and per read (not for the whole file): long enough for a
# busy server's first byte (Dropbox, Wikimedia), short enough that a dead network fails in
# half a minute instead of hanging a lesson or an autograder.
DOWNLOAD_TIMEOUT_S = 30.0
# Wikimedia refuses clients that do not say who they are
# (https://meta.wikimedia.org/wiki/User-Agent_policy); the others do not mind.
USER_AGENT = "stylelib/0.1 (neural style transfer course; Python urllib)"
CHUNK = 1 << 20  # bytes per read and per hash update

# check(path): look at the downloaded file before it is published; raise to refuse it.
Check = Callable[[Path], None]


class DownloadError(StylelibError):
    """A download that failed (no network, an HTTP error, a damaged file), in one line.

    ``reason`` is the why alone (``"the connection was refused: ..."``), for callers whose
    own message names the address already.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256_prefix: str | None = None,
    check: Check | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    progress: bool = True,
    overwrite: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` atomically, checked, with a progress bar; return ``dest``.

    Args:
        url: an ``http://``, ``https://`` or ``file://`` address (redirects are followed).
        dest: the file to write; its folder is created if missing.
        sha256_prefix: if given, the file's SHA-256 must begin with it (a published hash).
        check: ``check(path)`` on the complete temporary file; whatever it raises refuses
            the file and reaches the caller unchanged (e.g. a structure check's
            :class:`~stylelib.errors.WeightsError`).
        timeout: seconds per connection attempt and per read (:data:`DOWNLOAD_TIMEOUT_S`).
        progress: show a tqdm progress bar.
        overwrite: replace an existing ``dest`` (True for caches, which a download refreshes).

    Raises:
        DownloadError: no connection, a timeout, an HTTP error, or a hash that does not match;
            one line naming ``url``. Nothing is written under ``dest`` then.
        OutputError: ``dest`` exists and ``overwrite`` is False.
    """
    dest = Path(dest)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    _make_folder(dest)
    with atomic_path(dest, suffix=".part", overwrite=overwrite) as tmp:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with (
                urllib.request.urlopen(request, timeout=timeout) as response,
                open(tmp, "wb") as out,
            ):
                size = int(response.headers.get("Content-Length") or 0) or None
                got = _copy(response, out, size, progress, dest.name)
            if size is not None and got != size:
                raise ConnectionError(f"the transfer stopped after {got:,} of {size:,} bytes")
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if isinstance(exc, OutputError):
                raise
            reason = failure_reason(exc, timeout)
            raise DownloadError(f"download from {url} failed: {reason}", reason) from None
        if sha256_prefix and not sha256_file(tmp).startswith(sha256_prefix):
            reason = f"its SHA-256 does not begin with the published {sha256_prefix}"
            raise DownloadError(f"the file downloaded from {url} is damaged: {reason}", reason)
        if check is not None:
            check(tmp)
    return dest


def install_file(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    check: Check | None = None,
    overwrite: bool = True,
) -> Path:
    """Copy ``src`` to ``dest`` the way :func:`download` publishes: checked, then atomic.

    For files brought by hand. ``src`` is never changed; copying a file onto itself does
    nothing. ``check(path)`` runs on the copy before it is published.
    """
    src, dest = Path(src), Path(dest)
    _make_folder(dest)
    if dest.exists() and src.resolve() == dest.resolve():
        return dest
    with atomic_path(dest, suffix=".part", overwrite=overwrite) as tmp:
        with open(src, "rb") as f, open(tmp, "wb") as out:
            shutil.copyfileobj(f, out, CHUNK)
        if check is not None:
            check(tmp)
    return dest


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as 64 hex digits (read in 1 MB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def failure_reason(exc: BaseException, timeout: float = DOWNLOAD_TIMEOUT_S) -> str:
    """Why a download failed, in a few words a student can act on.

    Example:
        >>> failure_reason(TimeoutError("timed out"), 30)
        'the server did not answer within 30 s'
    """
    reason = getattr(exc, "reason", None)  # URLError wraps the socket's error
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    cause = reason if isinstance(reason, BaseException) else exc
    if isinstance(cause, (TimeoutError, socket.timeout)):
        return f"the server did not answer within {timeout:g} s"
    if isinstance(cause, socket.gaierror):
        return "the server's name could not be resolved: is this machine offline?"
    if isinstance(cause, ConnectionRefusedError):
        return "the connection was refused: is this machine offline, or the address wrong?"
    if isinstance(cause, (ConnectionError, http.client.HTTPException)):
        return f"the connection broke ({one_line(cause, limit=120, with_type=True)})"
    return one_line(cause, limit=160, with_type=True)


def _make_folder(dest: Path) -> None:
    """Create the folder of ``dest``, or say in one line why it cannot be."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {dest.parent} for {dest.name} "
            f"({one_line(exc, with_type=True)}); choose a writable folder"
        ) from None


def _copy(response: BinaryIO, out: BinaryIO, size: int | None, progress: bool, name: str) -> int:
    """Stream ``response`` into ``out`` in chunks, with a progress bar of ``size`` bytes;
    return the number of bytes copied."""
    from tqdm.auto import tqdm

    copied = 0
    with tqdm(total=size, unit="B", unit_scale=True, disable=not progress, desc=name) as bar:
        for chunk in iter(lambda: response.read(CHUNK), b""):
            out.write(chunk)
            bar.update(len(chunk))
            copied += len(chunk)
    return copied


__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "USER_AGENT",
    "Check",
    "DownloadError",
    "download",
    "failure_reason",
    "install_file",
    "sha256_file",
]
