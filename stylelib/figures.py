"""Figures for the lessons and the control panel: images, feature maps, Grams, loss curves.

Every function returns a ``matplotlib.figure.Figure`` that is *not* registered with pyplot:
it shows once when it is a notebook cell's value (or through ``display(fig)``), it is never
shown twice, and nothing accumulates between cells. In a script, call
``fig.savefig("out.png")``; :func:`figure_png` and :func:`image_png` give the PNG bytes that
the control panel (:mod:`stylelib.widgets`) shows.

matplotlib is imported inside the functions that need it, so ``import stylelib.figures``
stays cheap and the core library never depends on it. Network diagrams are in
:mod:`stylelib.diagrams`.

Example:
    >>> from stylelib.figures import show_images
    >>> fig = show_images([content, style], ["content", "style"], suptitle="in")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence

import torch

from .images import to_numpy, to_pil


def _figure(nrows: int, ncols: int, width: float, height: float, suptitle: str):
    """A constrained-layout Figure outside pyplot, with its suptitle and a grid of axes."""
    from matplotlib.figure import Figure

    _show_figures_in_jupyter(Figure)
    fig = Figure(figsize=(width, height), layout="constrained")
    # Bold and a little larger, with room below it: a panel title right under the figure's
    # (a square panel among landscape ones reaches higher) must not read as one title.
    # Wrapped to the figure's width: a title wider than its figure is cut off at both sides.
    fig.suptitle(
        _wrap(suptitle, width, SUPTITLE_CHARS_PER_INCH), fontweight="bold", fontsize="large"
    )
    fig.get_layout_engine().set(h_pad=0.1)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


# Characters of DejaVu Sans that fit in an inch: bold at "large" (14.4 pt) for the figure's
# title, regular at 12 pt for a panel's (measured: about 8.5 and 10.5 of typical text).
SUPTITLE_CHARS_PER_INCH = 8.0
TITLE_CHARS_PER_INCH = 10.0


def _wrap(text: str, inches: float, chars_per_inch: float) -> str:
    """``text`` broken at spaces so that each line fits in ``inches``."""
    width = max(12, int(inches * chars_per_inch))
    return "\n".join(textwrap.fill(line, width) if line else line for line in text.split("\n"))


def _show_figures_in_jupyter(figure_class) -> None:
    """Teach a running IPython kernel to show a Figure as a PNG (pyplot is never involved)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    if figure_class not in png.type_printers:
        png.for_type(figure_class, figure_png)


def figure_png(fig, dpi: int = 100) -> bytes:
    """A figure as PNG bytes, at ``dpi`` dots per inch (what Jupyter shows)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image_png(image: torch.Tensor) -> bytes:
    """An image tensor (``(1, 3, H, W)`` or ``(3, H, W)`` in [0, 1]) as PNG bytes, 1:1."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _image_panel(ax, array, **imshow) -> None:
    """``imshow`` an (H, W, 3) or (H, W) array, without ticks or frame."""
    ax.imshow(array, **imshow)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def show_images(
    images: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    *,
    suptitle: str,
    ncols: int | None = None,
    size: float = 3.0,
):
    """Images side by side, one titled panel each, without axis ticks.

    Args:
        images: tensors ``(1, 3, H, W)`` or ``(3, H, W)`` in ``[0, 1]`` (clamped).
        titles: one per image (default ``"image 1"``, ``"image 2"`` ...).
        suptitle: the figure's title.
        ncols: panels per row (default: all in one row, at most 4).
        size: inches per panel.

    Returns:
        A ``matplotlib.figure.Figure`` (not registered with pyplot; see the module docstring).

    Example:
        >>> show_images([content, style], ["content", "style"], suptitle="in")  # doctest: +SKIP
    """
    images = list(images)
    titles = list(titles) if titles is not None else [f"image {i + 1}" for i in range(len(images))]
    if not images or len(titles) != len(images):
        raise ValueError(f"got {len(images)} image(s) and {len(titles)} title(s); give one each")
    ncols = ncols or min(len(images), 4)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = _figure(nrows, ncols, ncols * size, nrows * size + 0.5, suptitle)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            _image_panel(ax, to_numpy(images[i]))
            ax.set_title(_wrap(titles[i], size, TITLE_CHARS_PER_INCH))
        else:
            ax.remove()  # an empty slot in the last row
    return fig


