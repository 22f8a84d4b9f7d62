"""Catalogue of bad inputs about files and images: nothing is overwritten, sizes have one
rule, and whatever fails, the command line says it in one line.

One case per bad input, across the command line and the Python API. Each case sets up its
files in ``tmp_path`` and returns what to run and what must happen: an exit status (with
the one ``stylelib: error:`` line containing a fragment) or an exception type (with a
one-line message containing it). Every file that existed before the call, in ``tmp_path``
and in the torch cache, must be byte-for-byte and mtime-for-mtime the same after it; the
only other changes allowed are the ones a case names (a file another run wrote meanwhile,
a stale temporary file removed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_cli
from PIL import Image

from stylelib import diagrams, files, weights
from stylelib.data import procedural_style
from stylelib.errors import Diverged, ImageError, OutputError
from stylelib.gatys import transfer as gatys_transfer
from stylelib.images import load_image, resize, save_image
from stylelib.johnson import network as johnson_network
from stylelib.johnson import train as johnson_train

TINY = ["--weights", "random", "--device", "cpu", "--size", "32", "--steps", "2", "--quiet"]
OTHER = b"what another run wrote meanwhile"


@dataclass
class Expect:
    """What one case runs and what must come of it."""

    run: list | Callable  # stylelib's argv, or a Python call
    outcome: int | type[BaseException]  # exit status, or the exception raised
    fragment: str  # in the one error line (in stdout for a success)
    appears: dict = field(default_factory=dict)  # name -> bytes (None: any), written meanwhile
    removed: set = field(default_factory=set)  # names that may disappear (stale temps)


CASES: dict[str, Callable] = {}


def case(fn: Callable) -> Callable:
    CASES[fn.__name__] = fn
    return fn


# --------------------------------------------------------------------------- set-up helpers


def pictures(tmp: Path) -> tuple[Path, Path]:
    """A content and a style image, 48 px PNGs."""
    return (
        save_image(procedural_style("mosaic", size=48), tmp / "content.png"),
        save_image(procedural_style("waves", size=48), tmp / "style.png"),
    )


def transfer_argv(tmp: Path, *extra) -> list:
    content, style = pictures(tmp)
    return ["transfer", content, style, *TINY, *extra]


def no_work(mp) -> None:
    """Fail the test if the transfer gets as far as building its network."""
    mp.setattr(gatys_transfer, "extractor", lambda cfg: pytest.fail("the work started"))


def unwritable(mp, folder: Path) -> None:
    """``folder`` refuses writes (chmod does not stop root, as in many containers)."""
    real = os.access
    mp.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real(p, mode))


def after_transfer(mp, then: Callable) -> None:
    """Run ``then()`` (another run's write) once the optimisation has finished."""
    real = gatys_transfer.transfer

    def racing(*args, **kwargs):
        result = real(*args, **kwargs)
        then()
        return result

    mp.setattr(gatys_transfer, "transfer", racing)


def untrained_model(mp) -> None:
    """Any model path loads a fresh TransformerNet: stylize runs without training one."""

    def load(path, map_location=None):
        return johnson_network.TransformerNet().eval()

    mp.setattr(johnson_network.TransformerNet, "from_checkpoint", staticmethod(load))


def photos(tmp: Path, n: int = 2) -> list[Path]:
    folder = tmp / "photos"
    folder.mkdir()
    return [save_image(torch.rand(1, 3, 40, 48), folder / f"p{i}.png") for i in range(n)]


def cached_source(offline_cache: Path) -> Path:
    """A stand-in for torchvision's VGG16 file: exports are refused before reading it."""
    offline_cache.mkdir(parents=True, exist_ok=True)
    path = offline_cache / weights.official_name("vgg16")
    path.write_bytes(b"stand-in for the 528 MB file")
    return path


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def failing(exc: BaseException) -> Callable:
    def command(*args, **kwargs):
        raise exc

    return command


class Unreadable(torch.utils.data.Dataset):
    """A dataset whose every item raises ``exc`` (in the DataLoader's worker process)."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index):
        raise self.exc


def in_a_worker(exc: BaseException) -> Callable:
    def command(args):
        for _ in torch.utils.data.DataLoader(Unreadable(exc), num_workers=1):
            pass

    return command


# --------------------------------------------------------------------------- transfer: outputs


@case
def transfer_log_is_the_output(tmp, mp, cache):
    no_work(mp)
    return Expect(transfer_argv(tmp, "-o", tmp / "out.png", "--log", tmp / "out.png"), 2,
                  "-o and --log both name")  # fmt: skip


@case
def transfer_log_is_a_step_image(tmp, mp, cache):
    no_work(mp)
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--save-every", "1")
    return Expect([*argv, "--log", tmp / "out.step00002.png"], 2, "also a --save-every image")


@case
def transfer_save_every_over_an_existing_step_image(tmp, mp, cache):
    no_work(mp)
    (tmp / "out.step00002.png").write_bytes(b"an earlier run's step 2")
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--save-every", "2")
    return Expect(argv, 2, "out.step00002.png' already exists; choose another name")


@case
def transfer_save_every_negative(tmp, mp, cache):
    no_work(mp)
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--save-every", "-1")
    return Expect(argv, 2, "must be >= 0 (0: never, N: every N steps)")


@case
def transfer_log_is_an_input(tmp, mp, cache):
    no_work(mp)
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--overwrite", "--log", tmp / "style.png")
    return Expect(argv, 2, "refusing to overwrite the input file")


@case
def transfer_log_is_a_folder(tmp, mp, cache):
    no_work(mp)
    (tmp / "logs").mkdir()
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--overwrite", "--log", tmp / "logs")
    return Expect(argv, 2, "is a folder; give a file name such as losses.jsonl")


@case
def transfer_log_in_an_unwritable_folder(tmp, mp, cache):
    no_work(mp)
    (tmp / "ro").mkdir()
    unwritable(mp, tmp / "ro")
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--log", tmp / "ro" / "l.jsonl")
    return Expect(argv, 2, "is not writable")


@case
def transfer_step_image_links_to_an_input(tmp, mp, cache):
    no_work(mp)
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--save-every", "1", "--overwrite")
    (tmp / "out.step00001.png").symlink_to(tmp / "content.png")
    return Expect(argv, 2, "refusing to overwrite the input image")


@case
def transfer_output_appears_meanwhile(tmp, mp, cache):
    after_transfer(mp, lambda: (tmp / "out.png").write_bytes(OTHER))
    argv = transfer_argv(tmp, "-o", tmp / "out.png")
    return Expect(argv, 2, "out.png' already exists", appears={"out.png": OTHER})


@case
def transfer_log_appears_meanwhile(tmp, mp, cache):
    after_transfer(mp, lambda: (tmp / "l.jsonl").write_bytes(OTHER))
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--log", tmp / "l.jsonl")
    return Expect(argv, 2, "appeared while this file was being written",
                  appears={"l.jsonl": OTHER, "out.png": None})  # fmt: skip


@case
def transfer_step_image_appears_meanwhile(tmp, mp, cache):
    real = gatys_transfer.transfer

    def racing(*args, **kwargs):
        (tmp / "out.step00001.png").write_bytes(OTHER)  # after the checks, before step 1
        return real(*args, **kwargs)

    mp.setattr(gatys_transfer, "transfer", racing)
    argv = transfer_argv(tmp, "-o", tmp / "out.png", "--save-every", "1")
    return Expect(argv, 2, "out.step00001.png' already exists",
                  appears={"out.step00001.png": OTHER})  # fmt: skip


@case
def transfer_tiny_content_upscaled(tmp, mp, cache):
    no_work(mp)
    argv = transfer_argv(tmp, "-o", tmp / "out.png")
    Image.new("RGB", (1, 1), "red").save(tmp / "dot.png")
    argv[1] = tmp / "dot.png"
    return Expect(argv, 2, "dot.png' is 1x1 px (HxW), smaller than the 32 px")


# --------------------------------------------------------------------------- diagram, export


@case
def diagram_over_a_photo(tmp, mp, cache):
    (tmp / "holiday.png").write_bytes(b"a holiday photo")
    return Expect(["diagram", "vgg16", "-o", tmp / "holiday.png"], 2,
                  "already exists; choose another name or pass --overwrite")  # fmt: skip


@case
def diagram_through_a_link_to_a_file(tmp, mp, cache):
    (tmp / "lecture.svg").write_text("<svg>an instructor's hand-edited diagram</svg>")
    (tmp / "v.svg").symlink_to(tmp / "lecture.svg")
    return Expect(["diagram", "vgg16", "-o", tmp / "v.svg"], 2, "lecture.svg' already exists")


@case
def export_over_an_existing_file(tmp, mp, cache):
    cached_source(cache)
    (tmp / "f.pth").write_bytes(b"someone's file")
    return Expect(["weights", "export", "--arch", "vgg16", "-o", tmp / "f.pth"], 2,
                  "f.pth' already exists")  # fmt: skip


@case
def export_over_a_photo(tmp, mp, cache):
    cached_source(cache)
    (tmp / "holiday.jpg").write_bytes(b"a holiday photo")
    return Expect(["weights", "export", "--arch", "vgg16", "-o", tmp / "holiday.jpg"], 2,
                  "should end in .pth or .pt")  # fmt: skip


@case
def export_over_its_own_source(tmp, mp, cache):
    source = cached_source(cache)
    return Expect(["weights", "export", "--arch", "vgg16", "--overwrite", "-o", source], 2,
                  "refusing to overwrite the input weights file")  # fmt: skip


@case
def export_through_a_link_to_its_source(tmp, mp, cache):
    (tmp / "link.pth").symlink_to(cached_source(cache))
    return Expect(["weights", "export", "--arch", "vgg16", "--overwrite", "-o", tmp / "link.pth"],
                  2, "refusing to overwrite the input weights file")  # fmt: skip


@case
def export_default_name_exists(tmp, mp, cache):
    cached_source(cache)
    mp.chdir(tmp)
    (tmp / weights.export_name("vgg16")).write_bytes(b"last week's export")
    return Expect(["weights", "export", "--arch", "vgg16"], 2, "already exists")


@case
def export_into_an_unwritable_folder(tmp, mp, cache):
    cached_source(cache)
    (tmp / "ro").mkdir()
    unwritable(mp, tmp / "ro")
    return Expect(["weights", "export", "--arch", "vgg16", "-o", tmp / "ro" / "f.pth"], 2,
                  "is not writable")  # fmt: skip


@case
def export_onto_a_folder(tmp, mp, cache):
    cached_source(cache)
    (tmp / "f.pth").mkdir()
    return Expect(["weights", "export", "--arch", "vgg16", "--overwrite", "-o", tmp / "f.pth"],
                  2, "is a folder")  # fmt: skip


# --------------------------------------------------------------------------- stylize


@case
def stylize_bad_model_leaves_no_folder(tmp, mp, cache):
    (tmp / "bad.pth").write_bytes(b"not a checkpoint")
    photos(tmp)
    return Expect(["stylize", tmp / "bad.pth", tmp / "photos", "-o", tmp / "out"], 2, "bad.pth")


@case
def stylize_several_into_a_file(tmp, mp, cache):
    untrained_model(mp)
    photos(tmp)
    (tmp / "out").write_bytes(b"a file called out")
    return Expect(["stylize", tmp / "m.pth", tmp / "photos", "-o", tmp / "out"], 2,
                  "is a file, not a folder")  # fmt: skip


@case
def stylize_output_appears_meanwhile(tmp, mp, cache):
    untrained_model(mp)
    (photo,) = photos(tmp, 1)
    real = johnson_network.stylize_image

    def racing(net, image):
        (tmp / "s.png").write_bytes(OTHER)
        return real(net, image)

    mp.setattr(johnson_network, "stylize_image", racing)
    return Expect(["stylize", tmp / "m.pth", photo, "-o", tmp / "s.png"], 2,
                  "s.png' already exists", appears={"s.png": OTHER})  # fmt: skip


@case
def stylize_tiny_input_upscaled(tmp, mp, cache):
    untrained_model(mp)
    Image.new("RGB", (1, 1), "red").save(tmp / "dot.png")
    return Expect(["stylize", tmp / "m.pth", tmp / "dot.png", "-o", tmp / "s.png", "--size", "256"],
                  2, "is 1x1 px (HxW), smaller than the 32 px")  # fmt: skip


@case
def stylize_out_of_memory(tmp, mp, cache):
    untrained_model(mp)
    (photo,) = photos(tmp, 1)
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore detail")
    mp.setattr(johnson_network, "stylize_image", lambda net, image: (_ for _ in ()).throw(oom))
    return Expect(["stylize", tmp / "m.pth", photo, "-o", tmp / "s.png"], 1,
                  "OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB more detail "
                  "(run with --debug for the traceback)")  # fmt: skip


@case
def stylize_after_a_killed_write(tmp, mp, cache):
    untrained_model(mp)
    (photo,) = photos(tmp, 1)
    stale = f".s.png.{dead_pid()}.abcd1234.tmp"
    (tmp / stale).write_bytes(b"half an image")
    return Expect(["stylize", tmp / "m.pth", photo, "-o", tmp / "s.png"], 0, "s.png (48 x 40)",
                  appears={"s.png": None}, removed={stale})  # fmt: skip


# --------------------------------------------------------------------------- the last resort


@case
def unexpected_error_in_a_command(tmp, mp, cache):
    from stylelib import cli

    mp.setattr(cli, "cmd_layers", failing(RuntimeError("boom\n  in detail")))
    return Expect(["layers", "vgg16"], 1,
                  "RuntimeError: boom in detail (run with --debug for the traceback)")  # fmt: skip


@case
def unexpected_bare_assertion(tmp, mp, cache):
    from stylelib import cli

    mp.setattr(cli, "cmd_layers", failing(AssertionError()))
    return Expect(["layers", "vgg16"], 1, "error: AssertionError (run with --debug")


@case
def unexpected_memory_error_while_loading(tmp, mp, cache):
    mp.setattr(gatys_transfer, "load_image", failing(MemoryError()))
    return Expect(transfer_argv(tmp, "-o", tmp / "out.png"), 1, "MemoryError (run with --debug")


@case
def worker_image_error_unwrapped(tmp, mp, cache):
    from stylelib import cli

    exc = ImageError("'b1.png' is not an image PIL can read")
    mp.setattr(cli, "cmd_layers", in_a_worker(exc))
    return Expect(["layers", "vgg16"], 2, "error: 'b1.png' is not an image PIL can read")


@case
def worker_key_error_unwrapped(tmp, mp, cache):
    from stylelib import cli

    mp.setattr(cli, "cmd_layers", in_a_worker(KeyError("relu9_9")))
    return Expect(["layers", "vgg16"], 1, "error: KeyError: 'relu9_9' (run with --debug")


@case
def training_diverges(tmp, mp, cache):

    mp.setattr(
        johnson_train, "train", failing(Diverged("the loss became nan at step 3; lower the lr"))
    )
    argv = ["train", "mosaic", "--data", tmp, "-o", tmp / "m.pth", "--weights", "random"]
    return Expect([*argv, "--quiet"], 1, "error: the loss became nan at step 3")


# --------------------------------------------------------------------------- the Python API


@case
def api_save_image_over_a_file(tmp, mp, cache):
    (tmp / "photo.png").write_bytes(b"a holiday photo")
    return Expect(lambda: save_image(torch.rand(1, 3, 40, 40), tmp / "photo.png"), OutputError,
                  "already exists; choose another name or pass --overwrite")  # fmt: skip


@case
def api_save_image_race(tmp, mp, cache):
    real = Image.Image.save

    def slow(self, fp, *args, **kwargs):
        (tmp / "out.png").write_bytes(OTHER)
        return real(self, fp, *args, **kwargs)

    mp.setattr(Image.Image, "save", slow)
    return Expect(lambda: save_image(torch.rand(1, 3, 40, 40), tmp / "out.png"), OutputError,
                  "appeared while", appears={"out.png": OTHER})  # fmt: skip


@case
def api_save_diagram_over_a_file(tmp, mp, cache):
    (tmp / "v.svg").write_text("<svg>hand-edited</svg>")
    dot = diagrams.vgg_diagram("vgg16")
    return Expect(lambda: diagrams.save_diagram(dot, tmp / "v.svg"), OutputError,
                  "already exists")  # fmt: skip


@case
def api_export_over_a_file(tmp, mp, cache):
    cached_source(cache)
    (tmp / "f.pth").write_bytes(b"someone's file")
    return Expect(lambda: weights.export("vgg16", tmp / "f.pth"), OutputError, "already exists")


@case
def api_export_over_its_source(tmp, mp, cache):
    source = cached_source(cache)
    return Expect(lambda: weights.export("vgg16", source, overwrite=True), OutputError,
                  "refusing to overwrite the input weights file")  # fmt: skip


@case
def api_atomic_write_over_a_file(tmp, mp, cache):
    (tmp / "notes.txt").write_text("mine")

    def write():
        with files.atomic_write(tmp / "notes.txt", "w") as f:
            f.write("theirs")

    return Expect(write, OutputError, "notes.txt' already exists")


@case
def api_atomic_write_race(tmp, mp, cache):
    def write():
        with files.atomic_write(tmp / "new.txt", "w") as f:
            f.write("second")
            (tmp / "new.txt").write_bytes(OTHER)

    return Expect(write, OutputError, "appeared while", appears={"new.txt": OTHER})


@case
def api_load_size_ten_million(tmp, mp, cache):
    return Expect(lambda: load_image(torch.rand(3, 48, 64), size=10**7), ImageError,
                  "more than the limit of 64,000,000")  # fmt: skip


@case
def api_load_size_beyond_a_float(tmp, mp, cache):
    return Expect(lambda: load_image(torch.rand(3, 48, 64), size=10**400), ImageError,
                  "more than the limit of 64,000,000")  # fmt: skip


@case
def api_resize_to_a_million(tmp, mp, cache):
    return Expect(lambda: resize(torch.rand(1, 3, 48, 64), 10**6), ImageError,
                  "choose a long side of at most 9,237")  # fmt: skip


@case
def api_load_one_pixel_file_upscaled(tmp, mp, cache):
    Image.new("RGB", (1, 1)).save(tmp / "dot.png")
    return Expect(lambda: load_image(tmp / "dot.png", size=64), ImageError,
                  "dot.png' is 1x1 px (HxW), smaller than the 32 px")  # fmt: skip


@case
def api_load_thin_array_upscaled(tmp, mp, cache):
    strip = np.zeros((16, 40, 3), np.uint8)
    return Expect(lambda: load_image(strip, size=256), ImageError, "is 16x40 px")


@case
def api_load_small_tensor_upscaled(tmp, mp, cache):
    return Expect(lambda: load_image(torch.rand(3, 20, 20), size=64), ImageError,
                  "never upscales an image that small")  # fmt: skip


@case
def api_resize_a_one_pixel_strip(tmp, mp, cache):
    return Expect(lambda: resize(torch.rand(1, 3, 1, 100), 50), ImageError, "is 1x100 px")


@case
def api_resize_below_the_minimum(tmp, mp, cache):
    return Expect(lambda: resize(torch.rand(1, 3, 48, 64), 40), ImageError,
                  "resized to long side 40 is 30x40 px")  # fmt: skip


@case
def api_save_after_a_killed_write(tmp, mp, cache):
    stale = f".out.png.{dead_pid()}.zz_00000.tmp"
    (tmp / stale).write_bytes(b"half an image")
    return Expect(lambda: save_image(torch.rand(1, 3, 40, 40), tmp / "out.png"), None, "",
                  appears={"out.png": None}, removed={stale})  # fmt: skip


# --------------------------------------------------------------------------- the runner


def snapshot(*roots: Path) -> dict:
    """Every file, link and folder under ``roots``: bytes and mtime, link target, or 'dir'."""
    seen = {}
    for root in roots:
        for folder, dirs, names in os.walk(root):
            for name in dirs + names:
                path = Path(folder) / name
                if path.is_symlink():
                    seen[path] = ("link", os.readlink(path))
                elif path.is_dir():
                    seen[path] = "dir"
                else:
                    seen[path] = (path.read_bytes(), path.stat().st_mtime_ns)
    return seen


def assert_error_line(code: int, err: str, expected: int, fragment: str) -> None:
    if expected == 2:
        assert_one_line_error(code, err, fragment)
        return
    lines = [line for line in err.strip().splitlines() if line.startswith("stylelib: error:")]
    assert code == expected and len(lines) == 1, err
    assert fragment in lines[0] and "Traceback" not in err, lines[0]


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path, monkeypatch, capsys, offline_cache):
    expect = CASES[name](tmp_path, monkeypatch, offline_cache)
    roots = (tmp_path, offline_cache.parent.parent)
    before = snapshot(*roots)
    capsys.readouterr()
    if isinstance(expect.run, list):
        code, out, err = run_cli(capsys, *expect.run)
        if expect.outcome == 0:
            assert code == 0 and expect.fragment in out and "error" not in err, err
        else:
            assert_error_line(code, err, expect.outcome, expect.fragment)
    elif expect.outcome is None:
        expect.run()
    else:
        with pytest.raises(expect.outcome) as info:
            expect.run()
        message = str(info.value)
        assert expect.fragment in message and "\n" not in message, message
    after = snapshot(*roots)
    for name_, content in expect.appears.items():
        path = tmp_path / name_
        assert path in after, f"{name_} was not written"
        assert content is None or after.pop(path)[0] == content
        after.pop(path, None)
    for name_ in expect.removed:
        assert tmp_path / name_ not in after, f"{name_} was left behind"
        before.pop(tmp_path / name_)
    assert after == before
