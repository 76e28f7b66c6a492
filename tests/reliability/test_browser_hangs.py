"""Hung, crashed and interrupted checks in real headless browsers: the cell is `error` with a reason, and no
browser, renderer or WebDriver process survives a time limit, a browser crash, a Ctrl-C, or (after the next
browser probe) a wasm-bisect killed outright."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from fixtures.browsers import browser_processes, wait_none_left

from .helpers import BUILTIN, MARK_ENV, kill_marked, linked_home, marked, run_cli, start_cli, wait_for

RUSTC = "debian:1.96.0"
PLAN_CHECK = r"""// Reliability template for browsers: the `plan` parameter says how the check behaves.
export default async function check(pkg, params) {
  if (pkg.add(2, 3) !== 5) throw new Error("add is broken");
  switch (params.plan) {
    case "hang": // the page's main thread never comes back
      console.log("hanging now");
      for (;;) {}
    case "never": // an await that never settles: the page is idle, the check never ends
      console.log("waiting forever");
      await new Promise(() => {});
      break;
    case "bad":
      throw new Error("planned bad");
    default:
      console.log("OK");
  }
}
"""
MANIFEST = """name = "rel-browser"
description = "Reliability: a browser check that hangs on request."

[check]
script = "check.mjs"
timeout = {timeout}
runtimes = ["chromium", "firefox", "node"]

[params.plan]
default = "good"

[params.nonce]
default = ""
"""


def _template(dest: Path, timeout: float) -> Path:
    (dest / "src").mkdir(parents=True)
    (dest / "Cargo.toml").write_text((BUILTIN / "smoke" / "Cargo.toml").read_text())
    (dest / "src" / "lib.rs").write_text((BUILTIN / "smoke" / "src" / "lib.rs").read_text())
    (dest / "check.mjs").write_text(PLAN_CHECK)
    (dest / "template.toml").write_text(MANIFEST.format(timeout=timeout))
    return dest


def _probe_args(template: Path, runtime: str, plan: str, nonce: str) -> tuple[str, ...]:
    return ("probe", "--template", str(template), "--rustc", RUSTC, "--bindgen", "0.2.99", "--runtime", runtime,
            "--param", f"plan={plan}", "--param", f"nonce={nonce}", "--json")


def _leftovers(mark: str, since: float) -> list[tuple[int, str]]:
    """Our marked processes plus any browser process started since (Chromium's renderers drop the mark)."""
    return sorted({*marked(mark), *wait_none_left(since, timeout=10)})


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("runtime", "plan"), [("chromium", "hang"), ("firefox", "hang"), ("chromium", "never")])
def test_hung_page_is_killed_at_the_time_limit_with_the_whole_browser(runtime: str, plan: str,
                                                                       tmp_path: Path) -> None:
    home = linked_home(tmp_path)
    template = _template(tmp_path / "tmpl", timeout=25)  # Firefox alone may take ~10 s to start here
    mark, since = uuid.uuid4().hex, time.time()
    try:
        r = run_cli(*_probe_args(template, runtime, plan, mark), home=home, env={MARK_ENV: mark})
        left = _leftovers(mark, since)
    finally:
        kill_marked(mark)
    assert r.rc == 0, r.err
    outcome = r.json()["probe"]["outcome"]
    assert outcome["verdict"] == "error", outcome
    assert "did not finish within 25 s" in outcome["reason"]
    assert "browser was killed" in outcome["reason"]
    # The page never finishes by itself: the check ended because it was killed, near its limit (a wide margin:
    # load can delay the kill by seconds, never by minutes).
    assert outcome["timings"]["check"] < 4 * 25
    assert ("hanging now" if plan == "hang" else "waiting forever") in outcome["log_tail"]  # output up to the hang
    assert left == [], f"processes survived the probe: {left}"


