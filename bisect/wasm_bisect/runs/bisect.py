"""The bisect run: grid + oracle -> the pure 2-D search per reference-types setting -> a typed BisectResult.

I/O stays in the oracle (store, builds); this module plans, calls the search, follows up on reference-types,
and (in `execute`) holds the run's lock, resumes an interrupted run and stores the result.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wasm_bisect import search
from wasm_bisect.domain.compat import reference_types_by_default_for, untestable_reason
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.domain.reproduce import compare_links, probe_command
from wasm_bisect.domain.versions import bindgen_key
from wasm_bisect.probe import Oracle, Readiness
from wasm_bisect.probe.readiness import COLD_PROBE_SECONDS, WARM_PROBE_SECONDS
from wasm_bisect.probe.reproducer import Reproducer, run_config
from wasm_bisect.runs._events import QUIET, Events
from wasm_bisect.runs._locks import claim_run
from wasm_bisect.runs._lookahead import Together
from wasm_bisect.store import Store

__all__ = ["BisectPlan", "BisectResult", "FirstFailing", "SearchResult", "execute", "restrict", "run"]


@dataclass(frozen=True, kw_only=True)
class BisectPlan:
    grid: Grid
    find_fix: bool = False
    jobs: int = 1
    allow_yanked: bool = False
    follow_up: bool = True  # re-probe boundary cells with reference-types flipped
    repeat: int = 1
    threshold: int | None = None
    cost_aware: bool = True  # weigh what each probe costs (same answers; benchmarks switch it off)


@dataclass(frozen=True, kw_only=True)
class FirstFailing:
    """The first failing (or, in find-fix mode, first fixed) pair of one search, with what backs it."""

    rustc: str
    bindgen: str
    reference_types: str
    reason: str
    evidence: dict[str, Any]
    last_good_bindgen: str | None
    last_good_rustc: str | None
    reproduce: str
    crate_dir: str | None
    compare: tuple[str, ...]
    not_on_axis: tuple[str, ...] | None = None  # releases between last good and first bad not on the axis

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rustc": self.rustc, "bindgen": self.bindgen, "reference_types": self.reference_types,
            "reason": self.reason, "evidence": self.evidence, "last_good_bindgen": self.last_good_bindgen,
            "last_good_rustc": self.last_good_rustc, "reproduce": self.reproduce, "crate_dir": self.crate_dir,
            "compare": list(self.compare)}
        if self.not_on_axis is not None:
            data["not_on_axis"] = list(self.not_on_axis)
        return data


@dataclass(frozen=True, kw_only=True)
class FollowUp:
    """The reference-types follow-up: boundary cells re-probed with reference-types flipped."""

    kind: str
    message: str
    reprobes: tuple[dict[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "reprobes": [dict(r) for r in self.reprobes]}


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """One 2-D search (one reference-types setting)."""

    reference_types: str
    status: str
    message: str
    probes: int
    filtered: int
    cells: int
    expected_probes_one_corner: int
    first_failing: FirstFailing | None
    candidates: tuple[dict[str, str], ...]
    violations: tuple[dict[str, dict[str, str]], ...]
    frontier: tuple[dict[str, Any], ...]
    attribution: dict[str, str]
    terms: dict[str, str]
    follow_up: FollowUp | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reference_types": self.reference_types, "status": self.status, "message": self.message,
            "probes": self.probes, "filtered": self.filtered, "cells": self.cells,
            "expected_probes_one_corner": self.expected_probes_one_corner,
            "first_failing": self.first_failing.to_json() if self.first_failing else None,
            "candidates": [dict(c) for c in self.candidates], "violations": [dict(v) for v in self.violations],
            "frontier": [dict(f) for f in self.frontier], "attribution": dict(self.attribution),
            "terms": dict(self.terms)}
        if self.follow_up is not None:
            data["reference_types_follow_up"] = self.follow_up.to_json()
        return data


@dataclass(frozen=True, kw_only=True)
class BisectResult:
    """A whole bisect: one search per reference-types setting, and how they compare."""

    mode: str  # "regression" | "find-fix"
    grid: dict[str, Any]
    searches: tuple[SearchResult, ...]
    reference_types_summary: str
    built: int
    from_store: int
    asked: int
    cells: int
    run_id: str | None = None
    reproducer_args: tuple[str, ...] = ()  # how commands name the reproducer (--template X / --crate DIR ...)

    @property
    def first_failing(self) -> FirstFailing | None:
        return next((s.first_failing for s in self.searches if s.first_failing), None)

    def to_json(self) -> dict[str, Any]:
        first = self.first_failing
        data: dict[str, Any] = {
            "kind": "bisect", "mode": self.mode, "grid": self.grid,
            "searches": [s.to_json() for s in self.searches],
            "first_failing": first.to_json() if first else None,
            "frontier": {s.reference_types: [dict(f) for f in s.frontier] for s in self.searches},
            "reference_types_summary": self.reference_types_summary,
            "probes": {"built": self.built, "from_store": self.from_store, "asked": self.asked, "cells": self.cells},
        }
        if self.run_id is not None:
            data["run_id"] = self.run_id
        return data


def flipped(rt: ReferenceTypes, rustc: ToolchainSpec) -> ReferenceTypes:
    """The reference-types setting that undoes `rt` for this rustc (default means on from 1.82)."""
    if rt is ReferenceTypes.ON:
        return ReferenceTypes.OFF
    if rt is ReferenceTypes.OFF:
        return ReferenceTypes.ON
    if rt is ReferenceTypes.EXTERNREF:
        return ReferenceTypes.DEFAULT
    return ReferenceTypes.OFF if reference_types_by_default_for(rustc.version) else ReferenceTypes.ON


def expected_probes(n_rows: int, n_cols: int) -> int:
    """The budget for a single-corner boundary: ceil(log2 R) + ceil(log2 W) + 3."""
    return math.ceil(math.log2(max(n_rows, 1))) + math.ceil(math.log2(max(n_cols, 1))) + 3


def _cell(grid: Grid, r: int, c: int) -> dict[str, str]:
    return {"rustc": str(grid.rustc[r]), "bindgen": grid.bindgen[c].label()}


@dataclass(frozen=True)
class Explored:
    """What one setting's search found: the frontier, and the reference-types follow-up's answers."""

    frontier: search.Frontier[str, str]
    reprobes: tuple[search.Reprobe, ...]
    flipped: dict[tuple[int, int], Verdict]


def explorer(plan: BisectPlan, rt: ReferenceTypes, costs: search.CostModel | None = None
             ) -> Callable[[Callable[[Variant], Verdict]], Explored]:
    """The search of one reference-types setting and its follow-up as a pure function of an oracle.

    Pure (no store, no builds): the sequential run calls it with the real oracle, -j N replays it to look
    ahead (search.speculate). Plan-time skips are recorded by the caller (`record_plan_skips`).
    """
    grid = plan.grid
    # The search sees version labels, so its messages name versions; indexes map back to the grid.
    rows = [s.version if s.provider != "path" else str(s) for s in grid.rustc]
    cols = [b.label() for b in grid.bindgen]
    row_of = {label: i for i, label in enumerate(rows)}
    col_of = {label: i for i, label in enumerate(cols)}

    def variant(r: int, c: int, setting: ReferenceTypes = rt) -> Variant:
        return grid.variant(grid.rustc[r], grid.bindgen[c], setting)

    # Once per cell, not per replay: -j N replays the search after every answer.
    reasons = {(rows[r], cols[c]): _reason(variant(r, c), allow_yanked=plan.allow_yanked)
               for r in range(len(rows)) for c in range(len(cols))}

    def untestable(r_label: str, c_label: str) -> str | None:
        return reasons[(r_label, c_label)]

    # Find-fix: the same search with "fixed" (good) as the new side it looks for.
    find = search.first_fixed_pair if plan.find_fix else search.first_failing_pair

    def explore(ask: Callable[[Variant], Verdict]) -> Explored:
        frontier = find(rows, cols, lambda r_label, c_label: ask(variant(row_of[r_label], col_of[c_label])),
                        mode="full", untestable=untestable, axis_names=("rustc", "wasm-bindgen"), costs=costs)
        reprobes: tuple[search.Reprobe, ...] = ()
        flipped_verdicts: dict[tuple[int, int], Verdict] = {}
        if plan.follow_up and frontier.first_pair is not None and not plan.find_fix:
            reprobes = search.reference_types_plan(frontier)
            for item in reprobes:
                other = flipped(rt, grid.rustc[item.row])
                flipped_verdicts[(item.row, item.col)] = ask(variant(item.row, item.col, other))
        return Explored(frontier, reprobes, flipped_verdicts)

    return explore


# Share of a CLI build saved when the next release's is built: measured 0.77 for 0.2.98 next to 0.2.99
# (benchmarks/results/toolbuild.json), less for releases that moved their dependencies more, and any search
# gets it (tool builds take the slot of the nearest release). Used as a tie-breaker only: at 0.5 the search
# stepped to neighbours that split the candidates badly and built more CLIs in all (cost_bench: 0.85x cold
# at 0.5, 1.06x at 0.1 and at 0).
NEIGHBOUR_SAVING = 0.1

# The compatibility filter is pure and asked for every cell of every setting by the search and the report.
_reason = functools.lru_cache(maxsize=1 << 16)(untestable_reason)


def record_plan_skips(plan: BisectPlan, oracle: Oracle, rt: ReferenceTypes) -> None:
    """Record every cell the compatibility filter rules out, with its reason, for reports."""
    grid = plan.grid
    for rustc in grid.rustc:
        for bindgen in grid.bindgen:
            cell = grid.variant(rustc, bindgen, rt)
            if _reason(cell, allow_yanked=plan.allow_yanked) is not None:
                oracle.outcome(cell)


def cost_model(plan: BisectPlan, rt: ReferenceTypes, ready: Readiness,
               answered: Callable[[Variant], bool] | None = None) -> search.CostModel:
    """What each cell of the setting's search costs now, in seconds (stored answers, cached CLIs, toolchains,
    warm slots)."""
    grid = plan.grid
    newest = grid.rustc[-1]
    cli = [ready.cli(grid.variant(newest, b, rt)) for b in grid.bindgen]
    # A release next to one whose CLI is built reuses most of its compiled dependencies (tool builds take the
    # target slot of the nearest release): cheaper to build.
    cli = [seconds * (1 - NEIGHBOUR_SAVING) if seconds and 0.0 in cli[max(j - 1, 0):j + 2] else seconds
           for j, seconds in enumerate(cli)]
    toolchain = tuple(ready.toolchain_seconds(grid.variant(r, grid.bindgen[-1], rt)) for r in grid.rustc)
    warm = frozenset((i, j) for i, r in enumerate(grid.rustc) for j, b in enumerate(grid.bindgen)
                     if ready.probe_seconds(grid.variant(r, b, rt)) < COLD_PROBE_SECONDS)
    known = frozenset((i, j) for i, r in enumerate(grid.rustc) for j, b in enumerate(grid.bindgen)
                      if answered is not None and answered(grid.variant(r, b, rt)))
    return search.CostModel(cli=tuple(cli), toolchain=toolchain, probe=COLD_PROBE_SECONDS,
                            warm_probe=WARM_PROBE_SECONDS, warm=warm, neighbour_saving=NEIGHBOUR_SAVING,
                            known=known)


def describe_search(plan: BisectPlan, oracle: Oracle, rt: ReferenceTypes, explored: Explored, *,
                    reproducer_args: tuple[str, ...] = ()) -> SearchResult:
    """The typed result of a finished search (its outcomes are in the oracle's memory by now)."""
    grid = plan.grid
    frontier = explored.frontier

    def variant(r: int, c: int, setting: ReferenceTypes = rt) -> Variant:
        return grid.variant(grid.rustc[r], grid.bindgen[c], setting)

    attribution = search.attribute(frontier)
    new_term, old_term = ("fixed", "broken") if plan.find_fix else ("bad", "good")
    first: FirstFailing | None = None
    if frontier.first_pair is not None:
        r, c = frontier.first_pair
        cell = variant(r, c)
        outcome = oracle.outcome(cell)
        last_good_bindgen = grid.bindgen[c - 1].label() if c > 0 else None
        first = FirstFailing(
            rustc=str(grid.rustc[r]), bindgen=grid.bindgen[c].label(), reference_types=str(rt), reason=outcome.reason,
            evidence={k: outcome.evidence.get(k) for k in ("target_features", "externref_transform", "layers")},
            last_good_bindgen=last_good_bindgen,
            last_good_rustc=str(grid.rustc[r - 1]) if r > 0 and frontier.staircase[r - 1].lo > c else None,
            reproduce=probe_command(cell, reproducer=reproducer_args or None), crate_dir=outcome.crate_dir,
            compare=tuple(compare_links(last_good_bindgen, grid.bindgen[c].label(),
                                        str(grid.rustc[r - 1]) if r > 0 else None, str(grid.rustc[r]))))
    follow_up = None
    if explored.reprobes:
        follow_up = _follow_up(grid, oracle, explored, rt, variant)
    rows = len(grid.rustc)
    cols = len(grid.bindgen)
    return SearchResult(
        reference_types=str(rt), status=str(frontier.status), message=_describe(frontier.message, new_term=new_term),
        probes=frontier.probes, filtered=frontier.filtered, cells=rows * cols,
        expected_probes_one_corner=expected_probes(rows, cols), first_failing=first,
        candidates=tuple(_cell(grid, r, c) for r, c in frontier.pair_candidates),
        violations=tuple({"good": _cell(grid, *v.good), "bad": _cell(grid, *v.bad)} for v in frontier.violations),
        frontier=tuple(
            {"rustc": str(grid.rustc[f.row]),
             "first_bad": grid.bindgen[f.first_bad].label() if f.first_bad is not None else None,
             "candidates": [grid.bindgen[c].label() if c is not None else None for c in f.candidates],
             "certain": f.certain}
            for f in frontier.staircase),
        attribution={"kind": str(attribution.kind), "message": attribution.message},
        terms={"old": old_term, "new": new_term}, follow_up=follow_up)


def _follow_up(grid: Grid, oracle: Oracle, explored: Explored, rt: ReferenceTypes,
               variant: Callable[..., Variant]) -> FollowUp:
    frontier = explored.frontier
    assert frontier.first_pair is not None
    details = []
    for item in explored.reprobes:
        other = flipped(rt, grid.rustc[item.row])
        outcome = oracle.outcome(variant(item.row, item.col, other))
        details.append({**_cell(grid, item.row, item.col), "was": str(item.baseline),
                        "reference_types": str(other), "now": str(outcome.verdict)})
    finding = search.conclude_reference_types(explored.reprobes, explored.flipped)
    message = (explain_follow_up(grid, frontier.first_pair, explored.reprobes, explored.flipped, rt)
               or finding.message)
    return FollowUp(kind=str(finding.kind), message=message, reprobes=tuple(details))


def _describe(message: str, *, new_term: str) -> str:
    return message.replace("failing pair", f"{new_term} pair") if new_term != "bad" else message


def explain_follow_up(
    grid: Grid,
    first_pair: tuple[int, int],
    reprobes: tuple[search.Reprobe, ...],
    flipped_verdicts: dict[tuple[int, int], Verdict],
    rt: ReferenceTypes,
) -> str:
    """Read the re-probes axis by axis: which boundary does reference-types explain, which is real?"""
    r0, c0 = first_pair
    parts: list[str] = []
    for item in reprobes:
        cell = (item.row, item.col)
        now = flipped_verdicts.get(cell)
        other = flipped(rt, grid.rustc[item.row])
        if now is None or not now.testable:
            continue
        if cell == first_pair:
            parts.append(f"the first failing pair passes with reference-types {other}: the failure needs "
                         "reference-types" if now is Verdict.GOOD else
                         f"the first failing pair still fails with reference-types {other}: not a "
                         "reference-types failure")
        elif item.col == c0 and item.row == r0 - 1:
            parts.append(f"the rustc boundary is reference-types: rustc {grid.rustc[item.row].version} fails too "
                         f"with reference-types {other}" if now is Verdict.BAD else
                         f"the rustc boundary is not only reference-types: rustc {grid.rustc[item.row].version} "
                         f"still passes with reference-types {other}")
        elif item.row == r0 and item.col == c0 - 1:
            parts.append(f"the wasm-bindgen boundary is a real change: {grid.bindgen[item.col].label()} passes "
                         f"even with reference-types {other}" if now is Verdict.GOOD else
                         f"the wasm-bindgen boundary is reference-types: {grid.bindgen[item.col].label()} fails "
                         f"too with reference-types {other}")
    return "; ".join(parts)


def check_grid(grid: Grid) -> None:
    """Raise UsageError for a grid no bisect can run on (callers check before starting a run)."""
    if not grid.rustc or not grid.bindgen:
        raise UsageError("the grid is empty after filtering", hint="widen --rustc or --bindgen")
    if len(grid.rustc) * len(grid.bindgen) < 2:
        raise UsageError("a bisect needs at least two versions on some axis",
                         hint="use `wasm-bisect probe` for a single cell")
    if len(grid.runtimes) != 1:
        raise UsageError("a bisect searches one runtime at a time",
                         hint="run one bisect per --runtime, or a matrix over several runtimes")


def run(plan: BisectPlan, oracle: Oracle, *, on_done: Callable[[SearchResult], None] | None = None,
        reproducer_args: tuple[str, ...] = (), readiness: Readiness | None = None,
        on_guess: Callable[[Variant], None] | None = None) -> BisectResult:
    """Search every reference-types setting of the grid and combine.

    With jobs > 1 the settings' searches run together with up to `jobs` probes in flight, looking ahead
    (runs._lookahead; `on_guess` hears of each probe started ahead), and a probe provisions its toolchain,
    CLI and wasm-pack at the same time. Unless `plan.cost_aware` is off, each search weighs what its probes
    cost (`cost_model`, from `readiness`: a fresh look at the caches unless given). None of this changes
    the answers.
    """
    grid = plan.grid
    check_grid(grid)
    settings = list(grid.reference_types)
    for rt in settings:
        record_plan_skips(plan, oracle, rt)
    results: dict[str, SearchResult] = {}
    # Answers stored before this run cost nothing (a re-run builds nothing). Read once, up front: what one
    # setting's search adds on the way must not steer another's, or -j N would choose differently from -j 1.
    stored = frozenset(v.key for rt in settings for r in grid.rustc for b in grid.bindgen
                       if plan.cost_aware and oracle.answered(v := grid.variant(r, b, rt)))

    def costs(rt: ReferenceTypes) -> search.CostModel | None:
        if not plan.cost_aware:
            return None
        return cost_model(plan, rt, readiness or Readiness.look(), answered=lambda v: v.key in stored)

    def finished(rt: ReferenceTypes, explored: Explored) -> None:
        res = describe_search(plan, oracle, rt, explored, reproducer_args=reproducer_args)
        results[str(rt)] = res
        if on_done:
            on_done(res)

    if plan.jobs > 1:
        oracle.together = True
        Together(oracle=oracle, searches=[explorer(plan, rt, costs(rt)) for rt in settings], jobs=plan.jobs,
                 on_finished=lambda i, explored: finished(settings[i], explored), on_guess=on_guess,
                 prefetch=oracle.prefetch,
                 needs_tools=lambda v: Readiness.look().needs_provisioning(v)).run()
    else:
        for rt in settings:  # each setting's costs are read as it starts: CLIs built by the ones before are cheap
            finished(rt, explorer(plan, rt, costs(rt))(oracle))
    ordered = tuple(results[str(rt)] for rt in settings)
    return BisectResult(
        mode="find-fix" if plan.find_fix else "regression", grid=grid.identity(), searches=ordered,
        reference_types_summary=summarize_reference_types(ordered), built=oracle.built, from_store=oracle.cached,
        asked=sum(r.probes for r in ordered), cells=grid.size, reproducer_args=reproducer_args)


def summarize_reference_types(searches: Sequence[SearchResult]) -> str:
    """Compare the searches of several settings: does the failure follow reference-types?"""
    by = {s.reference_types: s for s in searches}
    if "default" in by and "on" in by:
        d, o = by["default"].first_failing, by["on"].first_failing
        d_first = (d.rustc, d.bindgen) if d else (None, None)
        o_first = (o.rustc, o.bindgen) if o else (None, None)
        if d_first != o_first and o:
            return ("turning reference-types on moves the first failing pair from "
                    f"{_pair(d_first)} to {_pair(o_first)}: the failure follows reference-types")
        if d_first == o_first and o:
            return "the first failing pair is the same with reference-types default and on"
    follow = [s.follow_up for s in searches if s.follow_up]
    return follow[0].message if follow else ""


def _pair(pair: tuple[str | None, str | None]) -> str:
    return "none" if pair[0] is None else f"{pair[0]} + wasm-bindgen {pair[1]}"


def note_gaps(result: BisectResult, known: Sequence[str]) -> BisectResult:
    """Name releases between the last good and first bad wasm-bindgen that were not on the axis (yanked)."""
    searches = []
    for s in result.searches:
        first = s.first_failing
        if first and first.last_good_bindgen:
            try:
                lo, hi = bindgen_key(first.last_good_bindgen), bindgen_key(first.bindgen)
            except UsageError:  # a git or path source: no releases in between
                searches.append(s)
                continue
            gap = tuple(v for v in known if lo < bindgen_key(v) < hi)
            searches.append(replace(s, first_failing=replace(first, not_on_axis=gap)))
            continue
        searches.append(s)
    return replace(result, searches=tuple(searches))


def restrict(grid: Grid, good: tuple[str, str] | None, bad: tuple[str, str] | None) -> Grid:
    """--good/--bad: the search box runs from the good pair to the bad pair on both axes."""
    rustc = list(grid.rustc)
    bindgen = list(grid.bindgen)

    def index_of(items: list[Any], text: str, what: str, key: Callable[[Any], str]) -> int:
        for i, item in enumerate(items):
            if key(item) == text or (":" not in text and key(item).split(":")[-1] == text):
                return i
        raise UsageError(f"{what} {text!r} is not on the grid's axis",
                         hint="choose it from the --rustc/--bindgen lists")

    lo_r, lo_b, hi_r, hi_b = 0, 0, len(rustc) - 1, len(bindgen) - 1
    if good:
        lo_r = index_of(rustc, good[0], "--good rustc", str)
        lo_b = index_of(bindgen, good[1], "--good wasm-bindgen", BindgenSource.label)
    if bad:
        hi_r = index_of(rustc, bad[0], "--bad rustc", str)
        hi_b = index_of(bindgen, bad[1], "--bad wasm-bindgen", BindgenSource.label)
    if lo_r > hi_r or lo_b > hi_b:
        raise UsageError("--good is newer than --bad on some axis", hint="the good pair must be the older one")
    return Grid(template=grid.template, rustc=tuple(rustc[lo_r:hi_r + 1]), bindgen=tuple(bindgen[lo_b:hi_b + 1]),
                reference_types=grid.reference_types, options=grid.options, params=grid.params,
                runtimes=grid.runtimes)


def fingerprint(plan: BisectPlan, template: Reproducer) -> str:
    """What makes two bisect commands the same run (so the second resumes the first)."""
    return plan.grid.fingerprint(template.content_hash, template.check_hash,
                                 "find-fix" if plan.find_fix else "regression", str(plan.repeat), str(plan.threshold))


@dataclass(frozen=True, kw_only=True)
class Request:
    """Everything `execute` needs besides the store: the plan, the template and how to name the run."""

    plan: BisectPlan
    template: Reproducer
    command: str
    known_releases: Sequence[str] = field(default_factory=tuple)  # for the "not tested in between" note
    resume_asked: bool = False


def execute(request: Request, store: Store, events: Events = QUIET) -> BisectResult:
    """Run (or resume) the bisect under its run lock and store the result."""
    plan, tmpl = request.plan, request.template
    check_grid(plan.grid)
    grid = plan.grid
    config = {"grid": grid.identity(), "find_fix": plan.find_fix, "repeat": plan.repeat,
              **run_config(tmpl)}
    with claim_run(store, kind="bisect", fingerprint=fingerprint(plan, tmpl), command=request.command,
                   config=config, info=events.info) as claimed:
        if request.resume_asked and not claimed.resumed:
            events.info("nothing to resume: starting a new run (finished probes still come from the store)")
        events.info(f"bisect {tmpl.name}: {len(grid.rustc)} rustc x {len(grid.bindgen)} wasm-bindgen x "
                    f"{len(grid.reference_types)} reference-types = {grid.size} cells; a single-corner boundary "
                    f"takes at most {expected_probes(len(grid.rustc), len(grid.bindgen))} probes per setting "
                    f"(run {claimed.run_id})")
        for note in tmpl.notes([s.version for s in grid.rustc]):
            events.info(note)
        on_stage = events.on_stage
        oracle = Oracle(template=tmpl, store=store, run_id=claimed.run_id, allow_yanked=plan.allow_yanked,
                        repeat=plan.repeat, threshold=plan.threshold, progress=events.progress,
                        on_probe=events.on_probe,
                        on_stage=(lambda v, s: on_stage(v, s) if s is not Stage.PROVISION else None)
                        if on_stage else None)
        with events.section(f"bisect {tmpl.name}"):
            result = run(plan, oracle, reproducer_args=tmpl.command_args(),
                         on_guess=lambda v: events.progress(f"probing ahead: {v.short()}"))
        result = replace(note_gaps(result, request.known_releases), run_id=claimed.run_id)
        store.finish_run(claimed.run_id, result.to_json())
    return result


def fingerprint_of(*parts: object) -> str:
    """A short stable hash of JSON-able parts (run identities of verify and bisect-commits)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
