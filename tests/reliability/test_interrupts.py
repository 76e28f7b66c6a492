"""SIGINT/SIGTERM at random moments of real bisects: exit 130 with one line, no orphans, resume without redoing."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from .helpers import (
    MARK_ENV,
    REAL_HOME,
    kill_marked,
    linked_home,
    make_template,
    marked,
    run_cli,
    run_probes,
    start_cli,
    wait_for,
)

SEED = int(os.environ.get("RELIABILITY_SEED", str(time.time_ns() % 2**32)))
# The demo's grid without the follow-up: six probes uninterrupted (first bad pair 1.96.0 + 0.2.95).
GRID = ("--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0", "--bindgen", "0.2.92..0.2.99",
        "--reference-types", "default", "--no-follow-up")
MAX_INTERRUPTS = 4
# Python needs ~0.5 s to import the CLI and install its handlers; a signal before that takes the default
# action (nothing has been written yet). The window starts after it.
EARLIEST, LATEST = 1.0, 14.0


def _interrupted_once(proc: subprocess.Popen[str], sig: signal.Signals, mark: str) -> tuple[int, str, float]:
    proc.send_signal(sig)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=120)
    took = time.monotonic() - sent
    assert wait_for(lambda: not marked(mark), 10), f"orphans after {sig.name}: {marked(mark)}"
    return proc.returncode, err, took


def _summary(result: dict[str, object]) -> list[tuple[object, ...]]:
    out = []
    for s in result["bisect"]["searches"]:  # type: ignore[index]
        first = s["first_failing"] or {}
        frontier = tuple((row["rustc"], row["first_bad"], row["certain"]) for row in s["frontier"])
        out.append((s["reference_types"], s["status"], first.get("rustc"), first.get("bindgen"), frontier))
    return out


@pytest.mark.timeout(2400)
def test_random_interrupts_then_resume(tmp_path: Path) -> None:
    rng = random.Random(SEED)  # noqa: S311 - reproducible timing from a printed seed, not cryptography
    sys_note = f"RELIABILITY_SEED={SEED}"
    home = linked_home(tmp_path)
    n = 1_000_000 + rng.randrange(1, 100_000)  # a fresh variant set: every probe is a real build
    args = (*GRID, "--param", f"n={n}", "--json")
    mark = uuid.uuid4().hex
    attempts: list[tuple[str, float, int, float]] = []
    run_ids: set[str] = set()
    try:
        while len(attempts) < MAX_INTERRUPTS:
            sig = rng.choice([signal.SIGINT, signal.SIGTERM])
            delay = rng.uniform(EARLIEST, LATEST)
            proc = start_cli("bisect", *args, home=home, env={MARK_ENV: mark})
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                rc, err, took = _interrupted_once(proc, sig, mark)
            else:
                break  # finished before the signal: the resume below is then a no-op
            run_ids.update(re.findall(r"\(run (\d{8}-\d{6}-[0-9a-f]{6})\)", err))
            attempts.append((sig.name, round(delay, 1), rc, round(took, 1)))
            if rc == 0:
                break  # the signal raced the end of the run
            assert rc == 130, (sys_note, attempts, err)
            errors = [ln for ln in err.splitlines() if "wasm-bisect: error" in ln]
            assert errors == ["wasm-bisect: error: interrupted; every finished probe is stored, re-run the same "
                              "command to resume"], (sys_note, err)
            assert "Traceback" not in err
            assert took < 15, (sys_note, attempts)  # builds and checks are killed, not waited for
        final = run_cli("bisect", *args, home=home, env={MARK_ENV: mark})
        assert wait_for(lambda: not marked(mark), 10), marked(mark)
    finally:
        kill_marked(mark)
    print(sys_note, attempts)
    assert final.rc == 0, (sys_note, attempts, final.err)
    result = final.json()
    # Every interrupted attempt that got as far as starting its run was resumed: no run is left unfinished. (A
    # signal can also land after the run finished, while the answer is printed: exit 130 then, and the next
    # command answers from the store in a new run. Warm machines finish this grid inside the signal window.)
    listed = {r["run_id"]: r for r in run_cli("runs", "--json", home=home).json()}
    left = [r for r in run_ids | {result["run"]["id"]} if listed.get(r, {}).get("result") is None]
    assert left == [], (sys_note, run_ids, left)
    probes = run_probes(home, result["run"]["id"])
    built = Counter(str(p["variant"]) for p in probes if not p["cached"])
    assert [v for v, count in built.items() if count > 1] == [], (sys_note, built)  # no finished probe redone
    assert probes, (sys_note, "the finished run recorded no probe")
    assert [p for p in probes if p["outcome"]["verdict"] not in ("good", "bad")] == [], (sys_note, probes)
    # The same answer as an uninterrupted run (the default n; answered from the machine's store when known).
    reference = run_cli("bisect", *GRID, "--json", home=REAL_HOME)
    assert reference.rc == 0, reference.err
    assert _summary(result) == _summary(reference.json()), sys_note
    # No more real builds than the uninterrupted search asks (its corners included).
    assert len(built) <= reference.json()["bisect"]["probes"]["asked"], (sys_note, len(built))
    assert result["first_failing"]["rustc"] == "debian:1.96.0" and result["first_failing"]["bindgen"] == "0.2.95"


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_with_parallel_workers(tmp_path: Path, sig: signal.Signals) -> None:
    """-j 2: both reference-types searches run a check in worker threads when the signal comes; the process
    must stop both at once (not wait for them), exit 130 with one line, and store no verdict for them."""
    home = linked_home(tmp_path)
    template = make_template(tmp_path / "tmpl", check_timeout=600, build_rs=False)
    mark = uuid.uuid4().hex
    proc = start_cli("bisect", "--template", str(template), "--rustc", "debian:1.96.0", "--bindgen", "0.2.98,0.2.99",
                     "--reference-types", "both", "-j", "2", "--no-follow-up", "--param", "plan=*:slow",
                     "--param", f"nonce={mark}", home=home, env={MARK_ENV: mark})
    try:
        def both_checking() -> bool:
            return sum("check.mjs" in cmd for _, cmd in marked(mark)) >= 2

        assert wait_for(both_checking, 600, interval=0.5), "the two checks never ran side by side"
        rc, err, took = _interrupted_once(proc, sig, mark)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_marked(mark)
    assert rc == 130, err
    assert took < 15, took
    assert [ln for ln in err.splitlines() if "wasm-bisect: error" in ln] == [
        "wasm-bisect: error: interrupted; every finished probe is stored, re-run the same command to resume"]
    run_id = re.findall(r"\(run (\d{8}-\d{6}-[0-9a-f]{6})\)", err)[0]
    assert run_probes(home, run_id) == []  # the killed checks are not verdicts
