"""The pure parts of a build: codegen flags per reference-types layer, the lockfile for old cargo, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit.conftest import make_variant
from wasm_bisect.domain.model import (
    BuildOptions,
    ReferenceTypes,
    Stage,
    ToolchainSpec,
    Variant,
    Verdict,
)
from wasm_bisect.probe import build, lockfile, rustflags, verdicts
from wasm_bisect.toolchains import Toolchain


def toolchain(version: str, *, mvp: bool = False, cargo: str = "1.95.0") -> Toolchain:
    return Toolchain(spec=ToolchainSpec.parse(f"debian:{version.split('-', maxsplit=1)[0]}"), version=version,
                     verbose_version=f"rustc {version}", host="x86_64-unknown-linux-gnu", sysroot=Path("/tc"),
                     bin_dir=Path("/tc/bin"), cargo_version=cargo, wasm32_std=True,
                     mvp_sysroot=Path("/tc-mvp") if mvp else None)


def variant(rt: ReferenceTypes, *, build_failure: str = "skip") -> Variant:
    return make_variant(reference_types=rt, options=BuildOptions(build_failure=build_failure))  # type: ignore[arg-type]


@pytest.mark.parametrize(("version", "rt", "mvp", "flags", "layer"), [
    ("1.63.0", ReferenceTypes.DEFAULT, False, [], "codegen: toolchain default"),
    ("1.96.0", ReferenceTypes.DEFAULT, False, [], "reference-types on since rustc 1.82"),
    ("1.82.0-nightly", ReferenceTypes.DEFAULT, False, [], "reference-types on since rustc 1.82"),
    ("1.63.0", ReferenceTypes.ON, False, ["-Ctarget-feature=+reference-types"], "+reference-types"),
    ("1.63.0", ReferenceTypes.OFF, False, ["-Ctarget-feature=-reference-types"], "-reference-types"),
    ("1.96.0", ReferenceTypes.OFF, True, ["--sysroot=/tc-mvp", "-Ctarget-cpu=mvp"], "mvp-built std"),
    ("1.96.0", ReferenceTypes.OFF, False, None, "cannot be turned off on rustc 1.96.0"),
    ("1.96.0", ReferenceTypes.EXTERNREF, False, [], "codegen: toolchain default"),
])
def test_codegen_flags_per_layer(version: str, rt: ReferenceTypes, mvp: bool, flags: list[str] | None,
                                 layer: str) -> None:
    got, said = rustflags.codegen_flags(variant(rt), toolchain(version, mvp=mvp))
    assert got == flags
    assert layer in said


def test_bindgen_layer_names_the_forced_transform() -> None:
    assert "WASM_BINDGEN_EXTERNREF=1" in build.bindgen_layer(variant(ReferenceTypes.EXTERNREF))
    assert "follows the module's target_features" in build.bindgen_layer(variant(ReferenceTypes.ON))


def test_lockfile_v4_is_written_as_v3_for_old_cargo_only() -> None:
    lock = 'version = 4\n\n[[package]]\nname = "wasm-bindgen"\nversion = "0.2.99"\n'
    old = lockfile.downgrade_lockfile(lock, lockfile.cargo_version(toolchain("1.63.0", cargo="0.66.0")))
    assert old.startswith("version = 3\n") and 'version = "0.2.99"' in old
    assert lockfile.downgrade_lockfile(lock, lockfile.cargo_version(toolchain("1.96.0"))) == lock
    assert lockfile.bindgen_versions_in_lock(lock) == ["0.2.99"]


def test_cargo_version_reads_debians_old_numbering() -> None:
    assert str(lockfile.cargo_version(toolchain("1.63.0", cargo="0.66.0"))) == "1.65.0"
    assert str(lockfile.cargo_version(toolchain("1.82.0-nightly", cargo="1.82.0"))) == "1.82.0"


@pytest.mark.parametrize(("tail", "rc", "timed_out", "mode", "verdict", "needle"), [
    ("", 0, True, "skip", Verdict.ERROR, "did not finish"),
    ("", -9, False, "skip", Verdict.ERROR, "killed by signal 9"),
    ("error: No space left on device", 101, False, "skip", Verdict.ERROR, "environment reason"),
    ("error: can't find crate for `std`", 101, False, "bad", Verdict.ERROR, "environment reason"),
    ("   Compiling x\nerror[E0425]: cannot find value `y`\n", 101, False, "skip", Verdict.SKIP, "E0425"),
    ("   Compiling x\nerror[E0425]: cannot find value `y`\n", 101, False, "bad", Verdict.BAD, "count as bad"),
])
def test_build_failures_are_classified_never_blaming_the_environment(
        tail: str, rc: int, timed_out: bool, mode: str, verdict: Verdict, needle: str) -> None:
    got, reason = verdicts.classify_build_failure(variant(ReferenceTypes.DEFAULT, build_failure=mode),
                                               Stage.CARGO_BUILD, tail, rc, timed_out)
    assert got is verdict
    assert needle in reason


def test_stage_clock_reads_wasm_packs_progress_lines() -> None:
    clock = build.StageClock(current=Stage.CARGO_BUILD)
    for line in ("[INFO]: Compiling to Wasm...", "    Finished `release` profile [optimized] target(s) in 1s",
                 "[INFO]: Optimizing wasm binaries with `wasm-opt`...", "[INFO]: Your wasm pkg is ready"):
        clock.feed(line)
    assert set(clock.close()) >= {"cargo-build", "wasm-bindgen", "wasm-opt"}


# -- the user's project: its own flags, its own lock ----------------------------------------------------------
PROJECT_FLAGS = (("--cfg", ".cargo/config.toml build.rustflags"), ("app", ".cargo/config.toml build.rustflags"))


def test_flag_plan_lists_every_flag_with_its_origin() -> None:
    plan = rustflags.flag_plan(variant(ReferenceTypes.ON), PROJECT_FLAGS, toolchain("1.63.0"))
    assert plan.flags == ["--cfg", "app", "-Ctarget-feature=+reference-types"] and plan.reason is None
    assert plan.evidence()[-1] == {"flag": "-Ctarget-feature=+reference-types", "from": "reference-types on"}
    fight = rustflags.flag_plan(variant(ReferenceTypes.ON), (("-Ctarget-feature=-reference-types", "cfg"),),
                            toolchain("1.63.0"))
    assert fight.flags is None and fight.reason and "fights reference-types on" in fight.reason
    # default on rustc 1.96 means on: a project flag turning it off fights it too
    off = rustflags.flag_plan(variant(ReferenceTypes.DEFAULT), (("-Ctarget-feature=-reference-types", "cfg"),),
                          toolchain("1.96.0"))
    assert off.flags is None
    assert rustflags.flag_plan(variant(ReferenceTypes.DEFAULT), (("-Ctarget-feature=-reference-types", "cfg"),),
                           toolchain("1.63.0")).flags == ["-Ctarget-feature=-reference-types"]
    cannot = rustflags.flag_plan(variant(ReferenceTypes.OFF), PROJECT_FLAGS, toolchain("1.96.0"))
    assert cannot.flags is None and cannot.reason and "cannot be turned off" in cannot.reason


def test_family_specs_put_wasm_bindgen_first_and_skip_local_crates() -> None:
    lock = """version = 4
