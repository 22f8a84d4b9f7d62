"""The nbgrader course, end to end: every lesson executed once, autograded, student versions.

These run nbgrader itself, exactly as the README's instructor guide does, in a temporary copy
of ``lessons/instructor`` with a temporary exchange folder.

Each lesson's instructor source is executed once per suite (in quick mode: the root
conftest.py sets ``STYLELIB_QUICK=1``, which the nbgrader subprocesses inherit): it is
autograded as the submission of a student, "ada", who handed in the solutions, and that one
execution is checked three ways: every code cell ran and none raised (the lesson runs top to
bottom; nbgrader's executor records a cell's exception, or its timeout, as an error output),
and every exercise scores full marks. The untouched student version is autograded beside it
("bob", 0 points everywhere). Lesson 00 goes through the whole classroom cycle instead
(release, fetch, submit, collect, autograde), and ``nbgrader validate`` is run on it as the
instructor guide does. Everything that runs a notebook is marked ``slow``.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from stylelib import course

pytestmark = pytest.mark.skipif(
    not course.nbgrader_available(), reason="nbgrader not installed (pip install -e '.[dev]')"
)
ASSIGNMENT = "00_start_here"


@pytest.fixture(autouse=True)
def _shared_cache(notebook_cache):
    """The lessons share one private TORCH_HOME (tests/conftest.py): calibrated once."""


def failed_cells(notebook: Path) -> list[str]:
    """The code cells of an executed notebook that raised, or never ran, one line each."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        first = "".join(cell["source"]).strip().splitlines()[0][:80]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        for error in errors:
            problems.append(f"cell {index} ({first}): {error['ename']}: {error['evalue'][:300]}")
        if cell.get("execution_count") is None and not errors:
            problems.append(f"cell {index} ({first}): did not run")
    return problems


def full_marks(folder: Path) -> dict[str, float]:
    """Each autograded cell's points, from the instructor source's nbgrader metadata.

    Manually graded answers (``grade`` and ``solution`` both set: the free-text questions)
    are left out: the autograder gives them no score, an instructor does.
    """
    marks = {}
    for notebook in folder.glob("*.ipynb"):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                marks[meta["grade_id"]] = meta["points"]
    return marks


def assert_runs_top_to_bottom(root: Path, student: str, name: str) -> None:
    notebooks = sorted((root / "autograded" / student / name).glob("*.ipynb"))
    assert notebooks, f"nbgrader wrote no autograded notebook for {student}/{name}"
    for notebook in notebooks:
        problems = failed_cells(notebook)
        assert not problems, f"{notebook.name}:\n" + "\n".join(problems)


@pytest.mark.slow
def test_source_validates():
    """The instructor guide's ``nbgrader validate``, on the first lesson."""
    source = course.instructor_dir() / "source" / ASSIGNMENT
    for notebook in source.glob("*.ipynb"):
        out = course.nbgrader("validate", str(notebook), cwd=course.instructor_dir()).stdout
        assert "Success! Your notebook passes all the tests." in out, out[-2000:]


@pytest.mark.slow
def test_student_versions_are_up_to_date():
    assert course.build(check=True) == [], "run `stylelib course build` and commit the result"


def test_student_versions_have_no_solutions():
    for name in course.assignments():
        text = (course.LESSONS / f"{name}.ipynb").read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text
        assert ("raise NotImplementedError()" in text) == course.has_exercises(name)


def test_every_lesson_is_executed_by_this_file():
    """Each lesson is autograded by one of the tests below (the suite's only run of it)."""
    graded = {ASSIGNMENT, *LESSONS_GRADED}
    assert graded == set(course.assignments())
    assert all(course.has_exercises(name) for name in graded)


def break_exercises(notebook_path, replacements):
    """A submission: the source with some solution cells replaced by the given code."""
    nb = json.loads(notebook_path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell["source"] = replacements[grade_id]
    notebook_path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture
def classroom(tmp_path):
    """A copy of the course, configured with a private exchange, with the assignment released."""
    root = tmp_path / "instructor"
    shutil.copytree(course.instructor_dir(), root, ignore=course._working_folders)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    # 20 s a cell: the slowest cell takes ~1 s on a quiet 2-core CPU and was seen at 3-5 s
    # on one shared with other work; the planted infinite loop is still stopped quickly
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as f:
        f.write(f"\nc.Exchange.root = {str(exchange)!r}\nc.ExecutePreprocessor.timeout = 20\n")
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=root)
    course.nbgrader("release_assignment", ASSIGNMENT, "--force", cwd=root)
    return root, exchange


