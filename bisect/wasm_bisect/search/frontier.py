"""2-D search over rustc x wasm-bindgen: the staircase of first bad columns and the first failing pair."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Generic, Literal, TypeVar

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Verdict
from wasm_bisect.search._orientation import REGRESSION, Island, Orientation
from wasm_bisect.search.bisection import CellProbe, FlakyPoint, Status, invert, median
from wasm_bisect.search.costs import CostModel, cheapest_split

R = TypeVar("R")
C = TypeVar("C")
Cell = tuple[int, int]
Order = Literal["bindgen", "rustc"]
Mode = Literal["pair", "full"]
CORNER_WEIGHT = 0.25  # prior weight per staircase corner in the greedy phase (tuned with the benchmark)


@dataclass(frozen=True)
class Violation:
    """`good` was probed good although it dominates the probed bad `bad` (newer or equal on both axes).
    In find-fix mode "good" and "bad" stand for the old and the new side (broken and fixed)."""

    good: Cell
    bad: Cell


@dataclass(frozen=True, kw_only=True)
class RowFrontier:
    """One row of the staircase: columns < lo are known good; hi is the first known-bad testable
    column (n_cols: none). Certain when lo == hi; otherwise the cells in between are untestable
    (or, in mode="pair", not examined)."""

    row: int
    lo: int
    hi: int
    n_cols: int

    @property
    def certain(self) -> bool:
        return self.lo == self.hi

    @property
    def first_bad(self) -> int | None:
        return self.hi if self.certain and self.hi < self.n_cols else None

    @property
    def candidates(self) -> tuple[int | None, ...]:
        """Columns that may be the row's first bad one; None stands for 'no bad column at all'."""
        cols: tuple[int | None, ...] = tuple(range(self.lo, min(self.hi, self.n_cols - 1) + 1))
        return (*cols, None) if self.hi == self.n_cols else cols


@dataclass(frozen=True, kw_only=True)
class Frontier(Generic[R, C]):
    """The result of a 2-D search; cells are (row, col) indexes into `rows` x `cols`."""

    status: Status
    rows: tuple[R, ...]
    cols: tuple[C, ...]
    mode: Mode
    order: Order
    first_pair: Cell | None  # set only when certain
    pair_candidates: tuple[Cell, ...]
    maybe_none: bool  # the candidates may also be "nothing fails"
    staircase: tuple[RowFrontier, ...]
    complete: bool  # every row's first bad column is certain
    corners: tuple[Cell, ...]  # certain minimal failing cells
    violations: tuple[Violation, ...]
    filtered: int  # cells the `untestable` pre-check ruled out without a probe
    probes: int
    log: tuple[CellProbe, ...]  # the oracle's own verdicts, in probe order
    message: str
    old_term: str = "good"
    new_term: str = "bad"
    new_verdict: Verdict = Verdict.BAD  # GOOD in find-fix mode: the first "failing" pair is the first fixed
    # How the search saw the grid: `rows`, `cols` and every cell above are in this view (mirrored axes run
    # newest first); `Orientation.flip` maps a view cell to the grid's.
    orientation: Orientation = REGRESSION
    island: Island | None = None  # status ISLAND: the bad box found (grid coordinates)

    def __bool__(self) -> bool:
        return self.status is Status.FOUND

    @property
    def untested(self) -> tuple[Cell, ...]:
        """Probed cells that were untestable (SKIP or ERROR)."""
        return tuple((p.row, p.col) for p in self.log if not p.verdict.testable)

    @property
    def errors(self) -> tuple[Cell, ...]:
        return tuple((p.row, p.col) for p in self.log if p.verdict is Verdict.ERROR)


_GOOD, _BAD, _UNKNOWN = "good", "bad", "unknown"


