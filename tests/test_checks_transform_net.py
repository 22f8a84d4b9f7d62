"""stylelib.checks.transform_net: wrong and right answers to lesson 05's residual block.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from helpers import catalogue_tests
from torch import nn

from stylelib import checks
from stylelib.blocks import ResidualBlock
from stylelib.checks import transform_net as MODULE

CATALOGUE: dict = {}

# --- ResidualBlock (lesson 05) ------------------------------------------------------------------


def _conv(c, **kwargs):
    return nn.Conv2d(c, c, 3, padding=1, **kwargs)


def _norm(c):
    return nn.InstanceNorm2d(c, affine=True)


# Right answers ----------------------------------------------------------------------------------


class BlockRight(nn.Module):
    """The lesson's solution: zero padding 1, nn.Sequential, a module named ``body``."""

    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c), _norm(c), nn.ReLU(), _conv(c), _norm(c))

    def forward(self, x):
        return x + self.body(x)


class BlockNoBias(nn.Module):
    """Convolutions without bias (instance norm removes it anyway), ReLU(inplace=True)."""

    def __init__(self, c):
        super().__init__()
        self.conv_a, self.conv_b = _conv(c, bias=False), _conv(c, bias=False)
        self.in_a, self.in_b = _norm(c), _norm(c)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.act(self.in_a(self.conv_a(x)))
        return self.in_b(self.conv_b(y)) + x


class BlockFunctional(nn.Module):
    """F.conv2d and F.instance_norm with the block's own nn.Parameters."""

    def __init__(self, c):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.randn(c, c, 3, 3) * 0.1) for _ in "ab"])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(c)) for _ in "ab"])
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(c)) for _ in "ab"])
        self.shifts = nn.ParameterList([nn.Parameter(torch.zeros(c)) for _ in "ab"])

    def forward(self, x):
        h = x
        for i in range(2):
            h = F.conv2d(h, self.weights[i], self.biases[i], padding=1)
            h = F.instance_norm(h, weight=self.scales[i], bias=self.shifts[i])
            h = F.relu(h) if i == 0 else h
        return x + h


class BlockReflect(nn.Module):
    """The library's padding (reflection), written out, with other module names."""

    def __init__(self, c):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.first = nn.Conv2d(c, c, 3)
        self.second = nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect")
        self.n1, self.n2 = _norm(c), _norm(c)

    def forward(self, x):
        residual = x
        out = torch.relu(self.n1(self.first(self.pad(x))))
        out = self.n2(self.second(out))
        return out + residual


class BlockGroupNorm(BlockRight):
    """GroupNorm with one group per channel is instance norm."""

    def __init__(self, c):
        super().__init__(c)
        self.body[1], self.body[4] = nn.GroupNorm(c, c), nn.GroupNorm(c, c)


class BlockHandNorm(nn.Module):
    """Instance norm written by hand, with (1, C, 1, 1) scale and shift parameters."""

    def __init__(self, c):
        super().__init__()
        self.c1, self.c2 = _conv(c), _conv(c)
        self.gamma1, self.gamma2 = (nn.Parameter(torch.ones(1, c, 1, 1)) for _ in "ab")
        self.beta1, self.beta2 = (nn.Parameter(torch.zeros(1, c, 1, 1)) for _ in "ab")

    @staticmethod
    def _normalise(h):
        mean = h.mean(dim=(2, 3), keepdim=True)
        var = h.var(dim=(2, 3), keepdim=True, unbiased=False)
        return (h - mean) / torch.sqrt(var + 1e-5)

    def forward(self, x):
        h = self._normalise(self.c1(x)) * self.gamma1 + self.beta1
        h = self._normalise(self.c2(h.clamp(min=0))) * self.gamma2 + self.beta2
        return x + h


# Wrong answers ----------------------------------------------------------------------------------


class BlockLibrary(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.inner = ResidualBlock(c, "instance")

    def forward(self, x):
        return self.inner(x)


class BlockSubclassesLibrary(ResidualBlock):
    def __init__(self, c):
        super().__init__(c, "instance")


class BlockNoSkip(BlockRight):
    def forward(self, x):
        return self.body(x)


class BlockReluAfter(BlockRight):
    def forward(self, x):
        return torch.relu(x + self.body(x))


class BlockBatchNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            _conv(c), nn.BatchNorm2d(c), nn.ReLU(), _conv(c), nn.BatchNorm2d(c)
        )

    def forward(self, x):
        return x + self.body(x)


class BlockNoAffine(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            _conv(c), nn.InstanceNorm2d(c), nn.ReLU(), _conv(c), nn.InstanceNorm2d(c)
        )

    def forward(self, x):
        return x + self.body(x)


class BlockNormBeforeConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_norm(c), _conv(c), nn.ReLU(), _norm(c), _conv(c))

    def forward(self, x):
        return x + self.body(x)


class BlockReluBeforeNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c), nn.ReLU(), _norm(c), _conv(c), _norm(c))

    def forward(self, x):
        return x + self.body(x)


class BlockScaled(BlockRight):
    def forward(self, x):
        return x + 0.1 * self.body(x)


class BlockOneConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c), _norm(c))

    def forward(self, x):
        return x + self.body(x)


class BlockNoPadding(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3), _norm(c), nn.ReLU(), nn.Conv2d(c, c, 3), _norm(c)
        )

    def forward(self, x):
        return self.body(x)


class BlockSharedConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv, self.n1, self.n2 = _conv(c), _norm(c), _norm(c)

    def forward(self, x):
        return x + self.n2(self.conv(torch.relu(self.n1(self.conv(x)))))


class BlockRunningStats(nn.Module):
    def __init__(self, c):
        super().__init__()
        norm = [nn.InstanceNorm2d(c, affine=True, track_running_stats=True) for _ in "ab"]
        self.body = nn.Sequential(_conv(c), norm[0], nn.ReLU(), _conv(c), norm[1])

    def forward(self, x):
        return x + self.body(x)


class BlockReplicatePad(nn.Module):
    def __init__(self, c):
        super().__init__()
        conv = [nn.Conv2d(c, c, 3, padding=1, padding_mode="replicate") for _ in "ab"]
        self.body = nn.Sequential(conv[0], _norm(c), nn.ReLU(), conv[1], _norm(c))

    def forward(self, x):
        return x + self.body(x)


class BlockDetached(BlockRight):
    def forward(self, x):
        return x + self.body(x).detach()


class BlockCpuBias(BlockFunctional):
    """Zero conv bias made in forward on the CPU: fails for an input on a GPU."""

    def forward(self, x):
        h = x
        for i in range(2):
            h = F.conv2d(h, self.weights[i], torch.zeros(x.shape[1]), padding=1)
            h = F.instance_norm(h, weight=self.scales[i], bias=self.shifts[i])
            h = F.relu(h) if i == 0 else h
        return x + h


class BlockReluInBranchEnd(BlockRight):
    def forward(self, x):
        return x + torch.relu(self.body(x))


class BlockLayerMadeInForward(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        c = self.c
        body = nn.Sequential(_conv(c), _norm(c), nn.ReLU(), _conv(c), _norm(c))
        return x + body(x)


class BlockReturnsTuple(BlockRight):
    def forward(self, x):
        return x + self.body(x), x


class BlockLeakyReLU(BlockRight):
    def __init__(self, c):
        super().__init__(c)
        self.body[2] = nn.LeakyReLU(0.2)


class BlockLayerNorm(BlockRight):
    def __init__(self, c):
        super().__init__(c)
        self.body[1], self.body[4] = nn.GroupNorm(1, c), nn.GroupNorm(1, c)


class BlockDropout(BlockRight):
    def __init__(self, c):
        super().__init__(c)
        self.body.append(nn.Dropout(0.2))


class BlockClampedInput(BlockRight):
    def forward(self, x):
        return x.clamp(-1, 1) + self.body(x)


def block_not_a_module(c):
    return lambda x: x


CATALOGUE["residual_block"] = (
    checks.check_residual_block,
    {},
    [
        (BlockLibrary, "the library's own answer"),
        (BlockSubclassesLibrary, "the library's own answer"),
        (BlockNoSkip, "skip connection is missing"),
        (BlockReluAfter, "ReLU after the sum"),
        (BlockBatchNorm, "batch norm"),
        (BlockNoAffine, "affine=True"),
        (BlockNormBeforeConv, "wrong order"),
        (BlockReluBeforeNorm, "wrong order"),
        (BlockScaled, "scaled by 0.1"),
        (BlockOneConv, "one convolution is missing"),
        (BlockNoPadding, "padding 1"),
        (BlockSharedConv, "same convolution is applied twice"),
        (BlockRunningStats, "eval mode"),
        (BlockReplicatePad, "'replicate'"),
        (BlockDetached, "detached"),
        (BlockCpuBias, "on the CPU"),
        (BlockReluInBranchEnd, "ReLU after the second instance norm"),
        (BlockLayerMadeInForward, "in __init__"),
        (BlockReturnsTuple, "returns tuple"),
        (BlockLeakyReLU, "runs leaky_relu where Johnson's runs ReLU"),
        (BlockLayerNorm, "uses group norm"),
        (BlockDropout, "must not be random"),
        (BlockClampedInput, "skip path changes part of the input"),
        (block_not_a_module, "subclass torch.nn.Module"),
    ],
    [BlockRight, BlockNoBias, BlockFunctional, BlockReflect, BlockGroupNorm, BlockHandNorm],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


def test_the_library_block_itself_is_the_reference():
    """With the library's block, the check's own reference agrees (nothing is refused here)."""
    torch.manual_seed(0)
    block = ResidualBlock(6, "instance")
    x = torch.randn(2, 6, 7, 9)
    conv1, conv2 = block.block[0][0][1], block.block[1][1]
    norm1, norm2 = block.block[0][1], block.block[2]
    roles = MODULE._Roles(
        conv1.weight, conv1.bias, norm1.weight, norm1.bias,
        conv2.weight, conv2.bias, norm2.weight, norm2.bias,
    )  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(block(x), MODULE._reference(x, roles, ("reflect", "reflect")))
