"""Checks of lesson 01's arithmetic exercises: the sizes and counts of a convolutional network.

One convolution's output size and parameter count and a stack's receptive field, each against
its closed form; then VGG's shapes layer by layer and its parameter count, against
:func:`stylelib.layers.layer_table`. Every answer must be a Python ``int`` (not a float, not a
numpy or torch number), and may not call :mod:`stylelib.layers` or :mod:`stylelib.vgg`, which
hold the reference table.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

from .. import layers, vgg
from .guard import Foreign
from .harness import describe, run

# The library's answers: the layer table lives in ``layers`` and is re-exported by ``vgg``.
FORBID = (layers, vgg)


def torchvision_vgg(why: str) -> Foreign:
    """torchvision's VGG as forbidden code: its builders (``torchvision.models.vgg``: vgg16,
    make_layers, VGG) and its model and weight registry (``torchvision.models._api``:
    get_model, ``VGG16_Weights...meta["num_params"]``), which hand over the answer of
    lesson 01's VGG exercises in one line. Found without importing torchvision (slow to
    import); reading its configuration list ``cfgs`` calls nothing and stays allowed."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return Foreign(frozenset(), why)
    models = os.path.join(next(iter(spec.submodule_search_locations)), "models")
    files = (os.path.realpath(os.path.join(models, f)) for f in ("vgg.py", "_api.py"))
    return Foreign(frozenset(files), why)


# The two exercises whose answer torchvision holds: what to say to an answer that calls it.
COUNT_YOURSELF = torchvision_vgg(
    "torchvision's VGG, which counts for you: the exercise is the arithmetic, "
    "k·k·C_in·C_out + C_out per convolution and n_in·n_out + n_out per fully connected layer"
)

# A formula of a few integers takes microseconds; building a network to read a number off it
# (even torchvision's conv layers on the CPU) well under a second. 10 s is for a busy grader.
INTEGER_SECONDS = 10.0
# Building torchvision's VGG16 or VGG19 on the CPU allocates and initialises 138-144 M
# parameters: 1-3 s on a laptop CPU, several times that on a busy grader.
NETWORK_SECONDS = 60.0
BUILD_ADVICE = (
    "building a full VGG allocates and initialises about 140 M parameters; build it on the "
    "meta device (with torch.device('meta'): ...), which allocates nothing, or use the formula"
)

# --- Whole numbers: what is wrong with an answer that is not a Python int ----------------------


def not_an_int(value: Any, float_advice: str) -> tuple[str, str] | None:
    """``(what it is, what to do)`` if ``value`` is not a Python int, else None.

    ``what`` reads ``"37.5, a float and not a whole number"``, ``"np.int64(38), a numpy
    scalar"`` or ``"a numpy array of shape (3,)"``; ``float_advice`` is for floats.
    """
    if isinstance(value, bool):
        return f"{value}, a bool", "return the number itself, a Python int"
    if isinstance(value, int):
        return None
    if value is None:
        return "None", "is the return statement missing? Return a Python int"
    if type(value).__module__.split(".")[0] == "numpy":
        if type(value).__name__ != "ndarray":  # np.int64(38), np.float64(37.5) (a float too)
            return (
                f"{value!r}, a numpy scalar{_fraction(value.item())}",
                "compute with Python ints, not numpy (or convert a whole number with int(...))",
            )
        return f"a numpy array of shape {value.shape}", "return one Python int, not an array"
    if isinstance(value, float):
        return f"{value!r}, a float{_fraction(value)}", f"{float_advice} to return an int"
    if isinstance(value, Tensor):
        if value.is_meta:
            return "a tensor on the meta device, which holds no value", "return a Python int"
        if value.numel() == 1:
            number = value.item()
            return (
                f"tensor({number!r}), a torch tensor{_fraction(number)}",
                "compute with Python ints (a shape's entries are ints already) or convert "
                "a whole number with int(...)",
            )
        return f"a tensor of shape {tuple(value.shape)}", "return one Python int, not a tensor"
    if isinstance(value, str):
        return f"{value!r}, a str", "return the number itself, not its text"
    return f"a {type(value).__name__}", "return a Python int"


def _fraction(number: Any) -> str:
    fraction = isinstance(number, float) and not number.is_integer()
    return " and not a whole number" if fraction else ""


def run_work(
    fn: Callable,
    name: str,
    arg_names: Sequence[str],
    args: Sequence[Any],
    *,
    limit: float,
    slow: str,
    also: Sequence[Foreign] = (),
) -> Any:
    """:func:`~.harness.run` with ``forbid=FORBID`` (and ``also``) and a time limit that fits
    the work; a time-out says ``slow`` (the likely cause for this exercise) instead of the
    harness's advice.
    """
    return run(fn, name, arg_names, args, forbid=(*FORBID, *also), limit=limit, slow=slow)


# --- The driver of the whole-number exercises ---------------------------------------------------


