"""Crate mode on projects laid out like real ones (issue 20), each a real bisect on a narrow grid:

- the check at the workspace root, importing a helper module and reading a JSON fixture (tests/fixtures/user-project),
  run from the root with `--crate .`: the same first failing release as the built-in vec-of-structs template;
- `npm test` with a package.json whose dependency is installed into the project's node_modules from the npm
  registry, members under crates/, and a Cargo.lock that needs a newer rustc than the grid's oldest
  (tests/fixtures/crates-workspace): skip at plan without --relock (said once), verdicts with it;
- a single crate with its check beside Cargo.toml (tests/fixtures/single-crate), run from another directory;
- a check that cannot run (its file missing; a helper it imports missing): never bad, no boundary.

Every project directory is byte-for-byte identical afterwards (node_modules included).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.schema import validate_report

from .conftest import assert_built, wasm_bisect, wasm_bisect_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROW = ["--rustc", "debian:1.96.0"]
COLUMNS = ["--bindgen", "0.2.93,0.2.95,0.2.99", "--reference-types", "default"]


def digest(root: Path) -> dict[str, str]:
    """Every file, link and directory under `root` (hidden ones too), with the content hash of each file."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = f"link:{path.readlink()}"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def untouched() -> Iterator[dict[Path, dict[str, str]]]:
    """Directories a test hands to `watch` must be byte-identical when it ends."""
    before: dict[Path, dict[str, str]] = {}
    yield before
    for root, tree in before.items():
        assert digest(root) == tree, f"crate mode changed {root}"


def watch(untouched: dict[Path, dict[str, str]], root: Path) -> Path:
    untouched[root] = digest(root)
    return root


@pytest.fixture(autouse=True)
def fixtures_untouched() -> Iterator[None]:
    before = {name: digest(FIXTURES / name) for name in ("user-project", "crates-workspace", "single-crate")}
    yield
    for name, tree in before.items():
        assert digest(FIXTURES / name) == tree, f"a test wrote into tests/fixtures/{name}"


def first(doc: dict[str, Any]) -> tuple[str, str] | None:
    found = doc["bisect"]["searches"][0]["first_failing"]
    return (found["rustc"], found["bindgen"]) if found else None


def built(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in doc["cells"] if not c["from_store"] and c["stage"] == "check"]


def test_the_check_at_the_workspace_root_run_from_the_root(scratch: Path) -> None:
    root = FIXTURES / "user-project"
    template = validate_report(wasm_bisect_json("bisect", "--template", "vec-of-structs", *ROW, *COLUMNS,
                                                "--store", str(scratch / "layouts-template.sqlite3")))
    doc = validate_report(wasm_bisect_json(
        "bisect", "--crate", ".", "--package", "app", "--features", "repro", "--check", "node tests/check.mjs",
        *ROW, *COLUMNS, "--store", str(scratch / "layouts-root.sqlite3"), cwd=root))
    assert first(doc) == first(template) == ("debian:1.96.0", "0.2.95")
    cells = built(doc)
    assert cells and doc["bisect"]["probes"]["built"] > 0
    for cell in cells:
        assert_built(cell, built=doc["bisect"]["probes"]["built"])
    bad = [c for c in cells if c["verdict"] == "bad"]
    good = [c for c in cells if c["verdict"] == "good"]
    assert bad and good
    # The reason is the error line, never Node's trailer; a pass read the JSON fixture from where the check runs.
    assert all("detached ArrayBuffer" in c["reason"] and "Node.js v" not in c["reason"] for c in bad)
    assert all(c["reason"].startswith("OK: sum over 1000000 structs") for c in good)


