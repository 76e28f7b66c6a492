"""Write a variant crate and build it with wasm-pack; stages are timed from wasm-pack's own progress lines.

A template's crate pins wasm-bindgen in its Cargo.toml and is resolved afresh; the user's own project keeps its
Cargo.lock, and the resolver moves only the wasm-bindgen family in it (`cargo update --precise`). Either way the
lock is MSRV-aware for the cell's rustc, and old cargo gets lockfile v3 and vendored sources.
A broken environment (tool missing, timeout, crash) gives ERROR; an incompatible pair or a crate that does not
build gives SKIP (or BAD when the user asks build failures to count as the bug).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import toml
from packaging.version import Version

from wasm_bisect.bindgen.toolcache import CachedTool, host_build_env
from wasm_bisect.domain.compat import cargo_reaches_crates_io
from wasm_bisect.domain.errors import CommandFailed, ToolMissing
from wasm_bisect.domain.model import ReferenceTypes, Stage, Variant, Verdict
from wasm_bisect.domain.reproduce import probe_command
from wasm_bisect.domain.versions import cargo_release
from wasm_bisect.probe import reasons, runtimes, rustflags
from wasm_bisect.probe.check import signature_matches
from wasm_bisect.probe.family import is_family
from wasm_bisect.probe.reproducer import Materialised, Reproducer, write_files
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.util import fs, paths, processes

BUILD_TIMEOUT = 1800.0
RESOLVE_TIMEOUT = 600.0
LOCKFILE_V4_CARGO = Version("1.78")

# wasm-pack progress lines that open a stage, in build order. wasm-pack prints nothing when it starts
# wasm-bindgen, so cargo's own "Finished" line marks that boundary; the package.json step marks the end.
_BUILD_END = Stage.CHECK
_STAGE_MARKERS: tuple[tuple[re.Pattern[str], Stage], ...] = (
    (re.compile(r"Compiling to Wasm"), Stage.CARGO_BUILD),
    (re.compile(r"^\s*Finished .*target\(s\)"), Stage.WASM_BINDGEN),
    (re.compile(r"Optimizing wasm binaries"), Stage.WASM_OPT),
    (re.compile(r"Optional fields missing|Done in|Your wasm pkg is ready"), _BUILD_END),
)
_INFRA_PATTERNS = (
    "Not able to find or install a local",
    "can't find crate for `std`",
    "can't find crate for `core`",
    "target not found in sysroot",
    "error while loading shared libraries",
    "No space left on device",
    "failed to get `",
    "Could not resolve host",
)


@dataclass
class StageClock:
    """Turns a stream of log lines into per-stage durations."""

    current: Stage
    started: float = field(default_factory=time.monotonic)
    timings: dict[str, float] = field(default_factory=dict)

    def enter(self, stage: Stage) -> None:
        now = time.monotonic()
        self.timings[str(self.current)] = self.timings.get(str(self.current), 0.0) + now - self.started
        self.current, self.started = stage, now

    def feed(self, line: str) -> None:
        for pattern, stage in _STAGE_MARKERS:
            if pattern.search(line) and stage != self.current:
                self.enter(stage)
                return

    def close(self) -> dict[str, float]:
        self.enter(self.current)
        return {k: round(v, 3) for k, v in self.timings.items()}


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    verdict: Verdict | None  # None: built fine, go on to the check
    reason: str
    stage: Stage
    exit_code: int | None = None
    log_tail: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    pkg_module: Path | None = None
    crate: Materialised | None = None  # where the crate was written (the check runs in crate.package)
    env: dict[str, str] = field(default_factory=dict, repr=False)  # the build's environment (the check's base)


@dataclass(frozen=True, kw_only=True)
class FlagPlan:
    """The RUSTFLAGS of one variant: the project's own (if any) then the reference-types layer's."""

    flags: list[str] | None  # None: the cell cannot be built as asked (see `reason`)
    listed: list[tuple[str, str]]  # (flag, where it came from), for the evidence
    layer: str  # what the codegen layer does
    reason: str | None = None  # why the cell is untestable

    def evidence(self) -> list[dict[str, str]]:
        return [{"flag": f, "from": where} for f, where in self.listed]


def flag_plan(variant: Variant, project_flags: tuple[tuple[str, str], ...], toolchain: Toolchain) -> FlagPlan:
    """Merge the project's flags with the reference-types layer; a project flag that fights the cell's setting
    makes the cell untestable (it would not test what it says)."""
    layer, said = codegen_flags(variant, toolchain)
    if layer is None:
        return FlagPlan(flags=None, listed=list(project_flags), layer=said, reason=said)
    rt = variant.reference_types
    wanted = {ReferenceTypes.ON: True, ReferenceTypes.OFF: False}.get(rt, toolchain.reference_types_default)
    owns_sysroot = any(f.startswith("--sysroot") for f in layer)
    merged, conflict = rustflags.merge(project_flags, layer, layer_origin=f"reference-types {rt}", wanted=wanted,
                                       setting=str(rt), owns_sysroot=owns_sysroot)
    if conflict is not None:
        return FlagPlan(flags=None, listed=merged, layer=said, reason=conflict)
    return FlagPlan(flags=[f for f, _ in merged], listed=merged, layer=said)


def codegen_flags(variant: Variant, toolchain: Toolchain) -> tuple[list[str] | None, str]:
    """RUSTFLAGS for the reference-types setting, and which layer sets it; None flags = cannot be done."""
    rt = variant.reference_types
    new_default = toolchain.reference_types_default
    if rt is ReferenceTypes.ON:
        return ["-Ctarget-feature=+reference-types"], "codegen: -Ctarget-feature=+reference-types"
    if rt is ReferenceTypes.OFF:
        if not new_default:
            return ["-Ctarget-feature=-reference-types"], "codegen: -Ctarget-feature=-reference-types"
        if toolchain.mvp_sysroot is None:
            return None, (
                f"reference-types cannot be turned off on rustc {toolchain.version} without a std built for "
                f"target-cpu=mvp, and {toolchain.spec} has none"
            )
        return (
            [f"--sysroot={toolchain.mvp_sysroot}", "-Ctarget-cpu=mvp"],
            "codegen: -Ctarget-cpu=mvp with an mvp-built std (reference-types off)",
        )
    return [], "codegen: toolchain default" + (" (reference-types on since rustc 1.82)" if new_default else "")


def bindgen_layer(variant: Variant) -> str:
    if variant.reference_types is ReferenceTypes.EXTERNREF:
        return "wasm-bindgen: WASM_BINDGEN_EXTERNREF=1 (externref transform forced)"
    return "wasm-bindgen: default (from 0.2.94 the transform follows the module's target_features)"


def wasm_pack_args(variant: Variant, crate_dir: Path, *, cargo_args: tuple[str, ...] = (), no_opt: bool = False
                   ) -> list[str]:
    """`wasm-pack build` of the crate; `no_opt` for a project whose Cargo.toml the tool does not edit (a template's
    says wasm-opt = false itself), `cargo_args` (features) after `--`."""
    profile_flag = {"release": "--release", "dev": "--dev", "profiling": "--profiling"}[variant.options.profile]
    args = ["build", str(crate_dir), "--target", variant.options.target, profile_flag, "--mode", "no-install"]
    if no_opt:
        args.append("--no-opt")
    if cargo_args:
        args += ["--", *cargo_args]
    return args


def cargo_version(toolchain: Toolchain) -> Version:
    """The Rust release of the toolchain's cargo (what decides lockfile and index support)."""
    return Version(".".join(map(str, cargo_release(toolchain.cargo_version))))


