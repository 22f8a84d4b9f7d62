"""Gatys transfer (``stylelib.gatys.transfer.transfer``): overhead, bf16, coarse-to-fine, memory.

Run: python benchmarks/bench_transfer.py [--sizes 256 512] [--evals 100] [--c2f-size 512]
     [--c2f-evals 500]

All ratios come from one run (this machine is noisy), on random VGG19 weights, the paper's
preset (relu4_2; relu1_1..relu5_1; average pooling; the normalised network), chelsea in the
mosaic style:

1. time per loss evaluation inside ``transfer`` against a bare VGG19 forward + backward to
   relu5_1 with the same weights (goal <= 1.05);
2. bf16 autocast against fp32: speed-up (goal >= 1.6) and the relative difference of the
   losses after ``--evals`` evaluations (goal <= 2 %);
3. coarse-to-fine (3 scales) against single scale: wall time until the final-size loss
   reaches the single-scale loss after ``--c2f-evals`` evaluations (goal <= 0.40);
4. peak resident memory of a transfer at 512 px, in a fresh process (goal <= 1.0 GB).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from stylelib import weights
from stylelib.data import content_image, procedural_style
from stylelib.gatys.objective import extractor
from stylelib.gatys.transfer import transfer
from stylelib.presets import get as preset
from stylelib.vgg import layer_index

CONTENT, STYLE = content_image("chelsea"), procedural_style("mosaic", size=512)


def config(size: int, steps: int, **changes):
    base = replace(preset("gatys2016"), weights="random", device="cpu", init="content")
    return replace(base, size=size, steps=steps, style_weight=1e4, **changes)


def seconds_per_step(result) -> float:
    """Median time between consecutive steps, i.e. per loss evaluation (setup excluded)."""
    times = [r["seconds"] for r in result.history]
    return statistics.median(b - a for a, b in zip(times, times[1:], strict=False))


def overhead(size: int, steps: int) -> tuple[float, float]:
    """Seconds per evaluation inside ``transfer`` and of a bare VGG19 forward + backward.

    The bare pass (torchvision's modules to relu5_1, no losses, same weights and pooling)
    runs in the callback after every step and is left out of the step's time, so the two are
    timed side by side: here two threads change speed by up to 4x from one minute to the
    next, and timings taken a minute apart compare different machines.
    """
    net = extractor(config(size, 1))
    bare = net.features[: layer_index("relu5_1") + 1]
    h = round(size * CONTENT.shape[2] / CONTENT.shape[3])
    image = torch.rand(1, 3, h, size)
    ours, theirs, last = [], [], [None]

    def between(step, x, record):
        if last[0] is not None:
            ours.append(time.perf_counter() - last[0])
        x = image.clone().requires_grad_(True)
        start = time.perf_counter()
        bare((x - net.mean) / net.std).sum().backward()
        theirs.append(time.perf_counter() - start)
        last[0] = time.perf_counter()

    transfer(CONTENT, STYLE, config(size, steps), progress=False, callback=between)
    return statistics.median(ours), statistics.median(theirs[1:])


def bf16(size: int, evals: int) -> tuple[float, float, float, float]:
    runs = {}
    for precision in ("fp32", "bf16"):
        result = transfer(CONTENT, STYLE, config(size, evals, precision=precision), progress=False)
        runs[precision] = (seconds_per_step(result), result.history[-1]["loss"])
    (t32, l32), (t16, l16) = runs["fp32"], runs["bf16"]
    return t32, t16, l32, l16


def coarse_to_fine(size: int, evals: int, coarse_steps: int) -> tuple[float, float, float, int]:
    single = transfer(CONTENT, STYLE, config(size, evals), progress=False)
    target = single.history[-1]["loss"]

    def reached(step, image, record):
        return record["size"] == size and record["loss"] <= target

    c2f_config = config(size, evals, scales=3, coarse_steps=coarse_steps)
    c2f = transfer(CONTENT, STYLE, c2f_config, progress=False, callback=reached)
    final = [r for r in c2f.history if r["size"] == size]
    return single.seconds, c2f.seconds, target, len(final)


PEAK = """
import warnings, sys
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
from bench_transfer import CONTENT, STYLE, config, transfer
transfer(CONTENT, STYLE, config(512, 3), progress=False)
print([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=8, help="steps for the overhead timing")
    parser.add_argument("--evals", type=int, default=100, help="evaluations for fp32 vs bf16")
    parser.add_argument("--bf16-size", type=int, default=256)
    parser.add_argument("--c2f-size", type=int, default=512)
    parser.add_argument("--c2f-evals", type=int, default=500)
    parser.add_argument("--coarse-steps", type=int, default=100, help="steps at each coarse level")
    args = parser.parse_args()
    warnings.simplefilter("ignore", weights.RandomWeightsWarning)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, random VGG19")

    print("\n1. time per loss evaluation: transfer vs bare VGG19 forward+backward to relu5_1")
    print(f"{'size':>6} {'transfer s':>10} {'bare s':>8} {'ratio':>7}  goal <= 1.05")
    for size in args.sizes:
        ours, bare = overhead(size, args.steps)
        print(f"{size:>5}px {ours:>10.3f} {bare:>8.3f} {ours / bare:>7.3f}")

    t32, t16, l32, l16 = bf16(args.bf16_size, args.evals)
    print(f"\n2. bf16 vs fp32 at {args.bf16_size}px, {args.evals} evaluations")
    print(f"   s/eval fp32 {t32:.3f}  bf16 {t16:.3f}  speed-up {t32 / t16:.2f}  (goal >= 1.6)")
    print(
        f"   loss   fp32 {l32:.5g}  bf16 {l16:.5g}  rel. diff {abs(l16 - l32) / l32:.2%}"
        "  (goal <= 2 %)"
    )

    single, c2f, target, steps = coarse_to_fine(args.c2f_size, args.c2f_evals, args.coarse_steps)
    print(
        f"\n3. coarse-to-fine (3 scales, {args.coarse_steps} steps at each coarse level) vs "
        f"single scale at {args.c2f_size}px"
    )
    print(f"   single scale: {args.c2f_evals} evaluations, {single:.1f} s, loss {target:.5g}")
    reached = "reached it after" if steps < args.c2f_evals else "did NOT reach it within"
    print(f"   coarse-to-fine {reached} {steps} final-size steps, {c2f:.1f} s")
    print(f"   time ratio {c2f / single:.3f}  (goal <= 0.40)")

    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", PEAK, here], capture_output=True, text=True, check=True
    )
    peak_gb = int(out.stdout.strip().splitlines()[-1]) / 2**20
    print(
        f"\n4. peak RSS of a 512px transfer (fresh process, torch's own ~0.5 GB included): "
        f"{peak_gb:.2f} GB  (goal <= 1.0)"
    )


if __name__ == "__main__":
    main()
