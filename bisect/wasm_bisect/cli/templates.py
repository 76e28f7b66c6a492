"""`wasm-bisect templates list|show|init`: the reproducers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wasm_bisect.cli._common import JsonOpt, QuietOpt, VerboseOpt, emit_json
from wasm_bisect.probe import templates
from wasm_bisect.util import log

group = typer.Typer(help="List, show and copy reproducer templates.", no_args_is_help=True)



@group.callback()
def group_options(verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """-v and -q are accepted at this level too."""

def register(app: typer.Typer) -> None:
    app.add_typer(group, name="templates")


@group.command("list")
def templates_list(as_json: JsonOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """Built-in templates."""
    items = [templates.load(name) for name in templates.builtin_names()]
    if as_json:
        emit_json([{"name": t.name, "description": t.description, "issue": t.issue} for t in items])
        return
    for t in items:
        sys.stdout.write(f"{t.name:18} {t.description}\n")


@group.command("show")
def templates_show(name: Annotated[str, typer.Argument(help="template name or directory")],
                   as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """A template's manifest, parameters and files."""
    t = templates.load(name)
    data = {"name": t.name, "description": t.description, "issue": t.issue, "root": str(t.root),
            "check": {"script": t.check_script, "timeout": t.timeout, "failure_signature": t.failure_signature},
            "params": {p.name: {"default": p.default, "description": p.description} for p in t.params.values()},
            "expect": t.expect, "files": sorted(t.files), "content_hash": t.content_hash, "check_hash": t.check_hash}
    if as_json:
        emit_json(data)
        return
    sys.stdout.write(f"{t.name}: {t.description}\n")
    if t.issue:
        sys.stdout.write(f"issue: {t.issue}\n")
    sys.stdout.write(f"check: {t.check_script} (timeout {t.timeout:.0f} s"
                     + (f", failure signature /{t.failure_signature}/" if t.failure_signature else "") + ")\n")
    for p in t.params.values():
        sys.stdout.write(f"param {p.name} = {p.default!r}  {p.description}\n")
    sys.stdout.write("files: " + ", ".join(sorted(t.files)) + "\n")


@group.command("init")
def templates_init(
    name: Annotated[str, typer.Argument(help="template to copy")],
    dest: Annotated[Path, typer.Argument(help="new directory to create")],
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Copy a template into DEST for you to edit; then pass `--template DEST`."""
    out = templates.init(name, dest)
    log.info(escape(f"copied template {name} to {out}; edit it (how: docs/templates.md), then run "
                    f"`wasm-bisect probe --template {out} ...`"))
