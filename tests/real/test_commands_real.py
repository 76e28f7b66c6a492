"""The read-and-tidy commands as a user runs them, after a real probe: versions, templates, cache info/prune."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import assert_probe_built, wasm_bisect, wasm_bisect_json


def test_versions_lists_releases_with_yanked_marks() -> None:
    text = wasm_bisect("versions").stdout.splitlines()
    by_version = {line.split()[0]: line for line in text}
    assert "0.2.94" in by_version and "yanked" in by_version["0.2.94"]
    assert "rust-version 1.57" in by_version["0.2.99"]
    data = wasm_bisect_json("versions")
    assert [r["version"] for r in data][:2] == ["0.2.50", "0.2.51"]


def test_templates_list_and_show() -> None:
    listed = wasm_bisect("templates", "list").stdout
    names = [line.split()[0] for line in listed.splitlines() if line.strip()]
    assert names == sorted(names)  # in name order
    assert {"imagedata-detached", "smoke", "typedarray-view", "vec-of-structs"} <= set(names)
    shown = wasm_bisect("templates", "show", "typedarray-view").stdout
    assert shown.startswith("typedarray-view: ") and "check: check.mjs" in shown
    data = wasm_bisect_json("templates", "show", "vec-of-structs")
    assert data["params"]["n"]["default"] == "1000000"


def test_cache_info_and_prune_after_a_real_probe(real_home: Path) -> None:
    probed = wasm_bisect_json("probe", "--template", "smoke", "--rustc", "debian:1.96.0", "--bindgen", "0.2.98")
    assert_probe_built(probed)
    probe = probed["probe"]
    crate = Path(probe["outcome"]["crate_dir"])
    assert crate.is_dir() and real_home in crate.parents
    info = wasm_bisect_json("cache", "info")
    parts = {p["name"]: p for p in info["parts"]}
    assert info["home"] == str(real_home) and parts["work"]["entries"] >= 1 and parts["store"]["bytes"] > 0
    assert "work" in wasm_bisect("cache", "info").stdout
    dry = wasm_bisect_json("cache", "prune", "--targets", "--dry-run")  # the targets are shared: look only
    assert dry["dry_run"] is True and crate.is_dir()
    pruned = wasm_bisect_json("cache", "prune", "--work")
    assert str(crate.parent) in pruned["directories"] and pruned["bytes"] > 0
    assert not crate.exists()
    again = wasm_bisect_json("probe", "--template", "smoke", "--rustc", "debian:1.96.0", "--bindgen", "0.2.98")["probe"]
    assert again["from_store"] is True and again["outcome"]["verdict"] == "good"  # verdicts outlive a prune
    report = json.loads(wasm_bisect("report", "--format", "json", "--no-env").stdout)
    assert report["run"]["kind"] == "probe" and report["cells"][0]["verdict"] == "good"
