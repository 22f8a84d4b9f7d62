"""Tests for stylelib.data: built-in photos, procedural styles, the artwork catalogue.

Everything runs offline: artworks come from fake JPEGs in a temporary mirror folder or a
``file://`` address, and the other downloads go to a refused loopback port.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib import data
from stylelib.errors import ImageError, StylelibError
from stylelib.images import load_image

STYLES_DIR = Path(__file__).resolve().parents[1] / "data" / "styles"


@pytest.fixture(autouse=True)
def private_data_folders(tmp_path_factory, monkeypatch):
    """An empty private cache, no mirror, and no proxy between us and 127.0.0.1."""
    cache = tmp_path_factory.mktemp("stylelib_cache")
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return cache


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything asks for a download."""

    def refuse(*args, **kwargs):
        pytest.fail(f"a download was asked for: {args} {kwargs}")

    monkeypatch.setattr(data, "download", refuse)


@pytest.fixture
def network_down(monkeypatch):
    """Every artwork's address on a closed loopback port: the real download fails at once."""
    for key, art in data.ARTWORKS.items():
        closed = dataclasses.replace(art, url=f"http://127.0.0.1:9/{art.filename}")
        monkeypatch.setitem(data.ARTWORKS, key, closed)


def fake_jpeg(path: Path, size=(80, 60)) -> Path:
    """A small red JPEG standing in for a real artwork."""
    Image.new("RGB", size, (200, 30, 30)).save(path, format="JPEG")
    return path


# --------------------------------------------------------------------------- content photos


@pytest.mark.parametrize(
    "name, shape",
    [
        ("chelsea", (1, 3, 300, 451)),
        ("astronaut", (1, 3, 512, 512)),
        ("coffee", (1, 3, 400, 600)),
        ("rocket", (1, 3, 427, 640)),
    ],
)
def test_content_images_load_offline_with_their_shapes(name, shape):
    x = data.content_image(name)
    assert tuple(x.shape) == shape
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1


def test_content_image_size_sets_the_long_side():
    assert tuple(data.content_image("chelsea", size=64).shape) == (1, 3, 43, 64)


def test_every_content_image_has_a_credit():
    assert set(data.CONTENT_CREDITS) == set(data.CONTENT_IMAGES)
    assert all(credit.strip() for credit in data.CONTENT_CREDITS.values())


def test_unknown_content_image_lists_the_names():
    with pytest.raises(ImageError, match="chelsea, astronaut, coffee, rocket"):
        data.content_image("kitten")


# --------------------------------------------------------------------------- procedural styles


@pytest.mark.parametrize("name", data.PROCEDURAL_STYLES)
def test_procedural_style_is_a_valid_square_image(name):
    x = data.procedural_style(name, size=64)
    assert tuple(x.shape) == (1, 3, 64, 64)
    assert x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    assert x.std() > 0.05  # a texture, not a flat colour


