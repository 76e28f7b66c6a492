"""Toolchain providers (debian, rustup, path) behind one interface; `resolve` is what build code calls.

A `Toolchain` says where rustc/cargo live and how to run them (`environ`), whether it has a wasm32 std, and
where an mvp std (reference-types off on rustc >= 1.82) lives. Debian toolchains are unpacked side by side
from .debs into one relocatable prefix per version, with a wasm32 std built from source if Debian has none.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from . import debian, fsutil, paths, tools, wasmfile
from .errors import CommandFailed, ProvisionError, ToolMissing, UsageError, WasmBisectError
from .model import ToolchainSpec

Progress = Callable[[str], None]

WASM_TARGET = "wasm32-unknown-unknown"
# rustc 1.82 (LLVM 19) turned reference-types and multivalue on by default for wasm32-unknown-unknown.
REFERENCE_TYPES_DEFAULT_SINCE = (1, 82, 0)
MANIFEST = "toolchain.json"
MANIFEST_SCHEMA = 1
PATH_REGISTRY = "path-toolchains.json"
MVP_SYSROOT = "mvp-sysroot"
STD_BUILD_TIMEOUT = 3600.0
PROBE_TIMEOUT = 120.0
NETWORK_CHECK_SECONDS = 5.0
RUSTUP_INSTALL_TIMEOUT = 900.0
RUSTUP_TARGET_TIMEOUT = 300.0
MVP_RUSTFLAGS = ("-Cembed-bitcode=yes", "-Ctarget-cpu=mvp")
# Bitcode in the std rlibs keeps `lto = true` release builds working against a std we built ourselves.
DEFAULT_STD_RUSTFLAGS = ("-Cembed-bitcode=yes",)
PROBE_CRATE = "wasm_bisect_probe"
STD_CRATE = "wasm_bisect_std"


def _quiet(_message: str) -> None:
    """Default progress sink: say nothing."""


# ---------------------------------------------------------------------------------------------------------
# Pure helpers


def rust_version(text: str) -> tuple[int, int, int]:
    """ "1.96.0", "1.82.0-nightly" -> (1, 96, 0); raises UsageError for anything else."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not a Rust version X.Y.Z")
    return int(match[1]), int(match[2]), int(match[3])


@dataclass(frozen=True, kw_only=True)
class RustcInfo:
    """What `rustc -vV` reports."""

    verbose_version: str
    release: str
    host: str
    llvm_version: str | None = None
    commit_hash: str | None = None


def parse_rustc_vv(text: str) -> RustcInfo:
    """Parse `rustc -vV`; raises ProvisionError when it is not rustc's output."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    if not lines or not lines[0].startswith("rustc ") or "release" not in fields or "host" not in fields:
        raise ProvisionError(f"unexpected `rustc -vV` output: {text.strip()[:200]!r}")
    return RustcInfo(
        verbose_version=lines[0],
        release=fields["release"],
        host=fields["host"],
        llvm_version=fields.get("LLVM version"),
        commit_hash=fields.get("commit-hash"),
    )


def parse_cargo_version(text: str) -> tuple[str, str]:
    """`cargo -V` -> (the line as printed, "X.Y.Z"); Debian's old cargo says 0.66.0, rustup's says 1.x."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    match = re.match(r"^cargo (\d+\.\d+\.\d+)", line)
    if match is None:
        raise ProvisionError(f"unexpected `cargo -V` output: {text.strip()[:200]!r}")
    return line, match[1]


def reference_types_by_default(version: str) -> bool:
    """Does this rustc's default wasm32 std/codegen enable reference-types?"""
    return rust_version(version) >= REFERENCE_TYPES_DEFAULT_SINCE


# Variables a user's shell may set that would change what a cargo/rustc build does behind our back.
_DROP_EXACT = frozenset(
    {
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTDOC",
        "CARGO",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_BOOTSTRAP",
        "RUSTUP_TOOLCHAIN",
        "LD_LIBRARY_PATH",
        "RUSTC_LOG",
        "CARGO_MANIFEST_DIR",
    }
)
_DROP_PREFIXES = ("CARGO_BUILD_", "CARGO_TARGET_", "CARGO_PROFILE_", "CARGO_ENCODED_", "CARGO_UNSTABLE_")


