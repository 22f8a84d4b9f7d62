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


@pytest.mark.parametrize("cached", [True, False])
def test_lessons_use_imagenet_when_cached_else_random_and_say_so(monkeypatch, capsys, cached):
    monkeypatch.setattr(weights, "cached_file", lambda arch, source="imagenet": cached or None)
    assert weights.best_available("vgg16") == ("imagenet" if cached else "random")
    assert vgg_weights("vgg16") == weights.best_available("vgg16")
    said = capsys.readouterr().out
    assert ("random ones" in said) == (not cached)
