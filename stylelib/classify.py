"""VGG as the classifier it was trained to be: which ImageNet classes it sees in an image.

Style transfer keeps only VGG's convolutional part (:mod:`stylelib.vgg`). This module puts
torchvision's classifier back on top of it — adaptive average pooling to 7 x 7, then fc6
(25088 -> 4096), ReLU, dropout, fc7 (4096 -> 4096), ReLU, dropout, fc8 (4096 -> 1000), at
torchvision's indices ``classifier.0``, ``.3``, ``.6`` — so that a lesson can show what
"pretrained" means: what the weights learned is which of 1000 ImageNet classes a photo shows.
With random weights the same code ranks 1000 near-equal probabilities, about 1/1000 each.

Sources (torchvision 0.29, the installed package; offline):

- class names: ``torchvision.models.VGG16_Weights.IMAGENET1K_V1.meta["categories"]`` (the same
  1000 names for VGG19), in the order of fc8's outputs;
- preprocessing: ``VGG16_Weights.IMAGENET1K_V1.transforms()``, printed as
  ``ImageClassification(crop_size=[224], resize_size=[256], mean=[0.485, 0.456, 0.406],
  std=[0.229, 0.224, 0.225], interpolation=InterpolationMode.BILINEAR)``: :func:`prepare`
  does the resize and the crop, :class:`~stylelib.vgg.VGGFeatures` the mean and std (or
  Caffe's convention, for a Caffe file);
- random classifier: torchvision's ``VGG._initialize_weights`` draws linear weights from
  N(0, 0.01) with zero biases; here from a seeded generator.

A Caffe-converted file's classifier (``classifier.1``/``.4``/``.6``, see
:func:`stylelib.weights.detect_layout`) is read too; that its 1000 outputs follow the same
class order is assumed, not verified here.

Example::

    >>> import torch
    >>> model = VGGClassifier("vgg16", weights="random")
    >>> rows = top_k(model, torch.rand(2, 3, 64, 64), k=3, prepared=True)  # no resize to 224
    >>> len(rows), len(rows[0]), rows[0][0][1] >= rows[0][1][1] >= rows[0][2][1]
    (2, 3, True)
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import weights as weights_module
from .errors import WeightsError
from .layers import CLASSIFIER, check_arch
from .vgg import VGGFeatures

RESIZE = 256  # short side before the crop: torchvision's resize_size for VGG's ImageNet weights
CROP = 224  # the centre crop it classifies: torchvision's crop_size (VGG's training size)
_LINEAR_KEY = re.compile(r"^classifier\.(\d+)\.(weight|bias)$")


def categories(arch: str = "vgg16") -> list[str]:
    """The 1000 ImageNet class names in the order of fc8's outputs (torchvision's metadata)."""
    from torchvision.models import VGG16_Weights, VGG19_Weights  # slow import: only here

    enum = {"vgg16": VGG16_Weights, "vgg19": VGG19_Weights}[check_arch(arch)]
    return list(enum.IMAGENET1K_V1.meta["categories"])


def build_classifier() -> nn.Sequential:
    """torchvision's ``vgg16().classifier``: fc6, ReLU, Dropout, fc7, ReLU, Dropout, fc8."""
    (_, n6, m6), (_, n7, m7), (_, n8, m8) = CLASSIFIER
    return nn.Sequential(
        nn.Linear(n6, m6), nn.ReLU(), nn.Dropout(), nn.Linear(n7, m7), nn.ReLU(), nn.Dropout(),
        nn.Linear(n8, m8),
    )  # fmt: skip


def random_classifier_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded N(0, 0.01) weights and zero biases, as torchvision initialises VGG's linears."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for index, (_, n_in, n_out) in zip((0, 3, 6), CLASSIFIER, strict=True):
        state[f"{index}.weight"] = torch.randn(n_out, n_in, generator=generator) * 0.01
        state[f"{index}.bias"] = torch.zeros(n_out)
    return state