def show_grid(
    rows: Sequence[Sequence[torch.Tensor]],
    *,
    row_titles: Sequence[str],
    col_titles: Sequence[str],
    suptitle: str,
    size: float = 2.5,
):
    """A grid of images with row labels on the left and column titles on top.

    For the α/β × style-layer grid of Gatys et al. (Fig. 3) and their per-layer
    reconstructions (Fig. 1). The top row carries the column titles; the panels below repeat
    them small and grey, so every panel says what it is even in a tall grid.

    Args:
        rows: a list of rows, each a list of images ``(1, 3, H, W)`` or ``(3, H, W)``, all
            rows of the same length.
        row_titles: one per row, written vertically on the left.
        col_titles: one per column.
        suptitle: the figure's title.
        size: inches per panel.

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    rows = [list(r) for r in rows]
    ncols = len(rows[0]) if rows else 0
    if not rows or ncols == 0 or any(len(r) != ncols for r in rows):
        raise ValueError(
            f"rows must be non-empty and of equal length; got {[len(r) for r in rows]}"
        )
    if len(row_titles) != len(rows) or len(col_titles) != ncols:
        raise ValueError(
            f"a {len(rows)} x {ncols} grid needs {len(rows)} row titles and {ncols} column "
            f"titles; got {len(row_titles)} and {len(col_titles)}"
        )
    fig, axes = _figure(len(rows), ncols, ncols * size + 0.4, len(rows) * size + 0.5, suptitle)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            ax = axes[i, j]
            _image_panel(ax, to_numpy(image))
            if i == 0:
                ax.set_title(col_titles[j])
            else:
                ax.set_title(col_titles[j], fontsize="small", color="0.45")
            if j == 0:
                ax.set_ylabel(row_titles[i], fontsize="large")
    return fig


def feature_maps(features: torch.Tensor, *, n: int = 16, title: str, ncols: int = 8):
    """The first ``n`` channels of a feature map as greyscale panels ``channel 0 ...``.

    Each channel is scaled to its own minimum and maximum (black to white), so the panels
    show where a channel responds, not how strongly compared with the others.

    Args:
        features: ``(1, C, H, W)`` or ``(C, H, W)``, e.g. ``VGGFeatures(...)(x)["relu1_1"]``.
        n: how many channels, from channel 0.
        title: the figure's title; a second line states C, H, W and the scaling.
        ncols: panels per row.

    Returns:
        A ``matplotlib.figure.Figure`` with ``min(n, C)`` panels.
    """
    f = features.detach().to("cpu", torch.float32)
    f = f[0] if f.ndim == 4 else f
    if f.ndim != 3:
        raise ValueError(f"features must be (1, C, H, W) or (C, H, W); got {tuple(features.shape)}")
    c, h, w = f.shape
    n = min(n, c)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    lo = f[:n].amin(dim=(1, 2), keepdim=True)
    span = (f[:n].amax(dim=(1, 2), keepdim=True) - lo).clamp_min(1e-12)
    scaled = ((f[:n] - lo) / span).numpy()
    suptitle = f"{title}\nfirst {n} of {c} channels, {h}×{w}, each scaled to its own min–max"
    fig, axes = _figure(nrows, ncols, ncols * 1.6, nrows * 1.6 + 0.7, suptitle)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _image_panel(ax, scaled[i], cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_title(f"channel {i}", fontsize="small")
        else:
            ax.remove()
    return fig


def show_matrix(matrix: torch.Tensor, *, labels: Sequence[str], title: str, size: float = 4.5):
    """A square matrix (a Gram matrix, say) as a heat map with its entries written in.

    Args:
        matrix: ``(N, N)`` tensor.
        labels: one name per row and column.
        title: the figure's title.
        size: width and height in inches.

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    m = matrix.detach().to("cpu", torch.float32)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or len(labels) != m.shape[0]:
        raise ValueError(
            f"need an (N, N) matrix and N labels; got {tuple(m.shape)} and {len(labels)} labels"
        )
    fig, axes = _figure(1, 1, size + 1.0, size, title)
    ax = axes.flat[0]
    image = ax.imshow(m.numpy(), cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("channel j")
    ax.set_ylabel("channel i")
    top = float(m.max()) or 1.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            value = float(m[i, j])
            ax.text(
                j,
                i,
                f"{value:.3g}",
                ha="center",
                va="center",
                color="black" if value > 0.6 * top else "white",
                fontsize="small",
            )
    fig.colorbar(image, ax=ax, label="G_ij")
    return fig


def plot_losses(
    history: Sequence[Mapping],
    *,
    title: str,
    keys: Sequence[str] = ("content_total", "style_total", "tv_total", "loss"),
    x: str = "step",
):
    """Loss curves of one run from ``stylelib.gatys.transfer.Result.history``.

    The y axis is logarithmic when every value drawn is positive (losses span orders of
    magnitude). Keys missing from the history are skipped; keys that are 0 throughout (e.g.
    ``tv_total`` with no TV weight) are not drawn and the panel's title says so. Where the
    image size changes (coarse-to-fine scales) a dotted line marks the new size.

    Args:
        history: one dict per step, with ``x`` and some of ``keys``.
        title: the figure's title.
        keys: the history entries to draw (default: the weighted terms and their sum).
        x: the x axis: ``"step"``, ``"evaluations"`` or ``"seconds"``.

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    history = list(history)
    if not history:
        raise ValueError("history is empty; run stylize first and pass result.history")
    present = [k for k in keys if any(k in r for r in history)]
    if not present:
        raise ValueError(f"none of {list(keys)} is in the history; it has {sorted(history[0])}")
    drawn = [k for k in present if any(r.get(k, 0) != 0 for r in history)] or present
    hidden = [k for k in present if k not in drawn]
    fig, axes = _figure(1, 1, 7.0, 4.2, title)
    ax = axes[0, 0]
    xs = [r.get(x, i) for i, r in enumerate(history)]
    for k in drawn:
        ax.plot(xs, [r.get(k, float("nan")) for r in history], label=k)
    values = [r[k] for r in history for k in drawn if k in r]
    if all(v > 0 for v in values):
        ax.set_yscale("log")
    for prev, rec, xv in zip(history[:-1], history[1:], xs[1:], strict=True):
        if rec.get("size") != prev.get("size"):
            ax.axvline(xv, linestyle=":", color="0.5", label=f"size {rec.get('size')} px")
    ax.set_xlabel(x)
    ax.set_ylabel("loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    note = f"0 throughout, not drawn: {', '.join(hidden)}" if hidden else f"{len(history)} steps"
    ax.set_title(note, fontsize="small")
    ax.legend()
    return fig


def plot_loss_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
):
    """Compare runs: one line per name, e.g. L-BFGS against Adam, loss against seconds.

    Args:
        curves: ``{name: (xs, ys)}`` with equal lengths.
        title: the figure's title.
        xlabel, ylabel: the axis labels (say the units: "seconds", "loss (weighted)").

    Returns:
        A ``matplotlib.figure.Figure``; the y axis is logarithmic when every y is positive.

    Example:
        >>> plot_loss_curves({"L-BFGS": (t1, l1), "Adam": (t2, l2)}, title="optimizers",
        ...                  xlabel="seconds", ylabel="loss")  # doctest: +SKIP
    """
    if not curves:
        raise ValueError("curves is empty; give {name: (xs, ys)}")
    fig, axes = _figure(1, 1, 7.0, 4.2, title)
    ax = axes[0, 0]
    for name, (xs, ys) in curves.items():
        if len(xs) != len(ys):
            raise ValueError(f"curve {name!r} has {len(xs)} x values and {len(ys)} y values")
        ax.plot(list(xs), list(ys), label=name)
    if all(y > 0 for _, ys in curves.values() for y in ys):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return fig


def parameter_bars(table: Sequence[Mapping], *, title: str):
    """Where a network's parameters are: one bar per layer with weights, in millions.

    Args:
        table: rows of :func:`stylelib.vgg.layer_table` (``name``, ``kind``, ``params``);
            layers without parameters (ReLU, pooling) are left out.
        title: the figure's title.

    Returns:
        A ``matplotlib.figure.Figure``: convolutions in blue, fully connected layers in
        orange, each bar labelled with its share of the total.
    """
    rows = [r for r in table if r.get("params")]
    if not rows:
        raise ValueError("no layer in the table has parameters; pass stylelib.vgg.layer_table(...)")
    total = sum(r["params"] for r in rows)
    fig, axes = _figure(1, 1, 9.0, 3.6, title)
    ax = axes[0, 0]
    colours = ["tab:orange" if r["kind"] == "fc" else "tab:blue" for r in rows]
    millions = [r["params"] / 1e6 for r in rows]
    ax.bar(range(len(rows)), millions, color=colours)
    ax.set_xticks(range(len(rows)), [r["name"] for r in rows], rotation=90, fontsize="small")
    ax.set_ylabel("parameters (millions)")
    for i, m in enumerate(millions):
        if m / (total / 1e6) >= 0.02:  # label the bars a reader can see
            ax.text(i, m, f"{m * 1e6 / total:.0%}", ha="center", va="bottom", fontsize="small")
    ax.set_title(f"{total:,} parameters in all", fontsize="small")
    return fig


def balance_meter(
    meters: Sequence[Mapping[str, float]],
    labels: Sequence[str],
    *,
    title: str,
    ratio=("style", "content"),
):
    """The balance meter of several runs: how much harder one term pulls than another.

    One bar per run, ``log10(meter[a] / meter[b])`` for ``ratio = (a, b)`` — by default the
    style gradient over the content gradient of :func:`stylelib.gatys.explore.gradient_balance`.
    A bar right of 0 means the style term pulls harder, left of 0 the content term; each
    step of the axis is a factor of 10.

    Args:
        meters: one ``{term: gradient RMS}`` per run.
        labels: one label per run (e.g. ``"α/β = 1e-3"``).
        title: the figure's title.
        ratio: the two terms compared, ``(numerator, denominator)``.

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    if len(meters) != len(labels) or not meters:
        raise ValueError(f"give one label per meter: {len(meters)} meters, {len(labels)} labels")
    top, bottom = ratio
    for meter in meters:
        if not (meter.get(top, 0) > 0 and meter.get(bottom, 0) > 0):
            raise ValueError(
                f"a meter without positive {top!r} and {bottom!r} gradients ({dict(meter)}); "
                "give both terms a weight"
            )
    logs = [math.log10(m[top] / m[bottom]) for m in meters]
    fig, axes = _figure(1, 1, 7.0, 0.45 * len(meters) + 1.6, title)
    ax = axes[0, 0]
    colours = ["tab:orange" if v > 0 else "tab:blue" for v in logs]
    ax.barh(range(len(logs)), logs, color=colours)
    ax.set_yticks(range(len(logs)), list(labels))
    ax.invert_yaxis()
    ax.axvline(0, color="0.2", linewidth=1)
    reach = max(1.0, *(abs(v) for v in logs)) * 1.15
    ax.set_xlim(-reach, reach)
    ax.set_xlabel(f"log10( |grad {top}| / |grad {bottom}| )  at the start image")
    ax.text(
        0.01,
        1.01,
        f"<- {bottom} pulls harder",
        transform=ax.transAxes,
        fontsize="small",
        color="tab:blue",
        va="bottom",
    )
    ax.text(
        0.99,
        1.01,
        f"{top} pulls harder ->",
        transform=ax.transAxes,
        fontsize="small",
        color="tab:orange",
        va="bottom",
        ha="right",
    )
    return fig


__all__ = [
    "show_images",
    "show_grid",
    "feature_maps",
    "show_matrix",
    "plot_losses",
    "plot_loss_curves",
    "balance_meter",
    "parameter_bars",
    "figure_png",
    "image_png",
]
