"""What a build's outcome means: the verdict of a failed build or resolution, and whether the module was built by
the cell's own rustc and wasm-bindgen. Pure: no files, no processes (the build and the resolver hand their output
here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasm_bisect.domain.model import Stage, Variant, Verdict
from wasm_bisect.probe import reasons
from wasm_bisect.probe.check import signature_matches
from wasm_bisect.probe.reproducer import Materialised
from wasm_bisect.util.processes import Completed

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
    rendered: Materialised | None = None  # the variant's copy of the crate (the check runs in rendered.package)
    env: dict[str, str] = field(default_factory=dict, repr=False)  # the build's environment (the check's base)


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
    if Verdict(variant.options.build_failure) is Verdict.BAD:
        matched = signature_matches(signature, tail)
        if matched is None:
            return Verdict.ERROR, "the failure signature took too long to match the build output"
        if not matched:
            return Verdict.SKIP, f"{stage} failed differently from the bug under study: {detail}"
        return Verdict.BAD, f"{stage} failed (build failures count as bad): {detail}"
    return Verdict.SKIP, f"{stage} failed, so the cell is untestable: {detail}"


def resolve_failure(result: Completed, why: str) -> BuildResult:
    """A resolver that failed: the network or a timeout is an error; no dependency set for the pair is a skip."""
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
