"""The oriented search (corners first, then the 2-D search on the mirrored grid) against simulated grids:
all four orientations, islands and the ends checks, compared with the exhaustive matrix."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence

from hypothesis import given
from hypothesis import strategies as st

from wasm_bisect.domain.model import Verdict
from wasm_bisect.search import Change, Frontier, Orientation, Status, oriented_pair
from wasm_bisect.search._orientation import bad_regions_monotone

from .test_search import budget, examples, monotone_grids, true_pair

Cell = tuple[int, int]
G, B, S = Verdict.GOOD, Verdict.BAD, Verdict.SKIP


class Matrix:
    """An oracle over a fixed verdict per cell, counting the probes."""

    def __init__(self, cells: dict[Cell, Verdict], n_rows: int, n_cols: int) -> None:
        self.cells, self.n_rows, self.n_cols = cells, n_rows, n_cols
        self.calls: list[Cell] = []

    def __call__(self, r: int, c: int) -> Verdict:
        self.calls.append((r, c))
        return self.cells[(r, c)]


def oriented_truth(f: Sequence[int], n_cols: int, rustc: Change, bindgen: Change) -> Matrix:
    """A monotone regression staircase `f` seen through an orientation: an axis that fixes the bug runs the
    staircase from the newest version down."""
    n_rows = len(f)
    cells = {}
    for r in range(n_rows):
        for c in range(n_cols):
            vr = n_rows - 1 - r if rustc is Change.FIXES else r
            vc = n_cols - 1 - c if bindgen is Change.FIXES else c
            cells[(r, c)] = B if vc >= f[vr] else G
    return Matrix(cells, n_rows, n_cols)


def run(m: Matrix, **kw: object) -> Frontier[int, int]:
    return oriented_pair(range(m.n_rows), range(m.n_cols), m, **kw)  # type: ignore[arg-type]


def view_staircase(m: Matrix, o: Orientation) -> list[int]:
    """The exhaustive matrix's staircase in the search's view: per view row, the first view column on the new side."""
    firsts = []
    for vr in range(m.n_rows):
        cols = [vc for vc in range(m.n_cols) if m.cells[o.flip((vr, vc), m.n_rows, m.n_cols)] is o.new_verdict]
        firsts.append(cols[0] if cols else m.n_cols)
    return firsts


def check_against_matrix(m: Matrix, result: Frontier[int, int]) -> None:
    """The answer is the exhaustive matrix's, in an orientation the whole matrix fits."""
    assert len(m.calls) == len(set(m.calls)) == result.probes
    verdicts = set(m.cells.values())
    if result.status in (Status.FIRST_NOT_OLD, Status.LAST_NOT_NEW):
        assert len(verdicts) == 1  # every corner alike and the grid monotone: uniform
        return
    o = result.orientation
    assert bad_regions_monotone(m.cells, o.rustc, o.bindgen)
    assert result.status is Status.FOUND
    f = view_staircase(m, o)
    assert [row.hi for row in result.staircase] == f and result.complete
    assert result.first_pair == true_pair(f, m.n_cols, "bindgen")


ORIENTED = st.tuples(st.sampled_from(list(Change)), st.sampled_from(list(Change)))


@examples(1500)
@given(grid=monotone_grids(), orientation=ORIENTED, find_fix=st.booleans())
def test_every_orientation_gives_the_exhaustive_answer(
    grid: tuple[list[int], int], orientation: tuple[Change, Change], find_fix: bool
) -> None:
    f, n_cols = grid
    m = oriented_truth(f, n_cols, *orientation)
    result = run(m, find_fix=find_fix)
    check_against_matrix(m, result)


@examples(600)
@given(r0=st.integers(0, 5), c0=st.integers(0, 40), n_rows=st.integers(2, 6), n_cols=st.integers(2, 40),
       orientation=ORIENTED, find_fix=st.booleans())
def test_single_corners_keep_the_budget_plus_the_corners(
    r0: int, c0: int, n_rows: int, n_cols: int, orientation: tuple[Change, Change], find_fix: bool
) -> None:
    """A box-shaped bad region (one corner of the staircase) in any orientation costs at most the monotone
    case's budget plus the corner probes."""
    f = [n_cols if r < min(r0, n_rows - 1) else min(c0, n_cols) for r in range(n_rows)]
    m = oriented_truth(f, n_cols, *orientation)
    result = run(m, find_fix=find_fix)
    check_against_matrix(m, result)
    assert result.probes <= budget(n_rows, n_cols) + 4


def test_the_issue_grid_names_both_boundaries() -> None:
    """rustc 1.96 makes it fatal, wasm-bindgen W+1 fixes it: bad = {new rustc} x {W-1, W} of W-1..W+2."""
    cells = {(r, c): B if r == 1 and c <= 1 else G for r in range(2) for c in range(4)}
    for find_fix in (False, True):
        m = Matrix(cells, 2, 4)
        result = run(m, find_fix=find_fix)
        o = result.orientation
        assert result.status is Status.FOUND, result.message
        assert (o.rustc, o.bindgen) == (Change.INTRODUCES, Change.FIXES)
        assert o.flip(result.first_pair, 2, 4) == (1, 1)  # rustc new + wasm-bindgen W: the bad corner
        assert result.probes <= 7  # the corners, the bisection of the newest rustc, the verification of the pair


