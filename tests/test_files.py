"""Safe writes: the old file or the new one, never half of one, never a stray temp file, and
never a file replaced unless the writer says so."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from stylelib import files
from stylelib.errors import OutputError
from stylelib.files import (
    atomic_path,
    atomic_write,
    check_distinct,
    check_target,
    remove_stale_temps,
)


def test_replaces_the_file_when_told_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(target, "w", encoding="utf-8", overwrite=True) as f:
        f.write("new")
        assert target.read_text() == "old"  # not visible until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_an_existing_file_is_kept_unless_told(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("mine")
    with pytest.raises(OutputError, match="already exists; choose another name or pass"):
        with atomic_write(target, "w") as f:
            f.write("new")
    assert target.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path):
    """The race of two writers of one new file: the second to finish says so, keeps the first."""
    target = tmp_path / "out.txt"
    with pytest.raises(OutputError, match="appeared while this file was being written") as info:
        with atomic_write(target, "w") as f:
            f.write("second")
            target.write_text("first")  # another run finished first
    assert "\n" not in str(info.value)
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_two_threads_writing_one_new_file_one_wins(tmp_path):
    target, barrier, outcomes = tmp_path / "out.txt", threading.Barrier(2), []

    def write(text):
        try:
            with atomic_path(target) as tmp:
                tmp.write_text(text)
                barrier.wait(timeout=10)  # both have passed the early check
            outcomes.append(text)
        except OutputError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) in (["a", "refused"], ["b", "refused"])
    assert target.read_text() in outcomes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_without_hard_links_the_check_still_holds(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")  # what FAT answers

    monkeypatch.setattr(files.os, "link", no_links)
    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"
    late = tmp_path / "late.txt"
    with pytest.raises(OutputError, match="already exists"):
        with atomic_path(late) as tmp:
            tmp.write_text("x")
            late.write_text("other")  # appeared meanwhile
    assert late.read_text() == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.txt", "out.txt"]


def test_an_exception_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target, overwrite=True) as f:
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
    with atomic_write(shared, "w", overwrite=True) as f:
        f.write("z")
    assert shared.stat().st_mode & 0o777 == 0o664


# --------------------------------------------------------------------------- stale temps


def _dead_pid() -> int:
    """The id of a process that has just ended (and is reaped, so no longer running)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_temp_files_are_named_after_the_writer(tmp_path):
    with atomic_path(tmp_path / "out.png") as tmp:
        assert tmp.name.startswith(f".out.png.{os.getpid()}.") and tmp.name.endswith(".tmp")
        assert tmp.parent == tmp_path


def test_a_killed_writers_temp_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.png"
    dead = tmp_path / f".out.png.{_dead_pid()}.abcd_123.tmp"
    live = tmp_path / f".out.png.{os.getppid()}.abcd_123.tmp"  # pytest's parent is running
    other = tmp_path / f".other.png.{_dead_pid()}.abcd_123.tmp"  # another target's: not ours
    mine = tmp_path / ".out.png.notes"  # a user's file that only looks similar
    for path in (dead, live, other, mine):
        path.write_bytes(b"half")
    with atomic_write(target) as f:
        f.write(b"new")
    assert not dead.exists()
    assert live.exists() and other.exists() and mine.exists()
    assert target.read_bytes() == b"new"


def test_remove_stale_temps_reports_what_it_removed(tmp_path):
    dead = tmp_path / f".log.jsonl.{_dead_pid()}.zzzzzzzz.part"
    dead.write_text("{}")
    assert remove_stale_temps(tmp_path / "log.jsonl") == [dead]
    assert remove_stale_temps(tmp_path / "missing-folder" / "x") == []


# --------------------------------------------------------------------------- checks


def test_check_target_returns_the_resolved_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_target("new.txt") == tmp_path / "new.txt"
    (tmp_path / "old.txt").write_text("x")
    assert check_target("old.txt", overwrite=True) == tmp_path / "old.txt"


@pytest.mark.parametrize(
    "name, kwargs, fragment",
    [
        ("no/x.txt", {}, "does not exist; create it"),
        ("folder", {}, "is a folder; give a file name"),
        ("old.txt", {}, "already exists; choose another name"),
        ("old.txt", {"overwrite": True, "inputs": ["old.txt"]}, "refusing to overwrite the input"),
        ("link.txt", {"overwrite": True, "inputs": ["old.txt"]}, "refusing to overwrite the input"),
    ],
)
def test_check_target_refuses(tmp_path, monkeypatch, name, kwargs, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "old.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "old.txt")
    with pytest.raises(OutputError, match=fragment) as info:
        check_target(name, **kwargs)
    assert "\n" not in str(info.value)


def test_a_dangling_link_is_written_through(tmp_path):
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere")
    assert check_target(tmp_path / "dangling.txt") == tmp_path / "nowhere"  # nothing to lose


def test_check_distinct(tmp_path):
    check_distinct({"-o": tmp_path / "a.png", "--log": tmp_path / "a.jsonl", "steps": []})
    with pytest.raises(OutputError, match="-o and --log both name"):
        check_distinct({"-o": tmp_path / "a.png", "--log": tmp_path / "sub" / ".." / "a.png"})
    with pytest.raises(OutputError, match="steps and --log both name"):
        check_distinct({"steps": [tmp_path / "s1.png"], "--log": str(tmp_path / "s1.png")})
