"""Write a variant crate and build it with wasm-pack; stages are timed from wasm-pack's own progress lines.

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
from wasm_bisect.domain.errors import CommandFailed, ToolMissing
from wasm_bisect.domain.model import ReferenceTypes, Stage, Variant, Verdict
from wasm_bisect.domain.reproduce import probe_command
from wasm_bisect.domain.versions import cargo_release
from wasm_bisect.probe import render, runtimes
from wasm_bisect.probe.templates import Template
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.util import fs, paths, processes

BUILD_TIMEOUT = 1800.0
RESOLVE_TIMEOUT = 600.0
SPARSE_INDEX_CARGO = Version("1.68")  # older cargo only knows the git index on GitHub: vendor for it
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


def wasm_pack_args(variant: Variant, crate_dir: Path) -> list[str]:
    profile_flag = {"release": "--release", "dev": "--dev", "profiling": "--profiling"}[variant.options.profile]
    return ["build", str(crate_dir), "--target", variant.options.target, profile_flag, "--mode", "no-install"]


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
    if crate_dir.exists():
        shutil.rmtree(crate_dir)
    for rel, data in files.items():
        target = crate_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def classify_build_failure(variant: Variant, stage: Stage, tail: str, rc: int, timed_out: bool) -> tuple[Verdict, str]:
    if timed_out:
        return Verdict.ERROR, f"{stage} did not finish within the build time limit"
    if rc < 0:
        return Verdict.ERROR, f"wasm-pack was killed by signal {-rc} during {stage}"
    for pattern in _INFRA_PATTERNS:
        if pattern in tail:
            return Verdict.ERROR, f"{stage} failed for an environment reason: {pattern}"
    first_error = next((ln.strip() for ln in tail.splitlines() if ln.strip().startswith("error")), "")
    detail = first_error or (tail.strip().splitlines() or [""])[-1]
    if variant.options.build_failure == "bad":
        return Verdict.BAD, f"{stage} failed (build failures count as bad): {detail}"
    return Verdict.SKIP, f"{stage} failed, so the cell is untestable: {detail}"


def resolve(
    *,
    crate_dir: Path,
    variant: Variant,
    toolchain: Toolchain,
    log: Path,
) -> BuildResult | None:
    """Write Cargo.lock with the host cargo, MSRV-aware; vendor for an old cargo. None = resolved fine."""
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
        tail = result.output
        if result.timed_out or "Could not resolve host" in tail or "failed to download" in tail:
            return BuildResult(verdict=Verdict.ERROR, reason="resolving dependencies failed (network?)",
                               stage=Stage.RESOLVE, exit_code=result.returncode, log_tail=tail)
        return BuildResult(verdict=Verdict.SKIP, stage=Stage.RESOLVE, exit_code=result.returncode, log_tail=tail,
                           reason="no dependency set satisfies this pair: "
                           + next((ln.strip() for ln in tail.splitlines() if "error" in ln), tail[-200:]))
    return _after_lock(crate_dir=crate_dir, variant=variant, toolchain=toolchain, log=log)


def _pins_exactly(lock: Path, version: str) -> bool:
    """A cached lock is usable when it parses and locks exactly this wasm-bindgen version."""
    try:
        return bindgen_versions_in_lock(lock.read_text()) == [version]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def _after_lock(*, crate_dir: Path, variant: Variant, toolchain: Toolchain, log: Path) -> BuildResult | None:
    """Check the lock pins exactly the variant's wasm-bindgen; make it readable and offline for old cargo."""
    lock_path = crate_dir / "Cargo.lock"
    toolchain_cargo = cargo_version(toolchain)
    lock_text = downgrade_lockfile(lock_path.read_text(), toolchain_cargo)
    lock_path.write_text(lock_text)
    versions = bindgen_versions_in_lock(lock_text)
    if versions != [variant.bindgen.version]:
        return BuildResult(verdict=Verdict.SKIP, stage=Stage.RESOLVE,
                           reason=f"Cargo.lock holds wasm-bindgen {versions}, not exactly {variant.bindgen.version}")
    if toolchain_cargo < SPARSE_INDEX_CARGO:
        vendor = vendored_sources(crate_dir, lock_text, log)
        (crate_dir / ".cargo").mkdir(exist_ok=True)
        (crate_dir / ".cargo" / "config.toml").write_text(vendor_config(vendor))
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
    if rustflags:
        env["RUSTFLAGS"] = " ".join(rustflags)
    if variant.reference_types is ReferenceTypes.EXTERNREF:
        env["WASM_BINDGEN_EXTERNREF"] = "1"
    return env


