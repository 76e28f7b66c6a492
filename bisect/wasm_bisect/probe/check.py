"""The Node check: run it with a time limit, and a pure classifier that turns its result into a verdict."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import regex

from wasm_bisect.domain.model import Verdict
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


def last_meaningful_line(output: str) -> str:
    for raw in reversed(output.strip().splitlines()):
        line = raw.strip()
        if line and not line.startswith("at "):
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


def environment(base: Mapping[str, str], *, pkg_module: Path, params: tuple[tuple[str, str], ...]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("WASM_BISECT_PARAM_")}
    env["WASM_BISECT_PKG"] = str(pkg_module)
    for name, value in params:
        env[f"WASM_BISECT_PARAM_{name.upper()}"] = value
    return env


def run(
    *,
    crate_dir: Path,
    script: str,
    pkg_module: Path,
    params: tuple[tuple[str, str], ...],
    timeout: float,
    failure_signature: str | None,
    log: Path,
) -> CheckResult:
    env = environment(os.environ, pkg_module=pkg_module, params=params)
    result = processes.run(["node", crate_dir / script], env=env, cwd=crate_dir, timeout=timeout, log=log, check=False)
    verdict, reason = classify(
        returncode=result.returncode,
        output=result.output,
        timed_out=result.timed_out,
        failure_signature=failure_signature,
        timeout=timeout,
    )
    return CheckResult(
        verdict=verdict,
        reason=reason,
        exit_code=None if result.timed_out else result.returncode,
        output_tail=result.output,
        seconds=result.seconds,
    )
