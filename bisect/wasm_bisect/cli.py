"""The Typer app: thin commands that parse options and call the library; errors become one line + exit code."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from . import __version__, log, paths, tools
from .errors import UsageError, WasmBisectError
from .model import BindgenSource, BuildOptions, Outcome, ReferenceTypes, Stage, ToolchainSpec, Variant, Verdict

app = typer.Typer(
    name="wasm-bisect",
    help="Bisect rustc x wasm-bindgen x reference-types grids to the first failing pair, with real builds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
toolchain_app = typer.Typer(help="Provision and list rustc toolchains that can build wasm32.", no_args_is_help=True)
tools_app = typer.Typer(help="Build and list cached wasm-bindgen CLIs and wasm-pack.", no_args_is_help=True)
templates_app = typer.Typer(help="List, show and copy reproducer templates.", no_args_is_help=True)
cache_app = typer.Typer(help="Disk use of the tool's home; prune what can be made again.", no_args_is_help=True)
app.add_typer(toolchain_app, name="toolchain")
app.add_typer(tools_app, name="tools")
app.add_typer(templates_app, name="templates")
app.add_typer(cache_app, name="cache")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"wasm-bisect {__version__}\n")
        raise typer.Exit


@app.callback()
def main_callback(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Echo every command run.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    log.set_verbose(verbose)
    tools.set_echo(log.command)


# -- toolchains --------------------------------------------------------------------------------------------
@toolchain_app.command("list")
def toolchain_list(as_json: JsonOpt = False) -> None:
    """What is provisioned: versions, wasm32 std, reference-types-off (mvp) std."""
    from . import toolchains

    found = toolchains.installed()
    if as_json:
        _emit_json([t.to_json() for t in found])
        return
    if not found:
        log.info("no toolchains provisioned yet; try `wasm-bisect toolchain add debian:1.96.0`")
        return
    from rich.table import Table

    table = Table("toolchain", "rustc", "cargo", "wasm32 std", "ref-types-off std", "sysroot")
    for t in found:
        table.add_row(str(t.spec), t.version, t.cargo_version, "yes" if t.wasm32_std else "no",
                      "yes" if t.mvp_sysroot else "no", str(t.sysroot))
    log.console.print(table)


@toolchain_app.command("available")
def toolchain_available(
    provider: Annotated[str, typer.Argument(help="debian, rustup or path")] = "debian",
    as_json: JsonOpt = False,
) -> None:
    """Versions a provider can give on this machine (discovered, not hard-coded)."""
    from . import toolchains

    versions = toolchains.provider(provider).available()
    if as_json:
        _emit_json(versions)
    else:
        sys.stdout.write("\n".join(versions) + ("\n" if versions else ""))


@toolchain_app.command("add")
def toolchain_add(
    spec: Annotated[str, typer.Argument(help="debian:1.96.0 | rustup:1.82.0 | path:/some/prefix")],
    as_json: JsonOpt = False,
) -> None:
    """Provision a toolchain (download, unpack, build its wasm32 std as needed) and verify it."""
    from . import toolchains

    parsed = ToolchainSpec.parse(spec)
    toolchain = toolchains.resolve(parsed, provision=True, progress=log.plain)
    if as_json:
        _emit_json(toolchain.to_json())
    else:
        log.info(f"[green]ready[/green] {toolchain.spec}: rustc {toolchain.version}, wasm32 std "
                 f"{'yes' if toolchain.wasm32_std else 'no'}, reference-types-off std "
                 f"{'yes' if toolchain.mvp_sysroot else 'no'} ({toolchain.sysroot})")


# -- tools -------------------------------------------------------------------------------------------------
@tools_app.command("install")
def tools_install(
    bindgen: Annotated[list[str] | None, typer.Option("--bindgen", help="wasm-bindgen CLI version (repeatable).")]
    = None,
    wasm_pack: Annotated[bool, typer.Option("--wasm-pack", help="Also build the pinned wasm-pack.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build exact wasm-bindgen CLI versions (and wasm-pack) once, into the tool cache."""
    from . import toolcache

    if not bindgen and not wasm_pack:
        raise UsageError("nothing to install", hint="give --bindgen X.Y.Z and/or --wasm-pack")
    done = []
    for version in bindgen or []:
        done.append(toolcache.bindgen_cli(version, progress=log.plain))
    if wasm_pack:
        done.append(toolcache.wasm_pack(progress=log.plain))
    if as_json:
        _emit_json([t.to_json() for t in done])
    else:
        for tool in done:
            log.info(f"[green]ready[/green] {tool.name} {tool.version}: {tool.binary}")


