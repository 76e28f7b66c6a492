"""rustc toolchains that can build wasm32, behind one Provider interface (debian, rustup, path).

`resolve(spec)` is what build code calls; `provider(name)` gives one provider; the rest is for the CLI and
reports. A provider module knows how to make its toolchains; `base` holds the `Toolchain` value and the
work every provider shares (inspect a rustc, compile a probe module, build a wasm32 std).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from wasm_bisect.domain.errors import ProvisionError, UsageError, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains import debian, debian_apt
from wasm_bisect.toolchains.base import (
    MANIFEST,
    WASM_TARGET,
    Progress,
    Provider,
    Toolchain,
    parse_cargo_version,
    parse_rustc_vv,
    quiet,
    read_manifest,
    read_manifest_data,
    test_sysroot,
)
from wasm_bisect.toolchains.debian import DebianProvider
from wasm_bisect.toolchains.path import PathProvider
from wasm_bisect.toolchains.rustup import (
    RustupProvider,
    ToolchainUnavailable,
    parse_rustup_toolchain_list,
    suggest_debian,
)
from wasm_bisect.util import paths

__all__ = [
    "MANIFEST",
    "WASM_TARGET",
    "DebianProvider",
    "PathProvider",
    "Provider",
    "RustupProvider",
    "Toolchain",
    "ToolchainUnavailable",
    "available",
    "check_known",
    "installed",
    "managed_prefixes",
    "parse_cargo_version",
    "parse_rustc_vv",
    "parse_rustup_toolchain_list",
    "prepare",
    "provider",
    "read_manifest",
    "read_manifest_data",
    "remove",
    "resolve",
    "suggest_debian",
    "test_sysroot",
    "with_mvp_std",
]

PROVIDERS: dict[str, Callable[[], Provider]] = {
    "debian": DebianProvider,
    "rustup": RustupProvider,
    "path": PathProvider,
}



def provider(name: str) -> Provider:
    """The provider called `name` (debian, rustup or path)."""
    if name not in PROVIDERS:
        raise UsageError(f"unknown toolchain provider {name!r}", hint=f"use one of {', '.join(PROVIDERS)}")
    return PROVIDERS[name]()


def _same_spec(toolchain: Toolchain, spec: ToolchainSpec) -> bool:
    if spec.provider == "path":
        return toolchain.spec.version == str(paths.resolve(paths.expand(spec.version), "path:"))
    return toolchain.spec == spec


def resolve(spec: ToolchainSpec, *, provision: bool = True, progress: Progress = quiet,
            mvp_std: bool = False) -> Toolchain:
    """The toolchain to build wasm with, provisioned on demand; ProvisionError if it cannot build wasm32.

    `mvp_std`: also make its reference-types-off std now (rustc >= 1.82; otherwise `with_mvp_std` makes it
    when the first `off` probe needs it).
    """
    chosen = provider(spec.provider)
    found: Toolchain | None
    if provision:
        found = chosen.provision(spec.version, progress=progress, mvp_std=mvp_std)
    else:
        found = next((t for t in chosen.installed() if _same_spec(t, spec)), None)
    if found is None:
        raise ProvisionError(
            f"toolchain {spec} is not provisioned", hint=f"run `wasm-bisect toolchain add {spec}`"
        )
    found.require_wasm32()
    return found


def with_mvp_std(toolchain: Toolchain, *, progress: Progress = quiet) -> Toolchain:
    """`toolchain` with its reference-types-off (mvp) std, built once on first use where its provider can;
    unchanged when it needs none (rustc < 1.82) or cannot have one (a path prefix without it)."""
    return provider(toolchain.spec.provider).with_mvp_std(toolchain, progress=progress)


def check_known(specs: Sequence[ToolchainSpec]) -> None:
    """Fail fast on toolchains that cannot exist (before a run starts): an unknown debian version, a path
    prefix without bin/rustc and bin/cargo. Provisioned ones cost nothing; otherwise debian asks apt once."""
    have = {t.spec for t in DebianProvider().installed()} if any(s.provider == "debian" for s in specs) else set()
    missing = [s.version for s in specs if s.provider == "debian" and s not in have]
    for spec in specs:
        if spec.provider == "path":
            prefix = paths.expand(spec.version)
            absent = [p for p in ("rustc", "cargo") if not (prefix / "bin" / p).is_file()]
            if absent:
                raise UsageError(f"{spec} has no bin/{absent[0]}", hint="give a prefix with bin/rustc and bin/cargo")
    if any(s.provider == "rustup" for s in specs):
        RustupProvider().rustup()  # ToolMissing (exit 2) when there is no rustup at all
    if missing:
        # Validation reads the package lists as they are: fetching (and writing) Debian's lists waits until the
        # command has checked all of its input; `toolchain available debian` or a provisioning refreshes them.
        releases = DebianProvider(refresh=False).releases()
        for version in missing:
            if version not in releases:
                error = debian_apt.unknown_version_error(version, releases)
                if not debian.private_lists_present() and os.environ.get("WASM_BISECT_APT") != "system":
                    error.hint = ((error.hint + "; ") if error.hint else "") + (
                        "Debian's other suites (bullseye, backports, trixie...) are not read yet: "
                        "`wasm-bisect toolchain available debian` reads them once")
                raise error


def prepare(specs: Sequence[ToolchainSpec], *, provision: bool = True, progress: Progress = quiet
            ) -> dict[ToolchainSpec, Toolchain]:
    """Before a run is started: the toolchains it will build with, checked (`check_known`) and, with
    `provision`, made ready and verified exactly as `toolchain add` does it (same steps, same time limits).
    A toolchain that cannot build wasm32 or misbehaves (hangs, crashes, answers nonsense) is a ProvisionError
    here, exit 2, never a stored run of ERROR cells. Without `provision` only `path:` toolchains, which cost
    nothing to verify, are run."""
    unique = list(dict.fromkeys(specs))
    check_known(unique)
    return {spec: resolve(spec, provision=True, progress=progress) for spec in unique
            if provision or spec.provider == "path"}


def installed() -> list[Toolchain]:
    """Every toolchain any provider has ready (for `wasm-bisect toolchain list`)."""
    found: list[Toolchain] = []
    for name in ("debian", "rustup", "path"):
        with contextlib.suppress(WasmBisectError):
            found.extend(provider(name).installed())
    return found


def available() -> dict[str, list[str]]:
    """Per provider, the versions it could give (debian: from apt; rustup: the stable releases; path: any)."""
    result: dict[str, list[str]] = {}
    for name in ("debian", "rustup", "path"):
        try:
            result[name] = provider(name).available()
        except WasmBisectError:
            result[name] = []
    return result


def managed_prefixes() -> list[Path]:
    """The prefixes this tool made and may export, import or delete: debian and rustup toolchains."""
    return [t.sysroot.parent if t.spec.provider == "debian" else RustupProvider.prefix(t.spec.version)
            for t in [*DebianProvider().installed(), *RustupProvider().installed()]]


def remove(spec: ToolchainSpec) -> bool:
    """Forget a provisioned toolchain (debian, rustup: delete its prefix; path: unregister); True if it existed."""
    if spec.provider == "debian":
        return DebianProvider().remove(spec.version)
    if spec.provider == "path":
        return PathProvider().remove(spec.version)
    return RustupProvider().remove(spec.version)
