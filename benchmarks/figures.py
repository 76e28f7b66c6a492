"""The headline figures of each benchmark's details (one place, used when a run is recorded and when the old
single-run files were converted)."""

from __future__ import annotations

import statistics
from typing import Any


def search(details: dict[str, Any]) -> dict[str, float | int | bool]:
    cells = {(c["shape"], f"{c['rows']}x{c['cols']}"): c for c in details["cells"]}
    corner = cells[("corner", "3x40")]
    figures: dict[str, float | int | bool] = {
        "corner_3x40_mean": corner["full_mean"], "corner_3x40_max": corner["full_max"],
        "corner_3x40_budget": corner["corner_budget"], "corner_3x40_exhaustive": corner["exhaustive"],
        "all_correct": all(c["correct"] == 1.0 for c in details["cells"]),
    }
    for size in ("3x40", "6x60", "12x40"):
        if ("staircase", size) in cells:
            figures[f"staircase_{size}_over_floor"] = cells[("staircase", size)]["full_over_floor"]
    return figures


def driver(details: dict[str, Any]) -> dict[str, float | int | bool]:
    shapes = {s["shape"]: s for s in details["shapes"]}
    medians = [s["builds_median"] for s in details["shapes"]]
    return {"fewer_than_exhaustive_over_shapes": details["median_fewer_than_exhaustive"],
            "fewer_than_exhaustive_staircase": shapes["staircase"]["fewer_than_exhaustive_median"],
            "builds_median_lowest": min(medians), "builds_median_highest": max(medians),
            "exhaustive": details["shapes"][0]["exhaustive"],
            "wrongly_blamed": sum(s["wrongly_blamed"] for s in details["shapes"])}


def probe(details: dict[str, Any]) -> dict[str, float | int | bool]:
    ov, ca, pa = details["overhead"], details["cache"], details["parallel"]
    figures: dict[str, float | int | bool] = {
        "overhead_pct": round(100 * ov["overhead_ratio"], 2), "tool_median_s": ov["tool_median"],
        "raw_median_s": ov["raw_median"], "overhead_rounds": ov["rounds"],
        "rerun_seconds": ca["rerun_seconds"], "rerun_builds": ca["rerun_builds"],
        "bisect_peak_rss_mib": ca["bisect_first_peak_rss_mib"], "matrix_peak_rss_mib": pa["peak_rss_mib"],
        "j2_cells_speedup": pa["cells_speedup"], "j2_whole_speedup": pa["speedup"],
        "parallel_rounds": len({r["round"] for r in pa["runs"]}),
    }
    if "first_builds" in ca:
        figures["first_builds"] = ca["first_builds"]
    return figures


def runtime(details: dict[str, Any]) -> dict[str, float | int | bool]:
    figures: dict[str, float | int | bool] = {"rounds": details["rounds"]}
    for name in ("node", "chromium", "firefox"):
        figures[f"{name}_probe_s"] = details[f"{name}_probe_median"]
        figures[f"{name}_check_s"] = details[f"{name}_check_median"]
    for browser in ("chromium", "firefox"):
        figures[f"{browser}_over_node"] = details[f"{browser}_over_node"]
    return figures


def median(values: list[float]) -> float:
    return float(statistics.median(values))
