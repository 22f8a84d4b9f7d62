"""stylelib.downloads: one download helper, one timeout policy, atomic and checked.

Oracles: a local ``http.server`` on loopback in a thread (the bytes it serves, the headers it
received), ``file://`` addresses, a socket that accepts and never answers (the timeout), a
closed port (no network); and the folder's listing after each failure (no file, no
temporary file). Nothing here reaches the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from stylelib import downloads
from stylelib.downloads import DownloadError, download, install_file, sha256_file
from stylelib.errors import OutputError, StylelibError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: more than one chunk


class _Handler(http.server.BaseHTTPRequestHandler):
    """/file: the payload; /missing: 404; /short: announces more bytes than it sends."""

    seen: list[dict] = []

    def do_GET(self):  # noqa: N802 - the name http.server calls
        type(self).seen.append(dict(self.headers))
        if self.path == "/file":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Loopback addresses are reached directly, whatever proxy this machine has."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server():
    """A local HTTP server in a thread; yields its base address."""
    _Handler.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    yield sock.getsockname()[1]
    sock.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_smoke_http_download_is_the_servers_bytes_with_our_user_agent(server, tmp_path):
    dest = download(f"{server}/file", tmp_path / "sub" / "w.pth", progress=False)
    assert dest == tmp_path / "sub" / "w.pth" and dest.read_bytes() == PAYLOAD
    assert _Handler.seen[0]["User-Agent"] == downloads.USER_AGENT
    assert leftovers(dest.parent) == ["w.pth"]  # no temporary file left


def test_file_address_and_progress_bar(tmp_path, capsys):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    dest = download(source.as_uri(), tmp_path / "copy.bin", progress=True)
    assert dest.read_bytes() == PAYLOAD
    assert "copy.bin" in capsys.readouterr().err  # tqdm writes its bar to stderr


def test_the_published_hash_is_checked_before_the_file_is_published(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert download(f"{server}/file", tmp_path / "a", sha256_prefix=digest[:8], progress=False)
    with pytest.raises(DownloadError, match="SHA-256 does not begin with the published 00000000"):
        download(f"{server}/file", tmp_path / "b", sha256_prefix="00000000", progress=False)
    assert leftovers(tmp_path) == ["a"]
    assert sha256_file(tmp_path / "a") == digest


def test_a_check_refuses_the_file_with_its_own_error(server, tmp_path):
    class Refused(StylelibError):
        pass

    def check(path: Path) -> None:
        assert path.read_bytes() == PAYLOAD and path.parent == tmp_path
        raise Refused("not the layout")

    with pytest.raises(Refused, match="not the layout"):
        download(f"{server}/file", tmp_path / "w.pth", check=check, progress=False)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/short", "the transfer stopped after 10 of 1,000 bytes|IncompleteRead"),
    ],
)
def test_http_errors_and_cut_transfers_are_one_line_and_leave_nothing(
    server, tmp_path, path, words
):
    with pytest.raises(DownloadError, match=words) as info:
        download(f"{server}{path}", tmp_path / "w.pth", progress=False)
    assert "\n" not in str(info.value) and f"{server}{path}" in str(info.value)
    assert leftovers(tmp_path) == []


def test_a_closed_port_fails_at_once(tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="refused: is this machine offline") as info:
        download("http://127.0.0.1:9/w.pth", tmp_path / "w.pth", progress=False)
    assert time.monotonic() - start < 5
    assert info.value.reason.startswith("the connection was refused")
    assert leftovers(tmp_path) == []


def test_a_server_that_never_answers_times_out_instead_of_hanging(silent_port, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="did not answer within 0.5 s"):
        download(f"http://127.0.0.1:{silent_port}/w", tmp_path / "w", timeout=0.5, progress=False)
    assert time.monotonic() - start < 5
    assert leftovers(tmp_path) == []


def test_one_timeout_policy_is_the_default_everywhere():
    import inspect

    from stylelib import catalogue, weights

    for function in (downloads.download, weights.download, catalogue.fetch):
        default = inspect.signature(function).parameters["timeout"].default
        assert default == downloads.DOWNLOAD_TIMEOUT_S, function.__qualname__
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        download("file:///nonexistent", Path("x"), timeout=0)


def test_an_existing_file_is_kept_unless_overwrite(server, tmp_path):
    dest = tmp_path / "w.pth"
    dest.write_bytes(b"mine")
    with pytest.raises(OutputError, match="already exists"):
        download(f"{server}/file", dest, overwrite=False, progress=False)
    assert dest.read_bytes() == b"mine"
    download(f"{server}/file", dest, progress=False)  # caches refresh: overwrite by default
    assert dest.read_bytes() == PAYLOAD


def test_install_file_copies_checks_and_leaves_the_source(tmp_path):
    src = tmp_path / "brought.pth"
    src.write_bytes(PAYLOAD)
    dest = install_file(src, tmp_path / "cache" / "w.pth")
    assert dest.read_bytes() == PAYLOAD and src.read_bytes() == PAYLOAD
    assert install_file(dest, dest) == dest  # onto itself: nothing to do

    def refuse(path: Path) -> None:
        raise ValueError("wrong shapes")

    with pytest.raises(ValueError, match="wrong shapes"):
        install_file(src, tmp_path / "cache" / "other.pth", check=refuse)
    assert leftovers(tmp_path / "cache") == ["w.pth"]


def test_failure_reasons_name_the_likely_cause():
    assert "could not be resolved" in downloads.failure_reason(socket.gaierror(-2, "unknown"))
    assert downloads.failure_reason(TimeoutError(), 7) == "the server did not answer within 7 s"
    assert "OSError" in downloads.failure_reason(OSError("disk full"))
