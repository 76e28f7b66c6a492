"""Report renderers (pure): the JSON document, JUnit, Markdown, SVG and HTML, for matrix and bisect runs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from wasm_bisect import report
from wasm_bisect.domain.model import Outcome, Stage, Verdict
from wasm_bisect.domain.reproduce import compare_links
from wasm_bisect.report.formats import COLOURS

RUSTC = ["debian:1.63.0", "debian:1.96.0"]
BINDGEN = ["0.2.92", "0.2.93", "0.2.98", "0.2.99"]
GRID = {"template": "vec-of-structs", "rustc": RUSTC, "bindgen": BINDGEN, "reference_types": ["default", "on"],
        "options": {"target": "nodejs", "profile": "release", "wasm_opt": False, "build_failure": "skip"},
        "params": [["n", "1000000"]]}


def identity(rustc: str, bindgen: str, rt: str) -> dict[str, Any]:
    return {"template": "vec-of-structs", "rustc": rustc,
            "bindgen": {"kind": "crates", "version": bindgen, "url": None, "rev": None},
            "reference_types": rt, "options": GRID["options"], "params": [["n", "1000000"]]}


def verdict_of(rustc: str, bindgen: str, rt: str) -> Verdict:
    if bindgen == "0.2.93" and rustc.endswith("1.96.0"):
        return Verdict.SKIP  # an untestable cell, to see it drawn and counted
    on = rt == "on" or rustc.endswith("1.96.0")
    return Verdict.BAD if on and bindgen >= "0.2.98" else Verdict.GOOD


def make_cells(grid: dict[str, Any] = GRID, skip_missing: set[tuple[str, str, str]] | None = None
               ) -> list[dict[str, Any]]:
    cells = []
    for rt in grid["reference_types"]:
        for r in grid["rustc"]:
            for b in grid["bindgen"]:
                if skip_missing and (r, b, rt) in skip_missing:
                    continue
                v = verdict_of(r, b, rt)
                outcome = Outcome(verdict=v, reason={"bad": "FAIL: detached ArrayBuffer", "skip": "needs <rustc> & co",
                                                     "good": "OK"}.get(str(v), ""), stage=Stage.CHECK,
                                  evidence={"target_features": ["+reference-types"] if rt == "on" else [],
                                            "reference_types_in_module": rt == "on", "externref_transform": rt == "on"},
                                  timings={"cargo-build": 2.0, "check": 1.0}, log_tail="line 1\nline 2")
                cells.append(report.cell_from(identity(r, b, rt), outcome, from_store=b == "0.2.92"))
    return cells


def make_doc(kind: str = "matrix", result: dict[str, Any] | None = None, cells: list[dict[str, Any]] | None = None,
             run_id: str = "20260101-000000-abcdef", created: float = 1.7e9) -> dict[str, Any]:
    info = report.RunInfo(run_id=run_id, kind=kind, created=created, command="wasm-bisect matrix ...",
                          fingerprint="f" * 16, config={"grid": GRID}, result=result or {"grid": GRID},
                          cells=cells if cells is not None else make_cells(), tool_version="0.1.0",
                          environment={"os": "Linux", "node": "v20.0.0", "wasm_pack": "0.13.1",
                                       "wasm_bindgen": [{"version": b, "cli": True} for b in BINDGEN],
                                       "toolchains": [{"spec": r, "rustc_vV": f"rustc {r[7:]}\nhost: x86_64"}
                                                      for r in RUSTC]},
                          template={"name": "vec-of-structs", "description": "#4352", "issue": "https://x/4352",
                                    "files": {"src/lib.rs": "pub fn f() {}"}})
    return report.document(info)


def test_document_schema_and_analysis() -> None:
    doc = make_doc()
    assert doc["schema"] == "wasm-bisect-report" and doc["schema_version"] == 1
    assert doc["summary"] == {"good": 8, "bad": 6, "skip": 2, "error": 0, "cells": 16, "grid_cells": 16,
                              "not_probed": 0}
    first = doc["first_failing"]
    assert (first["rustc"], first["bindgen"], first["reference_types"]) == ("debian:1.96.0", "0.2.98", "default")
    assert first["last_good_rustc"] == "debian:1.63.0"
    assert first["last_good_bindgen"] is None  # 0.2.93 is a skip on 1.96.0: no good neighbour to compare
    assert first["compare"] == ["https://github.com/rust-lang/rust/compare/1.63.0...1.96.0"]
    on = doc["settings"][1]
    assert on["first_failing"]["compare"] == ["https://github.com/wasm-bindgen/wasm-bindgen/compare/0.2.93...0.2.98"]
    default_rows = doc["settings"][0]["frontier"]
    assert default_rows[0] == {"rustc": "debian:1.63.0", "first_bad": None, "candidates": [None], "certain": True}
    # On 1.96.0 the skipped 0.2.93 sits between the last good (0.2.92) and the first bad (0.2.98).
    assert default_rows[1]["candidates"] == ["0.2.93", "0.2.98"] and not default_rows[1]["certain"]
    assert [c["key"] for c in doc["cells"]] == [c["key"] for c in make_cells()]
    assert "reference-types" in doc["reference_types"]["message"]
    assert len(doc["reference_types"]["pairs"]) == 2  # 1.63.0 with 0.2.98 and 0.2.99
    assert doc["reproduce"]["first_failing"].startswith("wasm-bisect probe --template vec-of-structs --rustc "
                                                        "debian:1.96.0 --bindgen 0.2.98 --reference-types default")
    json.loads(report.render_json(doc))


def test_comparable_ignores_run_identity_and_store_hits() -> None:
    one = make_doc(run_id="a", created=1.0)
    cells = make_cells()
    for c in cells:
        c["from_store"] = not c["from_store"]
    two = make_doc(run_id="b", created=2.0, cells=list(reversed(cells)))
    assert one != two
    assert report.comparable(one) == report.comparable(two)


def test_junit() -> None:
    xml = report.render_junit(make_doc())
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped"), root.get("errors")) == ("16", "6", "2", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["wasm-bisect.vec-of-structs.reference-types-default",
                                               "wasm-bisect.vec-of-structs.reference-types-on"]
    cases = root.findall(".//testcase")
    assert len(cases) == 16 and cases[0].get("time") == "3.000"
    failure = root.find(".//failure")
    assert failure is not None and failure.get("message") == "FAIL: detached ArrayBuffer"
    assert failure.text == "line 1\nline 2"
    skipped = root.find(".//skipped")
    assert skipped is not None and skipped.get("message") == "needs <rustc> & co"


def test_junit_error_and_bisect_inferred_cells() -> None:
    cells = make_cells(skip_missing={(r, b, rt) for r in RUSTC for b in ("0.2.92", "0.2.93")
                                     for rt in ("default", "on")})
    cells[0] = {**cells[0], "verdict": "error", "reason": "toolchain missing", "stage": "provision"}
    result = {"kind": "bisect", "grid": GRID, "first_failing": None, "frontier": {}, "searches": []}
    root = ET.fromstring(report.render_junit(make_doc("bisect", result, cells)))  # noqa: S314
    assert root.get("tests") == "16" and root.get("errors") == "1"
    inferred = [s for s in root.iter("skipped") if "inferred" in (s.get("message") or "")]
    assert len(inferred) == 8
    error = root.find(".//error")
    assert error is not None and error.get("type") == "provision"


def test_markdown_for_an_upstream_issue() -> None:
    md = report.render_markdown(make_doc())
    assert md.startswith("## vec-of-structs: rustc 1.96.0 + wasm-bindgen 0.2.98 with reference-types default")  # plain
    assert "| rustc \\ wasm-bindgen | 0.2.92 | 0.2.93 | 0.2.98 | 0.2.99 |" in md
    assert "| debian:1.96.0 | ✅ good | ⏭️ skip | **❌ BAD ★** | ❌ BAD |" in md
    assert "https://github.com/rust-lang/rust/compare/1.63.0...1.96.0" in md
    assert "first failing pair rustc `debian:1.63.0` + wasm-bindgen `0.2.98`" in md  # the `on` setting
    assert "wasm-bisect probe --template vec-of-structs --rustc debian:1.96.0 --bindgen 0.2.98" in md
    assert "wasm-bisect matrix --template vec-of-structs --rustc debian:1.63.0,debian:1.96.0" in md
    assert "rustc -vV: debian:1.63.0" in md and "Node: `v20.0.0`" in md and "wasm-pack: `0.13.1`" in md
    assert "needs <rustc> & co" in md  # the untestable cells are listed with their reasons
    assert "```rust\npub fn f() {}\n```" in md


def test_markdown_without_failure() -> None:
    cells = [c for c in make_cells() if c["verdict"] != "bad"]
    for c in cells:
        c["reference_types"] = c["reference_types"]
    md = report.render_markdown(make_doc(cells=cells))
    assert "no failing pair" in md and "No cell failed." in md


def _cells_in_svg(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg.split("?>", 1)[-1])  # noqa: S314 - our own output
    ns = "{http://www.w3.org/2000/svg}"
    return [e for e in root.iter(f"{ns}rect") if (e.get("class") or "").split()[:1] == ["cell"]]


def test_svg_grid_frontier_legend() -> None:
    doc = make_doc()
    svg = report.render_svg(doc)
    cells = _cells_in_svg(svg)
    assert len(cells) == 16
    colours = {e.get("class", "").split()[1]: e.get("fill") for e in cells}
    assert colours == {"verdict-good": COLOURS["good"], "verdict-bad": COLOURS["bad"],
                       "verdict-skip": COLOURS["skip"]}
    assert svg.count('class="frontier"') == 2 and 'class="frontier-uncertain"' in svg
    assert svg.count('class="first-failing"') == 2  # one per setting
    assert "legend-error" in svg and "not probed" in svg
    width, height = report.svg_size(doc)
    assert f'width="{width}" height="{height}"' in svg


def test_svg_unprobed_cells_and_no_frontier_without_failure() -> None:
    cells = [c for c in make_cells() if c["verdict"] == "good"][:3]
    svg = report.render_svg(make_doc(cells=cells))
    assert len(_cells_in_svg(svg)) == 16
    assert svg.count("verdict-none") == 13
    assert 'class="frontier"' not in svg


def test_html_is_self_contained() -> None:
    html = report.render_html(make_doc())
    assert html.startswith("<!DOCTYPE html>")
    assert html.count('class="cell verdict-') == 16
    assert not re.search(r"<(script|link|img)\b", html)  # nothing loaded from elsewhere
    assert "needs &lt;rustc&gt; &amp; co" in html
    assert "https://github.com/rust-lang/rust/compare/1.63.0...1.96.0" in html


def test_bisect_result_wins_over_cells() -> None:
    """A bisect probes few cells; its stored result (frontier, first pair) is what the report shows."""
    cells = [c for c in make_cells() if c["bindgen"] in ("0.2.92", "0.2.99")]
    first = {"rustc": "debian:1.63.0", "bindgen": "0.2.98", "reference_types": "on", "reason": "FAIL",
             "compare": ["https://github.com/wasm-bindgen/wasm-bindgen/compare/0.2.93...0.2.98"],
             "reproduce": "wasm-bisect probe ..."}
    frontier = {"on": [{"rustc": "debian:1.63.0", "first_bad": "0.2.98", "candidates": ["0.2.98"], "certain": True},
                       {"rustc": "debian:1.96.0", "first_bad": "0.2.98", "candidates": ["0.2.98"], "certain": True}]}
    result = {"kind": "bisect", "mode": "regression", "grid": GRID, "first_failing": first, "frontier": frontier,
              "searches": [{"reference_types": "on", "status": "found", "message": "first failing pair ...",
                            "first_failing": first, "probes": 5}],
              "reference_types_summary": "the failure follows reference-types", "probes": {"built": 3}}
    doc = make_doc("bisect", result, cells)
    assert doc["first_failing"] == first
    assert doc["settings"][1]["frontier"] == frontier["on"]
    assert doc["bisect"]["searches"][0]["status"] == "found"
    assert doc["reference_types"]["message"] == "the failure follows reference-types"
    assert doc["summary"]["not_probed"] == 8
    md = report.render_markdown(doc)
    assert "compare/0.2.93...0.2.98" in md and "8 inferred" in md
    svg = report.render_svg(doc)
    assert svg.count("verdict-none") == 8


def test_a_bisect_whose_wasm_bindgen_axis_fixes_the_bug_shades_the_older_releases_bad() -> None:
    """With wasm-bindgen fixing it, the frontier's bad releases are the older ones (`bad: {from, to}`)."""
    cells = [c for c in make_cells() if c["bindgen"] in ("0.2.92", "0.2.99")]
    frontier = {"on": [
        {"rustc": "debian:1.63.0", "first_bad": None, "candidates": [None], "certain": True, "bad": None},
        {"rustc": "debian:1.96.0", "first_bad": "0.2.93", "candidates": ["0.2.93"], "certain": True,
         "bad": {"from": "0.2.92", "to": "0.2.93"}}]}
    result = {"kind": "bisect", "mode": "regression", "grid": GRID, "first_failing": None, "frontier": frontier,
              "searches": [], "reference_types_summary": "", "probes": {"built": 3}}
    svg = report.render_svg(make_doc("bisect", result, cells))
    shaded = dict(re.findall(r'data-rustc="debian:1.96.0" data-bindgen="([^"]+)" data-reference-types="on"'
                             r'[^>]*>\s*<title>[^<]*inferred (good|bad)', svg))
    assert shaded == {"0.2.93": "bad", "0.2.98": "good"}
    assert 'class="frontier"' in svg


