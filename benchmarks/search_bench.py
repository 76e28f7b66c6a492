"""Probe counts of the 2-D search on thousands of simulated grids (pure Python, well under a minute).

    python benchmarks/search_bench.py [OUT.json] [--smoke]    (default benchmarks/results/search.json)

For each shape and grid size it reports the mean/median/max probes of the full frontier and of the
first-failing-pair-only mode against: the exhaustive grid (R*W builds), per-axis bisection (each
rustc row bisected on its own over wasm-bindgen, ends checked first, as a person would do it with
git bisect) and the information-theoretic floor log2 C(R+W, R) (the number of monotone staircases).
It also checks every answer against the simulated truth (exact, or an honest range containing it).
"""

from __future__ import annotations

import functools
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

try:
    from wasm_bisect.domain.model import Verdict
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
    from wasm_bisect.domain.model import Verdict
import figures
import results_file

from wasm_bisect.search import Status, first_failing_pair, least_failing, staircase_floor

SEED = 20241122
SIZES = [(3, 40), (6, 60), (12, 40)]
GRIDS_PER_CELL = 1000
Cell = tuple[int, int]


@dataclass(frozen=True)
class World:
    f: list[int]  # row r fails from column f[r] on (n_cols: never)
    n_cols: int
    compat: frozenset[Cell] = frozenset()  # ruled out up front, like the compatibility filter
    broken: frozenset[Cell] = frozenset()  # answer SKIP when built (unexpected build failures)

    def oracle(self, r: int, c: int) -> Verdict:
        if (r, c) in self.compat or (r, c) in self.broken:
            return Verdict.SKIP
        return Verdict.BAD if c >= self.f[r] else Verdict.GOOD

    def precheck(self, r: int, c: int) -> str | None:
        return "incompatible" if (r, c) in self.compat else None


def staircase(n_rows: int, n_cols: int, rng: random.Random) -> list[int]:
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


def corner(n_rows: int, n_cols: int, rng: random.Random) -> list[int]:
    r0, c0 = rng.randrange(n_rows), rng.randrange(n_cols)
    return [n_cols if r < r0 else c0 for r in range(n_rows)]


def rustc_only(n_rows: int, n_cols: int, rng: random.Random) -> list[int]:
    r0 = rng.randrange(1, n_rows)
    return [n_cols] * r0 + [0] * (n_rows - r0)


def bindgen_only(n_rows: int, n_cols: int, rng: random.Random) -> list[int]:
    return [rng.randrange(1, n_cols)] * n_rows


def two_steps(n_rows: int, n_cols: int, rng: random.Random) -> list[int]:
    r1, r2 = sorted(rng.sample(range(n_rows), 2))
    c2, c1 = sorted(rng.sample(range(n_cols), 2))
    return [n_cols if r < r1 else c1 if r < r2 else c2 for r in range(n_rows)]


