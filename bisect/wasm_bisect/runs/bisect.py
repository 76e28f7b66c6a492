"""The bisect run: grid + oracle -> the pure 2-D search per reference-types setting -> a typed BisectResult.

I/O stays in the oracle (store, builds); this module plans, calls the search, follows up on reference-types,
and (in `execute`) holds the run's lock, resumes an interrupted run and stores the result.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wasm_bisect import search
from wasm_bisect.domain.compat import reference_types_by_default_for, untestable_reason
from wasm_bisect.domain.errors import EndsAlike, UsageError
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, Stage, Terms, ToolchainSpec, Variant, Verdict
from wasm_bisect.domain.options import Mode
from wasm_bisect.domain.reproduce import bisect_rustc_script, compare_links, probe_command, rustc_next_step
from wasm_bisect.domain.versions import bindgen_key
from wasm_bisect.probe import Judge, Oracle, Readiness
from wasm_bisect.probe.reproducer import Reproducer, run_config
from wasm_bisect.runs._events import QUIET, Events
from wasm_bisect.runs._locks import claim_run
from wasm_bisect.runs._lookahead import Together
from wasm_bisect.store import Store
from wasm_bisect.util import fs

__all__ = ["BisectPlan", "BisectResult", "FirstFailing", "SearchResult", "drill_plans", "execute", "given_orientation",
           "restrict", "run"]


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
    orientation: search.Orientation | None = None  # given by --good/--bad; None: the corners decide
    terms: Terms | None = None  # --term-old/--term-new; None: good/bad (broken/fixed when the fix is sought)


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
    next_step: str | None = None  # how to narrow the rustc boundary further (nightlies, cargo-bisect-rustc)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rustc": self.rustc, "bindgen": self.bindgen, "reference_types": self.reference_types,
            "reason": self.reason, "evidence": self.evidence, "last_good_bindgen": self.last_good_bindgen,
            "last_good_rustc": self.last_good_rustc, "reproduce": self.reproduce, "crate_dir": self.crate_dir,
            "compare": list(self.compare)}
        if self.not_on_axis is not None:
            data["not_on_axis"] = list(self.not_on_axis)
        if self.next_step is not None:
            data["next_step"] = self.next_step
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
    orientation: dict[str, Any] | None = None  # per axis introduces/fixes, in words, with both boundaries
    island: dict[str, Any] | None = None  # status "island": the bad box found, what bounds it, what is unknown

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reference_types": self.reference_types, "status": self.status, "message": self.message,
            "orientation": self.orientation, "island": self.island,
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

    mode: Mode
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
            "kind": "bisect", "mode": str(self.mode), "grid": self.grid,
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


def explorer(plan: BisectPlan, rt: ReferenceTypes, costs: search.CostModel | None = None, *,
             alike: Callable[[Sequence[Variant]], bool] | None = None
             ) -> Callable[[Callable[[Variant], Verdict]], Explored]:
    """The search of one reference-types setting and its follow-up as a pure function of an oracle.

    Pure (no store, no builds): the sequential run calls it with the real oracle, -j N replays it to look
    ahead (search.speculate). Plan-time skips are recorded by the caller (`record_plan_skips`). `alike` tells
    whether the corners probed fail the same way (it reads their outcomes: `corners_alike`); it must answer
    False for a cell not probed yet, so a replay with assumed answers goes on.
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

    def corners_alike(cells: Sequence[tuple[str, str]]) -> bool:
        return alike is not None and alike([variant(row_of[r], col_of[c]) for r, c in cells])

    def explore(ask: Callable[[Variant], Verdict]) -> Explored:
        # Corners first: they decide per axis whether newer versions introduce or fix it (--good/--bad say so
        # instead); find-fix only decides what an undecided axis defaults to and, when both axes fix it, that the
        # answer is the first fixed pair.
        frontier = search.oriented_pair(
            rows, cols, lambda r_label, c_label: ask(variant(row_of[r_label], col_of[c_label])),
            find_fix=plan.find_fix, orientation=plan.orientation, untestable=untestable, costs=costs,
            corners_alike=corners_alike, axis_names=("rustc", "wasm-bindgen"))
        reprobes: tuple[search.Reprobe, ...] = ()
        flipped_verdicts: dict[tuple[int, int], Verdict] = {}
        if plan.follow_up and frontier.first_pair is not None and frontier.new_verdict is Verdict.BAD:
            view = view_grid(grid, frontier.orientation)
            reprobes = search.reference_types_plan(frontier)
            for item in reprobes:
                other = flipped(rt, view.rustc[item.row])
                flipped_verdicts[(item.row, item.col)] = ask(view.variant(view.rustc[item.row],
                                                                          view.bindgen[item.col], other))
        return Explored(frontier, reprobes, flipped_verdicts)

    return explore


