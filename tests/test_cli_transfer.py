"""`stylelib transfer` and `stylelib demo`: every flag once, and every bad input -> exit 2."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import assert_one_line_error as one_line_error
from helpers import run_cli

from stylelib.data import procedural_style
from stylelib.images import load_image, save_image

TINY = ["--weights", "random", "--device", "cpu", "--size", "32", "--steps", "2", "--quiet"]


@pytest.fixture
def pictures(tmp_path):
    """Three small square PNGs: content, and two styles."""
    paths = {}
    for name in ("mosaic", "waves", "dots"):
        paths[name] = save_image(procedural_style(name, size=48), tmp_path / f"{name}.png")
    return paths


run = run_cli


def test_transfer_writes_the_image_and_the_log(capsys, pictures, tmp_path):
    out, log = tmp_path / "out.png", tmp_path / "losses.jsonl"
    code, stdout, _ = run(
        capsys,
        "transfer",
        pictures["mosaic"],
        pictures["waves"],
        "-o",
        out,
        *TINY,
        "--log",
        log,
        "--save-every",
        "1",
        "--seed",
        "3",
    )
    assert code == 0 and f"wrote {out}" in stdout
    assert load_image(out).shape == (1, 3, 32, 32)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert set(records[0]["style"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
    assert (tmp_path / "out.step00001.png").exists() and (tmp_path / "out.step00002.png").exists()
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"


def test_every_optimisation_flag(capsys, pictures, tmp_path):
    out = tmp_path / "a.png"
    code, _, err = run(
        capsys,
        "transfer",
        pictures["mosaic"],
        pictures["waves"],
        pictures["dots"],
        "-o",
        out,
        *TINY,
        "--preset",
        "gatys2016-code",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--content-weight",
        "2",
        "--style-weight",
        "10",
        "--tv-weight",
        "1e-3",
        "--tv-kind",
        "isotropic",
        "--content-layers",
        "relu3_1",
        "--style-layers",
        "relu1_1,relu2_1",
        "--style-layer-weights",
        "0.7,0.3",
        "--normalization",
        "gatys",
        "--gamma",
        "0.1",
        "--init",
        "style",
        "--style-blend",
        "2,1",
        "--style-scale",
        "1.5",
        "--color",
        "luminance",
        "--arch",
        "vgg16",
        "--pooling",
        "avg",
        "--precision",
        "bf16",
    )
    assert code == 0, err
    assert out.exists()


def test_init_from_a_file_colour_matching_and_scales(capsys, pictures, tmp_path):
    out = tmp_path / "b.png"
    args = [
        "transfer",
        pictures["mosaic"],
        pictures["waves"],
        "-o",
        out,
        "--weights",
        "random",
        "--device",
        "cpu",
        "--size",
        "64",
        "--steps",
        "1",
        "--quiet",
    ]
    code, _, err = run(
        capsys,
        *args,
        "--init",
        pictures["dots"],
        "--color",
        "linear",
        "--scales",
        "2",
        "--coarse-steps",
        "1",
    )
    assert code == 0, err
    assert load_image(out).shape == (1, 3, 64, 64)
    code, _, err = run(capsys, *args, "--color", "histogram", "--overwrite")
    assert code == 0, err


def test_builtin_names_are_accepted(capsys, tmp_path):
    code, _, err = run(capsys, "transfer", "dots", "mosaic", "-o", tmp_path / "c.png", *TINY)
    assert code == 0, err


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--steps", "0"], "steps must be positive"),
        (["--style-weight", "-1"], "style_weight must not be negative"),
        (["--style-layers", "conv6_1"], "no layer 'conv6_1'"),
        (["--size", "16"], "size must be an int >= 32"),
        (["--style-blend", "1,2,3"], "3 blend weights for 1 style images"),
        (["--style-layer-weights", "1,2"], "one weight per layer"),
        (["--scales", "3"], "use fewer scales or a larger size"),
        (["--weights", "imagenet"], "stylelib weights install"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, pictures, tmp_path, extra, fragment):
    args = ["transfer", pictures["mosaic"], pictures["waves"], "-o", tmp_path / "x.png", *TINY]
    code, _, err = run(capsys, *args, *extra)
    one_line_error(code, err, fragment)
    assert not (tmp_path / "x.png").exists()


def test_bad_paths_exit_2_and_touch_nothing(capsys, pictures, tmp_path):
    before = pictures["mosaic"].read_bytes()
    code, _, err = run(
        capsys,
        "transfer",
        tmp_path / "missing.jpg",
        pictures["waves"],
        "-o",
        tmp_path / "x.png",
        *TINY,
    )
    one_line_error(code, err, "neither a file nor a built-in name")
    code, _, err = run(
        capsys, "transfer", pictures["mosaic"], pictures["waves"], "-o", pictures["mosaic"], *TINY
    )
    one_line_error(code, err, "refusing to overwrite the input image")
    assert pictures["mosaic"].read_bytes() == before
    code, _, err = run(
        capsys,
        "transfer",
        pictures["mosaic"],
        pictures["waves"],
        "-o",
        tmp_path / "nofolder" / "x.png",
        *TINY,
    )
    one_line_error(code, err, "does not exist")
    existing = tmp_path / "exists.png"
    existing.write_bytes(b"mine")
    code, _, err = run(
        capsys, "transfer", pictures["mosaic"], pictures["waves"], "-o", existing, *TINY
    )
    one_line_error(code, err, "--overwrite")
    assert existing.read_bytes() == b"mine"
    code, _, err = run(
        capsys,
        "transfer",
        pictures["mosaic"],
        pictures["waves"],
        "-o",
        tmp_path / "y.png",
        *TINY,
        "--log",
        existing,
    )
    one_line_error(code, err, "--overwrite")


def test_divergence_saves_the_last_good_image_and_exits_1(capsys, pictures, tmp_path, monkeypatch):
    from stylelib.gatys import objective as gatys_objective
    from stylelib.gatys import transfer as gatys_transfer

    real = gatys_objective.evaluate
    calls = {"n": 0}

    def poisoned(net, x, targets, config):
        calls["n"] += 1
        loss, parts = real(net, x, targets, config)
        return (loss * float("nan"), parts) if calls["n"] > 3 else (loss, parts)

    monkeypatch.setattr(gatys_transfer, "evaluate", poisoned)
    out = tmp_path / "d.png"
    code, stdout, _ = run(
        capsys,
        "transfer",
        pictures["mosaic"],
        pictures["waves"],
        "-o",
        out,
        *TINY[:-3],
        "--steps",
        "5",
        "--quiet",
    )
    assert code == 1 and "NaN" in stdout
    assert torch.isfinite(load_image(out)).all()


def test_demo_never_overwrites(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stylelib-demo.png").write_bytes(b"an earlier demo")
    code, stdout, err = run(capsys, "demo", "--size", "48", "--steps", "2", "--quiet")
    assert code == 0, err
    assert "random weights" in err and "stylelib-demo-1.png" in stdout
    assert (tmp_path / "stylelib-demo.png").read_bytes() == b"an earlier demo"
    assert load_image(tmp_path / "stylelib-demo-1.png").shape[-1] == 48


@pytest.mark.parametrize(
    ("flags", "layers"),
    [
        (["--preset", "pytorch-tutorial"], {"conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"}),
        (["--network", "raw"], {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}),
    ],
)
def test_transfer_presets_and_network_flag(capsys, pictures, tmp_path, monkeypatch, flags, layers):
    from stylelib.gatys import objective as gatys_objective
    from stylelib.gatys import transfer as gatys_transfer

    seen = []
    real = gatys_objective.extractor
    monkeypatch.setattr(gatys_transfer, "extractor", lambda cfg: seen.append(cfg) or real(cfg))
    out, log = tmp_path / "out.png", tmp_path / "losses.jsonl"
    args = ["transfer", pictures["mosaic"], pictures["waves"], "-o", out, *TINY, "--log", log]
    code, _, _ = run(capsys, *args, *flags)
    assert code == 0 and out.exists()
    assert set(json.loads(log.read_text().splitlines()[0])["style"]) == layers
    assert not seen[0].normalize_network  # both run on the raw network


def test_every_output_is_checked_before_the_work(capsys, pictures, tmp_path, monkeypatch):
    from stylelib.gatys import transfer as gatys_transfer

    monkeypatch.setattr(gatys_transfer, "extractor", lambda cfg: pytest.fail("the work started"))
    out, step = tmp_path / "out.png", tmp_path / "out.step00002.png"
    step.write_bytes(b"an earlier run's step 2")
    base = ["transfer", pictures["mosaic"], pictures["waves"], *TINY]
    cases = [
        (["-o", out, "--log", out], "-o and --log both name"),
        (["-o", out, "--log", step, "--save-every", "1"], "also a --save-every image"),
        (["-o", out, "--save-every", "2"], "out.step00002.png' already exists"),
        (["-o", out, "--save-every", "-1"], "must be >= 0 (0: never, N: every N steps)"),
        (["-o", out, "--log", pictures["waves"], "--overwrite"], "refusing to overwrite the input"),
        (["-o", out, "--log", tmp_path], "is a folder"),
    ]
    for extra, fragment in cases:
        code, _, err = run(capsys, *base, *extra)
        one_line_error(code, err, fragment)
    assert step.read_bytes() == b"an earlier run's step 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["dots.png", "mosaic.png", "waves.png", "out.step00002.png"]
    )


def test_overwrite_replaces_the_step_images_too(capsys, pictures, tmp_path):
    out, step = tmp_path / "out.png", tmp_path / "out.step00002.png"
    step.write_bytes(b"an earlier run's step 2")
    argv = ["transfer", pictures["mosaic"], pictures["waves"], "-o", out, *TINY]
    code, _, err = run(capsys, *argv, "--save-every", "2", "--overwrite")
    assert code == 0, err
    assert load_image(step).shape == (1, 3, 32, 32)
    code, _, err = run(
        capsys, *argv, "--save-every", "1", "--overwrite", "--log", out.with_suffix(".jsonl")
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("out*")) == [
        "out.jsonl", "out.png", "out.step00001.png", "out.step00002.png"
    ]  # fmt: skip


def test_tiled_transfer_keeps_the_content_size_and_logs_every_step(capsys, pictures, tmp_path):
    """--tile with a window larger than the picture: one window, the plumbing end to end."""
    content = save_image(procedural_style("waves", size=60)[..., :44, :], tmp_path / "c.png")
    out, log = tmp_path / "out.png", tmp_path / "losses.jsonl"
    flags = ["--weights", "random", "--device", "cpu", "--steps", "2", "--quiet"]
    code, stdout, err = run(
        capsys, "transfer", content, pictures["mosaic"], "-o", out, "--tile", "272",
        "--log", log, *flags,
    )  # fmt: skip
    assert code == 0, err
    assert "(60 x 44, in 272 px windows)" in stdout
    assert load_image(out).shape == (1, 3, 44, 60)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2 and all("loss" in r for r in records)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--tile", "100"], "use a tile of at least"),
        (["--overlap", "16"], "needs --tile"),
        (["--tile", "512", "--optimizer", "lbfgs"], "needs --optimizer adam"),
        (["--tile", "512", "--save-every", "1"], "needs no --save-every"),
        (["--tile", "512", "--scales", "2"], "coarse-to-fine is not tiled"),
    ],
)
def test_bad_tiles_exit_2_with_one_line(capsys, pictures, tmp_path, extra, fragment):
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "transfer", pictures["mosaic"], pictures["waves"], "-o", out,
                       "--weights", "random", *extra)  # fmt: skip
    one_line_error(code, err, fragment)
    assert not out.exists()
