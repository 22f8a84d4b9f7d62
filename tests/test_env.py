"""stylelib.env: quick mode, the lessons' budget, their weights and the set-up report."""

from __future__ import annotations

import pytest

from stylelib import env, weights
from stylelib.env import budget, quick_mode, report, vgg_weights


def test_quick_mode(monkeypatch):
    monkeypatch.setenv("STYLELIB_QUICK", "1")
    assert quick_mode()
    monkeypatch.setenv("STYLELIB_QUICK", "0")
    assert not quick_mode()


def test_budget_is_the_quick_one_in_quick_mode_else_the_devices(monkeypatch):
    monkeypatch.setenv("STYLELIB_QUICK", "1")
    assert budget(quick=1, cpu=2, gpu=3) == 1
    monkeypatch.setenv("STYLELIB_QUICK", "0")
    expected = 2 if env.pick_device().type == "cpu" else 3
    assert budget(quick=1, cpu=2, gpu=3) == expected


def test_report_says_weights_are_missing():
    text = report()
    assert "vgg19 weights: MISSING" in text and "stylelib weights fetch" in text


def test_report_says_once_per_network_what_it_has(monkeypatch, tmp_path):
    """One line per network, whatever number of sources (torchvision, Caffe, the authors')
    the cache knows: lessons printed 'vgg16 weights: MISSING' twice."""
    text = report()
    for arch in ("vgg16", "vgg19"):
        assert sum(line.startswith(f"{arch} weights:") for line in text.splitlines()) == 1
    caffe = tmp_path / "vgg19-d01eb7cb.pth"
    caffe.write_bytes(b"")
    rows = [
        {**row, "file": caffe if (row["source"], row["arch"]) == ("caffe", "vgg19") else None}
        for row in weights.status()
    ]
    monkeypatch.setattr(weights, "status", lambda: rows)
    lines = report().splitlines()
    assert "vgg19 weights: pretrained (vgg19-d01eb7cb.pth, caffe)" in lines
    assert sum(line.startswith("vgg16 weights: MISSING") for line in lines) == 1


@pytest.mark.parametrize("cached", [True, False])
def test_lessons_use_imagenet_when_cached_else_random_and_say_so(monkeypatch, capsys, cached):
    monkeypatch.setattr(weights, "cached_file", lambda arch, source="imagenet": cached or None)
    assert weights.best_available("vgg16") == ("imagenet" if cached else "random")
    assert vgg_weights("vgg16") == weights.best_available("vgg16")
    said = capsys.readouterr().out
    assert ("random ones" in said) == (not cached)