def view_grid(grid: Grid, orientation: search.Orientation) -> Grid:
    """The grid as the search saw it: an axis that fixes the bug runs newest first (search.Orientation)."""
    return replace(grid, rustc=grid.rustc[::-1] if orientation.rows_mirrored else grid.rustc,
                   bindgen=grid.bindgen[::-1] if orientation.cols_mirrored else grid.bindgen)


def _normalised(reason: str, cell: Variant) -> str:
    """A probe's reason without what names its cell (versions, hashes, paths): equal for one shared failure."""
    text = reason.replace(cell.rustc.version, "<rustc>").replace(cell.bindgen.label(), "<wasm-bindgen>")
    text = re.sub(r"[0-9a-f]{8,}", "<hash>", text)
    return re.sub(r"(?:/[^\s/:'\"]+)+/", "", text).strip()


def corners_alike(oracle: Oracle, cells: Sequence[Variant]) -> bool:
    """Whether the corners probed fail the same way (issue 20's ends check): those that could be tested all
    errors, or all one verdict with one reason (untestable corners beside them change nothing: no corner passed
    either way). False while any of them is unanswered."""
    outcomes = [(oracle.outcomes.get(cell.key), cell) for cell in cells]
    answered = [(o, cell) for o, cell in outcomes if o is not None]
    if not answered or len(answered) < len(outcomes):
        return False
    tested = [(o, cell) for o, cell in answered if o.verdict is not Verdict.SKIP] or answered
    verdicts = {o.verdict for o, _ in tested}
    if verdicts == {Verdict.ERROR}:
        return True
    reasons = {_normalised(o.reason, cell) for o, cell in tested}
    return len(verdicts) == 1 and Verdict.GOOD not in verdicts and len(reasons) == 1


def ends_alike_error(oracle: Oracle, rt: ReferenceTypes, explored: Explored, grid: Grid) -> EndsAlike:
    """The one line for corners that fail alike: the shared failure, and how to fix the check."""
    log = explored.frontier.log
    shown = next((p for p in log if p.verdict is not Verdict.SKIP), log[0])
    outcome = oracle.outcome(grid.variant(grid.rustc[shown.row], grid.bindgen[shown.col], rt))
    skipped = sum(p.verdict is Verdict.SKIP for p in log)
    alike = len(log) - skipped if shown.verdict is not Verdict.SKIP else len(log)
    also = f" ({skipped} more untestable)" if skipped and shown.verdict is not Verdict.SKIP else ""
    return EndsAlike(
        f"{alike} corner(s) of the grid (reference-types {rt}) answered {shown.verdict} the same way{also}, none "
        f"passed: {outcome.reason.strip() or '(no reason given)'}",
        hint="the check cannot tell the ends apart, so no boundary is printed: fix the check if it fails for "
        "another reason (a missing file, a wrong command), name a pair that passes with --good RUSTC@BINDGEN, "
        "or tell the bug from other failures with --signature REGEX")


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
                     if ready.is_warm(grid.variant(r, b, rt)))
    known = frozenset((i, j) for i, r in enumerate(grid.rustc) for j, b in enumerate(grid.bindgen)
                      if answered is not None and answered(grid.variant(r, b, rt)))
    # Build + check seconds from this machine's history (per toolchain, per cell), the constants without one.
    cell_probe = {(i, j): ready.times.probe(grid.variant(r, b, rt))
                  for i, r in enumerate(grid.rustc) for j, b in enumerate(grid.bindgen)}
    return search.CostModel(cli=tuple(cli), toolchain=toolchain, probe=ready.times.cold_probe,
                            warm_probe=ready.times.warm_probe, warm=warm, neighbour_saving=NEIGHBOUR_SAVING,
                            known=known, cell_probe=cell_probe)


