"""``stylelib video``: style transfer for a video, frame by frame or held together by its flow.

Ruder, Dosovitskiy, Brox, "Artistic style transfer for videos" (arXiv 1604.08610, 2016):
stylised one by one, the frames of a video flicker, because nothing ties frame t's strokes
to frame t-1's. Three methods (``--method``, :class:`VideoConfig`)::

    stylelib video in.mp4 -o out.mp4 --model candy                    # frames (default)
    stylelib video in.mp4 -o out.mp4 --model multistyle26 --style 7 --method blend
    stylelib video in.mp4 -o out.mp4 --adain-style painting.jpg --method blend
    stylelib video in.mp4 -o out.mp4 --gatys-style mosaic --method gatys --steps 100

- ``frames``: each frame alone, by whatever stylises one image: a feed-forward network
  (``--model``: a ``stylelib train`` checkpoint, ``candy.pth``, a multi-style network with
  ``--style``), AdaIN (``--adain-style IMAGE``) or Gatys' optimisation from noise
  (``--gatys-style IMAGE``, Ruder et al.'s per-frame baseline). The baseline to beat.
- ``blend`` (:class:`Blend`): frame t's own stylisation f_t, pulled towards the previous
  output warped onto frame t (ω_t) where the flow is reliable (c_t, the consistency mask):
  ``out_t = f_t + λ c_t (ω_t − f_t)``, i.e. ``c·(λ ω + (1−λ) f) + (1−c)·f``. Where c = 1 the
  output is an exponential moving average along the motion; where the flow fails
  (disocclusions, motion boundaries, new content at the borders) it is f_t itself.
- ``gatys`` (:class:`GatysVideo`): Ruder et al.'s optimisation. The first frame from noise;
  every later one starts from ω_t (their ``-init random,prevWarped``) and adds the
  short-term temporal loss ``temporal_weight · 1/D Σ c (x − ω)²``
  (:func:`stylelib.losses.temporal_loss`) to Gatys' objective; with ``relative_indices``
  (e.g. 1,2,4) also their long-term loss: the same term for each earlier frame i-j warped
  onto frame t, each pixel weighted towards its closest reliable one
  (:func:`long_term_weights`).

**The flow** is computed on the input frames (never on stylised ones, whose strokes would be
tracked instead of the scene): backward flow of frame t to t-1 and forward flow of t-1 to
t, OpenCV's DIS (default) or Farnebäck (:mod:`stylelib.flow`), and c is the authors'
code's soft mask (``consistency_mask(smooth=True)``: Ruder's two tests, blurred, so that a
disocclusion fades in over ~2 px instead of drawing its outline into the picture).

**Units.** λ = 0.5: under i.i.d. flicker of variance σ² the frames' warping error is 2σ²,
the moving average's (1−λ)²·2σ²/(1+λ), a sixth of it; and a frame's look moves at most
half-way to the previous output, only where c > 0. The bound the tests hold it to: blend
moves a frame (mean |out_t − f_t|) by less than half the frame-to-frame change of
``frames`` it removes, and a steady network's frames by less than 0.005 (measured: 0.38
and 0.39 of it on the pan and occluder clips with a ±30 % flicker; 0.0017). The
warping error then falls to 0.20 and 0.32 of ``frames``' (tests/test_video.py), and with
the published multistyle26 to 0.19 on a pan and 0.65 on a flat square moving over a still
photo, whose flat inside DIS cannot track (benchmarks/bench_video.py).

The temporal weight converts the authors' ``-temporal_weight 1e3`` exactly: their code
preprocesses images ×256 (Caffe units) and divides by every value as
:func:`~stylelib.losses.temporal_loss` does, so on [0, 1] images it is 1e3·256². That
number weighs the temporal term against the rest of *their* objective: neural-style's
losses on the raw Caffe VGG-19, which :data:`RUDER2016` reproduces (``--weights caffe``);
with other weights the feature terms change units, the temporal term does not (random
weights, offline: it runs, the pictures are grain).

Resumable (:mod:`stylelib.videorun`): finished frames wait in ``OUT.frames/`` and a killed
run started again continues there and writes the same bytes; the look-back methods read the
previous output from that folder, so an uninterrupted run sees exactly what a resumed one
does. The output has the input's size, rate and audio; odd sizes are refused (yuv420p).

The long-term flows (frame t to t-j) are computed directly between the two input frames, as
[Rc]'s README asks ("you have to compute the corresponding long-term flow as well").

Not done: multi-pass ([Rc]'s ``artistic_video_multiPass.lua``: every frame optimised in
``-num_passes`` 15 passes in alternating directions, the temporal loss from pass 8 on),
which needs every frame's output before any is final and so a whole-video run instead of
this resumable frame-by-frame one. RAFT flow is offered (``--flow raft_small``) but needs
torchvision's pretrained weights in the torch cache, which cannot be fetched offline; no
number here was measured with it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from stylelib import videoio
from stylelib.commands import (
    add_config_flags,
    add_device,
    add_output,
    add_overwrite,
    add_quiet,
    config_from_args,
)
from stylelib.config import MIN_SIDE, check_fields
from stylelib.errors import Diverged, ImageError
from stylelib.flow import compute_flow, consistency_mask, load_raft, warp
from stylelib.gatys.config import GATYS_STYLE_LAYERS, GatysConfig
from stylelib.losses import temporal_loss
from stylelib.videoio import check_even, check_readable, check_video_target, probe
from stylelib.videorun import map_video, work_folder

Stylise = Callable[[Tensor], Tensor]  # one frame (1, 3, H, W) in [0, 1] -> its stylisation


@dataclass(frozen=True)
class VideoConfig:
    """How a video's frames are held together.

    [R16]: Ruder, Dosovitskiy, Brox 2016; [Rc]: their code, manuelruder/artistic-videos.
    """

    method: Literal["frames", "blend", "gatys"] = "frames"  # frames (default): each frame
    # alone; blend: each output held to the previous one along the flow; gatys: [R16]
    flow: Literal["dis", "farneback", "raft_small", "raft_large"] = "dis"  # dis (default) or
    # farneback, OpenCV's, need no weights; raft_*: torchvision's RAFT, its weights cached
    blend: float = 0.5  # λ of blend (default 0.5): i.i.d. flicker's warping error times
    # (1-λ)²/(1+λ), a sixth; a frame moves at most λ of the way to the previous output
    temporal_weight: float = 1e3 * 256**2  # gatys: [Rc] -temporal_weight 1e3 on pixels x256,
    # 1e3 x 256² = 6.6e7 on [0, 1] images
    steps: int = 100  # gatys: L-BFGS steps of a frame started from the previous ([Rc] 1000)
    first_steps: int = 200  # steps of a frame started from noise: gatys' first, or every
    # frame of --gatys-style with frames and blend ([Rc] 2000)
    relative_indices: tuple[int, ...] = (1,)  # gatys: the earlier frames j each frame i is
    # held to, i-j warped ([Rc] -flow_relative_indices 1: short-term only; e.g. 1,2,4 adds
    # Ruder's long-term loss, each pixel held to its closest reliable earlier frame)

    def __post_init__(self) -> None:
        check_fields(self)
        if not 0 <= self.blend <= 1:
            raise ValueError(f"blend must be from 0 (frames alone) to 1, got {self.blend}")
        if self.first_steps < 1:
            raise ValueError(f"first_steps must be positive, got {self.first_steps}")
        indices = self.relative_indices
        if not indices or min(indices) < 1 or len(set(indices)) != len(indices):
            raise ValueError(
                "relative_indices must be distinct whole numbers >= 1 (frames back, e.g. "
                f"1,2,4), got {','.join(map(str, indices)) or 'none'}"
            )


# [Rc]'s objective (manuelruder/artistic-videos, artistic_video.lua defaults): neural-style's
# losses on the raw Caffe VGG-19 (loadcaffe), which are this library's "johnson"
# normalisation: content = MSE of the features, style = MSE of Grams / (C H W), i.e.
# ||G - A||² / N² per layer.
_CHANNELS = (64, 128, 256, 512, 512)  # N_l of relu1_1 ... relu5_1
RUDER2016 = GatysConfig(
    weights="caffe",  # [Rc] -model_file VGG_ILSVRC_19_layers.caffemodel
    normalize_network=False,  # [Rc] the raw network
    pooling="max",  # [Rc] -pooling max
    content_layers=("relu4_2",),  # [Rc] -content_layers relu4_2
    style_layers=GATYS_STYLE_LAYERS,  # [Rc] -style_layers relu1_1,...,relu5_1
    style_layer_weights=tuple(1 / n**2 for n in _CHANNELS),  # MSECriterion over N² entries
    content_weight=5.0,  # [Rc] -content_weight 5e0
    style_weight=1e2,  # [Rc] -style_weight 1e2
    tv_weight=1e-3 * 256**2 / 2,  # [Rc] -tv_weight 1e-3: TVLoss's gradient is ½ Σ Δ² of x256
    normalization="johnson",
    init="noise",  # [Rc] -init random,prevWarped: the first frame from noise
    optimizer="lbfgs",  # [Rc] -optimizer lbfgs
)


def flow_method(name: str):
    """What :func:`reliable_flow` takes for ``VideoConfig.flow``: OpenCV's by name; RAFT loaded
    once, here (so a missing weights file is said before the first frame, in one line)."""
    return load_raft(name) if name.startswith("raft") else name


def reliable_flow(previous: Tensor, frame: Tensor, method="dis") -> tuple[Tensor, Tensor]:
    """The backward flow of ``frame`` (to ``previous``, input frames) and the soft mask c.

    Returns ``(flow (1, 2, H, W), c (1, 1, H, W) in [0, 1])`` on the CPU: ``warp(previous,
    flow) ≈ frame`` where c = 1 (:func:`stylelib.flow.consistency_mask`, ``smooth=True``).
    """
    previous, frame = previous.cpu(), frame.cpu()
    backward = compute_flow(frame, previous, method=method)
    forward = compute_flow(previous, frame, method=method)
    return backward, consistency_mask(backward, forward, smooth=True)


def blend_outputs(styled: Tensor, warped: Tensor, mask: Tensor, blend: float) -> Tensor:
    """``styled + blend · mask · (warped − styled)``: a frame's stylisation held to the
    previous output where the flow is reliable.

    Example:
        >>> import torch
        >>> f, w = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
        >>> blend_outputs(f, w, torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]]), 0.5)[0, 0]
        tensor([[0.5000, 0.0000],
                [0.5000, 0.0000]])
    """
    return styled + blend * mask * (warped - styled)


def long_term_weights(masks: list[Tensor]) -> list[Tensor]:
    """Ruder et al.'s long-term weights from the consistency masks of frames i-j, closest first.

    Each pixel is held to its closest reliable earlier frame: [Rc]'s ``closestFirst``
    (``processFlowWeights``) takes w_1 = c_1 and w_j = max(c_j − Σ_{k<j} w_k, 0), subtracting
    the weights already made. The paper's form subtracts the masks, max(c_j − Σ_{k<j} c_k, 0);
    the two agree where the masks are 0 or 1 and differ only on soft masks.

    Example:
        >>> import torch
        >>> c = [torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0]), torch.ones(3)]
        >>> [w.tolist() for w in long_term_weights(c)]
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    weights: list[Tensor] = []
    for c in masks:
        taken = sum(weights, torch.zeros_like(c))
        weights.append((c - taken).clamp(min=0) if weights else c)
    return weights


