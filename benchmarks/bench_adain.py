"""AdaIN (Huang & Belongie 2017) against the course's other two methods, on this machine.

Run: python benchmarks/bench_adain.py [--sizes 256 512] [--repeats 5]

All numbers come from one run, on random weights (speed does not depend on them), batch 1,
fp32. Every time is the FASTEST of ``--repeats`` runs after one warm-up (on a shared machine
the least disturbed run is the best estimate of the machine's speed). Per size:

1. AdaIN inference, the whole of :func:`stylelib.adain.networks.stylize`: encoder of the
   content and of a style of the same size (VGG-19 to relu4_1, reflection padding), the
   AdaIN layer, the decoder (3.5 M parameters);
2. the Johnson et al. transform network (``stylelib.johnson.network``, 1.7 M parameters): one
   forward pass; it knows one style only;
3. one evaluation of a Gatys transfer: VGG-19 to relu5_1, forward and backward to the image
   (``stylelib.vgg.VGGFeatures``); a transfer takes hundreds of them (the paper: 300-1000).

The ratios compare one AdaIN stylisation with one Johnson pass and with one Gatys step. The
paper's Table 1 (one Titan X, 512²: AdaIN 0.065 s, 0.098 s counting the style's encoding, as
here; Ulyanov et al.'s single-style network 0.038 s; Gatys et al. about 47 s) puts AdaIN at
about twice a single-style network.
"""

from __future__ import annotations

import argparse
import warnings

import torch
from timing import fastest  # benchmarks/timing.py, beside this script

from stylelib import weights
from stylelib.adain.networks import AdaINNet, Decoder, Encoder, stylize
from stylelib.data import content_image, procedural_style
from stylelib.johnson.network import TransformerNet, stylize_image
from stylelib.vgg import VGGFeatures

GATYS_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]


def measure(size: int, repeats: int) -> dict[str, float]:
    photo = content_image("astronaut", size=size)  # square at every size
    style = procedural_style("mosaic", size=size)
    net = AdaINNet(Encoder.from_vgg("random", normalize=False), Decoder())
    johnson = TransformerNet().eval()
    vgg = VGGFeatures("vgg19", weights="random", layers=GATYS_LAYERS)

    def gatys_step() -> None:
        image = photo.clone().requires_grad_(True)
        feats = vgg(image)
        sum(f.square().mean() for f in feats.values()).backward()

    return {
        "adain": fastest(lambda: stylize(net, photo, style), repeats),
        "johnson": fastest(lambda: stylize_image(johnson, photo), repeats),
        "gatys step": fastest(gatys_step, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell")
    args = parser.parse_args()
    warnings.simplefilter("ignore", weights.RandomWeightsWarning)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, random weights, "
        f"batch 1, fp32; seconds, fastest of {args.repeats} runs"
    )
    print(
        f"{'size':>6} {'AdaIN':>8} {'Johnson':>8} {'Gatys step':>11}   AdaIN / Johnson   "
        "Gatys step / AdaIN"
    )
    for size in args.sizes:
        t = measure(size, args.repeats)
        print(
            f"{size:>5}² {t['adain']:>8.3f} {t['johnson']:>8.3f} {t['gatys step']:>11.3f}   "
            f"{t['adain'] / t['johnson']:>15.2f}   {t['gatys step'] / t['adain']:>18.2f}"
        )
    print(
        "AdaIN takes any style in that time; Johnson's network one style (hours of training "
        "each); Gatys any style, but hundreds of steps per image."
    )


if __name__ == "__main__":
    main()
