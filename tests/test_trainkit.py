"""Tests for stylelib.trainkit: the loop every trained method shares, driven by a tiny method
written here (a 1x1 convolution learning to darken crops), so that the loop's promises are
checked apart from any one method's network and loss."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from stylelib.checkpoints import CheckpointError, load_checkpoint
from stylelib.config import CheckpointKind, check_fields
from stylelib.data import procedural_style
from stylelib.images import save_image
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.trainkit import TrainingRun, run_training, seed_all
from stylelib.trainset import list_images


@dataclass(frozen=True)
class DarkenConfig:
    steps: int = 4
    batch_size: int = 2
    image_size: int = 32
    lr: float = 1e-2
    checkpoint_every: int = 2
    seed: int = 0
    device: str = "cpu"
    workers: int = 0

    def __post_init__(self) -> None:
        check_fields(self)


KIND = CheckpointKind("test-darken", 1, DarkenConfig, "darken-train", "Darkener")


class DarkenRun(TrainingRun):
    kind = KIND
    parts = ("pixel",)

    def __init__(self, data, config, output, resume, procs, overwrite=False):
        super().__init__(config, output, resume, overwrite, None, procs)
        self.use_data(list_images(data), data)
        self.check_resumable()
        seed_all(config.seed)
        net = nn.Conv2d(3, 3, 1)
        self.start(net, torch.optim.Adam(net.parameters(), lr=config.lr))

    def losses(self, batch):
        y = self.ddp(batch)
        loss = ((y - batch / 2) ** 2).mean()
        return loss, {"pixel": loss}, y


def run(data, config, output=None, resume=None, callback=None, overwrite=False):
    return run_training(
        lambda procs: DarkenRun(data, config, output, resume, procs, overwrite),
        progress=False,
        callback=callback,
        device="cpu",
    )


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, style in enumerate(("mosaic", "waves", "dots")):
        save_image(procedural_style(style, size=48, seed=i), folder / f"p{i}.png")
    return folder


def test_the_loop_lowers_the_loss_and_records_every_step(photos):
    result = run(photos, DarkenConfig(steps=30))
    losses = [r["loss"] for r in result.history]
    assert [r["step"] for r in result.history] == list(range(1, 31))
    assert all(r["pixel"] == r["loss"] for r in result.history)
    assert losses[-1] < 0.5 * losses[0]


def test_stop_then_resume_is_bit_identical_to_one_run(photos, tmp_path):
    whole = run(photos, DarkenConfig(steps=6))
    out = tmp_path / "d.pth"
    first = run(photos, DarkenConfig(steps=6), out, callback=lambda step, _: step == 3)
    assert first.stopped == "stopped" and load_checkpoint(out, kind=KIND)["step"] == 3
    second = run(photos, DarkenConfig(steps=6), out, resume=out)
    weights = whole.model.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in second.model.state_dict().items())
    assert [r["loss"] for r in second.history] == [r["loss"] for r in whole.history]


def test_a_kind_reads_only_its_own_checkpoints(photos, tmp_path):
    out = tmp_path / "d.pth"
    run(photos, DarkenConfig(steps=2), out)
    with pytest.raises(CheckpointError, match="pass a model from `stylelib train`"):
        load_checkpoint(out, kind=JOHNSON)  # the Johnson kind, the default
    with pytest.raises(CheckpointError, match="with other settings .*lr 0.01 -> 0.02"):
        run(photos, DarkenConfig(steps=4, lr=0.02), out, resume=out)
