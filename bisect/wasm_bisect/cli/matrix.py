"""`wasm-bisect matrix`, `merge` and `nox-matrix`: every cell of a grid, and CI scale-out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wasm_bisect import config, noxsupport, report, toolchains
from wasm_bisect.cli._common import (
    NO_CHECK_FLAGS,
    NO_PROJECT_FLAGS,
    BrowserPathOpt,
    BuildFailOpt,
    ConfigOpt,
    DryRunOpt,
    ParamOpt,
    ProfileOpt,
    QuietOpt,
    RefTypesListOpt,
    RuntimeListOpt,
    StoreOpt,
    TargetOpt,
    ToolsOpt,
    VerboseOpt,
    bundled,
    command_line,
    emit_json,
    ensure_writable,
    expanded,
    not_the_store,
    parse_params,
    print_dry_run,
    store_for_reading,
    write_output,
)
from wasm_bisect.cli._display import Display, grid_tables, print_tables
from wasm_bisect.cli.report import check_store, open_store, parse_report_spec
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import parse_shard
from wasm_bisect.domain.options import CheckOverrides, ProjectFlags
from wasm_bisect.runs import Events, estimate, merge, plan
from wasm_bisect.runs import matrix as matrix_run
from wasm_bisect.util import bounded, log, paths


def register(app: typer.Typer) -> None:
    app.command("matrix")(bundled(matrix))
    app.command("merge")(merge_cmd)
    app.command("nox-matrix")(nox_matrix)


def matrix(
    config_path: ConfigOpt = None,
    template: Annotated[str | None, typer.Option("--template", "-t", help="Built-in template or a directory.")]
    = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="Toolchains: debian:1.63.0,debian:1.96.0 or a "
                                              "range 1.63.0..1.96.0.")] = None,
    bindgen: Annotated[str | None, typer.Option("--bindgen", help="wasm-bindgen versions: 0.2.92,0.2.99 or "
                                                "0.2.92..0.2.100.")] = None,
    reference_types: RefTypesListOpt = None,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = None,
    profile: ProfileOpt = None,
    target: TargetOpt = None,
    runtime: RuntimeListOpt = None,
    browser_path: BrowserPathOpt = None,
    tools: ToolsOpt = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Cells probed at once (default 1, at most 64).")]
    = None,
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
    project: ProjectFlags = NO_PROJECT_FLAGS,
    checks: CheckOverrides = NO_CHECK_FLAGS,
    store_path: StoreOpt = None,
    export: Annotated[str | None, typer.Option("--export", help="Also write this run alone into a new store "
                                               "file (a CI artifact for `wasm-bisect merge`).")] = None,
    reports: Annotated[list[str] | None, typer.Option("--report", help="Write a report FORMAT:PATH "
                                                      "(repeatable), e.g. html:grid.html.")] = None,
    fail_on_bad: Annotated[bool, typer.Option("--fail-on-bad", help="Exit 1 when a cell is bad.")] = False,
    dry_run: DryRunOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's JSON report on stdout.")] = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Probe every cell of a grid (rustc x wasm-bindgen x reference-types), -j N at a time; print the grid."""
    # Everything typed is checked first (offline: outputs, shard, axes' syntax), then the release list and
    # the toolchains, and only then is a toolchain provisioned or the store opened.
    flags = config.Flags(
        template=template, rustc=rustc, bindgen=bindgen, reference_types=reference_types,
        params=parse_params(param) or None, build_failure=build_failure, profile=profile, target=target, jobs=jobs,
        shards=shards, allow_yanked=allow_yanked, store=store_path, runtime=runtime, browser_path=browser_path,
        tools=tools, project=project, checks=checks)
    chosen = config.resolve("matrix", flags, config_path=config_path)
    check_store(chosen.store)
    report_specs = [parse_report_spec(s) for s in reports or []]
    export_path = ensure_writable(export, "--export") if export is not None else None
    not_the_store([("--report", dest) for _fmt, dest in report_specs]
                  + ([("--export", export_path)] if export_path is not None else []), chosen.store)
    if shard is not None:
        parse_shard(shard)
    # A CI planner (--emit-github-matrix) may run where no browser, tool or provider is.
    tmpl = plan.reproducer(chosen)
    planned = plan.grid_plan(chosen, tmpl, one_runtime=False, machine=not emit_github_matrix, notice=log.warn)
    grid = planned.grid
    if emit_github_matrix:
        sys.stdout.write(json.dumps(matrix_run.github_matrix(grid, shards=chosen.shards), separators=(",", ":")) + "\n")
        return
    cells = matrix_run.MatrixPlan.make(grid, jobs=chosen.jobs, shard_spec=shard, cell_ids=cell or (),
                                      allow_yanked=chosen.allow_yanked)
    if dry_run:
        print_dry_run(estimate.estimate(command="matrix", grid=grid, reproducer=tmpl,
                                        store=store_for_reading(chosen.store), allow_yanked=chosen.allow_yanked,
                                        jobs=cells.jobs), as_json=as_json)
        return
    toolchains.prepare(matrix_run.toolchains_to_build(cells), progress=log.plain)
    store = open_store(chosen.store)
    request = matrix_run.Request(plan=cells, template=tmpl, command=command_line(),
                                 config_file=str(chosen.source) if chosen.source else None)
    what = f"matrix {grid.template}: {len(cells.cells)} of {grid.size} cells" + (f" (shard {shard})" if shard else "")
    display = Display(log.console, total=len(cells.cells), jobs=cells.jobs, title=f"matrix {grid.template}")
    hooks = matrix_run.MatrixHooks(on_start=display.started, on_done=display.finished, on_stage=display.stage)
    with log.group(f"{what}, -j {cells.jobs}"), display:
        result = matrix_run.execute(request, store, Events(info=log.warn, progress=log.plain), hooks,
                                    on_run=lambda run_id: log.info(f"run {run_id}"))
    human = log.console if as_json else log.out()  # with --json, stdout holds the JSON document alone
    if len(cells.cells) > 1:  # one cell (a nox session) already has its line above
        print_tables(human, grid_tables(grid, dict(result.outcomes),
                                        first_failing=result.first_failing_by_reference_types))
    counts = ", ".join(f"{n} {v}" for v, n in result.counts.items() if n)
    first = result.first_failing
    human.print(f"run {result.run_id}: {len(result.outcomes)} cells ({result.built} built, {result.from_store} "
                    f"from the store) in {result.seconds:.0f} s: {counts}", markup=False)
    if first:
        human.print(f"first failing pair: rustc {first['rustc']} + wasm-bindgen {first['bindgen']} "
                    f"(reference-types {first['reference_types']})", markup=False)
    if export_path is not None:
        merge.export(store, result.run_id, export_path, command=command_line())
        log.info(f"exported run {result.run_id} to {escape(str(export_path))} (combine shards with `wasm-bisect "
                 "merge`)")
    if report_specs or as_json or log.on_github():
        doc = report.load(store, result.run_id)
        for fmt, dest in report_specs:
            write_output(report.render(doc, fmt), dest, "--report")
        if as_json:
            emit_json(doc)
        if log.on_github():
            log.step_summary(report.render_markdown(doc))
    if fail_on_bad and result.counts.get("bad"):
        raise typer.Exit(1)


