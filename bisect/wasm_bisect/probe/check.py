"""The check: run it in its runtime (Node, or a headless browser) with a time limit, and a pure classifier that
turns its result into a verdict the same way for every runtime (git bisect's exit-code contract)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from wasm_bisect.domain.errors import WasmBisectError
from wasm_bisect.domain.model import Runtime, Verdict
from wasm_bisect.probe import runtimes
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


# A stack frame, as V8 (`    at f (file:1:2)`) or Firefox/Safari (`f@http://host/file.js:1:2`) print it.
_FRAME = regex.compile(r"^(at\s|[^\s@]*@\S+:\d+(:\d+)?$)")


def last_meaningful_line(output: str) -> str:
    for raw in reversed(output.strip().splitlines()):
        line = raw.strip()
        if line and not _FRAME.match(line):
            return line[:300]
    return ""


def classify(
    *,
    returncode: int | None,
    output: str,
    timed_out: bool,
    failure_signature: str | None,
    timeout: float,
) -> tuple[Verdict, str]:
    """Verdict of a check run, following git bisect's exit-code contract. Pure.

    0 good; 125 untestable; 1..127 bad, but only when the output matches the template's failure signature
    (if it has one): another failure is not the bug under study, so it is untestable; >= 128 or a signal
    is an abort of the check itself (infrastructure), as is a timeout.
    """
    last = last_meaningful_line(output)
    if timed_out:
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
    matched = True
    if failure_signature:
        try:
            # A template's regex is user input: a catastrophic pattern must not hang the run.
            matched = regex.search(failure_signature, output, timeout=SIGNATURE_SECONDS) is not None
        except TimeoutError:
            return Verdict.ERROR, f"the template's failure_signature took over {SIGNATURE_SECONDS:.0f} s to match"
    if not matched:
        return Verdict.SKIP, f"check failed differently from the bug under study (exit {returncode}): {last}"
    return Verdict.BAD, last or f"check failed with exit code {returncode}"


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


def environment(base: Mapping[str, str], *, pkg_module: Path, params: tuple[tuple[str, str], ...]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("WASM_BISECT_PARAM_")}
    env["WASM_BISECT_PKG"] = str(pkg_module)
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
) -> CheckResult:
    """Run the check in `runtime` (`driver`: the WebDriver of a browser) and classify what it did."""
    if runtime.is_browser:
        return _run_in_browser(crate_dir=crate_dir, script=script, pkg_module=pkg_module, params=params,
                               timeout=timeout, failure_signature=failure_signature, log=log, runtime=runtime,
                               driver=driver)
    env = environment(os.environ, pkg_module=pkg_module, params=params)
    runner = runtimes.install_runner(log.parent.parent)
    result = processes.run(runtimes.node_argv(runner, crate_dir / script), env=env, cwd=crate_dir, timeout=timeout,
                           log=log, check=False)
    verdict, reason = classify(
        returncode=result.returncode,
        output=result.output,
        timed_out=result.timed_out,
        failure_signature=failure_signature,
        timeout=timeout,
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
                    driver: Path | None) -> CheckResult:
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
                                   failure_signature=failure_signature, timeout=timeout)
        if page.timed_out:
            reason = f"check did not finish within {timeout:.0f} s (the browser was killed with its process group)"
    if verdict is Verdict.BAD and (text := failure_text(failure_signature, page.output)):
        evidence["failure_text"] = text
    return CheckResult(verdict=verdict, reason=reason, exit_code=None if page.timed_out else page.returncode,
                       output_tail="\n".join(page.output.splitlines()[-60:]), seconds=page.seconds,
                       evidence=evidence)