@pytest.mark.parametrize("name", data.PROCEDURAL_STYLES)
def test_procedural_style_same_seed_is_bit_identical_other_seed_differs(name):
    a = data.procedural_style(name, size=64, seed=3)
    b = data.procedural_style(name, size=64, seed=3)
    c = data.procedural_style(name, size=64, seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", data.PROCEDURAL_STYLES)
def test_committed_style_png_equals_a_fresh_rendering(name):
    """data/styles/*.png are what data/make_styles.py renders (256 px, seed 0)."""
    path = STYLES_DIR / f"{name}.png"
    assert path.is_file(), f"{path} is missing; run python data/make_styles.py"
    committed = load_image(path)
    fresh = data.procedural_style(name, size=256, seed=0)
    assert committed.shape == fresh.shape
    difference = (committed - fresh).abs().max().item()
    assert difference <= 1 / 255 + 1e-6, f"{path} drifted; run python data/make_styles.py"


def test_every_committed_style_png_is_small_and_known():
    pngs = {p.stem: p for p in STYLES_DIR.glob("*.png")}
    assert set(pngs) == set(data.PROCEDURAL_STYLES)
    assert all(p.stat().st_size < 200_000 for p in pngs.values())


def test_unknown_procedural_style_lists_the_names():
    with pytest.raises(ImageError, match="mosaic, waves, strokes, dots"):
        data.procedural_style("plaid")


@pytest.mark.parametrize("size, seed", [(16, 0), (64.0, 0), (True, 0), (64, -1), (64, 1.5)])
def test_procedural_style_refuses_bad_size_or_seed(size, seed):
    with pytest.raises(ImageError, match="size must be|seed must be"):
        data.procedural_style("dots", size=size, seed=seed)


# --------------------------------------------------------------------------- the catalogue


def test_catalogue_has_the_classic_works():
    expected = {
        "starry_night",
        "the_scream",
        "shipwreck",
        "composition_vii",
        "woman_with_hat",
        "great_wave",
        "tubingen",
    }
    assert expected <= set(data.ARTWORKS)


def test_catalogue_entries_are_complete_and_consistent():
    for key, art in data.ARTWORKS.items():
        assert art.key == key
        for field in dataclasses.fields(art):
            value = getattr(art, field.name)
            assert isinstance(value, str) and value.strip(), f"{key}.{field.name} is empty"
        assert art.url.startswith("https://commons.wikimedia.org/wiki/Special:FilePath/")
        assert art.page.startswith("https://commons.wikimedia.org/wiki/File:")
        assert art.kind in ("style", "content")
        assert Path(art.filename).name == art.filename and art.filename.endswith(".jpg")
    filenames = [art.filename for art in data.ARTWORKS.values()]
    assert len(set(filenames)) == len(filenames)


def test_catalogue_uses_the_mirror_file_names():
    names = {k: a.filename for k, a in data.ARTWORKS.items()}
    assert names["starry_night"] == "starry_night.jpg"
    assert names["the_scream"] == "the_scream.jpg"
    assert names["shipwreck"] == "shipwreck.jpg"
    assert names["woman_with_hat"] == "woman-with-hat-matisse.jpg"
    assert names["tubingen"] == "tubingen.jpg"


def test_tubingen_photo_carries_its_attribution():
    art = data.ARTWORKS["tubingen"]
    assert art.kind == "content"
    assert "CC BY 3.0" in art.licence
    assert "Andreas Praefcke" in art.credit and "CC BY 3.0" in art.credit


def test_artwork_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.ARTWORKS["starry_night"].title = "Sunflowers"


def test_unknown_artwork_lists_the_keys(no_download):
    with pytest.raises(ImageError, match="starry_night.*tubingen"):
        data.artwork("mona_lisa")


# --------------------------------------------------------------------------- mirror and cache


def test_mirror_file_is_loaded_in_place_without_download(tmp_path, monkeypatch, no_download):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    fake = fake_jpeg(mirror / data.ARTWORKS["starry_night"].filename)
    before = (fake.read_bytes(), fake.stat().st_mtime_ns)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(mirror))

    assert data.artwork_path("starry_night") == fake
    x = data.artwork("starry_night", size=64)

    assert tuple(x.shape) == (1, 3, 48, 64)
    assert x[0, 0].mean() > 0.6 and x[0, 1].mean() < 0.3  # it is the red fake
    assert (fake.read_bytes(), fake.stat().st_mtime_ns) == before
    assert sorted(p.name for p in mirror.iterdir()) == [fake.name]


def test_cached_file_is_used_without_download(private_data_folders, no_download):
    cached = fake_jpeg(private_data_folders / data.ARTWORKS["shipwreck"].filename)
    assert data.cache_folder() == private_data_folders
    assert data.artwork_path("shipwreck") == cached


def test_download_failure_raises_one_line_with_both_fixes(private_data_folders, network_down):
    art = data.ARTWORKS["the_scream"]
    with pytest.raises(data.DataUnavailable) as info:
        data.artwork("the_scream")
    message = str(info.value)
    assert "\n" not in message
    assert art.url in message
    assert str(private_data_folders / art.filename) in message
    assert data.DATA_DIR_ENV in message
    assert isinstance(info.value, StylelibError)


def test_mirror_without_the_file_falls_back_and_says_so(tmp_path, monkeypatch, network_down):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(data.DataUnavailable, match=f"{data.DATA_DIR_ENV}=.* has no great_wave"):
        data.artwork("great_wave")


