"""stylelib.checks.network: wrong and right answers to lesson 01's VGG-16 exercise.

Every wrong answer below is a mistake students make; the check must reject it with a message
that names the mistake (the keyword). Every right answer is another correct formulation,
which the check must accept.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
import torchvision
from helpers import (
    assert_rejected,
    catalogue_tests,
)
from torch import nn

from stylelib import checks
from stylelib.checks import network as MODULE

CATALOGUE: dict = {}

# VGG-16's convolutions (Simonyan & Zisserman 2015, Table 1, column D); "M" is a max pooling.
CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG19 = [64, 64, "M", 128, 128, "M", *[256] * 4, "M", *[512] * 4, "M", *[512] * 4, "M"]


def from_config(
    config=CONFIG,
    conv=lambda a, b: nn.Conv2d(a, b, 3, padding=1),
    relu=lambda: nn.ReLU(inplace=True),
    pool=lambda: nn.MaxPool2d(2, 2),
):
    layers, c_in = [], 3
    for entry in config:
        if entry == "M":
            layers.append(pool())
        else:
            layers += [conv(c_in, entry), relu()]
            c_in = entry
    return layers


# --- right answers -------------------------------------------------------------------------------


def features_config_loop():
    return nn.Sequential(*from_config())


def features_written_out():
    def conv(a, b):
        return nn.Conv2d(a, b, kernel_size=3, stride=1, padding=1)

    return nn.Sequential(
        conv(3, 64), nn.ReLU(), conv(64, 64), nn.ReLU(), nn.MaxPool2d(2),
        conv(64, 128), nn.ReLU(), conv(128, 128), nn.ReLU(), nn.MaxPool2d(2),
        conv(128, 256), nn.ReLU(), conv(256, 256), nn.ReLU(), conv(256, 256), nn.ReLU(),
        nn.MaxPool2d(2),
        conv(256, 512), nn.ReLU(), conv(512, 512), nn.ReLU(), conv(512, 512), nn.ReLU(),
        nn.MaxPool2d(2),
        conv(512, 512), nn.ReLU(), conv(512, 512), nn.ReLU(), conv(512, 512), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
    )  # fmt: skip


def features_from_torchvision_config():
    """torchvision's configuration list read by one's own loop: the loop is the answer's."""
    return nn.Sequential(*from_config(torchvision.models.vgg.cfgs["D"]))


def features_frozen():
    """Frozen for style transfer: requires_grad is the caller's choice, not the architecture."""
    return nn.Sequential(*from_config()).requires_grad_(False).eval()


def features_one_relu_same_padding():
    relu = nn.ReLU(inplace=True)  # one module at every position: a ReLU holds no state
    return nn.Sequential(
        *from_config(conv=lambda a, b: nn.Conv2d(a, b, (3, 3), padding="same"), relu=lambda: relu)
    )


def features_blocks_flattened():
    blocks, c_in = [], 3
    for depth, c in zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512), strict=True):
        block = []
        for _ in range(depth):
            block += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
            c_in = c
        blocks.append([*block, nn.MaxPool2d(2, 2)])
    return nn.Sequential(*[layer for block in blocks for layer in block])


class OwnReLU(nn.Module):
    def forward(self, x):
        return x.clamp(min=0)


def features_own_relu_module():
    """A ReLU of one's own: a different module, the same function."""
    return nn.Sequential(*from_config(relu=OwnReLU))


# --- wrong answers -------------------------------------------------------------------------------


def features_average_pooling():
    return nn.Sequential(*from_config(pool=lambda: nn.AvgPool2d(2, 2)))


def features_no_relu():
    return nn.Sequential(*[m for m in from_config() if not isinstance(m, nn.ReLU)])


def features_last_relu_missing():
    layers = from_config()
    del layers[-2]  # the ReLU after conv5_3
    return nn.Sequential(*layers)


def features_no_padding():
    return nn.Sequential(*from_config(conv=lambda a, b: nn.Conv2d(a, b, 3)))


