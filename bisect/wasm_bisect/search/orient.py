"""Corners first: which way each axis moves the bug, then the 2-D search on the grid mirrored into a regression.

A bug need not get worse along both axes: a newer rustc can make a latent wasm-bindgen bug fatal while a
later wasm-bindgen fixes it (bad region {rustc >= R} x {wasm-bindgen <= W}). `oriented_pair` probes the
corners that decide the orientation (newest x newest, oldest rustc x newest wasm-bindgen, newest rustc x
oldest wasm-bindgen; the oldest corner when those all agree, or when the chosen orientation's worst corner is
the oldest one), chooses per axis "introduces" or "fixes", and runs `first_failing_pair` on the view of the
grid in which both axes introduce it: regression, find-fix and the two mixed orientations are one search on
a mirrored grid. The corner answers are the search's first probes (nothing is asked twice).

Evidence decides over guesses: an axis the corners cannot decide takes the mode's default (introduces for a
regression, fixes for find-fix); when the search then meets a contradiction, it re-orients to an orientation
that fits every answer so far and goes on from there. When none fits (non-monotone in every orientation) it
bounds the bad box around a bad cell (an island) instead. Two ends checks keep it honest: corners that all
answer alike end the search there (`corners_alike` decides whether they fail the same way, ENDS_ALIKE), and
no boundary is ever claimed without a probed passing cell (NO_PASS).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Verdict
from wasm_bisect.search._orientation import Change, Island, Orientation, bad_regions_monotone
from wasm_bisect.search.bisection import CellProbe, Status, invert, median
from wasm_bisect.search.costs import CostModel
from wasm_bisect.search.frontier import Cell, Frontier, Mode, evidence_frontier, first_failing_pair

R = TypeVar("R")
C = TypeVar("C")
ORIENTATIONS = tuple((r, b) for r in Change for b in Change)


def oriented_pair(
    rows: Sequence[R],
    cols: Sequence[C],
    oracle2d: Callable[[R, C], Verdict],
    *,
    find_fix: bool = False,
    orientation: Orientation | None = None,
    untestable: Callable[[R, C], str | None] | None = None,
    costs: CostModel | None = None,
    corners_alike: Callable[[Sequence[tuple[R, C]]], bool] | None = None,
    mode: Mode = "full",
    walk_limit: int = 1,
    verify_corners: bool = False,
    axis_names: tuple[str, str] = ("rustc", "wasm-bindgen"),
) -> Frontier[R, C]:
    """The first failing (find_fix: first fixed) pair in whichever orientation the corners show.

    `orientation` given (from --good/--bad): no corner probes, the search runs in it. The result's `rows`,
    `cols` and cells are in the search's view (`Frontier.orientation.flip` maps them back); an island's
    cells are in grid coordinates. Labels must be unique on each axis.
    """
    n_rows, n_cols = len(rows), len(cols)
    if not n_rows or not n_cols:
        raise UsageError("the grid is empty", hint="give at least one rustc and one wasm-bindgen version")
    row_of = {label: i for i, label in enumerate(rows)}
    col_of = {label: j for j, label in enumerate(cols)}
    if len(row_of) != n_rows or len(col_of) != n_cols:
        raise UsageError("an axis names a version twice", hint="list each version once")
    blocked = {(r, c) for r in range(n_rows) for c in range(n_cols)
               if untestable is not None and untestable(rows[r], cols[c])}
    answers: dict[Cell, Verdict] = {}
    order: list[Cell] = []

    def ask(cell: Cell) -> Verdict:
        if cell not in answers:
            answers[cell] = oracle2d(rows[cell[0]], cols[cell[1]])
            order.append(cell)
        return answers[cell]

    def name(cell: Cell) -> str:
        return f"{axis_names[0]} {rows[cell[0]]} + {axis_names[1]} {cols[cell[1]]}"

    default = Change.FIXES if find_fix else Change.INTRODUCES

    def oriented(rustc: Change, bindgen: Change, decided_by: str) -> Orientation:
        both_fix = rustc is bindgen is Change.FIXES
        return Orientation(rustc=rustc, bindgen=bindgen, decided_by=decided_by,
                           new_verdict=Verdict.GOOD if find_fix and both_fix else Verdict.BAD)

    def search(o: Orientation) -> Frontier[R, C]:
        vrows = list(reversed(rows)) if o.rows_mirrored else list(rows)
        vcols = list(reversed(cols)) if o.cols_mirrored else list(cols)
        return first_failing_pair(
            vrows, vcols, lambda r_label, c_label: ask((row_of[r_label], col_of[c_label])), mode=mode,
            untestable=untestable, walk_limit=walk_limit, verify_corners=verify_corners, axis_names=axis_names,
            new_verdict=o.new_verdict, costs=_mirrored(costs, o, n_rows, n_cols),
            seed=[o.flip(cell, n_rows, n_cols) for cell in order], orientation=o)

    def stop(status: Status, message: str, island: Island | None = None) -> Frontier[R, C]:
        log = [CellProbe(r, c, answers[(r, c)]) for r, c in order]
        return evidence_frontier(rows, cols, log, status=status, message=message, blocked=blocked,
                                 new_verdict=Verdict.GOOD if find_fix else Verdict.BAD,
                                 orientation=oriented(default, default, "default"), island=island,
                                 axis_names=axis_names)

    if orientation is not None:
        return _honest(search(oriented(orientation.rustc, orientation.bindgen, orientation.decided_by)), answers)

    testable = [(r, c) for r in range(n_rows) for c in range(n_cols) if (r, c) not in blocked]
    if not testable:
        return search(oriented(default, default, "default"))  # nothing to orient by: UNTESTABLE

    def nearest(row: int, col: int) -> Cell:  # the corner, or the testable cell closest to it (same row first)
        return min(testable, key=lambda rc: (abs(rc[0] - row) + abs(rc[1] - col), abs(rc[0] - row)))

    nn, on, no, oo = (nearest(n_rows - 1, n_cols - 1), nearest(0, n_cols - 1), nearest(n_rows - 1, 0),
                      nearest(0, 0))
    ask(nn)
    ask(no)
    if not (answers[nn] is Verdict.BAD and answers[no] is Verdict.GOOD):
        # Newest rustc bad with the newest wasm-bindgen and good with the oldest: wasm-bindgen introduces it, and
        # the common regression needs no more corners (the search verifies its pair's neighbours and its own
        # corner: a rustc that fixes it shows up there). Anything else needs the old rustc's end too.
        ask(on)
    corners = list(dict.fromkeys((nn, on, no, oo)))

    def seen() -> set[Verdict]:
        return {answers[c] for c in corners if c in answers}

    def vote(pairs: Sequence[tuple[Cell, Cell]]) -> Change | None:
        votes = set()
        for older, newer in pairs:
            a, b = answers.get(older), answers.get(newer)
            if older != newer and a is Verdict.GOOD and b is Verdict.BAD:
                votes.add(Change.INTRODUCES)
            elif older != newer and a is Verdict.BAD and b is Verdict.GOOD:
                votes.add(Change.FIXES)
        return votes.pop() if len(votes) == 1 else None

    def votes() -> tuple[Change | None, Change | None]:
        return vote([(on, nn), (oo, no)]), vote([(no, nn), (oo, on)])

    rustc_vote, bindgen_vote = votes()
    if not {Verdict.GOOD, Verdict.BAD} <= seen():
        ask(oo)  # the corners so far cannot orient the grid: the oldest one may
    probed = [c for c in corners if c in answers]
    verdicts = seen()
    if Verdict.GOOD not in verdicts and corners_alike is not None and corners_alike(
            [(rows[r], cols[c]) for r, c in probed]):
        return stop(Status.ENDS_ALIKE, "every corner probed answered alike (" + ", ".join(
            f"{name(c)}: {answers[c]}" for c in probed) + "): the check cannot tell the ends apart")
    if verdicts == {Verdict.BAD}:
        every = "fails" if not find_fix else "is still broken"
        return stop(Status.LAST_NOT_NEW if find_fix else Status.FIRST_NOT_OLD,
                    f"every corner of the grid {every} ({', '.join(name(c) for c in probed)}): no pair passes at "
                    "the grid's ends, so the grid does not contain the boundary; start from other versions or "
                    "name a passing pair with --good")
    if verdicts == {Verdict.GOOD}:
        return stop(Status.FIRST_NOT_OLD if find_fix else Status.LAST_NOT_NEW,
                    f"every corner of the grid passes ({', '.join(name(c) for c in probed)}), so no pair is "
                    "bad at the grid's ends; a bad region inside the grid does not show at its corners "
                    "(`wasm-bisect matrix` probes every cell)")

    rustc_vote, bindgen_vote = votes()
    wanted = (rustc_vote or default, bindgen_vote or default)
    tried: set[tuple[Change, Change]] = set()

    def best(decided_by: str) -> Orientation | None:
        fits = [o for o in ORIENTATIONS if o not in tried and bad_regions_monotone(answers, *o)]
        if not fits:
            return None
        rustc, bindgen = min(fits, key=lambda o: ((o[0] is not wanted[0]) + (o[1] is not wanted[1]),
                                                  (o[0] is not default) + (o[1] is not default)))
        return oriented(rustc, bindgen, decided_by)

    choice = best("corners")
    while choice is not None:
        tried.add((choice.rustc, choice.bindgen))
        # The orientation's worst corner must be asked (git bisect's bad end): the search would infer it from
        # the corners that fail, and the oldest corner is the one an X of two bad boxes hides.
        worst = {(Change.INTRODUCES, Change.INTRODUCES): nn, (Change.INTRODUCES, Change.FIXES): no,
                 (Change.FIXES, Change.INTRODUCES): on, (Change.FIXES, Change.FIXES): oo}
        ask(worst[(choice.rustc, choice.bindgen)])  # both axes fixing: the oldest, in either view
        if not bad_regions_monotone(answers, choice.rustc, choice.bindgen):
            choice = best("evidence")
            continue
        result = search(choice)
        if result.violations:
            choice = best("evidence")
            continue
        # An axis the corners did not decide took a default, and monotone inference cannot show it wrong: the
        # corner probes may imply cells the answer rests on. So the pair's older neighbours are asked, not
        # inferred, and so is the far end of the pair's line along an undecided axis (new-side in this
        # orientation). Cheaper than the oldest corner up front, which the common one-axis boundaries never need.
        if result.first_pair is not None:
            r0, c0 = result.first_pair
            rustc_vote, bindgen_vote = votes()  # the search may have asked a corner the orientation skipped
            ends = [(r0, n_cols - 1)] if bindgen_vote is None else []
            ends += [(n_rows - 1, c0)] if rustc_vote is None else []
            if rustc_vote is None or bindgen_vote is None:
                ends += [cell for cell in ((r0 - 1, c0), (r0, c0 - 1)) if min(cell) >= 0]
            for end in ends:
                cell = choice.flip(end, n_rows, n_cols)
                if cell not in answers and cell not in blocked:
                    ask(cell)
            if not bad_regions_monotone(answers, choice.rustc, choice.bindgen):
                choice = best("evidence")
                continue
            result = search(choice) if len(order) > result.probes else result
        return _honest(result, answers)
    island = _island(ask, answers, order, blocked, (n_rows, n_cols))
    return stop(Status.ISLAND, _island_message(island, name, rows, cols, axis_names), island)


def _mirrored(costs: CostModel | None, o: Orientation, n_rows: int, n_cols: int) -> CostModel | None:
    if costs is None or not (o.rows_mirrored or o.cols_mirrored):
        return costs
    return replace(costs, cli=tuple(reversed(costs.cli)) if o.cols_mirrored else costs.cli,
                   toolchain=tuple(reversed(costs.toolchain)) if o.rows_mirrored else costs.toolchain,
                   warm=frozenset(o.flip(c, n_rows, n_cols) for c in costs.warm),
                   known=frozenset(o.flip(c, n_rows, n_cols) for c in costs.known))


def _honest(result: Frontier[R, C], answers: dict[Cell, Verdict]) -> Frontier[R, C]:
    """No boundary without a probed passing cell, and no first pair without a probed old-side neighbour."""
    verdicts = set(answers.values())
    if Verdict.GOOD not in verdicts and Verdict.BAD in verdicts:
        bad = sum(v is Verdict.BAD for v in answers.values())
        untested = sum(not v.testable for v in answers.values())
        return replace(result, status=Status.NO_PASS, first_pair=None, pair_candidates=(), message=(
            f"no cell passed: every testable cell probed fails ({bad} bad, {untested} untestable), so no boundary "
            "can rest on the evidence; make sure the check passes where the bug is absent"))
    if result.first_pair is not None:
        old = invert(result.new_verdict)
        r, c = result.first_pair
        olds = [(p.row, p.col) for p in result.log if p.verdict is old]
        if not any(g[0] >= nr >= 0 and g[1] >= nc >= 0 for g in olds for nr, nc in ((r - 1, c), (r, c - 1))):
            return replace(result, status=Status.RANGE, first_pair=None, pair_candidates=(result.first_pair,),
                           message=result.message + "; but no older neighbour of it was probed "
                           f"{result.old_term}, so it is not certain")
    return result


def _island(ask: Callable[[Cell], Verdict], answers: dict[Cell, Verdict], order: list[Cell], blocked: set[Cell],
            shape: tuple[int, int]) -> Island:
    """Bound the bad box through the first bad cell probed: bisect outward along its row and its column."""
    n_rows, n_cols = shape
    seed = next(c for c in order if answers[c] is Verdict.BAD)
    r0, c0 = seed
    bounds: list[Cell] = []
    edges: list[Cell] = []

    def reach(line: list[Cell]) -> int:
        """How far (in cells) the bad run from the seed goes along `line` (seed first), assuming one run."""
        hi = next((i for i, c in enumerate(line) if answers.get(c) is Verdict.GOOD), len(line))
        lo = max(i for i in range(hi) if answers.get(line[i]) is Verdict.BAD)
        while True:
            open_ = [i for i in range(lo + 1, hi) if line[i] not in blocked and line[i] not in answers]
            if not open_:
                break
            i = median(open_)
            verdict = ask(line[i])
            if verdict is Verdict.BAD:
                lo = i
            elif verdict is Verdict.GOOD:
                hi = i
        if hi < len(line):
            bounds.append(line[hi])
        edges.extend(line[i] for i in range(lo + 1, hi))
        return lo

    right = reach([(r0, c) for c in range(c0, n_cols)])
    left = reach([(r0, c) for c in range(c0, -1, -1)])
    up = reach([(r, c0) for r in range(r0, n_rows)])
    down = reach([(r, c0) for r in range(r0, -1, -1)])
    rows, cols = (r0 - down, r0 + up), (c0 - left, c0 + right)
    inside = {(r, c) for r in range(rows[0], rows[1] + 1) for c in range(cols[0], cols[1] + 1)}
    outside = tuple(c for c in order if answers[c] is Verdict.BAD and c not in inside)
    unprobed = sum(1 for r in range(n_rows) for c in range(n_cols) if (r, c) not in answers and (r, c) not in blocked)
    return Island(seed=seed, rows=rows, cols=cols, bounds=tuple(bounds), open_edges=tuple(edges),
                  outside_bad=outside, unprobed=unprobed)


def _island_message(island: Island, name: Callable[[Cell], str], rows: Sequence[R], cols: Sequence[C],
                    axis_names: tuple[str, str]) -> str:
    (r1, r2), (c1, c2) = island.rows, island.cols
    text = (f"non-monotone in every orientation: a bad box inside passing cells, {axis_names[0]} "
            f"{rows[r1]}..{rows[r2]} x {axis_names[1]} {cols[c1]}..{cols[c2]} (around the bad {name(island.seed)})")
    if island.bounds:
        text += "; bounded by the passing " + ", ".join(name(c) for c in island.bounds)
    unknown = [f"{island.unprobed} cell(s) not probed (the box is taken as a rectangle, only the row and column "
               "through it were probed)"]
    if island.open_edges:
        unknown.append("untestable at its edge: " + ", ".join(name(c) for c in island.open_edges))
    if island.outside_bad:
        unknown.append(f"{len(island.outside_bad)} bad cell(s) outside the box, e.g. {name(island.outside_bad[0])}")
    return text + "; still unknown: " + "; ".join(unknown)
