"""Diagrams for the instructor and the command line: networks drawn with graphviz.

Diagrams are ``graphviz.Digraph`` objects, which Jupyter renders inline and
:func:`save_diagram` writes to SVG, PNG or PDF. They replace the Caffe ``draw_net.py`` of
the lab "VGG and the principle of style transfer": :func:`vgg_diagram` draws VGG by the
papers' layer names with the shape arithmetic of :func:`stylelib.layers.layer_table`,
:func:`model_diagram` draws any network (the lab's homework: GoogLeNet) from a ``torch.fx``
trace, and :func:`autograd_diagram` shows what the backward pass visits (torchviz). Shapes
are written H x W x C of one image everywhere, as in the layer table and the VGG paper; a
PyTorch batch of images is N x C x H x W.

graphviz and torchviz are imported inside the functions that need them, so ``import
stylelib.diagrams`` stays cheap and the core library never depends on them. The lessons'
matplotlib figures are in :mod:`stylelib.figures`.

Example:
    >>> from stylelib import diagrams
    >>> dot = diagrams.vgg_diagram("vgg16", 300)  # doctest: +SKIP
    >>> diagrams.save_diagram(dot, "vgg16.svg")  # doctest: +SKIP
    PosixPath('/home/me/vgg16.svg')
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from .errors import OutputError, StylelibError, one_line
from .files import atomic_path, check_target
from .layers import layer_table

DIAGRAM_FORMATS = (".svg", ".png", ".pdf")
_FONT = "Helvetica"  # fontconfig substitutes Liberation Sans / DejaVu Sans where missing
_FILL = {  # one fill per kind of layer, the same in every diagram
    "input": "#eeeeee",
    "conv": "#cfe2f3",
    "pool": "#fce5cd",
    "fc": "#d9d2e9",
    "norm": "#d9ead3",
    "merge": "#f4cccc",  # two or more inputs: a skip connection or a concatenation joins here
    "other": "#ffffff",
}
_NODE = dict(shape="box", style="rounded,filled", fontname=_FONT, fontsize="11", color="#777777")
_EDGE = dict(color="#555555", arrowsize="0.6")
_BLOCK = dict(
    labeljust="l",
    margin="10",
    style="rounded,filled",
    fillcolor="#f7f7f7",
    color="#bbbbbb",
    fontsize="12",
)
_HEAD = dict(  # label at the bottom: the classifier is last, no edge leaves it
    labeljust="l", labelloc="b", margin="12", style="rounded,dashed", color="#888888", fontsize="12"
)


def _digraph(label: str, rankdir: str):
    import graphviz

    dot = graphviz.Digraph(node_attr=_NODE, edge_attr=_EDGE)
    dot.attr(rankdir=rankdir, label=label, labelloc="t", fontname=_FONT, fontsize="15")
    dot.attr(nodesep="0.25", ranksep="0.22", margin="0.2")
    return dot


def _html(bold: str, *rest: str, small: str = "", sep: str = " · ") -> str:
    """An HTML-like graphviz label: ``bold · rest · ...`` and an optional small grey line."""
    text = sep.join([f"<b>{html.escape(bold)}</b>", *(html.escape(r) for r in rest)])
    if small:
        text += f'<br/><font point-size="9" color="#555555">{html.escape(small)}</font>'
    return f"<{text}>"


def _cluster_label(bold: str, small: str) -> str:
    return (
        f'<<b>{bold}</b><br align="left"/><font point-size="10">{small}</font><br align="left"/>>'
    )


def _hwc(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)


def _image_shape(shape: Sequence[int]) -> str:
    """A tensor's shape as every diagram writes it: one image's H×W×C (as the layer table and
    the VGG paper), the features of a vector, other shapes as they are."""
    if len(shape) == 4:
        n, c, h, w = shape
        return _hwc((h, w, c))
    if len(shape) == 2:
        return str(shape[1])
    return _hwc(shape)


def vgg_diagram(
    arch: str = "vgg16", input_size: int = 224, *, classifier: bool = True, rankdir: str = "TB"
):
    """A layer-level diagram of VGG16 or VGG19 with the papers' names and shapes.

    One cluster per block (block 1 ... block 5, with its parameter count), one box per
    convolution (``conv1_1 · 3×3, 64 · 224×224×64``: kernel, number of kernels, output
    H×W×C) whose ReLU is drawn in the same box as a small ``+ ReLU (relu1_1)`` line, since
    style transfer picks layers from both; one box per pooling (``pool1 · 2×2/2 ·
    112×112×64``, max pooling, stride 2); and the input box. With ``classifier=True`` the
    adaptive average pooling and fc6-fc8 follow in a dashed cluster labelled "classifier —
    not used by style transfer", with their parameter counts. Every number comes from
    :func:`stylelib.vgg.layer_table`, the arithmetic of the VGG lab's worked example.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        input_size: side of the square RGB input in pixels (the VGG lab: 300; ImageNet: 224).
        classifier: draw the classifier part as well.
        rankdir: ``"TB"`` (top to bottom, one line per box) or ``"LR"`` (left to right, a
            wide strip of boxes with stacked lines).

    Returns:
        A ``graphviz.Digraph``; Jupyter renders it inline, :func:`save_diagram` writes it.

    Example:
        >>> dot = vgg_diagram("vgg16", 300)  # doctest: +SKIP
        >>> "150×150×64" in dot.source  # doctest: +SKIP
        True
    """
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"rankdir={rankdir!r}: use 'TB' (top to bottom) or 'LR' (left to right)")
    rows = layer_table(arch, input_size, classifier=classifier)
    vertical = rankdir in ("TB", "BT")  # one-line boxes in a column; stacked lines in a row

    def box(bold: str, *rest: str, small: str = "") -> str:
        return _html(bold, *rest, small=small, sep=" · " if vertical else "<br/>")

    groups: list[list[tuple[str, str, str, int]]] = [[]]  # blocks 1-5, classifier: boxes
    for r in rows:
        name, kind, out = r["name"], r["kind"], _hwc(r["output"])
        kernel = r["kernel"].replace("x", "×")
        if kind == "conv":
            relu = f"+ ReLU (relu{name[4:]})"
            label = box(name, f"{kernel}, {r['channels_out']}", out, small=relu)
        elif kind == "pool":
            label = box(name, f"{kernel}/{r['stride']}", out)
        elif kind == "fc":
            n_in, n_out = r["channels_in"], r["channels_out"]
            note = "1000 ImageNet classes" if name == "fc8" else "+ ReLU, dropout"
            label = box(name, f"{n_in:,} → {n_out:,}", small=f"{r['params']:,} parameters · {note}")
        elif kind == "relu":
            continue  # drawn inside its convolution's box
        else:
            kind, label = "pool", box(name, out, small="adaptive average pooling to 7×7")
        groups[-1].append((name, label, _FILL[kind], r["params"]))
        if kind == "pool" and name != "avgpool":
            groups.append([])
    features = sum(r["params"] for r in rows if r["kind"] in ("conv", "pool"))
    title = f"{arch.upper()} · input {input_size}×{input_size}×3 · {features:,} parameters"
    if classifier:
        title += f" in the features, {sum(r['params'] for r in rows):,} in all"
    dot = _digraph(title, rankdir)
    if vertical:  # equal boxes, at least 3.4 inches, leave room for the block labels
        dot.attr("node", width="3.4")
    dot.node("input", box("input", f"{input_size}×{input_size}×3"), fillcolor=_FILL["input"])
    for i, group in enumerate(g for g in groups if g):
        with dot.subgraph(name=f"cluster_{i}") as sub:
            if i < 5:
                params = sum(entry[3] for entry in group)
                # two short lines, left of the edge that runs down the middle
                sub.attr(label=_cluster_label(f"block {i + 1}", f"{params:,} parameters"), **_BLOCK)
            else:
                sub.attr(label="classifier — not used by style transfer", **_HEAD)
            for name, label, fill, _ in group:
                sub.node(name, label, fillcolor=fill)
    chain = ["input", *(entry[0] for group in groups for entry in group)]
    dot.edges(zip(chain[:-1], chain[1:], strict=True))
    return dot


def model_diagram(
    model: nn.Module,
    input_shape: Sequence[int] = (1, 3, 224, 224),
    *,
    max_nodes: int = 300,
    title: str | None = None,
):
    """A diagram of any network, traced with ``torch.fx``: the seed's GoogLeNet homework.

    ``torch.fx.symbolic_trace`` records the operations of ``model.forward`` and
    ``ShapeProp`` runs them once on zeros of ``input_shape`` to find every output shape. Each
    module call, function call (``add``, ``cat``, ``flatten``) and tensor method becomes one
    box labelled with its name, what it is (``Conv2d 3×3/2, 64→128``) and its output shape
    as H×W×C of one image, the convention of every diagram and table here (a PyTorch batch
    is N×C×H×W); edges follow the data, so a ResNet's skip connections and an
    Inception block's four branches show up by themselves, and every box with two or more
    inputs (a join) is filled red. Models that fx cannot trace (data-dependent ``if``, input
    checks) are drawn instead as their leaf modules in the order forward hooks saw them run,
    a linear chain without branches, and the diagram's title says so.

    The model is run in eval mode without gradients and put back in its mode afterwards;
    its weights, buffers and the random number generators are untouched.

    Args:
        model: any ``nn.Module``, e.g. ``torchvision.models.resnet18()``.
        input_shape: shape of the zero tensor it is run on.
        max_nodes: draw at most this many boxes; a last box says how many were left out.
        title: the diagram's title (default: the model's class name).

    Returns:
        A ``graphviz.Digraph``.

    Raises:
        StylelibError: the model cannot run on an input of ``input_shape``.

    Example:
        >>> from torchvision.models import googlenet
        >>> net = googlenet(aux_logits=False, init_weights=False)  # random weights, no download
        >>> "cat()" in model_diagram(net, (1, 3, 64, 64)).source
        True
    """
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    name = title or type(model).__name__
    param = next(model.parameters(), torch.zeros(()))  # the input goes where the weights are
    dtype = param.dtype if param.is_floating_point() else torch.float32
    x = torch.zeros(tuple(input_shape), device=param.device, dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    was_training = model.training
    model.eval()
    try:
        try:
            traced = fx.symbolic_trace(model)
        except Exception as e:  # fx raises several types; any of them means "use the hooks"
            return _hook_diagram(model, x, name, params, one_line(e))
        try:
            with torch.no_grad():
                ShapeProp(traced).propagate(x)
        except Exception as e:
            raise _cannot_run(name, x, e) from None
    finally:
        model.train(was_training)
    modules = dict(traced.named_modules())
    nodes = [n for n in traced.graph.nodes if n.op != "get_attr"]
    dot = _digraph(
        f"{name} · input {_image_shape(x.shape)} · {params:,} parameters\n"
        "traced with torch.fx · shapes H×W×C of one image (a PyTorch batch is N×C×H×W)",
        "TB",
    )
    for node in nodes[:max_nodes]:
        kind, bold, what = _describe_node(node, modules)
        inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        if len(inputs) > 1 and kind == "other":
            kind = "merge"
        meta = inputs[0].meta if node.op == "output" and inputs else node.meta
        lines = [line for line in (what, _meta_shape(meta.get("tensor_meta"))) if line]
        dot.node(node.name, _html(bold, *lines, sep="<br/>"), fillcolor=_FILL[kind])
        dot.edges((a.name, node.name) for a in inputs)
    if len(nodes) > max_nodes:
        more = f"… {len(nodes) - max_nodes} more nodes not drawn (max_nodes={max_nodes})"
        dot.node("… more", more, shape="plaintext", style="")
        dot.edge(nodes[max_nodes - 1].name, "… more", style="dashed")
    return dot


def _describe_node(node, modules: Mapping[str, nn.Module]) -> tuple[str, str, str]:
    """(kind, name, what) for one fx node: ``("conv", "layer1.0.conv1", "Conv2d 3×3, ...")``."""
    if node.op in ("placeholder", "output"):
        return "input", "input" if node.op == "placeholder" else "output", ""
    if node.op == "call_module":
        kind, what = _describe_module(modules[node.target])
        return kind, node.target, what
    target = getattr(node.target, "__name__", str(node.target))
    return "other", f"{target}()" if node.op == "call_function" else f".{target}()", ""


def _describe_module(m: nn.Module) -> tuple[str, str]:
    """(kind, text) for a module, by what it has: ``("conv", "Conv2d 3×3/2, 64→128")``."""
    name = type(m).__name__
    if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):  # Conv*d, ConvTranspose*d
        return (
            "conv",
            f"{name} {_window(m.kernel_size, m.stride)}, {m.in_channels}→{m.out_channels}",
        )
    if hasattr(m, "kernel_size"):  # MaxPool*d, AvgPool*d
        return "pool", f"{name} {_window(m.kernel_size, m.stride)}"
    if hasattr(m, "output_size"):  # AdaptiveAvgPool*d, AdaptiveMaxPool*d
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,) * 2
        return "pool", f"{name} → {_hwc(size)}"
    if isinstance(m, nn.Linear):
        return "fc", f"Linear {m.in_features}→{m.out_features}"
    if "Norm" in name:  # BatchNorm*d, InstanceNorm*d, GroupNorm, LayerNorm
        width = getattr(m, "num_features", None) or getattr(m, "num_channels", None)
        return "norm", f"{name} {width}" if width else name
    return "other", name


def _window(kernel, stride) -> str:
    """``3×3/2`` for kernel (3, 3) and stride 2; no ``/1``."""
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = stride if isinstance(stride, tuple) else (stride,)
    s = s[:1] if len(set(s)) == 1 else s
    return _hwc(k) + ("" if s == (1,) else f"/{_hwc(s)}")


def _meta_shape(meta) -> str:
    """'56×56×64' from ShapeProp's TensorMetadata (or a tuple of them); '' for non-tensors."""
    if hasattr(meta, "shape"):
        return _image_shape(meta.shape)
    if isinstance(meta, tuple | list):
        return ", ".join(s for s in (_meta_shape(m) for m in meta) if s)
    return ""


