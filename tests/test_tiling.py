"""Tiles: the geometry and blending of stylelib.tiling, and tiled feed-forward stylisation.

Oracles: closed forms (the blend weights of every window sum to 1 at every pixel: sin² + cos²;
the cells partition the image), an identity "network" that must come back unchanged through
:func:`stitch`, and the untiled network on the whole image, which a tiled run must equal
where both fit. The naive tiling (each tile its own instance-norm statistics) is run beside
the fix, so the comparison can fail; so is a halo cut below the receptive field.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib import tiling
from stylelib.images import load_image
from stylelib.johnson import tiled
from stylelib.johnson.conditional import MultiStyleNet, one_hot
from stylelib.johnson.network import TransformerNet
from stylelib.tiling import TileError, check_tiling, make_grid, seam_ratio, spans, stitch

# (length, tile, halo, overlap, align, shift): odd lengths, lengths just past a tile, ramps
# of 0 and of odd widths, grids moved by a shift
GEOMETRIES = [
    (300, 128, 16, 16, 1, 0),
    (301, 128, 16, 16, 4, 0),
    (257, 128, 16, 0, 4, 0),
    (1000, 200, 30, 17, 1, 0),
    (129, 128, 16, 16, 1, 0),
    (999, 256, 60, 32, 4, 20),
    (999, 256, 60, 32, 4, 4),
    (4097, 512, 96, 64, 16, 48),
    (100, 128, 16, 16, 1, 0),
]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def photo(h: int, w: int, seed: int = 0, noise: float = 0.15) -> np.ndarray:
    """A seeded uint8 picture with smooth shapes and fine texture (not pure noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(7 * x + 3 * y), np.cos(5 * y - 2 * x), np.sin(9 * x * y)], -1)
    noisy = 0.5 + 0.35 * base + noise * rng.standard_normal((h, w, 3))
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8)


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_the_blend_weights_sum_to_one_everywhere(geometry):
    length, tile, halo, overlap, align, shift = geometry
    total = np.zeros(length)
    for s in spans(length, tile, halo=halo, overlap=overlap, align=align, shift=shift):
        w = s.weights()
        assert w.min() >= 0 and w.max() <= 1
        total[s.start : s.stop] += w
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_windows_fit_their_tile_and_weigh_nothing_in_their_halo(geometry):
    length, tile, halo, overlap, align, shift = geometry
    for s in spans(length, tile, halo=halo, overlap=overlap, align=align, shift=shift):
        assert 0 <= s.start < s.stop <= length and s.stop - s.start <= tile
        assert s.start % align == 0
        w = s.weights()
        inner_lo = s.start if s.start == 0 else s.start + halo  # the border needs no halo
        inner_hi = s.stop if s.stop == length else s.stop - halo
        assert not w[: inner_lo - s.start].any() and not w[inner_hi - s.start :].any()
        assert inner_lo <= s.lo and s.hi <= inner_hi
        assert np.count_nonzero(w) == s.hi - s.lo or (s.left and s.left[1] == 0)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_the_cells_partition_the_image_on_the_stride(geometry):
    length, tile, halo, overlap, align, shift = geometry
    ss = spans(length, tile, halo=halo, overlap=overlap, align=align, shift=shift)
    assert ss[0].cell_start == 0 and ss[-1].cell_stop == length
    for a, b in zip(ss, ss[1:], strict=False):
        assert a.cell_stop == b.cell_start and a.cell_stop % align == 0
    for s in ss:  # a cell lies where its window is exact
        assert s.cell_start >= (0 if s.start == 0 else s.start + halo)
        assert s.cell_stop <= (length if s.stop == length else s.stop - halo)


def test_a_shift_moves_the_boundaries_and_keeps_the_cover():
    a = [s.cell_start for s in spans(999, 256, halo=60, overlap=32, align=4)]
    b = [s.cell_start for s in spans(999, 256, halo=60, overlap=32, align=4, shift=40)]
    assert a != b and not set(a[1:]) & set(b[1:])