class Blend:
    """``--method blend``: ``out_t = f_t + λ c_t (ω_t − f_t)`` (see the module's docstring).

    Called as ``blend(frame, previous_frame, previous_output)`` (what
    :func:`stylelib.videorun.map_video` passes with ``look_back``); frame 0 is f_0.
    """

    def __init__(self, stylise: Stylise, config: VideoConfig = VideoConfig()) -> None:
        self.stylise, self.config = stylise, config
        self.flow = flow_method(config.flow)

    def __call__(
        self, frame: Tensor, previous_frame: Tensor | None, previous_output: Tensor | None
    ) -> Tensor:
        styled = self.stylise(frame).cpu()
        if previous_output is None:
            return styled
        backward, mask = reliable_flow(previous_frame, frame, self.flow)
        warped = warp(previous_output.cpu(), backward)
        return blend_outputs(styled, warped, mask, self.config.blend).clamp(0, 1)


class GatysVideo:
    """``--method gatys``: Ruder et al.'s per-frame optimisation, short-term loss only.

    Frame 0 from noise (``first_steps``); frame t from ω_t, the previous output warped along
    the backward flow (``steps``), with ``temporal_weight · temporal_loss(x, ω_t, c_t)``
    added to :data:`RUDER2016`'s objective (or ``gatys``, any GatysConfig). Called like
    :class:`Blend`; :meth:`from_noise` is the per-frame baseline (``--method frames``).
    Two details differ from [Rc]: the noise is the library's seeded uniform noise (theirs,
    ``randn × 0.001`` in Caffe units, is nearly the mean pixel), and where a source lies
    outside the frame ω_t repeats the edge pixel (theirs: the mean pixel); c is 0 there.
    """

    def __init__(
        self, style: Tensor, gatys: GatysConfig = RUDER2016, config: VideoConfig = VideoConfig()
    ) -> None:
        from stylelib.gatys.objective import extractor

        self.style, self.gatys, self.config = style, gatys, config
        self.flow = flow_method(config.flow)
        self.net = extractor(gatys)  # built once: its weights are refused before any frame

    def _transfer(self, frame: Tensor, steps: int, **options) -> Tensor:
        from stylelib.gatys.transfer import transfer

        config = replace(self.gatys, size=max(frame.shape[-2:]), steps=steps)
        result = transfer(frame, self.style, config, net=self.net, progress=False, **options)
        if result.stopped == "interrupted":
            raise KeyboardInterrupt
        if result.stopped == "diverged":
            raise Diverged(result.message)
        return result.image

    def from_noise(self, frame: Tensor) -> Tensor:
        """Gatys on one frame from the config's (seeded) noise: each frame alone."""
        return self._transfer(frame, self.config.first_steps)

    @property
    def look_back(self) -> int:
        """How many frames back :meth:`__call__` reads (``map_video``'s ``look_back``)."""
        return max(self.config.relative_indices)

    def __call__(
        self,
        frame: Tensor,
        previous_frame: Tensor | None,
        previous_output: Tensor | None,
        earlier: dict[int, tuple[Tensor, Tensor]] | None = None,
    ) -> Tensor:
        if previous_output is None:
            return self.from_noise(frame)
        pairs = {1: (previous_frame, previous_output), **(earlier or {})}
        held = sorted(j for j in self.config.relative_indices if j in pairs)  # closest first
        warped, masks = {}, {}
        for j in sorted({1, *held}):
            backward, masks[j] = reliable_flow(pairs[j][0], frame, self.flow)
            warped[j] = warp(pairs[j][1].cpu(), backward)
        terms = list(zip(held, long_term_weights([masks[j] for j in held]), strict=True))
        weight = self.config.temporal_weight

        def temporal(x: Tensor) -> Tensor:
            return weight * sum(
                temporal_loss(x, warped[j].to(x.device), c.to(x.device)) for j, c in terms
            )

        extra = temporal if weight > 0 and terms else None
        return self._transfer(frame, self.config.steps, init=warped[1], extra_loss=extra)


