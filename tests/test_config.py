"""Presets carry the papers' values, pinned here against the papers' text."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from stylelib.config import describe, equal_layer_weights, style_layer_weights, with_style_layers
from stylelib.gatys.config import GatysConfig
from stylelib.johnson.config import JohnsonConfig
from stylelib.presets import PRESETS
from stylelib.presets import get as preset
from stylelib.vgg import layer_names


def test_gatys_paper_preset():
    cfg = preset("gatys2016")
    assert cfg.arch == "vgg19" and cfg.pooling == "avg" and cfg.init == "noise"
    # The paper's conv4_2 and conv1_1 ... conv5_1 are Caffe blobs after the in-place ReLU.
    assert cfg.content_layers == ("relu4_2",)
    assert cfg.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert cfg.style_layer_weights == (0.2,) * 5
    assert cfg.normalize_network  # Sec. 2: every filter's mean activation rescaled to 1
    assert cfg.content_weight / cfg.style_weight == pytest.approx(1e-3)
    assert cfg.normalization == "gatys" and cfg.optimizer == "lbfgs"


def test_gatys_code_preset_differs_where_the_code_does():
    cfg = preset("gatys2016-code")
    assert cfg.content_layers == ("relu4_2",) and cfg.pooling == "max" and cfg.init == "content"
    assert cfg.normalize_network  # the authors' vgg_conv.pth is the normalised network
    assert cfg.style_layer_weights[0] == pytest.approx(1e3 / 64**2)
    assert cfg.style_layer_weights[-1] == pytest.approx(1e3 / 512**2)


def test_pytorch_tutorial_preset_translates_its_counter_names():
    cfg = preset("pytorch-tutorial")
    # conv_1 ... conv_5 count convolutions: conv1_1, conv1_2, conv2_1, conv2_2, conv3_1.
    assert cfg.style_layers == ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")
    assert cfg.content_layers == ("conv2_2",)  # its "conv_4"
    assert not cfg.normalize_network and cfg.pooling == "max" and cfg.init == "content"
    assert (cfg.content_weight, cfg.style_weight) == (1.0, 1e6)
    assert cfg.style_layer_weights[0] == 1 / 64**2 and cfg.style_layer_weights[-1] == 1 / 256**2


def test_johnson_presets():
    paper, code = preset("johnson2016"), preset("johnson2016-code")
    assert paper.arch == "vgg16" and paper.content_layers == ("relu2_2",)
    assert code.content_layers == ("relu3_3",)
    assert paper.style_layers == ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    assert (paper.image_size, paper.batch_size, paper.lr) == (256, 4, 1e-3)
    assert paper.normalization == "johnson"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_names_real_layers(name):
    cfg = PRESETS[name]
    arch = getattr(cfg, "arch", "vgg19")  # AdaIN's encoder is VGG-19
    named = [getattr(cfg, f, ()) for f in ("content_layers", "style_layers", "feature_layer")]
    layers = [n for value in named for n in ((value,) if isinstance(value, str) else value)]
    assert layers, f"{name} names no layer"
    for layer in layers:
        assert layer in layer_names(arch)


def test_frozen_and_replace():
    cfg = GatysConfig()
    with pytest.raises(FrozenInstanceError):
        cfg.steps = 3
    small = replace(cfg, steps=3)
    assert small.steps == 3 and cfg.steps == 500
    assert "steps = 3   (changed)" in describe(small)


def test_bad_values_are_explained():
    with pytest.raises(ValueError, match="one weight per layer"):
        GatysConfig(style_layers=("conv1_1",))
    with pytest.raises(ValueError, match="pooling='mean' is not one of max, avg"):
        JohnsonConfig(pooling="mean")
    with pytest.raises(ValueError, match="steps must be positive"):
        GatysConfig(steps=0)
    with pytest.raises(ValueError, match="unknown preset 'gatys'; choose one of"):
        preset("gatys")


# --- the style-layer weights a preset gives new layers: one rule for every caller ----------


def test_equal_layer_weights_are_the_papers():
    assert equal_layer_weights(5, "gatys") == (0.2,) * 5  # Gatys et al. 2016, Fig. 3
    assert equal_layer_weights(3, "johnson") == (1.0,) * 3  # Johnson et al. 2016, Eq. 5
    assert equal_layer_weights(0, "gatys") == () == style_layer_weights(preset("gatys2016"), ())
    with pytest.raises(ValueError, match="normalization='mean'"):
        equal_layer_weights(2, "mean")


def test_presets_with_equal_weights_give_their_normalisations_weights():
    layers = ("relu1_1", "relu3_1", "relu5_1")
    assert style_layer_weights(preset("gatys2016"), layers) == (1 / 3,) * 3
    assert style_layer_weights(preset("johnson2016"), layers) == (1.0,) * 3
    gatys_as_johnson = replace(preset("gatys2016"), normalization="johnson")
    assert style_layer_weights(gatys_as_johnson, layers) == (1.0,) * 3


def test_presets_with_per_layer_weights_keep_them_by_block():
    code = preset("gatys2016-code")  # 1e3 / N_l^2 on relu1_1 ... relu5_1
    weights = style_layer_weights(code, ("relu1_1", "relu1_2", "conv3_4"))
    assert weights == (1e3 / 64**2, 1e3 / 64**2, 1e3 / 256**2)
    tutorial = preset("pytorch-tutorial")  # 1 / C^2 on conv1_1 ... conv3_1: no block 4 or 5
    mean = sum(tutorial.style_layer_weights) / 5
    assert style_layer_weights(tutorial, ("conv2_2", "relu4_1")) == (1 / 128**2, mean)
    with pytest.raises(KeyError, match="not a VGG layer name"):
        style_layer_weights(code, ("fc7",))


def test_with_style_layers_changes_layers_and_weights_together():
    changed = with_style_layers(preset("gatys2016"), ["relu2_1", "relu4_1"])
    assert changed.style_layers == ("relu2_1", "relu4_1")
    assert changed.style_layer_weights == (0.5, 0.5)
    assert replace(
        changed, style_layers=preset("gatys2016").style_layers, style_layer_weights=(0.2,) * 5
    ) == preset("gatys2016")


def test_the_command_line_and_the_sweeps_use_the_same_rule(monkeypatch):
    from stylelib import cli
    from stylelib.gatys import cli as gatys_cli
    from stylelib.gatys import explore as gatys_explore

    layers, seen = ("relu1_1", "relu2_2"), []
    monkeypatch.setattr(gatys_explore, "transfer", lambda c, s, cfg, **k: seen.append(cfg))
    for name in ("gatys2016", "gatys2016-code", "pytorch-tutorial"):
        args = cli.build_parser().parse_args(
            ["transfer", "c.png", "s.png", "-o", "o.png", "--preset", name]
            + ["--style-layers", ",".join(layers)]
        )
        expected = style_layer_weights(preset(name), layers)
        assert gatys_cli.transfer_config(args).style_layer_weights == expected
        seen.clear()
        with pytest.raises(AttributeError):  # the stand-in returns None, which has no .image
            gatys_explore.sweep(None, None, preset(name), [{"style_layers": layers}], [{}])
        assert seen[0].style_layer_weights == expected


# --- every number checked where it enters ----------------------------------------------------


def test_numbers_are_normalised_to_the_annotated_types():
    import numpy as np

    cfg = GatysConfig(
        content_weight=1,
        steps=np.int64(3),
        style_weight=np.float32(10.0),
        style_layers=["relu1_1", "relu2_1"],
        style_layer_weights=[1, 2],
    )
    assert type(cfg.content_weight) is float and type(cfg.style_weight) is float
    assert type(cfg.steps) is int and cfg.style_layers == ("relu1_1", "relu2_1")
    assert cfg.style_layer_weights == (1.0, 2.0) and hash(cfg)  # tuples: hashable, cacheable
    assert GatysConfig(lr=None).lr is None and GatysConfig(weights=Path("v.pth")).weights


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_passes_its_own_checks_and_round_trips_as_a_dict(name):
    from dataclasses import asdict

    cfg = PRESETS[name]
    saved = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
    assert type(cfg)(**saved) == cfg  # the way a checkpoint's config comes back


@pytest.mark.parametrize(
    ("cls", "changes", "words"),
    [
        (GatysConfig, {"size": 4097}, "size=4097 makes up to 16,785,409 px, over the limit"),
        (GatysConfig, {"size": 2048, "style_scale": 2.5}, "a style image of 5120 px"),
        (JohnsonConfig, {"batch_size": 257, "image_size": 256}, "257 crops of image_size=256"),
        (JohnsonConfig, {"image_size": 16}, "image_size=16 must be at least 32 px"),
        (GatysConfig, {"seed": 2**63}, "seed must be an int from 0 to 2**63 - 1"),
        (JohnsonConfig, {"workers": 65}, "workers must be at most 64"),
        (GatysConfig, {"scales": 5, "size": 256}, "halves size=256 to 16 px"),
        (GatysConfig, {"weights": 3}, "weights must be a name or a path, got 3 (int)"),
        (GatysConfig, {"precision": 16}, "precision=16 is not one of fp32, bf16"),
    ],
)
def test_limits_are_refused_with_the_limit_and_the_reason(cls, changes, words):
    with pytest.raises(ValueError) as info:
        cls(**changes)
    assert words in str(info.value) and "\n" not in str(info.value), str(info.value)
    if "limit" in words:  # the cap says why: VGG's activations
        assert "VGG keeps about 2.4 kB of activations per pixel" in str(info.value)


def test_the_largest_allowed_sizes_are_accepted():
    assert GatysConfig(size=4096, scales=8).size == 4096  # 4096 / 2**7 = 32 px at the coarsest
    assert JohnsonConfig(batch_size=256, image_size=256, workers=64).batch_size == 256
    assert GatysConfig(seed=2**63 - 1).seed == 2**63 - 1
