"""Fast style transfer (Johnson et al. 2016) on this machine: inference, training, Table 1.

Run: python benchmarks/bench_fast.py [--sizes 256 512] [--repeats 5] [--train-steps 3]
     [--gatys-steps 8]

All numbers come from one run, on random weights (speed does not depend on them), batch 1
unless said otherwise. Every time is the FASTEST of several (on a shared machine the least
disturbed run is the best estimate of the machine's speed; a median mixes in the neighbours):

1. TransformerNet inference at each size: fp32; bf16 under torch.autocast (fp32 weights, a
   cast at every layer); bf16 weights (``net.to(torch.bfloat16)``, what ``stylelib stylize
   --precision bf16`` does); channels_last; and the largest pixel difference from fp32
   (goal at 512²: <= 0.5 s);
2. one training step at batch 4 x 256² with the VGG16 perceptual loss and Adam, timed inside
   ``stylelib.johnson.train.train`` (data loading included);
3. the on-this-machine version of Johnson et al.'s Table 1: a 300-step Gatys transfer
   (``stylelib.gatys.transfer.transfer``, the paper's preset, L-BFGS, VGG19) against one forward
   pass. The 300-step time is ESTIMATED as 300 x the fastest step of a
   ``--gatys-steps`` run at the same size (goal: speed-up >= 500x).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from stylelib import weights
from stylelib.blocks import count_parameters
from stylelib.data import content_image, procedural_style
from stylelib.gatys.transfer import transfer
from stylelib.images import save_image
from stylelib.johnson.network import TransformerNet, stylize_image
from stylelib.johnson.train import train
from stylelib.presets import get as preset

VARIANTS = {  # name: (weights dtype, autocast, channels_last)
    "fp32": (torch.float32, False, False),
    "autocast": (torch.float32, True, False),
    "bf16": (torch.bfloat16, False, False),
    "fp32+CL": (torch.float32, False, True),
    "bf16+CL": (torch.bfloat16, False, True),
}


def inference(size: int, repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Fastest of ``repeats`` forward passes per variant; max |output - fp32| per variant."""
    torch.manual_seed(0)
    base = TransformerNet().eval()
    image = content_image("astronaut", size=size)  # 512 x 512: square at every size
    reference = stylize_image(base, image)
    times, errors = {}, {}
    for name, (dtype, autocast, channels_last) in VARIANTS.items():
        layout = torch.channels_last if channels_last else torch.contiguous_format
        net = copy.deepcopy(base).to(dtype=dtype, memory_format=layout)
        runs = []
        for _ in range(repeats + 1):  # the first call warms up the kernels
            start = time.perf_counter()
            out = stylize_image(net, image, autocast=autocast, channels_last=channels_last)
            runs.append(time.perf_counter() - start)
        times[name] = min(runs[1:])
        errors[name] = (out - reference).abs().max().item()
    return times, errors


def training_step(steps: int) -> float:
    """Fastest interval between consecutive steps of ``train`` at batch 4 x 256²."""
    config = replace(
        preset("johnson2016"), weights="random", device="cpu", steps=steps + 1, checkpoint_every=0
    )
    with tempfile.TemporaryDirectory() as folder:
        for i, name in enumerate(("chelsea", "astronaut", "coffee", "rocket")):
            save_image(content_image(name, size=320), Path(folder) / f"{i}.png")
        result = train("mosaic", folder, config, progress=False)
    seconds = [r["seconds"] for r in result.history]
    return min(b - a for a, b in zip(seconds, seconds[1:], strict=False))


def gatys_step(size: int, steps: int) -> float:
    """Fastest L-BFGS step of ``transfer`` with the paper's preset at ``size``."""
    config = replace(
        preset("gatys2016"), weights="random", device="cpu", init="content", size=size, steps=steps
    )
    result = transfer(content_image("astronaut"), procedural_style("mosaic", size=size), config,
                     progress=False)  # fmt: skip
    seconds = [r["seconds"] for r in result.history]
    return min(b - a for a, b in zip(seconds, seconds[1:], strict=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes per cell")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--gatys-steps", type=int, default=8, help="steps of the short Gatys run")
    args = parser.parse_args()
    warnings.simplefilter("ignore", weights.RandomWeightsWarning)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, random weights; "
        f"TransformerNet {count_parameters(TransformerNet()):,} parameters"
    )

    print(f"\n1. TransformerNet inference, batch 1, seconds (fastest of {args.repeats} runs)")
    print(f"{'size':>6} " + " ".join(f"{n:>8}" for n in VARIANTS) + "   max|out - fp32|")
    fast = {}
    for size in args.sizes:
        times, errors = inference(size, args.repeats)
        fast[size] = times
        cells = " ".join(f"{times[n]:>8.3f}" for n in VARIANTS)
        print(f"{size:>5}² {cells}   bf16 {errors['bf16']:.3f}, autocast {errors['autocast']:.3f}")
    if 512 in fast:
        best = min(fast[512], key=fast[512].get)
        verdict = "met" if fast[512][best] <= 0.5 else "NOT met"
        print(f"   512²: best {best} {fast[512][best]:.3f} s (goal <= 0.5 s: {verdict})")

    step = training_step(args.train_steps)
    print(
        f"\n2. one training step, batch 4 x 256², VGG16 loss + Adam: {step:.2f} s "
        f"(fastest of {args.train_steps}, data loading included); 40,000 steps = "
        f"{40_000 * step / 3600:.0f} h on this CPU"
    )

    print(
        f"\n3. Table 1 on this machine: Gatys 300 L-BFGS steps (ESTIMATED: 300 x the fastest "
        f"step of a {args.gatys_steps}-step run) vs one TransformerNet forward pass"
    )
    print(
        f"{'size':>6} {'Gatys s/step':>12} {'Gatys 300':>10} {'fast fp32':>10} {'speed-up':>9} "
        f"{'fast best':>10} {'speed-up':>9}  goal >= 500x"
    )
    for size in args.sizes:
        per_step = gatys_step(size, args.gatys_steps)
        best = min(fast[size], key=fast[size].get)
        t300, t32, tb = 300 * per_step, fast[size]["fp32"], fast[size][best]
        print(
            f"{size:>5}² {per_step:>12.3f} {t300:>9.1f}s {t32:>9.3f}s {t300 / t32:>8.0f}x "
            f"{tb:>9.3f}s {t300 / tb:>8.0f}x  ({best})"
        )


if __name__ == "__main__":
    main()