def _hook_diagram(model: nn.Module, x: torch.Tensor, name: str, params: int, reason: str):
    """The fallback of :func:`model_diagram`: leaf modules in call order, as a linear chain."""
    names: dict[nn.Module, str] = {}
    for qualified, m in model.named_modules():
        if next(m.children(), None) is None:  # a leaf: Conv2d, ReLU, ...
            names.setdefault(m, qualified or type(m).__name__)
    calls: list[tuple[str, nn.Module, str]] = []

    def record(module, args, output):
        shape = output.shape if isinstance(output, torch.Tensor) else None
        calls.append((names[module], module, _image_shape(shape) if shape is not None else ""))

    handles = [m.register_forward_hook(record) for m in names]
    try:
        with torch.no_grad():
            model(x)
    except Exception as e:
        raise _cannot_run(name, x, e) from None
    finally:
        for h in handles:
            h.remove()
    if len(reason) > 90:
        reason = reason[:87] + "..."
    dot = _digraph(
        f"{name} · input {_image_shape(x.shape)} · {params:,} parameters\n"
        f"torch.fx could not trace it ({reason}):\nleaf modules in the order forward "
        "hooks saw them run, as a linear chain (branches and skips not shown)",
        "TB",
    )
    dot.node("input", _html("input", _image_shape(x.shape)), fillcolor=_FILL["input"])
    previous = "input"
    for i, (qualified, module, shape) in enumerate(calls):
        kind, what = _describe_module(module)
        label = _html(qualified, what, *([shape] if shape else []))
        dot.node(f"call{i}", label, fillcolor=_FILL[kind])
        dot.edge(previous, f"call{i}")
        previous = f"call{i}"
    return dot