def check_argv(variant: Variant, template: Template, probe_dir: Path) -> list[str]:
    """How reproduce.sh re-runs the check: the tool's Node runner, or (a browser) the probe with --fresh."""
    if variant.runtime.is_browser:
        command = shlex.split(probe_command(variant, template=str(template.root)))
        return [*command[:2], "--fresh", *command[2:]]
    runner = runtimes.install_runner(probe_dir)
    return runtimes.node_argv(runner, probe_dir / "crate" / template.check_script)


def reproduce_script(crate_dir: Path, env: Mapping[str, str], argv: list[str], check: list[str]) -> str:
    """A shell script that rebuilds the crate by hand exactly as the probe did."""
    keys = ("PATH", "LD_LIBRARY_PATH", "RUSTC", "CARGO", "RUSTUP_TOOLCHAIN", "RUSTFLAGS", "CARGO_TARGET_DIR",
            "WASM_BINDGEN_EXTERNREF", "WASM_PACK_CACHE", "WASM_BISECT_PKG")
    lines = ["#!/bin/sh", "# Rebuild and re-check this variant by hand (written by wasm-bisect).", "set -e",
             f"cd {shlex.quote(str(crate_dir))}"]
    lines += [f"export {k}={shlex.quote(env[k])}" for k in keys if k in env]
    lines += [processes.quote(argv), processes.quote(check), ""]
    return "\n".join(lines)


