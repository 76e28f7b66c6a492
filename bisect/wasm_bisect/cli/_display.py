"""What the terminal shows: the matrix's live display and grid tables, the bisect and verify summaries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import Outcome, Runtime, Stage, Terms, Variant, Verdict
from wasm_bisect.report import setting_key
from wasm_bisect.runs import Events
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
    """The live display of a run on a terminal (rich): one row per running probe with its stage and elapsed time,
    an overall row (probes done, and the search's worst case or the grid's size), and a progress bar per tool
    build fed by cargo's own `Compiling` lines. Off a terminal (CI logs, a file) the same facts come as plain
    timestamped lines, as before. Matrix runs call started/stage/finished; bisect and verify runs feed it through
    `events()` (stage, then the probe's answer)."""

    def __init__(self, console: Any, total: int | None, jobs: int = 1, *, title: str = "matrix",
                 worst: str = "", live: bool = True, terms: Terms | None = None) -> None:
        self.console = console
        self.total = total  # None: a search, whose number of probes is not known in advance
        self.jobs = jobs
        self.title = title
        self.terms = terms  # --term-old/--term-new: the verdicts in the user's words
        self.worst = worst  # e.g. "a single-corner boundary needs at most 7 probes per setting"
        self.done = 0
        self.built_seconds: list[float] = []
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._began: dict[str, float] = {}
        self._builds: dict[tuple[str, str], Any] = {}
        self.progress: Any = None
        if live and console.is_terminal and not log.quiet():  # not live: a person is asked on the terminal
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
            self._overall = self.progress.add_task(self._overall_text(), total=total, eta="")

    def _overall_text(self) -> str:
        if self.total is not None:
            return escape(self.title)
        return escape(f"{self.title}: {self.done} probes" + (f" ({self.worst})" if self.worst else ""))

    def __enter__(self) -> Display:
        if self.progress:
            self.progress.start()
        toolcache.set_build_listener(self.tool_build)
        return self

    def __exit__(self, *exc: object) -> None:
        toolcache.set_build_listener(None)
        if self.progress:
            self.progress.stop()

    def events(self, base: Events) -> Events:
        """`base` with this display in front: stages and answers go to the rows, the rest passes through."""
        return replace(base, on_stage=self.stage, on_probe=self.probe_done)

    def eta(self) -> str:
        """Remaining cells times the mean time of a built cell, over the workers."""
        if self.total is None:
            return ""
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
            self._began.setdefault(variant.key, time.monotonic())
            if self.progress and variant.key not in self._tasks:
                self._tasks[variant.key] = self.progress.add_task(f"  {escape(variant.short())}: lookup", total=None,
                                                                  eta="")

    def stage(self, variant: Variant, stage: Stage) -> None:
        if variant.key not in self._began:
            self.started(variant)
        with self._lock:
            if self.progress and variant.key in self._tasks:
                self.progress.update(self._tasks[variant.key], description=f"  {escape(variant.short())}: {stage}")
            elif not self.progress and not log.quiet():
                self.console.print(f"  {variant.short()}: {stage}", style="dim", markup=False)

    def probe_done(self, variant: Variant, outcome: Outcome, cached: bool) -> None:
        """A search's probe was answered (bisect, verify): the matrix's `finished`, timed from its first stage."""
        began = self._began.get(variant.key)
        self.finished(variant, outcome, cached, time.monotonic() - began if began else 0.0)

    def finished(self, variant: Variant, outcome: Outcome, cached: bool, seconds: float) -> None:
        with self._lock:
            self.done += 1
            self._began.pop(variant.key, None)
            if not cached and outcome.stage is not Stage.PLAN:
                self.built_seconds.append(seconds)
            how = ("ruled out before building" if outcome.stage is Stage.PLAN else "from store" if cached
                   else f"{seconds:.1f} s") + (", by a person" if outcome.by == "person" else "")
            style = CELL_STYLE[outcome.verdict]
            word = self.terms.word(outcome.verdict) if self.terms is not None else str(outcome.verdict)
            eta = self.eta()
            count = f"{self.done}/{self.total}" if self.total is not None else f"probe {self.done}"
            line = (f"{escape(f'[{count}]')} [{style}] {escape(word.upper()):5} [/] {escape(variant.short())}  "
                    f"[dim]({how}){' ' + eta if eta else ''}[/dim]")
            if outcome.verdict is not Verdict.GOOD:
                line += f"  [dim]{escape(outcome.reason[:110])}[/dim]"
            if not log.quiet():
                self.console.print(line)
            if self.progress:
                task = self._tasks.pop(variant.key, None)
                if task is not None:
                    self.progress.remove_task(task)
                self.progress.update(self._overall, advance=1, eta=eta, description=self._overall_text())

    def tool_build(self, name: str, ident: str, compiled: int, total: int | None, finished: bool) -> None:
        """cargo install progress of a tool the run needs (minutes on a cold cache)."""
        with self._lock:
            if not self.progress:
                return  # plain mode: the provisioning lines already say what is being built
            key = (name, ident)
            if finished:
                task = self._builds.pop(key, None)
                if task is not None:
                    self.progress.remove_task(task)
                return
            description = escape(f"  building {name} {ident}: {compiled} crates compiled")
            if key not in self._builds:
                self._builds[key] = self.progress.add_task(description, total=total, eta="")
            self.progress.update(self._builds[key], completed=compiled, total=total, description=description)


def print_tables(console: Any, tables: Iterable[Any]) -> None:
    for table in tables:
        console.print(table)
    console.print("[dim]legend:[/dim] [bold white on green] GOOD [/] [bold white on red] BAD [/] "
                  "[black on yellow] SKIP [/] untestable  [bold white on magenta] ERROR [/] infrastructure  "
                  "[dim]·[/dim] not probed   * first failing pair")


def print_bisect(result: BisectResult) -> None:
    out = log.out()
    grid = result.grid
    out.print(f"\n[bold]== wasm-bisect: {escape(grid['template'])} ({result.mode}) ==[/bold]")
    out.print(f"grid: rustc {', '.join(grid['rustc'])} x wasm-bindgen {grid['bindgen'][0]}..{grid['bindgen'][-1]} "
              f"({len(grid['bindgen'])} versions) x reference-types {', '.join(grid['reference_types'])}",
              markup=False)
    for s in result.searches:
        out.print(f"\n[bold]reference-types {s.reference_types}[/bold]: {escape(s.message)}", markup=True)
        if s.orientation:
            out.print(f"  orientation ({s.orientation['name']}, by {s.orientation['decided_by']}): "
                      f"{s.orientation['summary']}", markup=False)
            for edge in s.orientation["boundaries"]:
                out.print(f"    {edge['axis']} {edge['change']} it: {edge['good']} passes, {edge['bad']} fails "
                          f"(with {edge['with']})", markup=False)
                out.print(f"      reproduce: {edge['reproduce']['bad']}", markup=False)
                out.print(f"      reproduce: {edge['reproduce']['good']}", markup=False)
                if edge["compare"]:
                    out.print(f"      compare: {edge['compare']}", markup=False)
        if s.island:
            box = s.island["box"]
            out.print(f"  bad box: rustc {box['rustc'][0]}..{box['rustc'][1]} x wasm-bindgen "
                      f"{box['bindgen'][0]}..{box['bindgen'][1]}; bounded by "
                      + (", ".join(f"{c['rustc']} + {c['bindgen']}" for c in s.island["bounds"]) or "the grid's edge")
                      + f"; {s.island['unprobed']} cell(s) not probed", markup=False)
        first = s.first_failing
        if first:
            out.print(f"  first {s.terms['new']} pair: rustc {first.rustc} + wasm-bindgen {first.bindgen}",
                      markup=False)
            out.print(f"    {first.reason}", markup=False)
            # On an axis that fixes the bug the passing neighbour is the newer release: the first good one.
            fixes = {axis: "first" if s.orientation and s.orientation[axis] == "fixes" and s.terms["new"] == "bad"
                     else "last" for axis in ("rustc", "bindgen")}
            if first.last_good_bindgen:
                out.print(f"  {fixes['bindgen']} {s.terms['old']} on the wasm-bindgen axis: {first.last_good_bindgen} "
                          f"(with rustc {first.rustc})", markup=False)
            if first.not_on_axis:
                out.print(f"  not tested in between: {', '.join(first.not_on_axis)} (yanked or outside the "
                          "axis; --allow-yanked to include yanked releases)", markup=False)
            if first.last_good_rustc:
                out.print(f"  {fixes['rustc']} {s.terms['old']} on the rustc axis: {first.last_good_rustc} "
                          f"(with wasm-bindgen {first.bindgen})", markup=False)
            ev = first.evidence
            if ev.get("target_features") is not None:
                out.print(f"  module target_features: {' '.join(ev['target_features']) or '(none)'}; "
                          f"externref transform: {'yes' if ev.get('externref_transform') else 'no'}", markup=False)
            out.print(f"  reproduce: {first.reproduce}", markup=False)
            for link in first.compare:
                out.print(f"  compare: {link}", markup=False)
            if first.next_step:
                out.print(f"  narrow rustc further: {first.next_step}", markup=False)
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
                  f"building; a single-corner boundary needs at most {s.expected_probes_one_corner}, plus up to 3 "
                  "corner probes that orient the grid)",
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
    log.out().print(table)
