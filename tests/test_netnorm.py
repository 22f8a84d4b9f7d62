"""Network normalisation (Gatys et al. 2016, Sec. 2): mean activation 1, same network otherwise.

Oracles: the definition itself, measured again in float64 on torchvision's own VGG module
(not ours) after loading the rescaled weights; and positive homogeneity (every feature of the
normalised network is the raw feature divided by its channel's scale), layer by layer, for
conv, relu and pool outputs, with max and with average pooling.
"""

from __future__ import annotations

import pytest
import torch
import torchvision

from stylelib import netnorm, weights
from stylelib.cli import main
from stylelib.errors import WeightsError
from stylelib.images import save_image
from stylelib.layers import layers
from stylelib.vgg import VGGFeatures


def small_calibration(seed: int = 0) -> netnorm.Calibration:
    """Three images of different shapes, one with a flat patch (ties at zero after ReLU)."""
    g = torch.Generator().manual_seed(seed)
    images = [torch.rand(1, 3, h, w, generator=g) for h, w in ((40, 48), (48, 36), (32, 32))]
    images[0][..., :16, :16] = 0.5
    return netnorm.Calibration(tuple(images), "three seeded test images")


def measured_means(state, arch, calibration, convention) -> dict[str, torch.Tensor]:
    """Mean rectified activation per filter, on torchvision's VGG module, in float64."""
    model = getattr(torchvision.models, arch)(weights=None).features.double()
    model.load_state_dict({k: v.double() for k, v in state.items()})
    relu_names = {layer.index: layer.name for layer in layers(arch) if layer.kind == "relu"}
    mean = torch.tensor(convention.mean, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(convention.std, dtype=torch.float64).view(1, 3, 1, 1)
    per_image = []
    with torch.no_grad():
        for image in calibration.images:
            x, means = (image.double() - mean) / std, {}
            for i, module in enumerate(model):
                if isinstance(module, torch.nn.ReLU):
                    x = torch.relu(x)  # torchvision's ReLUs run in place: read a copy
                else:
                    x = module(x)
                if i in relu_names:
                    means[relu_names[i]] = x.mean(dim=(0, 2, 3))
            per_image.append(means)
    return {n: sum(m[n] for m in per_image) / len(per_image) for n in per_image[0]}


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_mean_activation_of_every_filter_is_one(arch):
    loaded = weights.load(arch, "random", seed=3)
    calibration = small_calibration()
    scales = netnorm.filter_scales(loaded, calibration, dtype=torch.float64)
    state = netnorm.rescale({k: v.double() for k, v in loaded.state.items()}, arch, scales)
    means = measured_means(state, arch, calibration, loaded.convention)
    raw = measured_means(loaded.state, arch, calibration, loaded.convention)
    assert len(means) == len(scales) == {"vgg16": 13, "vgg19": 16}[arch]
    silent = 0
    for relu, mean in means.items():
        # a filter that (almost) never fires is scaled like its layer's median filter instead
        typical = raw[relu].median()
        fires = raw[relu] > netnorm.SILENT * typical
        silent += int((~fires).sum())
        expected = torch.where(fires, 1.0, raw[relu] / typical).double()
        torch.testing.assert_close(
            mean, expected, rtol=0, atol=1e-10, msg=f"{relu} is not at mean 1"
        )
        assert (mean[~fires] <= netnorm.SILENT).all()
    assert silent < 0.05 * sum(m.numel() for m in means.values())  # the test tests something


@pytest.mark.slow
def test_a_silent_filter_gets_its_layers_median_scale_and_stays_silent():
    loaded = weights.load("vgg16", "random", seed=1)
    state = dict(loaded.state)
    state["0.bias"] = state["0.bias"].clone()
    state["0.bias"][5] = -1e4  # conv1_1 filter 5 never fires
    loaded = weights.VGGWeights("vgg16", state, loaded.convention, False, "test", ("test",))
    scales = netnorm.filter_scales(loaded, small_calibration(), dtype=torch.float64)
    assert scales["conv1_1"][5] == scales["conv1_1"].median() and (scales["conv1_1"] > 0).all()
    out = netnorm.rescale(state, "vgg16", scales)
    means = measured_means(out, "vgg16", small_calibration(), loaded.convention)
    assert means["relu1_1"][5] == 0
    others = torch.cat([means["relu1_1"][:5], means["relu1_1"][6:]])
    torch.testing.assert_close(others, torch.ones_like(others), rtol=0, atol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_normalised_features_are_the_raw_ones_divided_by_the_scales(pooling, image):
    raw = VGGFeatures("vgg19", weights="random", layers=None, pooling=pooling)
    norm = VGGFeatures("vgg19", weights="random", layers=None, pooling=pooling, normalize=True)
    assert norm.normalized and not raw.normalized and not raw.scales
    f_raw, f_norm = raw(image), norm(image)
    scale = None
    for layer in layers("vgg19"):
        if layer.kind == "conv":  # conv4_2 and relu4_2 by conv4_2's scales; pool4 by the last
            scale = norm.scales[layer.name]
        expected = f_raw[layer.name] / scale.float().view(1, -1, 1, 1)
        torch.testing.assert_close(
            f_norm[layer.name],
            expected,
            rtol=1e-4,
            atol=1e-5 * expected.abs().max().item(),  # float32 round-off at that magnitude
            msg=layer.name,
        )


def test_rescale_leaves_its_input_alone():
    loaded = weights.load("vgg16", "random")
    before = {k: v.clone() for k, v in loaded.state.items()}
    scales = {n: torch.full((c,), 2.0, dtype=torch.float64) for n, c in _channels("vgg16")}
    out = netnorm.rescale(loaded.state, "vgg16", scales)
    for key, value in before.items():
        assert torch.equal(loaded.state[key], value)
    # closed form with every scale 2: conv1_1's weights halve, later ones keep (2 / 2)
    torch.testing.assert_close(out["0.weight"], before["0.weight"] / 2)
    torch.testing.assert_close(out["2.weight"], before["2.weight"])
    torch.testing.assert_close(out["2.bias"], before["2.bias"] / 2)


def _channels(arch):
    return [(layer.name, layer.out_channels) for layer in layers(arch) if layer.kind == "conv"]


def fake_imagenet_file(path, arch="vgg19", seed=5):
    state = {f"features.{k}": v for k, v in weights.random_features_state(arch, seed).items()}
    state["classifier.0.weight"] = torch.ones(4, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


@pytest.mark.slow
def test_scales_are_computed_once_and_cached_beside_the_weights(offline_cache, monkeypatch):
    fake_imagenet_file(offline_cache / weights.official_name("vgg19"))
    first = VGGFeatures("vgg19", weights="imagenet", layers=["relu2_1"], normalize=True)
    loaded = weights.load("vgg19", "imagenet")
    cached = netnorm.scales_path(loaded)
    digest = weights.tensor_digest(loaded.state)
    assert cached.parent == offline_cache and digest[:16] in cached.name
    payload = torch.load(cached, weights_only=True)
    assert payload["weights_digest"] == digest and "built-in photos" in payload["calibration"]

    netnorm._memory.clear()  # a new process: the file, not a new calibration, must answer

    def no_calibration(*args, **kwargs):
        raise AssertionError("scales were computed again")

    monkeypatch.setattr(netnorm, "filter_scales", no_calibration)
    again = VGGFeatures("vgg19", weights="imagenet", layers=["relu2_1"], normalize=True)
    for name in ("conv1_1", "conv2_1"):
        torch.testing.assert_close(again.scales[name], first.scales[name], rtol=0, atol=0)


@pytest.mark.slow
def test_other_weights_get_other_scales(offline_cache):
    fake_imagenet_file(offline_cache / weights.official_name("vgg19"), seed=5)
    a = VGGFeatures("vgg19", weights="imagenet", layers=["relu1_1"], normalize=True).scales
    fake_imagenet_file(offline_cache / weights.official_name("vgg19"), seed=6)
    b = VGGFeatures("vgg19", weights="imagenet", layers=["relu1_1"], normalize=True).scales
    assert not torch.equal(a["conv1_1"], b["conv1_1"])
    assert len(list(offline_cache.glob("vgg19-scales-*.pt"))) == 2


def test_calibration_folder(tmp_path):
    with pytest.raises(WeightsError, match="holds no images"):
        netnorm.calibration_images(tmp_path)
    with pytest.raises(WeightsError, match="does not exist"):
        netnorm.calibration_images(tmp_path / "missing")
    for i in range(2):
        save_image(torch.rand(1, 3, 40, 60), tmp_path / f"{i}.png")
    calibration = netnorm.calibration_images(tmp_path, size=48)
    assert len(calibration.images) == 2 and calibration.images[0].shape[-1] == 48
    assert str(tmp_path) in calibration.description


def test_cli_normalize_then_status(offline_cache, tmp_path, capsys):
    fake_imagenet_file(offline_cache / weights.official_name("vgg16"), "vgg16")
    for i in range(2):
        save_image(torch.rand(1, 3, 40, 60), tmp_path / f"{i}.png")
    code = main(["weights", "normalize", "--arch", "vgg16", "--calibration", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "vgg16-scales-" in out and "conv1_1" in out
    assert main(["weights", "status"]) == 0
    status = capsys.readouterr().out
    assert f"2 images of {tmp_path}" in status
