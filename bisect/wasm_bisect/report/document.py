"""The report document: one JSON-able dict per run (schema in docs/report-schema.md). Pure: data in, data out.

Every format renders from this dict only, so all formats tell the same story.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wasm_bisect.domain.model import (
    BindgenSource,
    BuildOptions,
    Outcome,
    ReferenceTypes,
    Runtime,
    ToolchainSpec,
    Variant,
)
from wasm_bisect.domain.reproduce import by_hand_script, compare_links, matrix_command, probe_command
from wasm_bisect.probe.render import PKG_MODULE
from wasm_bisect.probe.runtimes.node import runner_source as node_runner_source

SCHEMA = "wasm-bisect-report"
RUNNER = "run-check.mjs"  # the Node check runner, written next to the check by the by-hand script
SCHEMA_VERSION = 1
FORMATS = ("json", "junit", "md", "svg", "html")
VERDICTS = ("good", "bad", "skip", "error")


# -- input -------------------------------------------------------------------------------------------------
def variant_from_identity(data: Mapping[str, Any]) -> Variant:
    """The Variant a stored `Variant.identity()` describes (its `key` is then the stored key)."""
    bindgen = data["bindgen"]
    return Variant(
        template=str(data["template"]),
        rustc=ToolchainSpec.parse(str(data["rustc"])),
        bindgen=BindgenSource(kind=bindgen.get("kind", "crates"), version=bindgen["version"],
                              url=bindgen.get("url"), rev=bindgen.get("rev")),
        reference_types=ReferenceTypes(data.get("reference_types", "default")),
        options=BuildOptions(**data.get("options", {})),
        params=tuple((str(k), str(v)) for k, v in data.get("params", ())),
        runtime=Runtime(data.get("runtime", "node")),
    )


def cell_from(identity: Mapping[str, Any], outcome: Outcome, *, from_store: bool = False,
              template_ref: str | None = None, reproducer: Sequence[str] | None = None) -> dict[str, Any]:
    """One report cell: where it sits on the grid, its verdict and the evidence behind it. `template_ref` is how
    commands name the template (a directory's path; default its name, right for built-ins); `reproducer`, when
    the run recorded it, is how commands name any reproducer (`--crate DIR --package P --check ...`)."""
    variant = variant_from_identity(identity)
    return {
        "key": variant.key,
        "rustc": str(variant.rustc),
        "bindgen": variant.bindgen.label(),
        "reference_types": str(variant.reference_types),
        "runtime": str(variant.runtime),
        "template": variant.template,
        "params": dict(variant.params),
        "options": dict(identity.get("options", {})),
        "verdict": str(outcome.verdict),
        "by": outcome.by,
        "reason": outcome.reason,
        "stage": str(outcome.stage) if outcome.stage else None,
        "exit_code": outcome.exit_code,
        "evidence": outcome.evidence,
        "timings": outcome.timings,
        "seconds": round(sum(outcome.timings.values()), 3),
        "crate_dir": outcome.crate_dir,
        "log_tail": outcome.log_tail,
        "from_store": from_store,
        "reproduce": probe_command(variant, template=template_ref, reproducer=reproducer),
    }


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """What the loader read about a run: its row in the store, its cells and the environment."""

    run_id: str
    kind: str
    created: float
    command: str
    fingerprint: str
    config: dict[str, Any]
    result: dict[str, Any] | None
    cells: list[dict[str, Any]]  # cell_from() dicts, any order, duplicates allowed (last one wins)
    tool_version: str
    environment: dict[str, Any] | None = None
    template: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# -- small pure helpers ------------------------------------------------------------------------------------
def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def runtime_of(item: Mapping[str, Any]) -> str:
    """The runtime of a cell or a setting (documents written before browsers existed have only node cells)."""
    return str(item.get("runtime") or "node")


def setting_key(reference_types: str, runtime: str) -> str:
    """How a (reference-types, runtime) panel is named in results: `default`, `default@chromium`."""
    return reference_types if runtime == "node" else f"{reference_types}@{runtime}"


def setting_label(setting: Mapping[str, Any]) -> str:
    """`reference-types default`, `reference-types default in chromium`: a panel's title in every format."""
    where = runtime_of(setting)
    return f"reference-types {setting['reference_types']}" + ("" if where == "node" else f" in {where}")


# -- analysis ----------------------------------------------------------------------------------------------
def index_cells(cells: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str, str], Mapping[str, Any]]:
    return {(c["rustc"], c["bindgen"], c["reference_types"], runtime_of(c)): c for c in cells}


