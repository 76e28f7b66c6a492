"""The bisect driver: grid + oracle -> the pure 2-D search per reference-types setting -> a result block.

I/O stays in the oracle (store, builds); this module plans, calls the search, follows up on
reference-types and shapes the result that the CLI prints and the store keeps.
"""

from __future__ import annotations

import math
import shlex
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from . import search
from .errors import UsageError
from .grid import Grid
from .model import BindgenSource, ReferenceTypes, ToolchainSpec, Variant, Verdict
from .probe import Oracle, _plan_skip

BINDGEN_COMPARE = "https://github.com/wasm-bindgen/wasm-bindgen/compare/{a}...{b}"
RUST_COMPARE = "https://github.com/rust-lang/rust/compare/{a}...{b}"
REFERENCE_TYPES_DEFAULT_RUSTC = Version("1.82")


@dataclass(frozen=True, kw_only=True)
class BisectPlan:
    grid: Grid
    find_fix: bool = False
    jobs: int = 1
    allow_yanked: bool = False
    follow_up: bool = True  # re-probe boundary cells with reference-types flipped


def flipped(rt: ReferenceTypes, rustc: ToolchainSpec) -> ReferenceTypes:
    """The reference-types setting that undoes `rt` for this rustc (default means on from 1.82)."""
    if rt is ReferenceTypes.ON:
        return ReferenceTypes.OFF
    if rt is ReferenceTypes.OFF:
        return ReferenceTypes.ON
    if rt is ReferenceTypes.EXTERNREF:
        return ReferenceTypes.DEFAULT
    try:
        new = Version(rustc.version) >= REFERENCE_TYPES_DEFAULT_RUSTC
    except ValueError:
        new = True  # a channel name: recent enough to default to on
    return ReferenceTypes.OFF if new else ReferenceTypes.ON


def expected_probes(n_rows: int, n_cols: int) -> int:
    """The budget for a single-corner boundary: ceil(log2 R) + ceil(log2 W) + 3."""
    return math.ceil(math.log2(max(n_rows, 1))) + math.ceil(math.log2(max(n_cols, 1))) + 3


def _cell(grid: Grid, r: int, c: int) -> dict[str, str]:
    return {"rustc": str(grid.rustc[r]), "bindgen": grid.bindgen[c].label()}


def _compare_links(grid: Grid, cell: tuple[int, int], *, term: str) -> list[str]:
    r, c = cell
    links = []
    if c > 0 and grid.bindgen[c].kind == "crates" and grid.bindgen[c - 1].kind == "crates":
        links.append(BINDGEN_COMPARE.format(a=grid.bindgen[c - 1].version, b=grid.bindgen[c].version))
    if r > 0:
        links.append(RUST_COMPARE.format(a=grid.rustc[r - 1].version, b=grid.rustc[r].version))
    return links


def reproduce_command(grid: Grid, variant: Variant) -> str:
    parts = ["wasm-bisect", "probe", "--template", grid.template, "--rustc", str(variant.rustc),
             "--bindgen", variant.bindgen.version, "--reference-types", str(variant.reference_types)]
    for name, value in variant.params:
        parts += ["--param", f"{name}={value}"]
    if variant.options.build_failure != "skip":
        parts += ["--build-failure", variant.options.build_failure]
    return shlex.join(parts)  # parameter values are free text: a pasted command must not run parts of them


