"""Weights policy: the cache, the dedicated error, install by hash, export, local files."""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import replace

import pytest
import torch

from stylelib import weights
from stylelib.errors import WeightsError
from stylelib.vgg import VGGFeatures


def publish_hash(monkeypatch, source, arch, prefix):
    """Pretend the publisher's SHA-256 prefix of (source, arch) is ``prefix``."""
    entries = tuple(
        replace(e, sha256_prefix=prefix) if (e.source, e.arch) == (source, arch) else e
        for e in weights.PUBLISHED
    )
    monkeypatch.setattr(weights, "PUBLISHED", entries)


def fake_torchvision_file(path, arch="vgg19", seed=5):
    """A state dict shaped like torchvision's file: ``features.*`` plus a (tiny) classifier."""
    state = {f"features.{k}": v for k, v in weights.random_features_state(arch, seed).items()}
    state["classifier.0.weight"] = torch.ones(4, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def test_imagenet_unreachable_raises_dedicated_error_fast(offline_cache):
    start = time.perf_counter()
    with pytest.raises(weights.WeightsUnavailable) as info:
        VGGFeatures("vgg19", weights="imagenet", layers=["relu1_1"])
    message = str(info.value)
    assert time.perf_counter() - start < 10, "waited on the network instead of failing"
    for fact in (
        "vgg19-dcbb9e9d.pth",
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        str(offline_cache),
        "stylelib weights install",
        "weights='random'",
    ):
        assert fact in message
    assert "\n" not in message
    assert not list(offline_cache.glob("*.part")), "a partial download was left behind"


def test_imagenet_uses_the_cached_file(offline_cache, image):
    state = fake_torchvision_file(offline_cache / weights.official_name("vgg19"))
    net = VGGFeatures("vgg19", weights="imagenet", layers=["conv2_1"])
    torch.testing.assert_close(net.features[5].weight, state["features.5.weight"])
    assert net(image)["conv2_1"].shape == (1, 128, 24, 32)


def test_local_path_and_arch_mismatch(tmp_path):
    path = tmp_path / "mine.pth"
    state = fake_torchvision_file(path, "vgg16")
    net = VGGFeatures("vgg16", weights=path, layers=["conv1_1"])
    torch.testing.assert_close(net.features[0].weight, state["features.0.weight"])
    with pytest.raises(WeightsError, match="holds vgg16 weights; pass arch='vgg16'"):
        VGGFeatures("vgg19", weights=path)
    with pytest.raises(
        WeightsError, match="neither 'imagenet', 'caffe', 'gatys', 'random' nor an existing file"
    ):
        VGGFeatures("vgg19", weights=tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="is not a PyTorch weights file"):
        VGGFeatures("vgg19", weights=junk)


def test_install_refuses_a_wrong_file_by_hash(tmp_path, offline_cache):
    wrong = tmp_path / "vgg19-dcbb9e9d.pth"  # right name, wrong bytes
    fake_torchvision_file(wrong)
    with pytest.raises(WeightsError, match="refused: its SHA-256 begins"):
        weights.install(wrong)
    assert not offline_cache.exists() or not any(offline_cache.iterdir())
    assert wrong.exists()


def test_install_accepts_a_file_with_the_published_hash(tmp_path, offline_cache, monkeypatch):
    copied = tmp_path / "downloaded-elsewhere.pth"
    fake_torchvision_file(copied)
    digest = hashlib.sha256(copied.read_bytes()).hexdigest()
    publish_hash(monkeypatch, "imagenet", "vgg19", digest[:8])
    dest = weights.install(copied)
    assert dest.parent == offline_cache and dest.name == weights.official_name("vgg19")
    assert dest.read_bytes() == copied.read_bytes() and copied.exists()


def test_export_then_install_elsewhere_gives_the_same_network(
    tmp_path, offline_cache, monkeypatch, image
):
    fake_torchvision_file(offline_cache / weights.official_name("vgg19"))
    full = VGGFeatures("vgg19", weights="imagenet", layers=["relu5_1"])
    exported = weights.export("vgg19", tmp_path / "class.pth")
    assert (
        exported.stat().st_size
        < 0.2 * (offline_cache / weights.official_name("vgg19")).stat().st_size + 90e6
    )

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "classroom"))
    with pytest.raises(weights.WeightsUnavailable):
        VGGFeatures("vgg19", weights="imagenet", layers=["relu1_1"])
    installed = weights.install(exported)
    assert installed.name == weights.export_name("vgg19")
    again = VGGFeatures("vgg19", weights="imagenet", layers=["relu5_1"])
    torch.testing.assert_close(again(image)["relu5_1"], full(image)["relu5_1"])


def test_install_refuses_a_tampered_export(tmp_path, offline_cache):
    fake_torchvision_file(offline_cache / weights.official_name("vgg16"), "vgg16")
    exported = weights.export("vgg16", tmp_path / "e.pth")
    payload = torch.load(exported, weights_only=True)
    payload["state_dict"]["0.weight"] += 1
    torch.save(payload, exported)
    with pytest.raises(WeightsError, match="refused"):
        weights.install(exported)


def test_export_needs_the_full_file():
    with pytest.raises(weights.WeightsUnavailable, match="export needs the full file"):
        weights.export("vgg16")


def test_status_reports_missing_then_ready(offline_cache):
    assert [r["file"] for r in weights.status()] == [None] * len(weights.PUBLISHED)
    fake_torchvision_file(offline_cache / weights.official_name("vgg16"), "vgg16")
    ready = {r["arch"]: r["file"] for r in weights.status() if r["source"] == "imagenet"}
    assert ready["vgg16"].name == "vgg16-397923af.pth" and ready["vgg19"] is None


def test_random_weights_warn_once(monkeypatch):
    monkeypatch.setattr(weights, "_warned_random", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        weights.random_features_state("vgg16")
        weights.random_features_state("vgg16")
    relevant = [w for w in caught if issubclass(w.category, weights.RandomWeightsWarning)]
    assert len(relevant) == 1 and "RANDOM" in str(relevant[0].message)


def test_hash_prefixes_are_torchvisions():
    assert weights.hash_prefix("vgg19") == "dcbb9e9d"
    assert weights.hash_prefix("vgg16") == "397923af"
    assert weights.export_name("vgg19") == "vgg19-features-dcbb9e9d.pth"