@contextlib.contextmanager
def target_slot(toolchain: Toolchain, rustflags: list[str]) -> Iterator[Path]:
    """A cargo target dir reused across variants of one toolchain, one per concurrent build.

    Reuse saves recompiling proc-macro dependencies on every probe; one dir per slot keeps -j N builds from
    queueing on cargo's build-directory lock.
    """
    base = slot_family(toolchain, rustflags)
    slot = 0
    while True:
        lock = fs.lock(f"target-{base.name}-{slot}", timeout=0)
        try:
            lock.acquire()
        except Exception:
            slot += 1
            continue
        try:
            yield base / f"slot{slot}"
        finally:
            lock.release()
        return


def slot_family(toolchain: Toolchain, rustflags: list[str]) -> Path:
    """The directory of a toolchain's target slots for these RUSTFLAGS."""
    # One family of slots per RUSTFLAGS: a flag change would otherwise rebuild every dependency.
    flags = hashlib.sha256(" ".join(rustflags).encode()).hexdigest()[:8]
    spec = str(toolchain.spec).replace(":", "-").replace("/", "_")
    return paths.work_dir() / "targets" / f"{spec}-{flags}"


WARM_MARKS = ".wasm-bisect-warm"  # inside a slot: pruning the slot forgets them


def _warm_name(variant: Variant) -> str:
    label = variant.bindgen.label() if variant.bindgen.kind == "crates" else variant.bindgen.version
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in f"{label}-{variant.options.profile}")


