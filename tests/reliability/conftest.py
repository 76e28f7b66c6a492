"""Reliability suite (issue 7): bad input, hangs, interrupts, concurrency, corruption, hostile content, fuzzing.

Runs only when asked for by path (`pytest tests/reliability`, the `reliability` nox session): the unit and real
suites skip it. Every test may start processes (marker `subprocess`) except the fuzz tests, which keep the unit
suite's refusal of subprocesses so that fuzzing provably builds nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.needs import NEEDED

HERE = Path(__file__).resolve().parent
IN_PROCESS = {"test_fuzz.py"}  # no child processes at all: subprocess.Popen stays refused
# Modules that build for real; what they need on the machine (fixtures/needs.py) is provisioned once, before any
# test runs.
REAL_BUILDS = {"test_hangs.py", "test_interrupts.py", "test_concurrency.py", "test_corruption.py"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: the reliability suite (run with `pytest tests/reliability`)")


def _asked_for(config: pytest.Config) -> bool:
    for arg in config.args:
        target = Path(arg.split("::")[0]).resolve()
        if target == HERE or HERE in target.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.fspath)).resolve().parents]
    if not mine:
        return
    if not _asked_for(config):
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]
        return
    for item in mine:
        item.add_marker(pytest.mark.reliability)
        if Path(str(item.fspath)).name not in IN_PROCESS:
            item.add_marker(pytest.mark.subprocess)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Provision the toolchains and tools the real-build tests use, outside any test's time limit: instant on
    a warm machine, minutes on a fresh one (the same work the real suite would do)."""
    if not any(Path(str(i.fspath)).name in REAL_BUILDS and HERE in Path(str(i.fspath)).resolve().parents
               for i in session.items):
        return
    from .helpers import REAL_HOME

    for args in NEEDED:
        done = subprocess.run([sys.executable, "-m", "wasm_bisect", *args], env={**os.environ,
                              "WASM_BISECT_HOME": str(REAL_HOME)}, capture_output=True, text=True, timeout=3 * 3600,
                              check=False)
        if done.returncode != 0:
            pytest.exit(f"cannot provision for the reliability suite: wasm-bisect {' '.join(args)}: "
                        f"{done.stderr.strip()[-500:]}", returncode=3)
