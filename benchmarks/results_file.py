"""Benchmark results: every run is kept (date, machine, headline figures, details), never only the best one.

`results/<name>.json` = {"benchmark": name, "runs": [{"date", "machine", "figures", "details"}, ...]}. The README
table is generated from these files by readme_table.py (median and spread over the runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on (a 2-core VM's speed drifts: ratios are measured inside one run)."""
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").is_file() else []
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(), "loadavg_at_end": load}


def load(name: str, path: Path | None = None) -> dict[str, Any]:
    target = path or RESULTS / f"{name}.json"
    if not target.is_file():
        return {"benchmark": name, "runs": []}
    data = json.loads(target.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise SystemExit(f"{target} is not a results file of this format (a dict with a list of runs)")
    return data


def append_run(name: str, figures: dict[str, float | int | bool], details: dict[str, Any],
               path: Path | None = None) -> Path:
    """Add one run to the results file (written atomically) and return its path."""
    target = path or RESULTS / f"{name}.json"
    data = load(name, target)
    data["runs"].append({"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
                         "figures": figures, "details": details})
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(data, indent=1) + "\n")
    Path(tmp).replace(target)
    return target


# The smallest real grid with an answer, for smoke runs: 1.63 needs no wasm32 std build, and its first bad pair is
# reference-types on (0.2.95).
SMOKE_BISECT = ["bisect", "--template", "vec-of-structs", "--rustc", "debian:1.63.0", "--bindgen", "0.2.93,0.2.95",
                "--reference-types", "on"]
SMOKE_HELP = "one round on the smallest grid; check that every figure can be computed; write nothing"


def arguments(name: str, argv: list[str], *, rounds: int | None = None, grids: int | None = None
              ) -> argparse.Namespace:
    """The command line every benchmark takes: [OUT.json] [--smoke] (and --rounds N or --grids N where it has
    rounds or simulated grids)."""
    parser = argparse.ArgumentParser(prog=Path(argv[0]).name if argv else name)
    parser.add_argument("out", nargs="?", type=Path, default=RESULTS / f"{name}.json",
                        help=f"results file to append the run to (default results/{name}.json)")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds, help=f"rounds to measure (default {rounds})")
    if grids is not None:
        parser.add_argument("--grids", type=int, default=grids, help=f"simulated grids per case (default {grids})")
    args = parser.parse_args(argv[1:])
    if rounds is not None and args.smoke:
        args.rounds = 1
    if grids is not None and args.smoke:
        args.grids = 1
    return args


def own_options(argv: list[str], names: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """A script's own `--name VALUE` options (`names`) and the rest of argv, for `arguments`."""
    found, rest, items = {}, [], iter(argv)
    for item in items:
        if item in names:
            found[item] = next(items, "")
        else:
            rest.append(item)
    return found, rest


def check_figures(name: str, figures: dict[str, float | int | bool]) -> None:
    """Every headline figure is a number (or a yes/no): a benchmark that cannot compute one fails."""
    bad = {k: v for k, v in figures.items()
           if not isinstance(v, (bool, int, float)) or (isinstance(v, float) and not math.isfinite(v))}
    if not figures or bad:
        raise SystemExit(f"{name}: figures that could not be computed: {bad or 'none at all'}")


def record(name: str, figures: dict[str, float | int | bool], details: dict[str, Any], *, path: Path,
           smoke: bool) -> Path | None:
    """Check the figures; append the run to the results file unless this is a smoke run (which writes nothing)."""
    check_figures(name, figures)
    if smoke:
        print(f"{name}: smoke run, {len(figures)} figures computed, nothing written")
        return None
    written = append_run(name, figures, details, path=path)
    print(f"written to {written}")
    return written
