"""Real tool cache and CLI listing: concurrent installs of one CLI version give one working binary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wasm_bisect.util import paths

from .conftest import wasm_bisect_json

VERSION = "0.2.92"


def test_two_concurrent_installs_give_one_working_binary() -> None:
    log = paths.tools_dir() / "logs" / f"wasm-bindgen-{VERSION}.log"
    before = log.read_text().count("cargo install") if log.is_file() else 0
    cmd = [sys.executable, "-m", "wasm_bisect", "tools", "install", "--bindgen", VERSION, "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=1800) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        sys.stderr.write(err)
        assert proc.returncode == 0, err
    first, second = (json.loads(out)[0] for out, _ in results)
    assert first["bin_dir"] == second["bin_dir"]
    binary = Path(first["bin_dir"]) / "wasm-bindgen"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[1] == VERSION
    after = log.read_text().count("cargo install")
    assert after - before <= 1, "the CLI was built twice"
    staging = list((paths.tools_dir() / "wasm-bindgen").glob(".staging-*"))
    assert staging == []


def test_toolchain_list_json_shows_both_with_wasm32_std() -> None:
    listed = {t["spec"]: t for t in wasm_bisect_json("toolchain", "list")}
    for spec in ("debian:1.63.0", "debian:1.96.0"):
        if spec not in listed:  # provision through the CLI, as a user would
            wasm_bisect_json("toolchain", "add", spec)
            listed = {t["spec"]: t for t in wasm_bisect_json("toolchain", "list")}
        assert listed[spec]["wasm32_std"] is True
    assert listed["debian:1.96.0"]["mvp_sysroot"]
    print(json.dumps([{k: t[k] for k in ("spec", "version", "wasm32_std", "mvp_sysroot")} for t in listed.values()],
                     indent=1))
