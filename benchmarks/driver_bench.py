"""The whole `bisect` driver on a simulated 3 x 40 x 2 grid (rustc x wasm-bindgen x reference-types).

    python benchmarks/driver_bench.py [OUT.json] [--smoke]    (default benchmarks/results/driver.json)

search_bench.py measures the pure 2-D search; this one runs the real driver (bisect_run.run: one search
per reference-types setting, the compatibility pre-filter on real version numbers, the reference-types
follow-up re-probes) with only the build replaced: `probe()` answers from a simulated world and the
store keeps nothing. Counted: real builds the driver would start (plan-time skips are free), against the
exhaustive grid (every cell built, as `matrix` does). Every first failing pair reported must be truly bad.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from wasm_bisect.runs import bisect as bisect_run
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
    from wasm_bisect.runs import bisect as bisect_run
import figures
import results_file
from search_bench import SHAPES

from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import EndsAlike
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import Oracle, Readiness, templates
from wasm_bisect.probe import oracle as probe_module

SEED = 20261122
GRIDS_PER_SHAPE = 300
RUSTC = ("1.63.0", "1.85.0", "1.96.0")  # 1.63: reference-types off by default; 1.85/1.96: on by default
SETTINGS = (ReferenceTypes.DEFAULT, ReferenceTypes.ON)


def bindgen_axis(n: int = 40, newest: str = "0.2.100") -> list[str]:
    usable = [r.version for r in versions.bundled_releases() if not r.yanked and not r.cli_yanked]
    end = usable.index(newest) + 1
    return usable[end - n:end]


class NullStore:
    """The store interface the oracle uses, keeping nothing: every cell is a fresh build."""

    def get(self, *_: Any) -> None:
        return None

    def put(self, *_: Any) -> None:
        return None

    def record(self, *_: Any, **__: Any) -> None:
        return None


@dataclass(frozen=True)
class World:
    f: list[int]  # rustc row r fails from wasm-bindgen column f[r] on (n_cols: never)
    follows_reference_types: bool  # the bug needs reference-types on (like #4352), or not at all
    col_of: dict[str, int]
    row_of: dict[str, int]

    def verdict(self, variant: Variant) -> Verdict:
        r, c = self.row_of[variant.rustc.version], self.col_of[variant.bindgen.version]
        rt = variant.reference_types
        on = rt is ReferenceTypes.ON or (rt is ReferenceTypes.DEFAULT and r > 0)
        if self.follows_reference_types and not on:
            return Verdict.GOOD
        return Verdict.BAD if c >= self.f[r] else Verdict.GOOD


def run_shape(shape: str, rng: random.Random, template: templates.Template, *, grids: int = GRIDS_PER_SHAPE,
              n_cols: int = 40) -> dict[str, Any]:
    make, _ = SHAPES[shape]
    cols = bindgen_axis(n_cols)
    grid = Grid(template=template.name, rustc=tuple(ToolchainSpec.parse(f"debian:{v}") for v in RUSTC),
                bindgen=tuple(BindgenSource.crates(v) for v in cols), reference_types=SETTINGS)
    built, wrong = [], 0
    for _ in range(grids):
        world = World(make(len(RUSTC), len(cols), rng), rng.random() < 0.5,
                      {v: i for i, v in enumerate(cols)}, {v: i for i, v in enumerate(RUSTC)})

        def fake_probe(variant: Variant, _template: Any, world: World = world, **_: Any) -> Outcome:
            return Outcome(verdict=world.verdict(variant), reason="simulated")

        probe_module.run_probe = fake_probe  # type: ignore[assignment]
        oracle = Oracle(template=template, store=NullStore())  # type: ignore[arg-type]
        try:
            result = bisect_run.run(bisect_run.BisectPlan(grid=grid), oracle, readiness=Readiness.cold())
        except EndsAlike:  # every corner fails with the one simulated reason: stopped there (exit 3), none blamed
            built.append(oracle.built)
            continue
        built.append(oracle.built)
        for search in result.searches:
            first = search.first_failing
            if first is not None:
                variant = grid.variant(ToolchainSpec.parse(first.rustc), BindgenSource.crates(first.bindgen),
                                       ReferenceTypes(search.reference_types))
                wrong += world.verdict(variant) is not Verdict.BAD
    exhaustive = grid.size
    return {"shape": shape, "grid": f"{len(RUSTC)}x{len(cols)}x{len(SETTINGS)}", "grids": grids,
            "builds_median": statistics.median(built), "builds_mean": round(statistics.mean(built), 2),
            "builds_max": max(built), "exhaustive": exhaustive,
            "fewer_than_exhaustive_median": round(exhaustive / statistics.median(built), 2),
            "wrongly_blamed": wrong}


def main(argv: list[str]) -> int:
    args = results_file.arguments("driver", argv)
    size = {"grids": 2, "n_cols": 8} if args.smoke else {}  # smoke: the smallest grid
    rng = random.Random(SEED)
    template = templates.load("vec-of-structs")
    real_probe = probe_module.run_probe
    started = time.perf_counter()
    try:
        rows = [run_shape(shape, rng, template, **size) for shape in SHAPES if not shape.endswith("+skips")]
    finally:
        probe_module.run_probe = real_probe
    seconds = time.perf_counter() - started
    every = [r["builds_median"] for r in rows]
    print(f"{'shape':>14} {'grid':>8} {'median':>7} {'mean':>7} {'max':>5} {'exhaust':>8} {'x fewer':>8} {'wrong':>6}")
    for r in rows:
        print(f"{r['shape']:>14} {r['grid']:>8} {r['builds_median']:>7} {r['builds_mean']:>7} {r['builds_max']:>5} "
              f"{r['exhaustive']:>8} {r['fewer_than_exhaustive_median']:>8} {r['wrongly_blamed']:>6}")
    overall = rows[0]["exhaustive"] / statistics.median(every)
    print(f"median over shapes: {overall:.1f}x fewer builds than exhaustive (target >= 8x); {seconds:.1f} s")
    details = {"seed": SEED, "rustc": RUSTC, "settings": [str(s) for s in SETTINGS], "seconds": round(seconds, 1),
               "shapes": rows, "median_fewer_than_exhaustive": round(overall, 2), "target": 8}
    results_file.record("driver", figures.driver(details), details, path=args.out, smoke=args.smoke)
    return 0 if all(r["wrongly_blamed"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
