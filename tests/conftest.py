"""Unit tests get a private tool home and cannot start processes unless they say so (marker `subprocess`).

WASM_BISECT_CI=1 (set by `nox -s ci` for its test stages) makes any skipped, xfailed or xpassed test a failure:
a test that cannot run on this machine kind belongs in an opt-in session, never in CI as a skip, and a known
failure is fixed or removed, not carried as an xfail.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

# Hypothesis keeps its examples outside the checkout: the tests write nothing into the repository.
settings.register_profile("wasm-bisect", database=DirectoryBasedExampleDatabase(
    str(Path(tempfile.gettempdir()) / "wasm-bisect-hypothesis")))
settings.load_profile("wasm-bisect")
NO_SKIPS_ENV = "WASM_BISECT_CI"
SUITE_ENV = "WASM_BISECT_TEST_SUITE"  # the mark of one pytest run (tests/fixtures/browsers.py reads it)


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/unit/conftest.py: pytest reads options only from the conftests it loads before collection.
    parser.addoption("--update-snapshots", action="store_true", default=False,
                     help="rewrite the CLI's help and error snapshots (tests/unit/cli/snapshots/) from the code")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "subprocess: unit test that starts cheap real child processes")
    # Every process this pytest run starts inherits the mark, so the browser leftover checks
    # (tests/fixtures/browsers.py) tell this run's browsers from those of another pytest run on the machine.
    os.environ.setdefault(SUITE_ENV, f"{os.getpid()}-{time.time_ns()}")


NOT_RUN = ("skipped", "xfailed", "xpassed")  # outcomes that prove nothing about the code


def _not_run(reporter: pytest.TerminalReporter) -> list[pytest.TestReport]:
    return [r for outcome in NOT_RUN for r in reporter.stats.get(outcome, [])]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under WASM_BISECT_CI=1 a skip, xfail or xpass is a failure (the summary names the tests, `-rs` says why)."""
    if os.environ.get(NO_SKIPS_ENV) != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and _not_run(reporter):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    not_run = _not_run(terminalreporter)
    if os.environ.get(NO_SKIPS_ENV) == "1" and not_run:
        terminalreporter.write_line(f"{NO_SKIPS_ENV}=1: {len(not_run)} skipped, xfailed or xpassed test(s) count as "
                                    "failures: " + ", ".join(r.nodeid for r in not_run), red=True)


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("real"):
        yield  # real tests share the machine's cache (WASM_BISECT_HOME or the platform default)
        return
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path_factory.mktemp("home")))
    from wasm_bisect.bindgen import index

    monkeypatch.setattr(index, "_unreachable", False)  # remembered per process: not per test
    # Published binaries: never the network from a unit test (port 9 refuses), the default source each test.
    from wasm_bisect.bindgen import prebuilt, toolcache

    monkeypatch.setenv(prebuilt.RELEASES_URL_ENV, "http://127.0.0.1:9")
    monkeypatch.setattr(toolcache, "_source", prebuilt.ToolSource.AUTO)
    monkeypatch.setattr(prebuilt, "_unreachable", set())
    if not request.node.get_closest_marker("subprocess"):
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"unit test tried to start a process: {args[:1]}")

        monkeypatch.setattr(subprocess, "Popen", refuse)
    yield


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "wb-home"
    monkeypatch.setenv("WASM_BISECT_HOME", str(root))
    return root
