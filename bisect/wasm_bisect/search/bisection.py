"""1-D bisection with git bisect semantics: an ordered list, an oracle, the first point on the new side."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Literal, ParamSpec, TypeVar

from wasm_bisect.domain.errors import SearchAborted, UsageError
from wasm_bisect.domain.model import Verdict

T = TypeVar("T")
P = ParamSpec("P")



class Status(StrEnum):
    FOUND = "found"  # the first new point / first failing pair is certain
    RANGE = "range"  # untestable points hide it: it is one of `candidates`
    FIRST_NOT_OLD = "first-not-old"  # the first point (oldest pair) is already new (bad)
    LAST_NOT_NEW = "last-not-new"  # the last point (newest pair) is still old (good)
    UNTESTABLE = "untestable"  # nothing could be tested
    NON_MONOTONE = "non-monotone"  # evidence contradicts monotone failure (see `violations`)
    ISLAND = "island"  # non-monotone in every orientation: a bad box inside good cells (Frontier.island)
    NO_PASS = "no-pass"  # noqa: S105 - a status, not a password: no probed cell passed, no boundary rests on it
    ENDS_ALIKE = "ends-alike"  # every corner answered alike (one failure): the check cannot tell the ends apart


@dataclass(frozen=True)
class CellProbe:
    """One probe of the 2-D search: a (row, col) cell and its verdict."""

    row: int
    col: int
    verdict: Verdict


class FlakyPoint(SearchAborted):
    """Repeated probes of one point disagreed: stop rather than bisect on a coin toss."""

    def __init__(self, message: str, *, point: tuple[object, ...], counts: Mapping[Verdict, int]) -> None:
        super().__init__(message, hint="rerun it, raise the repeat count, or make the check deterministic")
        self.point = point
        self.counts = dict(counts)
        self.probe_log: tuple[PointProbe, ...] | tuple[CellProbe, ...] = ()  # filled in by the search


def repeat_oracle(
    oracle: Callable[P, Verdict],
    n: int,
    threshold: int | None = None,
    *,
    label: Callable[..., str] | None = None,
) -> Callable[P, Verdict]:
    """Ask `oracle` up to `n` times per point and return the verdict at least `threshold` runs agree on
    (default: all n). Raises FlakyPoint (a SearchAborted, exit code 3) naming the point otherwise.

    Stops early once a verdict reaches the threshold or none still can. `threshold` must be a strict
    majority so two verdicts can never both qualify.
    """
    need = n if threshold is None else threshold
    if n < 1 or not n / 2 < need <= n:
        raise UsageError(
            f"repeat threshold {need} of {n} runs is not a strict majority", hint=f"use {n // 2 + 1}..{n}"
        )

    def repeated(*args: P.args, **kwargs: P.kwargs) -> Verdict:
        counts: Counter[Verdict] = Counter()
        for done in range(1, n + 1):
            verdict = oracle(*args, **kwargs)
            counts[verdict] += 1
            if counts[verdict] >= need:
                return verdict
            if max(counts.values()) + (n - done) < need:
                break
        name = label(*args, **kwargs) if label else " x ".join(str(a) for a in args)
        seen = ", ".join(f"{v} {k}" for v, k in sorted(counts.items(), key=lambda kv: -kv[1]))
        raise FlakyPoint(
            f"flaky result for {name}: {seen} in {sum(counts.values())} runs (need {need} to agree)",
            point=tuple(args),
            counts=counts,
        )

    return repeated


# --- 1-D: least_failing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PointProbe:
    index: int
    verdict: Verdict


@dataclass(frozen=True, kw_only=True)
class Bisection(Generic[T]):
    """Where the new side starts along an ordered list (indexes into `items`)."""

    status: Status
    items: tuple[T, ...]
    first_new: int | None  # set only when certain
    candidates: tuple[int, ...]  # what it may be: (first_new,) when certain
    maybe_none: bool  # untestable points at the end: perhaps nothing is new
    last_old: int | None
    old_term: str
    new_term: str
    probes: int
    log: tuple[PointProbe, ...]
    message: str

    def __bool__(self) -> bool:
        return self.status is Status.FOUND

    @property
    def first_bad(self) -> int | None:
        """The first point on the new side (the first bad one with the default terms)."""
        return self.first_new

    @property
    def skipped(self) -> tuple[int, ...]:
        return tuple(p.index for p in self.log if p.verdict is Verdict.SKIP)

    @property
    def errors(self) -> tuple[int, ...]:
        return tuple(p.index for p in self.log if p.verdict is Verdict.ERROR)


def median(candidates: Sequence[int]) -> int:
    """Median of the still-testable candidates: the midpoint, or, when it was untestable, its
    neighbours outward, alternating sides as more of them turn out untestable (git bisect's skip)."""
    return candidates[len(candidates) // 2]


def least_failing(
    items: Sequence[T],
    oracle: Callable[[T], Verdict],
    *,
    old_term: str = "good",
    new_term: str = "bad",
    known_old: int | None = None,
    known_new: int | None = None,
    new_verdict: Verdict = Verdict.BAD,
    untestable: Callable[[T], str | None] | None = None,
    describe: Callable[[T], str] = str,
) -> Bisection[T]:
    """Find the first point whose verdict is `new_verdict`, assuming old...old new...new.

    Unknown ends are probed first (a wrong end gives FIRST_NOT_OLD / LAST_NOT_NEW, not an exception);
    `known_old`/`known_new` are trusted indexes. Each point is asked at most once. Points for which
    `untestable` gives a reason are treated as skipped without asking.
    """
    n = len(items)
    lower = 0 if known_old is None else known_old
    upper = n - 1 if known_new is None else known_new
    if not 0 <= lower < upper < n:
        raise UsageError(
            f"nothing to bisect between {lower} and {upper} in a list of {n}",
            hint="give at least two points, the known old one first",
        )
    if not new_verdict.testable:
        raise UsageError(f"new verdict must be good or bad, not {new_verdict}")
    answers: dict[int, Verdict] = {}
    blocked: set[int] = set()
    log: list[PointProbe] = []

    def side(index: int) -> Literal["old", "new", "untestable"]:
        if index not in answers and index not in blocked:
            if untestable is not None and untestable(items[index]):
                blocked.add(index)
            else:
                try:
                    verdict = oracle(items[index])
                except FlakyPoint as exc:
                    exc.probe_log = tuple(log)
                    raise
                answers[index] = verdict
                log.append(PointProbe(index, verdict))
                if not verdict.testable:
                    blocked.add(index)
        if index in blocked:
            return "untestable"
        return "new" if answers[index] is new_verdict else "old"

    def finish(status: Status, message: str, *, lo: int, hi: int) -> Bisection[T]:
        if status is Status.FOUND:
            candidates: tuple[int, ...] = (hi,)
        elif status in (Status.RANGE, Status.UNTESTABLE):
            candidates = tuple(range(lo + 1, min(hi, n - 1) + 1))
        else:
            candidates = ()
        errors = sum(p.verdict is Verdict.ERROR for p in log)
        untested = len(blocked & set(range(lo + 1, hi)))
        if untested and status is not Status.FOUND:
            detail = f", {errors} of them errors" if errors else ""
            message += f" ({untested} untestable{detail})"
        return Bisection(
            status=status, items=tuple(items), first_new=hi if status is Status.FOUND else None,
            candidates=candidates, maybe_none=status in (Status.RANGE, Status.UNTESTABLE) and hi == n,
            last_old=lo if lo >= 0 and status in (Status.FOUND, Status.RANGE) else None,
            old_term=old_term, new_term=new_term, probes=len(log), log=tuple(log), message=message,
        )

    lo = -1 if known_old is None else known_old  # -1 and n are sentinels: not seen, only assumed
    hi = n if known_new is None else known_new
    if known_old is None:
        first = side(0)
        if first == "new":
            return finish(Status.FIRST_NOT_OLD,
                          f"the first point {describe(items[0])} is not {old_term}: it is {new_term}",
                          lo=-1, hi=0)
        if first == "old":
            lo = 0
    if known_new is None:
        last = side(n - 1)
        if last == "old":
            return finish(Status.LAST_NOT_NEW,
                          f"the last point {describe(items[-1])} is not {new_term}: it is {old_term}",
                          lo=n - 1, hi=n)
        if last == "new":
            hi = n - 1
    while candidates := [i for i in range(lo + 1, hi) if i not in blocked]:
        probe = median(candidates)
        outcome = side(probe)
        if outcome == "old":
            lo = probe
        elif outcome == "new":
            hi = probe
    if lo + 1 == hi and hi < n:
        text = f"the first {new_term} point is {describe(items[hi])}"
        if lo >= 0:
            text += f" (the last {old_term} is {describe(items[lo])})"
        return finish(Status.FOUND, text, lo=lo, hi=hi)
    if lo < 0 and hi == n:
        return finish(Status.UNTESTABLE, "no point could be tested", lo=lo, hi=hi)
    first_text, last_text = describe(items[lo + 1]), describe(items[min(hi, n - 1)])
    text = f"the first {new_term} point is one of {first_text}..{last_text}"
    if hi == n:
        text = (f"no point tested {new_term}; the first {new_term} point, if any, "
                f"is one of {first_text}..{last_text}")
    elif lo < 0:
        text += f"; no point before it tested {old_term}"
    return finish(Status.RANGE, text, lo=lo, hi=hi)


def find_fix(
    items: Sequence[T],
    oracle: Callable[[T], Verdict],
    *,
    known_broken: int | None = None,
    known_fixed: int | None = None,
    untestable: Callable[[T], str | None] | None = None,
    describe: Callable[[T], str] = str,
) -> Bisection[T]:
    """Find the first point that passes again (old = broken = BAD, new = fixed = GOOD); the probe log
    keeps the oracle's own verdicts."""
    return least_failing(
        items, oracle, old_term="broken", new_term="fixed", known_old=known_broken, known_new=known_fixed,
        new_verdict=Verdict.GOOD, untestable=untestable, describe=describe,
    )


def invert(verdict: Verdict) -> Verdict:
    """GOOD <-> BAD; SKIP and ERROR stay (for callers that map verdicts themselves)."""
    return {Verdict.GOOD: Verdict.BAD, Verdict.BAD: Verdict.GOOD}.get(verdict, verdict)


# --- 2-D: first_failing_pair ----------------------------------------------------------------------
