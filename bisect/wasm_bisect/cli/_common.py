"""What every command shares: option types, output helpers, the progress printer and the outcome printer."""

from __future__ import annotations

import functools
import inspect
import json
import shlex
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.markup import escape

from wasm_bisect.bindgen import prebuilt
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import RT_CHOICES, parse_reference_types, parse_runtimes
from wasm_bisect.domain.model import Outcome, ReferenceTypes, Runtime, Stage, Variant, Verdict
from wasm_bisect.domain.options import (
    BuildFailure,
    CheckOverrides,
    Profile,
    ProjectFlags,
    Target,
    TimeoutVerdict,
    ToolSource,
)
from wasm_bisect.runs import Events
from wasm_bisect.util import fs, log, paths


def _reference_types(*, single: bool) -> Any:
    """A parser for --reference-types: default, on, off, externref, both, all, or a comma list of the first four
    (case-insensitive); `single` commands take exactly one setting."""

    def parse(value: str) -> str:
        text = str(value).strip().lower()
        try:
            parsed = parse_reference_types(text)
        except UsageError as exc:
            raise typer.BadParameter(exc.message) from None
        if single and len(parsed) != 1:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(r.value for r in ReferenceTypes)}")
        return text

    return parse


def _complete_reference_types(single: bool) -> Any:
    choices = [r.value for r in ReferenceTypes] if single else list(RT_CHOICES)

    def complete(incomplete: str) -> list[str]:
        return [c for c in choices if c.startswith(incomplete.lower())]

    return complete


def _runtimes(value: str) -> str:
    """A parser for a matrix's --runtime: node, chromium, firefox or a comma list of them."""
    text = str(value).strip().lower()
    try:
        parse_runtimes(text)
    except UsageError as exc:
        raise typer.BadParameter(exc.message) from None
    return text


def _complete_runtimes(incomplete: str) -> list[str]:
    return [r.value for r in Runtime if r.value.startswith(incomplete.lower())]


class ReportFormat(StrEnum):
    MD = "md"
    JSON = "json"
    JUNIT = "junit"
    SVG = "svg"
    HTML = "html"


def expanded(value: Path | list[Path] | None) -> Path | list[Path] | None:
    """Every path option: `~` and `~user` expanded the same way (typer's Path does not), a NUL refused."""
    if value is None:
        return None
    if isinstance(value, list):
        return [paths.expand(p) for p in value]
    return paths.expand(value)


def _verbose(value: bool) -> None:
    if value:
        log.set_verbose(True)


def _quiet(value: bool) -> None:
    if value:
        log.set_quiet(True)


# Accepted before the command name and after it alike (`wasm-bisect -v bisect` = `wasm-bisect bisect -v`).
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Echo every command run (on stderr).",
                                          callback=_verbose, expose_value=False, is_eager=True)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr (errors, warnings and "
                                        "results stay).", callback=_quiet, expose_value=False, is_eager=True)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", callback=expanded,
                                                help="wasm-bisect.toml, or a pyproject.toml "
                                                "with a tool.wasm-bisect table; default: the nearest one in this "
                                                "directory or its parents.")]
