"""Checks in real headless browsers (Debian's chromium and firefox-esr): the #4352 reproducer fails in each
engine with its own wording, the bisect in chromium finds what the Node one finds, a matrix over node, chromium
and firefox reports every runtime. A missing browser is a failure here: installed browsers are a CI requirement
(`.ci/run` installs them)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import assert_probe_built, wasm_bisect, wasm_bisect_json

R163 = "debian:1.63.0"
R196 = "debian:1.96.0"
SIGNATURE = "detached (or out-of-bounds )?ArrayBuffer|sum mismatch"
# How each engine words the detached buffer (Chromium's current V8 differs from Node 20's).
WORDING = {"chromium": "Cannot perform DataView.prototype.setUint32 on a detached or out-of-bounds ArrayBuffer",
           "firefox": "attempting to access detached ArrayBuffer"}


def test_browsers_are_installed() -> None:
    """CI's machine has Debian's browsers and chromedriver (never a skip: the suite needs them)."""
    assert shutil.which("chromium"), "chromium is not installed: apt-get install chromium chromium-driver"
    assert shutil.which("chromedriver"), "chromedriver is not installed: apt-get install chromium-driver"
    assert shutil.which("firefox-esr"), "firefox-esr is not installed: apt-get install firefox-esr"


def _probe(runtime: str, bindgen: str, store: Path) -> dict[str, Any]:
    doc = wasm_bisect_json("probe", "--template", "vec-of-structs", "--rustc", R196, "--bindgen", bindgen,
                           "--reference-types", "default", "--runtime", runtime, "--store", str(store))
    assert doc["grid"]["runtimes"] == [runtime] and doc["cells"][0]["runtime"] == runtime
    data: dict[str, Any] = doc["probe"]  # the report document's probe section
    outcome = data["outcome"]
    print(f"PROBE {runtime} {bindgen}: {outcome['verdict']} ({outcome['reason']}) timings={outcome['timings']} "
          f"runtime={outcome['evidence'].get('runtime')}")
    assert_probe_built(doc)
    assert data["variant"]["runtime"] == runtime and data["variant"]["options"]["target"] == "web"
    return data


@pytest.mark.parametrize("runtime", ["chromium", "firefox"])
def test_vec_of_structs_fails_in_the_browser_with_0_2_99_and_passes_with_0_2_100(runtime: str,
                                                                                 tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    bad = _probe(runtime, "0.2.99", store)["outcome"]
    assert bad["verdict"] == "bad", bad
    evidence = bad["evidence"]
    assert evidence["runtime"]["name"] == runtime
    assert evidence["runtime"]["browser"].split()[0] in ("chrome", "chromium", "firefox")
    assert evidence["runtime"]["driver"].startswith("chromedriver" if runtime == "chromium" else "geckodriver")
    # The engine's own words are the evidence, and the template's signature matches them.
    assert WORDING[runtime] in evidence["failure_text"]
    assert re.search(SIGNATURE, evidence["failure_text"])
    assert WORDING[runtime] in bad["reason"]
    assert evidence["reference_types_in_module"] is True and evidence["externref_transform"] is True
    good = _probe(runtime, "0.2.100", store)["outcome"]
    assert good["verdict"] == "good", good
    assert good["reason"].startswith("OK: sum over 1000000 structs")


def _first(doc: dict[str, Any]) -> tuple[str, str] | None:
    first = doc["bisect"]["searches"][0]["first_failing"]
    return (first["rustc"], first["bindgen"]) if first else None


def test_bisect_in_chromium_names_the_same_first_failing_pair_as_node(tmp_path: Path) -> None:
    grid = ("--template", "vec-of-structs", "--rustc", f"{R163},{R196}", "--bindgen", "0.2.92,0.2.93,0.2.95,0.2.99",
            "--reference-types", "default", "--no-follow-up")
    node = wasm_bisect_json("bisect", *grid, "--store", str(tmp_path / "node.sqlite3"))
    chromium = wasm_bisect_json("bisect", *grid, "--runtime", "chromium", "--store", str(tmp_path / "chromium.sqlite3"))
    for doc in (node, chromium):
        assert doc["bisect"]["probes"]["built"] > 0 and doc["bisect"]["probes"]["from_store"] == 0
    assert _first(node) == (R196, "0.2.95")
    assert _first(chromium) == _first(node)
    assert chromium["grid"]["runtimes"] == ["chromium"]
    assert {c["runtime"] for c in chromium["cells"]} == {"chromium"}
    reason = chromium["bisect"]["searches"][0]["first_failing"]["reason"]
    assert WORDING["chromium"] in reason
    assert "--runtime chromium" in chromium["bisect"]["searches"][0]["first_failing"]["reproduce"]


def test_matrix_over_node_chromium_and_firefox_reports_every_runtime(tmp_path: Path) -> None:
    reports = {fmt: tmp_path / f"grid.{fmt}" for fmt in ("md", "json", "junit", "svg", "html")}
    proc = wasm_bisect("matrix", "--template", "vec-of-structs", "--rustc", R196, "--bindgen", "0.2.99,0.2.100",
                       "--reference-types", "default", "--runtime", "node,chromium,firefox", "-j", "2",
                       "--store", str(tmp_path / "store.sqlite3"),
                       *[a for fmt, path in reports.items() for a in ("--report", f"{fmt}:{path}")])
    assert "in chromium" in proc.stderr and "in firefox" in proc.stderr  # the terminal grid, one per runtime
    doc = json.loads(reports["json"].read_text())
    cells = {(c["runtime"], c["bindgen"]): c["verdict"] for c in doc["cells"]}
    assert cells == {(rt, b): "bad" if b == "0.2.99" else "good" for rt in ("node", "chromium", "firefox")
                     for b in ("0.2.99", "0.2.100")}
    assert [s["runtime"] for s in doc["settings"]] == ["node", "chromium", "firefox"]
    assert doc["run"]["stats"]["built"] == 6
    texts = {fmt: path.read_text() for fmt, path in reports.items()}
    for runtime in ("chromium", "firefox"):
        assert f"in {runtime}" in texts["md"] and f"in {runtime}" in texts["svg"]
        assert f'data-runtime="{runtime}"' in texts["html"] and f"reference-types-default.{runtime}" in texts["junit"]
    assert WORDING["chromium"] in texts["md"] and WORDING["firefox"] in texts["md"]
    assert "Cannot perform DataView.prototype.setUint32 on a detached ArrayBuffer" in texts["md"]  # node 20
    assert set(doc["environment"]["browsers"]) == {"chromium", "firefox"}


# How each engine reports putImageData on an ImageData whose wasm-memory view was detached (wasm-bindgen #4815).
IMAGEDATA_WORDING = {"chromium": "The source data has been detached",
                     "firefox": "putImageData: Invalid width or height"}


@pytest.mark.parametrize("runtime", ["chromium", "firefox"])
def test_browser_only_template_imagedata_detached(runtime: str, tmp_path: Path) -> None:
    """#4815 needs a browser (no ImageData in Node): bad from wasm-bindgen 0.2.95 on rustc 1.96 (the externref
    transform follows the module's reference-types), good with 0.2.93 (no transform)."""
    store = str(tmp_path / "store.sqlite3")
    args = ("--template", "imagedata-detached", "--rustc", R196, "--reference-types", "default", "--store", store)
    refused = wasm_bisect("probe", *args, "--bindgen", "0.2.95", "--runtime", "node", check=False)
    assert refused.returncode == 2 and "does not run in node" in refused.stderr
    bad_doc = wasm_bisect_json("probe", *args, "--bindgen", "0.2.95", "--runtime", runtime)
    assert_probe_built(bad_doc)
    bad = bad_doc["probe"]["outcome"]
    assert bad["verdict"] == "bad", bad
    assert IMAGEDATA_WORDING[runtime] in bad["evidence"]["failure_text"]
    good_doc = wasm_bisect_json("probe", *args, "--bindgen", "0.2.93", "--runtime", runtime)
    assert_probe_built(good_doc)
    good = good_doc["probe"]["outcome"]
    assert good["verdict"] == "good", good
    assert good["reason"].startswith("OK: 100000 ImageData frames")


def test_verify_in_firefox_says_the_release_fixes_it(tmp_path: Path) -> None:
    """`verify --runtime firefox`: 0.2.100 against 0.2.99 on rustc 1.96, both built and checked in Firefox."""
    proc = wasm_bisect("verify", "--template", "vec-of-structs", "--rustc", R196, "--reference-types", "default",
                       "--against", "0.2.99", "--patch", "0.2.100", "--runtime", "firefox",
                       "--store", str(tmp_path / "store.sqlite3"), "--json", check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["conclusion"] == "FIXED", data
    assert data["probes"]["built"] == 2
    cell = data["cells"][0]
    assert (cell["base"], cell["patch"]) == ("bad", "good")
    assert WORDING["firefox"] in cell["base_reason"]
