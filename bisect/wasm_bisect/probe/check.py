"""The check: run it with a time limit, and a pure classifier that turns its result into a verdict.

One contract for every kind of check and every runtime: a template's check module run by the tool's Node runner
or in a headless browser, any `--check` command, `wasm-pack test`. Each yields git bisect's exit code (0 good,
125 untestable, 1..127 bad, >= 128 or a signal: an abort of the check) plus its output text, matched against
the failure signature; `classify` turns that into a verdict the same way for all of them.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import regex

from wasm_bisect.domain.errors import ToolMissing, WasmBisectError
from wasm_bisect.domain.model import Runtime, Variant, Verdict
from wasm_bisect.domain.options import TimeoutVerdict
from wasm_bisect.probe import profiles, reasons, runtimes, rustflags
from wasm_bisect.probe.reproducer import CheckKind, CheckSpec, Materialised
from wasm_bisect.util import processes

UNTESTABLE_EXIT = 125  # git bisect's "cannot test this commit"
SIGNATURE_SECONDS = 2.0


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    verdict: Verdict
    reason: str
    exit_code: int | None
    output_tail: str
    seconds: float
    evidence: dict[str, Any] = field(default_factory=dict)  # the runtime's versions, the failure text


def last_meaningful_line(output: str) -> str:
    """The line a person reads as the check's reason (see probe/reasons.py)."""
    return reasons.reason_line(output)


def classify(
    *,
    returncode: int | None,
    output: str,
    timed_out: bool,
    failure_signature: str | None,
    timeout: float,
    timeout_verdict: TimeoutVerdict = TimeoutVerdict.ERROR,
    build_output: str | None = None,
) -> tuple[Verdict, str]:
    """Verdict of a check run, following git bisect's exit-code contract. Pure.

    0 good; 125 untestable; 1..127 bad, but only when the output matches the template's failure signature
    (if it has one): another failure is not the bug under study, so it is untestable; >= 128 or a signal
    is an abort of the check itself (infrastructure), as is a timeout, unless the user says a hang is the bug
    (`--timeout-verdict bad`). A check that could not run at all is never a verdict on the cell: exit 126/127
    (not executable, not found), its own script or a module or package it imports missing (anything but the
    built package in `build_output`), npm without the script: an error.
    """
    last = last_meaningful_line(output)
    if timed_out:
        if timeout_verdict is TimeoutVerdict.BAD:
            return Verdict.BAD, f"check did not finish within {timeout:.0f} s (a hang counts as bad)"
        return Verdict.ERROR, f"check did not finish within {timeout:.0f} s (killed with its process group)"
    if returncode is None:
        return Verdict.ERROR, "check did not report an exit code"
    if returncode < 0:
        return Verdict.ERROR, f"check was killed by signal {-returncode}"
    if returncode == 0:
        return Verdict.GOOD, last or "check passed"
    if returncode == UNTESTABLE_EXIT:
        return Verdict.SKIP, f"check reported untestable (exit 125): {last}"
    if returncode >= 128:
        return Verdict.ERROR, f"check aborted with exit code {returncode}: {last}"
    why = reasons.cannot_run(output, returncode, build_output=build_output)
    if why is not None:
        return Verdict.ERROR, f"the check could not run: {why}"
    matched = signature_matches(failure_signature, output)
    if matched is None:
        return Verdict.ERROR, f"the template's failure_signature took over {SIGNATURE_SECONDS:.0f} s to match"
    if not matched:
        return Verdict.SKIP, f"check failed differently from the bug under study (exit {returncode}): {last}"
    return Verdict.BAD, last or f"check failed with exit code {returncode}"


def signature_matches(failure_signature: str | None, output: str) -> bool | None:
    """True when there is no signature or it matches; None when matching took too long."""
    if not failure_signature:
        return True
    try:
        # A signature is user input: a catastrophic pattern must not hang the run.
        return regex.search(failure_signature, output, timeout=SIGNATURE_SECONDS) is not None
    except TimeoutError:
        return None


# Output of `wasm-pack test` that says the tests did not compile (so nothing was tested) or the runner is missing.
TEST_COMPILE_FAILED = ("Compilation of your program failed", "error: could not compile")
TEST_INFRA = ("Could not find 'wasm-bindgen-test-runner'", "Not able to find or install a local",
              "error while loading shared libraries", "No space left on device", "can't find crate for `std`",
              # a browser run whose WebDriver or browser did not start
              "failed to find a suitable WebDriver", "driver failed to bind port", "session not created")


