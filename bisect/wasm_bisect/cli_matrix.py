"""Typer commands for matrix mode, reports, shard merging and CI scale-out (`register(app)` adds them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import log, paths
from .cli import ParamOpt, _emit_json, ensure_writable, parse_params, write_output
from .errors import UsageError

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="wasm-bisect.toml, or a pyproject.toml "
                                                "with a tool.wasm-bisect table; default: the one in this directory.")]
StoreOpt = Annotated[Path | None, typer.Option("--store", help="Result store file (default: the tool's own).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="md, json, junit, svg or html.")]


def _open_store(path: Path | None) -> Any:
    from .store import Store

    if path is not None and path.is_dir():
        raise UsageError(f"--store {path} is a directory", hint="give the store file, e.g. store.sqlite3")
    return Store(path, notice=log.warn)


def _parse_report_spec(spec: str) -> tuple[str, Path]:
    from .report import FORMATS

    fmt, sep, dest = spec.partition(":")
    if not sep or fmt not in FORMATS or not dest:
        raise UsageError(f"--report {spec!r} is not FORMAT:PATH", hint=f"FORMAT is one of {', '.join(FORMATS)}")
    return fmt, Path(dest)


def matrix(
    config_path: ConfigOpt = None,
    template: Annotated[str | None, typer.Option("--template", "-t", help="Built-in template or a directory.")]
    = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="Toolchains: debian:1.63.0,debian:1.96.0 or a "
                                               "range 1.63.0..1.96.0.")] = None,
    bindgen: Annotated[str | None, typer.Option("--bindgen", help="wasm-bindgen versions: 0.2.92,0.2.99 or "
                                                 "0.2.92..0.2.100.")] = None,
    reference_types: Annotated[str | None, typer.Option("--reference-types", help="default, on, off, externref, "
                                                         "a list, both or all.")] = None,
    param: ParamOpt = None,
    build_failure: Annotated[str | None, typer.Option("--build-failure", help="skip or bad.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="release, dev or profiling.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="wasm-pack target (nodejs).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Cells probed at once (default 1).")] = None,
    shard: Annotated[str | None, typer.Option("--shard", help="Run only shard K/N of the cells.")] = None,
    cell: Annotated[list[str] | None, typer.Option("--cell", help="Run only this cell RUSTC@BINDGEN@RT "
                                                    "(repeatable).")] = None,
    allow_yanked: Annotated[bool | None, typer.Option("--allow-yanked/--no-allow-yanked",
                                                      help="Keep yanked wasm-bindgen releases.")] = None,
    emit_github_matrix: Annotated[bool, typer.Option("--emit-github-matrix", help="Print a GitHub Actions "
                                                     "matrix (JSON) of the cells, or of --shards N, and exit.")]
    = False,
    shards: Annotated[int | None, typer.Option("--shards", help="With --emit-github-matrix: N shard jobs.")]
    = None,
    store_path: StoreOpt = None,
    export: Annotated[Path | None, typer.Option("--export", help="Also write this run alone into a new store "
                                                "file (a CI artifact for `wasm-bisect merge`).")] = None,
    reports: Annotated[list[str] | None, typer.Option("--report", help="Write a report FORMAT:PATH "
                                                      "(repeatable), e.g. html:grid.html.")] = None,
    fail_on_bad: Annotated[bool, typer.Option("--fail-on-bad", help="Exit 1 when a cell is bad.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's JSON report on stdout.")] = False,
) -> None:
    """Probe every cell of a grid (rustc x wasm-bindgen x reference-types), -j N at a time; print the grid."""
    from . import config, matrix, merge, report, report_load, templates
    from .probe import Oracle

    cfg = config.load(config_path)
    chosen = config.settings(cfg, template=template, rustc=rustc, bindgen=bindgen, reference_types=reference_types,
                             params=parse_params(param) if param else None, build_failure=build_failure,
                             profile=profile, target=target, jobs=jobs, shards=shards, allow_yanked=allow_yanked,
                             store=store_path)
    report_specs = [_parse_report_spec(s) for s in reports or []]
    for _fmt, dest in report_specs:
        ensure_writable(dest, "--report")
    if export is not None:
        ensure_writable(export, "--export")
    grid = config.make_grid(chosen, notice=log.warn)
    if emit_github_matrix:
        sys.stdout.write(json.dumps(matrix.github_matrix(grid, shards=chosen.shards), separators=(",", ":")) + "\n")
        return
    plan = matrix.MatrixPlan.make(grid, jobs=chosen.jobs, shard_spec=shard, cell_ids=cell or ())
    tmpl = templates.load(chosen.template)
    store = _open_store(chosen.store)
    fingerprint = grid.fingerprint(tmpl.content_hash, tmpl.check_hash)
    run_id = store.start_run(
        kind="matrix", fingerprint=fingerprint, command=" ".join(sys.argv),
        config={"grid": grid.identity(), "template_hash": tmpl.content_hash, "check_hash": tmpl.check_hash,
                "template_path": str(tmpl.root), "shard": shard, "cells": [matrix.cell_id(v) for v in plan.cells],
                "jobs": plan.jobs, "config_file": str(chosen.source) if chosen.source else None},
    )
    what = f"matrix {grid.template}: {len(plan.cells)} of {grid.size} cells" + (f" (shard {shard})" if shard else "")
    with log.group(f"{what}, -j {plan.jobs}, run {run_id}"):
        display = matrix.Display(log.console, total=len(plan.cells), jobs=plan.jobs)
        oracle = Oracle(template=tmpl, store=store, run_id=run_id, allow_yanked=chosen.allow_yanked,
                        progress=log.plain, on_stage=display.stage)
        with display:
            outcome = matrix.run(plan, oracle, on_start=display.started, on_done=display.finished)
    result = matrix.result_dict(outcome, built=oracle.built, cached=oracle.cached)
    store.finish_run(run_id, result)
    if len(plan.cells) > 1:  # one cell (a nox session) already has its line above
        matrix.print_tables(log.console, matrix.grid_tables(
            grid, outcome.outcomes, first_failing=result["first_failing_by_reference_types"]))
    counts = ", ".join(f"{n} {v}" for v, n in result["counts"].items() if n)
    first = result["first_failing"]
    log.info(f"run {run_id}: {len(outcome.outcomes)} cells ({oracle.built} built, {oracle.cached} from the store) "
             f"in {outcome.seconds:.0f} s: {counts}")
    if first:
        log.info(f"first failing pair: rustc {first['rustc']} + wasm-bindgen {first['bindgen']} "
                 f"(reference-types {first['reference_types']})")
    if export is not None:
        merge.export(store, run_id, export, command=" ".join(sys.argv))
        log.info(f"exported run {run_id} to {export} (combine shards with `wasm-bisect merge`)")
    if report_specs or as_json or log.on_github():
        doc = report_load.load(store, run_id)
        for fmt, dest in report_specs:
            write_output(report.render(doc, fmt), dest)
        if as_json:
            _emit_json(doc)
        if log.on_github():
            log.step_summary(report.render_markdown(doc))
    if fail_on_bad and result["counts"].get("bad"):
        raise typer.Exit(1)


def report_cmd(
    run: Annotated[str | None, typer.Argument(help="Run id (a unique prefix); default: the newest run.")] = None,
    fmt: FormatOpt = "md",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")]
    = None,
    store_path: StoreOpt = None,
    no_env: Annotated[bool, typer.Option("--no-env", help="Skip collecting the environment (rustc -vV, ...).")]
    = False,
) -> None:
    """A report of a matrix or bisect run from the store: md, json, junit, svg or html."""
    from . import report, report_load

    fmt = "json" if as_json else fmt
    if fmt not in report.FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(report.FORMATS)}")
    if store_path is not None and not store_path.exists():
        raise UsageError(f"--store {store_path} does not exist")
    if output is not None:
        ensure_writable(output, "--output")
    doc = report_load.load(_open_store(store_path), run, environment=not no_env)
    write_output(report.render(doc, fmt), output)


def merge_cmd(
    stores: Annotated[list[Path], typer.Argument(help="Store files of the shards (from `matrix --export`).")],
    into: Annotated[Path | None, typer.Option("--into", help="Target store file (default: the tool's own).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """Combine shard stores into one store and one matrix run (idempotent; refuses a different grid/template)."""
    from . import merge

    target_path = (into or paths.store_path()).resolve()
    for shard in stores:  # every shard is checked before the target store is created or touched
        if shard.resolve() != target_path:
            merge.check_store_file(shard)
    target = _open_store(into)
    result = merge.merge_paths(stores, target, command=" ".join(sys.argv))
    for warning in result.warnings:
        log.warn(warning)
    if as_json:
        _emit_json({"run": result.run_id, "cells": result.cells, "grid_cells": result.grid_cells,
                    "already_merged": result.already, "sources": result.sources, "store": str(target.path)})
        return
    state = "already merged as" if result.already else "merged into"
    log.info(f"{len(result.sources)} store(s), {result.cells} of {result.grid_cells} cells {state} run "
             f"{result.run_id} in {target.path}")
    if result.cells < result.grid_cells:
        log.warn(f"{result.grid_cells - result.cells} cells of the grid are in none of the stores")
    sys.stdout.write(result.run_id + "\n")


def nox_matrix(
    session: Annotated[str | None, typer.Option("--session", "-s", help="Only sessions of this name "
                                                 "(default: those with a `cell` parameter).")] = None,
) -> None:
    """Turn `nox -l --json` (on stdin) into a GitHub Actions matrix: one job per nox session."""
    from . import noxsupport

    sys.stdout.write(json.dumps(noxsupport.github_matrix(sys.stdin.read(), session=session),
                                separators=(",", ":")) + "\n")


def runs_cmd(
    store_path: StoreOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """Recent runs in the store (ids for `wasm-bisect report`)."""
    import time

    store = _open_store(store_path)
    found = store.runs(limit=limit)
    if as_json:
        _emit_json([{"run": r.run_id, "kind": r.kind, "created": r.created, "command": r.command,
                     "finished": r.result is not None} for r in found])
        return
    for r in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        state = "" if r.result is not None else "  (unfinished)"
        sys.stdout.write(f"{r.run_id}  {r.kind:7} {when}  {r.command[-90:]}{state}\n")


def register(app: typer.Typer) -> None:
    """Add matrix, report, merge, nox-matrix (and runs, unless the app has one) to the CLI."""
    app.command("matrix")(matrix)
    app.command("report")(report_cmd)
    app.command("merge")(merge_cmd)
    app.command("nox-matrix")(nox_matrix)
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if "runs" not in names:
        app.command("runs")(runs_cmd)
