"""Patch verification: every cell built with the base and with the patch, compared cell by cell.

A cell's change: fixed (base bad, patch good), still failing (bad, bad), newly failing (good, bad: a regression),
still passing (good, good) or untestable (either side skipped or errored). The conclusion is one line:
FIXED (good everywhere the base failed, no regression), PARTIAL, NOT FIXED, REGRESSES (any newly failing cell
wins), or INCONCLUSIVE (the base fails in no testable cell, or the patch is untestable wherever it did).
The comparison is pure; `execute` wires the store, the oracle and the sources around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from wasm_bisect import toolchains
from wasm_bisect.bindgen import index, sources
from wasm_bisect.bindgen.sources import Resolved, SourceSpec
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import Grid, parse_reference_types
from wasm_bisect.domain.model import (
    BindgenSource,
    BuildOptions,
    Outcome,
    ReferenceTypes,
    Runtime,
    ToolchainSpec,
    Variant,
    Verdict,
    options_for,
)
from wasm_bisect.domain.versions import bindgen_key
from wasm_bisect.probe import Oracle
from wasm_bisect.probe.reproducer import Reproducer, run_config
from wasm_bisect.runs._events import QUIET, Events
from wasm_bisect.runs._fingerprint import fingerprint_of
from wasm_bisect.runs.estimate import DryRun, estimate
from wasm_bisect.store import Store


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


def base_from_runs(runs: Sequence[Any], template: str, root: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """The failing wasm-bindgen of the newest finished regress-mode bisect run of `template`, with its grid.

    `runs` are store.Run rows, newest first; with `root`, only runs of the reproducer at that path count (two
    projects may both have a package `app`).
    """
    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    for run_row in runs:
        config: Mapping[str, Any] = run_row.config or {}
        grid = config.get("grid") or {}
        if run_row.kind != "bisect" or not isinstance(grid, dict) or grid.get("template") != template \
                or config.get("find_fix"):
            continue
        if not all(strings(grid.get(axis, [])) for axis in ("rustc", "reference_types")):
            continue  # a damaged or hand-edited run is no base to take
        if root is not None and config.get("template_path") not in (None, root):
            continue
        searches = (run_row.result or {}).get("searches", [])
        for search in searches if isinstance(searches, list) else []:
            first = search.get("first_failing") if isinstance(search, dict) else None
            if isinstance(first, dict) and isinstance(first.get("bindgen"), str) and first["bindgen"]:
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


# -- the run (I/O through the store, the oracle and the sources) -------------------------------------------
@dataclass(frozen=True, kw_only=True)
class VerifyRun:
    """A finished verify run: the comparison, what was compared, and the run's record."""

    result: Result
    patch: Resolved
    base: Resolved
    run_id: str
    built: int
    from_store: int
    markdown: str

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "patch": self.patch.to_json(), "base": self.base.to_json(),
                "run_id": self.run_id, "probes": {"built": self.built, "from_store": self.from_store}}


@dataclass(frozen=True, kw_only=True)
class VerifyRequest:
    template: Reproducer
    params: tuple[tuple[str, str], ...]
    options: BuildOptions
    patch: str
    against: str | None
    # rustc axis and reference-types the user gave (flag or config); None: the base bisect run's, else default
    rustc: str | None
    reference_types: tuple[ReferenceTypes, ...] | None
    default_rustc: str
    default_reference_types: str
    command: str
    runtime: Runtime = Runtime.NODE


def check_releases(*named: tuple[SourceSpec, str], notice: Callable[[str], None] | None = None) -> None:
    """Each crates.io version must be a published wasm-bindgen release (checked before anything is
    provisioned); the release list is read once, and not at all when no version is named."""
    index.check_published([(str(spec.version), what) for spec, what in named if spec.kind == "crates"],
                          notice=notice)


def _different(patch: SourceSpec, base: SourceSpec) -> None:
    """Two crates.io versions can be compared before anything is resolved (git and path sources after)."""
    if patch.kind == base.kind == "crates" and patch.version == base.version:
        raise UsageError(f"--patch and the base are the same source ({patch.version})",
                         hint="compare two different versions or revisions")


def _checked_inputs(request: VerifyRequest, events: Events, *, rustc_axis: Callable[[str], tuple[ToolchainSpec, ...]],
                    past_runs: Callable[[], Sequence[Any]]
                    ) -> tuple[SourceSpec, SourceSpec, tuple[ToolchainSpec, ...], tuple[ReferenceTypes, ...]]:
    """Patch, base, rustc axis and settings, each checked (offline first, then the release list and the
    providers); nothing is provisioned, fetched or written."""
    tmpl = request.template
    patch_spec = sources.parse(request.patch)
    against_spec = sources.parse(request.against) if request.against is not None else None
    if against_spec is not None:
        _different(patch_spec, against_spec)
    if request.rustc:  # typed: checked (syntax, then the providers) before the release list is fetched
        toolchains.check_known(rustc_axis(request.rustc))
    check_releases((patch_spec, "--patch"), *([(against_spec, "--against")] if against_spec else []),
                   notice=events.info)
    base_text, base_grid = request.against, dict[str, Any]()
    if base_text is None:
        found = base_from_runs(past_runs(), tmpl.name, str(tmpl.root))
        if found is None:
            raise UsageError(f"no finished bisect run of template {tmpl.name} in the store to take the base from",
                             hint="give --against VERSION (e.g. --against 0.2.99)")
        base_text, base_grid = found
        events.info(f"base: wasm-bindgen {base_text}, the first failing version of the newest bisect run")
    rustc = rustc_axis(request.rustc or ",".join(base_grid.get("rustc") or []) or request.default_rustc)
    rts = request.reference_types or parse_reference_types(",".join(base_grid.get("reference_types") or [])
                                                            or request.default_reference_types)
    base_spec = against_spec
    if base_spec is None:  # taken from a bisect run: check it like a typed one
        base_spec = sources.parse(base_text)
        check_releases((base_spec, "the base"), notice=events.info)
    _different(patch_spec, base_spec)
    toolchains.check_known(rustc)
    return patch_spec, base_spec, tuple(rustc), tuple(rts)


