"""stylelib.classify: VGG whole, offline, against closed forms and torchvision's own VGG16.

Oracles: the shapes torchvision's classifier has; softmax sums to one; with fc8's weights
zero the probabilities are softmax(fc8's bias), so the top-k order and names are known in
advance; and a weights file of exactly torchvision's layout (seeded random tensors, saved
small) loads into torchvision's ``vgg16()`` with ``strict=True`` and gives the same logits
as ours.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision

from stylelib import classify
from stylelib.errors import WeightsError
from stylelib.layers import build_features
from stylelib.weights import RandomWeightsWarning


@pytest.fixture(scope="module")
def model():
    """One random VGG16 for the module (drawing its 138 M weights takes a second or two)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        return classify.VGGClassifier("vgg16", weights="random")


def test_categories_are_torchvisions_1000_names():
    names = classify.categories("vgg16")
    assert len(names) == 1000 and all(isinstance(n, str) and n for n in names)
    assert classify.categories("vgg19") == names


def test_smoke_logits_shape_and_softmax(model, image):
    batch = torch.cat([image, image.flip(-1)])
    logits = model(batch)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.softmax(1).sum(1), torch.ones(2, dtype=logits.dtype))


def test_classifier_has_torchvisions_keys_and_shapes():
    ours = classify.build_classifier().state_dict()
    with torch.device("meta"):
        theirs = torchvision.models.vgg16().classifier.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_random_classifier_is_seeded_like_torchvision_init(model):
    state = classify.random_classifier_state(0)  # the model's seed
    assert all(torch.equal(state[k], v) for k, v in model.classifier.state_dict().items())
    assert abs(state["0.weight"].std().item() - 0.01) < 1e-4 and not state["6.bias"].any()


def test_top_k_order_names_and_probabilities_from_fc8_bias(model, image):
    fc8 = model.classifier[6]
    kept = fc8.weight.clone(), fc8.bias.clone()
    bias = torch.randn(1000, generator=torch.Generator().manual_seed(3))
    try:
        fc8.weight.zero_()  # logits = fc8's bias, whatever the image
        fc8.bias.copy_(bias)
        rows = classify.top_k(model, image, k=5, prepared=True)
    finally:
        fc8.weight.copy_(kept[0])
        fc8.bias.copy_(kept[1])
    want_p, want_i = bias.softmax(0).topk(5)
    assert [name for name, _ in rows[0]] == [model.categories[i] for i in want_i.tolist()]
    assert [p for _, p in rows[0]] == pytest.approx(want_p.tolist(), rel=1e-5)
    assert all(a[1] >= b[1] for a, b in zip(rows[0], rows[0][1:], strict=False))


def test_top_k_gives_k_rows_per_image(model, image):
    rows = classify.top_k(model, torch.cat([image, image]), k=3, prepared=True)
    assert [len(r) for r in rows] == [3, 3]
    assert "1. " in classify.format_top_k(rows[0]) and "%" in classify.format_top_k(rows[0])


@pytest.mark.parametrize("h, w", [(300, 451), (451, 300), (64, 64)])
def test_prepare_is_torchvisions_resize_and_centre_crop(h, w):
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    out = classify.prepare(x)
    assert out.shape == (1, 3, 224, 224) and 0 <= out.min() and out.max() <= 1
    transform = torchvision.models.VGG16_Weights.IMAGENET1K_V1.transforms()  # ends normalised
    mean = torch.tensor(transform.mean).view(1, 3, 1, 1)
    std = torch.tensor(transform.std).view(1, 3, 1, 1)
    error = ((out - mean) / std - transform(x)).abs().max().item()
    assert error < 1e-4, error


def _torchvision_layout_file(path, seed=0):
    """A full VGG16 file in torchvision's keys and shapes, from seeded random tensors.

    fc6 and fc7 are strided views of a small random vector (each row shifted by one), so the
    file stays ~70 MB instead of 528 MB while every key and shape is torchvision's.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.vgg16().state_dict().items()}
    state = {}
    for key, shape in shapes.items():
        if key in ("classifier.0.weight", "classifier.3.weight"):
            n_out, n_in = shape
            base = torch.randn(n_in + n_out - 1, generator=generator) / n_in**0.5
            state[key] = base.as_strided((n_out, n_in), (1, 1))
        else:
            fan_in = shape[1:].numel() if len(shape) > 1 else 100
            state[key] = torch.randn(shape, generator=generator) / fan_in**0.5
    torch.save(state, path)
    return state


@pytest.mark.slow  # writes a 70 MB file and builds two whole VGG16s: ~5 s on 2 cores
def test_loads_the_real_files_classifier_and_agrees_with_torchvision(offline_cache, image):
    offline_cache.mkdir(parents=True, exist_ok=True)
    path = offline_cache / "vgg16-397923af.pth"  # torchvision's file name, found as "imagenet"
    _torchvision_layout_file(path)
    assert classify.available_weights("vgg16") == "imagenet"
    ours = classify.VGGClassifier("vgg16", weights="imagenet")
    reference = torchvision.models.vgg16()
    reference.load_state_dict(torch.load(path, weights_only=True), strict=True)
    reference.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        want, got = reference((image - mean) / std), ours(image)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert ours.categories == classify.categories("vgg16")


def test_a_features_only_file_cannot_classify(tmp_path):
    path = tmp_path / "features.pth"
    torch.save(build_features("vgg16").state_dict(), path)
    with pytest.raises(WeightsError, match="holds no VGG classifier"):
        classify.read_classifier_file(path)


def test_imagenet_without_the_full_file_says_what_is_missing(offline_cache):
    assert classify.available_weights("vgg16") == "random"
    offline_cache.mkdir(parents=True, exist_ok=True)
    (offline_cache / "vgg16-features-397923af.pth").write_bytes(b"")  # an export: no classifier
    assert classify.available_weights("vgg16") == "random"
    with pytest.raises(WeightsError):
        classify.VGGClassifier("vgg16", weights="imagenet")