def mark_warm(slot: Path, variant: Variant) -> None:
    """Note that `slot` has compiled the dependency set of this wasm-bindgen release and profile."""
    marks = slot / WARM_MARKS
    marks.mkdir(parents=True, exist_ok=True)
    (marks / _warm_name(variant)).touch()


def is_warm(variant: Variant, toolchain: Toolchain) -> bool:
    """Whether some target slot of the variant's toolchain and flags compiled its wasm-bindgen already."""
    rustflags, _ = codegen_flags(variant, toolchain)
    if rustflags is None:
        return False
    name = _warm_name(variant)
    family = slot_family(toolchain, rustflags)
    return any((slot / WARM_MARKS / name).is_file() for slot in family.glob("slot*"))


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


def write_crate(crate_dir: Path, files: Mapping[str, bytes]) -> None:
    write_files(crate_dir, files)


def classify_build_failure(variant: Variant, stage: Stage, tail: str, rc: int, timed_out: bool, *,
                           signature: str | None = None) -> tuple[Verdict, str]:
    """A failed build: an environment problem is an error; else skip, or bad with --build-failure bad (when a
    signature is given, only a failure that matches it is the bug: another one is untestable)."""
    if timed_out:
        return Verdict.ERROR, f"{stage} did not finish within the build time limit"
    if rc < 0:
        return Verdict.ERROR, f"wasm-pack was killed by signal {-rc} during {stage}"
    for pattern in _INFRA_PATTERNS:
        if pattern in tail:
            return Verdict.ERROR, f"{stage} failed for an environment reason: {pattern}"
    detail = reasons.reason_line(tail)
    if variant.options.build_failure == "bad":
        matched = signature_matches(signature, tail)
        if matched is None:
            return Verdict.ERROR, "the failure signature took too long to match the build output"
        if not matched:
            return Verdict.SKIP, f"{stage} failed differently from the bug under study: {detail}"
        return Verdict.BAD, f"{stage} failed (build failures count as bad): {detail}"
    return Verdict.SKIP, f"{stage} failed, so the cell is untestable: {detail}"


def resolve(
    *,
    crate_dir: Path,
    variant: Variant,
    toolchain: Toolchain,
    log: Path,
    crate: Materialised | None = None,
    cache_key: str | None = None,
) -> BuildResult | None:
    """Write Cargo.lock with the host cargo, MSRV-aware; vendor for an old cargo. None = resolved fine.

    A template's crate (its manifest pins wasm-bindgen) is resolved afresh; a project that brings its own lock
    (`crate.pinning == "lockfile"`) is moved to the variant's wasm-bindgen family by the resolver instead.
    """
    if crate is not None and crate.pinning == "lockfile":
        return pin_lockfile(crate=crate, variant=variant, toolchain=toolchain, log=log, cache_key=cache_key)
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
        return _resolve_failed(result, "no dependency set satisfies this pair: ")
    return _after_lock(crate_dir=crate_dir, variant=variant, toolchain=toolchain, log=log)


