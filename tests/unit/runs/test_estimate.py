"""`--dry-run`'s estimate: what each missing part costs, and an "at most" that holds when downloads fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wasm_bisect.bindgen import prebuilt, toolcache
from wasm_bisect.bindgen.prebuilt import ToolSource
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, ToolchainSpec
from wasm_bisect.probe import Readiness, readiness, templates
from wasm_bisect.runs import estimate
from wasm_bisect.util import paths

GRID = Grid(template="vec-of-structs", rustc=(ToolchainSpec.parse("debian:1.96.0"),),
            bindgen=(BindgenSource.crates("0.2.93"), BindgenSource.crates("0.2.95")),
            reference_types=(ReferenceTypes.DEFAULT,))


def plan(command: str = "bisect", jobs: int = 1) -> estimate.DryRun:
    return estimate.estimate(command=command, grid=GRID, reproducer=templates.load("vec-of-structs"), store=None,
                             allow_yanked=False, jobs=jobs, follow_up=False, ready=Readiness.look())


def test_a_download_counts_as_a_build_in_at_most(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh machine whose release server does not answer builds every CLI (`--tools auto` falls back): the
    expected time counts the downloads, "at most" the builds, and the plan names both."""
    monkeypatch.setattr(prebuilt, "host_target", lambda: "x86_64-unknown-linux-musl")
    dry = plan()
    assert [(c["how"], c["seconds"], c["if_built_seconds"]) for c in dry.clis] == [
        ("download", prebuilt.DOWNLOAD_SECONDS, readiness.CLI_BUILD_SECONDS)] * 2
    builds_minus_downloads = 2 * (readiness.CLI_BUILD_SECONDS - prebuilt.DOWNLOAD_SECONDS)
    assert dry.seconds_at_most - dry.seconds_expected >= builds_minus_downloads
    assert (f"CLIs to get: 0.2.93, 0.2.95 (download ~10 s each, else a build ~{readiness.CLI_BUILD_SECONDS:.0f} s)"
            in "\n".join(dry.lines()))
    matrix = plan("matrix", jobs=2)
    assert matrix.seconds_at_most - matrix.seconds_expected == pytest.approx(builds_minus_downloads / 2)


def test_builds_only_expected_and_at_most_count_the_same_cli_seconds(home: Path) -> None:
    toolcache.set_tool_source(ToolSource.SOURCE)
    dry = plan("matrix")
    assert [(c["how"], c["seconds"], c["if_built_seconds"]) for c in dry.clis] == [
        ("build", readiness.CLI_BUILD_SECONDS, readiness.CLI_BUILD_SECONDS)] * 2
    assert dry.seconds_at_most == dry.seconds_expected
    assert "0.2.95 (build ~" in "\n".join(dry.lines()) and "else a build" not in "\n".join(dry.lines())
    assert dry.to_json()["clis"][0]["if_built_seconds"] == readiness.CLI_BUILD_SECONDS


def test_a_release_next_to_a_built_one_is_expected_to_build_faster(home: Path) -> None:
    """Its build reuses the neighbour's warm target slot (toolbuild.json: 4.4x): "expected" counts a quarter of
    the build, "at most" all of it; a release two away is not a neighbour."""
    toolcache.set_tool_source(ToolSource.SOURCE)
    for version in ("0.2.92", "0.2.97"):
        entry = paths.tools_dir() / "wasm-bindgen" / version
        (entry / "bin").mkdir(parents=True)
        (entry / "bin" / "wasm-bindgen").write_text("")
        (entry / "tool.json").write_text(json.dumps({"version": version, "build_seconds": 100.0}))
    dry = plan("matrix")
    assert [(c["version"], c["seconds"], c["if_built_seconds"]) for c in dry.clis] == [
        ("0.2.93", 100.0 * estimate.NEIGHBOUR_BUILD_FACTOR, 100.0), ("0.2.95", 100.0, 100.0)]
    assert "CLIs to get: 0.2.93 (build ~25 s, next to a built release); 0.2.95 (build ~100 s)" in "\n".join(
        dry.lines())
    assert dry.seconds_at_most - dry.seconds_expected == pytest.approx(75.0)
