"""Real bisects of the built-in #4352 reproducer (the product's main job), run in CI."""

from __future__ import annotations

import time

from .conftest import wasm_bisect, wasm_bisect_json

GRID = ["--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0",
        "--bindgen", "0.2.91..0.2.99", "--reference-types", "both"]


def _first(result: dict, rt: str) -> tuple[str, str] | None:  # type: ignore[type-arg]
    search = next(s for s in result["searches"] if s["reference_types"] == rt)
    first = search["first_failing"]
    return (first["rustc"], first["bindgen"]) if first else None


def test_bisect_finds_the_first_failing_pair_and_blames_reference_types() -> None:
    start = time.monotonic()
    proc = wasm_bisect("bisect", *GRID)  # the human-readable verdict block goes to the test log
    print(f"bisect wall time: {time.monotonic() - start:.0f} s")
    assert "first bad pair" in proc.stderr
    result = wasm_bisect_json("bisect", *GRID)  # the same command again: answered from the store
    assert len(result["grid"]["bindgen"]) >= 8
    assert _first(result, "default") == ("debian:1.96.0", "0.2.95")
    assert _first(result, "on") == ("debian:1.63.0", "0.2.95")
    assert "follows reference-types" in result["reference_types_summary"]
    default = next(s for s in result["searches"] if s["reference_types"] == "default")
    assert default["attribution"]["kind"] == "interaction"
    assert default["first_failing"]["not_on_axis"] == ["0.2.94"]  # yanked, said out loud
    assert result["probes"]["built"] == 0, "re-running a finished bisect must not build anything"
    for search in result["searches"]:
        print(f"{search['reference_types']}: {search['probes']} probes for {search['cells']} cells")
        assert search["probes"] <= search["cells"] // 2


def test_find_fix_names_the_release_that_fixed_it() -> None:
    result = wasm_bisect_json("bisect", "--template", "vec-of-structs", "--rustc", "debian:1.96.0",
                              "--bindgen", "0.2.95..0.2.100", "--find-fix", "--no-follow-up")
    search = result["searches"][0]
    assert result["mode"] == "find-fix"
    assert search["first_failing"]["bindgen"] == "0.2.100"  # upstream PR #4353, released in 0.2.100
    assert search["terms"] == {"old": "broken", "new": "fixed"}


def test_log_shows_the_probes_of_the_last_run() -> None:
    proc = wasm_bisect("log")
    assert "# result" in proc.stdout
    assert "bad debian:1.96.0@0.2.100" not in proc.stdout
