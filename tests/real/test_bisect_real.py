"""Real bisects of the built-in #4352 reproducer (the product's main job), run in CI.

The module's store is private (see conftest.py): the first bisect builds every probe it needs, and each
test below checks what was built, not only what was answered.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fixtures.schema import validate_report

from .conftest import wasm_bisect, wasm_bisect_json

GRID = ["--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0",
        "--bindgen", "0.2.91..0.2.99", "--reference-types", "both"]


def _first(doc: dict[str, Any], rt: str) -> tuple[str, str] | None:
    search = next(s for s in doc["bisect"]["searches"] if s["reference_types"] == rt)
    first = search["first_failing"]
    return (first["rustc"], first["bindgen"]) if first else None


def test_bisect_finds_the_first_failing_pair_and_blames_reference_types() -> None:
    start = time.monotonic()
    proc = wasm_bisect("bisect", *GRID)  # the human-readable verdict block goes to the test log
    print(f"bisect wall time: {time.monotonic() - start:.0f} s")
    assert "first bad pair" in proc.stdout  # the answer is on stdout
    built = int(re.findall(r"^probes: (\d+) built, (\d+) answered from the store", proc.stdout, re.M)[-1][0])
    assert built >= 10, "the first bisect of a private store builds every probe it asks for"
    first_run = wasm_bisect_json("report")  # the newest run of this module's store: that one
    for search in first_run["bisect"]["searches"]:
        print(f"{search['reference_types']}: {search['probes']} probes for {search['cells']} cells")
        assert search["probes"] <= search["cells"] // 2
    doc = validate_report(wasm_bisect_json("bisect", *GRID))  # the same command again: answered from the store
    result = doc["bisect"]  # the report document's bisect section
    assert len(doc["grid"]["bindgen"]) >= 8
    assert _first(doc, "default") == ("debian:1.96.0", "0.2.95")
    assert _first(doc, "on") == ("debian:1.63.0", "0.2.95")
    assert "follows reference-types" in result["reference_types_summary"]
    default = next(s for s in result["searches"] if s["reference_types"] == "default")
    assert default["attribution"]["kind"] == "interaction"
    assert default["first_failing"]["not_on_axis"] == ["0.2.94"]  # yanked, said out loud
    # The re-run builds nothing and answers every probe it asks from the store. It need not ask as many as the
    # first run built: what the first search saw cost differently (CLIs not yet built) and -j look-ahead builds
    # guesses a search may never ask, so only "at most" holds between the two counts.
    assert result["probes"]["built"] == 0, "re-running a finished bisect must not build anything"
    assert 0 < result["probes"]["from_store"] <= built
    assert doc["run"]["stats"] == {"built": 0, "from_store": result["probes"]["from_store"]}
    assert doc["cells"], "the re-run recorded the probes it asked"
    assert [c["key"] for c in doc["cells"] if not c["from_store"]] == []


def test_find_fix_names_the_release_that_fixed_it() -> None:
    result = wasm_bisect_json("bisect", "--template", "vec-of-structs", "--rustc", "debian:1.96.0",
                              "--bindgen", "0.2.95..0.2.100", "--find-fix", "--no-follow-up")["bisect"]
    search = result["searches"][0]
    assert result["mode"] == "find-fix"
    assert search["first_failing"]["bindgen"] == "0.2.100"  # upstream PR #4353, released in 0.2.100
    assert search["terms"] == {"old": "broken", "new": "fixed"}
    assert result["probes"]["built"] >= 1  # 0.2.100 was probed by no earlier test of this module


def test_good_bad_box_repeat_jobs_and_yanked_releases() -> None:
    """--good/--bad narrow the box; --repeat runs each check twice; -j 2 searches both settings at once;
    --allow-yanked puts 0.2.94 on the axis (smoke passes everywhere: the search never needs to ask it)."""
    doc = wasm_bisect_json("bisect", "--template", "smoke", "--rustc", "debian:1.63.0,debian:1.96.0",
                           "--bindgen", "0.2.91..0.2.99", "--good", "debian:1.63.0@0.2.92",
                           "--bad", "debian:1.96.0@0.2.98", "--reference-types", "default,on", "--repeat", "2",
                           "-j", "2", "--allow-yanked", "--no-follow-up")
    result = doc["bisect"]
    assert doc["grid"]["bindgen"][0] == "0.2.92" and doc["grid"]["bindgen"][-1] == "0.2.98"
    assert "0.2.94" in doc["grid"]["bindgen"]
    assert {s["reference_types"] for s in result["searches"]} == {"default", "on"}
    assert doc["first_failing"] is None  # smoke passes everywhere
    assert all(s["status"] == "last-not-new" for s in result["searches"])
    assert result["probes"]["built"] >= 2
    run_id = doc["run"]["id"]
    log = wasm_bisect("log", run_id).stdout
    assert log.startswith(f"# run {run_id} (bisect)")
    assert "good debian:1.96.0@0.2.98:default" in log and "good debian:1.96.0@0.2.98:on" in log
    assert "# result (default):" in log and "# result (on):" in log


def test_allowed_yanked_release_is_untestable_never_blamed() -> None:
    """--allow-yanked puts 0.2.94 on the axis between a good 0.2.93 and a bad 0.2.95, so the search must ask it:
    untestable (cargo refuses a yanked pin), never blamed."""
    doc = wasm_bisect_json("bisect", "--template", "vec-of-structs", "--rustc", "debian:1.96.0",
                           "--bindgen", "0.2.93..0.2.95", "--allow-yanked", "--no-follow-up")
    assert doc["grid"]["bindgen"] == ["0.2.93", "0.2.94", "0.2.95"]
    verdicts = {c["bindgen"]: c["verdict"] for c in doc["cells"]}
    assert verdicts.get("0.2.93") == "good" and verdicts.get("0.2.95") == "bad", verdicts
    assert verdicts.get("0.2.94") in ("skip", "error"), verdicts
    assert (doc["first_failing"] or {}).get("bindgen") != "0.2.94"


def test_log_and_runs_show_this_modules_runs() -> None:
    doc = wasm_bisect_json("bisect", "--template", "smoke", "--rustc", "debian:1.96.0",
                           "--bindgen", "0.2.98,0.2.99", "--no-follow-up")
    run_id = doc["run"]["id"]
    log = wasm_bisect("log").stdout  # the newest run of this module's store is this one
    assert log.splitlines()[0].startswith(f"# run {run_id} (bisect)")
    assert "good debian:1.96.0@0.2.99:default" in log
    runs = wasm_bisect("runs").stdout.splitlines()
    assert runs[0].startswith(run_id) and "bisect" in runs[0] and "done" in runs[0]
    listed = wasm_bisect_json("runs")
    assert listed[0]["run_id"] == run_id
