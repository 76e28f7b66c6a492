"""Cargo.lock for one cell: a template's crate is resolved afresh (its manifest pins wasm-bindgen); the user's own
project keeps its lock and the resolver moves only the wasm-bindgen family in it (`cargo update --precise`).
Either way the lock is MSRV-aware for the cell's rustc, checked to pin exactly the cell's wasm-bindgen, and old
cargo gets lockfile v3 and vendored sources. Resolved locks are reused across probes and runs (lock-cache/).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import toml
from packaging.version import Version

from wasm_bisect.bindgen.toolcache import host_build_env
from wasm_bisect.domain.compat import cargo_reaches_crates_io
from wasm_bisect.domain.model import Stage, Variant, Verdict
from wasm_bisect.domain.versions import cargo_release
from wasm_bisect.probe.family import is_family
from wasm_bisect.probe.reproducer import Materialised, Reproducer
from wasm_bisect.probe.verdicts import BuildResult, resolve_failure
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.util import fs, paths, processes

RESOLVE_TIMEOUT = 600.0
LOCKFILE_V4_CARGO = Version("1.78")


def cargo_version(toolchain: Toolchain) -> Version:
    """The Rust release of the toolchain's cargo (what decides lockfile and index support)."""
    return Version(".".join(map(str, cargo_release(toolchain.cargo_version))))


def _lock_packages(lock_text: str) -> list[dict[str, Any]]:
    data = tomllib.loads(lock_text)  # the stdlib reader: ~3x faster than toml's on a Cargo.lock
    packages = data.get("package", [])
    return packages if isinstance(packages, list) else []


def bindgen_versions_in_lock(lock_text: str) -> list[str]:
    return [str(p.get("version")) for p in _lock_packages(lock_text) if p.get("name") == "wasm-bindgen"]


def downgrade_lockfile(lock_text: str, toolchain_cargo: Version) -> str:
    """Old cargo reads lockfile v3 at most; v4 differs only in how it encodes git references."""
    if toolchain_cargo < LOCKFILE_V4_CARGO:
        return re.sub(r"(?m)^version = 4$", "version = 3", lock_text)
    return lock_text


def vendor_config(vendor: Path) -> str:
    return toml.dumps(
        {
            "source": {
                "crates-io": {"replace-with": "wasm-bisect-vendored"},
                "wasm-bisect-vendored": {"directory": str(vendor)},
            },
            "net": {"offline": True},
        }
    )


def resolve(
    *,
    crate_dir: Path,
    variant: Variant,
    toolchain: Toolchain,
    log: Path,
    rendered: Materialised | None = None,
    cache_key: str | None = None,
) -> BuildResult | None:
    """Write Cargo.lock with the host cargo, MSRV-aware; vendor for an old cargo. None = resolved fine.

    A template's crate (its manifest pins wasm-bindgen) is resolved afresh; a project that brings its own lock
    (`rendered.pinning == "lockfile"`) is moved to the variant's wasm-bindgen family by the resolver instead.
    """
    if rendered is not None and rendered.pinning == "lockfile":
        return pin_lockfile(rendered=rendered, variant=variant, toolchain=toolchain, log=log, cache_key=cache_key)
    lock_path = crate_dir / "Cargo.lock"
    # The same manifest resolves to the same lock within a run and across runs: resolve once, reuse the
    # lock (saves ~0.5 s per probe and keeps every probe of a pair on identical dependencies).
    manifest = (crate_dir / "Cargo.toml").read_bytes()
    reusable = b"[patch" not in manifest  # path/git patches can change under the same manifest
    cached_lock = paths.home() / "lock-cache" / f"{hashlib.sha256(manifest).hexdigest()[:24]}.lock"
    if reusable and cached_lock.is_file():
        if _pins_exactly(cached_lock, variant.bindgen.version):
            shutil.copyfile(cached_lock, lock_path)
            return _after_lock(crate_dir=crate_dir, variant=variant, toolchain=toolchain, log=log)
        cached_lock.unlink(missing_ok=True)  # damaged (truncated, edited): resolve afresh, never skip for it
    env = host_build_env()
    env.pop("CARGO_TARGET_DIR", None)
    env["CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS"] = "fallback"
    result = processes.run(["cargo", "generate-lockfile"], cwd=crate_dir, env=env, log=log,
                       timeout=RESOLVE_TIMEOUT, check=False)
    if result.ok and reusable:
        fs.atomic_write_bytes(cached_lock, lock_path.read_bytes())
    if not result.ok:
        return resolve_failure(result, "no dependency set satisfies this pair: ")
    return _after_lock(crate_dir=crate_dir, variant=variant, toolchain=toolchain, log=log)


