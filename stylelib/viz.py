"""Deprecated: :mod:`stylelib.diagrams` (graphviz) and :mod:`stylelib.figures` (matplotlib).

``stylelib.viz`` held both; its names still work for one release, with a warning that says
where each one went.
"""

from __future__ import annotations

from .deprecation import moved

_DIAGRAMS = ("DIAGRAM_FORMATS", "vgg_diagram", "model_diagram", "autograd_diagram")
_DIAGRAMS += ("check_diagram_path", "save_diagram")
_FIGURES = ("show_images", "show_grid", "feature_maps", "show_matrix", "plot_losses")
_FIGURES += ("plot_loss_curves",)

__getattr__ = moved(
    __name__,
    {name: f"stylelib.diagrams:{name}" for name in _DIAGRAMS}
    | {name: f"stylelib.figures:{name}" for name in _FIGURES},
)
