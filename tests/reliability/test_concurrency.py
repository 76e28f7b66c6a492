"""Runs at the same time on one store and one cache: no corruption, no lost result, nothing built twice."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from collections import Counter
from pathlib import Path

import pytest

from .helpers import MARK_ENV, kill_marked, linked_home, make_template, marked, run_cli, run_probes, start_cli

FAKE_CARGO = """#!/bin/sh
# A stand-in for `cargo install --locked --root DIR wasm-bindgen-cli --version =X --bin wasm-bindgen`:
# logs the call, takes its time (so that racing callers overlap), then installs a binary reporting X.
echo "$*" >> "$FAKE_CARGO_LOG"
root=""; version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift ;;
    --version) version="${2#=}"; shift ;;
  esac
  shift
done
sleep 2
mkdir -p "$root/bin"
printf '#!/bin/sh\\necho "wasm-bindgen %s"\\n' "$version" > "$root/bin/wasm-bindgen"
chmod +x "$root/bin/wasm-bindgen"
"""


def fake_cargo(root: Path) -> dict[str, str]:
    """PATH and log for a fake cargo that only knows `cargo install` (no real builds)."""
    bin_dir = root / "fake-bin"
    bin_dir.mkdir(parents=True)
    cargo = bin_dir / "cargo"
    cargo.write_text(FAKE_CARGO)
    cargo.chmod(cargo.stat().st_mode | stat.S_IXUSR)
    import os

    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_CARGO_LOG": str(root / "cargo.log")}


def test_racing_tool_installs_build_once(tmp_path: Path) -> None:
    """Three processes want the same wasm-bindgen CLI at once: one `cargo install`, three successes."""
    home = tmp_path / "home"
    env = fake_cargo(tmp_path)
    procs = [start_cli("tools", "install", "--bindgen", "0.2.91", "--json", home=home, env=env) for _ in range(3)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [rc for rc, _, _ in results] == [0, 0, 0], results
    installs = (tmp_path / "cargo.log").read_text().splitlines()
    assert len(installs) == 1, installs
    listed = run_cli("tools", "list", "--json", home=home, env=env).json()
    assert [(t["name"], t["version"]) for t in listed] == [("wasm-bindgen", "0.2.91")]
    assert not list((home / "tools" / "wasm-bindgen").glob(".staging-*"))


@pytest.mark.timeout(1500)
def test_concurrent_bisects_share_store_and_cache(tmp_path: Path) -> None:
    """Two bisects of the same grid and one of another grid, all at once on one store: every result kept,
    the store intact, each variant built once (the second waits for the first one's build and reuses it)."""
    home = linked_home(tmp_path)
    template = make_template(tmp_path / "tmpl", build_rs=False)
    mark = uuid.uuid4().hex
    common = ("--template", str(template), "--rustc", "debian:1.96.0", "--no-follow-up", "--param",
              "plan=0.2.98:bad,0.2.99:bad", "--param", f"nonce={mark}", "--json")
    same = ("bisect", "--bindgen", "0.2.95..0.2.99", *common)
    other = ("bisect", "--bindgen", "0.2.97..0.2.99", "--reference-types", "on", *common)
    try:
        procs = [start_cli(*args, home=home, env={MARK_ENV: mark}) for args in (same, same, other)]
        outputs = [p.communicate(timeout=1200) for p in procs]
        leftovers = marked(mark)
    finally:
        kill_marked(mark)
    assert leftovers == []
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outputs]
    import json

    results = [json.loads(out) for out, _ in outputs]
    assert results[0]["first_failing"]["bindgen"] == results[1]["first_failing"]["bindgen"] == "0.2.98"
    assert results[2]["first_failing"]["bindgen"] == "0.2.98"
    assert len({r["run"]["id"] for r in results}) == 3  # a live run is never taken over as "interrupted"
    logs = [run_probes(home, r["run"]["id"]) for r in results]
    built = Counter(json.dumps(p["variant"], sort_keys=True) for log in logs for p in log if not p["cached"])
    assert built and all(n == 1 for n in built.values()), built
    with sqlite3.connect(home / "store.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in conn.execute("SELECT variant_json FROM probes")}
        finished = conn.execute("SELECT COUNT(*) FROM runs WHERE result_json IS NOT NULL").fetchone()[0]
    asked = {json.dumps(p["variant"], sort_keys=True) for log in logs for p in log}
    assert asked <= {json.dumps(json.loads(v), sort_keys=True) for v in stored}  # no lost result
    assert finished == 3
