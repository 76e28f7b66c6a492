"""The pure parts of a build: codegen flags per reference-types layer, the lockfile for old cargo, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasm_bisect.domain.model import (
    BindgenSource,
    BuildOptions,
    ReferenceTypes,
    Stage,
    ToolchainSpec,
    Variant,
    Verdict,
)
from wasm_bisect.probe import build
from wasm_bisect.toolchains import Toolchain


def toolchain(version: str, *, mvp: bool = False, cargo: str = "1.95.0") -> Toolchain:
    return Toolchain(spec=ToolchainSpec.parse(f"debian:{version.split('-', maxsplit=1)[0]}"), version=version,
                     verbose_version=f"rustc {version}", host="x86_64-unknown-linux-gnu", sysroot=Path("/tc"),
                     bin_dir=Path("/tc/bin"), cargo_version=cargo, wasm32_std=True,
                     mvp_sysroot=Path("/tc-mvp") if mvp else None)


def variant(rt: ReferenceTypes, *, build_failure: str = "skip") -> Variant:
    return Variant(template="t", rustc=ToolchainSpec.parse("debian:1.96.0"), bindgen=BindgenSource.crates("0.2.99"),
                   reference_types=rt, options=BuildOptions(build_failure=build_failure))  # type: ignore[arg-type]


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
    got, said = build.codegen_flags(variant(rt), toolchain(version, mvp=mvp))
    assert got == flags
    assert layer in said


def test_bindgen_layer_names_the_forced_transform() -> None:
    assert "WASM_BINDGEN_EXTERNREF=1" in build.bindgen_layer(variant(ReferenceTypes.EXTERNREF))
    assert "follows the module's target_features" in build.bindgen_layer(variant(ReferenceTypes.ON))


def test_lockfile_v4_is_written_as_v3_for_old_cargo_only() -> None:
    lock = 'version = 4\n\n[[package]]\nname = "wasm-bindgen"\nversion = "0.2.99"\n'
    old = build.downgrade_lockfile(lock, build.cargo_version(toolchain("1.63.0", cargo="0.66.0")))
    assert old.startswith("version = 3\n") and 'version = "0.2.99"' in old
    assert build.downgrade_lockfile(lock, build.cargo_version(toolchain("1.96.0"))) == lock
    assert build.bindgen_versions_in_lock(lock) == ["0.2.99"]


def test_cargo_version_reads_debians_old_numbering() -> None:
    assert str(build.cargo_version(toolchain("1.63.0", cargo="0.66.0"))) == "1.65.0"
    assert str(build.cargo_version(toolchain("1.82.0-nightly", cargo="1.82.0"))) == "1.82.0"


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
    got, reason = build.classify_build_failure(variant(ReferenceTypes.DEFAULT, build_failure=mode),
                                               Stage.CARGO_BUILD, tail, rc, timed_out)
    assert got is verdict
    assert needle in reason


def test_stage_clock_reads_wasm_packs_progress_lines() -> None:
    clock = build.StageClock(current=Stage.CARGO_BUILD)
    for line in ("[INFO]: Compiling to Wasm...", "    Finished `release` profile [optimized] target(s) in 1s",
                 "[INFO]: Optimizing wasm binaries with `wasm-opt`...", "[INFO]: Your wasm pkg is ready"):
        clock.feed(line)
    assert set(clock.close()) >= {"cargo-build", "wasm-bindgen", "wasm-opt"}
