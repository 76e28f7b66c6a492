"""-j N inside one bisect: the searches look ahead (search.speculate), N workers probe what they will ask.

Each search's next probe starts at once; workers no search's next probe needs take the most likely later
probes, at a lower CPU priority (util.processes.Ticket), so a guess never slows down what is needed. A
guess that becomes needed is raised to wasm-bisect's own priority; a guess the answers since have ruled out, and
guesses still running when every search is done, are dropped (their processes killed, nothing stored).
Besides, one prefetch at a time provisions what a likely later probe will need (a CLI build, a toolchain,
the reference-types-off std of the follow-up) at the same low priority, on the cores the running probes
leave idle (two searches waiting for the same CLI leave a worker idle, say). The answers come from replaying
each search with the real answers, so they are those of the sequential search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from wasm_bisect.domain.model import ReferenceTypes, Variant, Verdict
from wasm_bisect.probe import Oracle
from wasm_bisect.search import speculate
from wasm_bisect.util import processes

T = TypeVar("T")
GUESS_NICE = 10  # niceness steps below wasm-bisect's own for probes ahead of the search (19 at most)
HORIZON = 8  # how many likely points each search looks ahead, for prefetching and for dropping stale guesses


@dataclass
class _Flight:
    future: Future[Verdict]
    ticket: processes.Ticket
    guess: bool


@dataclass
class _Prefetch:
    point: Variant
    future: Future[bool]
    ticket: processes.Ticket


def _shares_tools(one: Variant, other: Variant) -> bool:
    """Whether provisioning for `one` likely builds what a probe of `other` waits for: its CLI, or its toolchain's
    reference-types-off std (the long parts; a toolchain alone is mostly downloading and unpacking)."""
    off = ReferenceTypes.OFF
    return one.bindgen == other.bindgen or (one.rustc == other.rustc and one.reference_types is other.reference_types
                                            is off)


@dataclass
class Together(Generic[T]):
    """Several searches over one oracle with `jobs` probes in flight; `run` returns their results."""

    oracle: Oracle
    searches: Sequence[speculate.Search[Variant, T]]
    jobs: int
    on_finished: Callable[[int, T], None] | None = None  # a search is done (index, result)
    on_guess: Callable[[Variant], None] | None = None  # a probe ahead of the search started
    prefetch: Callable[[Variant], bool] | None = None  # provision for a likely probe (False: nothing to do)
    needs_tools: Callable[[Variant], bool] | None = None  # whether a probe would provision anything first

    def run(self) -> list[T]:
        known: dict[Variant, Verdict] = {}
        failed: dict[Variant, BaseException] = {}
        flights: dict[Variant, _Flight] = {}
        finished: dict[int, T] = {}
        prefetch: _Prefetch | None = None
        self._prefetched: set[Variant] = set()  # guesses prefetched (or found ready) in this run
        # One thread per search beyond `jobs` (a needed probe never waits for a thread held by a guess), and one
        # for the prefetch.
        pool = ThreadPoolExecutor(max_workers=self.jobs + len(self.searches) + 1, thread_name_prefix="lookahead")
        try:
            while True:
                wanted: list[list[speculate.Wanted[Variant]]] = []
                reachable: set[Variant] = set()
                for index, search in enumerate(self.searches):
                    ahead = [] if index in finished else speculate.look_ahead(search, known, max(self.jobs, HORIZON))
                    if ahead and ahead[0].point in failed:
                        raise failed[ahead[0].point]  # the search itself asks it: as the sequential search would
                    if not ahead and index not in finished:
                        finished[index] = self._result(search, known)
                    ahead = [w for w in ahead if w.point not in failed]
                    reachable.update(w.point for w in ahead)
                    wanted.append(ahead)
                if len(finished) == len(self.searches):
                    break
                for ahead in wanted:
                    flight = flights.get(ahead[0].point) if ahead else None
                    if flight is not None and flight.guess:
                        flight.guess = False
                        flight.ticket.promote()
                for point, flight in flights.items():
                    if flight.guess and point not in reachable:
                        flight.ticket.drop()  # the answers so far ruled it out: free its worker
                running = {v: f.guess for v, f in flights.items() if not f.ticket.dropped}
                for point, guess in speculate.schedule([w[:self.jobs] for w in wanted], running, self.jobs):
                    ticket = processes.Ticket(nice=GUESS_NICE if guess else 0)
                    flights[point] = _Flight(pool.submit(self._probe, point, ticket), ticket, guess)
                    if guess and self.on_guess:
                        self.on_guess(point)
                if prefetch is not None and prefetch.point not in reachable:
                    prefetch.ticket.drop()  # the tools of a probe no search will ask
                prefetch = self._prefetch(prefetch, wanted, flights, known, pool)
                if prefetch is not None and any(_shares_tools(prefetch.point, w[0].point) for w in wanted if w):
                    prefetch.ticket.promote()  # a needed probe waits for what it builds: no longer a guess
                waiting: list[Future[Any]] = [f.future for f in flights.values()]
                if prefetch is not None:
                    waiting.append(prefetch.future)
                done, _ = wait(waiting, return_when=FIRST_COMPLETED)
                for point in [v for v, f in flights.items() if f.future in done]:
                    flight = flights.pop(point)
                    try:
                        known[point] = flight.future.result()
                    except processes.Dropped:
                        pass
                    except Exception as exc:  # a flaky check (SearchAborted): fatal only if the search asks it
                        failed[point] = exc
        finally:
            for flight in flights.values():
                flight.ticket.drop()  # guesses nobody needs: stop building them
            if prefetch is not None:
                prefetch.ticket.drop()
            pool.shutdown(wait=True, cancel_futures=True)
        return [finished[i] for i in range(len(self.searches))]

    def _prefetch(self, current: _Prefetch | None, wanted: list[list[speculate.Wanted[Variant]]],
                  flights: dict[Variant, _Flight], known: dict[Variant, Verdict], pool: ThreadPoolExecutor
                  ) -> _Prefetch | None:
        """The running prefetch, or a new one for the likeliest later probe whose tools are not ready (None:
        nothing to prefetch). Looks over the whole horizon: a reference-types follow-up's std, say, is needed a
        few answers ahead."""
        if current is not None and not current.future.done():
            return current
        if not self.prefetch:
            return None
        guesses = sorted((w for ws in wanted for w in ws[1:]), key=lambda w: -w.chance)
        for guess in guesses:
            point = guess.point
            if point in flights or point in known or point in self._prefetched:
                continue
            self._prefetched.add(point)
            if self.needs_tools is not None and not self.needs_tools(point):
                continue
            ticket = processes.Ticket(nice=GUESS_NICE)
            return _Prefetch(point, pool.submit(self._provision, point, ticket), ticket)
        return None

    def _provision(self, variant: Variant, ticket: processes.Ticket) -> bool:
        assert self.prefetch is not None
        with processes.ticket(ticket):
            try:
                return self.prefetch(variant)
            except (Exception, processes.Dropped):  # a failed prefetch costs nothing: the probe meets it again
                return False

    def _probe(self, variant: Variant, ticket: processes.Ticket) -> Verdict:
        with processes.ticket(ticket):
            return self.oracle(variant)

    def _result(self, search: speculate.Search[Variant, T], known: dict[Variant, Verdict]) -> T:
        step = speculate.replay(search, known)
        assert step.point is None and step.result is not None
        if self.on_finished:
            self.on_finished(self.searches.index(search), step.result)
        return step.result
