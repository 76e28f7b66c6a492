"""The search against simulated grids: fixed cases plus Hypothesis properties (no processes)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Collection, Sequence

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wasm_bisect.domain import compat
from wasm_bisect.domain.errors import SearchAborted, UsageError
from wasm_bisect.domain.model import Verdict
from wasm_bisect.search import (
    Cause,
    CellProbe,
    FlakyPoint,
    Frontier,
    Mode,
    Order,
    RefTypes,
    Reprobe,
    Status,
    Violation,
    attribute,
    conclude_reference_types,
    find_fix,
    first_failing_pair,
    first_fixed_pair,
    invert,
    least_failing,
    reference_types_plan,
    repeat_oracle,
    staircase_floor,
)

Cell = tuple[int, int]
ORDERS: tuple[Order, ...] = ("bindgen", "rustc")
MODES: tuple[Mode, ...] = ("full", "pair")
# The autouse fixture in conftest.py is function-scoped; these tests use none of its state.
# No example database: unit tests write nothing into the checkout.


def examples(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


# --- helpers --------------------------------------------------------------------------------------


class Line:
    """A 1-D oracle over indexes 0..n-1: bad from `first_bad` on (n: never)."""

    def __init__(self, first_bad: int, *, skip: Collection[int] = (), errors: Collection[int] = ()) -> None:
        self.first_bad, self.skip, self.errors = first_bad, set(skip), set(errors)
        self.calls: list[int] = []

    def __call__(self, index: int) -> Verdict:
        self.calls.append(index)
        if index in self.errors:
            return Verdict.ERROR
        if index in self.skip:
            return Verdict.SKIP
        return Verdict.BAD if index >= self.first_bad else Verdict.GOOD


class Grid:
    """A 2-D oracle: row r fails from column f[r] on (n_cols: never), with untestable and flipped cells."""

    def __init__(
        self,
        f: Sequence[int],
        n_cols: int,
        *,
        skip: Collection[Cell] = (),
        errors: Collection[Cell] = (),
        flips: Collection[Cell] = (),
    ) -> None:
        self.f, self.n_cols = list(f), n_cols
        self.skip, self.errors, self.flips = set(skip), set(errors), set(flips)
        self.calls: list[Cell] = []

    def truth(self, r: int, c: int) -> Verdict:
        bad = (c >= self.f[r]) != ((r, c) in self.flips)
        return Verdict.BAD if bad else Verdict.GOOD

    def __call__(self, r: int, c: int) -> Verdict:
        self.calls.append((r, c))
        if (r, c) in self.errors:
            return Verdict.ERROR
        if (r, c) in self.skip:
            return Verdict.SKIP
        return self.truth(r, c)

    @property
    def untestable(self) -> set[Cell]:
        return self.skip | self.errors


def search(
    grid: Grid,
    *,
    mode: Mode = "full",
    order: Order = "bindgen",
    walk_limit: int = 1,
    verify_corners: bool = False,
) -> Frontier[int, int]:
    return first_failing_pair(
        range(len(grid.f)),
        range(grid.n_cols),
        grid,
        mode=mode,
        order=order,
        walk_limit=walk_limit,
        verify_corners=verify_corners,
    )


def true_pair(f: Sequence[int], n_cols: int, order: str) -> Cell | None:
    """The first failing pair by definition (see first_failing_pair's docstring)."""
    if order == "bindgen":
        col = f[-1]
        if col == n_cols:
            return None
        return (min(r for r, v in enumerate(f) if v <= col), col)
    rows = [r for r, v in enumerate(f) if v < n_cols]
    return (rows[0], f[rows[0]]) if rows else None


def corner(n_rows: int, n_cols: int, r0: int, c0: int) -> list[int]:
    return [n_cols if r < r0 else c0 for r in range(n_rows)]


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret


def budget(n_rows: int, n_cols: int) -> int:
    return math.ceil(math.log2(n_rows)) + math.ceil(math.log2(n_cols)) + 3


def random_staircase(n_rows: int, n_cols: int, rng: random.Random) -> list[int]:
    """Uniform over all monotone staircases: a random lattice path."""
    steps = [0] * n_rows + [1] * n_cols
    rng.shuffle(steps)
    f, col = [], n_cols
    for step in steps:
        if step:
            col -= 1
        else:
            f.append(col)
    return f


# --- 1-D: least_failing ---------------------------------------------------------------------------


def test_bisection_finds_first_bad_and_logs_probes() -> None:
    line = Line(37)
    result = least_failing(range(100), line)
    assert result.status is Status.FOUND and result
    assert result.first_new == result.first_bad == 37 and result.last_old == 36
    assert result.candidates == (37,)
    assert result.probes == len(line.calls) == len(set(line.calls)) == len(result.log)
    assert result.probes <= math.ceil(math.log2(100)) + 2
    assert [p.index for p in result.log][:2] == [0, 99]  # both ends first
    assert result.message == "the first bad point is 37 (the last good is 36)"


def test_bisection_endpoint_verdicts_are_results_not_exceptions() -> None:
    first = least_failing(["a", "b", "c"], lambda s: Verdict.BAD)
    assert first.status is Status.FIRST_NOT_OLD and not first
    assert first.message == "the first point a is not good: it is bad"
    assert first.probes == 1
    last = least_failing(["a", "b", "c"], lambda s: Verdict.GOOD)
    assert last.status is Status.LAST_NOT_NEW
    assert last.message == "the last point c is not bad: it is good"


def test_bisection_steps_around_skipped_midpoint_alternating() -> None:
    line = Line(9, skip={5, 6, 4})
    result = least_failing(range(11), line)
    assert result.first_new == 9
    # 0, 10, then the midpoint 5 and its neighbours outward, alternating: 6, 4, then 7 decides.
    assert line.calls[:6] == [0, 10, 5, 6, 4, 7]


def test_bisection_next_to_untestable_points_gives_an_honest_range() -> None:
    line = Line(5, skip={3, 4}, errors={2})
    result = least_failing(range(10), line)
    assert result.status is Status.RANGE and result.first_new is None
    assert result.candidates == (2, 3, 4, 5)
    assert result.skipped == (3, 4)
    assert result.errors == (2,)
    assert "one of 2..5" in result.message and "untestable" in result.message and "errors" in result.message


def test_bisection_untestable_ends() -> None:
    start = least_failing(range(6), Line(2, skip={0, 1}))
    assert start.status is Status.RANGE and start.candidates == (0, 1, 2)
    assert "no point before it tested good" in start.message
    end = least_failing(range(6), Line(6, skip={4, 5}))
    assert end.status is Status.RANGE and end.maybe_none and end.candidates == (4, 5)
    nothing = least_failing(range(3), Line(1, skip={0, 1, 2}))
    assert nothing.status is Status.UNTESTABLE and nothing.maybe_none


def test_bisection_trusts_known_ends_and_checks_arguments() -> None:
    line = Line(6)
    result = least_failing(range(20), line, known_old=3, known_new=9)
    assert result.first_new == 6 and not {3, 9} & set(line.calls)
    with pytest.raises(UsageError):
        least_failing([1], Line(0))
    with pytest.raises(UsageError):
        least_failing(range(5), Line(0), known_old=3, known_new=2)


def test_bisection_untestable_precheck_is_not_a_probe() -> None:
    line = Line(4)
    result = least_failing(range(8), line, untestable=lambda i: "incompatible" if i == 4 else None)
    assert 4 not in line.calls
    assert result.status is Status.RANGE and result.candidates == (4, 5)


def test_find_fix_searches_the_first_fixed_point() -> None:
    line = Line(12)  # bad from 12 on: read backwards, "fixed" is good again
    fixed = find_fix(range(30), lambda i: invert(line(i)))
    assert fixed.first_new == 12 and fixed.new_term == "fixed" and fixed.old_term == "broken"
    assert fixed.log[0].verdict is Verdict.BAD  # the log keeps the oracle's own verdicts
    wrong = find_fix(range(30), lambda i: Verdict.GOOD)
    assert wrong.message.startswith("the first point 0 is not broken")
    assert invert(Verdict.SKIP) is Verdict.SKIP


@examples(1500)
@given(
    n=st.integers(2, 60),
    data=st.data(),
)
def test_bisection_property_answer_or_honest_range(n: int, data: st.DataObject) -> None:
    first_bad = data.draw(st.integers(0, n), label="first_bad")
    untestable = data.draw(st.sets(st.integers(0, n - 1), max_size=n), label="untestable")
    errors = {i for i in untestable if i % 3 == 0}
    line = Line(first_bad, skip=untestable - errors, errors=errors)
    result = least_failing(range(n), line)
    assert len(line.calls) == len(set(line.calls)) == result.probes
    if result.status is Status.FOUND:
        assert result.first_new == first_bad and first_bad not in untestable
    elif result.status is Status.FIRST_NOT_OLD:
        assert first_bad == 0 and 0 not in untestable
    elif result.status is Status.LAST_NOT_NEW:
        assert first_bad == n and n - 1 not in untestable
    elif result.status is Status.UNTESTABLE:
        assert untestable == set(range(n))
    else:
        assert result.status is Status.RANGE
        assert first_bad in result.candidates or (first_bad == n and result.maybe_none)
        # Honest: every candidate but the last known-bad one is untestable.
        assert set(result.candidates[:-1]) <= untestable


@examples(300)
@given(n=st.integers(2, 200), data=st.data())
def test_bisection_probe_count_without_skips(n: int, data: st.DataObject) -> None:
    line = Line(data.draw(st.integers(1, n - 1)))
    result = least_failing(range(n), line)
    assert result.first_new == line.first_bad
    assert result.probes <= 2 + math.ceil(math.log2(n - 1))


# --- 2-D: fixed cases -----------------------------------------------------------------------------


def test_corner_found_with_frontier_and_budget() -> None:
    grid = Grid(corner(5, 40, 2, 17), 40)
    result = search(grid)
    assert result.status is Status.FOUND and result.first_pair == (2, 17)
    assert [f.first_bad for f in result.staircase] == [None, None, 17, 17, 17]
    assert result.complete and result.corners == ((2, 17),) and not result.violations
    assert result.probes == len(set(grid.calls)) <= budget(5, 40)
    assert result.message.startswith("the first bad pair is rustc 2 + wasm-bindgen 17")


@pytest.mark.parametrize("n_rows", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("n_cols", [1, 2, 3, 7, 40, 64, 100])
def test_corner_probe_budget_everywhere(n_rows: int, n_cols: int) -> None:
    """On every corner-shaped boundary: at most ceil(log2 R) + ceil(log2 W) + 3 distinct oracle calls."""
    for r0 in range(n_rows):
        for c0 in [*range(n_cols), n_cols]:
            grid = Grid(corner(n_rows, n_cols, r0, c0), n_cols)
            for mode in ("full", "pair"):
                grid.calls.clear()
                result = search(grid, mode=mode)
                assert len(set(grid.calls)) == len(grid.calls) <= budget(n_rows, n_cols), (r0, c0, mode)
                if c0 < n_cols and (r0, c0) != (0, 0):
                    assert result.first_pair == (r0, c0)
                if mode == "full":
                    assert [f.hi for f in result.staircase] == grid.f


def test_pair_mode_is_cheaper_and_agrees() -> None:
    rng = seeded(7)
    for _ in range(200):
        f = random_staircase(6, 30, rng)
        assume_pair = true_pair(f, 30, "bindgen")
        full, pair = search(Grid(f, 30)), search(Grid(f, 30), mode="pair")
        assert pair.probes <= full.probes
        if full.status is Status.FOUND:
            assert pair.first_pair == full.first_pair == assume_pair


def test_find_fix_mode_in_two_dimensions() -> None:
    # Fixed (good again) from wasm-bindgen 6 on with rustc >= 1, from 9 on with rustc 0: a staircase.
    fixed_from = [9, 6, 6]

    def oracle(r: int, c: int) -> Verdict:
        return Verdict.GOOD if c >= fixed_from[r] else Verdict.BAD

    result = first_fixed_pair(range(3), range(12), oracle)
    assert result.status is Status.FOUND and result.first_pair == (1, 6)
    assert [f.first_bad for f in result.staircase] == [9, 6, 6]  # first *fixed* column per row
    assert result.message == "the first fixed pair is rustc 1 + wasm-bindgen 6; 2 corner(s) on the frontier"
    assert result.log[0].verdict is Verdict.GOOD  # the newest pair, as the oracle said it
    assert (result.old_term, result.new_term, result.new_verdict) == ("broken", "fixed", Verdict.GOOD)
    plan = reference_types_plan(result)
    assert plan[0] == Reprobe(1, 6, Verdict.GOOD) and plan[1].baseline is Verdict.BAD
    never = first_fixed_pair(range(3), range(12), lambda r, c: Verdict.BAD)
    assert never.status is Status.LAST_NOT_NEW
    assert never.message.endswith("is not fixed: it is broken, so no pair is fixed")


def test_order_rustc_is_the_transposed_definition() -> None:
    f = [40, 30, 30, 10, 10]  # rows 1..2 fail from col 30, rows 3..4 from col 10
    assert search(Grid(f, 40)).first_pair == (3, 10)  # oldest wasm-bindgen first
    assert search(Grid(f, 40), order="rustc").first_pair == (1, 30)  # oldest rustc first
    assert search(Grid(f, 40), order="rustc", mode="pair").first_pair == (1, 30)


def test_median_probes_3x40_is_at_least_8x_fewer_than_exhaustive() -> None:
    rng = seeded(3)
    exhaustive = 3 * 40
    full_costs = []
    for _ in range(400):  # single-boundary grids: corners, rustc-only, wasm-bindgen-only, two steps
        kind = rng.choice(["corner", "rustc", "bindgen", "two"])
        r0, c0 = rng.randrange(1, 3), rng.randrange(1, 40)
        f = {
            "corner": corner(3, 40, r0, c0),
            "rustc": [40] * r0 + [0] * (3 - r0),
            "bindgen": [c0] * 3,
            "two": [40, rng.randrange(c0, 40), c0],
        }[kind]
        full_costs.append(search(Grid(f, 40)).probes)
    assert statistics.median(full_costs) * 8 <= exhaustive
    # The first failing pair alone, even on uniformly random staircases.
    pair_costs = [search(Grid(random_staircase(3, 40, rng), 40), mode="pair").probes for _ in range(400)]
    assert statistics.median(pair_costs) * 8 <= exhaustive


def test_uniform_staircases_stay_near_the_information_floor() -> None:
    rng = seeded(11)
    for n_rows, n_cols in [(3, 40), (6, 30), (10, 40)]:
        costs = [search(Grid(random_staircase(n_rows, n_cols, rng), n_cols)).probes for _ in range(60)]
        assert statistics.mean(costs) <= 1.5 * staircase_floor(n_rows, n_cols)


def test_wrong_ends_are_results_not_exceptions() -> None:
    everything = search(Grid([0, 0, 0], 5))
    assert everything.status is Status.FIRST_NOT_OLD and not everything
    assert everything.message.startswith("the oldest pair rustc 0 + wasm-bindgen 0 is not good: it is bad")
    assert everything.first_pair is None and not everything.pair_candidates
    nothing = search(Grid([5, 5, 5], 5))
    assert nothing.status is Status.LAST_NOT_NEW and nothing.probes == 1  # the newest pair first
    assert nothing.message == "the newest pair rustc 2 + wasm-bindgen 4 is not bad: it is good, so no pair is bad"
    assert [(f.certain, f.first_bad) for f in nothing.staircase] == [(True, None)] * 3


def test_skipped_cells_are_never_blamed() -> None:
    # Row 2's boundary cell is untestable: its first bad column is a range, never the skipped cell.
    grid = Grid(corner(4, 20, 2, 8), 20, skip={(2, 8)})
    result = search(grid)
    row = result.staircase[2]
    assert not row.certain and row.candidates == (8, 9)
    assert result.first_pair == (2, 8) or (2, 8) in result.pair_candidates
    assert (2, 8) not in {(f.row, f.first_bad) for f in result.staircase}
    last_row_gap = search(Grid(corner(4, 20, 2, 8), 20, skip={(3, 8), (3, 7)}))
    assert last_row_gap.status is Status.RANGE
    assert (2, 8) in last_row_gap.pair_candidates
    assert "untestable pairs hide the first bad pair" in last_row_gap.message


def test_untestable_precheck_cells_are_not_probed() -> None:
    grid = Grid(corner(4, 20, 2, 8), 20)
    blocked = {(r, c) for r in (0, 1) for c in range(16, 20)}  # old rustc cannot build new wasm-bindgen
    result = first_failing_pair(
        range(4), range(20), grid, untestable=lambda r, c: "too new" if (r, c) in blocked else None
    )
    assert not blocked & set(grid.calls)
    assert result.filtered == len(blocked)
    assert result.first_pair == (2, 8)
    assert result.staircase[0].candidates == result.staircase[1].candidates == (16, 17, 18, 19, None)
    assert result.status is Status.FOUND and not result.complete


def test_errors_are_reported_apart_from_skips() -> None:
    grid = Grid(corner(3, 10, 1, 4), 10, errors={(2, 4)}, skip={(2, 3)})
    result = search(grid)
    assert (2, 4) in result.errors and (2, 4) in result.untested
    assert (2, 3) not in result.errors


def test_realistic_compat_grid() -> None:
    rows = ["1.63.0", "1.70.0", "1.77.0", "1.82.0", "1.86.0", "1.96.0"]
    cols = [f"0.2.{n}" for n in range(80, 121) if n not in (88, 94, 109, 110, 111, 119)]

    def oracle(rustc: str, bindgen: str) -> Verdict:
        assert compat.incompatibility(rustc, bindgen) is None, "the pre-filter lets nothing through"
        fails = rows.index(rustc) >= 3 and int(bindgen.split(".")[2]) >= 93
        return Verdict.BAD if fails else Verdict.GOOD

    result = first_failing_pair(rows, cols, oracle, untestable=compat.incompatibility)
    assert result.status is Status.FOUND and result.first_pair is not None
    row, col = result.first_pair
    assert (rows[row], cols[col]) == ("1.82.0", "0.2.93")
    assert result.filtered > 0
    # 1.77 passes with the newest wasm-bindgen, so the older rustc rows need no probes there.
    assert [f.first_bad for f in result.staircase[:3]] == [None, None, None]
    assert result.probes <= budget(len(rows), len(cols))
    verdict = attribute(result)
    assert verdict.kind is Cause.INTERACTION
    assert "rustc >= 1.82.0 with wasm-bindgen >= 0.2.93" in verdict.message


# --- 2-D: properties ------------------------------------------------------------------------------


@st.composite
def monotone_grids(draw: st.DrawFn, max_rows: int = 6, max_cols: int = 24) -> tuple[list[int], int]:
    n_rows, n_cols = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    shape = draw(st.sampled_from(["corner", "staircase", "rustc", "bindgen", "none", "everywhere"]))
    if shape == "corner":
        f = corner(n_rows, n_cols, draw(st.integers(0, n_rows - 1)), draw(st.integers(0, n_cols)))
    elif shape == "staircase":
        f = sorted(draw(st.lists(st.integers(0, n_cols), min_size=n_rows, max_size=n_rows)), reverse=True)
    elif shape == "rustc":
        r0 = draw(st.integers(0, n_rows))
        f = [n_cols] * r0 + [0] * (n_rows - r0)
    elif shape == "bindgen":
        f = [draw(st.integers(0, n_cols))] * n_rows
    else:
        f = [n_cols if shape == "none" else 0] * n_rows
    return f, n_cols


@st.composite
def untestable_cells(draw: st.DrawFn, n_rows: int, n_cols: int) -> set[Cell]:
    cells = st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_cols - 1))
    scattered = draw(st.sets(cells, max_size=max(1, n_rows * n_cols // 4)))
    if draw(st.booleans()):  # a compat-like rectangle: old rustc x new wasm-bindgen, or the reverse
        r, c = draw(cells)
        region = {(i, j) for i in range(r + 1) for j in range(c, n_cols)}
        if draw(st.booleans()):
            region = {(i, j) for i in range(r, n_rows) for j in range(c + 1)}
        scattered |= region
    return scattered


def check_frontier(
    grid: Grid, result: Frontier[int, int], *, order: Order, mode: Mode, prefiltered: Collection[Cell] = ()
) -> None:
    """The answer is the truth, or an honest range containing it; cells known to be untestable
    (answered SKIP/ERROR or ruled out up front) are never blamed."""
    f, n_cols, untestable = grid.f, grid.n_cols, grid.untestable
    known_untestable = {(p.row, p.col) for p in result.log if not p.verdict.testable} | set(prefiltered)
    assert len(grid.calls) == len(set(grid.calls)) == result.probes == len(result.log)
    assert not result.violations
    n_rows = len(f)
    if result.status is Status.FIRST_NOT_OLD:
        assert f[0] == 0 and (0, 0) not in untestable
    if result.status is Status.LAST_NOT_NEW:
        assert f[-1] == n_cols and (n_rows - 1, n_cols - 1) not in untestable
    for row in result.staircase:
        truth = f[row.row]
        assert row.lo <= truth <= row.hi
        if row.certain:
            assert truth == row.lo
        if row.first_bad is not None:
            assert (row.row, row.first_bad) not in known_untestable
        if mode == "full" and result.status not in (Status.FIRST_NOT_OLD, Status.LAST_NOT_NEW):
            assert {(row.row, c) for c in range(row.lo, row.hi)} <= known_untestable  # the gap: all skips
    if result.status in (Status.FIRST_NOT_OLD, Status.LAST_NOT_NEW):
        return
    pair = true_pair(f, n_cols, order)
    if result.status is Status.FOUND:
        assert result.first_pair == pair and pair not in untestable
    elif result.status is Status.RANGE:
        assert pair in result.pair_candidates or (pair is None and result.maybe_none)
    else:
        assert result.status is Status.UNTESTABLE
        assert {(p.row, p.col) for p in result.log} <= untestable
    if not untestable and mode == "full":
        assert result.complete and [r.hi for r in result.staircase] == f


@examples(2500)
@given(
    grid=monotone_grids(),
    order=st.sampled_from(ORDERS),
    mode=st.sampled_from(MODES),
    walk_limit=st.integers(0, 3),
)
def test_frontier_property_without_untestable_cells(
    grid: tuple[list[int], int], order: Order, mode: Mode, walk_limit: int
) -> None:
    f, n_cols = grid
    oracle = Grid(f, n_cols)
    result = search(oracle, order=order, mode=mode, walk_limit=walk_limit)
    check_frontier(oracle, result, order=order, mode=mode)
    if result.status not in (Status.FIRST_NOT_OLD, Status.LAST_NOT_NEW):
        assert result.status is Status.FOUND
    if mode == "full" and len(set(f)) <= 2 and (f[0] == n_cols or f[-1] == f[0]):
        assert result.probes <= budget(len(f), n_cols)  # single corners keep the budget


@examples(2000)
@given(
    grid=monotone_grids(),
    order=st.sampled_from(ORDERS),
    mode=st.sampled_from(MODES),
    data=st.data(),
)
def test_frontier_property_with_untestable_cells(
    grid: tuple[list[int], int], order: Order, mode: Mode, data: st.DataObject
) -> None:
    f, n_cols = grid
    cells = data.draw(untestable_cells(len(f), n_cols), label="untestable")
    errors = {c for c in cells if (c[0] + c[1]) % 4 == 0}
    prefiltered: set[Cell] = data.draw(st.sets(st.sampled_from(sorted(cells))) if cells else st.just(set()))
    oracle = Grid(f, n_cols, skip=cells - errors, errors=errors)
    result = first_failing_pair(
        range(len(f)),
        range(n_cols),
        oracle,
        order=order,
        mode=mode,
        untestable=lambda r, c: "compat" if (r, c) in prefiltered else None,
    )
    assert not prefiltered & set(oracle.calls)
    check_frontier(oracle, result, order=order, mode=mode, prefiltered=prefiltered)


@examples(1200)
@given(grid=monotone_grids(), data=st.data())
def test_non_monotone_traps_are_flagged_or_reported_rightly(grid: tuple[list[int], int], data: st.DataObject) -> None:
    f, n_cols = grid
    cells = st.tuples(st.integers(0, len(f) - 1), st.integers(0, n_cols - 1))
    flips = data.draw(st.sets(cells, min_size=1, max_size=4), label="flips")
    oracle = Grid(f, n_cols, flips=flips)
    result = search(oracle, order=data.draw(st.sampled_from(ORDERS)))
    for v in result.violations:  # every flagged pair is real evidence
        assert v.good[0] >= v.bad[0] and v.good[1] >= v.bad[1]
        assert oracle.truth(*v.good) is Verdict.GOOD and oracle.truth(*v.bad) is Verdict.BAD
    probed = {(p.row, p.col): p.verdict for p in result.log}
    if result.violations:
        assert result.status is Status.NON_MONOTONE and "non-monotone" in result.message
        return
    # No violation seen: what it reports agrees with every probe, and a reported first failing pair
    # is truly a minimal failing cell: probed bad, both older neighbours probed good.
    for (r, c), verdict in probed.items():
        row = result.staircase[r]
        assert (c < row.lo) if verdict is Verdict.GOOD else (c >= row.hi)
    if result.first_pair is not None:
        r, c = result.first_pair
        assert probed[(r, c)] is Verdict.BAD
        assert r == 0 or probed[(r - 1, c)] is Verdict.GOOD
        assert c == 0 or probed[(r, c - 1)] is Verdict.GOOD


def test_non_monotone_example_is_flagged() -> None:
    # (1, 2) fails although (3, 2), newer on both axes, passes: the check of the first failing
    # pair's older neighbour catches it.
    result = search(Grid(corner(4, 10, 1, 3), 10, flips={(1, 2)}))
    assert result.status is Status.NON_MONOTONE and not result
    assert result.violations == (Violation(good=(3, 2), bad=(1, 2)),)
    assert result.message.startswith(
        "non-monotone evidence: rustc 3 + wasm-bindgen 2 is good but the older rustc 1 + wasm-bindgen 2 is bad"
    )


def test_verify_corners_probes_every_corner_neighbourhood() -> None:
    f = [10, 7, 7, 3]  # corners (1, 7) and (3, 3)
    trap = Grid(f, 10, flips={(1, 6)})  # (1, 6), next to the corner (1, 7), fails against the trend
    plain = search(trap)
    assert not plain.violations  # nothing the plain search probes contradicts
    trap.calls.clear()
    checked = search(trap, verify_corners=True)
    assert checked.status is Status.NON_MONOTONE
    assert any(v.bad == (1, 6) for v in checked.violations)
    clean = search(Grid(f, 10), verify_corners=True)
    assert clean.status is Status.FOUND and clean.probes > search(Grid(f, 10)).probes


# --- flaky checks ---------------------------------------------------------------------------------


class Flaky:
    """Answers from `grid`, except that cells in `patterns` cycle through a list of right/wrong flags."""

    def __init__(self, grid: Grid, patterns: dict[Cell, list[bool]]) -> None:
        self.grid, self.patterns, self.count = grid, patterns, dict.fromkeys(patterns, 0)

    def __call__(self, r: int, c: int) -> Verdict:
        verdict = self.grid(r, c)
        if (r, c) in self.patterns:
            wrong = self.patterns[(r, c)][self.count[(r, c)] % len(self.patterns[(r, c)])]
            self.count[(r, c)] += 1
            if wrong:
                return invert(verdict)
        return verdict


def test_repeat_oracle_agreement_and_abort() -> None:
    answers = iter([Verdict.BAD, Verdict.BAD, Verdict.GOOD])
    calls = []

    def oracle(x: str, y: str) -> Verdict:
        calls.append((x, y))
        return next(answers)

    assert repeat_oracle(oracle, 3, 2)("1.82.0", "0.2.99") is Verdict.BAD
    assert len(calls) == 2  # decided early
    answers = iter([Verdict.GOOD, Verdict.BAD])
    with pytest.raises(FlakyPoint) as caught:
        repeat_oracle(oracle, 3)("1.82.0", "0.2.99")
    assert isinstance(caught.value, SearchAborted) and caught.value.exit_code == 3
    assert "1.82.0 x 0.2.99" in caught.value.one_line() and "need 3 to agree" in caught.value.message
    assert "\n" not in caught.value.one_line()
    with pytest.raises(UsageError):
        repeat_oracle(oracle, 4, 2)


def test_flaky_cell_stops_the_search_with_the_probe_log() -> None:
    base = Grid(corner(3, 16, 1, 6), 16)
    flaky = Flaky(base, {(2, 7): [False, True]})  # the first probe of the last row's bisection
    with pytest.raises(FlakyPoint) as caught:
        first_failing_pair(range(3), range(16), repeat_oracle(flaky, 3))
    assert caught.value.point == (2, 7)
    assert caught.value.probe_log == (CellProbe(2, 15, Verdict.BAD),)


@examples(800)
@given(grid=monotone_grids(max_rows=5, max_cols=16), data=st.data())
def test_repeat_wrapper_never_gives_a_confidently_wrong_answer(
    grid: tuple[list[int], int], data: st.DataObject
) -> None:
    f, n_cols = grid
    unanimous = data.draw(st.booleans(), label="unanimous")
    n = data.draw(st.integers(2 if unanimous else 3, 5), label="n")
    cells = st.tuples(st.integers(0, len(f) - 1), st.integers(0, n_cols - 1))
    flaky_cells = data.draw(st.sets(cells, min_size=1, max_size=6), label="flaky")
    threshold = n if unanimous else n // 2 + 1
    patterns: dict[Cell, list[bool]] = {}
    for cell in flaky_cells:
        if unanimous:  # any mix of right and wrong answers within n runs
            flags = data.draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda x: 0 < sum(x) < n))
        else:  # wrong at most n - threshold times in n runs: the majority is still right
            flags = data.draw(
                st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda x: 0 < sum(x) <= n - threshold)
            )
        patterns[cell] = flags
    assume(patterns)
    base = Grid(f, n_cols)
    try:
        result = first_failing_pair(range(len(f)), range(n_cols), repeat_oracle(Flaky(base, patterns), n, threshold))
    except FlakyPoint as exc:
        # Only unanimous mode may stop, and only on a truly flaky cell: in majority mode the majority of every
        # window of n answers is right (the patterns cycle), so stopping there would be a bug.
        assert unanimous, f"majority mode stopped on {exc.point}"
        assert exc.point in patterns
        return
    truthful = search(Grid(f, n_cols))
    assert result.first_pair == truthful.first_pair and result.status is truthful.status
    assert [r.hi for r in result.staircase] == [r.hi for r in truthful.staircase]


