"""What a probe would still cost, read from the caches (no process started)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from unit.conftest import make_variant
from wasm_bisect.bindgen import prebuilt, toolcache
from wasm_bisect.bindgen.prebuilt import ToolSource
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import Readiness, readiness, rustflags, slots
from wasm_bisect.store import Store
from wasm_bisect.toolchains import read_manifest
from wasm_bisect.util import paths

from ..toolchains.test_toolchains import fake_prefix


def cell(rustc: str, bindgen: str, rt: ReferenceTypes = ReferenceTypes.DEFAULT) -> Variant:
    return make_variant("vec-of-structs", rustc, bindgen, rt)


def cached_cli(version: str, seconds: float) -> None:
    entry = paths.tools_dir() / "wasm-bindgen" / version
    (entry / "bin").mkdir(parents=True)
    (entry / "bin" / "wasm-bindgen").write_text("")
    (entry / "tool.json").write_text(json.dumps({"version": version, "build_seconds": seconds}))


def test_cli_toolchain_and_warm_slot_seconds(home: Path) -> None:
    toolcache.set_tool_source(ToolSource.SOURCE)  # CLI builds (prebuilt ones: test_prebuilt_costs_a_download)
    empty = Readiness.look()
    assert empty.cli(cell("debian:1.96.0", "0.2.99")) == readiness.CLI_BUILD_SECONDS
    assert empty.toolchain_seconds(cell("debian:1.96.0", "0.2.99")) == readiness.TOOLCHAIN_SECONDS
    assert empty.toolchain_seconds(cell("debian:1.96.0", "0.2.99", ReferenceTypes.OFF)) == (
        readiness.TOOLCHAIN_SECONDS + readiness.MVP_STD_SECONDS)
    assert empty.toolchain_seconds(cell("debian:1.63.0", "0.2.99", ReferenceTypes.OFF)) == readiness.TOOLCHAIN_SECONDS
    assert empty.toolchain_seconds(cell("rustup:1.81.0", "0.2.99")) == readiness.RUSTUP_DOWNLOAD_SECONDS  # a download
    assert empty.toolchain_seconds(cell("rustup:nightly-2024-09-01", "0.2.99", ReferenceTypes.OFF)) == (
        readiness.RUSTUP_DOWNLOAD_SECONDS + readiness.MVP_STD_SECONDS)
    assert empty.toolchain_seconds(cell("path:/opt/rust", "0.2.99")) == 0.0
    fake_prefix(paths.toolchains_dir() / "rustup-1.81.0", mvp=False, spec="rustup:1.81.0", version="1.81.0")
    assert Readiness.look().toolchain_seconds(cell("rustup:1.81.0", "0.2.99")) == 0.0  # installed: free

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
    flags, _ = rustflags.codegen_flags(cell("debian:1.96.0", "0.2.95"), toolchain)
    assert flags is not None
    with slots.target_slot(toolchain, flags) as slot:
        slots.mark_warm(slot, cell("debian:1.96.0", "0.2.95"))
    assert Readiness.look().probe_seconds(cell("debian:1.96.0", "0.2.95")) == readiness.WARM_PROBE_SECONDS
    # Another release, or other flags (reference-types on), is not warm in that slot.
    assert Readiness.look().probe_seconds(cell("debian:1.96.0", "0.2.93")) == readiness.COLD_PROBE_SECONDS
    assert Readiness.look().probe_seconds(cell("debian:1.96.0", "0.2.95", ReferenceTypes.ON)) == (
        readiness.COLD_PROBE_SECONDS)


def test_an_old_cli_also_waits_for_its_host_toolchain(home: Path) -> None:
    """wasm-bindgen-cli < 0.2.88 is built by an older toolchain than a current default host: its provisioning
    counts until a debian toolchain that can build it (cargo with the sparse index, rustc < 1.86) is there."""
    toolcache.set_tool_source(ToolSource.SOURCE)
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


def test_prebuilt_costs_a_download(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --tools auto or prebuilt a missing CLI costs a download (no build, no older host toolchain); with
    source, or once the release server was unreachable, a build."""
    monkeypatch.setattr(prebuilt, "host_target", lambda: "x86_64-unknown-linux-musl")
    cached_cli("0.2.98", 30.0)
    assert Readiness.look().cli(cell("debian:1.96.0", "0.2.99")) == prebuilt.DOWNLOAD_SECONDS
    assert Readiness.look().cli(cell("debian:1.63.0", "0.2.84")) == prebuilt.DOWNLOAD_SECONDS
    entry = paths.tools_dir() / "wasm-bindgen" / "0.2.97"
    (entry / "bin").mkdir(parents=True)
    (entry / "bin" / "wasm-bindgen").write_text("")
    (entry / "tool.json").write_text(json.dumps({"version": "0.2.97", "build_seconds": 0.0, "origin": "prebuilt",
                                                 "download": {"download_seconds": 2.5}}))
    assert Readiness.look().cli(cell("debian:1.96.0", "0.2.99")) == 2.5  # this machine's recorded download
    toolcache.set_tool_source(ToolSource.SOURCE)
    assert Readiness.look().cli(cell("debian:1.96.0", "0.2.99")) == 30.0  # the median of the built ones
    toolcache.set_tool_source(ToolSource.PREBUILT)
    prebuilt._remember_unreachable()
    assert prebuilt.unreachable()
    monkeypatch.setattr(prebuilt, "_unreachable", set())  # another process: the record in the tools dir
    assert prebuilt.unreachable()
    assert Readiness.look().cli(cell("debian:1.96.0", "0.2.99")) == 30.0
    monkeypatch.setenv(prebuilt.RELEASES_URL_ENV, "http://127.0.0.1:8/mirror")  # another server: not known
    assert Readiness.look().cli(cell("debian:1.96.0", "0.2.99")) == 2.5


