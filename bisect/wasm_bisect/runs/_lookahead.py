"""-j N inside one bisect: the searches look ahead (search.speculate), N workers probe what they will ask.

Each search's next probe starts at once; workers no search's next probe needs take the most likely later
probes, at a lower CPU priority (util.processes.Ticket), so a guess never slows down what is needed. A
guess that becomes needed is raised to normal priority; guesses still running when every search is done
are dropped (their processes killed, nothing stored). The answers come from replaying each search with
the real answers, so they are those of the sequential search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

from wasm_bisect.domain.model import Variant, Verdict
from wasm_bisect.probe import Oracle
from wasm_bisect.search import speculate
from wasm_bisect.util import processes

T = TypeVar("T")
GUESS_NICE = 10  # CPU priority of probes ahead of the search (0 normal, 19 lowest)


@dataclass
class _Flight:
    future: Future[Verdict]
    ticket: processes.Ticket
    guess: bool


@dataclass
class Together(Generic[T]):
    """Several searches over one oracle with `jobs` probes in flight; `run` returns their results."""

    oracle: Oracle
    searches: Sequence[speculate.Search[Variant, T]]
    jobs: int
    on_finished: Callable[[int, T], None] | None = None  # a search is done (index, result)
    on_guess: Callable[[Variant], None] | None = None  # a probe ahead of the search started

    def run(self) -> list[T]:
        known: dict[Variant, Verdict] = {}
        failed: dict[Variant, BaseException] = {}
        flights: dict[Variant, _Flight] = {}
        finished: dict[int, T] = {}
        # One thread per search beyond `jobs`: a needed probe never waits for a thread held by a guess.
        pool = ThreadPoolExecutor(max_workers=self.jobs + len(self.searches), thread_name_prefix="lookahead")
        try:
            while True:
                wanted = []
                for index, search in enumerate(self.searches):
                    ahead = [] if index in finished else speculate.look_ahead(search, known, self.jobs)
                    if ahead and ahead[0].point in failed:
                        raise failed[ahead[0].point]  # the search itself asks it: as the sequential search would
                    if not ahead and index not in finished:
                        finished[index] = self._result(search, known)
                    wanted.append([w for w in ahead if w.point not in failed])
                if len(finished) == len(self.searches):
                    break
                for ahead in wanted:
                    flight = flights.get(ahead[0].point) if ahead else None
                    if flight is not None and flight.guess:
                        flight.guess = False
                        flight.ticket.promote()
                for point, guess in speculate.schedule(wanted, {v: f.guess for v, f in flights.items()}, self.jobs):
                    ticket = processes.Ticket(nice=GUESS_NICE if guess else 0)
                    flights[point] = _Flight(pool.submit(self._probe, point, ticket), ticket, guess)
                    if guess and self.on_guess:
                        self.on_guess(point)
                done, _ = wait([f.future for f in flights.values()], return_when=FIRST_COMPLETED)
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
            pool.shutdown(wait=True, cancel_futures=True)
        return [finished[i] for i in range(len(self.searches))]

    def _probe(self, variant: Variant, ticket: processes.Ticket) -> Verdict:
        with processes.ticket(ticket):
            return self.oracle(variant)

    def _result(self, search: speculate.Search[Variant, T], known: dict[Variant, Verdict]) -> T:
        step = speculate.replay(search, known)
        assert step.point is None and step.result is not None
        if self.on_finished:
            self.on_finished(self.searches.index(search), step.result)
        return step.result
