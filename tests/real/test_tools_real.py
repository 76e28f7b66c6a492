"""Real tool cache and CLI listing: concurrent installs of one CLI version give one working binary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fixtures.homes import REAL_HOME

from .conftest import wasm_bisect, wasm_bisect_json

VERSION = "0.2.92"


def test_two_concurrent_installs_give_one_working_binary(tmp_path: Path) -> None:
    """A private tools dir, so the race is real on every run (only cargo's target dir is shared, to keep the
    compile of the CLI's dependencies cached): two processes, one `cargo install`, two working answers."""
    home = tmp_path / "home"
    (home / "tools").mkdir(parents=True)
    (REAL_HOME / "tools" / "cargo-target").mkdir(parents=True, exist_ok=True)
    (home / "tools" / "cargo-target").symlink_to(REAL_HOME / "tools" / "cargo-target")
    env = {**os.environ, "WASM_BISECT_HOME": str(home)}
    cmd = [sys.executable, "-m", "wasm_bisect", "tools", "install", "--bindgen", VERSION, "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [p.communicate(timeout=1800) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        sys.stderr.write(err)
        assert proc.returncode == 0, err
    first, second = (json.loads(out)[0] for out, _ in results)
    assert first["bin_dir"] == second["bin_dir"]
    assert first["bin_dir"].startswith(str(home))
    binary = Path(first["bin_dir"]) / "wasm-bindgen"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[1] == VERSION
    log = home / "tools" / "logs" / f"wasm-bindgen-{VERSION}.log"
    assert log.read_text().count("cargo install") == 1, "the CLI was built twice"
    assert list((home / "tools" / "wasm-bindgen").glob(".staging-*")) == []
    listed = wasm_bisect_json("tools", "list", env={"WASM_BISECT_HOME": str(home)})
    assert [(t["name"], t["version"]) for t in listed] == [("wasm-bindgen", VERSION)]
    text = wasm_bisect("tools", "list", env={"WASM_BISECT_HOME": str(home)}).stdout
    assert text.startswith(f"wasm-bindgen\t{VERSION}\t")


def test_toolchain_add_and_list_through_the_cli() -> None:
    """`toolchain add` as a user types it (a fast no-op when provisioned, still the whole CLI path), then list.
    The reference-types-off std is built lazily since issue 16: asked for here, so that list shows it."""
    for spec in ("debian:1.63.0", "debian:1.96.0"):
        added = wasm_bisect_json("toolchain", "add", spec, "--with-mvp-std")
        assert added["spec"] == spec and added["wasm32_std"] is True
    listed = {t["spec"]: t for t in wasm_bisect_json("toolchain", "list")}
    assert listed["debian:1.63.0"]["wasm32_std"] and listed["debian:1.96.0"]["wasm32_std"]
    assert listed["debian:1.96.0"]["mvp_sysroot"]
    table = wasm_bisect("toolchain", "list").stdout  # results on stdout
    assert "debian:1.96.0" in table and "wasm32 std" in table
    text = wasm_bisect("toolchain", "available", "debian").stdout
    rows = wasm_bisect_json("toolchain", "available", "debian")
    runnable = [r["version"] for r in rows if r["runnable"]]
    assert "1.63.0" in runnable and "1.96.0" in runnable
    assert [line.split()[0] for line in text.splitlines() if "runs here" in line] == runnable