# --- attribution and reference types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "kind"),
    [
        ([9, 9, 0, 0], Cause.RUSTC),
        ([4, 4, 4, 4], Cause.BINDGEN),
        ([9, 9, 4, 4], Cause.INTERACTION),
        ([9, 6, 4, 2], Cause.INTERACTION),
    ],
)
def test_attribution_fixed(f: list[int], kind: Cause) -> None:
    result = search(Grid(f, 9))
    verdict = attribute(result)
    assert verdict.kind is kind and verdict.possible == {kind}
    if kind is Cause.RUSTC:
        assert verdict.first_row == 2 and "depends on rustc only" in verdict.message
    if kind is Cause.BINDGEN:
        assert verdict.first_col == 4 and "wasm-bindgen 4 on" in verdict.message


def test_attribution_none_everywhere_and_unknown() -> None:
    assert attribute(search(Grid([9, 9, 9], 9))).kind is Cause.NONE
    assert attribute(search(Grid([0, 0, 0], 9))).kind is Cause.EVERYWHERE
    # The only failing row's boundary is untestable on the other rows: rustc-only or interaction.
    unsure = search(Grid([9, 0], 9, skip={(1, c) for c in range(1, 9)} | {(0, 8)}))
    verdict = attribute(unsure)
    assert verdict.kind is Cause.UNKNOWN and len(verdict.possible) > 1
    assert verdict.message.startswith("cannot tell")


