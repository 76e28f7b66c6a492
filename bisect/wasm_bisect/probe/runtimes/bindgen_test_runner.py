"""`wasm-pack test` in a real headless browser (crate mode, `--check wasm-pack-test --runtime chromium|firefox`).

wasm-pack's `--chrome`/`--firefox` set CHROMEDRIVER/GECKODRIVER and WASM_BINDGEN_TEST_ONLY_WEB for the exactly
matching wasm-bindgen-test-runner, which starts that driver itself and reads `webdriver.json` from the package
directory (the test binary's cwd) for the browser's capabilities. A test binary without
`wasm_bindgen_test_configure!(run_in_browser)` is a Node test to the runner: from 0.2.96 WASM_BINDGEN_USE_BROWSER=1
moves it into the browser; older runners print that they skip it and exit 0, which must never read as good.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wasm_bisect.domain.errors import UsageError, WasmBisectError
from wasm_bisect.domain.model import Runtime
from wasm_bisect.probe.runtimes.browser import CHROMIUM_ARGS
from wasm_bisect.util import bounded, processes

WEBDRIVER_JSON = "webdriver.json"
OPTIONS_KEY = {Runtime.CHROMIUM: "goog:chromeOptions", Runtime.FIREFOX: "moz:firefoxOptions"}
# The runner adds `headless`/`-headless` itself; ours make the run work as root on a closed network.
BROWSER_ARGS = {Runtime.CHROMIUM: CHROMIUM_ARGS, Runtime.FIREFOX: ("-headless",)}
_WASM_PACK_FLAGS = {Runtime.CHROMIUM: ("--chrome", "--chromedriver"), Runtime.FIREFOX: ("--firefox", "--geckodriver")}
# The runner's other test modes: one set beside ours makes it refuse to run ("only one test mode must be set").
_OTHER_MODES = ("WASM_BINDGEN_USE_NODE_EXPERIMENTAL", "WASM_BINDGEN_USE_DENO", "WASM_BINDGEN_USE_DEDICATED_WORKER",
                "WASM_BINDGEN_USE_SHARED_WORKER", "WASM_BINDGEN_USE_SERVICE_WORKER", "WASM_BINDGEN_TEST_ONLY_NODE",
                "NO_HEADLESS", "WASM_BINDGEN_TEST_ADDRESS")
USE_BROWSER_ENV = "WASM_BINDGEN_USE_BROWSER"
DRIVER_TIMEOUT_ENV = "WASM_BINDGEN_TEST_DRIVER_TIMEOUT"
DRIVER_TIMEOUT_SECONDS = "30"  # the runner's default (5 s) is short for a busy machine
ENV_KEYS = (USE_BROWSER_ENV, DRIVER_TIMEOUT_ENV)  # what reproduce.sh must export too

# What the runner prints: where the tests ran, that it skipped a Node-only test binary, that no result came.
RAN_IN_BROWSER = "Running headless tests in "
SKIPPED_NODE_ONLY = "This test suite is only configured to run in node.js"
NO_RESULT = "Failed to detect test as having been run"


def parse_webdriver_json(data: bytes, where: str) -> dict[str, Any]:
    """The project's own webdriver.json: a JSON object, else bad input (one line, before any build)."""
    try:
        value = bounded.json_loads(data.decode("utf-8"), what=where, limit=1024 * 1024)
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not valid JSON: not UTF-8 text",
                         hint="wasm-bindgen-test-runner reads it as the browser's WebDriver capabilities") from None
    if not isinstance(value, dict):
        raise UsageError(f"{where} is not a JSON object of WebDriver capabilities")
    for key in OPTIONS_KEY.values():
        options = value.get(key)
        if options is not None and (not isinstance(options, dict) or not isinstance(options.get("args", []), list)):
            raise UsageError(f"{where}: {key!r} must be an object whose \"args\" is a list")
    return value


def webdriver_capabilities(runtime: Runtime, binary: Path, project: Mapping[str, Any] | None = None
                           ) -> dict[str, Any]:
    """The capabilities the runner reads: the project's own kept, with the grid's browser binary and our headless,
    no-sandbox arguments added (each once). Pure."""
    caps: dict[str, Any] = copy.deepcopy(dict(project or {}))
    key = OPTIONS_KEY[runtime]
    options = dict(caps.get(key) or {})
    options["binary"] = str(binary)  # the grid's browser (Debian's, or --browser-path), never another
    args = [str(a) for a in options.get("args", [])]
    options["args"] = args + [a for a in BROWSER_ARGS[runtime] if a not in args]
    caps[key] = options
    return caps


def webdriver_file(runtime: Runtime, binary: Path, project_bytes: bytes | None, *, where: str
                   ) -> tuple[bytes, dict[str, Any]]:
    """webdriver.json for the copy's package dir, and what the evidence says about it. Pure."""
    project = parse_webdriver_json(project_bytes, where) if project_bytes is not None else None
    caps = webdriver_capabilities(runtime, binary, project)
    note: dict[str, Any] = {"path": WEBDRIVER_JSON, "browser": str(binary),
                            "args": caps[OPTIONS_KEY[runtime]]["args"]}
    if project is not None:
        note["merged_into_project_file"] = True
        note["project_keys_kept"] = sorted(project)
    return (json.dumps(caps, indent=2, sort_keys=True) + "\n").encode(), note


def wasm_pack_flags(runtime: Runtime, driver: Path) -> list[str]:
    """`wasm-pack test` flags of a browser run: headless, with the given driver (wasm-pack never downloads one)."""
    browser, driver_flag = _WASM_PACK_FLAGS[runtime]
    return ["--headless", browser, driver_flag, str(driver)]


def test_env(env: Mapping[str, str]) -> dict[str, str]:
    """The runner's environment for a browser run: the browser mode only, a driver start time for a busy machine."""
    out = {k: v for k, v in env.items() if k not in _OTHER_MODES}
    out[USE_BROWSER_ENV] = "1"
    out.setdefault(DRIVER_TIMEOUT_ENV, DRIVER_TIMEOUT_SECONDS)
    return out


def ran_in_browser(output: str) -> str | None:
    """The runner's line that says a browser ran the tests (`Running headless tests in Chrome on ...`)."""
    return next((ln.strip() for ln in output.splitlines() if ln.strip().startswith(RAN_IN_BROWSER)), None)


def skipped_node_only(output: str) -> bool:
    """The runner skipped a test binary it takes for Node-only (before 0.2.96 it cannot move one to a browser)."""
    return SKIPPED_NODE_ONLY in output


@functools.cache
def versions(binary: Path, driver: Path) -> dict[str, str]:
    """`chromium --version`/`firefox-esr --version` and the driver's first line, for the evidence."""
    out: dict[str, str] = {}
    for key, program in (("browser", binary), ("driver", driver)):
        try:
            text = processes.output([str(program), "--version"], timeout=processes.QUERY_TIMEOUT)
        except WasmBisectError:
            text = "unknown"
        out[key] = version_line(text)
    return out


def version_line(text: str) -> str:
    """The line of `--version` output that names a version (Debian's chromium wrapper may print a shell warning
    first). Pure."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    named = [ln for ln in lines if re.match(r"^[A-Za-z][\w .-]*\s\d+(\.\d+)+", ln)]
    return (named or lines or ["unknown"])[0][:200]