def build(
    *,
    variant: Variant,
    template: Template,
    toolchain: Toolchain,
    bindgen: CachedTool,
    wasm_pack: CachedTool,
    probe_dir: Path,
    patches: Mapping[str, str] | None = None,
    timeout: float = BUILD_TIMEOUT,
    on_stage: Callable[[Stage], None] | None = None,
) -> BuildResult:
    """Render, resolve and build one variant into `probe_dir/crate`."""
    logs = probe_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    rustflags, codegen_layer = codegen_flags(variant, toolchain)
    evidence: dict[str, Any] = {"layers": [codegen_layer, bindgen_layer(variant)],
                                "rustc": toolchain.verbose_version, "rustc_release": toolchain.version,
                                "wasm_bindgen_cli": bindgen.version, "wasm_pack": wasm_pack.version,
                                "rustflags": list(rustflags or [])}
    if rustflags is None:
        return BuildResult(verdict=Verdict.SKIP, reason=codegen_layer, stage=Stage.PLAN, evidence=evidence)

    start = time.monotonic()
    crate_dir = probe_dir / "crate"
    files = render.render(template, variant, rustc_version=toolchain.version, patches=patches)
    write_crate(crate_dir, files)
    evidence["cargo_toml"] = files["Cargo.toml"].decode()  # what was built, pins included: reports quote it
    timings[str(Stage.RENDER)] = round(time.monotonic() - start, 3)

    if on_stage:
        on_stage(Stage.RESOLVE)
    start = time.monotonic()
    failed = resolve(crate_dir=crate_dir, variant=variant, toolchain=toolchain, log=logs / "resolve.log")
    timings[str(Stage.RESOLVE)] = round(time.monotonic() - start, 3)
    if failed is not None:
        return BuildResult(**{**failed.__dict__, "timings": timings, "evidence": evidence})
    lock = crate_dir / "Cargo.lock"
    evidence["cargo_lock"] = lock.read_text() if lock.is_file() else None  # the exact dependency set built

    argv = [str(wasm_pack.binary), *wasm_pack_args(variant, crate_dir)]
    clock = StageClock(current=Stage.CARGO_BUILD)

    def on_line(line: str) -> None:
        before = clock.current
        clock.feed(line)
        if on_stage and clock.current not in (before, _BUILD_END):
            on_stage(clock.current)

    with target_slot(toolchain, rustflags) as target_dir:
        env = build_env(variant=variant, toolchain=toolchain, bindgen=bindgen, wasm_pack=wasm_pack,
                        target_dir=target_dir, rustflags=rustflags)
        pkg_module = crate_dir / render.PKG_MODULE
        check_env = {**env, "WASM_BISECT_PKG": str(pkg_module)}
        fs.atomic_write_text(probe_dir / "reproduce.sh",
                             reproduce_script(crate_dir, check_env, argv, check_argv(variant, template, probe_dir)))
        if on_stage:
            on_stage(Stage.CARGO_BUILD)
        try:
            result = processes.run(argv, env=env, cwd=crate_dir, timeout=timeout, log=logs / "build.log", check=False,
                               on_line=on_line, tail_lines=60)
        except ToolMissing as exc:
            return BuildResult(verdict=Verdict.ERROR, reason=exc.one_line(), stage=Stage.CARGO_BUILD,
                               timings=timings, evidence=evidence)
        failed_stage = clock.current
        timings.update(clock.close())
        timings.pop(str(Stage.CHECK), None)
        if not result.ok:
            verdict, reason = classify_build_failure(variant, failed_stage, result.output, result.returncode,
                                                      result.timed_out)
            return BuildResult(verdict=verdict, reason=reason, stage=failed_stage, exit_code=result.returncode,
                               log_tail=result.output, timings=timings, evidence=evidence)
        evidence.update(module_evidence(target_dir, variant, crate_dir))
        with contextlib.suppress(OSError):  # only a hint for the cost-aware search
            mark_warm(target_dir, variant)
    if not pkg_module.is_file():
        return BuildResult(verdict=Verdict.ERROR, reason=f"wasm-pack succeeded but {pkg_module} is missing",
                           stage=Stage.WASM_BINDGEN, timings=timings, evidence=evidence)
    return BuildResult(verdict=None, reason="built", stage=Stage.CHECK, timings=timings, evidence=evidence,
                       pkg_module=pkg_module)


def module_evidence(target_dir: Path, variant: Variant, crate_dir: Path) -> dict[str, Any]:
    """Read back what the build really did: target_features of rustc's module, externref use in the glue."""
    from wasm_bisect.util.wasmfile import read_target_features

    profile_dir = {"release": "release", "dev": "debug", "profiling": "release"}[variant.options.profile]
    raw = target_dir / "wasm32-unknown-unknown" / profile_dir / "wasm_bisect_probe.wasm"
    evidence: dict[str, Any] = {}
    try:
        features = read_target_features(raw.read_bytes())
    except (OSError, ValueError) as exc:
        evidence["target_features_error"] = str(exc)
    else:
        evidence["target_features"] = features
        evidence["reference_types_in_module"] = any(f.lstrip("+") == "reference-types" for f in features)
    glue = crate_dir / render.PKG_MODULE
    try:
        text = glue.read_text()
    except OSError:
        text = ""
    # The transform leaves its mark in the glue: the externref table init/alloc/dealloc helpers.
    markers = ("__wbindgen_init_externref_table", "__externref_table_alloc", "__externref_table_dealloc",
               "addToExternrefTable")
    evidence["externref_transform"] = any(marker in text for marker in markers)
    return evidence


def clean_failed_dir(probe_dir: Path) -> None:
    with contextlib.suppress(CommandFailed, OSError):
        shutil.rmtree(probe_dir / "crate" / "pkg")
