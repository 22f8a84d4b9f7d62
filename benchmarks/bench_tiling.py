"""Tiled runs at print size: peak memory and time, each run in a fresh process.

Run: python benchmarks/bench_tiling.py [--stylize 10000 ...] [--transfer 6000x4000 ...]
     [--tile N] [--stats-size N] [--network transformer|multistyle26] [--steps N] [--threads N]

1. ``stylize``: a random-weight TransformerNet (or the published 26-style network,
   ``--network multistyle26``) on a synthetic N x N photo, written to a JPEG first. The child
   process loads it as uint8 (:func:`stylelib.tiling.load_uint8`), stylises it with
   :func:`stylelib.johnson.tiled.stylize_tiled` and saves a PNG. Goal: 10,000² within 4 GB.
   ``--stats-size N`` measures the instance-norm statistics on the photo resized to N px
   (an approximation, see stylelib.johnson.tiled) instead of exactly, one pass per norm layer.
2. ``transfer``: :func:`stylelib.gatys.tiled.transfer_tiled` at H x W with random VGG-19 and
   the paper's layers (relu1_1 ... relu5_1, relu4_2; a 96 px halo), ``--steps`` Adam steps
   (each: a Gram pass, a forward-backward pass and a content pass over every window), the
   style image 512 px. Goal: 6000 x 4000 within 6 GB.

Peak RSS is the child's VmHWM (/proc/self/status) at its end: the most resident memory it
ever held, Python, torch and its libraries (about 0.5 GB) included. Times are wall seconds on
however many threads ``--threads`` gives (default 2); on a shared machine they vary by 2x and
more, the memory does not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

CHILD_STYLIZE = """
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[5]))
from stylelib import tiling
from stylelib.johnson.tiled import stylize_tiled
path, tile, stats, network = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
torch.manual_seed(0)
if network == "multistyle26":
    from stylelib.johnson.published import load_onnx_network, package_file
    net, style = load_onnx_network(package_file()).eval(), 3
else:
    from stylelib.johnson.network import TransformerNet
    net, style = TransformerNet().eval(), None
t = {"start": time.perf_counter()}
image = tiling.load_uint8(path)
t["loaded"] = time.perf_counter()
stats_size = None if stats == "exact" else int(stats)
out = stylize_tiled(net, image, style, tile=tile, stats_size=stats_size)
t["stylized"] = time.perf_counter()
tiling.save_uint8(out, path + ".out.png", overwrite=True)
t["saved"] = time.perf_counter()
peak = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1])
print(json.dumps({"peak_gb": peak * 1024 / 1e9, "load_s": t["loaded"] - t["start"],
                  "run_s": t["stylized"] - t["loaded"], "save_s": t["saved"] - t["stylized"]}))
"""

CHILD_TRANSFER = """
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[5]))
from dataclasses import replace
from stylelib.gatys.config import PRESETS
from stylelib.gatys.tiled import transfer_tiled
from stylelib import tiling
path, tile, steps, style = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = time.perf_counter()
photo = tiling.load_uint8(path)
cfg = replace(PRESETS["gatys2016"], weights="random", normalize_network=False, device="cpu",
              init="content", steps=steps, style_scale=512 / max(photo.shape[:2]))
def report(step, image, record):
    print(f"step {step}: loss {record['loss']:.4g}, {record['seconds']:.0f} s", file=sys.stderr)

result = transfer_tiled(photo, style, cfg, tile=tile, callback=report, progress=False)
run = time.perf_counter() - start
tiling.save_uint8(result.image, path + ".out.png", overwrite=True)
peak = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1])
print(json.dumps({"peak_gb": peak * 1024 / 1e9, "run_s": run, "steps": result.steps,
                  "windows": result.history[0]["windows"], "halo": result.halo}))
"""


def synthetic_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour fields and fine noise, (h, w, 3) uint8, made a band at a time."""
    rng = np.random.default_rng(seed)
    out = np.empty((h, w, 3), np.uint8)
    x = np.linspace(0, 6 * np.pi, w, dtype=np.float32)
    for r in range(0, h, 512):
        y = np.linspace(r, min(r + 512, h) - 1, min(512, h - r), dtype=np.float32)[:, None] / h
        band = np.stack(
            [np.sin(x + 9 * y), np.cos(0.7 * x - 5 * y), np.sin(1.3 * x * y + 2)], axis=-1
        )
        band = 0.5 + 0.35 * band + 0.1 * rng.standard_normal(band.shape, dtype=np.float32)
        out[r : r + len(y)] = np.clip(band * 255, 0, 255)
    return out


def run_child(code: str, *args) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"child failed (exit status {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stylize", type=int, nargs="*", default=[], help="square sides, px")
    p.add_argument("--transfer", nargs="*", default=[], help="HxW sizes, e.g. 6000x4000")
    p.add_argument("--tile", type=int, default=0, help="default: each function's own")
    p.add_argument("--stats-size", default="exact", help="'exact' or a long side in px")
    p.add_argument("--network", choices=["transformer", "multistyle26"], default="transformer")
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if not args.stylize and not args.transfer:
        args.stylize, args.transfer = [10_000], ["6000x4000"]
    with tempfile.TemporaryDirectory() as tmp:
        for side in args.stylize:
            path = Path(tmp) / f"photo{side}.jpg"
            start = time.perf_counter()
            Image.fromarray(synthetic_photo(side, side)).save(path, quality=90)
            made = time.perf_counter() - start
            tile = args.tile or 1024
            r = run_child(CHILD_STYLIZE, path, tile, args.stats_size, args.network, args.threads)
            print(
                f"stylize {side}x{side} ({args.network}, tile {tile}, statistics "
                f"{args.stats_size}): peak RSS {r['peak_gb']:.2f} GB; load {r['load_s']:.1f} s, "
                f"stylize {r['run_s']:.1f} s, save {r['save_s']:.1f} s "
                f"(input written in {made:.1f} s)",
                flush=True,
            )
        for size in args.transfer:
            h, w = (int(n) for n in size.lower().split("x"))
            path = Path(tmp) / f"photo{h}x{w}.jpg"
            style = Path(tmp) / "style.png"
            Image.fromarray(synthetic_photo(h, w)).save(path, quality=90)
            Image.fromarray(synthetic_photo(512, 512, seed=1)).save(style)
            tile = args.tile or 768
            r = run_child(CHILD_TRANSFER, path, tile, args.steps, style, args.threads)
            print(
                f"transfer {h}x{w} (random VGG-19 to relu5_1, tile {tile}, halo {r['halo']}, "
                f"{r['windows']} windows, {r['steps']} step(s)): peak RSS {r['peak_gb']:.2f} GB; "
                f"{r['run_s']:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