def test_one_window_when_the_image_fits():
    (s,) = spans(100, 128, halo=16, overlap=16)
    assert (s.start, s.stop, s.lo, s.hi) == (0, 100, 0, 100) and (s.weights() == 1).all()


@pytest.mark.parametrize("shape", [(301, 257), (64, 1000), (500, 130)])
def test_stitch_gives_back_what_every_window_agrees_on(shape):
    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    grid = make_grid(*shape, 128, halo=16, overlap=24, align=4)

    def identity(ys, xs):
        return image[ys.start : ys.stop, xs.start : xs.stop].astype(np.float32) / 255

    out = stitch(grid, identity, np.zeros_like(image))
    np.testing.assert_array_equal(out, image)
    as_float = stitch(grid, identity, np.zeros(image.shape, np.float32))
    np.testing.assert_allclose(as_float, image / 255, atol=1e-6)


def test_stitch_blends_windows_that_disagree():
    grid = make_grid(256, 256, 128, halo=8, overlap=32)
    out = stitch(
        grid,
        lambda ys, xs: np.full(
            (ys.stop - ys.start, xs.stop - xs.start, 3), ys.start > 0, np.float32
        ),
        np.zeros((256, 256, 3), np.float32),
    )
    column = out[:, 0, 0]
    (ramp,) = [s.left for s in grid.rows[1:2]]
    assert column[: ramp[0]].max() == 0 and column[ramp[0] + ramp[1] :].min() == 1
    assert np.all(np.diff(column) >= 0)  # a smooth rise, no step


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("tile", "overlap", "fragment"),
    [
        (0, 0, "positive"),
        (-5, 0, "positive"),
        (512, -1, ">= 0"),
        (512, 256, "less than half"),
        (2.5, 0, "whole number"),
        (True, 0, "whole number"),
        (512, "8", "whole number"),
        (150, 16, "at least 156 px"),
    ],
)
def test_bad_tiles_are_refused_in_one_line(tile, overlap, fragment):
    with pytest.raises(TileError) as info:
        check_tiling(tile, overlap, halo=60, align=4)
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_network_names_its_minimum_tile():
    net = TransformerNet().eval()
    halo = tiled.receptive_halo(net)
    needed = tiling.min_tile(halo, 16, 4)
    with pytest.raises(TileError, match=f"TransformerNet.*at least {needed} px"):
        tiled.stylize_tiled(net, photo(64, 64), tile=needed - 4, overlap=16)


# --------------------------------------------------------------------------- seams


def test_the_seam_ratio_is_one_without_seams_and_large_with_one():
    noise = np.random.default_rng(0).random((128, 128, 3))
    assert 0.8 < seam_ratio(noise, [64], [40, 90]) < 1.25
    stepped = noise * 0.2
    stepped[:, 90:] += 0.5
    assert seam_ratio(stepped, [64], [40, 90]) > 10
    ramped = noise * 0.2 + np.clip((np.arange(128) - 82) / 16, 0, 1)[None, :, None] * 0.5
    assert seam_ratio(ramped, [], [90], width=8) > 3 * seam_ratio(ramped, [], [90], width=1) / 3


# --------------------------------------------------------------------------- files


def test_load_and_save_uint8_round_trip(tmp_path):
    image = photo(40, 56)
    path = tiling.save_uint8(image, tmp_path / "a.png")
    np.testing.assert_array_equal(tiling.load_uint8(path), image)
    assert tiling.load_uint8(path, size=28).shape == (20, 28, 3)
    with pytest.raises(Exception, match="exists"):
        tiling.save_uint8(image, path)


