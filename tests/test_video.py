"""stylelib.video and `stylelib video`: frames in = frames out; blend and Ruder's optimisation
flicker less than frame-by-frame stylisation; resumed runs give the same bytes; bad input is
one line and exit 2, with nothing written.

Oracles: the clips of ``tests/video_clips.py`` (known motion), whose TRUE backward flows and
uncovered pixels measure the warping error (Lai et al. 2018), so the metric does not depend
on the flow the methods estimate (DIS, on the decoded input frames); the temporal loss
against an explicit loop and float64 gradcheck; the brief's form of the blend; an
uninterrupted run against a killed and resumed one, byte for byte.

The flickering network is :class:`FlickerNet`: each frame's colours scaled by a gain that
its own channel means decide through a fast sine, so that two frames of one scene get
unrelated gains in [0.7, 1.3] (the flicker of instance-normalised networks, whose output
follows each frame's statistics, made large and reproducible). Measured (64 x 96, 10 frames,
λ = 0.5, DIS): warping error of blend / frames 0.20 on the pan and 0.32 on the occluder; a
frame moved by 0.38 and 0.39 of the frames' own frame-to-frame change; a steady network's
frames by 0.0017 and 0.0015 on average. The real multistyle26 (style 19), measured by
benchmarks/bench_video.py: 0.19 on the pan but 0.65 on the flat occluder, where DIS cannot
track the square's flat inside (given the true flows instead, blend reached 0.37 there).
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import video_clips as vc
from helpers import assert_one_line_error, run_cli

from stylelib import flow, videoio, videorun
from stylelib.losses import temporal_loss
from stylelib.video import (
    RUDER2016,
    Blend,
    GatysVideo,
    VideoConfig,
    adain_stylizer,
    blend_outputs,
)

SIZE = (64, 96)  # (H, W) of the test clips
FLICKER = 0.3  # FlickerNet's largest relative colour change


class FlickerNet(torch.nn.Module):
    """Colours scaled per frame and channel by 1 + 0.3 sin(2π · 997 · channel mean)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        return (x * (1 + FLICKER * torch.sin(2 * math.pi * 997 * mean))).clamp(0, 1)


def steady(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


CLIPS = {
    "pan": lambda: vc.pan(frames=10, size=SIZE),
    "occluder": lambda: vc.occluder(frames=10, step=4, side=24, size=SIZE),
}


def stylised(tmp_path: Path, clip: vc.Clip, step, look_back: bool) -> tuple[list, list]:
    """Run ``step`` over ``clip`` written as a video; (stored outputs, decoded inputs)."""
    source = tmp_path / "clip.mp4"
    if not source.exists():
        videoio.write_video(clip.frames, source, 25)
    out = tmp_path / f"out{len(list(tmp_path.glob('out*.mp4')))}.mp4"
    videorun.map_video(source, out, step, keep_frames=True, look_back=look_back)
    store = videorun.FrameStore(videorun.work_folder(out), source)
    return list(store.frames()), list(videoio.read_frames(source))


def true_masks(clip: vc.Clip) -> list[torch.Tensor]:
    return [1 - h for h in clip.hidden]


def mean_change(frames: list, clip: vc.Clip) -> float:
    """Mean |out_t - out_{t-1} warped| over the truly visible pixels: the flicker a viewer sees."""
    total = 0.0
    for i, mask in enumerate(true_masks(clip)):
        diff = (frames[i + 1] - flow.warp(frames[i], clip.flows[i])).abs() * mask
        total += diff.sum().item() / (3 * mask.sum().item())
    return total / len(clip.flows)


# --------------------------------------------------------------------------- the formulas


def test_temporal_loss_is_the_masked_mean_square_over_every_value():
    g = torch.Generator().manual_seed(0)
    x, w = torch.rand(2, 2, 3, 4, 5, generator=g, dtype=torch.float64)
    c = torch.rand(2, 1, 4, 5, generator=g, dtype=torch.float64)
    expected = 0.0
    for b in range(2):
        per = sum(
            c[b, 0, i, j].item() * (x[b, k, i, j] - w[b, k, i, j]).item() ** 2
            for k in range(3)
            for i in range(4)
            for j in range(5)
        )
        expected += per / (3 * 4 * 5) / 2
    assert temporal_loss(x, w, c).item() == pytest.approx(expected)
    assert temporal_loss(x, w[:1], c[:1]).item() == pytest.approx(
        sum(temporal_loss(x[i : i + 1], w[:1], c[:1]).item() for i in range(2)) / 2
    )
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: temporal_loss(x, w, c), (x,))