@tools_app.command("list")
def tools_list(as_json: JsonOpt = False) -> None:
    """Cached tools."""
    from . import toolcache

    found = toolcache.installed()
    if as_json:
        _emit_json([t.to_json() for t in found])
        return
    for tool in found:
        sys.stdout.write(f"{tool.name}\t{tool.ident}\t{tool.binary}\n")


@app.command("versions")
def versions_cmd(
    refresh: Annotated[bool, typer.Option("--refresh", help="Fetch the crates.io index now.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """wasm-bindgen releases, oldest first, yanked ones marked (crates.io index, else the bundled list)."""
    from . import compat, index

    releases = index.releases(refresh=refresh, notice=log.warn)
    if as_json:
        _emit_json([r.__dict__ for r in releases])
        return
    for r in releases:
        marks = [m for m, on in (("yanked", r.yanked), ("cli yanked", r.cli_yanked)) if on]
        msrv = compat.lib_rust_version(r.version)
        sys.stdout.write(f"{r.version:9} rust-version {msrv or '-':5} {' '.join(marks)}\n")


# -- templates ---------------------------------------------------------------------------------------------
@templates_app.command("list")
def templates_list(as_json: JsonOpt = False) -> None:
    """Built-in templates."""
    from . import templates

    items = [templates.load(name) for name in templates.builtin_names()]
    if as_json:
        _emit_json([{"name": t.name, "description": t.description, "issue": t.issue} for t in items])
        return
    for t in items:
        sys.stdout.write(f"{t.name:18} {t.description}\n")


@templates_app.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="template name or directory")],
                   as_json: JsonOpt = False) -> None:
    """A template's manifest, parameters and files."""
    from . import templates

    t = templates.load(name)
    data = {"name": t.name, "description": t.description, "issue": t.issue, "root": str(t.root),
            "check": {"script": t.check_script, "timeout": t.timeout, "failure_signature": t.failure_signature},
            "params": {p.name: {"default": p.default, "description": p.description} for p in t.params.values()},
            "expect": t.expect, "files": sorted(t.files), "content_hash": t.content_hash, "check_hash": t.check_hash}
    if as_json:
        _emit_json(data)
        return
    sys.stdout.write(f"{t.name}: {t.description}\n")
    if t.issue:
        sys.stdout.write(f"issue: {t.issue}\n")
    sys.stdout.write(f"check: {t.check_script} (timeout {t.timeout:.0f} s"
                     + (f", failure signature /{t.failure_signature}/" if t.failure_signature else "") + ")\n")
    for p in t.params.values():
        sys.stdout.write(f"param {p.name} = {p.default!r}  {p.description}\n")
    sys.stdout.write("files: " + ", ".join(sorted(t.files)) + "\n")


@templates_app.command("init")
def templates_init(
    name: Annotated[str, typer.Argument(help="template to copy")],
    dest: Annotated[Path, typer.Argument(help="new directory to create")],
) -> None:
    """Copy a template into DEST for you to edit; then pass `--template DEST`."""
    from . import templates

    out = templates.init(name, dest)
    log.info(escape(f"copied template {name} to {out}; edit it, then run `wasm-bisect probe --template {out} ...`"))


# -- probe -------------------------------------------------------------------------------------------------
def parse_params(items: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {item!r} is not NAME=VALUE")
        params[key.strip()] = value
    return params


TemplateOpt = Annotated[str, typer.Option("--template", "-t", help="Built-in template name or a directory.")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", "-p", help="Template parameter NAME=VALUE.")]
BuildFailOpt = Annotated[str, typer.Option("--build-failure", help="How a failed build counts: skip or bad.")]
ProfileOpt = Annotated[str, typer.Option("--profile", help="wasm-pack profile: release, dev or profiling.")]
TargetOpt = Annotated[str, typer.Option("--target", help="wasm-pack target (nodejs for the Node check).")]


def build_options(*, build_failure: str, profile: str, target: str) -> BuildOptions:
    if build_failure not in ("skip", "bad"):
        raise UsageError(f"--build-failure {build_failure!r} must be skip or bad")
    if profile not in ("release", "dev", "profiling"):
        raise UsageError(f"--profile {profile!r} must be release, dev or profiling")
    if target != "nodejs":
        raise UsageError(f"--target {target!r} is not supported by the Node check", hint="use --target nodejs")
    return BuildOptions(build_failure=build_failure, profile=profile, target=target)  # type: ignore[arg-type]


def parse_reference_types(value: str, *, allow_both: bool = False) -> list[ReferenceTypes]:
    if allow_both and value == "both":
        return [ReferenceTypes.DEFAULT, ReferenceTypes.ON]
    try:
        return [ReferenceTypes(value)]
    except ValueError:
        choices = ", ".join(r.value for r in ReferenceTypes) + (", both" if allow_both else "")
        raise UsageError(f"--reference-types {value!r} is not one of {choices}") from None


def print_outcome(variant: Variant, outcome: Outcome) -> None:
    colour = {Verdict.GOOD: "green", Verdict.BAD: "red", Verdict.SKIP: "yellow", Verdict.ERROR: "magenta"}
    c = colour[outcome.verdict]
    out = log.console
    out.print(f"[bold {c}]{outcome.verdict.upper()}[/bold {c}] {variant.short()}  ({variant.template})")
    out.print(f"  reason: {outcome.reason}", markup=False)
    if outcome.stage:
        out.print(f"  stage: {outcome.stage}" + (f", exit code {outcome.exit_code}" if outcome.exit_code is not None
                                                  else ""), markup=False)
    ev = outcome.evidence
    for layer in ev.get("layers", []):
        out.print(f"  layer: {layer}", markup=False)
    if "target_features" in ev:
        out.print(f"  target_features: {' '.join(ev['target_features']) or '(none)'}", markup=False)
    if "externref_transform" in ev:
        out.print(f"  externref transform in glue: {'yes' if ev['externref_transform'] else 'no'}", markup=False)
    if outcome.timings:
        order = {str(stage): i for i, stage in enumerate(Stage)}
        ordered = sorted(outcome.timings.items(), key=lambda kv: order.get(kv[0], len(order)))
        out.print("  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in ordered), markup=False)
    if outcome.crate_dir:
        out.print(f"  crate: {outcome.crate_dir} (rebuild by hand: sh {Path(outcome.crate_dir).parent}/reproduce.sh)",
                  markup=False)
    if outcome.verdict is not Verdict.GOOD and outcome.log_tail:
        out.print("  last lines:", markup=False)
        for line in outcome.log_tail.splitlines()[-8:]:
            out.print(f"    {line}", markup=False)


@app.command()
def probe(
    template: TemplateOpt = "vec-of-structs",
    rustc: Annotated[str, typer.Option("--rustc", help="Toolchain, e.g. debian:1.96.0.")] = "debian:1.96.0",
    bindgen: Annotated[str, typer.Option("--bindgen", help="wasm-bindgen version (0.2.99), git+URL@REV or a "
                                         "checkout directory.")] = "0.2.99",
    reference_types: Annotated[str, typer.Option("--reference-types", help="default, on, off or externref.")]
    = "default",
    param: ParamOpt = None,
    build_failure: BuildFailOpt = "skip",
    profile: ProfileOpt = "release",
    target: TargetOpt = "nodejs",
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore a stored verdict and probe again.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build and check ONE variant for real and print its verdict with the evidence."""
    from . import store as store_mod
    from . import templates, versions
    from .probe import Oracle

    tmpl = templates.load(template)
    spec = ToolchainSpec.parse(rustc)
    rt = parse_reference_types(reference_types)[0]
    if bindgen.startswith(("git+", "path:")) or "/" in bindgen:
        from . import sources  # a git revision or a local checkout: crate and CLI from the same sources

        source = sources.resolve(bindgen, progress=log.plain).source
    else:
        source = BindgenSource.crates(versions.parse_bindgen_version(bindgen))
    variant = Variant(template=tmpl.name, rustc=spec, bindgen=source, reference_types=rt,
                      options=build_options(build_failure=build_failure, profile=profile, target=target),
                      params=tmpl.param_values(parse_params(param)))
    from . import toolchains

    toolchains.check_known([spec])  # an unknown toolchain is bad input: say so before anything is written
    store = store_mod.Store(notice=log.warn)
    run_id = store.start_run(kind="probe", fingerprint=variant.key, command=" ".join(sys.argv),
                             config={"variant": variant.identity()})
    if fresh:
        store.put(variant, tmpl.content_hash, tmpl.check_hash,
                  Outcome(verdict=Verdict.ERROR, reason="forced re-probe (--fresh)"))
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, progress=log.plain,
                    on_stage=lambda v, s: log.info(f"{escape(v.short())}: {s}"))
    outcome = oracle.outcome(variant)
    store.finish_run(run_id, {"verdict": str(outcome.verdict)})
    if as_json:
        _emit_json({"variant": variant.identity(), "key": variant.key, "outcome": outcome.to_json(),
                    "from_store": oracle.cached > 0})
    else:
        print_outcome(variant, outcome)


# -- bisect ------------------------------------------------------------------------------------------------
VERDICT_STYLE = {"good": "green", "bad": "red", "skip": "yellow", "error": "magenta"}


def print_bisect(result: dict[str, Any]) -> None:
    out = log.console
    grid = result["grid"]
    out.print(f"\n[bold]== wasm-bisect: {grid['template']} ({result['mode']}) ==[/bold]")
    out.print(f"grid: rustc {', '.join(grid['rustc'])} x wasm-bindgen {grid['bindgen'][0]}..{grid['bindgen'][-1]} "
              f"({len(grid['bindgen'])} versions) x reference-types {', '.join(grid['reference_types'])}",
              markup=False)
    for s in result["searches"]:
        out.print(f"\n[bold]reference-types {s['reference_types']}[/bold]: {s['message']}", markup=True)
        first = s["first_failing"]
        if first:
            out.print(f"  first {s['terms']['new']} pair: rustc {first['rustc']} + wasm-bindgen {first['bindgen']}",
                      markup=False)
            out.print(f"    {first['reason']}", markup=False)
            if first.get("last_good_bindgen"):
                out.print(f"  last {s['terms']['old']} on the wasm-bindgen axis: {first['last_good_bindgen']} "
                          f"(with rustc {first['rustc']})", markup=False)
            if first.get("not_on_axis"):
                out.print(f"  not tested in between: {', '.join(first['not_on_axis'])} (yanked or outside the "
                          "axis; --allow-yanked to include yanked releases)", markup=False)
            if first.get("last_good_rustc"):
                out.print(f"  last {s['terms']['old']} on the rustc axis: {first['last_good_rustc']} "
                          f"(with wasm-bindgen {first['bindgen']})", markup=False)
            ev = first.get("evidence") or {}
            if ev.get("target_features") is not None:
                out.print(f"  module target_features: {' '.join(ev['target_features']) or '(none)'}; "
                          f"externref transform: {'yes' if ev.get('externref_transform') else 'no'}", markup=False)
            out.print(f"  reproduce: {first['reproduce']}", markup=False)
            for link in first.get("compare", []):
                out.print(f"  compare: {link}", markup=False)
        out.print("  frontier: " + "; ".join(
            f"{row['rustc']} -> {row['first_bad'] or ('?' if not row['certain'] else 'none')}"
            + ("" if row["certain"] else f" (one of {', '.join(str(c) for c in row['candidates'])})")
            for row in s["frontier"]), markup=False)
        out.print(f"  attribution: {s['attribution']['kind']}: {s['attribution']['message']}", markup=False)
        follow = s.get("reference_types_follow_up")
        if follow:
            out.print(f"  reference-types follow-up: {follow['kind']}: {follow['message']}", markup=False)
            for rp in follow["reprobes"]:
                out.print(f"    {rp['rustc']} + {rp['bindgen']}: {rp['was']} -> {rp['now']} with "
                          f"reference-types {rp['reference_types']}", markup=False)
        for v in s["violations"]:
            out.print(f"  [yellow]non-monotone:[/yellow] {v['good']} passes although {v['bad']} fails")
        out.print(f"  probes: {s['probes']} asked for {s['cells']} cells ({s['filtered']} ruled out before "
                  f"building; a single-corner boundary needs at most {s['expected_probes_one_corner']})",
                  markup=False)
    if result.get("reference_types_summary"):
        out.print(f"\n[bold]reference-types:[/bold] {result['reference_types_summary']}")
    p = result["probes"]
    out.print(f"\nprobes: {p['built']} built, {p['from_store']} answered from the store; grid {p['cells']} cells; "
              f"run {result.get('run_id', '?')} (`wasm-bisect log {result.get('run_id', '')}`)", markup=False)


def ensure_writable(dest: Path, what: str) -> None:
    """Refuse an output path that cannot be written, before any work is done; nothing is left behind.

    Tried for real (a temporary file in the directory that will hold it) rather than with os.access:
    root passes every permission check, yet still cannot write to a read-only or pseudo filesystem.
    """
    import tempfile

    if "\0" in str(dest):
        raise UsageError(f"{what} {str(dest)!r} contains a NUL character")
    if dest.is_dir():
        raise UsageError(f"{what} {dest} is a directory", hint="give a file name")
    ancestor = dest.absolute().parent
    while not ancestor.exists():  # missing directories are created when the file is written
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot write {what} {dest}: {ancestor} is not a directory")
    try:
        if dest.exists():
            with dest.open("ab"):  # opened, not written: the file keeps its content and mtime
                pass
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {what} {dest}: {exc.strerror}") from None


def write_output(text: str, dest: Path | None) -> None:
    """Write a report to `dest` (stdout when None), atomically; an unwritable path is one line, exit 2."""
    from . import fsutil

    if dest is None:
        sys.stdout.write(text)
        return
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write_text(dest, text)
    except OSError as exc:
        raise UsageError(f"cannot write {dest}: {exc.strerror}") from None
    log.info(f"wrote {escape(str(dest))}")


def _progress_printer(counter: list[int]) -> Any:
    def on_probe(variant: Variant, outcome: Outcome, cached: bool) -> None:
        counter[0] += 1
        style = VERDICT_STYLE[str(outcome.verdict)]
        took = sum(v for k, v in outcome.timings.items() if k != "provision")
        how = "from store" if cached else f"{took:.1f} s"
        log.info(f"probe {counter[0]}: {escape(variant.short())} [{style}]{outcome.verdict.upper()}[/{style}] "
                 f"({how}) {escape(outcome.reason[:140])}")

    return on_probe


_HELD: list[Any] = []  # run locks of this process


def _try_acquire(lock: Any) -> bool:
    import filelock

    try:
        lock.acquire()
    except filelock.Timeout:
        return False
    return True


def note_gaps(result: dict[str, Any], known: list[str]) -> None:
    """Name releases between the last good and first bad wasm-bindgen that were not on the axis (yanked)."""
    from . import versions

    for s in result["searches"]:
        first = s.get("first_failing")
        if not first or not first.get("last_good_bindgen"):
            continue
        lo, hi = versions.bindgen_key(first["last_good_bindgen"]), versions.bindgen_key(first["bindgen"])
        first["not_on_axis"] = [v for v in known if lo < versions.bindgen_key(v) < hi]


@app.command("bisect")
def bisect_cmd(
    template: TemplateOpt = "vec-of-structs",
    rustc: Annotated[str, typer.Option("--rustc", help="rustc axis: debian:1.63.0,debian:1.96.0 or a range.")]
    = "debian:1.63.0,debian:1.96.0",
    bindgen: Annotated[str, typer.Option("--bindgen", help="wasm-bindgen axis: 0.2.87..0.2.100 or a list.")]
    = "0.2.92..0.2.99",
    good: Annotated[str | None, typer.Option("--good", help="Known good pair RUSTC@BINDGEN (box start).")] = None,
    bad: Annotated[str | None, typer.Option("--bad", help="Known bad pair RUSTC@BINDGEN (box end).")] = None,
    reference_types: Annotated[str, typer.Option("--reference-types",
                                                 help="default, on, off, externref, both or all.")] = "default",
    find_fix: Annotated[bool, typer.Option("--find-fix", help="Find the first FIXED pair instead.")] = False,
    repeat: Annotated[int, typer.Option("--repeat", help="Run each check N times.")] = 1,
    threshold: Annotated[int | None, typer.Option("--threshold", help="Runs that must agree (default all).")]
    = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Search reference-types settings in parallel.")] = 1,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = "skip",
    allow_yanked: Annotated[bool, typer.Option("--allow-yanked", help="Keep yanked releases on the axis.")]
    = False,
    follow_up: Annotated[bool, typer.Option("--follow-up/--no-follow-up",
                                            help="Re-probe the boundary with reference-types flipped.")] = True,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run (re-running the same "
                                         "command does this anyway).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bisect the rustc x wasm-bindgen grid to the first failing (or, with --find-fix, fixed) pair."""
    from . import bisect_run, index, templates
    from . import grid as grid_mod
    from . import store as store_mod
    from .probe import Oracle

    if repeat < 1 or repeat > 50:
        raise UsageError(f"--repeat {repeat} must be between 1 and 50")
    if threshold is not None and not repeat / 2 < threshold <= repeat:
        raise UsageError(f"--threshold {threshold} must be a strict majority of --repeat {repeat}")
    if jobs < 1 or jobs > 64:
        raise UsageError(f"--jobs {jobs} must be between 1 and 64")
    tmpl = templates.load(template)
    params = tmpl.param_values(parse_params(param))
    options = build_options(build_failure=build_failure, profile="release", target="nodejs")
    rt = grid_mod.parse_reference_types(reference_types)
    from . import toolchains

    available = None
    if ".." in rustc:  # a range picks from the provider's versions, not every X.Y.0 in between
        first = rustc.split(",")[0]
        available = toolchains.provider(first.partition(":")[0] if ":" in first else "debian").available()
    rustc_axis = grid_mod.parse_rustc_axis(rustc, available=available)
    releases = index.releases(notice=log.warn)
    bindgen_axis = grid_mod.parse_bindgen_axis(bindgen, releases=releases, include_yanked=allow_yanked)
    grid = grid_mod.Grid(template=tmpl.name, rustc=rustc_axis, bindgen=bindgen_axis, reference_types=rt,
                         options=options, params=params)
    grid = bisect_run.restrict(grid, grid_mod.parse_point(good, "--good") if good else None,
                               grid_mod.parse_point(bad, "--bad") if bad else None)
    plan = bisect_run.BisectPlan(grid=grid, find_fix=find_fix, jobs=jobs, allow_yanked=allow_yanked,
                                 follow_up=follow_up)
    bisect_run.check_grid(grid)  # bad input fails before a run is started in the store
    toolchains.check_known(grid.rustc)
    store = store_mod.Store(notice=log.warn)
    fingerprint = grid.fingerprint(tmpl.content_hash, tmpl.check_hash, "find-fix" if find_fix else "regress",
                                   str(repeat), str(threshold))
    from . import fsutil

    # A run is "interrupted" only when no process holds its lock: a second copy of a live run starts its own.
    with fsutil.lock(f"bisect-{fingerprint}"):
        run_id = store.unfinished_run(fingerprint)
        # A few seconds of grace: a run killed a moment ago may not have released its lock yet.
        run_lock = fsutil.lock(f"run-{run_id}", timeout=5) if run_id else None
        if run_lock is not None and not _try_acquire(run_lock):
            run_id, run_lock = None, None
        elif run_lock is not None and store.unfinished_run(fingerprint) != run_id:
            run_lock.release()  # it finished while we waited for its lock: nothing to resume
            run_id, run_lock = None, None
        if run_id:
            log.info(f"resuming interrupted run {run_id}: finished probes come from the store")
        else:
            if resume:
                log.info("nothing to resume: starting a new run (finished probes still come from the store)")
            command = " ".join(["wasm-bisect", *sys.argv[1:]])
            run_id = store.start_run(kind="bisect", fingerprint=fingerprint, command=command,
                                     config={"grid": grid.identity(), "find_fix": find_fix, "repeat": repeat})
            run_lock = fsutil.lock(f"run-{run_id}")
            run_lock.acquire()
    _HELD.append(run_lock)  # held until this process ends (the OS releases it even on SIGKILL)
    log.info(f"bisect {tmpl.name}: {len(grid.rustc)} rustc x {len(grid.bindgen)} wasm-bindgen x "
             f"{len(grid.reference_types)} reference-types = {grid.size} cells; a single-corner boundary takes at "
             f"most {bisect_run.expected_probes(len(grid.rustc), len(grid.bindgen))} probes per setting (run {run_id})")
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, allow_yanked=allow_yanked, repeat=repeat,
                    threshold=threshold, progress=log.plain, on_probe=_progress_printer([0]),
                    on_stage=lambda v, s: log.info(f"  {escape(v.short())}: {s}") if s is not Stage.PROVISION else None)
    with log.group(f"bisect {tmpl.name}"):
        result = bisect_run.run(plan, oracle)
    result["run_id"] = run_id
    note_gaps(result, [r.version for r in releases])
    store.finish_run(run_id, result)
    if as_json:
        _emit_json(result)
    else:
        print_bisect(result)
    log.step_summary(f"wasm-bisect {tmpl.name}: " + "; ".join(
        f"{s['reference_types']}: {s['message']}" for s in result["searches"]))


@app.command("log")
def log_cmd(
    run: Annotated[str | None, typer.Argument(help="Run id (a prefix works); default: the newest run.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The probes of a run, like `git bisect log`."""
    from . import store as store_mod
    from .errors import StoreError

    if not paths.store_path().is_file():  # a read-only command: do not create an empty store
        raise StoreError(f"no runs yet in {paths.store_path()}", hint="start one with `wasm-bisect bisect`")
    store = store_mod.Store(notice=log.warn)
    info = store.run(run)
    probes = store.run_probes(info.run_id)
    if as_json:
        _emit_json({"run": info.__dict__, "probes": [
            {"seq": p.seq, "cached": p.cached, "variant": p.variant, "outcome": p.outcome.to_json()} for p in probes]})
        return
    lines = [f"# run {info.run_id} ({info.kind}): {info.command}"]
    for p in probes:
        v = p.variant
        cell = f"{v['rustc']} wasm-bindgen {v['bindgen']['version']} reference-types {v['reference_types']}"
        note = " (from store)" if p.cached else ""
        lines.append(f"# {p.outcome.verdict}: [{cell}] {p.outcome.reason}{note}")
        lines.append(f"{p.outcome.verdict} {v['rustc']}@{v['bindgen']['version']}:{v['reference_types']}")
    if info.result:
        for s in info.result.get("searches", []):
            lines.append(f"# result ({s['reference_types']}): {s['message']}")
    elif info.kind == "bisect":
        lines.append("# unfinished: re-run the same command to resume")
    sys.stdout.write("\n".join(lines) + "\n")


@app.command("runs")
def runs_cmd(as_json: JsonOpt = False) -> None:
    """Recent runs in the store."""
    import datetime as dt

    from . import store as store_mod

    store = store_mod.Store(notice=log.warn)
    items = store.runs()
    if as_json:
        _emit_json([r.__dict__ for r in items])
        return
    for r in items:
        when = dt.datetime.fromtimestamp(r.created, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
        state = "done" if r.result is not None else "unfinished"
        sys.stdout.write(f"{r.run_id}  {when}  {r.kind:7} {state:10} {r.command}\n")


@cache_app.command("info")
def cache_info(as_json: JsonOpt = False) -> None:
    """Size of each part of the tool's home, largest first."""
    from . import cache

    parts = cache.usage()
    if as_json:
        _emit_json({"home": str(paths.home()), "parts": [u.to_json() for u in parts]})
        return
    sys.stdout.write(f"home: {paths.home()}\n")
    for u in parts:
        sys.stdout.write(f"{u.name:11} {cache.human(u.bytes):>10}  {u.entries:5} entries  {u.what}\n")


@cache_app.command("prune")
def cache_prune(
    work: Annotated[bool, typer.Option("--work", help="Rendered variant crates and their logs.")] = False,
    targets: Annotated[bool, typer.Option("--targets", help="Cargo target dirs (dependencies are rebuilt "
                                          "on the next probe of each toolchain).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove rendered crates and cargo target dirs (both unless one is named). Verdicts stay in the store;
    toolchains and tools are kept; whatever a running probe or build holds is left alone."""
    from . import cache

    kinds = tuple(k for k, on in (("work", work), ("targets", targets)) if on) or cache.PRUNABLE
    result = cache.prune(kinds, dry_run=dry_run)
    if as_json:
        _emit_json({"directories": [str(p) for p in result.removed], "busy": [str(p) for p in result.busy],
                    "bytes": result.freed, "dry_run": dry_run})
        return
    verb = "would free" if dry_run else "freed"
    log.info(f"{', '.join(kinds)}: {len(result.removed)} directories, {verb} {cache.human(result.freed)}"
             + (f"; {len(result.busy)} in use by a running probe, kept" if result.busy else ""))


# -- entry point -------------------------------------------------------------------------------------------
_interrupted = False


def _interrupt(_signo: int, _frame: object) -> None:
    """SIGINT/SIGTERM: stop every running build or check (also those of -j worker threads), then unwind."""
    global _interrupted  # noqa: PLW0603 - one process-wide flag, set from the signal handler
    _interrupted = True
    tools.cancel_all()
    raise KeyboardInterrupt


def main() -> None:
    """Console entry: one place turns domain errors into a one-line message and an exit code."""
    global _interrupted  # noqa: PLW0603
    _interrupted = False
    tools.reset_cancel()
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _main()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        while _HELD:
            _HELD.pop().release(force=True)


def _main() -> None:
    try:
        rc = app(standalone_mode=False)
    except WasmBisectError as exc:
        log.error(exc.one_line())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        log.error("interrupted; every finished probe is stored, re-run the same command to resume")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        log.error("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors, kept to one line like ours
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        log.error(f"{message} (see --help)")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except OSError as exc:  # an unusable home or output path: the environment, not a bug of ours
        where = f" {exc.filename}" if exc.filename else ""
        log.error(f"cannot use{where}: {exc.strerror or exc}")
        sys.exit(2)
    if _interrupted:  # typer turns KeyboardInterrupt into a silent exit code 130
        log.error("interrupted; every finished probe is stored, re-run the same command to resume")
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)


# Matrix mode, reports, merge and CI scale-out (issue 5) register themselves; a broken import must not take
# the other commands down with it.
try:
    from . import cli_matrix  # at the end: it imports the helpers defined above
except ImportError as _exc:  # pragma: no cover
    log.warn(f"matrix/report/merge commands unavailable: {_exc}")
else:
    cli_matrix.register(app)
from . import cli_verify  # noqa: E402 - patch verification and commit bisection (issue 6) register themselves

cli_verify.register(app)
