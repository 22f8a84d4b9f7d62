"""Device choice and the set-up report."""

from __future__ import annotations

import pytest
import torch

from stylelib.env import pick_device, quick_mode, report


def test_auto_picks_an_available_device():
    device = pick_device("auto")
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert device.type == expected


def test_unavailable_device_is_explained(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        ValueError, match="'cuda' is not available on this machine .* use device='auto'"
    ):
        pick_device("cuda")
    with pytest.raises(ValueError, match="is not a device name"):
        pick_device("gpu0")


def test_quick_mode(monkeypatch):
    monkeypatch.setenv("STYLELIB_QUICK", "1")
    assert quick_mode()
    monkeypatch.setenv("STYLELIB_QUICK", "0")
    assert not quick_mode()


def test_report_says_weights_are_missing():
    text = report()
    assert "vgg19 weights: MISSING" in text and "stylelib weights fetch" in text
