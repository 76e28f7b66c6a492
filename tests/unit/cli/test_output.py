"""Results go to stdout, progress and diagnostics to stderr; off a terminal nothing is cut with an ellipsis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wasm_bisect.domain.model import BindgenSource, Outcome, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.store import Store

pytestmark = pytest.mark.subprocess

COMMANDS = ["probe", "bisect", "matrix", "merge", "nox-matrix", "report", "log", "runs", "verify", "bisect-commits",
            "versions", "toolchain", "toolchain list", "toolchain add", "toolchain available", "tools",
            "tools install", "tools list", "templates", "templates list", "templates show", "templates init",
            "cache", "cache info", "cache prune"]


def run(*args: str, home: Path, columns: int = 40) -> subprocess.CompletedProcess[str]:
    """The CLI with a narrow, non-terminal stdout (a pipe), as in CI or `... > out.txt`."""
    env = {**os.environ, "WASM_BISECT_HOME": str(home), "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "wasm_bisect", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_off_a_terminal_is_never_cut(command: str, tmp_path: Path) -> None:
    proc = run(*command.split(), "--help", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    if command == "":
        assert "Exit codes:" in proc.stdout and "130 interrupted" in proc.stdout
    else:
        assert "-q, --quiet" in proc.stdout and "-v, --verbose" in proc.stdout


def _stored_matrix(home: Path) -> None:
    """A finished matrix run in the home's store, with long cell names (no build: written directly)."""
    store = Store(home / "store.sqlite3")
    grid = {"template": "vec-of-structs", "rustc": ["debian:1.63.0", "debian:1.96.0"],
            "bindgen": ["0.2.92", "0.2.99"], "reference_types": ["default"], "options": {}, "params": []}
    run_id = store.start_run(kind="matrix", fingerprint="f", command="wasm-bisect matrix",
                             config={"grid": grid, "template_hash": "t", "check_hash": "c"})
    for rustc in grid["rustc"]:
        for bindgen in grid["bindgen"]:
            variant = Variant(template="vec-of-structs", rustc=ToolchainSpec.parse(rustc),
                              bindgen=BindgenSource.crates(bindgen))
            bad = rustc.endswith("1.96.0") and bindgen == "0.2.99"
            outcome = Outcome(verdict=Verdict.BAD if bad else Verdict.GOOD, stage=Stage.CHECK,
                              reason="FAIL: test_sum threw TypeError: Cannot perform DataView.prototype.setUint32 "
                              "on a detached ArrayBuffer" if bad else "OK", timings={"cargo-build": 1.0})
            store.put(variant, "t", "c", outcome)
            store.record(run_id, variant, "t", "c", outcome, cached=False)
    store.finish_run(run_id, {"kind": "matrix", "grid": grid})


@pytest.mark.parametrize("args", [
    ("templates", "list"), ("templates", "show", "vec-of-structs"), ("versions",), ("runs",), ("log",),
    ("report", "--format", "md", "--no-env"), ("cache", "info"),
])
def test_results_are_on_stdout_uncut_at_40_columns(args: tuple[str, ...], tmp_path: Path) -> None:
    _stored_matrix(tmp_path)
    proc = run(*args, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), f"{args}: the answer must be on stdout"
    assert "…" not in proc.stdout
    if args[0] == "report":
        assert "on a detached ArrayBuffer" in proc.stdout  # a long reason, whole
        assert "0.2.99" in proc.stdout


def test_quiet_keeps_results_and_errors_only(tmp_path: Path) -> None:
    _stored_matrix(tmp_path)
    loud = run("report", "--format", "json", "--no-env", home=tmp_path)
    quiet = run("report", "--format", "json", "--no-env", "-q", home=tmp_path)
    assert json.loads(quiet.stdout)["run"]["kind"] == "matrix"
    assert json.loads(loud.stdout) == json.loads(quiet.stdout)
    bad = run("-q", "probe", "--rustc", "nope:1", home=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown toolchain provider" in bad.stderr
    later = run("templates", "list", "-q", home=tmp_path)  # -q after the command name works too
    assert later.returncode == 0 and "vec-of-structs" in later.stdout and later.stderr == ""
