"""Real-toolchain benchmarks, measured side by side in one run (issue: benchmarks).

1. Overhead per warm probe: the tool's probe (render, cached resolve, wasm-pack build, node check, store)
   vs the raw `wasm-pack build` + `node run-check.mjs check.mjs` of the same rendered crate, by hand with the same
   environment. Both recompile only the probe crate (dependencies warm), alternating, N rounds.
2. Cache: re-running a finished bisect is answered from the store (wall time, builds).
3. Memory: peak RSS of the tool's own process during a real bisect and a real -j2 matrix (children excluded).
4. Parallel matrix: -j2 vs -j1 throughput on the same real 2 x 2 x 2 grid (a new --param value per run makes
   every cell a fresh build; toolchains and CLIs stay cached), alternating the order over rounds.

Usage: python benchmarks/probe_bench.py [OUT.json] [--rounds N] [--smoke]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import figures
import results_file

from wasm_bisect import toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.model import BindgenSource, ToolchainSpec, Variant
from wasm_bisect.probe import Oracle, build, check, runtimes, slots, templates
from wasm_bisect.store import Store
from wasm_bisect.util import paths

RUSTC = "debian:1.96.0"
BINDGEN = "0.2.99"
TEMPLATE = "vec-of-structs"
N_BASE = 900_000
BISECT = ["bisect", "--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0",
          "--bindgen", "0.2.91..0.2.99", "--reference-types", "both"]
SMOKE_BISECT = ["bisect", "--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.93,0.2.95",
                "--no-follow-up"]


def raw_probe(crate: Path, env: dict[str, str], wasm_pack: Path, n: str) -> tuple[float, int]:
    """wasm-pack build + node check by hand of the same rendered crate, copied to a never-built path.

    The copy faces exactly what the tool's probe faced: a new directory, dependencies warm in the same
    target dir, and files written just now. (Cargo hashes a root package by its path relative to the
    workspace and judges freshness by mtimes, so a copy that KEEPS the old mtimes is "fresh" and is not
    compiled at all; shutil.copy gives new mtimes, and the build log is checked to prove the compile.)
    Returns the seconds and the check's exit code.
    """
    fresh = crate.parent.parent / f"raw-{n}"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(crate, fresh, ignore=shutil.ignore_patterns("pkg"), copy_function=shutil.copy)
    start = time.monotonic()
    built = subprocess.run([str(wasm_pack), "build", str(fresh), "--target", "nodejs", "--release", "--mode",
                            "no-install"], env=env, cwd=fresh, check=True, capture_output=True, text=True)
    node_env = check.environment(os.environ, pkg_module=fresh / "pkg" / "wasm_bisect_probe.js", params=(("n", n),))
    # The check is a module (`export default async function check`): node runs it through the tool's runner.
    runner = runtimes.install_runner(fresh)
    checked = subprocess.run(runtimes.node_argv(runner, fresh / "check.mjs"), env=node_env, cwd=fresh, check=False,
                             capture_output=True)
    seconds = time.monotonic() - start
    if "Compiling wasm-bisect-probe" not in built.stdout + built.stderr:
        raise SystemExit(f"raw build of {fresh} did not compile the crate: the comparison would be unfair")
    shutil.rmtree(fresh, ignore_errors=True)
    return seconds, checked.returncode


def overhead(rounds: int) -> dict[str, Any]:
    template = templates.load(TEMPLATE)
    toolchain = toolchains.resolve(ToolchainSpec.parse(RUSTC))
    bindgen = toolcache.bindgen_cli(BINDGEN)
    wasm_pack = toolcache.wasm_pack()
    store = Store()
    oracle = Oracle(template=template, store=store)
    tool_times, raw_times = [], []
    stamp = int(time.time()) % 10_000
    crate: Path | None = None

    def tool_probe(n: str) -> tuple[float, Any]:
        variant = Variant(template=TEMPLATE, rustc=ToolchainSpec.parse(RUSTC), bindgen=BindgenSource.crates(BINDGEN),
                          params=(("n", n),))  # a fresh variant key (n stays ~1e6): a real build, not a store hit
        start = time.monotonic()
        outcome = oracle.outcome(variant)
        seconds = time.monotonic() - start
        log = Path(outcome.crate_dir or "").parent / "logs" / "build.log"
        if "Compiling wasm-bisect-probe" not in (log.read_text() if log.is_file() else ""):
            raise SystemExit(f"the tool's probe did not compile the crate (see {log}): the comparison would be unfair")
        return seconds, outcome

    def by_hand(n: str) -> tuple[float, int]:
        assert crate is not None
        variant = Variant(template=TEMPLATE, rustc=ToolchainSpec.parse(RUSTC), bindgen=BindgenSource.crates(BINDGEN))
        with slots.target_slot(toolchain, []) as target_dir:
            env = build.build_env(variant=variant, toolchain=toolchain, bindgen=bindgen, wasm_pack=wasm_pack,
                                  target_dir=target_dir, flags=[])
            return raw_probe(crate, env, wasm_pack.binary, n)

    for i in range(-1, rounds):  # round -1 warms the target dir slot and is not counted
        n = str(N_BASE + stamp * 10 + i + 1)
        # Alternate who goes first (n only reaches the check, so the previous round's crate is the same crate).
        if i % 2 == 0 and crate is not None:
            raw, raw_rc = by_hand(n)
            tool, outcome = tool_probe(n)
        else:
            tool, outcome = tool_probe(n)
            crate = Path(outcome.crate_dir or "")
            raw, raw_rc = by_hand(n)
        if raw_rc != outcome.exit_code:
            raise SystemExit(f"the raw check exited {raw_rc}, the tool's {outcome.exit_code}: not the same work")
        if i >= 0:
            tool_times.append(tool)
            raw_times.append(raw)
        print(f"round {i + 1}: tool {tool:.2f} s ({outcome.verdict}), raw {raw:.2f} s", flush=True)
    tool_med, raw_med = statistics.median(tool_times), statistics.median(raw_times)
    return {"rounds": rounds, "tool_seconds": tool_times, "raw_seconds": raw_times,
            "tool_median": round(tool_med, 3), "raw_median": round(raw_med, 3),
            "overhead_ratio": round(tool_med / raw_med - 1, 4), "target": 0.03}


def private_home() -> Path:
    """A fresh home linked to this machine's toolchains, tools and target dirs (tests/fixtures/homes.py), so a
    'first' bisect really builds and its memory figure is that of a bisect that builds."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fixtures.homes import linked_home

    return linked_home(Path(tempfile.mkdtemp(prefix="probe-bench-")))


