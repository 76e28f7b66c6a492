"""Simulated cost and rounds of the whole `bisect` driver on 3 x 40 x 2 grids (issue 16), side by side in one run.

    python benchmarks/cost_bench.py [OUT.json] [--grids N] [--smoke]     (appends a run to results/costs.json)

Cost: the real driver (both reference-types settings, compatibility filter, follow-up re-probes) with only the
build replaced by a simulated world, once cost-blind (today's choices) and once cost-aware, under the issue's cost
model: a wasm-bindgen CLI build 90 s the first time a release is needed, a probe 10 s, 1.5 s when its target
slot already compiled that release for the same rustc and flags. Toolchains count as provisioned. Three
machines, each the same for both searches: cold (nothing built), 30% of the CLIs built before, and after
another bisect of the same grid (an unrelated bug, by today's search: its CLIs built, its cells' slots warm).
Every answer must be identical.

Rounds: the same driver's searches run together by search.speculate.simulate with -j 1, 2, 4, 8, every probe
taking one round; also today's -j (the two settings' searches side by side, each sequential). The answer must
again be identical to -j 1.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from wasm_bisect.runs import bisect as bisect_run
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
    from wasm_bisect.runs import bisect as bisect_run
import results_file
from driver_bench import RUSTC, SETTINGS, NullStore, World, bindgen_axis
from search_bench import SHAPES

from wasm_bisect.domain.errors import EndsAlike
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import Oracle, Readiness, templates
from wasm_bisect.probe import oracle as probe_module
from wasm_bisect.search import speculate

SEED = 20261201
CLI_SECONDS, PROBE_SECONDS, WARM_SECONDS = 90.0, 10.0, 1.5
MACHINES = ("cold", "30% of CLIs built", "after another bisect")
JOBS = (1, 2, 4, 8)


@dataclass
class SimMachine(Readiness):
    """The simulated machine's caches: what the cost-aware search reads, updated as the fake probes build."""

    warm_cells: set[tuple[str, str, str]] = field(default_factory=set)  # (rustc, flags family, wasm-bindgen)
    seconds_spent: float = 0.0

    @staticmethod
    def family(variant: Variant) -> str:
        # RUSTFLAGS: none for the default setting, +reference-types for "on" (a separate target slot family).
        return "plain" if variant.reference_types is ReferenceTypes.DEFAULT else str(variant.reference_types)

    def cli(self, variant: Variant) -> float:
        return 0.0 if variant.bindgen.version in self.cli_built else CLI_SECONDS

    def toolchain_seconds(self, variant: Variant) -> float:
        return 0.0

    def is_warm(self, variant: Variant) -> bool:
        return (variant.rustc.version, self.family(variant), variant.bindgen.version) in self.warm_cells

    def probe_seconds(self, variant: Variant) -> float:
        return WARM_SECONDS if self.is_warm(variant) else PROBE_SECONDS

    def build(self, variant: Variant) -> None:
        """Account one real probe and leave its traces in the caches."""
        self.seconds_spent += self.cli(variant) + self.probe_seconds(variant)
        self.cli_built.add(variant.bindgen.version)
        self.warm_cells.add((variant.rustc.version, self.family(variant), variant.bindgen.version))


def make_grid(template: templates.Template, cols: list[str]) -> Grid:
    return Grid(template=template.name, rustc=tuple(ToolchainSpec.parse(f"debian:{v}") for v in RUSTC),
                bindgen=tuple(BindgenSource.crates(v) for v in cols), reference_types=SETTINGS)


def drive(grid: Grid, world: World, machine: SimMachine, template: templates.Template, *, cost_aware: bool
          ) -> tuple[list[dict[str, Any]], float, int]:
    """One driver run on the simulated machine: (its answers, simulated seconds, CLIs it had to build)."""

    def fake_probe(variant: Variant, _template: Any, **_: Any) -> Outcome:
        machine.build(variant)
        return Outcome(verdict=world.verdict(variant), reason="simulated")

    probe_module.run_probe = fake_probe  # type: ignore[assignment]
    oracle = Oracle(template=template, store=NullStore())  # type: ignore[arg-type]
    before, clis = machine.seconds_spent, len(machine.cli_built)
    try:
        result = bisect_run.run(bisect_run.BisectPlan(grid=grid, cost_aware=cost_aware), oracle, readiness=machine)
    except EndsAlike as stopped:  # every corner fails with the one simulated reason: the run stops there (exit 3)
        return [{"stopped": stopped.message}], machine.seconds_spent - before, len(machine.cli_built) - clis
    answers = [{k: v for k, v in s.to_json().items() if k != "probes"} for s in result.searches]
    return answers, machine.seconds_spent - before, len(machine.cli_built) - clis


