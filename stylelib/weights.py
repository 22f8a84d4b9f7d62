"""Where VGG's weights come from: torchvision's pretrained files, a local file, or seeded noise.

``"imagenet"`` means torchvision's ``VGG16_Weights.IMAGENET1K_V1`` / ``VGG19_Weights.IMAGENET1K_V1``
files, kept where torchvision keeps them (``$TORCH_HOME/hub/checkpoints``, by default
``~/.cache/torch/hub/checkpoints``) and checked by the SHA-256 prefix in their names, as
torchvision does. When they are missing and cannot be downloaded, :class:`WeightsUnavailable`
names the file, its address, the cache folder and the command that installs a copied file.

For classrooms without internet, ``stylelib weights export`` writes a features-only file
(VGG19: 80 MB instead of 548 MB) that ``stylelib weights install FILE`` accepts on another
machine. ``STYLELIB_WEIGHTS_MIRROR=http://host/folder/`` downloads from a local mirror.

``"random"`` gives seeded He-initialised weights (as torchvision initialises an untrained
VGG): everything runs, nothing looks artistic, and a warning says so once.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG16_Weights, VGG19_Weights

from .errors import WeightsError
from .files import atomic_path
from .vgg import build_features, check_arch

TORCHVISION_WEIGHTS = {"vgg16": VGG16_Weights.IMAGENET1K_V1, "vgg19": VGG19_Weights.IMAGENET1K_V1}
EXPORT_FORMAT = "stylelib-vgg-features"
MIRROR_ENV = "STYLELIB_WEIGHTS_MIRROR"
DOWNLOAD_TIMEOUT_S = 20.0


class WeightsUnavailable(WeightsError):
    """The pretrained weights are not in the cache and could not be downloaded."""


class RandomWeightsWarning(UserWarning):
    """Shown once per process when VGG runs on random weights."""


_warned_random = False


# --- where the files are -----------------------------------------------------------------


def cache_dir() -> Path:
    """torchvision's checkpoint folder: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def official_name(arch: str) -> str:
    """File name of torchvision's weights, e.g. ``vgg19-dcbb9e9d.pth``."""
    return TORCHVISION_WEIGHTS[check_arch(arch)].url.rsplit("/", 1)[-1]


def hash_prefix(arch: str) -> str:
    """The SHA-256 prefix torchvision puts in the file name (``dcbb9e9d`` for VGG19)."""
    return re.search(r"-([0-9a-f]{8,})\.", official_name(arch)).group(1)


def export_name(arch: str) -> str:
    """Name of the features-only file: ``vgg19-features-dcbb9e9d.pth``."""
    return f"{arch}-features-{hash_prefix(arch)}.pth"


def weights_url(arch: str) -> str:
    """Download address: torchvision's, or the same file name under ``$STYLELIB_WEIGHTS_MIRROR``."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        return mirror.rstrip("/") + "/" + official_name(arch)
    return TORCHVISION_WEIGHTS[check_arch(arch)].url


def cached_file(arch: str) -> Path | None:
    """The full or the features-only file in the cache, whichever is there (full first)."""
    for name in (official_name(arch), export_name(arch)):
        path = cache_dir() / name
        if path.is_file():
            return path
    return None


# --- the three sources -------------------------------------------------------------------


def load_features_state(arch: str, weights: str | Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """State dict of ``features`` (keys ``"0.weight"``, ``"0.bias"``, ...) from ``weights``.

    ``weights`` is ``"imagenet"``, ``"random"`` or a path to a file: torchvision's full
    state dict, a ``features`` state dict, or a file from ``stylelib weights export``.
    """
    check_arch(arch)
    if weights == "random":
        return random_features_state(arch, seed)
    if weights == "imagenet":
        path = cached_file(arch) or download(arch)
        return read_features_file(path, arch)
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(
            f"weights={str(weights)!r} is neither 'imagenet', 'random' nor an existing file; "
            "check the path or run `stylelib weights status`"
        )
    return read_features_file(path, arch)


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


def read_features_file(path: Path, arch: str) -> dict[str, torch.Tensor]:
    """Load ``features`` tensors from ``path`` without touching the classifier's bytes.

    ``mmap=True`` maps the file instead of reading it, so the 124 M classifier parameters of
    a full torchvision file are never brought into memory.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a weights file"
        raise WeightsError(
            f"{path} is not a PyTorch weights file ({type(exc).__name__}); "
            "re-download it or run `stylelib weights status`"
        ) from None
    if isinstance(obj, dict) and obj.get("format") == EXPORT_FORMAT:
        if obj.get("arch") != arch:
            raise WeightsError(
                f"{path} holds {obj.get('arch')} features but {arch} was asked "
                f"for; pass arch={obj.get('arch')!r} or use the {arch} file"
            )
        state = obj["state_dict"]
    elif isinstance(obj, dict):
        state = {
            k.removeprefix("features."): v
            for k, v in obj.items()
            if isinstance(v, torch.Tensor) and not k.startswith("classifier.")
        }
    else:
        raise WeightsError(
            f"{path} holds a {type(obj).__name__}, not a state dict; "
            "give torchvision's vgg16/vgg19 .pth file"
        )
    _check_shapes(state, arch, path)
    return state