def classify_test_run(*, output: str, returncode: int | None, build_failure: str,
                      failure_signature: str | None, signature_judges_builds: bool) -> tuple[Verdict, str] | None:
    """`wasm-pack test` builds the tests before it runs them: a compile error there is a build failure (skip, or
    bad with --build-failure bad), a missing runner an environment error. None: judge it as a check. Pure."""
    if returncode in (None, 0, UNTESTABLE_EXIT) or returncode < 0 or returncode >= 128:
        return None
    for pattern in TEST_INFRA:
        if pattern in output:
            return Verdict.ERROR, f"wasm-pack test failed for an environment reason: {pattern}"
    if not any(marker in output for marker in TEST_COMPILE_FAILED):
        return None
    detail = next((ln.strip() for ln in output.splitlines() if ln.strip().startswith("error")), "")
    if build_failure == Verdict.BAD:
        matched = signature_matches(failure_signature if signature_judges_builds else None, output)
        if matched:
            return Verdict.BAD, f"the tests did not compile (build failures count as bad): {detail}"
        return Verdict.SKIP, f"the tests did not compile, differently from the bug under study: {detail}"
    return Verdict.SKIP, f"the tests did not compile, so the cell is untestable: {detail}"


def failure_text(failure_signature: str | None, output: str) -> str | None:
    """The first output line the failure signature matches: the engine's own words for the bug."""
    if not failure_signature:
        return None
    for line in output.splitlines():
        try:
            if regex.search(failure_signature, line, timeout=SIGNATURE_SECONDS) is not None:
                return line.strip()[:300]
        except TimeoutError:
            return None
    return None