def describe_search(plan: BisectPlan, oracle: Oracle, rt: ReferenceTypes, explored: Explored, *,
                    reproducer_args: tuple[str, ...] = ()) -> SearchResult:
    """The typed result of a finished search (its outcomes are in the oracle's memory by now).

    The frontier's cells are in the search's view of the grid (`view_grid`: an axis that fixes the bug runs
    newest first), so everything below reads the view grid; the words say which way each axis went.
    """
    frontier = explored.frontier
    grid = view_grid(plan.grid, frontier.orientation)

    def variant(r: int, c: int, setting: ReferenceTypes = rt) -> Variant:
        return grid.variant(grid.rustc[r], grid.bindgen[c], setting)

    attribution = search.attribute(frontier)
    new_term, old_term = ("fixed", "broken") if frontier.new_verdict is Verdict.GOOD else ("bad", "good")
    if plan.terms is not None:  # the user's words for the verdicts on each side
        other = Verdict.BAD if frontier.new_verdict is Verdict.GOOD else Verdict.GOOD
        new_term, old_term = plan.terms.word(frontier.new_verdict), plan.terms.word(other)
    first: FirstFailing | None = None
    if frontier.first_pair is not None:
        r, c = frontier.first_pair
        cell = variant(r, c)
        outcome = oracle.outcome(cell)
        last_good_bindgen = grid.bindgen[c - 1].label() if c > 0 else None
        last_good_rustc = str(grid.rustc[r - 1]) if r > 0 and frontier.staircase[r - 1].lo > c else None
        first = FirstFailing(
            rustc=str(grid.rustc[r]), bindgen=grid.bindgen[c].label(), reference_types=str(rt), reason=outcome.reason,
            evidence={k: outcome.evidence.get(k) for k in ("target_features", "externref_transform", "layers")},
            last_good_bindgen=last_good_bindgen, last_good_rustc=last_good_rustc,
            reproduce=probe_command(cell, reproducer=reproducer_args or None), crate_dir=outcome.crate_dir,
            compare=tuple(compare_links(
                *_older_first(grid.bindgen, c, BindgenSource.label, frontier.orientation.cols_mirrored),
                *_older_first(grid.rustc, r, str, frontier.orientation.rows_mirrored))),
            next_step=_next_step(grid, r, frontier.orientation.rows_mirrored, cell, crate_dir=outcome.crate_dir,
                                 reproducer_args=reproducer_args) if last_good_rustc else None)
    follow_up = None
    if explored.reprobes:
        follow_up = _follow_up(grid, oracle, explored, rt, variant)
    rows = len(grid.rustc)
    cols = len(grid.bindgen)
    island = frontier.island
    return SearchResult(
        reference_types=str(rt), status=str(frontier.status),
        message=_describe(frontier.message, new_term=new_term, terms=plan.terms),
        probes=frontier.probes, filtered=frontier.filtered, cells=rows * cols,
        expected_probes_one_corner=expected_probes(rows, cols), first_failing=first,
        candidates=tuple(_cell(grid, r, c) for r, c in frontier.pair_candidates),
        violations=tuple({"good": _cell(grid, *v.good), "bad": _cell(grid, *v.bad)} for v in frontier.violations),
        frontier=tuple(
            {"rustc": str(grid.rustc[f.row]),
             "first_bad": grid.bindgen[f.first_bad].label() if f.first_bad is not None else None,
             "candidates": [grid.bindgen[c].label() if c is not None else None for c in f.candidates],
             "certain": f.certain, "bad": _bad_range(plan.grid, frontier, f)}
            for f in frontier.staircase),
        attribution={"kind": str(attribution.kind), "message": attribution.message},
        terms={"old": old_term, "new": new_term}, follow_up=follow_up,
        orientation=describe_orientation(grid, frontier, rt, reproducer_args),
        island=_island_json(plan.grid, island) if island is not None else None)


