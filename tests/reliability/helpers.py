"""Shared helpers: run the real CLI, private homes linked to the machine's caches, snapshots, process scans."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures.homes import REAL_HOME, SHARED, linked_home, seed_index

__all__ = ["REAL_HOME", "SHARED", "linked_home", "seed_index"]  # shared with the real suite (fixtures/homes.py)

MARK_ENV = "RELIABILITY_MARK"  # set in the CLI's environment: every descendant inherits it
REPO = Path(__file__).resolve().parents[2]
BUILTIN = REPO / "templates"


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if "wasm-bisect: error:" in line]

    def json(self) -> Any:
        return json.loads(self.out)


def cli_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    env.update({"WASM_BISECT_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200", **(extra or {})})
    return env


def run_cli(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 900,
            cwd: Path | None = None) -> Result:
    """The real CLI in a child process (`python -m wasm_bisect`), as a user runs it."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wasm_bisect", *args], capture_output=True, text=True,
                          timeout=timeout, env=cli_env(home, env), cwd=cwd, check=False)
    result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
    sys.stderr.write(f"\n$ wasm-bisect {' '.join(args)} -> exit {proc.returncode} in {result.seconds:.1f} s\n"
                     f"{proc.stderr[-3000:]}\n")
    return result


def start_cli(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "wasm_bisect", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(home, env))




def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every entry below `root` (not following symlinks): kind, size, mtime."""
    found: dict[str, tuple[str, int, int]] = {}
    if not root.exists():
        return found
    for directory, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(directory) / name
            st = path.lstat()
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            found[str(path.relative_to(root))] = (kind, st.st_size if kind == "file" else 0,
                                                  st.st_mtime_ns if kind == "file" else 0)
    return found


def marked(mark: str) -> list[tuple[int, str]]:
    """Live processes whose environment carries RELIABILITY_MARK=`mark`: leftovers of a run that ended."""
    needle = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if needle in environ.split(b"\0") and "zombie" not in state:
            found.append((int(entry.name), cmdline))
    return found


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def kill_marked(mark: str) -> None:
    """Test hygiene after a failure: never leave our own leftovers running (by pid, never by name)."""
    for pid, _ in marked(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A tiny tmpfs at `mountpoint` (root only): a disk that really fills up."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        done = subprocess.run(["umount", str(mountpoint)], check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def run_probes(home: Path, run_id: str) -> list[dict[str, Any]]:
    log = run_cli("log", run_id, "--json", home=home)
    assert log.rc == 0, log.err
    probes: list[dict[str, Any]] = log.json()["probes"]
    return probes


# -- a template that misbehaves on purpose -------------------------------------------------------------------

HOSTILE_CHECK = r"""// Reliability template: the `plan` parameter says how the check behaves per wasm-bindgen version,
// e.g. plan=0.2.96:hang,0.2.99:bad ("*" for every other version; default good).
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const manifest = readFileSync(new URL("./Cargo.toml", import.meta.url), "utf8");
const version = /wasm-bindgen = "=([0-9.]+)"/.exec(manifest)?.[1] ?? "?";
const plan = Object.fromEntries(
  (process.env.WASM_BISECT_PARAM_PLAN ?? "").split(",").filter(Boolean).map((item) => item.split(":")),
);
const what = plan[version] ?? plan["*"] ?? "good";
const pkg = require(process.env.WASM_BISECT_PKG);
if (pkg.add(2, 3) !== 5) {
  console.error("FAIL: add is broken");
  process.exit(1);
}
switch (what) {
  case "good":
    console.log(`OK: ${version}`);
    process.exit(0);
  case "bad":
    console.error(`FAIL: planned bad at ${version}`);
    process.exit(1);
  case "hang": // children in the group, one that left it (setsid) holding our stdout, then never end
    spawn("sleep", ["1000"], { stdio: "inherit" });
    spawn("sleep", ["1001"], { detached: true, stdio: "inherit" });
    setInterval(() => {}, 1000);
    break;
  case "fork": // leave children behind and pass: one in the group, two that left it (one holds stdout)
    spawn("sleep", ["1002"], { stdio: "inherit" });
    spawn("sleep", ["1003"], { detached: true, stdio: "ignore" }).unref();
    spawn("sh", ["-c", "sleep 1004 & sleep 1005"], { detached: true, stdio: "inherit" }).unref();
    console.log(`OK: forked at ${version}`);
    process.exit(0);
  case "sigkill":
    process.kill(process.pid, "SIGKILL");
    break;
  case "slow":
    setTimeout(() => { console.log("OK: slow"); process.exit(0); }, 300000);
    break;
  default:
    console.error(`unknown plan ${what}`);
    process.exit(125);
}
"""

HANGING_BUILD_RS = r"""// Reliability template: the build script loops forever for WASM_BISECT_REL_BUILD_HANG versions.
use std::{env, fs, thread, time::Duration};

fn main() {
    println!("cargo:rerun-if-env-changed=WASM_BISECT_REL_BUILD_HANG");
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap();
    let manifest = fs::read_to_string(format!("{}/Cargo.toml", dir)).unwrap();
    let hang = env::var("WASM_BISECT_REL_BUILD_HANG").unwrap_or_default();
    if hang.split(',').any(|v| !v.is_empty() && manifest.contains(&format!("\"={}\"", v))) {
        loop {
            thread::sleep(Duration::from_secs(1));
        }
    }
}
"""

HOSTILE_MANIFEST = """name = "{name}"
description = "reliability suite: a check and a build script that misbehave on purpose"

[check]
script = "check.mjs"
timeout = {check_timeout}
failure_signature = "FAIL: planned"

[build]
timeout = {build_timeout}

[params.plan]
default = ""
description = "version:behaviour pairs (good, bad, hang, fork, sigkill, slow)"

[params.nonce]
default = ""
description = "unique per test: forces fresh variants (real builds)"
"""


def make_template(dest: Path, *, name: str = "rel-hostile", check_timeout: float = 5, build_timeout: float = 60,
                  build_rs: bool = True) -> Path:
    """The smoke crate plus a plan-driven check and (optionally) a build script that can hang."""
    (dest / "src").mkdir(parents=True)
    cargo = (BUILTIN / "smoke" / "Cargo.toml").read_text()
    if build_rs:
        cargo = cargo.replace('edition = "2021"\n', 'edition = "2021"\nbuild = "build.rs"\n', 1)
        (dest / "build.rs").write_text(HANGING_BUILD_RS)
    (dest / "Cargo.toml").write_text(cargo)
    (dest / "src" / "lib.rs").write_text((BUILTIN / "smoke" / "src" / "lib.rs").read_text())
    (dest / "check.mjs").write_text(HOSTILE_CHECK)
    (dest / "template.toml").write_text(HOSTILE_MANIFEST.format(name=name, check_timeout=check_timeout,
                                                                build_timeout=build_timeout))
    return dest
