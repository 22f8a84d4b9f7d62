"""Checks of lesson 01's VGG-16 exercise: the network as an nn.Sequential.

The exercise: ``vgg16_features()`` returns VGG-16's convolutional part (Simonyan & Zisserman
2015, Table 1, column D: thirteen 3x3 convolutions with padding 1, each followed by a ReLU,
and a 2x2 max pooling with stride 2 after each of the five blocks) as one flat
``nn.Sequential`` whose module indices are torchvision's, so that
``torchvision.models.vgg16().features.state_dict()`` loads into it with ``strict=True``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .. import layers
from .arithmetic import NETWORK_SECONDS, run_work, torchvision_vgg
from .harness import RTOL, SEED, raised, randn

NAME = "vgg16_features"
ARCH = "vgg16"
# Small seeded images, so the check takes a second or two on a CPU: a square one, then a batch
# of two non-square ones. No side is a multiple of 32, so some pooling meets an odd size and
# rounds down (40 -> 20 -> 10 -> 5 -> 2 -> 1, 36 -> ... -> 9 -> 4 -> 2 -> 1, 44 -> ... -> 11
# -> 5 -> 2 -> 1). The gradient with respect to the image is compared on a third one.
INPUTS = ((1, 3, 40, 40), (2, 3, 36, 44))
GRADIENT_INPUT = (1, 3, 32, 32)
BUILD_SLOW = (
    "building VGG-16's convolutional part (14.7 M parameters) takes well under a second and "
    "torchvision's whole vgg16() a few seconds: does your function run something large as well?"
)
FORWARD_SECONDS = 20.0  # a forward pass on these images takes ~0.1 s with nn layers
FORWARD_SLOW = "a forward pass on this small image takes well under a second with nn layers"
# torchvision's builders return this very network in one line: the exercise is to write it.
BUILD_YOURSELF = torchvision_vgg(
    "torchvision's VGG, the answer key of this exercise: build the 31 layers yourself, in a "
    "loop over the blocks (nn.Conv2d(C_in, C_out, kernel_size=3, padding=1), nn.ReLU(), "
    "nn.MaxPool2d(kernel_size=2, stride=2))"
)

_ACTIVATIONS = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.PReLU,
    nn.Hardtanh,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Threshold,
)
_POOLS = (
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.LPPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.FractionalMaxPool2d,
)
_NORMS = (
    nn.BatchNorm2d,
    nn.InstanceNorm2d,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
    nn.SyncBatchNorm,
)
_DROPOUTS = (nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def check_vgg16_sequential(fn: Callable[[], nn.Sequential]) -> None:
    """Check ``fn()``: VGG-16's ``features`` as an ``nn.Sequential`` that torchvision's loads.

    The check draws seeded random weights for torchvision's ``vgg16().features``, loads its
    state dict into the student's network (``strict=True``: same keys, same shapes), and
    compares the two networks' outputs on two small images and their gradients with respect
    to the image on a third. When something differs it names the first module that is not
    VGG-16's (by index and by the paper's layer name), and for a state dict that does not
    load, the keys that do not fit.

    Allowed: any way of building the layers from ``nn`` modules (a loop, a list written out,
    a configuration list such as torchvision's ``cfgs["D"]`` read by one's own loop).
    ``nn.ReLU(inplace=True)`` (torchvision's choice) and one ReLU module reused at every
    position are fine: a ReLU holds no state.
    Frozen parameters (``requires_grad=False``) are fine too: whether VGG trains is the
    caller's choice (style transfer freezes it), not part of the architecture or of its state
    dict, and the gradient still reaches the image. Refused, while building the network or
    while running it: calling :mod:`stylelib.layers` or :mod:`stylelib.vgg` (``build_features``
    is the library's own answer), and calling torchvision's VGG (``vgg16().features``, a copy
    of it, ``make_layers(cfgs["D"])``, ``get_model("vgg16")``: :data:`BUILD_YOURSELF`), which
    is the answer in one line. Not caught: a torchvision network built *outside* the function
    and copied inside it (the check sees only what the function runs).
    """
    if not callable(fn):
        raise AssertionError(f"expected your {NAME} function, got {type(fn).__name__}")
    net = run_work(fn, NAME, (), (), limit=NETWORK_SECONDS, slow=BUILD_SLOW, also=(BUILD_YOURSELF,))
    problem = _container_problem(net) or _setup_problem(net)
    if problem:
        raise AssertionError(f"{NAME}() returns {problem}.")
    reference = _torchvision_features(SEED)
    state = reference.state_dict()
    theirs = net.state_dict()
    misfit = _misfit(state, theirs)
    if misfit:
        cause = _nesting_problem(net) or _layer_problem(net) or "torchvision's keys do not fit"
        raise AssertionError(
            f"{NAME}(): {cause}; torchvision's state dict does not load ({misfit})."
        )
    try:
        net.load_state_dict(state, strict=True)
    except Exception as error:  # noqa: BLE001 - reported to the student in one line
        raise AssertionError(raised(f"{NAME}().load_state_dict(torchvision's)", error)) from None
    for index, shape in enumerate(INPUTS):
        x = randn(shape, torch.float32, SEED + index)
        out = _forward(net, x)
        with torch.no_grad():
            want = reference(x)
        problem = _output_problem(out, want)
        if problem:
            cause = _layer_problem(net) or problem
            raise AssertionError(f"{NAME}(): {cause} (on an image {shape}).")
    _check_gradient(net, reference)
    print(
        f"✓ {NAME}: correct on {len(INPUTS)} inputs, batched: torchvision's vgg16().features "
        "state dict loads (strict), same outputs, same gradient with respect to the image"
    )


# --- The reference ------------------------------------------------------------------------------


def _torchvision_features(seed: int) -> nn.Sequential:
    """torchvision's ``vgg16().features`` with seeded random weights: He-scaled kernels (the
    activations keep their size through 13 layers) and biases that are not zero."""
    import torchvision  # here, not at the top: it takes a second or two to import

    with torch.device("meta"):  # nothing spent on the classifier's 124 M parameters
        features = torchvision.models.vgg16(weights=None).features
    features = features.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in features:
            if isinstance(module, nn.Conv2d):
                scale = math.sqrt(2 / module.weight[0].numel())
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * scale)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
    return features.eval()


# --- Running the student's network --------------------------------------------------------------


def _forward(net: nn.Module, x: Tensor) -> object:
    """``net(x)`` through the harness; a failing forward pass is explained by its layers."""
    try:
        return run_work(
            net,
            f"{NAME}()",
            ("x",),
            (x,),
            limit=FORWARD_SECONDS,
            slow=FORWARD_SLOW,
            also=(BUILD_YOURSELF,),
        )
    except AssertionError as error:
        cause = _layer_problem(net) if " raised " in str(error) else None
        if cause is None:
            raise
        raise AssertionError(
            f"{NAME}(): {cause}; its forward pass fails on an image {tuple(x.shape)}."
        ) from None


def _output_problem(out: object, want: Tensor) -> str | None:
    if not isinstance(out, Tensor):
        return (
            f"the network returns a {type(out).__name__}, not a tensor: each module passes one "
            "tensor to the next, and the last one's is the output"
        )
    if out.shape != want.shape:
        return f"the output has shape {tuple(out.shape)}, torchvision's {tuple(want.shape)}"
    diff = (out.detach().double() - want.double()).abs().max().item()
    scale = want.abs().max().item()
    if diff <= RTOL[torch.float32] * scale + 1e-6:
        return None
    return (
        f"with torchvision's weights loaded, the outputs differ from its by up to {diff:.3g} "
        f"where they reach {scale:.3g}"
    )


def _check_gradient(net: nn.Module, reference: nn.Sequential) -> None:
    """The gradient with respect to the image, which style transfer follows, must be VGG's."""
    x = randn(GRADIENT_INPUT, torch.float32, SEED + len(INPUTS), grad=True)
    out = _forward(net, x)
    cut = (
        f"{NAME}(): the output does not reach back to the image, so no gradient can flow to "
        "the pixels: remove .detach(), torch.no_grad() or .data from the network"
    )
    if not isinstance(out, Tensor) or out.grad_fn is None:
        raise AssertionError(f"{cut} (its output has no grad_fn).")
    weight = randn(out.shape, torch.float32, SEED)  # a random direction to back-propagate
    try:  # a graph cut part-way still has a grad_fn (the later layers' weights)
        (grad,) = torch.autograd.grad((out * weight).sum(), x, allow_unused=True)
    except Exception as e:  # noqa: BLE001 - the answer's graph failed: say so in one line
        raise AssertionError(f"{NAME}(): {raised('back-propagating its output', e)}.") from None
    if grad is None:
        raise AssertionError(f"{cut} (a module part-way cuts the graph).")
    x_ref = x.detach().clone().requires_grad_(True)
    (want,) = torch.autograd.grad((reference(x_ref) * weight).sum(), x_ref)
    diff, scale = (grad - want).abs().max().item(), want.abs().max().item()
    if diff > RTOL[torch.float32] * scale + 1e-6:
        raise AssertionError(
            f"{NAME}(): the outputs are right but the gradient with respect to the image is "
            f"off by up to {diff:.3g} where it reaches {scale:.3g}: is part of the forward pass "
            "detached, or does a module have its own backward?"
        )


# --- What is wrong: the container, then module by module ----------------------------------------


def _container_problem(net: object) -> str | None:
    if isinstance(net, nn.Sequential):
        return None
    if isinstance(net, nn.ModuleList):
        return (
            "an nn.ModuleList: it holds the layers but has no forward, so it cannot run an "
            "image; wrap them in nn.Sequential(*layers)"
        )
    if isinstance(net, (list, tuple)):
        return (
            f"a {type(net).__name__} of {len(net)} items, not an nn.Sequential: wrap the layers, "
            "nn.Sequential(*layers)"
        )
    if isinstance(net, nn.Module) and isinstance(getattr(net, "features", None), nn.Sequential):
        return (
            f"a whole {type(net).__name__} (features, pooling, classifier): return only its "
            "convolutional part, the nn.Sequential called features"
        )
    if isinstance(net, nn.Module):
        return (
            f"a {type(net).__name__}, not an nn.Sequential: put the 31 layers in "
            "nn.Sequential(...), whose indices 0-30 make the keys of torchvision's state dict"
        )
    if net is None:
        return "None: is the return statement missing? Return the nn.Sequential"
    if isinstance(net, type):
        return f"the class {net.__name__}, not a network: return an instance, built with (...)"
    kind = "numpy array" if type(net).__module__.startswith("numpy") else type(net).__name__
    return f"a {kind}: return an nn.Sequential of VGG-16's layers"


def _setup_problem(net: nn.Sequential) -> str | None:
    """Shared convolutions, and parameters that are not float32 on the CPU."""
    seen: dict[int, int] = {}
    for index, module in enumerate(net):
        if next(module.parameters(), None) is None:
            continue  # a ReLU or a pooling may be one module used at every position
        if id(module) in seen:
            first = seen[id(module)]
            return (
                f"a network whose modules {first} and {index} are one and the same "
                f"{type(module).__name__} object ({_ref_name(first)} and {_ref_name(index)}), "
                "so they share their weights: create a new layer for each position (a list "
                "repeated with * holds one object several times)"
            )
        seen[id(module)] = index
    for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
        if (tensor.is_floating_point() and tensor.dtype != torch.float32) or not tensor.is_cpu:
            where = "the meta device (no values)" if tensor.is_meta else f"{tensor.device}"
            return (
                f"a network whose {name} is {str(tensor.dtype).removeprefix('torch.')} on "
                f"{where}: build it in float32 on the CPU, the defaults and torchvision's "
                "(whoever uses it moves it with .to(device))"
            )
    return None


def _misfit(state: dict, theirs: dict) -> str:
    """The keys of ``state`` that do not fit ``theirs``: missing, unexpected, other shapes."""
    missing = [repr(k) for k in state if k not in theirs]
    unexpected = [repr(k) for k in theirs if k not in state]
    shapes = [
        f"{k!r} {tuple(theirs[k].shape)} for torchvision's {tuple(state[k].shape)}"
        for k in state
        if k in theirs and theirs[k].shape != state[k].shape
    ]
    parts = []
    named = (("missing", missing), ("unexpected", unexpected))
    for label, items in named if missing or unexpected else (("yours", shapes),):
        if items:
            more = f" and {len(items) - 1} more" if len(items) > 1 else ""
            parts.append(f"{label} {items[0]}{more}")
    return "; ".join(parts)


def _nesting_problem(net: nn.Sequential) -> str | None:
    """Blocks inside the Sequential, or layers named instead of numbered: other keys."""
    names = list(net._modules)
    if names != [str(i) for i in range(len(names))]:
        return (
            f"your layers are named ({', '.join(map(repr, names[:2]))}, ...), so the keys read "
            f"'{names[0]}.weight' where torchvision's read '0.weight': keep nn.Sequential's "
            "numbering, nn.Sequential(*layers)"
        )
    for index, module in enumerate(net):
        inner = list(module.children())
        if inner and next(module.parameters(), None) is not None:
            return (
                f"module {index} is itself a {type(module).__name__} of {len(inner)} modules (a "
                f"block), so its keys read '{index}.0.weight' where torchvision's one flat "
                "network has '0.weight': put all 31 layers in one nn.Sequential(*layers)"
            )
    return None


def _layer_problem(net: nn.Sequential) -> str | None:
    """The first module of ``net`` that is not VGG-16's, in words, or None."""
    modules, reference = list(net), layers.layers(ARCH)
    if not modules:
        return "your nn.Sequential is empty: put VGG-16's 31 layers in it"
    for index, want in enumerate(reference):
        if index == len(modules):
            return (
                f"your network stops after module {index - 1}: VGG-16's features have 31 "
                f"modules, from conv1_1 (0) to pool5 (30), and {want.name} ({_show_ref(want)}) "
                "is missing"
            )
        problem = _module_problem(index, modules[index], want)
        if problem:
            return problem
    if len(modules) > len(reference):
        return (
            f"module 31 is {_show(modules[31])}, after pool5: VGG-16's features end with pool5 "
            "(module 30); the adaptive pooling and the classifier come after features"
        )
    return None


def _module_problem(index: int, got: nn.Module, want: layers.Layer) -> str | None:
    kind = _kind(got)
    if kind != want.kind:
        return (
            f"module {index} is {_show(got)} where VGG-16 has {want.name}, "
            f"{_show_ref(want)}: {_shift_hint(kind, want)}"
        )
    here = f"{want.name} (module {index})"
    if kind == "conv":
        return _conv_problem(here, got, want)
    if kind == "relu" and not isinstance(got, nn.ReLU):
        return f"{here} is {type(got).__name__}: VGG uses nn.ReLU, max(0, x)"
    if kind == "pool":
        return _pool_problem(here, got)
    return None


def _conv_problem(here: str, got: nn.Conv2d, want: layers.Layer) -> str | None:
    block = layers.block_of(want.name)
    if (got.in_channels, got.out_channels) != (want.in_channels, want.out_channels):
        return (
            f"{here} maps {got.in_channels} -> {got.out_channels} channels, VGG-16's "
            f"{want.in_channels} -> {want.out_channels}: block {block} has {want.out_channels} "
            "filters (64, 128, 256, 512, 512 by block), and each convolution takes the channels "
            "of the one before"
        )
    if got.kernel_size != (3, 3):
        size = "x".join(map(str, got.kernel_size))
        return f"{here} has a {size} kernel: VGG uses 3x3 kernels throughout"
    if got.bias is None:
        return (
            f"{here} has no bias (bias=False): VGG's convolutions have one per filter, and "
            "torchvision's state dict holds it"
        )
    if got.padding not in ((1, 1), "same"):
        return (
            f"{here} has padding {got.padding}: VGG pads each side by 1 (padding=1), so that a "
            "3x3 convolution keeps the height and width"
        )
    if got.padding_mode != "zeros":
        return (
            f"{here} pads with {got.padding_mode!r}: VGG pads with zeros (padding_mode='zeros', "
            "the default)"
        )
    if got.stride != (1, 1) or got.dilation != (1, 1) or got.groups != 1:
        return (
            f"{here} has stride {got.stride}, dilation {got.dilation}, groups {got.groups}: "
            "VGG's convolutions use the defaults (1, 1, 1); only the poolings shrink the image"
        )
    return None


def _pool_problem(here: str, got: nn.Module) -> str | None:
    if isinstance(got, nn.AvgPool2d):
        return (
            f"{here} is average pooling: VGG-16 uses max pooling, nn.MaxPool2d(2, 2) (average "
            "pooling is Gatys et al.'s change for image synthesis, not part of VGG)"
        )
    if not isinstance(got, nn.MaxPool2d):
        return f"{here} is {type(got).__name__}: VGG uses nn.MaxPool2d(2, 2)"
    kernel, stride, padding = _pair(got.kernel_size), _pair(got.stride), _pair(got.padding)
    if (kernel, stride, padding, _pair(got.dilation)) != ((2, 2), (2, 2), (0, 0), (1, 1)):
        return (
            f"{here} has kernel {kernel}, stride {stride}, padding {padding}: VGG "
            "takes the maximum of 2x2 windows with stride 2 and no padding, nn.MaxPool2d(2, 2)"
        )
    if got.ceil_mode:
        return (
            f"{here} has ceil_mode=True, which rounds odd sizes up: VGG's pooling rounds down "
            "(the default)"
        )
    return None


def _kind(module: nn.Module) -> str:
    """conv, relu (any activation), pool (any pooling), norm, dropout, or the type's name."""
    for kind, types in (
        ("conv", nn.Conv2d),
        ("relu", _ACTIVATIONS),
        ("pool", _POOLS),
        ("norm", _NORMS),
        ("dropout", _DROPOUTS),
    ):
        if isinstance(module, types):
            return kind
    return type(module).__name__


def _shift_hint(kind: str, want: layers.Layer) -> str:
    """Why a module of ``kind`` where ``want`` belongs is wrong (and that the indices shift)."""
    block = layers.block_of(want.name)
    depth = layers.BLOCK_DEPTHS[ARCH][block - 1]
    shift = "and an extra module shifts every later index"
    if kind == "norm":
        return f"VGG-16 has no normalisation layers (vgg16_bn is another network), {shift}"
    if kind == "dropout":
        return f"VGG's dropout is in the classifier, not in features, {shift}"
    if want.kind == "relu":
        return (
            "every convolution is followed by its ReLU, and a missing one shifts every later index"
        )
    if want.kind == "pool" and kind == "conv":
        return (
            f"block {block} of VGG-16 has {depth} convolutions, then its max pooling (Table 1, "
            f"column D: 2, 2, 3, 3, 3; VGG-19's column E has 4 in blocks 3-5)"
        )
    if want.kind == "conv" and kind == "pool":
        return (
            f"block {block} of VGG-16 has {depth} convolutions before its pooling; one is missing"
        )
    return (
        "VGG-16's features are five blocks of conv, ReLU, ..., max pool, and a module out of "
        "place shifts every later index"
    )


def _pair(value: int | tuple) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _show(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        size = "x".join(map(str, module.kernel_size))
        return f"Conv2d({module.in_channels}, {module.out_channels}, {size})"
    text = repr(module)
    return text if "\n" not in text and len(text) <= 50 else type(module).__name__


def _show_ref(layer: layers.Layer) -> str:
    return {
        "conv": f"Conv2d({layer.in_channels}, {layer.out_channels}, 3, padding=1)",
        "relu": "ReLU",
        "pool": "MaxPool2d(2, 2)",
    }[layer.kind]


def _ref_name(index: int) -> str:
    names = layers.layer_names(ARCH)
    return names[index] if index < len(names) else f"module {index}"


__all__ = ["check_vgg16_sequential"]