def dry_run(request: VerifyRequest, *, rustc_axis: Callable[[str], tuple[ToolchainSpec, ...]],
            store: Store | None, events: Events = QUIET) -> DryRun:
    """`verify --dry-run`: the plan and estimate of every cell with the base and the patch (releases only: a
    git or path source is fetched and built when the run starts)."""
    patch_spec, base_spec, rustc, rts = _checked_inputs(
        request, events, rustc_axis=rustc_axis, past_runs=lambda: store.runs() if store is not None else [])
    if patch_spec.kind != "crates" or base_spec.kind != "crates":
        raise UsageError("--dry-run estimates wasm-bindgen releases only",
                         hint="a git or path source is fetched and its CLI built when the run starts")
    columns = sorted((BindgenSource.crates(str(base_spec.version)), BindgenSource.crates(str(patch_spec.version))),
                     key=lambda b: bindgen_key(b.version))
    tmpl = request.template
    grid = Grid(template=tmpl.name, rustc=rustc, bindgen=tuple(columns), reference_types=rts,
                options=options_for(request.options, request.runtime), params=request.params,
                runtimes=(request.runtime,))
    return estimate(command="verify", grid=grid, reproducer=tmpl, store=store, allow_yanked=True)


def execute(request: VerifyRequest, open_store: Callable[[], Store], events: Events = QUIET, *,
            rustc_axis: Callable[[str], tuple[ToolchainSpec, ...]],
            matrix_markdown: Callable[[Store, str], str | None] | None = None,
            past_runs: Callable[[], Sequence[Any]] | None = None) -> VerifyRun:
    """Resolve patch and base, probe every cell with both, compare, store the run.

    Order: everything typed is checked offline (sources, the rustc axis); then the release list, the base
    taken from earlier runs (read-only: `past_runs`, else the store), the toolchains (provisioned and verified
    like `toolchain add`), the git sources; only then is the store opened for writing and a run started."""
    tmpl = request.template
    patch_spec, base_spec, rustc, rts = _checked_inputs(
        request, events, rustc_axis=rustc_axis, past_runs=past_runs or (lambda: open_store().runs()))
    patch_src = sources.resolve(patch_spec, progress=events.progress)
    base_src = sources.resolve(base_spec, progress=events.progress)
    toolchains.prepare(rustc, progress=events.progress)
    if patch_src.source == base_src.source:
        raise UsageError(f"--patch and the base are the same source ({patch_src.source.label()})",
                         hint="compare two different versions or revisions")
    store = open_store()
    events.info(f"patch: {patch_src.describe()}")
    events.info(f"base:  {base_src.describe()}")

    options = options_for(request.options, request.runtime)

    def variant(r: ToolchainSpec, b: BindgenSource, rt: ReferenceTypes) -> Variant:
        return Variant(template=tmpl.name, rustc=r, bindgen=b, reference_types=rt, options=options,
                       params=request.params, runtime=request.runtime)

    grid_identity: dict[str, Any] = {"template": tmpl.name, "rustc": [str(r) for r in rustc],
                                     "bindgen": [base_src.source.label(), patch_src.source.label()],
                                     "reference_types": [str(rt) for rt in rts], "options": options.__dict__,
                                     "params": [list(p) for p in request.params]}
    if request.runtime is not Runtime.NODE:  # a node run keeps the identity it had before browsers existed
        grid_identity["runtimes"] = [str(request.runtime)]
    fingerprint = fingerprint_of("verify", grid_identity, base_src.source.rev, patch_src.source.rev,
                                 tmpl.content_hash, tmpl.check_hash)
    run_id = store.start_run(kind="verify", fingerprint=fingerprint, command=request.command,
                             config={"grid": grid_identity, "patch": patch_src.to_json(), "base": base_src.to_json(),
                                     **run_config(tmpl)})
    oracle = Oracle(template=tmpl, store=store, run_id=run_id, progress=events.progress, on_probe=events.on_probe)
    events.info(f"verify {tmpl.name}: {len(rustc)} rustc x {len(rts)} reference-types = "
                f"{len(rustc) * len(rts)} cells, each with the base and the patch (run {run_id})")
    with events.section(f"verify {tmpl.name}"):
        result = run(template=tmpl.name, rustc=rustc, reference_types=rts, base=base_src.source,
                     patch=patch_src.source, variant=variant, outcome=oracle.outcome)
    verified = VerifyRun(result=result, patch=patch_src, base=base_src, run_id=run_id, built=oracle.built,
                         from_store=oracle.cached, markdown="")
    store.finish_run(run_id, verified.to_json())
    text = markdown(result, base=base_src.describe(), patch=patch_src.describe(), run_id=run_id,
                    matrix=matrix_markdown(store, run_id) if matrix_markdown else None)
    return replace(verified, markdown=text)
