"""`wasm-bisect probe`: build and check one cell for real."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from wasm_bisect import config, report, toolchains
from wasm_bisect.bindgen import index, sources
from wasm_bisect.cli._common import (
    NO_CHECK_FLAGS,
    NO_PROJECT_FLAGS,
    BrowserPathOpt,
    BuildFailOpt,
    ConfigOpt,
    JsonOpt,
    ParamOpt,
    ProfileOpt,
    QuietOpt,
    RefTypesOneOpt,
    RuntimeOneOpt,
    StoreOpt,
    TargetOpt,
    TemplateOpt,
    ToolsOpt,
    VerboseOpt,
    bundled,
    command_line,
    emit_json,
    events,
    flag,
    parse_params,
    print_outcome,
)
from wasm_bisect.cli._prompt import controlling_terminal, judge, require_terminal
from wasm_bisect.cli.report import check_store, open_store
from wasm_bisect.cli.serve import OpenOpt, PageOpt, pages
from wasm_bisect.domain.compat import untestable_reason
from wasm_bisect.domain.model import BindgenSource, Terms, Variant, Verdict, options_for
from wasm_bisect.domain.options import CheckOverrides, ProjectFlags
from wasm_bisect.domain.versions import parse_bindgen_version
from wasm_bisect.runs import plan, single
from wasm_bisect.util import log


def register(app: typer.Typer) -> None:
    app.command("probe")(bundled(probe))


def bindgen_spec(text: str) -> sources.SourceSpec:
    """A crates.io version, or a git revision / local checkout (crate and CLI from the same sources): the
    syntax only, offline; nothing is fetched or resolved yet."""
    if text.startswith(("git+", "path:")) or "/" in text:
        return sources.parse(text)
    version = parse_bindgen_version(text)
    return sources.SourceSpec(kind="crates", text=version, version=version)



# git bisect's contract, for scripts that run a probe: an untestable cell is never reported as a verdict.
VERDICT_EXIT = {Verdict.GOOD: 0, Verdict.BAD: 1, Verdict.SKIP: 125, Verdict.ERROR: 125}


def probe(
    config_path: ConfigOpt = None,
    template: TemplateOpt = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="Toolchain, e.g. debian:1.96.0 (default: "
                                              "debian:1.96.0).")] = None,
    bindgen: Annotated[str | None, typer.Option("--bindgen", help="wasm-bindgen version (0.2.99), git+URL@REV or "
                                                "a checkout directory (default: 0.2.99).")] = None,
    reference_types: RefTypesOneOpt = None,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = None,
    profile: ProfileOpt = None,
    target: TargetOpt = None,
    project: ProjectFlags = NO_PROJECT_FLAGS,
    checks: CheckOverrides = NO_CHECK_FLAGS,
    runtime: RuntimeOneOpt = None,
    browser_path: BrowserPathOpt = None,
    tools: ToolsOpt = None,
    store_path: StoreOpt = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore a stored verdict and probe again.")] = False,
    prompt: Annotated[bool, typer.Option("--prompt", help="Ask a person on the terminal to judge what was built "
                                         "(the check runs too and its output is shown).")] = False,
    page: PageOpt = None,
    open_browser: OpenOpt = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit with the verdict, git bisect's way: 0 good, "
                                            "1 bad, 125 skip or error (for scripts: `git bisect run`, "
                                            "cargo-bisect-rustc --script).")] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build and check ONE variant for real and print its verdict with the evidence."""
    # Everything typed is checked first, offline; then against the release list and what the provider can
    # supply; only then is anything provisioned, fetched or written (the store included).
    flags = config.Flags(
        template=template, rustc=rustc, bindgen=bindgen, reference_types=reference_types,
        params=parse_params(param) or None, build_failure=build_failure, profile=profile, target=target,
        store=store_path, runtime=flag(runtime), browser_path=browser_path, tools=tools, project=project,
        checks=checks)
    chosen = config.resolve("probe", flags, config_path=config_path)
    check_store(chosen.store)
    if prompt:
        require_terminal()
    tmpl = plan.reproducer(chosen)
    shown = pages(tmpl, prompt=prompt, page=page, open_browser=open_browser)
    planned = plan.single_plan(chosen, tmpl, cell=True)
    where, spec, rt = planned.runtime, planned.rustc, planned.reference_types
    assert spec is not None and rt is not None  # a cell's
    params = tmpl.param_values(chosen.params)
    assert chosen.bindgen is not None  # the probe defaults name one
    source = bindgen_spec(chosen.bindgen)
    toolchains.check_known([spec])
    if source.kind == "crates":
        index.check_published([(str(source.version), "--bindgen")], notice=log.warn)

    def make(bindgen: BindgenSource) -> Variant:
        return Variant(template=tmpl.name, rustc=spec, bindgen=bindgen, reference_types=rt,
                       options=options_for(chosen.options, where), params=params, runtime=where)

    crates = make(BindgenSource.crates(str(source.version))) if source.kind == "crates" else None
    if crates is None or untestable_reason(crates, allow_yanked=False) is None:  # a SKIP is never provisioned
        toolchains.prepare([spec], progress=log.plain)
    variant = crates or make(sources.resolve(source, progress=log.plain).source)
    store = open_store(chosen.store)
    with contextlib.ExitStack() as stack:
        person = judge(Terms.of(), stack.enter_context(controlling_terminal()), shown) if prompt else None
        result = single.execute(variant, tmpl, store, events(probes=False, stages=True), fresh=fresh,
                                command=command_line(), judge=person)
    if as_json:  # the report document (docs/report-schema.md), the probe's own answer under "probe"
        emit_json(report.load(store, result.run_id, environment=False))
    else:
        print_outcome(variant, result.outcome)
    if exit_code:
        raise typer.Exit(VERDICT_EXIT[result.outcome.verdict])
