"""Several probes of one search in flight: which points will the search most likely ask next?

The search stays sequential and pure. To look ahead, it is replayed with the answers known so far plus
assumed answers for points still open; the first point a replay cannot answer is the one it needs next
under those assumptions. Expanding both outcomes of each needed point, most likely first, gives the
points worth probing now (the next one for certain, then those one or two answers ahead: for a bisection
this splits the interval into several parts at once). Whatever is probed ahead, the answer is the one the
sequential search gives: only its own replay with real answers decides.

`schedule` decides which of several searches' wanted points start on free workers; `simulate` runs it
in rounds of fixed-cost probes (the benchmark of rounds, and the unit tests).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from wasm_bisect.domain.model import Verdict

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

Ask = Callable[[K], Verdict]
Search = Callable[[Callable[[K], Verdict]], T]

# Probability of each outcome of an unknown point when looking ahead: a bisection's probes split evenly.
OUTCOMES: tuple[tuple[Verdict, float], ...] = ((Verdict.GOOD, 0.5), (Verdict.BAD, 0.5))
REPLAY_LIMIT = 64  # replays per look-ahead: bounds the planning time of wide -j on large grids


class _Need(BaseException):  # control flow, not an error; BaseException: no search catches it
    """Raised inside a replay at the first point with no answer."""

    def __init__(self, point: Hashable) -> None:
        super().__init__()
        self.point = point


@dataclass(frozen=True)
class Wanted(Generic[K]):
    """A point the search will ask with probability `chance` (1.0: its very next probe)."""

    point: K
    chance: float


@dataclass(frozen=True)
class Step(Generic[K, T]):
    """One replay: the search either finished (`result`) or needs `point` answered."""

    point: K | None
    result: T | None


def replay(search: Search[K, T], answers: Mapping[K, Verdict]) -> Step[K, T]:
    """Run `search` with `answers`; stop at the first point it asks that has none."""

    def ask(point: K) -> Verdict:
        if point in answers:
            return answers[point]
        raise _Need(point)

    try:
        result = search(ask)
    except _Need as need:
        return Step(point=need.point, result=None)  # type: ignore[arg-type]
    return Step(point=None, result=result)


def look_ahead(search: Search[K, T], known: Mapping[K, Verdict], width: int) -> list[Wanted[K]]:
    """Up to `width` points the search will most likely ask next, most likely first (empty: it is done).

    Best-first over the tree of assumed outcomes: a point needed on several branches adds up their chances.
    """
    if width < 1:
        return []
    chances: dict[K, float] = {}
    order = itertools.count()
    frontier: list[tuple[float, int, dict[K, Verdict]]] = [(-1.0, next(order), {})]
    replays = 0
    while frontier and replays < REPLAY_LIMIT:
        negative, _, assumed = heapq.heappop(frontier)
        chance = -negative
        if len(chances) >= width and chance <= min(chances.values()):
            break  # nothing deeper can displace what was found
        step = replay(search, {**known, **assumed})
        replays += 1
        if step.point is None:
            continue
        chances[step.point] = chances.get(step.point, 0.0) + chance
        for verdict, share in OUTCOMES:
            heapq.heappush(frontier, (-chance * share, next(order), {**assumed, step.point: verdict}))
    ranked = sorted(chances.items(), key=lambda item: -item[1])[:width]
    return [Wanted(point, chance) for point, chance in ranked]


def schedule(
    wanted: Sequence[Sequence[Wanted[K]]],
    running: Mapping[K, bool],
    jobs: int,
) -> list[tuple[K, bool]]:
    """Which points to start now, given each search's look-ahead and what is running (point -> speculative).

    Each search's next point (chance 1.0) comes first, so it never waits behind a guess: speculative
    probes only take workers no search's next probe needs (at most jobs minus the searches still going).
    Returns (point, speculative) pairs to start.
    """
    busy = len(running)
    starts: list[tuple[K, bool]] = []
    taken = set(running)
    needed = [w[0].point for w in wanted if w and w[0].chance >= 1.0]
    for point in needed:
        if point not in taken and busy < jobs:
            starts.append((point, False))
            taken.add(point)
            busy += 1
    spare = jobs - max(len([w for w in wanted if w]), 1)
    speculative = sum(1 for point, guess in running.items() if guess and point not in needed)
    # Most likely first; equal chances alternate between the searches (their rank within their own list).
    ranked = [(-w.chance, rank, w) for ws in wanted for rank, w in enumerate(ws) if rank and w.chance < 1.0]
    guesses = [w for _, _, w in sorted(ranked, key=lambda item: item[:2])]
    for guess in guesses:
        if busy >= jobs or speculative >= spare:
            break
        if guess.point not in taken:
            starts.append((guess.point, True))
            taken.add(guess.point)
            busy += 1
            speculative += 1
    return starts


@dataclass(frozen=True, kw_only=True)
class Rounds:
    """What `simulate` counted: rounds of fixed-cost probes, probes started, and the searches' results."""

    rounds: int
    probes: int
    results: tuple[object, ...]


def simulate(searches: Sequence[Search[K, T]], truth: Callable[[K], Verdict], jobs: int) -> Rounds:
    """Run searches together on `jobs` workers where every probe takes one round; count the rounds."""
    known: dict[K, Verdict] = {}
    rounds = probes = 0
    while True:
        wanted = [look_ahead(search, known, jobs) for search in searches]
        if not any(wanted):
            break
        starts = schedule(wanted, {}, jobs)
        for point, _ in starts:
            known[point] = truth(point)
        rounds += 1
        probes += len(starts)
    results = tuple(replay(search, known).result for search in searches)
    return Rounds(rounds=rounds, probes=probes, results=results)