def resolver_env(toolchain: Toolchain) -> dict[str, str]:
    """The host cargo, MSRV-aware for the cell: without a rust-version in the project, cargo's fallback takes the
    version of the rustc it would use, so that rustc is the cell's (plus the libraries it loads)."""
    env = host_build_env()
    env.pop("CARGO_TARGET_DIR", None)
    env["CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS"] = "fallback"
    env["RUSTC"] = str(toolchain.rustc)
    env.update({k: v for k, v in toolchain.env.items() if k != "RUSTUP_TOOLCHAIN"})
    return env


def family_specs(lock_text: str) -> list[str]:
    """`name@version` of every wasm-bindgen-family package in a lock, wasm-bindgen first (see pin_lockfile)."""
    specs = [(str(p.get("name")), str(p.get("version"))) for p in _lock_packages(lock_text)
             if is_family(str(p.get("name", ""))) and "source" in p]
    ordered = sorted(specs, key=lambda nv: (nv[0] != "wasm-bindgen", nv))
    return [f"{name}@{version}" for name, version in dict.fromkeys(ordered)]


def pin_lockfile(*, rendered: Materialised, variant: Variant, toolchain: Toolchain, log: Path,
                 cache_key: str | None) -> BuildResult | None:
    """Move the project's own Cargo.lock to wasm-bindgen `variant.bindgen.version` with the resolver.

    `cargo update --precise V -p wasm-bindgen@OLD -p js-sys@OLD ...`: cargo gives the precise version to the first
    spec (wasm-bindgen) and unlocks the rest of the family, so js-sys, web-sys, the macro and test crates follow
    to the releases that pin V exactly, while every unrelated dependency stays as the user locked it.
    """
    workspace = rendered.workspace
    lock_path = workspace / "Cargo.lock"
    version = variant.bindgen.version
    if rendered.tool_config_dir is not None and rendered.tool_config_dir != workspace:
        # An earlier probe in this directory left its vendoring config (offline, crates from the vendor
        # directory): the resolver must see crates.io, not that.
        (rendered.tool_config_dir / ".cargo" / "config.toml").unlink(missing_ok=True)
    reusable = cache_key is not None and variant.bindgen.kind == "crates"
    cached = paths.home() / "lock-cache" / f"crate-{cache_key}.lock"
    if reusable and cached.is_file():
        if _pins_exactly(cached, version):
            shutil.copyfile(cached, lock_path)
            return _after_lock(crate_dir=workspace, variant=variant, toolchain=toolchain, log=log,
                               config_dir=rendered.tool_config_dir)
        cached.unlink(missing_ok=True)
    env = resolver_env(toolchain)
    if rendered.relock:  # --relock: the user's lock is set aside; cargo resolves afresh for the cell's rustc
        lock_path.unlink(missing_ok=True)
    if not lock_path.is_file():  # a project without a lock: resolve it first, like cargo would
        made = processes.run(["cargo", "generate-lockfile"], cwd=workspace, env=env, log=log, timeout=RESOLVE_TIMEOUT,
                             check=False)
        if not made.ok:
            return resolve_failure(made, "the project's dependencies do not resolve: ")
    specs = family_specs(lock_path.read_text())
    if not specs or not specs[0].startswith("wasm-bindgen@"):
        return BuildResult(verdict=Verdict.SKIP, stage=Stage.RESOLVE,
                           reason="the project's Cargo.lock has no wasm-bindgen from crates.io to move")
    argv = ["cargo", "update", "--precise", version]
    for spec in specs:
        argv += ["-p", spec]
    result = processes.run(argv, cwd=workspace, env=env, log=log, timeout=RESOLVE_TIMEOUT, check=False)
    if not result.ok:
        return resolve_failure(result, f"the project's dependency graph cannot take wasm-bindgen {version}: ")
    got = bindgen_versions_in_lock(lock_path.read_text())
    if got != [version]:  # the resolver said yes but locked something else: ours to fix, never the cell's
        return BuildResult(verdict=Verdict.ERROR, stage=Stage.RESOLVE, log_tail=result.output,
                           reason=f"cargo update --precise {version} left wasm-bindgen {got} in the lock")
    if reusable:
        fs.atomic_write_bytes(cached, lock_path.read_bytes())
    return _after_lock(crate_dir=workspace, variant=variant, toolchain=toolchain, log=log,
                       config_dir=rendered.tool_config_dir)


