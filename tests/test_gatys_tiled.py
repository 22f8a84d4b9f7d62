"""Tiled Gatys transfer: the whole image's loss and gradient, assembled window by window.

Oracles: :func:`stylelib.gatys.objective.evaluate` and autograd on the whole image (float64,
random VGG), which the tiled loss and gradient must equal wherever the halo covers the
receptive field; the receptive field itself against the support of VGG's gradient;
``make_targets`` for the style Grams; ``torch.optim.Adam`` for the optimiser step; the
untiled ``transfer`` run with Adam for a whole tiled run; and, for the seams, a naive tiler
(each tile optimised on its own, with its own Gram matrices) written here from public
functions, whose seams the metric must find.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib.gatys import tiled as gt
from stylelib.gatys.config import PRESETS, GatysConfig
from stylelib.gatys.objective import evaluate, make_targets
from stylelib.gatys.transfer import transfer
from stylelib.tiling import TileError, from_uint8, make_grid, seam_ratio, stitch, to_uint8
from stylelib.vgg import VGGFeatures

SHALLOW = {  # layers to relu3_1: a 16 px halo, cheap windows
    "content_layers": ("relu2_2",),
    "style_layers": ("relu1_1", "relu2_1", "relu3_1"),
    "style_layer_weights": (0.3, 0.3, 0.4),
}
DEEPER = {  # to relu4_1: a 40 px halo
    "content_layers": ("relu3_1",),
    "style_layers": ("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
    "style_layer_weights": (0.25,) * 4,
}
CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def config(layers=SHALLOW, **kwargs) -> GatysConfig:
    base = {"weights": "random", "device": "cpu", "normalize_network": False, **layers}
    return GatysConfig(**{**base, **kwargs})


def vgg(upto: str = "relu3_1", dtype=torch.float64) -> VGGFeatures:
    return VGGFeatures("vgg19", weights="random", layers=[upto], pooling="avg").to(dtype)


def picture(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def untiled(net, x, content, style, cfg):
    """Loss, parts and gradient of the whole image at once: evaluate + autograd."""
    targets = make_targets(
        net, from_uint8(content).double(), [from_uint8(style).double()], [1.0], cfg
    )
    x = x.detach().clone().requires_grad_(True)
    loss, parts = evaluate(net, x, targets, cfg)
    (grad,) = torch.autograd.grad(loss, x)
    loss = loss.detach()
    return loss.item(), {k: float(v.detach()) for k, v in parts.items()}, grad


def tiled(net, x, content, style, cfg, grid, window):
    objective = gt.build_objective(net, content, [style], [1.0], cfg, window, CPU)
    grad = torch.zeros_like(x)
    loss, parts = objective(x, grid, grad)
    return loss, parts, grad


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


VARIANTS = {
    "paper": {},
    "style-only": {"content_weight": 0.0},
    "content-tv": {"style_weight": 0.0, "tv_weight": 5.0},
    "johnson-gamma-tv": {"normalization": "johnson", "gamma": 0.3, "tv_weight": 2.0},
    "isotropic-tv": {"tv_weight": 1.0, "tv_kind": "isotropic", "gamma": 0.1},
    "l1-tv": {"tv_weight": 1.0, "tv_kind": "l1"},
}


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    "name", ["relu1_1", "relu2_2", "relu3_1", pytest.param("relu5_1", marks=pytest.mark.slow)]
)
def test_the_reach_is_the_support_of_vggs_gradient(name):
    net = vgg(name, torch.float32)
    x = torch.rand(1, 3, 224, 224, requires_grad=True, generator=torch.Generator().manual_seed(0))
    f = net(x, layers=[name])[name]
    j = f.shape[2] // 2
    f[0, :, j, j].sum().backward()
    rows = (x.grad[0].abs().sum((0, 2)) > 0).nonzero().flatten()
    reach, factor = gt.vgg_reach(name)
    assert (rows.min().item(), rows.max().item() + 1) == (
        j * factor - reach,
        j * factor + factor + reach,
    )


def test_the_halo_of_the_paper_covers_relu5_1():
    assert gt.vgg_reach("relu5_1") == (70, 16)
    assert gt.vgg_halo(PRESETS["gatys2016"]) == (96, 16)  # 70 + 15, rounded up to 16
    assert gt.vgg_halo(config()) == (16, 4)  # relu3_1: 10 + 3


# --------------------------------------------------------------------------- the objective


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_window_gives_evaluates_loss_and_gradient(variant):
    cfg = config(**VARIANTS[variant])
    net = vgg()
    content, style = picture(70, 61, 0), picture(50, 44, 1)
    x = torch.rand(1, 3, 70, 61, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    loss, parts, grad = untiled(net, x, content, style, cfg)
    window = {"tile": 128, "halo": 16, "overlap": 0, "align": 4}
    t_loss, t_parts, t_grad = tiled(
        net, x, content, style, cfg, make_grid(70, 61, **window), window
    )
    assert t_loss == pytest.approx(loss, rel=1e-12)
    assert t_parts == pytest.approx(parts, rel=1e-12)
    assert relative(t_grad, grad) < 1e-12


@pytest.mark.parametrize("variant", ["style-only", "content-tv", "johnson-gamma-tv"])
@pytest.mark.parametrize("shift", [(0, 0), (12, 4)])
def test_the_tiled_gradient_is_the_whole_images_where_the_halo_suffices(variant, shift):
    cfg = config(**VARIANTS[variant])
    net = vgg()
    content, style = picture(120, 101, 0), picture(90, 70, 1)
    x = torch.rand(1, 3, 120, 101, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    loss, parts, grad = untiled(net, x, content, style, cfg)
    window = {"tile": 64, "halo": 16, "overlap": 8, "align": 4}
    grid = make_grid(120, 101, shift=shift, **window)
    assert len(grid) >= 12
    t_loss, t_parts, t_grad = tiled(net, x, content, style, cfg, grid, window)
    assert t_loss == pytest.approx(loss, rel=1e-12) and t_parts == pytest.approx(parts, rel=1e-12)
    assert relative(t_grad, grad) < 1e-12  # every pixel, the borders between tiles included


def test_a_halo_below_the_receptive_field_is_not_exact():
    cfg = config(DEEPER, content_weight=0.0)  # relu4_1 needs 40 px
    net = vgg("relu4_1")
    content, style = picture(128, 120, 0), picture(96, 96, 1)
    x = torch.rand(1, 3, 128, 120, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    _, _, grad = untiled(net, x, content, style, cfg)
    errors = {}
    for halo, tile in ((40, 104), (16, 64)):
        window = {"tile": tile, "halo": halo, "overlap": 0, "align": 8}
        errors[halo] = relative(
            tiled(net, x, content, style, cfg, make_grid(128, 120, **window), window)[2], grad
        )
    assert errors[40] < 1e-12 < 1e-6 < errors[16]


def test_style_targets_tiled_equal_make_targets():
    cfg = config(normalization="johnson")
    net = vgg()
    content, style = picture(60, 52, 0), picture(150, 110, 1)  # the style spans 3 x 2 windows
    targets = make_targets(
        net, from_uint8(content).double(), [from_uint8(style).double()], [1.0], cfg
    )
    positions = gt.positions_of("vgg19", 60, 52, list(cfg.style_layers))
    window = {"tile": 64, "halo": 16, "overlap": 8, "align": 4}
    ours = gt.style_targets(net, [style], [1.0], cfg, positions, window, CPU)
    for name, a in targets.style.items():
        assert relative(ours[name], a[0]) < 1e-12
    gatys = gt.style_targets(net, [style], [1.0], config(), positions, window, CPU)
    expected = make_targets(
        net, from_uint8(content).double(), [from_uint8(style).double()], [1.0], config()
    )
    for name, a in expected.style.items():
        assert relative(gatys[name], a[0]) < 1e-12


def test_the_style_targets_are_computed_once(monkeypatch):
    style = picture(37, 53, 1)  # a shape no window has
    calls, shapes = [], []
    original = gt.style_targets
    monkeypatch.setattr(gt, "style_targets", lambda *a, **k: calls.append(1) or original(*a, **k))
    net = vgg(dtype=torch.float32)
    forward = net.forward
    monkeypatch.setattr(
        net, "forward", lambda x, **k: shapes.append(tuple(x.shape[2:])) or forward(x, **k)
    )
    cfg = config(steps=3, style_scale=53 / 120)  # the style stays 37 x 53 px
    result = gt.transfer_tiled(
        picture(120, 96, 0), style, cfg, tile=64, overlap=8, net=net, progress=False
    )
    assert result.steps == 3 and len(calls) == 1
    assert shapes.count((37, 53)) == 1  # one style forward, however many steps and windows
    assert len(shapes) > 3 * 2 * 4  # ... against two passes over several windows per step


# --------------------------------------------------------------------------- the loop


def test_the_grid_moves_at_every_step():
    shifts = [gt.grid_shift(k, 96, 16) for k in range(6)]
    assert shifts[0] == (0, 0) and len(set(shifts)) == 6
    cfg = config(steps=3, style_scale=0.5)
    result = gt.transfer_tiled(
        picture(110, 100, 0), picture(64, 64, 1), cfg, tile=64, overlap=8, progress=False
    )
    assert len({r["shift"] for r in result.history}) == 3


def test_adam_step_is_torchs_adam_with_the_projection():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 9, 7, generator=g)
    ours, m, v = x.clone(), torch.zeros_like(x), torch.zeros_like(x)
    theirs = x.clone().requires_grad_(True)
    adam = torch.optim.Adam([theirs], lr=0.05)
    for t in range(1, 6):
        grad = torch.randn(x.shape, generator=g) * 1e-3
        gt.adam_step_(ours, grad, m, v, t, 0.05, scale=1e3, rows=4)
        theirs.grad = grad * 1e3
        adam.step()
        with torch.no_grad():
            theirs.clamp_(0, 1)
    torch.testing.assert_close(ours, theirs.detach(), rtol=0, atol=1e-6)


def test_a_tiled_run_follows_the_untiled_adam_run():
    cfg = config(init="noise", optimizer="adam", lr=0.05, steps=4, size=96)
    net = vgg()
    content, style = picture(96, 80, 0), picture(96, 72, 1)  # no resizing: the same pixels
    reference = transfer(from_uint8(content), from_uint8(style), cfg, net=net, progress=False)
    result = gt.transfer_tiled(content, style, cfg, tile=64, overlap=8, net=net, progress=False)
    assert [r["loss"] for r in result.history] == pytest.approx(
        [r["loss"] for r in reference.history], rel=1e-5
    )
    diff = np.abs(result.image.astype(int) - to_uint8(reference.image))
    assert diff.mean() < 0.05 and np.quantile(diff, 0.999) <= 1  # Adam amplifies round-off
    assert result.loss == pytest.approx(reference.loss, rel=1e-5)


def test_a_callback_stops_the_run_with_the_best_image():
    seen = []

    def stop(step, image, record):
        seen.append((step, image.shape, record["windows"]))
        return step == 2

    result = gt.transfer_tiled(
        picture(96, 80, 0), picture(64, 64, 1), config(steps=5), tile=64, overlap=8,
        callback=stop, progress=False,
    )  # fmt: skip
    assert result.stopped == "stopped" and result.steps == 2 and seen[0][1] == (96, 80, 3)
    assert result.image.dtype == np.uint8 and result.image.shape == (96, 80, 3)


def test_ctrl_c_returns_the_best_image_so_far():
    def interrupt(step, image, record):
        if step == 2:
            raise KeyboardInterrupt

    result = gt.transfer_tiled(
        picture(96, 80, 0), picture(64, 64, 1), config(steps=5), tile=64, overlap=8,
        callback=interrupt, progress=False,
    )  # fmt: skip
    assert result.stopped == "interrupted" and result.steps == 2
    assert result.loss == min(r["loss"] for r in result.history)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"tile": 48, "overlap": 8}, "use a tile of at least 56 px"),
        ({"tile": 64, "overlap": 32}, "less than half"),
        ({"tile": 0}, "positive"),
        ({"tile": 64, "overlap": -1}, ">= 0"),
        ({"halo": -4}, "halo must be"),
        ({"halo": True}, "halo must be"),
        ({"halo": 4, "overlap": 8, "tile": 64}, "below VGG's 32 px"),
    ],
)
def test_bad_tiles_are_refused_in_one_line(kwargs, fragment):
    with pytest.raises(TileError) as info:
        gt.transfer_tiled(
            picture(96, 80, 0), picture(64, 64, 1), config(steps=1), progress=False, **kwargs
        )
    assert isinstance(info.value, ValueError) and fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"), [({"scales": 2}, "coarse-to-fine"), ({"color": "luminance"}, "colour")]
)
def test_what_the_tiles_do_not_do_is_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        gt.transfer_tiled(picture(96, 80, 0), picture(64, 64, 1), config(**kwargs), progress=False)


# --------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_the_papers_layers_give_the_whole_images_gradient():
    """relu5_1 and relu4_2, a 96 px halo, 2 x 2 windows, float32."""
    cfg = replace(PRESETS["gatys2016"], weights="random", normalize_network=False, device="cpu")
    net = VGGFeatures("vgg19", weights="random", layers=["relu5_1"], pooling="avg")
    content, style = picture(300, 290, 0), picture(128, 128, 1)
    x = torch.rand(1, 3, 300, 290, generator=torch.Generator().manual_seed(2))
    targets = make_targets(net, from_uint8(content), [from_uint8(style)], [1.0], cfg)
    xr = x.clone().requires_grad_(True)
    loss, _ = evaluate(net, xr, targets, cfg)
    (grad,) = torch.autograd.grad(loss, xr)
    window = {"tile": 272, "halo": 96, "overlap": 32, "align": 16}
    grid = make_grid(300, 290, **window)
    assert len(grid) == 4
    objective = gt.build_objective(net, content, [style], [1.0], cfg, window, CPU)
    t_grad = torch.zeros_like(x)
    t_loss, _ = objective(x, grid, t_grad)
    assert t_loss == pytest.approx(loss.item(), rel=1e-5)
    assert relative(t_grad, grad) < 1e-4


@pytest.mark.slow
def test_seams_stay_at_the_untiled_level_and_a_naive_tiler_leaves_them():
    """12 Adam steps from noise, 160 px, layers to relu4_1. The seam ratio at the borders of
    a 2 x 2 grid: the tiled run's equals the untiled run's within 2%; tiles optimised each
    on its own (the naive way) measure at least 1.25 times the untiled level."""
    cfg = config(DEEPER, init="noise", optimizer="adam", lr=0.05, steps=12, size=160)
    net = vgg("relu4_1")
    content, style = picture(160, 160, 0), picture(160, 160, 1)
    content = np.asarray(Image.fromarray(content).resize((40, 40)).resize((160, 160)))  # smooth
    noise = torch.rand((1, 3, 160, 160), generator=torch.Generator().manual_seed(cfg.seed))
    reference = to_uint8(
        transfer(from_uint8(content), from_uint8(style), cfg, net=net, progress=False).image
    )
    result = gt.transfer_tiled(content, style, cfg, tile=136, overlap=8, net=net, progress=False)

    def alone(ys, xs):
        crop = from_uint8(content[ys.start : ys.stop, xs.start : xs.stop].copy())
        init = noise[:, :, ys.start : ys.stop, xs.start : xs.stop]
        out = transfer(
            crop, from_uint8(style), replace(cfg, size=80), init=init, net=net, progress=False
        )
        return out.image[0].permute(1, 2, 0).numpy()

    grid = make_grid(160, 160, 80)
    naive = stitch(grid, alone, np.zeros_like(content))
    level = seam_ratio(reference, *grid.boundaries())
    assert seam_ratio(result.image, *grid.boundaries()) == pytest.approx(level, rel=0.02)
    assert seam_ratio(naive, *grid.boundaries()) > 1.25 * level


PEAK = textwrap.dedent(
    """
    import sys, numpy as np, torch
    torch.set_num_threads(1)
    from stylelib.gatys.config import GatysConfig
    from stylelib.gatys.tiled import transfer_tiled
    h, w = int(sys.argv[1]), int(sys.argv[2])
    cfg = GatysConfig(weights="random", device="cpu", normalize_network=False, steps=1,
                      init="content", style_scale=0.5, content_layers=("relu2_2",),
                      style_layers=("relu1_1", "relu2_1", "relu3_1"),
                      style_layer_weights=(0.3, 0.3, 0.4))
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    transfer_tiled(photo, photo[:200, :200], cfg, tile=256, overlap=16, progress=False)
    peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(int(peak) * 1024)
    """
)


@pytest.mark.slow
def test_memory_is_set_by_the_tile_not_the_image():
    """Peak RSS of one step at 800 x 600 and 1600 x 1200 (fresh processes): the difference is
    the full-image buffers (image, gradient, Adam's two moments: 48 bytes per pixel, and the
    uint8 copies), far below the ~1,000 bytes per pixel of VGG's activations to relu3_1.

    The style image (half the output's side) is larger than a tile at both sizes, so every
    window has the same shape in both runs. glibc's malloc is given a fixed mmap threshold:
    with its default, moving threshold, freed window buffers stay in the heap in amounts that
    differ from run to run by tens of MB (measured 67-108 bytes per added pixel for the same
    code), which measures the allocator, not what the loop keeps alive (52 with the fix)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    peaks = [
        int(subprocess.run([sys.executable, "-c", PEAK, str(h), str(w)], capture_output=True,
                           text=True, check=True, env=env).stdout.split()[-1])
        for h, w in ((600, 800), (1200, 1600))
    ]  # fmt: skip
    pixels = 1200 * 1600 - 600 * 800
    assert peaks[1] - peaks[0] < 80 * pixels, peaks