def test_temporal_loss_refuses_a_mask_of_another_size():
    with pytest.raises(ValueError, match="compute it at the frame's size"):
        temporal_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 9))


def test_blend_is_the_masked_mix_of_the_warped_previous_output_and_the_frame():
    g = torch.Generator().manual_seed(1)
    f, w, m = torch.rand(3, 1, 3, 6, 7, generator=g)
    m = m[:, :1]
    lam = 0.3
    brief = m * (lam * w + (1 - lam) * f) + (1 - m) * f
    torch.testing.assert_close(blend_outputs(f, w, m, lam), brief)


def test_video_config_refuses_bad_numbers():
    with pytest.raises(ValueError, match="blend must be from 0"):
        VideoConfig(blend=1.5)
    with pytest.raises(ValueError, match="steps must be positive"):
        VideoConfig(steps=0)
    with pytest.raises(ValueError, match="first_steps must be positive"):
        VideoConfig(first_steps=0)


def test_ruders_temporal_weight_is_the_authors_converted_to_unit_pixels():
    """[Rc] 1e3 on pixels x 256 (their preprocess): the same loss as 1e3 * 256² on [0, 1]."""
    g = torch.Generator().manual_seed(2)
    x, w = torch.rand(2, 1, 3, 8, 8, generator=g, dtype=torch.float64)
    c = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    theirs = 1e3 * temporal_loss(x * 256, w * 256, c)
    ours = VideoConfig().temporal_weight * temporal_loss(x, w, c)
    assert ours.item() == pytest.approx(theirs.item())
    assert (RUDER2016.content_weight, RUDER2016.style_weight) == (5.0, 1e2)


def test_transfer_adds_the_extra_loss_to_what_it_lowers():
    """The hook Ruder's temporal loss uses: recorded as extra_total, part of the loss, and
    pulling the image (here towards black)."""
    from dataclasses import replace

    from stylelib.gatys.transfer import transfer

    config = replace(RUDER2016, weights="random", arch="vgg16", device="cpu", size=32, steps=2)
    g = torch.Generator().manual_seed(3)
    content, style = torch.rand(2, 1, 3, 32, 32, generator=g)
    plain = transfer(content, style, config, init=content, progress=False)
    pulled = transfer(
        content, style, config, init=content, progress=False, extra_loss=lambda x: 1e6 * x.mean()
    )
    record = pulled.history[0]
    assert "extra_total" in record and "extra_total" not in plain.history[0]
    assert record["loss"] == pytest.approx(plain.history[0]["loss"] + record["extra_total"])
    assert pulled.image.mean() < plain.image.mean()