class _Knowledge:
    """Probed cells plus what monotone failure implies: in row r, columns < good_upto[r] are good and
    columns >= bad_from[r] are bad. Each cell is asked at most once."""

    def __init__(
        self,
        n_rows: int,
        n_cols: int,
        ask: Callable[[int, int], Verdict],
        blocked: set[Cell],
        new_verdict: Verdict = Verdict.BAD,
        *,
        costs: CostModel | None = None,
    ) -> None:
        self.n_rows, self.n_cols = n_rows, n_cols
        self.costs = costs  # None: the cost-blind choice (the median, the most even split)
        self.built_cols: set[int] = set()  # what this search's own probes made ready
        self.ready_rows: set[int] = set()
        self.ask = ask
        self.new_verdict = new_verdict  # GOOD in find-fix mode: then "bad" below means "fixed"
        self.blocked = blocked  # untestable: pre-filtered or probed SKIP/ERROR
        self.good_upto = [0] * n_rows
        self.bad_from = [n_cols] * n_rows
        self.answers: dict[Cell, Verdict] = {}
        self.goods: list[Cell] = []
        self.bads: list[Cell] = []
        self.violations: list[Violation] = []
        self.log: list[CellProbe] = []

    def state(self, cell: Cell) -> str:
        row, col = cell
        if col >= self.bad_from[row]:
            return _BAD  # after a violation a cell can be both; calling it bad keeps it out of play
        return _GOOD if col < self.good_upto[row] else _UNKNOWN

    def open(self, cell: Cell) -> bool:
        """Worth probing: not implied by the evidence, not known untestable."""
        return cell not in self.blocked and self.state(cell) == _UNKNOWN

    def probe(self, cell: Cell) -> None:
        row, col = cell
        try:
            raw = self.ask(row, col)
        except FlakyPoint as exc:
            exc.probe_log = tuple(self.log)
            raise
        self.log.append(CellProbe(row, col, raw))  # the log keeps the oracle's own verdicts
        self.built_cols.add(col)
        self.ready_rows.add(row)
        verdict = raw if self.new_verdict is Verdict.BAD else invert(raw)
        self.answers[cell] = verdict
        if verdict is Verdict.GOOD:
            if col >= self.bad_from[row]:
                bad = next(b for b in self.bads if b[0] <= row and b[1] <= col)
                self.violations.append(Violation(good=cell, bad=bad))
            self.goods.append(cell)
            for r in range(row + 1):
                self.good_upto[r] = max(self.good_upto[r], col + 1)
        elif verdict is Verdict.BAD:
            if col < self.good_upto[row]:
                good = next(g for g in self.goods if g[0] >= row and g[1] >= col)
                self.violations.append(Violation(good=good, bad=cell))
            self.bads.append(cell)
            for r in range(row, self.n_rows):
                self.bad_from[r] = min(self.bad_from[r], col)
        else:
            self.blocked.add(cell)

    def line_range(self, cells: Sequence[Cell]) -> tuple[int, int, int]:
        """Along a line on which failure is monotone: (lo, first_bad_any, hi) with cells[:lo] known
        good, cells[first_bad_any] the first known bad, cells[hi] the first known-bad testable one."""
        lo = next((i for i, c in enumerate(cells) if self.state(c) != _GOOD), len(cells))
        bad_any = next((i for i in range(lo, len(cells)) if self.state(cells[i]) == _BAD), len(cells))
        hi = next((i for i in range(bad_any, len(cells)) if cells[i] not in self.blocked
                   and self.state(cells[i]) == _BAD), len(cells))
        return lo, bad_any, hi

    def bisect_line(self, cells: Sequence[Cell]) -> tuple[int, int]:
        """Bisect a line (a row left to right, a column bottom to top) around its untestable cells."""
        while True:
            lo, bad_any, hi = self.line_range(cells)
            candidates = [i for i in range(lo, bad_any) if self.open(cells[i])]
            if not candidates:
                return lo, hi
            reference = cells[median(candidates)]
            # Probing the k-th candidate leaves k+1 places for the first bad cell if it fails, m-k if not.
            m = len(candidates)
            self.probe(self.choose([((k + 1) / (m + 1), cells[i]) for k, i in enumerate(candidates)], reference))

    def choose(self, options: Sequence[tuple[float, Cell]], reference: Cell) -> Cell:
        """The cheapest of the about-equal splits among (share of bad outcomes, cell); `reference` without
        costs."""
        if self.costs is None:
            return reference
        costs = self.costs
        seconds = {cell: costs.seconds(cell, self.built_cols, self.ready_rows) for _, cell in options}
        return cheapest_split(options, reference, seconds)

    def row_frontier(self, row: int) -> RowFrontier:
        lo, _, hi = self.line_range([(row, c) for c in range(self.n_cols)])
        return RowFrontier(row=row, lo=lo, hi=hi, n_cols=self.n_cols)

    def open_cells(self) -> dict[int, list[int]]:
        rows: dict[int, list[int]] = {}
        for row in range(self.n_rows):
            hi = min(self.bad_from[row], self.n_cols)
            cols = [c for c in range(self.good_upto[row], hi) if (row, c) not in self.blocked]
            if cols:
                rows[row] = cols
        return rows

    def greedy_step(self) -> bool:
        """Probe the open cell whose answer splits the consistent staircases most evenly; False when
        nothing is left to probe."""
        open_rows = self.open_cells()
        if not open_rows:
            return False
        shares = _bad_shares(self.good_upto, self.bad_from, self.n_cols, CORNER_WEIGHT, open_rows)
        choices: list[tuple[float, Cell]] = []
        for row, cols in open_rows.items():
            share = shares[row]
            if share is None:  # contradictory evidence: no staircase fits; bisect the row instead
                choices.append((0.5, (row, median(cols))))
            else:
                choices += [(abs(share[col] - 0.5), (row, col)) for col in cols]
        pick = min(choices, key=lambda choice: choice[0])[1]  # ties: the oldest row, then column
        if self.costs is not None:
            pick = self.choose([(0.5 + off, cell) for off, cell in choices], pick)
        self.probe(pick)
        return True


