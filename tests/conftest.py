"""Shared fixtures: every test runs offline, on a private torch cache, with seeded inputs."""

from __future__ import annotations

import pytest
import torch

from stylelib import weights


@pytest.fixture(autouse=True)
def offline_cache(tmp_path_factory, monkeypatch):
    """A fresh, empty TORCH_HOME, and downloads pointed at a closed loopback port.

    No test can read the user's real cache or reach the internet: "imagenet" weights are
    missing unless a test puts a file there, and a download fails at once.
    """
    home = tmp_path_factory.mktemp("torch_home")
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv(weights.MIRROR_ENV, "http://127.0.0.1:9/")
    return home / "hub" / "checkpoints"


@pytest.fixture(autouse=True)
def quiet_random_weights(monkeypatch):
    """Tests use random weights everywhere; the one-time warning has its own test."""
    monkeypatch.setattr(weights, "_warned_random", True)


@pytest.fixture
def image():
    """A seeded 1 x 3 x 48 x 64 image in [0, 1] (non-square on purpose)."""
    return torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="session")
def notebook_torch_home(tmp_path_factory):
    """One private, initially empty TORCH_HOME for every notebook this session runs.

    Still no downloaded weights in it; what the lessons put there (the normalised network's
    scales, calibrated once per random network, half a minute per lesson otherwise) is shared
    by the lessons instead of being computed again in each one.
    """
    return tmp_path_factory.mktemp("notebook_torch_home")


@pytest.fixture
def notebook_cache(offline_cache, notebook_torch_home, monkeypatch):
    """Point this test's subprocesses (nbgrader, JupyterLab kernels) at the shared cache."""
    monkeypatch.setenv("TORCH_HOME", str(notebook_torch_home))
    return notebook_torch_home / "hub" / "checkpoints"


@pytest.fixture
def one_thread():
    """One torch thread for the test: on tiny tensors a second thread only waits (10x slower
    on two busy shared cores). Modules use it with ``pytestmark``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
