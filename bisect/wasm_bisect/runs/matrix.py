"""Matrix mode: probe every cell of a grid (or one shard of it) with -j N worker threads, and show it.

Each probe spends its time in child processes (cargo, wasm-bindgen, node), so threads are enough for
parallelism; the Oracle and the Store are thread-safe. Every finished cell is stored at once, so an
interrupted matrix resumes from the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from wasm_bisect.domain.compat import untestable_reason
from wasm_bisect.domain.errors import SearchAborted, UsageError
from wasm_bisect.domain.grid import MAX_SHARDS, Grid, cell_id, check_shard_count, shard
from wasm_bisect.domain.model import Outcome, Runtime, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import Oracle
from wasm_bisect.probe.reproducer import Reproducer, run_config
from wasm_bisect.report.document import analyse, cell_from, setting_key
from wasm_bisect.runs._events import QUIET, Events
from wasm_bisect.store import Store

GITHUB_MATRIX_LIMIT = MAX_SHARDS  # GitHub Actions refuses a job matrix larger than this


def select_cells(grid: Grid, ids: Sequence[str]) -> list[Variant]:
    """The cells named by `--cell` (grid order kept); an id that is not on the grid is a usage error."""
    by_id = {cell_id(v): v for v in grid.variants()}
    # `1.63.0@0.2.92@on` is accepted for `debian:1.63.0@0.2.92@on`, like the axis flags accept bare versions.
    for v in grid.variants():
        where = "" if v.runtime is Runtime.NODE else f"@{v.runtime}"
        by_id.setdefault(f"{v.rustc.version}@{v.bindgen.label()}@{v.reference_types}{where}", v)
    chosen: dict[str, Variant] = {}
    for text in ids:
        variant = by_id.get(text.strip())
        if variant is None:
            example = cell_id(grid.variants()[0])
            raise UsageError(f"--cell {text!r} is not a cell of the grid",
                             hint=f"write RUSTC@BINDGEN@RT, e.g. {example}")
        chosen[variant.key] = variant
    return [v for v in grid.variants() if v.key in chosen]


@dataclass(frozen=True, kw_only=True)
class MatrixPlan:
    grid: Grid
    cells: tuple[Variant, ...]
    jobs: int = 1
    shard: str | None = None
    allow_yanked: bool = False

    @classmethod
    def make(cls, grid: Grid, *, jobs: int = 1, shard_spec: str | None = None,
             cell_ids: Sequence[str] = (), allow_yanked: bool = False) -> MatrixPlan:
        if jobs < 1:
            raise UsageError(f"-j {jobs} must be at least 1")
        cells = select_cells(grid, cell_ids) if cell_ids else grid.variants()
        if shard_spec:
            cells = shard(cells, shard_spec)
        return cls(grid=grid, cells=tuple(cells), jobs=jobs, shard=shard_spec, allow_yanked=allow_yanked)


def toolchains_to_build(plan: MatrixPlan) -> list[ToolchainSpec]:
    """The toolchains the plan's cells will build with (cells the compatibility filter skips build nothing):
    what must be ready, and verified, before the run is started."""
    return list(dict.fromkeys(v.rustc for v in plan.cells
                              if untestable_reason(v, allow_yanked=plan.allow_yanked) is None))


def github_matrix(grid: Grid, *, shards: int | None) -> dict[str, Any]:
    """A GitHub Actions `strategy.matrix` value: one entry per shard, or one per cell."""
    if shards:
        check_shard_count(shards)
        return {"include": [{"shard": f"{k}/{shards}", "name": f"shard {k} of {shards}"}
                            for k in range(1, shards + 1)]}
    if grid.size > GITHUB_MATRIX_LIMIT:
        raise UsageError(f"the grid has {grid.size} cells, more than GitHub's {GITHUB_MATRIX_LIMIT} jobs",
                         hint="add --shards N to emit one job per shard")
    return {"include": [{"cell": cell_id(v), "rustc": str(v.rustc), "bindgen": v.bindgen.label(),
                         "reference_types": str(v.reference_types),
                         **({} if v.runtime is Runtime.NODE else {"runtime": str(v.runtime)})}
                        for v in grid.variants()]}


@dataclass
class MatrixOutcome:
    """The cells of one matrix run, in grid order, and how they were answered."""

    plan: MatrixPlan
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # variant key -> outcome
    from_store: set[str] = field(default_factory=set)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {str(v): sum(o.verdict is v for o in self.outcomes.values()) for v in Verdict}


Started = Callable[[Variant], None]
Finished = Callable[[Variant, Outcome, bool, float], None]


def run(plan: MatrixPlan, oracle: Oracle, *, on_start: Started | None = None,
        on_done: Finished | None = None, on_interrupt: Callable[[str], None] | None = None) -> MatrixOutcome:
    """Ask the oracle for every cell of the plan, `plan.jobs` at a time."""
    result = MatrixOutcome(plan=plan)
    lock = threading.Lock()
    start = time.monotonic()
    answered_from_store: dict[str, bool] = {}
    chained = oracle.on_probe

    def seen(variant: Variant, outcome: Outcome, cached: bool) -> None:
        answered_from_store[variant.key] = cached
        if chained:
            chained(variant, outcome, cached)

    oracle.on_probe = seen

    def one(variant: Variant) -> None:
        if on_start:
            on_start(variant)
        began = time.monotonic()
        try:
            outcome = oracle.outcome(variant)
        except SearchAborted as exc:
            # A flaky check says nothing reliable about this cell: record it as an error, which the next
            # run retries, instead of stopping the other cells.
            outcome = Outcome(verdict=Verdict.ERROR, reason=exc.one_line(), stage=Stage.CHECK)
            th, ch = oracle.template.content_hash, oracle.template.check_hash
            oracle.store.put(variant, th, ch, outcome)
            if oracle.run_id:
                oracle.store.record(oracle.run_id, variant, th, ch, outcome, cached=False)
            answered_from_store[variant.key] = False
        cached = answered_from_store.get(variant.key, True)  # absent: the oracle had it in memory
        with lock:
            result.outcomes[variant.key] = outcome
            if cached:
                result.from_store.add(variant.key)
        if on_done:
            on_done(variant, outcome, cached, time.monotonic() - began)

    pool = ThreadPoolExecutor(max_workers=plan.jobs, thread_name_prefix="matrix")
    pending: set[Future[None]] = set()
    try:
        pending = {pool.submit(one, v) for v in plan.cells}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a bug in a worker stops the run instead of vanishing
    except KeyboardInterrupt:
        # Builds run in their own process groups (util.processes), so they do not see the Ctrl-C: say why we wait.
        if on_interrupt:
            on_interrupt("interrupted: letting the running probes finish so their results are stored")
        raise
    finally:
        # Ctrl-C or a worker bug: drop the cells not started; running probes finish and are stored.
        pool.shutdown(wait=True, cancel_futures=True)
        oracle.on_probe = chained
    result.seconds = round(time.monotonic() - start, 2)
    ordered = {v.key: result.outcomes[v.key] for v in plan.cells if v.key in result.outcomes}
    result.outcomes = ordered
    return result


@dataclass(frozen=True, kw_only=True)
class MatrixResult:
    """A finished matrix run: its cells' outcomes and the analysis read off them."""

    run_id: str
    plan: MatrixPlan
    outcomes: Mapping[str, Outcome]  # variant key -> outcome, grid order
    counts: Mapping[str, int]
    built: int
    from_store: int
    seconds: float
    first_failing: dict[str, Any] | None
    first_failing_by_reference_types: Mapping[str, dict[str, Any] | None]
    frontier: Mapping[str, list[dict[str, Any]]]

    def to_json(self) -> dict[str, Any]:
        """What the store keeps as the run's result (the report recomputes the analysis from the cells)."""
        plan = self.plan
        return {
            "kind": "matrix",
            "grid": plan.grid.identity(),
            "cells": len(self.outcomes),
            "grid_cells": plan.grid.size,
            "shard": plan.shard,
            "jobs": plan.jobs,
            "counts": dict(self.counts),
            "built": self.built,
            "from_store": self.from_store,
            "seconds": self.seconds,
            "first_failing": self.first_failing,
            "first_failing_by_reference_types": dict(self.first_failing_by_reference_types),
            "frontier": dict(self.frontier),
        }


