"""Build one cell's crate with wasm-pack: render the copy, pin its lock (probe/lockfile.py), run wasm-pack in a
target slot the caller holds (probe/slots.py), and read back what was really built; stages are timed from
wasm-pack's own progress lines. What a failure means is decided in probe/verdicts.py: a broken environment
(tool missing, timeout, crash) gives ERROR; an incompatible pair or a crate that does not build gives SKIP (or BAD
when the user asks build failures to count as the bug).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wasm_bisect.bindgen.toolcache import CachedTool
from wasm_bisect.domain.errors import ToolMissing
from wasm_bisect.domain.model import ReferenceTypes, Stage, Variant, Verdict
from wasm_bisect.domain.reproduce import probe_command
from wasm_bisect.probe import lockfile, profiles, runtimes, rustflags, slots
from wasm_bisect.probe.reproducer import Materialised, Reproducer
from wasm_bisect.probe.rustflags import FlagPlan
from wasm_bisect.probe.verdicts import BuildResult, classify_build_failure, mismatch
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.util import fs, paths, processes

BUILD_TIMEOUT = 1800.0

# wasm-pack progress lines that open a stage, in build order. wasm-pack prints nothing when it starts
# wasm-bindgen, so cargo's own "Finished" line marks that boundary; the package.json step marks the end.
_BUILD_END = Stage.CHECK
_STAGE_MARKERS: tuple[tuple[re.Pattern[str], Stage], ...] = (
    (re.compile(r"Compiling to Wasm"), Stage.CARGO_BUILD),
    (re.compile(r"^\s*Finished .*target\(s\)"), Stage.WASM_BINDGEN),
    (re.compile(r"Optimizing wasm binaries"), Stage.WASM_OPT),
    (re.compile(r"Optional fields missing|Done in|Your wasm pkg is ready"), _BUILD_END),
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


def bindgen_layer(variant: Variant) -> str:
    if variant.reference_types is ReferenceTypes.EXTERNREF:
        return "wasm-bindgen: WASM_BINDGEN_EXTERNREF=1 (externref transform forced)"
    return "wasm-bindgen: default (from 0.2.94 the transform follows the module's target_features)"


def wasm_pack_args(variant: Variant, crate_dir: Path, *, cargo_args: tuple[str, ...] = (), no_opt: bool = False
                   ) -> list[str]:
    """`wasm-pack build` of the crate; `no_opt` for a project whose Cargo.toml the tool does not edit (a template's
    says wasm-opt = false itself), `cargo_args` (features) after `--`."""
    args = ["build", str(crate_dir), "--target", variant.options.target, profiles.build_flag(variant.options.profile),
            "--mode", "no-install"]
    if no_opt:
        args.append("--no-opt")
    if cargo_args:
        args += ["--", *cargo_args]
    return args


def build_env(
    *,
    variant: Variant,
    toolchain: Toolchain,
    bindgen: CachedTool,
    wasm_pack: CachedTool,
    target_dir: Path,
    flags: list[str],
) -> dict[str, str]:
    env = toolchain.environ(os.environ)
    # The exact CLI first on PATH: wasm-pack uses a wasm-bindgen on PATH whose version matches exactly.
    env["PATH"] = os.pathsep.join([str(bindgen.bin_dir), str(wasm_pack.bin_dir), env.get("PATH", "")])
    env["CARGO_TARGET_DIR"] = str(target_dir)
    env["WASM_PACK_CACHE"] = str(paths.home() / "wasm-pack-cache")
    env["CARGO_TERM_COLOR"] = "never"
    env.pop("WASM_BINDGEN_EXTERNREF", None)
    rustflags.put_env(env, flags)
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
                             "WASM_BISECT_PKG", *runtimes.bindgen_test_runner.ENV_KEYS)
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
    evidence = _tools_evidence(variant, toolchain, bindgen, wasm_pack, flags)
    if flags.flags is None:
        return BuildResult(verdict=Verdict.SKIP, reason=flags.reason or flags.layer, stage=Stage.PLAN,
                           evidence=evidence)
    if (cannot := template.plan_skip(toolchain.version)) is not None:
        return BuildResult(verdict=Verdict.SKIP, reason=cannot, stage=Stage.PLAN, evidence=evidence)

    start = time.monotonic()
    rendered = template.materialise(probe_dir / "crate", variant, rustc_version=toolchain.version, patches=patches)
    evidence["cargo_toml"] = (rendered.package / "Cargo.toml").read_text()  # what was built: reports quote it
    evidence.update(rendered.evidence)
    timings[str(Stage.RENDER)] = round(time.monotonic() - start, 3)

    if on_stage:
        on_stage(Stage.RESOLVE)
    start = time.monotonic()
    failed = lockfile.resolve(crate_dir=rendered.workspace, variant=variant, toolchain=toolchain,
                              log=logs / "resolve.log", rendered=rendered,
                              cache_key=lockfile.lock_key(template, variant, toolchain))
    timings[str(Stage.RESOLVE)] = round(time.monotonic() - start, 3)
    if failed is not None:
        return replace(failed, timings=timings, evidence=evidence, rendered=rendered)
    evidence.update(_lock_evidence(rendered, toolchain))

    # A template's Cargo.toml says wasm-opt = false itself; a user's project is built as it is, with --no-opt.
    no_opt = rendered.pinning == "lockfile" and not variant.options.wasm_opt
    argv = [str(wasm_pack.binary), *wasm_pack_args(variant, rendered.package, cargo_args=rendered.cargo_args,
                                                   no_opt=no_opt)]
    env = build_env(variant=variant, toolchain=toolchain, bindgen=bindgen, wasm_pack=wasm_pack,
                    target_dir=target_dir, flags=flags.flags)
    check_argv, check_dir, check_env = check_line(rendered, env)
    fs.atomic_write_text(probe_dir / "reproduce.sh",
                         reproduce_script(rendered.package, check_env, argv, check_argv, check_dir=check_dir))
    done = replace(_run_wasm_pack(argv, env=env, cwd=rendered.package, log=logs / "build.log", timeout=timeout,
                                  variant=variant, template=template, on_stage=on_stage),
                   evidence=evidence, rendered=rendered)
    timings.update(done.timings)
    done = replace(done, timings=timings)
    if done.verdict is not None:
        return done
    return _read_back(done, variant=variant, toolchain=toolchain, target_dir=target_dir, env=env)


def _tools_evidence(variant: Variant, toolchain: Toolchain, bindgen: CachedTool, wasm_pack: CachedTool,
                    flags: FlagPlan) -> dict[str, Any]:
    """What a probe records before it builds: the layers, the toolchain, the tools and their origins, the flags."""
    evidence: dict[str, Any] = {"layers": [flags.layer, bindgen_layer(variant)],
                                "rustc": toolchain.verbose_version, "rustc_release": toolchain.version,
                                "wasm_bindgen_cli": bindgen.version, "wasm_bindgen_cli_host": bindgen.built_with,
                                "wasm_bindgen_cli_origin": bindgen.origin,  # "prebuilt" or "built"
                                "wasm_pack": wasm_pack.version, "wasm_pack_origin": wasm_pack.origin,
                                "rustflags": list(flags.flags if flags.flags is not None else
                                                  [f for f, _ in flags.listed])}
    if flags.listed:
        evidence["rustflags_from"] = flags.evidence()  # every flag with where it came from
    return evidence


def _lock_evidence(rendered: Materialised, toolchain: Toolchain) -> dict[str, Any]:
    """The exact dependency set built, and for a user's project how its lock was made."""
    lock = rendered.workspace / "Cargo.lock"
    evidence: dict[str, Any] = {"cargo_lock": lock.read_text() if lock.is_file() else None}
    if rendered.pinning == "lockfile":
        evidence["lock"] = (f"re-resolved for rustc {toolchain.version} (--relock)" if rendered.relock else
                            "the project's Cargo.lock, wasm-bindgen family moved to the cell's release")
    return evidence


