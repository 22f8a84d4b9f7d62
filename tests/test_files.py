"""Atomic writes: the old file or the new one, never half of one, never a stray temp file."""

from __future__ import annotations

import os

import pytest

from stylelib.files import atomic_path, atomic_write


def test_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(target, "w", encoding="utf-8") as f:
        f.write("new")
        assert target.read_text() == "old"  # not visible until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_an_exception_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_permissions_are_kept_or_usual(tmp_path):
    fresh = tmp_path / "fresh.txt"
    with atomic_path(fresh) as tmp:
        tmp.write_text("x")
    assert fresh.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    shared = tmp_path / "shared.txt"
    shared.write_text("y")
    os.chmod(shared, 0o664)
    with atomic_write(shared, "w") as f:
        f.write("z")
    assert shared.stat().st_mode & 0o777 == 0o664
