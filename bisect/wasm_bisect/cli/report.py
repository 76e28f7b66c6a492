"""`wasm-bisect report`, `log` and `runs`: what the store holds, read back."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from wasm_bisect import config, report
from wasm_bisect import store as store_mod
from wasm_bisect.cli._common import (
    ConfigOpt,
    JsonOpt,
    QuietOpt,
    ReportFormat,
    StoreOpt,
    VerboseOpt,
    emit_json,
    ensure_writable,
    not_the_store,
    write_output,
)
from wasm_bisect.domain.errors import StoreError, UsageError
from wasm_bisect.runs import marks
from wasm_bisect.store import Store
from wasm_bisect.util import log

FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", case_sensitive=False, help="Report format.")]


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
    app.command("log")(log_cmd)
    app.command("runs")(runs_cmd)


def _not_a_directory(path: Path | None, what: str) -> None:
    if path is not None and path.is_dir():
        raise UsageError(f"{what} {path} is a directory", hint="give the store file, e.g. store.sqlite3")


def check_store(path: Path | None, what: str = "--store") -> None:
    """Validation before any work: the store the command will write is usable (see store.check_usable)."""
    _not_a_directory(path, what)
    store_mod.check_usable(path)


def open_store(path: Path | None, what: str = "--store") -> Store:
    """A store to write runs into: the tool's own (created; set aside only once proven a damaged store of this
    tool) or one the user names (created when absent, used as it is, or refused; never repaired)."""
    _not_a_directory(path, what)
    return Store(path, notice=log.warn)


def existing_store(path: Path | None, what: str = "--store") -> Store:
    """A store to read (report, log, runs), opened read-only: nothing is created, converted or repaired."""
    _not_a_directory(path, what)
    if path is not None and not path.exists():
        raise UsageError(f"{what} {path} does not exist")
    return Store(path, notice=log.warn, read_only=True)


def parse_report_spec(spec: str) -> tuple[str, Path]:
    """`--report FORMAT:PATH`, the path checked like every output path (a regular file or nothing)."""
    fmt, sep, dest = spec.partition(":")
    if not sep or fmt not in report.FORMATS or not dest:
        raise UsageError(f"--report {spec!r} is not FORMAT:PATH", hint=f"FORMAT is one of {', '.join(report.FORMATS)}")
    return fmt, ensure_writable(dest, "--report")


def report_cmd(
    run: Annotated[str | None, typer.Argument(metavar="RUN", help="Run id (a unique prefix); default: the "
                                              "newest run.")] = None,
    fmt: FormatOpt = ReportFormat.MD,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")]
    = None,
    store_path: StoreOpt = None,
    config_path: ConfigOpt = None,
    no_env: Annotated[bool, typer.Option("--no-env", help="Skip collecting the environment (rustc -vV, node "
                                         "and browser versions).")]
    = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """A report of a matrix or bisect run from the store: md, json, junit, svg or html."""
    dest = ensure_writable(output, "--output") if output is not None else None
    chosen = config.resolve("report", config.Flags(store=store_path), config_path=config_path)
    fmt_text = "json" if as_json else str(fmt.value)
    not_the_store([("--output", dest)] if dest is not None else [], chosen.store)
    doc = report.load(existing_store(chosen.store), run, environment=not no_env)
    write_output(report.render(doc, fmt_text), dest, "--output")


def log_cmd(
    run: Annotated[str | None, typer.Argument(metavar="RUN", help="Run id (a prefix works); default: the "
                                              "newest run.")] = None,
    store_path: StoreOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The probes of a run, like `git bisect log`."""
    store = existing_store(store_path)
    info = store.run(run)
    probes = store.run_probes(info.run_id)
    if as_json:
        emit_json({"run": info.__dict__, "probes": [
            {"seq": p.seq, "cached": p.cached, "variant": p.variant, "outcome": p.outcome.to_json()} for p in probes]})
        return
    try:
        terms = marks.terms_of(info)
        lines = [f"# run {info.run_id} ({info.kind}): {info.command}"]
        if info.config.get("terms") or info.config.get("judge") == "person":
            lines.append(f"# terms: {terms.old} / {terms.new}"
                         + ("; judged by a person (--prompt)" if info.config.get("judge") == "person" else ""))
        for p in probes:
            v = p.variant
            cell = f"{v['rustc']} wasm-bindgen {v['bindgen']['version']} reference-types {v['reference_types']}"
            note = " (from store)" if p.cached else ""
            word = terms.word(p.outcome.verdict)
            by = " by a person" if p.outcome.by == "person" else ""
            lines.append(f"# {word}{by}: [{cell}] {p.outcome.reason}{note}")
            lines.append(f"{word} {v['rustc']}@{v['bindgen']['version']}:{v['reference_types']}")
        if info.result:
            for s in info.result.get("searches", []):
                lines.append(f"# result ({s['reference_types']}): {s['message']}")
        elif info.kind == "bisect":
            lines.append("# unfinished: re-run the same command to resume")
        if info.kind == "bisect":
            lines.append("# to change a verdict: edit its word, then `wasm-bisect replay FILE`")
    except (KeyError, TypeError, AttributeError) as exc:  # the store is input: a hand-edited row is one line
        raise StoreError(f"run {info.run_id} in {store.path} cannot be read: {type(exc).__name__}",
                         hint="it is damaged or was written by another version of wasm-bisect") from None
    sys.stdout.write("\n".join(log.printable(line) for line in lines) + "\n")


def runs_cmd(
    store_path: StoreOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 50,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Recent runs in the store (ids for `wasm-bisect report` and `log`)."""
    own_absent = store_path is None and not Store.default_path().exists()
    items = [] if own_absent else existing_store(store_path).runs(limit=limit)
    if as_json:
        emit_json([r.__dict__ for r in items])
        return
    for r in items:
        when = dt.datetime.fromtimestamp(r.created, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
        state = "done" if r.result is not None else "unfinished"
        sys.stdout.write(log.printable(f"{r.run_id}  {when}  {r.kind:7} {state:10} {r.command}") + "\n")
