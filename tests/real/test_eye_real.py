"""A page to look at, for real (issue 25, items 2 and 5): the canvas-imagedata template's page, served from
127.0.0.1 by `wasm-bisect serve`, renders in headless Chromium like the committed reference (a good cell) or shows
the error (a bad cell); `bisect --prompt` serves each cell's page while its question is open, and only then.

The reference screenshot is tests/real/references/canvas-imagedata-good.png; WASM_BISECT_UPDATE_REFERENCES=1
writes it anew from a good cell (look at it before committing it).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasm_bisect.domain.model import Runtime
from wasm_bisect.probe import runtimes
from wasm_bisect.probe.runtimes import browser
from wasm_bisect.util import processes

from . import _png
from ._pty import converse
from .conftest import assert_probe_built, wasm_bisect_json

R196 = "debian:1.96.0"
CELL = ("--template", "canvas-imagedata", "--rustc", R196, "--reference-types", "default", "--runtime", "chromium")
REFERENCE = Path(__file__).parent / "references" / "canvas-imagedata-good.png"
WINDOW = (400, 800)  # the viewport is narrower and lower (headless Chromium keeps room for a window frame)
VIEWPORT_WIDTH = 400
# A pixel counts as different when a channel is off by more than this (anti-aliasing, colour management)...
CHANNEL_TOLERANCE = 16
# ...and a screenshot matches when at most these shares of its pixels differ. The picture (the canvas, 75% of
# the body) is pixels the wasm wrote: it may not differ beyond rounding. The status line's text (its ink is
# about 2% of the body) may render differently with another font build: 5% over the whole body leaves room for
# that and nothing more. A bad cell's page (a red canvas) differs in most of its pixels.
MAX_DIFFERING_PICTURE = 0.001
MAX_DIFFERING = 0.05
PICTURE = (1, 1, 321, 321)  # inside the canvas's 1-pixel border, at the body's top left
URL = re.compile(r"page:\s+(http://127\.0\.0\.1:\d+/)")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A WebDriver session with headless Chromium, started the way the browser check starts it."""
    paths = runtimes.locate(Runtime.CHROMIUM)
    assert paths.driver is not None
    port = browser._free_port()
    with browser.private_tmp() as work, \
            processes.spawn(browser._driver_argv(paths, paths.driver, port), env={**os.environ, "TMPDIR": str(work)},
                            log=work / "driver.log") as driver:
        assert browser._wait_listening(port, driver, time.monotonic() + browser.DRIVER_START_SECONDS)
        (work / "profile").mkdir()
        options = browser._options(paths, work / "profile")
        for arg in (f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1", "--hide-scrollbars",
                    "--force-color-profile=srgb"):
            options.add_argument(arg)
        session = browser._session(f"http://127.0.0.1:{port}", options, 60)  # it goes with the driver's group
        session.set_window_size(*WINDOW)
        yield session


def screenshot(session: Any, url: str) -> tuple[bytes, str]:
    """Load `url`, wait until the page says it is done drawing; its screenshot (PNG) and its status text."""
    session.get(url)
    deadline = time.monotonic() + 60
    while session.execute_script("return document.body ? document.body.dataset.done || '' : ''") != "1":
        assert time.monotonic() < deadline, "the page never finished drawing"
        time.sleep(0.2)
    status = session.execute_script("return document.getElementById('status').textContent")
    width = session.execute_script("return window.innerWidth")
    assert width == VIEWPORT_WIDTH, f"the viewport is {width} pixels wide: screenshots would not compare"
    # The page's body (the canvas and the status line below it), whole: the window's height is the screen's.
    png: bytes = session.find_element("tag name", "body").screenshot_as_png
    return png, str(status)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - 127.0.0.1, our own server
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def refused(url: str) -> bool:
    try:
        fetch(url)
    except urllib.error.URLError as exc:
        return isinstance(exc.reason, ConnectionRefusedError)
    return False


