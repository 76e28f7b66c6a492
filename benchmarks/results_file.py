"""Benchmark results: every run is kept (date, machine, headline figures, details), never only the best one.

`results/<name>.json` = {"benchmark": name, "runs": [{"date", "machine", "figures", "details"}, ...]}. The README
table is generated from these files by readme_table.py (median and spread over the runs).
"""

from __future__ import annotations

import datetime as dt
import json
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