def test_load_uint8_composites_transparency_on_white_and_guards_pixels(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert (tiling.load_uint8(tmp_path / "clear.png") == 255).all()
    with pytest.raises(tiling.ImageError, match="more than the tiled limit of 63"):
        tiling.load_uint8(tmp_path / "clear.png", max_pixels=63)


@pytest.mark.parametrize("case", ["missing", "folder", "empty", "not an image", "truncated"])
def test_load_uint8_refuses_bad_files_as_load_image_does(tmp_path, case):
    """The tiled loader opens files through the same guard as load_image: one line each."""
    path = tmp_path / "bad.png"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.touch()
    elif case == "not an image":
        path.write_text("hello")
    elif case == "truncated":
        tiling.save_uint8(photo(64, 64), path)
        path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(tiling.ImageError) as expected:
        load_image(path)
    with pytest.raises(tiling.ImageError) as got:
        tiling.load_uint8(path)
    assert str(got.value) == str(expected.value) and "\n" not in str(got.value)


# --------------------------------------------------------------------------- feed-forward


NETWORKS = {
    "transformer": (lambda: TransformerNet(), None),
    "transformer-pixels255": (lambda: TransformerNet(output="pixels255"), None),
    "multistyle-dumoulin2017": (lambda: MultiStyleNet(3), "0:0.3,2:0.7"),
    "multistyle-magenta": (lambda: MultiStyleNet(4, layout="magenta-android"), 1),
}


def _random(name: str):
    torch.manual_seed(0)
    make, style = NETWORKS[name]
    net = make().eval()
    with torch.no_grad():  # random γ/β: a trained network's styles differ from one another
        for m in net.modules():
            for p in (getattr(m, "gamma", None), getattr(m, "beta", None)):
                if p is not None:
                    p.add_(0.3 * torch.randn_like(p))
    return net, style


def _tiled_vs_untiled(name: str, overlap: int, extra: int, grid: tuple[int, int]) -> None:
    """Tiled (``grid`` windows; the smallest tile the network takes plus ``extra``; sides
    that are no multiples of 4) against the network on the whole image: float output to
    round-off, uint8 within 2/255."""
    net, style = _random(name)
    halo = tiled.receptive_halo(net)
    tile = tiling.min_tile(halo, overlap, 4) + extra
    shape = tuple(tile + 7 if n == 2 else tile - 41 for n in grid)
    assert len(make_grid(*shape, tile, halo=halo, overlap=overlap, align=4)) == grid[0] * grid[1]
    image = photo(*shape)
    reference = tiled.untiled_reference(net, image, style)
    kwargs = {"tile": tile, "overlap": overlap}
    out = tiled.stylize_tiled(net, image, style, out=np.zeros_like(reference), **kwargs)
    assert np.abs(out - reference).max() < 1e-5  # float round-off: the halo and statistics fix it
    as_uint8 = tiled.stylize_tiled(net, image, style, **kwargs)
    assert np.abs(as_uint8 / 255.0 - reference).max() <= 2 / 255  # the acceptance tolerance


@pytest.mark.parametrize(
    ("name", "grid"), [("transformer", (1, 2)), ("multistyle-magenta", (2, 2))]
)
def test_tiled_equals_untiled_where_both_fit(name, grid):
    _tiled_vs_untiled(name, overlap=0, extra=0, grid=grid)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NETWORKS))
def test_tiled_equals_untiled_with_a_blend_on_every_network(name):
    _tiled_vs_untiled(name, overlap=16, extra=48, grid=(2, 2))


@pytest.mark.parametrize("name", ["transformer", "multistyle-magenta"])
def test_per_tile_statistics_leave_seams_the_fix_removes(name):
    net, style = _random(name)
    halo = tiled.receptive_halo(net)
    tile = tiling.min_tile(halo, 0, 4)
    image = photo(tile + 7, tile + 3, noise=0.0)  # smooth: a random network's texture is fine
    reference = tiled.untiled_reference(net, image, style)
    kwargs = {"tile": tile, "overlap": 0}
    naive = np.zeros_like(reference)
    tiled.stylize_tiled(net, image, style, statistics="tile", out=naive, **kwargs)
    fixed = tiled.stylize_tiled(net, image, style, out=np.zeros_like(reference), **kwargs)
    assert np.abs(naive - reference).max() > 10 / 255 > 100 * np.abs(fixed - reference).max()
    rows, cols = make_grid(*image.shape[:2], tile, halo=halo, align=4).boundaries()
    assert seam_ratio(naive, rows, cols) > 1.5 * seam_ratio(reference, rows, cols)
    assert seam_ratio(fixed, rows, cols) == pytest.approx(
        seam_ratio(reference, rows, cols), rel=1e-3
    )


