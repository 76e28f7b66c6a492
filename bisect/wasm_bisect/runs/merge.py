"""Combine the stores of matrix shards (or of single-cell nox sessions) into one store and one run.

Every shard of one grid records the same run fingerprint (grid + template + check hashes); a store whose
fingerprint differs was made from another template or config and is refused. Merging is idempotent: the
merged run is keyed by its content, so merging the same results again adds nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasm_bisect import report
from wasm_bisect import store as store_mod
from wasm_bisect.domain.errors import UsageError, WasmBisectError
from wasm_bisect.domain.model import Outcome, Variant
from wasm_bisect.store import Run, Store
from wasm_bisect.util import fs
from wasm_bisect.util import paths as paths_


@dataclass(frozen=True, kw_only=True)
class Source:
    label: str  # the store's path, for messages
    store: Store
    run: Run


@dataclass
class MergeResult:
    run_id: str
    cells: int
    grid_cells: int
    sources: list[dict[str, Any]]
    already: bool = False  # an identical merge was already in the target store
    warnings: list[str] = field(default_factory=list)


def check_store_file(path: Path) -> None:
    """A shard: a readable wasm-bisect store of this schema, checked by reading only (never moved aside,
    converted or given a journal file)."""
    found = store_mod.inspect(path)
    if found.kind in ("absent", "not-a-file"):
        raise UsageError(f"{path} does not exist or is not a file")
    if found.kind == "empty":
        raise UsageError(f"{path} holds no finished matrix run (it is empty)")
    if found.kind != "store":
        raise store_mod.refuse(found, own=False)
    store_mod.check_schema(found)


def check_target(path: Path) -> None:
    """`merge --into`: nothing there yet, or a wasm-bisect store of this schema; anything else is refused
    before a byte is written."""
    found = store_mod.inspect(path)
    if found.kind in ("absent", "empty"):
        return
    if found.kind != "store":
        raise store_mod.refuse(found, own=Store.is_own(path))
    store_mod.check_schema(found)


def open_source(path: Path) -> Source:
    """The newest finished matrix run of the store at `path`, opened read-only."""
    check_store_file(path)
    store = Store(path, read_only=True)
    runs = [r for r in store.runs(limit=10_000) if r.kind == "matrix" and r.result is not None]
    if not runs:
        store.close()
        raise UsageError(f"{path} holds no finished matrix run",
                         hint="produce it with `wasm-bisect matrix --export PATH`")
    return Source(label=str(path), store=store, run=runs[0])


def _hashes(run: Run) -> tuple[str, str]:
    th, ch = run.config.get("template_hash"), run.config.get("check_hash")
    if not isinstance(th, str) or not isinstance(ch, str):
        raise UsageError(f"run {run.run_id} was not recorded by `wasm-bisect matrix` (no template hashes)")
    return th, ch


def _grid(src: Source) -> dict[str, Any]:
    """A source run's grid, shape-checked: a damaged or hostile store is one line, never a crash."""
    grid = src.run.config.get("grid")
    axes = ("rustc", "bindgen", "reference_types")
    if not isinstance(grid, dict) or not all(isinstance(grid.get(a), list) and len(grid[a]) <= 10_000 and
                                             all(isinstance(x, str) for x in grid[a]) for a in axes):
        raise UsageError(f"{src.label}: run {src.run.run_id} has no readable grid (damaged store?)")
    return grid


def _variant(src: Source, identity: dict[str, Any]) -> Variant:
    try:
        return report.variant_from_identity(identity)
    except (KeyError, TypeError, ValueError, AttributeError, WasmBisectError):
        raise UsageError(f"{src.label}: run {src.run.run_id} has a cell that cannot be read (damaged store?)",
                         hint="export the shard again") from None


def validate(sources: list[Source]) -> None:
    """The sources can be merged: one fingerprint, template hashes, readable grids and cells (read only)."""
    if not sources:
        raise UsageError("nothing to merge", hint="give the shard stores, e.g. shard-*/store.sqlite3")
    first = sources[0]
    for src in sources[1:]:
        if src.run.fingerprint != first.run.fingerprint:
            raise UsageError(
                f"{src.label} holds results of a different template or config (run fingerprint "
                f"{src.run.fingerprint}, {first.label} has {first.run.fingerprint})",
                hint="merge only shards of one grid, template and check",
            )
    _hashes(first.run)
    for src in sources:
        _grid(src)
        for probe in src.store.run_probes(src.run.run_id):
            _variant(src, probe.variant)


def check_sources(paths: list[Path], target: Path) -> None:
    """Before the target store is created or touched: every shard (but the target itself) opened read-only and
    validated with the others, so a refusal leaves nothing behind."""
    sources: list[Source] = []
    try:
        for path in dict.fromkeys(paths_.resolve(p) for p in paths):
            if path != paths_.resolve(target):
                sources.append(open_source(path))
        if sources:
            validate(sources)
    finally:
        for src in sources:
            with contextlib.suppress(Exception):
                src.store.close()