def test_probe_run_grid_comes_from_its_cell() -> None:
    cell = make_cells()[0]
    info = report.RunInfo(run_id="p", kind="probe", created=0.0, command="wasm-bisect probe", fingerprint="k",
                          config={"variant": {}}, result={"verdict": "good"}, cells=[cell], tool_version="0.1.0")
    doc = report.document(info)
    assert doc["grid"]["rustc"] == [cell["rustc"]] and doc["grid"]["cells"] == 1
    for fmt in report.FORMATS:
        assert report.render(doc, fmt)


@pytest.mark.parametrize(("good", "bad", "expected"), [
    ("0.2.93", "0.2.95", ["https://github.com/wasm-bindgen/wasm-bindgen/compare/0.2.93...0.2.95"]),
    (None, "0.2.95", []),
    ("git+https://x@abc", "0.2.95", []),
])
def test_compare_links(good: str | None, bad: str, expected: list[str]) -> None:
    assert compare_links(good, bad, None, "debian:1.96.0") == expected
    assert compare_links(None, bad, "debian:1.63.0", "debian:1.96.0") == [
        "https://github.com/rust-lang/rust/compare/1.63.0...1.96.0"]


def test_variant_round_trip() -> None:
    cell = make_cells()[5]
    variant = report.variant_from_identity(identity(cell["rustc"], cell["bindgen"], cell["reference_types"]))
    assert variant.key == cell["key"]


