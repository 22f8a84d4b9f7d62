"""No student notebook gives away an exercise's answer, in its own lesson or in another.

An exercise is a function whose body the instructor source writes between nbgrader's
solution markers (``### BEGIN SOLUTION`` ... ``### END SOLUTION``); the student version keeps
the signature and replaces the body with ``raise NotImplementedError()``. A leak is any
student notebook that defines such a function with a working body anywhere else: a later
lesson that pastes lesson 02's ``gram_matrix`` to get going, or a helper cell above the
exercise that computes the answer inline.

Oracle: the student notebooks' code cells parsed with ``ast`` (magics blanked out) against
the set of exercise names read from the instructor sources; a planted notebook shows that
the check finds a leak.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
SOURCES = LESSONS / "instructor" / "source"
MARKER = "### BEGIN SOLUTION"


def code_cells(notebook: Path) -> list[str]:
    """The source of every code cell, with IPython magics and shell lines blanked out."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return [re.sub(r"^\s*[%!].*$", "", s, flags=re.M) for s in sources]


def functions(source: str) -> list[tuple[str, ast.FunctionDef]]:
    """``(qualified name, node)`` of every function in ``source`` (``Block.forward`` for a
    method); none if the cell does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def exercises(sources: Path = SOURCES) -> dict[str, str]:
    """Exercise function name -> the lesson that asks for it (its instructor source)."""
    asked = {}
    for notebook in sorted(sources.glob("*/*.ipynb")):
        for cell in code_cells(notebook):
            for name, fn in functions(cell):
                if MARKER in (ast.get_source_segment(cell, fn) or ""):
                    asked[name] = notebook.stem
    return asked


def is_stub(fn: ast.FunctionDef) -> bool:
    """The student's version: the given lines, then ``raise NotImplementedError()``."""
    last = fn.body[-1]
    return isinstance(last, ast.Raise) and "NotImplementedError" in ast.unparse(last)


def leaks(lessons: Path = LESSONS, sources: Path = SOURCES) -> list[str]:
    """``"02_x.ipynb defines gram_matrix (asked in 02_x)"`` for every answer given away."""
    asked = exercises(sources)
    found = []
    for notebook in sorted(lessons.glob("[0-9][0-9]_*.ipynb")):
        for cell in code_cells(notebook):
            for name, fn in functions(cell):
                if name in asked and not is_stub(fn):
                    found.append(f"{notebook.name} defines {name} (asked in {asked[name]})")
    return found


def test_the_sources_ask_for_exercises():
    asked = exercises()
    assert {"gram_matrix", "layer_style_loss", "content_gradient"} <= set(asked), asked


def test_no_student_notebook_gives_an_answer_away():
    found = leaks()
    assert not found, "\n".join(found)


def test_the_leak_check_can_fail(tmp_path):
    """A planted student notebook that pastes an exercise's answer is found; its stub is not."""
    sources = tmp_path / "instructor" / "source" / "02_x"
    sources.mkdir(parents=True)
    exercise = 'def gram_matrix(f):\n    """G."""\n    ### BEGIN SOLUTION\n    return f @ f.T\n'
    exercise += "    ### END SOLUTION\n"
    stub = (
        'def gram_matrix(f):\n    """G."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    )
    leak = "%matplotlib inline\ndef gram_matrix(f):\n    return f @ f.T\n"

    def notebook(path: Path, *cells: str) -> None:
        cells_json = [{"cell_type": "code", "source": c, "metadata": {}} for c in cells]
        path.write_text(json.dumps({"cells": cells_json}), encoding="utf-8")

    notebook(sources / "02_x.ipynb", exercise)
    notebook(tmp_path / "02_x.ipynb", stub)
    notebook(tmp_path / "05_y.ipynb", "x = 1", leak)
    assert leaks(tmp_path, tmp_path / "instructor" / "source") == [
        "05_y.ipynb defines gram_matrix (asked in 02_x)"
    ]
