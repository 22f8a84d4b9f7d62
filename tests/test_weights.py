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


# --- the papers' own files: Caffe's VGG (jcjohnson/pytorch-vgg) and the authors' vgg_conv.pth


CAFFE_MEAN_BGR = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def fake_caffe_file(path, arch="vgg19", seed=7, renumbered=False):
    """jcjohnson/pytorch-vgg's layout: ``features.N.*`` for BGR 0-255 input, and the
    torchvision classifier of 2017, whose linear layers sit at classifier.1, .4, .6
    (neural-style-pt's copies renumber them to .0, .3, .6). Tiny classifier tensors: they
    are never read."""
    state = {f"features.{k}": v for k, v in weights.random_features_state(arch, seed).items()}
    for i in (0, 3, 6) if renumbered else (1, 4, 6):
        state[f"classifier.{i}.weight"] = torch.ones(4, 4)
        state[f"classifier.{i}.bias"] = torch.ones(4)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def caffe_by_hand(state, image, upto):
    """torchvision's own VGG19 module fed what Caffe wants: BGR, 0-255, minus the BGR mean."""
    import torchvision

    model = torchvision.models.vgg19(weights=None).features
    model.load_state_dict({k.removeprefix("features."): v for k, v in state.items() if "feat" in k})
    x = image[:, [2, 1, 0]] * 255 - CAFFE_MEAN_BGR
    with torch.no_grad():
        for module in model[: upto + 1]:
            x = torch.relu(x) if isinstance(module, torch.nn.ReLU) else module(x)
    return x


@pytest.mark.slow  # builds a whole VGG-19 file per case
@pytest.mark.parametrize("name", ["vgg19-d01eb7cb.pth", "my-copy.pth"])
def test_caffe_file_gives_the_features_of_bgr_0_255_input_by_hand(tmp_path, image, name):
    path = tmp_path / name
    state = fake_caffe_file(path, renumbered=name == "vgg19-d01eb7cb.pth")
    net = VGGFeatures("vgg19", weights=path, layers=["relu1_1", "relu3_1", "relu5_1"])
    assert net.convention is weights.CAFFE
    got = net(image)
    for name_, index in (("relu1_1", 1), ("relu3_1", 11), ("relu5_1", 29)):
        expected = caffe_by_hand(state, image, index)
        torch.testing.assert_close(
            got[name_], expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item()
        )


def fake_vgg_conv_file(path, seed=8):
    """The authors' vgg_conv.pth: one entry per conv, ``conv1_1.weight`` ... ``conv5_4.bias``."""
    from stylelib.layers import layers

    state = weights.random_features_state("vgg19", seed)
    convs = [layer for layer in layers("vgg19") if layer.kind == "conv"]
    out = {}
    for layer in convs:
        out[f"{layer.name}.weight"] = state[f"{layer.index}.weight"]
        out[f"{layer.name}.bias"] = state[f"{layer.index}.bias"] + 0.01
    torch.save(out, path)
    return out


def authors_network(state, image, out_key):
    """The authors' notebook, rewritten: their VGG class (F.relu, named convs, max pooling)
    and their preprocessing (to BGR, minus [0.40760392, 0.45795686, 0.48501961], times 255)."""
    import torch.nn.functional as F

    x = (
        image[:, [2, 1, 0]] - torch.tensor([0.40760392, 0.45795686, 0.48501961]).view(1, 3, 1, 1)
    ) * 255
    depths = (2, 2, 4, 4, 4)
    for block, depth in enumerate(depths, 1):
        for i in range(1, depth + 1):
            w, b = state[f"conv{block}_{i}.weight"], state[f"conv{block}_{i}.bias"]
            x = F.relu(F.conv2d(x, w, b, padding=1))
            if f"r{block}{i}" == out_key:
                return x
        x = F.max_pool2d(x, 2, 2)
    raise KeyError(out_key)


def test_authors_vgg_conv_file_gives_their_features(tmp_path, image):
    path = tmp_path / "vgg_conv.pth"
    state = fake_vgg_conv_file(path)
    net = VGGFeatures("vgg19", weights=path, layers=["relu2_1", "relu4_2"])
    assert net.convention is weights.CAFFE and net.normalized  # theirs is normalised
    for ours, theirs in (("relu2_1", "r21"), ("relu4_2", "r42")):
        expected = authors_network(state, image, theirs)
        torch.testing.assert_close(
            net(image)[ours], expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item()
        )
    # asked to normalise, it is used as it is: the authors normalised it on ImageNet
    again = VGGFeatures("vgg19", weights=path, layers=["relu2_1"], normalize=True)
    assert not again.scales
    torch.testing.assert_close(again(image)["relu2_1"], net(image)["relu2_1"])
    with pytest.raises(WeightsError, match="pass arch='vgg19'"):
        VGGFeatures("vgg16", weights=path)


def test_install_recognises_the_authors_and_caffe_files_by_structure(tmp_path, offline_cache):
    mine = tmp_path / "downloads"
    mine.mkdir()
    fake_vgg_conv_file(mine / "vgg_conv.pth")
    fake_caffe_file(mine / "vgg16 caffe.pth", "vgg16")
    assert weights.install(mine / "vgg_conv.pth") == offline_cache / "vgg_conv.pth"
    assert weights.install(mine / "vgg16 caffe.pth") == offline_cache / "vgg16-00b39a1b.pth"
    assert VGGFeatures("vgg19", weights="gatys", layers=["relu1_1"]).normalized
    net = VGGFeatures("vgg16", weights="caffe", layers=["relu1_1"])
    assert net.convention is weights.CAFFE and not net.normalized
    assert (mine / "vgg_conv.pth").exists() and (mine / "vgg16 caffe.pth").exists()
    with pytest.raises(WeightsError, match="exists for vgg19 only; pass arch='vgg19'"):
        VGGFeatures("vgg16", weights="gatys")


def test_missing_caffe_file_names_its_address(offline_cache):
    with pytest.raises(weights.WeightsUnavailable) as info:
        VGGFeatures("vgg19", weights="caffe", layers=["relu1_1"])
    message = str(info.value)
    assert "vgg19-d01eb7cb.pth" in message and "stylelib weights install" in message
    assert "\n" not in message