def _probe(store: Store, rustc: str, bindgen: str, build_seconds: float, *, check: float = 1.0,
           provision: float = 0.0) -> None:
    outcome = Outcome(verdict=Verdict.GOOD, reason="ok", stage=Stage.CHECK,
                      timings={"provision": provision, "render": 0.1, "resolve": 0.2, "cargo-build": build_seconds,
                               "wasm-bindgen": 0.3, "check": check})
    params = hashlib.sha256(f"{rustc}{bindgen}{build_seconds}{check}".encode()).hexdigest()[:8]
    variant = dataclasses.replace(cell(rustc, bindgen), params=(("seed", params),))
    store.put(variant, "t", "c", outcome)


def test_probe_seconds_come_from_the_stores_timings(home: Path) -> None:
    """Build + check seconds are this machine's medians (per toolchain, per toolchain x release), cold and
    warm told apart by their spread; the constants only without records."""
    store = Store(home / "s.sqlite3")
    assert Readiness.look(store).times.recorded == frozenset()
    assert Readiness.look(store).probe_seconds(cell("debian:1.96.0", "0.2.95")) == readiness.COLD_PROBE_SECONDS
    for seconds in (20.0, 22.0, 24.0):  # cold builds on 1.96 (1.6 s of other stages each)
        _probe(store, "debian:1.96.0", "0.2.93", seconds)
    for seconds in (0.5, 0.7, 0.9):  # warm re-probes
        _probe(store, "debian:1.96.0", "0.2.93", seconds, provision=200.0)  # provisioning is not probe time
    _probe(store, "debian:1.63.0", "0.2.92", 6.0)
    _probe(store, "debian:1.63.0", "0.2.92", 8.0)
    _probe(store, "debian:1.96.0", "0.2.99", 40.0)
    skipped = Outcome(verdict=Verdict.SKIP, reason="plan", stage=Stage.PLAN, timings={})
    store.put(cell("debian:1.96.0", "0.2.94"), "t", "c", skipped)
    times = Readiness.look(store).times
    assert "probe" in times.recorded
    # 1.96: cold 21.6, 23.6, 25.6 (0.2.93) and 41.6 (0.2.99); warm 2.1, 2.3, 2.5 (1.6 s of other stages each)
    assert times.by_rustc["debian:1.96.0"] == pytest.approx((24.6, 2.3))
    # The machine: split at the geometric mean of 2.1 and 41.6 (9.3 s); 1.63's 7.6 counts as warm there.
    assert (times.cold_probe, times.warm_probe) == pytest.approx((23.6, 2.4))
    assert times.by_rustc["debian:1.63.0"] == pytest.approx((8.6, 2.4))  # one kind only: cold; warm: the machine's
    ready = Readiness.look(store)
    assert ready.probe_seconds(cell("debian:1.96.0", "0.2.99")) == pytest.approx(41.6)  # that cell's own median
    assert ready.probe_seconds(cell("debian:1.96.0", "0.2.95")) == pytest.approx(24.6)  # the toolchain's
    assert ready.probe_seconds(cell("rustup:1.80.0", "0.2.95")) == pytest.approx(23.6)  # the machine's


def test_toolchain_provisioning_comes_from_recorded_steps() -> None:
    times = readiness.MachineTimes.from_records(
        [], [], [{"plan": 4.0, "download": 1.0, "unpack": 15.0, "std_build": 100.0, "mvp_std_build": 140.0},
                 {"plan": 9.0, "download": 3.0, "unpack": 6.0}])
    assert times.toolchain == (120.0 + 18.0) / 2 and times.mvp_std == 140.0
    assert times.recorded == frozenset({"toolchain", "mvp"})
    assert readiness.MachineTimes.from_records([]).toolchain == readiness.TOOLCHAIN_SECONDS


def test_the_search_weighs_this_machines_seconds(home: Path) -> None:
    """The bisect's cost model is built from them: per-cell probe seconds and the recorded CLI builds."""
    from wasm_bisect.domain.grid import Grid
    from wasm_bisect.runs import bisect as bisect_run

    toolcache.set_tool_source(ToolSource.SOURCE)
    store = Store(home / "s.sqlite3")
    for seconds in (30.0, 32.0):
        _probe(store, "debian:1.96.0", "0.2.93", seconds)
    cached_cli("0.2.93", 300.0)
    grid = Grid(template="vec-of-structs", rustc=(ToolchainSpec.parse("debian:1.96.0"),),
                bindgen=(BindgenSource.crates("0.2.93"), BindgenSource.crates("0.2.95")),
                reference_types=(ReferenceTypes.DEFAULT,))
    plan = bisect_run.BisectPlan(grid=grid, allow_yanked=False)
    model = bisect_run.cost_model(plan, ReferenceTypes.DEFAULT, Readiness.look(store))
    assert model.cli[0] == 0.0 and model.cli[1] == 300.0 * (1 - bisect_run.NEIGHBOUR_SAVING)
    assert model.probe == pytest.approx(32.6)
    assert model.cell_probe[0, 0] == pytest.approx((32.6, readiness.WARM_PROBE_SECONDS))
    assert model.seconds((0, 1), (), ()) == pytest.approx(  # CLI + toolchain (none provisioned here) + probe
        300.0 * (1 - bisect_run.NEIGHBOUR_SAVING) + readiness.TOOLCHAIN_SECONDS + 32.6)