def environment(
    base: Mapping[str, str],
    *,
    pkg_module: Path,
    params: tuple[tuple[str, str], ...],
    names: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The check's environment: WASM_BISECT_PKG (the JS entry), the template's parameters and, from `names`, the
    other WASM_BISECT_* variables that say what was built (pkg dir, .wasm, rustc, wasm-bindgen, reference-types)."""
    env = {k: v for k, v in base.items() if not k.startswith("WASM_BISECT_PARAM_")}
    env["WASM_BISECT_PKG"] = str(pkg_module)
    for key, value in (names or {}).items():
        env[f"WASM_BISECT_{key.upper()}"] = value
    for name, value in params:
        env[f"WASM_BISECT_PARAM_{name.upper()}"] = value
    return env


# Files of a rendered crate a page may load besides the wasm-pack output: scripts and data, never sources.
_PAGE_SUFFIXES = (".js", ".mjs", ".json", ".wasm", ".txt", ".bin")
_NOT_SERVED = ("target", "src", ".cargo", "node_modules", "pkg")


def page_files(crate_dir: Path) -> dict[str, Path]:
    """What the browser check's server may serve: the wasm-pack output, and the template's scripts and data."""
    files: dict[str, Path] = {}
    for path in sorted(crate_dir.rglob("*")):
        rel = path.relative_to(crate_dir)
        if path.is_symlink() or not path.is_file():
            continue
        if rel.parts[0] == "pkg" or (rel.parts[0] not in _NOT_SERVED and path.suffix in _PAGE_SUFFIXES):
            files[rel.as_posix()] = path
    return files


@functools.cache
def node_version() -> str:
    try:
        return processes.output(["node", "--version"], timeout=30)
    except WasmBisectError:
        return "unknown"


def run(
    *,
    crate_dir: Path,
    script: str,
    pkg_module: Path,
    params: tuple[tuple[str, str], ...],
    timeout: float,
    failure_signature: str | None,
    log: Path,
    runtime: Runtime = Runtime.NODE,
    driver: Path | None = None,
    names: Mapping[str, str] | None = None,
    timeout_verdict: TimeoutVerdict = TimeoutVerdict.ERROR,
) -> CheckResult:
    """Run a template's check module in `runtime` (`driver`: the WebDriver of a browser) and classify what it
    did; `names` are the WASM_BISECT_* variables of a Node check (see `environment`)."""
    if runtime.is_browser:
        return _run_in_browser(crate_dir=crate_dir, script=script, pkg_module=pkg_module, params=params,
                               timeout=timeout, failure_signature=failure_signature, log=log, runtime=runtime,
                               driver=driver, timeout_verdict=timeout_verdict)
    env = environment(os.environ, pkg_module=pkg_module, params=params, names=names)
    runner = runtimes.install_runner(log.parent.parent)
    result = processes.run(runtimes.node_argv(runner, crate_dir / script), env=env, cwd=crate_dir, timeout=timeout,
                           log=log, check=False)
    verdict, reason = classify(
        returncode=result.returncode,
        output=result.output,
        timed_out=result.timed_out,
        failure_signature=failure_signature,
        timeout=timeout,
        timeout_verdict=timeout_verdict,
        build_output=str(pkg_module.parent),
    )
    evidence: dict[str, Any] = {"runtime": {"name": "node", "version": node_version()}}
    if verdict is Verdict.BAD and (text := failure_text(failure_signature, result.output)):
        evidence["failure_text"] = text
    return CheckResult(
        verdict=verdict,
        reason=reason,
        exit_code=None if result.timed_out else result.returncode,
        output_tail=result.output,
        seconds=result.seconds,
        evidence=evidence,
    )


def _run_in_browser(*, crate_dir: Path, script: str, pkg_module: Path, params: tuple[tuple[str, str], ...],
                    timeout: float, failure_signature: str | None, log: Path, runtime: Runtime,
                    driver: Path | None, timeout_verdict: TimeoutVerdict = TimeoutVerdict.ERROR) -> CheckResult:
    try:
        paths = runtimes.locate(runtime)
    except WasmBisectError as exc:  # the browser went away since the run started: the machine, not the cell
        return CheckResult(verdict=Verdict.ERROR, reason=exc.one_line(), exit_code=None, output_tail="", seconds=0.0)
    chosen = driver or paths.driver
    assert chosen is not None, "geckodriver is provisioned by the oracle"
    page = runtimes.run_page(paths, driver=chosen, files=page_files(crate_dir),
                             pkg="/" + pkg_module.relative_to(crate_dir).as_posix(), check="/" + script,
                             params=dict(params), timeout=timeout, log=log)
    evidence: dict[str, Any] = {"runtime": {"name": str(runtime), **page.versions}}
    if page.failure is not None:
        verdict, reason = Verdict.ERROR, page.failure
    else:
        verdict, reason = classify(returncode=page.returncode, output=page.output, timed_out=page.timed_out,
                                   failure_signature=failure_signature, timeout=timeout,
                                   timeout_verdict=timeout_verdict)
        if page.timed_out and verdict is Verdict.ERROR:
            reason = f"check did not finish within {timeout:.0f} s (the browser was killed with its process group)"
    if verdict is Verdict.BAD and (text := failure_text(failure_signature, page.output)):
        evidence["failure_text"] = text
    return CheckResult(verdict=verdict, reason=reason, exit_code=None if page.timed_out else page.returncode,
                       output_tail="\n".join(page.output.splitlines()[-60:]), seconds=page.seconds,
                       evidence=evidence)


def run_argv(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    failure_signature: str | None,
    log: Path,
    timeout_verdict: TimeoutVerdict = TimeoutVerdict.ERROR,
    judge: Callable[[int | None, str], tuple[Verdict, str] | None] | None = None,
    tail_lines: int = 40,
) -> CheckResult:
    """Run any check command (never through a shell) and classify it; `judge` may decide first (e.g. a test
    build that did not compile)."""
    try:
        result = processes.run(argv, env=dict(env), cwd=cwd, timeout=timeout, log=log, check=False,
                               tail_lines=tail_lines)
    except ToolMissing as exc:  # the program vanished since the command was checked
        return CheckResult(verdict=Verdict.ERROR, reason=exc.one_line(), exit_code=None, output_tail="", seconds=0.0)
    decided = judge(result.returncode, result.output) if judge is not None and not result.timed_out else None
    verdict, reason = decided or classify(
        returncode=result.returncode,
        output=result.output,
        timed_out=result.timed_out,
        failure_signature=failure_signature,
        timeout=timeout,
        timeout_verdict=timeout_verdict,
        build_output=env.get("WASM_BISECT_PKG_DIR"),
    )
    return CheckResult(
        verdict=verdict,
        reason=reason,
        exit_code=None if result.timed_out else result.returncode,
        output_tail=result.output,
        seconds=result.seconds,
    )


def names_of(crate: Materialised, variant: Variant) -> dict[str, str]:
    """What the WASM_BISECT_* variables say was built (WASM_BISECT_PKG is set from the JS entry itself)."""
    return {"pkg_dir": str(crate.pkg_dir), "wasm": str(crate.pkg_wasm), "rustc": str(variant.rustc),
            "bindgen": variant.bindgen.label(), "reference_types": str(variant.reference_types)}


def command_line(
    spec: CheckSpec,
    *,
    crate: Materialised,
    build_env: Mapping[str, str],
    variant: Variant,
    wasm_pack: Path,
    runner_dir: Path | None = None,
    test_sysroot: Path | None = None,
    driver: Path | None = None,
) -> tuple[list[str], Path, dict[str, str]]:
    """(argv, cwd, env) of a variant's check. A template's `node check.mjs` keeps this process's environment; a
    check command and `wasm-pack test` get the build's (the cell's rustc and cargo, the exact CLIs on PATH, the
    merged RUSTFLAGS, the same target dir), and every check gets the WASM_BISECT_* names of what was built.
    `wasm-pack test` in a browser runtime runs headless with `driver` (default: the browser's chromedriver)."""
    names = names_of(crate, variant)
    if spec.kind is CheckKind.SCRIPT:  # the tool's Node runner runs the check module (see `run`)
        env = environment(os.environ, pkg_module=crate.pkg_module, params=variant.params, names=names)
        runner = runtimes.install_runner(crate.workspace.parent)
        return runtimes.node_argv(runner, crate.package / (spec.script or "check.mjs")), crate.package, env
    env = environment(build_env, pkg_module=crate.pkg_module, params=variant.params, names=names)
    if spec.kind is CheckKind.WASM_PACK_TEST:
        if runner_dir is not None:  # wasm-pack takes the runner beside the first matching wasm-bindgen on PATH
            env["PATH"] = os.pathsep.join([str(runner_dir), env.get("PATH", "")])
        if test_sysroot is not None:
            env = with_sysroot(env, test_sysroot)
        where = ["--node"]
        if variant.runtime.is_browser:
            chosen = driver or runtimes.locate(variant.runtime).driver
            if chosen is None:
                raise ToolMissing(f"no WebDriver for {variant.runtime}")
            where = runtimes.bindgen_test_runner.wasm_pack_flags(variant.runtime, chosen)
            env = runtimes.bindgen_test_runner.test_env(env)
        profile = profiles.test_flags(variant.options.profile)
        targets = ["--test", spec.test] if spec.test else list(crate.test_args)  # no doctests (see crate.py)
        argv = [str(wasm_pack), "test", *where, "--mode", "no-install", *profile, str(crate.package),
                *crate.cargo_args, *targets]
        return argv, crate.package, env
    argv = list(spec.argv)
    if "/" in argv[0] and not Path(argv[0]).is_absolute():
        argv[0] = str(crate.check_cwd / argv[0])  # a project file: where the check runs, not our cwd
    return argv, crate.check_cwd, env


def with_sysroot(env: Mapping[str, str], sysroot: Path) -> dict[str, str]:
    """The build's environment with its wasm32 std taken from `sysroot` (one with libtest), in a target dir of its
    own: the same flags otherwise, so the tests test what the build built."""
    out = dict(env)
    flags = [f for f in rustflags.from_env(out) if not f.startswith("--sysroot")] + [f"--sysroot={sysroot}"]
    rustflags.put_env(out, flags)
    if "CARGO_TARGET_DIR" in out:  # other flags than the build's: keep both compiled, apart
        out["CARGO_TARGET_DIR"] = f"{out['CARGO_TARGET_DIR']}-test"
    return out


def classify_browser_test_run(*, output: str, returncode: int | None, failure_signature: str | None
                              ) -> tuple[Verdict, str] | None:
    """What only a browser run of `wasm-pack test` can say: the runner skipped a Node-only test binary (nothing was
    tested, so never good), or the page never reported a result (the runner gave up waiting). None: judge on. Pure."""
    ran = runtimes.bindgen_test_runner.ran_in_browser(output) is not None
    if returncode == 0 and not ran and runtimes.bindgen_test_runner.skipped_node_only(output):
        return Verdict.SKIP, ("the tests did not run in the browser: this wasm-bindgen-test-runner runs tests without "
                              "wasm_bindgen_test_configure!(run_in_browser) only in Node (before 0.2.96)")
    if returncode not in (None, 0) and runtimes.bindgen_test_runner.NO_RESULT in output:
        if failure_signature and signature_matches(failure_signature, output):
            return None  # the page printed the bug itself before it stopped: judged as a failure
        return Verdict.ERROR, ("the browser tests reported no result in time (wasm-bindgen-test-runner gave up; "
                               "raise WASM_BINDGEN_TEST_TIMEOUT for long tests)")
    return None


def run_spec(spec: CheckSpec, argv: list[str], *, cwd: Path, env: Mapping[str, str], log: Path,
             build_failure: str, runtime: Runtime = Runtime.NODE, driver: Path | None = None) -> CheckResult:
    """Run a planned check and judge it by `spec` (git bisect's contract; a test build that failed is a build
    failure, not the bug). `wasm-pack test` in a browser gets a private TMPDIR and this process as owner, so the
    browser, its driver and their profiles go with the run, even when this process is killed outright."""
    if spec.kind is CheckKind.WASM_PACK_TEST and runtime.is_browser:
        processes.reap_orphans()  # browsers left by a wasm-bisect that was killed outright
        with runtimes.private_tmp() as tmp:
            owned = {**env, "TMPDIR": str(tmp), processes.OWNER_ENV: processes.owner_tag()}
            result = _run_spec(spec, argv, cwd=cwd, env=owned, log=log, build_failure=build_failure,
                               browser=True)
        evidence: dict[str, Any] = {"runtime": {"name": str(runtime)}}
        with contextlib.suppress(WasmBisectError):  # versions are evidence only
            paths = runtimes.locate(runtime)
            chosen = driver or paths.driver
            if chosen is not None:
                evidence["runtime"].update(runtimes.bindgen_test_runner.versions(paths.binary, chosen))
        said = runtimes.bindgen_test_runner.ran_in_browser(result.output_tail)
        if said:
            evidence["browser_run"] = said
        if result.verdict is Verdict.BAD and (text := failure_text(spec.failure_signature, result.output_tail)):
            evidence["failure_text"] = text
        return replace(result, evidence={**result.evidence, **evidence})
    return _run_spec(spec, argv, cwd=cwd, env=env, log=log, build_failure=build_failure, browser=False)


def _run_spec(spec: CheckSpec, argv: list[str], *, cwd: Path, env: Mapping[str, str], log: Path,
              build_failure: str, browser: bool) -> CheckResult:
    judge = None
    if spec.kind is CheckKind.WASM_PACK_TEST:
        def judge(returncode: int | None, output: str) -> tuple[Verdict, str] | None:
            if browser and (said := classify_browser_test_run(output=output, returncode=returncode,
                                                              failure_signature=spec.failure_signature)):
                return said
            return classify_test_run(output=output, returncode=returncode, build_failure=build_failure,
                                     failure_signature=spec.failure_signature,
                                     signature_judges_builds=spec.signature_judges_builds)
    result = run_argv(argv, cwd=cwd, env=env, timeout=spec.timeout, failure_signature=spec.failure_signature,
                      log=log, timeout_verdict=spec.timeout_verdict, judge=judge,
                      tail_lines=400 if spec.kind is CheckKind.WASM_PACK_TEST else 40)
    if spec.kind is CheckKind.WASM_PACK_TEST and result.verdict is Verdict.BAD and result.exit_code is not None:
        said = failing_test_line(result.output_tail, spec.failure_signature)
        if said:  # wasm-pack's last words name the command, not the failure
            return replace(result, reason=said)
    return result


def failing_test_line(output: str, signature: str | None) -> str:
    """What a failed test said: the line the signature matches, else the panic message, else the failing test."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    if signature:
        for line in lines:
            if signature_matches(signature, line):
                return line[:300]
    for i, line in enumerate(lines):
        if line.startswith("panicked at") and i + 1 < len(lines):
            return lines[i + 1][:300]
    return next((ln[:300] for ln in lines if ln.startswith("test ") and ln.endswith("FAIL")), "")
