"""Real end-to-end tests: real rustc, cargo, wasm-bindgen CLI, wasm-pack and node. Slow; run by `nox -s real`.

Each test module gets a private tool home (own store, own rendered crates) linked to the machine's toolchains,
tools and cargo target dirs: a verdict a test reads always comes from a build in this run, never from a store
that older code wrote. Tests that claim a build assert it (`assert_built`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.browsers import wait_none_left
from fixtures.homes import linked_home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/real/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.real)


def wasm_bisect(*args: str, timeout: float = 3600, check: bool = True, env: dict[str, str] | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, echoing its output into the test log."""
    proc = subprocess.run([sys.executable, "-m", "wasm_bisect", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False, cwd=cwd)
    sys.stderr.write(f"\n$ wasm-bisect {' '.join(args)}  -> exit {proc.returncode}\n{proc.stderr}{proc.stdout}\n")
    if check and proc.returncode != 0:
        raise AssertionError(f"wasm-bisect {' '.join(args)} exited {proc.returncode}")
    return proc


def wasm_bisect_json(*args: str, **kw: Any) -> Any:
    return json.loads(wasm_bisect(*args, "--json", **kw).stdout)


@pytest.fixture(scope="session", autouse=True)
def no_browser_left() -> Iterator[None]:
    """No browser, browser helper or WebDriver process the suite started may outlive it."""
    import time

    since = time.time()
    yield
    left = wait_none_left(since)
    assert left == [], f"browser or driver processes left after the real suite: {left}"


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real")


@pytest.fixture(scope="module", autouse=True)
def real_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This module's private home (see the module docstring)."""
    home = linked_home(tmp_path_factory.mktemp("real-home"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WASM_BISECT_HOME", str(home))
        yield home


def assert_built(probe: dict[str, Any], *, built: int) -> None:
    """The probe compiled for real in this test: the command that answered it built something (`built`, its
    count of probes built) and this probe was not answered from a store (a stored outcome keeps the timings and
    stage of the build that made it, so those alone prove nothing). `probe` is a report cell, the probe
    section of a probe's document (`from_store` and `outcome`) or a probe of `log --json` (`cached`)."""
    from_store = probe["from_store"] if "from_store" in probe else probe["cached"]
    assert from_store is False, "answered from a store: not built in this test"
    assert built > 0, "the command built no probe"
    outcome = probe.get("outcome", probe)
    timings = outcome["timings"]
    assert timings.get("cargo-build", 0) > 0, f"no cargo build in {timings}"
    assert outcome.get("stage") in ("check", "cargo-build", "wasm-bindgen", "wasm-opt"), outcome.get("stage")


def assert_probe_built(doc: dict[str, Any]) -> None:
    """`assert_built` for the report document of `probe --json`."""
    assert_built(doc["probe"], built=doc["run"]["stats"]["built"])
