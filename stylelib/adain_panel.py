"""AdaIN's panel: arbitrary style transfer's test-time controls on sliders.

Huang & Belongie (2017) control a trained AdaIN network at test time, with no optimisation
and no training per style: α trades content for style (Eq. 14), weights interpolate between
styles (Sec. 7.3), and the styles can be recoloured to the photo's colours first. The panel
puts these on widgets and redraws the picture with one decoder pass per move; lesson 07
shows it. (The Gatys control panel is :mod:`stylelib.widgets`.)
"""

from __future__ import annotations

import time

import ipywidgets as w
import torch

from stylelib.adain.layer import target
from stylelib.adain.networks import AdaINNet
from stylelib.color import match_colors
from stylelib.figures import image_png

_LABEL = {"description_width": "120px"}  # one label column, as the control panel's


class AdaINPanel:
    """AdaIN's test-time controls on sliders (Huang & Belongie 2017, Eq. 14 and Sec. 7.3).

    α trades content for style (t = α AdaIN(f(c), f(s)) + (1 − α) f(c)); with two styles,
    ``mix`` moves the interpolation weights from (1, 0) to (0, 1); ``preserve colour``
    recolours the styles to the photo's colours first. The encoder runs once per colour
    setting and its features are kept: moving a slider costs one decoder pass, which is the
    point of the method (no optimisation, no training per style).

    Example:
        >>> from stylelib.adain.networks import AdaINNet, Decoder, Encoder
        >>> encoder = Encoder.from_vgg("random", normalize=False)  # doctest: +SKIP
        >>> net = AdaINNet(encoder, Decoder())  # doctest: +SKIP
        >>> AdaINPanel(net, photo, [painting_a, painting_b])  # doctest: +SKIP
    """

    def __init__(
        self,
        net: AdaINNet,
        content: torch.Tensor,
        styles: torch.Tensor | list[torch.Tensor],
        *,
        alpha: float = 1.0,
        mix: float = 0.5,
        preserve_color: bool = False,
        width: int = 256,
    ) -> None:
        self.net, self.content = net, content
        self.styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
        self._features: dict[bool, tuple] = {}
        self.alpha = w.FloatSlider(
            value=alpha, min=0.0, max=1.0, step=0.05, description="α (style)", style=_LABEL
        )
        self.mix = w.FloatSlider(
            value=mix,
            min=0.0,
            max=1.0,
            step=0.05,
            description="style 1 → 2",
            style=_LABEL,
            disabled=len(self.styles) != 2,
        )
        self.color = w.Checkbox(value=preserve_color, description="preserve colour")
        self.image = w.Image(format="png", layout=_image_box(width))
        self.status = w.HTML()
        thumbs = [
            w.Image(value=image_png(x), format="png", layout=_image_box(96))
            for x in [content, *self.styles]
        ]
        for control in (self.alpha, self.mix, self.color):
            control.observe(lambda change: self.update(), names="value")
        self.widget = w.VBox(
            [w.HBox(thumbs), self.alpha, self.mix, self.color, self.image, self.status]
        )
        self.update()

    def style_weights(self) -> list[float] | None:
        """(1 − mix, mix) with two styles; None (equal weights) otherwise."""
        return [1.0 - self.mix.value, self.mix.value] if len(self.styles) == 2 else None

    def _encoded(self, preserve: bool) -> tuple:
        if preserve not in self._features:
            styles = self.styles
            if preserve:
                styles = [match_colors(s, self.content, "linear") for s in styles]
            with torch.no_grad():
                self._features[preserve] = (
                    self.net.encoder(self.content),
                    [self.net.encoder(s) for s in styles],
                )
        return self._features[preserve]

    def result(self) -> torch.Tensor:
        """The stylised image for the widgets' values, ``(1, 3, H, W)`` in [0, 1]."""
        content_feat, style_feats = self._encoded(self.color.value)
        weights = self.style_weights()
        if weights is not None and sum(weights) == 0:
            weights = None
        t = target(content_feat, style_feats, alpha=self.alpha.value, style_weights=weights)
        with torch.no_grad():
            out = self.net.decoder(t)
        h, w_ = self.content.shape[-2:]
        return out[..., :h, :w_].clamp(0.0, 1.0)

    def update(self) -> None:
        """Recompute the picture and the status line from the widgets."""
        start = time.perf_counter()
        self.image.value = image_png(self.result())
        mix = f", {self.mix.value:.0%} of style 2" if len(self.styles) == 2 else ""
        self.status.value = (
            f"α {self.alpha.value:.2f}{mix}{', colours kept' if self.color.value else ''}: "
            f"{(time.perf_counter() - start) * 1000:.0f} ms"
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _image_box(width: int) -> w.Layout:
    """A square box of ``width`` px that shows a picture whole, at the top left."""
    return w.Layout(
        width=f"{width}px", height=f"{width}px", object_fit="contain", object_position="left top"
    )


__all__ = ["AdaINPanel"]
