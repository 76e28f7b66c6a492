"""Issue 16 on real toolchains: -j N probes ahead inside one search; the reference-types-off std is built lazily.

Private stores (this module's home, see conftest.py), so every probe asked here is built here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures.homes import REAL_HOME, linked_home

from .conftest import assert_probe_built, wasm_bisect, wasm_bisect_json

GRID = ["--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.92..0.2.99",
        "--reference-types", "default", "--no-follow-up"]


def _searches(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k not in ("probes",)} for s in doc["bisect"]["searches"]]


def test_jobs_probe_ahead_inside_one_search_with_the_same_answer(scratch: Path) -> None:
    one = wasm_bisect_json("bisect", *GRID, "--store", str(scratch / "j1.sqlite3"))
    proc = wasm_bisect("bisect", *GRID, "-j", "3", "--store", str(scratch / "j3.sqlite3"), "--json")
    many = json.loads(proc.stdout)
    assert _searches(many) == _searches(one)
    assert many["first_failing"]["bindgen"] == "0.2.95"
    assert one["bisect"]["probes"]["built"] >= 3 and many["bisect"]["probes"]["built"] >= 3
    assert "probing ahead:" in proc.stderr  # a single setting: only looking ahead can use the other jobs


def _copy_without_mvp(dest: Path) -> Path:
    """debian:1.96.0 as provisioned on this machine, without its mvp std: hard links, except the files a
    build may write (the Rust sources) and the manifest, which are real copies (the machine's stay as they are)."""
    source = REAL_HOME / "toolchains" / "debian-1.96.0"
    prefix = dest / "debian-1.96.0"
    subprocess.run(["cp", "-al", str(source), str(prefix)], check=True)
    shutil.rmtree(prefix / "usr" / "src")
    shutil.copytree(source / "usr" / "src", prefix / "usr" / "src", symlinks=True)
    shutil.rmtree(prefix / "mvp-sysroot", ignore_errors=True)
    manifest = json.loads((prefix / "toolchain.json").read_text())
    manifest["paths"]["mvp_sysroot"] = None
    manifest.get("target_features", {})["mvp"] = None
    (prefix / "toolchain.json").unlink()  # a hard link to the machine's manifest: never write through it
    (prefix / "toolchain.json").write_text(json.dumps(manifest, indent=2))
    return prefix


@pytest.fixture
def toolchain_home(tmp_path: Path) -> dict[str, str]:
    """A private home whose debian:1.96.0 has no reference-types-off std (tools linked from the machine)."""
    wasm_bisect("toolchain", "add", "debian:1.96.0", env={"WASM_BISECT_HOME": str(REAL_HOME)})
    home = linked_home(tmp_path, private=("toolchains",))
    (home / "toolchains").mkdir()
    _copy_without_mvp(home / "toolchains")
    return {"WASM_BISECT_HOME": str(home)}


def _listed(env: dict[str, str]) -> dict[str, Any]:
    return {t["spec"]: t for t in wasm_bisect_json("toolchain", "list", env=env)}


def test_the_first_off_probe_builds_the_mvp_std(toolchain_home: dict[str, str]) -> None:
    assert _listed(toolchain_home)["debian:1.96.0"]["mvp_sysroot"] is None
    # `toolchain add` of a provisioned toolchain builds nothing more by default.
    wasm_bisect("toolchain", "add", "debian:1.96.0", env=toolchain_home)
    assert _listed(toolchain_home)["debian:1.96.0"]["mvp_sysroot"] is None
    proc = wasm_bisect("probe", "--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99",
                       "--reference-types", "off", "--json", env=toolchain_home)
    probed = json.loads(proc.stdout)
    assert_probe_built(probed)
    outcome = probed["probe"]["outcome"]
    assert outcome["verdict"] == "good"
    assert outcome["evidence"]["reference_types_in_module"] is False
    assert "reference-types-off std ready" in proc.stderr
    listed = _listed(toolchain_home)["debian:1.96.0"]
    assert listed["mvp_sysroot"] and Path(listed["mvp_sysroot"]).is_relative_to(toolchain_home["WASM_BISECT_HOME"])
    manifest = json.loads((Path(toolchain_home["WASM_BISECT_HOME"]) / "toolchains" / "debian-1.96.0"
                           / "toolchain.json").read_text())
    assert manifest["timings"]["mvp_std_build"] > 0
    assert not any(f.lstrip("+") == "reference-types" for f in manifest["target_features"]["mvp"])
    # The machine's own toolchain was not touched.
    assert json.loads((REAL_HOME / "toolchains" / "debian-1.96.0" / "toolchain.json").read_text())["paths"][
        "mvp_sysroot"] == "mvp-sysroot"


def test_toolchain_add_with_mvp_std_builds_it_at_once(toolchain_home: dict[str, str]) -> None:
    added = wasm_bisect_json("toolchain", "add", "debian:1.96.0", "--with-mvp-std", env=toolchain_home)
    assert added["mvp_sysroot"]
    assert _listed(toolchain_home)["debian:1.96.0"]["mvp_sysroot"] == added["mvp_sysroot"]
    assert Path(added["mvp_sysroot"]).is_dir()
