"""Real probes of the built-in reproducers and of user templates (issue: one real probe)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import toml

from fixtures.schema import validate_report

from .conftest import assert_probe_built, wasm_bisect, wasm_bisect_json

R163 = "debian:1.63.0"
R196 = "debian:1.96.0"


def probe(template: str, rustc: str, bindgen: str, rt: str, *extra: str, built: bool = True
          ) -> dict:  # type: ignore[type-arg]
    """One real probe; unless `built=False`, it must have compiled in this run (not come from a store)."""
    doc = validate_report(wasm_bisect_json("probe", "--template", template, "--rustc", rustc, "--bindgen", bindgen,
                                           "--reference-types", rt, *extra))
    data = doc["probe"]  # the report document's probe section
    out = data["outcome"]
    ev = out["evidence"]
    print(f"PROBE {template} {rustc} {bindgen} rt={rt}: {out['verdict'].upper()} ({out['reason']}); "
          f"target_features={ev.get('target_features')} externref_transform={ev.get('externref_transform')} "
          f"timings={out['timings']} from_store={data['from_store']}")
    if built:
        assert_probe_built(doc)
    return data  # type: ignore[no-any-return]


# The 2 x 2 table on rustc 1.63.0 (no reference-types by default): the externref transform, and with it the
# #4352 detach, only happens when codegen turns reference-types on and wasm-bindgen >= 0.2.94 follows it.
CASES_163 = [
    ("0.2.92", "default", "good", False),
    ("0.2.92", "on", "good", True),
    ("0.2.99", "default", "good", False),
    ("0.2.99", "on", "bad", True),
]


@pytest.mark.parametrize(("bindgen", "rt", "expected", "rt_in_module"), CASES_163)
def test_vec_of_structs_on_rustc_163(bindgen: str, rt: str, expected: str, rt_in_module: bool) -> None:
    data = probe("vec-of-structs", R163, bindgen, rt)
    outcome = data["outcome"]
    assert outcome["verdict"] == expected, outcome
    assert outcome["evidence"]["reference_types_in_module"] is rt_in_module
    assert Path(outcome["crate_dir"], "Cargo.lock").is_file()
    assert "version = 3" in Path(outcome["crate_dir"], "Cargo.lock").read_text()  # cargo 1.65 reads v3 only


def test_vec_of_structs_on_rustc_196_default_is_bad() -> None:
    data = probe("vec-of-structs", R196, "0.2.99", "default")
    outcome = data["outcome"]
    assert outcome["verdict"] == "bad"
    assert "detached ArrayBuffer" in outcome["reason"] + outcome["log_tail"]
    assert outcome["evidence"]["reference_types_in_module"] is True
    assert outcome["evidence"]["externref_transform"] is True


def test_reference_types_off_on_196_uses_mvp_std() -> None:
    data = probe("vec-of-structs", R196, "0.2.99", "off")
    outcome = data["outcome"]
    assert outcome["evidence"]["reference_types_in_module"] is False
    assert outcome["verdict"] == "good"


def test_second_probe_is_answered_from_the_store_and_fresh_builds_again() -> None:
    first = probe("smoke", R163, "0.2.93", "on")  # built here: this module's store is private
    again = probe("smoke", R163, "0.2.93", "on", built=False)
    assert again["from_store"] is True
    # The very outcome the first probe stored (its timings included), not a build of its own.
    assert again["outcome"]["verdict"] == first["outcome"]["verdict"]
    assert again["outcome"]["timings"] == first["outcome"]["timings"]
    fresh = probe("smoke", R163, "0.2.93", "on", "--fresh")  # --fresh: probed for real once more
    assert fresh["outcome"]["verdict"] == first["outcome"]["verdict"]


def test_user_template_runs_unchanged(scratch: Path) -> None:
    mine = scratch / "my-template"
    wasm_bisect("templates", "init", "smoke", str(mine))
    lib = mine / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\n#[wasm_bindgen]\npub fn triple(x: i32) -> i32 {\n    x * 3\n}\n")
    # The older form of a check (a script that loads the package itself and calls process.exit) keeps working.
    (mine / "check.mjs").write_text(
        "import { createRequire } from 'node:module';\n"
        "const pkg = createRequire(import.meta.url)(process.env.WASM_BISECT_PKG);\n"
        "if (pkg.add(2, 3) !== 5) { console.error('FAIL: add'); process.exit(1); }\n"
        "if (pkg.triple(14) !== 42) { console.error('FAIL: triple'); process.exit(1); }\n"
        "console.log('OK');\n")
    manifest = toml.loads((mine / "template.toml").read_text())
    manifest["name"] = "my-template"
    (mine / "template.toml").write_text(toml.dumps(manifest))
    data = probe(str(mine), R196, "0.2.99", "default")
    assert data["outcome"]["verdict"] == "good"


def _user_check(scratch: Path, name: str, body: str, timeout: int) -> Path:
    mine = scratch / name
    wasm_bisect("templates", "init", "smoke", str(mine))
    (mine / "check.mjs").write_text(body)
    manifest = toml.loads((mine / "template.toml").read_text())
    manifest["name"] = name
    manifest["check"]["timeout"] = timeout
    (mine / "template.toml").write_text(toml.dumps(manifest))
    return mine


def test_check_exit_125_is_skip(scratch: Path) -> None:
    mine = _user_check(scratch, "exits-125", "console.log('cannot test here'); process.exit(125);\n", 30)
    data = probe(str(mine), R196, "0.2.99", "default")
    assert data["outcome"]["verdict"] == "skip"
    assert "125" in data["outcome"]["reason"]


def test_hanging_check_is_killed_without_orphans(scratch: Path) -> None:
    marker = f"wasm-bisect-orphan-{os.getpid()}"
    body = (
        "import { spawn } from 'node:child_process';\n"
        f"spawn('sleep', ['600'], {{ stdio: 'ignore', argv0: '{marker}' }});\n"
        "setInterval(() => {}, 1000);\n"
    )
    mine = _user_check(scratch, "hangs", body, 5)
    data = probe(str(mine), R196, "0.2.99", "default")
    outcome = data["outcome"]
    assert outcome["verdict"] == "error"
    assert "did not finish within 5 s" in outcome["reason"]
    # The check never ends by itself: it ended because it was killed, near its 5 s limit (a wide margin: load
    # on the machine can delay the kill by seconds, never by minutes).
    assert outcome["timings"]["check"] < 120
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p).startswith(marker)]
    assert leftovers == [], "the check's child process outlived the timeout"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize(("rt", "expected"), [("default", "good"), ("on", "bad")])
def test_typedarray_view_detaches_only_with_externref(rt: str, expected: str) -> None:
    data = probe("typedarray-view", R163, "0.2.99", rt)
    outcome = data["outcome"]
    assert outcome["verdict"] == expected
    assert outcome["evidence"]["externref_transform"] is (rt == "on")
    if expected == "bad":
        assert "Construct on a detached ArrayBuffer" in outcome["reason"]


def test_probe_and_bisect_read_the_config_of_a_parent_directory(scratch: Path) -> None:
    """A wasm-bisect.toml two directories up sets the template, the grid, the parameters and the store."""
    project = scratch / "config-project"
    deep = project / "crates" / "app"
    deep.mkdir(parents=True)
    (project / "wasm-bisect.toml").write_text(
        'template = "smoke"\nrustc = "debian:1.63.0"\nbindgen = "0.2.92"\nstore = "results/store.sqlite3"\n'
        "[params]\na = 4\nb = 5\n")
    probe = json.loads(wasm_bisect("probe", "--json", cwd=deep).stdout)["probe"]
    assert probe["outcome"]["verdict"] == "good"
    assert "add(4, 5) = 9" in probe["outcome"]["reason"]
    assert probe["variant"]["template"] == "smoke" and probe["variant"]["rustc"] == "debian:1.63.0"
    assert (project / "results" / "store.sqlite3").is_file()  # the config's store, relative to the file
    (project / "wasm-bisect.toml").write_text(
        'template = "smoke"\nrustc = ["debian:1.63.0", "debian:1.96.0"]\nbindgen = "0.2.92,0.2.93"\n'
        'store = "results/store.sqlite3"\n')
    bisect = json.loads(wasm_bisect("bisect", "--json", cwd=deep).stdout)
    assert bisect["grid"]["template"] == "smoke"
    assert bisect["grid"]["rustc"] == ["debian:1.63.0", "debian:1.96.0"]
    assert bisect["grid"]["bindgen"] == ["0.2.92", "0.2.93"]
    assert bisect["first_failing"] is None  # smoke passes everywhere: the newest pair is still good
