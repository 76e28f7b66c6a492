"""Every `--json` output has a published JSON Schema (docs/report-schema.json for the report document, the
others in docs/schemas/), and each command's real output validates against it. Nothing is built: the probe is
a fake, toolchains and tools are fake binaries in a private home, the git sources of bisect-commits are faked."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.main import get_command

from unit.conftest import install_probe, offline_releases, run_cli
from unit.runs.test_transfer import fake_home
from wasm_bisect import cli, toolchains
from wasm_bisect.bindgen import sources
from wasm_bisect.domain import versions
from wasm_bisect.domain.model import BindgenSource, Outcome, Stage, Variant, Verdict
from wasm_bisect.toolchains import debian_apt
from wasm_bisect.toolchains.debian import Availability

pytestmark = pytest.mark.subprocess  # the fake toolchain's rustc and cargo answer -vV and --version for real

DOCS = Path(__file__).resolve().parents[3] / "docs"
REPORT = DOCS / "report-schema.json"
SCHEMAS = DOCS / "schemas"
STORE_ARGS = ("--store", "store.sqlite3")
GRID = ("--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0", "--bindgen", "0.2.93..0.2.99")


def fake_probe(variant: Variant, *_: object, **__: object) -> Outcome:
    """Bad from wasm-bindgen 0.2.95 on (a git or path source: its checkout's version), with any rustc."""
    bad = versions.bindgen_key(variant.bindgen.version) >= versions.bindgen_key("0.2.95")
    return Outcome(verdict=Verdict.BAD if bad else Verdict.GOOD, stage=Stage.CHECK,
                   reason="FAIL: detached ArrayBuffer" if bad else "OK", exit_code=int(bad),
                   timings={"cargo-build": 1.0, "check": 0.5})


COMMITS = [("a" * 40, "Release 0.2.93"), ("b" * 40, "Release 0.2.95"), ("c" * 40, "Release 0.2.99")]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private home with a provisioned (fake) debian:1.96.0 and wasm-bindgen CLI, a fake probe, no network."""
    home = tmp_path / "home"
    fake_home(home)
    monkeypatch.setenv("WASM_BISECT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    install_probe(monkeypatch, fake_probe)
    offline_releases(monkeypatch)
    monkeypatch.setattr(toolchains, "prepare", lambda specs, **_: {})
    monkeypatch.setattr(toolchains, "check_known", lambda specs: None)
    monkeypatch.setattr(toolchains.DebianProvider, "releases", lambda self: dict.fromkeys(["1.63.0", "1.96.0"]))
    monkeypatch.setattr(toolchains.DebianProvider, "availability", lambda self: [
        Availability(release=debian_apt.Release(upstream="1.48.0", flavour=debian_apt.FLAVOURS[0],
                                                debian_version="1.48.0+dfsg1-2",
                                                origin="http://deb.debian.org/debian bullseye/main amd64 Packages"),
                     why_not=None, prebuilt_wasm32=True),
        Availability(release=debian_apt.Release(upstream="1.97.1", flavour=debian_apt.FLAVOURS[0],
                                                debian_version="1.97.1+dfsg1-1", origin="x sid/main"),
                     why_not="needs glibc 2.39 (this machine has 2.36)", prebuilt_wasm32=True)])
    monkeypatch.setattr(toolchains.RustupProvider, "available", lambda self: ["1.82.0", "stable"])
    monkeypatch.setattr(toolchains.RustupProvider, "installed", lambda self: [])  # not this machine's rustup
    # bisect-commits: a repository of three first-parent commits, each a wasm-bindgen release.
    monkeypatch.setattr(sources, "precheck_local", lambda url, revs: None)
    monkeypatch.setattr(sources, "mirror", lambda url, **_: tmp_path / "mirror")
    monkeypatch.setattr(sources, "resolve_rev", lambda mirror, rev, **_: {"0.2.93": COMMITS[0][0]}.get(
        rev, COMMITS[-1][0]))
    monkeypatch.setattr(sources, "first_parent_commits", lambda mirror, good, bad: COMMITS)

    def git_source(mirror: Path, sha: str, **_: object) -> Any:
        version = next(s for c, s in COMMITS if c == sha).removeprefix("Release ")
        source = BindgenSource(kind="git", version=version, url="https://example.invalid/wasm-bindgen", rev=sha)
        return sources.Resolved(source=source, requested=f"x@{sha}", checkout=tmp_path / sha)

    monkeypatch.setattr(sources, "git_source", git_source)
    return home


SMOKE = ("--template", "smoke", "--rustc", "debian:1.96.0", "--bindgen", "0.2.98,0.2.99")
SHARDS = [("matrix", *SMOKE, "--shard", f"{k}/2", "--store", f"shard{k}.sqlite3") for k in (1, 2)]
# name: (the command, the schema, what runs before it, its exit code)
CASES: dict[str, tuple[tuple[str, ...], Path, list[tuple[str, ...]], int]] = {
    "versions": (("versions",), SCHEMAS / "versions.json", [], 0),
    "probe": (("probe", "--template", "smoke", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99", *STORE_ARGS),
              REPORT, [], 0),
    "bisect": (("bisect", *GRID, "--reference-types", "both", *STORE_ARGS), REPORT, [], 0),
    "matrix": (("matrix", *SMOKE, *STORE_ARGS), REPORT, [], 0),
    "merge": (("merge", "shard1.sqlite3", "shard2.sqlite3", "--into", "merged.sqlite3"), SCHEMAS / "merge.json",
              SHARDS, 0),
    "report": (("report", *STORE_ARGS, "--no-env"), REPORT, [("bisect", *GRID, *STORE_ARGS)], 0),
    "log": (("log", *STORE_ARGS), SCHEMAS / "log.json", [("bisect", *GRID, *STORE_ARGS)], 0),
    "runs": (("runs", *STORE_ARGS), SCHEMAS / "runs.json", [("bisect", *GRID, *STORE_ARGS), SHARDS[0]], 0),
    "verify": (("verify", "--template", "vec-of-structs", "--patch", "0.2.93", "--against", "0.2.99", *STORE_ARGS),
               SCHEMAS / "verify.json", [], 0),
    "bisect-commits": (("bisect-commits", "--bindgen-repo", "https://example.invalid/wasm-bindgen", "--good",
                        "0.2.93", "--bad", "0.2.99", *STORE_ARGS), SCHEMAS / "bisect-commits.json", [], 0),
    "toolchain list": (("toolchain", "list"), SCHEMAS / "toolchain-list.json", [], 0),
    "toolchain available": (("toolchain", "available"), SCHEMAS / "toolchain-available.json", [], 0),
    "toolchain add": (("toolchain", "add", "debian:1.96.0"), SCHEMAS / "toolchain-add.json", [], 0),
    "tools list": (("tools", "list"), SCHEMAS / "tools-list.json", [], 0),
    "tools install": (("tools", "install", "--bindgen", "0.2.99"), SCHEMAS / "tools-install.json", [], 0),
    "templates list": (("templates", "list"), SCHEMAS / "templates-list.json", [], 0),
    "templates show": (("templates", "show", "vec-of-structs"), SCHEMAS / "templates-show.json", [], 0),
    "cache info": (("cache", "info"), SCHEMAS / "cache-info.json", [], 0),
    "cache prune": (("cache", "prune", "--dry-run"), SCHEMAS / "cache-prune.json", [], 0),
    "cache export": (("cache", "export", "cache.tar.gz"), SCHEMAS / "cache-export.json", [], 0),
    "cache import": (("cache", "import", "cache.tar.gz"), SCHEMAS / "cache-import.json",
                     [("cache", "export", "cache.tar.gz")], 0),
}


@functools.cache
def validator(schema: Path) -> jsonschema.Draft202012Validator:
    data = json.loads(schema.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return jsonschema.Draft202012Validator(data)


def _with_json(command: Any, path: tuple[str, ...] = ()) -> list[str]:
    if hasattr(command, "commands"):
        return [name for key, sub in command.commands.items() for name in _with_json(sub, (*path, key))]
    return [" ".join(path)] if any("--json" in p.opts for p in command.params) else []


def test_every_command_with_json_output_has_a_schema_and_a_case() -> None:
    assert sorted(_with_json(get_command(cli.app))) == sorted(CASES)
    for _, schema, _, _ in CASES.values():
        assert schema.is_file(), schema


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_output_matches_its_schema(name: str, world: Path) -> None:
    argv, schema, before, rc = CASES[name]
    for args in before:
        code, _, err = run_cli(list(args))
        assert code == 0, err
    code, out, err = run_cli([*argv, "--json"])
    assert code == rc, err
    doc = json.loads(out)
    errors = sorted(validator(schema).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name} --json does not match {schema.name}:\n" + "\n".join(
        f"  {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:20])
    assert doc, "an empty answer proves nothing about the schema"


@pytest.mark.parametrize("argv", [("bisect", *GRID, "--reference-types", "both", *STORE_ARGS, "--dry-run"),
                                  ("matrix", *SMOKE, *STORE_ARGS, "--plan"),
                                  ("verify", "--template", "vec-of-structs", "--patch", "0.2.100", "--against",
                                   "0.2.99", *STORE_ARGS, "--dry-run")])
def test_dry_run_plans_without_writing_and_matches_its_schema(argv: tuple[str, ...], world: Path) -> None:
    rc, out, err = run_cli([*argv, "--json"])
    assert rc == 0, err
    doc = json.loads(out)
    jsonschema.validate(doc, json.loads((SCHEMAS / "dry-run.json").read_text()))
    assert doc["command"] == argv[0] and doc["cells"] > 0 and doc["probes_worst"] > 0
    assert not Path("store.sqlite3").exists()  # nothing written: not even the store it would use
    rc, out, _ = run_cli(list(argv))
    assert rc == 0 and "nothing was built, fetched or written" in out and "estimate: about" in out
