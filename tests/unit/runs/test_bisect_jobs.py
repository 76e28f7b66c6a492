"""-j N inside one bisect (fake probes, no builds): the same answers as -j 1, probes in flight, guesses dropped."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from unit.conftest import CountingProbe, install_probe
from wasm_bisect import probe
from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import SearchAborted
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import oracle as probe_oracle
from wasm_bisect.probe import templates
from wasm_bisect.runs import bisect
from wasm_bisect.store import Store
from wasm_bisect.util import processes

pytestmark = pytest.mark.usefixtures("offline_index")  # the bundled release list, no network

RUSTC = ("debian:1.63.0", "debian:1.85.0", "debian:1.96.0")
BINDGEN = tuple(r.version for r in versions.bundled_releases()
                if not r.yanked and versions.bindgen_key("0.2.88") <= versions.bindgen_key(r.version)
                <= versions.bindgen_key("0.2.100"))


def truth(variant: Variant) -> Verdict:
    """Bad from 0.2.95 with reference-types on (on by default from rustc 1.82), from 0.2.97 otherwise."""
    on = variant.reference_types is ReferenceTypes.ON or (
        variant.reference_types is ReferenceTypes.DEFAULT and variant.rustc.version != "1.63.0")
    first_bad = "0.2.95" if on else "0.2.97"
    return Verdict.BAD if versions.bindgen_key(variant.bindgen.version) >= versions.bindgen_key(first_bad) \
        else Verdict.GOOD


class FakeProbe(CountingProbe):
    """Answers from `truth` after `delay` seconds; counts calls and concurrency; obeys a dropped ticket."""

    def __init__(self, delay: float = 0.0, flaky: frozenset[str] = frozenset(), guess_delay: float | None = None
                 ) -> None:
        super().__init__()
        self.delay, self.flaky = delay, flaky
        self.guess_delay = delay if guess_delay is None else guess_delay  # while its ticket is niced
        self.dropped: list[str] = []
        self.niced: list[str] = []
        self.events: list[tuple[str, str]] = []  # ("start" | "start-guess" | "drop", cell) in order

    def __call__(self, variant: Variant, _template: Any, *, together: bool = False, **_: Any) -> Outcome:
        ticket = processes.current_ticket()

        def started() -> None:
            if ticket is not None and ticket.nice:
                self.niced.append(variant.short())
            self.events.append(("start-guess" if ticket is not None and ticket.nice else "start", variant.short()))

        with self.counted(variant.short(), also=started):
            start = time.monotonic()
            while time.monotonic() - start < (self.guess_delay if ticket is not None and ticket.nice else self.delay):
                if ticket is not None and ticket.dropped:
                    with self._lock:
                        self.dropped.append(variant.short())
                        self.events.append(("drop", variant.short()))
                    raise processes.Dropped
                time.sleep(0.002)
            if variant.short() in self.flaky:
                raise SearchAborted(f"check of {variant.short()} is flaky")
            return Outcome(verdict=truth(variant), reason="fake", stage=Stage.CHECK)


def grid(*settings: ReferenceTypes) -> Grid:
    tmpl = templates.load("vec-of-structs")
    return Grid(template=tmpl.name, rustc=tuple(ToolchainSpec.parse(r) for r in RUSTC),
                bindgen=tuple(BindgenSource.crates(b) for b in BINDGEN),
                reference_types=settings or (ReferenceTypes.DEFAULT, ReferenceTypes.ON), params=tmpl.param_values({}))


def run(store: Store, fake: FakeProbe, monkeypatch: pytest.MonkeyPatch, *, jobs: int, g: Grid | None = None,
        guesses: list[Variant] | None = None, prefetched: list[str] | None = None
        ) -> tuple[bisect.BisectResult, probe.Oracle]:
    install_probe(monkeypatch, fake)
    seen = prefetched if prefetched is not None else []
    monkeypatch.setattr(probe_oracle, "provision_together", lambda v, **_: seen.append(v.short()))
    oracle = probe.Oracle(template=templates.load("vec-of-structs"), store=store)
    result = bisect.run(bisect.BisectPlan(grid=g or grid(), jobs=jobs), oracle,
                        on_guess=guesses.append if guesses is not None else None)
    return result, oracle


def searches(result: bisect.BisectResult) -> list[dict[str, Any]]:
    return [s.to_json() for s in result.searches]


@pytest.mark.parametrize("jobs", [2, 3, 8])
def test_jobs_give_the_sequential_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    one, _ = run(Store(tmp_path / "one.sqlite3"), FakeProbe(), monkeypatch, jobs=1)
    fake = FakeProbe(delay=0.02)
    many, oracle = run(Store(tmp_path / "many.sqlite3"), fake, monkeypatch, jobs=jobs)
    assert searches(many) == searches(one)  # frontier, follow-up, probe counts of the search: all the same
    assert many.reference_types_summary == one.reference_types_summary
    assert many.first_failing is not None and many.first_failing.bindgen == "0.2.95"
    assert many.built == oracle.built >= many.asked - many.from_store  # guesses build too
    assert fake.max_running > 1
    assert fake.max_running <= jobs + 1  # each search's next probe never waits behind a guess


def test_guesses_run_niced_and_the_leftovers_are_dropped(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Guesses are slow until promoted: some are still running when the search is done.
    fake = FakeProbe(delay=0.01, guess_delay=0.5)
    guesses: list[Variant] = []
    g = grid(ReferenceTypes.DEFAULT)
    result, oracle = run(store, fake, monkeypatch, jobs=4, g=g, guesses=guesses)
    assert guesses and fake.niced and fake.dropped
    assert set(fake.niced) <= {v.short() for v in guesses}
    # A dropped guess is not an outcome: nothing stored, not counted as built (unless the search asks that cell
    # later on after all: then it is probed again, for real).
    tmpl = templates.load("vec-of-structs")
    dropped_at = {cell: i for i, (kind, cell) in enumerate(fake.events) if kind == "drop"}
    asked_later = {cell for i, (kind, cell) in enumerate(fake.events)
                   if kind.startswith("start") and cell in dropped_at and i > dropped_at[cell]}
    for variant in g.variants():
        if variant.short() in fake.dropped and variant.short() not in asked_later:
            assert variant.key not in oracle.outcomes
            assert store.get(variant, tmpl.content_hash, tmpl.check_hash) is None
    assert oracle.built == len(fake.calls) - len(fake.dropped)
    one, _ = run(Store(store.path.parent / "one.sqlite3"), FakeProbe(), monkeypatch, jobs=1, g=g)
    assert searches(result) == searches(one)


def test_a_guess_the_answers_rule_out_is_dropped_at_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A guess on the branch the search did not take stops before the search ends: its worker is free."""
    fake = FakeProbe(delay=0.01, guess_delay=2.0)
    result, _ = run(store, fake, monkeypatch, jobs=3, g=grid(ReferenceTypes.DEFAULT))
    drops = [i for i, (kind, _) in enumerate(fake.events) if kind == "drop"]
    assert drops and any(kind == "start" for kind, _ in fake.events[drops[0]:])  # the search went on after it
    assert result.first_failing is not None