def features_reflect_padding():
    return nn.Sequential(
        *from_config(conv=lambda a, b: nn.Conv2d(a, b, 3, padding=1, padding_mode="reflect"))
    )


def features_5x5_kernels():
    return nn.Sequential(*from_config(conv=lambda a, b: nn.Conv2d(a, b, 5, padding=2)))


def features_no_bias():
    return nn.Sequential(*from_config(conv=lambda a, b: nn.Conv2d(a, b, 3, padding=1, bias=False)))


def features_256_in_block_4():
    config = [256 if c == 512 and i < 14 else c for i, c in enumerate(CONFIG)]
    return nn.Sequential(*from_config(config))


def features_batch_norm():
    layers, c_in = [], 3
    for entry in CONFIG:
        if entry == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, entry, 3, padding=1), nn.BatchNorm2d(entry), nn.ReLU()]
            c_in = entry
    return nn.Sequential(*layers)


def features_vgg19():
    return nn.Sequential(*from_config(VGG19))


def features_leaky_relu():
    return nn.Sequential(*from_config(relu=lambda: nn.LeakyReLU(0.01)))


def features_ceil_mode():
    return nn.Sequential(*from_config(pool=lambda: nn.MaxPool2d(2, 2, ceil_mode=True)))


def features_pool_stride_1():
    return nn.Sequential(*from_config(pool=lambda: nn.MaxPool2d(2, stride=1)))


def features_list():
    return from_config()


def features_module_list():
    return nn.ModuleList(from_config())


def features_nested_blocks():
    blocks, layers = [], []
    for layer in from_config():
        layers.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append(nn.Sequential(*layers))
            layers = []
    return nn.Sequential(*blocks)


def features_named_layers():
    names = [
        f"{kind}{block}_{i}" if kind != "pool" else f"pool{block}"
        for block, depth in enumerate((2, 2, 3, 3, 3), 1)
        for i in range(1, depth + 2)
        for kind in (("conv", "relu") if i <= depth else ("pool",))
    ]
    return nn.Sequential(OrderedDict(zip(names, from_config(), strict=True)))


