"""stylelib.adain_panel: AdaIN's test-time controls on sliders give what stylize gives.

Oracle: :func:`stylelib.adain.networks.stylize` with the same α, style weights and colour
setting (the library's own function, called without widgets).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from stylelib.adain.networks import AdaINNet, Decoder, Encoder, stylize
from stylelib.adain_panel import AdaINPanel


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, on purpose
        return AdaINNet(Encoder.from_vgg("random", normalize=False), Decoder(seed=0))


def test_the_sliders_give_what_stylize_gives(net):
    content = rand(1, 3, 40, 48, seed=50)
    styles = [rand(1, 3, 40, 40, seed=51), rand(1, 3, 48, 32, seed=52) * 0.5]
    panel = AdaINPanel(net, content, styles, alpha=0.6, mix=0.25)
    expected = stylize(net, content, styles, alpha=0.6, style_weights=[0.75, 0.25])
    assert torch.allclose(panel.result(), expected, atol=1e-6)
    panel.color.value = True  # an observer recomputes the picture
    panel.alpha.value = 1.0
    expected = stylize(net, content, styles, style_weights=[0.75, 0.25], preserve_color=True)
    assert torch.allclose(panel.result(), expected, atol=1e-6)
    assert "α 1.00, 25% of style 2, colours kept" in panel.status.value
    assert bytes(panel.image.value).startswith(b"\x89PNG")


def test_one_style_disables_the_mix_slider_and_mix_at_an_end_is_that_style(net):
    content, style = rand(1, 3, 40, 40, seed=53), rand(1, 3, 40, 40, seed=54)
    single = AdaINPanel(net, content, style)
    assert single.mix.disabled and single.style_weights() is None
    assert torch.allclose(single.result(), stylize(net, content, style), atol=1e-6)
    pair = AdaINPanel(net, content, [style, content], mix=0.0)
    assert torch.allclose(pair.result(), stylize(net, content, style), atol=1e-6)
