"""`wasm-bisect toolchain list|available|add`: rustc toolchains that can build wasm32."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from wasm_bisect import toolchains
from wasm_bisect.cli._common import JsonOpt, QuietOpt, VerboseOpt, emit_json
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.util import log

group = typer.Typer(help="Provision and list rustc toolchains that can build wasm32.", no_args_is_help=True)



@group.callback()
def group_options(verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """-v and -q are accepted at this level too."""

def register(app: typer.Typer) -> None:
    app.add_typer(group, name="toolchain")


@group.command("list")
def toolchain_list(as_json: JsonOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """What is provisioned: versions, wasm32 std, reference-types-off (mvp) std."""
    found = toolchains.installed()
    if as_json:
        emit_json([t.to_json() for t in found])
        return
    if not found:
        log.info("no toolchains provisioned yet; try `wasm-bisect toolchain add debian:1.96.0`")
        return
    table = Table("toolchain", "rustc", "cargo", "wasm32 std", "ref-types-off std", "sysroot")
    for t in found:
        table.add_row(str(t.spec), t.version, t.cargo_version, "yes" if t.wasm32_std else "no",
                      "yes" if t.mvp_sysroot else "no", str(t.sysroot))
    log.out().print(table)


@group.command("available")
def toolchain_available(
    provider: Annotated[str, typer.Argument(metavar="PROVIDER", help="debian, rustup or path")] = "debian",
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Versions a provider can give on this machine (discovered, not hard-coded). debian: every release in
    Debian's archive (read through a private apt configuration), what runs here and why the rest cannot."""
    chosen = toolchains.provider(provider)
    if isinstance(chosen, toolchains.DebianProvider):
        rows = chosen.availability()
        if as_json:
            emit_json([r.to_json() for r in rows])
            return
        for r in rows:
            std = "prebuilt wasm32 std" if r.prebuilt_wasm32 else "wasm32 std built from source"
            state = f"runs here, {std}" if r.why_not is None else f"cannot run here: {r.why_not}"
            package = f"{r.release.flavour.rustc} {r.release.debian_version}"
            sys.stdout.write(f"{r.release.upstream:8} {r.release.suite or '?':18} {package:38} {state}\n")
        return
    versions = chosen.available()
    if as_json:
        emit_json(versions)
    else:
        sys.stdout.write("\n".join(versions) + ("\n" if versions else ""))


@group.command("add")
def toolchain_add(
    spec: Annotated[str, typer.Argument(metavar="SPEC", help="debian:1.96.0 | rustup:1.82.0 | path:/some/prefix")],
    with_mvp_std: Annotated[bool, typer.Option(
        "--with-mvp-std", help="Also build the reference-types-off (mvp) std now (rustc >= 1.82); otherwise "
        "the first probe with --reference-types off builds it.")] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Provision a toolchain (download, unpack, build its wasm32 std as needed) and verify it."""
    toolchain = toolchains.resolve(ToolchainSpec.parse(spec), provision=True, progress=log.plain,
                                   mvp_std=with_mvp_std)
    if as_json:
        emit_json(toolchain.to_json())
    else:
        log.info(f"[green]ready[/green] {toolchain.spec}: rustc {toolchain.version}, wasm32 std "
                 f"{'yes' if toolchain.wasm32_std else 'no'}, reference-types-off std "
                 f"{'yes' if toolchain.mvp_sysroot else 'no'} ({toolchain.sysroot})")
