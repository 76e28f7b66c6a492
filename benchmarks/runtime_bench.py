"""Warm probe time per runtime: the same variant probed in node, headless chromium and headless firefox, side by
side in one run (alternating which runtime goes first), N rounds.

Each round probes vec-of-structs (rustc debian:1.96.0, wasm-bindgen 0.2.99, reference-types default: the #4352
failure) once per runtime with a fresh `n` (so each probe is a real build of the crate, dependencies warm) in a
private home linked to the machine's caches. Reported: the whole probe and the check stage alone, medians, and
each browser's ratio to node.

Usage: python benchmarks/runtime_bench.py [OUT.json] [--rounds N] [--smoke]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import figures
import results_file

from wasm_bisect.domain.model import BindgenSource, Runtime, ToolchainSpec, Variant, options_for
from wasm_bisect.probe import Oracle, templates
from wasm_bisect.store import Store

RUSTC = "debian:1.96.0"
BINDGEN = "0.2.99"
TEMPLATE = "vec-of-structs"
N_BASE = 1_000_000
RUNTIMES = (Runtime.NODE, Runtime.CHROMIUM, Runtime.FIREFOX)


def private_home() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fixtures.homes import linked_home

    return linked_home(Path(tempfile.mkdtemp(prefix="runtime-bench-")))


def measure(rounds: int) -> dict[str, Any]:
    template = templates.load(TEMPLATE)
    oracle = Oracle(template=template, store=Store())
    stamp = int(time.time()) % 10_000
    probes: dict[str, list[float]] = {str(r): [] for r in RUNTIMES}
    checks: dict[str, list[float]] = {str(r): [] for r in RUNTIMES}
    verdicts: dict[str, set[str]] = {str(r): set() for r in RUNTIMES}
    for i in range(-1, rounds):  # round -1 warms every runtime (geckodriver, target dirs) and is not counted
        order = RUNTIMES[i % 3:] + RUNTIMES[:i % 3] if i >= 0 else RUNTIMES
        line = []
        for runtime in order:
            n = str(N_BASE + stamp * 100 + (i + 1) * 3 + RUNTIMES.index(runtime))
            variant = Variant(template=TEMPLATE, rustc=ToolchainSpec.parse(RUSTC),
                              bindgen=BindgenSource.crates(BINDGEN), params=(("n", n),), runtime=runtime,
                              options=options_for(Variant.__dataclass_fields__["options"].default_factory(), runtime))
            start = time.monotonic()
            outcome = oracle.outcome(variant)
            seconds = time.monotonic() - start
            if outcome.timings.get("cargo-build", 0) <= 0:
                raise SystemExit(f"{variant.short()} did not build ({outcome.reason}): not a warm probe")
            if i >= 0:
                probes[str(runtime)].append(seconds)
                checks[str(runtime)].append(outcome.timings["check"])
                verdicts[str(runtime)].add(str(outcome.verdict))
            line.append(f"{runtime} {seconds:.2f} s (check {outcome.timings['check']:.2f} s, {outcome.verdict})")
        print(f"round {i + 1}: " + "; ".join(line), flush=True)
    if any(v != {"bad"} for v in verdicts.values()):
        raise SystemExit(f"the runtimes disagree on the verdict: {verdicts}")
    out: dict[str, Any] = {"rounds": rounds, "variant": f"{TEMPLATE} {RUSTC} {BINDGEN} default",
                           "probe_seconds": probes, "check_seconds": checks}
    for runtime in RUNTIMES:
        name = str(runtime)
        out[f"{name}_probe_median"] = round(statistics.median(probes[name]), 3)
        out[f"{name}_check_median"] = round(statistics.median(checks[name]), 3)
    for browser in ("chromium", "firefox"):
        out[f"{browser}_over_node"] = round(out[f"{browser}_probe_median"] / out["node_probe_median"], 2)
    return out


def main(argv: list[str]) -> None:
    args = results_file.arguments("runtime", argv, rounds=5)  # --smoke: one round
    os.environ["WASM_BISECT_HOME"] = str(private_home())
    results = measure(args.rounds)
    print("\n| runtime | warm probe (median) | check stage (median) | vs node |\n| --- | --- | --- | --- |")
    for runtime in RUNTIMES:
        name = str(runtime)
        ratio = "1.00x" if name == "node" else f"{results[f'{name}_over_node']}x"
        print(f"| {name} | {results[f'{name}_probe_median']} s | {results[f'{name}_check_median']} s | {ratio} |")
    results_file.record("runtime", figures.runtime(results), results, path=args.out, smoke=args.smoke)


if __name__ == "__main__":
    main(sys.argv)
