"""Helpers shared by the tests (imported as ``from helpers import ...``): the command line,
and the device x dtype matrix of the numeric code."""

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


def _device_dtypes() -> list:
    """The devices x dtypes the numeric code must agree on; CUDA rows need a GPU (``-m gpu``)."""
    import pytest
    import torch

    cpu = [("cpu", torch.float64), ("cpu", torch.float32), ("cpu", torch.bfloat16)]
    on_gpu = [
        pytest.mark.gpu,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ]
    cuda = [
        pytest.param("cuda", dtype, marks=on_gpu)
        for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16)
    ]
    return [pytest.param(d, t, id=f"{d}-{str(t)[6:]}") for d, t in cpu] + [
        pytest.param(*p.values, marks=p.marks, id=f"cuda-{str(p.values[1])[6:]}") for p in cuda
    ]


DEVICE_DTYPES = _device_dtypes()


def relative_error(got, reference) -> float:
    """max |got - reference| / max |reference|, computed in float64 on the CPU."""
    got, reference = got.detach().double().cpu(), reference.detach().double().cpu()
    return float((got - reference).abs().max() / reference.abs().max().clamp(min=1e-30))


# What each dtype's arithmetic keeps of a float64 answer (relative to its largest value): its
# unit roundoff times the few hundred operations a sum over channels and positions takes.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5, "float16": 5e-3, "bfloat16": 4e-2}


# --- the exercise checks' catalogues ----------------------------------------------------------

# Each check must reject at least this many wrong answers and accept this many right ones.
MIN_WRONG, MIN_RIGHT = 6, 3


# Checks whose every case builds and runs a whole VGG network (4-6 s each on 2 cores): their
# catalogue cases are marked slow; each such check keeps a fast test in its own module.
SLOW_CHECKS = {"check_vgg16_sequential"}


def catalogue_cases(catalogue: dict) -> tuple[list, list]:
    """``{name: (check, kwargs, [(wrong, keyword)], [right])}`` as pytest parameters."""
    import pytest

    def marks(check) -> list:
        return [pytest.mark.slow] if check.__name__ in SLOW_CHECKS else []

    wrong = [
        pytest.param(
            check, kwargs, answer, keyword, id=f"{name}-{_name(answer)}", marks=marks(check)
        )
        for name, (check, kwargs, wrongs, _) in catalogue.items()
        for answer, keyword in wrongs
    ]
    right = [
        pytest.param(check, kwargs, answer, id=f"{name}-{_name(answer)}", marks=marks(check))
        for name, (check, kwargs, _, rights) in catalogue.items()
        for answer in rights
    ]
    return wrong, right


def _name(answer) -> str:
    return getattr(answer, "__name__", type(answer).__name__)


def assert_rejected(check, kwargs: dict, wrong, keyword: str) -> str:
    """The check fails ``wrong`` with one or two sentences that contain ``keyword``."""
    import pytest

    with pytest.raises(AssertionError) as info:
        check(wrong, **kwargs)
    message = str(info.value)
    assert keyword in message, message
    assert "\n" not in message and len(message) < 500, message
    return message


def assert_accepted(check, kwargs: dict, right, capsys) -> str:
    """The check passes ``right`` and prints its one success line."""
    check(right, **kwargs)
    line = capsys.readouterr().out.strip()
    assert line.startswith("✓ ") and "correct on" in line, line
    assert line.splitlines() == [line]
    return line


def assert_catalogue_complete(catalogue: dict, module) -> None:
    """Every ``check_*`` of ``module`` has at least MIN_WRONG wrong and MIN_RIGHT right answers."""
    for name, (_, _, wrongs, rights) in catalogue.items():
        assert len(wrongs) >= MIN_WRONG and len(rights) >= MIN_RIGHT, name
    public = {
        name
        for name in getattr(module, "__all__", dir(module))
        if name.startswith("check_") and getattr(module, name).__module__ == module.__name__
    }
    assert {check.__name__ for check, *_ in catalogue.values()} == public


def catalogue_tests(catalogue: dict, module) -> tuple:
    """The three tests of a catalogue, for a test module to bind to its own names:
    each wrong answer rejected with its keyword, each right one accepted, every check covered.
    """
    import pytest

    wrong, right = catalogue_cases(catalogue)

    @pytest.mark.parametrize(("check", "kwargs", "wrong", "keyword"), wrong)
    def rejects(check, kwargs, wrong, keyword):
        assert_rejected(check, kwargs, wrong, keyword)

    @pytest.mark.parametrize(("check", "kwargs", "right"), right)
    def accepts(check, kwargs, right, capsys):
        assert_accepted(check, kwargs, right, capsys)

    def complete():
        assert_catalogue_complete(catalogue, module)

    return rejects, accepts, complete
