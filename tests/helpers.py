"""Helpers shared by the command-line tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

from stylelib.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``stylelib ARGV`` in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, fragment: str, *, alone: bool = False) -> None:
    """Exit status 2 and exactly one ``stylelib: error:`` line containing ``fragment``.

    ``alone``: nothing else on stderr either (no warning, no progress bar).
    """
    lines = [line for line in err.strip().splitlines() if line.startswith("stylelib: error:")]
    assert code == 2 and len(lines) == 1, err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in err
    if alone:
        assert err.strip() == lines[0], err