# --- the command ---------------------------------------------------------------------------

ADAIN_STYLE_SIZE = 512  # long side of an --adain-style image: `stylelib adain`'s --style-size


def _identity(spec: object) -> object:
    """What a work folder records of a file (name and bytes) or a built-in name."""
    path = Path(str(spec)).expanduser()
    return {"file": path.name, "bytes": path.stat().st_size} if path.is_file() else str(spec)


def adain_stylizer(net, style: Tensor, alpha: float = 1.0) -> Stylise:
    """AdaIN for every frame against one style, whose features are encoded once.

    What :func:`stylelib.adain.networks.stylize` computes (decoder output cropped to the
    frame and clamped), without encoding the 512 px style again for every frame (~2 s each
    on a CPU).
    """

    from stylelib.adain.layer import target

    device = next(net.decoder.parameters()).device
    with torch.no_grad():
        style_feat = net.encoder(style.to(device))

    @torch.no_grad()
    def stylise(frame: Tensor) -> Tensor:
        h, w = frame.shape[-2:]
        t = target(net.encoder(frame.to(device)), [style_feat], alpha=alpha)
        return net.decoder(t)[..., :h, :w].clamp(0.0, 1.0)

    return stylise


def _check_flags(args: argparse.Namespace, config: VideoConfig) -> str:
    """Which style source the flags name (model, adain, gatys), or one line saying why not."""
    given = [n for n in ("model", "adain_style", "gatys_style") if getattr(args, n)]
    if len(given) != 1:
        raise ValueError(
            "give one style: --model MODEL (a network: candy, multistyle26, FILE.pth), "
            "--adain-style IMAGE or --gatys-style IMAGE" + (f"; got {len(given)}" if given else "")
        )
    source = given[0].replace("_style", "")
    if config.method == "gatys" and source != "gatys":
        raise ValueError(
            "--method gatys optimises every frame against a style image: give --gatys-style "
            "IMAGE (--model and --adain-style stylise with a network: --method frames or blend)"
        )
    if args.style is not None and source != "model":
        raise ValueError("--style chooses a style of a multi-style --model; leave it out")
    wrong = [
        flag
        for flag, value, owner in (
            ("--decoder", args.decoder, "adain"),
            ("--encoder", args.encoder, "adain"),
            ("--alpha", args.alpha, "adain"),
            ("--weights", args.weights, "gatys"),
            ("--seed", args.seed, "gatys"),
        )
        if value is not None and source != owner
    ]
    if wrong:
        owner = "--adain-style" if wrong[0] in ("--decoder", "--encoder", "--alpha") else None
        raise ValueError(f"{wrong[0]} goes with {owner or '--gatys-style'}; leave it out")
    return source