@examples(500)
@given(grid=monotone_grids(max_rows=5, max_cols=12))
def test_attribution_property(grid: tuple[list[int], int]) -> None:
    f, n_cols = grid
    verdict = attribute(search(Grid(f, n_cols)))
    if all(v == n_cols for v in f):
        assert verdict.kind is Cause.NONE
    elif all(v == 0 for v in f):
        assert verdict.kind is Cause.EVERYWHERE
    elif set(f) <= {0, n_cols}:
        assert verdict.kind is Cause.RUSTC
    elif len(set(f)) == 1:
        assert verdict.kind is Cause.BINDGEN
    else:
        assert verdict.kind is Cause.INTERACTION


def test_reference_types_plan_and_conclusion() -> None:
    result = search(Grid(corner(4, 10, 2, 5), 10))
    plan = reference_types_plan(result)
    assert plan == (Reprobe(2, 5, Verdict.BAD), Reprobe(1, 5, Verdict.GOOD), Reprobe(2, 4, Verdict.GOOD))

    def conclude(bad: Verdict, good: Verdict) -> RefTypes:
        flipped = {(p.row, p.col): bad if p.baseline is Verdict.BAD else good for p in plan}
        return conclude_reference_types(plan, flipped).kind

    assert conclude(Verdict.GOOD, Verdict.BAD) is RefTypes.FOLLOWS
    assert conclude(Verdict.GOOD, Verdict.GOOD) is RefTypes.NEEDED
    assert conclude(Verdict.BAD, Verdict.BAD) is RefTypes.TRIGGERS
    assert conclude(Verdict.BAD, Verdict.GOOD) is RefTypes.INDEPENDENT
    assert conclude(Verdict.SKIP, Verdict.SKIP) is RefTypes.INCONCLUSIVE
    mixed = conclude_reference_types(plan, {(2, 5): Verdict.GOOD, (1, 5): Verdict.BAD, (2, 4): Verdict.GOOD})
    assert mixed.kind is RefTypes.MIXED and mixed.fixed == ((2, 5),) and mixed.broken == ((1, 5),)
    partial = conclude_reference_types(plan, {(2, 5): Verdict.GOOD})
    assert partial.kind is RefTypes.NEEDED and "2 of 3 re-probes untestable" in partial.message