def prepared(kind: str, grid: Grid, template: templates.Template, rng: random.Random) -> SimMachine:
    machine = SimMachine(machine=False)
    if kind == "30% of CLIs built":
        machine.cli_built = {b.version for b in grid.bindgen if rng.random() < 0.3}
    elif kind == "after another bisect":  # an unrelated bug bisected on the grid before, by today's search
        make, _ = SHAPES[rng.choice(["corner", "two-step", "staircase"])]
        cols, rows = [b.version for b in grid.bindgen], [r.version for r in grid.rustc]
        other = World(make(len(rows), len(cols), rng), rng.random() < 0.5,
                      {v: i for i, v in enumerate(cols)}, {v: i for i, v in enumerate(rows)})
        drive(grid, other, machine, template, cost_aware=False)
    machine.seconds_spent = 0.0
    return machine


def cost_rows(template: templates.Template, grids: int, rng: random.Random, n_cols: int = 40
              ) -> list[dict[str, Any]]:
    cols = bindgen_axis(n_cols)
    grid = make_grid(template, cols)
    rows = []
    for kind in MACHINES:
        for shape in (s for s in SHAPES if not s.endswith("+skips")):
            make, _ = SHAPES[shape]
            today, aware, same, clis_today, clis_aware = [], [], 0, [], []
            for _ in range(grids):
                world = World(make(len(RUSTC), len(cols), rng), rng.random() < 0.5,
                              {v: i for i, v in enumerate(cols)}, {v: i for i, v in enumerate(RUSTC)})
                state = rng.getstate()
                blind_machine = prepared(kind, grid, template, rng)
                rng.setstate(state)
                aware_machine = prepared(kind, grid, template, rng)
                answer_today, seconds_today, built_today = drive(grid, world, blind_machine, template,
                                                                 cost_aware=False)
                answer_aware, seconds_aware, built_aware = drive(grid, world, aware_machine, template, cost_aware=True)
                today.append(seconds_today)
                aware.append(seconds_aware)
                clis_today.append(built_today)
                clis_aware.append(built_aware)
                same += answer_today == answer_aware
            rows.append({"machine": kind, "shape": shape, "grids": grids,
                         "today_mean_s": round(statistics.mean(today), 1),
                         "aware_mean_s": round(statistics.mean(aware), 1),
                         "cheaper": round(statistics.mean(today) / statistics.mean(aware), 3),
                         "today_clis_mean": round(statistics.mean(clis_today), 2),
                         "aware_clis_mean": round(statistics.mean(clis_aware), 2),
                         "same_answers": same})
    return rows


