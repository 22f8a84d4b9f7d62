"""stylelib.figures: matplotlib figures outside pyplot, PNG bytes; the stylelib.figures shim."""

from __future__ import annotations

import io
import subprocess
import sys

import matplotlib
import pytest
import torch
from PIL import Image

from stylelib import figures

matplotlib.use("Agg")


def assert_labelled(fig, panels: int) -> None:
    """A suptitle, exactly ``panels`` axes, and a title or an axis label on each."""
    assert fig.get_suptitle()
    assert len(fig.axes) == panels
    for ax in fig.axes:
        assert ax.get_title() or ax.get_xlabel() or ax.get_ylabel(), ax


# --------------------------------------------------------------------------- figures


def images(n: int, size: int = 16) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(n)
    return [torch.rand(1, 3, size, size + 4, generator=g) for _ in range(n)]


def test_show_images_panels_and_titles():
    fig = figures.show_images(images(3), ["content", "style", "result"], suptitle="x", ncols=2)
    assert_labelled(fig, 3)  # the empty fourth slot is removed
    assert [ax.get_title() for ax in fig.axes] == ["content", "style", "result"]
    assert fig.axes[0].get_xticks().size == 0
    fig = figures.show_images([torch.rand(3, 8, 8)], suptitle="one")
    assert_labelled(fig, 1) and fig.axes[0].get_title() == "image 1"
    with pytest.raises(ValueError, match="one each"):
        figures.show_images(images(2), ["only one"], suptitle="x")


def test_show_grid_row_and_column_labels():
    rows = [images(3), images(3)]
    fig = figures.show_grid(
        rows,
        row_titles=["α/β=1e-3", "α/β=1e-4"],
        col_titles=["conv1_1", "conv2_1", "conv3_1"],
        suptitle="grid",
    )
    assert_labelled(fig, 6)
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:3]] == ["conv1_1", "conv2_1", "conv3_1"]
    assert [axes[0].get_ylabel(), axes[3].get_ylabel()] == ["α/β=1e-3", "α/β=1e-4"]
    with pytest.raises(ValueError, match="equal length"):
        figures.show_grid(
            [images(2), images(3)], row_titles=["a", "b"], col_titles=["c"] * 3, suptitle="x"
        )
    with pytest.raises(ValueError, match="row titles"):
        figures.show_grid(rows, row_titles=["a"], col_titles=["c"] * 3, suptitle="x")


def test_feature_maps_first_n_channels_each_normalised():
    features = torch.randn(1, 20, 8, 8)
    features[0, 1] = 5.0  # a constant channel must not divide by zero
    fig = figures.feature_maps(features, n=16, title="relu1_1")
    assert_labelled(fig, 16)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["channel 0", "channel 1"]
    shown = fig.axes[0].images[0].get_array()
    assert shown.min() == 0.0 and shown.max() == 1.0
    assert "first 16 of 20 channels" in fig.get_suptitle()
    assert_labelled(figures.feature_maps(torch.rand(3, 8, 8), n=16, title="t", ncols=2), 3)


def history(tv: float = 0.0) -> list[dict]:
    return [
        {
            "step": s,
            "size": 64 if s <= 3 else 128,
            "loss": 10.0 / s,
            "content_total": 1.0 / s,
            "style_total": 9.0 / s,
            "tv_total": tv,
        }
        for s in range(1, 7)
    ]


def test_plot_losses_log_scale_and_zero_terms():
    fig = figures.plot_losses(history(), title="losses")
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["content_total", "style_total", "loss"] and "tv_total" not in labels
    assert "tv_total" in ax.get_title()
    assert "size 128 px" in [t.get_text() for t in ax.get_legend().get_texts()]
    fig = figures.plot_losses(history(tv=-1.0), title="t", keys=("tv_total", "loss"), x="seconds")
    assert fig.axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="none of"):
        figures.plot_losses(history(), title="t", keys=("nope",))


def test_plot_loss_curves_compares_runs():
    curves = {"L-BFGS": ([0.1, 0.5, 1.0], [9.0, 3.0, 1.0]), "Adam": ([0.1, 1.0], [9.0, 5.0])}
    fig = figures.plot_loss_curves(curves, title="optimizers", xlabel="seconds", ylabel="loss")
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["L-BFGS", "Adam"]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "seconds"
    with pytest.raises(ValueError, match="2 x values and 1 y values"):
        figures.plot_loss_curves({"a": ([1, 2], [1])}, title="t", xlabel="x", ylabel="y")


