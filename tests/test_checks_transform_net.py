"""stylelib.checks.transform_net: wrong and right answers to lesson 04's residual block.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import pytest
import torch
from helpers import assert_accepted, assert_catalogue_complete, assert_rejected, catalogue_cases
from torch import nn

from stylelib import checks
from stylelib.checks import transform_net as MODULE

CATALOGUE: dict = {}

# --- ResidualBlock (lesson 04) ------------------------------------------------------------------


def _conv(c):
    return nn.Conv2d(c, c, 3, padding=1)


class BlockRight(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            _conv(c),
            nn.InstanceNorm2d(c, affine=True),
            nn.ReLU(),
            _conv(c),
            nn.InstanceNorm2d(c, affine=True),
        )

    def forward(self, x):
        return x + self.body(x)


class BlockLibrary(nn.Module):
    def __init__(self, c):
        super().__init__()
        from stylelib.transformer import ResidualBlock

        self.inner = ResidualBlock(c, "instance")

    def forward(self, x):
        return self.inner(x)


class BlockNoSkip(BlockRight):
    def forward(self, x):
        return self.body(x)


class BlockReluAfter(BlockRight):
    def forward(self, x):
        return torch.relu(x + self.body(x))


class BlockNoAffine(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            _conv(c), nn.InstanceNorm2d(c), nn.ReLU(), _conv(c), nn.InstanceNorm2d(c)
        )

    def forward(self, x):
        return x + self.body(x)


class BlockOneConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x):
        return x + self.body(x)


class BlockNoPadding(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3),
            nn.InstanceNorm2d(c, affine=True),
            nn.ReLU(),
            nn.Conv2d(c, c, 3),
            nn.InstanceNorm2d(c, affine=True),
        )

    def forward(self, x):
        return self.body(x)


def block_not_a_module(c):
    return lambda x: x


CATALOGUE["residual_block"] = (
    checks.check_residual_block,
    {},
    [
        (BlockNoSkip, "add the input"),
        (BlockReluAfter, "ReLU after the sum"),
        (BlockNoAffine, "affine=True"),
        (BlockOneConv, "one convolution is missing"),
        (BlockNoPadding, "padding 1"),
        (block_not_a_module, "subclass torch.nn.Module"),
    ],
    [BlockRight, BlockLibrary],
)


WRONG, RIGHT = catalogue_cases(CATALOGUE)


@pytest.mark.parametrize(("check", "kwargs", "wrong", "keyword"), WRONG)
def test_rejects_wrong_answer_and_names_the_mistake(check, kwargs, wrong, keyword):
    assert_rejected(check, kwargs, wrong, keyword)


@pytest.mark.parametrize(("check", "kwargs", "right"), RIGHT)
def test_accepts_right_answer_and_says_so(check, kwargs, right, capsys):
    assert_accepted(check, kwargs, right, capsys)


def test_catalogue_covers_every_check_of_the_module():
    assert_catalogue_complete(CATALOGUE, MODULE)