def test_npm_test_with_node_modules_and_a_lock_for_a_newer_rustc(tmp_path: Path, scratch: Path,
                                                               untouched: dict[Path, dict[str, str]]) -> None:
    project = tmp_path / "web-app"
    shutil.copytree(FIXTURES / "crates-workspace", project)
    # The project's own JS dependency, from the npm registry, into the project's node_modules.
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=project, check=True, timeout=600,
                   capture_output=True)
    assert (project / "node_modules" / "ms" / "package.json").is_file()
    watch(untouched, project)
    args = ["bisect", "--crate", ".", "--package", "web", "--features", "repro", "--check", "npm test",
            "--rustc", "debian:1.63.0,debian:1.96.0", *COLUMNS]

    plain = wasm_bisect(*args, "--store", str(scratch / "layouts-npm.sqlite3"), "--json", cwd=project)
    doc = validate_report(json.loads(plain.stdout))
    # rustc 1.63 cannot build this lock, so the tool cannot say which row fails first: honest, not a guess.
    search = doc["bisect"]["searches"][0]
    assert first(doc) is None and search["status"] == "range"
    assert {(c["rustc"], c["bindgen"]) for c in search["candidates"]} == {("debian:1.63.0", "0.2.95"),
                                                                          ("debian:1.96.0", "0.2.95")}
    # Said once, up front: which rustc the lock needs and which rows it rules out.
    notes = [ln for ln in plain.stderr.splitlines() if "Cargo.lock needs rustc >= " in ln and "[probe" not in ln]
    assert len(notes) == 1 and "1.63.0" in notes[0] and "--relock" in notes[0], plain.stderr
    old = [c for c in doc["cells"] if c["rustc"] == "debian:1.63.0" and not c["from_store"]]
    assert old and all(c["verdict"] == "skip" and c["stage"] == "plan" and "needs rustc >= " in c["reason"]
                       for c in old)
    assert all("cargo-build" not in c["timings"] for c in old)  # known before building: nothing was built
    assert built(doc), "rustc 1.96.0's cells build with the project's lock"
    for cell in built(doc):
        assert_built(cell, built=doc["bisect"]["probes"]["built"])
        assert cell["evidence"]["lock"].startswith("the project's Cargo.lock")

    relocked = validate_report(wasm_bisect_json(*args, "--relock", "--store", str(scratch / "layouts-relock.sqlite3"),
                                                cwd=project))
    assert first(relocked) == ("debian:1.96.0", "0.2.95")
    old = [c for c in built(relocked) if c["rustc"] == "debian:1.63.0"]
    assert old, "with --relock the old rustc's cells build"
    for cell in old:
        assert_built(cell, built=relocked["bisect"]["probes"]["built"])
        assert cell["verdict"] in ("good", "bad")
        assert cell["evidence"]["lock"] == "re-resolved for rustc 1.63.0 (--relock)"
    assert any(c["verdict"] == "good" for c in old)  # rustc 1.63 without reference-types passes


def test_a_single_crate_with_its_check_beside_cargo_toml_from_another_directory(scratch: Path) -> None:
    doc = validate_report(wasm_bisect_json(
        "bisect", "--crate", str(FIXTURES / "single-crate"), "--check", "node check.mjs", *ROW, *COLUMNS,
        "--store", str(scratch / "layouts-single.sqlite3"), cwd=scratch))
    assert first(doc) == ("debian:1.96.0", "0.2.95")
    assert built(doc), "no probe of this run reached the check"
    for cell in built(doc):
        assert_built(cell, built=doc["bisect"]["probes"]["built"])


def test_a_missing_check_file_is_refused_before_anything_is_built(scratch: Path) -> None:
    store = scratch / "layouts-missing.sqlite3"
    proc = wasm_bisect("bisect", "--crate", ".", "--package", "app", "--check", "node tests/missing.mjs", *ROW,
                       *COLUMNS, "--store", str(store), check=False, cwd=FIXTURES / "user-project")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "tests/missing.mjs" in lines[0] and "Traceback" not in proc.stderr
    assert not store.exists()


def test_a_check_that_cannot_load_its_helper_is_never_bad(tmp_path: Path, scratch: Path,
                                                          untouched: dict[Path, dict[str, str]]) -> None:
    project = tmp_path / "broken"
    shutil.copytree(FIXTURES / "user-project", project)
    check = project / "tests" / "check.mjs"
    check.write_text(check.read_text().replace("./support/values.mjs", "./support/gone.mjs"))
    watch(untouched, project)
    proc = wasm_bisect("bisect", "--crate", ".", "--package", "app", "--features", "repro", "--check",
                       "node tests/check.mjs", *ROW, *COLUMNS, "--store", str(scratch / "layouts-gone.sqlite3"),
                       check=False, cwd=project)
    # The ends check: the corners all fail the same way, so the run stops there with one line, exit 3, and never
    # prints a boundary.
    assert proc.returncode == 3, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1 and "support/gone.mjs" in errors[0] and "the check could not run" in errors[0]
    probes = [ln for ln in proc.stderr.splitlines() if ln.startswith("[probe")]
    assert probes and all(" ERROR " in ln for ln in probes), probes
    assert len(probes) <= 3  # the corners only
    assert "first bad pair" not in proc.stdout + proc.stderr and "BAD" not in " ".join(probes)
