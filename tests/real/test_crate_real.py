"""Crate mode for real (issue 14): the user-shaped project in tests/fixtures/user-project (a workspace of a cdylib
`app` and its path dependency `core`, a `--cfg` from .cargo/config.toml the code needs, a Cargo.lock pinning
wasm-bindgen 0.2.89, the #4352 pattern behind the feature `repro`, tests/check.mjs and tests/node.rs).

Bisected with its own Node check and with its own #[wasm_bindgen_test] (wasm-pack test), it must give the first
failing pairs and the reference-types attribution the built-in vec-of-structs template gives on the same grid,
computed in this module's private home. The fixture must be byte-for-byte unchanged after every test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.schema import validate_report

from .conftest import assert_built, assert_probe_built, wasm_bisect, wasm_bisect_json

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "user-project"
# Three releases around the #4352 boundary (0.2.94 is yanked): the first pairs and attribution need no more.
GRID = ["--rustc", "debian:1.63.0,debian:1.96.0", "--bindgen", "0.2.93,0.2.95,0.2.99", "--reference-types", "both"]
CRATE = ["--crate", str(FIXTURE), "--package", "app", "--features", "repro"]
NODE_CHECK = ["--check", "node tests/check.mjs"]


def digest(root: Path) -> dict[str, str]:
    """Every file (hidden ones too) and every directory of `root`, with the content hash of each file."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


@pytest.fixture(autouse=True)
def fixture_untouched() -> Iterator[None]:
    """The user's directory is read only: no Cargo.lock rewrite, no pkg/, no target/, nothing."""
    before = digest(FIXTURE)
    yield
    assert digest(FIXTURE) == before, "crate mode wrote into the user's project"


@pytest.fixture(scope="module")
def template_bisect(scratch: Path) -> dict[str, Any]:
    """The built-in template's answer on the same grid, built in this module's home."""
    doc: dict[str, Any] = validate_report(wasm_bisect_json("bisect", "--template", "vec-of-structs", *GRID,
                                                           "--store", str(scratch / "crate-template.sqlite3")))
    assert doc["bisect"]["probes"]["built"] > 0
    return doc


def first_pairs(doc: dict[str, Any]) -> dict[str, tuple[str, str] | None]:
    out: dict[str, tuple[str, str] | None] = {}
    for search in doc["bisect"]["searches"]:
        first = search["first_failing"]
        out[search["reference_types"]] = (first["rustc"], first["bindgen"]) if first else None
    return out


def attribution(doc: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["reference_types"]: (s["attribution"]["kind"], (s.get("reference_types_follow_up") or {}).get("kind"))
            for s in doc["bisect"]["searches"]}


