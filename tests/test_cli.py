"""The command line: exit 0 on success, 2 with one line on stderr for bad input, 1 otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib import weights
from stylelib.cli import main
from stylelib.errors import ImageError


def run(capsys, *argv):
    return run_cli(capsys, *argv)


def assert_one_line_error(code, err, fragment):
    one_line_error(code, err, fragment, alone=True)


def test_layers_table_vgg16(capsys):
    code, out, _ = run(capsys, "layers", "vgg16", "--input-size", "300")
    assert code == 0
    assert "138,357,544" in out
    conv11 = next(line for line in out.splitlines() if line.startswith("conv1_1"))
    assert "300 x 300 x 64" in conv11 and "1,792" in conv11
    assert "150 x 150 x 64" in next(line for line in out.splitlines() if line.startswith("pool1"))


def test_layers_features_only(capsys):
    code, out, _ = run(capsys, "layers", "vgg19", "--features-only")
    assert code == 0 and "20,024,384" in out and "fc6" not in out


def test_layers_too_small_input(capsys):
    code, _, err = run(capsys, "layers", "vgg19", "--input-size", "8")
    assert_one_line_error(code, err, "at least 32 x 32")


def test_layers_unknown_arch_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["layers", "vgg11"])
    assert info.value.code == 2


def test_weights_fetch_without_network(capsys, offline_cache):
    code, _, err = run(capsys, "weights", "fetch", "--arch", "vgg19", "--timeout", "5")
    assert_one_line_error(code, err, "stylelib weights install PATH/vgg19-dcbb9e9d.pth")


def test_weights_status(capsys, offline_cache):
    code, out, _ = run(capsys, "weights", "status")
    assert code == 0 and "vgg19: missing" in out and str(offline_cache.parent) in out


def test_weights_install_wrong_file(capsys, tmp_path):
    bad = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    code, _, err = run(capsys, "weights", "install", str(bad))
    assert_one_line_error(code, err, "refused")
    code, _, err = run(capsys, "weights", "install", str(tmp_path / "nope.pth"))
    assert_one_line_error(code, err, "no such file")


def test_weights_export_without_cache(capsys):
    code, _, err = run(capsys, "weights", "export", "--arch", "vgg16")
    assert_one_line_error(code, err, "export needs the full file")


def test_weights_export_to_unwritable_place(capsys, offline_cache, tmp_path):
    state = {f"features.{k}": v for k, v in weights.random_features_state("vgg16").items()}
    offline_cache.mkdir(parents=True)
    torch.save(state, offline_cache / weights.official_name("vgg16"))
    code, _, err = run(
        capsys, "weights", "export", "--arch", "vgg16", "-o", str(tmp_path / "no" / "x.pth")
    )
    assert_one_line_error(code, err, "does not exist")


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "stylelib", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "layers" in result.stdout and "weights" in result.stdout


@pytest.fixture
def cached_vgg16(offline_cache):
    """A stand-in for torchvision's VGG16 file in the cache (random features)."""
    state = {f"features.{k}": v for k, v in weights.random_features_state("vgg16").items()}
    offline_cache.mkdir(parents=True)
    path = offline_cache / weights.official_name("vgg16")
    torch.save(state, path)
    return path


def test_weights_export_keeps_existing_files_unless_told(capsys, cached_vgg16, tmp_path):
    out = tmp_path / "features.pth"
    out.write_bytes(b"someone's file")
    code, _, err = run(capsys, "weights", "export", "--arch", "vgg16", "-o", out)
    assert_one_line_error(code, err, "already exists; choose another name or pass --overwrite")
    assert out.read_bytes() == b"someone's file"
    code, stdout, _ = run(capsys, "weights", "export", "--arch", "vgg16", "-o", out, "--overwrite")
    assert code == 0 and f"wrote {out}" in stdout
    assert torch.load(out, weights_only=True)["format"] == weights.EXPORT_FORMAT


def test_weights_export_never_replaces_its_source_or_a_photo(capsys, cached_vgg16, tmp_path):
    before = cached_vgg16.read_bytes()
    argv = ["weights", "export", "--arch", "vgg16", "--overwrite", "-o"]
    code, _, err = run(capsys, *argv, cached_vgg16)
    assert_one_line_error(code, err, "refusing to overwrite the input weights file")
    assert cached_vgg16.read_bytes() == before
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"a holiday photo")
    code, _, err = run(capsys, *argv, photo)
    assert_one_line_error(code, err, "should end in .pth or .pt")
    assert photo.read_bytes() == b"a holiday photo"


# --------------------------------------------------------------------------- exit codes


def test_help_lists_every_exit_code(capsys):
    from stylelib.cli import EXIT_CODES

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "exit status" in out and "diverged" in out
    assert set(EXIT_CODES) == {0, 1, 2, 130}
    assert all(f"  {code:<5}" in out for code in EXIT_CODES)


def _failing(exc):
    def command(args):
        raise exc

    return command


def test_an_unexpected_error_is_one_line_with_exit_1(capsys, monkeypatch):
    from stylelib import cli

    monkeypatch.setattr(cli, "cmd_layers", _failing(RuntimeError("boom\n  in detail")))
    code, _, err = run(capsys, "layers", "vgg16")
    assert code == 1
    assert err.strip() == (
        "stylelib: error: RuntimeError: boom in detail (run with --debug for the traceback)"
    )
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "layers", "vgg16"])


def test_a_diverged_run_exits_1(capsys, monkeypatch):
    from stylelib import cli
    from stylelib.errors import Diverged

    monkeypatch.setattr(cli, "cmd_layers", _failing(Diverged("the loss became nan at step 3")))
    code, _, err = run(capsys, "layers", "vgg16")
    assert code == 1 and err.strip() == "stylelib: error: the loss became nan at step 3"


def _from_a_worker(exc):
    """``exc`` as torch re-raises it from a DataLoader worker process."""
    from torch._utils import ExceptionWrapper

    try:
        raise exc
    except type(exc):
        wrapper = ExceptionWrapper(where="in DataLoader worker process 0")
    try:
        wrapper.reraise()
    except Exception as reraised:
        return reraised


@pytest.mark.parametrize(
    "original, code, line",
    [
        (ImageError("'a.png' is not an image"), 2, "'a.png' is not an image"),
        (KeyError("relu9_9"), 1, "KeyError: 'relu9_9' (run with --debug"),
        (ZeroDivisionError("division by zero"), 1, "ZeroDivisionError: division by zero (run"),
    ],
)
def test_a_dataloader_worker_error_is_unwrapped(capsys, monkeypatch, original, code, line):
    from stylelib import cli

    wrapped = _from_a_worker(original)
    assert "Original Traceback" in str(wrapped)
    monkeypatch.setattr(cli, "cmd_layers", _failing(wrapped))
    got, _, err = run(capsys, "layers", "vgg16")
    assert got == code and err.strip().startswith(f"stylelib: error: {line}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_readme_documents_every_exit_status():
    import re
    from pathlib import Path

    from stylelib import cli

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("Exit status:", 1)[1].split("\n\n", 2)[1]
    statuses = {int(s) for s in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert statuses == set(cli.EXIT_CODES)