def test_a_halo_below_the_receptive_field_is_not_exact(monkeypatch):
    net, _ = _random("multistyle-magenta")
    image = photo(151, 147)
    reference = tiled.untiled_reference(net, image, 1)
    halo = tiled.receptive_halo(net)
    monkeypatch.setattr(tiled, "receptive_halo", lambda net, align=4: halo - 32)
    out = tiled.stylize_tiled(net, image, 1, tile=120, overlap=0, out=np.zeros_like(reference))
    assert np.abs(out - reference).max() > 1e-3


def test_the_callers_network_and_its_fast_path_are_untouched():
    net, style = _random("multistyle-magenta")
    x = torch.from_numpy(photo(48, 40)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        before = net(x, one_hot(1, 4))
    tiled.stylize_tiled(net, photo(48, 40), 1, tile=256)
    with torch.no_grad():
        after = net(x, one_hot(1, 4))
    assert torch.equal(before, after)
    assert all(type(m).__name__ != "_WholeImageNorm" for m in net.modules())


def test_downscaled_statistics_are_an_approximation():
    net, _ = _random("multistyle-magenta")
    tile = tiling.min_tile(tiled.receptive_halo(net), 0, 4)
    image = photo(tile + 7, tile + 3)
    reference = tiled.untiled_reference(net, image, 1)
    kwargs = {"tile": tile, "overlap": 0}
    exact = tiled.stylize_tiled(net, image, 1, out=np.zeros_like(reference), **kwargs)
    small = tiled.stylize_tiled(
        net, image, 1, stats_size=80, out=np.zeros_like(reference), **kwargs
    )
    assert np.abs(exact - reference).max() < 1e-5 < 1e-3 < np.abs(small - reference).max()


def test_batch_norm_needs_only_the_halo():
    torch.manual_seed(0)
    net = TransformerNet(norm="batch", upsample="transpose").eval()
    with torch.no_grad():  # running statistics of a trained network, not 0 and 1
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    halo = tiled.receptive_halo(net)
    tile = tiling.min_tile(halo, 8, 4)
    image = photo(tile + 7, tile + 3)
    reference = tiled.untiled_reference(net, image)
    out = tiled.stylize_tiled(net, image, tile=tile, overlap=8, out=np.zeros_like(reference))
    assert np.abs(out - reference).max() < 1e-5


def test_a_multistyle_network_needs_its_style():
    with pytest.raises(ValueError, match="style"):
        tiled.stylize_tiled(MultiStyleNet(3), photo(40, 40), tile=256)
    with pytest.raises(ValueError, match="leave it out"):
        tiled.stylize_tiled(TransformerNet(), photo(40, 40), 1, tile=256)


# --------------------------------------------------------------------------- memory

PEAK = textwrap.dedent(
    """
    import sys, time, numpy as np, torch
    torch.set_num_threads(1)
    from stylelib.johnson.conditional import MultiStyleNet
    from stylelib.johnson.tiled import stylize_tiled
    side = int(sys.argv[1])
    torch.manual_seed(0)
    net = MultiStyleNet(2, layout="magenta-android").eval()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    stylize_tiled(net, image, 0, tile=512, overlap=16, stats_size=64)
    peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(int(peak) * 1024)
    """
)


def peak_rss(side: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(side)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@pytest.mark.slow
def test_memory_is_set_by_the_tile_not_the_image():
    """Peak RSS (a fresh process each) of 1000² and 2000² px runs of the small 26-style
    layout: the difference is the uint8 input and output (6 bytes per pixel), PIL's copy for
    the statistics' resize (4), one band of float rows and the allocator's slack: under two
    float32 copies of the image (24 bytes per pixel; the brief's bound is 4 copies), where an
    untiled run's first layer alone would add 128 (32 channels x 4 bytes)."""
    small, large = peak_rss(1000), peak_rss(2000)
    pixels = 2000**2 - 1000**2
    assert large - small < 24 * pixels, (small, large)
