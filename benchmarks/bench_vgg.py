"""VGG extractor: speed against bare torchvision slicing, and peak memory of building it.

Run: python benchmarks/bench_vgg.py [--repeats 5]

1. Forward + backward to the image, at 256^2 and 512^2, of ``VGGFeatures`` up to relu5_1
   against torchvision's own ``features[:k]`` with the same weights and the same ImageNet
   normalisation. Runs alternate so that machine noise hits both; the median ratio is
   printed (goal: <= 1.05).
2. Peak resident memory of building the extractor from a full torchvision-format VGG19 file
   (548 MB, classifier included), in fresh processes: ``VGGFeatures`` (which maps the file
   and copies only ``features``) against ``torchvision.models.vgg19()`` + ``load_state_dict``.
   Goal: the classifier's 124 M weights are never brought into memory.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torchvision.models.vgg import cfgs, make_layers

from stylelib import weights
from stylelib.vgg import VGGFeatures, layer_index


def time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speed(size: int, repeats: int) -> tuple[float, float]:
    ours = VGGFeatures("vgg19", weights="random", layers=["relu5_1"])
    bare = make_layers(cfgs["E"])[: layer_index("relu5_1") + 1]
    bare.load_state_dict(ours.features.state_dict())
    bare.requires_grad_(False).eval()
    mean, std = ours.mean, ours.std
    image = torch.rand(1, 3, size, size)

    def run_ours():
        x = image.clone().requires_grad_(True)
        ours(x)["relu5_1"].mean().backward()

    def run_bare():
        x = image.clone().requires_grad_(True)
        bare((x - mean) / std).mean().backward()

    run_ours(), run_bare()  # warm-up
    t_ours, t_bare = [], []
    for _ in range(repeats):
        t_ours.append(time_once(run_ours))
        t_bare.append(time_once(run_bare))
    return statistics.median(t_ours), statistics.median(t_bare)


PEAK_RSS = """
import sys, torch, torchvision.models, stylelib.vgg, stylelib.weights

def status_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

mode, path = sys.argv[1], sys.argv[2]
before = status_mb("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark VmHWM to now
if mode == "stylelib":
    net = stylelib.vgg.VGGFeatures("vgg19", weights=path)
else:
    net = torchvision.models.vgg19()
    net.load_state_dict(torch.load(path, weights_only=True))
print(status_mb("VmHWM:") - before)
"""


def peak_rss_mb(mode: str, path: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    warnings.simplefilter("ignore", weights.RandomWeightsWarning)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(
        "forward + backward to the image, VGG19 up to relu5_1 (median of "
        f"{args.repeats}, alternating runs)"
    )
    print(f"{'size':>6} {'stylelib s':>11} {'torchvision s':>14} {'ratio':>7}  goal <= 1.05")
    for size in (256, 512):
        t_ours, t_bare = speed(size, args.repeats)
        print(f"{size:>5}² {t_ours:>11.3f} {t_bare:>14.3f} {t_ours / t_bare:>7.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        from torchvision.models import vgg19

        path = Path(tmp) / weights.official_name("vgg19")
        torch.save(vgg19().state_dict(), path)  # random, but shaped like the real file
        size_mb = path.stat().st_size / 1e6
        ours, full = peak_rss_mb("stylelib", path), peak_rss_mb("torchvision", path)
    features_mb = 20_024_384 * 4 / 1e6
    print(f"\npeak RSS growth building VGG19 from a {size_mb:.0f} MB torchvision-format file")
    print(f"  stylelib VGGFeatures            {ours:7.0f} MB")
    print(f"  torchvision vgg19() + load      {full:7.0f} MB")
    print(f"  ratio stylelib / torchvision    {ours / full:7.3f}")
    print(
        f"  features alone are {features_mb:.0f} MB; the classifier {size_mb - features_mb:.0f} MB "
        f"{'was NOT' if ours < features_mb * 2.5 else 'WAS'} brought into memory"
    )


if __name__ == "__main__":
    main()