def test_given_orientation_skips_the_corners() -> None:
    m = oriented_truth([4, 2], 4, Change.INTRODUCES, Change.INTRODUCES)
    given_ = Orientation(decided_by="given")
    result = run(m, orientation=given_)
    assert result.status is Status.FOUND and result.orientation.decided_by == "given"
    assert (0, 0) not in m.calls  # no oldest-corner probe


@st.composite
def crossed_boxes(draw: st.DrawFn) -> tuple[Matrix, list[set[Cell]]]:
    """Two bad boxes at opposite corners (oldest rustc x newest wasm-bindgen, newest rustc x oldest wasm-bindgen)
    with both other corners passing: non-monotone in every orientation."""
    n_rows, n_cols = draw(st.integers(2, 6)), draw(st.integers(2, 30))
    a = draw(st.integers(0, n_rows - 2))  # box A: rows 0..a, cols b..W-1
    b = draw(st.integers(1, n_cols - 1))
    a2 = draw(st.integers(1, n_rows - 1))  # box B: rows a2..R-1, cols 0..b2
    b2 = draw(st.integers(0, n_cols - 2))
    box_a = {(r, c) for r in range(a + 1) for c in range(b, n_cols)}
    box_b = {(r, c) for r in range(a2, n_rows) for c in range(b2 + 1)}
    if box_a & box_b or any((r + dr, c + dc) in box_b for r, c in box_a for dr, dc in ((1, 0), (0, -1))):
        box_b = {(r, c) for r, c in box_b if r > a + 1 or c < b - 1}
    if not box_b or (n_rows - 1, 0) not in box_b:
        box_b = {(n_rows - 1, 0)} if (n_rows - 1, 0) not in box_a and a < n_rows - 2 else box_b
    cells = {(r, c): B if (r, c) in box_a | box_b else G for r in range(n_rows) for c in range(n_cols)}
    return Matrix(cells, n_rows, n_cols), [box_a, box_b]


@examples(500)
@given(case=crossed_boxes(), find_fix=st.booleans())
def test_islands_report_the_bad_box_and_its_bounds(case: tuple[Matrix, list[set[Cell]]], find_fix: bool) -> None:
    m, boxes = case
    monotone_somewhere = any(bad_regions_monotone(m.cells, r, c) for r in Change for c in Change)
    result = run(m, find_fix=find_fix)
    if monotone_somewhere:  # the boxes happen to form a staircase in some orientation
        check_against_matrix(m, result)
        return
    assert result.status is Status.ISLAND, result.message
    island = result.island
    assert island is not None and result.first_pair is None
    (r1, r2), (c1, c2) = island.rows, island.cols
    found = {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    box = next(bx for bx in boxes if island.seed in bx)
    # The cross through the seed is exact; the box's extent equals the true box along it.
    assert {c for c in found if c[0] == island.seed[0]} == {c for c in box if c[0] == island.seed[0]}
    assert {c for c in found if c[1] == island.seed[1]} == {c for c in box if c[1] == island.seed[1]}
    assert all(m.cells[c] is G for c in island.bounds) and island.bounds
    assert "bad box" in result.message and "still unknown" in result.message
    steps = 2 * math.ceil(math.log2(m.n_rows + 1)) + 2 * math.ceil(math.log2(m.n_cols + 1))
    assert result.probes <= budget(m.n_rows, m.n_cols) + 4 + steps + 4
    assert len(m.calls) == len(set(m.calls)) == result.probes


def test_corners_that_fail_alike_stop_the_search() -> None:
    cells = {(r, c): B for r in range(3) for c in range(8)}
    asked: list[Sequence[tuple[int, int]]] = []

    def alike(corners: Sequence[tuple[int, int]]) -> bool:
        asked.append(corners)
        return True

    m = Matrix(cells, 3, 8)
    result = run(m, corners_alike=alike)
    assert result.status is Status.ENDS_ALIKE and result.probes == 4 and result.first_pair is None
    assert sorted(asked[0]) == [(0, 0), (0, 7), (2, 0), (2, 7)]
    everything = run(Matrix(cells, 3, 8), corners_alike=lambda corners: False)  # different failures
    assert everything.status is Status.FIRST_NOT_OLD and everything.probes == 4


def test_no_boundary_without_a_passing_cell() -> None:
    """The real wrong answer: every rustc-1.96 cell failed (the check file was missing), every 1.63 cell was
    untestable. No first pair, no orientation: the status says no cell passed."""
    cells = {(r, c): (B if r == 1 else S) for r in range(2) for c in range(9)}
    never: Callable[[Collection[object]], bool] = lambda corners: False  # noqa: E731
    result = run(Matrix(cells, 2, 9), corners_alike=never)
    assert result.status is Status.NO_PASS and result.first_pair is None
    assert result.message.startswith("no cell passed: every testable cell probed fails")


def test_every_corner_passing_is_said_so() -> None:
    cells = {(r, c): G for r in range(2) for c in range(5)}
    result = run(Matrix(cells, 2, 5))
    assert result.status is Status.LAST_NOT_NEW and result.probes == 4
    assert "every corner of the grid passes" in result.message
