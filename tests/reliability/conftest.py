"""Reliability suite (issue 7): bad input, hangs, interrupts, concurrency, corruption, hostile content, fuzzing.

Runs only when asked for by path (`pytest tests/reliability`, the `reliability` nox session): the unit and real
suites skip it. Every test may start processes (marker `subprocess`) except the fuzz tests, which keep the unit
suite's refusal of subprocesses so that fuzzing provably builds nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IN_PROCESS = {"test_fuzz.py"}  # no child processes at all: subprocess.Popen stays refused


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