# --------------------------------------------------------------------------- blend


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_blend_halves_the_warping_error_and_moves_a_frame_less_than_its_flicker(name, tmp_path):
    clip = CLIPS[name]()
    net = FlickerNet()
    alone, inputs = stylised(tmp_path, clip, net, look_back=False)
    held, _ = stylised(tmp_path, clip, Blend(net, VideoConfig(method="blend")), look_back=True)
    masks = true_masks(clip)
    frames_error = flow.sequence_warping_error(alone, clip.flows, masks)
    blend_error = flow.sequence_warping_error(held, clip.flows, masks)
    assert blend_error <= 0.5 * frames_error, (blend_error, frames_error)
    moved = np.mean([(b - net(x)).abs().mean().item() for b, x in zip(held, inputs, strict=True)])
    assert moved < 0.5 * mean_change(alone, clip), (moved, mean_change(alone, clip))


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_blend_leaves_a_steady_network_alone(name, tmp_path):
    clip = CLIPS[name]()
    held, inputs = stylised(tmp_path, clip, Blend(steady), look_back=True)
    moved = [(b - x).abs().mean().item() for b, x in zip(held, inputs, strict=True)]
    assert max(moved) < 0.005, moved  # about one 8-bit level


def test_frame_zero_is_the_network_output():
    frame = vc.pan(frames=1, size=SIZE).frames[0]
    torch.testing.assert_close(Blend(FlickerNet())(frame, None, None), FlickerNet()(frame))


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    from stylelib.johnson.network import TransformerNet, save_transformer

    torch.manual_seed(0)
    return save_transformer(TransformerNet().eval(), tmp_path_factory.mktemp("m") / "net.pth")


@pytest.fixture(scope="module")
def three_styles(tmp_path_factory) -> Path:
    from stylelib.johnson.conditional import MultiStyleNet
    from stylelib.johnson.multistyle import save_multistyle

    torch.manual_seed(0)
    net = MultiStyleNet(3, layout="magenta-android").eval()
    return save_multistyle(net, tmp_path_factory.mktemp("m") / "three.pth")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    vc.write_clip(path, frames=10, size=SIZE, fps=Fraction(30000, 1001), audio=True)
    return path