def _bad_range(grid: Grid, frontier: search.Frontier[str, str], row: search.RowFrontier) -> dict[str, str] | None:
    """The row's bad wasm-bindgen releases as {from, to} in release order (null: none, or not certain). In the
    search's view `first_bad` is where the new side starts; with wasm-bindgen fixing the bug, or the new side
    being "fixed", the bad ones are the older releases: this says which, for reports that draw the grid."""
    if not row.certain:
        return None
    o, n_cols = frontier.orientation, len(grid.bindgen)
    new = {n_cols - 1 - j if o.cols_mirrored else j for j in range(row.hi, n_cols)}
    bad = sorted(new if frontier.new_verdict is Verdict.BAD else set(range(n_cols)) - new)
    return {"from": grid.bindgen[bad[0]].label(), "to": grid.bindgen[bad[-1]].label()} if bad else None


def _older_first(axis: Sequence[Any], i: int, label: Callable[[Any], str], mirrored: bool
                 ) -> tuple[str | None, str]:
    """(passing neighbour, pair) on one axis of the view, as (older, newer) release for compare links."""
    if i == 0:
        return None, label(axis[i])
    older, newer = (axis[i], axis[i - 1]) if mirrored else (axis[i - 1], axis[i])
    return label(older), label(newer)


def _short(spec: ToolchainSpec) -> str:
    return spec.version if spec.provider != "path" else str(spec)