def analyse(grid: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per reference-types setting: each rustc row's first bad wasm-bindgen and the first failing pair.

    Read straight off the probed cells (a matrix probes them all). The first failing pair follows the
    bisect's convention: the oldest wasm-bindgen that fails with any rustc, with the oldest rustc it
    fails with; the last good neighbours give the compare links.
    """
    at = index_cells(cells)
    rows, cols = list(grid["rustc"]), list(grid["bindgen"])
    settings = []
    for rt, where in _settings(grid, cells):
        def verdict(r: int, c: int, rt: str = rt, where: str = where) -> str | None:
            cell = at.get((rows[r], cols[c], rt, where))
            return str(cell["verdict"]) if cell else None

        frontier = []
        for r, rustc in enumerate(rows):
            first_bad = next((c for c in range(len(cols)) if verdict(r, c) == "bad"), None)
            end = first_bad if first_bad is not None else len(cols)
            last_good = max((c for c in range(end) if verdict(r, c) == "good"), default=-1)
            candidates: list[str | None] = [cols[c] for c in range(last_good + 1, end)]
            candidates.append(cols[first_bad] if first_bad is not None else None)
            frontier.append({"rustc": rustc, "first_bad": cols[first_bad] if first_bad is not None else None,
                             "candidates": candidates, "certain": len(candidates) == 1})
        first = None
        bad_cols = [c for c in range(len(cols)) if any(verdict(r, c) == "bad" for r in range(len(rows)))]
        if bad_cols:
            c = bad_cols[0]
            r = next(r for r in range(len(rows)) if verdict(r, c) == "bad")
            cell = at[(rows[r], cols[c], rt, where)]
            last_good_bindgen = cols[c - 1] if c > 0 and verdict(r, c - 1) == "good" else None
            last_good_rustc = rows[r - 1] if r > 0 and verdict(r - 1, c) == "good" else None
            first = {"rustc": rows[r], "bindgen": cols[c], "reference_types": rt,
                     **({} if where == "node" else {"runtime": where}), "reason": cell["reason"],
                     "last_good_bindgen": last_good_bindgen, "last_good_rustc": last_good_rustc,
                     "compare": compare_links(last_good_bindgen, cols[c], last_good_rustc, rows[r]),
                     "reproduce": cell["reproduce"], "evidence": key_evidence(cell["evidence"])}
        counts = {v: sum(1 for cell in cells if (cell["reference_types"], runtime_of(cell)) == (rt, where)
                         and cell["verdict"] == v) for v in VERDICTS}
        settings.append({"reference_types": rt, "runtime": where, "first_failing": first, "frontier": frontier,
                         "counts": counts})
    headline = next((s["first_failing"] for s in settings if s["first_failing"]), None)
    return {"settings": settings, "first_failing": headline}


def key_evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("target_features", "reference_types_in_module", "externref_transform", "layers", "runtime",
            "failure_text")
    return {k: evidence[k] for k in keys if k in evidence}


def runtimes_of(grid: Mapping[str, Any]) -> list[str]:
    return list(grid.get("runtimes") or ["node"])


def _settings(grid: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The grid's (reference-types, runtime) panels, then any other a cell was probed with (a bisect's
    reference-types follow-up probes the flipped setting)."""
    out = [(rt, where) for rt in grid["reference_types"] for where in runtimes_of(grid)]
    for cell in cells:
        if (cell["reference_types"], runtime_of(cell)) not in out:
            out.append((cell["reference_types"], runtime_of(cell)))
    return out


def reference_types_effect(grid: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pairs whose testable verdict changes with the reference-types setting: the failure follows it."""
    at = index_cells(cells)
    panels = _settings(grid, cells)
    settings = list(dict.fromkeys(rt for rt, _ in panels))
    pairs = []
    for where in dict.fromkeys(w for _, w in panels):
        for rustc in grid["rustc"]:
            for bindgen in grid["bindgen"]:
                verdicts = {rt: str(at[(rustc, bindgen, rt, where)]["verdict"]) for rt in settings
                            if (rustc, bindgen, rt, where) in at}
                testable = {v for v in verdicts.values() if v in ("good", "bad")}
                if len(testable) > 1:
                    in_module = {rt: at[(rustc, bindgen, rt, where)]["evidence"].get("reference_types_in_module")
                                 for rt in verdicts}
                    pair = {"rustc": rustc, "bindgen": bindgen, "verdicts": verdicts,
                            "reference_types_in_module": in_module}
                    pairs.append(pair if where == "node" else {**pair, "runtime": where})
    if pairs:
        message = (f"{len(pairs)} (rustc, wasm-bindgen) pair(s) pass or fail depending on the reference-types "
                   "setting: the failure follows reference-types")
    elif len(settings) > 1:
        message = "no pair changes its verdict with the reference-types setting"
    else:
        message = "only one reference-types setting was probed"
    return {"message": message, "pairs": pairs}


# -- the document ------------------------------------------------------------------------------------------
def document(info: RunInfo) -> dict[str, Any]:
    """The whole report as one JSON-able dict (schema `wasm-bisect-report` version 1)."""
    result = info.result or {}
    cells_by_key: dict[str, dict[str, Any]] = {}
    for cell in info.cells:
        cells_by_key[cell["key"]] = cell  # a cell probed twice in a run: its last answer counts
    grid = _grid_of(info, list(cells_by_key.values()))
    cells = sorted(cells_by_key.values(), key=lambda c: _order(grid, c))
    analysis = analyse(grid, cells)
    settings = analysis["settings"]
    first_failing = analysis["first_failing"]
    bisect: dict[str, Any] | None = None
    if info.kind == "bisect" and result:
        # The search knows more than the probed cells show (it infers cells), so its answers win.
        first_failing = result.get("first_failing", first_failing)
        searches = {s.get("reference_types"): s for s in result.get("searches", [])}
        for setting in settings:
            rt = setting["reference_types"]
            if runtime_of(setting) not in runtimes_of(grid):
                continue  # a bisect searches its one runtime
            if rt in result.get("frontier", {}):
                setting["frontier"] = result["frontier"][rt]
            if rt in searches:
                setting["first_failing"] = searches[rt].get("first_failing")
                setting["message"] = searches[rt].get("message")
                setting["status"] = searches[rt].get("status")
        # Everything the bisect said (each search whole: frontier, candidates, attribution, follow-up).
        bisect = {k: result[k] for k in ("mode", "reference_types_summary", "probes") if k in result}
        bisect["searches"] = [dict(s) for s in result.get("searches", [])]
    probe = dict(result) if info.kind == "probe" and "outcome" in result else None
    stats = {k: result[k] for k in ("built", "from_store", "seconds", "jobs") if k in result}
    if isinstance(result.get("probes"), dict):  # a bisect counts its probes there
        stats.update({k: result["probes"][k] for k in ("built", "from_store") if k in result["probes"]})
    if probe is not None:
        stats = {"built": 0 if probe.get("from_store") else 1, "from_store": 1 if probe.get("from_store") else 0}
    grid_cells = len(grid["rustc"]) * len(grid["bindgen"]) * len(grid["reference_types"]) * len(runtimes_of(grid))
    on_grid = [c for c in cells if c["reference_types"] in grid["reference_types"]
               and runtime_of(c) in runtimes_of(grid)]
    summary: dict[str, Any] = {v: sum(1 for c in cells if c["verdict"] == v) for v in VERDICTS}
    summary.update(cells=len(cells), grid_cells=grid_cells, not_probed=max(grid_cells - len(on_grid), 0))
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "wasm-bisect", "version": info.tool_version},
        "run": {
            "id": info.run_id,
            "kind": info.kind,
            "created": _iso(info.created),
            "command": info.command,
            "fingerprint": info.fingerprint,
            "shard": result.get("shard"),
            "merged_from": result.get("merged_from"),
            "stats": stats,
        },
        "grid": {**grid, "cells": grid_cells},
        "template": info.template,
        "summary": summary,
        "first_failing": first_failing,
        "settings": settings,
        "reference_types": {"message": (bisect or {}).get("reference_types_summary")
                            or reference_types_effect(grid, cells)["message"],
                            "pairs": reference_types_effect(grid, cells)["pairs"]},
        "cells": cells,
        "environment": info.environment,
        "bisect": bisect,
        "probe": probe,
        "reproduce": {"grid": matrix_command(grid, template=(info.template or {}).get("ref"),
                                             reproducer=info.config.get("reproducer_args")),
                      "by_hand": by_hand(first_failing, cells, info.template),
                      "first_failing": first_failing.get("reproduce") if first_failing else None},
    }


def _grid_of(info: RunInfo, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's grid: from its result, else its config, else the cells it probed (a `probe` run)."""
    for source in (info.result or {}, info.config):
        grid = source.get("grid")
        if isinstance(grid, dict) and {"rustc", "bindgen", "reference_types"} <= set(grid):
            return {"template": grid.get("template", ""), "rustc": list(grid["rustc"]),
                    "bindgen": list(grid["bindgen"]), "reference_types": list(grid["reference_types"]),
                    "options": dict(grid.get("options", {})), "params": [list(p) for p in grid.get("params", [])],
                    "runtimes": runtimes_of(grid)}
    rustc = sorted({c["rustc"] for c in cells})
    bindgen = sorted({c["bindgen"] for c in cells})
    rts = [rt.value for rt in ReferenceTypes if any(c["reference_types"] == rt.value for c in cells)]
    found = [r.value for r in Runtime if any(runtime_of(c) == r.value for c in cells)]
    first = cells[0] if cells else {}
    params = sorted([k, v] for k, v in first.get("params", {}).items())
    return {"template": first.get("template", ""), "rustc": rustc, "bindgen": bindgen, "reference_types": rts,
            "options": dict(first.get("options", {})), "params": params, "runtimes": found or ["node"]}


def _order(grid: Mapping[str, Any], cell: Mapping[str, Any]) -> tuple[int, int, int, int, str]:
    def pos(items: Sequence[str], item: str) -> int:
        return items.index(item) if item in items else len(items)

    return (pos(grid["reference_types"], cell["reference_types"]), pos(runtimes_of(grid), runtime_of(cell)),
            pos(grid["rustc"], cell["rustc"]), pos(grid["bindgen"], cell["bindgen"]), cell["key"])


def comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without what differs between equivalent runs (run id, times, store hits): two runs of
    the same grid that found the same verdicts, e.g. shards merged vs one run, compare equal."""
    out = {k: v for k, v in doc.items() if k != "run"}
    out["cells"] = [{k: v for k, v in c.items() if k != "from_store"} for c in doc["cells"]]
    return out




def by_hand(first: Mapping[str, Any] | None, cells: Sequence[Mapping[str, Any]],
            template: Mapping[str, Any] | None) -> str | None:
    """The first failing cell as plain commands (no wasm-bisect), from what its probe built."""
    if not first or not template or template.get("kind") == "crate" or \
            template.get("check_kind", "script") != "script":
        return None  # a user's project (a workspace) or another check than node SCRIPT: the reproduce command
    if runtime_of(first) != "node":
        return None  # a browser check runs in the tool's page runner: its `reproduce` command is the way
    cell = index_cells(cells).get((first["rustc"], first["bindgen"], first["reference_types"], "node"))
    evidence = (cell or {}).get("evidence") or {}
    if not cell or not evidence.get("cargo_toml"):
        return None  # probed by an older version that kept no rendered crate
    files = {name: text for name, text in (template.get("files") or {}).items()
             if name not in ("template.toml", "Cargo.toml")}
    files[RUNNER] = node_runner_source().decode()
    files["Cargo.toml"] = evidence["cargo_toml"]
    if evidence.get("cargo_lock"):
        files["Cargo.lock"] = evidence["cargo_lock"]
    return by_hand_script(
        rustc=str(evidence.get("rustc_release") or first["rustc"].rpartition(":")[2]), bindgen=first["bindgen"],
        wasm_pack=evidence.get("wasm_pack"), reference_types=first["reference_types"], verdict=cell["verdict"],
        files=files, rustflags=evidence.get("rustflags") or [], params=cell.get("params") or {},
        check_script=str(template.get("check_script") or "check.mjs"),
        pkg_module=str(template.get("pkg_module") or PKG_MODULE),
        profile=str((cell.get("options") or {}).get("profile") or "release"), runner=RUNNER)