def _cannot_run(name: str, x: torch.Tensor, e: BaseException) -> StylelibError:
    return StylelibError(
        f"{name} cannot run on an input of shape {tuple(x.shape)} ({one_line(e)}); "
        "pass an input_shape the model accepts, e.g. (1, 3, 224, 224)"
    )


def autograd_diagram(arch: str = "vgg16", layer: str = "relu1_2", input_size: int = 32):
    """The autograd graph of a small VGG forward pass, drawn by torchviz's ``make_dot``.

    The image (named ``image``, requiring grad) runs through
    ``VGGFeatures(arch, weights="random", layers=[layer])`` and the feature map is summed to
    a scalar, whose graph is drawn from the loss back to the image.

    This is a different picture from :func:`vgg_diagram`. That one shows the *network*: the
    layers by their paper names, with kernels and shapes. This one shows the *computation
    the backward pass will visit*, one box per backward function: the ImageNet
    normalisation the extractor applies (``SubBackward0``, ``DivBackward0``),
    ``ConvolutionBackward0`` and ``ReluBackward0`` for each layer, ``SumBackward0`` for the
    scalar, and ``AccumulateGrad`` where the gradient lands in ``image.grad``, the only leaf
    because VGG's weights are frozen. It knows no layer names: names are a convention of
    the papers and of :mod:`stylelib.vgg`, not of autograd.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layer: the deepest layer to run, e.g. ``"relu1_2"``; deeper layers draw larger graphs.
        input_size: side of the square input (at least 32); it only changes the shapes shown.

    Returns:
        A ``graphviz.Digraph``.

    Example:
        >>> "AccumulateGrad" in autograd_diagram("vgg16", "relu1_2").source  # doctest: +SKIP
        True
    """
    from torchviz import make_dot

    from . import weights
    from .vgg import VGGFeatures

    # The random-weights warning is meant for style transfer, where it is said once; a
    # diagram's values do not matter, so it must neither show it nor use it up.
    warned = getattr(weights, "_warned_random", False)
    weights._warned_random = True
    try:
        net = VGGFeatures(arch, weights="random", layers=[layer])
    finally:
        weights._warned_random = warned
    image = torch.full((1, 3, input_size, input_size), 0.5, requires_grad=True)
    out = net(image)[layer].sum()
    with warnings.catch_warnings():  # torchviz 0.0.x compares versions with distutils
        warnings.filterwarnings("ignore", "distutils Version classes")  # its own warning
        dot = make_dot(out, params={"image": image})
    dot.attr(
        label=f"autograd graph of {arch} up to {layer} (input {input_size}×{input_size}, "
        "summed to a scalar)\nbackward() runs these functions from the sum (bottom) "
        "back to the image (top)",
        labelloc="t",
        fontname=_FONT,
        fontsize="14",
    )
    return dot


