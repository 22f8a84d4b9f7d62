"""Checks of lesson 01's arithmetic exercises: the sizes and counts of a convolutional network.

One convolution's output size and parameter count and a stack's receptive field, each against
its closed form; then VGG's shapes layer by layer and its parameter count, against
:func:`stylelib.vgg.layer_table`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from .harness import check_integer, run

# --- One layer: whole numbers -----------------------------------------------------------------


def check_conv_output_size(fn: Callable[..., int]) -> None:
    """Check ``fn(size, kernel, stride=1, padding=0)`` = floor((n + 2p − k)/s) + 1."""
    cases = [
        ((300, 3, 1, 1), 300),  # VGG's 3x3 convolution with padding 1 keeps the size (the VGG lab)
        ((300, 2, 2, 0), 150),  # its 2x2 max pooling with stride 2 halves it
        ((75, 2, 2, 0), 37),  # odd size: the floor drops the last row
        ((224, 7, 2, 3), 112),  # ResNet's first convolution
        ((227, 11, 4, 0), 55),  # AlexNet's first convolution
        ((6, 3, 2, 1), 3),  # (6 + 2 − 3)/2 = 2.5 rounds down
        ((37, 3, 2, 1), 19),
        ((7, 3, 1, 0), 5),
        ((32, 5), 28),  # the defaults: stride 1, padding 0
    ]

    def mistake(f):
        return lambda n, k, s=1, p=0: f(n, k, s, p)

    mistakes = [
        (mistake(lambda n, k, s, p: (n - k) // s + 1), "you forgot the padding: n + 2p"),
        (mistake(lambda n, k, s, p: (n + p - k) // s + 1), "padding is on both sides: n + 2p"),
        (mistake(lambda n, k, s, p: (n + 2 * p - k) // s), "you forgot the +1"),
        (
            mistake(lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1),
            "you used ceil: round down with //, a window that does not fit is dropped",
        ),
        (
            mistake(lambda n, k, s, p: round((n + 2 * p - k) / s) + 1),
            "you rounded: round down with //, a window that does not fit is dropped",
        ),
        (mistake(lambda n, k, s, p: n + 2 * p - k + 1), "you forgot the stride: divide by s"),
        (
            mistake(lambda n, k, s, p: (n + 2 * p - k + 1) // s),
            "you forgot the +1 after the division",
        ),
    ]
    check_integer(
        fn,
        "conv_output_size",
        ("size", "kernel", "stride", "padding"),
        cases,
        "floor((n + 2p − k)/s) + 1",
        mistakes,
        float_hint="use floor division //, not /,",
    )


def check_conv_params(fn: Callable[..., int]) -> None:
    """Check ``fn(in_channels, out_channels, kernel_size, bias=True)`` = k²·C_in·C_out + C_out."""
    cases = [
        ((3, 64, 3), 1_792),  # VGG conv1_1
        ((64, 64, 3), 36_928),  # VGG conv1_2
        ((512, 512, 3), 2_359_808),  # VGG conv4_2
        ((3, 16, 5), 1_216),
        ((16, 8, 1), 136),
        ((64, 128, 3, False), 73_728),
        ((3, 10, 7, False), 1_470),
        ((8, 4, 3, True), 292),
    ]

    def mistake(f):
        return lambda ci, co, k, bias=True: f(ci, co, k, bias)

    mistakes = [
        (mistake(lambda ci, co, k, b: k * k * ci * co), "you forgot the bias, one per filter"),
        (
            mistake(lambda ci, co, k, b: k * k * ci * co + ci * b),
            "you counted one bias per input channel: it is one per output channel, + C_out",
        ),
        (mistake(lambda ci, co, k, b: k * k * ci * co + co), "bias=False has no bias terms"),
        (mistake(lambda ci, co, k, b: k * ci * co + co * b), "a k × k kernel has k², not k"),
        (mistake(lambda ci, co, k, b: k * k * ci * ci + co * b), "you squared C_in: k²·C_in·C_out"),
        (
            mistake(lambda ci, co, k, b: k * k * co * co + co * b),
            "you squared C_out: k²·C_in·C_out",
        ),
        (
            mistake(lambda ci, co, k, b: k * k * (ci + co) + co * b),
            "channels multiply: k²·C_in·C_out",
        ),
        (
            mistake(lambda ci, co, k, b: k * k * ci * co + k * k * co * b),
            "one bias per output channel, not one per kernel position: + C_out",
        ),
    ]
    check_integer(
        fn,
        "conv_params",
        ("in_channels", "out_channels", "kernel_size", "bias"),
        cases,
        "k·k·C_in·C_out + C_out (no + C_out when bias=False)",
        mistakes,
    )


def check_receptive_field(fn: Callable[..., int]) -> None:
    """Check ``fn(n_layers, kernel=3)`` = 1 + n(k − 1) for a stack of stride-1 convolutions."""
    cases = [
        ((1, 3), 3),
        ((2, 3), 5),  # two 3x3 see 5x5 (Simonyan & Zisserman 2015, Sec. 2.3)
        ((3, 3), 7),  # three see 7x7
        ((4, 3), 9),
        ((2, 5), 9),
        ((3, 7), 19),
        ((0, 3), 1),  # no layers: a pixel sees itself
        ((2,), 5),  # the default kernel, 3
    ]

    def mistake(f):
        return lambda n, k=3: f(n, k)

    mistakes = [
        (
            mistake(lambda n, k: n * k),
            "you added the kernel sizes; windows overlap, each adds k − 1",
        ),
        (mistake(lambda n, k: n * (k - 1)), "you forgot the 1 (a pixel sees itself): 1 + n(k − 1)"),
        (mistake(lambda n, k: k**n), "with stride 1 the field grows linearly, not as k^n"),
        (mistake(lambda n, k: k + n * (k - 1)), "one layer too many: n layers see 1 + n(k − 1)"),
        (mistake(lambda n, k: 2 * n + 1), "you ignored kernel: each layer adds kernel − 1"),
        (mistake(lambda n, k: n + k - 1), "each layer adds k − 1, not 1: 1 + n(k − 1)"),
    ]
    check_integer(fn, "receptive_field", ("n_layers", "kernel"), cases, "1 + n·(k − 1)", mistakes)


# --- The whole network ------------------------------------------------------------------------


def check_vgg_shapes(fn: Callable[[str, int], dict]) -> None:
    """Check ``fn(arch, input_size)`` -> ``{layer name: (H, W, C)}`` for every conv and pool.

    The reference is :func:`stylelib.vgg.layer_table` (the VGG lab's arithmetic, layer by layer).
    """
    from ..vgg import layer_table

    cases = [("vgg16", 300), ("vgg16", 224), ("vgg19", 75), ("vgg16", 33)]
    for arch, size in cases:
        want = {
            r["name"]: r["output"]
            for r in layer_table(arch, size, classifier=False)
            if r["kind"] in ("conv", "pool")
        }
        got = run(fn, "vgg_shapes", ("arch", "input_size"), (arch, size))
        if not isinstance(got, dict):
            raise AssertionError(
                f"vgg_shapes returns {type(got).__name__}: return a dict "
                "{'conv1_1': (H, W, C), ...} with one entry per conv and pool"
            )
        missing = [n for n in want if n not in got]
        if missing:
            raise AssertionError(
                f"vgg_shapes({arch!r}, {size}) has no entry for {missing[:4]}"
                f"{' ...' if len(missing) > 4 else ''}: give every conv and pool"
            )
        for name, shape in want.items():
            mine = tuple(int(v) for v in got[name]) if _is_triple(got[name]) else got[name]
            if mine == shape:
                continue
            hint = "give (height, width, channels)"
            if _is_triple(mine) and mine[:2] == shape[:2]:
                hint = "the channels: block b has 64, 128, 256, 512, 512 filters"
            elif _is_triple(mine) and mine[2] == shape[2]:
                hint = (
                    "the height and width: 3x3 convolutions with padding 1 keep them, "
                    "each 2x2 pooling with stride 2 halves them (rounding down)"
                )
            raise AssertionError(
                f"vgg_shapes({arch!r}, {size})[{name!r}] is {got[name]}, expected {shape}: {hint}."
            )
    print(f"✓ vgg_shapes: correct on {len(cases)} architectures and sizes, every conv and pool")


def _is_triple(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 3


def check_network_params(fn: Callable[[str], int]) -> None:
    """Check ``fn(arch)`` = all parameters of torchvision's VGG16 / VGG19, classifier included."""
    from ..vgg import layer_table

    for arch in ("vgg16", "vgg19"):
        rows = layer_table(arch, 224)
        want = sum(r["params"] for r in rows)
        features = sum(r["params"] for r in rows if r["kind"] != "fc")
        biases = sum(r["channels_out"] for r in rows if r["kind"] in ("conv", "fc"))
        got = run(fn, "network_params", ("arch",), (arch,))
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise AssertionError(f"network_params({arch!r}) returns {got!r}: return an int")
        if got == want:
            continue
        known = {
            features: "you counted the convolutions only: add fc6 (7·7·512 → 4096), fc7 and fc8",
            want - biases: "you forgot the biases (one per output channel or unit)",
            want - features: "you counted the classifier only: add the 13 or 16 convolutions",
        }
        hint = known.get(
            int(got), "add k·k·C_in·C_out + C_out per conv and n_in·n_out + n_out per fc"
        )
        raise AssertionError(
            f"network_params({arch!r}) is {int(got):,}, expected {want:,}: {hint}."
        )
    print("✓ network_params: correct on VGG16 (138,357,544) and VGG19 (143,667,240)")