TemplateOpt = Annotated[str | None, typer.Option("--template", "-t", help="Built-in template name or a directory "
                                                 "(default: vec-of-structs).")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", "-p", help="Template parameter NAME=VALUE.")]
BuildFailOpt = Annotated[BuildFailure | None, typer.Option(
    "--build-failure", case_sensitive=False, help="How a failed build counts (default: skip).")]
ProfileOpt = Annotated[Profile | None, typer.Option(
    "--profile", case_sensitive=False, help="wasm-pack profile (default: release).")]
TargetOpt = Annotated[Target | None, typer.Option(
    "--target", case_sensitive=False, help="wasm-pack target (nodejs for the Node check) (default: nodejs).")]
StoreOpt = Annotated[Path | None, typer.Option("--store", callback=expanded,
                                               help="Result store file (default: the tool's own).")]
RefTypesListOpt = Annotated[str | None, typer.Option(
    "--reference-types", parser=_reference_types(single=False), autocompletion=_complete_reference_types(False),
    metavar="[default|on|off|externref|both|all|LIST]",
    help="default, on, off, externref; a comma list, both (default,on) or all (default: default).")]
RefTypesOneOpt = Annotated[str | None, typer.Option(
    "--reference-types", parser=_reference_types(single=True), autocompletion=_complete_reference_types(True),
    metavar="[default|on|off|externref]", help="default, on, off or externref (default: default).")]

CrateOpt = Annotated[Path | None, typer.Option(
    "--crate", metavar="DIR", help="Your own Cargo project (workspace or crate directory) instead of a template: "
    "copied into the tool's home and built there; the directory is never written.")]
PackageOpt = Annotated[str | None, typer.Option(
    "--package", metavar="NAME", help="With --crate: the workspace package to build.")]
FeaturesOpt = Annotated[list[str] | None, typer.Option(
    "--features", "-F", metavar="FEATURES",
    help="With --crate: features of the package, comma- or space-separated (repeatable).")]
NoDefaultFeaturesOpt = Annotated[bool | None, typer.Option(
    "--no-default-features", help="With --crate: do not turn on the package's default features.")]
AllFeaturesOpt = Annotated[bool | None, typer.Option(
    "--all-features", help="With --crate: turn on every feature of the package.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", "--plan", help="Print the plan and an estimate from this machine's recorded timings (what is "
    "cached, what must be provisioned or built, the worst-case probe count); build, fetch and write nothing.")]
RelockOpt = Annotated[bool | None, typer.Option(
    "--relock", help="With --crate: re-resolve the project's dependencies for each cell's rustc (MSRV-aware), the "
    "wasm-bindgen family pinned to the cell's release, instead of building the project's own Cargo.lock.")]
CheckOpt = Annotated[str | None, typer.Option(
    "--check", metavar="CMD", help="The check: a command line (split like a shell does, never run by one) run in "
    "the copy of the --crate directory (its paths are taken from there; for a template, its own directory) with "
    "git bisect's exit codes (0 good, 125 skip, 1-127 bad, >127 error) and "
    "WASM_BISECT_PKG etc., or wasm-pack-test (the project's #[wasm_bindgen_test] tests). Templates default to "
    "their check.mjs.")]
SignatureOpt = Annotated[str | None, typer.Option(
    "--signature", metavar="REGEX", help="Regex of the bug under study: a failure (of the check, or of the build "
    "with --build-failure bad) that does not match it is untestable, not bad.")]
TimeoutOpt = Annotated[float | None, typer.Option(
    "--timeout", min=0.001, max=86400, metavar="SECONDS",
    help="Seconds the check may run (default: the template's, 600 for --crate).")]
TimeoutVerdictOpt = Annotated[TimeoutVerdict | None, typer.Option(
    "--timeout-verdict", case_sensitive=False, help="A check that times out is an error (default) or bad (the bug "
    "is a hang).")]
TestOpt = Annotated[str | None, typer.Option(
    "--test", metavar="NAME", help="With --check wasm-pack-test: run this test target only.")]


RuntimeOneOpt = Annotated[Runtime | None, typer.Option(
    "--runtime", case_sensitive=False, help="Where the check runs: node, or headless chromium or firefox "
    "(default: node, or the template's first runtime).")]
RuntimeListOpt = Annotated[str | None, typer.Option(
    "--runtime", parser=_runtimes, autocompletion=_complete_runtimes, metavar="[node|chromium|firefox|LIST]",
    help="Where the checks run: node, chromium, firefox, or a comma list (an axis of the grid) (default: node).")]
BrowserPathOpt = Annotated[list[str] | None, typer.Option(
    "--browser-path", help="The browser binary to use (default: chromium / firefox-esr on PATH); with several "
    "browser runtimes write RUNTIME=PATH (repeatable).")]
ToolsOpt = Annotated[ToolSource | None, typer.Option(
    "--tools", case_sensitive=False, help="Where a missing wasm-bindgen CLI or wasm-pack comes from: auto (the "
    "published binary, else cargo install), prebuilt (only the published binary) or source (only cargo install) "
    f"(default: auto; ${prebuilt.RELEASES_URL_ENV} replaces https://github.com).")]

# The options of each flag bundle, in the order `--help` lists them; a command parameter annotated with the
# bundle's class (ProjectFlags, CheckOverrides) stands for all of them (see `bundled`).
_BUNDLES: dict[type[Any], dict[str, Any]] = {
    ProjectFlags: {"crate": CrateOpt, "package": PackageOpt, "features": FeaturesOpt,
                   "no_default_features": NoDefaultFeaturesOpt, "all_features": AllFeaturesOpt, "relock": RelockOpt},
    CheckOverrides: {"check": CheckOpt, "signature": SignatureOpt, "timeout": TimeoutOpt,
                 "timeout_verdict": TimeoutVerdictOpt, "test": TestOpt},
}


def project_flags(*, crate: Path | None = None, package: str | None = None, features: list[str] | None = None,
                  no_default_features: bool | None = None, all_features: bool | None = None,
                  relock: bool | None = None) -> ProjectFlags:
    """Crate mode's options as one value (`--features a,b -F "c d"` split like cargo does)."""
    from wasm_bisect.domain.options import split_features

    return ProjectFlags(crate=crate, package=package, features=split_features(features) if features else None,
                        no_default_features=no_default_features, all_features=all_features, relock=relock)


def _check_flags(*, check: str | None = None, signature: str | None = None, timeout: float | None = None,
                 timeout_verdict: TimeoutVerdict | None = None, test: str | None = None) -> CheckOverrides:
    return CheckOverrides(check=check, signature=signature, timeout=timeout, timeout_verdict=timeout_verdict, test=test)


NO_PROJECT_FLAGS = ProjectFlags()  # the placeholder default of a bundle parameter (`bundled` fills it)
NO_CHECK_FLAGS = CheckOverrides()
_MAKERS: dict[type[Any], Callable[..., Any]] = {ProjectFlags: project_flags, CheckOverrides: _check_flags}

F = TypeVar("F", bound=Callable[..., None])


def bundled(command: F) -> F:
    """Typer knows only plain parameters: each parameter of `command` annotated with a flag bundle's class is
    declared as the bundle's options, in its place (so `--help` lists them there), and `command` gets them back
    as one frozen value."""
    signature = inspect.signature(command, eval_str=True)
    bundles = {p.name: p.annotation for p in signature.parameters.values() if p.annotation in _BUNDLES}
    parameters: list[inspect.Parameter] = []
    for p in signature.parameters.values():
        if p.name not in bundles:
            parameters.append(p)
            continue
        parameters += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                         annotation=option) for name, option in _BUNDLES[p.annotation].items()]

    @functools.wraps(command)
    def run(**given: Any) -> None:
        for name, cls in bundles.items():
            given[name] = _MAKERS[cls](**{option: given.pop(option) for option in _BUNDLES[cls]})
        command(**given)

    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return cast(F, run)