def _resolve_failed(result: processes.Completed, why: str) -> BuildResult:
    tail = result.output
    if result.timed_out or "Could not resolve host" in tail or "failed to download" in tail:
        return BuildResult(verdict=Verdict.ERROR, reason="resolving dependencies failed (network?)",
                           stage=Stage.RESOLVE, exit_code=result.returncode, log_tail=tail)
    return BuildResult(verdict=Verdict.SKIP, stage=Stage.RESOLVE, exit_code=result.returncode, log_tail=tail,
                       reason=why + resolver_reason(tail))


def resolver_reason(output: str) -> str:
    """The resolver's own words: its error line and the lines that explain it (which requirement, whose)."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("error"):
            said = [line.strip().removeprefix("error: ")]
            for more in lines[i + 1:i + 6]:
                if not more.strip() or more.lstrip().startswith(("error", "warning", "note", "+ ")):
                    break
                said.append(more.strip())
            return "; ".join(said)[:600]
    return output.strip()[-300:]


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


def pin_lockfile(*, crate: Materialised, variant: Variant, toolchain: Toolchain, log: Path,
                 cache_key: str | None) -> BuildResult | None:
    """Move the project's own Cargo.lock to wasm-bindgen `variant.bindgen.version` with the resolver.

    `cargo update --precise V -p wasm-bindgen@OLD -p js-sys@OLD ...`: cargo gives the precise version to the first
    spec (wasm-bindgen) and unlocks the rest of the family, so js-sys, web-sys, the macro and test crates follow
    to the releases that pin V exactly, while every unrelated dependency stays as the user locked it.
    """
    workspace = crate.workspace
    lock_path = workspace / "Cargo.lock"
    version = variant.bindgen.version
    if crate.tool_config_dir is not None and crate.tool_config_dir != workspace:
        # An earlier probe in this directory left its vendoring config (offline, crates from the vendor
        # directory): the resolver must see crates.io, not that.
        (crate.tool_config_dir / ".cargo" / "config.toml").unlink(missing_ok=True)
    reusable = cache_key is not None and variant.bindgen.kind == "crates"
    cached = paths.home() / "lock-cache" / f"crate-{cache_key}.lock"
    if reusable and cached.is_file():
        if _pins_exactly(cached, version):
            shutil.copyfile(cached, lock_path)
            return _after_lock(crate_dir=workspace, variant=variant, toolchain=toolchain, log=log,
                               config_dir=crate.tool_config_dir)
        cached.unlink(missing_ok=True)
    env = resolver_env(toolchain)
    if crate.relock:  # --relock: the user's lock is set aside; cargo resolves afresh for the cell's rustc
        lock_path.unlink(missing_ok=True)
    if not lock_path.is_file():  # a project without a lock: resolve it first, like cargo would
        made = processes.run(["cargo", "generate-lockfile"], cwd=workspace, env=env, log=log, timeout=RESOLVE_TIMEOUT,
                             check=False)
        if not made.ok:
            return _resolve_failed(made, "the project's dependencies do not resolve: ")
    specs = family_specs(lock_path.read_text())
    if not specs or not specs[0].startswith("wasm-bindgen@"):
        return BuildResult(verdict=Verdict.SKIP, stage=Stage.RESOLVE,
                           reason="the project's Cargo.lock has no wasm-bindgen from crates.io to move")
    argv = ["cargo", "update", "--precise", version]
    for spec in specs:
        argv += ["-p", spec]
    result = processes.run(argv, cwd=workspace, env=env, log=log, timeout=RESOLVE_TIMEOUT, check=False)
    if not result.ok:
        return _resolve_failed(result, f"the project's dependency graph cannot take wasm-bindgen {version}: ")
    got = bindgen_versions_in_lock(lock_path.read_text())
    if got != [version]:  # the resolver said yes but locked something else: ours to fix, never the cell's
        return BuildResult(verdict=Verdict.ERROR, stage=Stage.RESOLVE, log_tail=result.output,
                           reason=f"cargo update --precise {version} left wasm-bindgen {got} in the lock")
    if reusable:
        fs.atomic_write_bytes(cached, lock_path.read_bytes())
    return _after_lock(crate_dir=workspace, variant=variant, toolchain=toolchain, log=log,
                       config_dir=crate.tool_config_dir)


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


def build_env(
    *,
    variant: Variant,
    toolchain: Toolchain,
    bindgen: CachedTool,
    wasm_pack: CachedTool,
    target_dir: Path,
    rustflags: list[str],
) -> dict[str, str]:
    env = toolchain.environ(os.environ)
    # The exact CLI first on PATH: wasm-pack uses a wasm-bindgen on PATH whose version matches exactly.
    env["PATH"] = os.pathsep.join([str(bindgen.bin_dir), str(wasm_pack.bin_dir), env.get("PATH", "")])
    env["CARGO_TARGET_DIR"] = str(target_dir)
    env["WASM_PACK_CACHE"] = str(paths.home() / "wasm-pack-cache")
    env["CARGO_TERM_COLOR"] = "never"
    env.pop("WASM_BINDGEN_EXTERNREF", None)
    env.pop("RUSTFLAGS", None)
    env.pop("CARGO_ENCODED_RUSTFLAGS", None)
    if any(any(ch.isspace() for ch in flag) for flag in rustflags):
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(rustflags)  # a flag with a space survives only this way
    elif rustflags:
        env["RUSTFLAGS"] = " ".join(rustflags)
    if variant.reference_types is ReferenceTypes.EXTERNREF:
        env["WASM_BINDGEN_EXTERNREF"] = "1"
    return env


def browser_reproduce_argv(variant: Variant, template: Reproducer) -> list[str]:
    """How reproduce.sh re-runs a check that ran in a browser: the same probe with --fresh (the page, the
    server and the driver are the tool's own)."""
    command = shlex.split(probe_command(variant, reproducer=template.command_args()))
    return [*command[:2], "--fresh", *command[2:]]


def reproduce_script(crate_dir: Path, env: Mapping[str, str], argv: list[str], check: list[str],
                     check_dir: Path | None = None) -> str:
    """A shell script that rebuilds the crate by hand exactly as the probe did."""
    keys: tuple[str, ...] = ("PATH", "LD_LIBRARY_PATH", "RUSTC", "CARGO", "RUSTUP_TOOLCHAIN", "RUSTFLAGS",
                             "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "WASM_BINDGEN_EXTERNREF", "WASM_PACK_CACHE",
                             "WASM_BISECT_PKG", *runtimes.test_runner.ENV_KEYS)
    keys += tuple(sorted(k for k in env if k.startswith("WASM_BISECT_") and k not in keys))
    lines = ["#!/bin/sh", "# Rebuild and re-check this variant by hand (written by wasm-bisect).", "set -e",
             f"cd {shlex.quote(str(crate_dir))}"]
    lines += [f"export {k}={shlex.quote(env[k])}" for k in keys if k in env]
    lines.append(processes.quote(argv))
    if check_dir is not None and check_dir != crate_dir:
        lines.append(f"cd {shlex.quote(str(check_dir))}")
    lines += [processes.quote(check), ""]
    return "\n".join(lines)


CheckLine = Callable[[Materialised, Mapping[str, str]], tuple[list[str], Path, dict[str, str]]]


def build(
    *,
    variant: Variant,
    template: Reproducer,
    toolchain: Toolchain,
    bindgen: CachedTool,
    wasm_pack: CachedTool,
    probe_dir: Path,
    target_dir: Path,
    flags: FlagPlan,
    check_line: CheckLine,
    patches: Mapping[str, str] | None = None,
    timeout: float = BUILD_TIMEOUT,
    on_stage: Callable[[Stage], None] | None = None,
) -> BuildResult:
    """Write the variant's crate, resolve and build it into `probe_dir/crate` with `target_dir` (a slot held by
    the caller); `check_line` says how the check will run (for reproduce.sh and the result)."""
    logs = probe_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    evidence: dict[str, Any] = {"layers": [flags.layer, bindgen_layer(variant)],
                                "rustc": toolchain.verbose_version, "rustc_release": toolchain.version,
                                "wasm_bindgen_cli": bindgen.version, "wasm_bindgen_cli_host": bindgen.built_with,
                                "wasm_bindgen_cli_origin": bindgen.origin,  # "prebuilt" or "built"
                                "wasm_pack": wasm_pack.version, "wasm_pack_origin": wasm_pack.origin,
                                "rustflags": list(flags.flags if flags.flags is not None else
                                                  [f for f, _ in flags.listed])}
    if flags.listed:
        evidence["rustflags_from"] = flags.evidence()  # every flag with where it came from
    if flags.flags is None:
        return BuildResult(verdict=Verdict.SKIP, reason=flags.reason or flags.layer, stage=Stage.PLAN,
                           evidence=evidence)
    if (cannot := template.plan_skip(toolchain.version)) is not None:
        return BuildResult(verdict=Verdict.SKIP, reason=cannot, stage=Stage.PLAN, evidence=evidence)

    start = time.monotonic()
    crate = template.materialise(probe_dir / "crate", variant, rustc_version=toolchain.version, patches=patches)
    manifest = crate.package / "Cargo.toml"
    evidence["cargo_toml"] = manifest.read_text()  # what was built, pins included: reports quote it
    evidence.update(crate.evidence)
    timings[str(Stage.RENDER)] = round(time.monotonic() - start, 3)

    if on_stage:
        on_stage(Stage.RESOLVE)
    start = time.monotonic()
    failed = resolve(crate_dir=crate.workspace, variant=variant, toolchain=toolchain, log=logs / "resolve.log",
                     crate=crate, cache_key=_lock_key(template, variant, toolchain))
    timings[str(Stage.RESOLVE)] = round(time.monotonic() - start, 3)
    if failed is not None:
        return BuildResult(**{**failed.__dict__, "timings": timings, "evidence": evidence, "crate": crate})
    lock = crate.workspace / "Cargo.lock"
    evidence["cargo_lock"] = lock.read_text() if lock.is_file() else None  # the exact dependency set built
    if crate.pinning == "lockfile":
        evidence["lock"] = (f"re-resolved for rustc {toolchain.version} (--relock)" if crate.relock else
                            "the project's Cargo.lock, wasm-bindgen family moved to the cell's release")

    # A template's Cargo.toml says wasm-opt = false itself; a user's project is built as it is, with --no-opt.
    no_opt = crate.pinning == "lockfile" and not variant.options.wasm_opt
    argv = [str(wasm_pack.binary), *wasm_pack_args(variant, crate.package, cargo_args=crate.cargo_args,
                                                   no_opt=no_opt)]
    clock = StageClock(current=Stage.CARGO_BUILD)

    def on_line(line: str) -> None:
        before = clock.current
        clock.feed(line)
        if on_stage and clock.current not in (before, _BUILD_END):
            on_stage(clock.current)

    env = build_env(variant=variant, toolchain=toolchain, bindgen=bindgen, wasm_pack=wasm_pack,
                    target_dir=target_dir, rustflags=flags.flags)
    pkg_module = crate.pkg_module
    check_argv, check_dir, check_env = check_line(crate, env)
    fs.atomic_write_text(probe_dir / "reproduce.sh",
                         reproduce_script(crate.package, check_env, argv, check_argv, check_dir=check_dir))
    if on_stage:
        on_stage(Stage.CARGO_BUILD)
    try:
        result = processes.run(argv, env=env, cwd=crate.package, timeout=timeout, log=logs / "build.log",
                               check=False, on_line=on_line, tail_lines=60)
    except ToolMissing as exc:
        return BuildResult(verdict=Verdict.ERROR, reason=exc.one_line(), stage=Stage.CARGO_BUILD,
                           timings=timings, evidence=evidence, crate=crate)
    failed_stage = clock.current
    timings.update(clock.close())
    timings.pop(str(Stage.CHECK), None)
    if not result.ok:
        signature = template.check.failure_signature if template.check.signature_judges_builds else None
        verdict, reason = classify_build_failure(variant, failed_stage, result.output, result.returncode,
                                                 result.timed_out, signature=signature)
        return BuildResult(verdict=verdict, reason=reason, stage=failed_stage, exit_code=result.returncode,
                           log_tail=result.output, timings=timings, evidence=evidence, crate=crate)
    evidence.update(module_evidence(target_dir, variant, crate.package, artifact=crate.artifact))
    wrong = mismatch(evidence, rustc=toolchain.version,
                     bindgen=variant.bindgen.version if variant.bindgen.kind == "crates" else None)
    if wrong is not None:
        return BuildResult(verdict=Verdict.ERROR, reason=wrong, stage=Stage.WASM_BINDGEN, timings=timings,
                           evidence=evidence, crate=crate)
    with contextlib.suppress(OSError):  # only a hint for the cost-aware search
        mark_warm(target_dir, variant)
    if not pkg_module.is_file():
        return BuildResult(verdict=Verdict.ERROR, reason=f"wasm-pack succeeded but {pkg_module} is missing",
                           stage=Stage.WASM_BINDGEN, timings=timings, evidence=evidence, crate=crate)
    return BuildResult(verdict=None, reason="built", stage=Stage.CHECK, timings=timings, evidence=evidence,
                       pkg_module=pkg_module, crate=crate, env=env)


def _lock_key(template: Reproducer, variant: Variant, toolchain: Toolchain) -> str:
    """A resolved project lock is the same for the same files, wasm-bindgen and rustc (MSRV-aware resolution)."""
    text = f"{template.content_hash}|{variant.bindgen.version}|{toolchain.version}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def module_evidence(target_dir: Path, variant: Variant, crate_dir: Path, *, artifact: str = "wasm_bisect_probe"
                    ) -> dict[str, Any]:
    """Read back what the build really did: target_features of rustc's module, externref use in the glue."""
    from wasm_bisect.util.wasmfile import read_target_features

    profile_dir = {"release": "release", "dev": "debug", "profiling": "release"}[variant.options.profile]
    raw = target_dir / "wasm32-unknown-unknown" / profile_dir / f"{artifact}.wasm"
    evidence: dict[str, Any] = {}
    try:
        features = read_target_features(raw.read_bytes())
    except (OSError, ValueError) as exc:
        evidence["target_features_error"] = str(exc)
    else:
        evidence["target_features"] = features
        evidence["reference_types_in_module"] = any(f.lstrip("+") == "reference-types" for f in features)
    evidence.update(built_by(crate_dir / "pkg" / f"{artifact}_bg.wasm"))
    glue = crate_dir / "pkg" / f"{artifact}.js"
    try:
        text = glue.read_text()
    except OSError:
        text = ""
    # The transform leaves its mark in the glue: the externref table init/alloc/dealloc helpers.
    markers = ("__wbindgen_init_externref_table", "__externref_table_alloc", "__externref_table_dealloc",
               "addToExternrefTable")
    evidence["externref_transform"] = any(marker in text for marker in markers)
    return evidence


