"""`wasm-bisect bisect`: the joint 2-D bisect of the rustc x wasm-bindgen grid."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Annotated

import typer

from wasm_bisect import config, report
from wasm_bisect.cli._common import (
    NO_CHECK_FLAGS,
    NO_PROJECT_FLAGS,
    BrowserPathOpt,
    BuildFailOpt,
    ConfigOpt,
    DryRunOpt,
    JsonOpt,
    ParamOpt,
    QuietOpt,
    RefTypesListOpt,
    RuntimeOneOpt,
    StoreOpt,
    TemplateOpt,
    ToolsOpt,
    VerboseOpt,
    bundled,
    command_line,
    emit_json,
    events,
    flag,
    parse_params,
    print_dry_run,
    store_for_reading,
)
from wasm_bisect.cli._display import Display, print_bisect
from wasm_bisect.cli._prompt import controlling_terminal, judge, require_terminal
from wasm_bisect.cli.report import check_store, open_store
from wasm_bisect.cli.serve import OpenOpt, PageOpt, pages
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import parse_point
from wasm_bisect.domain.model import Terms
from wasm_bisect.domain.options import CheckOverrides, ProjectFlags
from wasm_bisect.runs import bisect, estimate, plan
from wasm_bisect.util import log


def register(app: typer.Typer) -> None:
    app.command("bisect")(bundled(bisect_cmd))


def bisect_cmd(
    config_path: ConfigOpt = None,
    template: TemplateOpt = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="rustc axis: debian:1.63.0,debian:1.96.0 or a range "
                                              "(default: debian:1.63.0,debian:1.96.0).")] = None,
    bindgen: Annotated[str | None, typer.Option("--bindgen", help="wasm-bindgen axis: 0.2.87..0.2.100 or a list "
                                                "(default: 0.2.92..0.2.99).")] = None,
    good: Annotated[str | None, typer.Option("--good", help="Known good pair RUSTC@BINDGEN (box start; newer than "
                                             "--bad on an axis: that axis fixes the bug).")] = None,
    bad: Annotated[str | None, typer.Option("--bad", help="Known bad pair RUSTC@BINDGEN (box end).")] = None,
    reference_types: RefTypesListOpt = None,
    find_fix: Annotated[bool, typer.Option("--find-fix", help="Expect a fix: an axis the grid's corners do not "
                                           "orient fixes the bug, and when both fix it the answer is the first FIXED "
                                           "pair.")] = False,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=50, help="Run each check N times.")] = 1,
    threshold: Annotated[int | None, typer.Option("--threshold", min=1, help="Runs that must agree (default all).")]
    = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, max=64,
                                             help="Probes in flight at once: the reference-types settings' "
                                             "searches run together and probe ahead of themselves.")] = None,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = None,
    runtime: RuntimeOneOpt = None,
    browser_path: BrowserPathOpt = None,
    tools: ToolsOpt = None,
    allow_yanked: Annotated[bool | None, typer.Option("--allow-yanked/--no-allow-yanked",
                                                      help="Keep yanked releases on the axis.")] = None,
    follow_up: Annotated[bool, typer.Option("--follow-up/--no-follow-up",
                                            help="Re-probe the boundary with reference-types flipped.")] = True,
    project: ProjectFlags = NO_PROJECT_FLAGS,
    dry_run: DryRunOpt = False,
    drill: Annotated[str | None, typer.Option(
        "--drill", metavar="nightly", help="nightly: when a rustc boundary lies between two adjacent stable "
        "releases, bisect the nightlies between them (installed with rustup) at the first failing wasm-bindgen; "
        "between two adjacent nightlies the result prints a cargo-bisect-rustc command with a ready script.")] = None,
    checks: CheckOverrides = NO_CHECK_FLAGS,
    term_old: Annotated[str | None, typer.Option("--term-old", help="Your word for the old side (default good; "
                                                 "broken with --find-fix), in prompts, output and the log.")] = None,
    term_new: Annotated[str | None, typer.Option("--term-new", help="Your word for the new side (default bad; "
                                                 "fixed with --find-fix).")] = None,
    prompt: Annotated[bool, typer.Option("--prompt", help="Ask a person on the terminal to judge each cell built "
                                         "(the check runs too and its output is shown): TERM-OLD / TERM-NEW / skip "
                                         "/ retry / quit.")] = False,
    page: PageOpt = None,
    open_browser: OpenOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run (re-running the same "
                                         "command does this anyway).")] = False,
    store_path: StoreOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Bisect the rustc x wasm-bindgen grid to the first failing (or, with --find-fix, fixed) pair."""
    if drill is not None and drill != "nightly":
        raise UsageError(f"--drill {drill!r}: the only level is 'nightly'", hint="--drill nightly")
    if threshold is not None and not repeat / 2 < threshold <= repeat:
        raise UsageError(f"--threshold {threshold} must be a strict majority of --repeat {repeat}")
    terms = Terms.of(term_old, term_new, find_fix=find_fix)
    if prompt and not dry_run:
        if jobs is not None and jobs > 1:
            raise UsageError("--prompt asks about one cell at a time", hint="leave out -j/--jobs")
        require_terminal()
    # Syntax first (offline), then the release list and the providers, then the store.
    flags = config.Flags(
        template=template, rustc=rustc, bindgen=bindgen, reference_types=reference_types,
        params=parse_params(param) or None, build_failure=build_failure, jobs=jobs, allow_yanked=allow_yanked,
        store=store_path, runtime=flag(runtime), browser_path=browser_path, tools=tools, project=project,
        checks=checks)
    chosen = config.resolve("bisect", flags, config_path=config_path)
    check_store(chosen.store)
    good_point = parse_point(good, "--good") if good else None
    bad_point = parse_point(bad, "--bad") if bad else None
    tmpl = plan.reproducer(chosen)
    shown = pages(tmpl, prompt=prompt and not dry_run, page=page, open_browser=open_browser)
    setup = plan.bisect_setup(chosen, tmpl, good=good_point, bad=bad_point, find_fix=find_fix, follow_up=follow_up,
                              repeat=repeat, threshold=threshold, terms=terms if term_old or term_new else None,
                              notice=log.warn, progress=log.plain)
    bisect_plan, grid = setup.plan, setup.plan.grid
    if prompt:
        bisect_plan = replace(bisect_plan, jobs=1)
    if dry_run:
        print_dry_run(estimate.estimate(command="bisect", grid=grid, reproducer=tmpl,
                                        store=store_for_reading(chosen.store), allow_yanked=chosen.allow_yanked,
                                        jobs=chosen.jobs, follow_up=follow_up), as_json=as_json)
        return
    store = open_store(chosen.store)
    request = bisect.Request(plan=bisect_plan, template=tmpl, command=command_line(),
                             known_releases=setup.known_releases, resume_asked=resume)
    worst = (f"a single-corner boundary needs at most {bisect.expected_probes(len(grid.rustc), len(grid.bindgen))} "
             f"per setting; {grid.size} cells")
    with contextlib.ExitStack() as stack:
        if prompt:
            request = replace(request, judge=judge(terms, stack.enter_context(controlling_terminal()), shown))
        display = stack.enter_context(Display(log.console, None, jobs=bisect_plan.jobs, title=f"bisect {tmpl.name}",
                                              worst=worst, live=not prompt,
                                              terms=terms if term_old or term_new else None))
        result = bisect.execute(request, store, display.events(events(stages=True)))
    drilled: list[tuple[str, bisect.BisectResult | str]] = []
    if drill is not None and not as_json:
        print_bisect(result)
    for setting, below in bisect.drill_plans(bisect_plan, result, plan.rustc_axis) if drill is not None else []:
        if isinstance(below, str):
            log.warn(f"--drill nightly, reference-types {setting}: {below}")
            drilled.append((setting, below))
            continue
        log.info(f"--drill nightly, reference-types {setting}: {len(below.grid.rustc)} nightlies at wasm-bindgen "
                 f"{below.grid.bindgen[0].label()}")
        deeper = bisect.Request(plan=below, template=tmpl, command=command_line(),
                                known_releases=setup.known_releases)
        with Display(log.console, None, jobs=below.jobs, title=f"drill {tmpl.name}", worst=worst) as display:
            drilled.append((setting, bisect.execute(deeper, store, display.events(events(stages=True)))))
    if as_json:  # the report document (docs/report-schema.md), the bisect's own answer under "bisect"
        assert result.run_id is not None
        doc = report.load(store, result.run_id, environment=False)
        if drill is not None:
            doc["drill"] = [{"reference_types": s, "nothing_to_drill": d} if isinstance(d, str) else
                            {"reference_types": s, **report.load(store, d.run_id or "", environment=False)}
                            for s, d in drilled]
        emit_json(doc)
    elif drill is None:
        print_bisect(result)
    else:
        for _setting, below_result in drilled:
            if not isinstance(below_result, str):
                print_bisect(below_result)
    log.step_summary(f"wasm-bisect {tmpl.name}: " + "; ".join(
        f"{s.reference_types}: {s.message}" for s in result.searches))
