"""stylelib.checks.arithmetic: wrong and right answers to lesson 01's arithmetic exercises.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchvision
from helpers import (
    assert_rejected,
    catalogue_tests,
)
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


def size_numpy_floor(size, kernel, stride=1, padding=0):
    return np.floor((size + 2 * padding - kernel) / stride) + 1


def size_torch_floor(size, kernel, stride=1, padding=0):
    return torch.floor(torch.tensor((size + 2 * padding - kernel) / stride)) + 1


def size_forgot_return(size, kernel, stride=1, padding=0):
    (size + 2 * padding - kernel) // stride + 1


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


def params_numpy_prod(in_channels, out_channels, kernel_size, bias=True):
    return np.prod([kernel_size, kernel_size, in_channels, out_channels]) + bias * out_channels


def params_weight_shape(in_channels, out_channels, kernel_size, bias=True):
    """The weight's shape, as a tensor of the four sizes, multiplied out: a 0-d tensor."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias, device="meta")
    return torch.tensor(conv.weight.shape).prod() + bias * out_channels


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


def field_recursive(n_layers, kernel=3):
    return 1 if n_layers == 0 else field_recursive(n_layers - 1, kernel) + kernel - 1


def field_from_autograd(n_layers, kernel=3):
    """The pixels of the input that one output pixel's gradient reaches, along one side."""
    side = 2 * n_layers * kernel + 1
    x = torch.zeros(1, 1, side, side, requires_grad=True)
    y = x
    for _ in range(n_layers):
        y = nn.functional.conv2d(y, torch.ones(1, 1, kernel, kernel))
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    return int(x.grad[0, 0].abs().sum(dim=0).count_nonzero())


def field_float(n_layers, kernel=3):
    return 1.0 + n_layers * (kernel - 1)


def field_numpy(n_layers, kernel=3):
    return np.sum(np.full(n_layers, kernel - 1)) + 1


def field_as_text(n_layers, kernel=3):
    side = 1 + n_layers * (kernel - 1)
    return f"{side}x{side}"


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
            (size_numpy_floor, "np.float64(300.0), a numpy scalar"),
            (size_torch_floor, "a torch tensor"),
            (size_forgot_return, "return statement missing"),
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
            (params_numpy_prod, "np.int64(1792), a numpy scalar"),
            (params_weight_shape, "tensor(1792), a torch tensor"),
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
            (field_float, "3.0, a float"),
            (field_numpy, "a numpy scalar"),
            (field_as_text, "'3x3', a str"),
        ],
        [field_formula, field_loop, field_recursive, field_from_autograd],
    ),
}

# --- vgg_shapes and network_params (lesson 01) -----------------------------------------------

BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
CHANNELS = (64, 128, 256, 512, 512)


def shapes_by_hand(
    arch,
    size,
    pool=lambda n: n // 2,
    conv=lambda n: n,
    channels=CHANNELS,
    order="hwc",
    pools=True,
    shape=tuple,
):
    out, n = {}, size
    for block, (depth, c) in enumerate(zip(BLOCKS[arch], channels, strict=True), 1):
        for i in range(1, depth + 1):
            n = conv(n)
            out[f"conv{block}_{i}"] = shape((n, n, c) if order == "hwc" else (c, n, n))
        n = pool(n)
        if pools:
            out[f"pool{block}"] = shape((n, n, c) if order == "hwc" else (c, n, n))
    return out


def shapes_right(arch, input_size):
    return shapes_by_hand(arch, input_size)


def shapes_with_the_formula(arch, input_size):
    """Every layer through floor((n + 2p − k)/s) + 1, as the lesson's conv_output_size."""

    def out(n, k, s, p):
        return math.floor((n + 2 * p - k) / s) + 1

    return shapes_by_hand(
        arch, input_size, pool=lambda n: out(n, 2, 2, 0), conv=lambda n: out(n, 3, 1, 1)
    )


def shapes_from_a_forward(arch, input_size):
    """Shapes from torchvision's network run on the meta device: shapes only, no arithmetic."""
    with torch.device("meta"):
        features = getattr(torchvision.models, arch)().features
        x, out, block, i = torch.empty(1, 3, input_size, input_size), {}, 1, 1
        for module in features:
            x = module(x)
            if isinstance(module, nn.Conv2d):
                out[f"conv{block}_{i}"], i = (x.shape[2], x.shape[3], x.shape[1]), i + 1
            elif isinstance(module, nn.MaxPool2d):
                out[f"pool{block}"], block, i = (x.shape[2], x.shape[3], x.shape[1]), block + 1, 1
    return out