def merge_cmd(
    stores: Annotated[list[Path], typer.Argument(metavar="STORE", callback=expanded,
                                                 help="Store files of the shards (from `matrix --export`).")],
    into: Annotated[Path | None, typer.Option("--into", callback=expanded,
                                              help="Target store file (default: the tool's own).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Combine shard stores into one store and one matrix run (idempotent; refuses a different grid/template)."""
    shards = stores
    target_path = paths.resolve(into or paths.store_path(), "--into")
    for shard in shards:  # every shard is checked (read-only) before the target store is created or touched
        if paths.resolve(shard) != target_path:
            merge.check_store_file(shard)
    if into is not None:
        merge.check_target(into)
    if all(paths.resolve(shard) == target_path for shard in shards):
        raise UsageError(f"nothing to merge: the only store given is the --into store {target_path}",
                         hint="give the shard stores to merge into it")
    merge.check_sources(shards, target_path)
    fresh = not target_path.exists()
    try:
        target = open_store(into, "--into")
        result = merge.merge_paths(shards, target, command=command_line())
    except BaseException:
        if fresh:  # a failed merge into a new store (a full disk) leaves no empty or partial store behind
            merge.remove_new_store(target_path)
        raise
    for warning in result.warnings:
        log.warn(warning)
    if as_json:
        emit_json({"run": result.run_id, "cells": result.cells, "grid_cells": result.grid_cells,
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
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Turn `nox -l --json` (on stdin) into a GitHub Actions matrix: one job per nox session."""
    listed = bounded.read_stream(getattr(sys.stdin, "buffer", sys.stdin), limit=noxsupport.MAX_NOX_JSON,
                                 what="stdin")
    sys.stdout.write(json.dumps(noxsupport.github_matrix(listed, session=session), separators=(",", ":")) + "\n")