def gatys_diagram(
    content_layers: Sequence[str] = ("relu4_2",),
    style_layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
):
    """Gatys et al.'s method as one picture: targets once, then a loop on the pixels of x.

    The content image p and the style image a go through the fixed VGG once, giving the
    targets P^l (features on ``content_layers``) and A^l (Gram matrices on ``style_layers``);
    the image x goes through the same network at every step, its features Fˡ and Grams G^l
    are compared with the targets, and the gradient of α L_content + β L_style with respect
    to x's pixels is what L-BFGS follows to update x. The layout follows Gatys, Ecker and
    Bethge, "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016, Fig. 2
    (style on the left, content on the right, x in the middle); the default layers are the
    paper's "conv4_2" and "conv1_1" ... "conv5_1" (Sec. 3), rectified, in this library's
    names.

    Args:
        content_layers: layers of P^l and F^l.
        style_layers: layers of A^l and G^l.

    Returns:
        A ``graphviz.Digraph``; Jupyter renders it inline, :func:`save_diagram` writes it.

    Example:
        >>> dot = gatys_diagram()  # doctest: +SKIP
        >>> "relu4_2" in dot.source  # doctest: +SKIP
        True
    """
    content, style = ", ".join(content_layers), ", ".join(style_layers)
    dot = _digraph("Gatys et al.: the network is fixed, the pixels of x are the variables", "TB")
    dot.attr(nodesep="0.35", ranksep="0.35")
    vgg = dict(fillcolor=_FILL["conv"])
    with dot.subgraph(name="cluster_targets") as sub:
        sub.attr(
            label=_cluster_label("computed once", "the targets, constants of the loop"), **_BLOCK
        )
        sub.node("a", _html("style image a", small="a painting"), fillcolor=_FILL["input"])
        sub.node("p", _html("content image p", small="a photo"), fillcolor=_FILL["input"])
        sub.node("vgg_a", _html("VGG-19", small="fixed weights"), **vgg)
        sub.node("vgg_p", _html("VGG-19", small="fixed weights"), **vgg)
        sub.node("A", _html("Gram matrices Aˡ", small=style), fillcolor=_FILL["norm"])
        sub.node("P", _html("features Pˡ", small=content), fillcolor=_FILL["norm"])
    with dot.subgraph(name="cluster_loop") as sub:
        sub.attr(label=_cluster_label("every step", "only x changes"), **_BLOCK)
        sub.node(
            "x",
            _html("image x", small="starts as white noise (or the photo)"),
            fillcolor=_FILL["input"],
        )
        sub.node("vgg_x", _html("VGG-19", small="the same fixed weights"), **vgg)
        sub.node("G", _html("Gram matrices Gˡ", small=style), fillcolor=_FILL["norm"])
        sub.node("F", _html("features Fˡ", small=content), fillcolor=_FILL["norm"])
        sub.node(
            "Ls",
            _html("L_style = Σ wₗ Eₗ", small="Eₗ = Σ (Gˡ − Aˡ)² / (4 Nₗ² Mₗ²)"),
            fillcolor=_FILL["merge"],
        )
        sub.node("Lc", _html("L_content = ½ Σ (Fˡ − Pˡ)²"), fillcolor=_FILL["merge"])
        sub.node("L", _html("L_total = α L_content + β L_style"), fillcolor=_FILL["merge"])
        sub.node(
            "grad",
            _html("∂L_total / ∂x", small="back-propagation through VGG"),
            fillcolor=_FILL["pool"],
        )
        sub.node(
            "step", _html("L-BFGS step", small="changes the pixels of x"), fillcolor=_FILL["pool"]
        )
    dot.edges([("a", "vgg_a"), ("vgg_a", "A"), ("p", "vgg_p"), ("vgg_p", "P")])
    dot.edges([("x", "vgg_x"), ("vgg_x", "G"), ("vgg_x", "F"), ("G", "Ls"), ("F", "Lc")])
    dot.edge("A", "Ls", style="dashed")
    dot.edge("P", "Lc", style="dashed")
    dot.edges([("Ls", "L"), ("Lc", "L"), ("L", "grad"), ("grad", "step")])
    dot.edge(
        "step",
        "x",
        label=" new x",
        fontname=_FONT,
        fontsize="10",
        constraint="false",
        color="#cc0000",
        fontcolor="#cc0000",
    )
    return dot