def shapes_from_layers(arch, input_size):
    """One nn layer at a time on the meta device, as lists [H, W, C]."""
    out, x, c_in = {}, torch.empty(1, 3, input_size, input_size, device="meta"), 3
    for block, (depth, c) in enumerate(zip(BLOCKS[arch], CHANNELS, strict=True), 1):
        for i in range(1, depth + 1):
            x = nn.Conv2d(c_in, c, 3, padding=1, device="meta")(x)
            out[f"conv{block}_{i}"], c_in = [x.shape[2], x.shape[3], c], c
        x = nn.MaxPool2d(2, 2)(x)
        out[f"pool{block}"] = [x.shape[2], x.shape[3], c]
    return out


def shapes_all_64(arch, input_size):
    return shapes_by_hand(arch, input_size, channels=(64,) * 5)


def shapes_ceil(arch, input_size):
    return shapes_by_hand(arch, input_size, pool=lambda n: -(-n // 2))


def shapes_no_halving(arch, input_size):
    return shapes_by_hand(arch, input_size, pool=lambda n: n)


def shapes_no_padding(arch, input_size):
    return shapes_by_hand(arch, input_size, conv=lambda n: n - 2)


def shapes_no_pools(arch, input_size):
    return shapes_by_hand(arch, input_size, pools=False)


def shapes_always_vgg16(arch, input_size):
    return shapes_by_hand("vgg16", input_size)


def shapes_list(arch, input_size):
    return list(shapes_by_hand(arch, input_size).items())


def shapes_chw(arch, input_size):
    return shapes_by_hand(arch, input_size, order="chw")


def shapes_true_division(arch, input_size):
    return shapes_by_hand(arch, input_size, pool=lambda n: n / 2)


def shapes_floor_of_a_float(arch, input_size):
    return shapes_by_hand(arch, input_size, pool=lambda n: n // 2.0)


def shapes_numpy_arrays(arch, input_size):
    return shapes_by_hand(arch, input_size, shape=np.array)


def shapes_numpy_sizes(arch, input_size):
    return shapes_by_hand(np.str_(arch), np.int64(input_size))


def shapes_from_the_library(arch, input_size):
    from stylelib.layers import layer_table

    return {r["name"]: r["output"] for r in layer_table(arch, input_size, classifier=False)}


def shapes_from_the_library_via_vgg(arch, input_size):
    import stylelib.vgg

    rows = stylelib.vgg.layer_table(arch, input_size)
    return {r["name"]: r["output"] for r in rows if r["kind"] in ("conv", "pool")}


def params_by_hand(arch, bias=True, convs=True, fcs=True, fc6_side=7, fc8=True):
    total, c_in = 0, 3
    for depth, c in zip(BLOCKS[arch], CHANNELS, strict=True):
        for _ in range(depth):
            total += convs * (9 * c_in * c + bias * c)
            c_in = c
    for n_in, n_out in ((512 * fc6_side**2, 4096), (4096, 4096), (4096, 1000))[: 2 + fc8]:
        total += fcs * (n_in * n_out + bias * n_out)
    return total


def params_right(arch):
    return params_by_hand(arch)


def params_per_layer_list(arch):
    """torchvision's own configuration list ("M" is a pooling), then the three fc layers."""
    config = torchvision.models.vgg.cfgs["D" if arch == "vgg16" else "E"]
    convs = [c for c in config if c != "M"]
    total = sum(9 * a * b + b for a, b in zip([3, *convs[:-1]], convs, strict=True))
    return total + sum(a * b + b for a, b in ((25088, 4096), (4096, 4096), (4096, 1000)))


def own_network(arch):
    """VGG written with nn layers (on the meta device: no memory), classifier included."""
    layers, c_in = [], 3
    with torch.device("meta"):
        for depth, c in zip(BLOCKS[arch], CHANNELS, strict=True):
            for _ in range(depth):
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
                c_in = c
            layers.append(nn.MaxPool2d(2, 2))
        layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.Linear(4096, 4096)]
        layers.append(nn.Linear(4096, 1000))
        return nn.Sequential(*layers)


def params_own_network(arch):
    """One's own network, counted: the arithmetic is in the layers one wrote."""
    return sum(p.numel() for p in own_network(arch).parameters())


# --- torchvision's VGG: the answer in one line, refused ------------------------------------------


def params_from_torchvision(arch):
    with torch.device("meta"):
        model = getattr(torchvision.models, arch)()
    return sum(p.numel() for p in model.parameters())


def params_from_torchvision_on_the_cpu(arch):
    """The one-liner: build the whole network (1-3 s on a CPU) and count."""
    return sum(p.numel() for p in getattr(torchvision.models, arch)().parameters())


def params_from_the_weights_metadata(arch):
    weights = torchvision.models.get_model_weights(arch).IMAGENET1K_V1
    return weights.meta["num_params"]


def params_from_the_weights_enum(arch):
    enum = {"vgg16": torchvision.models.VGG16_Weights, "vgg19": torchvision.models.VGG19_Weights}
    return enum[arch].DEFAULT.meta["num_params"]


def params_from_get_model(arch):
    with torch.device("meta"):
        return sum(p.numel() for p in torchvision.models.get_model(arch).parameters())


def params_convs_only(arch):
    return params_by_hand(arch, fcs=False)


def params_no_bias(arch):
    return params_by_hand(arch, bias=False)


def params_classifier_only(arch):
    return params_by_hand(arch, convs=False)


def params_fc6_at_300(arch):
    return params_by_hand(arch, fc6_side=9)


def params_no_fc8(arch):
    return params_by_hand(arch, fc8=False)


def params_with_batch_norm(arch):
    depths = zip(BLOCKS[arch], CHANNELS, strict=True)
    return params_by_hand(arch) + sum(2 * c * d for d, c in depths)  # γ and β per channel


def params_float(arch):
    return float(params_by_hand(arch))


def params_in_millions(arch):
    return round(params_by_hand(arch) / 1e6, 1)


def params_numpy(arch):
    return np.sum([np.prod(p.shape) for p in own_network(arch).parameters()])


def params_tensor(arch):
    return torch.tensor(params_by_hand(arch))


def params_per_layer_array(arch):
    return np.array([p.numel() for p in own_network(arch).parameters()])


def params_always_vgg16(arch):
    return params_by_hand("vgg16")


def params_from_the_library(arch):
    from stylelib.layers import layer_table

    return sum(r["params"] for r in layer_table(arch))


def params_from_the_library_via_vgg(arch):
    from stylelib import vgg

    return sum(r["params"] for r in vgg.layer_table(arch))


CATALOGUE["vgg_shapes"] = (
    checks.check_vgg_shapes,
    {},
    [
        (shapes_all_64, "the channels: conv2_1 has 128"),
        (shapes_ceil, "yours rounds 75/2 up"),
        (shapes_no_halving, "yours does not halve"),
        (shapes_no_padding, "as without padding"),
        (shapes_no_pools, "no entry for ['pool1'"),
        (shapes_always_vgg16, "no entry for ['conv3_4'"),
        (shapes_list, "returns a list: return a dict"),
        (shapes_chw, "(channels, height, width)"),
        (
            shapes_true_division,
            "['pool1'] is (150.0, 150.0, 64), expected (150, 150, 64): its "
            "height is 150.0, a float: use floor division //",
        ),
        (shapes_floor_of_a_float, "its height is 150.0, a float"),
        (shapes_numpy_arrays, "a numpy array of shape (3,)"),
        (shapes_numpy_sizes, "its height is np.int64(300), a numpy scalar"),
        (shapes_from_the_library, "the library's own answer"),
        (shapes_from_the_library_via_vgg, "the library's own answer"),
    ],
    [shapes_right, shapes_with_the_formula, shapes_from_a_forward, shapes_from_layers],
)
CATALOGUE["network_params"] = (
    checks.check_network_params,
    {},
    [
        (params_convs_only, "convolutions only"),
        (params_no_bias, "forgot the biases"),
        (params_classifier_only, "classifier only"),
        (params_fc6_at_300, "not 9·9·512"),
        (params_no_fc8, "forgot fc8"),
        (params_with_batch_norm, "batch norm"),
        (params_float, "138357544.0, a float: count with Python ints"),
        (params_in_millions, "138.4, a float and not a whole number"),
        (params_numpy, "np.int64(138357544), a numpy scalar"),
        (params_tensor, "tensor(138357544), a torch tensor"),
        (params_per_layer_array, "a numpy array of shape (32,): return one Python int"),
        (params_always_vgg16, "that is VGG16's count"),
        (params_from_the_library, "the library's own answer"),
        (params_from_the_library_via_vgg, "the library's own answer"),
        (params_from_torchvision, "calls torchvision.models.vgg.vgg16: torchvision's VGG"),
        (params_from_torchvision_on_the_cpu, "torchvision's VGG, which counts for you"),
        (params_from_the_weights_metadata, "calls torchvision.models._api"),
        (params_from_the_weights_enum, "the exercise is the arithmetic"),
        (params_from_get_model, "calls torchvision.models._api.get_model"),
    ],
    [params_right, params_per_layer_list, params_own_network],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


def test_vgg_shapes_says_which_layer_and_axis_holds_a_fraction():
    """n / 2 at an odd size gives 37.5: rejected where it happens, not rounded by int()."""

    def half_at_pool4(arch, input_size):
        shapes = shapes_by_hand(arch, input_size)
        shapes["pool4"] = (37.5, 37, 512)
        return shapes

    message = assert_rejected(checks.check_vgg_shapes, {}, half_at_pool4, "['pool4']")
    assert "its height is 37.5, a float and not a whole number" in message, message
