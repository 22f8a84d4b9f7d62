"""The control panel: Gatys style transfer with pickers, sliders and a live preview.

:class:`ControlPanel` is :func:`stylelib.gatys.transfer.transfer` with its arguments on
widgets. Run reads the widgets once into a :class:`~stylelib.gatys.config.GatysConfig`
(:meth:`ControlPanel.config`) and starts ``transfer`` in a background thread, so the
notebook stays responsive; its ``callback`` updates the preview, the loss curves and the
status line every few steps, and returns True once Stop was pressed, which makes
``transfer`` return the best image so far.
Changing a widget during a run changes the next run, never the running one.

AdaIN's test-time controls have their own panel: :class:`stylelib.adain_panel.AdaINPanel`.

From a background thread, setting a widget's value reaches the browser but printing inside
``with output:`` does not, so the panel reports through its own status line.

Example:
    >>> from dataclasses import replace
    >>> from stylelib.presets import get as preset
    >>> from stylelib.widgets import ControlPanel
    >>> panel = ControlPanel(replace(preset("gatys2016"), weights="random", size=48, steps=6))
    >>> panel  # doctest: +SKIP
    >>> panel.run(); panel.wait(60)  # or press Run  # doctest: +SKIP
    True
"""

from __future__ import annotations

import html
import io
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import ipywidgets as w
import torch
from PIL import Image as PILImage

from stylelib import data, weights
from stylelib.config import style_layer_weights
from stylelib.devices import describe_device, pick_device
from stylelib.env import quick_mode
from stylelib.errors import StylelibError, one_line
from stylelib.figures import figure_png, image_png, plot_losses
from stylelib.gatys.config import GatysConfig
from stylelib.gatys.transfer import Result, level_steps, transfer
from stylelib.images import load_image, save_image
from stylelib.layers import layers as vgg_layers
from stylelib.masks import NONE, REST
from stylelib.panelkit import (
    LABEL,
    SHORT,
    THUMBNAIL,
    RegionPicker,
    builtin_choices,
    image_box,
    is_file,
    labelled,
    layer_grid,
    placeholder,
    ticked,
)
from stylelib.presets import get as preset

PRESETLABELS = {
    "gatys2016": "Gatys 2016, the paper",
    "gatys2016-code": "the authors' code",
    "pytorch-tutorial": "the PyTorch tutorial",
}
# What a preset does not decide: the panel keeps these from the config it was given.
_KEPT_FIELDS = ("arch", "weights", "device", "seed", "precision", "size", "steps")
PREVIEWS_PER_RUN = 20  # "preview every: auto" refreshes about this many times per run


def _start_sizes(device: torch.device) -> tuple[int, int, int, int]:
    """(size, steps, largest size, most steps) to offer on ``device``.

    CPU: 256 px and 100 L-BFGS steps take about a minute (0.55 s a step on a 2-core CPU); a
    GPU affords the paper's 512 px and the authors' 500 steps. Quick mode (CI): 48 px, 10 steps.
    """
    size, steps, largest, most = (256, 100, 512, 1000)
    if device.type != "cpu":
        size, steps, largest, most = (512, 500, 1024, 2000)
    if quick_mode():
        size, steps = 48, 10
    return size, steps, largest, most