def built_by(module: Path) -> dict[str, Any]:
    """The rustc and wasm-bindgen that really built the module, read back from its `producers` section."""
    from wasm_bisect.util.wasmfile import read_producers

    try:
        processed = read_producers(module.read_bytes()).get("processed-by", [])
    except (OSError, ValueError) as exc:
        return {"producers_error": str(exc)}
    found = {name: version.split()[0] for name, version in processed if version.split()}
    return {"built_by": {k: found[k] for k in ("rustc", "wasm-bindgen") if k in found}}


def mismatch(evidence: Mapping[str, Any], *, rustc: str, bindgen: str | None) -> str | None:
    """A module built by another rustc or wasm-bindgen than the cell's (a wrapper, a patch or a source replacement
    the checks missed): the verdict would describe the wrong pair. Pure."""
    said = evidence.get("built_by") or {}

    def release(text: str) -> str | None:  # `1.82.0-nightly` and `1.82.0` are the same release here
        found = re.match(r"\d+\.\d+\.\d+", text)
        return found.group() if found else None

    if "rustc" in said and release(said["rustc"]) not in (None, release(rustc)):
        return f"the module was built by rustc {said['rustc']}, not the cell's {rustc}"
    if bindgen is not None and "wasm-bindgen" in said and said["wasm-bindgen"] != bindgen:
        return f"the module was processed by wasm-bindgen {said['wasm-bindgen']}, not the cell's {bindgen}"
    return None


def clean_failed_dir(probe_dir: Path) -> None:
    with contextlib.suppress(CommandFailed, OSError):
        shutil.rmtree(probe_dir / "crate" / "pkg")