def _bad_shares(
    low: Sequence[int], high: Sequence[int], n_cols: int, corner_weight: float, wanted: Collection[int]
) -> dict[int, list[float] | None]:
    """For each wanted row r and column c, the weighted fraction of the staircases f (non-increasing,
    low[r] <= f(r) <= high[r]) with f(r) <= c, i.e. in which (r, c) is bad. Each corner (a row whose
    f drops) multiplies a staircase's weight by `corner_weight`: below 1, simple boundaries are
    favoured. Rows are rescaled to avoid overflow; None for a row when no staircase fits.

    Loops run over each row's window [low, high] only, which shrinks as evidence accumulates."""
    n_rows, width = len(low), n_cols + 1
    windows = [(low[r], min(high[r], n_cols)) for r in range(n_rows)]
    forward: list[list[float]] = []
    previous, prev_hi = [0.0] * n_cols + [1.0], n_cols  # row -1: f = n_cols (nothing fails)
    for lo, hi in windows:
        row = [0.0] * width
        above = math.fsum(previous[hi + 1 : prev_hi + 1])  # weight of the previous row's f > v
        for v in range(hi, lo - 1, -1):
            row[v] = previous[v] + corner_weight * above
            above += previous[v]
        previous, prev_hi = _normalised(row, lo, hi), max(hi, lo - 1)
        forward.append(previous)
    backward: list[list[float]] = [[]] * n_rows
    following: list[float] | None = None
    next_lo = 0
    for r in range(n_rows - 1, -1, -1):
        lo, hi = windows[r]
        row = [0.0] * width
        if following is None:  # the last row: any f in its window
            row[lo : hi + 1] = [1.0] * max(0, hi - lo + 1)
        else:
            below = math.fsum(following[next_lo:lo])  # weight of the next row's f < v
            for v in range(lo, hi + 1):
                row[v] = following[v] + corner_weight * below
                below += following[v]
        following, next_lo = _normalised(row, lo, hi), min(lo, hi + 1)
        backward[r] = following
    shares: dict[int, list[float] | None] = {}
    for r in wanted:
        lo, hi = windows[r]
        weights = [forward[r][v] * backward[r][v] for v in range(lo, hi + 1)]
        total = sum(weights)
        if total <= 0.0:
            shares[r] = None
            continue
        share, running = [0.0] * n_cols, 0.0
        for v, w in zip(range(lo, hi + 1), weights, strict=True):
            running += w
            if v < n_cols:
                share[v] = running / total
        shares[r] = share
    return shares


