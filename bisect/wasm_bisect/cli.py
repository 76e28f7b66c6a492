"""The Typer app: thin commands that parse options and call the library; errors become one line + exit code."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__, log, tools
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
app.add_typer(toolchain_app, name="toolchain")
app.add_typer(tools_app, name="tools")
app.add_typer(templates_app, name="templates")

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
    log.info(f"copied template {name} to {out}; edit it, then run `wasm-bisect probe --template {out} ...`")


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
        out.print("  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.timings.items()), markup=False)
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
    bindgen: Annotated[str, typer.Option("--bindgen", help="wasm-bindgen version, e.g. 0.2.99.")] = "0.2.99",
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
    version = versions.parse_bindgen_version(bindgen)
    rt = parse_reference_types(reference_types)[0]
    variant = Variant(template=tmpl.name, rustc=spec, bindgen=BindgenSource.crates(version), reference_types=rt,
                      options=build_options(build_failure=build_failure, profile=profile, target=target),
                      params=tmpl.param_values(parse_params(param)))
    store = store_mod.Store(notice=log.warn)
    run_id = store.start_run(kind="probe", fingerprint=variant.key, command=" ".join(sys.argv),
                             config={"variant": variant.identity()})
    if fresh:
        store.put(variant, tmpl.content_hash, tmpl.check_hash,
                  Outcome(verdict=Verdict.ERROR, reason="forced re-probe (--fresh)"))
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, progress=log.plain,
                    on_stage=lambda v, s: log.info(f"{v.short()}: {s}"))
    outcome = oracle.outcome(variant)
    store.finish_run(run_id, {"verdict": str(outcome.verdict)})
    if as_json:
        _emit_json({"variant": variant.identity(), "key": variant.key, "outcome": outcome.to_json(),
                    "from_store": oracle.cached > 0})
    else:
        print_outcome(variant, outcome)


# -- entry point -------------------------------------------------------------------------------------------
def _sigterm(_signo: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console entry: one place turns domain errors into a one-line message and an exit code."""
    signal.signal(signal.SIGTERM, _sigterm)
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
        message = getattr(exc, "format_message", lambda: str(exc))()
        log.error(f"{message} (see --help)")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(rc if isinstance(rc, int) else 0)