def _pins_exactly(lock: Path, version: str) -> bool:
    """A cached lock is usable when it parses and locks exactly this wasm-bindgen version."""
    try:
        return bindgen_versions_in_lock(lock.read_text()) == [version]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def _after_lock(*, crate_dir: Path, variant: Variant, toolchain: Toolchain, log: Path,
                config_dir: Path | None = None) -> BuildResult | None:
    """Check the lock pins exactly the variant's wasm-bindgen; make it readable and offline for old cargo.

    The vendoring config goes to `config_dir/.cargo/config.toml` (the crate's own for a template; the parent
    directory for a user's project, so its own .cargo/config.toml stays as the user wrote it)."""
    lock_path = crate_dir / "Cargo.lock"
    toolchain_cargo = cargo_version(toolchain)
    lock_text = downgrade_lockfile(lock_path.read_text(), toolchain_cargo)
    lock_path.write_text(lock_text)
    versions = bindgen_versions_in_lock(lock_text)
    if versions != [variant.bindgen.version]:
        return BuildResult(verdict=Verdict.SKIP, stage=Stage.RESOLVE,
                           reason=f"Cargo.lock holds wasm-bindgen {versions}, not exactly {variant.bindgen.version}")
    config = (config_dir or crate_dir) / ".cargo" / "config.toml"
    if not cargo_reaches_crates_io(toolchain.cargo_version):  # vendor for it, build offline
        vendor = vendored_sources(crate_dir, lock_text, log)
        config.parent.mkdir(exist_ok=True)
        config.write_text(vendor_config(vendor))
    elif config_dir is not None and config_dir != crate_dir:
        config.unlink(missing_ok=True)  # a stale one of an earlier probe in this directory
    return None


def vendored_sources(crate_dir: Path, lock_text: str, log: Path) -> Path:
    """`cargo vendor` by the host cargo, merged into ONE directory shared by every variant.

    One stable directory keeps cargo's package ids (and so the compiled dependencies in the target dir)
    identical across variants; `--versioned-dirs` names each crate `name-version`, and a published crate
    version never changes, so the union of several vendorings is consistent.
    """
    union = paths.vendor_dir() / "crates"
    digest = hashlib.sha256(lock_text.encode()).hexdigest()[:16]
    done = paths.vendor_dir() / "locks" / f"{digest}.done"
    if done.is_file():
        return union
    with fs.lock("vendor-merge"):
        if done.is_file():
            return union
        union.mkdir(parents=True, exist_ok=True)
        staging = paths.vendor_dir() / f".staging-{digest}"
        if staging.exists():
            shutil.rmtree(staging)
        env = host_build_env()
        env.pop("CARGO_TARGET_DIR", None)
        try:
            processes.run(["cargo", "vendor", "--locked", "--versioned-dirs", str(staging)], cwd=crate_dir, env=env,
                      log=log, timeout=RESOLVE_TIMEOUT, what="cargo vendor")
            for crate in sorted(staging.iterdir()):
                if crate.is_dir() and not (union / crate.name).exists():
                    crate.rename(union / crate.name)  # atomic: a reader sees a crate whole or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        fs.atomic_write_text(done, lock_text)
    return union


def lock_key(template: Reproducer, variant: Variant, toolchain: Toolchain) -> str:
    """A resolved project lock is the same for the same files, wasm-bindgen and rustc (MSRV-aware resolution)."""
    text = f"{template.content_hash}|{variant.bindgen.version}|{toolchain.version}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]
