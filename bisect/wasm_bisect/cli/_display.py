"""What the terminal shows: the matrix's live display and grid tables, the bisect and verify summaries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import Outcome, Runtime, Stage, Variant, Verdict
from wasm_bisect.report import setting_key
from wasm_bisect.runs.bisect import BisectResult
from wasm_bisect.runs.verify import Change
from wasm_bisect.runs.verify import Result as VerifyResult
from wasm_bisect.util import log

CELL_STYLE = {
    Verdict.GOOD: "bold white on green",
    Verdict.BAD: "bold white on red",
    Verdict.SKIP: "black on yellow",
    Verdict.ERROR: "bold white on magenta",
}


def grid_tables(grid: Grid, outcomes: dict[str, Outcome], *,
                first_failing: Mapping[str, Mapping[str, Any] | None] | None = None) -> list[Any]:
    """Rich tables: rows rustc, columns wasm-bindgen, one table per reference-types setting and runtime;
    `first_failing` (setting key, e.g. `default` or `default@chromium` -> its first failing pair) puts a star
    on those cells."""
    stars = {(f["rustc"], f["bindgen"], key) for key, f in (first_failing or {}).items() if f}
    tables = []
    for rt in grid.reference_types:
        for where in grid.runtimes:
            key = setting_key(str(rt), str(where))
            title = f"{grid.template}: reference-types = {rt}" + ("" if where is Runtime.NODE else f" in {where}")
            table = Table(title=title, title_justify="left", show_lines=False, pad_edge=True)
            table.add_column("rustc \\ wasm-bindgen", style="bold")
            for b in grid.bindgen:
                table.add_column(b.label(), justify="center")
            for r in grid.rustc:
                row: list[Text | str] = [str(r)]
                for b in grid.bindgen:
                    variant = grid.variant(r, b, rt, where)
                    got = outcomes.get(variant.key)
                    if got is None:
                        row.append(Text("·", style="dim"))
                        continue
                    mark = " *" if (str(r), b.label(), key) in stars else ""
                    row.append(Text(f" {got.verdict.upper()}{mark} ", style=CELL_STYLE[got.verdict]))
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
                self._tasks[variant.key] = self.progress.add_task(f"  {escape(variant.short())}: lookup", total=None,
                                                                  eta="")

    def stage(self, variant: Variant, stage: Stage) -> None:
        with self._lock:
            if self.progress and variant.key in self._tasks:
                self.progress.update(self._tasks[variant.key], description=f"  {escape(variant.short())}: {stage}")
            elif not self.progress:
                self.console.print(f"  {variant.short()}: {stage}", style="dim", markup=False)

    def finished(self, variant: Variant, outcome: Outcome, cached: bool, seconds: float) -> None:
        with self._lock:
            self.done += 1
            if not cached and outcome.stage is not Stage.PLAN:
                self.built_seconds.append(seconds)
            how = ("ruled out before building" if outcome.stage is Stage.PLAN else "from store" if cached
                   else f"{seconds:.1f} s")
            style = CELL_STYLE[outcome.verdict]
            eta = self.eta()
            line = (f"[{self.done}/{self.total}] [{style}] {outcome.verdict.upper():5} [/] {escape(variant.short())}  "
                    f"[dim]({how}){' ' + eta if eta else ''}[/dim]")
            if outcome.verdict is not Verdict.GOOD:
                line += f"  [dim]{escape(outcome.reason[:110])}[/dim]"
            self.console.print(line)
            if self.progress:
                task = self._tasks.pop(variant.key, None)
                if task is not None:
                    self.progress.remove_task(task)
                self.progress.update(self._overall, advance=1, eta=eta)




def print_tables(console: Any, tables: Iterable[Any]) -> None:
    for table in tables:
        console.print(table)
    console.print("[dim]legend:[/dim] [bold white on green] GOOD [/] [bold white on red] BAD [/] "
                  "[black on yellow] SKIP [/] untestable  [bold white on magenta] ERROR [/] infrastructure  "
                  "[dim]·[/dim] not probed   * first failing pair")


def print_bisect(result: BisectResult) -> None:
    out = log.console
    grid = result.grid
    out.print(f"\n[bold]== wasm-bisect: {escape(grid['template'])} ({result.mode}) ==[/bold]")
    out.print(f"grid: rustc {', '.join(grid['rustc'])} x wasm-bindgen {grid['bindgen'][0]}..{grid['bindgen'][-1]} "
              f"({len(grid['bindgen'])} versions) x reference-types {', '.join(grid['reference_types'])}",
              markup=False)
    for s in result.searches:
        out.print(f"\n[bold]reference-types {s.reference_types}[/bold]: {escape(s.message)}", markup=True)
        first = s.first_failing
        if first:
            out.print(f"  first {s.terms['new']} pair: rustc {first.rustc} + wasm-bindgen {first.bindgen}",
                      markup=False)
            out.print(f"    {first.reason}", markup=False)
            if first.last_good_bindgen:
                out.print(f"  last {s.terms['old']} on the wasm-bindgen axis: {first.last_good_bindgen} "
                          f"(with rustc {first.rustc})", markup=False)
            if first.not_on_axis:
                out.print(f"  not tested in between: {', '.join(first.not_on_axis)} (yanked or outside the "
                          "axis; --allow-yanked to include yanked releases)", markup=False)
            if first.last_good_rustc:
                out.print(f"  last {s.terms['old']} on the rustc axis: {first.last_good_rustc} "
                          f"(with wasm-bindgen {first.bindgen})", markup=False)
            ev = first.evidence
            if ev.get("target_features") is not None:
                out.print(f"  module target_features: {' '.join(ev['target_features']) or '(none)'}; "
                          f"externref transform: {'yes' if ev.get('externref_transform') else 'no'}", markup=False)
            out.print(f"  reproduce: {first.reproduce}", markup=False)
            for link in first.compare:
                out.print(f"  compare: {link}", markup=False)
        out.print("  frontier: " + "; ".join(
            f"{row['rustc']} -> {row['first_bad'] or ('?' if not row['certain'] else 'none')}"
            + ("" if row["certain"] else f" (one of {', '.join(str(c) for c in row['candidates'])})")
            for row in s.frontier), markup=False)
        out.print(f"  attribution: {s.attribution['kind']}: {s.attribution['message']}", markup=False)
        follow = s.follow_up
        if follow:
            out.print(f"  reference-types follow-up: {follow.kind}: {follow.message}", markup=False)
            for rp in follow.reprobes:
                out.print(f"    {rp['rustc']} + {rp['bindgen']}: {rp['was']} -> {rp['now']} with "
                          f"reference-types {rp['reference_types']}", markup=False)
        for v in s.violations:
            out.print(f"  [yellow]non-monotone:[/yellow] {escape(str(v['good']))} passes although "
                      f"{escape(str(v['bad']))} fails")
        out.print(f"  probes: {s.probes} asked for {s.cells} cells ({s.filtered} ruled out before "
                  f"building; a single-corner boundary needs at most {s.expected_probes_one_corner})",
                  markup=False)
    if result.reference_types_summary:
        out.print(f"\n[bold]reference-types:[/bold] {escape(result.reference_types_summary)}")
    out.print(f"\nprobes: {result.built} built, {result.from_store} answered from the store; grid {result.cells} "
              f"cells; run {result.run_id or '?'} (`wasm-bisect log {result.run_id or ''}`)", markup=False)


def print_verify(result: VerifyResult) -> None:
    colour = {Change.FIXED: "green", Change.STILL_FAILING: "red", Change.REGRESSION: "bold red",
              Change.STILL_PASSING: "green", Change.UNTESTABLE: "yellow"}
    table = Table("rustc", "reference-types", "base", "patch", "change")
    for cell in result.cells:
        c = colour[cell.change]
        table.add_row(str(cell.rustc), str(cell.reference_types), str(cell.base.verdict), str(cell.patch.verdict),
                      f"[{c}]{cell.change}[/{c}]")
    log.console.print(table)
