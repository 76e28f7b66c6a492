"""`wasm-bisect report`, `log` and `runs`: what the store holds, read back."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from wasm_bisect import config, report
from wasm_bisect.cli._common import (
    ConfigOpt,
    JsonOpt,
    QuietOpt,
    ReportFormat,
    StoreOpt,
    VerboseOpt,
    emit_json,
    ensure_writable,
    write_output,
)
from wasm_bisect.domain.errors import StoreError, UsageError
from wasm_bisect.store import Store
from wasm_bisect.util import log

FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", case_sensitive=False, help="Report format.")]


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
    app.command("log")(log_cmd)
    app.command("runs")(runs_cmd)


def open_store(path: Path | None) -> Store:
    if path is not None and path.is_dir():
        raise UsageError(f"--store {path} is a directory", hint="give the store file, e.g. store.sqlite3")
    return Store(path, notice=log.warn)


def existing_store(path: Path | None) -> Store:
    """A store that must already exist (read-only commands never create an empty one)."""
    target = path if path is not None else Store.default_path()
    if path is not None and not path.exists():
        raise UsageError(f"--store {path} does not exist")
    if not target.is_file():
        raise StoreError(f"no runs yet in {target}", hint="start one with `wasm-bisect bisect`")
    return open_store(path)


def parse_report_spec(spec: str) -> tuple[str, Path]:
    fmt, sep, dest = spec.partition(":")
    if not sep or fmt not in report.FORMATS or not dest:
        raise UsageError(f"--report {spec!r} is not FORMAT:PATH", hint=f"FORMAT is one of {', '.join(report.FORMATS)}")
    return fmt, Path(dest)


def report_cmd(
    run: Annotated[str | None, typer.Argument(help="Run id (a unique prefix); default: the newest run.")] = None,
    fmt: FormatOpt = ReportFormat.MD,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")]
    = None,
    store_path: StoreOpt = None,
    config_path: ConfigOpt = None,
    no_env: Annotated[bool, typer.Option("--no-env", help="Skip collecting the environment (rustc -vV, ...).")]
    = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """A report of a matrix or bisect run from the store: md, json, junit, svg or html."""
    chosen = config.resolve("report", config_path=config_path, store=store_path)
    fmt_text = "json" if as_json else str(fmt.value)
    if chosen.store is not None and not chosen.store.exists():
        raise UsageError(f"--store {chosen.store} does not exist")
    if output is not None:
        ensure_writable(output, "--output")
    doc = report.load(open_store(chosen.store), run, environment=not no_env)
    write_output(report.render(doc, fmt_text), output)


def log_cmd(
    run: Annotated[str | None, typer.Argument(help="Run id (a prefix works); default: the newest run.")] = None,
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


def runs_cmd(
    store_path: StoreOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 50,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Recent runs in the store (ids for `wasm-bisect report` and `log`)."""
    store = open_store(store_path)
    items = store.runs(limit=limit)
    if as_json:
        emit_json([r.__dict__ for r in items])
        return
    for r in items:
        when = dt.datetime.fromtimestamp(r.created, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
        state = "done" if r.result is not None else "unfinished"
        sys.stdout.write(f"{r.run_id}  {when}  {r.kind:7} {state:10} {r.command}\n")
