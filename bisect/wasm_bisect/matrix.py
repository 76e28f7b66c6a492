"""Matrix mode: probe every cell of a grid (or one shard of it) with -j N worker threads, and show it.

Each probe spends its time in child processes (cargo, wasm-bindgen, node), so threads are enough for
parallelism; the Oracle and the Store are thread-safe. Every finished cell is stored at once, so an
interrupted matrix resumes from the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from . import report
from .errors import SearchAborted, UsageError
from .grid import Grid, shard
from .model import Outcome, Stage, Variant, Verdict
from .probe import Oracle

VERDICT_STYLE = {
    Verdict.GOOD: "bold white on green",
    Verdict.BAD: "bold white on red",
    Verdict.SKIP: "black on yellow",
    Verdict.ERROR: "bold white on magenta",
}
GITHUB_MATRIX_LIMIT = 256  # GitHub Actions refuses a job matrix larger than this


def cell_id(variant: Variant) -> str:
    """How a cell is named on the command line and in nox sessions: `RUSTC@BINDGEN@RT`."""
    return f"{variant.rustc}@{variant.bindgen.label()}@{variant.reference_types}"


def select_cells(grid: Grid, ids: Sequence[str]) -> list[Variant]:
    """The cells named by `--cell` (grid order kept); an id that is not on the grid is a usage error."""
    by_id = {cell_id(v): v for v in grid.variants()}
    # `1.63.0@0.2.92@on` is accepted for `debian:1.63.0@0.2.92@on`, like the axis flags accept bare versions.
    for v in grid.variants():
        by_id.setdefault(f"{v.rustc.version}@{v.bindgen.label()}@{v.reference_types}", v)
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

    @classmethod
    def make(cls, grid: Grid, *, jobs: int = 1, shard_spec: str | None = None,
             cell_ids: Sequence[str] = ()) -> MatrixPlan:
        if jobs < 1:
            raise UsageError(f"-j {jobs} must be at least 1")
        cells = select_cells(grid, cell_ids) if cell_ids else grid.variants()
        if shard_spec:
            cells = shard(cells, shard_spec)
        return cls(grid=grid, cells=tuple(cells), jobs=jobs, shard=shard_spec)


def github_matrix(grid: Grid, *, shards: int | None) -> dict[str, Any]:
    """A GitHub Actions `strategy.matrix` value: one entry per shard, or one per cell."""
    if shards:
        return {"include": [{"shard": f"{k}/{shards}", "name": f"shard {k} of {shards}"}
                            for k in range(1, shards + 1)]}
    if grid.size > GITHUB_MATRIX_LIMIT:
        raise UsageError(f"the grid has {grid.size} cells, more than GitHub's {GITHUB_MATRIX_LIMIT} jobs",
                         hint="add --shards N to emit one job per shard")
    return {"include": [{"cell": cell_id(v), "rustc": str(v.rustc), "bindgen": v.bindgen.label(),
                         "reference_types": str(v.reference_types)} for v in grid.variants()]}


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
        on_done: Finished | None = None) -> MatrixOutcome:
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
        # Builds run in their own process groups (tools.run), so they do not see the Ctrl-C: say why we wait.
        from . import log

        log.warn("interrupted: letting the running probes finish so their results are stored")
        raise
    finally:
        # Ctrl-C or a worker bug: drop the cells not started; running probes finish and are stored.
        pool.shutdown(wait=True, cancel_futures=True)
        oracle.on_probe = chained
    result.seconds = round(time.monotonic() - start, 2)
    ordered = {v.key: result.outcomes[v.key] for v in plan.cells if v.key in result.outcomes}
    result.outcomes = ordered
    return result


def result_dict(outcome: MatrixOutcome, *, built: int, cached: int) -> dict[str, Any]:
    """What the store keeps as the run's result (the report recomputes the analysis from the cells)."""
    plan = outcome.plan
    cells = [report.cell_from(v.identity(), o) for v in plan.cells if (o := outcome.outcomes.get(v.key))]
    analysis = report.analyse(plan.grid.identity(), cells)
    return {
        "kind": "matrix",
        "grid": plan.grid.identity(),
        "cells": len(outcome.outcomes),
        "grid_cells": plan.grid.size,
        "shard": plan.shard,
        "jobs": plan.jobs,
        "counts": outcome.counts(),
        "built": built,
        "from_store": cached,
        "seconds": outcome.seconds,
        "first_failing": analysis["first_failing"],
        "first_failing_by_reference_types": {s["reference_types"]: s["first_failing"] for s in analysis["settings"]},
        "frontier": {s["reference_types"]: s["frontier"] for s in analysis["settings"]},
    }


