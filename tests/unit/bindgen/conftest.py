"""What the wasm-bindgen tests share: a fake `cargo` first on PATH that records each call and builds a fake tool."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FAKE_CARGO = r'''#!{python}
import os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_CARGO_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
root = args[args.index("--root") + 1]
version = args[args.index("--version") + 1].lstrip("=") if "--version" in args else "0.0.0"
if version == "0.2.999":
    print("error: could not find `wasm-bindgen-cli` in registry `crates-io` with version `=0.2.999`")
    sys.exit(101)
if version == "0.2.998":
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    open(os.path.join(root, "bin", "half"), "w").write("x")
    print("error: could not compile `walrus`")
    sys.exit(101)
if os.environ.get("FAKE_CARGO_TARGETS"):
    with open(os.environ["FAKE_CARGO_TARGETS"], "a") as log:
        log.write(version + " " + os.environ["CARGO_TARGET_DIR"] + "\n")
time.sleep(float(os.environ.get("FAKE_CARGO_SLEEP", "0")))
name = "wasm-pack" if "wasm-pack" in args else "geckodriver" if "geckodriver" in args else "wasm-bindgen"
os.makedirs(os.path.join(root, "bin"), exist_ok=True)
for name in [args[i + 1] for i, a in enumerate(args) if a == "--bin"] or [name]:
    exe = os.path.join(root, "bin", name)
    with open(exe, "w") as f:
        f.write("#!/bin/sh\necho '%s %s'\n" % (name, version))
    os.chmod(exe, 0o755)
'''


@pytest.fixture
def fake_cargo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `cargo` first on PATH that records each call (and builds a fake tool): its log."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    cargo = bindir / "cargo"
    cargo.write_text(FAKE_CARGO.replace("{python}", sys.executable))
    cargo.chmod(0o755)
    log = tmp_path / "cargo.log"
    log.write_text("")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CARGO_LOG", str(log))
    return log
