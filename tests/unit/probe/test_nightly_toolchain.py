"""A nightly-shaped toolchain (rustc says `1.82.0-nightly`) probes to a verdict, not a traceback.

Every program is a fake (rustc, cargo, wasm-bindgen, wasm-pack); node runs the smoke template's real check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from unit.conftest import write_executable
from wasm_bisect import cli

pytestmark = pytest.mark.subprocess

RUSTC = """#!/bin/sh
case "$*" in
  *-vV*) printf 'rustc 1.82.0-nightly (abcdef123 2024-08-01)\\nbinary: rustc\\ncommit-hash: abcdef123\\n'
         printf 'commit-date: 2024-08-01\\nhost: x86_64-unknown-linux-gnu\\nrelease: 1.82.0-nightly\\n'
         printf 'LLVM version: 19.1.0\\n' ;;
  *sysroot*) echo "{prefix}" ;;
  *) echo "fake rustc: $*" >&2; exit 1 ;;
esac
"""
# One cargo for the toolchain and the host: it only knows -V and generate-lockfile.
CARGO = """#!/bin/sh
case "$1" in
  -V) echo 'cargo 1.82.0-nightly (abcdef123 2024-08-01)' ;;
  generate-lockfile) cat > Cargo.lock <<'EOF'
version = 4

[[package]]
name = "wasm-bindgen"
version = "0.2.99"
EOF
  ;;
  *) echo "fake cargo: $*" >&2; exit 1 ;;
esac
"""
WASM_PACK = """#!/bin/sh
echo '[INFO]: Compiling to Wasm...'
echo '    Finished `release` profile [optimized] target(s) in 0.01s'
mkdir -p "$2/pkg"
echo 'module.exports.add = (a, b) => a + b;' > "$2/pkg/wasm_bisect_probe.js"
echo '[INFO]: Your wasm pkg is ready to publish'
"""


def _cached_tool(home: Path, name: str, version: str, text: str) -> None:
    entry = home / "tools" / name / version
    write_executable(entry / "bin" / name, text)
    (entry / "tool.json").write_text(json.dumps({"version": version, "build_seconds": 0}))


def test_nightly_shaped_path_toolchain_reaches_a_verdict(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "nightly"
    write_executable(prefix / "bin" / "rustc", RUSTC.replace("{prefix}", str(prefix)))
    write_executable(prefix / "bin" / "cargo", CARGO)
    std = prefix / "lib" / "rustlib" / "wasm32-unknown-unknown" / "lib"
    std.mkdir(parents=True)
    (std / "libstd-0000.rlib").write_bytes(b"")
    _cached_tool(home, "wasm-bindgen", "0.2.99", "#!/bin/sh\necho 'wasm-bindgen 0.2.99'\n")
    _cached_tool(home, "wasm-pack", "0.13.1", WASM_PACK)
    monkeypatch.setenv("PATH", f"{prefix / 'bin'}{os.pathsep}{os.environ['PATH']}")  # the host cargo too
    monkeypatch.setattr(sys, "argv", ["wasm-bisect", "probe", "--template", "smoke", "--rustc", f"path:{prefix}",
                                      "--bindgen", "0.2.99", "--json"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    data = json.loads(out)
    outcome = data["probe"]["outcome"]
    assert outcome["verdict"] == "good", outcome
    assert "reference-types on since rustc 1.82" in " ".join(outcome["evidence"]["layers"])
    assert "1.82.0-nightly" in outcome["evidence"]["rustc"]
