"""Hangs and crashes in real probes: the cell gets `error` with a reason, no process survives, the run goes on."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from .helpers import REAL_HOME, kill_marked, linked_home, make_template, marked, run_cli, run_probes, tmpfs

RUSTC = "debian:1.96.0"


def _outcomes(probes: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {p["variant"]["bindgen"]["version"]: p["outcome"] for p in probes}  # type: ignore[index]


def _bisect_leaving_no_process(home: Path, template: Path, bindgen: str, plan: str,
                               env: dict[str, str] | None = None) -> tuple[dict, dict[str, dict], list[str]]:
    """A real bisect whose processes carry a mark; none may survive it. -> (result, outcome per version,
    versions in probe order)."""
    mark = uuid.uuid4().hex
    try:
        r = run_cli("bisect", "--template", str(template), "--rustc", RUSTC, "--bindgen", bindgen,
                    "--no-follow-up", "--param", f"plan={plan}", "--param", f"nonce={mark}", "--json",
                    home=home, env={"RELIABILITY_MARK": mark, **(env or {})})
        assert r.rc == 0, r.err
        leftovers = marked(mark)
    finally:
        kill_marked(mark)
    assert leftovers == [], f"processes survived the run: {leftovers}"
    result = r.json()
    probes = run_probes(home, result["run"]["id"])
    return result, _outcomes(probes), [p["variant"]["bindgen"]["version"] for p in probes]  # type: ignore[index]


@pytest.mark.timeout(3600)  # the CLIs may be built first on a cold machine
def test_check_that_hangs_forks_or_is_killed(tmp_path: Path) -> None:
    """One real bisect: a check that never ends (with children, one of them setsid and holding the pipe), a
    check that dies of SIGKILL, a check that leaves three children behind and passes, then a bad cell."""
    # The search weighs what each probe costs (cached CLIs, warm target dirs): with every CLI built and every
    # cell cold, all probes cost the same and it asks the middle first, the order this test is built around.
    home = linked_home(tmp_path, link_targets=False)
    versions = ["0.2.93", "0.2.95", "0.2.96", "0.2.97", "0.2.98", "0.2.99"]
    tools = run_cli("tools", "install", *(a for v in versions for a in ("--bindgen", v)), home=home, timeout=3600)
    assert tools.rc == 0, tools.err
    template = make_template(tmp_path / "tmpl", check_timeout=5)
    result, outcomes, order = _bisect_leaving_no_process(
        home, template, "0.2.93..0.2.99", "0.2.96:hang,0.2.97:sigkill,0.2.98:fork,0.2.99:bad")
    assert outcomes["0.2.96"]["verdict"] == "error"
    assert "did not finish within 5 s" in outcomes["0.2.96"]["reason"]
    assert outcomes["0.2.97"]["verdict"] == "error"
    assert "killed by signal 9" in outcomes["0.2.97"]["reason"]
    assert outcomes["0.2.98"]["verdict"] == "good"
    assert outcomes["0.2.99"]["verdict"] == "bad"
    # The run went on after each broken cell, and the answer steps around the errors honestly.
    assert order.index("0.2.96") < len(order) - 1 and order.index("0.2.97") < len(order) - 1
    assert result["first_failing"]["bindgen"] == "0.2.99"
    # A timed-out check is killed near its limit, not left to run (it would never end: the margin is wide
    # because load can delay the kill by seconds, never by minutes).
    assert outcomes["0.2.96"]["timings"]["check"] < 120


@pytest.mark.timeout(1200)
def test_build_that_never_ends(tmp_path: Path) -> None:
    """A build script stuck in a loop: wasm-pack (cargo, the build script) is killed at the template's
    [build] timeout, the cell is `error`, and the bisect goes on to an answer (the corners come first, so the
    hanging middle cell is the last one it needs here)."""
    home = linked_home(tmp_path)
    template = make_template(tmp_path / "tmpl", build_timeout=40)
    result, outcomes, order = _bisect_leaving_no_process(home, template, "0.2.97..0.2.99", "0.2.99:bad",
                                                         env={"WASM_BISECT_REL_BUILD_HANG": "0.2.98"})
    assert outcomes["0.2.98"]["verdict"] == "error"
    assert "did not finish within the build time limit" in outcomes["0.2.98"]["reason"]
    assert sorted(order) == ["0.2.97", "0.2.98", "0.2.99"], order  # every cell asked, the hang included
    assert outcomes["0.2.97"]["verdict"] == "good" and outcomes["0.2.99"]["verdict"] == "bad"
    # Never blamed: the first bad pair is one of the error cell and the bad cell, said as a range.
    search = result["bisect"]["searches"][0]
    assert result["first_failing"] is None
    assert {c["bindgen"] for c in search["candidates"]} == {"0.2.98", "0.2.99"}


@pytest.mark.timeout(1200)
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs needs root")
def test_out_of_disk_during_a_build(tmp_path: Path) -> None:
    """The work directory (crates and cargo target dirs) on a 3 MiB tmpfs: the build fails with ENOSPC,
    both cells are `error` (never skip or bad), nothing hangs, and since both corners fail the same way the run
    stops there (exit 3, one line naming ENOSPC, no boundary); with space again the same command answers."""
    home = linked_home(tmp_path, link_targets=False)
    template = make_template(tmp_path / "tmpl", build_rs=False)
    mark = uuid.uuid4().hex
    args = ("bisect", "--template", str(template), "--rustc", RUSTC, "--bindgen", "0.2.98,0.2.99",
            "--no-follow-up", "--param", "plan=0.2.99:bad", "--param", f"nonce={mark}", "--json")
    try:
        with tmpfs(home / "work", "3m"):
            full = run_cli(*args, home=home, env={"RELIABILITY_MARK": mark}, timeout=600)
            leftovers = marked(mark)
    finally:
        kill_marked(mark)
    assert full.rc == 3, full.err
    assert leftovers == []
    assert "Traceback" not in full.err
    errors = [ln for ln in full.err.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "answered error the same way" in errors[0], full.err
    assert "No space left on device" in errors[0] or "cannot write" in errors[0], errors
    listed = run_cli("runs", "--json", home=home)
    run_id = next(r["run_id"] for r in listed.json() if r["kind"] == "bisect")
    outcomes = _outcomes(run_probes(home, run_id))
    assert set(outcomes) == {"0.2.98", "0.2.99"}
    for outcome in outcomes.values():
        assert outcome["verdict"] == "error", outcome
        assert "No space left on device" in outcome["reason"] or "cannot write" in outcome["reason"], outcome
    # Disk space back (and the shared, already compiled target dirs): errors are retried, never cached.
    (home / "work" / "targets").symlink_to(REAL_HOME / "work" / "targets")
    again = run_cli(*args, home=home, env={"RELIABILITY_MARK": mark})
    assert again.rc == 0, again.err
    assert again.json()["first_failing"]["bindgen"] == "0.2.99"
    assert again.json()["bisect"]["probes"]["built"] == 2
