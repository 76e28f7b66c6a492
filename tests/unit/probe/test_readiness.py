"""What a probe would still cost, read from the caches (no process started)."""

from __future__ import annotations

import json
from pathlib import Path

from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, ToolchainSpec, Variant
from wasm_bisect.probe import Readiness, build, readiness
from wasm_bisect.toolchains import read_manifest
from wasm_bisect.util import paths

from ..toolchains.test_toolchains import fake_prefix


def cell(rustc: str, bindgen: str, rt: ReferenceTypes = ReferenceTypes.DEFAULT) -> Variant:
    return Variant(template="vec-of-structs", rustc=ToolchainSpec.parse(rustc), bindgen=BindgenSource.crates(bindgen),
                   reference_types=rt)


def cached_cli(version: str, seconds: float) -> None:
    entry = paths.tools_dir() / "wasm-bindgen" / version
    (entry / "bin").mkdir(parents=True)
    (entry / "bin" / "wasm-bindgen").write_text("")
    (entry / "tool.json").write_text(json.dumps({"version": version, "build_seconds": seconds}))


def test_cli_toolchain_and_warm_slot_seconds(home: Path) -> None:
    empty = Readiness.look()
    assert empty.cli(cell("debian:1.96.0", "0.2.99")) == readiness.CLI_BUILD_SECONDS
    assert empty.toolchain_seconds(cell("debian:1.96.0", "0.2.99")) == readiness.TOOLCHAIN_SECONDS
    assert empty.toolchain_seconds(cell("debian:1.96.0", "0.2.99", ReferenceTypes.OFF)) == (
        readiness.TOOLCHAIN_SECONDS + readiness.MVP_STD_SECONDS)
    assert empty.toolchain_seconds(cell("debian:1.63.0", "0.2.99", ReferenceTypes.OFF)) == readiness.TOOLCHAIN_SECONDS
    assert empty.toolchain_seconds(cell("rustup:stable", "0.2.99")) == 0.0

    cached_cli("0.2.99", 120.0)
    cached_cli("0.2.98", 30.0)
    cached_cli("0.2.97", 80.0)
    fake_prefix(paths.toolchains_dir() / "debian-1.96.0", mvp=False)
    ready = Readiness.look()
    assert ready.cli(cell("debian:1.96.0", "0.2.99")) == 0.0
    assert ready.cli(cell("debian:1.96.0", "0.2.95")) == 80.0  # the median of this machine's builds
    assert ready.toolchain_seconds(cell("debian:1.96.0", "0.2.95")) == 0.0
    assert ready.toolchain_seconds(cell("debian:1.96.0", "0.2.95", ReferenceTypes.OFF)) == readiness.MVP_STD_SECONDS
    assert ready.probe_seconds(cell("debian:1.96.0", "0.2.95")) == readiness.COLD_PROBE_SECONDS

    toolchain = read_manifest(paths.toolchains_dir() / "debian-1.96.0")
    assert toolchain is not None
    flags, _ = build.codegen_flags(cell("debian:1.96.0", "0.2.95"), toolchain)
    assert flags is not None
    with build.target_slot(toolchain, flags) as slot:
        build.mark_warm(slot, cell("debian:1.96.0", "0.2.95"))
    assert Readiness.look().probe_seconds(cell("debian:1.96.0", "0.2.95")) == readiness.WARM_PROBE_SECONDS
    # Another release, or other flags (reference-types on), is not warm in that slot.
    assert Readiness.look().probe_seconds(cell("debian:1.96.0", "0.2.93")) == readiness.COLD_PROBE_SECONDS
    assert Readiness.look().probe_seconds(cell("debian:1.96.0", "0.2.95", ReferenceTypes.ON)) == (
        readiness.COLD_PROBE_SECONDS)


def test_an_old_cli_also_waits_for_its_host_toolchain(home: Path) -> None:
    """wasm-bindgen-cli < 0.2.88 is built by an older toolchain than a current default host: its provisioning
    counts until a debian toolchain that can build it (cargo with the sparse index, rustc < 1.86) is there."""
    empty = Readiness.look()
    assert empty.cli(cell("debian:1.63.0", "0.2.84")) == readiness.CLI_BUILD_SECONDS + readiness.TOOLCHAIN_SECONDS
    assert empty.cli(cell("debian:1.63.0", "0.2.92")) == readiness.CLI_BUILD_SECONDS
    assert Readiness.cold().cli(cell("debian:1.63.0", "0.2.87")) == (
        readiness.CLI_BUILD_SECONDS + readiness.TOOLCHAIN_SECONDS)
    fake_prefix(paths.toolchains_dir() / "debian-1.96.0", mvp=False)  # refuses 0.2.84 itself
    assert Readiness.look().cli(cell("debian:1.63.0", "0.2.84")) == (
        readiness.CLI_BUILD_SECONDS + readiness.TOOLCHAIN_SECONDS)
    fake_prefix(paths.toolchains_dir() / "debian-1.85.0", version="1.85.0", mvp=False)
    ready = Readiness.look()
    assert ready.cli(cell("debian:1.63.0", "0.2.84")) == readiness.CLI_BUILD_SECONDS
    assert Readiness.cold().cli(cell("debian:1.63.0", "0.2.84")) == (  # a fresh machine has none
        readiness.CLI_BUILD_SECONDS + readiness.TOOLCHAIN_SECONDS)
    cached_cli("0.2.84", 200.0)
    assert Readiness.look().cli(cell("debian:1.63.0", "0.2.84")) == 0.0
    # An older default host (as the cached tools record it) builds old CLIs itself.
    entry = paths.tools_dir() / "wasm-bindgen" / "0.2.84" / "tool.json"
    entry.write_text(json.dumps({"version": "0.2.84", "build_seconds": 200.0, "host": "default",
                                 "host_rustc": "1.80.0"}))
    assert Readiness.look().cli(cell("debian:1.63.0", "0.2.83")) == 200.0
