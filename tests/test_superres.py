"""Tests for stylelib.superres: the network, the degradation, the metrics and the training.

Oracles: a parameter count done by hand from the layer list of Johnson et al.'s
supplementary material; the degradation against scipy's Gaussian filter and the closed form
of a bicubic downsampling by an integer factor (a fixed four-tap filter per block, written
out here); PSNR against its definition in numpy and against scikit-image; training runs
against their own uninterrupted twin (bit-identical resume). What is not checked: that a
trained network upscales well (that needs pretrained VGG weights, COCO and a GPU-day).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import ndimage

from stylelib.blocks import count_parameters
from stylelib.checkpoints import CheckpointError, save_checkpoint, training_state
from stylelib.data import procedural_style
from stylelib.errors import Diverged, ImageError, StylelibError
from stylelib.images import save_image
from stylelib.johnson.config import CHECKPOINT as JOHNSON
from stylelib.johnson.config import JohnsonConfig
from stylelib.johnson.network import TransformerNet
from stylelib.superres.config import CHECKPOINT as SR_CHECKPOINT
from stylelib.superres.config import PARAMETERS, SRConfig
from stylelib.superres.degrade import bicubic_upscale, crop_to_multiple, degrade, gaussian_kernel
from stylelib.superres.network import SRNet, match_histograms, parameter_table, upscale_image
from stylelib.superres.quality import measure, psnr
from stylelib.superres.train import loss_network, sr_loss, train_sr
from stylelib.trainset import CropDataset, list_images


def rand(*shape, seed=0, dtype=torch.float32):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- the network ------------------------------------------------------------------------------


def hand_count(factor: int, upsample: str = "transpose") -> int:
    """Parameters of the supplementary material's table, layer by layer (batch norm: 2C).

    The sub-pixel convolution's 3x3 kernel makes 4 x 64 channels (PixelShuffle then turns
    them into 64 at twice the size); the other two upsamplers make 64 directly.
    """
    conv = lambda k, c_in, c_out: k * k * c_in * c_out + c_out  # noqa: E731
    norm = 2 * 64
    head = conv(9, 3, 64) + norm
    block = 2 * (conv(3, 64, 64) + norm)
    up = conv(3, 64, 4 * 64 if upsample == "subpixel" else 64) + norm
    tail = conv(9, 64, 3)
    return head + 4 * block + int(np.log2(factor)) * up + tail


@pytest.mark.parametrize("factor", [4, 8])
@pytest.mark.parametrize("norm", ["batch", "instance"])
@pytest.mark.parametrize("upsample", ["transpose", "resize", "subpixel"])
def test_output_is_factor_times_larger_and_parameters_match_a_hand_count(factor, norm, upsample):
    torch.manual_seed(0)
    net = SRNet(factor, norm, upsample).eval()
    with torch.no_grad():
        out = net(rand(2, 3, 9, 13))
    assert out.shape == (2, 3, 9 * factor, 13 * factor)
    assert 0 <= out.min() and out.max() <= 1
    assert count_parameters(net) == hand_count(factor, upsample)
    if upsample != "subpixel":
        assert count_parameters(net) == PARAMETERS[factor]
    assert f"factor={factor}" in repr(net)


def test_pixel_shuffle_puts_channel_groups_into_two_by_two_blocks():
    """Shi et al. 2016, Sec. 2.2: C·r² channels at H x W -> C channels at rH x rW; output
    channel c's block at (i, j) is input channel r²c + r·(i mod r) + (j mod r). Written out
    by loops here, against torch's PixelShuffle that SubPixelConv uses."""
    x = rand(1, 8, 3, 4)
    out = torch.nn.PixelShuffle(2)(x)
    assert out.shape == (1, 2, 6, 8)
    for c in range(2):
        for i in range(6):
            for j in range(8):
                assert out[0, c, i, j] == x[0, 4 * c + 2 * (i % 2) + (j % 2), i // 2, j // 2]


def test_subpixel_starts_as_nearest_resize_of_one_convolution_so_without_checkerboard():
    """Aitken et al. 2017's initialisation: every 2x2 block of the shuffled output is constant
    at initialisation, equal to a nearest-neighbour resize of a convolution to c_out channels
    with the first sub-kernel of each group; without it the four sub-kernels differ."""
    from stylelib.superres.network import SubPixelConv

    torch.manual_seed(0)
    layer = SubPixelConv(6, 5, "batch")
    x = rand(1, 6, 7, 9)
    conv = layer[0][1]
    with torch.no_grad():
        shuffled = layer[1](layer[0](x))
        first = torch.nn.functional.conv2d(
            torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"),
            conv.weight[::4],
            conv.bias[::4],
        )
    assert torch.equal(shuffled[..., ::2, ::2], shuffled[..., 1::2, 1::2])  # constant blocks
    resized = first.repeat_interleave(2, -1).repeat_interleave(2, -2)
    torch.testing.assert_close(shuffled, resized, rtol=0, atol=1e-6)
    torch.manual_seed(0)
    untied = SubPixelConv(6, 5, "batch", icnr=False)
    with torch.no_grad():
        blocks = untied[1](untied[0](x))
    assert (blocks[..., ::2, ::2] - blocks[..., 1::2, 1::2]).abs().max() > 1e-3
    out = layer(x)
    out.sum().backward()
    assert conv.weight.grad is not None  # tied at the start only: training unties them


def test_the_upsampler_table_matches_closed_forms():
    """Multiply-adds of a 3x3 convolution: 9 · c_in · c_out · (output pixels). Transposed: the
    kernel meets each of the s² input pixels; resize: the (2s)² pixels; sub-pixel: s² pixels
    but 4C outputs. Parameters (without batch norm): 9C² + C, and 9·4C² + 4C."""
    from stylelib.superres.network import upsampler_table

    c, s = 8, 5
    rows = {line.split()[0]: line for line in upsampler_table(c, s).splitlines()[1:]}
    expected = {
        "transpose": (9 * c * c + c, 9 * c * c * s * s),
        "resize": (9 * c * c + c, 9 * c * c * (2 * s) ** 2),
        "subpixel": (9 * c * 4 * c + 4 * c, 9 * c * 4 * c * s * s),
    }
    assert set(rows) == set(expected)
    for mode, (params, macs) in expected.items():
        assert f"(1, {c}, {2 * s}, {2 * s})" in rows[mode]
        assert rows[mode].split()[-2:] == [f"{params:,}", f"{macs:,}"]


def test_the_paper_input_size_and_the_parameter_table():
    """Sec. 4.2: 288 x 288 targets, so 72 x 72 inputs for x4 and 36 x 36 for x8."""
    for factor, side in ((4, 72), (8, 36)):
        with torch.no_grad():
            assert SRNet(factor).eval()(rand(1, 3, side, side)).shape[-1] == 288
    table = parameter_table(SRNet(8))
    assert table.splitlines()[-1].split()[-1] == f"{PARAMETERS[8]:,}"
    assert [line.split()[0] for line in table.splitlines()] == [
        "head",
        "res",
        "up",
        "tail",
        "total",
    ]


def test_the_network_trains_forward_and_backward():
    torch.manual_seed(0)
    net = SRNet(4).train()
    out = net(rand(2, 3, 8, 10))
    out.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: SRNet(3), "factor must be one of 4, 8"),
        (lambda: SRNet(True), "factor must be one of 4, 8"),
        (lambda: SRNet(4, norm="group"), "norm='group'"),
        (lambda: SRNet(4, upsample="pixelshuffle"), "upsample='pixelshuffle'"),
        (lambda: SRNet(4)(torch.rand(3, 8, 8)), "add one with x.unsqueeze(0)"),
        (lambda: SRNet(4)(torch.rand(1, 3, 4, 8)), "at least 5 px"),
        (lambda: SRNet(4)(torch.ones(1, 3, 8, 8, dtype=torch.uint8)), "x.float() / 255"),
    ],
)
def test_bad_networks_and_inputs_are_one_line_errors(make, fragment):
    with pytest.raises(ValueError) as info:
        make()
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_upscale_image_returns_float32_from_bf16_weights_close_to_fp32():
    torch.manual_seed(0)
    net = SRNet(4).eval()
    image = rand(1, 3, 12, 10)
    fp32 = upscale_image(net, image)
    bf16 = upscale_image(net.to(torch.bfloat16), image)
    assert fp32.shape == bf16.shape == (1, 3, 48, 40) and bf16.dtype == torch.float32
    assert (fp32 - bf16).abs().max() < 0.1
    with pytest.raises(ImageError, match="0-255|\\[0, 1\\]"):
        upscale_image(net, image * 255)