def test_frames_in_equal_frames_out_with_the_rate_size_and_audio(network, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, stdout, err = run_cli(capsys, "video", clip, "-o", out, "--model", network)
    assert code == 0, err
    info = videoio.probe(out)
    assert (info.frames, info.height, info.width) == (10, *SIZE)
    assert info.fps == Fraction(30000, 1001) and info.has_audio
    assert "10/10" in err and "frame" in err  # tqdm's bar: frames done, rate, time left
    assert f"wrote {out}: 10 frames, 96 x 64" in stdout
    assert not videorun.work_folder(out).exists()


def test_a_multistyle_mix_blended_by_farneback_flow(three_styles, clip, tmp_path, capsys):
    out = tmp_path / "out.mkv"
    args = ["--model", three_styles, "--style", "1:0.5,2:0.5", "--method", "blend"]
    code, _, err = run_cli(
        capsys, "video", clip, "-o", out, *args, "--flow", "farneback", "--quiet"
    )
    assert code == 0 and err == "", err
    assert videoio.probe(out).frames == 10


def test_a_killed_run_resumed_gives_the_same_bytes(network, clip, tmp_path, capsys, monkeypatch):
    """Blend reads the previous output back from the work folder: resumed after 4 frames,
    the 5th is blended with the stored 4th, as in the run that was never stopped."""
    from stylelib.johnson import network as johnson

    args = ["--model", network, "--method", "blend", "--quiet"]
    whole = tmp_path / "whole.mp4"
    assert run_cli(capsys, "video", clip, "-o", whole, *args)[0] == 0
    real, calls = johnson.stylize_image, []

    def killed_after_four(net, image, **kw):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(1)
        return real(net, image, **kw)

    out = tmp_path / "resumed.mp4"
    monkeypatch.setattr(johnson, "stylize_image", killed_after_four)
    code, _, err = run_cli(capsys, "video", clip, "-o", out, *args)
    assert code == 130 and "4 of 10 frames are kept" in err and not out.exists()
    monkeypatch.setattr(johnson, "stylize_image", real)
    assert run_cli(capsys, "video", clip, "-o", out, *args)[0] == 0
    assert out.read_bytes() == whole.read_bytes()


def test_a_work_folder_of_another_style_is_refused(three_styles, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    videorun.FrameStore(videorun.work_folder(out), clip, {"method": "frames", "style": "x"})
    code, _, err = run_cli(
        capsys, "video", clip, "-o", out, "--model", three_styles, "--style", "0"
    )
    assert_one_line_error(code, err, "holds frames of another run (its settings differ)")
    assert not out.exists()


# --------------------------------------------------------------------------- bad input


def write_odd(path: Path) -> None:
    """A 63 x 96 H.264 clip (4:4:4 allows odd sides)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 63, "yuv444p"
        for t in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((63, 96, 3), 40 * t, np.uint8))
            frame = frame.reformat(format="yuv444p")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


# name: (the arguments after `video`, from the paths p; a fragment of the one line)
BAD = {
    "not a video": (lambda p: [p.tmp / "notes.txt", "-o", p.out, "--model", p.net], "not a video"),
    "no frames": (lambda p: [p.tmp / "empty.mkv", "-o", p.out, "--model", p.net], "no frames"),
    "variable rate": (lambda p: [p.tmp / "vfr.mkv", "-o", p.out, "--model", p.net], "variable"),
    "too big": (lambda p: [p.clip, "-o", p.out, "--model", p.net], "over the 100-pixel limit"),
    "odd size": (lambda p: [p.tmp / "odd.mp4", "-o", p.out, "--model", p.net], "to 62x96"),
    "output exists": (lambda p: [p.clip, "-o", p.tmp / "x.mp4", "--model", p.net], "exists"),
    "not a video name": (lambda p: [p.clip, "-o", p.tmp / "o.gif", "--model", p.net], ".mkv"),
    "unknown model": (lambda p: [p.clip, "-o", p.out, "--model", "picasso"], "picasso"),
    "style out of range": (
        lambda p: [p.clip, "-o", p.out, "--model", p.three, "--style", "5"],
        "numbered 0 to 2",
    ),
    "one-style network": (
        lambda p: [p.clip, "-o", p.out, "--model", p.net, "--style", "1"],
        "one-style network",
    ),
    "no style": (lambda p: [p.clip, "-o", p.out], "give one style"),
    "two styles": (
        lambda p: [p.clip, "-o", p.out, "--model", p.net, "--adain-style", "mosaic"],
        "give one style",
    ),
    "gatys without an image": (
        lambda p: [p.clip, "-o", p.out, "--model", p.net, "--method", "gatys"],
        "give --gatys-style",
    ),
    "blend above 1": (
        lambda p: [p.clip, "-o", p.out, "--model", p.net, "--method", "blend", "--blend", "2"],
        "blend must be from 0",
    ),
    "alpha without AdaIN": (
        lambda p: [p.clip, "-o", p.out, "--model", p.net, "--alpha", "0.5"],
        "--alpha goes with --adain-style",
    ),
    "no steps": (
        lambda p: [p.clip, "-o", p.out, "--gatys-style", "mosaic", "--steps", "0"],
        "steps must be positive",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(
    case, network, three_styles, clip, tmp_path, capsys, monkeypatch
):
    from types import SimpleNamespace

    (tmp_path / "notes.txt").write_text("hello")
    vc.write_empty(tmp_path / "empty.mkv")
    vc.write_clip(tmp_path / "vfr.mkv", frames=6, size=SIZE, times=[0, 33, 83, 116, 166, 199])
    write_odd(tmp_path / "odd.mp4")
    (tmp_path / "x.mp4").write_bytes(b"keep me")
    if case == "too big":
        monkeypatch.setattr(videoio, "MAX_PIXELS", 100)
    paths = SimpleNamespace(
        tmp=tmp_path, out=tmp_path / "out.mp4", clip=clip, net=network, three=three_styles
    )
    arguments, fragment = BAD[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run_cli(capsys, "video", *arguments(paths))
    assert_one_line_error(code, err, fragment, alone=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "x.mp4").read_bytes() == b"keep me"


# --------------------------------------------------------------------------- gatys, AdaIN


@pytest.fixture(scope="module")
def small_gatys():
    """Ruder's objective on random VGG-16 (offline), 48 x 64 frames, a few steps."""
    from dataclasses import replace

    from stylelib.data import resolve_image

    config = replace(RUDER2016, weights="random", arch="vgg16", device="cpu")
    return resolve_image("mosaic", size=64), config


@pytest.mark.slow
def test_gatys_lowers_the_warping_error_of_gatys_frame_by_frame(small_gatys):
    """Measured (4 frames, 48 x 64, steps 2, first 3, no TV): from noise each 0.096; from the
    warped previous output 0.0017, with the temporal loss 0.0003."""
    from dataclasses import replace

    style, config = small_gatys
    clip = vc.pan(frames=4, size=(48, 64))
    errors = {}
    for weight in (0.0, VideoConfig().temporal_weight):
        video = VideoConfig(method="gatys", steps=2, first_steps=3, temporal_weight=weight)
        ruder = GatysVideo(style, replace(config, tv_weight=0.0), video)
        outs, previous = [], None
        for i, frame in enumerate(clip.frames):
            previous = ruder(frame, clip.frames[i - 1] if i else None, previous)
            outs.append(previous)
        errors[weight] = flow.sequence_warping_error(outs, clip.flows, true_masks(clip)).item()
    alone = [ruder.from_noise(frame) for frame in clip.frames]
    frames_error = flow.sequence_warping_error(alone, clip.flows, true_masks(clip)).item()
    assert errors[VideoConfig().temporal_weight] < 0.5 * errors[0.0] < 0.5 * frames_error


def test_long_term_weights_hold_each_pixel_to_its_closest_reliable_frame():
    """Binary masks: frame i-j's weight is 1 exactly where it is the closest reliable one
    (a closed form); soft masks: the authors' code subtracts the weights already made."""
    from stylelib.video import long_term_weights

    torch.manual_seed(0)
    binary = [(torch.rand(1, 1, 5, 7) > 0.5).float() for _ in range(4)]
    closest = torch.stack(binary).argmax(0)  # the first reliable one (argmax takes the first 1)
    reliable = torch.stack(binary).amax(0)
    for j, w in enumerate(long_term_weights(binary)):
        assert torch.equal(w, (closest == j).float() * reliable)
    soft = [torch.tensor([0.5]), torch.tensor([0.5]), torch.tensor([1.0])]
    code = long_term_weights(soft)  # 0.5, max(0.5 - 0.5, 0) = 0, max(1 - 0.5 - 0, 0) = 0.5
    assert [w.item() for w in code] == [0.5, 0.0, 0.5]  # the paper's form would give 0 last


def test_the_long_term_loss_sums_the_temporal_loss_of_each_earlier_frame(monkeypatch):
    """frames i-1 and i-2 warped onto frame i by their own flows, each with its long-term
    weight; the start is frame i-1's output warped."""
    from stylelib.video import long_term_weights, reliable_flow

    clip = vc.pan(frames=3, size=SIZE)
    outputs = [(f * 0.7 + 0.1) for f in clip.frames]
    video = VideoConfig(method="gatys", relative_indices=(1, 2), temporal_weight=3.0)
    ruder = GatysVideo.__new__(GatysVideo)  # no VGG: the frame's optimisation is replaced
    ruder.config, ruder.flow = video, video.flow
    captured = {}
    monkeypatch.setattr(GatysVideo, "_transfer", lambda self, f, steps, **kw: captured.update(kw))
    assert ruder.look_back == 2
    ruder(clip.frames[2], clip.frames[1], outputs[1], {2: (clip.frames[0], outputs[0])})
    flows = [reliable_flow(clip.frames[k], clip.frames[2]) for k in (1, 0)]
    warped = [flow.warp(outputs[k], f) for k, (f, _) in zip((1, 0), flows, strict=True)]
    weights = long_term_weights([c for _, c in flows])
    x = torch.rand_like(clip.frames[2])
    expected = 3.0 * sum(
        ((w * (x - o) ** 2).sum() / x.numel()) for o, w in zip(warped, weights, strict=True)
    )
    assert torch.allclose(captured["extra_loss"](x), expected, rtol=1e-6)
    assert torch.equal(captured["init"], warped[0])


@pytest.mark.slow
def test_a_long_term_gatys_run_resumed_gives_the_same_bytes(tmp_path, capsys, monkeypatch):
    source = tmp_path / "in.mp4"
    vc.write_clip(source, frames=5, size=(48, 64))
    args = ["--gatys-style", "mosaic", "--method", "gatys", "--weights", "random", "--quiet"]
    args += ["--steps", "1", "--first-steps", "1", "--relative-indices", "1,2"]
    whole = tmp_path / "whole.mp4"
    assert run_cli(capsys, "video", source, "-o", whole, *args)[0] == 0
    real, calls = GatysVideo._transfer, []

    def killed_after_three(self, frame, steps, **kw):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return real(self, frame, steps, **kw)

    out = tmp_path / "resumed.mp4"
    monkeypatch.setattr(GatysVideo, "_transfer", killed_after_three)
    assert run_cli(capsys, "video", source, "-o", out, *args)[0] == 130
    monkeypatch.setattr(GatysVideo, "_transfer", real)
    assert run_cli(capsys, "video", source, "-o", out, *args)[0] == 0
    assert out.read_bytes() == whole.read_bytes()


def test_raft_flow_without_its_weights_is_one_line_before_any_frame(
    network, clip, tmp_path, capsys, offline_cache
):
    out = tmp_path / "out.mp4"
    args = ["--model", network, "--method", "blend", "--flow", "raft_small"]
    code, _, err = run_cli(capsys, "video", clip, "-o", out, *args)
    assert_one_line_error(code, err, "are not in the torch cache")
    assert not out.exists() and not videorun.work_folder(out).exists()


def test_relative_indices_must_be_distinct_frames_back():
    for bad in ((), (0, 1), (1, 1), (-2,)):
        with pytest.raises(ValueError, match="relative_indices"):
            VideoConfig(relative_indices=bad)


@pytest.mark.slow
def test_gatys_through_the_command_offline(tmp_path, capsys):
    source = tmp_path / "in.mp4"
    vc.write_clip(source, frames=3, size=(48, 64))
    out = tmp_path / "out.mp4"
    args = ["--gatys-style", "mosaic", "--method", "gatys", "--weights", "random"]
    code, _, err = run_cli(
        capsys, "video", source, "-o", out, *args, "--steps", "1", "--first-steps", "1", "--quiet"
    )
    assert code == 0, err
    assert videoio.probe(out).frames == 3


@pytest.mark.slow
def test_adain_frames_are_stylize_with_the_style_encoded_once(tmp_path, capsys):
    from stylelib.adain.networks import Decoder, load_network, stylize
    from stylelib.data import resolve_image

    decoder = tmp_path / "decoder.pth"
    torch.save(Decoder(seed=0).state_dict(), decoder)
    net = load_network(decoder, "random")
    style, frame = resolve_image("mosaic", size=64), vc.pan(frames=1, size=SIZE).frames[0]
    torch.testing.assert_close(adain_stylizer(net, style)(frame), stylize(net, frame, style))
    source = tmp_path / "in.mp4"
    vc.write_clip(source, frames=3, size=SIZE)
    args = ["--adain-style", "mosaic", "--decoder", decoder, "--encoder", "random", "--quiet"]
    code, _, err = run_cli(capsys, "video", source, "-o", tmp_path / "out.mp4", *args)
    assert code == 0, err
