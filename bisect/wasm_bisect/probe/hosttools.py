"""wasm-bindgen CLIs (and their test runners) built by a host toolchain that can build them.

The default host toolchain builds every CLI it can; for one it refuses (rustc >= 1.86 and wasm-bindgen-cli
< 0.2.88) the toolchain providers offer the candidates, bindgen/hosts.py chooses one, and it is provisioned
(a debian: one) or taken as installed (a rustup one) only when that CLI is about to be built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from wasm_bisect import toolchains
from wasm_bisect.bindgen import hosts, toolcache
from wasm_bisect.domain.compat import cli_incompatibility
from wasm_bisect.domain.errors import ProvisionError, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.domain.versions import rust_release

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _release(version: str) -> str:
    """`1.85.0`, `1.97.0-nightly` -> X.Y.Z."""
    return ".".join(map(str, rust_release(version)))


def ready_candidate(toolchain: toolchains.Toolchain) -> hosts.HostCandidate:
    """A provisioned or installed toolchain as a host candidate (ready: it costs nothing to use)."""
    return hosts.HostCandidate(spec=str(toolchain.spec), rustc=_release(toolchain.version),
                               cargo=toolchain.cargo_version, ready=True)


def ready_toolchains(*, rustup: bool = True) -> list[toolchains.Toolchain]:
    """Toolchains that cost nothing to use as a host: provisioned debian ones (read from their manifests) and,
    with `rustup`, installed rustup ones (asked from rustup)."""
    found = list(toolchains.DebianProvider().installed())
    if rustup:
        with contextlib.suppress(WasmBisectError):
            found += toolchains.RustupProvider().installed()
    return found


def provisionable() -> list[hosts.HostCandidate]:
    """Debian releases apt offers (not provisioned yet; their cargo is known only once unpacked)."""
    try:
        releases = toolchains.DebianProvider().releases()
    except WasmBisectError:
        return []
    return [hosts.HostCandidate(spec=f"debian:{version}", rustc=version,
                                cargo=version if release.flavour.source == "rustc-web" else None)
            for version, release in releases.items()]


def needs_other_host(version: str, default_rustc: str | None) -> bool:
    """Does the default host toolchain (its rustc release; None: unknown) refuse wasm-bindgen-cli `version`?"""
    return default_rustc is not None and cli_incompatibility(default_rustc, version) is not None


def host_for(version: str, *, progress: Progress = _quiet) -> hosts.HostToolchain | None:
    """The host toolchain that builds wasm-bindgen-cli `version` (None: the default one), provisioned now."""
    version = toolcache.exact_version(version, "wasm-bindgen")
    default = toolcache.default_host_rustc()
    if not needs_other_host(version, default):
        return None
    ready = {str(t.spec): t for t in ready_toolchains()}
    candidates = [ready_candidate(t) for t in ready.values()]
    try:
        chosen = hosts.choose(version, default_rustc=default, candidates=candidates)
    except ProvisionError:  # none ready fits: one apt can give
        more = [c for c in provisionable() if c.spec not in ready]
        chosen = hosts.choose(version, default_rustc=default, candidates=candidates + more)
    assert chosen is not None  # the default refuses it, so `choose` names another or raises
    toolchain = ready.get(chosen.spec)
    if toolchain is None:
        progress(f"wasm-bindgen-cli {version}: the default host rustc {default} cannot build it; "
                 f"provisioning {chosen.spec} to build it")
        toolchain = toolchains.resolve(ToolchainSpec.parse(chosen.spec), provision=True, progress=progress)
    return hosts.HostToolchain(name=str(toolchain.spec), rustc=_release(toolchain.version),
                               bin_dir=toolchain.bin_dir, env=dict(toolchain.env))


def bindgen_cli(version: str, *, progress: Progress = _quiet) -> toolcache.CachedTool:
    """The cached wasm-bindgen CLI of exactly `version`, built (once) by a host toolchain that can."""
    return toolcache.bindgen_cli(version, progress=progress, host=lambda: host_for(version, progress=progress))


def bindgen_test_runner(version: str, *, progress: Progress = _quiet) -> toolcache.CachedTool:
    """The cached test runner (with its wasm-bindgen) of exactly `version`, built by a host toolchain that can."""
    return toolcache.bindgen_test_runner(version, progress=progress,
                                         host=lambda: host_for(version, progress=progress))
