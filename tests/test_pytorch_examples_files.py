"""The PyTorch examples' fast-style models (``candy.pth`` ...) through stylelib's TransformerNet.

Oracle: a reference network written here from the published layout of pytorch/examples,
``fast_neural_style/neural_style/transformer_net.py`` (a ``ConvLayer`` is reflection padding
of k // 2 then a convolution named ``conv2d``; ``conv1`` 9x9 3->32, ``in1``, ``conv2`` 3x3 s2
32->64, ``in2``, ``conv3`` 3x3 s2 64->128, ``in3``, five residual blocks ``conv1 in1 relu
conv2 in2 + x``, ``deconv1``/``deconv2`` nearest x2 then a 3x3 ConvLayer, ``in4``/``in5``,
``deconv3`` 9x9 32->3 and no activation; a ReLU after every norm but the residual's second)
and their script's conventions (input 0-255, output clamped to 0-255 when saved). Its state
dict, with the legacy instance-norm ``running_mean``/``running_var`` keys old PyTorch wrote,
is saved as a file and read through stylelib; the outputs must agree within 1e-3 on [0, 1].

Sizes not divisible by 4: the reference then returns another size (H, W rounded up to a
multiple of 4) and instance-norm statistics of unpadded maps, so no pixel is comparable.
stylelib's output is defined as the reference on the image reflection-padded to a multiple of
4, cropped back; the padding is built here by hand (flipped slices), not with ``F.pad``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stylelib.blocks import count_parameters
from stylelib.checkpoints import CheckpointError, load_checkpoint
from stylelib.errors import StylelibError
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.network import (
    DEFAULT_PARAMETERS,
    PYTORCH_EXAMPLES_KEYS,
    TransformerNet,
    convert_pytorch_examples_state,
    is_pytorch_examples_state,
    load_transformer,
    save_transformer,
    stylize_image,
)

TOLERANCE = 1e-3  # on [0, 1] images, i.e. a quarter of a 0-255 level


# --- the reference network, from the published layout ------------------------------------


class _Conv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1) -> None:
        super().__init__()
        self.k = k
        self.conv2d = nn.Conv2d(c_in, c_out, k, stride)

    def forward(self, x):
        p = self.k // 2
        return self.conv2d(F.pad(x, (p, p, p, p), mode="reflect"))


class _UpConv(_Conv):
    def forward(self, x):
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.in1 = _Conv(c, c, 3), nn.InstanceNorm2d(c, affine=True)
        self.conv2, self.in2 = _Conv(c, c, 3), nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class Reference(nn.Module):
    """The examples' network: 0-255 pixels in, 0-255 pixels out (not clamped here)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = _Conv(3, 32, 9), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = _Conv(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = _Conv(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        for i in range(1, 6):
            setattr(self, f"res{i}", _Residual(128))
        self.deconv1, self.in4 = _UpConv(128, 64, 3), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = _UpConv(64, 32, 3), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = _Conv(32, 3, 9)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def reference_network(seed: int = 0) -> Reference:
    """Seeded weights that behave like a trained model's: a first layer sized for 0-255
    input (so its responses to [0, 1] input would be small next to instance norm's epsilon,
    as a trained model's are), norms' scales and shifts away from 1 and 0, and a last layer
    whose output spans 0-255 (a few per cent beyond, clamped)."""
    torch.manual_seed(seed)
    net = Reference().eval()
    with torch.no_grad():
        net.conv1.conv2d.weight.div_(255.0)
        for module in net.modules():
            if isinstance(module, nn.InstanceNorm2d):
                module.weight.normal_(1.0, 0.3)
                module.bias.normal_(0.0, 0.3)
        net.deconv3.conv2d.weight.mul_(200.0)
        net.deconv3.conv2d.bias.fill_(127.5)
    return net


def legacy_state(net: Reference) -> dict[str, torch.Tensor]:
    """The state dict as PyTorch 0.3 saved it: every instance norm also has running stats."""
    state = dict(net.state_dict())
    for name, module in net.named_modules():
        if isinstance(module, nn.InstanceNorm2d):
            state[f"{name}.running_mean"] = torch.zeros(module.num_features)
            state[f"{name}.running_var"] = torch.ones(module.num_features)
    return state


def write_examples_file(path, seed: int = 0) -> Reference:
    """A file with the layout of candy.pth; returns the network that made it."""
    net = reference_network(seed)
    torch.save(legacy_state(net), path)
    return net


@torch.no_grad()
def reference_output(net: Reference, image: torch.Tensor) -> torch.Tensor:
    """What their script saves, in [0, 1]: x 255 in, clamp to 0-255, / 255."""
    return net(image * 255).clamp(0, 255) / 255


def reflect_to_multiple_of_4(image: torch.Tensor) -> torch.Tensor:
    """Reflection padding at the bottom and right, by hand: row h + i is row h - 2 - i."""
    h, w = image.shape[-2:]
    ph, pw = -h % 4, -w % 4
    if ph:
        image = torch.cat([image, image[..., h - 2 - torch.arange(ph), :]], dim=-2)
    if pw:
        image = torch.cat([image, image[..., w - 2 - torch.arange(pw)]], dim=-1)
    return image


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def reference():
    return reference_network()


@pytest.fixture
def candy(tmp_path, reference):
    path = tmp_path / "candy.pth"
    torch.save(legacy_state(reference), path)
    return path


# --- the layout -----------------------------------------------------------------------------


