"""Looking ahead of a sequential search: what it will ask next, and rounds of probes in parallel."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wasm_bisect.domain.model import Verdict
from wasm_bisect.search import first_failing_pair, least_failing
from wasm_bisect.search.speculate import Search, Wanted, look_ahead, replay, schedule, simulate

from .test_search import Cell, Grid, examples, monotone_grids, random_staircase, untestable_cells


def line_search(n: int) -> Search[int, int | None]:
    def search(ask: Callable[[int], Verdict]) -> int | None:
        return least_failing(range(n), ask).first_new

    return search


def grid_search(n_rows: int, n_cols: int, untestable: frozenset[Cell] = frozenset()) -> Search[Cell, tuple[Any, ...]]:
    def search(ask: Callable[[Cell], Verdict]) -> tuple[Any, ...]:
        result = first_failing_pair(range(n_rows), range(n_cols), lambda r, c: ask((r, c)),
                                    untestable=lambda r, c: "x" if (r, c) in untestable else None)
        return (result.status, result.first_pair, result.pair_candidates, result.staircase, result.probes)

    return search


def test_replay_stops_at_the_first_unanswered_point() -> None:
    search = line_search(16)
    assert replay(search, {}).point == 0
    assert replay(search, {0: Verdict.GOOD}).point == 15
    done = replay(search, {i: Verdict.BAD if i >= 5 else Verdict.GOOD for i in range(16)})
    assert done.point is None and done.result == 5


def test_look_ahead_of_a_bisection_splits_the_interval() -> None:
    search = line_search(17)
    known = {0: Verdict.GOOD, 16: Verdict.BAD}
    ahead = look_ahead(search, known, 3)
    assert ahead[0] == Wanted(8, 1.0)  # the next probe, for certain
    assert sorted(w.point for w in ahead[1:]) == [4, 12]  # the next one on either outcome
    assert all(w.chance == 0.5 for w in ahead[1:])
    assert look_ahead(search, {i: Verdict.BAD if i >= 3 else Verdict.GOOD for i in range(17)}, 3) == []
    assert look_ahead(search, known, 0) == []


def test_schedule_starts_each_next_probe_before_any_guess() -> None:
    a = [Wanted("a1", 1.0), Wanted("a2", 0.5), Wanted("a3", 0.5)]
    b = [Wanted("b1", 1.0), Wanted("b2", 0.5)]
    assert schedule([a, b], {}, 2) == [("a1", False), ("b1", False)]
    # Four workers, two searches going: two guesses at most, most likely first.
    assert schedule([a, b], {}, 4) == [("a1", False), ("b1", False), ("a2", True), ("b2", True)]
    # A running guess counts; a next probe already running (as a guess) is not started again.
    assert schedule([a, b], {"a2": True}, 4) == [("a1", False), ("b1", False), ("b2", True)]
    assert schedule([a], {"a1": True}, 2) == [("a2", True)]
    assert schedule([a, []], {}, 1) == [("a1", False)]
    assert schedule([[], []], {}, 4) == []


@examples(300)
@given(grid=monotone_grids(max_rows=4, max_cols=20), jobs=st.integers(1, 8), data=st.data())
def test_parallel_rounds_give_the_sequential_answer(grid: tuple[list[int], int], jobs: int,
                                                    data: st.DataObject) -> None:
    f, n_cols = grid
    cells = frozenset(data.draw(untestable_cells(len(f), n_cols)) if data.draw(st.booleans()) else set())
    oracle = Grid(f, n_cols, skip=cells)
    search = grid_search(len(f), n_cols, frozenset(c for c in cells if sum(c) % 2))
    sequential = search(lambda cell: oracle(*cell))
    rounds = simulate([search], lambda cell: oracle(*cell), jobs)
    assert rounds.results == (sequential,)  # the same answer, probe count included (from the replay)
    assert rounds.rounds <= sequential[-1]  # never more rounds than sequential probes
    if jobs == 1:
        assert rounds.rounds == rounds.probes == sequential[-1]


def test_more_jobs_take_fewer_rounds() -> None:
    rng = random.Random(16)  # noqa: S311 - a reproducible simulation
    rounds: dict[int, list[int]] = {1: [], 4: [], 8: []}
    for _ in range(30):
        f = random_staircase(3, 40, rng)
        oracle = Grid(f, 40)
        for jobs, found in rounds.items():
            found.append(simulate([grid_search(3, 40)], lambda cell, grid=oracle: grid(*cell), jobs).rounds)
    one = statistics.mean(rounds[1])
    assert one / statistics.mean(rounds[4]) > 1.8
    assert one / statistics.mean(rounds[8]) > 2.5
