"""Which browser and WebDriver run a browser check: Debian's chromium (+ chromedriver) and firefox-esr (+ geckodriver
from the tool cache), found on PATH or at a path the user gives. Nothing is ever downloaded here."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wasm_bisect.domain.errors import CommandFailed, ToolMissing, UsageError
from wasm_bisect.domain.model import BROWSER_NAMES, Runtime
from wasm_bisect.util import paths, processes

# Program names on PATH, most specific first (Debian's packages install the first of each).
INSTALL_HINT = {
    Runtime.CHROMIUM: "install it with `apt-get install chromium chromium-driver`, or give --browser-path",
    Runtime.FIREFOX: "install it with `apt-get install firefox-esr`, or give --browser-path",
}
_configured: dict[Runtime, Path] = {}
_configured_lock = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class BrowserPaths:
    """The browser binary and, for chromium, its chromedriver (geckodriver comes from the tool cache)."""

    runtime: Runtime
    binary: Path
    driver: Path | None  # None: built into the tool cache on first use (geckodriver)


def configure(paths: Mapping[Runtime, Path]) -> None:
    """Browser binaries the user named (`--browser-path`, config `browser-path`); the rest come from PATH."""
    with _configured_lock:
        _configured.clear()
        _configured.update(paths)


def _on_path(names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def locate(runtime: Runtime) -> BrowserPaths:
    """The browser for `runtime`, or ToolMissing (exit 2) with the one line that says how to install it."""
    if not runtime.is_browser:
        raise UsageError(f"{runtime} is not a browser")
    with _configured_lock:
        binary = _configured.get(runtime)
    if binary is None:
        binary = _on_path(BROWSER_NAMES[runtime])
    if binary is None:
        raise ToolMissing(f"{runtime} is not installed (no {' or '.join(BROWSER_NAMES[runtime])} on PATH)",
                          hint=INSTALL_HINT[runtime])
    driver: Path | None = None
    if runtime is Runtime.CHROMIUM:
        driver = _on_path(("chromedriver",))
        sibling = paths.resolve(binary).parent / "chromedriver"  # Debian: /usr/lib/chromium/chromedriver
        if driver is None and sibling.is_file():
            driver = sibling
        if driver is None:
            raise ToolMissing("chromedriver is not installed (needed to drive chromium)",
                              hint="install it with `apt-get install chromium-driver`")
    return BrowserPaths(runtime=runtime, binary=binary, driver=driver)


def check_available(runtimes: tuple[Runtime, ...]) -> None:
    """Fail before any work when a browser the run needs is missing (one line, exit 2)."""
    for runtime in runtimes:
        if runtime.is_browser:
            with _configured_lock:
                named = _configured.get(runtime)
            if named is not None:
                check_browser(runtime, named)
            locate(runtime)


# What `--version` of each browser starts with (Debian's chromium: "Chromium 156.0...", firefox-esr: "Mozilla
# Firefox 153.8.0esr"): a path that names another program (`true`, a shell script) is refused up front.
VERSION_WORDS = {Runtime.CHROMIUM: ("chromium", "google chrome", "chrome"), Runtime.FIREFOX: ("mozilla firefox",
                                                                                               "firefox")}
_answered: dict[Path, str] = {}


def check_browser(runtime: Runtime, binary: Path, what: str = "browser path") -> str:
    """A browser path the user named (flag or config) must be an executable file that answers `--version`
    within processes.QUERY_TIMEOUT like the browser it is for; returns its version line."""
    hint = f"point at the {runtime} binary, e.g. /usr/bin/{BROWSER_NAMES[runtime][0]}"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise UsageError(f"{what} {str(binary)!r} for {runtime} is not an executable file", hint=hint)
    if binary in _answered:
        return _answered[binary]
    try:
        line = processes.output([binary, "--version"], timeout=processes.QUERY_TIMEOUT).splitlines()
    except CommandFailed as exc:
        raise UsageError(f"{what} {binary} does not run as {runtime}: {exc.one_line()[:160]}", hint=hint) from None
    except OSError as exc:
        raise UsageError(f"{what} {binary} does not run as {runtime}: {exc.strerror}", hint=hint) from None
    version = next((ln.strip() for ln in line if ln.strip().lower().startswith(VERSION_WORDS[runtime])), None)
    if version is None:
        said = line[-1].strip()[:80] if line else "nothing"
        raise UsageError(f"{what} {binary} is not {runtime}: `--version` said {said!r}", hint=hint)
    _answered[binary] = version
    return version