def clean_environ(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without the variables that would let the user's shell leak into a build."""
    return {k: v for k, v in base.items() if k not in _DROP_EXACT and not k.startswith(_DROP_PREFIXES)}


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """One usable rustc + cargo pair and how to run it."""

    spec: ToolchainSpec
    version: str
    verbose_version: str
    host: str
    sysroot: Path
    bin_dir: Path
    cargo_version: str  # X.Y.Z as cargo prints it ("0.66.0" for Debian's cargo next to rustc 1.63)
    cargo_verbose: str = ""  # the whole `cargo -V` line
    wasm32_std: bool
    mvp_sysroot: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    llvm_version: str | None = None
    note: str = ""  # why something is missing (e.g. no wasm32 std and no network), shown by `toolchain list`

    @property
    def rustc(self) -> Path:
        return self.bin_dir / "rustc"

    @property
    def cargo(self) -> Path:
        return self.bin_dir / "cargo"

    @property
    def reference_types_default(self) -> bool:
        """True when this rustc's default wasm32 codegen (and prebuilt std) turns reference-types on."""
        return reference_types_by_default(self.version)

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """The full environment to run this toolchain's cargo/rustc, built from `base` (e.g. os.environ)."""
        env = clean_environ(base)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), *filter(None, [base.get("PATH", os.defpath)])])
        env["RUSTC"] = str(self.rustc)
        env["CARGO"] = str(self.cargo)
        rustdoc = self.bin_dir / "rustdoc"
        if rustdoc.exists():
            env["RUSTDOC"] = str(rustdoc)
        env.update(self.env)
        return env

    def require_wasm32(self) -> None:
        """Raise ProvisionError unless this toolchain can build for wasm32-unknown-unknown."""
        if not self.wasm32_std:
            why = f" ({self.note})" if self.note else ""
            hint = (
                "use a debian: toolchain (see `wasm-bisect toolchain available debian`)"
                if self.spec.provider != "debian"
                else "remove it and provision it again"
            )
            raise ProvisionError(
                f"toolchain {self.spec} ({self.version}) has no {WASM_TARGET} std{why}", hint=hint
            )

    def reference_types_off_rustflags(self) -> list[str]:
        """RUSTFLAGS that build a module without reference-types; raises when this toolchain cannot."""
        if not self.reference_types_default:
            # Before 1.82 the default std has no reference-types; only our own code must not turn it on.
            return ["-Ctarget-feature=-reference-types"]
        if self.mvp_sysroot is None:
            raise ProvisionError(
                f"{self.spec} turns reference-types on by default and has no mvp std to turn it off",
                hint="use a debian: toolchain (it builds one) or a rustup one with the rust-src component",
            )
        return [f"--sysroot={self.mvp_sysroot}", "-Ctarget-cpu=mvp"]

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": str(self.spec),
            "version": self.version,
            "verbose_version": self.verbose_version,
            "host": self.host,
            "sysroot": str(self.sysroot),
            "bin_dir": str(self.bin_dir),
            "cargo_version": self.cargo_version,
            "cargo_verbose": self.cargo_verbose,
            "wasm32_std": self.wasm32_std,
            "mvp_sysroot": str(self.mvp_sysroot) if self.mvp_sysroot else None,
            "env": dict(self.env),
            "llvm_version": self.llvm_version,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toolchain:
        mvp = data.get("mvp_sysroot")
        return cls(
            spec=ToolchainSpec.parse(data["spec"]),
            version=data["version"],
            verbose_version=data["verbose_version"],
            host=data["host"],
            sysroot=Path(data["sysroot"]),
            bin_dir=Path(data["bin_dir"]),
            cargo_version=data["cargo_version"],
            cargo_verbose=data.get("cargo_verbose", ""),
            wasm32_std=bool(data["wasm32_std"]),
            mvp_sysroot=Path(mvp) if mvp else None,
            env={str(k): str(v) for k, v in data.get("env", {}).items()},
            llvm_version=data.get("llvm_version"),
            note=data.get("note", ""),
        )


def wasm32_std_present(sysroot: Path) -> bool:
    """A sysroot can build wasm32-unknown-unknown when its rustlib has a libstd rlib for it."""
    lib = sysroot / "lib" / "rustlib" / WASM_TARGET / "lib"
    return any(lib.glob("libstd-*.rlib"))


# ---------------------------------------------------------------------------------------------------------
# Manifests (debian prefixes) and the path registry


def manifest_to_toolchain(prefix: Path, data: Mapping[str, Any]) -> Toolchain | None:
    """The Toolchain a prefix manifest describes (paths relative to `prefix`); None if it is unusable."""
    try:
        if data.get("schema") != MANIFEST_SCHEMA:
            return None
        rel = data["paths"]
        sysroot = prefix / rel["sysroot"]
        bin_dir = prefix / rel["bin_dir"]
        mvp = prefix / rel["mvp_sysroot"] if rel.get("mvp_sysroot") else None
        lib_dirs = [str(prefix / d) for d in rel.get("lib_dirs", [])]
        env = {"LD_LIBRARY_PATH": os.pathsep.join(lib_dirs)} if lib_dirs else {}
        toolchain = Toolchain(
            spec=ToolchainSpec.parse(data["spec"]),
            version=data["version"],
            verbose_version=data["verbose_version"],
            host=data["host"],
            sysroot=sysroot,
            bin_dir=bin_dir,
            cargo_version=data["cargo_version"],
            cargo_verbose=data.get("cargo_verbose", ""),
            wasm32_std=bool(data["wasm32_std"]),
            mvp_sysroot=mvp,
            env=env,
            llvm_version=data.get("llvm_version"),
        )
    except (KeyError, TypeError, ValueError, WasmBisectError):
        return None
    return toolchain if _still_there(toolchain) else None


def _still_there(toolchain: Toolchain) -> bool:
    """Cheap re-verification: the binaries and the std directories the manifest promised still exist."""
    if not (toolchain.rustc.is_file() and toolchain.cargo.is_file()):
        return False
    if toolchain.wasm32_std and not wasm32_std_present(toolchain.sysroot):
        return False
    return toolchain.mvp_sysroot is None or wasm32_std_present(toolchain.mvp_sysroot)


