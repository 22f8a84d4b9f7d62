"""The nbgrader course: instructor sources in, student versions out.

Layout (``lessons/``)::

    lessons/01_vgg.ipynb ...            student versions, in lesson order (generated, committed)
    lessons/instructor/                 the nbgrader course folder (instructors only)
        nbgrader_config.py
        source/01_vgg/01_vgg.ipynb      instructor source: solutions and graded test cells
        release/ submitted/ ...         nbgrader's working folders (not committed)

``stylelib course build`` runs ``nbgrader generate_assignment`` on every assignment in
``source/`` (one run) and copies each released notebook to ``lessons/``; ``--check`` only
compares and fails when a student version is out of date (CI runs it). nbgrader is an instructor
dependency (``pip install -e ".[dev]"``), called as a program, never imported here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import StylelibError
from .files import atomic_write

LESSONS = Path(__file__).resolve().parent.parent / "lessons"


def instructor_dir(lessons: Path = LESSONS) -> Path:
    return lessons / "instructor"


def assignments(lessons: Path = LESSONS) -> list[str]:
    """Assignment names in lesson order (the folders of ``instructor/source``)."""
    source = instructor_dir(lessons) / "source"
    if not source.is_dir():
        raise StylelibError(f"no nbgrader sources at {source}; run from a clone of the course")
    return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course folder, with this Python's environment."""
    exe = Path(sys.executable).with_name("nbgrader")
    if not exe.exists():
        raise StylelibError('nbgrader is not installed; run pip install -e ".[dev]"')
    env = dict(os.environ, PATH=f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise StylelibError(f"nbgrader {' '.join(args)} failed: {tail}")
    return result


def canonical(path: Path) -> str:
    """A notebook's JSON with outputs, execution counts and volatile metadata removed.

    Cell ids (nbformat 4.5) stay: nbgrader keeps the instructor source's ids, so a cell has
    the same id in both versions and the student version validates without warnings.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build(lessons: Path = LESSONS, check: bool = False) -> list[str]:
    """Generate the student versions; with ``check``, return the names that are out of date.

    Generation happens in a temporary copy of the course folder, so a failed run leaves the
    instructor's ``release/`` and the committed student versions as they were.
    """
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(instructor_dir(lessons), course, ignore=_working_folders)
        # One nbgrader run for all of them ("*" is nbgrader's own glob over source/): its
        # start-up, a few seconds, costs more than generating a notebook.
        nbgrader("generate_assignment", "*", "--force", cwd=course)
        for name in assignments(lessons):
            for released in sorted((course / "release" / name).glob("*.ipynb")):
                student = lessons / released.name
                text = canonical(released)
                if student.exists() and student.read_text(encoding="utf-8") == text:
                    continue
                stale.append(released.name)
                if not check:
                    with atomic_write(student, "w", encoding="utf-8", overwrite=True) as f:
                        f.write(text)
    return stale


def _working_folders(folder: str, names: list[str]) -> list[str]:
    """nbgrader's own output folders are not copied into the temporary course."""
    skip = {"release", "submitted", "autograded", "feedback", "gradebook.db", ".ipynb_checkpoints"}
    return [n for n in names if n in skip]


def nbgrader_available() -> bool:
    return Path(sys.executable).with_name("nbgrader").exists()


def scores(root: Path, assignment: str) -> dict[str, dict[str, float]]:
    """Points per student and graded cell, from the course's gradebook (nbgrader's own API)."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}") as gradebook:
        for student in gradebook.students:
            submission = gradebook.find_submission(assignment, student.id)
            out[student.id] = {
                grade.name: grade.score for nb in submission.notebooks for grade in nb.grades
            }
    return out


def has_exercises(name: str, lessons: Path = LESSONS) -> bool:
    """True if an assignment has graded cells (lesson 04, say, has none)."""
    for path in (instructor_dir(lessons) / "source" / name).glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                return True
    return False
