"""A check in a real headless browser: serve the variant's page, start the WebDriver, load the page, wait.

The WebDriver (chromedriver, geckodriver) is started by util.processes like every other child, so the browser
it launches is in its process group and carries its mark: a timeout, a Ctrl-C or a crash takes the whole
browser tree down. Selenium only talks WebDriver to it over HTTP on 127.0.0.1; it starts nothing itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from wasm_bisect.domain.errors import WasmBisectError
from wasm_bisect.domain.model import Runtime
from wasm_bisect.probe.runtimes import server
from wasm_bisect.probe.runtimes.browsers import BrowserPaths
from wasm_bisect.util import processes

# As root, and on a closed network: no sandbox, and none of the background connections Chromium makes at start.
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--disable-default-apps", "--disable-extensions", "--mute-audio")
DRIVER_START_SECONDS = 20.0
POLL_SECONDS = 0.2
ORPHANS_GONE_SECONDS = 1.0
TMP_PREFIX = "wasm-bisect-browser-"  # + owner tag: a dead owner's directory is swept by the next browser check
ALIVE_SECONDS = 2.0


@dataclass(frozen=True, kw_only=True)
class PageRun:
    """What a browser check produced: the exit code the page reported (None: it reported none), its output."""

    returncode: int | None
    output: str
    seconds: float
    timed_out: bool = False
    failure: str | None = None  # an infrastructure failure (the browser did not start, crashed, ...)
    versions: dict[str, str] = field(default_factory=dict)


def page_html(*, pkg: str, check: str, params: Mapping[str, str]) -> bytes:
    """The page that runs the check: the config as inert JSON, and the runner as a module script."""
    config = json.dumps({"pkg": pkg, "check": check, "params": dict(params)})
    config = config.replace("<", "\\u003c")  # parameter values cannot end the script element
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>wasm-bisect check</title>\n'
            f'<script type="application/json" id="wasm-bisect-config">{config}</script>\n'
            '<script type="module" src="/__wasm_bisect/runner.js"></script>\n'
            "</head><body></body></html>\n").encode()


def runner_source() -> bytes:
    return resources.files("wasm_bisect.probe.runtimes").joinpath("page_runner.js").read_bytes()


def _sweep_stale_dirs() -> None:
    """Remove the browser directories of a wasm-bisect that was killed outright (their owner is gone)."""
    for stale in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*-*"):
        pid, _, rest = stale.name[len(TMP_PREFIX):].partition("-")
        if not processes.owner_alive(f"{pid}-{rest.partition('-')[0]}"):
            for _ in range(3):  # a dying helper may still add a file while the tree goes
                shutil.rmtree(stale, ignore_errors=True)
                if not stale.exists():
                    break
                time.sleep(0.2)


@contextlib.contextmanager
def private_tmp() -> Iterator[Path]:
    """A short private TMPDIR for a browser and its driver (profiles, sockets), removed afterwards; one left by a
    wasm-bisect that was killed outright is swept by the next browser check."""
    _sweep_stale_dirs()
    work = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{processes.owner_tag()}-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, driver: processes.Spawned, deadline: float) -> bool:
    while time.monotonic() < deadline and driver.alive() and not processes.cancelled():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


def _options(paths: BrowserPaths, profile: Path) -> Any:
    from selenium import webdriver

    options: Any
    if paths.runtime is Runtime.CHROMIUM:
        options = webdriver.ChromeOptions()
        for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
            options.add_argument(arg)
    else:
        options = webdriver.FirefoxOptions()
        options.add_argument("-headless")
        options.add_argument("-profile")
        options.add_argument(str(profile))
    options.binary_location = str(paths.binary)
    options.page_load_strategy = "none"  # the page reports itself; a hung page must not block get()
    return options


def _driver_argv(paths: BrowserPaths, driver: Path, port: int) -> list[str]:
    if paths.runtime is Runtime.CHROMIUM:
        return [str(driver), f"--port={port}", "--allowed-ips=127.0.0.1"]
    return [str(driver), "--host", "127.0.0.1", "--port", str(port)]


def _session(url: str, options: Any, timeout: float) -> Any:
    from selenium import webdriver
    from selenium.webdriver.common.proxy import Proxy, ProxyType
    from selenium.webdriver.remote.client_config import ClientConfig

    # DIRECT: a proxy from the environment must never sit between us and a driver on 127.0.0.1.
    config = ClientConfig(remote_server_addr=url, timeout=max(1, int(timeout)),
                          proxy=Proxy(raw={"proxyType": ProxyType.DIRECT}))
    return webdriver.Remote(command_executor=url, options=options, client_config=config)


def _versions(capabilities: Mapping[str, Any], runtime: Runtime) -> dict[str, str]:
    out = {"browser": f"{capabilities.get('browserName', runtime)} {capabilities.get('browserVersion', '?')}"}
    chrome = capabilities.get("chrome")
    if isinstance(chrome, dict) and chrome.get("chromedriverVersion"):
        out["driver"] = "chromedriver " + str(chrome["chromedriverVersion"]).split(" ")[0]
    if capabilities.get("moz:geckodriverVersion"):
        out["driver"] = f"geckodriver {capabilities['moz:geckodriverVersion']}"
    return out


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else type(exc).__name__


def run_page(
    paths: BrowserPaths,
    *,
    driver: Path,
    files: Mapping[str, Path],
    pkg: str,
    check: str,
    params: Mapping[str, str],
    timeout: float,
    log: Path,
) -> PageRun:
    """Run the check page in `paths`' browser, headless, within `timeout` seconds (browser start included)."""
    if processes.reap_orphans():  # browsers left by a wasm-bisect that was killed outright
        time.sleep(ORPHANS_GONE_SECONDS)  # their helpers (no mark of their own) die with them, still writing
    start = time.monotonic()
    deadline = start + timeout
    state = server.PageState(log)
    routes = server.routes_for(page=page_html(pkg=pkg, check=check, params=params), runner=runner_source(),
                               files=files)
    # A short private directory: Chromium's singleton socket path must fit in 108 bytes, which a deep
    # WASM_BISECT_HOME does not leave room for.
    _sweep_stale_dirs()
    work = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{processes.owner_tag()}-"))
    profile = work / "profile"
    tmp = work / "tmp"
    profile.mkdir()
    tmp.mkdir()
    port = _free_port()
    env = {**os.environ, "TMPDIR": str(tmp)}  # the driver's own temporary files stay in `work`
    versions: dict[str, str] = {}
    timed_out = False
    failure: str | None = None
    try:
        with server.serve(routes, state) as page_url, \
                processes.spawn(_driver_argv(paths, driver, port), env=env, log=log) as child:
            # A hung page, a hung driver, a browser that never starts: all end at the deadline, whole tree.
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), child.kill)
            watchdog.daemon = True
            watchdog.start()
            try:
                if not _wait_listening(port, child, min(deadline, start + DRIVER_START_SECONDS)):
                    if processes.cancelled():
                        raise KeyboardInterrupt
                    failure = f"{Path(driver).name} did not start (see {log})"
                else:
                    state.note(f"[wasm-bisect] {paths.runtime} (headless) <- {page_url}")
                    failure = _drive(paths, port, _options(paths, profile), page_url, state=state,
                                     deadline=deadline, child=child, versions=versions)
            finally:
                watchdog.cancel()
            timed_out = not state.finished.is_set() and time.monotonic() >= deadline - POLL_SECONDS
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if processes.cancelled():
        raise KeyboardInterrupt
    if timed_out:
        failure = None
    return PageRun(returncode=state.exit_code, output=state.output(), seconds=time.monotonic() - start,
                   timed_out=timed_out, failure=failure if state.exit_code is None else None, versions=versions)