def rss_run(*args: str, home: Path | None = None) -> tuple[float, int, str]:
    """Run the CLI in a child Python that reports its own peak RSS (KiB) at exit."""
    code = ("import resource, sys\nfrom wasm_bisect import cli\nsys.argv = ['wasm-bisect', *sys.argv[1:]]\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nPEAK_RSS_KIB=%d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    start = time.monotonic()
    env = {**os.environ, **({"WASM_BISECT_HOME": str(home)} if home else {})}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, env=env)
    seconds = time.monotonic() - start
    rss = int(proc.stderr.rsplit("PEAK_RSS_KIB=", 1)[1].split()[0])
    return seconds, rss, proc.stdout


def cache_and_memory(bisect: list[str]) -> dict[str, Any]:
    home = private_home()  # its own empty store: the first bisect builds every probe it asks for
    first_seconds, first_rss, first_out = rss_run(*bisect, "--json", home=home)
    first = json.loads(first_out)["bisect"]  # the report document's bisect section
    if first["probes"]["built"] == 0:
        raise SystemExit("the first bisect built nothing: its memory figure would be that of a store lookup")
    again_seconds, again_rss, out = rss_run(*bisect, "--json", home=home)
    result = json.loads(out)["bisect"]
    return {"first_builds": first["probes"]["built"], "bisect_first_seconds": round(first_seconds, 2),
            "bisect_first_peak_rss_mib": round(first_rss / 1024, 1),
            "rerun_seconds": round(again_seconds, 2), "rerun_builds": result["probes"]["built"],
            "rerun_from_store": result["probes"]["from_store"], "rerun_peak_rss_mib": round(again_rss / 1024, 1),
            "target_rerun_seconds": 2.0}


MATRIX = ["matrix", "--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0",
          "--bindgen", "0.2.92,0.2.99", "--reference-types", "default,on"]
SMOKE_MATRIX = ["matrix", "--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.92,0.2.99",
                "--reference-types", "default"]