def _run_wasm_pack(argv: list[str], *, env: dict[str, str], cwd: Path, log: Path, timeout: float, variant: Variant,
                   template: Reproducer, on_stage: Callable[[Stage], None] | None) -> BuildResult:
    """Run `wasm-pack build`, timing its stages; a failure is judged here (verdict None: it built)."""
    clock = StageClock(current=Stage.CARGO_BUILD)

    def on_line(line: str) -> None:
        before = clock.current
        clock.feed(line)
        if on_stage and clock.current not in (before, _BUILD_END):
            on_stage(clock.current)

    if on_stage:
        on_stage(Stage.CARGO_BUILD)
    try:
        result = processes.run(argv, env=env, cwd=cwd, timeout=timeout, log=log, check=False, on_line=on_line,
                               tail_lines=60)
    except ToolMissing as exc:
        return BuildResult(verdict=Verdict.ERROR, reason=exc.one_line(), stage=Stage.CARGO_BUILD)
    failed_stage = clock.current
    timings = clock.close()
    timings.pop(str(Stage.CHECK), None)
    if not result.ok:
        signature = template.check.failure_signature if template.check.signature_judges_builds else None
        verdict, reason = classify_build_failure(variant, failed_stage, result.output, result.returncode,
                                                 result.timed_out, signature=signature)
        return BuildResult(verdict=verdict, reason=reason, stage=failed_stage, exit_code=result.returncode,
                           log_tail=result.output, timings=timings)
    return BuildResult(verdict=None, reason="built", stage=Stage.CHECK, timings=timings)


def _read_back(built: BuildResult, *, variant: Variant, toolchain: Toolchain, target_dir: Path,
               env: dict[str, str]) -> BuildResult:
    """What wasm-pack really built: by the cell's rustc and wasm-bindgen, and the module the check will load."""
    rendered = built.rendered
    assert rendered is not None
    evidence = {**built.evidence, **module_evidence(target_dir, variant, rendered.package,
                                                    artifact=rendered.artifact)}
    built = replace(built, evidence=evidence)
    wrong = mismatch(evidence, rustc=toolchain.version,
                     bindgen=variant.bindgen.version if variant.bindgen.kind == "crates" else None)
    if wrong is not None:
        return replace(built, verdict=Verdict.ERROR, reason=wrong, stage=Stage.WASM_BINDGEN)
    with contextlib.suppress(OSError):  # only a hint for the cost-aware search
        slots.mark_warm(target_dir, variant)
    pkg_module = rendered.pkg_module
    if not pkg_module.is_file():
        return replace(built, verdict=Verdict.ERROR, reason=f"wasm-pack succeeded but {pkg_module} is missing",
                       stage=Stage.WASM_BINDGEN)
    return replace(built, pkg_module=pkg_module, env=env)


def module_evidence(target_dir: Path, variant: Variant, crate_dir: Path, *, artifact: str = "wasm_bisect_probe"
                    ) -> dict[str, Any]:
    """Read back what the build really did: target_features of rustc's module, externref use in the glue."""
    from wasm_bisect.util.wasmfile import read_target_features

    raw = target_dir / rustflags.TARGET / profiles.target_subdir(variant.options.profile) / f"{artifact}.wasm"
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
