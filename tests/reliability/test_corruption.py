"""Damaged caches and stores: detected, repaired or rebuilt with a message, never a wrong verdict."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest

from .helpers import linked_home, make_template, run_cli, run_probes
from .test_concurrency import fake_cargo

RUSTC = "debian:1.96.0"


def _bisect(home: Path, template: Path, nonce: str) -> tuple[int, str, dict[str, object]]:
    r = run_cli("bisect", "--template", str(template), "--rustc", RUSTC, "--bindgen", "0.2.98,0.2.99", "--no-follow-up",
                "--param", "plan=0.2.99:bad", "--param", f"nonce={nonce}", "--json", home=home)
    assert "Traceback" not in r.err
    return r.rc, r.err, r.json() if r.rc == 0 else {}


def _verdicts(home: Path, run_id: str) -> dict[str, str]:
    return {p["variant"]["bindgen"]["version"]: p["outcome"]["verdict"] for p in run_probes(home, run_id)}


def _damage(store: Path, how: str) -> None:
    for suffix in ("-wal", "-shm"):  # what a crash or a bad copy leaves: only the main file, damaged
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    data = store.read_bytes()
    if how == "truncated":
        store.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        store.write_bytes(os.urandom(len(data)))
    elif how == "header":
        store.write_bytes(b"\0" * 100 + data[100:])
    elif how == "empty":
        store.write_bytes(b"")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("how", ["truncated", "garbage", "header", "empty"])
def test_damaged_store(tmp_path: Path, how: str) -> None:
    home = linked_home(tmp_path)
    template = make_template(tmp_path / "tmpl", build_rs=False)
    nonce = uuid.uuid4().hex
    rc, _, first = _bisect(home, template, nonce)
    assert rc == 0
    store = home / "store.sqlite3"
    with sqlite3.connect(store) as conn:  # make sure the results are in the main file, not only in the WAL
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage(store, how)
    rc, err, again = _bisect(home, template, nonce)
    assert rc == 0, err
    if how != "empty":  # an empty file is a valid empty SQLite database: nothing to report, results redone
        assert "warning: result store" in err and "moved to" in err, err
        assert list(home.glob("store.sqlite3.corrupt-*")), "the damaged store must be kept for inspection"
    # Never a wrong verdict: the lost results are probed again and agree with the first run.
    assert again["bisect"]["probes"]["built"] == 2  # type: ignore[index]
    assert _verdicts(home, again["run"]["id"]) == {"0.2.98": "good", "0.2.99": "bad"}  # type: ignore[index]
    assert again["first_failing"] == first["first_failing"]
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.timeout(900)
def test_damaged_store_row_and_lock_cache(tmp_path: Path) -> None:
    """One unreadable stored outcome is redone (not trusted, not a crash); a truncated cached Cargo.lock is
    resolved again instead of making the cell untestable."""
    home = linked_home(tmp_path)
    template = make_template(tmp_path / "tmpl", build_rs=False)
    nonce = uuid.uuid4().hex
    rc, _, first = _bisect(home, template, nonce)
    assert rc == 0
    with sqlite3.connect(home / "store.sqlite3") as conn:
        conn.execute("UPDATE probes SET outcome_json = '{\"verdict\": ' WHERE verdict = 'bad'")
    log = run_cli("log", str(first["run"]["id"]), "--json", home=home)
    assert log.rc == 0, log.err
    shown = {p["variant"]["bindgen"]["version"]: p["outcome"] for p in log.json()["probes"]}
    assert shown["0.2.99"]["verdict"] == "error" and "unreadable" in shown["0.2.99"]["reason"]
    assert run_cli("log", str(first["run"]["id"]), home=home).rc == 0
    locks = list((home / "lock-cache").glob("*.lock"))
    assert locks
    for lock in locks:
        lock.write_bytes(lock.read_bytes()[:50])
    rc, err, again = _bisect(home, template, nonce)
    assert rc == 0, err
    assert again["bisect"]["probes"] == {**again["bisect"]["probes"], "built": 1, "from_store": 1}  # type: ignore[index]
    assert _verdicts(home, again["run"]["id"]) == {"0.2.98": "good", "0.2.99": "bad"}  # type: ignore[index]
    rc, err, fresh = _bisect(home, template, uuid.uuid4().hex)  # new variants through the damaged lock cache
    assert rc == 0, err
    assert _verdicts(home, fresh["run"]["id"]) == {"0.2.98": "good", "0.2.99": "bad"}  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", ["no-manifest", "garbage-manifest", "wrong-version", "staging-only"])
def test_half_written_tool_entry(tmp_path: Path, damage: str) -> None:
    """A tool cache entry left half-written (or a staging dir of a killed install): rebuilt once, with a message."""
    home = tmp_path / "home"
    env = fake_cargo(tmp_path)
    entry = home / "tools" / "wasm-bindgen" / "0.2.91"
    staging = entry.parent / ".staging-0.2.91-killed"
    (staging / "bin").mkdir(parents=True)
    (staging / "bin" / "wasm-bindgen").write_text("half")
    if damage != "staging-only":
        (entry / "bin").mkdir(parents=True)
        (entry / "bin" / "wasm-bindgen").write_text("#!/bin/sh\necho wasm-bindgen 0.2.91\n")
        if damage == "garbage-manifest":
            (entry / "tool.json").write_text("{\"name\": \"wasm-bi")
        elif damage == "wrong-version":
            (entry / "tool.json").write_text(json.dumps({"name": "wasm-bindgen", "version": "0.2.90"}))
    listed = run_cli("tools", "list", "--json", home=home, env=env)
    assert listed.rc == 0 and listed.json() == []  # a broken entry is never offered as a tool
    r = run_cli("tools", "install", "--bindgen", "0.2.91", "--json", home=home, env=env)
    assert r.rc == 0, r.err
    if damage != "staging-only":
        assert "cache entry is broken, rebuilding" in r.err
    assert len((tmp_path / "cargo.log").read_text().splitlines()) == 1
    assert not staging.exists()
    assert json.loads((entry / "tool.json").read_text())["version"] == "0.2.91"


@pytest.mark.timeout(1500)
def test_toolchain_prefix_corrupt_or_deleted(tmp_path: Path) -> None:
    """debian:1.63.0 in a private toolchains dir (the .debs come from the machine's download cache): a corrupt
    toolchain.json (plus a staging leftover) and then a deleted prefix are each rebuilt with a message, and
    the probe after each gives the right verdict."""
    home = linked_home(tmp_path, private=("toolchains",))
    template = make_template(tmp_path / "tmpl", build_rs=False)
    prefix = home / "toolchains" / "debian-1.63.0"

    def probe(plan: str) -> tuple[str, str]:
        r = run_cli("probe", "--template", str(template), "--rustc", "debian:1.63.0", "--bindgen", "0.2.92",
                    "--param", f"plan={plan}", "--param", f"nonce={uuid.uuid4().hex}", "--json", home=home)
        assert r.rc == 0, r.err
        return r.json()["probe"]["outcome"]["verdict"], r.err

    try:
        verdict, err = probe("*:good")
        assert verdict == "good" and "debian:1.63.0 ready in" in err
        (prefix / "toolchain.json").write_text("{ not json")
        leftover = prefix.parent / ".staging-debian-1.63.0-killed"
        (leftover / "usr").mkdir(parents=True)
        listed = run_cli("toolchain", "list", "--json", home=home)
        assert listed.rc == 0 and "debian:1.63.0" not in {t["spec"] for t in listed.json()}
        verdict, err = probe("*:bad")
        assert "has no valid toolchain.json: rebuilding it" in err
        assert verdict == "bad" and not leftover.exists()
        shutil.rmtree(prefix)
        verdict, err = probe("*:good")
        assert verdict == "good" and "debian:1.63.0 ready in" in err
    finally:
        shutil.rmtree(home / "toolchains", ignore_errors=True)  # half a gigabyte: do not keep it in /tmp