def submit(tmp_path, exchange, student, change):
    """What a student does: fetch, edit, submit (as the README's student guide says)."""
    home = tmp_path / student
    home.mkdir()
    flags = ["--course", "stylelib", f"--Exchange.root={exchange}", f"--student={student}"]
    course.nbgrader("fetch_assignment", ASSIGNMENT, *flags, cwd=home)
    change(home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    course.nbgrader("submit", ASSIGNMENT, *flags, cwd=home)


@pytest.mark.slow
def test_release_collect_autograde(classroom, tmp_path):
    root, exchange = classroom
    source = root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    submit(tmp_path, exchange, "ada", lambda nb: shutil.copy(source, nb))  # the solutions
    submit(tmp_path, exchange, "bob", lambda nb: None)  # the untouched student version
    loop = "def total_loss(content_loss, style_loss, alpha, beta):\n    while True:\n        pass"
    crash = "raise RuntimeError('the student pressed the wrong key')"

    def broken(nb):
        shutil.copy(source, nb)
        break_exercises(nb, {"total_loss": loop, "tv_squared": crash})

    submit(tmp_path, exchange, "cy", broken)

    def kills_the_kernel(nb):  # every other exercise's points must survive it
        shutil.copy(source, nb)
        break_exercises(nb, {"tv_squared": "import os\n\nos._exit(1)"})

    submit(tmp_path, exchange, "dan", kills_the_kernel)

    def cheats(nb):  # each answer is wrong, and each tries to make its test cell pass anyway
        shutil.copy(source, nb)
        break_exercises(nb, CHEATS)

    submit(tmp_path, exchange, "eve", cheats)
    course.nbgrader("collect", ASSIGNMENT, cwd=root)
    course.nbgrader("autograde", ASSIGNMENT, "--force", cwd=root)

    assert_runs_top_to_bottom(root, "ada", ASSIGNMENT)
    autograded = set(full_marks(root / "source" / ASSIGNMENT))  # free-text answers: instructor's
    scores = {
        student: {cell: points for cell, points in by_cell.items() if cell in autograded}
        for student, by_cell in course.scores(root, ASSIGNMENT).items()
    }
    full = {"test_total_loss": 2, "test_tv_squared": 2, "test_tv_l1": 2}
    assert scores["ada"] == full
    assert set(scores["bob"].values()) == {0}
    # the infinite loop is interrupted (0), the crash costs its own exercise (0), the rest counts
    assert scores["cy"] == {"test_total_loss": 0, "test_tv_squared": 0, "test_tv_l1": 2}
    assert scores["dan"] == {**full, "test_tv_squared": 0}
    assert scores["eve"] == dict.fromkeys(full, 0)


# Answers that are wrong and try to pass anyway: rebinding `checks`, replacing a check in the
# package, patching the comparison helper, replacing the module in sys.modules, and calling
# the library's own function.
CHEATS = {
    "total_loss": """import stylelib.checks
import stylelib.checks.harness as harness

harness._close = lambda got, expected: True
harness._diagnose_values = lambda *args, **kwargs: None
stylelib.checks.check_total_loss = lambda fn: print("✓ total_loss")
checks = type("Checks", (), {"check_total_loss": staticmethod(lambda fn: print("✓"))})


def total_loss(content_loss, style_loss, alpha, beta):
    return content_loss * 0""",
    "tv_squared": """import sys
import types

fake = types.SimpleNamespace(check_total_variation=lambda *args, **kwargs: print("✓"))
sys.modules["stylelib.checks"] = fake
sys.modules["stylelib"].checks = fake


def total_variation_squared(image):
    return image.sum() * 0""",
    "tv_l1": """from stylelib.losses import total_variation as tv


def total_variation_l1(image):
    return tv(image, "l1")""",
}


LESSONS_GRADED = [a for a in course.assignments() if a != ASSIGNMENT]


@pytest.mark.slow
@pytest.mark.parametrize("name", LESSONS_GRADED)
def test_lesson_runs_and_its_solutions_get_full_marks_and_untouched_versions_zero(name, tmp_path):
    """Every lesson, executed once: the solutions run top to bottom without an error and
    autograde to full marks; the student version, untouched, to 0."""
    root = tmp_path / "instructor"
    shutil.copytree(course.instructor_dir(), root, ignore=course._working_folders)
    course.nbgrader("generate_assignment", name, "--force", cwd=root)
    for student, folder in (("ada", "source"), ("bob", "release")):
        (root / "submitted" / student / name).mkdir(parents=True)
        for nb in (root / folder / name).glob("*.ipynb"):
            shutil.copy(nb, root / "submitted" / student / name / nb.name)
    course.nbgrader("autograde", name, "--force", cwd=root)
    assert_runs_top_to_bottom(root, "ada", name)
    scores = course.scores(root, name)
    full = full_marks(root / "source" / name)
    assert {k: v for k, v in scores["ada"].items() if k in full} == full, scores
    assert {scores["bob"][k] for k in full} == {0}, scores


def test_student_versions_keep_the_sources_cell_ids_and_validate():
    import nbformat

    for student in sorted(course.LESSONS.glob("*.ipynb")):
        source = course.instructor_dir() / "source" / student.stem / student.name
        nb = nbformat.read(student, as_version=4)
        assert nb.nbformat_minor >= 5, student.name
        ids = [cell.get("id") for cell in nb.cells]
        assert ids == [cell.get("id") for cell in nbformat.read(source, as_version=4).cells]
        assert all(ids) and len(set(ids)) == len(ids), student.name
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # MissingIDFieldWarning would be raised here
            nbformat.validate(nb)