def summarize(run_id: str, outcome: MatrixOutcome, *, built: int, cached: int) -> MatrixResult:
    """The typed result of a matrix run (the analysis is the report's, so both read the same)."""
    plan = outcome.plan
    cells = [cell_from(v.identity(), o) for v in plan.cells if (o := outcome.outcomes.get(v.key))]
    analysis = analyse(plan.grid.identity(), cells)
    return MatrixResult(
        run_id=run_id, plan=plan, outcomes=dict(outcome.outcomes), counts=outcome.counts(), built=built,
        from_store=cached, seconds=outcome.seconds, first_failing=analysis["first_failing"],
        first_failing_by_reference_types={setting_key(s["reference_types"], s["runtime"]): s["first_failing"]
                                          for s in analysis["settings"]},
        frontier={setting_key(s["reference_types"], s["runtime"]): s["frontier"] for s in analysis["settings"]})


def result_dict(outcome: MatrixOutcome, *, built: int, cached: int) -> dict[str, Any]:
    """The stored form of a matrix result (kept for callers that want the JSON directly)."""
    return summarize("", outcome, built=built, cached=cached).to_json()


@dataclass(frozen=True, kw_only=True)
class Request:
    """A matrix run: the plan, the template, how the command was typed and where the config came from."""

    plan: MatrixPlan
    template: Reproducer
    command: str
    config_file: str | None = None


@dataclass(frozen=True, kw_only=True)
class MatrixHooks:
    """Live display hooks of a matrix (the CLI's progress display implements them)."""

    on_start: Started | None = None
    on_done: Finished | None = None
    on_stage: Callable[[Variant, Stage], None] | None = None


def execute(request: Request, store: Store, events: Events = QUIET, hooks: MatrixHooks | None = None,
            *, on_run: Callable[[str], None] | None = None) -> MatrixResult:
    """Start a matrix run in `store`, probe its cells -j N at a time, store and return the result."""
    plan, tmpl = request.plan, request.template
    hooks = hooks or MatrixHooks()
    grid = plan.grid
    run_id = store.start_run(
        kind="matrix", fingerprint=grid.fingerprint(tmpl.content_hash, tmpl.check_hash), command=request.command,
        config={"grid": grid.identity(), "template_hash": tmpl.content_hash, "check_hash": tmpl.check_hash,
                **run_config(tmpl), "shard": plan.shard, "cells": [cell_id(v) for v in plan.cells],
                "jobs": plan.jobs, "config_file": request.config_file},
    )
    if on_run:
        on_run(run_id)
    for note in tmpl.notes([s.version for s in grid.rustc]):
        events.info(note)
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, allow_yanked=plan.allow_yanked,
                    progress=events.progress, on_stage=hooks.on_stage)
    outcome = run(plan, oracle, on_start=hooks.on_start, on_done=hooks.on_done, on_interrupt=events.info)
    result = summarize(run_id, outcome, built=oracle.built, cached=oracle.cached)
    store.finish_run(run_id, result.to_json())
    return result