def with_skips(f: list[int], n_rows: int, n_cols: int, rng: random.Random) -> World:
    """Like the real filter: old rustc cannot build new wasm-bindgen (top right), new rustc refuses
    old wasm-bindgen (bottom left); plus a few scattered build failures the search only sees as SKIP."""
    top_rows, top_from = rng.randrange(n_rows // 2 + 1), rng.randrange(n_cols // 2, n_cols)
    # Up to 3/4 of the columns: rustc >= 1.86 refuses wasm-bindgen < 0.2.88, most of a long axis.
    bottom_from, bottom_cols = rng.randrange(n_rows // 2, n_rows), rng.randrange(n_cols * 3 // 4)
    compat = {(r, c) for r in range(top_rows) for c in range(top_from, n_cols)}
    compat |= {(r, c) for r in range(bottom_from, n_rows) for c in range(bottom_cols)}
    broken = {(rng.randrange(n_rows), rng.randrange(n_cols)) for _ in range(n_rows * n_cols // 30)}
    return World(f, n_cols, frozenset(compat), frozenset(broken - compat))


SHAPES: dict[str, tuple[Callable[[int, int, random.Random], list[int]], bool]] = {
    "corner": (corner, False),
    "rustc-only": (rustc_only, False),
    "bindgen-only": (bindgen_only, False),
    "two-step": (two_steps, False),
    "staircase": (staircase, False),
    "corner+skips": (corner, True),
    "staircase+skips": (staircase, True),
}


def per_axis_probes(world: World) -> int:
    """Bisect every row on its own, like running git bisect once per rustc."""
    return sum(
        least_failing(
            range(world.n_cols),
            functools.partial(world.oracle, row),
            untestable=functools.partial(world.precheck, row),
        ).probes
        for row in range(len(world.f))
    )


def correct(world: World, result_rows: list[tuple[int, int]]) -> bool:
    """Every row's truth lies in its reported [lo, hi] (exact when certain)."""
    return all(
        lo <= truth <= hi and (lo != hi or truth == lo)
        for truth, (lo, hi) in zip(world.f, result_rows, strict=True)
    )


def run_cell(shape: str, n_rows: int, n_cols: int, rng: random.Random, grids: int = GRIDS_PER_CELL
             ) -> dict[str, object]:
    make, skipped = SHAPES[shape]
    full, pair, per_axis, ok = [], [], [], 0
    for _ in range(grids):
        f = make(n_rows, n_cols, rng)
        world = with_skips(f, n_rows, n_cols, rng) if skipped else World(f, n_cols)
        result = first_failing_pair(range(n_rows), range(n_cols), world.oracle, untestable=world.precheck)
        full.append(result.probes)
        pair.append(
            first_failing_pair(
                range(n_rows), range(n_cols), world.oracle, mode="pair", untestable=world.precheck
            ).probes
        )
        per_axis.append(per_axis_probes(world))
        decided = skipped or result.status in (Status.FOUND, Status.FIRST_NOT_OLD, Status.LAST_NOT_NEW)
        ok += correct(world, [(f.lo, f.hi) for f in result.staircase]) and not result.violations and decided
    floor = staircase_floor(n_rows, n_cols)
    return {
        "shape": shape,
        "rows": n_rows,
        "cols": n_cols,
        "grids": grids,
        "full_mean": round(statistics.mean(full), 2),
        "full_median": statistics.median(full),
        "full_max": max(full),
        "pair_mean": round(statistics.mean(pair), 2),
        "exhaustive": n_rows * n_cols,
        "per_axis_mean": round(statistics.mean(per_axis), 2),
        "floor": round(floor, 2),
        "full_over_floor": round(statistics.mean(full) / floor, 2),
        "corner_budget": math.ceil(math.log2(n_rows)) + math.ceil(math.log2(n_cols)) + 3,
        "correct": ok / grids,
    }


def main(argv: list[str]) -> int:
    args = results_file.arguments("search", argv)
    sizes, grids = (SIZES[:1], 3) if args.smoke else (SIZES, GRIDS_PER_CELL)  # smoke: the smallest grid
    rng = random.Random(SEED)
    started = time.perf_counter()
    cells = [run_cell(shape, r, w, rng, grids) for r, w in sizes for shape in SHAPES]
    seconds = time.perf_counter() - started
    header = (
        "shape",
        "RxW",
        "full mean",
        "med",
        "max",
        "pair",
        "per-axis",
        "exhaust",
        "floor",
        "/floor",
        "budget",
        "ok",
    )
    print(" ".join(f"{h:>15}" if i == 0 else f"{h:>9}" for i, h in enumerate(header)))
    for c in cells:
        values = (
            c["shape"],
            f"{c['rows']}x{c['cols']}",
            c["full_mean"],
            c["full_median"],
            c["full_max"],
            c["pair_mean"],
            c["per_axis_mean"],
            c["exhaustive"],
            c["floor"],
            c["full_over_floor"],
            c["corner_budget"],
            f"{c['correct']:.0%}",
        )
        print(" ".join(f"{v!s:>15}" if i == 0 else f"{v!s:>9}" for i, v in enumerate(values)))
    print(f"{len(cells) * grids} grids in {seconds:.1f} s")
    report = {"seed": SEED, "grids_per_cell": grids, "seconds": round(seconds, 1), "cells": cells}
    results_file.record("search", figures.search(report), report, path=args.out, smoke=args.smoke)
    return 0 if all(c["correct"] == 1.0 for c in cells) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