# -- terminal ----------------------------------------------------------------------------------------------
def grid_tables(grid: Grid, outcomes: dict[str, Outcome], *,
                first_failing: Mapping[str, Mapping[str, Any] | None] | None = None) -> list[Any]:
    """Rich tables: rows rustc, columns wasm-bindgen, one table per reference-types setting; `first_failing`
    (reference-types setting -> its first failing pair) puts a star on those cells."""
    from rich.table import Table
    from rich.text import Text

    stars = {(f["rustc"], f["bindgen"], rt) for rt, f in (first_failing or {}).items() if f}
    tables = []
    for rt in grid.reference_types:
        table = Table(title=f"{grid.template}: reference-types = {rt}", title_justify="left",
                      show_lines=False, pad_edge=True)
        table.add_column("rustc \\ wasm-bindgen", style="bold")
        for b in grid.bindgen:
            table.add_column(b.label(), justify="center")
        for r in grid.rustc:
            row: list[Text | str] = [str(r)]
            for b in grid.bindgen:
                variant = grid.variant(r, b, rt)
                got = outcomes.get(variant.key)
                if got is None:
                    row.append(Text("·", style="dim"))
                    continue
                mark = " *" if (str(r), b.label(), str(rt)) in stars else ""
                row.append(Text(f" {got.verdict.upper()}{mark} ", style=VERDICT_STYLE[got.verdict]))
            table.add_row(*row)
        tables.append(table)
    return tables


class Display:
    """Live progress on a terminal (overall bar with done/total and ETA, one line per running cell with its
    stage); plain lines elsewhere (CI logs), so a log file shows the same facts."""

    def __init__(self, console: Any, total: int, jobs: int) -> None:
        self.console = console
        self.total = total
        self.jobs = jobs
        self.done = 0
        self.built_seconds: list[float] = []
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self.progress: Any = None
        if console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                                     console=console, transient=True)
            self._overall = self.progress.add_task("matrix", total=total, eta="")

    def __enter__(self) -> Display:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def eta(self) -> str:
        """Remaining cells times the mean time of a built cell, over the workers."""
        remaining = self.total - self.done
        if not remaining:
            return ""
        if not self.built_seconds:
            return ""  # nothing built yet: no honest estimate
        # Cells answered from the store take no time: expect the same share of builds as so far.
        share = len(self.built_seconds) / max(self.done, 1)
        seconds = sum(self.built_seconds) / len(self.built_seconds) * remaining * share / self.jobs
        return f"ETA {int(seconds) // 60}:{int(seconds) % 60:02d}"

    def started(self, variant: Variant) -> None:
        with self._lock:
            if self.progress:
                self._tasks[variant.key] = self.progress.add_task(f"  {_escape(variant.short())}: lookup", total=None,
                                                                  eta="")

    def stage(self, variant: Variant, stage: Stage) -> None:
        with self._lock:
            if self.progress and variant.key in self._tasks:
                self.progress.update(self._tasks[variant.key], description=f"  {_escape(variant.short())}: {stage}")
            elif not self.progress:
                self.console.print(f"  {variant.short()}: {stage}", style="dim", markup=False)

    def finished(self, variant: Variant, outcome: Outcome, cached: bool, seconds: float) -> None:
        with self._lock:
            self.done += 1
            if not cached and outcome.stage is not Stage.PLAN:
                self.built_seconds.append(seconds)
            how = ("ruled out before building" if outcome.stage is Stage.PLAN else "from store" if cached
                   else f"{seconds:.1f} s")
            style = VERDICT_STYLE[outcome.verdict]
            eta = self.eta()
            line = (f"[{self.done}/{self.total}] [{style}] {outcome.verdict.upper():5} [/] {_escape(variant.short())}  "
                    f"[dim]({how}){' ' + eta if eta else ''}[/dim]")
            if outcome.verdict is not Verdict.GOOD:
                line += f"  [dim]{_escape(outcome.reason[:110])}[/dim]"
            self.console.print(line)
            if self.progress:
                task = self._tasks.pop(variant.key, None)
                if task is not None:
                    self.progress.remove_task(task)
                self.progress.update(self._overall, advance=1, eta=eta)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_tables(console: Any, tables: Iterable[Any]) -> None:
    for table in tables:
        console.print(table)
    console.print("[dim]legend:[/dim] [bold white on green] GOOD [/] [bold white on red] BAD [/] "
                  "[black on yellow] SKIP [/] untestable  [bold white on magenta] ERROR [/] infrastructure  "
                  "[dim]·[/dim] not probed   * first failing pair")