def test_the_key_map_is_one_to_one_with_equal_shapes_and_parameter_counts(reference):
    theirs = reference.state_dict()
    ours = TransformerNet("instance", "resize", output="pixels255").state_dict()
    assert set(PYTORCH_EXAMPLES_KEYS) == set(theirs)
    assert sorted(PYTORCH_EXAMPLES_KEYS.values()) == sorted(ours)
    for their_key, our_key in PYTORCH_EXAMPLES_KEYS.items():
        assert theirs[their_key].shape == ours[our_key].shape, their_key
    assert sum(p.numel() for p in reference.parameters()) == DEFAULT_PARAMETERS
    assert count_parameters(TransformerNet(output="pixels255")) == DEFAULT_PARAMETERS


def test_recognised_by_keys_and_shapes(reference):
    state = legacy_state(reference)
    assert is_pytorch_examples_state(state)
    assert is_pytorch_examples_state(reference.state_dict())  # files of newer PyTorch
    assert not is_pytorch_examples_state(TransformerNet().state_dict())
    wrong = dict(state, **{"conv2.conv2d.weight": torch.zeros(64, 32, 5, 5)})
    assert not is_pytorch_examples_state(wrong)


# --- the same function -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("hw", [(64, 48), (32, 32), (20, 36)])
def test_a_pytorch_examples_file_gives_the_reference_output(candy, reference, hw):
    image = rand(2, 3, *hw, seed=hw[0])
    expected = reference_output(reference, image)
    with torch.no_grad():
        raw = reference(image * 255)
    # realistic weights: the picture spans the 0-255 range, and some pixels need the clamp
    assert raw.min() < 0 and raw.max() > 255 and raw.std() > 30
    net = load_transformer(candy)
    assert (net.norm, net.upsample, net.output, net.training) == (
        "instance",
        "resize",
        "pixels255",
        False,
    )
    got = stylize_image(net, image)
    assert got.shape == image.shape
    assert (got - expected).abs().max() <= TOLERANCE
    assert 0 <= got.min() and got.max() <= 1


@pytest.mark.parametrize("hw", [(33, 47), (30, 41), (17, 18)])
def test_other_sizes_are_the_reference_on_the_reflection_padded_image(candy, reference, hw):
    image = rand(1, 3, *hw, seed=hw[1])
    with torch.no_grad():
        # what their network does itself: another size (each side up to a multiple of 4)
        assert reference(image * 255).shape[-2:] == tuple(-(-n // 4) * 4 for n in hw)
    padded = reflect_to_multiple_of_4(image)
    expected = reference_output(reference, padded)[..., : hw[0], : hw[1]]
    got = stylize_image(load_transformer(candy), image)
    assert got.shape == image.shape  # stylelib: always the input's size
    assert (got - expected).abs().max() <= TOLERANCE


def test_the_factor_255_matters(candy, reference):
    """The oracle can tell: the same weights fed [0, 1] pixels give another picture."""
    image = rand(1, 3, 32, 32, seed=3)
    with torch.no_grad():
        unscaled = reference(image).clamp(0, 255) / 255
    got = stylize_image(load_transformer(candy), image)
    assert (got - reference_output(reference, image)).abs().max() <= TOLERANCE
    assert (got - unscaled).abs().max() > 0.1


def test_from_checkpoint_is_the_same_loader(candy, reference):
    image = rand(1, 3, 24, 28)
    a = stylize_image(TransformerNet.from_checkpoint(candy), image)
    b = stylize_image(load_transformer(candy), image)
    assert torch.equal(a, b)


def test_the_output_convention_round_trips_through_a_stylelib_checkpoint(candy, tmp_path):
    net = load_transformer(candy)
    saved = save_transformer(net, tmp_path / "candy-stylelib.pth")
    assert load_checkpoint(saved, kind=JOHNSON)["config"]["transformer_output"] == "pixels255"
    again = load_transformer(saved)
    image = rand(1, 3, 28, 20)
    assert again.output == "pixels255"
    assert torch.equal(stylize_image(again, image), stylize_image(net, image))
    tanh = save_transformer(TransformerNet(), tmp_path / "tanh.pth")
    assert load_transformer(tanh).output == "tanh"
    with pytest.raises(StylelibError, match="already exists"):
        save_transformer(net, saved)


# --- what is refused ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda s: s.update({"in1.num_batches_tracked": torch.tensor(0)}), "unexpected in1.num"),
        (lambda s: s.update({"res6.in1.weight": torch.ones(128)}), "unexpected res6.in1.weight"),
        (lambda s: s.pop("res3.in2.bias"), "missing res3.in2.bias"),
        (lambda s: s.update({"in4.weight": torch.ones(32)}), "in4.weight is (32,), not (64,)"),
        (lambda s: s.update({"deconv1.conv2d.bias": "x"}), "deconv1.conv2d.bias"),
    ],
)
def test_anything_else_unexpected_is_refused_in_one_line(reference, tmp_path, change, fragment):
    state = legacy_state(reference)
    change(state)
    path = tmp_path / "odd.pth"
    torch.save(state, path)
    for read in (load_transformer, TransformerNet.from_checkpoint):
        with pytest.raises(CheckpointError) as info:
            read(path)
        message = str(info.value)
        assert fragment in message and "\n" not in message and "PyTorch examples" in message
    with pytest.raises(CheckpointError):
        convert_pytorch_examples_state(state)


def test_other_files_keep_their_messages(tmp_path):
    vgg = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, vgg)
    with pytest.raises(CheckpointError, match="VGG weights"):
        load_transformer(vgg)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_transformer(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_transformer(tmp_path / "missing.pth")


def test_an_unknown_output_convention_is_refused():
    with pytest.raises(ValueError, match="output='sigmoid' is not one of tanh, pixels255"):
        TransformerNet(output="sigmoid")