def _normalised(row: list[float], lo: int, hi: int) -> list[float]:
    top = max(row[lo : hi + 1], default=0.0)
    if top > 0.0:
        for v in range(lo, hi + 1):
            row[v] /= top
    return row


def first_failing_pair(
    rows: Sequence[R],
    cols: Sequence[C],
    oracle2d: Callable[[R, C], Verdict],
    *,
    mode: Mode = "full",
    order: Order = "bindgen",
    untestable: Callable[[R, C], str | None] | None = None,
    walk_limit: int = 1,
    verify_corners: bool = False,
    axis_names: tuple[str, str] = ("rustc", "wasm-bindgen"),
    new_verdict: Verdict = Verdict.BAD,
    terms: tuple[str, str] | None = None,
    costs: CostModel | None = None,
    seed: Sequence[Cell] = (),
    orientation: Orientation = REGRESSION,
) -> Frontier[R, C]:
    """Search rows (rustc, oldest first) x cols (wasm-bindgen, oldest first) for where failure starts.

    The first failing pair with order="bindgen" (default) is the oldest wasm-bindgen that fails with any
    rustc of the grid, paired with the oldest rustc it fails with: c* = f(last row), r* = the first
    row with f(r) = c*. It is a minimal failing cell (both older neighbours pass) and names the
    wasm-bindgen release that introduced the failure, which the commit stage bisects next. With
    order="rustc" it is the oldest rustc that fails with any wasm-bindgen, paired with the oldest
    wasm-bindgen that fails with it. Both coincide when the boundary is a single corner.

    mode="pair" stops once the first failing pair is known; mode="full" also finds every row's first
    bad column. A certain first failing pair rests on direct evidence: it was probed bad and both older
    neighbours probed good. Other cells are inferred where monotonicity allows; `verify_corners=True`
    also probes the older neighbours of every corner of the frontier, so non-monotone grids show up
    as `violations`. Cells for which `untestable` gives a reason (the compatibility filter) are never
    probed and never reported as failing; neither are cells that answered SKIP or ERROR.

    Find-fix mode: `new_verdict=Verdict.GOOD` (or `first_fixed_pair`) searches where GOOD starts
    instead; `terms` (old, new) name the two sides in messages, ("good", "bad") by default.

    `costs` (mode="full" only): among the probes that split the candidates about equally, take the
    cheapest (a cached CLI, a provisioned toolchain, a warm target slot). The answer is the same: the
    full search runs until no open cell is left, and with monotone failure what it then knows does not
    depend on the order it probed in. Pair mode stops earlier, so it keeps the cost-blind choice.
    """
    n_rows, n_cols = len(rows), len(cols)
    if not n_rows or not n_cols:
        raise UsageError("the grid is empty", hint="give at least one rustc and one wasm-bindgen version")
    if walk_limit < 0:
        raise UsageError("walk_limit must be >= 0")
    if not new_verdict.testable:
        raise UsageError(f"new verdict must be good or bad, not {new_verdict}")
    old_term, new_term = terms or (("good", "bad") if new_verdict is Verdict.BAD else ("broken", "fixed"))
    blocked = {
        (r, c) for r in range(n_rows) for c in range(n_cols)
        if untestable is not None and untestable(rows[r], cols[c])
    }
    filtered = len(blocked)
    if costs is not None and (len(costs.cli) != n_cols or len(costs.toolchain) != n_rows):
        raise UsageError(f"the cost model is for a {len(costs.toolchain)} x {len(costs.cli)} grid, "
                         f"not {n_rows} x {n_cols}")
    know = _Knowledge(n_rows, n_cols, lambda r, c: oracle2d(rows[r], cols[c]), blocked, new_verdict,
                      costs=costs if mode == "full" else None)
    for cell in seed:
        if cell not in know.answers and cell not in blocked:
            know.probe(cell)
    row_name, col_name = axis_names

    def name(cell: Cell) -> str:
        return f"{row_name} {rows[cell[0]]} + {col_name} {cols[cell[1]]}"

    def result(status: Status | None, message: str = "") -> Frontier[R, C]:
        return replace(_frontier(know, rows=rows, cols=cols, mode=mode, order=order, status=status,
                                 message=message, filtered=filtered, name=name, terms=(old_term, new_term)),
                       orientation=orientation)

    # 1. The newest pair must fail (git bisect's "bad" end). The oldest pair's verdict follows from
    # the first failing pair's verified neighbours below, so it costs no probe of its own.
    newest = (n_rows - 1, n_cols - 1)
    if know.open(newest):
        know.probe(newest)
    if know.answers.get(newest) is Verdict.GOOD:
        return result(Status.LAST_NOT_NEW,
                      f"the newest pair {name(newest)} is not {new_term}: it is {old_term}, "
                      f"so no pair is {new_term}")

    # 2.-4. in view coordinates: for order="rustc" the grid is transposed, so one code path serves both.
    if order == "bindgen":
        n_lines, n_along = n_rows, n_cols

        def at(i: int, j: int) -> Cell:
            return (i, j)
    else:
        n_lines, n_along = n_cols, n_rows

        def at(i: int, j: int) -> Cell:
            return (j, i)

    def line(i: int) -> list[Cell]:  # view row i, left to right
        return [at(i, j) for j in range(n_along)]

    def column(j: int, top: int) -> list[Cell]:  # view column j, rows 0..top, bottom to top
        return [at(i, j) for i in range(top + 1)]

    lo1, hi1 = know.bisect_line(line(n_lines - 1))
    anchor: Cell | None = None  # view (first bad row, column) at the last line's first testable failure
    if hi1 < n_along:
        lo2, hi2 = know.bisect_line(column(hi1, n_lines - 1))
        if lo2 == hi2:
            anchor = (hi2, hi1)
    # Where the last line is untestable (columns lo1..hi1-1), the older lines bound where failure starts.
    # Full mode leaves that to the greedy steps below (they weigh every line at once); pair mode bisects
    # over those columns, never walks them: a column that fails in some line makes every column right of
    # it fail there, one that passes makes every column left of it pass. (Walking them one by one cost
    # up to 2 probes per column when the compatibility filter hides most of the newest rustc's row.)
    while mode == "pair":
        stretch = [j for j in range(lo1, min(hi1, n_along)) if any(know.open(c) for c in column(j, n_lines - 1))]
        if not stretch:
            break
        know.bisect_line(column(median(stretch), n_lines - 1))
    if anchor is not None and lo1 == hi1:
        # The pair itself and its older neighbour along the column were probed; the one along the
        # line is only implied by monotonicity. Probe it too, so the answer rests on evidence alone
        # (and a non-monotone grid shows up as a violation here).
        i0, j0 = anchor
        if j0 > 0 and at(i0, j0 - 1) not in know.answers and at(i0, j0 - 1) not in know.blocked:
            know.probe(at(i0, j0 - 1))
        if anchor == (0, 0) and not know.violations:
            return result(Status.FIRST_NOT_OLD,
                          f"the oldest pair {name((0, 0))} is not {old_term}: it is {new_term}, "
                          f"so every pair is {new_term}; start from older versions")

    def newest_state(i: int, j0: int) -> str:
        """The verdict of the newest testable cell of view row i right of column j0: known-untestable
        cells (the compatibility filter) are passed over for free, fresh SKIPs at most twice."""
        misses = 0
        for j in range(n_along - 1, j0, -1):
            cell = at(i, j)
            if cell in know.blocked:
                continue
            if know.open(cell):
                if misses > 2:
                    break
                know.probe(cell)
                if cell in know.blocked:
                    misses += 1
                    continue
            return know.state(cell)
        return _UNKNOWN

    if mode == "full":
        corner = anchor
        for walked in range(walk_limit + 1):
            if corner is None or corner[0] == 0:
                break
            # Verify the corner: is every older line clean? One probe when it is.
            if newest_state(corner[0] - 1, corner[1]) != _BAD or walked == walk_limit:
                break
            # Not a single corner: find the next step of the staircase the same way.
            top = corner[0] - 1
            lo, hi = know.bisect_line(line(top))
            if lo != hi or hi == n_along:
                break
            lo2, hi2 = know.bisect_line(column(hi, top))
            corner = (hi2, hi) if lo2 == hi2 else None
        while know.greedy_step():
            pass
        if verify_corners:
            for row, col in _certain_corners([know.row_frontier(r) for r in range(n_rows)]):
                for cell in ((row - 1, col), (row, col - 1)):
                    if min(cell) >= 0 and cell not in know.answers and cell not in know.blocked:
                        know.probe(cell)
    return result(None)