# --- the degradation --------------------------------------------------------------------------


def bicubic_by_blocks(image: np.ndarray, factor: int) -> np.ndarray:
    """Keys' cubic (a = -0.75) at the centres of ``factor`` x ``factor`` blocks, written out.

    Output pixel i sits at input coordinate (i + 1/2) f - 1/2 = f i + (f - 1)/2, halfway
    between pixels f i + f/2 - 1 and f i + f/2: the taps are at distances 1.5, 0.5, 0.5, 1.5.
    """
    a = -0.75

    def keys(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x**3 - (a + 3) * x**2 + 1
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a

    taps = np.array([keys(1.5), keys(0.5), keys(0.5), keys(1.5)])
    assert np.allclose(taps, [-0.09375, 0.59375, 0.59375, -0.09375]) and np.isclose(taps.sum(), 1)
    first = factor // 2 - 2  # the first of the four taps inside each block
    c, h, w = image.shape
    rows = image.reshape(c, h // factor, factor, w)[:, :, first : first + 4, :]
    rows = np.einsum("chkw,k->chw", rows, taps)
    cols = rows.reshape(c, h // factor, w // factor, factor)[..., first : first + 4]
    return np.einsum("chwk,k->chw", cols, taps)


@pytest.mark.parametrize("factor", [4, 8])
def test_degrade_is_a_gaussian_blur_then_a_bicubic_downsampling(factor):
    image = rand(2, 3, 4 * factor, 6 * factor, seed=factor, dtype=torch.float64)
    got = degrade(image, factor).numpy()
    for b in range(2):
        # scipy's "mirror" is torch's "reflect" (the edge pixel is not repeated); 3 sigma
        blurred = np.stack(
            [ndimage.gaussian_filter(ch, 1.0, mode="mirror", truncate=3.0) for ch in image[b]]
        )
        expected = np.clip(bicubic_by_blocks(blurred, factor), 0, 1)
        np.testing.assert_allclose(got[b], expected, atol=1e-12)


def test_degrade_keeps_a_constant_image_and_the_dtype():
    grey = torch.full((1, 3, 32, 24), 0.3)
    small = degrade(grey, 4)
    assert small.shape == (1, 3, 8, 6) and small.dtype == torch.float32
    assert torch.allclose(small, torch.tensor(0.3), atol=1e-6)


def test_the_gaussian_kernel_is_seven_taps_at_sigma_one():
    kernel = gaussian_kernel(1.0).numpy()
    x = np.arange(-3, 4)
    np.testing.assert_allclose(kernel, np.exp(-(x**2) / 2) / np.exp(-(x**2) / 2).sum())
    with pytest.raises(ValueError, match="sigma must be a positive"):
        gaussian_kernel(0.0)


@pytest.mark.parametrize(
    ("image", "factor", "fragment"),
    [
        (torch.rand(1, 3, 30, 32), 4, "crop_to_multiple(image, 4)"),
        (torch.rand(1, 3, 8, 8), 8, "at least 16 px"),
        (torch.rand(1, 3, 32, 32), 2, "factor must be one of 4, 8"),
        (torch.rand(1, 3, 32, 32) * 255, 4, "[0, 1]"),
    ],
)
def test_bad_degradations_are_one_line_errors(image, factor, fragment):
    with pytest.raises(ValueError) as info:
        degrade(image, factor)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_crop_to_multiple_and_bicubic_upscale_shapes():
    image = rand(1, 3, 35, 42)
    cropped = crop_to_multiple(image, 8)
    assert cropped.shape == (1, 3, 32, 40) and torch.equal(cropped, image[..., :32, :40])
    up = bicubic_upscale(degrade(cropped, 8), 8)
    assert up.shape == cropped.shape and 0 <= up.min() and up.max() <= 1


# --- quality ----------------------------------------------------------------------------------


def test_psnr_is_ten_log10_of_one_over_the_mse_per_image():
    a, b = (
        rand(3, 3, 8, 9, seed=1, dtype=torch.float64),
        rand(3, 3, 8, 9, seed=2, dtype=torch.float64),
    )
    expected = [10 * np.log10(1 / np.mean((a[i].numpy() - b[i].numpy()) ** 2)) for i in range(3)]
    np.testing.assert_allclose(psnr(a, b).numpy(), expected, rtol=1e-12)
    assert torch.isinf(psnr(a, a)).all()
    with pytest.raises(ValueError, match="one shape"):
        psnr(a, b[:, :, :4])


def test_measure_agrees_with_psnr_on_rgb_and_scikit_image_on_y():
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a, b = rand(1, 3, 20, 24, seed=3), rand(1, 3, 20, 24, seed=4)
    rgb = measure(a, b, channel="rgb")
    assert np.isclose(rgb["psnr"], psnr(a.double(), b.double()).item(), rtol=1e-6)
    y = measure(a, b)
    ya = rgb2ycbcr(a[0].permute(1, 2, 0).double().numpy())[..., 0]
    yb = rgb2ycbcr(b[0].permute(1, 2, 0).double().numpy())[..., 0]
    assert np.isclose(y["psnr"], peak_signal_noise_ratio(yb, ya, data_range=255))
    assert np.isclose(y["ssim"], structural_similarity(yb, ya, data_range=255), rtol=1e-6)
    assert measure(a, a)["ssim"] == pytest.approx(1.0)
    shaved = measure(a, b, border=4)
    assert shaved["psnr"] != y["psnr"]


def test_histogram_matching_gives_the_reference_histogram():
    image, reference = rand(1, 3, 16, 16, seed=5), rand(1, 3, 8, 8, seed=6) * 0.5
    matched = match_histograms(image, reference)
    assert matched.shape == image.shape
    assert abs(matched.mean().item() - reference.mean().item()) < 0.02


# --- training ---------------------------------------------------------------------------------


def tiny(**changes) -> SRConfig:
    """x4 on 32 px patches (8 px inputs), batch 2, a few steps, random VGG16 on the CPU."""
    base = SRConfig(
        weights="random",
        image_size=32,
        batch_size=2,
        steps=4,
        checkpoint_every=2,
        device="cpu",
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Five small non-square pictures."""
    folder = tmp_path_factory.mktemp("photos")
    for i in range(5):
        image = procedural_style(("mosaic", "waves", "strokes", "dots")[i % 4], 64, seed=i)
        save_image(image[..., : 40 + 4 * i, :], folder / f"p{i}.png")
    return folder


def digest(state: dict) -> str:
    h = hashlib.sha256()
    for key, value in state.items():
        h.update(key.encode() + value.cpu().numpy().tobytes())
    return h.hexdigest()


def test_training_with_the_pixel_loss_lowers_it_on_a_fixed_batch(photos):
    config = tiny(loss="pixel", steps=12)  # the paper's lr 1e-3: a larger one saturates the tanh
    batch = torch.stack([CropDataset(list_images(photos), 32, 5)[k][0] for k in range(2)])

    def evaluate(model):
        with torch.no_grad():
            return sr_loss(None, model.train()(degrade(batch, 4)), batch, config)[0].item()

    torch.manual_seed(config.seed)
    before = evaluate(SRNet(4))
    result = train_sr(photos, config, progress=False)
    assert result.steps == 12 and len(result.history) == 12
    assert evaluate(result.model) < before


def test_training_with_the_feature_loss_moves_every_weight(photos):
    """The feature loss reaches every weight through the frozen VGG (random here: with random
    filters a few steps need not lower it; the formula is checked below)."""
    config = tiny(steps=2)
    torch.manual_seed(config.seed)
    start = SRNet(4).state_dict()
    result = train_sr(photos, config, progress=False)
    record = result.history[-1]
    assert record["feature"] > 0 and record["pixel"] == 0 and record["tv"] > 0
    for name, value in result.model.state_dict().items():
        if name.endswith("weight"):
            assert not torch.equal(value.cpu(), start[name]), name


def test_the_losses_are_the_papers_formulas_written_out():
    config = tiny(tv_weight=1e-3)
    out, target = rand(2, 3, 32, 32, seed=7), rand(2, 3, 32, 32, seed=8)
    tv = (
        sum(
            ((out[b, :, 1:] - out[b, :, :-1]) ** 2).sum()
            + ((out[b, ..., 1:] - out[b, ..., :-1]) ** 2).sum()
            for b in range(2)
        )
        / 2
    )
    pixel_total, parts = sr_loss(None, out, target, replace(config, loss="pixel"))
    assert torch.allclose(parts["pixel"], ((out - target) ** 2).mean())
    assert torch.allclose(parts["tv"], 1e-3 * tv)
    net = loss_network(config)
    total, parts = sr_loss(net, out, target, config)
    a, b = net(out)["relu2_2"], net(target)["relu2_2"]
    per_image = [((a[i] - b[i]) ** 2).sum() / a[i].numel() for i in range(2)]
    assert torch.allclose(parts["feature"], sum(per_image) / 2)
    assert torch.allclose(total, parts["feature"] + parts["tv"])


def test_checkpoint_says_its_factor_and_loads_back(photos, tmp_path):
    out = tmp_path / "x8.pth"
    config = tiny(factor=8, image_size=48, loss="pixel", steps=2)
    result = train_sr(photos, config, out, progress=False)
    saved = torch.load(out, weights_only=True)
    assert saved["format"] == SR_CHECKPOINT.format and saved["factor"] == 8
    assert saved["config"]["factor"] == 8 and saved["step"] == 2
    net = SRNet.from_checkpoint(out)
    assert net.factor == 8 and not net.training
    image = rand(1, 3, 6, 7)
    assert torch.equal(upscale_image(net, image), upscale_image(result.model.cpu(), image))


@pytest.mark.slow
def test_interrupt_then_resume_is_bit_identical_to_an_uninterrupted_run(photos, tmp_path):
    out, full = tmp_path / "m.pth", tmp_path / "full.pth"

    def ctrl_c(step, record):
        if step == 3:
            raise KeyboardInterrupt

    config = tiny(steps=5, loss="pixel")  # the loop is the same for both losses
    stopped = train_sr(photos, config, out, progress=False, callback=ctrl_c)
    assert stopped.stopped == "interrupted" and torch.load(out, weights_only=True)["step"] == 3
    resumed = train_sr(photos, config, out, resume=out, progress=False)
    train_sr(photos, config, full, progress=False)
    a, b = torch.load(out, weights_only=True), torch.load(full, weights_only=True)
    assert resumed.steps == 5 and digest(a["model"]) == digest(b["model"])
    assert [r["loss"] for r in a["history"]] == [r["loss"] for r in b["history"]]
    for index, state in b["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(a["optimizer"]["state"][index][name], value), (index, name)


def test_resume_refuses_other_settings_and_other_kinds_of_checkpoint(photos, tmp_path):
    out = tmp_path / "m.pth"
    config = tiny(steps=2, loss="pixel", image_size=48)
    train_sr(photos, config, out, progress=False)
    with pytest.raises(CheckpointError, match="factor 4 -> 8"):
        train_sr(photos, replace(config, steps=4, factor=8), out, resume=out, progress=False)
    with pytest.raises(StylelibError, match="already exists; continue it with --resume"):
        train_sr(photos, replace(config, steps=4), out, progress=False)
    johnson = tmp_path / "style.pth"
    state = training_state(JohnsonConfig(), TransformerNet().state_dict(), kind=JOHNSON)
    save_checkpoint(state, johnson)
    with pytest.raises(CheckpointError, match="another format"):
        SRNet.from_checkpoint(johnson)


def test_a_nan_loss_stops_with_a_clear_error(photos, monkeypatch):
    from stylelib.superres import train as module

    monkeypatch.setattr(module, "content_loss", lambda *a, **k: torch.tensor(float("nan")))
    with pytest.raises(Diverged, match="lower the learning rate"):
        train_sr(photos, tiny(loss="pixel", steps=2), progress=False)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"factor": 2}, "factor must be one of 4, 8"),
        ({"image_size": 36, "factor": 8}, "multiple of factor=8"),
        ({"image_size": 16}, "the paper uses 288"),
        ({"loss": "l1"}, "loss='l1' is not one of pixel, feature"),
        ({"blur_sigma": 0.0}, "blur_sigma must be positive"),
        ({"weight": 0.0, "tv_weight": 0.0}, "nothing to train"),
        ({"feature_layer": "relu9_9"}, "relu9_9"),
        ({"lr": -1.0}, "lr must be positive"),
    ],
)
def test_bad_configs_are_one_line_errors(changes, fragment):
    with pytest.raises((ValueError, StylelibError)) as info:
        tiny(**changes)
    assert fragment in str(info.value) and "\n" not in str(info.value)
