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
# A string that names a module the way import_module and entry points do: "stylelib.x.y[:attr]".
STRING_IMPORT = re.compile(r"^stylelib((?:\.\w+)+)(?::\w+)?$")


def methods(package: Path = PACKAGE) -> set[str]:
    """The method subpackages: those with a ``config`` and a ``cli`` module of their own."""
    return {p.parent.name for p in package.glob("*/config.py") if (p.parent / "cli.py").exists()}


def node(parts: tuple[str, ...], method_names: set[str]) -> str:
    """The diagram's name for a module: ``vgg``, ``checks`` (a package counts as one), or
    ``gatys.transfer`` inside a method (``gatys`` for the method package itself)."""
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    if parts[0] in method_names and len(parts) > 1:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def modules(package: Path = PACKAGE) -> dict[str, list[Path]]:
    """Diagram name -> its source files."""
    found: dict[str, list[Path]] = {}
    names = methods(package)
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts[0] in ("__init__", "__main__"):
            continue
        found.setdefault(node(parts, names), []).append(path)
    return found


def _string_target(node_: ast.AST) -> str | None:
    """``"stylelib.a.b"`` for a string import: an ``import_module``/``__import__`` argument or
    a ``"stylelib.a.b:attr"`` constant."""
    if isinstance(node_, ast.Call):
        func = node_.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        arg = node_.args[0] if node_.args else None
        if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
            return arg.value if isinstance(arg.value, str) else None
    if isinstance(node_, ast.Constant) and isinstance(node_.value, str) and ":" in node_.value:
        return node_.value.partition(":")[0]
    return None


def imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """The diagram names ``path`` imports, wherever the import is: statements at any depth,
    relative or absolute, and string imports."""
    names = methods(package)
    parts = path.relative_to(package).with_suffix("").parts
    here = ("stylelib", *parts[:-1])  # the package the file is in
    targets: list[tuple[str, ...]] = []
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.ImportFrom):
            module = tuple(n.module.split(".")) if n.module else ()
            full = here[: len(here) - n.level + 1] + module if n.level else module
            if full[0] == "stylelib":
                targets += [full + (a.name,) for a in n.names]
        elif isinstance(n, ast.Import):
            targets += [tuple(a.name.split(".")) for a in n.names]
        else:
            text = _string_target(n)
            if text and STRING_IMPORT.match(text):
                targets.append(tuple(text.split(".")))
    out = set()
    for full in targets:
        if full[0] != "stylelib" or len(full) < 2 or full[1] in ("__version__", "__init__"):
            continue
        rest = full[1:]
        if (
            rest[0] in names
            and len(rest) > 1
            and not (package / rest[0] / f"{rest[1]}.py").exists()
        ):
            rest = rest[:1]  # "from stylelib.gatys import x" where x is no module: the package
        elif rest[0] not in names and not (package / rest[0]).is_dir():
            rest = rest[:1]
        out.add(node(rest, names))
    return out - {node(parts, names)}


def layers(doc: str | None = None) -> tuple[dict[str, int], dict[str, tuple[str, int]]]:
    """From the package docstring: name -> line number, and method module -> (method, rank).

    A method package itself (``gatys``) sits on its method's highest line: importing the
    whole package is importing all of it.
    """
    block = (doc or stylelib.__doc__).split("::", 1)[1].split("\n\n")[1]
    line_of: dict[str, int] = {}
    method_of: dict[str, tuple[str, int]] = {}
    joined = re.sub(r"\|\s*\n\s*", "| ", block.strip())  # a line ending in "|" goes on
    for number, line in enumerate(joined.splitlines()):
        for group in line.split("|"):
            method, _, names = group.rpartition(":")
            method = method.strip()
            for rank, chunk in enumerate(names.split("->")):
                for name in (n.strip() for n in chunk.split(",")):
                    full = f"{method}.{name}" if method else name
                    assert full not in line_of, f"{full} is listed twice"
                    line_of[full] = number
                    if method:
                        method_of[full] = (method, rank)
                        line_of[method] = number
                        method_of[method] = (method, 10**6)
    return line_of, method_of


def violations(package: Path = PACKAGE, doc: str | None = None) -> list[str]:
    """Every import that points up, sideways between methods, or at an unlisted module."""
    line_of, method_of = layers(doc)
    wrong = []
    for module, paths in modules(package).items():
        for path in paths:
            for target in imports(path, package):
                if target not in line_of:
                    wrong.append(f"{path.name} imports unknown module {target}")
                elif module in method_of and target in method_of:
                    (m1, r1), (m2, r2) = method_of[module], method_of[target]
                    if m1 != m2:
                        wrong.append(f"{module} ({m1}) imports {target} ({m2}): sideways")
                    elif line_of[target] > line_of[module] or (
                        line_of[target] == line_of[module] and r2 >= r1
                    ):
                        wrong.append(f"{module} imports {target}, which is not below it")
                elif line_of[target] >= line_of[module]:
                    wrong.append(f"{module} imports {target}, which is not below it")
    return wrong


def test_the_layer_diagram_lists_every_module_once():
    line_of, _ = layers()
    assert set(line_of) == set(modules())  # a method package is placed on its cli's line


def test_every_method_has_the_same_files():
    for method in methods():
        files = {p.stem for p in (PACKAGE / method).glob("*.py")}
        assert {"__init__", "config", "cli"} <= files, method


def test_imports_only_point_down_and_never_between_methods():
    wrong = violations()
    assert not wrong, "\n".join(wrong)


def test_the_import_check_can_fail(tmp_path):
    """Planted cases: a function-level relative import, an upward string import in both
    forms, and a method importing another; the parser sees each and the check refuses them."""
    package = tmp_path / "stylelib"
    (package / "gatys").mkdir(parents=True)
    (package / "adain").mkdir()
    for method in ("gatys", "adain"):
        for name in ("__init__", "config", "cli"):
            (package / method / f"{name}.py").write_text("")
    (package / "cli.py").write_text("")
    (package / "vgg.py").write_text("")
    (package / "layers.py").write_text(
        "import importlib\n"
        "def f():\n"
        "    from .vgg import VGGFeatures\n"
        "    importlib.import_module('stylelib.cli')\n"
        "CHECK = 'stylelib.adain.config:check'\n"
    )
    (package / "gatys" / "config.py").write_text("from stylelib.adain.config import X\n")
    assert imports(package / "layers.py", package) == {"vgg", "cli", "adain.config"}
    doc = "x::\n\n    layers\n    vgg\n    gatys: config |\n      adain: config\n"
    doc += "    gatys: cli | adain: cli\n    cli\n"
    wrong = violations(package, doc)
    assert "layers imports vgg, which is not below it" in wrong
    assert "layers imports cli, which is not below it" in wrong
    assert "layers imports adain.config, which is not below it" in wrong
    assert "gatys.config (gatys) imports adain.config (adain): sideways" in wrong
    assert violations(package, doc.replace("layers\n    vgg", "vgg\n    layers")) != []


def test_the_readme_module_table_matches_the_files():
    table = re.findall(r"^\| `stylelib\.([\w.]+)` \|", README.read_text(encoding="utf-8"), re.M)
    assert sorted(table) == sorted(modules()), "README's module table and stylelib/ differ"
    assert len(table) == len(set(table))


@pytest.mark.parametrize("name", sorted(modules()))
def test_docstring_examples_run(name):
    module = importlib.import_module(f"stylelib.{name}")  # checks: its package docstring
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0


MAX_LINES = 600  # a module is read in one sitting; past this it holds more than one job


def test_no_module_is_longer_than_one_sitting():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these along their seams: {long}"
