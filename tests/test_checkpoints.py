"""Tests for stylelib.checkpoints: atomic writes, the generators' state, the one validator.

Oracles: the bytes on disk after a write that dies half way (the old file, nothing else);
random draws after restoring a saved generator state against the draws right after saving;
for the validator, one hand-made file per way a file can differ from the layout the module
docstring lists (each refused with one line that names the key).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from stylelib import checkpoints
from stylelib.checkpoints import (
    RESUME_KEYS,
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    training_state,
)
from stylelib.errors import StylelibError
from stylelib.johnson.config import CHECKPOINT, FORMAT, VERSION, JohnsonConfig
from stylelib.johnson.config import CHECKPOINT as JOHNSON


def complete_state() -> dict:
    """What a training run writes, with small stand-ins for the model and the run state."""
    return training_state(
        JohnsonConfig(),
        {"w": torch.ones(2)},
        optimizer={"state": {}, "param_groups": []},
        step=3,
        data={"files": 1, "files_sha256": "0" * 64, "seed": 0, "samples_seen": 12, "skipped": []},
        rng=rng_state(),
        style="mosaic",
        style_sha256="1" * 64,
        world_size=1,
        history=[{"step": k, "loss": 1.0 / k} for k in (1, 2, 3)],
        seconds=1.5,
        kind=JOHNSON,
    )


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    path = save_checkpoint({"step": 1}, tmp_path / "m.pth")

    def dies_half_way(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2}, path, overwrite=True)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]


def test_a_checkpoint_replaces_a_file_only_when_told(tmp_path):
    path = save_checkpoint({"step": 1}, tmp_path / "m.pth")
    with pytest.raises(StylelibError, match="already exists"):
        save_checkpoint({"step": 2}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    save_checkpoint({"step": 2}, path, overwrite=True)
    assert torch.load(path, weights_only=True) == {"step": 2}


def test_a_path_in_the_config_is_saved_as_a_string(tmp_path):
    from pathlib import Path

    state = training_state(
        JohnsonConfig(weights=Path("vgg16.pth")), {"w": torch.ones(1)}, kind=JOHNSON
    )
    path = save_checkpoint(state, tmp_path / "m.pth")
    assert (
        load_checkpoint(path, kind=JOHNSON)["config"]["weights"] == "vgg16.pth"
    )  # weights_only reads it


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002 (the global generator is what is saved)
    random.seed(3)
    path = save_checkpoint({"rng": rng_state()}, tmp_path / "rng.pth")
    first = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    set_rng_state(torch.load(path, weights_only=True)["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2] == again[2]


def test_a_training_state_round_trips_and_is_resumable(tmp_path):
    state = complete_state()
    assert state["format"] == FORMAT and state["format_version"] == VERSION
    assert state["config"]["content_layers"] == ("relu2_2",)
    path = save_checkpoint(state, tmp_path / "m.pth")
    loaded = load_checkpoint(path, resume=True, kind=JOHNSON)
    assert torch.equal(loaded["model"]["w"], torch.ones(2)) and loaded["step"] == 3
    assert checkpoints.config_from_checkpoint(loaded, kind=JOHNSON) == JohnsonConfig()


def test_a_training_state_keeps_its_nesting_and_drops_the_graph():
    leaf = torch.ones(2, requires_grad=True)
    moved = checkpoints.to_cpu({"a": [leaf * 2], "b": (leaf,), "c": 1})
    assert isinstance(moved["a"], list) and isinstance(moved["b"], tuple) and moved["c"] == 1
    assert not moved["a"][0].requires_grad and torch.equal(moved["a"][0], torch.full((2,), 2.0))
    assert all(t.device.type == "cpu" for t in (moved["a"][0], moved["b"][0]))


@pytest.mark.parametrize(
    "obj, fragment",
    [
        ({"features.0.weight": torch.zeros(1)}, "bare state dict of 1 tensors, VGG"),
        ({"conv1.conv2d.weight": torch.zeros(1)}, "pytorch/examples"),
        ({"format": "something-else"}, "another format ('something-else')"),
        ([1, 2], "holds a list"),
    ],
)
def test_other_files_are_refused_by_what_they_are(tmp_path, obj, fragment):
    torch.save(obj, tmp_path / "x.pth")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "x.pth", kind=JOHNSON)
    assert fragment in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_missing_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="model file not found"):
        load_checkpoint(tmp_path / "missing.pth", kind=JOHNSON)
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "text.pth", kind=JOHNSON)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"format_version": VERSION + 1}, "newer stylelib"),
        ({"format_version": "1"}, "format_version '1', not a whole number"),
        ({"format_version": True}, "not a whole number"),
        ({"config": [1, 2]}, "its 'config' is a list"),
        ({"model": None}, "its 'model' is a NoneType"),
        # the config is checked by building the JohnsonConfig it describes
        ({"config": {"steps": "3"}}, "steps must be a whole number (an int), got '3' (str)"),
        ({"config": {"content_layers": "relu2_2"}}, "content_layers must be a tuple of layer"),
        ({"config": {"content_layers": [1]}}, "content_layers[0] must be a string"),
        ({"config": {"lr": float("nan")}}, "lr must be a finite number, got nan"),
        ({"config": {"seed": -1}}, "seed must be an int from 0 to 2**63 - 1"),
        ({"config": {"upsample": "pixelshuffle"}}, "upsample='pixelshuffle' is not one of"),
        ({"config": {"colour": "red", "epochs": 3}}, "none of JohnsonConfig's fields"),
    ],
)
def test_a_changed_layout_is_refused_in_one_line(tmp_path, change, fragment):
    path = save_checkpoint({**complete_state(), **change}, tmp_path / "m.pth")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, kind=JOHNSON)
    message = str(info.value)
    assert fragment in message and "\n" not in message and isinstance(info.value, StylelibError)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"step": -1}, "its step is -1, not a count of steps >= 0"),
        ({"step": 5}, "its history is not 5 records"),
        ({"history": [{"step": 1}] * 3}, "its history is not 3 records with a loss each"),
        ({"history": [1, 2, 3]}, "its history is not 3 records"),
        ({"seconds": float("nan")}, "its seconds is nan"),
        ({"seconds": -2.0}, "its seconds is -2.0"),
        ({"data": {"files": 1, "files_sha256": "0" * 64}}, "its data['skipped'] is missing"),
        ({"data": {"files": "1", "files_sha256": "", "skipped": []}}, "data['files'] is a str"),
        ({"rng": {"torch": [1, 2], "cuda": [], "numpy": {}, "python": ()}}, "rng['torch'] is"),
    ],
)
def test_resume_refuses_run_state_values_no_run_writes(tmp_path, change, fragment):
    path = save_checkpoint({**complete_state(), **change}, tmp_path / "m.pth")
    load_checkpoint(path, kind=JOHNSON)  # stylisation reads the model only: still fine
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, resume=True, kind=JOHNSON)
    message = str(info.value)
    assert fragment in message and "--resume cannot continue" in message, message
    assert "\n" not in message


JOHNSON_RESUME_KEYS = {**RESUME_KEYS, **CHECKPOINT.resume_keys}


@pytest.mark.parametrize("key", sorted(JOHNSON_RESUME_KEYS))
def test_resume_needs_every_part_of_the_run_state(tmp_path, key):
    state = complete_state()
    del state[key]
    path = save_checkpoint(state, tmp_path / "m.pth")
    assert (
        load_checkpoint(path, kind=JOHNSON)["step" if key != "step" else "config"] is not None
    )  # stylise
    with pytest.raises(CheckpointError, match=f"has no '{key}', which --resume needs"):
        load_checkpoint(path, resume=True, kind=JOHNSON)
    state = {**complete_state(), key: object.__name__}  # a str where none is expected
    if isinstance(state[key], JOHNSON_RESUME_KEYS[key]):
        return
    path = save_checkpoint(state, tmp_path / "m.pth", overwrite=True)
    with pytest.raises(CheckpointError, match=f"its '{key}' is a str"):
        load_checkpoint(path, resume=True, kind=JOHNSON)