def check_integer(
    fn: Callable,
    name: str,
    arg_names: Sequence[str],
    cases: Sequence[tuple[tuple, int]],
    formula: str,
    mistakes: Sequence[tuple[Callable[..., int], str]],
    float_hint: str = "use integer arithmetic (k * k, not math.pow or /)",
) -> None:
    """Compare ``fn(*args)`` with each expected int; name a mistake that explains all answers.

    Each answer must be a Python ``int``; ``fn`` may not call :data:`FORBID`'s modules.
    """
    if not callable(fn):
        raise AssertionError(f"expected your {name} function, got {type(fn).__name__}")
    answers = []
    for args, _ in cases:
        names = arg_names[: len(args)]
        got = run_work(
            fn,
            name,
            names,
            args,
            limit=INTEGER_SECONDS,
            slow="a few integer operations take microseconds, so some loop does not end",
        )
        problem = not_an_int(got, float_hint)
        if problem:
            what, advice = problem
            raise AssertionError(
                f"{name}({describe(names, args)}) returns {what}: {advice}; "
                f"the formula is {formula}."
            )
        answers.append(got)
    wrong = [
        i for i, (got, (_, want)) in enumerate(zip(answers, cases, strict=True)) if got != want
    ]
    if not wrong:
        print(f"✓ {name}: correct on {len(cases)} cases")
        return
    args, want = cases[wrong[0]]
    where = describe(arg_names[: len(args)], args)
    example = f"for {where} you return {answers[wrong[0]]}, expected {want}"
    for mistake, message in mistakes:
        if all(mistake(*a) == got for (a, _), got in zip(cases, answers, strict=True)):
            raise AssertionError(f"{name}: {message} ({example}).")
    raise AssertionError(f"{name}: {example}; the formula is {formula}.")


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

ARGS = ("arch", "input_size")
AXES = ("height", "width", "channels")
SHAPE_FLOAT_ADVICE = "use floor division // (or your conv_output_size), not /,"


