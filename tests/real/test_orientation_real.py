"""A real bisect of a grid whose axes move the bug opposite ways (issue 23): a newer rustc introduces it, a later
wasm-bindgen fixes it. The `opposite-axes` template builds a trivial crate for real and decides from what was
built (WASM_BISECT_RUSTC / WASM_BISECT_BINDGEN): bad = rustc 1.96.0 x wasm-bindgen {0.2.93, 0.2.95}, 2 of 8
cells. Cheap on purpose: two toolchains and four wasm-bindgen CLIs other tests build anyway, reference-types
default only, no follow-up; `bisect --find-fix` is answered from the store the first bisect filled.
"""

from __future__ import annotations

import re
import time

from fixtures.schema import validate_report

from .conftest import wasm_bisect, wasm_bisect_json

GRID = ["--template", "opposite-axes", "--rustc", "debian:1.63.0,debian:1.96.0",
        "--bindgen", "0.2.93,0.2.95,0.2.96,0.2.99", "--reference-types", "default", "--no-follow-up"]
SUMMARY = ("rustc 1.96.0 introduces it (with wasm-bindgen <= 0.2.95); "
           "wasm-bindgen 0.2.96 fixes it (with rustc >= 1.96.0)")


def test_bisect_and_find_fix_name_both_boundaries() -> None:
    start = time.monotonic()
    proc = wasm_bisect("bisect", *GRID)
    print(f"opposite-axes bisect: {time.monotonic() - start:.0f} s")
    assert SUMMARY in proc.stdout
    assert "rustc introduces it: debian:1.63.0 passes, debian:1.96.0 fails (with wasm-bindgen <= 0.2.95)" in proc.stdout
    assert "wasm-bindgen fixes it: 0.2.96 passes, 0.2.95 fails (with rustc >= 1.96.0)" in proc.stdout
    assert "compare: https://github.com/wasm-bindgen/wasm-bindgen/compare/0.2.95...0.2.96" in proc.stdout
    built = int(re.findall(r"^probes: (\d+) built", proc.stdout, re.M)[-1])
    assert 3 <= built <= 7, "the corners plus what the claim needs, never the whole grid (8 cells)"

    doc = validate_report(wasm_bisect_json("bisect", *GRID))  # the same run: answered from the store
    search = doc["bisect"]["searches"][0]
    assert search["status"] == "found"
    orientation = search["orientation"]
    assert (orientation["rustc"], orientation["bindgen"], orientation["summary"]) == ("introduces", "fixes", SUMMARY)
    rustc, bindgen = orientation["boundaries"]
    assert "--rustc debian:1.96.0 --bindgen 0.2.95" in rustc["reproduce"]["bad"]
    assert "--rustc debian:1.63.0 --bindgen 0.2.95" in rustc["reproduce"]["good"]
    assert "--rustc debian:1.96.0 --bindgen 0.2.96" in bindgen["reproduce"]["good"]
    assert (doc["first_failing"]["rustc"], doc["first_failing"]["bindgen"]) == ("debian:1.96.0", "0.2.95")
    assert doc["bisect"]["probes"]["built"] == 0

    fix = validate_report(wasm_bisect_json("bisect", *GRID, "--find-fix"))  # a new run, the same cells
    found = fix["bisect"]["searches"][0]
    assert fix["bisect"]["mode"] == "find-fix" and found["status"] == "found"
    assert found["orientation"]["summary"] == SUMMARY
    assert fix["bisect"]["probes"]["built"] == 0, "find-fix asks the cells the first bisect probed"
    print(f"opposite-axes bisect + find-fix: {time.monotonic() - start:.0f} s, {built} builds")
