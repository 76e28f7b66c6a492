"""Patch verification: every cell built with the base and with the patch, compared cell by cell. Pure.

A cell's change: fixed (base bad, patch good), still failing (bad, bad), newly failing (good, bad: a regression),
still passing (good, good) or untestable (either side skipped or errored). The conclusion is one line:
FIXED (good everywhere the base failed, no regression), PARTIAL, NOT FIXED, REGRESSES (any newly failing cell
wins), or INCONCLUSIVE (the base fails in no testable cell, or the patch is untestable wherever it did).
The oracle (store + real builds) is passed in, so this module never touches I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .model import BindgenSource, Outcome, ReferenceTypes, ToolchainSpec, Variant, Verdict


class Change(StrEnum):
    FIXED = "fixed"
    STILL_FAILING = "still failing"
    REGRESSION = "newly failing"
    STILL_PASSING = "still passing"
    UNTESTABLE = "untestable"


class Conclusion(StrEnum):
    FIXED = "FIXED"
    PARTIAL = "PARTIAL"
    NOT_FIXED = "NOT FIXED"
    REGRESSES = "REGRESSES"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> int:
        """0 fixed; 1 partial, not fixed or regresses (like a failing check); 3 nothing could be concluded."""
        return {"FIXED": 0, "INCONCLUSIVE": 3}.get(self.value, 1)


def compare(base: Verdict, patch: Verdict) -> Change:
    if not (base.testable and patch.testable):
        return Change.UNTESTABLE
    if base is Verdict.BAD:
        return Change.FIXED if patch is Verdict.GOOD else Change.STILL_FAILING
    return Change.REGRESSION if patch is Verdict.BAD else Change.STILL_PASSING


@dataclass(frozen=True, kw_only=True)
class Cell:
    rustc: ToolchainSpec
    reference_types: ReferenceTypes
    base: Outcome
    patch: Outcome

    @property
    def change(self) -> Change:
        return compare(self.base.verdict, self.patch.verdict)

    def name(self) -> str:
        return f"rustc {self.rustc.version} [{self.reference_types}]"

    def to_json(self) -> dict[str, Any]:
        return {"rustc": str(self.rustc), "reference_types": str(self.reference_types),
                "base": str(self.base.verdict), "patch": str(self.patch.verdict), "change": str(self.change),
                "base_reason": self.base.reason, "patch_reason": self.patch.reason}


def _names(cells: Sequence[Cell]) -> str:
    return ", ".join(c.name() for c in cells)


def conclude(cells: Sequence[Cell], *, base: str, patch: str) -> tuple[Conclusion, str]:
    """The verdict and its one-line explanation."""
    by: dict[Change, list[Cell]] = {change: [c for c in cells if c.change is change] for change in Change}
    failing = [c for c in cells if c.base.verdict is Verdict.BAD]
    fixed, still = by[Change.FIXED], by[Change.STILL_FAILING]
    untested = [c for c in failing if not c.patch.verdict.testable]
    if by[Change.REGRESSION]:
        regress = by[Change.REGRESSION]
        extra = f"; it fixes {len(fixed)} of {len(failing)} cell(s) where {base} failed" if failing else ""
        return Conclusion.REGRESSES, (f"REGRESSES: {patch} newly fails in {len(regress)} cell(s) where {base} "
                                      f"passed ({_names(regress)}){extra}")
    if not failing:
        skipped = len(by[Change.UNTESTABLE])
        return Conclusion.INCONCLUSIVE, (f"INCONCLUSIVE: {base} fails in no testable cell, so there is nothing "
                                         f"to verify ({len(cells)} cell(s), {skipped} untestable)")
    if len(fixed) == len(failing):
        return Conclusion.FIXED, (f"FIXED: {patch} passes in all {len(failing)} cell(s) where {base} failed "
                                  f"({_names(fixed)}), and newly fails nowhere")
    if fixed:
        return Conclusion.PARTIAL, (f"PARTIAL: {patch} fixes {len(fixed)} of {len(failing)} cell(s) where {base} "
                                    f"failed; still failing: {_names(still) or 'none'}"
                                    + (f"; untestable: {_names(untested)}" if untested else ""))
    if still:
        return Conclusion.NOT_FIXED, (f"NOT FIXED: {patch} still fails in {len(still)} of {len(failing)} cell(s) "
                                      f"where {base} failed ({_names(still)})"
                                      + (f"; untestable: {_names(untested)}" if untested else ""))
    return Conclusion.INCONCLUSIVE, (f"INCONCLUSIVE: {patch} is untestable in every cell where {base} failed "
                                     f"({_names(untested)})")


@dataclass(frozen=True, kw_only=True)
class Result:
    template: str
    base_label: str
    patch_label: str
    cells: tuple[Cell, ...]

    @property
    def conclusion(self) -> tuple[Conclusion, str]:
        return conclude(self.cells, base=self.base_label, patch=self.patch_label)

    def counts(self) -> dict[str, int]:
        return {str(change): sum(c.change is change for c in self.cells) for change in Change}

    def to_json(self) -> dict[str, Any]:
        conclusion, line = self.conclusion
        return {"template": self.template, "base_label": self.base_label, "patch_label": self.patch_label,
                "conclusion": str(conclusion), "line": line, "counts": self.counts(),
                "cells": [c.to_json() for c in self.cells]}


def run(
    *,
    template: str,
    rustc: Sequence[ToolchainSpec],
    reference_types: Sequence[ReferenceTypes],
    base: BindgenSource,
    patch: BindgenSource,
    variant: Callable[[ToolchainSpec, BindgenSource, ReferenceTypes], Variant],
    outcome: Callable[[Variant], Outcome],
) -> Result:
    """Ask for every base cell first (usually answered by the store from the earlier bisect), then the patch."""
    grid = [(r, rt) for r in rustc for rt in reference_types]
    bases = [outcome(variant(r, base, rt)) for r, rt in grid]
    patches = [outcome(variant(r, patch, rt)) for r, rt in grid]
    cells = tuple(Cell(rustc=r, reference_types=rt, base=b, patch=p)
                  for (r, rt), b, p in zip(grid, bases, patches, strict=True))
    return Result(template=template, base_label=base.label(), patch_label=patch.label(), cells=cells)


def base_from_runs(runs: Sequence[Any], template: str) -> tuple[str, dict[str, Any]] | None:
    """The failing wasm-bindgen of the newest finished regress-mode bisect run of `template`, with its grid.

    `runs` are store.Run rows, newest first.
    """
    for run_row in runs:
        config: Mapping[str, Any] = run_row.config or {}
        grid = config.get("grid") or {}
        if run_row.kind != "bisect" or grid.get("template") != template or config.get("find_fix"):
            continue
        for search in (run_row.result or {}).get("searches", []):
            first = search.get("first_failing")
            if first and first.get("bindgen"):
                return str(first["bindgen"]), dict(grid)
    return None


_MARK = {Change.FIXED: "✅ fixed", Change.STILL_FAILING: "❌ still failing", Change.REGRESSION: "🔥 newly failing",
         Change.STILL_PASSING: "✔️ still passing", Change.UNTESTABLE: "⏭️ untestable"}


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(result: Result, *, base: str, patch: str, run_id: str | None = None, matrix: str | None = None) -> str:
    """A Markdown report: the verdict, one row per cell, then (when given) the matrix report of the same run."""
    conclusion, line = result.conclusion
    out = [f"## {result.template}: {conclusion}", "", f"**{_md(line)}**", "",
           f"- Base: {_md(base)}", f"- Patch: {_md(patch)}", ""]
    out += ["| rustc | reference-types | base | patch | change |", "|---|---|---|---|---|"]
    for cell in result.cells:
        out.append(f"| {cell.rustc} | {cell.reference_types} | {cell.base.verdict} | {cell.patch.verdict} | "
                   f"{_MARK[cell.change]} |")
    out.append("")
    notes = [c for c in result.cells if c.change in (Change.UNTESTABLE, Change.REGRESSION, Change.STILL_FAILING)]
    if notes:
        out += ["<details><summary>Why (cells that are not fixed)</summary>", ""]
        for c in notes:
            out.append(f"- {c.name()}: base {c.base.verdict}: {_md(c.base.reason)}; "
                       f"patch {c.patch.verdict}: {_md(c.patch.reason)}")
        out += ["", "</details>", ""]
    if matrix:
        out += ["### All probes of this run", "", matrix.rstrip(), ""]
    if run_id:
        out.append(f"<sub>wasm-bisect verify run {run_id}</sub>")
    return "\n".join(out) + "\n"
