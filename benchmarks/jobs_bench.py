"""A real bisect with -j 2 against -j 1 on this machine (issue 16), alternating, each in a fresh private home.

    python benchmarks/jobs_bench.py [OUT.json] [--rounds N] [--jobs 2] [--smoke]

The demo's grid on the bisect default range (2 rustc x wasm-bindgen 0.2.92..0.2.99 x reference-types both, the
CLIs of that range cached), each run with its own store and work dirs (so every probe really builds, from cold
cargo target slots) and the machine's toolchains and tools. Wall time of the whole command, probes built, and
the answers (which must be the same). Appends a run to benchmarks/results/jobs.json. `--smoke`: one round on
the smallest grid with an answer (one rustc, two releases), nothing written (`nox -s ci` runs it).
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

try:
    from wasm_bisect.util import paths
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
    from wasm_bisect.util import paths
import results_file

ARGS = ["bisect", "--template", "vec-of-structs", "--rustc", "debian:1.63.0,debian:1.96.0",
        "--bindgen", "0.2.92..0.2.99", "--reference-types", "both", "--json", "-q"]
SHARED = ("toolchains", "tools", "downloads", "vendor", "lock-cache", "index", "locks")


def once(jobs: int, args: list[str]) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"jobs-bench-j{jobs}-"))
    try:
        home = scratch / "home"
        home.mkdir()
        for name in SHARED:
            if (paths.home() / name).exists():
                (home / name).symlink_to(paths.home() / name)
        env = {**os.environ, "WASM_BISECT_HOME": str(home)}
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "wasm_bisect", *args, "--jobs", str(jobs)], env=env,
                              capture_output=True, text=True, check=False, cwd=scratch)
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(f"-j {jobs} failed ({proc.returncode}): {proc.stderr[-800:]}")
        doc = json.loads(proc.stdout)
        bisect = doc.get("bisect", doc)
        probes = bisect.get("probes", {})
        answers = [(s.get("reference_types"), (s.get("first_failing") or {}).get("rustc"),
                    (s.get("first_failing") or {}).get("bindgen"), s.get("status")) for s in bisect["searches"]]
        return {"jobs": jobs, "seconds": round(seconds, 1), "built": probes.get("built"),
                "asked": probes.get("asked"), "answers": answers}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    options, rest = results_file.own_options(argv, ("--jobs",))
    jobs = int(options.get("--jobs", "2"))
    args = results_file.arguments("jobs", rest, rounds=1)
    rounds, grid = args.rounds, [*results_file.SMOKE_BISECT, "--json", "-q"] if args.smoke else ARGS
    load_before = Path("/proc/loadavg").read_text().split()[0]
    runs = []
    for i in range(rounds):
        for j in ((1, jobs) if i % 2 == 0 else (jobs, 1)):  # alternate who goes first: the VM's speed drifts
            found = once(j, grid)
            runs.append(found)
            print(f"round {i + 1}: -j {j}: {found['seconds']} s, {found['built']} built, "
                  f"{found['asked']} asked by the searches; {found['answers']}", flush=True)
    one = [r["seconds"] for r in runs if r["jobs"] == 1]
    many = [r["seconds"] for r in runs if r["jobs"] == jobs]
    same = all(r["answers"] == runs[0]["answers"] for r in runs)
    load_after = Path("/proc/loadavg").read_text().split()[0]
    figures: dict[str, float | int | bool] = {
        "j1_s": statistics.median(one), f"j{jobs}_s": statistics.median(many),
        f"j{jobs}_faster": round(statistics.median(one) / statistics.median(many), 3),
        "same_answers": same, "load_before": float(load_before), "load_after": float(load_after),
    }
    print(f"-j {jobs} vs -j 1: {figures[f'j{jobs}_faster']}x faster ({statistics.median(many)} s vs "
          f"{statistics.median(one)} s); same answers: {same}; load {load_before} -> {load_after}")
    if not same:
        print("not recorded: the answers differ between -j 1 and -j N", file=sys.stderr)
        return 1
    results_file.record("jobs", figures, {"args": grid, "runs": runs}, path=args.out, smoke=args.smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