class ControlPanel:
    """Widgets around :func:`~stylelib.gatys.transfer.transfer`; end a cell with it to show it.

    Args:
        config: the starting values; fields the panel does not show (``weights``, ``device``,
            ``seed``, ``arch``, ``precision``, ...) are used as given. Default: the paper's
            preset with the pretrained weights if cached (else random ones), sized for this
            device. Quick mode (``STYLELIB_QUICK=1``) caps the start at 48 px and 10 steps.
        content: a built-in name (``stylelib.data.image_names()``), a file path or an image.
        style: the same, for the style image.

    Attributes:
        widget: the ipywidgets container to display.
        result: the last run's :class:`~stylelib.gatys.transfer.Result` (None before the first).
        preview, loss_plot: the ``ipywidgets.Image`` of the current image and of the losses.
        run_button, stop_button, save_button: the buttons (``.click()`` presses them).
    """

    def __init__(
        self, config: GatysConfig | None = None, *, content="chelsea", style="mosaic"
    ) -> None:
        device = pick_device(config.device if config else "auto")
        size, steps, largest, most = _start_sizes(device)
        if config is None:
            default_weights = weights.best_available("vgg19")
            config = replace(preset("gatys2016"), weights=default_weights, size=size, steps=steps)
        elif quick_mode():
            config = replace(config, size=min(config.size, size), steps=min(config.steps, steps))
        self._given = replace(config, size=min(config.size, largest), steps=min(config.steps, most))
        self._base = self._given  # the given config, or a preset applied to it
        self.result: Result | None = None
        self._sources: dict[str, object] = {}  # picker value -> image, for non-built-in choices
        self._last_inputs: list = []  # the last run's images that are files: never overwrite
        self._written: set[Path] = set()  # files this panel saved: it may replace those
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards _busy: one run at a time
        self._busy = False
        self._worker: threading.Thread | None = None
        self._loaders: list[threading.Thread] = []

        self._build_images(content, style)
        self.regions = RegionPicker(self._say)
        self._build_settings(largest, most)
        self._build_run(device)
        self._show_preset_values()
        self.widget = self._layout()
        for side in ("content", "style"):
            self._load_thumbnail(side)

    # ------------------------------------------------------------------ building the widgets

    def _build_images(self, content, style) -> None:
        wide = w.Layout(width="380px")
        self.content_picker = w.Dropdown(description="built-in", style=SHORT, layout=wide)
        self.style_picker = w.Dropdown(description="built-in", style=SHORT, layout=wide)
        button = w.Layout(width="auto")
        self.content_upload = w.FileUpload(
            accept="image/*", description="your photo", layout=button
        )
        self.style_upload = w.FileUpload(
            accept="image/*", description="your painting", layout=button
        )
        self.content_thumb = w.Image(value=placeholder(3, 2), layout=image_box(THUMBNAIL))
        self.style_thumb = w.Image(value=placeholder(1, 1), layout=image_box(THUMBNAIL))
        for side, spec in (("content", content), ("style", style)):
            picker, upload = self._picker(side), getattr(self, f"{side}_upload")
            picker.options = builtin_choices(side)
            picker.value = self._choice(side, spec)
            picker.observe(lambda _, s=side: self._load_thumbnail(s), names="value")
            upload.observe(lambda change, s=side: self._on_upload(s, change["new"]), names="value")

    def _build_settings(self, largest: int, most: int) -> None:
        names = [layer.name for layer in vgg_layers(self._given.arch) if layer.kind != "pool"]
        layer_box = {"indent": False, "layout": w.Layout(width="88px")}
        self.content_layers = {n: w.Checkbox(description=n, **layer_box) for n in names}
        self.style_layers = {n: w.Checkbox(description=n, **layer_box) for n in names}
        log = {"style": LABEL, "layout": w.Layout(width="440px"), "readout_format": ".3g"}
        # Ranges for Gatys' normalisation (Eqs. 1-5); the code preset's weights are 1 and 1.
        # The values are where a slider starts when its weight is switched on.
        self.content_weight = w.FloatLogSlider(
            1.0, description="content weight α", min=-3, max=3, **log
        )
        self.style_weight = w.FloatLogSlider(1e3, description="style weight β", min=0, max=7, **log)
        self.tv_weight = w.FloatLogSlider(1e-3, description="TV weight", min=-6, max=1, **log)
        self.content_on, self.style_on, self.tv_on = (
            w.Checkbox(description="on", indent=False, layout=w.Layout(width="60px"))
            for _ in range(3)
        )
        self.ratio = w.HTML()
        for on, slider in self._weight_rows():
            on.observe(lambda _, o=on, s=slider: setattr(s, "disabled", not o.value), "value")
            for widget in (on, slider):
                widget.observe(lambda _: self._show_ratio(), names="value")
        match = next((n for n in PRESETLABELS if self._preset_config(n) == self._given), None)
        choices = [(label, name) for name, label in PRESETLABELS.items()]
        self.preset_picker = w.Dropdown(
            description="preset",
            options=choices if match else [("as given in the notebook", ""), *choices],
            value=match or "",
            style=LABEL,
            layout=w.Layout(width="440px"),
        )
        self.preset_picker.observe(lambda _: self._on_preset(), names="value")
        slider = {"style": LABEL, "layout": w.Layout(width="440px")}
        self.size = w.IntSlider(
            description="size (long side)", min=32, max=largest, step=16, **slider
        )
        self.steps = w.IntSlider(description="steps", min=1, max=most, **slider)
        self.size.value, self.steps.value = self._given.size, self._given.steps
        toggle = {"style": {"button_width": "90px"}}  # labelled in _layout: they align there
        self.optimizer = w.ToggleButtons(options=[("L-BFGS", "lbfgs"), ("Adam", "adam")], **toggle)
        self.init = w.ToggleButtons(options=["noise", "content", "style"], **toggle)
        self.pooling = w.ToggleButtons(options=["max", "avg"], **toggle)
        self.color = w.ToggleButtons(
            options=["none", "luminance", "histogram", "linear"],
            tooltips=["no", "luminance-only transfer", "match the style's histogram", "linear"],
            **toggle,
        )
        self.preview_every = w.Dropdown(
            description="preview every",
            options=[("auto", 0), ("step", 1), ("5 steps", 5), ("10 steps", 10), ("50 steps", 50)],
            style=LABEL,
        )

    def _build_run(self, device: torch.device) -> None:
        weights_note = {
            "imagenet": "pretrained VGG weights",
            "random": "random VGG weights: no painterly pictures (`stylelib weights status`)",
        }.get(str(self._given.weights), f"VGG weights from {self._given.weights}")
        self.device_line = w.HTML(
            f"<b>Neural style transfer</b> (Gatys et al. 2016)<br><small>"
            f"{describe_device(device)} · {html.escape(weights_note)}</small>"
        )
        self.run_button = w.Button(description="Run", icon="play", button_style="success")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.save_button = w.Button(description="Save", icon="save")
        self.save_name = w.Text(value="stylized.png", description="file name", style=LABEL)
        self.status = w.HTML("Choose the images and the settings, then press Run.")
        self.status.add_class("stylelib-status")
        self.preview = w.Image(value=placeholder(1, 1), layout=image_box(320))
        self.preview.add_class("stylelib-preview")
        self.loss_plot = w.Image(value=placeholder(5, 3), layout=image_box(480, 288))
        self.loss_plot.add_class("stylelib-losses")
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save())

    def _layout(self) -> w.Box:
        def column(title: str, *children) -> w.VBox:
            return w.VBox([w.HTML(f"<b>{title}</b>"), *children], layout=w.Layout(margin="4px"))

        content = w.HBox([self.content_thumb, self.content_upload])
        style = w.HBox([self.style_thumb, self.style_upload])
        layers = [
            w.HTML("<b>Content layers</b> (the paper's conv4_2 is relu4_2 here)"),
            layer_grid(self.content_layers),
            w.HTML("<b>Style layers</b> (the paper: relu1_1 … relu5_1, equal weights)"),
            layer_grid(self.style_layers),
        ]
        toggles = {"optimizer": self.optimizer, "start from": self.init, "pooling": self.pooling}
        pages = {
            "Loss weights": [*(w.HBox([s, on]) for on, s in self._weight_rows()), self.ratio],
            "Layers": layers,
            "Optimisation": [self.size, self.steps, *map(labelled, toggles, toggles.values())],
            "Colour & preview": [labelled("keep colours", self.color), self.preview_every],
            "Regions": self.regions.rows(),
        }
        panel = w.VBox(
            [
                self.device_line,
                w.HBox(
                    [
                        column("Content", self.content_picker, content),
                        column("Style", self.style_picker, style),
                    ]
                ),
                self.preset_picker,
                w.Tab([w.VBox(page) for page in pages.values()], titles=list(pages)),
                w.HBox([self.run_button, self.stop_button, self.status]),
                w.HBox([column("Image", self.preview), column("Loss curves", self.loss_plot)]),
                w.HBox([self.save_name, self.save_button]),
            ],
            layout=w.Layout(border="1px solid #ddd", padding="6px", width="fit-content"),
        )
        panel.add_class("stylelib-panel")
        return panel

    # ------------------------------------------------------------------ values and presets

    def config(self) -> GatysConfig:
        """The :class:`GatysConfig` the widgets describe now (what Run would use).

        Raises ValueError (one line) for values no config accepts, e.g. no layer ticked.
        """
        style_layers = ticked(self.style_layers)
        return replace(
            self._base,
            content_layers=ticked(self.content_layers),
            style_layers=style_layers,
            style_layer_weights=style_layer_weights(self._base, style_layers),
            content_weight=self.content_weight.value if self.content_on.value else 0.0,
            style_weight=self.style_weight.value if self.style_on.value else 0.0,
            tv_weight=self.tv_weight.value if self.tv_on.value else 0.0,
            size=self.size.value,
            steps=self.steps.value,
            optimizer=self.optimizer.value,
            init=self.init.value,
            pooling=self.pooling.value,
            color=self.color.value,
        )

    def _preset_config(self, name: str) -> GatysConfig:
        """The preset ``name`` with the fields a preset does not decide kept from the given."""
        return replace(preset(name), **{f: getattr(self._given, f) for f in _KEPT_FIELDS})

    def _on_preset(self) -> None:
        name = self.preset_picker.value
        self._base = self._preset_config(name) if name else self._given
        self._show_preset_values()

    def _show_preset_values(self) -> None:
        """Reset every widget a preset decides to ``self._base`` (size and steps stay)."""
        base = self._base
        values = (base.content_weight, base.style_weight, base.tv_weight)
        for (on, slider), value in zip(self._weight_rows(), values, strict=True):
            on.value = value > 0
            if value > 0:
                slider.value = value
            slider.disabled = not on.value
        for boxes, chosen in (
            (self.content_layers, base.content_layers),
            (self.style_layers, base.style_layers),
        ):
            for name, box in boxes.items():
                box.value = name in chosen
        self.optimizer.value, self.init.value = base.optimizer, base.init
        self.pooling.value, self.color.value = base.pooling, base.color
        self._show_ratio()

    def _weight_rows(self):
        return (
            (self.content_on, self.content_weight),
            (self.style_on, self.style_weight),
            (self.tv_on, self.tv_weight),
        )

    def _show_ratio(self) -> None:
        if self.content_on.value and self.style_on.value:
            ratio = self.content_weight.value / self.style_weight.value
            text = f"α/β = {ratio:.3g} (the paper's Fig. 3 uses 1e-3 and 1e-4)"
        else:
            text = "α or β is off: texture synthesis (no content) or reconstruction (no style)"
        self.ratio.value = f"<small>{text}; untick TV to switch it off</small>"

    # ------------------------------------------------------------------ images

    def _picker(self, side: str) -> w.Dropdown:
        return self.content_picker if side == "content" else self.style_picker

    def _choice(self, side: str, spec) -> str:
        """The picker value for ``spec``: a built-in name, or a new entry for anything else."""
        name = str(spec).strip().lower().replace("-", "_") if isinstance(spec, str) else None
        if name in dict(self._picker(side).options).values():
            return name
        label = f"file: {Path(spec).name}" if isinstance(spec, (str, Path)) else "your image"
        return self._add_source(side, label, spec)

    def _add_source(self, side: str, label: str, source) -> str:
        picker = self._picker(side)
        key = f"{side}:{len(self._sources)}:{label}"
        self._sources[key] = source
        picker.options = [(label, key), *picker.options]
        return key

    def _source(self, side: str):
        """What ``resolve_image`` gets for the chosen image: a name, a path or an image."""
        value = self._picker(side).value
        return self._sources.get(value, value)

    def _on_upload(self, side: str, files) -> None:
        if not files:
            return
        upload = files[-1]
        try:
            with PILImage.open(io.BytesIO(bytes(upload["content"]))) as img:
                image = load_image(img)
        except (StylelibError, OSError, ValueError) as e:  # PIL: UnidentifiedImageError
            self._say(f"cannot read {upload['name']}: {one_line(e, with_type=True)}", error=True)
            return
        self._picker(side).value = self._add_source(side, f"uploaded: {upload['name']}", image)

    def _load_thumbnail(self, side: str) -> None:
        """Show the chosen image small; loading happens in the background (artworks download)."""
        picker, thumb = self._picker(side), getattr(self, f"{side}_thumb")
        chosen, source = picker.value, self._source(side)

        def load() -> None:
            image = None
            try:
                image = data.resolve_image(source, size=THUMBNAIL)
                png = image_png(image)
            except Exception as e:  # DataUnavailable, a bad file: one line, no traceback
                png = placeholder(1, 1)
                self._say(f"{side} image: {one_line(e, with_type=True)}", error=True)
            if picker.value == chosen:  # the student may have picked another one meanwhile
                thumb.value = png
                if side == "content":
                    self.regions.show(image)

        loader = threading.Thread(target=load, daemon=True, name=f"stylelib-{side}-thumbnail")
        self._loaders = [t for t in self._loaders if t.is_alive()] + [loader]
        loader.start()

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        """True while a run is going."""
        return self._busy

    def run(self) -> bool:
        """Start a run with the current values, as the Run button does.

        Returns False, starting nothing, while a run is going or when the values are invalid
        (the status line says why).
        """
        with self._lock:
            if self._busy:
                return False
            try:
                job = _Job(
                    self.config(),
                    self._source("content"),
                    self._source("style"),
                    self.regions.mask(),
                    self.regions.rest.value,
                )
            except (ValueError, StylelibError) as e:
                self._say(one_line(e, with_type=True), error=True)
                return False
            self._busy = True
            self._stop.clear()
            self._show_running(True)
        self._last_inputs = [s for s in (job.content, job.style) if is_file(s)]
        start = f"starting: {job.config.size} px, {job.total_steps} steps …"
        if job.mask is not None and job.rest == NONE and job.config.init == "noise":
            start += " (the photo's region starts from noise: start from content to keep it)"
        self._say(start)
        every = self.preview_every.value or max(1, round(job.total_steps / PREVIEWS_PER_RUN))
        self._worker = threading.Thread(
            target=self._work, args=(job, every), daemon=True, name="stylelib-panel-run"
        )
        self._worker.start()
        return True

    def stop(self) -> None:
        """Ask the run to stop after the current step; it returns the best image so far."""
        if self._busy:
            self._stop.set()
            self._say("stopping after this step …")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run (and the thumbnails) to end; True if nothing is running then."""
        end = None if timeout is None else time.monotonic() + timeout
        for thread in [*self._loaders, self._worker]:
            if thread is not None:
                thread.join(None if end is None else max(0.0, end - time.monotonic()))
        return not self._busy

    def _work(self, job: _Job, every: int) -> None:
        """The background thread: load the images, transfer, show the result; never raises."""
        try:
            content = data.resolve_image(job.content, size=job.config.size)
            style = data.resolve_image(job.style, size=job.config.size)
            history: list[dict] = []
            last_status = [0.0]

            def callback(step: int, image: torch.Tensor, record: dict) -> bool:
                history.append(record)
                if step % every == 0 or step == 1:
                    self._show(image, history)
                if time.monotonic() - last_status[0] > 0.2 or step % every == 0:
                    last_status[0] = time.monotonic()
                    self._say(
                        f"step {step} / {job.total_steps} · loss {record['loss']:.4g} · "
                        f"{record['seconds']:.1f} s"
                    )
                return self._stop.is_set()

            styles, regions = style, {}
            if job.mask is not None:  # spatial control: the style in the mask, the rest
                rest = None if job.rest == NONE else data.resolve_image(job.rest, job.config.size)
                styles, regions = [style, rest], {"masks": [job.mask, REST]}
            result = transfer(
                content, styles, job.config, callback=callback, progress=False, **regions
            )
            self.result = result
            self._show(result.image, result.history)
            best = min((r["loss"] for r in result.history), default=float("nan"))
            self._say(
                f"{result.message} · best loss {best:.4g} · the preview shows the best image",
                error=result.stopped == "diverged",
            )
        except Exception as e:  # an unknown layer, a failed download, ...: one line
            self._say(one_line(e, with_type=True), error=True)
        finally:
            with self._lock:  # a press of Run from now on starts the next run
                self._show_running(False)
                self._busy = False

    def _show(self, image: torch.Tensor, history: list[dict]) -> None:
        self.preview.value = image_png(image)
        if history:
            figure = plot_losses(history, title="weighted loss terms")
            figure.set_size_inches(5.0, 3.0)
            self.loss_plot.value = figure_png(figure, dpi=96)

    def _show_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "inherit"
        self.status.value = f'<span style="color:{colour}">{html.escape(text, quote=False)}</span>'

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path | None = None) -> Path | None:
        """Save the last result (to the file name box by default), atomically; None on failure.

        Never overwrites the content or style image, nor any file this panel did not write;
        saving again under a name it used replaces its own earlier result. Problems go to the
        status line.
        """
        if self.result is None:
            self._say("nothing to save yet: press Run first", error=True)
            return None
        chosen = [s for s in map(self._source, ("content", "style")) if is_file(s)]
        path = Path(path or self.save_name.value).expanduser()
        try:
            ours = path.resolve() in self._written
            inputs = self._last_inputs + chosen
            saved = save_image(self.result.image, path, inputs=inputs, overwrite=ours)
        except StylelibError as e:
            self._say(one_line(e, with_type=True), error=True)
            return None
        self._written.add(saved)
        self._say(f"saved {saved}")
        return saved

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def control_panel(config: GatysConfig | None = None, **kwargs) -> ControlPanel:
    """A :class:`ControlPanel`; end a cell with it to show it."""
    return ControlPanel(config, **kwargs)


@dataclass(frozen=True)
class _Job:
    """What one run uses, read from the widgets once when Run is pressed."""

    config: GatysConfig
    content: object
    style: object
    mask: object = None  # the style's region (spatial control); None: everywhere
    rest: object = NONE  # the rest's style, or "none": the photo

    @property
    def total_steps(self) -> int:
        return sum(level_steps(self.config))


__all__ = ["ControlPanel", "control_panel", "PRESETLABELS"]
