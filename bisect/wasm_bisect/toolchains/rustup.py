"""`rustup:CHANNEL`: a rustup toolchain installed on first use into the tool's own home (never ~/.rustup)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from wasm_bisect.domain.errors import CommandFailed, ProvisionError, Untestable, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains import rustup_dist
from wasm_bisect.toolchains.base import (
    MANIFEST,
    NETWORK_CHECK_SECONDS,
    RUSTUP_INSTALL_TIMEOUT,
    RUSTUP_TARGET_TIMEOUT,
    WASM_TARGET,
    Progress,
    StepTimer,
    Toolchain,
    add_mvp_std,
    check_features,
    inspect_toolchain,
    logs_dir,
    provisioned,
    quiet,
    read_manifest,
    safe_name,
    without,
    write_manifest,
)
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
    """Point at the offline provider, naming the debian toolchains already provisioned (no apt, no network)."""
    try:
        versions = [t.spec.version for t in provisioned("debian")]
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
    """`rustup:<toolchain>`: installed by rustup on first use into the tool's own home, one RUSTUP_HOME per
    toolchain (`toolchains/rustup-<name>/`, with a toolchain.json like a debian prefix); the user's ~/.rustup
    and ~/.cargo are never read or written. A toolchain that cannot be had (no build on that date, no wasm32
    std, a failed download) is Untestable: its cells are skipped with the reason, never blamed."""

    name = "rustup"

    def __init__(self) -> None:
        self.last_timings: dict[str, float] = {}

    def rustup(self) -> str:
        """The rustup program (ToolMissing when there is none)."""
        return processes.which("rustup")

    @staticmethod
    def dist_server() -> str:
        return rustup_dist.dist_server()

    @staticmethod
    def prefix(version: str) -> Path:
        """The toolchain's own RUSTUP_HOME (and manifest) under the tool's home."""
        return paths.toolchains_dir() / f"rustup-{safe_name(version)}"

    def available(self) -> list[str]:
        """Stable releases (bundled, refreshed from the dist server); nightly ranges expand to their dates."""
        return rustup_dist.stable_releases()

    def installed(self) -> list[Toolchain]:
        root = paths.toolchains_dir()
        found = []
        for prefix in sorted(root.glob("rustup-*")) if root.is_dir() else []:
            toolchain = read_manifest(prefix)
            if toolchain is not None and toolchain.spec.provider == self.name:
                found.append(toolchain)
        return found

    def is_installed(self, version: str) -> bool:
        return read_manifest(self.prefix(version)) is not None

    def remove(self, version: str) -> bool:
        final = self.prefix(version)
        with fs.lock(f"toolchain-{final.name}"):
            fs.sweep_staging(final)
            if final.exists():
                shutil.rmtree(final)
                return True
        return False

    @staticmethod
    def private_env(rustup_home: Path) -> dict[str, str]:
        """rustup's environment: its own RUSTUP_HOME and CARGO_HOME (proxies, settings), the user's shell's
        RUSTUP_DIST_SERVER / RUSTUP_UPDATE_ROOT / proxies kept, nothing that picks another toolchain."""
        env = without(os.environ, "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "CARGO_HOME", "RUSTUP_AUTO_INSTALL",
                      "RUST_BACKTRACE")
        env["RUSTUP_HOME"] = str(rustup_home)
        env["CARGO_HOME"] = str(rustup_home / "cargo-home")
        env["RUSTUP_AUTO_INSTALL"] = "0"
        return env

    def provision(self, version: str, *, progress: Progress = quiet, mvp_std: bool = False) -> Toolchain:
        """Install rustup:`version` once (minimal profile, with the wasm32 target); concurrent callers wait."""
        final = self.prefix(version)
        cached = read_manifest(final)
        if cached is None:
            rustup = self.rustup()
            with fs.lock(f"toolchain-{final.name}"):
                cached = read_manifest(final)
                if cached is None:
                    fs.sweep_staging(final)
                    if final.exists():
                        progress(f"{final} has no valid {MANIFEST}: installing it again")
                        shutil.rmtree(final)
                    cached = self._install_locked(rustup, version, final, progress)
        return self.with_mvp_std(cached, progress=progress) if mvp_std else cached

    def _unavailable(self, version: str, why: str) -> Untestable:
        return ToolchainUnavailable(f"rustup:{version} cannot be installed from {self.dist_server()}: {why}",
                                    hint=_debian_hint(version))

    def _install_locked(self, rustup: str, version: str, final: Path, progress: Progress) -> Toolchain:
        spec = ToolchainSpec(provider=self.name, version=version)
        server = self.dist_server()
        if not _network_reachable(server):
            raise self._unavailable(version, "the server is unreachable")
        timer = StepTimer()
        log = logs_dir() / f"rustup-{safe_name(version)}.log"
        with fs.staging_dir(final) as stage:
            progress(f"rustup:{version}: downloading from {server} (minimal profile, {WASM_TARGET}) into {final}")
            with timer.step("install"):
                try:
                    processes.run([rustup, "toolchain", "install", version, "--profile", "minimal", "--target",
                                   WASM_TARGET, "--no-self-update"],
                                  env=self.private_env(stage), timeout=RUSTUP_INSTALL_TIMEOUT, log=log,
                                  what=f"rustup toolchain install {version}")
                except CommandFailed as exc:
                    raise self._unavailable(version, explain_install_failure(_log_text(log, exc))) from exc
            bin_dir = _toolchain_bin(stage)
            if bin_dir is None:
                raise self._unavailable(version, "rustup installed no toolchain with bin/rustc")
            toolchain = inspect_toolchain(spec=spec, bin_dir=bin_dir, env={})
            if not toolchain.wasm32_std:
                raise self._unavailable(version, f"it has no {WASM_TARGET} std")
            with timer.step("verify"), tempfile.TemporaryDirectory(prefix=".verify-", dir=stage) as tmp:
                progress(f"verifying rustup:{version} (compiling a wasm32 cdylib)")
                features = check_features(toolchain, Path(tmp), log=log)
            write_manifest(stage, spec=spec, toolchain=toolchain, std_source="rustup component", bin_dir=bin_dir,
                           target_features={"default": features.default, "mvp": None}, timings=timer.seconds,
                           log=log, provider={"rustup": {"dist_server": server, "toolchain": version,
                                                         "profile": "minimal"}})
            shutil.rmtree(stage / "downloads", ignore_errors=True)
            shutil.rmtree(stage / "tmp", ignore_errors=True)
        result = read_manifest(final)
        if result is None:
            shutil.rmtree(final, ignore_errors=True)
            raise ProvisionError(f"{final} has no readable {MANIFEST} after the rename")
        self.last_timings = dict(timer.seconds)
        progress(f"rustup:{version} ready ({toolchain.verbose_version}; installed in {timer.seconds['install']:.0f} s)")
        return result

    def with_mvp_std(self, toolchain: Toolchain, *, progress: Progress = quiet) -> Toolchain:
        """Add rust-src (rustup component) and build the mvp std once, for rustc >= 1.82 with reference-types off."""
        if toolchain.mvp_sysroot is not None or not toolchain.reference_types_default:
            return toolchain
        version = toolchain.spec.version
        final = self.prefix(version)
        with fs.lock(f"toolchain-{final.name}"):
            current = read_manifest(final)
            if current is None:
                raise ProvisionError(f"rustup:{version} is not installed in {final}",
                                     hint=f"run `wasm-bisect toolchain add rustup:{version}`")
            if current.mvp_sysroot is not None:
                return current
            log = logs_dir() / f"rustup-{safe_name(version)}.log"
            library = current.sysroot / "lib" / "rustlib" / "src" / "rust" / "library"
            if not library.is_dir():
                progress(f"rustup:{version}: adding rust-src (reference-types off needs a std built from source)")
                try:
                    processes.run([self.rustup(), "component", "add", "rust-src", "--toolchain", version],
                                  env=self.private_env(final), timeout=RUSTUP_TARGET_TIMEOUT, log=log,
                                  what=f"rustup component add rust-src ({version})")
                except CommandFailed as exc:
                    raise self._unavailable(version, "rust-src (needed for reference-types off): "
                                            + explain_install_failure(_log_text(log, exc))) from exc
            return add_mvp_std(current, final, log=log, progress=progress)[0]


class ToolchainUnavailable(Untestable):
    """A rustup toolchain that cannot be had: its cells are skipped, with this reason."""


def _log_text(log: Path, exc: CommandFailed) -> str:
    """rustup's output of the failed command: the end of its log (where its `error:` lines are)."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 16384))
            return handle.read().decode(errors="replace")
    except OSError:
        return exc.log_tail


def _toolchain_bin(rustup_home: Path) -> Path | None:
    found = sorted((rustup_home / "toolchains").glob("*/bin/rustc"))
    return found[0].parent if found else None


_FAILURES = (
    (re.compile(r"no release found|could not download nonexistent rust version|not found: .*channel-rust",
                re.I), "the server has no such release (nightlies skip days)"),
    (re.compile(r"(component|target) .*(wasm32-unknown-unknown).*(unavailable|not available)|"
                r"wasm32-unknown-unknown.*is unavailable", re.I), f"no {WASM_TARGET} std for this release"),
    (re.compile(r"checksum failed|could not download|failed to download|error during download|"
                r"could not connect|timed out|connection refused", re.I), "the download failed"),
)


def explain_install_failure(log_tail: str) -> str:
    """Why `rustup toolchain install` failed, in a few words plus rustup's own last error line."""
    errors = [ln.strip() for ln in log_tail.splitlines() if ln.strip().startswith("error:")]
    last = errors[-1][:200] if errors else log_tail.strip()[-200:]
    for pattern, meaning in _FAILURES:
        if pattern.search(log_tail):
            return f"{meaning} ({last})"
    return last or "rustup failed"


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

