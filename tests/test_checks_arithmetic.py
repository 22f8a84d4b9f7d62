"""stylelib.checks.arithmetic: wrong and right answers to lesson 01's arithmetic exercises.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_accepted, assert_catalogue_complete, assert_rejected, catalogue_cases
from torch import nn

from stylelib import checks
from stylelib.checks import arithmetic as MODULE

# --- conv_output_size, conv_params, receptive_field ----------------------------------------


def size_floor_div(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def size_math_floor(size, kernel, stride=1, padding=0):
    return math.floor((size + 2 * padding - kernel) / stride) + 1


def size_int_truncation(size, kernel, stride=1, padding=0):
    return int((size + 2 * padding - kernel) / stride) + 1


def size_from_conv2d(size, kernel, stride=1, padding=0):
    conv = nn.Conv2d(1, 1, kernel, stride, padding, bias=False)
    return conv(torch.zeros(1, 1, size, size)).shape[-1]


def size_no_padding(size, kernel, stride=1, padding=0):
    return (size - kernel) // stride + 1


def size_no_plus_one(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) // stride


def size_ceil(size, kernel, stride=1, padding=0):
    return math.ceil((size + 2 * padding - kernel) / stride) + 1


def size_true_division(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) / stride + 1


def size_no_stride(size, kernel, stride=1, padding=0):
    return size + 2 * padding - kernel + 1


def size_padding_once(size, kernel, stride=1, padding=0):
    return (size + padding - kernel) // stride + 1


def size_no_defaults(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def params_formula(in_channels, out_channels, kernel_size, bias=True):
    return kernel_size * kernel_size * in_channels * out_channels + (out_channels if bias else 0)


def params_per_filter(in_channels, out_channels, kernel_size, bias=True):
    return (kernel_size**2 * in_channels + int(bias)) * out_channels


def params_from_module(in_channels, out_channels, kernel_size, bias=True):
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias, device="meta")
    return sum(p.numel() for p in conv.parameters())


def params_no_bias(in_channels, out_channels, kernel_size, bias=True):
    return kernel_size**2 * in_channels * out_channels


def params_bias_per_input(in_channels, out_channels, kernel_size, bias=True):
    return kernel_size**2 * in_channels * out_channels + (in_channels if bias else 0)


def params_k_not_squared(in_channels, out_channels, kernel_size, bias=True):
    return kernel_size * in_channels * out_channels + (out_channels if bias else 0)


def params_squared_c(in_channels, out_channels, kernel_size, bias=True):
    return kernel_size**2 * in_channels**2 + (out_channels if bias else 0)


def params_ignores_bias_flag(in_channels, out_channels, kernel_size, bias=True):
    return kernel_size**2 * in_channels * out_channels + out_channels


def params_float(in_channels, out_channels, kernel_size, bias=True):
    return math.pow(kernel_size, 2) * in_channels * out_channels + (out_channels if bias else 0)


def field_formula(n_layers, kernel=3):
    return 1 + n_layers * (kernel - 1)


def field_loop(n_layers, kernel=3):
    field = 1
    for _ in range(n_layers):
        field += kernel - 1
    return field


def field_sum_of_kernels(n_layers, kernel=3):
    return n_layers * kernel


def field_no_one(n_layers, kernel=3):
    return n_layers * (kernel - 1)


def field_power(n_layers, kernel=3):
    return kernel**n_layers


def field_ignores_kernel(n_layers, kernel=3):
    return 2 * n_layers + 1


def field_one_too_many(n_layers, kernel=3):
    return kernel + n_layers * (kernel - 1)


def field_float(n_layers, kernel=3):
    return 1.0 + n_layers * (kernel - 1)


# --- The catalogue

CATALOGUE = {
    "conv_output_size": (
        checks.check_conv_output_size,
        {},
        [
            (size_no_padding, "forgot the padding"),
            (size_no_plus_one, "forgot the +1"),
            (size_ceil, "ceil"),
            (size_true_division, "use floor division //"),
            (size_no_stride, "forgot the stride"),
            (size_padding_once, "both sides"),
            (size_no_defaults, "raised TypeError"),
        ],
        [size_floor_div, size_math_floor, size_int_truncation, size_from_conv2d],
    ),
    "conv_params": (
        checks.check_conv_params,
        {},
        [
            (params_no_bias, "forgot the bias"),
            (params_bias_per_input, "per input channel"),
            (params_k_not_squared, "k², not k"),
            (params_squared_c, "squared C_in"),
            (params_ignores_bias_flag, "bias=False"),
            (params_float, "not math.pow"),
        ],
        [params_formula, params_per_filter, params_from_module],
    ),
    "receptive_field": (
        checks.check_receptive_field,
        {},
        [
            (field_sum_of_kernels, "added the kernel sizes"),
            (field_no_one, "forgot the 1"),
            (field_power, "linearly"),
            (field_ignores_kernel, "ignored kernel"),
            (field_one_too_many, "one layer too many"),
            (field_float, "a float"),
        ],
        [field_formula, field_loop],
    ),
}

# --- vgg_shapes and network_params (lesson 01) -----------------------------------------------

BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
CHANNELS = (64, 128, 256, 512, 512)


def shapes_by_hand(arch, size, pool=lambda n: n // 2, channels=CHANNELS, order="hwc", pools=True):
    out, n = {}, size
    for block, (depth, c) in enumerate(zip(BLOCKS[arch], channels, strict=True), 1):
        for i in range(1, depth + 1):
            out[f"conv{block}_{i}"] = (n, n, c) if order == "hwc" else (c, n, n)
        n = pool(n)
        if pools:
            out[f"pool{block}"] = (n, n, c) if order == "hwc" else (c, n, n)
    return out


def shapes_right(arch, input_size):
    return shapes_by_hand(arch, input_size)


def shapes_from_a_forward(arch, input_size):
    """Shapes from a forward pass on the meta device: shapes only, no arithmetic, no time."""
    from stylelib.vgg import build_features, layer_names

    with torch.device("meta"):
        features = build_features(arch)
        x, out = torch.empty(1, 3, input_size, input_size), {}
        for name, module in zip(layer_names(arch), features, strict=True):
            x = module(x)
            if "relu" not in name:
                out[name] = (x.shape[2], x.shape[3], x.shape[1])
    return out


def shapes_all_64(arch, input_size):
    return shapes_by_hand(arch, input_size, channels=(64,) * 5)


def shapes_ceil(arch, input_size):
    return shapes_by_hand(arch, input_size, pool=lambda n: -(-n // 2))


def shapes_no_halving(arch, input_size):
    return shapes_by_hand(arch, input_size, pool=lambda n: n)


def shapes_no_pools(arch, input_size):
    return shapes_by_hand(arch, input_size, pools=False)


def shapes_list(arch, input_size):
    return list(shapes_by_hand(arch, input_size).items())


def shapes_chw(arch, input_size):
    return shapes_by_hand(arch, input_size, order="chw")


def params_by_hand(arch, bias=True, convs=True, fcs=True, fc6_side=7):
    total, c_in = 0, 3
    for depth, c in zip(BLOCKS[arch], CHANNELS, strict=True):
        for _ in range(depth):
            total += convs * (9 * c_in * c + bias * c)
            c_in = c
    for n_in, n_out in ((512 * fc6_side**2, 4096), (4096, 4096), (4096, 1000)):
        total += fcs * (n_in * n_out + bias * n_out)
    return total


def params_right(arch):
    return params_by_hand(arch)


def params_from_torchvision(arch):
    import torchvision

    with torch.device("meta"):
        model = getattr(torchvision.models, arch)()
    return sum(p.numel() for p in model.parameters())


def params_convs_only(arch):
    return params_by_hand(arch, fcs=False)


def params_no_bias(arch):
    return params_by_hand(arch, bias=False)


def params_classifier_only(arch):
    return params_by_hand(arch, convs=False)


def params_fc6_at_300(arch):
    return params_by_hand(arch, fc6_side=9)


def params_float(arch):
    return float(params_by_hand(arch))


def params_always_vgg16(arch):
    return params_by_hand("vgg16")


CATALOGUE["vgg_shapes"] = (
    checks.check_vgg_shapes,
    {},
    [
        (shapes_all_64, "the channels"),
        (shapes_ceil, "the height and width"),
        (shapes_no_halving, "halves them"),
        (shapes_no_pools, "no entry for ['pool1'"),
        (shapes_list, "return a dict"),
        (shapes_chw, "(height, width, channels)"),
    ],
    [shapes_right, shapes_from_a_forward],
)
CATALOGUE["network_params"] = (
    checks.check_network_params,
    {},
    [
        (params_convs_only, "convolutions only"),
        (params_no_bias, "forgot the biases"),
        (params_classifier_only, "classifier only"),
        (params_fc6_at_300, "n_in·n_out + n_out per fc"),
        (params_float, "return an int"),
        (params_always_vgg16, "network_params('vgg19')"),
    ],
    [params_right, params_from_torchvision],
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