def _stylizer(args: argparse.Namespace, source: str, config: VideoConfig, device):
    """``(stylise one frame, its settings, the files it reads)`` for the flags, or a
    :class:`GatysVideo` as the first item for ``--gatys-style``; loads every file now."""
    from stylelib.data import resolve_image

    if source == "gatys":
        gatys = replace(RUDER2016, device=str(device), weights=args.weights or RUDER2016.weights)
        gatys = replace(gatys, seed=args.seed if args.seed is not None else gatys.seed)
        style = resolve_image(args.gatys_style)
        settings = {"gatys_style": _identity(args.gatys_style), "weights": str(gatys.weights)}
        settings |= {"seed": gatys.seed, "first_steps": config.first_steps}
        return GatysVideo(style, gatys, config), settings, [args.gatys_style]
    if source == "adain":
        from stylelib.adain.cli import network_files
        from stylelib.adain.layer import check_alpha
        from stylelib.adain.networks import load_network

        alpha = check_alpha(1.0 if args.alpha is None else args.alpha)
        decoder, encoder = network_files(args)
        net = load_network(decoder, encoder, device=device)
        style = resolve_image(args.adain_style, size=ADAIN_STYLE_SIZE)
        settings = {"adain_style": _identity(args.adain_style), "alpha": alpha}
        settings |= {"decoder": _identity(decoder), "encoder": _identity(encoder or "default")}
        return adain_stylizer(net, style, alpha), settings, [decoder]
    from stylelib.johnson.cli import load_network, model_file
    from stylelib.johnson.cli import stylizer as network_stylizer

    model = model_file(args.model)
    stylise = network_stylizer(load_network(model, device), args)  # checks --style
    return stylise, {"model": _identity(model), "style": args.style}, [model]