def test_figures_stay_out_of_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    figures.show_images(images(1), suptitle="x")
    assert plt.get_fignums() == before  # nothing to close, nothing shown twice in Jupyter


def test_import_is_cheap():
    code = (
        "import sys, stylelib.figures, stylelib.diagrams; "
        "print(sorted({'matplotlib', 'graphviz', 'torchviz'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_show_matrix_labels_every_row_and_column():
    fig = figures.show_matrix(torch.eye(3), labels=["a", "b", "c"], title="identity")
    ax = fig.axes[0]
    assert fig._suptitle.get_text() == "identity"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match="N labels"):
        figures.show_matrix(torch.eye(3), labels=["a"], title="x")


def test_png_bytes_of_an_image_and_of_a_figure():
    image = torch.zeros(1, 3, 5, 7)
    image[0, 0, 1, 2] = 1.0  # one red pixel
    decoded = Image.open(io.BytesIO(figures.image_png(image)))
    assert decoded.size == (7, 5) and decoded.getpixel((2, 1)) == (255, 0, 0)
    fig = figures.show_images([image], suptitle="x", size=1.0)  # 1 x 1 inch panel
    small = Image.open(io.BytesIO(figures.figure_png(fig, dpi=50)))
    large = Image.open(io.BytesIO(figures.figure_png(fig, dpi=100)))
    assert large.size[0] == 2 * small.size[0]


def test_the_figure_title_never_touches_a_panel_title():
    """A square panel among landscape ones reaches higher; its title must stay clear of the
    figure's (lesson 03's 'content / style / result' rows read as one title otherwise)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    wide, square = torch.rand(1, 3, 30, 48), torch.rand(1, 3, 48, 48)
    fig = figures.show_images([wide, square, wide], ["a", "b", "c"], suptitle="Your own loop")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    top = fig._suptitle.get_window_extent(renderer)
    gap = fig.dpi * 0.1  # a tenth of an inch of white: two lines, not one title of two lines
    for ax in fig.axes:
        title = ax.title.get_window_extent(renderer)
        assert title.y1 + gap < top.y0, (ax.get_title(), title, top)


def test_the_balance_meter_draws_log10_of_each_ratio():
    meters = [{"content": 2.0, "style": 2000.0}, {"content": 50.0, "style": 5.0}]
    fig = figures.balance_meter(meters, ["a", "b"], title="meter")
    bars = fig.axes[0].patches
    assert [round(b.get_width(), 9) for b in bars] == [3.0, -1.0]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="one label per meter"):
        figures.balance_meter(meters, ["a"], title="meter")
    with pytest.raises(ValueError, match="give both terms a weight"):
        figures.balance_meter([{"content": 1.0}], ["a"], title="meter")


def test_parameter_bars_draw_every_layer_with_weights_once():
    from stylelib.vgg import layer_table

    table = layer_table("vgg16", 224, True)
    fig = figures.parameter_bars(table, title="params")
    bars = fig.axes[0].patches
    weighted = [r for r in table if r["params"]]
    assert len(bars) == len(weighted) == 16  # 13 convolutions and 3 fully connected layers
    assert sum(b.get_height() for b in bars) == pytest.approx(138_357_544 / 1e6)
    with pytest.raises(ValueError, match="no layer in the table has parameters"):
        figures.parameter_bars([{"name": "pool1", "kind": "pool", "params": 0}], title="x")


@pytest.mark.parametrize("panels", [1, 2, 4])
def test_titles_stay_inside_the_figure(panels):
    """Lesson 02's two-panel pooling figure cut its title off at both sides; every title is
    wrapped to the width it has."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    long = "The same transfer with VGG's max pooling and with average pooling, side by side"
    fig = figures.show_images(
        [torch.rand(1, 3, 32, 48)] * panels,
        [f"α/β = 1e-06: style pulls {i}00 times harder than content" for i in range(panels)],
        suptitle=long,
    )
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width = fig.bbox.width
    top = fig._suptitle.get_window_extent(renderer)
    assert 0 <= top.x0 and top.x1 <= width, (top, width)
    assert fig._suptitle.get_text().replace("\n", " ") == long  # wrapped, not shortened
    for ax in fig.axes:
        box = ax.title.get_window_extent(renderer)
        panel = ax.get_window_extent(renderer)
        assert box.width <= panel.width * 1.15, (ax.get_title(), box, panel)