def first_fixed_pair(
    rows: Sequence[R],
    cols: Sequence[C],
    oracle2d: Callable[[R, C], Verdict],
    *,
    mode: Mode = "full",
    order: Order = "bindgen",
    untestable: Callable[[R, C], str | None] | None = None,
    walk_limit: int = 1,
    verify_corners: bool = False,
    axis_names: tuple[str, str] = ("rustc", "wasm-bindgen"),
    costs: CostModel | None = None,
) -> Frontier[R, C]:
    """Find-fix mode of `first_failing_pair`: where GOOD starts, old side "broken", new side "fixed".
    The oracle answers as usual (BAD = still broken); the probe log keeps its verdicts."""
    return first_failing_pair(
        rows, cols, oracle2d, mode=mode, order=order, untestable=untestable, walk_limit=walk_limit,
        verify_corners=verify_corners, axis_names=axis_names, new_verdict=Verdict.GOOD, costs=costs,
    )


def _frontier(
    know: _Knowledge,
    *,
    rows: Sequence[R],
    cols: Sequence[C],
    mode: Mode,
    order: Order,
    status: Status | None,
    message: str,
    filtered: int,
    name: Callable[[Cell], str],
    terms: tuple[str, str],
) -> Frontier[R, C]:
    old, new = terms
    staircase = tuple(know.row_frontier(r) for r in range(len(rows)))
    candidates, maybe_none = _pair_candidates(know, order)
    first_pair = candidates[0] if len(candidates) == 1 and not maybe_none else None
    corners = _certain_corners(staircase)
    testable = any(p.verdict.testable for p in know.log)
    if status is None:
        if know.violations:
            v = know.violations[0]
            status = Status.NON_MONOTONE
            message = (
                f"non-monotone evidence: {name(v.good)} is {old} but the older {name(v.bad)} is {new} "
                f"({len(know.violations)} such pair(s)); the frontier assumes a monotone change"
            )
        elif first_pair is not None:
            status = Status.FOUND
            message = f"the first {new} pair is {name(first_pair)}"
        elif not testable:
            status = Status.UNTESTABLE
            message = "no pair could be tested"
        else:
            status = Status.RANGE
            span = _span(candidates, name)
            message = (
                f"untestable pairs hide the first {new} pair: it is one of {span}"
                if candidates else f"no pair tested {new}"
            )
            if maybe_none and candidates:
                message += f", or no pair is {new}"
        if status is Status.FOUND and mode == "full":
            uncertain = sum(not f.certain for f in staircase)
            message += f"; {len(corners)} corner(s) on the frontier"
            if uncertain:
                message += f", {uncertain} row(s) with untestable cells at the boundary"
    return Frontier(
        status=status, rows=tuple(rows), cols=tuple(cols), mode=mode, order=order,
        first_pair=first_pair if status in (Status.FOUND, Status.NON_MONOTONE) else None,
        pair_candidates=candidates if status not in (Status.FIRST_NOT_OLD, Status.LAST_NOT_NEW) else (),
        maybe_none=maybe_none, staircase=staircase, complete=all(f.certain for f in staircase),
        corners=corners, violations=tuple(know.violations), filtered=filtered, probes=len(know.log),
        log=tuple(know.log), message=message, old_term=old, new_term=new, new_verdict=know.new_verdict,
    )