def search_one(plan: BisectPlan, oracle: Oracle, rt: ReferenceTypes) -> dict[str, Any]:
    """One 2-D search on one reference-types setting, plus attribution and the reference-types follow-up."""
    grid = plan.grid
    # The search sees version labels, so its messages name versions; indexes map back to the grid.
    rows = [s.version if s.provider != "path" else str(s) for s in grid.rustc]
    cols = [b.label() for b in grid.bindgen]
    row_of = {label: i for i, label in enumerate(rows)}
    col_of = {label: i for i, label in enumerate(cols)}

    def variant(r: int, c: int, setting: ReferenceTypes = rt) -> Variant:
        return grid.variant(grid.rustc[r], grid.bindgen[c], setting)

    def ask(r_label: str, c_label: str) -> Verdict:
        return oracle(variant(row_of[r_label], col_of[c_label]))

    def untestable(r_label: str, c_label: str) -> str | None:
        cell = variant(row_of[r_label], col_of[c_label])
        reason = _plan_skip(cell, allow_yanked=plan.allow_yanked)
        if reason is not None:
            oracle.outcome(cell)  # record the plan-time skip, with its reason, for reports
        return reason

    # Find-fix: the same search with "fixed" (good) as the new side it looks for.
    find = search.first_fixed_pair if plan.find_fix else search.first_failing_pair
    frontier = find(rows, cols, ask, mode="full", untestable=untestable, axis_names=("rustc", "wasm-bindgen"))
    attribution = search.attribute(frontier)
    new_term, old_term = ("fixed", "broken") if plan.find_fix else ("bad", "good")
    result: dict[str, Any] = {
        "reference_types": str(rt),
        "status": str(frontier.status),
        "message": _describe(frontier.message, new_term=new_term),
        "probes": frontier.probes,
        "filtered": frontier.filtered,
        "cells": len(rows) * len(cols),
        "expected_probes_one_corner": expected_probes(len(rows), len(cols)),
        "first_failing": None,
        "candidates": [_cell(grid, r, c) for r, c in frontier.pair_candidates],
        "violations": [{"good": _cell(grid, *v.good), "bad": _cell(grid, *v.bad)} for v in frontier.violations],
        "frontier": [
            {"rustc": str(grid.rustc[f.row]),
             "first_bad": grid.bindgen[f.first_bad].label() if f.first_bad is not None else None,
             "candidates": [grid.bindgen[c].label() if c is not None else None for c in f.candidates],
             "certain": f.certain}
            for f in frontier.staircase
        ],
        "attribution": {"kind": str(attribution.kind), "message": attribution.message},
        "terms": {"old": old_term, "new": new_term},
    }
    if frontier.first_pair is not None:
        r, c = frontier.first_pair
        first = variant(r, c)
        outcome = oracle.outcome(first)
        result["first_failing"] = {
            **_cell(grid, r, c),
            "reference_types": str(rt),
            "reason": outcome.reason,
            "evidence": {k: outcome.evidence.get(k) for k in ("target_features", "externref_transform", "layers")},
            "last_good_bindgen": grid.bindgen[c - 1].label() if c > 0 else None,
            "last_good_rustc": str(grid.rustc[r - 1]) if r > 0 and frontier.staircase[r - 1].lo > c else None,
            "reproduce": reproduce_command(grid, first),
            "crate_dir": outcome.crate_dir,
            "compare": _compare_links(grid, (r, c), term=new_term),
        }
    if plan.follow_up and frontier.first_pair is not None and not plan.find_fix:
        reprobes = search.reference_types_plan(frontier)
        flipped_verdicts: dict[tuple[int, int], Verdict] = {}
        details = []
        for item in reprobes:
            other = flipped(rt, grid.rustc[item.row])
            outcome = oracle.outcome(variant(item.row, item.col, other))
            flipped_verdicts[(item.row, item.col)] = outcome.verdict
            details.append({**_cell(grid, item.row, item.col), "was": str(item.baseline),
                            "reference_types": str(other), "now": str(outcome.verdict)})
        finding = search.conclude_reference_types(reprobes, flipped_verdicts)
        first_pair = frontier.first_pair
        result["reference_types_follow_up"] = {
            "kind": str(finding.kind),
            "message": explain_follow_up(grid, first_pair, reprobes, flipped_verdicts, rt) or finding.message,
            "reprobes": details,
        }
    return result


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


def run(plan: BisectPlan, oracle: Oracle, *, on_done: Callable[[dict[str, Any]], None] | None = None
        ) -> dict[str, Any]:
    """Search every reference-types setting of the grid (concurrently with jobs > 1) and combine."""
    grid = plan.grid
    check_grid(grid)
    settings = list(grid.reference_types)
    results: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def one(rt: ReferenceTypes) -> None:
        res = search_one(plan, oracle, rt)
        with lock:
            results[str(rt)] = res
        if on_done:
            on_done(res)

    if plan.jobs > 1 and len(settings) > 1:
        with ThreadPoolExecutor(max_workers=min(plan.jobs, len(settings))) as pool:
            for future in [pool.submit(one, rt) for rt in settings]:
                future.result()
    else:
        for rt in settings:
            one(rt)
    ordered = [results[str(rt)] for rt in settings]
    return {
        "kind": "bisect",
        "mode": "find-fix" if plan.find_fix else "regression",
        "grid": grid.identity(),
        "searches": ordered,
        "first_failing": next((r["first_failing"] for r in ordered if r["first_failing"]), None),
        "frontier": {r["reference_types"]: r["frontier"] for r in ordered},
        "reference_types_summary": summarize_reference_types(ordered),
        "probes": {"built": oracle.built, "from_store": oracle.cached,
                   "asked": sum(r["probes"] for r in ordered),
                   "cells": grid.size},
    }


def summarize_reference_types(searches: list[dict[str, Any]]) -> str:
    """Compare the searches of several settings: does the failure follow reference-types?"""
    by = {s["reference_types"]: s for s in searches}
    if "default" in by and "on" in by:
        d, o = by["default"], by["on"]
        d_first = (d["first_failing"] or {}).get("rustc"), (d["first_failing"] or {}).get("bindgen")
        o_first = (o["first_failing"] or {}).get("rustc"), (o["first_failing"] or {}).get("bindgen")
        if d_first != o_first and o["first_failing"]:
            return ("turning reference-types on moves the first failing pair from "
                    f"{_pair(d_first)} to {_pair(o_first)}: the failure follows reference-types")
        if d_first == o_first and o["first_failing"]:
            return "the first failing pair is the same with reference-types default and on"
    follow = [s["reference_types_follow_up"] for s in searches if s.get("reference_types_follow_up")]
    return str(follow[0]["message"]) if follow else ""


def _pair(pair: tuple[str | None, str | None]) -> str:
    return "none" if pair[0] is None else f"{pair[0]} + wasm-bindgen {pair[1]}"


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
                reference_types=grid.reference_types, options=grid.options, params=grid.params)