def test_every_runtime_of_a_matrix_is_in_every_format() -> None:
    """A matrix over node, chromium and firefox: one panel per (reference-types, runtime) in every format, the
    cells of each runtime on their own, the first failing pair naming its runtime."""
    grid = {**GRID, "reference_types": ["default"], "runtimes": ["node", "chromium", "firefox"]}
    engine = {"node": "Cannot perform DataView.prototype.setUint32 on a detached ArrayBuffer",
              "chromium": "Cannot perform DataView.prototype.setUint32 on a detached or out-of-bounds ArrayBuffer",
              "firefox": "attempting to access detached ArrayBuffer"}
    cells = []
    for where in grid["runtimes"]:
        for r in RUSTC:
            for b in BINDGEN:
                # Only the browsers fail with 0.2.98 on 1.63.0: the panels must not be mixed up.
                bad = b >= "0.2.98" and (r.endswith("1.96.0") or where != "node")
                ident = {**identity(r, b, "default"), **({} if where == "node" else {"runtime": where}),
                         "options": {**GRID["options"], "target": "nodejs" if where == "node" else "web"}}
                outcome = Outcome(verdict=Verdict.BAD if bad else Verdict.GOOD,
                                  reason=f"FAIL: test_sum threw TypeError: {engine[where]}" if bad else "OK",
                                  stage=Stage.CHECK, timings={"check": 1.0},
                                  evidence={"runtime": {"name": where, "browser": f"{where} 1"}})
                cells.append(report.cell_from(ident, outcome))
    info = report.RunInfo(run_id="20260101-000000-abcdef", kind="matrix", created=1.7e9, command="wasm-bisect matrix",
                          fingerprint="f" * 16, config={"grid": grid}, result={"grid": grid}, cells=cells,
                          tool_version="0.1.0", environment={"os": "Linux", "browsers": {"chromium": "Chromium 156"}})
    doc = report.document(info)
    assert [(s["reference_types"], s["runtime"]) for s in doc["settings"]] == [
        ("default", "node"), ("default", "chromium"), ("default", "firefox")]
    assert doc["summary"]["grid_cells"] == 24 and doc["summary"]["cells"] == 24
    assert [s["first_failing"]["rustc"] for s in doc["settings"]] == ["debian:1.96.0", "debian:1.63.0",
                                                                     "debian:1.63.0"]
    assert doc["first_failing"] == doc["settings"][0]["first_failing"]
    assert doc["settings"][1]["first_failing"]["runtime"] == "chromium"
    assert {c["runtime"] for c in doc["cells"]} == {"node", "chromium", "firefox"}
    assert "--runtime node,chromium,firefox" in doc["reproduce"]["grid"]
    chromium_first = doc["settings"][1]["first_failing"]
    assert "--runtime chromium" in chromium_first["reproduce"]
    assert report.setting_key("default", "chromium") == "default@chromium"

    rendered = {fmt: report.render(doc, fmt) for fmt in report.FORMATS}
    for where in ("chromium", "firefox"):
        assert f"in {where}" in rendered["md"] and f"in {where}" in rendered["svg"], where
        assert engine[where] in rendered["md"]  # each runtime's own wording
        assert f'data-runtime="{where}"' in rendered["svg"] and f'data-runtime="{where}"' in rendered["html"]
        assert f"<td>{where}</td>" in rendered["html"]
        assert where in json.dumps(json.loads(rendered["json"])["cells"])
    assert "reference-types `default` in chromium:" in rendered["md"]
    assert "- chromium: `Chromium 156`" in rendered["md"]
    junit = ET.fromstring(rendered["junit"])  # noqa: S314 - our own output
    suites = [s.get("name") for s in junit.iter("testsuite")]
    assert suites == ["wasm-bisect.vec-of-structs.reference-types-default",
                      "wasm-bisect.vec-of-structs.reference-types-default.chromium",
                      "wasm-bisect.vec-of-structs.reference-types-default.firefox"]
    names = [c.get("name") for c in junit.iter("testcase")]
    assert len(names) == 24 and len(set(names)) == 24
    assert sum(1 for n in names if n and n.endswith(" in firefox")) == 8
    panels = re.findall(r'<g class="panel" data-reference-types="default" data-runtime="(\w+)"', rendered["svg"])
    assert panels == ["node", "chromium", "firefox"]
    assert len(re.findall(r'<rect class="cell ', rendered["svg"])) == 24