def _certain_corners(staircase: Sequence[RowFrontier]) -> tuple[Cell, ...]:
    """Minimal failing cells whose row and the row before are both certain."""
    return tuple(
        (f.row, f.hi) for f in staircase
        if f.first_bad is not None
        and (f.row == 0 or (staircase[f.row - 1].certain and staircase[f.row - 1].hi > f.hi))
    )


def _span(cells: Sequence[Cell], name: Callable[[Cell], str]) -> str:
    if len(cells) <= 3:
        return ", ".join(name(c) for c in cells)
    first, last = min(cells), max(cells)
    return f"{len(cells)} pairs from {name(first)} to {name(last)}"


def _pair_candidates(know: _Knowledge, order: Order) -> tuple[tuple[Cell, ...], bool]:
    """Every cell that may be the first failing pair given the evidence (a superset when untestable
    cells leave gaps), and whether 'nothing fails' is still possible."""
    n_rows, n_cols = know.n_rows, know.n_cols
    if order == "bindgen":
        n_lines, n_along = n_rows, n_cols

        def at(i: int, j: int) -> Cell:
            return (i, j)
    else:
        n_lines, n_along = n_cols, n_rows

        def at(i: int, j: int) -> Cell:
            return (j, i)

    lo1, _, hi1 = know.line_range([at(n_lines - 1, j) for j in range(n_along)])
    cells: list[Cell] = []
    for j in range(lo1, min(hi1, n_along - 1) + 1):
        lo2, _, hi2 = know.line_range([at(i, j) for i in range(n_lines)])
        cells += [at(i, j) for i in range(lo2, min(hi2, n_lines - 1) + 1)]
    return tuple(sorted(set(cells))), hi1 == n_along


