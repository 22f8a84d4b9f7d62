"""The command line: exit 0 on success, 2 with one line on stderr on failure."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib import weights
from stylelib.cli import main


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