def check_vgg_shapes(fn: Callable[[str, int], dict]) -> None:
    """Check ``fn(arch, input_size)`` -> ``{layer name: (H, W, C)}`` for every conv and pool.

    The reference is :func:`stylelib.layers.layer_table` (the VGG lab's arithmetic, layer by
    layer); every entry of every shape must be a Python int. The first wrong entry in forward
    order is reported, with what its layer should do to the (right) shape before it.
    """
    if not callable(fn):
        raise AssertionError(f"expected your vgg_shapes function, got {type(fn).__name__}")
    cases = [("vgg16", 300), ("vgg16", 224), ("vgg19", 75), ("vgg16", 33)]
    for arch, size in cases:
        rows = [r for r in layers.layer_table(arch, size, classifier=False) if r["kind"] != "relu"]
        call = f"vgg_shapes({arch!r}, {size})"
        got = run_work(
            fn, "vgg_shapes", ARGS, (arch, size), limit=NETWORK_SECONDS, slow=BUILD_ADVICE
        )
        if not isinstance(got, dict):
            what = (not_an_int(got, "") or (f"a {type(got).__name__}",))[0]
            raise AssertionError(
                f"{call} returns {what}: return a dict {{'conv1_1': (H, W, C), ...}} with one "
                "entry per conv and pool."
            )
        missing = [r["name"] for r in rows if r["name"] not in got]
        if missing:
            raise AssertionError(
                f"{call} has no entry for {missing[:4]}{' ...' if len(missing) > 4 else ''}: "
                "give every conv and pool."
            )
        before = (size, size, 3)
        for row in rows:
            mine = got[row["name"]]
            problem = _shape_problem(mine, row, before)
            if problem:
                raise AssertionError(
                    f"{call}[{row['name']!r}] is {_short(mine)}, expected {row['output']}: "
                    f"{problem}."
                )
            before = row["output"]
    print(f"✓ vgg_shapes: correct on {len(cases)} architectures and sizes, every conv and pool")


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_problem(mine: Any, row: dict, before: tuple[int, int, int]) -> str | None:
    """What is wrong with one layer's ``(H, W, C)``, given the right shape of its input."""
    want, n, kind = row["output"], before[0], row["kind"]
    if not isinstance(mine, (tuple, list)) or len(mine) != 3:
        what = (not_an_int(mine, "") or (f"a {type(mine).__name__}",))[0]
        if isinstance(mine, (tuple, list)):
            what = f"a {type(mine).__name__} of {len(mine)} entries"
        return f"it is {what}: give a tuple of three Python ints (height, width, channels)"
    for axis, value in zip(AXES, mine, strict=True):
        problem = not_an_int(value, SHAPE_FLOAT_ADVICE)
        if problem:
            return f"its {axis} is {problem[0]}: {problem[1]}"
    if tuple(mine) == tuple(want):
        return None
    if tuple(mine) == (want[2], want[0], want[1]):
        return "you gave (channels, height, width), PyTorch's order; give (height, width, channels)"
    wrong = [axis for axis, a, b in zip(AXES, mine, want, strict=True) if a != b]
    if wrong == ["channels"]:
        block = layers.block_of(row["name"])
        does = "has" if kind == "conv" else "keeps the channels of its block,"
        return (
            f"the channels: {row['name']} {does} {want[2]} (blocks 1-5 have 64, 128, 256, 512, "
            f"512 filters; this is block {block})"
        )
    axes = " and ".join(wrong)
    if kind == "conv":
        hint = f"a 3x3 convolution with padding 1 keeps {n} x {n}"
        if mine[0] == n - 2:
            hint += "; yours shrinks by 2, as without padding (p = 1 on both sides: n + 2p)"
        return f"the {axes}: {hint}"
    hint = f"a 2x2 pooling with stride 2 halves {n} to {n // 2}, rounding down"
    if mine[0] == n:
        hint += "; yours does not halve"
    elif mine[0] == -(-n // 2):
        hint += f"; yours rounds {n}/2 up"
    return f"the {axes}: {hint}"


def check_network_params(fn: Callable[[str], int]) -> None:
    """Check ``fn(arch)`` = all parameters of torchvision's VGG16 / VGG19, classifier included.

    A Python int is required. Refused: counting torchvision's own network
    (``sum(p.numel() for p in vgg16().parameters())``, ``get_model``) or reading the count off
    its weights' metadata (``VGG16_Weights.IMAGENET1K_V1.meta["num_params"]``): those one-liners
    skip the arithmetic the exercise is about (:data:`COUNT_YOURSELF`). Allowed: building one's
    own network from ``nn`` layers and counting it (the time limit is
    :data:`NETWORK_SECONDS`), or reading torchvision's configuration list ``cfgs``.
    """
    if not callable(fn):
        raise AssertionError(f"expected your network_params function, got {type(fn).__name__}")
    counts = {arch: _counts(arch) for arch in ("vgg16", "vgg19")}
    for arch, other in (("vgg16", "vgg19"), ("vgg19", "vgg16")):
        got = run_work(
            fn,
            "network_params",
            ("arch",),
            (arch,),
            limit=NETWORK_SECONDS,
            slow=BUILD_ADVICE,
            also=(COUNT_YOURSELF,),
        )
        problem = not_an_int(
            got, "count with Python ints (p.numel() and sums of ints are ints; no / or float)"
        )
        if problem:
            raise AssertionError(f"network_params({arch!r}) returns {problem[0]}: {problem[1]}.")
        count = counts[arch]
        if got == count["all"]:
            continue
        depths = "2, 2, 4, 4, 4" if arch == "vgg19" else "2, 2, 3, 3, 3"
        known = {
            count["features"]: "you counted the convolutions only: add fc6 (7·7·512 → 4096), "
            "fc7 (4096 → 4096) and fc8 (4096 → 1000)",
            count["all"] - count["biases"]: "you forgot the biases (one per output channel or "
            "unit)",
            count["classifier"]: "you counted the classifier only: add the convolutions",
            count["all"] - count["fc8"]: "you forgot fc8 (4096 → 1000 classes)",
            count["all"] + count["batch_norm"]: "you counted batch norm parameters: VGG16 and "
            "VGG19 have none (those are vgg16_bn and vgg19_bn)",
            count["fc6_at_300"]: "fc6 has 7·7·512 = 25,088 inputs whatever the image size "
            "(torchvision pools to 7 x 7 first), not 9·9·512",
            counts[other]["all"]: f"that is {other.upper()}'s count: {arch.upper()} has "
            f"{depths} convolutions per block",
        }
        hint = known.get(got, "add k·k·C_in·C_out + C_out per conv and n_in·n_out + n_out per fc")
        raise AssertionError(
            f"network_params({arch!r}) is {got:,}, expected {count['all']:,}: {hint}."
        )
    print("✓ network_params: correct on VGG16 (138,357,544) and VGG19 (143,667,240)")


def _counts(arch: str) -> dict[str, int]:
    """The right count of ``arch`` and the counts that known mistakes give."""
    rows = layers.layer_table(arch, 224)
    total = sum(r["params"] for r in rows)
    fc6_inputs = 512 * 7 * 7
    return {
        "all": total,
        "features": sum(r["params"] for r in rows if r["kind"] != "fc"),
        "classifier": sum(r["params"] for r in rows if r["kind"] == "fc"),
        "biases": sum(r["channels_out"] for r in rows if r["kind"] in ("conv", "fc")),
        "fc8": rows[-1]["params"],
        "batch_norm": sum(2 * r["channels_out"] for r in rows if r["kind"] == "conv"),
        "fc6_at_300": total + (512 * 9 * 9 - fc6_inputs) * 4096,
    }


__all__ = [
    "check_conv_output_size",
    "check_conv_params",
    "check_receptive_field",
    "check_vgg_shapes",
    "check_network_params",
]