def read_manifest(prefix: Path) -> Toolchain | None:
    """The toolchain installed in `prefix`, or None when the manifest is missing, corrupt or stale."""
    try:
        data = json.loads((prefix / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return manifest_to_toolchain(prefix, data)


def read_manifest_data(prefix: Path) -> dict[str, Any]:
    """The raw manifest (timings, packages, target features) for reports; {} when unreadable."""
    try:
        data = json.loads((prefix / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_registry(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    entries = data.get("toolchains") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _write_registry(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    fsutil.atomic_write_text(path, json.dumps({"schema": 1, "toolchains": list(entries)}, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------------
# Running a toolchain: probe, compile a trivial cdylib, build a wasm32 std


def probe(
    *,
    spec: ToolchainSpec,
    bin_dir: Path,
    env: Mapping[str, str],
    mvp_sysroot: Path | None = None,
    note: str = "",
) -> Toolchain:
    """Ask rustc and cargo in `bin_dir` who they are (with `env` as their extra environment)."""
    draft = Toolchain(
        spec=spec,
        version="0.0.0",
        verbose_version="",
        host="",
        sysroot=bin_dir.parent,
        bin_dir=bin_dir,
        cargo_version="0.0.0",
        wasm32_std=False,
        env=dict(env),
    )
    full_env = draft.environ(os.environ)
    try:
        info = parse_rustc_vv(tools.output([draft.rustc, "-vV"], env=full_env, timeout=PROBE_TIMEOUT))
        sysroot = Path(tools.output([draft.rustc, "--print", "sysroot"], env=full_env, timeout=PROBE_TIMEOUT))
        cargo_line, cargo_version = parse_cargo_version(
            tools.output([draft.cargo, "-V"], env=full_env, timeout=PROBE_TIMEOUT)
        )
    except CommandFailed as exc:
        raise ProvisionError(
            f"toolchain {spec} does not run: {exc.message}: {exc.log_tail.strip()[-300:]}",
            hint="check the prefix (missing shared libraries show up here)",
        ) from exc
    return Toolchain(
        spec=spec,
        version=info.release,
        verbose_version=info.verbose_version,
        host=info.host,
        sysroot=sysroot,
        bin_dir=bin_dir,
        cargo_version=cargo_version,
        cargo_verbose=cargo_line,
        wasm32_std=wasm32_std_present(sysroot),
        mvp_sysroot=mvp_sysroot,
        env=dict(env),
        llvm_version=info.llvm_version,
        note=note,
    )


_PROBE_LIB = '#[no_mangle]\npub extern "C" fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n'


def write_probe_crate(directory: Path, *, name: str = PROBE_CRATE) -> Path:
    """A dependency-free cdylib exporting `add`; any cargo builds it offline."""
    (directory / "src").mkdir(parents=True, exist_ok=True)
    (directory / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2018"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n\n[workspace]\n'
    )
    (directory / "src" / "lib.rs").write_text(_PROBE_LIB)
    return directory


def compile_probe(
    toolchain: Toolchain, work: Path, *, rustflags: Sequence[str] = (), log: Path | None = None
) -> bytes:
    """Build the probe cdylib for wasm32 with this toolchain's cargo; return the .wasm bytes."""
    crate = write_probe_crate(work)
    env = toolchain.environ(os.environ)
    env["CARGO_TARGET_DIR"] = str(work / "target")
    if rustflags:
        env["RUSTFLAGS"] = " ".join(rustflags)
    tools.run(
        [toolchain.cargo, "build", "--offline", "--release", "--target", WASM_TARGET],
        env=env,
        cwd=crate,
        timeout=600,
        log=log,
        what="cargo build (probe cdylib)",
    )
    return (work / "target" / WASM_TARGET / "release" / f"{PROBE_CRATE}.wasm").read_bytes()


def build_wasm32_std(
    toolchain: Toolchain,
    work: Path,
    out_lib: Path,
    *,
    rustflags: Sequence[str],
    log: Path | None = None,
    progress: Progress = _quiet,
) -> int:
    """Build std for wasm32 from the toolchain's own source (-Z build-std) and copy the rlibs to `out_lib`.

    Offline against `library/vendor` when the source ships one (Debian's 1.96), else std's few dependencies
    come from crates.io (1.85). Returns the number of rlibs installed.
    """
    library = toolchain.sysroot / "lib" / "rustlib" / "src" / "rust" / "library"
    if not library.is_dir():
        raise ProvisionError(
            f"{toolchain.spec} has no Rust source at {library}, needed to build a {WASM_TARGET} std",
            hint="install its source (Debian rust-web-src/rust-src; rustup: `rustup component add rust-src`)",
        )
    crate = work / "crate"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "{STD_CRATE}"\nversion = "0.0.0"\nedition = "2018"\n\n[workspace]\n'
    )
    (crate / "src" / "lib.rs").write_text("")
    vendor = library / "vendor"
    args = ["build", "-Z", "build-std=std,panic_abort", "--target", WASM_TARGET, "--release"]
    if vendor.is_dir():
        (crate / ".cargo").mkdir(exist_ok=True)
        (crate / ".cargo" / "config.toml").write_text(
            '[source.crates-io]\nreplace-with = "vendored"\n\n'
            f"[source.vendored]\ndirectory = {json.dumps(str(vendor.resolve()))}\n"
        )
        args.append("--offline")
    env = toolchain.environ(os.environ)
    env.update(
        {
            "RUSTC_BOOTSTRAP": "1",  # -Z build-std on a stable rustc, as Debian's own packaging does
            "RUSTFLAGS": " ".join(rustflags),
            "CARGO_TARGET_DIR": str(work / "target"),
            "CARGO_HOME": str(work / "cargo-home"),  # the user's cargo config must not steer this build
        }
    )
    source = "offline, vendored sources" if vendor.is_dir() else "std deps from crates.io"
    progress(f"building {WASM_TARGET} std for {toolchain.spec} [{' '.join(rustflags)}] ({source}, ≈40 s+)")
    try:
        tools.run(
            [toolchain.cargo, *args],
            env=env,
            cwd=crate,
            timeout=STD_BUILD_TIMEOUT,
            log=log,
            what=f"cargo -Z build-std ({toolchain.spec})",
        )
    except CommandFailed as exc:
        raise ProvisionError(
            f"building the {WASM_TARGET} std for {toolchain.spec} failed: {exc.message}",
            hint=f"see the log{f' {log}' if log else ''}; last lines: {exc.log_tail.strip()[-300:]}",
        ) from exc
    deps = work / "target" / WASM_TARGET / "release" / "deps"
    rlibs = [p for p in deps.glob("*.rlib") if not p.name.startswith(f"lib{STD_CRATE}-")]
    if not any(p.name.startswith("libstd-") for p in rlibs):
        raise ProvisionError(f"-Z build-std for {toolchain.spec} produced no libstd rlib in {deps}")
    out_lib.mkdir(parents=True, exist_ok=True)
    for rlib in rlibs:
        shutil.copy2(rlib, out_lib / rlib.name)
    return len(rlibs)


def make_mvp_sysroot(root: Path, host_rustlib: Path, host: str) -> Path:
    """Lay out `root` as a sysroot: wasm32 lib dir to fill, host rustlib linked (relative) to the real one."""
    rustlib = root / "lib" / "rustlib"
    (rustlib / WASM_TARGET / "lib").mkdir(parents=True, exist_ok=True)
    link = rustlib / host
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(host_rustlib, rustlib))
    return rustlib / WASM_TARGET / "lib"


@dataclass(frozen=True, kw_only=True)
class FeatureCheck:
    default: list[str]
    mvp: list[str] | None


def check_features(toolchain: Toolchain, work: Path, *, log: Path | None = None) -> FeatureCheck:
    """Compile the probe with the default std (and the mvp std); fail when the mvp one has reference-types."""
    default = wasmfile.read_target_features(compile_probe(toolchain, work / "default", log=log))
    mvp: list[str] | None = None
    if toolchain.mvp_sysroot is not None:
        mvp = wasmfile.read_target_features(
            compile_probe(
                toolchain, work / "mvp", rustflags=toolchain.reference_types_off_rustflags(), log=log
            )
        )
        if wasmfile.has_feature(mvp, "reference-types"):
            raise ProvisionError(
                f"the mvp std of {toolchain.spec} still produces reference-types ({', '.join(mvp)})",
                hint="report this; reference-types OFF is not available for this toolchain",
            )
    return FeatureCheck(default=default, mvp=mvp)


# ---------------------------------------------------------------------------------------------------------
# Providers


class Provider(Protocol):
    name: str

    def available(self) -> list[str]: ...

    def installed(self) -> list[Toolchain]: ...

    def provision(self, version: str, *, progress: Progress = _quiet) -> Toolchain: ...


def _logs_dir() -> Path:
    directory = paths.home() / "logs" / "toolchains"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in text)


class _Timer:
    """Collects step durations for the manifest and the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - start, 2)


class DebianProvider:
    """`debian:X.Y.Z`: Debian's rustc/cargo .debs unpacked side by side, plus a wasm32 std built if needed."""

    name = "debian"

    def __init__(self, apt: debian.Apt | None = None) -> None:
        self._apt = apt
        self.last_timings: dict[str, float] = {}

    @property
    def apt(self) -> debian.Apt:
        if self._apt is None:
            debian.Apt.check_machine()
            self._apt = debian.Apt(os.environ)
        return self._apt

    @staticmethod
    def prefix(version: str) -> Path:
        return paths.toolchains_dir() / f"debian-{version}"

    def releases(self) -> dict[str, debian.Release]:
        """Discovered now from apt: upstream version -> release (flavour and exact Debian version)."""
        return debian.releases_from_madison(self.apt.madison([f.rustc for f in debian.FLAVOURS]))

    def available(self) -> list[str]:
        return list(self.releases())

    def installed(self) -> list[Toolchain]:
        root = paths.toolchains_dir()
        found = []
        for prefix in sorted(root.glob("debian-*")) if root.is_dir() else []:
            toolchain = read_manifest(prefix)
            if toolchain is not None and toolchain.spec.provider == self.name:
                found.append(toolchain)
        return sorted(found, key=lambda t: rust_version(t.version))

    def remove(self, version: str) -> bool:
        final = self.prefix(version)
        with fsutil.lock(f"toolchain-debian-{version}"):
            fsutil.sweep_staging(final)
            if final.exists():
                shutil.rmtree(final)
                return True
        return False

    def provision(self, version: str, *, progress: Progress = _quiet) -> Toolchain:
        """Unpack (once) and return debian:`version`; concurrent callers wait for the first one's result."""
        spec = ToolchainSpec.parse(f"debian:{version}")
        final = self.prefix(version)
        cached = read_manifest(final)
        if cached is not None:
            return cached
        releases = self.releases()
        release = releases.get(version)
        if release is None:
            raise debian.unknown_version_error(version, releases)
        with fsutil.lock(f"toolchain-debian-{version}"):
            cached = read_manifest(final)
            if cached is not None:
                return cached
            fsutil.sweep_staging(final)
            if final.exists():
                progress(f"{final} has no valid {MANIFEST}: rebuilding it")
                shutil.rmtree(final)
            return self._provision_locked(spec, release, final, progress)

    def plan(self, release: debian.Release) -> tuple[debian.Plan, dict[str, dict[str, str]]]:
        """Which exact packages make up debian:`release` on this machine (and their apt paragraphs)."""
        apt = self.apt
        flavour = release.flavour
        index: dict[str, list[dict[str, str]]] = {}

        def lookup(names: Sequence[str]) -> dict[str, list[dict[str, str]]]:
            todo = [n for n in names if n not in index]
            if todo:
                fetched = apt.show(todo)
                for name in todo:
                    index[name] = fetched.get(name, [])
            return {n: index[n] for n in names}

        extra = lookup([flavour.cargo, flavour.wasm32_std, flavour.src])
        cargo = debian.pick_cargo(extra[flavour.cargo], flavour, release.debian_version)
        if cargo is None:
            raise ProvisionError(
                f"no {flavour.cargo} package fits {flavour.rustc} {release.debian_version}",
                hint="run `apt-get update`, or use another debian: version",
            )
        roots = [(flavour.rustc, release.debian_version), (flavour.cargo, cargo["Version"])]
        has_wasm_std = any(p["Version"] == release.debian_version for p in extra[flavour.wasm32_std])
        if has_wasm_std:
            roots.append((flavour.wasm32_std, release.debian_version))
        # The source builds the wasm32 std when Debian has none, and the mvp std from 1.82 on.
        needs_src = not has_wasm_std or reference_types_by_default(release.upstream)
        if needs_src and any(p["Version"] == release.debian_version for p in extra[flavour.src]):
            roots.append((flavour.src, release.debian_version))
        installed = apt.installed()
        own = frozenset({flavour.source})
        first = debian.plan_packages(roots, lookup=lookup, installed=installed, own_sources=own)
        major = debian.llvm_major(index[name][0] for name in first.packages if index.get(name))
        if major is None:
            raise ProvisionError(f"cannot tell which LLVM {flavour.rustc} {release.debian_version} uses")
        # lld-N is the rust-lld of this rustc: always in the prefix, so the symlink never points outside it.
        lld = lookup([f"lld-{major}"])[f"lld-{major}"]
        if not lld:
            raise ProvisionError(f"lld-{major} (rust-lld for {release.upstream}) is not in the apt index")
        roots.append((f"lld-{major}", debian.newest(lld)["Version"]))
        plan = debian.plan_packages(roots, lookup=lookup, installed=installed, own_sources=own)
        paragraphs = {
            name: next(p for p in index[name] if p["Version"] == version)
            for name, version in plan.packages.items()
        }
        return plan, paragraphs

    def _provision_locked(
        self, spec: ToolchainSpec, release: debian.Release, final: Path, progress: Progress
    ) -> Toolchain:
        timer = _Timer()
        log = _logs_dir() / f"debian-{release.upstream}.log"
        with timer.step("plan"):
            plan, paragraphs = self.plan(release)
        if plan.missing_system:
            raise ProvisionError(
                f"debian:{release.upstream} needs system packages that are not installed: "
                + ", ".join(plan.missing_system),
                hint=debian.SYSTEM_HINT,
            )
        progress(f"debian:{release.upstream}: {len(plan.packages)} packages ({', '.join(plan.packages)})")
        progress(f"downloading {len(plan.packages)} packages (cached .debs are reused)")
        with timer.step("download"), fsutil.lock("debian-downloads"):
            debs, fetched = self.apt.download(list(paragraphs.values()), paths.downloads_dir(), log=log)
        progress(f"downloaded {fetched} of {len(debs)} packages ({len(debs) - fetched} cached)")
        with fsutil.staging_dir(final) as stage:
            with timer.step("unpack"):
                progress(f"unpacking {len(debs)} packages")
                for deb in debs:
                    self.apt.unpack(deb, stage, log=log)
                debian.relativize_symlinks(stage)
                lib_dirs = find_lib_dirs(stage)
            ld_path = os.pathsep.join(str(d) for d in lib_dirs)
            toolchain = probe(spec=spec, bin_dir=stage / "usr" / "bin", env={"LD_LIBRARY_PATH": ld_path})
            if not toolchain.sysroot.resolve().is_relative_to(stage.resolve()):
                raise ProvisionError(f"unpacked rustc uses sysroot {toolchain.sysroot}, not its own prefix")
            major = toolchain.llvm_version.split(".")[0] if toolchain.llvm_version else None
            _wire_rust_lld(stage, toolchain.host, major)
            work = stage / ".work"
            prebuilt_std = toolchain.wasm32_std
            if not prebuilt_std:
                with timer.step("std_build"):
                    build_wasm32_std(
                        toolchain,
                        work / "std",
                        toolchain.sysroot / "lib" / "rustlib" / WASM_TARGET / "lib",
                        rustflags=DEFAULT_STD_RUSTFLAGS,
                        log=log,
                        progress=progress,
                    )
            mvp_rel: str | None = None
            if toolchain.reference_types_default:
                with timer.step("mvp_std_build"):
                    out = make_mvp_sysroot(
                        stage / MVP_SYSROOT,
                        toolchain.sysroot / "lib" / "rustlib" / toolchain.host,
                        toolchain.host,
                    )
                    build_wasm32_std(
                        toolchain, work / "mvp", out, rustflags=MVP_RUSTFLAGS, log=log, progress=progress
                    )
                mvp_rel = MVP_SYSROOT
            toolchain = probe(
                spec=spec,
                bin_dir=toolchain.bin_dir,
                env=toolchain.env,
                mvp_sysroot=stage / mvp_rel if mvp_rel else None,
            )
            toolchain.require_wasm32()
            pruned = prune_source(toolchain.sysroot) if not prebuilt_std else []
            with timer.step("verify"):
                progress(f"verifying debian:{release.upstream} (compiling a wasm32 cdylib)")
                features = check_features(toolchain, work / "verify", log=log)
            shutil.rmtree(work, ignore_errors=True)
            manifest = {
                "schema": MANIFEST_SCHEMA,
                "spec": str(spec),
                "version": toolchain.version,
                "verbose_version": toolchain.verbose_version,
                "host": toolchain.host,
                "cargo_version": toolchain.cargo_version,
                "cargo_verbose": toolchain.cargo_verbose,
                "llvm_version": toolchain.llvm_version,
                "wasm32_std": toolchain.wasm32_std,
                "wasm32_std_source": "debian package" if prebuilt_std else "built with -Z build-std",
                "paths": {
                    "sysroot": os.path.relpath(toolchain.sysroot, stage),
                    "bin_dir": os.path.relpath(toolchain.bin_dir, stage),
                    "lib_dirs": [os.path.relpath(d, stage) for d in lib_dirs],
                    "mvp_sysroot": mvp_rel,
                },
                "debian": {"flavour": release.flavour.source, "version": release.debian_version},
                "packages": plan.packages,
                "pruned_source": pruned,
                "package_reasons": plan.reasons,
                "target_features": {"default": features.default, "mvp": features.mvp},
                "timings": timer.seconds,
                "log": str(log),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            fsutil.atomic_write_text(stage / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        # rustc finds its sysroot relative to its own binary: prove it still does from the final place.
        try:
            with timer.step("verify_final"):
                result = read_manifest(final)
                if result is None:
                    raise ProvisionError(f"{final} has no readable {MANIFEST} after the rename")
                moved = probe(
                    spec=spec, bin_dir=result.bin_dir, env=result.env, mvp_sysroot=result.mvp_sysroot
                )
                if moved.sysroot.resolve() != result.sysroot.resolve():
                    raise ProvisionError(
                        f"{final}: rustc reports sysroot {moved.sysroot}, not {result.sysroot}"
                    )
                with tempfile.TemporaryDirectory(prefix=".verify-", dir=final.parent) as tmp:
                    check_features(result, Path(tmp), log=log)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        self.last_timings = dict(timer.seconds)
        manifest["timings"] = timer.seconds
        fsutil.atomic_write_text(final / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        progress(f"debian:{release.upstream} ready in {final} ({_format_timings(timer.seconds)})")
        return result


def _format_timings(seconds: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())


# Parts of the Rust source package that -Z build-std never reads (compiler and tools, ~365 MB on 1.96).
PRUNABLE_SOURCE = ("src", "compiler", "tests")


def prune_source(sysroot: Path) -> list[str]:
    """Drop the compiler/tool sources once std is built, when `library/` is a workspace of its own.

    Before Rust 1.86 (or so) `library/` belonged to the root workspace, whose members live in the pruned
    trees: there, keep everything so a later `-Z build-std` still works.
    """
    root = sysroot / "lib" / "rustlib" / "src" / "rust"
    if not (root / "library" / "Cargo.lock").is_file():
        return []
    removed = []
    for name in PRUNABLE_SOURCE:
        target = (root / name).resolve()
        if target.is_dir():
            shutil.rmtree(target)
            removed.append(name)
    return removed


def find_lib_dirs(prefix: Path) -> list[Path]:
    """LD_LIBRARY_PATH for an unpacked prefix (Debian binaries have no RPATH).

    The multiarch dir holding librustc_driver, plus the same dir under /lib: some bookworm libraries
    (libpcre3, needed by cargo 1.85) still ship in /lib/<multiarch>.
    """
    drivers = sorted((prefix / "usr" / "lib").glob("*/librustc_driver-*.so"))
    if not drivers:
        raise ProvisionError(
            f"no librustc_driver-*.so under {prefix}/usr/lib: the rustc package did not unpack"
        )
    multiarch = drivers[0].parent.name
    return [d for d in (prefix / "usr" / "lib" / multiarch, prefix / "lib" / multiarch) if d.is_dir()]


def _wire_rust_lld(prefix: Path, host: str, llvm_major: str | None) -> Path:
    """Point `<sysroot>/lib/rustlib/<host>/bin/rust-lld` (where rustc looks) at the prefix's own lld."""
    candidates = sorted((prefix / "usr" / "lib").glob(f"llvm-{llvm_major or '*'}/bin/lld"))
    if not candidates:
        raise ProvisionError(
            f"no lld binary under {prefix}/usr/lib/llvm-*/bin: the lld package did not unpack"
        )
    lld = candidates[-1]
    bin_dir = prefix / "usr" / "lib" / "rustlib" / host / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / "rust-lld"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(lld, bin_dir))
    return link


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

    def _rustup(self) -> str:
        return tools.which("rustup")

    @staticmethod
    def dist_server() -> str:
        return os.environ.get("RUSTUP_DIST_SERVER", "https://static.rust-lang.org")

    def available(self) -> list[str]:
        """Installed toolchains only: rustup cannot list remote versions (and here it may be offline)."""
        try:
            result = tools.run([self._rustup(), "toolchain", "list"], timeout=PROBE_TIMEOUT, check=False)
        except ToolMissing:
            return []
        return parse_rustup_toolchain_list(result.output)

    def _bin_dir(self, name: str) -> Path | None:
        env = _without(os.environ, "RUSTUP_TOOLCHAIN")
        result = tools.run(
            [self._rustup(), "which", "rustc", "--toolchain", name],
            env=env,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
        if not result.ok:
            return None
        return Path(result.output.strip().splitlines()[-1]).parent

    def _probe(self, name: str, bin_dir: Path, note: str = "") -> Toolchain:
        spec = ToolchainSpec(provider=self.name, version=name)
        toolchain = probe(spec=spec, bin_dir=bin_dir, env={"RUSTUP_TOOLCHAIN": name}, note=note)
        mvp = self.mvp_prefix(toolchain) / MVP_SYSROOT
        if toolchain.reference_types_default and wasm32_std_present(mvp):
            toolchain = dataclasses.replace(toolchain, mvp_sysroot=mvp)
        return toolchain

    def mvp_prefix(self, toolchain: Toolchain) -> Path:
        """Where our mvp std for this exact rustup rustc lives (keyed by its verbose version)."""
        digest = hashlib.sha256(toolchain.verbose_version.encode()).hexdigest()[:12]
        return paths.toolchains_dir() / f"rustup-{_safe(toolchain.spec.version)}-{digest}"

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

    def provision(self, version: str, *, progress: Progress = _quiet) -> Toolchain:
        name = version
        rustup = self._rustup()
        env = _without(os.environ, "RUSTUP_TOOLCHAIN")
        bin_dir = self._bin_dir(name)
        if bin_dir is None:
            if not _network_reachable(self.dist_server()):
                raise self._offline_error("install the toolchain", name)
            progress(f"rustup: installing {name} (minimal profile, with {WASM_TARGET})")
            try:
                tools.run(
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
                    log=_logs_dir() / f"rustup-{_safe(name)}.log",
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
                added = tools.run(
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
        if toolchain.reference_types_default and toolchain.mvp_sysroot is None:
            toolchain = self._ensure_mvp(toolchain, progress)
        return toolchain

    def _ensure_mvp(self, toolchain: Toolchain, progress: Progress) -> Toolchain:
        """Build the mvp std once when rust-src is there; without it the toolchain just has no mvp sysroot."""
        library = toolchain.sysroot / "lib" / "rustlib" / "src" / "rust" / "library"
        if not library.is_dir():
            progress(
                f"note: rustup:{toolchain.spec.version} has no rust-src: reference-types OFF unavailable"
            )
            return toolchain
        final = self.mvp_prefix(toolchain)
        with fsutil.lock(f"toolchain-{final.name}"):
            if not wasm32_std_present(final / MVP_SYSROOT):
                fsutil.sweep_staging(final)
                shutil.rmtree(final, ignore_errors=True)
                log = _logs_dir() / f"{final.name}.log"
                with fsutil.staging_dir(final) as stage:
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


class PathProvider:
    """`path:/prefix`: an existing prefix with bin/rustc and bin/cargo, remembered in a small registry."""

    name = "path"

    @staticmethod
    def registry_path() -> Path:
        return paths.toolchains_dir() / PATH_REGISTRY

    def available(self) -> list[str]:
        """Nothing to discover: any prefix the user names."""
        return []

    def installed(self) -> list[Toolchain]:
        found = []
        for entry in _read_registry(self.registry_path()):
            with contextlib.suppress(KeyError, TypeError, ValueError, WasmBisectError):
                toolchain = Toolchain.from_json(entry)
                if toolchain.rustc.is_file() and toolchain.cargo.is_file():
                    found.append(toolchain)
        return found

    def provision(self, version: str, *, progress: Progress = _quiet) -> Toolchain:
        prefix = paths.expand(version).resolve()
        bin_dir = prefix / "bin"
        for program in ("rustc", "cargo"):
            if not (bin_dir / program).is_file():
                raise UsageError(
                    f"path:{prefix} has no bin/{program}",
                    hint="give a prefix containing bin/rustc and bin/cargo (e.g. ~/.rustup/toolchains/NAME)",
                )
        env = {}
        libs = sorted((prefix / "lib").glob("*/librustc_driver-*.so"))
        if libs:  # a Debian-style layout: binaries without RPATH need the multiarch dir
            env["LD_LIBRARY_PATH"] = str(libs[0].parent)
        spec = ToolchainSpec(provider=self.name, version=str(prefix))
        mvp = prefix / MVP_SYSROOT if wasm32_std_present(prefix / MVP_SYSROOT) else None
        if mvp is None and wasm32_std_present(prefix.parent / MVP_SYSROOT):
            mvp = prefix.parent / MVP_SYSROOT  # path:<debian prefix>/usr
        toolchain = probe(spec=spec, bin_dir=bin_dir, env=env, mvp_sysroot=mvp)
        with fsutil.lock("path-toolchains"):
            entries = [e for e in _read_registry(self.registry_path()) if e.get("spec") != str(spec)]
            _write_registry(self.registry_path(), [*entries, toolchain.to_json()])
        if not toolchain.wasm32_std:
            progress(f"warning: path:{prefix} has no {WASM_TARGET} std; it cannot build wasm")
        return toolchain

    def remove(self, version: str) -> bool:
        spec = str(ToolchainSpec(provider=self.name, version=str(paths.expand(version).resolve())))
        with fsutil.lock("path-toolchains"):
            entries = _read_registry(self.registry_path())
            kept = [e for e in entries if e.get("spec") != spec]
            _write_registry(self.registry_path(), kept)
        return len(kept) != len(entries)


def _without(env: Mapping[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


# ---------------------------------------------------------------------------------------------------------
# Public entry points


def provider(name: str) -> Provider:
    """The provider called `name` (debian, rustup or path)."""
    providers: dict[str, Callable[[], Provider]] = {
        "debian": DebianProvider,
        "rustup": RustupProvider,
        "path": PathProvider,
    }
    if name not in providers:
        raise UsageError(f"unknown toolchain provider {name!r}", hint=f"use one of {', '.join(providers)}")
    return providers[name]()


def _same_spec(toolchain: Toolchain, spec: ToolchainSpec) -> bool:
    if spec.provider == "path":
        return toolchain.spec.version == str(paths.expand(spec.version).resolve())
    return toolchain.spec == spec


def resolve(spec: ToolchainSpec, *, provision: bool = True, progress: Progress = _quiet) -> Toolchain:
    """The toolchain to build wasm with, provisioned on demand; ProvisionError if it cannot build wasm32."""
    chosen = provider(spec.provider)
    found: Toolchain | None
    if provision:
        found = chosen.provision(spec.version, progress=progress)
    else:
        found = next((t for t in chosen.installed() if _same_spec(t, spec)), None)
    if found is None:
        raise ProvisionError(
            f"toolchain {spec} is not provisioned", hint=f"run `wasm-bisect toolchain add {spec}`"
        )
    found.require_wasm32()
    return found


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
    if missing:
        releases = DebianProvider().releases()
        for version in missing:
            if version not in releases:
                raise debian.unknown_version_error(version, releases)


def installed() -> list[Toolchain]:
    """Every toolchain any provider has ready (for `wasm-bisect toolchain list`)."""
    found: list[Toolchain] = []
    for name in ("debian", "rustup", "path"):
        with contextlib.suppress(WasmBisectError):
            found.extend(provider(name).installed())
    return found


def available() -> dict[str, list[str]]:
    """Per provider, the versions it could give (debian: from apt; rustup: installed only; path: any)."""
    result: dict[str, list[str]] = {}
    for name in ("debian", "rustup", "path"):
        try:
            result[name] = provider(name).available()
        except WasmBisectError:
            result[name] = []
    return result


def remove(spec: ToolchainSpec) -> bool:
    """Forget a provisioned toolchain (debian: delete its prefix; path: unregister); True if it existed."""
    if spec.provider == "debian":
        return DebianProvider().remove(spec.version)
    if spec.provider == "path":
        return PathProvider().remove(spec.version)
    raise UsageError(
        f"{spec} is managed by rustup", hint=f"run `rustup toolchain uninstall {spec.version}` yourself"
    )