VERDICT_STYLE = {"good": "green", "bad": "red", "skip": "yellow", "error": "magenta"}


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def parse_params(items: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {item!r} is not NAME=VALUE")
        params[key.strip()] = value
    return params


def flag(value: StrEnum | None) -> str | None:
    """An enum option's plain value (None when not given, so the config and the defaults decide)."""
    return None if value is None else str(value.value)


def ensure_writable(dest: str | Path, what: str) -> Path:
    """Refuse an output path that cannot be written, before any work is done (see util.fs.check_writable);
    returns the path to write, `~` expanded."""
    return fs.check_writable(dest, what)


def not_the_store(outputs: list[tuple[str, Path]], store: Path | None) -> None:
    """An output never lands on the store the same command reads or writes, nor on its -wal/-shm/-journal
    files, nor in the tool's home (a report over the user's store would lose it): refused before any work."""
    for what, dest in outputs:
        fs.refuse_own_state(dest, what, [store if store is not None else paths.store_path()])


def write_output(text: str, dest: Path | None, what: str = "output") -> None:
    """Write a report to `dest` (stdout when None), atomically and only onto a regular file (or a new one); an
    unwritable path is one line, exit 2."""
    if dest is None:
        sys.stdout.write(log.terminal_text(text))
        return
    try:
        fs.atomic_write_text(dest, text, what=what)
    except OSError as exc:
        raise UsageError(f"cannot write {what} {dest}: {exc.strerror}") from None
    log.info(f"wrote {escape(str(dest))}")


def command_line() -> str:
    """How this run was typed, for the store's run records (quoted: `--check "node check.mjs"` stays one word)."""
    return shlex.join(["wasm-bisect", *sys.argv[1:]])


def probe_printer() -> Any:
    """One line per answered cell: `probe N: cell VERDICT (time or from store) reason`."""
    counter = [0]

    def on_probe(variant: Variant, outcome: Outcome, cached: bool) -> None:
        counter[0] += 1
        style = VERDICT_STYLE[str(outcome.verdict)]
        took = sum(v for k, v in outcome.timings.items() if k != "provision")
        how = ("from store" if cached else f"{took:.1f} s") + (", by a person" if outcome.by == "person" else "")
        log.info(f"probe {counter[0]}: {escape(variant.short())} [{style}]{outcome.verdict.upper()}[/{style}] "
                 f"({how}) {escape(outcome.reason[:140])}")

    return on_probe


def events(*, probes: bool = True, stages: bool = False) -> Events:
    """The CLI's listener: run news and provisioning on stderr, one line per probe, stages when asked."""
    return Events(
        info=lambda message: log.info(escape(message)),
        progress=log.plain,
        on_probe=probe_printer() if probes else None,
        on_stage=(lambda v, s: log.info(f"  {escape(v.short())}: {s}")) if stages else None,
        section=log.group,
    )


def print_outcome(variant: Variant, outcome: Outcome) -> None:
    colour = {Verdict.GOOD: "green", Verdict.BAD: "red", Verdict.SKIP: "yellow", Verdict.ERROR: "magenta"}
    c = colour[outcome.verdict]
    out = log.out()
    out.print(f"[bold {c}]{outcome.verdict.upper()}[/bold {c}] {escape(variant.short())}  ({escape(variant.template)})")
    out.print(f"  reason: {outcome.reason}", markup=False)
    if outcome.stage:
        out.print(f"  stage: {outcome.stage}" + (f", exit code {outcome.exit_code}" if outcome.exit_code is not None
                                                  else ""), markup=False)
    ev = outcome.evidence
    for layer in ev.get("layers", []):
        out.print(f"  layer: {layer}", markup=False)
    if ev.get("rustflags_from"):
        flags = ev["rustflags_from"]
        out.print("  rustflags: " + " ".join(str(f.get("flag")) for f in flags), markup=False)
        for origin in dict.fromkeys(str(f.get("from")) for f in flags):
            out.print(f"    from {origin}: " + " ".join(str(f.get("flag")) for f in flags if f.get("from") == origin),
                      markup=False)
    if ev.get("check"):
        out.print(f"  check: {ev['check']}", markup=False)
    if "target_features" in ev:
        out.print(f"  target_features: {' '.join(ev['target_features']) or '(none)'}", markup=False)
    if "externref_transform" in ev:
        out.print(f"  externref transform in glue: {'yes' if ev['externref_transform'] else 'no'}", markup=False)
    if ev.get("wasm_bindgen_cli_host"):  # an old CLI may come from an older host toolchain than the default
        how = ev["wasm_bindgen_cli_host"]
        how = how if ev.get("wasm_bindgen_cli_origin") == "prebuilt" else f"built with {how}"
        out.print(f"  wasm-bindgen CLI: {ev.get('wasm_bindgen_cli')}, {how}", markup=False)
    runtime = ev.get("runtime")
    if isinstance(runtime, dict) and runtime.get("name"):
        seen = ", ".join(str(runtime[k]) for k in ("browser", "driver", "version") if runtime.get(k))
        out.print(f"  runtime: {runtime['name']}" + (f" ({seen})" if seen else ""), markup=False)
    if ev.get("failure_text"):
        out.print(f"  failure text: {ev['failure_text']}", markup=False)
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


def print_dry_run(plan: Any, *, as_json: bool) -> None:
    """A `--dry-run` result (runs.estimate.DryRun): the JSON document, or its lines, on stdout."""
    if as_json:
        emit_json(plan.to_json())
    else:
        for line in plan.lines():
            log.out().print(escape(line), highlight=False, soft_wrap=True)


def store_for_reading(path: Path | None) -> Any:
    """The store a dry run reads timings and answers from, read-only; None when it does not exist yet."""
    from wasm_bisect.store import Store

    where = path if path is not None else paths.store_path()
    if not where.is_file():
        return None
    return Store(where, notice=log.warn, read_only=True)

