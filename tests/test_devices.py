"""stylelib.devices: the device choice (oracle: what torch itself reports as available)."""

from __future__ import annotations

import pytest
import torch

from stylelib.devices import describe_device, pick_device


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


def test_the_cpu_is_described_by_its_threads():
    assert describe_device(torch.device("cpu")) == f"cpu ({torch.get_num_threads()} threads)"
