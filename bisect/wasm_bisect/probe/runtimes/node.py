"""The Node runtime: the tool's small runner runs a check module (or an older plain script) under node."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

RUNNER_NAME = "node_runner.mjs"


def runner_source() -> bytes:
    return resources.files("wasm_bisect.probe.runtimes").joinpath(RUNNER_NAME).read_bytes()


def install_runner(directory: Path) -> Path:
    """Copy the runner next to the probe's files, so its reproduce.sh works on its own; returns its path."""
    target = directory / "run-check.mjs"
    data = runner_source()
    if not target.is_file() or target.read_bytes() != data:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def node_argv(runner: Path, script: Path) -> list[str]:
    return ["node", str(runner), str(script)]