def built_cells(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The cells this run built and checked (not answered from a store)."""
    return [c for c in doc["cells"] if not c["from_store"] and c["stage"] == "check"]


def check_crate_bisect(doc: dict[str, Any], template: dict[str, Any]) -> None:
    assert doc["grid"]["template"] == "crate:app" and doc["template"]["kind"] == "crate"
    assert first_pairs(doc) == first_pairs(template)
    assert first_pairs(doc) == {"default": ("debian:1.96.0", "0.2.95"), "on": ("debian:1.63.0", "0.2.95")}
    assert attribution(doc) == attribution(template)
    summary = doc["bisect"]["reference_types_summary"]
    assert summary == template["bisect"]["reference_types_summary"] and "follows reference-types" in summary
    assert doc["bisect"]["probes"]["built"] > 0, "a private store: every probe is built by this run"
    reproduce = doc["first_failing"]["reproduce"]
    assert f"--crate {FIXTURE}" in reproduce and "--package app" in reproduce and "--check" in reproduce
    built = built_cells(doc)
    assert built, "no probe of this run reached the check"
    for cell in built:
        assert_built(cell, built=doc["bisect"]["probes"]["built"])
        origins = cell["evidence"]["rustflags_from"]
        assert {"flag": "sum_in_core", "from": ".cargo/config.toml build.rustflags"} in origins  # the project's own
        assert cell["evidence"]["rustflags"][:2] == ["--cfg", "sum_in_core"]
    on = [c for c in built if c["reference_types"] == "on" and c["rustc"] == "debian:1.63.0"]
    assert on and all(c["evidence"]["rustflags_from"][-1] == {"flag": "-Ctarget-feature=+reference-types",
                                                              "from": "reference-types on"} for c in on)


def test_bisect_with_the_projects_node_check(template_bisect: dict[str, Any], scratch: Path) -> None:
    doc = validate_report(wasm_bisect_json("bisect", *CRATE, *NODE_CHECK, *GRID,
                                           "--store", str(scratch / "crate-node.sqlite3")))
    check_crate_bisect(doc, template_bisect)


def test_bisect_with_the_projects_wasm_bindgen_tests(template_bisect: dict[str, Any], scratch: Path) -> None:
    doc = validate_report(wasm_bisect_json("bisect", *CRATE, "--check", "wasm-pack-test", "--test", "node", *GRID,
                                           "--store", str(scratch / "crate-wasm-pack-test.sqlite3"), timeout=7200))
    check_crate_bisect(doc, template_bisect)
    bad = [c for c in built_cells(doc) if c["verdict"] == "bad"]
    assert bad and all("detached ArrayBuffer" in c["reason"] and c["evidence"]["check"] ==
                       "wasm-pack test --node --test node" for c in bad)


def test_verify_the_fix_release(scratch: Path) -> None:
    proc = wasm_bisect("verify", *CRATE, *NODE_CHECK, "--patch", "0.2.100", "--against", "0.2.99",
                       "--rustc", "debian:1.63.0,debian:1.96.0", "--reference-types", "both",
                       "--store", str(scratch / "crate-verify.sqlite3"), check=False)
    line = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0, proc.stderr
    assert line.startswith("FIXED: 0.2.100 passes in all 3 cell(s) where 0.2.99 failed"), line


def test_a_project_flag_that_fights_the_cell_is_skipped_and_said(scratch: Path) -> None:
    project = scratch / "fighting-project"
    if not project.exists():
        shutil.copytree(FIXTURE, project)
        (project / "app" / ".cargo").mkdir()
        (project / "app" / ".cargo" / "config.toml").write_text(
            '[target.wasm32-unknown-unknown]\nrustflags = ["--cfg", "sum_in_core", '
            '"-Ctarget-feature=-reference-types"]\n')
    before = digest(project)
    data = wasm_bisect_json("probe", "--crate", str(project), "--package", "app", "--features", "repro",
                            *NODE_CHECK, "--rustc", "debian:1.63.0", "--bindgen", "0.2.95", "--reference-types", "on")
    outcome = data["probe"]["outcome"]
    assert outcome["verdict"] == "skip" and outcome["stage"] == "plan", outcome
    assert "turn reference-types off" in outcome["reason"] and "fights reference-types on" in outcome["reason"]
    assert "app/.cargo/config.toml target.wasm32-unknown-unknown.rustflags" in outcome["reason"]
    # The same project in a cell that agrees builds, with the target table's flags (build.rustflags of the
    # workspace is not used when a target table matches, as in cargo) and the flags' origins listed.
    probed = wasm_bisect_json("probe", "--crate", str(project), "--package", "app", "--features", "repro",
                              *NODE_CHECK, "--rustc", "debian:1.63.0", "--bindgen", "0.2.95")
    assert_probe_built(probed)
    data = probed["probe"]
    assert data["outcome"]["verdict"] == "good"
    assert data["outcome"]["evidence"]["rustflags"] == ["--cfg", "sum_in_core", "-Ctarget-feature=-reference-types"]
    where = "app/.cargo/config.toml target.wasm32-unknown-unknown.rustflags"
    origins = {f["from"] for f in data["outcome"]["evidence"]["rustflags_from"]}
    assert origins == {where}, origins
    assert digest(project) == before


# A build script that turns a compile error on from wasm-bindgen 0.2.95 (it reads the workspace's Cargo.lock).
BUILD_RS = r"""fn main() {
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap();
    let key = "name = \"wasm-bindgen\"\nversion = \"";
    let at = lock.find(key).unwrap() + key.len();
    let version = lock[at..].split('"').next().unwrap();
    let minor: u32 = version.rsplit('.').next().unwrap().parse().unwrap();
    if minor >= 95 {
        println!("cargo:rustc-cfg=broken_glue");
    }
    println!("cargo:rerun-if-changed=../Cargo.lock");
}
"""


def test_a_build_failure_can_be_the_bug(scratch: Path) -> None:
    """--build-failure bad with --signature: the first release whose build fails with the signature is found;
    a build failure that does not match the signature is untestable."""
    project = scratch / "build-failure-project"
    if not project.exists():
        shutil.copytree(FIXTURE, project)
        # A real compile error from a wasm-bindgen release on: build.rs reads the locked version.
        (project / "app" / "build.rs").write_text(BUILD_RS)
        lib = project / "app" / "src" / "lib.rs"
        lib.write_text(lib.read_text() + '\n#[cfg(broken_glue)]\ncompile_error!("failed to find the '
                       '__wbindgen_externref_table_alloc function");\n')
    result = wasm_bisect_json("bisect", "--crate", str(project), "--package", "app", "--features", "repro",
                              *NODE_CHECK, "--rustc", "debian:1.63.0", "--bindgen", "0.2.92..0.2.97", "--no-follow-up",
                              "--build-failure", "bad", "--signature", "__wbindgen_externref_table_alloc")
    assert first_pairs(result) == {"default": ("debian:1.63.0", "0.2.95")}
    assert "cargo-build failed (build failures count as bad)" in result["first_failing"]["reason"]
    assert "__wbindgen_externref_table_alloc" in result["first_failing"]["reason"]
    other = wasm_bisect_json("probe", "--crate", str(project), "--package", "app", "--features", "repro", *NODE_CHECK,
                             "--rustc", "debian:1.63.0", "--bindgen", "0.2.95", "--build-failure", "bad",
                             "--signature", "some other error")["probe"]
    assert other["outcome"]["verdict"] == "skip" and "differently from the bug" in other["outcome"]["reason"]


def test_templates_init_from_crate_gives_a_template_that_reproduces(scratch: Path) -> None:
    dest = scratch / "from-crate"
    wasm_bisect("templates", "init", "--from-crate", str(FIXTURE), str(dest), "--package", "app",
                "--features", "repro", *NODE_CHECK)
    shown = json.loads(wasm_bisect("templates", "show", str(dest), "--json").stdout)
    assert shown["name"] == "from-crate" and "deps/app-core/src/lib.rs" in shown["files"]
    data = wasm_bisect_json("probe", "--template", str(dest), "--rustc", "debian:1.96.0", "--bindgen", "0.2.95")
    assert_probe_built(data)
    outcome = data["probe"]["outcome"]
    assert outcome["verdict"] == "bad" and "detached ArrayBuffer" in outcome["reason"]
    assert {"flag": "sum_in_core", "from": "template.toml build.rustflags"} in outcome["evidence"]["rustflags_from"]
