"""Typer commands for patch verification and commit-level bisection (`register(app)` adds them).

`verify` builds a grid with a patch (a release, git+URL@REV or a checkout) and with the base, cell by cell;
`bisect-commits` bisects wasm-bindgen's first-parent history between two revisions. Logic lives in verify.py,
commits.py and sources.py; these commands parse options, wire the store and the oracle, and print.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from . import log
from .cli import (
    BuildFailOpt,
    JsonOpt,
    ParamOpt,
    TemplateOpt,
    _emit_json,
    _progress_printer,
    build_options,
    ensure_writable,
    parse_params,
    write_output,
)
from .errors import UsageError
from .model import BindgenSource, ReferenceTypes, ToolchainSpec, Variant, Verdict

DEFAULT_RUSTC = "debian:1.63.0,debian:1.96.0"
MarkdownOpt = Annotated[Path | None, typer.Option("--markdown", help="Also write the Markdown report to this file.")]
def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _matrix_markdown(store: Any, run_id: str) -> str | None:
    """The matrix report of this run (report.py, when present), headings demoted under ours."""
    try:
        from . import report, report_load
    except ImportError:  # pragma: no cover - the report modules ship together with this one
        return None
    try:
        text = report.render_markdown(report_load.load(store, run_id, environment=False))
    except (KeyError, ValueError, TypeError) as exc:
        log.warn(f"matrix section of the verify report unavailable: {exc}")
        return None
    return "\n".join("##" + ln if ln.startswith("#") else ln for ln in text.splitlines())


def register(app: typer.Typer) -> None:
    """Add `verify` and `bisect-commits` to the app."""
    app.command("verify")(verify_cmd)
    app.command("bisect-commits")(bisect_commits_cmd)


def _check_releases(*named: tuple[Any, str]) -> None:
    """Each crates.io version must be a published wasm-bindgen release (checked before anything is
    provisioned); the release list is read once, and not at all when no version is named."""
    from . import index

    versions = [(spec.version, what) for spec, what in named if spec.kind == "crates"]
    if not versions:
        return
    known = {r.version for r in index.releases(notice=log.warn)}
    for version, what in versions:
        if version not in known:
            raise UsageError(f"{what} {version} is not a published wasm-bindgen release",
                             hint="see `wasm-bisect versions`")


def _prepare(template: str, param: list[str] | None, build_failure: str, markdown: Path | None
             ) -> tuple[Any, tuple[tuple[str, str], ...], Any]:
    """What verify and bisect-commits check first: the output path, the template, its parameters, options."""
    from . import templates

    if markdown is not None:
        ensure_writable(markdown, "--markdown")
    tmpl = templates.load(template)
    params = tmpl.param_values(parse_params(param))
    return tmpl, params, build_options(build_failure=build_failure, profile="release", target="nodejs")


def verify_cmd(
    patch: Annotated[str, typer.Option("--patch", help="The candidate fix: a release (0.2.100), git+URL@REV "
                                       "(branch, tag, commit, pull/N/head) or a wasm-bindgen checkout directory.")],
    template: TemplateOpt = "vec-of-structs",
    against: Annotated[str | None, typer.Option("--against", help="The base to compare with (same forms as "
                                                "--patch); default: the failing wasm-bindgen of the newest "
                                                "bisect run of this template.")] = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="rustc axis, e.g. debian:1.63.0,debian:1.96.0; "
                                              "default: that bisect run's, else " + DEFAULT_RUSTC)] = None,
    reference_types: Annotated[str | None, typer.Option("--reference-types", help="default, on, off, externref, "
                                                        "both or all; default: that bisect run's, else default")]
    = None,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = "skip",
    markdown: MarkdownOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Does a fix really fix it? Every cell built with the patch and with the base, compared cell by cell.

    Ends with one line: FIXED (exit 0), PARTIAL, NOT FIXED or REGRESSES (exit 1), INCONCLUSIVE (exit 3).
    """
    from . import grid as grid_mod
    from . import sources, verify
    from . import store as store_mod
    from .probe import Oracle

    tmpl, params, options = _prepare(template, param, build_failure, markdown)
    # Check every source the user typed before anything is written (the store included).
    patch_spec = sources.parse(patch)
    against_spec = sources.parse(against) if against is not None else None
    _check_releases((patch_spec, "--patch"), *([(against_spec, "--against")] if against_spec else []))
    if patch_spec.kind != "crates":
        early = sources.resolve(patch_spec, progress=log.plain)
    store = store_mod.Store(notice=log.warn)
    base_text, base_grid = against, dict[str, Any]()
    if base_text is None:
        found = verify.base_from_runs(store.runs(), tmpl.name)
        if found is None:
            raise UsageError(f"no finished bisect run of template {tmpl.name} in the store to take the base from",
                             hint="give --against VERSION (e.g. --against 0.2.99)")
        base_text, base_grid = found
        log.info(f"base: wasm-bindgen {base_text}, the first failing version of the newest bisect run")
    rustc_axis = grid_mod.parse_rustc_axis(rustc or ",".join(base_grid.get("rustc") or []) or DEFAULT_RUSTC)
    rts = grid_mod.parse_reference_types(reference_types or ",".join(base_grid.get("reference_types") or [])
                                         or "default")
    base_spec = against_spec
    if base_spec is None:  # taken from a bisect run: check it like a typed one
        base_spec = sources.parse(base_text)
        _check_releases((base_spec, "the base"))
    patch_src = early if patch_spec.kind != "crates" else sources.resolve(patch_spec, progress=log.plain)
    base_src = sources.resolve(base_spec, progress=log.plain)
    if patch_src.source == base_src.source:
        raise UsageError(f"--patch and the base are the same source ({patch_src.source.label()})",
                         hint="compare two different versions or revisions")
    log.info(f"patch: {patch_src.describe()}")
    log.info(f"base:  {base_src.describe()}")

    def variant(r: ToolchainSpec, b: BindgenSource, rt: ReferenceTypes) -> Variant:
        return Variant(template=tmpl.name, rustc=r, bindgen=b, reference_types=rt, options=options, params=params)

    grid_identity = {"template": tmpl.name, "rustc": [str(r) for r in rustc_axis],
                     "bindgen": [base_src.source.label(), patch_src.source.label()],
                     "reference_types": [str(rt) for rt in rts], "options": options.__dict__,
                     "params": [list(p) for p in params]}
    fingerprint = _fingerprint("verify", grid_identity, base_src.source.rev, patch_src.source.rev,
                               tmpl.content_hash, tmpl.check_hash)
    run_id = store.start_run(kind="verify", fingerprint=fingerprint, command=" ".join(["wasm-bisect", *sys.argv[1:]]),
                             config={"grid": grid_identity, "patch": patch_src.to_json(), "base": base_src.to_json()})
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, progress=log.plain, on_probe=_progress_printer([0]))
    log.info(f"verify {tmpl.name}: {len(rustc_axis)} rustc x {len(rts)} reference-types = "
             f"{len(rustc_axis) * len(rts)} cells, each with the base and the patch (run {run_id})")
    with log.group(f"verify {tmpl.name}"):
        result = verify.run(template=tmpl.name, rustc=rustc_axis, reference_types=rts, base=base_src.source,
                            patch=patch_src.source, variant=variant, outcome=oracle.outcome)
    data = {**result.to_json(), "patch": patch_src.to_json(), "base": base_src.to_json(), "run_id": run_id,
            "probes": oracle.summary()}
    store.finish_run(run_id, data)
    conclusion, line = result.conclusion
    text = verify.markdown(result, base=base_src.describe(), patch=patch_src.describe(), run_id=run_id,
                           matrix=_matrix_markdown(store, run_id))
    if markdown is not None:
        write_output(text, markdown)
    log.step_summary(text)
    if as_json:
        _emit_json(data)
    else:
        _print_verify(result)
        p = oracle.summary()
        log.info(f"probes: {p['built']} built, {p['from_store']} from the store; run {run_id}")
        sys.stdout.write(line + "\n")
    raise typer.Exit(conclusion.exit_code)


