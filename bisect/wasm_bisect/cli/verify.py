"""`wasm-bisect verify` (does a fix fix it across the grid?) and `bisect-commits` (which commit broke or fixed it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

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
    RefTypesOneOpt,
    RuntimeOneOpt,
    StoreOpt,
    TemplateOpt,
    ToolsOpt,
    VerboseOpt,
    bundled,
    command_line,
    emit_json,
    ensure_writable,
    events,
    flag,
    not_the_store,
    parse_params,
    print_dry_run,
    store_for_reading,
    write_output,
)
from wasm_bisect.cli._display import Display, print_verify
from wasm_bisect.cli.report import check_store, existing_store, open_store
from wasm_bisect.domain.errors import WasmBisectError
from wasm_bisect.domain.options import CheckOverrides, ProjectFlags
from wasm_bisect.runs import commits, plan, verify
from wasm_bisect.store import Store
from wasm_bisect.util import log

MarkdownOpt = Annotated[str | None, typer.Option("--markdown", help="Also write the Markdown report to this file.")]


def register(app: typer.Typer) -> None:
    app.command("verify")(bundled(verify_cmd))
    app.command("bisect-commits")(bundled(bisect_commits_cmd))


def _matrix_markdown(store: Store, run_id: str) -> str | None:
    """The matrix report of this run, headings demoted under ours."""
    try:
        text = report.render_markdown(report.load(store, run_id, environment=False))
    except (KeyError, ValueError, TypeError, WasmBisectError) as exc:
        log.warn(f"matrix section of the verify report unavailable: {exc}")
        return None
    return "\n".join("##" + ln if ln.startswith("#") else ln for ln in text.splitlines())


def _past_runs(path: Path | None) -> list[Any]:
    """The runs of the store, read-only; none when it does not exist yet (nothing is created to find that)."""
    target = path if path is not None else Store.default_path()
    return existing_store(path).runs() if target.exists() else []


def verify_cmd(
    patch: Annotated[str, typer.Option("--patch", help="The candidate fix: a release (0.2.100), git+URL@REV "
                                       "(branch, tag, commit, pull/N/head) or a wasm-bindgen checkout directory.")],
    config_path: ConfigOpt = None,
    template: TemplateOpt = None,
    against: Annotated[str | None, typer.Option("--against", help="The base to compare with (same forms as "
                                                "--patch); default: the failing wasm-bindgen of the newest "
                                                "bisect run of this template.")] = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="rustc axis, e.g. debian:1.63.0,debian:1.96.0; "
                                              "default: that bisect run's, else the verify default")] = None,
    reference_types: RefTypesListOpt = None,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = None,
    project: ProjectFlags = NO_PROJECT_FLAGS,
    dry_run: DryRunOpt = False,
    checks: CheckOverrides = NO_CHECK_FLAGS,
    runtime: RuntimeOneOpt = None,
    browser_path: BrowserPathOpt = None,
    tools: ToolsOpt = None,
    store_path: StoreOpt = None,
    markdown: MarkdownOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Does a fix really fix it? Every cell built with the patch and with the base, compared cell by cell.

    Ends with one line: FIXED (exit 0), PARTIAL, NOT FIXED or REGRESSES (exit 1), INCONCLUSIVE (exit 3).
    """
    markdown_path = ensure_writable(markdown, "--markdown") if markdown is not None else None
    flags = config.Flags(
        template=template, rustc=rustc, reference_types=reference_types, params=parse_params(param) or None,
        build_failure=build_failure, store=store_path, runtime=flag(runtime), browser_path=browser_path, tools=tools,
        project=project, checks=checks)
    chosen = config.resolve("verify", flags, config_path=config_path)
    check_store(chosen.store)
    if markdown_path is not None:
        not_the_store([("--markdown", markdown_path)], chosen.store)
    tmpl = plan.reproducer(chosen)
    where = plan.single_plan(chosen, tmpl).runtime
    table = config.defaults("verify")
    request = verify.VerifyRequest(
        template=tmpl, params=tmpl.param_values(chosen.params), options=chosen.options, patch=patch,
        against=against, rustc=chosen.rustc if chosen.from_user("rustc") else None,
        reference_types=chosen.reference_types if chosen.from_user("reference-types") else None,
        default_rustc=str(table["rustc"]), default_reference_types=str(table["reference-types"]),
        command=command_line(), runtime=where)
    if dry_run:
        print_dry_run(verify.dry_run(request, rustc_axis=plan.rustc_axis, store=store_for_reading(chosen.store)),
                      as_json=as_json)
        return
    with Display(log.console, None, title=f"verify {tmpl.name}") as display:
        done = verify.execute(request, lambda: open_store(chosen.store), display.events(events()),
                              rustc_axis=plan.rustc_axis, matrix_markdown=_matrix_markdown,
                              past_runs=lambda: _past_runs(chosen.store))
    conclusion, line = done.result.conclusion
    if markdown_path is not None:
        write_output(done.markdown, markdown_path, "--markdown")
    log.step_summary(done.markdown)
    if as_json:
        emit_json(done.to_json())
    else:
        print_verify(done.result)
        log.out().print(f"probes: {done.built} built, {done.from_store} from the store; run {done.run_id}",
                        markup=False)
        sys.stdout.write(line + "\n")
    raise typer.Exit(conclusion.exit_code)