def merge(sources: list[Source], into: Store, *, command: str) -> MergeResult:
    """Copy the sources' cells into `into` and record one matrix run over all of them."""
    validate(sources)
    first = sources[0]
    fingerprint = first.run.fingerprint
    th, ch = _hashes(first.run)
    grid = _grid(first)
    warnings: list[str] = []
    cells: dict[str, tuple[Variant, Outcome, bool]] = {}
    seen_runs: set[tuple[str, str]] = set()
    source_list = []
    for src in sources:
        if (src.label, src.run.run_id) in seen_runs:
            continue  # the same store named twice
        seen_runs.add((src.label, src.run.run_id))
        source_list.append({"store": src.label, "run": src.run.run_id, "shard": (src.run.result or {}).get("shard")})
        for probe in src.store.run_probes(src.run.run_id):
            variant = _variant(src, probe.variant)
            previous = cells.get(variant.key)
            if previous is not None and previous[1].verdict is not probe.outcome.verdict:
                if previous[1].verdict.testable and probe.outcome.verdict.testable:
                    warnings.append(f"{variant.short()} is {previous[1].verdict} in one store and "
                                    f"{probe.outcome.verdict} in {src.label}: kept {previous[1].verdict}")
                    continue
                if previous[1].verdict.testable:
                    continue  # a testable answer beats an untestable one
            cells[variant.key] = (variant, probe.outcome, probe.cached)
    # The grid order, so the merged run reads like one unsharded run.
    order = {cell_key: i for i, cell_key in enumerate(_grid_keys(grid, cells))}
    ordered = sorted(cells.values(), key=lambda item: order.get(item[0].key, len(order)))
    content = hashlib.sha256(json.dumps(
        [fingerprint, [(v.key, o.to_json()) for v, o, _ in ordered]], sort_keys=True).encode()).hexdigest()[:20]
    for run in into.runs(limit=10_000):
        if run.kind == "matrix" and run.result is not None and run.config.get("merge_key") == content:
            return MergeResult(run_id=run.run_id, cells=len(ordered), grid_cells=_size(grid),
                               sources=source_list, already=True, warnings=warnings)
    # One source (an export) keeps its shard; several together are no longer a shard.
    shard = source_list[0]["shard"] if len(source_list) == 1 else None
    config = {**first.run.config, "shard": shard, "merge_key": content, "merged_from": source_list}
    run_id = into.start_run(kind="matrix", fingerprint=fingerprint, command=command, config=config)
    for variant, outcome, cached in ordered:
        into.put(variant, th, ch, outcome)
        into.record(run_id, variant, th, ch, outcome, cached=cached)
    report_cells = [report.cell_from(v.identity(), o) for v, o, _ in ordered]
    analysis = report.analyse(grid, report_cells)
    counts = {v: sum(1 for c in report_cells if c["verdict"] == v) for v in report.VERDICTS}
    into.finish_run(run_id, {
        "kind": "matrix", "grid": grid, "cells": len(ordered), "grid_cells": _size(grid), "shard": shard,
        "counts": counts, "merged_from": source_list, "missing": _size(grid) - len(ordered),
        "first_failing": analysis["first_failing"],
        "first_failing_by_reference_types": {report.setting_key(s["reference_types"], s["runtime"]):
                                             s["first_failing"] for s in analysis["settings"]},
        "frontier": {report.setting_key(s["reference_types"], s["runtime"]): s["frontier"]
                     for s in analysis["settings"]},
    })
    return MergeResult(run_id=run_id, cells=len(ordered), grid_cells=_size(grid), sources=source_list,
                       warnings=warnings)


def _runtimes(grid: dict[str, Any]) -> list[str]:
    return list(grid.get("runtimes") or ["node"])


def _size(grid: dict[str, Any]) -> int:
    return len(grid["rustc"]) * len(grid["bindgen"]) * len(grid["reference_types"]) * len(_runtimes(grid))


def _grid_keys(grid: dict[str, Any], cells: dict[str, tuple[Variant, Outcome, bool]]) -> list[str]:
    """Cell keys in grid order (rustc, then wasm-bindgen, then reference-types, then runtime), as
    Grid.variants() does."""
    position = {(str(v.rustc), v.bindgen.label(), str(v.reference_types), str(v.runtime)): k
                for k, (v, _, _) in cells.items()}
    return [position[(r, b, rt, rn)] for r in grid["rustc"] for b in grid["bindgen"] for rt in grid["reference_types"]
            for rn in _runtimes(grid) if (r, b, rt, rn) in position]


def merge_paths(paths: list[Path], into: Store, *, command: str) -> MergeResult:
    """Merge the stores at `paths` (each one's newest matrix run) into `into`."""
    target = paths_.resolve(into.path, "--into")
    sources: list[Source] = []
    try:
        for path in dict.fromkeys(paths_.resolve(p) for p in paths):
            if path == target:
                # Merging a store into itself: read its run through the target's own connection.
                runs = [r for r in into.runs(limit=10_000) if r.kind == "matrix" and r.result is not None]
                if not runs:
                    raise UsageError(f"{path} holds no finished matrix run")
                sources.append(Source(label=str(path), store=into, run=runs[0]))
            else:
                sources.append(open_source(path))
        return merge(sources, into, command=command)
    finally:
        for src in sources:
            if src.store is not into:
                with contextlib.suppress(Exception):
                    src.store.close()


def remove_new_store(path: Path) -> None:
    """Remove a store file this call created (and its SQLite sidecars) after a failed merge into it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def export(store: Store, run_id: str, path: Path, *, command: str) -> MergeResult:
    """Write one run and its cells alone into a new store file at `path`: a CI artifact. Built beside it and
    renamed into place (replacing only a regular file), as one self-contained file (no WAL)."""
    final = paths_.resolve(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        target = Store(tmp)
        try:
            result = merge([Source(label=str(store.path), store=store, run=store.run(run_id))], target,
                           command=command)
            target.self_contained()
        finally:
            target.close()
        fs.atomic_replace(tmp, path, what="--export")
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        raise
    for suffix in ("-wal", "-shm"):  # left by an earlier store at this path: they would not match the new file
        Path(f"{final}{suffix}").unlink(missing_ok=True)
    return result
