"""How a finding is redone and read upstream: the reproduce commands and the compare links. Pure.

Every report, the bisect summary and the CLI take these from here, so a pasted command is the same
everywhere and always shell-safe (values are free text: a pasted command must not run parts of them).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Variant
from wasm_bisect.domain.versions import MAX_NIGHTLY_DAYS, is_exact_version, parse_rustc, stable_release_date

BINDGEN_COMPARE = "https://github.com/wasm-bindgen/wasm-bindgen/compare/{a}...{b}"
RUST_COMPARE = "https://github.com/rust-lang/rust/compare/{a}...{b}"


def probe_command(variant: Variant, *, template: str | None = None, reproducer: Sequence[str] | None = None) -> str:
    """`wasm-bisect probe ...` for one cell. `reproducer` names the reproducer as a command would (`--template DIR`,
    `--crate DIR --package P --check CMD ...`); else `--template` with `template` (default: the variant's name)."""
    return shlex.join(_probe_parts(variant, template=template, reproducer=reproducer, rustc=str(variant.rustc)))


def _probe_parts(variant: Variant, *, template: str | None, reproducer: Sequence[str] | None, rustc: str) -> list[str]:
    named = list(reproducer) if reproducer else ["--template", template or variant.template]
    parts = ["wasm-bisect", "probe", *named, "--rustc", rustc,
             "--bindgen", variant.bindgen.label(), "--reference-types", str(variant.reference_types)]
    for name, value in variant.params:
        parts += ["--param", f"{name}={value}"]
    if variant.runtime.is_browser:
        parts += ["--runtime", str(variant.runtime)]
    options = variant.options
    if options.build_failure != "skip":
        parts += ["--build-failure", options.build_failure]
    if options.profile != "release":
        parts += ["--profile", options.profile]
    return parts


_SYSROOT = "__WASM_BISECT_SYSROOT__"


def bisect_rustc_script(variant: Variant, *, reproducer: Sequence[str] | None = None) -> str:
    """The `--script` cargo-bisect-rustc runs for each toolchain it tries: this cell probed with that toolchain.

    cargo-bisect-rustc sets RUSTUP_TOOLCHAIN to the toolchain under test (installed with `--target
    wasm32-unknown-unknown`), so `rustc --print sysroot` names a prefix with bin/rustc and bin/cargo: a `path:`
    rustc. The probe's verdict becomes the exit code (`probe --exit-code`): 0 good (cargo-bisect-rustc's
    baseline), 1 bad (regressed), 125 untestable, which cargo-bisect-rustc counts as regressed like any non-zero
    code: the script says so on stderr, and `--prompt` lets a person judge such a toolchain. Pure."""
    probe = shlex.join([*_probe_parts(variant, template=None, reproducer=reproducer, rustc=_SYSROOT), "--fresh",
                        "--exit-code"]).replace(_SYSROOT, '"path:$sysroot"')
    return f"""#!/bin/sh
# Written by wasm-bisect for cargo-bisect-rustc: probes rustc {variant.rustc} + wasm-bindgen {variant.bindgen.label()}
# (reference-types {variant.reference_types}) again with the toolchain under test.
sysroot=$(rustc --print sysroot) || {{ echo "no rustc for RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN" >&2; exit 125; }}
{probe}
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
    echo "wasm-bisect: this toolchain could not be tested (exit $code); cargo-bisect-rustc counts it as regressed" >&2
fi
exit "$code"
"""


def matrix_command(grid: Mapping[str, Any], *, template: str | None = None,
                   reproducer: Sequence[str] | None = None) -> str:
    """`wasm-bisect matrix ...` over a grid identity (`Grid.identity()` or a report's grid)."""
    named = list(reproducer) if reproducer else ["--template", template or str(grid["template"])]
    parts = ["wasm-bisect", "matrix", *named,
             "--rustc", ",".join(grid["rustc"]), "--bindgen", ",".join(grid["bindgen"]),
             "--reference-types", ",".join(grid["reference_types"])]
    if grid.get("runtimes") and list(grid["runtimes"]) != ["node"]:
        parts += ["--runtime", ",".join(grid["runtimes"])]
    for name, value in grid.get("params", []):
        parts += ["--param", f"{name}={value}"]
    return shlex.join(parts)


def _version_of(rustc: str) -> str:
    return rustc.rpartition(":")[2]


def compare_links(last_good_bindgen: str | None, bindgen: str, last_good_rustc: str | None, rustc: str
                  ) -> list[str]:
    """Upstream compare views between the last good and the first bad version of each axis (releases only)."""
    links = []
    if last_good_bindgen and is_exact_version(last_good_bindgen) and is_exact_version(bindgen):
        links.append(BINDGEN_COMPARE.format(a=last_good_bindgen, b=bindgen))
    old, new = _version_of(last_good_rustc or ""), _version_of(rustc)
    if last_good_rustc and is_exact_version(old) and is_exact_version(new):
        links.append(RUST_COMPARE.format(a=old, b=new))
    return links


_NIGHTLY_LAG = dt.timedelta(days=8)  # the last nightly of 1.N is dated about 8 days before 1.(N-1)'s release


def last_nightly_of(minor: int) -> dt.date:
    """The date of the last nightly that was 1.<minor>-nightly (master moves on when beta branches)."""
    return stable_release_date(minor - 1) - _NIGHTLY_LAG


def rustc_next_step(older: str | None, newer: str, *, script: str = "./bisect-rustc.sh") -> str | None:
    """How to narrow a rustc boundary the grid could not resolve further, or None.

    Between stable releases of adjacent minors: the nightlies that became the newer one (`wasm-bisect` itself,
    over `rustup:nightly-A..nightly-B`); further apart: the stable releases in between first. Between two
    adjacent nightlies: the merged PRs of that day, which cargo-bisect-rustc installs from rustc's CI artifacts
    (a range of commits, not releases: outside what rustup serves).
    """
    if older is None:
        return None
    try:
        old, new = parse_rustc(older), parse_rustc(newer)
    except UsageError:  # a path: toolchain has no place on a timeline
        return None
    if old.date is not None and new.date is not None and old.channel == new.channel == "nightly":
        if (new.date - old.date).days != 1:
            return None  # not adjacent: the nightly axis itself can be refined first
        return (f"cargo bisect-rustc --start {old.date:%Y-%m-%d} --end {new.date:%Y-%m-%d} "
                f"--target wasm32-unknown-unknown --script {shlex.quote(script)} (the merged PRs of that day, from "
                "rustc's CI builds; the script probes this cell with each toolchain it tries)")
    old_v, new_v = _version_of(older), _version_of(newer)
    if not (is_exact_version(old_v) and is_exact_version(new_v)):
        return None
    (old_major, old_minor), (new_major, new_minor) = (tuple(map(int, v.split(".")[:2])) for v in (old_v, new_v))
    if old_major != new_major or new_minor <= old_minor:
        return None  # a patch release: its changes are backports, not nightlies
    if new_minor - old_minor > 1:
        return f"--rustc rustup:{old_v}..{new_v} (the stable releases in between, then their nightlies)"
    start, end = last_nightly_of(old_minor), last_nightly_of(new_minor)
    if (end - start).days >= MAX_NIGHTLY_DAYS:
        return None
    return f"--rustc rustup:nightly-{start:%Y-%m-%d}..nightly-{end:%Y-%m-%d} (the nightlies that became {new_v})"


def shell_join(argv: Sequence[str]) -> str:
    return shlex.join(argv)


_EOF_MARK = "WASM_BISECT_EOF"


def _heredoc(path: str, text: str) -> list[str]:
    mark = _EOF_MARK
    while mark in text:  # a file that contains the marker gets a longer one
        mark += "_"
    folder = path.rpartition("/")[0]
    return ([f"mkdir -p {shlex.quote(folder)}"] if folder else []) + [
        f"cat > {shlex.quote(path)} <<'{mark}'", text.rstrip("\n"), mark]


def by_hand_script(
    *,
    rustc: str,
    bindgen: str,
    wasm_pack: str | None,
    reference_types: str,
    verdict: str,
    files: Mapping[str, str],
    rustflags: Sequence[str],
    params: Mapping[str, str],
    check_script: str,
    pkg_module: str,
    profile: str = "release",
    runner: str | None = None,
) -> str:
    """A shell script that rebuilds and re-checks one cell with plain rustc, cargo, wasm-bindgen, wasm-pack and
    node, no wasm-bisect: what an upstream issue needs. `files` are the crate's files as built (the rendered
    Cargo.toml with its pins, the Cargo.lock, src/, the check). `runner`: a file among `files` that runs a
    check module (`export default async function check`) under node with git bisect's exit codes."""
    exact = is_exact_version(bindgen)
    lines = [
        f"# Reproduce rustc {rustc} + wasm-bindgen {bindgen} (reference-types {reference_types}) without wasm-bisect;",
        f"# wasm-bisect found it {verdict}. Run in an empty directory. Put on PATH first:",
        f"#   rustc and cargo {rustc} with the wasm32-unknown-unknown target (e.g. `rustup toolchain install "
        f"{rustc} --target wasm32-unknown-unknown` and `export RUSTUP_TOOLCHAIN={rustc}`),",
        (f"#   wasm-bindgen {bindgen} exactly (`cargo install --locked wasm-bindgen-cli --version ={bindgen}`),"
         if exact else f"#   the wasm-bindgen CLI built from the same source as the crate ({bindgen}),"),
        f"#   wasm-pack {wasm_pack or '0.13.1'} (`cargo install --locked wasm-pack --version "
        f"={wasm_pack or '0.13.1'}`) and node.",
    ]
    if any(flag.startswith("--sysroot=") for flag in rustflags):
        lines.append("# Reference-types off on this rustc needs a std built with -Ctarget-cpu=mvp (`cargo -Z build-std`"
                     " with RUSTFLAGS=-Ctarget-cpu=mvp); point --sysroot below at yours.")
    for path in sorted(files):
        lines += _heredoc(path, files[path])
    lines.append(f"export RUSTFLAGS={shlex.quote(' '.join(rustflags))}" if rustflags else "unset RUSTFLAGS")
    if reference_types == "externref":
        lines.append("export WASM_BINDGEN_EXTERNREF=1")
    lines.append(f"wasm-pack build --target nodejs --{profile} --mode no-install")
    env = [f"WASM_BISECT_PKG=\"$PWD/{pkg_module}\""] + [
        f"WASM_BISECT_PARAM_{name.upper()}={shlex.quote(value)}" for name, value in sorted(params.items())]
    command = [runner, check_script] if runner else [check_script]
    lines.append(f"{' '.join(env)} node {shlex.join(command)}")
    lines.append('echo "check exit code: $? (0 good; 1-127 bad; 125 untestable)"')
    return "\n".join(lines) + "\n"