def rounds_rows(template: templates.Template, grids: int, rng: random.Random, n_cols: int = 40
                ) -> list[dict[str, Any]]:
    cols = bindgen_axis(n_cols)
    grid = make_grid(template, cols)
    plan = bisect_run.BisectPlan(grid=grid, cost_aware=False)
    rows = []
    for shape in (s for s in SHAPES if not s.endswith("+skips")):
        make, _ = SHAPES[shape]
        counts: dict[str, list[int]] = {f"j{j}": [] for j in JOBS} | {"today_j2": []}
        same = 0
        for _ in range(grids):
            world = World(make(len(RUSTC), len(cols), rng), rng.random() < 0.5,
                          {v: i for i, v in enumerate(cols)}, {v: i for i, v in enumerate(RUSTC)})
            truth: Callable[[Variant], Verdict] = world.verdict
            searches = [bisect_run.explorer(plan, rt) for rt in SETTINGS]
            results = {}
            for jobs in JOBS:
                found = speculate.simulate(searches, truth, jobs)
                counts[f"j{jobs}"].append(found.rounds)
                results[jobs] = found.results
            # Today's -j: the settings side by side, each search sequential: as many rounds as the longer one.
            counts["today_j2"].append(max(speculate.simulate([s], truth, 1).rounds for s in searches))
            same += all(results[j] == results[1] for j in JOBS)
        one = statistics.mean(counts["j1"])
        row: dict[str, Any] = {"shape": shape, "grids": grids, "same_answers": same}
        for key, values in counts.items():
            row[f"{key}_mean_rounds"] = round(statistics.mean(values), 2)
            row[f"{key}_fewer"] = round(one / statistics.mean(values), 3)
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    args = results_file.arguments("costs", argv, grids=200)
    grids = args.grids
    n_cols = 8 if args.smoke else 40  # smoke: the smallest grid, one world per shape and machine
    rng = random.Random(SEED)
    template = templates.load("vec-of-structs")
    real_probe = probe_module.run_probe
    started = time.perf_counter()
    try:
        costs = cost_rows(template, grids, rng, n_cols)
        rounds = rounds_rows(template, grids if args.smoke else max(grids // 4, 10), rng, n_cols)
    finally:
        probe_module.run_probe = real_probe
    seconds = time.perf_counter() - started
    print(f"{'machine':>20} {'shape':>13} {'today s':>9} {'aware s':>9} {'cheaper':>8} {'CLIs':>11} {'same':>6}")
    for r in costs:
        print(f"{r['machine']:>20} {r['shape']:>13} {r['today_mean_s']:>9} {r['aware_mean_s']:>9} "
              f"{r['cheaper']:>8} {r['today_clis_mean']:>5}/{r['aware_clis_mean']:<5} "
              f"{r['same_answers']:>4}/{r['grids']}")
    floor = math.log2(len(bindgen_axis(n_cols)))
    print(f"(any search must build >= log2({len(bindgen_axis(n_cols))}) = {floor:.1f} CLIs to place the newest rustc's "
          "boundary: on a cold machine that bounds what probe choice can save)")
    print(f"\n{'shape':>13} " + " ".join(f"{'-j' + str(j):>7}" for j in JOBS) + f" {'today -j2':>10}  fewer: -j4 -j8")
    for r in rounds:
        print(f"{r['shape']:>13} " + " ".join(f"{r[f'j{j}_mean_rounds']:>7}" for j in JOBS)
              + f" {r['today_j2_mean_rounds']:>10}  {r['j4_fewer']:>10} {r['j8_fewer']}")

    def over_shapes(rows: list[dict[str, Any]], key: str, **match: str) -> float:
        picked = [r for r in rows if all(r[k] == v for k, v in match.items())]
        return round(statistics.mean(r[key] for r in picked), 3)

    def ratio_of_totals(machine: str) -> float:
        picked = [r for r in costs if r["machine"] == machine]
        return round(sum(r["today_mean_s"] for r in picked) / sum(r["aware_mean_s"] for r in picked), 3)

    figures: dict[str, float | int | bool] = {
        "cheaper_cold": ratio_of_totals("cold"),
        "cheaper_30pct_clis": ratio_of_totals("30% of CLIs built"),
        "cheaper_after_another_bisect": ratio_of_totals("after another bisect"),
        "cost_same_answers": all(r["same_answers"] == r["grids"] for r in costs),
        "cold_clis_today": over_shapes(costs, "today_clis_mean", machine="cold"),
        "cold_clis_aware": over_shapes(costs, "aware_clis_mean", machine="cold"),
        "cold_clis_floor": round(floor, 2),
        "rounds_fewer_j2": over_shapes(rounds, "j2_fewer"),
        "rounds_fewer_j4": over_shapes(rounds, "j4_fewer"),
        "rounds_fewer_j8": over_shapes(rounds, "j8_fewer"),
        "rounds_fewer_today_j2": over_shapes(rounds, "today_j2_fewer"),
        "rounds_same_answers": all(r["same_answers"] == r["grids"] for r in rounds),
    }
    print(f"\ncost-aware vs today, total simulated seconds over shapes: cold {figures['cheaper_cold']}x, "
          f"30% CLIs built {figures['cheaper_30pct_clis']}x, after another bisect "
          f"{figures['cheaper_after_another_bisect']}x")
    print(f"rounds vs -j 1 (mean over shapes): -j2 {figures['rounds_fewer_j2']}x, -j4 {figures['rounds_fewer_j4']}x,"
          f" -j8 {figures['rounds_fewer_j8']}x (today's -j2: {figures['rounds_fewer_today_j2']}x); {seconds:.0f} s")
    details = {"seed": SEED, "rustc": RUSTC, "settings": [str(s) for s in SETTINGS],
               "model": {"cli_s": CLI_SECONDS, "probe_s": PROBE_SECONDS, "warm_probe_s": WARM_SECONDS},
               "costs": costs, "rounds": rounds, "seconds": round(seconds, 1)}
    results_file.record("costs", figures, details, path=args.out, smoke=args.smoke)
    return 0 if figures["cost_same_answers"] and figures["rounds_same_answers"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
