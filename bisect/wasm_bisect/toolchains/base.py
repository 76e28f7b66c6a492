"""Toolchain providers (debian, rustup, path) behind one interface; `resolve` is what build code calls.

A `Toolchain` says where rustc/cargo live and how to run them (`environ`), whether it has a wasm32 std, and
where an mvp std (reference-types off on rustc >= 1.82) lives. Debian toolchains are unpacked side by side
from .debs into one relocatable prefix per version, with a wasm32 std built from source if Debian has none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from wasm_bisect.domain.compat import reference_types_by_default
from wasm_bisect.domain.errors import CommandFailed, ProvisionError, ToolMissing, UsageError, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.domain.versions import rust_release
from wasm_bisect.util import fs, paths, processes, wasmfile

Progress = Callable[[str], None]

WASM_TARGET = "wasm32-unknown-unknown"
MANIFEST = "toolchain.json"
MANIFEST_SCHEMA = 1
PATH_REGISTRY = "path-toolchains.json"
MVP_SYSROOT = "mvp-sysroot"
STD_BUILD_TIMEOUT = 3600.0
PROBE_TIMEOUT = processes.QUERY_TIMEOUT
NETWORK_CHECK_SECONDS = 5.0
RUSTUP_INSTALL_TIMEOUT = 900.0
RUSTUP_TARGET_TIMEOUT = 300.0
MVP_RUSTFLAGS = ("-Cembed-bitcode=yes", "-Ctarget-cpu=mvp")
# Bitcode in the std rlibs keeps `lto = true` release builds working against a std we built ourselves.
DEFAULT_STD_RUSTFLAGS = ("-Cembed-bitcode=yes",)
# What -Z build-std builds: std, and libtest for test harnesses (`cargo test`, wasm-pack test) on wasm32.
STD_CRATES = "std,panic_abort,test"
PROBE_CRATE = "wasm_bisect_probe"
STD_CRATE = "wasm_bisect_std"


def quiet(_message: str) -> None:
    """Default progress sink: say nothing."""


# ---------------------------------------------------------------------------------------------------------
# Pure helpers


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
    version = line.removeprefix("cargo ")
    try:
        numbers = rust_release(version)
    except UsageError:
        raise ProvisionError(f"unexpected `cargo -V` output: {text.strip()[:200]!r}") from None
    return line, ".".join(map(str, numbers))


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
    except (OSError, ValueError, RecursionError):  # a hand-edited cache file is no crash
        return None
    if not isinstance(data, dict):
        return None
    return manifest_to_toolchain(prefix, data)


def provisioned(provider: str) -> list[Toolchain]:
    """The toolchains a provider has provisioned under the work directory (`<provider>-*/toolchain.json`), read
    from their manifests only: no apt, no rustup, no network. Sorted by Rust release."""
    root = paths.toolchains_dir()
    found = []
    for prefix in sorted(root.glob(f"{provider}-*")) if root.is_dir() else []:
        toolchain = read_manifest(prefix)
        if toolchain is not None and toolchain.spec.provider == provider:
            found.append(toolchain)
    return sorted(found, key=lambda t: rust_release(t.version))


def read_manifest_data(prefix: Path) -> dict[str, Any]:
    """The raw manifest (timings, packages, target features) for reports; {} when unreadable."""
    try:
        data = json.loads((prefix / MANIFEST).read_text())
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def write_manifest(stage: Path, *, spec: ToolchainSpec, toolchain: Toolchain, std_source: str, bin_dir: Path,
                   lib_dirs: Sequence[str | Path] = (), mvp_sysroot: str | None = None,
                   target_features: Mapping[str, Any], timings: Mapping[str, float], log: Path,
                   provider: Mapping[str, Any]) -> dict[str, Any]:
    """The toolchain.json of a staged prefix, every provider alike. rustc reports its sysroot with symlinks
    resolved: paths are related to the resolved stage, or a home (or a toolchains dir) reached through a symlink
    would record a path through the staging dir's name. `provider` holds what only that provider records."""
    root = stage.resolve()
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
        "wasm32_std_source": std_source,
        "paths": {
            "sysroot": os.path.relpath(toolchain.sysroot.resolve(), root),
            "bin_dir": os.path.relpath(bin_dir.resolve(), root),
            "lib_dirs": [os.path.relpath(Path(d).resolve(), root) for d in lib_dirs],
            "mvp_sysroot": mvp_sysroot,
        },
        **provider,
        "target_features": dict(target_features),
        "timings": dict(timings),
        "log": str(log),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    fs.atomic_write_text(stage / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_registry(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return []
    entries = data.get("toolchains") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def write_registry(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    fs.atomic_write_text(path, json.dumps({"schema": 1, "toolchains": list(entries)}, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------------
# Running a toolchain: probe, compile a trivial cdylib, build a wasm32 std


def inspect_toolchain(
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
        info = _parse_or_refuse(spec, processes.output([draft.rustc, "-vV"], env=full_env, timeout=PROBE_TIMEOUT))
        sysroot = Path(processes.output([draft.rustc, "--print", "sysroot"], env=full_env, timeout=PROBE_TIMEOUT))
        cargo_line, cargo_version = parse_cargo_version(
            processes.output([draft.cargo, "-V"], env=full_env, timeout=PROBE_TIMEOUT)
        )
    except ToolMissing as exc:
        raise ProvisionError(f"toolchain {spec} does not run: {exc.message}",
                             hint="check the prefix: bin/rustc and bin/cargo must be programs") from exc
    except CommandFailed as exc:
        tail = exc.log_tail.strip()[-300:]
        raise ProvisionError(
            f"toolchain {spec} does not run: {exc.message}" + (f": {tail}" if tail else ""),
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


def _parse_or_refuse(spec: ToolchainSpec, text: str) -> RustcInfo:
    try:
        return parse_rustc_vv(text)
    except ProvisionError as exc:
        raise ProvisionError(f"toolchain {spec} does not run as rustc: {exc.message}",
                             hint="check the prefix: bin/rustc must be a Rust compiler") from None


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
    processes.run(
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
    progress: Progress = quiet,
    crates: str = STD_CRATES,
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
    args = ["build", "-Z", f"build-std={crates}", "--target", WASM_TARGET, "--release"]
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
        processes.run(
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


TEST_SYSROOTS = "test-sysroots"  # under the toolchains dir: sysroots whose wasm32 std has libtest


def test_sysroot(toolchain: Toolchain, *, mvp: bool = False, progress: Progress = quiet) -> Path | None:
    """A sysroot whose wasm32 std includes libtest, for a test harness (`cargo test`, wasm-pack test); None when
    the toolchain's own std (the mvp one with `mvp`) has it already.

    Toolchains provisioned before libtest was part of the std build lack it, and a libtest built later cannot
    join the installed std (rustc would see a different std). So std and libtest are built together, the same
    way as the toolchain's std, into a sysroot of their own (built once, shared, renamed into place whole).
    """
    own = toolchain.mvp_sysroot if mvp else toolchain.sysroot
    if own is None or any((own / "lib" / "rustlib" / WASM_TARGET / "lib").glob("libtest-*.rlib")):
        return None
    # The real path: homes that link the machine's toolchains share one test sysroot per toolchain.
    digest = hashlib.sha256(f"{toolchain.verbose_version}|{toolchain.sysroot.resolve()}".encode()).hexdigest()[:10]
    safe = str(toolchain.spec).replace(":", "-").replace("/", "_")
    final = paths.toolchains_dir() / TEST_SYSROOTS / f"{safe}-{digest}-{'mvp' if mvp else 'std'}"
    lib = final / "lib" / "rustlib" / WASM_TARGET / "lib"
    if any(lib.glob("libtest-*.rlib")):
        return final
    with fs.lock(f"test-sysroot-{final.name}"):
        if any(lib.glob("libtest-*.rlib")):
            return final
        fs.sweep_staging(final)
        if final.exists():  # incomplete: build it again
            shutil.rmtree(final)
        log = final.parent / f"{final.name}.log"
        progress(f"building a {WASM_TARGET} std with libtest for {toolchain.spec} (test harnesses need it; once)")
        with fs.staging_dir(final) as stage:
            out = build_std_sysroot(toolchain, stage, stage / ".work", mvp=mvp, log=log, progress=progress)
            shutil.rmtree(stage / ".work", ignore_errors=True)
            if not any(out.glob("libtest-*.rlib")):
                raise ProvisionError(f"building libtest for {toolchain.spec} gave no libtest rlib", hint=f"see {log}")
    return final


def make_mvp_sysroot(root: Path, host_rustlib: Path, host: str) -> Path:
    """Lay out `root` as a sysroot: wasm32 lib dir to fill, host rustlib linked (relative) to the real one (rustc
    finds rust-lld there)."""
    rustlib = root / "lib" / "rustlib"
    (rustlib / WASM_TARGET / "lib").mkdir(parents=True, exist_ok=True)
    link = rustlib / host
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(host_rustlib.resolve(), rustlib.resolve()))  # rustc reports resolved paths
    return rustlib / WASM_TARGET / "lib"


def build_std_sysroot(toolchain: Toolchain, root: Path, work: Path, *, mvp: bool, log: Path,
                      progress: Progress = quiet) -> Path:
    """Lay out a sysroot at `root` beside the toolchain's and fill its wasm32 lib dir with a std built from source:
    for target-cpu=mvp (reference-types off on rustc >= 1.82) with `mvp`, else as the toolchain's own std. The one
    writer of a built std (the mvp std of debian and rustup toolchains, the test sysroots); returns the lib dir."""
    out = make_mvp_sysroot(root, toolchain.sysroot / "lib" / "rustlib" / toolchain.host, toolchain.host)
    build_wasm32_std(toolchain, work, out, rustflags=MVP_RUSTFLAGS if mvp else DEFAULT_STD_RUSTFLAGS, log=log,
                     progress=progress)
    return out


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

    def provision(self, version: str, *, progress: Progress = quiet, mvp_std: bool = False) -> Toolchain: ...

    def with_mvp_std(self, toolchain: Toolchain, *, progress: Progress = quiet) -> Toolchain: ...


def logs_dir() -> Path:
    directory = paths.home() / "logs" / "toolchains"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in text)


class StepTimer:
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



def without(env: Mapping[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def add_mvp_std(current: Toolchain, final: Path, *, log: Path, progress: Progress = quiet) -> tuple[Toolchain, float]:
    """Build the reference-types-off (mvp) std into the prefix `final` (staged, then verified), and only then name it
    in the prefix's manifest; the toolchain as it reads back, and the seconds the build took. The one way a
    provider adds an mvp std to a provisioned prefix: call it holding the prefix's lock."""
    data = read_manifest_data(final)
    target = final / MVP_SYSROOT
    fs.sweep_staging(target)
    shutil.rmtree(target, ignore_errors=True)
    timer = StepTimer()
    with timer.step("mvp_std_build"), fs.staging_dir(target) as stage:
        work = Path(tempfile.mkdtemp(prefix=".mvp-work-", dir=final))
        try:
            build_std_sysroot(current, stage, work, mvp=True, log=log, progress=progress)
            features = check_features(replace(current, mvp_sysroot=stage), work / "verify", log=log)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    # The manifest names the mvp sysroot only once it is complete and verified in its final place.
    data["paths"]["mvp_sysroot"] = MVP_SYSROOT
    data.setdefault("target_features", {})["mvp"] = features.mvp
    data.setdefault("timings", {}).update(timer.seconds)
    fs.atomic_write_text(final / MANIFEST, json.dumps(data, indent=2) + "\n")
    result = read_manifest(final)
    if result is None or result.mvp_sysroot is None:
        raise ProvisionError(f"{final}: the manifest does not read back after adding the mvp std")
    return result, timer.seconds["mvp_std_build"]