def _check_shapes(state: dict[str, torch.Tensor], arch: str, path: Path) -> None:
    expected = {k: tuple(v.shape) for k, v in build_features(arch).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != expected:
        other = "vgg19" if arch == "vgg16" else "vgg16"
        other_shapes = {k: tuple(v.shape) for k, v in build_features(other).state_dict().items()}
        hint = (
            f"it holds {other} weights; pass arch={other!r}"
            if got == other_shapes
            else (f"{len(got)} tensors where {arch} has {len(expected)}")
        )
        raise WeightsError(f"{path} does not fit {arch}'s convolutional layers ({hint})")


# --- fetching, installing, exporting ------------------------------------------------------


def unavailable_message(arch: str, reason: str) -> str:
    """The one line that says what is missing and every way to get it."""
    name = official_name(arch)
    return (
        f"pretrained {arch} weights are not available ({reason}). Needed: {name} from "
        f"{TORCHVISION_WEIGHTS[arch].url} for the cache folder {cache_dir()}. Copy that file "
        f"onto this machine and run `stylelib weights install PATH/{name}`, or use "
        "weights='random' to run without them (the pictures will not look artistic)."
    )


def download(arch: str, *, timeout: float = DOWNLOAD_TIMEOUT_S, progress: bool = True) -> Path:
    """Download torchvision's weights into the cache, check the hash, return the path."""
    url = weights_url(arch)
    dest = cache_dir() / official_name(arch)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=timeout) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            _atomic_copy(
                lambda out: _stream(response, out, size, progress), dest, hash_prefix(arch)
            )
    except WeightsError as exc:
        raise WeightsUnavailable(
            unavailable_message(arch, f"downloaded file rejected: {exc}")
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsUnavailable(
            unavailable_message(arch, f"download from {url} failed: {reason}")
        ) from None
    return dest


def install(file: str | Path) -> Path:
    """Copy a weights file the user fetched by hand into the cache, after checking it.

    Accepts torchvision's ``vgg16-397923af.pth`` / ``vgg19-dcbb9e9d.pth`` (whatever it is
    called now) if its SHA-256 begins with the prefix torchvision publishes, or a file made
    by :func:`export`. The original file is left where it is.
    """
    src = Path(file)
    if not src.is_file():
        raise WeightsError(f"no such file: {src}; give the path of the .pth file you copied")
    digest = sha256_file(src)
    for arch in TORCHVISION_WEIGHTS:
        if digest.startswith(hash_prefix(arch)):
            return _install_copy(src, cache_dir() / official_name(arch))
    arch = _exported_arch(src)
    if arch is None:
        known = ", ".join(f"{official_name(a)} ({hash_prefix(a)})" for a in TORCHVISION_WEIGHTS)
        raise WeightsError(
            f"{src} was refused: its SHA-256 begins {digest[:8]}, which matches neither {known} "
            "nor a file from `stylelib weights export`; the copy is damaged or a different file"
        )
    return _install_copy(src, cache_dir() / export_name(arch))


def export(arch: str, out: str | Path | None = None) -> Path:
    """Write the ``features`` tensors of the cached ImageNet weights to a small file."""
    source = cache_dir() / official_name(arch)
    if not source.is_file():
        raise WeightsUnavailable(
            unavailable_message(arch, "export needs the full file in the cache")
        )
    state = {k: v.clone() for k, v in read_features_file(source, arch).items()}
    dest = Path(out) if out is not None else Path.cwd() / export_name(arch)
    payload = {
        "format": EXPORT_FORMAT,
        "version": 1,
        "arch": arch,
        "source": official_name(arch),
        "digest": tensor_digest(state),
        "state_dict": state,
    }
    _atomic_copy(lambda f: torch.save(payload, f), dest)
    return dest


def status() -> list[dict]:
    """For each architecture: which file ``"imagenet"`` would use, if any."""
    rows = []
    for arch in TORCHVISION_WEIGHTS:
        path = cached_file(arch)
        rows.append(
            {
                "arch": arch,
                "file": path,
                "size_mb": path.stat().st_size / 1e6 if path else 0.0,
                "expected": cache_dir() / official_name(arch),
                "url": TORCHVISION_WEIGHTS[arch].url,
            }
        )
    return rows


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    if obj.get("arch") not in TORCHVISION_WEIGHTS or tensor_digest(obj["state_dict"]) != obj.get(
        "digest"
    ):
        return None
    return obj["arch"]


def _install_copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != dest.resolve():
        with open(src, "rb") as f:
            _atomic_copy(lambda out: shutil.copyfileobj(f, out, 1 << 20), dest)
    return dest


def _stream(response, out, size: int | None, progress: bool) -> None:
    from tqdm.auto import tqdm

    with tqdm(total=size, unit="B", unit_scale=True, disable=not progress, desc="download") as bar:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
            bar.update(len(chunk))


def _atomic_copy(write: Callable, dest: Path, expect_prefix: str | None = None) -> None:
    """Run ``write(file)`` on a temporary file beside ``dest``, check, then rename over it."""
    dest = Path(dest)
    if not dest.parent.is_dir():
        raise WeightsError(f"cannot write {dest}: the folder {dest.parent} does not exist")
    with atomic_path(dest, suffix=".part") as tmp:
        with open(tmp, "wb") as out:
            write(out)
        if expect_prefix and not sha256_file(tmp).startswith(expect_prefix):
            raise WeightsError(f"SHA-256 does not begin with {expect_prefix}")