class VGG(nn.Module):
    """Features, pooling and classifier, written by hand."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(*from_config())
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Linear(512 * 7 * 7, 1000)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def features_whole_vgg16():
    return VGG()


# --- torchvision's VGG: the answer in one line, refused ------------------------------------------


def features_make_layers():
    return torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])


def features_deepcopy_torchvision():
    return copy.deepcopy(torchvision.models.vgg16(weights=None).features)


def features_torchvision_features():
    with torch.device("meta"):
        net = torchvision.models.vgg16().features
    return net.to_empty(device="cpu")


def features_sequential_of_torchvision():
    return nn.Sequential(*torchvision.models.vgg16().features)


def features_get_model():
    return torchvision.models.get_model("vgg16", weights=None).features


def features_with_classifier():
    return nn.Sequential(*from_config(), nn.AdaptiveAvgPool2d(7), nn.Flatten())


def features_shared_convs():
    layers, c_in = [], 3
    for entry in CONFIG:
        if entry == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        if entry == c_in:  # "the same layer again": one object appended twice
            previous = layers[-2]
            layers += [previous, nn.ReLU()]
        else:
            layers += [nn.Conv2d(c_in, entry, 3, padding=1), nn.ReLU()]
        c_in = entry
    return nn.Sequential(*layers)


class NoGradSequential(nn.Sequential):
    @torch.no_grad()  # "VGG is frozen, so no gradients": but the image needs them
    def forward(self, x):
        return super().forward(x)


def features_no_grad_forward():
    return NoGradSequential(*from_config())


class DetachedReLU(nn.Module):
    """max(0, x) in value, but the mask is detached: the gradient passes negatives through."""

    def forward(self, x):
        return x + (x.clamp(min=0) - x).detach()


def features_detached_relu():
    return nn.Sequential(*from_config(relu=DetachedReLU))


class CutReLU(nn.ReLU):
    """ "VGG is frozen, so its features need no graph": relu, detached."""

    def forward(self, x):
        return super().forward(x).detach()


def features_detached_part_way():
    net = nn.Sequential(*from_config())
    net[15] = CutReLU()  # relu3_3: the later convolutions' weights still give a grad_fn
    return net


def features_float64():
    return nn.Sequential(*from_config()).double()


def features_forgot_return():
    nn.Sequential(*from_config())


def features_from_the_library():
    from stylelib.layers import build_features

    return build_features("vgg16")


def features_from_the_library_via_vgg():
    import stylelib.vgg

    return copy.deepcopy(stylelib.vgg.build_features("vgg16"))


CATALOGUE["vgg16_sequential"] = (
    checks.check_vgg16_sequential,
    {},
    [
        (features_average_pooling, "pool1 (module 4) is average pooling"),
        (features_no_relu, "module 1 is Conv2d(64, 64, 3x3) where VGG-16 has relu1_1"),
        (features_last_relu_missing, "VGG-16 has relu5_3, ReLU: every convolution is followed"),
        (features_no_padding, "conv1_1 (module 0) has padding (0, 0)"),
        (features_reflect_padding, "pads with 'reflect'"),
        (features_5x5_kernels, "5x5 kernel"),
        (features_no_bias, "no bias"),
        (features_256_in_block_4, "conv4_1 (module 17) maps 256 -> 256 channels"),
        (features_batch_norm, "no normalisation layers"),
        (features_vgg19, "block 3 of VGG-16 has 3 convolutions"),
        (features_leaky_relu, "relu1_1 (module 1) is LeakyReLU"),
        (features_ceil_mode, "ceil_mode=True"),
        (features_pool_stride_1, "stride (1, 1)"),
        (features_list, "a list of 31 items"),
        (features_module_list, "no forward"),
        (features_nested_blocks, "(a block)"),
        (features_named_layers, "your layers are named ('conv1_1', 'relu1_1', ...)"),
        (features_whole_vgg16, "a whole VGG"),
        (features_with_classifier, "end with pool5"),
        (features_shared_convs, "one and the same Conv2d object (conv1_1 and conv1_2)"),
        (features_float64, "float64 on cpu"),
        (features_no_grad_forward, "no grad_fn"),
        (features_detached_relu, "the gradient with respect to the image is off"),
        (features_detached_part_way, "a module part-way cuts the graph"),
        (features_forgot_return, "return statement"),
        (features_from_the_library, "the library's own answer"),
        (features_from_the_library_via_vgg, "the library's own answer"),
        (features_make_layers, "calls torchvision.models.vgg.make_layers: torchvision's VGG"),
        (features_deepcopy_torchvision, "calls torchvision.models.vgg.vgg16: torchvision's VGG"),
        (features_torchvision_features, "build the 31 layers yourself"),
        (features_sequential_of_torchvision, "the answer key of this exercise"),
        (features_get_model, "calls torchvision.models._api.get_model: torchvision's VGG"),
    ],
    [
        features_config_loop,
        features_written_out,
        features_from_torchvision_config,
        features_frozen,
        features_one_relu_same_padding,
        features_blocks_flattened,
        features_own_relu_module,
    ],
)


(
    test_rejects_wrong_answer_and_names_the_mistake,
    test_accepts_right_answer_and_says_so,
    test_catalogue_covers_every_check_of_the_module,
) = catalogue_tests(CATALOGUE, MODULE)


def test_refuses_a_network_that_calls_the_library_when_it_runs():
    """A network built by hand whose forward pass goes through the library's extractor."""
    from stylelib import vgg

    class Wrapper(nn.Sequential):
        def forward(self, x):
            vgg.layer_names("vgg16")  # any call into the reference module counts
            return super().forward(x)

    assert_rejected(
        checks.check_vgg16_sequential, {}, lambda: Wrapper(*from_config()), "library's own"
    )
