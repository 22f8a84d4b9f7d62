"""Tests for stylelib.images: loading every kind of source, refusing bad ones, saving safely.

All images are tiny and made here, in ``tmp_path``; nothing touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from stylelib import images
from stylelib.errors import ImageError, OutputError
from stylelib.images import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    MIN_SIDE,
    check_image,
    load_image,
    resize,
    save_image,
    to_numpy,
    to_pil,
)

H, W = 40, 64  # a small landscape image, larger than MIN_SIDE on both sides


def _rgb_array(h: int = H, w: int = W) -> np.ndarray:
    """An asymmetric uint8 RGB test image: red ramps left to right, green top to bottom."""
    a = np.zeros((h, w, 3), dtype=np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    a[..., 2] = 77
    return a


def _as_image(a: np.ndarray) -> torch.Tensor:
    """The expected stylelib image for an (H, W, 3) uint8 array."""
    return torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255


def _raises_one_line(error, match, fn, *args, **kwargs):
    """Assert fn raises `error` matching `match`, with a one-line message; return it."""
    with pytest.raises(error, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


# --------------------------------------------------------------------------- constants


def test_constants():
    assert MIN_SIDE == 32 and MAX_PIXELS == 64_000_000
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_EXTENSIONS)
    assert {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"} <= set(
        IMAGE_EXTENSIONS
    )


# --------------------------------------------------------------------------- sources


@pytest.mark.parametrize("as_str", [True, False])
def test_load_path_gives_float_rgb_batch_of_one(tmp_path, as_str):
    a = _rgb_array()
    Image.fromarray(a).save(tmp_path / "in.png")
    path = str(tmp_path / "in.png") if as_str else tmp_path / "in.png"
    x = load_image(path)
    assert x.shape == (1, 3, H, W) and x.dtype == torch.float32
    torch.testing.assert_close(x, _as_image(a))


def test_load_pil_image_leaves_it_unchanged():
    pil = Image.fromarray(_rgb_array())
    before = pil.tobytes()
    x = load_image(pil)
    torch.testing.assert_close(x, _as_image(_rgb_array()))
    assert pil.mode == "RGB" and pil.size == (W, H) and pil.tobytes() == before


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.full((H, W, 3), 255, np.uint8), 1.0),
        (np.full((H, W, 3), 51, np.uint8), 0.2),
        (np.full((H, W, 3), 65535, np.uint16), 1.0),
        (np.full((H, W, 3), 32768, np.uint16), 32768 / 65535),
        (np.full((H, W, 3), 0.25, np.float32), 0.25),
        (np.full((H, W, 3), 0.75, np.float64), 0.75),
        (np.full((H, W), 0.5, np.float32), 0.5),  # gray 2-D
        (np.full((H, W, 1), 102, np.uint8), 0.4),  # gray with a channel axis
    ],
    ids=["uint8-max", "uint8", "uint16-max", "uint16-half", "float32", "float64", "gray2d", "hw1"],
)
def test_load_numpy_scales_by_dtype(array, expected):
    x = load_image(array)
    assert x.shape == (1, 3, H, W) and x.dtype == torch.float32
    torch.testing.assert_close(x, torch.full_like(x, expected))


def test_load_numpy_rgba_composites_on_white():
    a = np.zeros((H, W, 4), np.uint8)
    a[0, 0] = (255, 0, 0, 255)  # opaque red
    a[0, 1] = (0, 0, 0, 0)  # fully transparent black
    x = load_image(a)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[0, :, 0, 1], torch.ones(3))


def test_load_numpy_does_not_alias_or_mutate():
    a = np.full((H, W, 3), 0.5, np.float32)
    x = load_image(a)
    x += 0.25
    assert np.all(a == 0.5)
    assert not np.shares_memory(a, x.numpy())


def test_load_numpy_accepts_non_contiguous_views():
    a = _rgb_array()[::-1, ::2]  # negative strides, which torch.from_numpy refuses
    torch.testing.assert_close(load_image(a), _as_image(np.ascontiguousarray(a)))


@pytest.mark.parametrize("shape", [(3, H, W), (1, 3, H, W), (2, 3, H, W)])
def test_load_tensor_keeps_batch_and_returns_a_copy(shape):
    t = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    x = load_image(t)
    expected_shape = shape if len(shape) == 4 else (1, *shape)
    assert x.shape == expected_shape and x.dtype == torch.float32 and not x.requires_grad
    torch.testing.assert_close(x, t.detach().reshape(expected_shape).float())


def test_load_tensor_does_not_alias_float32_input():
    t = torch.full((1, 3, H, W), 0.5)
    x = load_image(t)
    x.zero_()
    assert x.data_ptr() != t.data_ptr() and torch.all(t == 0.5)


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((H, W, 3), np.uint8)
    a[:16, :16] = (255, 0, 0)  # a red block in the stored top-left corner
    a[:, W // 2 :, 2] = 255  # blue right half
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: display rotated 90 degrees clockwise
    Image.fromarray(a).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    x = load_image(tmp_path / "rotated.jpg")
    assert x.shape == (1, 3, W, H)  # portrait now
    expected = _as_image(np.ascontiguousarray(np.rot90(a, k=-1)))
    assert (x - expected).abs().mean() < 0.03  # JPEG is lossy
    assert x[0, 0, 4, -4] > 0.9 and x[0, 1, 4, -4] < 0.1  # red block went to the top right


# --------------------------------------------------------------------------- PIL modes


def test_mode_l_and_1_become_gray_rgb():
    gray = load_image(Image.new("L", (W, H), 51))
    torch.testing.assert_close(gray, torch.full((1, 3, H, W), 0.2))
    one = load_image(Image.new("1", (W, H), 1))
    torch.testing.assert_close(one, torch.ones(1, 3, H, W))


def test_mode_la_composites_on_white():
    img = Image.new("LA", (W, H), (0, 255))  # opaque black
    img.putpixel((1, 0), (0, 0))  # transparent black
    x = load_image(img)
    assert torch.all(x[0, :, 0, 0] == 0) and torch.all(x[0, :, 0, 1] == 1)


def test_mode_rgba_transparent_becomes_white_opaque_red_stays_red():
    img = Image.new("RGBA", (W, H), (255, 0, 0, 255))
    img.putpixel((1, 0), (0, 0, 0, 0))
    img.putpixel((2, 0), (0, 0, 0, 128))  # half-transparent black -> mid gray
    x = load_image(img)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(x[0, :, 0, 1], torch.ones(3))
    torch.testing.assert_close(x[0, :, 0, 2], torch.full((3,), 1 - 128 / 255))


def test_mode_p_with_and_without_transparency(tmp_path):
    img = Image.new("P", (W, H), 1)
    img.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)  # index 0 black, index 1 green
    img.putpixel((0, 0), 0)
    torch.testing.assert_close(load_image(img)[0, :, 0, 1], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.all(load_image(img)[0, :, 0, 0] == 0)  # black without transparency
    img.save(tmp_path / "p.png", transparency=0)  # index 0 is transparent in the file
    x = load_image(tmp_path / "p.png")
    assert torch.all(x[0, :, 0, 0] == 1)  # transparent -> white
    torch.testing.assert_close(x[0, :, 0, 1], torch.tensor([0.0, 1.0, 0.0]))


def test_mode_cmyk_converts_to_rgb():
    x = load_image(Image.new("CMYK", (W, H), (0, 255, 255, 0)))  # no cyan, full M+Y: red
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_16bit_png_is_scaled_by_65535_not_clipped(tmp_path):
    a = np.full((H, W), 65535, np.uint16)
    a[:, W // 2 :] = 32768
    Image.fromarray(a).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as img:
        assert img.mode.startswith("I")  # really a 16-bit image on disk
    x = load_image(tmp_path / "deep.png")
    assert torch.all(x[..., : W // 2] == 1.0)
    torch.testing.assert_close(x[..., W // 2 :], torch.full((1, 3, H, W // 2), 32768 / 65535))


def test_mode_i_and_f_grayscale():
    x = load_image(Image.new("I", (W, H), 32768))
    torch.testing.assert_close(x, torch.full((1, 3, H, W), 32768 / 65535))
    torch.testing.assert_close(load_image(Image.new("F", (W, H), 0.25)), torch.full_like(x, 0.25))


# --------------------------------------------------------------------------- resizing


@pytest.mark.parametrize("hw, size, expected", [((40, 80), 64, (32, 64)), ((80, 40), 64, (64, 32))])
def test_resize_sets_the_long_side(hw, size, expected):
    assert resize(torch.rand(2, 3, *hw), size).shape == (2, 3, *expected)
    assert load_image(torch.rand(3, *hw), size=size).shape == (1, 3, *expected)


def test_resize_rounds_short_side():
    assert resize(torch.rand(1, 3, 45, 100), 142).shape[-2:] == (64, 142)  # 63.9
    assert resize(torch.rand(1, 3, 65, 100), 50).shape[-2:] == (32, 50)  # 32.5 rounds to even


def test_resize_antialiases_a_fine_checkerboard():
    # An odd factor (3) makes plain sampling land on pixel centres and return pure 0/1.
    board = torch.from_numpy(np.indices((96, 96)).sum(0) % 2).float().expand(1, 3, 96, 96)
    assert (resize(board, 32) - 0.5).abs().max() < 0.05  # averaged to gray
    assert (load_image(board, size=32) - 0.5).abs().max() < 0.05


def test_resize_stays_in_range_and_does_not_alias():
    edge = torch.zeros(1, 3, 32, 32)
    edge[..., 16:] = 1
    up = resize(edge, 128)  # bicubic overshoots at a hard edge; the result is clamped
    assert up.min() >= 0 and up.max() <= 1
    same = resize(edge, 32)
    assert torch.equal(same, edge) and same.data_ptr() != edge.data_ptr()


# --------------------------------------------------------------------------- bad inputs


def test_missing_path(tmp_path):
    _raises_one_line(ImageError, "not found", load_image, tmp_path / "nope.png")


def test_directory_path(tmp_path):
    _raises_one_line(ImageError, "is a folder", load_image, tmp_path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.png").touch()
    _raises_one_line(ImageError, "empty", load_image, tmp_path / "empty.png")


def test_non_image_file(tmp_path):
    (tmp_path / "notes.png").write_text("these are not pixels\n" * 10)
    _raises_one_line(ImageError, "not an image", load_image, tmp_path / "notes.png")


def test_truncated_jpeg(tmp_path):
    Image.fromarray(_rgb_array(256, 256)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    _raises_one_line(ImageError, "truncated", load_image, tmp_path / "cut.jpg")


def test_image_larger_than_the_guard_is_refused_before_decoding(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(1))
    err = _raises_one_line(
        ImageError, "10,000 pixels", load_image, tmp_path / "big.png", max_pixels=5000
    )
    assert "5,000" in str(err) and "max_pixels=" in str(err) and not decoded


def test_pil_decompression_bomb_error_is_translated(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL raises above 2x this
    _raises_one_line(ImageError, "decompression-bomb", load_image, tmp_path / "bomb.png")


def test_image_smaller_than_min_side(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    err = _raises_one_line(ImageError, "1x1 px", load_image, tmp_path / "dot.png")
    assert "32 px" in str(err) and "dot.png" in str(err)
    _raises_one_line(ImageError, "20x64", load_image, np.zeros((20, 64, 3), np.uint8))


def test_image_too_small_after_resizing_says_the_size_that_fits():
    err = _raises_one_line(
        ImageError, "resized to long side 64", load_image, np.zeros((40, 400), np.uint8), size=64
    )
    assert "is 6x64 px" in str(err) and "choose a long side >= 315" in str(err)
    assert load_image(np.zeros((40, 400), np.uint8), size=315).shape[-2:] == (32, 315)
    _raises_one_line(ImageError, "31x314", load_image, np.zeros((40, 400), np.uint8), size=314)


# The size rule (module docstring): >= MIN_SIDE on each side as given and as resized, at
# most max_pixels as decoded and as resized; the same words from every entry point.
@pytest.mark.parametrize(
    "call",
    [
        lambda x: load_image(x),
        lambda x: load_image(x, size=64),
        lambda x: load_image(x, size=5000),
        lambda x: resize(x, 64),
        lambda x: check_image(x),
    ],
    ids=["load", "load-upscale", "load-upscale-more", "resize", "check"],
)
@pytest.mark.parametrize("hw", [(1, 1), (1, 5000), (31, 40), (40, 31)])
def test_one_rule_for_tiny_images(call, hw):
    x = torch.rand(1, 3, *hw)
    err = _raises_one_line(
        ImageError, rf"is {hw[0]}x{hw[1]} px \(HxW\), smaller than the 32 px", call, x
    )
    assert "never upscales an image that small" in str(err)


def test_a_tiny_file_is_refused_however_large_the_size(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    _raises_one_line(ImageError, "'.*dot.png' is 1x1 px", load_image, tmp_path / "dot.png", 64)


@pytest.mark.parametrize("size", [10**7, 10**5, 10**30])
def test_a_size_beyond_the_pixel_limit_is_refused(size):
    err = _raises_one_line(
        ImageError, "more than the limit of 64,000,000", load_image, torch.rand(3, 48, 64), size
    )
    assert "choose a long side of at most 9,237" in str(err)  # 6928 x 9237 fits
    assert 6928 * 9237 <= MAX_PIXELS < 6929 * 9238


def test_the_pixel_limit_of_a_resize_is_adjustable():
    x = torch.rand(1, 3, 48, 64)
    _raises_one_line(ImageError, "more than the limit of 3,000", resize, x, 64, max_pixels=3000)
    _raises_one_line(ImageError, "at most 63", load_image, x[0], size=64, max_pixels=3000)
    assert resize(x, 64, max_pixels=3072).shape == x.shape


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((3, H, W), np.float32), r"np\.transpose"),
        (np.zeros((H, W, 2), np.float32), r"\(H, W, 3\)"),
        (np.zeros((2, H, W, 3), np.float32), "one image at a time"),
        (np.zeros((H, W, 3), np.int64), "dtype int64"),
        (np.zeros((H, W, 3), bool), "dtype bool"),
        (np.full((H, W, 3), np.nan, np.float32), f"{H * W * 3} NaN"),
        (np.full((H, W, 3), 200.0, np.float32), "/ 255"),
        (np.full((H, W, 3), -0.5, np.float32), r"clip|clamp"),
    ],
    ids=["channels-first", "two-channels", "batch", "int64", "bool", "nan", "0-255", "negative"],
)
def test_bad_numpy_arrays(array, match):
    _raises_one_line(ImageError, match, load_image, array)


@pytest.mark.parametrize(
    "tensor, match",
    [
        (torch.zeros(H, W, 3), r"permute\(2, 0, 1\)"),
        (torch.zeros(1, H, W, 3), r"permute\(0, 3, 1, 2\)"),
        (torch.zeros(H, W), "2-D"),
        (torch.zeros(1, 3, H, W, dtype=torch.uint8), r"x\.float\(\) / 255"),
        (torch.full((1, 3, H, W), float("inf")), "Inf"),
        (torch.full((1, 3, H, W), 255.0), "/ 255"),
        (torch.full((1, 3, H, W), 1.5), r"clamp\(0, 1\)"),
    ],
    ids=["hw3", "channels-last", "2d", "uint8", "inf", "0-255", "above-one"],
)
def test_bad_tensors(tensor, match):
    _raises_one_line(ImageError, match, load_image, tensor)


@pytest.mark.parametrize("size", [16, 0, -5, 64.0, "256", True])
def test_bad_size(size):
    _raises_one_line(ImageError, "size must be an int", load_image, torch.rand(3, 64, 64), size)


@pytest.mark.parametrize("source", [[[0.5]], None, b"\x89PNG", 3])
def test_unsupported_source_type(source):
    _raises_one_line(ImageError, "cannot load an image from", load_image, source)


# --------------------------------------------------------------------------- check_image


def test_check_image_accepts_the_contract_with_a_tiny_tolerance():
    check_image(torch.rand(2, 3, MIN_SIDE, MIN_SIDE))
    check_image(torch.full((1, 3, 40, 40), 1 + 1e-7, dtype=torch.float64))


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((1, 3, 40, 40)), "must be a torch.Tensor"),
        (torch.zeros(3, 40, 40), r"unsqueeze\(0\)"),
        (torch.zeros(1, 40, 40, 3), r"permute\(0, 3, 1, 2\)"),
        (torch.zeros(1, 1, 40, 40), r"expand\(-1, 3, -1, -1\)"),
        (torch.zeros(1, 4, 40, 40), "got 4"),
        (torch.zeros(1, 3, 40, 40, dtype=torch.uint8), r"x\.float\(\) / 255"),
        (torch.zeros(1, 3, 40, 40).index_fill_(2, torch.tensor([0]), float("nan")), "120 NaN"),
        (torch.linspace(-0.5, 2, 4800).reshape(1, 3, 40, 40), "min -0.5 and max 2"),
        (torch.zeros(1, 3, 16, 64), r"16x64 px.*32 px"),
    ],
    ids=["numpy", "3d", "channels-last", "gray", "four", "uint8", "nan", "range", "small"],
)
def test_check_image_explains_what_is_wrong(x, match):
    err = _raises_one_line(ImageError, match, check_image, x, "content")
    assert str(err).startswith("content")


def test_check_image_with_a_networks_own_smallest_side_says_why():
    net_input = {"min_side": 5, "min_side_why": "its 9x9 convolution reflects 4 px"}
    check_image(torch.rand(1, 3, 5, 7), "Net's input", **net_input)  # below VGG's 32 px
    err = _raises_one_line(
        ImageError, "at least 5 px on each side", check_image, torch.rand(1, 3, 4, 9), **net_input
    )
    assert "4x9 px" in str(err) and "(its 9x9 convolution reflects 4 px)" in str(err)
    assert "32 px" not in str(err)  # VGG's rule is not this network's


def test_check_image_without_the_value_checks_looks_at_shape_and_dtype_only():
    values = torch.full((1, 3, 8, 8), float("nan"))
    check_image(values * 255, min_side=1, check_finite=False)  # NaN and 0-255 pass
    with pytest.raises(ImageError, match="NaN"):
        check_image(values, min_side=1, check_range=False)  # check_range alone keeps NaN out
    with pytest.raises(ImageError, match="dtype torch.uint8"):
        check_image(values.to(torch.uint8), min_side=1, check_finite=False)
    check_image(torch.rand(1, 3, 2, 2, device="meta"), min_side=1, check_finite=False)


def test_check_image_allow_batch_false():
    check_image(torch.rand(1, 3, 40, 40), allow_batch=False)
    _raises_one_line(
        ImageError, "batch of 2", check_image, torch.rand(2, 3, 40, 40), allow_batch=False
    )


# --------------------------------------------------------------------------- output


def test_to_pil_and_to_numpy_round_and_clamp():
    x = torch.rand(1, 3, H, W)
    x[0, 0, 0, 0], x[0, 1, 0, 0] = -0.2, 1.3  # an optimised image may stray a little
    pil = to_pil(x)
    assert pil.mode == "RGB" and pil.size == (W, H)
    expected = (x.clamp(0, 1)[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    assert np.array_equal(np.asarray(pil), expected)
    a = to_numpy(x[0])
    assert a.shape == (H, W, 3) and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    a[:] = 0  # a fresh array: writing to it does not touch the tensor
    assert x.abs().sum() > 0


def test_to_pil_refuses_a_batch_and_nan():
    _raises_one_line(ImageError, "single image", to_pil, torch.rand(2, 3, H, W))
    _raises_one_line(ImageError, "NaN", to_numpy, torch.full((3, H, W), float("nan")))


def test_save_png_round_trip_is_lossless(tmp_path):
    x = torch.rand(1, 3, H, W)
    out = save_image(x, tmp_path / "out.png")
    assert out == (tmp_path / "out.png").resolve() and out.is_file()
    assert (load_image(out) - x).abs().max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("suffix", [".jpg", ".JPEG", ".bmp", ".tif", ".webp", ".gif"])
def test_save_other_formats(tmp_path, suffix):
    x = load_image(_rgb_array())
    out = save_image(x[0], tmp_path / f"out{suffix}")
    assert load_image(out).shape == x.shape


def test_save_is_atomic_when_the_writer_fails(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old result")

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    _raises_one_line(
        OutputError, "disk full", save_image, torch.rand(1, 3, H, W), target, overwrite=True
    )
    assert target.read_bytes() == b"old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp file left


def test_save_interrupted_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(self, fp, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(torch.rand(1, 3, H, W), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_to_overwrite_an_input(tmp_path, monkeypatch):
    Image.fromarray(_rgb_array()).save(tmp_path / "content.png")
    before = (tmp_path / "content.png").read_bytes()
    x = load_image(tmp_path / "content.png")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for spelling in ["content.png", tmp_path / "sub" / ".." / "content.png"]:
        _raises_one_line(
            OutputError, "refusing to overwrite", save_image, x, spelling, inputs=["content.png"]
        )
    os.link(tmp_path / "content.png", tmp_path / "alias.png")  # same file, another name
    _raises_one_line(
        OutputError, "overwrite", save_image, x, "alias.png", inputs=[Path("content.png")]
    )
    assert (tmp_path / "content.png").read_bytes() == before


def test_save_into_a_missing_folder(tmp_path):
    _raises_one_line(
        OutputError, "does not exist", save_image, torch.rand(3, H, W), tmp_path / "no" / "o.png"
    )


def test_save_into_an_unwritable_folder(tmp_path, monkeypatch):
    # Simulated: chmod does not stop root (as in many containers) from writing.
    monkeypatch.setattr(images.os, "access", lambda path, mode: False)
    err = _raises_one_line(
        OutputError, "not writable", save_image, torch.rand(3, H, W), tmp_path / "o.png"
    )
    assert str(tmp_path) in str(err)


@pytest.mark.parametrize("name", ["out.txt", "out", "out.png.bak"])
def test_save_refuses_unknown_suffix(tmp_path, name):
    _raises_one_line(OutputError, "suffix", save_image, torch.rand(3, H, W), tmp_path / name)


def test_save_keeps_an_existing_file_unless_told(tmp_path):
    target = tmp_path / "photo.png"
    target.write_bytes(b"a holiday photo")
    x = torch.rand(1, 3, H, W)
    _raises_one_line(OutputError, "already exists; choose another name", save_image, x, target)
    assert target.read_bytes() == b"a holiday photo"
    assert save_image(x, target, overwrite=True) == target
    assert (load_image(target) - x).abs().max() <= 0.5 / 255 + 1e-6


def test_save_refuses_a_file_that_appears_while_it_writes(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    real = Image.Image.save

    def slow_save(self, fp, *args, **kwargs):
        target.write_bytes(b"the other run's result")  # another run finished first
        return real(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", slow_save)
    _raises_one_line(OutputError, "appeared while", save_image, torch.rand(1, 3, H, W), target)
    assert target.read_bytes() == b"the other run's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