def read_classifier_file(path: str | Path) -> dict[str, torch.Tensor]:
    """fc6, fc7, fc8 of a full VGG weights file, as keys ``0.*``, ``3.*``, ``6.*``.

    The three linear layers are found in the order of their ``classifier.N`` indices, so
    torchvision's file (0, 3, 6) and a Caffe-converted one (1, 4, 6) both load. ``mmap``
    maps the file: fc6's 103 M weights are read only when a forward pass needs them.
    """
    path = Path(path)
    obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    found = {}
    for key, value in obj.items() if isinstance(obj, dict) else ():
        match = _LINEAR_KEY.match(str(key))
        if match:
            found.setdefault(int(match[1]), {})[match[2]] = value
    if len(found) != 3 or any(len(kinds) != 2 for kinds in found.values()):
        raise WeightsError(
            f"{path} holds no VGG classifier (classifier.* weights and biases of three linear "
            "layers): a features-only file (an export, the authors' vgg_conv.pth) cannot "
            "classify; use torchvision's full vgg16/vgg19 file"
        )
    state = {}
    for index, (name, n_in, n_out) in zip((0, 3, 6), CLASSIFIER, strict=True):
        layer = found[sorted(found)[index // 3]]
        if tuple(layer["weight"].shape) != (n_out, n_in):
            raise WeightsError(
                f"{path}: {name} has shape {tuple(layer['weight'].shape)}, VGG's is "
                f"({n_out}, {n_in}) (1000 ImageNet classes)"
            )
        state[f"{index}.weight"], state[f"{index}.bias"] = layer["weight"], layer["bias"]
    return state


def _classifier_state(arch: str, weights: str | Path, seed: int) -> dict[str, torch.Tensor]:
    if weights == "random":
        return random_classifier_state(seed)
    if weights in weights_module.SOURCES:
        path = weights_module.cache_dir() / weights_module.official_name(arch, str(weights))
        if not path.is_file():
            raise WeightsError(
                f"{path} is not here: classifying needs the full {weights} file of {arch} "
                "(the features-only export has no classifier); see `stylelib weights status`"
            )
        return read_classifier_file(path)
    return read_classifier_file(weights)


def available_weights(arch: str = "vgg16") -> str:
    """``"imagenet"`` when torchvision's *full* file of ``arch`` (with its classifier) is in
    the cache, else ``"random"`` — what the lessons pass, to run with or without a download."""
    path = weights_module.cache_dir() / weights_module.official_name(arch)
    return "imagenet" if path.is_file() else "random"


class VGGClassifier(nn.Module):
    """VGG16 or VGG19 whole: :class:`~stylelib.vgg.VGGFeatures` to pool5, then the classifier.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        weights: ``"imagenet"`` (torchvision's full file in the cache), ``"random"`` (seeded:
            features as :mod:`stylelib.weights` draws them, classifier as torchvision's
            initialisation), or a path to a full weights file.
        seed: seed of the random weights.

    Input: images ``(B, 3, H, W)`` in ``[0, 1]`` RGB (see :func:`prepare`). Output: logits
    ``(B, 1000)``; ``softmax(dim=1)`` gives the class probabilities.
    """

    def __init__(self, arch: str = "vgg16", weights: str | Path = "imagenet", seed: int = 0):
        super().__init__()
        self.arch = check_arch(arch)
        self.features = VGGFeatures(arch, weights, layers=["pool5"], seed=seed)
        self.pool = nn.AdaptiveAvgPool2d(7)  # 7 x 7 whatever the input: fc6 has 7·7·512 inputs
        with torch.device("meta"):
            self.classifier = build_classifier()
        self.classifier.load_state_dict(_classifier_state(arch, weights, seed), assign=True)
        self.classifier.requires_grad_(False).eval()
        self.source = self.features.source
        self.categories = categories(arch)

    def train(self, mode: bool = True) -> VGGClassifier:
        """Always in eval mode: dropout off, the prediction deterministic."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pool5 = self.features(image)["pool5"]
        return self.classifier(self.pool(pool5).flatten(1))


def prepare(image: torch.Tensor, resize: int = RESIZE, crop: int = CROP) -> torch.Tensor:
    """torchvision's evaluation transform without the normalisation: the short side resized to
    ``resize`` (bilinear, antialiased; the long side truncated, as torchvision's ``Resize``),
    then the centre ``crop`` x ``crop`` (offsets rounded, as its ``center_crop``)."""
    h, w = image.shape[-2:]
    short, long = sorted((h, w))
    new_long = int(resize * long / short)
    size = (resize, new_long) if h <= w else (new_long, resize)
    out = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
    top, left = (round((n - crop) / 2) for n in size)
    return out[..., top : top + crop, left : left + crop].clamp(0.0, 1.0)


@torch.no_grad()
def top_k(
    model: VGGClassifier, image: torch.Tensor, k: int = 5, prepared: bool = False
) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable classes of each image, most probable first.

    Args:
        model: a :class:`VGGClassifier`.
        image: ``(B, 3, H, W)`` in ``[0, 1]``; resized and cropped by :func:`prepare` unless
            ``prepared``.
        k: how many classes per image.

    Returns:
        One list per image of ``(class name, probability)``, probabilities in decreasing order.
    """
    x = image if prepared else prepare(image)
    probabilities = model(x).softmax(dim=1)
    values, indices = probabilities.topk(k, dim=1)  # sorted, largest first
    return [
        [(model.categories[i], p) for i, p in zip(row_i.tolist(), row_p.tolist(), strict=True)]
        for row_i, row_p in zip(indices, values, strict=True)
    ]


def format_top_k(rows: list[tuple[str, float]]) -> str:
    """One image's top-k as lines ``1. airship   0.112 %``."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(
        f"{rank}. {name:<{width}}  {100 * p:7.3f} %" for rank, (name, p) in enumerate(rows, 1)
    )