def check_diagram_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that a diagram can be written at ``path``; return it resolved.

    Raises:
        ValueError: the suffix is not .svg, .png or .pdf.
        OutputError: the folder is missing or not writable, ``path`` is a folder, or it
            exists and ``overwrite`` is False (:func:`stylelib.files.check_target`).
    """
    target = Path(path).expanduser().resolve()
    if target.suffix.lower() not in DIAGRAM_FORMATS:
        raise ValueError(
            f"cannot tell the diagram format of '{target}' from its suffix "
            f"'{target.suffix}'; use .svg, .png or .pdf"
        )
    return check_target(target, overwrite=overwrite, example="vgg16.svg")


def save_diagram(dot, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Render a graphviz diagram to SVG, PNG (144 dpi) or PDF with the ``dot`` program.

    The format comes from the suffix. ``dot`` writes a temporary file in the target folder,
    which is then moved to ``path``: a failed render never leaves a half-written file, and an
    existing file is kept unless ``overwrite``.

    Args:
        dot: a ``graphviz.Digraph`` (or anything with a DOT ``.source``).
        path: where to write it, ending in .svg, .png or .pdf.
        overwrite: replace an existing file at ``path``.

    Returns:
        The resolved path that was written.

    Raises:
        ValueError: a suffix other than .svg, .png, .pdf.
        OutputError: a missing or unwritable folder, or an existing file without
            ``overwrite``.
        StylelibError: the ``dot`` program is not installed, or failed.

    Example:
        >>> save_diagram(vgg_diagram("vgg19"), "vgg19.pdf")  # doctest: +SKIP
        PosixPath('/home/me/vgg19.pdf')
    """
    target = check_diagram_path(path, overwrite=overwrite)
    program = shutil.which("dot")
    if program is None:
        raise StylelibError(
            "the Graphviz program 'dot' is not installed (it is not on PATH); install it with "
            "`apt-get install graphviz`, `conda install -c conda-forge graphviz` or "
            "`brew install graphviz`, then try again"
        )
    fmt = target.suffix.lower()[1:]
    try:
        with atomic_path(target, overwrite=overwrite) as tmp:
            # -Gdpi is only a default: a graph that sets its own dpi keeps it
            dpi = ["-Gdpi=144"] if fmt == "png" else []
            command = [program, f"-T{fmt}", *dpi, "-o", str(tmp)]
            done = subprocess.run(
                command, input=dot.source.encode(), capture_output=True, timeout=300
            )
            if done.returncode != 0:
                message = done.stderr.decode(errors="replace").strip().splitlines()
                raise StylelibError(
                    f"dot could not render the diagram: {message[-1] if message else 'no message'}"
                )
    except OutputError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write in '{target.parent}' ({one_line(e)})") from None
    return target


__all__ = [
    "DIAGRAM_FORMATS",
    "vgg_diagram",
    "model_diagram",
    "autograd_diagram",
    "gatys_diagram",
    "check_diagram_path",
    "save_diagram",
]
