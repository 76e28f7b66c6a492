"""The README's benchmark table, generated from benchmarks/results/*.json: every figure is a median over the
recorded runs with its spread, never a hand-copied best run.

    python benchmarks/readme_table.py            # rewrite the table in README.md
    python benchmarks/readme_table.py --check    # exit 1 when README.md and the results disagree, or when
                                                 # README/docs prose has a figure no results file holds
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
START, END = "<!-- benchmark-table:start -->", "<!-- benchmark-table:end -->"


class Figures:
    """The runs of one results file; `fig(key)` renders a figure's median and spread over the runs."""

    def __init__(self, name: str) -> None:
        path = RESULTS / f"{name}.json"
        data = json.loads(path.read_text()) if path.is_file() else {"runs": []}  # a benchmark not run yet
        # A run of code that has changed since (marked "superseded" with the reason) stays in the file only.
        self.runs = [r for r in data["runs"] if r.get("figures") and not r.get("superseded")]
        self.superseded = sum(1 for r in data["runs"] if r.get("superseded"))
        self.name = name

    def values(self, key: str) -> list[float]:
        # A run may also retire single figures ("superseded_figures": {key: reason}) whose code changed since.
        return [float(r["figures"][key]) for r in self.runs
                if key in r["figures"] and key not in r.get("superseded_figures", {})]

    def fig(self, key: str, unit: str = "", digits: int = 2) -> str:
        values = self.values(key)
        if not values:
            return "not measured yet"
        mid = round(statistics.median(values), digits)
        text = f"{mid:g}{unit}"
        low, high = round(min(values), digits), round(max(values), digits)
        if len(values) > 1 and low != high:
            text += f" (range {low:g} to {high:g}{unit})"
        return text

    def count(self) -> str:
        n = len(self.runs)
        text = f"{n} run" + ("s" if n != 1 else "")
        return text + (f" (+{self.superseded} superseded)" if self.superseded else "")


def _yes(figures: Figures, key: str) -> str:
    """A yes/no figure over every run: yes only when every run said yes."""
    values = figures.values(key)
    return "not measured yet" if not values else "yes" if all(values) else "no"