def test_refused_address_fails_fast_and_leaves_no_file(private_data_folders, monkeypatch):
    """The real download helper, against a closed loopback port."""
    art = dataclasses.replace(data.ARTWORKS["great_wave"], url="http://127.0.0.1:9/wave.jpg")
    monkeypatch.setitem(data.ARTWORKS, "great_wave", art)
    with pytest.raises(data.DataUnavailable, match="http://127.0.0.1:9/wave.jpg") as info:
        data.artwork_path("great_wave", progress=False)
    assert "\n" not in str(info.value)
    assert not (private_data_folders / art.filename).exists()


# --------------------------------------------------------------------------- resolve_image


def test_resolve_image_loads_an_existing_file(tmp_path, no_download):
    path = fake_jpeg(tmp_path / "photo.jpg")
    assert tuple(data.resolve_image(str(path)).shape) == (1, 3, 60, 80)
    assert tuple(data.resolve_image(path, size=64).shape) == (1, 3, 48, 64)


def test_resolve_image_knows_every_built_in_kind(tmp_path, monkeypatch, no_download):
    fake_jpeg(tmp_path / data.ARTWORKS["tubingen"].filename)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert tuple(data.resolve_image("mosaic").shape) == (1, 3, 256, 256)
    assert tuple(data.resolve_image("dots", size=64).shape) == (1, 3, 64, 64)
    assert tuple(data.resolve_image("coffee", size=60).shape) == (1, 3, 40, 60)
    assert tuple(data.resolve_image("Tubingen", size=64).shape) == (1, 3, 48, 64)


def test_resolve_image_passes_image_data_through():
    array = np.zeros((40, 50, 3), dtype=np.uint8)
    assert tuple(data.resolve_image(array).shape) == (1, 3, 40, 50)


def test_resolve_image_unknown_name_lists_the_built_in_names(no_download):
    with pytest.raises(ImageError, match="neither a file nor a built-in name") as info:
        data.resolve_image("no_such_picture.jpg")
    message = str(info.value)
    assert "\n" not in message
    for names in data.image_names().values():
        assert all(name in message for name in names)


def test_image_names_groups_every_name():
    groups = data.image_names()
    assert groups["content"] == data.CONTENT_IMAGES
    assert groups["procedural"] == data.PROCEDURAL_STYLES
    assert groups["artworks"] == tuple(data.ARTWORKS)
    every = [name for names in groups.values() for name in names]
    assert len(every) == len(set(every))  # no name means two images


def test_sample_photos_make_a_training_folder(tmp_path):
    paths = data.sample_photos(tmp_path / "photos", size=64)
    assert len(paths) == 8 and all(p.exists() for p in paths)
    first = load_image(paths[0])
    assert max(first.shape[-2:]) == 64
    mirrored = load_image(paths[1])
    torch.testing.assert_close(mirrored, first.flip(-1), atol=1 / 255, rtol=0)
    before = paths[0].stat().st_mtime_ns
    data.sample_photos(tmp_path / "photos", size=64)
    assert paths[0].stat().st_mtime_ns == before  # existing files are left alone


def test_a_missing_artwork_is_downloaded_once_into_the_cache(
    tmp_path, private_data_folders, monkeypatch
):
    source = fake_jpeg(tmp_path / "source.jpg")
    art = dataclasses.replace(data.ARTWORKS["shipwreck"], url=source.as_uri())
    monkeypatch.setitem(data.ARTWORKS, "shipwreck", art)
    path = data.artwork_path("shipwreck", progress=False)
    assert path == private_data_folders / art.filename
    assert path.read_bytes() == source.read_bytes()
    source.unlink()  # a second call reads the cache, not the address
    assert data.artwork_path("shipwreck", progress=False) == path


def test_a_download_that_is_not_a_picture_is_refused_and_not_kept(
    tmp_path, private_data_folders, monkeypatch
):
    page = tmp_path / "quota.html"
    page.write_text("<html>too many requests</html>")
    art = dataclasses.replace(data.ARTWORKS["shipwreck"], url=page.as_uri())
    monkeypatch.setitem(data.ARTWORKS, "shipwreck", art)
    with pytest.raises(data.DataUnavailable, match="not an image") as info:
        data.artwork_path("shipwreck", progress=False)
    assert "\n" not in str(info.value)
    assert list(private_data_folders.iterdir()) == []
