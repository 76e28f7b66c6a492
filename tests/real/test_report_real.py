"""The paste-ready report of a real bisect: its "Reproduce without wasm-bisect" block, run by hand in a clean
directory with plain rustc, cargo, wasm-bindgen, wasm-pack and node, gives the same verdict."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from wasm_bisect import toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.model import ToolchainSpec

from .conftest import wasm_bisect


def test_reproduce_block_of_a_real_bisect_gives_the_same_verdict(tmp_path: Path) -> None:
    doc = json.loads(wasm_bisect("bisect", "--template", "vec-of-structs", "--rustc", "debian:1.96.0",
                                 "--bindgen", "0.2.93,0.2.95", "--no-follow-up", "--json").stdout)
    assert (doc["first_failing"]["rustc"], doc["first_failing"]["bindgen"]) == ("debian:1.96.0", "0.2.95")
    assert doc["run"]["stats"]["built"] >= 1
    md = wasm_bisect("report", doc["run"]["id"], "--format", "md").stdout
    assert md.startswith("## vec-of-structs: rustc 1.96.0 + wasm-bindgen 0.2.95")  # plain versions
    assert "is `debian:1.96.0`: Debian rustc-web 1.96.0" in md  # where it came from, in the details
    block = re.search(r"### Reproduce without wasm-bisect\n\n.*?\n\n```sh\n(.*?)\n```", md, re.S)
    assert block, md
    script = block.group(1)
    assert 'wasm-bindgen = "=0.2.95"' in script and "cat > src/lib.rs" in script and "Cargo.lock" in script
    commands = [ln for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    assert not any(ln.split()[0] == "wasm-bisect" for ln in commands)  # plain tools only
    # The reader's machine: the same toolchain and exact CLIs on PATH, an empty directory, a fresh target dir.
    toolchain = toolchains.resolve(ToolchainSpec.parse("debian:1.96.0"), provision=False)
    env = toolchain.environ(os.environ)
    env["PATH"] = os.pathsep.join([str(toolcache.bindgen_cli("0.2.95").bin_dir), str(toolcache.wasm_pack().bin_dir),
                                   env["PATH"]])
    env["CARGO_TARGET_DIR"] = str(tmp_path / "target")
    clean = tmp_path / "by-hand"
    clean.mkdir()
    proc = subprocess.run(["bash", "-c", script], cwd=clean, env=env, capture_output=True, text=True, timeout=1800,
                          check=False)
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    assert "check exit code: 1 " in proc.stdout  # bad, as the bisect said
    assert "detached ArrayBuffer" in proc.stdout + proc.stderr
    good = next(c for c in doc["cells"] if c["bindgen"] == "0.2.93")
    assert good["verdict"] == "good"