def test_a_flaky_guess_is_not_fatal_unless_the_search_asks_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    probe_all = FakeProbe()
    one, _ = run(Store(tmp_path / "one.sqlite3"), probe_all, monkeypatch, jobs=1, g=grid(ReferenceTypes.DEFAULT))
    asked = set(probe_all.calls)
    every = {v.short() for v in grid(ReferenceTypes.DEFAULT).variants()}
    never_asked = sorted(every - asked)
    fake = FakeProbe(delay=0.02, flaky=frozenset(never_asked))
    many, _ = run(Store(tmp_path / "many.sqlite3"), fake, monkeypatch, jobs=6, g=grid(ReferenceTypes.DEFAULT))
    assert searches(many) == searches(one)
    # The same flakiness on a cell the search needs stops the run, as with -j 1.
    needed = FakeProbe(delay=0.02, flaky=frozenset({probe_all.calls[2]}))
    with pytest.raises(SearchAborted):
        run(Store(tmp_path / "needed.sqlite3"), needed, monkeypatch, jobs=3, g=grid(ReferenceTypes.DEFAULT))


def test_tools_for_likely_probes_are_prefetched_when_no_worker_is_spare(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """-j 2 with two settings leaves no worker for a guess: the CLI of the likeliest next probe is still built
    ahead (at a low priority), never for a cell already probed, each at most once."""
    fake = FakeProbe(delay=0.03)
    prefetched: list[str] = []
    result, _ = run(Store(tmp_path / "s.sqlite3"), fake, monkeypatch, jobs=2, prefetched=prefetched)
    assert prefetched
    assert len(prefetched) == len(set(prefetched))
    one, _ = run(Store(tmp_path / "one.sqlite3"), FakeProbe(), monkeypatch, jobs=1)
    assert searches(result) == searches(one)


def test_one_variant_asked_twice_at_once_is_probed_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeProbe(delay=0.1)
    install_probe(monkeypatch, fake)
    oracle = probe.Oracle(template=templates.load("vec-of-structs"), store=store)
    variant = grid().variants()[-1]
    threads = [threading.Thread(target=oracle.outcome, args=(variant,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.calls == [variant.short()] and oracle.built == 1


def test_cost_aware_bisect_uses_the_cached_clis_for_the_same_answer(tmp_path: Path, home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from ..probe.test_readiness import cached_cli

    cached = BINDGEN[3::4]  # every fourth release's CLI is built already
    for version in cached:
        cached_cli(version, 90.0)
    answers = {}
    for cost_aware in (False, True):
        fake = FakeProbe()
        install_probe(monkeypatch, fake)
        oracle = probe.Oracle(template=templates.load("vec-of-structs"),
                              store=Store(tmp_path / f"{cost_aware}.sqlite3"))
        result = bisect.run(bisect.BisectPlan(grid=grid(), cost_aware=cost_aware), oracle)
        answers[cost_aware] = [{k: v for k, v in s.items() if k != "probes"} for s in searches(result)]
        new_clis = {call.split("@")[1].split("[")[0] for call in fake.calls} - set(cached)
        print(f"cost-aware {cost_aware}: {len(fake.calls)} probes, {len(new_clis)} CLIs to build")
        answers[f"clis-{cost_aware}"] = len(new_clis)
    assert answers[True] == answers[False]
    assert answers["clis-True"] < answers["clis-False"]


def test_a_rerun_is_answered_from_the_store_whatever_the_caches_say(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost-aware search of a re-run sees warmer caches than the first run did (CLIs built, slots warm), so
    it would choose other probes; stored answers cost nothing, so it asks what is stored and builds nothing."""
    store = Store(tmp_path / "store.sqlite3")
    install_probe(monkeypatch, FakeProbe())
    plan = bisect.BisectPlan(grid=grid())
    first_oracle = probe.Oracle(template=templates.load("vec-of-structs"), store=store)
    first = bisect.run(plan, first_oracle, readiness=probe.Readiness.cold())
    assert first_oracle.built > 0
    warm = probe.Readiness(cli_built=set(BINDGEN[::2]), machine=False)  # every other CLI built since
    again_oracle = probe.Oracle(template=templates.load("vec-of-structs"), store=store)
    again = bisect.run(plan, again_oracle, readiness=warm)
    assert again_oracle.built == 0 and again_oracle.cached > 0
    strip = [{k: v for k, v in s.to_json().items() if k != "probes"} for s in first.searches]
    assert [{k: v for k, v in s.to_json().items() if k != "probes"} for s in again.searches] == strip
    store.close()
