"""Where VGG's weights come from, and which input each set of weights expects.

Three published files are known by name, address and layout (``PUBLISHED``):

- ``"imagenet"``: torchvision's ``VGG16_Weights.IMAGENET1K_V1`` / ``VGG19_Weights.IMAGENET1K_V1``
  (``vgg16-397923af.pth``, ``vgg19-dcbb9e9d.pth``), trained in PyTorch on RGB images in
  [0, 1] normalised by the ImageNet mean and std.
- ``"caffe"``: the original Caffe VGG-16/19 of Simonyan & Zisserman, the network of the
  papers, converted to torchvision's key layout by J. Johnson's ``pytorch-vgg``
  (``vgg16-00b39a1b.pth``, ``vgg19-d01eb7cb.pth``, the suffix a SHA-256 prefix). Input: BGR
  pixels in [0, 255] minus Caffe's mean (103.939, 116.779, 123.68). neural-style-pt uses
  these files (its copies renumber the classifier keys).
- ``"gatys"``: ``vgg_conv.pth`` of Gatys et al.'s PyTorch notebook: that Caffe VGG-19,
  features only, keys ``conv1_1.weight`` ... ``conv5_4.bias``, already *normalised* (every
  filter's mean activation over images and positions rescaled to 1; see
  :mod:`stylelib.netnorm`). Same Caffe input.

Files live where torchvision keeps its own (``$TORCH_HOME/hub/checkpoints``, by default
``~/.cache/torch/hub/checkpoints``). A missing file is downloaded once (needs internet); when
that fails, :class:`WeightsUnavailable` names the file, its address, the cache folder and
``stylelib weights install FILE`` for a copy brought by hand. Install checks a file by its
SHA-256 prefix, or, for files with no published hash (``vgg_conv.pth``, neural-style-pt's
re-saved Caffe copies), by its keys and shapes. ``"random"`` gives seeded He-initialised
weights: everything runs, nothing looks artistic, and a warning says so once.

Whatever the file, :func:`load` returns the weights in one form, :class:`VGGWeights`:
torchvision's ``features`` keys (``"0.weight"`` ...) for an RGB input, and the
:class:`InputConvention` the weights expect. The BGR order of Caffe's files is folded into
conv1_1's weights (its input channels reversed), so the image contract — RGB in [0, 1] —
holds everywhere outside the extractor, which applies the convention's mean and std.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from stylelib.downloads import DOWNLOAD_TIMEOUT_S, DownloadError, install_file, sha256_file
from stylelib.downloads import download as download_file
from stylelib.errors import OutputError, WeightsError
from stylelib.files import atomic_write, check_target
from stylelib.layers import build_features, check_arch, layer_index

EXPORT_FORMAT = "stylelib-vgg-features"
MIRROR_ENV = "STYLELIB_WEIGHTS_MIRROR"


# --- what the weights expect ---------------------------------------------------------------


@dataclass(frozen=True)
class InputConvention:
    """The input some weights were trained on: ``(x - mean) / std`` of an RGB image in [0, 1]."""

    name: str
    mean: tuple[float, float, float]  # RGB order, in units of the [0, 1] image
    std: tuple[float, float, float]
    description: str


# torchvision's ImageNet statistics (RGB, images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Caffe's VGG: BGR pixels in [0, 255] minus the per-channel mean (B, G, R) below. With the BGR
# order folded into conv1_1, that is (255 x - mean_RGB) = (x - mean_RGB / 255) / (1 / 255).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

TORCHVISION = InputConvention(
    "torchvision",
    IMAGENET_MEAN,
    IMAGENET_STD,
    "RGB in [0, 1] minus the ImageNet mean, divided by its std",
)
CAFFE = InputConvention(
    "caffe",
    tuple(m / 255 for m in reversed(CAFFE_MEAN_BGR)),
    (1 / 255,) * 3,
    "BGR in [0, 255] minus Caffe's mean (103.939, 116.779, 123.68)",
)


@dataclass(frozen=True)
class Published:
    """A weights file known by name: where it comes from and what it expects."""

    source: str  # "imagenet", "caffe" or "gatys"
    arch: str
    name: str  # file name in the cache
    url: str
    sha256_prefix: str | None  # None: no published hash, checked by keys and shapes
    convention: InputConvention
    normalized: bool  # already rescaled to mean activation 1 (Gatys et al. 2016, Sec. 2)
    origin: str


_TV = "https://download.pytorch.org/models/"
_JJ = "https://web.eecs.umich.edu/~justincj/models/"
PUBLISHED = (
    Published(
        "imagenet",
        "vgg16",
        "vgg16-397923af.pth",
        _TV + "vgg16-397923af.pth",
        "397923af",
        TORCHVISION,
        False,
        "torchvision",
    ),
    Published(
        "imagenet",
        "vgg19",
        "vgg19-dcbb9e9d.pth",
        _TV + "vgg19-dcbb9e9d.pth",
        "dcbb9e9d",
        TORCHVISION,
        False,
        "torchvision",
    ),
    Published(
        "caffe",
        "vgg16",
        "vgg16-00b39a1b.pth",
        _JJ + "vgg16-00b39a1b.pth",
        "00b39a1b",
        CAFFE,
        False,
        "Caffe's VGG-16, converted by jcjohnson/pytorch-vgg",
    ),
    Published(
        "caffe",
        "vgg19",
        "vgg19-d01eb7cb.pth",
        _JJ + "vgg19-d01eb7cb.pth",
        "d01eb7cb",
        CAFFE,
        False,
        "Caffe's VGG-19, converted by jcjohnson/pytorch-vgg",
    ),
    Published(
        "gatys",
        "vgg19",
        "vgg_conv.pth",
        "https://bethgelab.org/media/uploads/pytorch_models/vgg_conv.pth",
        None,
        CAFFE,
        True,
        "the normalised VGG-19 of leongatys/PytorchNeuralStyleTransfer",
    ),
)
SOURCES = ("imagenet", "caffe", "gatys")


@dataclass(frozen=True)
class VGGWeights:
    """A features state dict in torchvision's keys for an RGB input, and what it expects."""

    arch: str
    state: dict[str, torch.Tensor]  # "0.weight", "0.bias", ... up to the last conv
    convention: InputConvention
    normalized: bool  # rescaled to mean activation 1 already (the authors' vgg_conv.pth)
    label: str  # "imagenet (vgg19-dcbb9e9d.pth)", "random (seed 0)", a path
    key: tuple  # identifies these weights within a process (for caches)


