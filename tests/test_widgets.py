"""The control panel, driven from Python as the browser would drive it (no browser here).

Random weights, 48 px and a few steps: each run takes about a second. What the browser
shows is checked by tests/test_browser.py.
"""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib import data, widgets
from stylelib.errors import LayerError
from stylelib.gatys import transfer as gatys_transfer
from stylelib.images import save_image
from stylelib.presets import get as preset
from stylelib.widgets import ControlPanel, control_panel

TIMEOUT = 120  # s; a run takes about a second, more on a loaded machine


@pytest.fixture
def config():
    return replace(preset("gatys2016"), weights="random", device="cpu", size=48, steps=6)


@pytest.fixture
def panel(config):
    panel = ControlPanel(config)
    yield panel
    panel.stop()
    panel.wait(TIMEOUT)


def count_changes(widget) -> list:
    """A list that grows by one at every change of ``widget.value``."""
    changes: list = []
    widget.observe(lambda change: changes.append(change["new"]), names="value")
    return changes


def uploaded(name: str, content: bytes) -> tuple[dict]:
    """A FileUpload value as the browser sends it (ipywidgets 8)."""
    return (
        {
            "name": name,
            "type": "image/png",
            "size": len(content),
            "last_modified": datetime.now(timezone.utc),
            "content": memoryview(content),
        },
    )


def spy_on_transfer(monkeypatch, before=None) -> list:
    """Record the config of every transfer call; ``before(config)`` runs first, in the worker."""
    calls: list = []
    real = gatys_transfer.transfer

    def spy(content, style, config, **kwargs):
        calls.append(config)
        if before is not None:
            before(config)
        return real(content, style, config, **kwargs)

    monkeypatch.setattr(widgets, "transfer", spy)
    return calls


def test_smoke_config_reflects_widgets(panel, config):
    assert panel.config() == config  # nothing changed yet: the config given
    panel.content_weight.value = 10.0
    panel.style_weight.value = 1e5
    panel.tv_on.value = True
    panel.tv_weight.value = 1e-3
    panel.content_layers["relu4_2"].value = False
    panel.content_layers["relu3_1"].value = True
    panel.style_layers["relu5_1"].value = False
    panel.optimizer.value, panel.init.value, panel.pooling.value = "adam", "content", "max"
    panel.color.value, panel.size.value, panel.steps.value = "luminance", 64, 7
    got = panel.config()
    assert (got.content_weight, got.style_weight) == pytest.approx((10.0, 1e5))
    assert got.tv_weight == pytest.approx(1e-3)
    assert got.content_layers == ("relu3_1",)
    assert got.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    assert got.style_layer_weights == (0.25,) * 4  # the paper's rule: w_l = 1/L
    assert (got.optimizer, got.init, got.pooling, got.color) == (
        "adam",
        "content",
        "max",
        "luminance",
    )
    assert (got.size, got.steps) == (64, 7)
    assert (got.weights, got.device) == ("random", "cpu")  # kept from the config given
    panel.tv_on.value = False
    assert panel.config().tv_weight == 0.0
    assert panel.tv_weight.disabled


def test_preset_resets_fields(panel, config):
    panel.style_weight.value = 1e6
    panel.style_layers["relu2_2"].value = True
    panel.preset_picker.value = "gatys2016-code"
    code = panel.config()
    expected = replace(preset("gatys2016-code"), weights="random", device="cpu", size=48, steps=6)
    assert code == expected
    assert panel.style_layers["relu1_1"].value and not panel.style_layers["conv1_1"].value
    panel.preset_picker.value = "gatys2016"
    assert panel.config() == config


def test_given_config_that_is_no_preset(config):
    custom = replace(config, style_weight=5e4)
    panel = ControlPanel(custom)
    assert panel.preset_picker.value == ""  # "as given in the notebook"
    assert panel.config() == custom
    panel.preset_picker.value = "gatys2016"
    panel.preset_picker.value = ""
    assert panel.config() == custom


def test_defaults_follow_the_device(monkeypatch):
    panel = ControlPanel()  # quick mode (tests/conftest.py): 48 px, 10 steps
    assert (panel.size.value, panel.steps.value) == (48, 10)
    assert panel.config().weights == "random"  # no cached weights in the tests' TORCH_HOME
    assert "cpu" in panel.device_line.value
    monkeypatch.setenv("STYLELIB_QUICK", "0")
    panel = ControlPanel(replace(preset("gatys2016"), device="cpu"))
    assert (panel.size.value, panel.size.max) == (512, 512)  # the CPU's largest size
    assert ControlPanel().size.value == 256


