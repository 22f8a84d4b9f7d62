"""Tests for stylelib.johnson.network: the shape contract, the parameter count, the variants and
the checkpoint loader.

Oracles: a parameter count done by hand from the layer list of Johnson et al.'s
supplementary material; the closed-form output of a transposed convolution with all-ones
weights on a constant image (pixels get 1, 2 or 4 kernel taps: the checkerboard) against
resize-then-convolve (9 everywhere); float64 gradcheck of a residual block. What is not
checked: that a trained network stylises well (that needs pretrained VGG weights and hours).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from stylelib.blocks import ResidualBlock, UpsampleConv, count_parameters
from stylelib.checkpoints import CheckpointError
from stylelib.errors import StylelibError
from stylelib.johnson.config import FORMAT, VERSION
from stylelib.johnson.network import (
    DEFAULT_PARAMETERS,
    TransformerNet,
    parameter_table,
    stylize_image,
)

VARIANTS = [(n, u) for n in ("instance", "batch") for u in ("resize", "transpose")]


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TransformerNet().eval()


@pytest.mark.parametrize("hw", [(33, 47), (32, 32), (64, 37), (5, 9), (17, 16), (50, 6)])
def test_output_shape_equals_input_shape(net, hw):
    with torch.no_grad():
        out = net(rand(2, 3, *hw))
    assert out.shape == (2, 3, *hw)


@pytest.mark.parametrize("norm,upsample", VARIANTS)
def test_every_variant_runs_forward_and_backward(norm, upsample):
    torch.manual_seed(0)
    model = TransformerNet(norm=norm, upsample=upsample).train()
    out = model(rand(2, 3, 36, 44))
    assert out.shape == (2, 3, 36, 44)
    out.mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert f"norm={norm!r}, upsample={upsample!r}" in repr(model)


def test_output_lies_in_zero_one_even_for_extreme_inputs(net):
    with torch.no_grad():
        out = net(torch.cat([torch.zeros(1, 3, 32, 32), 50 * torch.ones(1, 3, 32, 32)]))
    assert out.min() >= 0 and out.max() <= 1


def test_parameter_count_is_pinned_and_matches_a_hand_count():
    def conv(k, c_in, c_out):  # weights and biases
        return k * k * c_in * c_out + c_out

    def norm(c):  # scale and shift (instance norm affine, or batch norm)
        return 2 * c

    by_hand = (
        conv(9, 3, 32) + norm(32)
        + conv(3, 32, 64) + norm(64)
        + conv(3, 64, 128) + norm(128)
        + 5 * 2 * (conv(3, 128, 128) + norm(128))
        + conv(3, 128, 64) + norm(64)
        + conv(3, 64, 32) + norm(32)
        + conv(9, 32, 3)
    )  # fmt: skip
    assert by_hand == DEFAULT_PARAMETERS == 1_679_235
    for norm_kind, upsample in VARIANTS:  # batch norm's running statistics are buffers
        assert count_parameters(TransformerNet(norm_kind, upsample)) == by_hand
    table = parameter_table(TransformerNet())
    assert table.splitlines()[-1].split() == ["total", "1,679,235"]
    assert "res" in table and "1,478,400" in table  # five blocks of 295,680


def test_upsampling_doubles_height_and_width_in_both_modes():
    for mode in ("resize", "transpose"):
        assert UpsampleConv(8, 4, mode, "instance")(rand(1, 8, 5, 7)).shape == (1, 4, 10, 14)


def test_transposed_convolution_paints_a_checkerboard_and_resize_conv_does_not():
    ones = torch.ones(1, 1, 6, 6)
    transpose = UpsampleConv(1, 1, "transpose", "instance")[0]
    resize = nn.Sequential(*list(UpsampleConv(1, 1, "resize", "instance"))[:2])
    with torch.no_grad():
        for conv in (transpose, resize[1][1]):
            conv.weight.fill_(1.0)
            conv.bias.zero_()
        checker = transpose(ones)[0, 0, 2:-2, 2:-2]
        smooth = resize(ones)[0, 0]
    # stride 2 with a 3x3 kernel: even/odd rows and columns receive 1, 2 or 4 taps
    assert torch.equal(checker[0::2, 0::2], torch.full_like(checker[0::2, 0::2], 1.0))
    assert torch.equal(checker[1::2, 1::2], torch.full_like(checker[1::2, 1::2], 4.0))
    assert set(checker.unique().tolist()) == {1.0, 2.0, 4.0}
    assert torch.equal(smooth, torch.full_like(smooth, 9.0))


def test_gradcheck_residual_block():
    torch.manual_seed(0)
    block = ResidualBlock(2, "instance").double()
    x = torch.rand(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,), eps=1e-6, atol=1e-5)


def test_too_small_or_badly_shaped_inputs_are_explained(net):
    with pytest.raises(ValueError, match="at least 5 px on each side"):
        net(rand(1, 3, 4, 40))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*unsqueeze"):
        net(rand(3, 32, 32))
    with pytest.raises(ValueError, match="norm='layer' is not one of instance, batch"):
        TransformerNet(norm="layer")


def test_stylize_image_bf16_and_channels_last_agree_with_fp32(net):
    x = rand(1, 3, 40, 56)
    fp32 = stylize_image(net, x)
    assert fp32.dtype == torch.float32 and fp32.shape == x.shape
    assert torch.allclose(stylize_image(net, x, channels_last=True), fp32, atol=1e-5)
    assert (stylize_image(net, x, autocast=True) - fp32).abs().max() < 0.06
    bf16 = copy.deepcopy(net).to(torch.bfloat16)
    out = stylize_image(bf16, x)
    assert out.dtype == torch.float32 and (out - fp32).abs().max() < 0.06
    assert (out - fp32).abs().mean() < 0.01


def write_checkpoint(path, model, **changes):
    state = {
        "format": FORMAT,
        "format_version": VERSION,
        "config": {"transformer_norm": model.norm, "upsample": model.upsample},
        "model": model.state_dict(),
        **changes,
    }
    torch.save(state, path)
    return path


@pytest.mark.parametrize("norm,upsample", VARIANTS)
def test_from_checkpoint_rebuilds_the_architecture_from_its_config(tmp_path, norm, upsample):
    torch.manual_seed(1)
    model = TransformerNet(norm, upsample).eval()
    path = write_checkpoint(tmp_path / "m.pth", model)
    loaded = TransformerNet.from_checkpoint(path)
    assert (loaded.norm, loaded.upsample, loaded.training) == (norm, upsample, False)
    x = rand(1, 3, 33, 35)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_from_checkpoint_refuses_weights_its_config_does_not_describe(tmp_path):
    lying = write_checkpoint(tmp_path / "lying.pth", TransformerNet())
    state = torch.load(lying, weights_only=True)
    state["config"]["upsample"] = "transpose"  # the weights are resize-conv's
    torch.save(state, lying)
    with pytest.raises(CheckpointError, match="do not fit the TransformerNet") as info:
        TransformerNet.from_checkpoint(lying)
    assert isinstance(info.value, StylelibError) and "\n" not in str(info.value)


def test_the_smallest_input_is_named_apart_from_vggs():
    from stylelib import images
    from stylelib.johnson.network import MIN_INPUT_SIDE

    assert MIN_INPUT_SIDE == 5 != images.MIN_SIDE
    net = TransformerNet().eval()
    assert net(rand(1, 3, 5, 5)).shape == (1, 3, 5, 5)
    with pytest.raises(ValueError, match="at least 5 px"):
        net(rand(1, 3, 4, 9))


def test_another_float_dtype_is_converted_to_the_networks_and_bytes_are_refused(net):
    # the same rule as VGGFeatures: any float image runs in the weights' dtype; an integer
    # image would otherwise be turned into a float image of 0-255 values without a word
    x = rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(net(x.double()), net(x))
        assert net(x.half()).dtype == torch.float32
    with pytest.raises(ValueError, match="got dtype torch.uint8; convert with x.float"):
        net((x * 255).to(torch.uint8))


def test_stylize_image_holds_to_the_image_contract(net):
    with pytest.raises(ValueError, match="looks like 0-255 values: divide by 255"):
        stylize_image(net, rand(1, 3, 24, 24) * 255)
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels, got 4"):
        stylize_image(net, rand(1, 4, 24, 24))
    assert stylize_image(net, rand(1, 3, 6, 6)).shape == (1, 3, 6, 6)  # below VGG's 32 px
