"""`rustup:CHANNEL`: an installed rustup toolchain, completed by rustup when its servers answer."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from wasm_bisect.domain.errors import CommandFailed, ProvisionError, ToolMissing, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains.base import (
    MVP_RUSTFLAGS,
    MVP_SYSROOT,
    NETWORK_CHECK_SECONDS,
    PROBE_TIMEOUT,
    RUSTUP_INSTALL_TIMEOUT,
    RUSTUP_TARGET_TIMEOUT,
    WASM_TARGET,
    Progress,
    Toolchain,
    build_wasm32_std,
    check_features,
    inspect_toolchain,
    logs_dir,
    make_mvp_sysroot,
    quiet,
    safe_name,
    wasm32_std_present,
    without,
)
from wasm_bisect.toolchains.debian import DebianProvider
from wasm_bisect.util import fs, paths, processes


def _network_reachable(url: str, timeout: float = NETWORK_CHECK_SECONDS) -> bool:
    """A quick TCP connect, so an offline rustup fails in seconds instead of retrying for minutes."""
    if any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")):
        return True  # behind a proxy a direct connect proves nothing; let rustup try (with its timeout)
    parsed = urlparse(url)
    host = parsed.hostname or "static.rust-lang.org"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _debian_hint(wanted: str) -> str:
    """Point at the offline provider, naming its versions (the closest to `wanted` first) when apt answers."""
    try:
        versions = DebianProvider().available()
    except WasmBisectError:
        versions = []
    return suggest_debian(wanted, versions)


def suggest_debian(wanted: str, versions: Sequence[str]) -> str:
    """ "use debian:1.96.0 instead" (the same version when Debian has it, else the list)."""
    if not versions:
        return "use a debian: toolchain instead (`wasm-bisect toolchain available debian`)"
    if wanted in versions:
        return f"use debian:{wanted} instead"
    return f"use a debian: toolchain instead ({', '.join(f'debian:{v}' for v in versions)})"


class RustupProvider:
    """`rustup:<toolchain>`: an installed rustup toolchain, installed or completed by rustup when online."""

    name = "rustup"

    def rustup(self) -> str:
        """The rustup program (ToolMissing when there is none)."""
        return processes.which("rustup")

    @staticmethod
    def dist_server() -> str:
        return os.environ.get("RUSTUP_DIST_SERVER", "https://static.rust-lang.org")

    def available(self) -> list[str]:
        """Installed toolchains only: rustup cannot list remote versions (and here it may be offline)."""
        try:
            result = processes.run([self.rustup(), "toolchain", "list"], timeout=PROBE_TIMEOUT, check=False)
        except ToolMissing:
            return []
        return parse_rustup_toolchain_list(result.output)

    def _bin_dir(self, name: str) -> Path | None:
        env = without(os.environ, "RUSTUP_TOOLCHAIN")
        result = processes.run(
            [self.rustup(), "which", "rustc", "--toolchain", name],
            env=env,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
        if not result.ok:
            return None
        return Path(result.output.strip().splitlines()[-1]).parent

    def _probe(self, name: str, bin_dir: Path, note: str = "") -> Toolchain:
        spec = ToolchainSpec(provider=self.name, version=name)
        toolchain = inspect_toolchain(spec=spec, bin_dir=bin_dir, env={"RUSTUP_TOOLCHAIN": name}, note=note)
        mvp = self.mvp_prefix(toolchain) / MVP_SYSROOT
        if toolchain.reference_types_default and wasm32_std_present(mvp):
            toolchain = dataclasses.replace(toolchain, mvp_sysroot=mvp)
        return toolchain

    def mvp_prefix(self, toolchain: Toolchain) -> Path:
        """Where our mvp std for this exact rustup rustc lives (keyed by its verbose version)."""
        digest = hashlib.sha256(toolchain.verbose_version.encode()).hexdigest()[:12]
        return paths.toolchains_dir() / f"rustup-{safe_name(toolchain.spec.version)}-{digest}"

    def installed(self) -> list[Toolchain]:
        found = []
        for name in self.available():
            bin_dir = self._bin_dir(name)
            if bin_dir is None:
                continue
            with contextlib.suppress(WasmBisectError):
                found.append(self._probe(name, bin_dir))
        return found

    def _offline_error(self, what: str, name: str) -> ProvisionError:
        return ProvisionError(
            f"rustup cannot {what} for {name}: {self.dist_server()} is unreachable", hint=_debian_hint(name)
        )

    def provision(self, version: str, *, progress: Progress = quiet, mvp_std: bool = False) -> Toolchain:
        """Install (or complete) the rustup toolchain; `mvp_std` also builds its reference-types-off std now."""
        name = version
        rustup = self.rustup()
        env = without(os.environ, "RUSTUP_TOOLCHAIN")
        bin_dir = self._bin_dir(name)
        if bin_dir is None:
            if not _network_reachable(self.dist_server()):
                raise self._offline_error("install the toolchain", name)
            progress(f"rustup: installing {name} (minimal profile, with {WASM_TARGET})")
            try:
                processes.run(
                    [
                        rustup,
                        "toolchain",
                        "install",
                        name,
                        "--profile",
                        "minimal",
                        "--target",
                        WASM_TARGET,
                        "--component",
                        "rust-src",
                    ],
                    env=env,
                    timeout=RUSTUP_INSTALL_TIMEOUT,
                    log=logs_dir() / f"rustup-{safe_name(name)}.log",
                )
            except CommandFailed as exc:
                raise ProvisionError(
                    f"rustup could not install {name}: {exc.log_tail.strip()[-300:]}",
                    hint="check the toolchain name (e.g. 1.82.0, stable, nightly-2024-08-01) or use debian:",
                ) from exc
            bin_dir = self._bin_dir(name)
            if bin_dir is None:
                raise ProvisionError(f"rustup installed {name} but `rustup which rustc` does not find it")
        toolchain = self._probe(name, bin_dir)
        if not toolchain.wasm32_std:
            if _network_reachable(self.dist_server()):
                progress(f"rustup: adding {WASM_TARGET} to {name}")
                added = processes.run(
                    [rustup, "target", "add", WASM_TARGET, "--toolchain", name],
                    env=env,
                    timeout=RUSTUP_TARGET_TIMEOUT,
                    check=False,
                )
                note = "" if added.ok else f"`rustup target add` failed: {added.output.strip()[-200:]}"
            else:
                note = f"rustup cannot add it: {self.dist_server()} is unreachable"
            toolchain = self._probe(name, bin_dir, note=note)
            if not toolchain.wasm32_std:
                progress(f"warning: rustup:{name} has no {WASM_TARGET} std ({note}); it cannot build wasm")
                return toolchain
        return self.with_mvp_std(toolchain, progress=progress) if mvp_std else toolchain

    def with_mvp_std(self, toolchain: Toolchain, *, progress: Progress = quiet) -> Toolchain:
        """Build the mvp std once when rust-src is there; without it the toolchain just has no mvp sysroot."""
        if toolchain.mvp_sysroot is not None or not toolchain.reference_types_default:
            return toolchain
        library = toolchain.sysroot / "lib" / "rustlib" / "src" / "rust" / "library"
        if not library.is_dir():
            progress(
                f"note: rustup:{toolchain.spec.version} has no rust-src: reference-types OFF unavailable"
            )
            return toolchain
        final = self.mvp_prefix(toolchain)
        with fs.lock(f"toolchain-{final.name}"):
            if not wasm32_std_present(final / MVP_SYSROOT):
                fs.sweep_staging(final)
                shutil.rmtree(final, ignore_errors=True)
                log = logs_dir() / f"{final.name}.log"
                with fs.staging_dir(final) as stage:
                    out = make_mvp_sysroot(
                        stage / MVP_SYSROOT,
                        toolchain.sysroot / "lib" / "rustlib" / toolchain.host,
                        toolchain.host,
                    )
                    build_wasm32_std(
                        toolchain, stage / ".work", out, rustflags=MVP_RUSTFLAGS, log=log, progress=progress
                    )
                    shutil.rmtree(stage / ".work", ignore_errors=True)
                    candidate = dataclasses.replace(toolchain, mvp_sysroot=stage / MVP_SYSROOT)
                    with tempfile.TemporaryDirectory(prefix=".verify-", dir=final.parent) as tmp:
                        check_features(candidate, Path(tmp), log=log)
        return dataclasses.replace(toolchain, mvp_sysroot=final / MVP_SYSROOT)


def parse_rustup_toolchain_list(text: str) -> list[str]:
    """`rustup toolchain list` -> names as a user types them ("stable", "1.95.0", "nightly-2024-08-01")."""
    names = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("no installed toolchains", "info:", "error:")):
            continue
        name = line.split()[0]
        name = re.sub(r"-(x86_64|aarch64|i686|armv7|riscv64gc|powerpc64le|s390x)-[\w-]+$", "", name)
        names.append(name)
    return list(dict.fromkeys(names))

