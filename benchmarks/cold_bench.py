"""The README demo on a cold machine, and the same grid warm, with the tool's own estimate of each (issues 16, 27).

    python benchmarks/cold_bench.py [OUT.json] [--before REF] [--smoke] [--keep] [-- extra demo args]

One run measures, one after the other on this machine:

1. **cold**: this checkout's demo (its noxfile's DEMO_ARGS) in an empty WASM_BISECT_HOME and an empty
   CARGO_HOME, so every toolchain is unpacked, every std and tool built and every crate downloaded (into the
   empty CARGO_HOME) as on a fresh machine. `--dry-run --json` of the same command runs first, in the same
   empty home: its estimate is recorded next to the measured time, and it must leave no result store behind.
2. **warm**: the same command again with the caches from step 1 (toolchains, tools, crates, cargo target
   slots) and a new, empty result store, so every probe builds again; its dry-run estimate first.
3. **before** (with `--before REF`): `git archive REF` of this repository, its own demo, cold, in its own empty
   homes. The two cold runs are side by side in one run of this script, as the README's rule for ratios says.

The answers (the "first bad pair" lines) of every run must agree. Prints the wall times and a breakdown read back
from each run's own records (toolchain steps, tool builds, probes; they overlap with -j N). The load average
before and after is recorded: the machine may be shared.

`--smoke` runs the smallest grid (one rustc, two releases) with the machine's built tools linked into the
empty home (no CLI is built: the tool builds are minutes, toolbuild_bench measures them), records nothing, and
fails on an exception or a figure it cannot compute: `nox -s ci` runs it so this script cannot rot.
A full run is minutes of real builds: opt-in (`nox -s cold_bench`), never CI.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import results_file

try:
    from wasm_bisect.util import paths
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bisect"))
    from wasm_bisect.util import paths

ROOT = Path(__file__).resolve().parents[1]
ANSWER = re.compile(r"rustc (?:debian:|rustup:)?(\d[\w.-]*) \+ wasm-bindgen (\d[\w.-]*)")
SMOKE_ARGS = results_file.SMOKE_BISECT


def demo_args(checkout: Path) -> list[str]:
    """DEMO_ARGS of the checkout's noxfile (read, not imported: it may be another version of this project)."""
    tree = ast.parse((checkout / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEMO_ARGS" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [str(v) for v in value]
    raise SystemExit(f"{checkout}/noxfile.py has no DEMO_ARGS")


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Homes:
    """The private directories one checkout's runs use: nothing of the machine's caches is read."""

    checkout: Path
    home: Path
    cargo_home: Path
    store: Path | None = None  # None: the home's own store

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WASM_BISECT_", "CARGO_"))}
        # rustup's proxies stay on PATH (their toolchains are in RUSTUP_HOME); the demo's debian: ones never use
        # them, the host builds of tools do.
        env.update({"WASM_BISECT_HOME": str(self.home), "CARGO_HOME": str(self.cargo_home),
                    "PYTHONPATH": str(self.checkout / "bisect"), "NO_COLOR": "1"})
        return env

    def store_args(self) -> list[str]:
        return ["--store", str(self.store)] if self.store else []


@dataclass
class Measured:
    label: str
    seconds: float
    code: int
    answers: list[tuple[str, str]]
    load_before: float
    load_after: float
    parts: dict[str, Any] = field(default_factory=dict)


def wasm_bisect(homes: Homes, args: list[str], label: str) -> Measured:
    """Run the tool with the checkout's code, echoing its output with a minute stamp; the wall time."""
    command = [sys.executable, "-m", "wasm_bisect", *args, *homes.store_args()]
    print(f"$ [{label}] " + " ".join(command[3:]), flush=True)
    load_before, start = loadavg(), time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(command, cwd=homes.home, env=homes.env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            stamp = time.monotonic() - start
            lines.append(line)
            sys.stdout.write(f"[{int(stamp) // 60:02d}:{int(stamp) % 60:02d}] {line}")
            sys.stdout.flush()
        code = proc.wait()
    # The first failing pairs, as (rustc, wasm-bindgen): the sentence around them changed between versions.
    answers = sorted(set(ANSWER.findall("".join(ln for ln in lines if "first bad pair" in ln))))
    return Measured(label, round(time.monotonic() - start, 1), code, answers, load_before, loadavg())


def estimate(homes: Homes, args: list[str]) -> dict[str, Any]:
    """The tool's own `--dry-run --json` of the command: its estimate in seconds, and what it planned."""
    proc = subprocess.run([sys.executable, "-m", "wasm_bisect", *args, *homes.store_args(), "--dry-run", "--json"],
                          cwd=homes.home, env=homes.env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"--dry-run failed ({proc.returncode}): {proc.stderr.strip()[-600:]}")
    doc = json.loads(proc.stdout)
    minutes = doc["estimate_minutes"]
    return {"expected_s": round(60 * minutes["expected"], 1), "at_most_s": round(60 * minutes["at_most"], 1),
            "probes_worst": doc["probes_worst"], "probe_seconds": doc["probe_seconds"],
            "timings_from": doc["timings_from"], "stored": doc["stored"],
            "to_build": sorted(c["version"] for c in doc["clis"] if not c["ready"]),
            "toolchains_to_provision": sorted(t["rustc"] for t in doc["toolchains"] if not t["ready"])}


def breakdown(homes: Homes) -> dict[str, Any]:
    """Toolchain steps, tool builds and probes of the runs in this home, from its manifests and the run log."""
    toolchains = {}
    for manifest in sorted((homes.home / "toolchains").glob("*/toolchain.json")):
        data = json.loads(manifest.read_text())
        toolchains[data.get("spec", manifest.parent.name)] = data.get("timings", {})
    tools = {}
    built_here = not (homes.home / "tools").is_symlink()  # linked (smoke): the machine's, not built by this run
    for manifest in sorted((homes.home / "tools").glob("*/*/tool.json")) if built_here else []:
        data = json.loads(manifest.read_text())
        tools[f"{data.get('name')} {data.get('ident')}"] = data.get("build_seconds")
    log = subprocess.run([sys.executable, "-m", "wasm_bisect", "log", "--json", *homes.store_args()],
                         env=homes.env(), capture_output=True, text=True, check=False)
    probes = []
    if log.returncode == 0:
        for probe in json.loads(log.stdout).get("probes", []):
            variant, outcome = probe["variant"], probe["outcome"]
            timings = outcome.get("timings", {})
            probes.append({"cell": f"{variant['rustc']}@{variant['bindgen']['version']}[{variant['reference_types']}]",
                           "verdict": outcome["verdict"], "cached": probe.get("cached", False),
                           "build_and_check_s": round(sum(v for k, v in timings.items() if k != "provision"), 1),
                           "provision_s": timings.get("provision")})
    tool_total = sum(float(v or 0) for v in tools.values())
    toolchain_total = sum(sum(float(x) for x in steps.values()) for steps in toolchains.values())
    probe_total = sum(p["build_and_check_s"] for p in probes if not p["cached"])
    return {"toolchains": toolchains, "tools": tools, "probes": probes,
            "sums": {"toolchains_s": round(toolchain_total, 1), "tool_builds_s": round(tool_total, 1),
                     "probes_s": round(probe_total, 1), "probes": len(probes)}}


def fresh_homes(scratch: Path, name: str, checkout: Path, *, link_tools: bool) -> Homes:
    homes = Homes(checkout, scratch / f"{name}-home", scratch / f"{name}-cargo-home")
    homes.home.mkdir()
    homes.cargo_home.mkdir()
    if link_tools:  # smoke: the machine's built CLIs and wasm-pack, so no tool is built
        from_machine = paths.home() / "tools"  # read by this checkout's code, as the tool finds its home
        if not from_machine.is_dir():
            raise SystemExit(f"--smoke links the machine's built tools, and {from_machine} does not exist")
        (homes.home / "tools").symlink_to(from_machine)
    return homes


def cold(homes: Homes, args: list[str], label: str) -> tuple[Measured, dict[str, Any] | None]:
    """A cold run in empty homes; for this checkout, its dry-run estimate first (which must write no store)."""
    planned = None
    if homes.checkout == ROOT:
        planned = estimate(homes, args)
        if (homes.home / "store.sqlite3").exists():
            raise SystemExit("--dry-run wrote a result store into the empty home")
        print(f"[{label}] dry-run estimate: about {planned['expected_s'] / 60:.1f} min expected, at most "
              f"{planned['at_most_s'] / 60:.1f} min ({planned['timings_from']})", flush=True)
    measured = wasm_bisect(homes, args, label)
    measured.parts = breakdown(homes)
    return measured, planned


def report(measured: Measured) -> None:
    print(f"\n== {measured.label}: {measured.seconds / 60:.1f} min wall ({measured.seconds:.0f} s), exit "
          f"{measured.code}; load {measured.load_before} -> {measured.load_after} ==")
    parts = measured.parts
    for spec, steps in parts["toolchains"].items():
        print(f"toolchain {spec}: " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()))
    for name, built in parts["tools"].items():
        print(f"tool {name}: {built} s")
    for probe in parts["probes"]:
        how = "from store" if probe["cached"] else f"{probe['build_and_check_s']} s"
        print(f"probe {probe['cell']}: {probe['verdict']} ({how})")
    sums = parts["sums"]
    print(f"sums: toolchains {sums['toolchains_s']:.0f} s, tool builds {sums['tool_builds_s']:.0f} s, probes "
          f"{sums['probes_s']:.0f} s ({sums['probes']} probes); they overlap with -j N")


def archive(ref: str, into: Path) -> Path:
    """`git archive REF` of this repository, unpacked: the older code, run as it was."""
    into.mkdir()
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=False)
    if not ref or tar.returncode != 0:
        raise SystemExit(f"--before {ref}: {tar.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar.stdout, check=True)
    return into


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    options, own = results_file.own_options(own, ("--before",))
    before = options.get("--before")
    keep = "--keep" in own
    args = results_file.arguments("cold", [a for a in own if a != "--keep"])
    demo = (SMOKE_ARGS if args.smoke else demo_args(ROOT)) + extra
    scratch = Path(tempfile.mkdtemp(prefix="cold-bench-"))
    print(f"cold bench in {scratch}: {' '.join(demo)}" + (f"; before: {before}" if before else ""), flush=True)
    try:
        # The older code first: a ref that does not exist fails before minutes of builds, not after them.
        old = archive(before, scratch / "before-src") if before is not None else None
        old_args = (SMOKE_ARGS if args.smoke else demo_args(old)) + extra if old is not None else []
        after = fresh_homes(scratch, "after", ROOT, link_tools=args.smoke)
        cold_run, cold_plan = cold(after, demo, "cold")
        assert cold_plan is not None
        warm = Homes(ROOT, after.home, after.cargo_home, store=scratch / "warm-store.sqlite3")
        warm_plan = estimate(warm, demo)
        print(f"[warm] dry-run estimate: about {warm_plan['expected_s'] / 60:.1f} min expected, at most "
              f"{warm_plan['at_most_s'] / 60:.1f} min ({warm_plan['timings_from']})", flush=True)
        warm_run = wasm_bisect(warm, demo, "warm")
        warm_run.parts = breakdown(warm)
        runs = [cold_run, warm_run]
        if old is not None:
            before_run, _ = cold(fresh_homes(scratch, "before", old, link_tools=args.smoke), old_args, "before")
            runs.append(before_run)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    for measured in runs:
        report(measured)
    failed = [m.label for m in runs if m.code != 0]
    same = all(m.answers == cold_run.answers for m in runs) and bool(cold_run.answers)
    figures: dict[str, float | int | bool] = {
        "ok": not failed, "same_answers": same,
        "after_wall_s": cold_run.seconds, "warm_wall_s": warm_run.seconds,
        "estimate_cold_expected_s": cold_plan["expected_s"], "estimate_cold_at_most_s": cold_plan["at_most_s"],
        "estimate_warm_expected_s": warm_plan["expected_s"], "estimate_warm_at_most_s": warm_plan["at_most_s"],
        "after_tool_builds_s": cold_run.parts["sums"]["tool_builds_s"],
        "after_toolchains_s": cold_run.parts["sums"]["toolchains_s"],
        "after_probes": cold_run.parts["sums"]["probes"], "warm_probes": warm_run.parts["sums"]["probes"],
        "after_load_before": cold_run.load_before, "warm_load_before": warm_run.load_before,
    }
    if before is not None:
        figures.update({"before_wall_s": runs[2].seconds, "before_load_before": runs[2].load_before,
                        "before_tool_builds_s": runs[2].parts["sums"]["tool_builds_s"],
                        "after_faster_than_before": round(runs[2].seconds / cold_run.seconds, 3)})
    print(f"\ncold {cold_run.seconds:.0f} s (estimated {cold_plan['expected_s']:.0f} s, at most "
          f"{cold_plan['at_most_s']:.0f} s); warm {warm_run.seconds:.0f} s (estimated {warm_plan['expected_s']:.0f} "
          f"s, at most {warm_plan['at_most_s']:.0f} s)" + (f"; before {runs[2].seconds:.0f} s" if before else "")
          + f"; same answers: {same}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    details = {"command": demo, "before": before, "estimates": {"cold": cold_plan, "warm": warm_plan},
               "runs": {m.label: {"seconds": m.seconds, "exit": m.code, "answers": m.answers, **m.parts}
                        for m in runs}}
    if failed or not same:
        print("not recorded: a run failed or the answers differ", file=sys.stderr)
        return 1
    results_file.record("cold", figures, details, path=args.out, smoke=args.smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
