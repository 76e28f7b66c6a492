"""Which axis a failure depends on, and what flipping reference-types at the boundary says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from wasm_bisect.domain.model import Verdict
from wasm_bisect.search.bisection import invert
from wasm_bisect.search.frontier import Cell, Frontier

R = TypeVar("R")
C = TypeVar("C")


class Cause(StrEnum):
    RUSTC = "rustc-only"  # full-width row boundary
    BINDGEN = "wasm-bindgen-only"  # full-height column boundary
    INTERACTION = "interaction"  # a corner or staircase: needs both
    EVERYWHERE = "everywhere"  # every pair fails
    NONE = "none"  # no pair fails
    UNKNOWN = "unknown"  # untestable cells leave several of the above open


@dataclass(frozen=True, kw_only=True)
class Attribution:
    kind: Cause
    possible: frozenset[Cause]
    first_row: int | None  # RUSTC: the first failing row
    first_col: int | None  # BINDGEN: the first failing column
    message: str


def attribute(
    frontier: Frontier[R, C], *, axis_names: tuple[str, str] = ("rustc", "wasm-bindgen")
) -> Attribution:
    """Which axis the failure depends on, from the staircase (run the search with mode="full")."""
    n_rows, n_cols = len(frontier.rows), len(frontier.cols)
    ranges = [(f.lo, f.hi) for f in frontier.staircase]  # f(r) in [lo, hi]; n_cols means "none"
    possible: set[Cause] = set()
    special = 0
    if all(hi == n_cols for _, hi in ranges):
        possible.add(Cause.NONE)
        special += 1
    if all(lo == 0 for lo, _ in ranges):
        possible.add(Cause.EVERYWHERE)
        special += 1
    rustc_rows = [
        r0 for r0 in range(1, n_rows)
        if all(hi == n_cols for _, hi in ranges[:r0]) and all(lo == 0 for lo, _ in ranges[r0:])
    ]
    if rustc_rows:
        possible.add(Cause.RUSTC)
        special += len(rustc_rows)
    bindgen_cols = [c for c in range(1, n_cols) if all(lo <= c <= hi for lo, hi in ranges)]
    if bindgen_cols:
        possible.add(Cause.BINDGEN)
        special += len(bindgen_cols)
    if _count_staircases(ranges, n_cols) > special:
        possible.add(Cause.INTERACTION)
    row_name, col_name = axis_names
    new = frontier.new_term
    kind = next(iter(possible)) if len(possible) == 1 else Cause.UNKNOWN
    first_row = rustc_rows[0] if kind is Cause.RUSTC else None
    first_col = bindgen_cols[0] if kind is Cause.BINDGEN else None
    # A mirrored axis (it fixes the bug: search.Orientation) runs newest first, so "from X on" means "X and older".
    o = frontier.orientation
    row_on, col_on = ("and older" if o.rows_mirrored else "on"), ("and older" if o.cols_mirrored else "on")
    row_ge, col_ge = ("<=" if o.rows_mirrored else ">="), ("<=" if o.cols_mirrored else ">=")
    if kind is Cause.RUSTC and first_row is not None:
        message = (f"depends on {row_name} only: every pair is {new} from {row_name} "
                   f"{frontier.rows[first_row]} {row_on}, with every {col_name} in the grid")
    elif kind is Cause.BINDGEN and first_col is not None:
        message = (f"depends on {col_name} only: every pair is {new} from {col_name} "
                   f"{frontier.cols[first_col]} {col_on}, with every {row_name} in the grid")
    elif kind is Cause.INTERACTION:
        steps = ", ".join(f"{row_name} {row_ge} {frontier.rows[r]} with {col_name} {col_ge} {frontier.cols[c]}"
                          for r, c in frontier.corners)
        message = f"needs both axes: {new} for {steps}" if steps else "needs both axes"
    elif kind is Cause.EVERYWHERE:
        message = f"every pair is {new}: the grid does not contain the boundary"
    elif kind is Cause.NONE:
        message = f"no pair is {new}"
    else:
        message = "cannot tell: untestable cells leave " + " or ".join(sorted(possible)) + " open"
    if frontier.violations:
        message += " (but the evidence is not monotone)"
    return Attribution(kind=kind, possible=frozenset(possible), first_row=first_row, first_col=first_col,
                       message=message)


def _count_staircases(ranges: Sequence[tuple[int, int]], n_cols: int) -> int:
    """Non-increasing f with lo <= f(r) <= hi for every row (exact integers)."""
    ways = [0] * n_cols + [1]  # ways[v]: staircases of the rows so far ending at f = v; row -1 is clean
    for lo, hi in ranges:
        suffix, new = 0, [0] * (n_cols + 1)
        for v in range(n_cols, -1, -1):
            suffix += ways[v]
            new[v] = suffix if lo <= v <= hi else 0
        ways = new
    return sum(ways)


# --- reference-types follow-up ------------------------------------------------------------------


@dataclass(frozen=True)
class Reprobe:
    """A boundary cell to build again with reference-types flipped, and what it gave before."""

    row: int
    col: int
    baseline: Verdict


def reference_types_plan(frontier: Frontier[R, C], *, corners: int = 1) -> tuple[Reprobe, ...]:
    """The first `corners` minimal failing cells (the first failing pair first) and their passing
    neighbours one step older on each axis: flip reference-types on each and see what changes."""
    staircase = frontier.staircase
    chosen: list[Cell] = []
    if frontier.first_pair is not None:
        chosen.append(frontier.first_pair)
    chosen += [c for c in frontier.corners if c not in chosen]
    plan: list[Reprobe] = []
    new, old = frontier.new_verdict, invert(frontier.new_verdict)  # raw verdicts, also in find-fix mode
    for row, col in chosen[:corners]:
        plan.append(Reprobe(row, col, new))
        if row > 0 and col < staircase[row - 1].lo:
            plan.append(Reprobe(row - 1, col, old))
        if col > 0 and col - 1 < staircase[row].lo:
            plan.append(Reprobe(row, col - 1, old))
    return tuple(dict.fromkeys(plan))


class RefTypes(StrEnum):
    FOLLOWS = "follows"  # flipping swaps every verdict: fails exactly when reference-types is on
    NEEDED = "needed"  # flipping fixes the failing cells, the passing ones stay passing
    TRIGGERS = "triggers"  # flipping breaks the passing cells, the failing ones stay failing
    INDEPENDENT = "independent"  # flipping changes nothing
    MIXED = "mixed"
    INCONCLUSIVE = "inconclusive"  # no flipped build could be tested


@dataclass(frozen=True, kw_only=True)
class RefTypesFinding:
    kind: RefTypes
    fixed: tuple[Cell, ...] = field(default=())  # failing before, passing flipped
    broken: tuple[Cell, ...] = field(default=())  # passing before, failing flipped
    unchanged: tuple[Cell, ...] = field(default=())
    untested: tuple[Cell, ...] = field(default=())  # not re-probed, or untestable when flipped
    message: str = ""


def conclude_reference_types(plan: Sequence[Reprobe], flipped: Mapping[Cell, Verdict]) -> RefTypesFinding:
    """Does the failure follow reference-types? `flipped` maps plan cells to their re-probe verdicts."""
    fixed, broken, unchanged, untested = [], [], [], []
    failing = passing = 0
    for item in plan:
        cell = (item.row, item.col)
        verdict = flipped.get(cell)
        if verdict is None or not verdict.testable:
            untested.append(cell)
            continue
        failing += item.baseline is Verdict.BAD
        passing += item.baseline is Verdict.GOOD
        if verdict is item.baseline:
            unchanged.append(cell)
        elif item.baseline is Verdict.BAD:
            fixed.append(cell)
        else:
            broken.append(cell)
    if not failing and not passing:
        kind, message = RefTypes.INCONCLUSIVE, "no build with reference-types flipped could be tested"
    elif len(fixed) == failing and len(broken) == passing and failing and passing:
        kind = RefTypes.FOLLOWS
        message = "the failure follows reference-types: flipping it swaps pass and fail"
    elif len(fixed) == failing and failing and not broken:
        kind, message = RefTypes.NEEDED, "reference-types is needed: flipping it fixes the failing pairs"
    elif len(broken) == passing and passing and not fixed:
        kind, message = RefTypes.TRIGGERS, "reference-types triggers it: flipping it breaks the passing pairs"
    elif not fixed and not broken:
        kind, message = RefTypes.INDEPENDENT, "the failure does not depend on reference-types"
    else:
        kind, message = RefTypes.MIXED, "flipping reference-types changes some pairs but not others"
    if untested:
        message += f" ({len(untested)} of {len(plan)} re-probes untestable)"
    return RefTypesFinding(kind=kind, fixed=tuple(fixed), broken=tuple(broken), unchanged=tuple(unchanged),
                           untested=tuple(untested), message=message)

