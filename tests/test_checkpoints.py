"""Tests for stylelib.checkpoints: atomic writes, the generators' state, the one validator.

Oracles: the bytes on disk after a write that dies half way (the old file, nothing else);
random draws after restoring a saved generator state against the draws right after saving;
for the validator, one hand-made file per way a file can differ from the layout the module
docstring lists (each refused with one line that names the key), and the old import paths,
which must still give the same objects with a DeprecationWarning.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

from stylelib import checkpoints
from stylelib.checkpoints import (
    FORMAT,
    RESUME_KEYS,
    VERSION,
    CheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    training_state,
)
from stylelib.config import JohnsonConfig
from stylelib.errors import StylelibError


def complete_state() -> dict:
    """What a training run writes, with small stand-ins for the model and the run state."""
    return training_state(
        JohnsonConfig(),
        {"w": torch.ones(2)},
        optimizer={"state": {}, "param_groups": []},
        step=3,
        data={"files": 1, "files_sha256": "0" * 64, "seed": 0, "samples_seen": 12},
        rng=rng_state(),
        style="mosaic",
        style_sha256="1" * 64,
        world_size=1,
        history=[{"step": 1, "loss": 1.0}],
        seconds=1.5,
    )


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    path = save_checkpoint({"step": 1}, tmp_path / "m.pth")

    def dies_half_way(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]


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
    loaded = load_checkpoint(path, resume=True)
    assert torch.equal(loaded["model"]["w"], torch.ones(2)) and loaded["step"] == 3
    assert checkpoints.config_from_checkpoint(loaded) == JohnsonConfig()


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
        load_checkpoint(tmp_path / "x.pth")
    assert fragment in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_missing_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="model file not found"):
        load_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "text.pth")


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"format_version": VERSION + 1}, "newer stylelib"),
        ({"format_version": "1"}, "format_version '1', not a whole number"),
        ({"format_version": True}, "not a whole number"),
        ({"config": [1, 2]}, "its 'config' is a list"),
        ({"model": None}, "its 'model' is a NoneType"),
    ],
)
def test_a_changed_layout_is_refused_in_one_line(tmp_path, change, fragment):
    path = save_checkpoint({**complete_state(), **change}, tmp_path / "m.pth")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert fragment in message and "\n" not in message and isinstance(info.value, StylelibError)


@pytest.mark.parametrize("key", sorted(RESUME_KEYS))
def test_resume_needs_every_part_of_the_run_state(tmp_path, key):
    state = complete_state()
    del state[key]
    path = save_checkpoint(state, tmp_path / "m.pth")
    assert load_checkpoint(path)["step" if key != "step" else "config"] is not None  # stylise
    with pytest.raises(CheckpointError, match=f"has no '{key}', which --resume needs"):
        load_checkpoint(path, resume=True)
    state = {**complete_state(), key: object.__name__}  # a str where none is expected
    if isinstance(state[key], RESUME_KEYS[key]):
        return
    path = save_checkpoint(state, tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match=f"its '{key}' is a str"):
        load_checkpoint(path, resume=True)


def test_old_import_paths_still_work_with_a_warning():
    from stylelib import train, transformer

    cases = [
        (transformer, "CHECKPOINT_FORMAT", FORMAT),
        (transformer, "CHECKPOINT_VERSION", VERSION),
        (train, "config_from_checkpoint", checkpoints.config_from_checkpoint),
        (train, "MODEL_SUFFIXES", checkpoints.SUFFIXES),
    ]
    for module, name, expected in cases:
        with pytest.warns(DeprecationWarning, match=rf"{module.__name__}\.{name} is now"):
            assert getattr(module, name) is expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert transformer.CheckpointError is CheckpointError  # used there: no warning