# --- attribution ----------------------------------------------------------------------------------

def staircase_floor(n_rows: int, n_cols: int) -> float:
    """log2 of the number of monotone staircases in an n_rows x n_cols grid: the information floor."""
    return math.log2(math.comb(n_rows + n_cols, n_rows))


def evidence_frontier(
    rows: Sequence[R],
    cols: Sequence[C],
    log: Sequence[CellProbe],
    *,
    status: Status,
    message: str,
    blocked: Collection[Cell] = (),
    new_verdict: Verdict = Verdict.BAD,
    orientation: Orientation = REGRESSION,
    island: Island | None = None,
    axis_names: tuple[str, str] = ("rustc", "wasm-bindgen"),
) -> Frontier[R, C]:
    """A result that stops on the evidence so far (the corners, an island): the probes in `log`, in order."""
    answers = {(p.row, p.col): p.verdict for p in log}
    know = _Knowledge(len(rows), len(cols), lambda r, c: answers[(r, c)], set(blocked), new_verdict)
    for p in log:
        know.probe((p.row, p.col))
    terms = ("good", "bad") if new_verdict is Verdict.BAD else ("broken", "fixed")

    def name(cell: Cell) -> str:
        return f"{axis_names[0]} {rows[cell[0]]} + {axis_names[1]} {cols[cell[1]]}"

    result = _frontier(know, rows=rows, cols=cols, mode="full", order="bindgen", status=status, message=message,
                       filtered=len(blocked), name=name, terms=terms)
    return replace(result, first_pair=None, pair_candidates=(), orientation=orientation, island=island)