@contextlib.contextmanager
def served(cell: str, run_id: str) -> Iterator[str]:
    """`wasm-bisect serve CELL --run RUN` in the background; its URL. Ctrl-C (SIGINT) stops it: exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "wasm_bisect", "serve", cell, "--run", run_id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        sys.stderr.write(f"\n$ wasm-bisect serve {cell} --run {run_id}  -> exit {proc.returncode}\n{err}{out}\n")
    assert proc.returncode == 0, err
    assert refused(url), "the page is still served after Ctrl-C"


def test_the_served_page_of_a_good_cell_renders_like_the_reference_and_a_bad_one_shows_the_error() -> None:
    start = time.monotonic()
    docs = {b: wasm_bisect_json("probe", *CELL, "--bindgen", b) for b in ("0.2.93", "0.2.95")}
    for doc in docs.values():
        assert_probe_built(doc)
    assert docs["0.2.93"]["probe"]["outcome"]["verdict"] == "good"
    assert docs["0.2.95"]["probe"]["outcome"]["verdict"] == "bad"
    built = time.monotonic()
    shots: dict[str, tuple[bytes, str]] = {}
    with chromium() as session:
        for bindgen, doc in docs.items():
            cell = f"{R196}@{bindgen}"
            with served(cell, doc["run"]["id"]) as url:
                status, body = fetch(url)
                assert status == 200 and b'<canvas id="picture"' in body
                assert fetch(url + "pkg/canvas_imagedata.js")[0] == 200
                for hidden in ("Cargo.toml", "src/lib.rs", "template.toml", "../template.toml", "pkg/"):
                    assert fetch(url + hidden)[0] == 404, hidden  # nothing but the page, its files and the build
                shots[bindgen] = screenshot(session, url)
    good_png, good_status = shots["0.2.93"]
    bad_png, bad_status = shots["0.2.95"]
    assert good_status == "OK: 102400 pixels, each an ImageData over wasm memory", good_status
    assert "The source data has been detached" in bad_status, bad_status
    if os.environ.get("WASM_BISECT_UPDATE_REFERENCES") == "1":
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE.write_bytes(good_png)
    reference = _png.decode(REFERENCE.read_bytes())
    good, bad = _png.decode(good_png), _png.decode(bad_png)
    assert (good.width, good.height) == (reference.width, reference.height)
    good_off = _png.differing(good, reference, channel_tolerance=CHANNEL_TOLERANCE)
    good_picture = _png.differing(good, reference, channel_tolerance=CHANNEL_TOLERANCE, region=PICTURE)
    bad_off = _png.differing(bad, reference, channel_tolerance=CHANNEL_TOLERANCE)
    print(f"screenshot {good.width}x{good.height}: good cell differs from the reference in {good_off:.4%} of its "
          f"pixels ({good_picture:.4%} of the picture's), the bad cell in {bad_off:.2%}; builds "
          f"{built - start:.0f} s, serving and screenshots {time.monotonic() - built:.0f} s")
    assert good_picture <= MAX_DIFFERING_PICTURE
    assert good_off <= MAX_DIFFERING
    assert bad_off > 0.5  # the red canvas and the error text instead of the picture
    # The picture itself, pixel for pixel where the template's pixel() says (the canvas's 1-pixel border is the
    # body's first row and column): red across, green down, a blue checkerboard.
    for x, y in ((0, 0), (319, 0), (0, 319), (160, 80)):
        want = (x * 255 // 319, y * 255 // 319, 200 if (x // 32 + y // 32) % 2 == 0 else 60, 255)
        got = good.pixel(1 + x, 1 + y)
        assert all(abs(g - w) <= CHANNEL_TOLERANCE for g, w in zip(got, want, strict=True)), (x, y, got, want)


def test_prompt_serves_each_cells_page_while_its_question_is_open(tmp_path: Path) -> None:
    start = time.monotonic()
    urls: list[str] = []
    seen: list[tuple[str, int, bool, bool]] = []

    def person(cell: str, screen: str) -> str:
        url = URL.findall(screen)[-1]
        status, body = fetch(url)  # while the question is open
        earlier_gone = all(refused(u) for u in urls if u != url)
        urls.append(url)
        seen.append((cell, status, b'<canvas id="picture"' in body, earlier_gone))
        return re.findall(r"the check says: (\w+)", screen)[-1]

    rc, screen = converse(["bisect", *CELL, "--bindgen", "0.2.93,0.2.95", "--no-follow-up", "--prompt",
                           "--store", str(tmp_path / "store.sqlite3")], person)
    assert rc == 0, screen
    assert len(seen) == 2, seen  # both corners of the 1x2 grid were asked about
    assert all(status == 200 and page for _, status, page, _ in seen), seen
    assert all(gone for *_, gone in seen), "an earlier question's page was still served"
    assert all(refused(url) for url in urls), "a page is still served after the run"
    assert "first bad pair: rustc debian:1.96.0 + wasm-bindgen 0.2.95" in screen
    print(f"prompted bisect with pages: {time.monotonic() - start:.0f} s")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib must reach 127.0.0.1 directly, whatever proxy the environment names."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