def test_gpu_gets_the_papers_sizes(monkeypatch):
    monkeypatch.setenv("STYLELIB_QUICK", "0")
    assert widgets._start_sizes(torch.device("cuda")) == (512, 500, 1024, 2000)
    assert widgets._start_sizes(torch.device("cpu")) == (256, 100, 512, 1000)


def test_picking_an_image_shows_its_thumbnail(panel):
    panel.wait(TIMEOUT)
    thumbnails = count_changes(panel.style_thumb)
    panel.style_picker.value = "dots"
    panel.wait(TIMEOUT)
    assert len(thumbnails) == 1 and thumbnails[0][:8] == b"\x89PNG\r\n\x1a\n"


def test_display_delegates_to_the_widget(panel):
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(control_panel(replace(preset("gatys2016"), weights="random")), ControlPanel)


def test_run_updates_preview_losses_and_result(panel):
    panel.preview_every.value = 1
    previews, plots = count_changes(panel.preview), count_changes(panel.loss_plot)
    panel.run_button.click()
    assert panel.wait(TIMEOUT)
    assert len(previews) >= 2 and len(plots) >= 2
    assert panel.result.stopped == "finished" and len(panel.result.history) == 6
    assert panel.result.image.shape == (1, 3, 32, 48)  # chelsea is 300 x 451
    assert "finished 6 steps" in panel.status.value
    assert not panel.run_button.disabled and panel.stop_button.disabled


def test_stop_returns_the_best_image_so_far(panel):
    panel.steps.value = 50
    panel.preview_every.value = 1
    panel.preview.observe(lambda _: panel.stop_button.click(), names="value")  # after step 1
    panel.run()
    assert panel.wait(TIMEOUT)
    assert panel.result.stopped == "stopped"
    assert panel.result.steps < 50
    assert panel.result.image.shape == (1, 3, 32, 48)
    assert "stopped at step" in panel.status.value


def test_double_run_starts_one_thread(panel, monkeypatch):
    states = []
    calls = spy_on_transfer(monkeypatch, lambda _: states.append(panel.run_button.disabled))
    panel.run_button.click()
    panel.run_button.click()  # a second press during the run is ignored
    assert not panel.run()
    assert panel.wait(TIMEOUT)
    assert len(calls) == 1 and states == [True]
    names = [t.name for t in threading.enumerate()]
    assert "stylelib-panel-run" not in names


def test_changing_widgets_mid_run_is_harmless(panel, monkeypatch):
    started = threading.Event()
    release = threading.Event()

    def hold(_):
        started.set()
        release.wait(TIMEOUT)

    calls = spy_on_transfer(monkeypatch, hold)
    panel.run()
    assert started.wait(TIMEOUT)
    panel.steps.value = 3
    panel.style_weight.value = 1e6
    panel.preset_picker.value = "gatys2016-code"
    panel.style_picker.value = "dots"
    for box in panel.content_layers.values():
        box.value = False
    release.set()
    assert panel.wait(TIMEOUT)
    assert calls[0].steps == 6 and calls[0].style_weight == 1e3  # read once, at Run
    assert panel.result.steps == 6 and panel.result.stopped == "finished"
    assert panel.config().steps == 3  # the next run gets the new values


def test_invalid_values_show_in_status(panel):
    for boxes in (panel.content_layers, panel.style_layers):
        for box in boxes.values():
            box.value = False
    panel.run_button.click()
    assert "at least one content layer or one style layer" in panel.status.value
    assert not panel.running and not panel.run_button.disabled and panel.result is None


def test_worker_error_shows_one_line_and_reenables_run(panel, monkeypatch):
    def broken(*args, **kwargs):
        raise LayerError("vgg19 has no layer 'conv9_9'; its layers run from conv1_1 to relu5_4")

    monkeypatch.setattr(widgets, "transfer", broken)
    panel.run_button.click()
    assert panel.wait(TIMEOUT)
    assert "vgg19 has no layer 'conv9_9'" in panel.status.value
    assert "Traceback" not in panel.status.value and "\n" not in panel.status.value
    assert not panel.run_button.disabled and panel.stop_button.disabled
    monkeypatch.undo()
    assert panel.run() and panel.wait(TIMEOUT) and panel.result is not None  # usable again


