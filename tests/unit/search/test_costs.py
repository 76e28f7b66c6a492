"""Cost-aware probe choice: the same answers as the cost-blind search (today's), for less simulated time."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Verdict
from wasm_bisect.search import CostModel, Frontier, Order, cheapest_split, entropy, first_failing_pair

from .test_search import (
    ORDERS,
    Cell,
    Grid,
    check_frontier,
    examples,
    monotone_grids,
    random_staircase,
    untestable_cells,
)


def answer(result: Frontier[int, int]) -> dict[str, object]:
    """Everything a search reports except how it got there (which cells, how many probes)."""
    return {
        "status": result.status, "first_pair": result.first_pair, "pair_candidates": result.pair_candidates,
        "maybe_none": result.maybe_none, "staircase": result.staircase, "complete": result.complete,
        "corners": result.corners, "violations": result.violations, "filtered": result.filtered,
        "message": result.message,
    }


@st.composite
def cost_models(draw: st.DrawFn, n_rows: int, n_cols: int) -> CostModel:
    cli = draw(st.lists(st.sampled_from([0.0, 25.0, 90.0, 200.0]), min_size=n_cols, max_size=n_cols))
    toolchain = draw(st.lists(st.sampled_from([0.0, 60.0, 130.0]), min_size=n_rows, max_size=n_rows))
    cells = st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_cols - 1))
    warm = draw(st.frozensets(cells, max_size=n_rows * n_cols // 3))
    return CostModel(cli=cli, toolchain=toolchain, warm=warm, neighbour_saving=draw(st.sampled_from([0.0, 0.3])))


def run(oracle: Grid, *, order: Order, costs: CostModel | None, find_fix: bool = False,
        prefiltered: frozenset[Cell] = frozenset()) -> Frontier[int, int]:
    oracle.calls.clear()
    return first_failing_pair(
        range(len(oracle.f)), range(oracle.n_cols), oracle, order=order, costs=costs,
        untestable=lambda r, c: "compat" if (r, c) in prefiltered else None,
        new_verdict=Verdict.GOOD if find_fix else Verdict.BAD)


@examples(1000)
@given(grid=monotone_grids(), order=st.sampled_from(ORDERS), find_fix=st.booleans(), data=st.data())
def test_cost_aware_search_answers_exactly_as_todays(
    grid: tuple[list[int], int], order: Order, find_fix: bool, data: st.DataObject
) -> None:
    """The property of issue 16: on every monotone grid whose untestable cells are known up front (the
    compatibility filter), the search with costs gives today's answer, field by field; it only probes
    other cells on the way. (Today's search is the cost-blind path, `costs=None`.)"""
    f, n_cols = grid
    untestable = frozenset(data.draw(untestable_cells(len(f), n_cols), label="untestable")
                           if data.draw(st.booleans()) else set())
    oracle = Grid(f, n_cols, skip=untestable)
    if find_fix:  # still broken (bad) before the staircase, fixed (good) from it on
        oracle = _inverted(oracle)
    costs = data.draw(cost_models(len(f), n_cols), label="costs")
    today = run(oracle, order=order, costs=None, find_fix=find_fix, prefiltered=untestable)
    aware = run(oracle, order=order, costs=costs, find_fix=find_fix, prefiltered=untestable)
    assert answer(aware) == answer(today)
    assert len(set(oracle.calls)) == len(oracle.calls)  # still each cell at most once
    if not find_fix:
        check_frontier(oracle, aware, order=order, mode="full", prefiltered=untestable)


@examples(1000)
@given(grid=monotone_grids(), order=st.sampled_from(ORDERS), data=st.data())
def test_cost_aware_search_with_unexpected_skips_keeps_the_first_failing_pair(
    grid: tuple[list[int], int], order: Order, data: st.DataObject
) -> None:
    """Cells that fail to build only when probed (SKIP/ERROR) are learnt only by probing them, so which of
    them a search meets depends on the order it probes in, today's search too. Then the status and the
    first failing pair are still today's; a range (of a row's boundary, or of candidates for the first
    pair when it is hidden) may differ only around such a cell, and both answers hold the truth."""
    f, n_cols = grid
    cells = data.draw(untestable_cells(len(f), n_cols), label="untestable")
    errors = {c for c in cells if (c[0] + 2 * c[1]) % 5 == 0}
    prefiltered = frozenset(data.draw(st.sets(st.sampled_from(sorted(cells))) if cells else st.just(set())))
    oracle = Grid(f, n_cols, skip=cells - errors, errors=errors)
    costs = data.draw(cost_models(len(f), n_cols), label="costs")
    today = run(oracle, order=order, costs=None, prefiltered=prefiltered)
    aware = run(oracle, order=order, costs=costs, prefiltered=prefiltered)
    check_frontier(oracle, aware, order=order, mode="full", prefiltered=prefiltered)
    for key in ("status", "first_pair", "violations", "filtered"):
        assert answer(aware)[key] == answer(today)[key], key
    for mine, theirs in zip(aware.staircase, today.staircase, strict=True):
        if mine != theirs:
            span = range(min(mine.lo, theirs.lo), min(max(mine.hi, theirs.hi), n_cols - 1) + 1)
            assert any((mine.row, c) in cells for c in span)


def _inverted(grid: Grid) -> Grid:
    """The same cells answering GOOD where they were BAD: a find-fix world (fixed from the staircase on)."""

    class Inverted(Grid):
        def truth(self, r: int, c: int) -> Verdict:
            return Verdict.GOOD if super().truth(r, c) is Verdict.BAD else Verdict.BAD

    return Inverted(grid.f, grid.n_cols, skip=grid.skip, errors=grid.errors)


@examples(400)
@given(grid=monotone_grids(), order=st.sampled_from(ORDERS))
def test_equal_costs_make_the_cost_blind_choices(grid: tuple[list[int], int], order: Order) -> None:
    """With nothing to save (every probe costs the same) the cost-aware search probes exactly today's cells."""
    f, n_cols = grid
    oracle = Grid(f, n_cols)
    today = run(oracle, order=order, costs=None)
    today_calls = list(oracle.calls)
    flat = CostModel(cli=(0.0,) * n_cols, toolchain=(0.0,) * len(f), probe=10.0)
    aware = run(oracle, order=order, costs=flat)
    assert oracle.calls == today_calls
    assert aware.log == today.log


def test_a_cached_cli_wins_among_about_equal_splits() -> None:
    """One rustc, 17 wasm-bindgen releases, the newest bad: today bisects at the median (column 8); the CLI
    of column 6 is cached and splits 7/10, so the cost-aware search probes it instead."""
    oracle = Grid([12], 17)
    cli = [90.0] * 17
    cli[6] = cli[16] = 0.0
    run(oracle, order="bindgen", costs=None)
    assert oracle.calls[:2] == [(0, 16), (0, 8)]
    run(oracle, order="bindgen", costs=CostModel(cli=cli, toolchain=(0.0,)))
    assert oracle.calls[:2] == [(0, 16), (0, 6)]
    # A cached CLI at a poor split (column 0: 1/17) is not worth it: the median stays.
    far = [90.0] * 17
    far[0] = far[16] = 0.0
    run(oracle, order="bindgen", costs=CostModel(cli=far, toolchain=(0.0,)))
    assert oracle.calls[:2] == [(0, 16), (0, 8)]


def test_a_provisioned_toolchain_and_a_warm_slot_count_too() -> None:
    # 9 rustc x 3 wasm-bindgen, the last 5 rows bad from column 2: after the last row, column 2 is bisected
    # over rows 0..7, whose median is row 4; row 3's toolchain is provisioned, or row 5's slot is warm.
    oracle = Grid([3] * 4 + [2] * 5, 3)
    run(oracle, order="bindgen", costs=None)
    assert oracle.calls[:3] == [(8, 2), (8, 1), (4, 2)]
    toolchain = [130.0] * 9
    toolchain[3] = toolchain[8] = 0.0
    run(oracle, order="bindgen", costs=CostModel(cli=(0.0,) * 3, toolchain=toolchain))
    assert oracle.calls[:3] == [(8, 2), (8, 1), (3, 2)]
    warm = CostModel(cli=(0.0,) * 3, toolchain=(0.0,) * 9, warm=frozenset({(5, 2)}))
    run(oracle, order="bindgen", costs=warm)
    assert oracle.calls[:3] == [(8, 2), (8, 1), (5, 2)]


def test_cheapest_split_prefers_cost_per_bit_within_the_window() -> None:
    options = [(0.5, (0, 5)), (0.3, (0, 3)), (0.1, (0, 1))]
    seconds = {(0, 5): 100.0, (0, 3): 10.0, (0, 1): 1.0}
    assert cheapest_split(options, (0, 5), seconds) == (0, 3)  # (0, 1) splits 10/90: outside the window
    assert cheapest_split(options, (0, 5), seconds, window=0.1) == (0, 1)
    assert cheapest_split(options, (0, 5), dict.fromkeys(seconds, 5.0)) == (0, 5)
    assert cheapest_split([(1.0, (0, 0))], (0, 0), {(0, 0): 1.0}) == (0, 0)  # nothing to learn: the reference
    assert entropy(0.5) == 1.0 and entropy(0.0) == entropy(1.0) == 0.0


def test_cost_model_seconds_follow_what_the_search_built() -> None:
    model = CostModel(cli=(90.0, 90.0, 0.0), toolchain=(60.0, 0.0), warm=frozenset({(1, 2)}), neighbour_saving=0.5)
    assert model.seconds((0, 0), set(), set()) == 90 + 60 + 10
    assert model.seconds((0, 0), {0}, {0}) == 10
    assert model.seconds((0, 1), {2}, set()) == 45 + 60 + 10  # a neighbour's CLI is built: half the build
    assert model.seconds((1, 2), set(), set()) == 1.5
    assert CostModel.uniform(2, 3).seconds((1, 1), set(), set()) == 100


def test_a_cost_model_of_another_shape_is_refused() -> None:
    with pytest.raises(UsageError, match="cost model"):
        first_failing_pair(range(2), range(3), Grid([1, 1], 3), costs=CostModel.uniform(3, 3))


def simulated_seconds(oracle: Grid, costs: CostModel | None, model: CostModel) -> float:
    """What the probes of one search cost in the model's world (CLIs and toolchains built once)."""
    run(oracle, order="bindgen", costs=costs)
    built: set[int] = set()
    ready: set[int] = set()
    total = 0.0
    for cell in oracle.calls:
        total += model.seconds(cell, built, ready)
        built.add(cell[1])
        ready.add(cell[0])
    return total


@pytest.mark.parametrize("shape", [random_staircase, lambda r, c, rng: [rng.randrange(c)] * r])
def test_cost_aware_is_cheaper_with_part_of_the_clis_cached(shape: Callable[..., list[int]]) -> None:
    rng = random.Random(16)  # noqa: S311 - a reproducible simulation
    today, aware = [], []
    for _ in range(60):
        f = shape(3, 40, rng)
        cli = tuple(0.0 if rng.random() < 0.3 else 90.0 for _ in range(40))
        model = CostModel(cli=cli, toolchain=(0.0,) * 3)
        today.append(simulated_seconds(Grid(f, 40), None, model))
        aware.append(simulated_seconds(Grid(f, 40), model, model))
    assert statistics.mean(aware) < 0.9 * statistics.mean(today)


@examples(500)
@given(grid=monotone_grids(), order=st.sampled_from(ORDERS), data=st.data())
def test_a_rerun_asks_only_what_is_stored(grid: tuple[list[int], int], order: Order, data: st.DataObject) -> None:
    """A finished search run again (its answers stored, the caches warmer than the first time) asks only cells
    it asked before: stored answers cost nothing, so no build is needed, and the answer is the same."""
    f, n_cols = grid
    oracle = Grid(f, n_cols)
    first = run(oracle, order=order, costs=data.draw(cost_models(len(f), n_cols), label="first costs"))
    asked = frozenset(oracle.calls)
    later = data.draw(cost_models(len(f), n_cols), label="later costs")
    again = run(oracle, order=order, costs=CostModel(cli=later.cli, toolchain=later.toolchain, warm=later.warm,
                                                     neighbour_saving=later.neighbour_saving, known=asked))
    assert set(oracle.calls) <= asked
    assert answer(again) == answer(first)
