"""What an answer calls: the guard that refuses the library's own answer, or another
package's function that is the answer.

:func:`~.harness.run` runs every answer inside :class:`_LibraryGuard`, a profiler hook that
notes the first Python function the answer calls from a forbidden file: a module of the
library (the reference answers) or :class:`Foreign` code with its reason (torchvision's VGG
for lesson 01's exercises that ask to write VGG). It sees only calls made while the answer
runs, and only Python functions (a C function or a plain attribute read is not a call here).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple


class Foreign(NamedTuple):
    """Code outside the library that an answer may not call, and why: a package's function
    that *is* the answer (torchvision's VGG builders for an exercise that asks to write VGG).

    Given to :func:`run` in ``forbid`` beside the library's own modules; the verdict reads
    ``"<name> calls <function>: <why>."``. ``files`` are real paths (``os.path.realpath``).
    """

    files: frozenset[str]
    why: str


class _LibraryGuard:
    """While active, note the first call into the source files of ``modules`` (library modules,
    or :class:`Foreign` code with its reason; any thread's profiler is the interpreter's: this
    one watches the current thread, where the answer runs).
    """

    def __init__(self, modules: Sequence[ModuleType | Foreign]) -> None:
        library = [m for m in modules if not isinstance(m, Foreign)]
        self.why = dict.fromkeys(library_files(library), "")  # real path -> reason ("": ours)
        for foreign in (m for m in modules if isinstance(m, Foreign)):
            self.why.update(dict.fromkeys(foreign.files, foreign.why))
        self.files = frozenset(self.why)
        self.seen: str | None = None
        self.seen_why = ""
        self.tampered = False
        self._known: dict[str, str | None] = {}

    def _profile(self, frame, event, arg) -> None:
        if event != "call" or self.seen is not None:
            return
        filename = frame.f_code.co_filename
        if filename not in self._known:
            self._known[filename] = self.why.get(os.path.realpath(filename))
        why = self._known[filename]
        if why is not None:
            module = frame.f_globals.get("__name__", "stylelib")
            code = frame.f_code  # co_qualname is Python 3.11+
            self.seen = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
            self.seen_why = why

    def __enter__(self) -> _LibraryGuard:
        if self.files:
            self._previous, self._hook = sys.getprofile(), self._profile  # one bound method
            sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self.files:
            self.tampered = sys.getprofile() is not self._hook
            sys.setprofile(self._previous)

    def verdict(self, name: str) -> None:
        if self.tampered:
            raise AssertionError(
                f"{name} changes the interpreter's profiler (sys.setprofile), which the grader "
                "uses to see what an answer calls: leave it alone."
            )
        if self.seen is not None and self.seen_why:
            raise AssertionError(f"{name} calls {self.seen}: {self.seen_why}.")
        if self.seen is not None:
            raise AssertionError(
                f"{name} calls {self.seen}, the library's own answer to this exercise: the "
                "exercise is to write it yourself (your result is compared with the library's)."
            )


def library_files(modules: Sequence[ModuleType]) -> frozenset[str]:
    """The real paths of the source files of ``modules`` (a package: all its files)."""
    files = set()
    for module in modules:
        path = Path(module.__file__).resolve()
        if path.name == "__init__.py":
            files.update(str(p.resolve()) for p in path.parent.rglob("*.py"))
        else:
            files.add(str(path))
    return frozenset(files)


def library_calls(call: Callable[[], Any], modules: Sequence[ModuleType | Foreign]) -> str | None:
    """Run ``call()`` and return the first function of ``modules`` it ran (``module.qualname``),
    or None. For checks whose answer is a class: ``library_calls(lambda: cls(8)(x), [...])``.
    """
    with _LibraryGuard(modules) as guard:
        call()
    return guard.seen