def parallel(rounds: int, matrix: list[str] = MATRIX) -> dict[str, Any]:
    cells = 8 if matrix is MATRIX else 2
    stamp = int(time.time()) % 10_000
    runs: list[dict[str, Any]] = []
    # Warm-up, not counted: -j2 uses a second target-dir slot per toolchain/flags family, whose dependencies
    # are compiled on first use; measured rounds must compare warm slots with warm slots.
    for jobs in (2, 1):
        rss_run(*matrix, "-j", str(jobs), "--param", f"n={2_000_000 + stamp * 10 + jobs}", "--json")
    for r in range(rounds):
        for jobs in ((1, 2) if r % 2 == 0 else (2, 1)):  # alternate who goes first
            n = str(1_000_000 + stamp * 10 + r * 3 + jobs)
            seconds, rss, out = rss_run(*matrix, "-j", str(jobs), "--param", f"n={n}", "--json")
            doc = json.loads(out)
            if doc["run"]["stats"]["built"] != cells:
                raise SystemExit(f"matrix -j{jobs} built {doc['run']['stats']['built']} cells, not {cells}")
            cell_seconds = float(doc["run"]["stats"]["seconds"])  # the matrix stage: first cell start to last done
            runs.append({"round": r, "jobs": jobs, "seconds": round(seconds, 2),
                         "cells_seconds": round(cell_seconds, 2), "peak_rss_mib": round(rss / 1024, 1)})
            print(f"matrix -j{jobs} round {r + 1}: {seconds:.1f} s whole command, {cell_seconds:.1f} s for the cells, "
                  f"peak RSS {rss / 1024:.0f} MiB", flush=True)

    def median(jobs: int, key: str) -> float:
        return round(float(statistics.median(x[key] for x in runs if x["jobs"] == jobs)), 2)

    return {"runs": runs, "j1_median": median(1, "seconds"), "j2_median": median(2, "seconds"),
            "speedup": round(median(1, "seconds") / median(2, "seconds"), 3),
            "j1_cells_median": median(1, "cells_seconds"), "j2_cells_median": median(2, "cells_seconds"),
            "cells_speedup": round(median(1, "cells_seconds") / median(2, "cells_seconds"), 3), "target": 1.6,
            "peak_rss_mib": max(x["peak_rss_mib"] for x in runs)}


def main(argv: list[str]) -> None:
    args = results_file.arguments("probe", argv, rounds=5)  # --smoke: one round, the smallest grids
    # Everything below runs in a private home linked to the machine's caches: verdicts are never read from the
    # machine's store, so every figure is of work done in this run.
    os.environ["WASM_BISECT_HOME"] = str(private_home())
    ov, ca = overhead(2 * args.rounds), cache_and_memory(SMOKE_BISECT if args.smoke else BISECT)
    pa = parallel(max(1, args.rounds), SMOKE_MATRIX if args.smoke else MATRIX)
    results = {"home": str(paths.home()), "overhead": ov, "cache": ca, "parallel": pa,
               "loadavg_at_end": Path("/proc/loadavg").read_text().split()[:3]}
    print("\n| benchmark | measured | target |\n| --- | --- | --- |")
    print(f"| warm probe, tool vs raw wasm-pack+node (median of {ov['rounds']}) | {ov['tool_median']} s vs "
          f"{ov['raw_median']} s: overhead {100 * ov['overhead_ratio']:.1f}% | <= 3% |")
    print(f"| re-run of a finished bisect | {ca['rerun_seconds']} s, {ca['rerun_builds']} builds | < 2 s, 0 builds |")
    shape = "1x2x1 (smoke)" if args.smoke else "2x2x2"
    print(f"| matrix {shape} throughput, -j2 vs -j1 (median, cells stage) | {pa['j2_cells_median']} s vs "
          f"{pa['j1_cells_median']} s: {pa['cells_speedup']}x | >= 1.6x |")
    print(f"| same, whole command (start-up ~1 s included) | {pa['j2_median']} s vs {pa['j1_median']} s: "
          f"{pa['speedup']}x | (measured) |")
    print(f"| peak RSS of the tool: bisect / -j2 matrix | {ca['bisect_first_peak_rss_mib']} / "
          f"{pa['peak_rss_mib']} MiB | (measured) |")
    results_file.record("probe", figures.probe(results), results, path=args.out, smoke=args.smoke)


if __name__ == "__main__":
    main(sys.argv)
