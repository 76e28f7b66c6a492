"""Unit tests get a private tool home and cannot start processes unless they say so (marker `subprocess`)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "subprocess: unit test that starts cheap real child processes")


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("real"):
        yield  # real tests share the machine's cache (WASM_BISECT_HOME or the platform default)
        return
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path_factory.mktemp("home")))
    from wasm_bisect.bindgen import index

    monkeypatch.setattr(index, "_this_process", None)  # the release list is remembered per process: not per test
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
