"""`wasm-bisect tools install|list` and `wasm-bisect versions`: the cached CLIs and the release list."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wasm_bisect.bindgen import index, toolcache
from wasm_bisect.bindgen.prebuilt import ToolSource
from wasm_bisect.cli._common import JsonOpt, QuietOpt, ToolsOpt, VerboseOpt, emit_json
from wasm_bisect.domain import compat
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.probe import hosttools
from wasm_bisect.util import log

group = typer.Typer(help="Build and list cached wasm-bindgen CLIs, wasm-pack and geckodriver.", no_args_is_help=True)



@group.callback()
def group_options(verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """-v and -q are accepted at this level too."""

def register(app: typer.Typer) -> None:
    app.add_typer(group, name="tools")
    app.command("versions")(versions_cmd)


@group.command("install")
def tools_install(
    bindgen: Annotated[list[str] | None, typer.Option("--bindgen", help="wasm-bindgen CLI version (repeatable).")]
    = None,
    wasm_pack: Annotated[bool, typer.Option("--wasm-pack", help="Also build the pinned wasm-pack.")] = False,
    geckodriver: Annotated[bool, typer.Option("--geckodriver", help="Also build the pinned geckodriver (Firefox's "
                                              "WebDriver, for --runtime firefox).")] = False,
    test_runner: Annotated[bool, typer.Option("--test-runner", help="Also build each --bindgen version's "
                                              "wasm-bindgen-test-runner (for --check wasm-pack-test).")] = False,
    tools: ToolsOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Install exact wasm-bindgen CLI versions (and wasm-pack, geckodriver) once, into the tool cache: the
    published binary when it passes its checks, else built from source (see --tools)."""
    if not bindgen and not wasm_pack and not geckodriver:
        raise UsageError("nothing to install", hint="give --bindgen X.Y.Z, --wasm-pack and/or --geckodriver")
    # Every version is checked (syntax, then the release list) before the first build starts.
    versions = [toolcache.exact_version(v, "wasm-bindgen") for v in bindgen or []]
    toolcache.set_tool_source(tools or ToolSource.AUTO)
    index.check_published([(v, "--bindgen") for v in versions], notice=log.warn)
    # A CLI the default host rustc refuses is built by an older toolchain, provisioned for it (probe/hosttools).
    done = [hosttools.bindgen_cli(version, progress=log.plain) for version in versions]
    if test_runner:
        done += [hosttools.bindgen_test_runner(version, progress=log.plain) for version in versions]
    if wasm_pack:
        done.append(toolcache.wasm_pack(progress=log.plain))
    if geckodriver:
        done.append(toolcache.geckodriver(progress=log.plain))
    if as_json:
        emit_json([t.to_json() for t in done])
    else:
        for tool in done:
            how = tool.built_with if tool.origin == "prebuilt" else f"built with {tool.built_with}"
            log.info(f"[green]ready[/green] {tool.name} {tool.version}: {tool.binary} ({how})")


@group.command("list")
def tools_list(as_json: JsonOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """Cached tools, with the host toolchain that built each."""
    found = toolcache.installed()
    if as_json:
        emit_json([t.to_json() for t in found])
        return
    for tool in found:
        sys.stdout.write(f"{tool.name}\t{tool.ident}\t{tool.binary}\t{tool.built_with}\n")


def versions_cmd(
    refresh: Annotated[bool, typer.Option("--refresh", help="Fetch the crates.io index now.")] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """wasm-bindgen releases, oldest first, yanked ones marked (crates.io index, else the bundled list)."""
    releases = index.releases(refresh=refresh, notice=log.warn)
    if as_json:
        emit_json([r.__dict__ for r in releases])
        return
    for r in releases:
        marks = [m for m, on in (("yanked", r.yanked), ("cli yanked", r.cli_yanked)) if on]
        msrv = compat.lib_rust_version(r.version)
        sys.stdout.write(f"{r.version:9} rust-version {msrv or '-':5} {' '.join(marks)}".rstrip() + "\n")
