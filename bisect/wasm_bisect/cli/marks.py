"""`wasm-bisect mark` and `replay`: a person's verdicts recorded without a terminal session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wasm_bisect.cli._common import QuietOpt, StoreOpt, VerboseOpt
from wasm_bisect.cli.report import open_store
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.runs import marks
from wasm_bisect.util import log


def register(app: typer.Typer) -> None:
    app.command("mark")(mark_cmd)
    app.command("replay")(replay_cmd)


def mark_cmd(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id (a unique prefix).")],
    verdict: Annotated[str, typer.Argument(metavar="VERDICT", help="good, bad or skip (or the run's terms).")],
    cell: Annotated[str, typer.Argument(metavar="RUSTC@BINDGEN[:SETTING]", help="The cell, e.g. "
                                        "debian:1.96.0@0.2.95:default (the setting when the run searched several).")],
    store_path: StoreOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Record or correct a person's verdict for one cell of a run (by: person); re-run the command to use it."""
    store = open_store(store_path)
    info = store.run(run)
    terms = marks.terms_of(info)
    done = marks.mark(store, info, marks.verdict_word(verdict, terms, "VERDICT"), marks.parse_cell(cell))
    was = terms.word(done.was) if done.was is not None else "not probed"
    log.info(escape(f"run {info.run_id}: {done.cell} marked {terms.word(done.now)} by a person (was {was}); re-run "
                    "the same command to search from it"))


def replay_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A `wasm-bisect log RUN` output, verdicts edited.")],
    store_path: StoreOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Apply the verdicts of an edited log (by: person) and run its command again: stored cells are not built."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    store = open_store(store_path)
    replay = marks.parse_log(text, store=store)
    info = store.run(replay.run_id)
    if info.kind != "bisect":
        raise UsageError(f"run {info.run_id} is a {info.kind} run", hint="replay takes the log of a bisect run")
    terms = marks.terms_of(info)
    changed = marks.apply(store, replay)
    for done in changed:
        was = terms.word(done.was) if done.was is not None else "not probed"
        log.info(escape(f"{done.cell}: {was} -> {terms.word(done.now)} (by a person)"))
    log.info(escape(f"replay of run {info.run_id}: {len(changed)} verdict(s) changed; running: {replay.command}"))
    store.close()
    root = ctx.find_root().command  # the whole CLI: the command runs as if typed
    argv, sys.argv = sys.argv, ["wasm-bisect", *replay.argv()]  # the new run records the replayed command
    try:
        rc = root.main(args=replay.argv(), standalone_mode=False, prog_name="wasm-bisect")
    finally:
        sys.argv = argv
    if isinstance(rc, int) and rc:
        raise typer.Exit(rc)
