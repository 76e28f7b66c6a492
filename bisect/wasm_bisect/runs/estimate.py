"""`--dry-run`: what a bisect or a matrix would do and what it would cost here, before anything is built.

Reads only the caches (toolchains, tools, warm target slots) and the store (this machine's recorded stage
timings, and the cells already answered); builds, fetches and writes nothing. The seconds come from
probe/readiness.py, the same numbers the cost-aware search uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.compat import untestable_reason
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import Variant
from wasm_bisect.probe.readiness import Readiness
from wasm_bisect.probe.reproducer import Reproducer
from wasm_bisect.store import Store

# A CLI whose neighbouring release is built already builds in that build's warm target slot: 116 s against 512 s
# into an empty one (benchmarks/results/toolbuild.json, neighbour_reuse_faster 4.41x). "At most" does not count it.
NEIGHBOUR_BUILD_FACTOR = 0.25
CORNER_PROBES = 3  # the oriented search asks up to three corners before it bisects (issue 23)
FOLLOW_UP_PROBES = 3  # the reference-types follow-up re-probes the first pair and its two older neighbours


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """The plan of one command and its estimate; `to_json` is what `--dry-run --json` prints."""

    command: str
    reproducer: str
    rustc: tuple[str, ...]
    bindgen: tuple[str, ...]
    reference_types: tuple[str, ...]
    runtimes: tuple[str, ...]
    cells: int
    testable: int  # after the compatibility filter
    stored: int  # testable cells already answered in the store: asked again for free
    toolchains: tuple[dict[str, Any], ...]  # {"rustc", "ready", "seconds"}
    clis: tuple[dict[str, Any], ...]  # {"version", "ready", "how", "seconds", "if_built_seconds"}
    wasm_pack_ready: bool
    probes_worst: int  # bisect: the search's worst case (corners, boundary, follow-up); matrix: every open cell
    probe_seconds: float  # one probe's build + check here (median of this machine's records, or the default)
    seconds_expected: float
    seconds_at_most: float
    timings_from: str  # "this machine's store" or "documented defaults"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "dry-run", "command": self.command, "reproducer": self.reproducer,
                "grid": {"rustc": list(self.rustc), "bindgen": list(self.bindgen),
                         "reference_types": list(self.reference_types), "runtimes": list(self.runtimes)},
                "cells": self.cells, "testable": self.testable, "stored": self.stored,
                "toolchains": list(self.toolchains), "clis": list(self.clis),
                "wasm_pack": {"ready": self.wasm_pack_ready}, "probes_worst": self.probes_worst,
                "probe_seconds": round(self.probe_seconds, 1),
                "estimate_minutes": {"expected": round(self.seconds_expected / 60, 1),
                                     "at_most": round(self.seconds_at_most / 60, 1)},
                "timings_from": self.timings_from}

    def lines(self) -> list[str]:
        """The plan as a person reads it."""
        missing_tc = [t for t in self.toolchains if not t["ready"]]
        missing_cli = [c for c in self.clis if not c["ready"]]
        return [f"{self.command} {self.reproducer}: {len(self.rustc)} rustc x {len(self.bindgen)} wasm-bindgen x "
               f"{len(self.reference_types)} reference-types x {len(self.runtimes)} runtime = {self.cells} cells, "
               f"{self.testable} testable after the compatibility filter, {self.stored} already in the store",
               f"  rustc: {', '.join(self.rustc)}",
               f"  wasm-bindgen: {', '.join(self.bindgen)}",
               "  toolchains to provision: " + (", ".join(f"{t['rustc']} (~{t['seconds']:.0f} s)" for t in missing_tc)
                                                 or "none, all ready"),
               "  wasm-bindgen CLIs to get: " + (_cli_lines(missing_cli) or "none, all cached"),
               f"  wasm-pack: {'cached' if self.wasm_pack_ready else 'to build'}",
               f"  probes: at most {self.probes_worst}, each ~{self.probe_seconds:.0f} s here "
               f"(timings from {self.timings_from})",
               f"  estimate: about {self.seconds_expected / 60:.0f} min expected, at most "
               f"{self.seconds_at_most / 60:.0f} min; nothing was built, fetched or written"]


def _cli_lines(clis: list[dict[str, Any]]) -> str:
    """The missing CLIs, those that cost the same in one group: `0.2.91, 0.2.92 (download ~10 s each, ...)`."""
    groups: dict[tuple[str, float, float], list[str]] = {}
    for cli in clis:
        groups.setdefault((cli["how"], cli["seconds"], cli["if_built_seconds"]), []).append(cli["version"])
    parts = []
    for (how, seconds, if_built), versions in groups.items():
        each = " each" if len(versions) > 1 else ""
        more = (f", else a build ~{if_built:.0f} s" if how == "download"
                else ", next to a built release" if seconds < if_built else "")
        parts.append(f"{', '.join(versions)} ({how} ~{seconds:.0f} s{each}{more})")
    return "; ".join(parts)


def _stored(store: Store | None, reproducer: Reproducer, cells: list[Variant]) -> int:
    if store is None:
        return 0
    return sum(store.get(v, reproducer.content_hash, reproducer.check_hash) is not None for v in cells)


def estimate(*, command: str, grid: Grid, reproducer: Reproducer, store: Store | None, allow_yanked: bool,
             jobs: int = 1, follow_up: bool = True, ready: Readiness | None = None) -> DryRun:
    """The plan and cost of a `bisect` (worst-case search) or a `matrix` (every cell) on `grid`."""
    ready = ready or Readiness.look(store)
    cells = grid.variants()
    testable = [v for v in cells if untestable_reason(v, allow_yanked=allow_yanked) is None]
    stored = _stored(store, reproducer, testable)
    newest = grid.rustc[-1]
    toolchains: list[dict[str, Any]] = []
    for spec in grid.rustc:
        row = [ready.toolchain_seconds(v) for v in testable if v.rustc == spec]
        seconds = max(row, default=0.0)
        toolchains.append({"rustc": str(spec), "ready": seconds == 0, "seconds": round(seconds, 1)})
    clis: list[dict[str, Any]] = []
    for b in grid.bindgen:
        variant = grid.variant(newest, b, grid.reference_types[0])
        seconds, if_built = ready.cli(variant), ready.cli_built_from_source(variant)
        how = "cached" if seconds == 0 else ("download" if b.kind == "crates" and ready.prebuilt_allowed(b.version)
                                             else "build")
        next_to_built = b.kind == "crates" and toolcache.release_distance(b.version, sorted(ready.cli_built)) == 1
        if how == "build" and next_to_built:
            seconds *= NEIGHBOUR_BUILD_FACTOR  # expected; if_built keeps the whole build for "at most"
        clis.append({"version": b.label(), "ready": seconds == 0, "how": how, "seconds": round(seconds, 1),
                     "if_built_seconds": round(if_built, 1)})
    probe_seconds = (sum(ready.probe_seconds(v) for v in testable) / len(testable)) if testable else 0.0
    provision = sum(float(t["seconds"]) for t in toolchains) + (0.0 if ready.wasm_pack_built else ready.cli_seconds)
    missing = sorted(float(c["seconds"]) for c in clis if not c["ready"])
    # "At most" holds when the release server does not answer too (`--tools auto` then builds every CLI).
    missing_built = sum(float(c["if_built_seconds"]) for c in clis if not c["ready"])
    n_rows, n_cols = len(grid.rustc), len(grid.bindgen)
    if command in ("matrix", "verify"):  # every cell is probed
        probes = len(testable) - stored
        work = probes * probe_seconds / max(jobs, 1)
        expected = provision + sum(missing) / max(jobs, 1) + work
        at_most = provision + missing_built / max(jobs, 1) + work
    else:
        # A single-corner boundary: log2 of each axis, the corners, the follow-up; the worst case adds the
        # search's bound of 3 more (benchmarks/results/search.json) per setting.
        typical = (math.ceil(math.log2(max(n_rows, 1))) + math.ceil(math.log2(max(n_cols, 1))) + CORNER_PROBES
                   + (FOLLOW_UP_PROBES if follow_up else 0))
        searches = len(grid.reference_types) * len(grid.runtimes)
        probes = min((typical + 3) * searches, len(testable))
        # Such a search visits about log2(columns) + 2 releases; the worst case, every missing CLI.
        visited = min(len(missing), math.ceil(math.log2(max(n_cols, 1))) + 2)
        expected = (provision + sum(missing[:visited])
                    + min(typical * searches, len(testable)) * probe_seconds / max(jobs, 1))
        at_most = provision + missing_built + probes * probe_seconds
    timings_from = "this machine's store" if "probe" in ready.times.recorded else "documented defaults"
    return DryRun(command=command, reproducer=reproducer.name, rustc=tuple(str(r) for r in grid.rustc),
                  bindgen=tuple(b.label() for b in grid.bindgen),
                  reference_types=tuple(str(r) for r in grid.reference_types),
                  runtimes=tuple(str(r) for r in grid.runtimes), cells=len(cells), testable=len(testable),
                  stored=stored, toolchains=tuple(toolchains), clis=tuple(clis), wasm_pack_ready=ready.wasm_pack_built,
                  probes_worst=probes, probe_seconds=probe_seconds, seconds_expected=expected,
                  seconds_at_most=max(at_most, expected), timings_from=timings_from)


__all__ = ["DryRun", "estimate"]
