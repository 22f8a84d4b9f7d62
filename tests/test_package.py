"""The package as a whole: its layers, its module table, its docstring examples, old names.

Oracles: the layer diagram in ``stylelib/__init__.py`` (read here, so the diagram and the
code cannot drift apart) against every ``import`` statement of every module, found by
parsing the source (imports inside functions included); the README's module table against
the files; each docstring example against what it prints.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import re
from pathlib import Path

import pytest

import stylelib

PACKAGE = Path(stylelib.__file__).parent
README = PACKAGE.parent / "README.md"


def modules() -> dict[str, list[Path]]:
    """Top-level module name -> its source files (a package counts as one module)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] in ("__init__", "__main__"):
            continue
        found.setdefault(parts[0], []).append(path)
    return found


def imports(path: Path) -> set[str]:
    """The top-level stylelib modules that ``path`` imports, wherever the import statement is."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    here = ("stylelib", *parts[:-1])  # the package the file is in
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = tuple(node.module.split(".")) if node.module else ()
            full = here[: len(here) - node.level + 1] + module if node.level else module
            if full[0] == "stylelib":
                out.update([full[1]] if len(full) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("stylelib."))
    return out - {parts[0], "__version__"}


def layers() -> tuple[dict[str, int], dict[str, tuple[int, str, int]]]:
    """From the package docstring: module -> line number, and module -> (line, method, rank)."""
    block = stylelib.__doc__.split("::", 1)[1].split("\n\n")[1]
    line_of, method_of = {}, {}
    for number, line in enumerate(block.strip().splitlines()):
        for group in line.split("|"):
            method, _, names = group.rpartition(":")
            for rank, chunk in enumerate(names.split("->")):
                for name in (n.strip() for n in chunk.split(",")):
                    assert name not in line_of, f"{name} is listed twice"
                    line_of[name] = number
                    if method.strip():
                        method_of[name] = (number, method.strip(), rank)
    return line_of, method_of


def test_the_layer_diagram_lists_every_module_once():
    line_of, _ = layers()
    assert set(line_of) == set(modules())


def test_imports_only_point_down_and_never_between_methods():
    line_of, method_of = layers()
    wrong = []
    for module, paths in modules().items():
        for path in paths:
            for target in imports(path):
                if target not in line_of:
                    wrong.append(f"{path.name} imports unknown module {target}")
                elif module in method_of and target in method_of:
                    (_, m1, r1), (_, m2, r2) = method_of[module], method_of[target]
                    if m1 != m2 or r2 >= r1:
                        wrong.append(f"{module} ({m1}) imports {target} ({m2}): sideways")
                elif line_of[target] >= line_of[module]:
                    wrong.append(f"{module} imports {target}, which is not below it")
    assert not wrong, "\n".join(wrong)


def test_the_import_check_can_fail(tmp_path, monkeypatch):
    """The parser sees a function-level, relative import (the kind that hid the vgg circle)."""
    source = tmp_path / "stylelib" / "layers.py"
    source.parent.mkdir()
    source.write_text("def f():\n    from .vgg import VGGFeatures\n    from stylelib import cli\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", source.parent)
    assert imports(source) == {"vgg", "cli"}


def test_the_readme_module_table_matches_the_files():
    table = re.findall(r"^\| `stylelib\.(\w+)` \|", README.read_text(encoding="utf-8"), re.M)
    assert sorted(table) == sorted(modules()), "README's module table and stylelib/ differ"
    assert len(table) == len(set(table))


@pytest.mark.parametrize("name", sorted(modules()))
def test_docstring_examples_run(name):
    module = importlib.import_module(f"stylelib.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0
