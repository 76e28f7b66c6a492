"""`wasm-bisect cache info|prune`: disk use of the tool's home."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from wasm_bisect.cli._common import JsonOpt, QuietOpt, VerboseOpt, emit_json, ensure_writable, expanded
from wasm_bisect.runs import prune, transfer
from wasm_bisect.util import log, paths

group = typer.Typer(help="Disk use of the tool's home; prune what can be made again.", no_args_is_help=True)



@group.callback()
def group_options(verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """-v and -q are accepted at this level too."""

def register(app: typer.Typer) -> None:
    app.add_typer(group, name="cache")


@group.command("info")
def cache_info(as_json: JsonOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """Size of each part of the tool's home, largest first."""
    parts = prune.usage()
    if as_json:
        emit_json({"home": str(paths.home()), "parts": [u.to_json() for u in parts]})
        return
    sys.stdout.write(f"home: {paths.home()}\n")
    for u in parts:
        sys.stdout.write(f"{u.name:11} {prune.human(u.bytes):>10}  {u.entries:5} entries  {u.what}\n")


@group.command("prune")
def cache_prune(
    work: Annotated[bool, typer.Option("--work", help="Rendered variant crates and their logs.")] = False,
    targets: Annotated[bool, typer.Option("--targets", help="Cargo target dirs (dependencies are rebuilt "
                                          "on the next probe of each toolchain).")] = False,
    toolchains: Annotated[bool, typer.Option("--toolchains", help="rustup toolchains installed on demand "
                                             "(downloaded again when a probe needs one).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Remove rendered crates and cargo target dirs (both unless one is named), and with --toolchains the
    rustup toolchains. Verdicts stay in the store; tools and debian toolchains are kept; whatever a running
    probe or build holds is left alone."""
    kinds = tuple(k for k, on in (("work", work), ("targets", targets), ("toolchains", toolchains)) if on
                  ) or prune.PRUNABLE
    result = prune.prune(kinds, dry_run=dry_run)
    if as_json:
        emit_json({"directories": [str(p) for p in result.removed], "busy": [str(p) for p in result.busy],
                   "bytes": result.freed, "dry_run": dry_run})
        return
    verb = "would free" if dry_run else "freed"
    log.info(f"{', '.join(kinds)}: {len(result.removed)} directories, {verb} {prune.human(result.freed)}"
             + (f"; {len(result.busy)} in use by a running probe, kept" if result.busy else ""))


@group.command("export")
def cache_export(
    archive: Annotated[str, typer.Argument(metavar="ARCHIVE", help="The archive to write (.tar.gz), replaced "
                                           "atomically.")],
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write the provisioned debian and rustup toolchains and the built tools to one archive (CI caches, teams)."""
    path = ensure_writable(archive, "the archive")
    done = transfer.export(path, progress=log.plain)
    if as_json:
        emit_json(done.to_json())
        return
    log.out().print(f"exported {len(done.entries)} entries to {path} ({prune.human(path.stat().st_size)})",
                    markup=False)


@group.command("import")
def cache_import(
    archive: Annotated[Path, typer.Argument(metavar="ARCHIVE", callback=expanded,
                                             help="An archive made by `wasm-bisect cache export`.")],
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Add an exported archive's toolchains and tools to this home: each verified (content hash, runs here)
    before it is put in place; refused when it was made on another machine kind; present entries are kept."""
    done = transfer.import_(archive, progress=log.plain)
    if as_json:
        emit_json(done.to_json())
        return
    log.out().print(f"imported {len(done.added)} entries from {archive}"
                    + (f"; kept {len(done.kept)} already here" if done.kept else ""), markup=False)