def _settings(config: VideoConfig, style: dict) -> dict:
    """What decides the frames, for the work folder: the method's own fields and the style."""
    used = {"frames": (), "blend": ("flow", "blend")}.get(
        config.method, ("flow", "temporal_weight", "steps", "first_steps", "relative_indices")
    )
    return {"method": config.method, **{k: asdict(config)[k] for k in used}, **style}


def cmd_video(args: argparse.Namespace) -> int:
    from stylelib.devices import pick_device

    config = config_from_args(args, VideoConfig())
    source = _check_flags(args, config)
    info = probe(args.input)  # not a video, no frames: one line
    check_readable(info, videoio.MAX_PIXELS)  # variable frame rate, too large
    check_even(info.height, info.width, f"the frames of '{args.input}'")
    if source == "gatys" and min(info.height, info.width) < MIN_SIDE:
        raise ImageError(
            f"'{args.input}' has {info.width}x{info.height} frames; Gatys' VGG needs at least "
            f"{MIN_SIDE} px on each side"
        )
    check_video_target(args.output, inputs=[args.input], overwrite=args.overwrite)
    stylise, style, files = _stylizer(args, source, config, pick_device(args.device))
    inputs = [args.input, *(f for f in files if f is not None and Path(str(f)).is_file())]
    target = check_video_target(args.output, inputs=inputs, overwrite=args.overwrite)
    if config.method == "frames":
        step = stylise.from_noise if isinstance(stylise, GatysVideo) else stylise
    elif config.method == "blend":
        per_frame = stylise.from_noise if isinstance(stylise, GatysVideo) else stylise
        step = Blend(per_frame, config)
    else:
        step = stylise
    start = time.perf_counter()
    try:
        path = map_video(
            args.input,
            target,
            step,
            overwrite=args.overwrite,
            settings=_settings(config, style),
            keep_frames=args.keep_frames,
            look_back={"frames": 0, "blend": 1}.get(config.method, max(config.relative_indices)),
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        folder = work_folder(target)
        kept = len(list(folder.glob("frame_*.png"))) if folder.is_dir() else 0
        print(
            f"stylelib: interrupted; {kept} of {info.frames} frames are kept in {folder}: "
            "run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    seconds = time.perf_counter() - start
    print(
        f"wrote {path}: {info.frames} frames, {info.width} x {info.height} at "
        f"{float(info.fps):.4g} fps{', audio copied' if info.has_audio else ''}; "
        f"{config.method} in {seconds:.1f} s ({info.frames / seconds:.2f} frames/s)"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``video`` to the ``stylelib`` parser."""
    p = sub.add_parser(
        "video",
        help="style transfer for a video: frame by frame, blended along the optical flow, "
        "or Ruder et al.'s optimisation",
        description="Stylise every frame of a video (same size, rate and audio), resumably: "
        "a killed run started again continues from its work folder OUT.frames/. --method "
        "frames: each frame alone; blend: each network output held to the previous output "
        "along the optical flow; gatys: Ruder et al. 2016's optimisation with a temporal loss. "
        "[R16]: Ruder, Dosovitskiy, Brox 2016; [Rc]: their code (manuelruder/artistic-videos).",
    )
    p.add_argument("input", metavar="IN", help="the video (.mp4, .mov, .mkv ...), constant rate")
    add_output(p, "the video to write (.mp4, .mkv or .mov)", metavar="OUT")
    g = p.add_argument_group("the style: one of --model, --adain-style, --gatys-style")
    g.add_argument(
        "--model",
        help="a feed-forward network: a checkpoint of `stylelib train` (or `--styles`), "
        "candy.pth, multistyle26.onnx, or an installed name (candy, multistyle26 ...)",
    )
    g.add_argument(
        "--style", metavar="K|MIX", help="a multi-style network's style: 7, 3:0.5,12:0.5"
    )
    g.add_argument("--adain-style", metavar="IMAGE", help="AdaIN with this painting (or name)")
    g.add_argument("--gatys-style", metavar="IMAGE", help="Gatys with this style image (or name)")
    a = p.add_argument_group("AdaIN, with --adain-style (as `stylelib adain`)")
    a.add_argument("--decoder", metavar="FILE", help="decoder.pth (default: the installed one)")
    a.add_argument("--encoder", metavar="FILE|gatys|imagenet|random", help="the VGG encoder")
    a.add_argument("--alpha", type=float, help="content-style trade-off, 0 to 1 (default 1)")
    m = p.add_argument_group("the method")
    add_config_flags(m, VideoConfig)
    y = p.add_argument_group("Gatys, with --gatys-style (Ruder et al.'s code's objective)")
    y.add_argument(
        "--weights",
        metavar="caffe|imagenet|random|PATH",
        help="VGG-19 weights (default caffe, the authors'; random runs offline, makes grain)",
    )
    y.add_argument("--seed", type=int, help="seed of the noise frames start from (default 0)")
    r = p.add_argument_group("running")
    add_device(r)
    add_overwrite(r, "replace OUT if it exists (never IN)")
    add_quiet(r)
    r.add_argument("--keep-frames", action="store_true", help="keep OUT.frames/ afterwards")
    p.set_defaults(func=cmd_video)
