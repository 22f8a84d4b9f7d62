"""stylelib.masks: built-in masks, files, resizing, the rules of a set of regions, --mask.

Oracles: closed forms (a half covers exactly H·W/2 pixels for odd sizes too; the centre
ellipse covers π/9 of the image; luminance = 0.299 R + 0.587 G + 0.114 B), normalisation
written again in the test (m_i / Σ m), and each refusal's one-line message.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib.masks import (
    BUILT_INS,
    MaskError,
    load_mask,
    parse_mask_flag,
    region_masks,
)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 400, text
    return text


# --------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize("h, w", [(4, 6), (5, 7), (33, 48), (1, 1)])
def test_halves_cover_exactly_half_and_partition_the_image(h, w):
    top, bottom = load_mask("top", (h, w)), load_mask("bottom", (h, w))
    left, right = load_mask("left", (h, w)), load_mask("right", (h, w))
    for half in (top, bottom, left, right):
        assert half.shape == (1, 1, h, w) and half.dtype == torch.float32
        assert float(half.sum()) == pytest.approx(h * w / 2, abs=1e-4)
        assert float(half.min()) >= 0 and float(half.max()) <= 1
    assert torch.equal(top + bottom, torch.ones(1, 1, h, w))
    assert torch.equal(left + right, torch.ones(1, 1, h, w))
    if h % 2:  # the middle row is half in each
        assert top[0, 0, h // 2].unique().tolist() == [0.5]
    assert top[0, 0, 0].unique().tolist() == [1.0] or h == 1


def test_centre_is_an_ellipse_of_area_pi_over_9():
    h, w = 90, 120
    centre = load_mask("centre", (h, w))
    assert float(centre.mean()) == pytest.approx(math.pi / 9, rel=5e-3)
    assert float(centre[0, 0, h // 2, w // 2]) == 1.0 and float(centre[0, 0, 0, 0]) == 0.0
    assert torch.equal(centre, centre.flip(-1)) and torch.equal(centre, centre.flip(-2))
    # the ellipse reaches w/2 ± w/3 along the middle row
    row = centre[0, 0, h // 2]
    assert float(row[w // 2 - w // 3 + 1]) == 1.0 and float(row[w // 2 - w // 3 - 2]) == 0.0


def test_all_and_the_built_in_names():
    assert torch.equal(load_mask("all", (3, 5)), torch.ones(1, 1, 3, 5))
    assert set(BUILT_INS) == {"top", "bottom", "left", "right", "centre", "all", "rest"}
    assert torch.equal(load_mask(" TOP ", (2, 2)), load_mask("top", (2, 2)))


def test_rest_alone_and_a_built_in_without_a_size_are_refused():
    with pytest.raises(MaskError, match="whatever the other masks leave") as exc:
        load_mask("rest", (4, 4))
    one_line(exc)
    with pytest.raises(MaskError, match="needs the image's size") as exc:
        load_mask("top")
    one_line(exc)


def test_a_file_wins_over_a_built_in_of_the_same_name(tmp_path, monkeypatch):
    Image.fromarray(np.full((4, 4), 255, np.uint8)).save(tmp_path / "top", format="PNG")
    monkeypatch.chdir(tmp_path)
    assert torch.equal(load_mask("top"), torch.ones(1, 1, 4, 4))


# --------------------------------------------------------------------------- arrays, files


def test_arrays_and_tensors_of_every_accepted_kind():
    u8 = np.array([[0, 255], [51, 102]], np.uint8)
    assert load_mask(u8).flatten().tolist() == pytest.approx([0, 1, 0.2, 0.4])
    boolean = torch.tensor([[True, False]])
    assert load_mask(boolean).flatten().tolist() == [1.0, 0.0]
    t = torch.rand(1, 1, 3, 4, dtype=torch.float64)
    out = load_mask(t)
    assert out.dtype == torch.float32 and torch.allclose(out, t.float())
    t[0, 0, 0, 0] = 0.5  # the result is a copy
    assert float(out[0, 0, 0, 0]) != 0.5 or float(load_mask(t)[0, 0, 0, 0]) == 0.5


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (np.zeros((4, 4, 3)), "one channel"),
        (np.full((2, 2), 2.0), "divide by 255"),
        (np.full((2, 2), -1.0), "rescale it to [0, 1]"),
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.zeros((2, 2), np.int64), "dtype"),
        (3.0, "cannot make a mask from a float"),
    ],
)
def test_bad_arrays_are_refused_in_one_line(bad, fragment):
    with pytest.raises(MaskError, match=None) as exc:
        load_mask(bad)
    assert fragment in one_line(exc)


def test_a_grey_or_colour_file_gives_its_luminance(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (0, 0, 255)
    rgb[1] = 255
    Image.fromarray(rgb).save(tmp_path / "c.png")
    m = load_mask(tmp_path / "c.png")
    assert m.shape == (1, 1, 2, 3)
    assert m[0, 0, 0].tolist() == pytest.approx([0.299, 0.587, 0.114], abs=1e-6)
    assert m[0, 0, 1].tolist() == pytest.approx([1, 1, 1], abs=1e-6)
    Image.fromarray(np.array([[0, 128]], np.uint8)).save(tmp_path / "g.png")
    assert load_mask(tmp_path / "g.png").flatten().tolist() == pytest.approx([0, 128 / 255])


def test_a_file_with_transparency_gives_its_alpha(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)  # black paint: luminance would say 0 everywhere
    rgba[..., 3] = [[255, 0], [0, 51]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert load_mask(tmp_path / "a.png").flatten().tolist() == pytest.approx([1, 0, 0, 0.2])
    rgba[..., 3] = 255  # opaque everywhere: the alpha says nothing, luminance counts
    rgba[0, 0, :3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "o.png")
    assert load_mask(tmp_path / "o.png").flatten().tolist() == pytest.approx([1, 0, 0, 0])


def test_missing_and_unreadable_files_are_refused_in_one_line(tmp_path):
    with pytest.raises(MaskError) as exc:
        load_mask(tmp_path / "nosuch.png", what="--mask 'nosuch.png'")
    text = one_line(exc)
    assert "--mask 'nosuch.png'" in text and "no file" in text and "centre" in text
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(MaskError) as exc:
        load_mask(tmp_path / "notes.png")
    assert "not an image" in one_line(exc)


# --------------------------------------------------------------------------- sizes


def test_same_aspect_ratio_is_resized_with_a_one_line_warning():
    m = torch.zeros(1, 1, 20, 40)
    m[..., :20] = 1  # left half
    with pytest.warns(UserWarning, match=r"40 x 20 px, resized to the image's 80 x 40") as rec:
        out = load_mask(m, (40, 80))
    assert len(rec) == 1 and "\n" not in str(rec[0].message)
    assert out.shape == (1, 1, 40, 80)
    assert float(out.mean()) == pytest.approx(0.5, abs=0.02)  # still the left half
    with pytest.warns(UserWarning):  # 1 % off: still resized
        assert load_mask(torch.ones(100, 199), (50, 100)).shape == (1, 1, 50, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the image's own size: no warning
        assert load_mask(torch.ones(40, 80), (40, 80)).shape == (1, 1, 40, 80)


def test_another_aspect_ratio_is_refused_naming_both_sizes():
    with pytest.raises(MaskError) as exc:
        load_mask(torch.ones(40, 40), (40, 80), what="mask 'sky.png'")
    text = one_line(exc)
    assert "mask 'sky.png'" in text and "40 x 40" in text and "80 x 40" in text
    assert "aspect ratio" in text


# --------------------------------------------------------------------------- region rules


def test_rest_is_what_the_others_leave():
    top, rest = region_masks(["top", "rest"], (6, 4))
    assert torch.equal(rest, load_mask("bottom", (6, 4)))
    assert torch.equal(top + rest, torch.ones(1, 1, 6, 4))
    centre, left, rest = region_masks(["centre", "left", "rest"], (30, 40))
    assert torch.allclose(centre + left + rest, torch.ones(1, 1, 30, 40))


def test_soft_and_overlapping_masks_are_normalised_to_sum_one():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(5, 7, generator=g) + 0.01, torch.rand(5, 7, generator=g)
    na, nb = region_masks([a, b], (5, 7))
    assert torch.allclose(na + nb, torch.ones(1, 1, 5, 7), atol=1e-6)
    assert torch.allclose(na[0, 0], a / (a + b), atol=1e-6)  # the rule, written again
    full, left = region_masks(["all", "left"], (2, 2))  # both claim the left column fully
    assert full.flatten().tolist() == [0.5, 1.0, 0.5, 1.0]
    assert left.flatten().tolist() == [0.5, 0.0, 0.5, 0.0]


def test_uncovered_pixels_are_refused_with_the_fraction_and_the_fix():
    with pytest.raises(MaskError) as exc:
        region_masks(["top"], (4, 4))
    text = one_line(exc)
    assert "50.0 %" in text and "rest:none" in text
    tiny = torch.ones(100, 100)
    tiny[0, 0] = 0
    with pytest.raises(MaskError) as exc:
        region_masks([tiny], (100, 100))
    assert "0.01 %" in one_line(exc)  # one pixel of 10,000 is not rounded to 0


def test_empty_masks_two_rests_and_an_empty_rest_are_refused():
    with pytest.raises(MaskError) as exc:
        region_masks([torch.zeros(4, 4), "rest"], (4, 4))
    assert "mask 1 names no pixels (it is all 0)" in one_line(exc)
    with pytest.raises(MaskError) as exc:
        region_masks(["top", "rest", "rest"], (4, 4))
    assert "'rest' is given 2 times" in one_line(exc)
    with pytest.raises(MaskError) as exc:
        region_masks(["all", "rest"], (4, 4))
    assert "already cover every pixel" in one_line(exc)
    with pytest.raises(MaskError):
        region_masks([], (4, 4))


# --------------------------------------------------------------------------- --mask


@pytest.mark.parametrize(
    "flag, expected",
    [
        ("sky.png:starry_night", ("sky.png", "starry_night")),
        ("rest:none", ("rest", None)),
        ("top:NONE", ("top", None)),
        ("a:b.png:mosaic", ("a:b.png", "mosaic")),  # split at the last colon
        (r"C:\masks\sky.png:mosaic", (r"C:\masks\sky.png", "mosaic")),
        ("C:/masks/sky.png:styles/waves.png", ("C:/masks/sky.png", "styles/waves.png")),
    ],
)
def test_parse_mask_flag(flag, expected):
    assert parse_mask_flag(flag) == expected


@pytest.mark.parametrize(
    "flag, fragment",
    [
        ("sky.png", "names no style"),
        ("sky.png:", "names no style"),
        (r"C:\masks\sky.png", "names no style"),  # a drive letter is no style
        ("C:/sky.png", "names no style"),
        (":mosaic", "names no mask"),
    ],
)
def test_parse_mask_flag_refuses_in_one_line(flag, fragment):
    with pytest.raises(MaskError) as exc:
        parse_mask_flag(flag)
    text = one_line(exc)
    assert fragment in text and "MASK:STYLE" in text


def test_a_whole_existing_file_with_a_colon_names_no_style(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my:mask.png").write_bytes(b"")
    with pytest.raises(MaskError, match="names no style"):
        parse_mask_flag("my:mask.png")