def bisect_commits_cmd(
    bindgen_repo: Annotated[str, typer.Option("--bindgen-repo", help="wasm-bindgen repository: a git URL "
                                              "(https, ssh, git, file) or a local clone's directory.")],
    good: Annotated[str, typer.Option("--good", help="A good (older) revision: tag, branch, commit id.")],
    bad: Annotated[str, typer.Option("--bad", help="A bad (newer) revision.")],
    config_path: ConfigOpt = None,
    template: TemplateOpt = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="One toolchain, e.g. debian:1.63.0 "
                                              "(default: debian:1.63.0).")] = None,
    reference_types: RefTypesOneOpt = None,
    find_fix: Annotated[bool, typer.Option("--find-fix", help="Find the first commit that passes again "
                                           "(--good is then the broken end, --bad the fixed one).")] = False,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = None,
    project: ProjectFlags = NO_PROJECT_FLAGS,
    checks: CheckOverrides = NO_CHECK_FLAGS,
    runtime: RuntimeOneOpt = None,
    browser_path: BrowserPathOpt = None,
    tools: ToolsOpt = None,
    store_path: StoreOpt = None,
    markdown: MarkdownOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Bisect wasm-bindgen's first-parent commits between two revisions to the first bad (or fixed) commit.

    Each probed commit is checked out once, its CLI built from the same checkout (cached by commit id) and its
    crates patched into the reproducer; a commit that does not build is untestable and stepped around.
    """
    markdown_path = ensure_writable(markdown, "--markdown") if markdown is not None else None
    flags = config.Flags(
        template=template, rustc=rustc, reference_types=reference_types, params=parse_params(param) or None,
        build_failure=build_failure, store=store_path, runtime=flag(runtime), browser_path=browser_path, tools=tools,
        project=project, checks=checks)
    chosen = config.resolve("bisect-commits", flags, config_path=config_path)
    check_store(chosen.store)
    if markdown_path is not None:
        not_the_store([("--markdown", markdown_path)], chosen.store)
    tmpl = plan.reproducer(chosen)
    where = plan.single_plan(chosen, tmpl).runtime
    request = commits.CommitsRequest(
        template=tmpl, params=tmpl.param_values(chosen.params), options=chosen.options,
        rustc=config.single_rustc(chosen), reference_types=config.single_reference_types(chosen),
        repo=bindgen_repo, good=good, bad=bad, find_fix=find_fix, command=command_line(), runtime=where)
    with Display(log.console, None, title=f"bisect-commits {tmpl.name}") as display:
        done = commits.execute(request, lambda: open_store(chosen.store), display.events(events()))
    data = done.to_json()
    text = commits.markdown(data)
    if markdown_path is not None:
        write_output(text, markdown_path, "--markdown")
    log.step_summary(text)
    if as_json:
        emit_json(data)
    else:
        for p in data["probes"]:
            log.out().print(f"  {p['verdict']:5} {p['sha'][:12]} {p['subject']}", markup=False)
        log.out().print(done.found.message, markup=False)
        sys.stdout.write(done.headline + "\n")
    raise typer.Exit(done.exit_code)