Row = tuple[str, str, Callable[[Figures], str], str]
ROWS: list[Row] = [
    ("probes to the first failing pair, single corner, 3 x 40 grid (simulated oracle, 1,000 grids)", "search",
     lambda f: f"mean {f.fig('corner_3x40_mean')}, max {f.fig('corner_3x40_max')} vs "
               f"{f.fig('corner_3x40_exhaustive')} exhaustive", "<= ceil(log2 R)+ceil(log2 W)+3 = 11"),
    ("random staircases vs the information-theoretic floor (3x40 / 6x60 / 12x40)", "search",
     lambda f: f"{f.fig('staircase_3x40_over_floor', 'x')} / {f.fig('staircase_6x60_over_floor', 'x')} / "
               f"{f.fig('staircase_12x40_over_floor', 'x')}", "<= 1.5x"),
    ("whole `bisect` driver, 3 x 40 x 2 grid (both settings, real compatibility filter, follow-up; 300 grids per "
     "shape): builds vs exhaustive", "driver",
     lambda f: f"median builds per shape {f.fig('builds_median_lowest')}-{f.fig('builds_median_highest')} vs "
               f"{f.fig('exhaustive')}: {f.fig('fewer_than_exhaustive_over_shapes', 'x')} fewer over shapes, "
               f"{f.fig('fewer_than_exhaustive_staircase', 'x')} on random staircases; wrongly blamed "
               f"{f.fig('wrongly_blamed')}", ">= 8x fewer, 0 blamed"),
    ("warm real probe, tool vs raw `wasm-pack build` + `node check.mjs` of the same crate (alternating rounds)",
     "probe", lambda f: f"{f.fig('tool_median_s', ' s')} vs {f.fig('raw_median_s', ' s')}: overhead "
                        f"{f.fig('overhead_pct', '%')}", "<= 3%"),
    ("re-running a finished real bisect", "probe",
     lambda f: f"{f.fig('rerun_seconds', ' s')}, {f.fig('rerun_builds')} builds", "< 2 s, 0 builds"),
    ("real matrix 2x2x2, -j2 vs -j1 throughput (cell stage; whole command)", "probe",
     lambda f: f"{f.fig('j2_cells_speedup', 'x')}; {f.fig('j2_whole_speedup', 'x')}", ">= 1.6x"),
    ("warm real probe of one variant (vec-of-structs, 1.96.0 + 0.2.99) per runtime, side by side: node / "
     "headless chromium / headless firefox (whole probe; check stage)", "runtime",
     lambda f: f"{f.fig('node_probe_s', ' s')} / {f.fig('chromium_probe_s', ' s')} / "
               f"{f.fig('firefox_probe_s', ' s')}; check {f.fig('node_check_s', ' s')} / "
               f"{f.fig('chromium_check_s', ' s')} / {f.fig('firefox_check_s', ' s')}: chromium "
               f"{f.fig('chromium_over_node', 'x')}, firefox {f.fig('firefox_over_node', 'x')} node's time",
     "measured"),
    ("peak RSS of the tool: a bisect that builds / a -j2 matrix", "probe",
     lambda f: f"{f.fig('bisect_peak_rss_mib', ' MiB', 1)} / {f.fig('matrix_peak_rss_mib', ' MiB', 1)}",
     "measured"),
    ("cost-aware vs cost-blind search, whole driver on 3 x 40 x 2 grids, simulated seconds (CLI 90 s, probe 10 s, "
     "warm probe 1.5 s), same answers: cold / 30% of CLIs built / after another bisect", "costs",
     lambda f: f"{f.fig('cheaper_cold', 'x')} / {f.fig('cheaper_30pct_clis', 'x')} / "
               f"{f.fig('cheaper_after_another_bisect', 'x')}; same answers {_yes(f, 'cost_same_answers')}; CLIs "
               f"built cold {f.fig('cold_clis_today')} vs {f.fig('cold_clis_aware')}, any search >= "
               f"{f.fig('cold_clis_floor')}", ">= 1.5x cold"),
    ("rounds of fixed-cost probes, whole driver (2 settings) with -j 4 / -j 8 vs -j 1 (before: -j only ran the "
     "2 settings side by side)", "costs",
     lambda f: f"{f.fig('rounds_fewer_j4', 'x')} / {f.fig('rounds_fewer_j8', 'x')} fewer (before: "
               f"{f.fig('rounds_fewer_today_j2', 'x')} at any -j >= 2); same answers {_yes(f, 'rounds_same_answers')}",
     ">= 1.8x / >= 2.5x"),
    ("real bisect -j 2 vs -j 1 (2 rustc x 7 wasm-bindgen x 2 settings, private homes, CLIs cached)", "jobs",
     lambda f: f"{f.fig('j2_faster', 'x')} ({f.fig('j2_s', ' s', 1)} vs {f.fig('j1_s', ' s', 1)}); same answers "
               f"{_yes(f, 'same_answers')}", "measured"),
    ("wasm-bindgen CLI build, opt-level 0 (now) vs opt-level 1 (before), in an empty target dir; the CLI on the "
     "probe's release / dev module", "toolbuild",
     lambda f: f"{f.fig('opt0_faster_than_opt1', 'x')} faster ({f.fig('opt0_build_s', ' s', 0)} vs "
               f"{f.fig('opt1_build_s', ' s', 0)}); {f.fig('opt0_run_release_s', ' s', 3)} / "
               f"{f.fig('opt0_run_dev_s', ' s', 3)} vs {f.fig('opt1_run_release_s', ' s', 3)} / "
               f"{f.fig('opt1_run_dev_s', ' s', 3)}", "faster, run time < 1 s"),
    ("the next release's CLI built in the target dir of the one before vs an empty one", "toolbuild",
     lambda f: f"{f.fig('neighbour_reuse_faster', 'x')} faster ({f.fig('neighbour_reused_s', ' s', 0)} vs "
               f"{f.fig('neighbour_fresh_s', ' s', 0)})", "measured"),
    ("the demo on a cold machine (empty tool home and CARGO_HOME, 2 cores, GitHub unreachable so every CLI is "
     "built): now / before issue 16 (d9f50d0), side by side in one run", "cold",
     lambda f: f"{f.fig('after_wall_s', ' s', 0)} / {f.fig('before_wall_s', ' s', 0)}: "
               f"{f.fig('after_faster_than_before', 'x')} faster (load average {f.fig('after_load_before', '', 1)} / "
               f"{f.fig('before_load_before', '', 1)} at the start)", "<= 600 s"),
    ("the demo grid's `--dry-run` estimate (expected, at most) vs the measured time, in the same run: cold (empty "
     "homes) / warm (caches kept, a new store: every probe builds again)", "cold",
     lambda f: f"{f.fig('estimate_cold_expected_s', ' s', 0)}, {f.fig('estimate_cold_at_most_s', ' s', 0)} vs "
               f"{f.fig('after_wall_s', ' s', 0)} / {f.fig('estimate_warm_expected_s', ' s', 0)}, "
               f"{f.fig('estimate_warm_at_most_s', ' s', 0)} vs {f.fig('warm_wall_s', ' s', 0)}", "measured"),
]


def table() -> str:
    cache: dict[str, Figures] = {}
    lines = [START, "| what | measured: median (range) over the recorded runs | runs | target |",
             "| --- | --- | --- | --- |"]
    for what, name, render, target in ROWS:
        figures = cache.setdefault(name, Figures(name))
        lines.append(f"| {what} | {render(figures)} | {figures.count()} (`results/{name}.json`) | {target} |")
    lines.append(END)
    return "\n".join(lines)


def rewrite(text: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} block")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + table() + tail


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = rewrite(current)
    if "--check" in argv:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import figures_check  # the sibling script: every other figure of README.md and docs/*.md

        stale = wanted != current
        if stale:
            print("README.md's benchmark table disagrees with benchmarks/results/: run benchmarks/readme_table.py")
        return 1 if figures_check.check(ROOT) or stale else 0
    README.write_text(wanted)
    print(f"README.md benchmark table regenerated from {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