def test_unavailable_artwork_says_so(panel, monkeypatch):
    def offline(key, **kwargs):
        raise data.DataUnavailable(
            f"artwork {key!r} is not in the cache and could not be downloaded"
        )

    monkeypatch.setattr(data, "artwork_path", offline)
    panel.style_picker.value = "starry_night"
    panel.wait(TIMEOUT)
    assert "'starry_night' is not in the cache" in panel.status.value
    panel.run()
    assert panel.wait(TIMEOUT)
    assert "could not be downloaded" in panel.status.value and panel.result is None


def test_upload_becomes_the_content_image(panel, tmp_path):
    photo = tmp_path / "wide.png"
    save_image(torch.rand(1, 3, 40, 80), photo)
    panel.content_upload.value = uploaded("wide.png", photo.read_bytes())
    assert panel.content_picker.value.endswith("uploaded: wide.png")
    panel.steps.value, panel.size.value = 2, 64
    assert panel.run() and panel.wait(TIMEOUT)
    assert panel.result.image.shape == (1, 3, 32, 64)  # the upload's 1:2 aspect
    panel.style_upload.value = uploaded("x.png", b"not an image")
    assert "cannot read x.png" in panel.status.value


def test_save_writes_png_and_refuses_inputs(config, tmp_path):
    photo = tmp_path / "photo.png"
    save_image(torch.rand(1, 3, 48, 48), photo)
    before = photo.read_bytes()
    panel = ControlPanel(replace(config, steps=2), content=str(photo))
    panel.save_button.click()
    assert "press Run first" in panel.status.value
    assert panel.run() and panel.wait(TIMEOUT)
    panel.save_name.value = str(tmp_path / "out.png")
    panel.save_button.click()
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "saved" in panel.status.value
    panel.save_name.value = str(photo)
    panel.save_button.click()
    assert "refusing to overwrite the input image" in panel.status.value
    assert photo.read_bytes() == before
    panel.save_name.value = str(tmp_path / "no_folder" / "out.png")
    assert panel.save() is None and "does not exist" in panel.status.value


def test_a_region_runs_spatial_control_with_the_rest_as_the_photo(panel, monkeypatch):
    """The Regions tab turns into transfer(content, [style, None], masks=[mask, "rest"])."""
    seen = []
    real = gatys_transfer.transfer

    def spy(content, style, config, **kwargs):
        seen.append((style, kwargs.get("masks")))
        return real(content, style, config, **kwargs)

    monkeypatch.setattr(widgets, "transfer", spy)
    panel.regions.region.value = "left"
    assert panel.run() and panel.wait(TIMEOUT)
    ((styles, masks),) = seen
    assert masks == ["left", "rest"] and len(styles) == 2 and styles[1] is None
    assert panel.result.stopped == "finished", panel.status.value
    panel.regions.rest.value = "mosaic"
    panel.regions.region.value = ""  # everywhere: no masks at all
    assert panel.run() and panel.wait(TIMEOUT)
    assert seen[-1][1] is None and not isinstance(seen[-1][0], list)


def test_the_region_thumbnail_dims_the_photo_outside_the_mask(panel, tmp_path):
    assert panel.wait(TIMEOUT)  # the content thumbnail has loaded
    before = panel.regions.thumb.value
    panel.regions.region.value = "top"
    assert panel.regions.thumb.value != before
    png = Image.open(io.BytesIO(panel.regions.thumb.value)).convert("L")
    pixels = np.asarray(png, dtype=float)
    top, bottom = pixels[: pixels.shape[0] // 2 - 2], pixels[pixels.shape[0] // 2 + 2 :]
    assert bottom.mean() < 0.5 * top.mean()  # dimmed to a quarter where the mask is 0


def test_an_uploaded_mask_becomes_the_region(panel):
    buffer = io.BytesIO()
    array = np.zeros((30, 45), dtype=np.uint8)
    array[:, :20] = 255
    Image.fromarray(array).save(buffer, format="PNG")
    panel.regions.upload.value = uploaded("sky.png", buffer.getvalue())
    assert panel.regions.region.label == "uploaded: sky.png"
    assert np.array_equal(panel.regions.mask(), array)
    panel.regions.upload.value = uploaded("notes.png", b"not an image")
    assert "cannot read notes.png" in panel.status.value
