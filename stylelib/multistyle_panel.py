"""The multi-style panel: one network, many styles, mixed on sliders.

A conditional-instance-norm network (Dumoulin et al. 2017, :mod:`stylelib.johnson.conditional`)
holds one row of γ and β per style in every normalisation; a mix of styles is a weighted sum
of those rows, so any blend costs one forward pass and no training. The panel puts that on
widgets: choose styles, one slider per chosen style, and the picture is redrawn after each
move (lesson 05 shows it with the published 26-style network). Its status line says what
the mix is and how long the redraw took.

Example:
    >>> import torch
    >>> from stylelib.johnson.conditional import MultiStyleNet
    >>> net = MultiStyleNet(4, layout="magenta-android").eval()
    >>> panel = MultiStylePanel(net, torch.rand(1, 3, 40, 60), styles=(1, 3), weights=(0.75, 0.25))
    >>> panel.mix()
    {1: 0.75, 3: 0.25}
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import ipywidgets as w
import torch

from stylelib.images import check_image, to_pil
from stylelib.johnson.conditional import MultiStyleNet, check_index, stylize_styles

_LABEL = {"description_width": "70px"}


class MultiStylePanel:
    """Choose styles of a :class:`MultiStyleNet`, weigh them on sliders, see the picture.

    Args:
        net: the network (eval mode); its ``num_styles`` are offered, numbered from 0.
        photo: ``(1, 3, H, W)`` in [0, 1], kept as given (resize it first for speed).
        styles: the styles chosen at the start.
        weights: their starting slider values (default 1 each; the sliders run from 0 to 1,
            so larger ones are scaled down together); the mix is the weights divided by
            their sum, as :func:`~stylelib.johnson.conditional.style_vector` does.
        width: the picture's width on the page, in px.

    Each move costs one forward pass of the network and a JPEG (for the published 26-style
    network at 512 x 341 px, about 0.06 s on an idle two-core CPU, measured); :attr:`seconds`
    holds the last redraw's time. The sliders report a value when released, so a drag redraws once.
    """

    def __init__(
        self,
        net: MultiStyleNet,
        photo: torch.Tensor,
        styles: Sequence[int] = (19, 13),
        *,
        weights: Sequence[float] | None = None,
        width: int = 512,
    ) -> None:
        check_image(photo, "the photo", allow_batch=False, min_side=5)
        styles = [check_index(s, net.num_styles) for s in styles]
        weights = [1.0] * len(styles) if weights is None else [float(v) for v in weights]
        if len(weights) != len(styles):
            raise ValueError(f"{len(weights)} weights for {len(styles)} styles; give one each")
        if any(not 0 <= v < float("inf") for v in weights):
            raise ValueError(f"style weights must be finite and >= 0, got {weights}")
        top = max(weights, default=1.0)
        weights = [v / top for v in weights] if top > 1 else weights
        self.net, self.photo, self.seconds = net, photo, 0.0
        self._holding = False  # set_weights moves several sliders, then redraws once
        self._start = dict(zip(styles, weights, strict=True))
        self._sliders: dict[int, w.FloatSlider] = {}
        self.picker = w.SelectMultiple(
            options=[(f"style {i}", i) for i in range(net.num_styles)],
            value=tuple(styles),
            rows=8,
            description="styles",
            style=_LABEL,
            layout=w.Layout(width="200px"),
        )
        self.sliders = w.VBox()
        self.image = w.Image(format="jpeg", layout=w.Layout(width=f"{width}px"))
        self.image.add_class("stylelib-multistyle-picture")
        self.status = w.HTML()
        self.status.add_class("stylelib-multistyle-status")
        self.picker.observe(lambda change: self._on_pick(), names="value")
        controls = w.VBox([self.picker, self.sliders], layout=w.Layout(width="320px"))
        self.widget = w.VBox([w.HBox([controls, self.image]), self.status])
        self.widget.add_class("stylelib-multistyle")
        self._on_pick()

    def _on_pick(self) -> None:
        """One slider per chosen style; a style chosen before keeps its slider."""
        for i in self.picker.value:
            if i not in self._sliders:
                self._sliders[i] = slider = w.FloatSlider(
                    value=self._start.get(i, 1.0),
                    min=0.0,
                    max=1.0,
                    step=0.05,
                    description=f"style {i}",
                    continuous_update=False,
                    style=_LABEL,
                )
                slider.observe(self._moved, names="value")
        self.sliders.children = [self._sliders[i] for i in self.picker.value]
        self.update()

    def _moved(self, change) -> None:
        if not self._holding:
            self.update()

    def set_weights(self, weights: dict[int, float]) -> None:
        """Move the sliders of chosen styles, as a hand would: ``{style: value in [0, 1]}``.

        The picture is redrawn once, after the last move.
        """
        unknown = sorted(set(weights) - set(self.picker.value))
        if unknown:
            raise ValueError(f"styles {unknown} are not chosen; choose them first (picker)")
        self._holding = True
        try:
            for i, value in weights.items():
                self._sliders[i].value = value
        finally:
            self._holding = False
        self.update()

    def mix(self) -> dict[int, float]:
        """The chosen styles and their share of the mix (summing to 1); {} when none counts."""
        chosen = {i: self._sliders[i].value for i in self.picker.value}
        raw = {i: v for i, v in chosen.items() if v > 0}
        total = sum(raw.values())
        return {i: v / total for i, v in raw.items()} if total > 0 else {}

    def result(self) -> torch.Tensor:
        """The picture for the widgets' values, ``(1, 3, H, W)``; the photo when no style has
        a weight."""
        mix = self.mix()
        return stylize_styles(self.net, self.photo, mix) if mix else self.photo

    def update(self) -> None:
        """Redraw the picture and the status line from the widgets."""
        start = time.perf_counter()
        picture = self.result()
        self.image.value = _jpeg(picture)
        self.seconds = time.perf_counter() - start
        mix = self.mix()
        said = " + ".join(f"style {i} {v:.0%}" for i, v in mix.items())
        said = said or "no style has a weight: the photo"
        h, w_ = picture.shape[-2:]
        self.status.value = f"{said} — {w_} × {h} px, {self.seconds * 1000:.0f} ms"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def show_style_table(net: MultiStyleNet, unit: str = "contract.0", *, highlight=()):
    """One normalisation's γ and β tables as two heat maps: a row per style, a column per
    channel (Dumoulin et al. 2017: "we augment the γ and β parameters so that they're N×C
    matrices").

    Args:
        net: the network.
        unit: which normalisation, by module name (``contract.0``, ``res.2.1``, ``expand.2``).
        highlight: styles whose rows are marked, e.g. the ones a figure shows.

    Returns:
        A ``matplotlib.figure.Figure`` (see :mod:`stylelib.figures`).
    """
    from stylelib.figures import _figure

    norm = net.get_submodule(unit).norm
    fig, axes = _figure(
        1, 2, 11.0, 4.2, f"{unit}: one row of γ and β per style ({norm.channels} channels)"
    )
    for ax, name in zip(axes.flat, ("gamma", "beta"), strict=True):
        table = getattr(norm, name).detach().float().cpu().numpy()
        if name == "beta":  # shifts around 0: white is no shift
            top = float(abs(table).max()) or 1.0
            image = ax.imshow(table, cmap="coolwarm", vmin=-top, vmax=top, aspect="auto")
        else:
            image = ax.imshow(table, cmap="viridis", aspect="auto")
        ax.set_title({"gamma": "γ (scale)", "beta": "β (shift)"}[name])
        ax.set_xlabel("channel")
        ax.set_ylabel("style")
        for i in highlight:
            ax.axhline(i - 0.5, color="black", lw=1.2)
            ax.axhline(i + 0.5, color="black", lw=1.2)
            ax.annotate(f"style {i}", (1.01, i), xycoords=("axes fraction", "data"), va="center")
        fig.colorbar(image, ax=ax)
    return fig


def _jpeg(image: torch.Tensor, quality: int = 90) -> bytes:
    """An image tensor as JPEG bytes: a quarter of a PNG's size for a painted picture, which
    the browser receives at every move."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


__all__ = ["MultiStylePanel", "show_style_table"]