def describe_orientation(grid: Grid, frontier: search.Frontier[str, str], rt: ReferenceTypes,
                         reproducer_args: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Which way each axis moves the bug, in words, with last good / first bad on each axis, the reproduce
    commands of the cells on both sides of each boundary and their compare link. `grid` is the view grid.
    None when the evidence rests on no boundary (no pair passed, every corner alike, an island)."""
    o = frontier.orientation
    if frontier.status not in (search.Status.FOUND, search.Status.RANGE):
        return None
    data: dict[str, Any] = {"rustc": str(o.rustc), "bindgen": str(o.bindgen), "name": o.name,
                            "decided_by": o.decided_by, "boundaries": [], "summary": ""}
    if frontier.first_pair is None:
        data["summary"] = f"rustc {o.rustc} it, wasm-bindgen {o.bindgen} it; untestable cells hide the boundary"
        return data
    r, c = frontier.first_pair
    fixed_view = o.new_verdict is Verdict.GOOD
    rustc_op = ">=" if fixed_view or not o.rows_mirrored else "<="
    bindgen_op = ">=" if fixed_view or not o.cols_mirrored else "<="
    words: list[str] = []

    def boundary(axis: str, change: search.Change, first: Any, neighbour: Any, *, with_: str,
                 cell: tuple[int, int], other: tuple[int, int], mirrored: bool) -> None:
        # The pair is on the new side of the view; in a BAD view it fails, in the find-fix view it passes.
        bad_cell, good_cell = (other, cell) if fixed_view else (cell, other)
        bad_item, good_item = (neighbour, first) if fixed_view else (first, neighbour)
        named = bad_item if change is search.Change.INTRODUCES else good_item
        label = (lambda x: x.label()) if axis == "wasm-bindgen" else str
        short = (lambda x: x.label()) if axis == "wasm-bindgen" else _short
        older, newer = (first, neighbour) if mirrored else (neighbour, first)
        links = compare_links(label(older), label(newer), None, label(newer)) if axis == "wasm-bindgen" else \
            compare_links(None, "", label(older), label(newer))
        words.append(f"{axis} {short(named)} {change} it (with {with_})")
        data["boundaries"].append({
            "axis": axis, "change": str(change), "version": label(named), "good": label(good_item),
            "bad": label(bad_item), "with": with_,
            "reproduce": {"good": probe_command(grid.variant(grid.rustc[good_cell[0]], grid.bindgen[good_cell[1]], rt),
                                                reproducer=reproducer_args or None),
                          "bad": probe_command(grid.variant(grid.rustc[bad_cell[0]], grid.bindgen[bad_cell[1]], rt),
                                               reproducer=reproducer_args or None)},
            "compare": links[0] if links else None})

    if r > 0 and frontier.staircase[r - 1].lo > c:
        boundary("rustc", o.rustc, grid.rustc[r], grid.rustc[r - 1],
                 with_=f"wasm-bindgen {bindgen_op} {grid.bindgen[c].label()}", cell=(r, c), other=(r - 1, c),
                 mirrored=o.rows_mirrored)
    if c > 0 and frontier.staircase[r].lo >= c:
        boundary("wasm-bindgen", o.bindgen, grid.bindgen[c], grid.bindgen[c - 1],
                 with_=f"rustc {rustc_op} {_short(grid.rustc[r])}", cell=(r, c), other=(r, c - 1),
                 mirrored=o.cols_mirrored)
    data["summary"] = "; ".join(words) or (
        f"rustc {o.rustc} it, wasm-bindgen {o.bindgen} it; the boundary lies at the grid's edge")
    return data


def _island_json(grid: Grid, island: search.Island) -> dict[str, Any]:
    (r1, r2), (c1, c2) = island.rows, island.cols
    return {"box": {"rustc": [str(grid.rustc[r1]), str(grid.rustc[r2])],
                    "bindgen": [grid.bindgen[c1].label(), grid.bindgen[c2].label()]},
            "seed": _cell(grid, *island.seed), "bounds": [_cell(grid, *cell) for cell in island.bounds],
            "open_edges": [_cell(grid, *cell) for cell in island.open_edges],
            "outside_bad": [_cell(grid, *cell) for cell in island.outside_bad], "unprobed": island.unprobed}


def _next_step(grid: Grid, r: int, mirrored: bool, cell: Variant, *, crate_dir: str | None,
               reproducer_args: tuple[str, ...]) -> str | None:
    """How to narrow the rustc boundary further. Between adjacent nightlies that is cargo-bisect-rustc, handed a
    script that probes this cell with each toolchain it tries, written beside the cell's work directory."""
    older, newer = _older_first(grid.rustc, r, str, mirrored)
    step = rustc_next_step(older, newer)
    if step is None or not step.startswith("cargo bisect-rustc") or crate_dir is None:
        return step
    script = Path(crate_dir).parent / "bisect-rustc.sh"
    try:
        fs.atomic_write_text(script, bisect_rustc_script(cell, reproducer=reproducer_args or None))
        script.chmod(0o755)
    except OSError:
        return step  # the command still names the range; the script is a convenience
    return rustc_next_step(older, newer, script=str(script))


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


def _describe(message: str, *, new_term: str, terms: Terms | None = None) -> str:
    message = message.replace("failing pair", f"{new_term} pair") if new_term != "bad" else message
    if terms is None:
        return message
    # The search words its messages good/bad (or broken/fixed): the user's terms instead.
    words = {terms.word(Verdict.GOOD): ("good", "fixed"), terms.word(Verdict.BAD): ("bad", "broken")}
    for word, plain in words.items():
        message = re.sub(rf"\b(?:{'|'.join(plain)})\b", word, message)
    return message


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
        return cost_model(plan, rt, readiness or Readiness.look(oracle.store), answered=lambda v: v.key in stored)

    def finished(rt: ReferenceTypes, explored: Explored) -> None:
        if explored.frontier.status is search.Status.ENDS_ALIKE:
            raise ends_alike_error(oracle, rt, explored, grid)
        res = describe_search(plan, oracle, rt, explored, reproducer_args=reproducer_args)
        results[str(rt)] = res
        if on_done:
            on_done(res)

    def alike(cells: Sequence[Variant]) -> bool:
        return corners_alike(oracle, cells)

    if plan.jobs > 1:
        oracle.together = True
        Together(oracle=oracle, searches=[explorer(plan, rt, costs(rt), alike=alike) for rt in settings],
                 jobs=plan.jobs,
                 on_finished=lambda i, explored: finished(settings[i], explored), on_guess=on_guess,
                 prefetch=oracle.prefetch,
                 needs_tools=lambda v: Readiness.look().needs_provisioning(v)).run()
    else:
        for rt in settings:  # each setting's costs are read as it starts: CLIs built by the ones before are cheap
            finished(rt, explorer(plan, rt, costs(rt), alike=alike)(oracle))
    ordered = tuple(results[str(rt)] for rt in settings)
    return BisectResult(
        mode=Mode.FIND_FIX if plan.find_fix else Mode.REGRESSION, grid=grid.identity(), searches=ordered,
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
                lo, hi = sorted((bindgen_key(first.last_good_bindgen), bindgen_key(first.bindgen)))
            except UsageError:  # a git or path source: no releases in between
                searches.append(s)
                continue
            gap = tuple(v for v in known if lo < bindgen_key(v) < hi)
            searches.append(replace(s, first_failing=replace(first, not_on_axis=gap)))
            continue
        searches.append(s)
    return replace(result, searches=tuple(searches))


def restrict(grid: Grid, good: tuple[str, str] | None, bad: tuple[str, str] | None) -> Grid:
    """--good/--bad: the search box runs from the good pair to the bad pair on both axes (on an axis where the
    good pair is the newer one, the bug is fixed along it: `given_orientation`)."""
    (lo_r, hi_r), (lo_b, hi_b) = _box(grid, good, bad)
    return Grid(template=grid.template, rustc=grid.rustc[lo_r:hi_r + 1], bindgen=grid.bindgen[lo_b:hi_b + 1],
                reference_types=grid.reference_types, options=grid.options, params=grid.params,
                runtimes=grid.runtimes)


def given_orientation(grid: Grid, good: tuple[str, str] | None, bad: tuple[str, str] | None, *,
                      find_fix: bool = False) -> search.Orientation | None:
    """The orientation --good/--bad state (None without them: the corners decide). An axis on which the good
    pair is newer than the bad one fixes the bug; with one of them only, or the same version on an axis, that
    axis takes the mode's default (introduces; fixes with --find-fix)."""
    if good is None and bad is None:
        return None
    default = search.Change.FIXES if find_fix else search.Change.INTRODUCES
    if good is None or bad is None:
        return search.Orientation(rustc=default, bindgen=default, decided_by="given")
    good_r, good_b = _index(grid, good, "--good")
    bad_r, bad_b = _index(grid, bad, "--bad")

    def change(g: int, b: int) -> search.Change:
        return default if g == b else search.Change.INTRODUCES if g < b else search.Change.FIXES

    return search.Orientation(rustc=change(good_r, bad_r), bindgen=change(good_b, bad_b), decided_by="given")


def _index(grid: Grid, point: tuple[str, str], what: str) -> tuple[int, int]:
    def index_of(items: Sequence[Any], text: str, axis: str, key: Callable[[Any], str]) -> int:
        for i, item in enumerate(items):
            if key(item) == text or (":" not in text and key(item).split(":")[-1] == text):
                return i
        raise UsageError(f"{what} {axis} {text!r} is not on the grid's axis",
                         hint="choose it from the --rustc/--bindgen lists")

    return (index_of(grid.rustc, point[0], "rustc", str),
            index_of(grid.bindgen, point[1], "wasm-bindgen", BindgenSource.label))


def _box(grid: Grid, good: tuple[str, str] | None, bad: tuple[str, str] | None
         ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Index ranges (rows, cols) of the box between the good and the bad pair (the grid's ends without them)."""
    g = _index(grid, good, "--good") if good else (0, 0)
    b = _index(grid, bad, "--bad") if bad else (len(grid.rustc) - 1, len(grid.bindgen) - 1)
    if good and bad and g == b:
        raise UsageError("--good and --bad name the same pair", hint="the good pair must differ from the bad one")
    return (min(g[0], b[0]), max(g[0], b[0])), (min(g[1], b[1]), max(g[1], b[1]))


def fingerprint(plan: BisectPlan, template: Reproducer, *, judged: bool = False) -> str:
    """What makes two bisect commands the same run (so the second resumes the first); a person's run
    (`--prompt`) is another run than the check's."""
    return plan.grid.fingerprint(template.content_hash, template.check_hash,
                                 "find-fix" if plan.find_fix else "regression", str(plan.repeat), str(plan.threshold),
                                 *(("person",) if judged else ()))


@dataclass(frozen=True, kw_only=True)
class Request:
    """Everything `execute` needs besides the store: the plan, the template and how to name the run."""

    plan: BisectPlan
    template: Reproducer
    command: str
    known_releases: Sequence[str] = field(default_factory=tuple)  # for the "not tested in between" note
    resume_asked: bool = False
    judge: Judge | None = None  # --prompt: a person answers for each cell built (one probe at a time)


def execute(request: Request, store: Store, events: Events = QUIET) -> BisectResult:
    """Run (or resume) the bisect under its run lock and store the result."""
    plan, tmpl = request.plan, request.template
    check_grid(plan.grid)
    grid = plan.grid
    config = {"grid": grid.identity(), "find_fix": plan.find_fix, "repeat": plan.repeat,
              **run_config(tmpl), "judge": "person" if request.judge else "check",
              **({"terms": plan.terms.to_json()} if plan.terms is not None else {})}
    if request.judge is not None and plan.jobs > 1:
        raise UsageError("--prompt asks about one cell at a time", hint="leave out -j/--jobs")
    with claim_run(store, kind="bisect", fingerprint=fingerprint(plan, tmpl, judged=request.judge is not None),
                   command=request.command,
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
                        on_probe=events.on_probe, judge=request.judge,
                        on_stage=(lambda v, s: on_stage(v, s) if s is not Stage.PROVISION else None)
                        if on_stage else None)
        with events.section(f"bisect {tmpl.name}"):
            result = run(plan, oracle, reproducer_args=tmpl.command_args(),
                         on_guess=lambda v: events.progress(f"probing ahead: {v.short()}"))
        result = replace(note_gaps(result, request.known_releases), run_id=claimed.run_id)
        store.finish_run(claimed.run_id, result.to_json())
    return result


def drill_plans(plan: BisectPlan, result: BisectResult,
                rustc_axis: Callable[[str], tuple[ToolchainSpec, ...]]) -> list[tuple[str, BisectPlan | str]]:
    """`--drill nightly`: for each search whose rustc boundary lies between two adjacent stable releases, the
    bisect of the nightlies between them (rustup) at the first failing wasm-bindgen release, in that search's
    reference-types setting; or why there is nothing to drill. The result of a drill names the first bad nightly,
    and between two adjacent nightlies the cargo-bisect-rustc command with its script (`_next_step`)."""
    out: list[tuple[str, BisectPlan | str]] = []
    for found in result.searches:
        first = found.first_failing
        step = first.next_step if first is not None else None
        if first is None or not step or not step.startswith("--rustc rustup:nightly-"):
            out.append((found.reference_types, "no rustc boundary between two adjacent stable releases to drill"))
            continue
        nightlies = rustc_axis(step.split()[1])  # `rustup:nightly-A..nightly-B`
        column = next(b for b in plan.grid.bindgen if b.label() == first.bindgen)
        grid = replace(plan.grid, rustc=nightlies, bindgen=(column,),
                       reference_types=(ReferenceTypes(found.reference_types),))
        out.append((found.reference_types, replace(plan, grid=grid, follow_up=False, orientation=None)))
    return out