def _print_verify(result: Any) -> None:
    from rich.table import Table

    from .verify import Change

    colour = {Change.FIXED: "green", Change.STILL_FAILING: "red", Change.REGRESSION: "bold red",
              Change.STILL_PASSING: "green", Change.UNTESTABLE: "yellow"}
    table = Table("rustc", "reference-types", "base", "patch", "change")
    for cell in result.cells:
        c = colour[cell.change]
        table.add_row(str(cell.rustc), str(cell.reference_types), str(cell.base.verdict), str(cell.patch.verdict),
                      f"[{c}]{cell.change}[/{c}]")
    log.console.print(table)


def bisect_commits_cmd(
    bindgen_repo: Annotated[str, typer.Option("--bindgen-repo", help="wasm-bindgen repository: a git URL "
                                              "(https, ssh, git, file) or a local clone's directory.")],
    good: Annotated[str, typer.Option("--good", help="A good (older) revision: tag, branch, commit id.")],
    bad: Annotated[str, typer.Option("--bad", help="A bad (newer) revision.")],
    template: TemplateOpt = "vec-of-structs",
    rustc: Annotated[str, typer.Option("--rustc", help="One toolchain, e.g. debian:1.63.0.")] = "debian:1.63.0",
    reference_types: Annotated[str, typer.Option("--reference-types", help="default, on, off or externref.")]
    = "default",
    find_fix: Annotated[bool, typer.Option("--find-fix", help="Find the first commit that passes again "
                                           "(--good is then the broken end, --bad the fixed one).")] = False,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = "skip",
    markdown: MarkdownOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bisect wasm-bindgen's first-parent commits between two revisions to the first bad (or fixed) commit.

    Each probed commit is checked out once, its CLI built from the same checkout (cached by commit id) and its
    crates patched into the reproducer; a commit that does not build is untestable and stepped around.
    """
    from . import commits, sources
    from . import store as store_mod
    from .errors import Untestable, WasmBisectError
    from .probe import Oracle

    tmpl, params, options = _prepare(template, param, build_failure, markdown)
    spec = ToolchainSpec.parse(rustc)
    rt = ReferenceTypes(reference_types) if reference_types in {r.value for r in ReferenceTypes} else None
    if rt is None:
        raise UsageError(f"--reference-types {reference_types!r} is not one of "
                         + ", ".join(r.value for r in ReferenceTypes))
    url = sources.repo_url(bindgen_repo)
    good_rev, bad_rev = sources.check_rev(good), sources.check_rev(bad)
    sources.precheck_local(url, [good_rev, bad_rev])
    found = sources.mirror(url, progress=log.plain)
    good_sha = sources.resolve_rev(found, good_rev, progress=log.plain)
    bad_sha = sources.resolve_rev(found, bad_rev, progress=log.plain)
    items = [commits.Commit(sha, title) for sha, title in sources.first_parent_commits(found, good_sha, bad_sha)]
    if len(items) < 2:
        raise UsageError(f"no first-parent commits between {good} and {bad}")
    store = store_mod.Store(notice=log.warn)
    fingerprint = _fingerprint("bisect-commits", tmpl.name, str(spec), str(rt), url, good_sha, bad_sha, find_fix,
                               [list(p) for p in params], options.__dict__, tmpl.content_hash, tmpl.check_hash)
    run_id = store.unfinished_run(fingerprint)
    if run_id:
        log.info(f"resuming interrupted run {run_id}: finished probes come from the store")
    else:
        run_id = store.start_run(kind="bisect-commits", fingerprint=fingerprint,
                                 command=" ".join(["wasm-bisect", *sys.argv[1:]]),
                                 config={"template": tmpl.name, "rustc": str(spec), "reference_types": str(rt),
                                         "url": url, "good": good_sha, "bad": bad_sha, "find_fix": find_fix})
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, progress=log.plain, on_probe=_progress_printer([0]))
    skipped: dict[str, str] = {}

    def ask(commit: commits.Commit) -> Verdict:
        try:
            resolved = sources.git_source(found, commit.sha, requested=f"{url}@{commit.sha}", progress=log.plain)
        except (Untestable, UsageError) as exc:  # e.g. a commit whose tree is not a wasm-bindgen workspace
            skipped[commit.sha] = exc.one_line()
            log.info(f"{escape(str(commit))}: [yellow]SKIP[/yellow] {escape(exc.one_line())}")
            return Verdict.SKIP
        except WasmBisectError as exc:
            skipped[commit.sha] = exc.one_line()
            log.warn(f"{commit}: {exc.one_line()}")
            return Verdict.ERROR
        variant = Variant(template=tmpl.name, rustc=spec, bindgen=resolved.source, reference_types=rt,
                          options=options, params=params)
        return oracle(variant)

    log.info(f"bisect-commits {tmpl.name}: {len(items)} first-parent commits from {items[0]} to {items[-1]} "
             f"(rustc {spec}, reference-types {rt}; run {run_id})")
    with log.group(f"bisect-commits {tmpl.name}"):
        found_range = commits.bisect(items, ask, find_fix=find_fix)
    data = {**commits.result(found_range, find_fix=find_fix, url=url), "run_id": run_id, "url": url,
            "good": good, "bad": bad, "rustc": str(spec), "reference_types": str(rt), "template": tmpl.name,
            "untestable": skipped, "probes_built": oracle.summary()}
    store.finish_run(run_id, data)
    line = commits.headline(data)
    text = _commits_markdown(data, line)
    if markdown is not None:
        write_output(text, markdown)
    log.step_summary(text)
    if as_json:
        _emit_json(data)
    else:
        for p in data["probes"]:
            log.plain(f"  {p['verdict']:5} {p['sha'][:12]} {p['subject']}")
        log.plain(found_range.message)
        sys.stdout.write(line + "\n")
    raise typer.Exit(int(data["exit_code"]))


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _commits_markdown(data: dict[str, Any], line: str) -> str:
    out = [f"## {data['template']}: {line}", "",
           f"Bisected {data['commits']} first-parent commits of {data['url']} from `{data['good']}` to "
           f"`{data['bad']}` with rustc `{data['rustc']}`, reference-types `{data['reference_types']}` "
           f"({data['mode']}): {data['message']}.", ""]
    if data.get("link"):
        out += [f"Commit: {data['link']}", ""]
    out += ["| commit | subject | verdict |", "|---|---|---|"]
    out += [f"| `{p['sha'][:12]}` | {_md(p['subject'])} | {p['verdict']} |" for p in data["probes"]]
    out += ["", f"<sub>wasm-bisect bisect-commits run {data['run_id']}</sub>"]
    return "\n".join(out) + "\n"