[[package]]
name = "js-sys"
version = "0.3.66"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "app"
version = "0.1.0"
[[package]]
name = "wasm-bindgen"
version = "0.2.89"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "wasm-bindgen-test"
version = "0.3.39"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "wasm-bindgen-macro"
version = "0.2.89"
[[package]]
name = "once_cell"
version = "1.19.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
"""
    assert lockfile.family_specs(lock) == ["wasm-bindgen@0.2.89", "js-sys@0.3.66", "wasm-bindgen-test@0.3.39"]


def test_the_resolvers_reason_is_kept() -> None:
    out = """    Updating crates.io index
error: failed to select a version for the requirement `wasm-bindgen = "^0.2.95"`
candidate versions found which didn't match: 0.2.91
location searched: crates.io index
required by package `app v0.1.0 (/w/crate/app)`

warning: something else
"""
    reason = verdicts.resolver_reason(out)
    assert reason.startswith('failed to select a version for the requirement `wasm-bindgen = "^0.2.95"`')
    assert "required by package `app v0.1.0" in reason and "warning" not in reason


def test_a_build_failure_is_the_bug_only_when_it_matches_the_signature() -> None:
    tail = "error: failed to find the __wbindgen_externref_table_alloc function\n"
    bad = variant(ReferenceTypes.DEFAULT, build_failure="bad")
    matching = verdicts.classify_build_failure(bad, Stage.WASM_BINDGEN, tail, 1, False,
                                               signature="externref_table_alloc")
    assert matching[0] is Verdict.BAD
    assert verdicts.classify_build_failure(bad, Stage.WASM_BINDGEN, tail, 1, False, signature="detached")[0] \
        is Verdict.SKIP
    assert verdicts.classify_build_failure(bad, Stage.WASM_BINDGEN, tail, 1, False)[0] is Verdict.BAD


def test_wasm_pack_args_and_env_for_a_project() -> None:
    args = build.wasm_pack_args(variant(ReferenceTypes.DEFAULT), Path("/w/crate/app"),
                                cargo_args=("--features", "repro"), no_opt=True)
    assert args[-4:] == ["--no-opt", "--", "--features", "repro"]
    assert "--" not in build.wasm_pack_args(variant(ReferenceTypes.DEFAULT), Path("/w/crate"))
    from wasm_bisect.bindgen.toolcache import CachedTool

    tool = CachedTool(name="wasm-bindgen", version="0.2.99", ident="0.2.99", bin_dir=Path("/b"), build_seconds=0)
    env = build.build_env(variant=variant(ReferenceTypes.DEFAULT), toolchain=toolchain("1.96.0"), bindgen=tool,
                          wasm_pack=tool, target_dir=Path("/t"), flags=["--cfg", 'feature="a b"'])
    assert env["CARGO_ENCODED_RUSTFLAGS"] == '--cfg\x1ffeature="a b"' and "RUSTFLAGS" not in env


def test_the_module_says_which_rustc_and_wasm_bindgen_built_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wasm_bisect.probe.build import built_by
    from wasm_bisect.probe.verdicts import mismatch

    def name(text: str) -> bytes:
        return bytes([len(text)]) + text.encode()

    payload = (b"\x02" + name("language") + b"\x01" + name("Rust") + name("")
               + name("processed-by") + b"\x03" + name("rustc") + name("1.96.0 (abc 2026-11-01)")
               + name("walrus") + name("0.22.0") + name("wasm-bindgen") + name("0.2.95"))
    section = name("producers") + payload
    module = tmp_path / "m_bg.wasm"
    module.write_bytes(b"\0asm\x01\0\0\0" + b"\x00" + bytes([len(section)]) + section)
    evidence = built_by(module)
    assert evidence == {"built_by": {"rustc": "1.96.0", "wasm-bindgen": "0.2.95"}}
    assert mismatch(evidence, rustc="1.96.0", bindgen="0.2.95") is None
    assert mismatch(evidence, rustc="1.96.0-nightly", bindgen=None) is None
    assert "rustc 1.96.0, not the cell's 1.63.0" in (mismatch(evidence, rustc="1.63.0", bindgen="0.2.95") or "")
    assert "wasm-bindgen 0.2.95, not the cell's 0.2.99" in (mismatch(evidence, rustc="1.96.0", bindgen="0.2.99") or "")
    assert "producers_error" in built_by(tmp_path / "absent.wasm")
