"""Super-resolution (Johnson et al. 2016, Sec. 4) on this machine: x4 inference, 288 -> 1152 px.

Run: python benchmarks/bench_superres.py [--size 288] [--factor 4] [--repeats 5] [--device cpu]

All numbers come from one run, on random weights (speed does not depend on them), batch 1.
Every time is the FASTEST of ``--repeats`` forward passes (on a shared machine the least
disturbed run is the best estimate of the machine's speed). Printed, per variant:

- fp32: the network as trained;
- bf16: the network's weights in bfloat16 (``net.to(torch.bfloat16)``, what ``stylelib
  upscale --precision bf16`` does), with its largest and mean pixel difference from fp32;
- the speed-up of bf16 over fp32, and of both over the bicubic baseline's cost (a ratio
  above 1 means the network is that many times slower than ``F.interpolate``).

The input is the astronaut photo at ``--size`` px, so the output is ``factor x size`` px
(the paper's 288 px patches would come from 72 px inputs; 288 px inputs are what a user
upscales).
"""

from __future__ import annotations

import argparse
import time

import torch

from stylelib.blocks import count_parameters
from stylelib.data import content_image
from stylelib.devices import pick_device
from stylelib.superres.degrade import bicubic_upscale
from stylelib.superres.network import SRNet, upscale_image


def fastest(call, repeats: int, device: torch.device) -> float:
    """The fastest of ``repeats`` calls, after one warm-up call, in seconds."""
    call()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=288, help="input side in px (288)")
    parser.add_argument("--factor", type=int, default=4, choices=[4, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    net = SRNet(args.factor).eval().to(device)
    image = content_image("astronaut", size=args.size).to(device)
    out_side = args.factor * args.size
    print(
        f"SRNet x{args.factor} ({count_parameters(net):,} parameters) on {device}, "
        f"{args.size} -> {out_side} px, fastest of {args.repeats}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    reference = upscale_image(net, image)
    fp32 = fastest(lambda: upscale_image(net, image), args.repeats, device)
    bf16_net = SRNet(args.factor).eval().to(device)
    bf16_net.load_state_dict(net.state_dict())
    bf16_net = bf16_net.to(torch.bfloat16)
    bf16 = fastest(lambda: upscale_image(bf16_net, image), args.repeats, device)
    diff = (upscale_image(bf16_net, image) - reference).abs()
    bicubic = fastest(lambda: bicubic_upscale(image, args.factor), args.repeats, device)
    megapixels = out_side**2 / 1e6
    print(f"fp32    {fp32:8.3f} s  ({megapixels / fp32:6.2f} output Mpx/s)")
    print(
        f"bf16    {bf16:8.3f} s  ({megapixels / bf16:6.2f} output Mpx/s); "
        f"max |bf16 - fp32| {diff.max().item():.4f}, mean {diff.mean().item():.5f}"
    )
    print(f"bicubic {bicubic:8.4f} s  (F.interpolate, the baseline)")
    print(
        f"ratios: fp32 / bf16 = {fp32 / bf16:.2f}x; network / bicubic = {fp32 / bicubic:,.0f}x "
        f"(fp32), {bf16 / bicubic:,.0f}x (bf16)"
    )


if __name__ == "__main__":
    main()
