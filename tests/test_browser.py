"""The control panel in a real browser: JupyterLab on loopback, driven by headless Chromium.

What it checks that tests/test_widgets.py cannot: the notebook runs in JupyterLab, the panel
renders, pressing Run in the page starts a run whose preview and loss plot reach the browser
from the background thread, Stop is honoured and the status line ends with the outcome. A
screenshot of the panel goes to ``artifacts/browser/`` for CI to keep (and for people to
look at); on failure a screenshot of the page and the server's log go there too.

It opens a copy of lesson 03 when that notebook exists, else a two-cell stand-in notebook.
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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "jupyterlab.log"

    start = time.monotonic()

    def clock(what: str) -> None:  # pytest shows these lines when the test fails
        print(f"{time.monotonic() - start:5.1f} s  {what}")

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
            url = f"{base}/lab/tree/{notebook.name}?token={TOKEN}"
            drive_the_panel(page, playwright.expect, url, clock)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def drive_the_panel(page, expect, url: str, clock) -> None:
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