def _wait_for_hanging_page(home: Path, mark: str) -> list[tuple[int, str]]:
    """Wait until the page said it hangs (its line is in the probe's check log); our processes then."""
    def hanging() -> bool:
        return any("hanging now" in log.read_text(errors="replace") for log in home.glob("work/*/logs/check.log"))

    assert wait_for(hanging, 180), marked(mark)
    return marked(mark)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_a_hung_page_leaves_no_browser(sig: signal.Signals, tmp_path: Path) -> None:
    home = linked_home(tmp_path)
    template = _template(tmp_path / "tmpl", timeout=300)
    mark, since = uuid.uuid4().hex, time.time()
    try:
        proc = start_cli(*_probe_args(template, "chromium", "hang", mark), home=home, env={MARK_ENV: mark})
        _wait_for_hanging_page(home, mark)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        left = _leftovers(mark, since)
    finally:
        kill_marked(mark)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert left == [], f"processes survived {sig.name}: {left}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("runtime", ["chromium", "firefox"])
def test_browser_that_crashes_mid_check_is_an_error_at_once(runtime: str, tmp_path: Path) -> None:
    """The browser's main process dies (SIGKILL) while the page runs: the cell is `error` long before the
    time limit, and its helpers and the driver are gone."""
    home = linked_home(tmp_path)
    template = _template(tmp_path / "tmpl", timeout=300)
    mark, since = uuid.uuid4().hex, time.time()
    try:
        proc = start_cli(*_probe_args(template, runtime, "hang", mark), home=home, env={MARK_ENV: mark})
        driver = "chromedriver" if runtime == "chromium" else "geckodriver"
        processes = _wait_for_hanging_page(home, mark)
        drivers = [pid for pid, cmd in processes if driver in cmd]
        main = [pid for pid, _ in processes if _parent(pid) in drivers]
        assert main, processes
        os.kill(main[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        left = _leftovers(mark, since)
    finally:
        kill_marked(mark)
    assert proc.returncode == 0, err
    outcome = json.loads(out)["probe"]["outcome"]
    assert outcome["verdict"] == "error", outcome
    assert "exited or crashed" in outcome["reason"] or "WebDriver exited" in outcome["reason"], outcome["reason"]
    # Noticed as a crash, not at the time limit (the build before it may take any time on a loaded machine).
    assert "did not finish" not in outcome["reason"], outcome["reason"]
    assert outcome["timings"]["check"] < 300
    assert left == [], f"processes survived the crash: {left}"


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError):
        return -1


@pytest.mark.timeout(600)
def test_browsers_of_a_killed_wasm_bisect_are_reaped_by_the_next_browser_probe(tmp_path: Path) -> None:
    """SIGKILL gives wasm-bisect no chance to clean up: its browser outlives it (said honestly here), and the
    next browser probe on the machine finds it by its dead owner and kills it before it starts its own."""
    home = linked_home(tmp_path)
    template = _template(tmp_path / "tmpl", timeout=300)
    mark, since = uuid.uuid4().hex, time.time()
    try:
        proc = start_cli(*_probe_args(template, "chromium", "hang", mark), home=home, env={MARK_ENV: mark})
        _wait_for_hanging_page(home, mark)
        proc.kill()
        proc.communicate(timeout=30)
        time.sleep(1)
        orphans = marked(mark)
        assert orphans, "the browser of a SIGKILLed wasm-bisect outlives it until someone reaps it"
        second = uuid.uuid4().hex
        r = run_cli(*_probe_args(template, "chromium", "good", second), home=home, env={MARK_ENV: second})
        left = _leftovers(mark, since)
    finally:
        kill_marked(mark)
    assert r.rc == 0, r.err
    assert r.json()["probe"]["outcome"]["verdict"] == "good"
    assert left == [], f"orphans survived the next browser probe: {left}"
    assert browser_processes(since) == []
    # ... and so did the killed one's private browser directory (profile, driver temporaries).
    assert [d for d in Path(tempfile.gettempdir()).glob("wasm-bisect-browser-*") if d.stat().st_mtime >= since] == []