def _drive(paths: BrowserPaths, port: int, options: Any, page_url: str, *, state: server.PageState,
           deadline: float, child: processes.Spawned, versions: dict[str, str]) -> str | None:
    """Open a session, load the page, wait for its exit code; None when it reported one, else why not.

    The session is never quit: the browser goes with the driver's process group right after (a WebDriver
    quit costs Firefox ~2 s, and the profile is a throw-away directory anyway)."""
    from selenium.common.exceptions import WebDriverException

    try:
        session = _session(f"http://127.0.0.1:{port}", options, deadline - time.monotonic())
    except (WebDriverException, OSError, WasmBisectError) as exc:
        if time.monotonic() >= deadline - POLL_SECONDS or processes.cancelled():
            return None
        return f"{paths.runtime} did not start: {_first_line(exc)}"
    try:
        versions.update(_versions(session.capabilities, paths.runtime))
        session.get(page_url)
        next_look = time.monotonic() + ALIVE_SECONDS
        while not state.finished.wait(POLL_SECONDS):
            if processes.cancelled() or time.monotonic() >= deadline:
                return None
            if not child.alive():
                return f"{paths.runtime}'s WebDriver exited while the page ran"
            if time.monotonic() >= next_look:
                # Answered by the browser process, not the page: a busy page does not block it, a dead
                # browser makes it fail at once (instead of waiting for the time limit).
                session.window_handles  # noqa: B018 - the call is the check
                next_look = time.monotonic() + ALIVE_SECONDS
        return None
    except (WebDriverException, OSError) as exc:
        if state.finished.is_set() or processes.cancelled() or time.monotonic() >= deadline - POLL_SECONDS:
            return None
        return f"{paths.runtime} exited or crashed while the page ran: {_first_line(exc)}"