def test_documents_match_the_published_json_schema() -> None:
    from fixtures.schema import validate_report

    validate_report(make_doc())
    first = make_doc()["first_failing"]
    result = {"kind": "bisect", "mode": "regression", "grid": GRID, "first_failing": first, "frontier": {},
              "searches": [{"reference_types": "default", "status": "found", "message": "m", "probes": 5,
                            "first_failing": first}], "probes": {"built": 5, "from_store": 0}}
    validate_report(make_doc(kind="bisect", result=result))
    with pytest.raises(AssertionError, match="schema_version"):
        validate_report({**make_doc(), "schema_version": 99})


def test_commands_name_a_template_directory_by_its_path(tmp_path: Path) -> None:
    """A run on ./repros/my-repro must print `--template <that path>`: its name alone does not resolve."""
    from wasm_bisect.probe import templates

    mine = tmp_path / "repros" / "my-repro"
    templates.init("smoke", mine)
    tmpl = templates.load(str(mine))
    assert tmpl.snapshot()["ref"] == str(mine.resolve())
    assert templates.load("smoke").snapshot()["ref"] == "smoke"
    identity = {"template": tmpl.name, "rustc": "debian:1.96.0", "bindgen": {"kind": "crates", "version": "0.2.99"},
                "reference_types": "default"}
    cell = report.cell_from(identity, Outcome(verdict=Verdict.GOOD, reason="ok"), template_ref=str(mine.resolve()))
    assert f"--template {mine.resolve()} " in cell["reproduce"]
