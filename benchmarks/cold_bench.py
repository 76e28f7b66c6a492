"""The README demo on a cold machine: an empty WASM_BISECT_HOME and an empty CARGO_HOME (issue 16).

    python benchmarks/cold_bench.py [--checkout DIR] [--label NAME] [--keep] [-- extra demo args]

Runs the demo command of DIR's noxfile (default: this checkout) with DIR's code, in fresh directories, so every
toolchain is unpacked, every std and tool built and every crate downloaded from crates.io (into the empty
CARGO_HOME) as on a fresh machine. Prints the wall time and a breakdown read back from the run's own records:
toolchain provisioning steps, each tool build, each probe (they overlap with -j N, so the parts add up to more
than the wall time). The load average before and after is recorded: the machine may be shared.

Before/after: `git -C <repo> archive main | tar -x -C /tmp/cold-before` and `--checkout /tmp/cold-before
--label before`. Minutes of real builds: an opt-in nox session (`nox -s cold_bench`), never CI.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import results_file

ROOT = Path(__file__).resolve().parents[1]


def demo_args(checkout: Path) -> list[str]:
    """DEMO_ARGS of the checkout's noxfile (read, not imported: it may be another version of this project)."""
    tree = ast.parse((checkout / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEMO_ARGS" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [str(v) for v in value]
    raise SystemExit(f"{checkout}/noxfile.py has no DEMO_ARGS")


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def run_demo(checkout: Path, home: Path, cargo_home: Path, args: list[str]) -> tuple[float, int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WASM_BISECT_", "CARGO_"))}
    env.update({"WASM_BISECT_HOME": str(home), "CARGO_HOME": str(cargo_home),
                "PYTHONPATH": str(checkout / "bisect"), "NO_COLOR": "1"})
    # rustup's proxies live in the old CARGO_HOME's bin: keep them on PATH (their toolchains are in RUSTUP_HOME).
    command = [sys.executable, "-m", "wasm_bisect", *args]
    print("$ " + " ".join(command), flush=True)
    start = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            stamp = time.monotonic() - start
            lines.append(line)
            sys.stdout.write(f"[{int(stamp) // 60:02d}:{int(stamp) % 60:02d}] {line}")
            sys.stdout.flush()
        code = proc.wait()
    return time.monotonic() - start, code, "".join(lines)


def breakdown(checkout: Path, home: Path) -> dict[str, Any]:
    """Toolchain steps, tool builds and probes of the run, from the home's manifests and the run log."""
    toolchains = {}
    for manifest in sorted((home / "toolchains").glob("*/toolchain.json")):
        data = json.loads(manifest.read_text())
        toolchains[data.get("spec", manifest.parent.name)] = data.get("timings", {})
    tools = {}
    for manifest in sorted((home / "tools").glob("*/*/tool.json")):
        data = json.loads(manifest.read_text())
        tools[f"{data.get('name')} {data.get('ident')}"] = data.get("build_seconds")
    env = {**os.environ, "WASM_BISECT_HOME": str(home), "PYTHONPATH": str(checkout / "bisect")}
    log = subprocess.run([sys.executable, "-m", "wasm_bisect", "log", "--json"], env=env, capture_output=True,
                         text=True, check=False)
    probes = []
    if log.returncode == 0:
        for probe in json.loads(log.stdout).get("probes", []):
            variant, outcome = probe["variant"], probe["outcome"]
            timings = outcome.get("timings", {})
            probes.append({"cell": f"{variant['rustc']}@{variant['bindgen']['version']}[{variant['reference_types']}]",
                           "verdict": outcome["verdict"], "cached": probe.get("cached", False),
                           "build_and_check_s": round(sum(v for k, v in timings.items() if k != "provision"), 1),
                           "provision_s": timings.get("provision")})
    return {"toolchains": toolchains, "tools": tools, "probes": probes}


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    checkout = Path(own[own.index("--checkout") + 1]).resolve() if "--checkout" in own else ROOT
    label = own[own.index("--label") + 1] if "--label" in own else ("after" if checkout == ROOT else checkout.name)
    out = Path(own[own.index("--out") + 1]) if "--out" in own else None
    args = demo_args(checkout) + extra
    scratch = Path(tempfile.mkdtemp(prefix="cold-bench-"))
    home, cargo_home = scratch / "home", scratch / "cargo-home"
    home.mkdir()
    cargo_home.mkdir()
    load_before = loadavg()
    print(f"cold demo ({label}): {checkout}; home {home}; CARGO_HOME {cargo_home}; load {' '.join(load_before)}")
    try:
        seconds, code, output = run_demo(checkout, home, cargo_home, args)
        parts = breakdown(checkout, home)
    finally:
        if "--keep" not in own:
            shutil.rmtree(scratch, ignore_errors=True)
    load_after = loadavg()
    print(f"\n== cold demo ({label}): {seconds / 60:.1f} min wall ({seconds:.0f} s), exit {code}; "
          f"load before {' '.join(load_before)}, after {' '.join(load_after)} ==")
    for spec, steps in parts["toolchains"].items():
        print(f"toolchain {spec}: " + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()))
    for name, built in parts["tools"].items():
        print(f"tool {name}: {built} s")
    for probe in parts["probes"]:
        how = "from store" if probe["cached"] else f"{probe['build_and_check_s']} s"
        print(f"probe {probe['cell']}: {probe['verdict']} ({how})")
    tool_total = sum(float(v or 0) for v in parts["tools"].values())
    toolchain_total = sum(sum(float(x) for x in steps.values()) for steps in parts["toolchains"].values())
    probe_total = sum(p["build_and_check_s"] for p in parts["probes"] if not p["cached"])
    print(f"sums: toolchains {toolchain_total:.0f} s, tool builds {tool_total:.0f} s, probes {probe_total:.0f} s "
          f"({len(parts['probes'])} probes); they overlap with -j N")
    # One file for every label (before/after a change, -j 1 or 2): each run's figures carry its label.
    figures: dict[str, float | int | bool] = {f"{label}_{key}": value for key, value in {
        "wall_s": round(seconds, 1), "ok": code == 0, "toolchains_s": round(toolchain_total, 1),
        "tool_builds_s": round(tool_total, 1), "probes_s": round(probe_total, 1), "probes": len(parts["probes"]),
        "load_before": float(load_before[0]), "load_after": float(load_after[0]),
    }.items()}
    details = {"label": label, "command": args, "checkout": str(checkout), **parts,
               "first_failing_lines": [ln for ln in output.splitlines() if "first bad pair" in ln][:4]}
    print(f"wrote {results_file.append_run('cold', figures, details, path=out)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