def test_grid_arguments_are_checked() -> None:
    with pytest.raises(UsageError):
        first_failing_pair([], range(3), Grid([], 3))
    with pytest.raises(UsageError):
        first_failing_pair(range(2), range(3), Grid([3, 3], 3), walk_limit=-1)


def test_describe_helpers_are_consistent() -> None:
    assert staircase_floor(3, 40) == pytest.approx(math.log2(math.comb(43, 3)))
    sample: Callable[[int, int], Verdict] = Grid([2, 1], 3)
    assert sample(0, 2) is Verdict.BAD


@pytest.mark.parametrize("mode", ["full", "pair"])
def test_untestable_stretch_of_the_newest_row_is_bisected_not_walked(mode: str) -> None:
    """Like rustc >= 1.86 refusing every wasm-bindgen < 0.2.88: the newest row is untestable over most
    columns while the older rows fail inside that stretch. Walking it cost 36 probes; bisecting, ~15."""
    f = [15, 15, 15]
    hidden = {(2, c) for c in range(29)}
    result = first_failing_pair(range(3), range(40), lambda r, c: Verdict.BAD if c >= f[r] else Verdict.GOOD,
                                untestable=lambda r, c: "incompatible" if (r, c) in hidden else None,
                                mode=mode)  # type: ignore[arg-type]
    assert result.probes <= 18, result.probes
    assert [(s.lo, s.hi) for s in result.staircase[:2]] == [(15, 15), (15, 15)] or mode == "pair"
    assert result.status is Status.RANGE