class WeightsUnavailable(WeightsError):
    """The pretrained weights are not in the cache and could not be downloaded."""


class RandomWeightsWarning(UserWarning):
    """Shown once per process when VGG runs on random weights."""


_warned_random = False


# --- where the files are -----------------------------------------------------------------


def published(arch: str, source: str = "imagenet") -> Published:
    """The published file of ``source`` for ``arch``; a WeightsError if there is none."""
    check_arch(arch)
    for entry in PUBLISHED:
        if entry.source == source and entry.arch == arch:
            return entry
    if source not in SOURCES:
        raise WeightsError(
            f"unknown weights source {source!r}; choose one of {', '.join(SOURCES)}, "
            "'random' or a file path"
        )
    have = [e.arch for e in PUBLISHED if e.source == source]
    raise WeightsError(
        f"weights={source!r} exists for {', '.join(have)} only; pass arch={have[0]!r}"
    )


def cache_dir() -> Path:
    """torchvision's checkpoint folder: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def official_name(arch: str, source: str = "imagenet") -> str:
    """File name of the published weights, e.g. ``vgg19-dcbb9e9d.pth``."""
    return published(arch, source).name


def hash_prefix(arch: str, source: str = "imagenet") -> str | None:
    """The SHA-256 prefix in the file name (``dcbb9e9d`` for torchvision's VGG19)."""
    return published(arch, source).sha256_prefix


def export_name(arch: str) -> str:
    """Name of the features-only file: ``vgg19-features-dcbb9e9d.pth``."""
    return f"{arch}-features-{hash_prefix(arch)}.pth"


def weights_url(arch: str, source: str = "imagenet") -> str:
    """Download address: the publisher's, or the same name under ``$STYLELIB_WEIGHTS_MIRROR``."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        return mirror.rstrip("/") + "/" + official_name(arch, source)
    return published(arch, source).url


def cached_file(arch: str, source: str = "imagenet") -> Path | None:
    """The published file (or, for ImageNet, its features-only export) in the cache."""
    names = [official_name(arch, source)] + ([export_name(arch)] if source == "imagenet" else [])
    for name in names:
        path = cache_dir() / name
        if path.is_file():
            return path
    return None


def best_available(arch: str = "vgg19") -> str:
    """``"imagenet"`` when torchvision's file for ``arch`` is in the cache, else ``"random"``.

    The default of everything that must run without a download: the lessons, ``stylelib
    demo`` and the control panel. Each says in its own words what random weights mean.
    """
    return "imagenet" if cached_file(arch) else "random"


# --- loading -------------------------------------------------------------------------------


def load(arch: str, weights: str | Path, seed: int = 0) -> VGGWeights:
    """The weights named by ``weights``: a source in ``SOURCES``, ``"random"`` or a file path.

    A path may hold torchvision's full file or its ``features``, a Caffe-converted file, the
    authors' ``vgg_conv.pth`` or a file from ``stylelib weights export``: the layout decides.
    """
    check_arch(arch)
    if weights == "random":
        state = random_features_state(arch, seed)
        return VGGWeights(
            arch, state, TORCHVISION, False, f"random (seed {seed})", ("random", arch, seed)
        )
    if weights in SOURCES:
        entry = published(arch, str(weights))
        path = cached_file(arch, entry.source) or download(arch, entry.source)
        return read_features_file(path, arch)
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(
            f"weights={str(weights)!r} is neither {', '.join(map(repr, SOURCES))}, 'random' "
            "nor an existing file; check the path or run `stylelib weights status`"
        )
    return read_features_file(path, arch)


def load_features_state(arch: str, weights: str | Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """Only the state dict of :func:`load` (keys ``"0.weight"``, ``"0.bias"``, ...)."""
    return load(arch, weights, seed).state


def random_features_state(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded He-normal convolutions (fan-out, as torchvision initialises VGG), zero biases."""
    global _warned_random
    if not _warned_random:
        _warned_random = True
        warnings.warn(
            "VGG is running on RANDOM weights: every function works, but the pictures will not "
            "look like pretrained-VGG style transfer. Run `stylelib weights status` to get "
            "the ImageNet weights.",
            RandomWeightsWarning,
            stacklevel=3,
        )
    generator = torch.Generator().manual_seed(seed)
    features = build_features(arch)
    for module in features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(
                module.weight, mode="fan_out", nonlinearity="relu", generator=generator
            )
            nn.init.zeros_(module.bias)
    return features.state_dict()


def read_features_file(path: Path, arch: str) -> VGGWeights:
    """Load the ``features`` tensors of a weights file, recognising its layout.

    ``mmap=True`` maps the file instead of reading it, so the 124 M classifier parameters of
    a full file are never brought into memory.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a weights file"
        raise WeightsError(
            f"{path} is not a PyTorch weights file ({type(exc).__name__}); "
            "re-download it or run `stylelib weights status`"
        ) from None
    if not isinstance(obj, dict):
        raise WeightsError(
            f"{path} holds a {type(obj).__name__}, not a state dict; "
            "give a VGG16/VGG19 .pth file (see `stylelib weights status`)"
        )
    layout = detect_layout(obj, path.name)
    if layout == "export":
        if obj.get("arch") != arch:
            raise WeightsError(
                f"{path} holds {obj.get('arch')} features but {arch} was asked "
                f"for; pass arch={obj.get('arch')!r} or use the {arch} file"
            )
        state = dict(obj["state_dict"])
        convention = CAFFE if obj.get("convention") == "caffe" else TORCHVISION
        normalized = bool(obj.get("normalized", False))
    elif layout == "gatys":
        if arch != "vgg19":
            raise WeightsError(f"{path} is the authors' VGG-19 (vgg_conv.pth); pass arch='vgg19'")
        state = {}
        for key, value in obj.items():  # "conv4_2.weight" -> "21.weight"
            name, kind = key.split(".")
            state[f"{layer_index(name, arch)}.{kind}"] = value
        convention, normalized = CAFFE, True
    else:
        state = {
            k.removeprefix("features."): v
            for k, v in obj.items()
            if isinstance(v, torch.Tensor) and not k.startswith("classifier.")
        }
        convention = CAFFE if layout == "caffe" else TORCHVISION
        normalized = False
    _check_shapes(state, arch, path)
    if convention is CAFFE and layout != "export":
        state["0.weight"] = state["0.weight"].flip(1)  # BGR filters -> RGB filters
    stat = path.stat()
    return VGGWeights(
        arch,
        state,
        convention,
        normalized,
        f"{layout} file {path}",
        (str(path.resolve()), stat.st_size, stat.st_mtime_ns),
    )


_CAFFE_NAMES = {e.name for e in PUBLISHED if e.source == "caffe"}
_GATYS_KEY = re.compile(r"^conv([1-5])_([1-4])\.(weight|bias)$")


def detect_layout(obj: dict, name: str = "") -> str:
    """``"export"``, ``"gatys"`` (conv1_1.weight ...), ``"caffe"`` or ``"torchvision"``.

    jcjohnson/pytorch-vgg saved Caffe's weights with the torchvision classifier of its day,
    whose linear layers sit at ``classifier.1``, ``.4`` and ``.6`` (today's torchvision:
    ``.0``, ``.3``, ``.6``); neural-style-pt renumbers them but keeps the published file
    name, which is the other sign of a Caffe file.
    """
    if obj.get("format") == EXPORT_FORMAT:
        return "export"
    keys = [k for k in obj if isinstance(k, str)]
    if keys and all(_GATYS_KEY.match(k) for k in keys):
        return "gatys"
    if "classifier.1.weight" in obj or name in _CAFFE_NAMES:
        return "caffe"
    return "torchvision"


def _check_shapes(state: dict[str, torch.Tensor], arch: str, path: Path) -> None:
    def shapes(a: str) -> dict:
        with torch.device("meta"):  # shapes only: no 80 MB of weights to allocate and draw
            return {k: tuple(v.shape) for k, v in build_features(a).state_dict().items()}

    expected, got = shapes(arch), {k: tuple(v.shape) for k, v in state.items()}
    if got != expected:
        other = "vgg19" if arch == "vgg16" else "vgg16"
        hint = (
            f"it holds {other} weights; pass arch={other!r}"
            if got == shapes(other)
            else f"{len(got)} tensors where {arch} has {len(expected)}"
        )
        raise WeightsError(f"{path} does not fit {arch}'s convolutional layers ({hint})")


# --- fetching, installing, exporting ------------------------------------------------------


def unavailable_message(arch: str, reason: str, source: str = "imagenet") -> str:
    """The one line that says what is missing and every way to get it."""
    entry = published(arch, source)
    return (
        f"pretrained {arch} weights ({source}) are not available ({reason}). Needed: "
        f"{entry.name} from {entry.url} for the cache folder {cache_dir()}. Copy that file "
        f"onto this machine and run `stylelib weights install PATH/{entry.name}`, or use "
        "weights='random' to run without them (the pictures will not look artistic)."
    )


def download(
    arch: str,
    source: str = "imagenet",
    *,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    progress: bool = True,
) -> Path:
    """Download a published file into the cache, check it, return the path.

    Through :func:`stylelib.downloads.download`: its timeout policy (``timeout`` seconds per
    connection attempt and per read), its progress bar, and a file published only once its
    SHA-256 prefix, or for files with no published hash its keys and shapes, are right.
    """
    entry = published(arch, source)
    url = weights_url(arch, source)
    check = None if entry.sha256_prefix else lambda p: _check_structure(p, entry)
    try:
        return download_file(
            url,
            cache_dir() / entry.name,
            sha256_prefix=entry.sha256_prefix,
            check=check,
            timeout=timeout,
            progress=progress,
        )
    except WeightsError as exc:
        reason = f"downloaded file rejected: {exc}"
    except (DownloadError, OutputError) as exc:
        reason = str(exc)
    raise WeightsUnavailable(unavailable_message(arch, reason, source))


def install(file: str | Path) -> Path:
    """Copy a weights file the user fetched by hand into the cache, after checking it.

    Accepted: a published file whose SHA-256 begins with its published prefix (whatever it
    is called now); a file from :func:`export`; and, checked by keys and shapes, the files
    with no published hash: the authors' ``vgg_conv.pth`` and Caffe-converted VGGs (the
    original layout, or neural-style-pt's re-saved copy under its published name). The
    original file is left where it is.
    """
    src = Path(file)
    if not src.is_file():
        raise WeightsError(f"no such file: {src}; give the path of the .pth file you copied")
    digest = sha256_file(src)
    for entry in PUBLISHED:
        if entry.sha256_prefix and digest.startswith(entry.sha256_prefix):
            return install_file(src, cache_dir() / entry.name)
    arch = _exported_arch(src)
    if arch is not None:
        return install_file(src, cache_dir() / export_name(arch))
    entry = _recognised_by_structure(src)
    if entry is not None:
        return install_file(src, cache_dir() / entry.name)
    known = ", ".join(f"{e.name} ({e.sha256_prefix})" for e in PUBLISHED if e.sha256_prefix)
    raise WeightsError(
        f"{src} was refused: its SHA-256 begins {digest[:8]}, which matches none of {known}, "
        "and it is neither a file from `stylelib weights export` nor the authors' vgg_conv.pth "
        "or a Caffe-converted VGG by its keys and shapes; the copy is damaged or a different file"
    )


def _recognised_by_structure(path: Path) -> Published | None:
    """The published entry whose layout and shapes ``path`` has (files with no known hash)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return None
    if not isinstance(obj, dict):
        return None
    layout = detect_layout(obj, path.name)
    for entry in PUBLISHED:
        if entry.source == layout and layout in ("gatys", "caffe"):
            try:
                read_features_file(path, entry.arch)
            except WeightsError:
                continue
            return entry
    return None


def _check_structure(path: Path, entry: Published) -> None:
    if _recognised_by_structure(path) != entry:
        raise WeightsError(f"its keys and shapes are not those of {entry.name}")


def export(arch: str, out: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Write the ``features`` tensors of the cached ImageNet weights to a small file.

    ``out`` (default ``./ARCH-features-HASH.pth``) must end in .pth or .pt; an existing file
    there is kept unless ``overwrite``, and the cached file it is made from never is.
    """
    source = cache_dir() / official_name(arch)
    if not source.is_file():
        raise WeightsUnavailable(
            unavailable_message(arch, "export needs the full file in the cache")
        )
    dest = Path(out) if out is not None else Path.cwd() / export_name(arch)
    if dest.suffix.lower() not in (".pth", ".pt"):
        raise OutputError(
            f"the export file '{dest}' should end in .pth or .pt (it is a torch file); "
            f"e.g. {export_name(arch)}"
        )
    dest = check_target(
        dest, inputs=[source], overwrite=overwrite, kind="weights file", example=export_name(arch)
    )
    state = {k: v.clone() for k, v in read_features_file(source, arch).state.items()}
    payload = {
        "format": EXPORT_FORMAT,
        "version": 1,
        "arch": arch,
        "source": official_name(arch),
        "convention": TORCHVISION.name,
        "normalized": False,
        "digest": tensor_digest(state),
        "state_dict": state,
    }
    with atomic_write(dest, overwrite=overwrite) as f:
        torch.save(payload, f)
    return dest


def status() -> list[dict]:
    """For each published file: whether it is in the cache (``file``), and where it belongs.

    Rows: ``source, arch, file (Path or None), size_mb, expected, url, convention,
    normalized, origin``. :func:`stylelib.netnorm.status` adds the cached scales.
    """
    rows = []
    for entry in PUBLISHED:
        path = cached_file(entry.arch, entry.source)
        rows.append(
            {
                "source": entry.source,
                "arch": entry.arch,
                "file": path,
                "size_mb": path.stat().st_size / 1e6 if path else 0.0,
                "expected": cache_dir() / entry.name,
                "url": entry.url,
                "convention": entry.convention.description,
                "normalized": entry.normalized,
                "origin": entry.origin,
            }
        )
    return rows


def tensor_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, shapes and bytes: the same tensors give the same digest."""
    digest = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{key}:{tuple(t.shape)}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def _exported_arch(path: Path) -> str | None:
    """The architecture of a valid export file (digest matches its tensors), else None."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    if not (isinstance(obj, dict) and obj.get("format") == EXPORT_FORMAT):
        return None
    if obj.get("arch") not in ("vgg16", "vgg19") or tensor_digest(obj["state_dict"]) != obj.get(
        "digest"
    ):
        return None
    return obj["arch"]
