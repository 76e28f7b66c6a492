"""A person's verdicts without a terminal session: `mark` records or corrects one cell of a run, `replay` applies
the verdicts of an edited `log` and runs the command again (git bisect's `replay`).

A mark is stored where the run's probes are (its template and check hashes: a `--prompt` run's marks apart from
the check's verdicts), with `by: person`, replacing what was there; the next run of the same command answers that
cell from the store, as every stored cell, and builds only what the corrected search newly asks.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from wasm_bisect.domain.errors import StoreError, UsageError
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import Outcome, ReferenceTypes, Terms, Variant, Verdict
from wasm_bisect.probe import marked
from wasm_bisect.store import Run, Store

__all__ = ["Cell", "Mark", "Marked", "Replay", "apply", "mark", "parse_cell", "parse_log", "terms_of", "verdict_word"]

MARKABLE = (Verdict.GOOD, Verdict.BAD, Verdict.SKIP)
_HEADER = re.compile(r"#\s*run\s+(\S+)\s+\((\w[\w-]*)\):\s*(.*)")


@dataclass(frozen=True, kw_only=True)
class Cell:
    """RUSTC@BINDGEN[:SETTING] as a person types it (`debian:1.96.0@0.2.95:default`, `1.96.0@0.2.95`)."""

    rustc: str
    bindgen: str
    setting: ReferenceTypes | None = None

    def __str__(self) -> str:
        return f"{self.rustc}@{self.bindgen}" + (f":{self.setting}" if self.setting else "")


@dataclass(frozen=True, kw_only=True)
class Mark:
    verdict: Verdict
    cell: Cell
    line: int = 0  # where it was read (replay), for messages


@dataclass(frozen=True, kw_only=True)
class Marked:
    """What one mark changed: the cell, the verdict stored before (None: never probed) and now."""

    cell: str
    was: Verdict | None
    now: Verdict

    @property
    def changed(self) -> bool:
        return self.was is not self.now


@dataclass(frozen=True, kw_only=True)
class Replay:
    """An edited `wasm-bisect log`: the run it came from, its command and the verdicts in it."""

    run_id: str
    command: str
    marks: tuple[Mark, ...]

    def argv(self) -> list[str]:
        """The run's command as arguments to wasm-bisect (without the program name)."""
        words = shlex.split(self.command)
        return words[1:] if words and words[0].endswith("wasm-bisect") else words


def parse_cell(text: str) -> Cell:
    """RUSTC@BINDGEN[:SETTING]; UsageError when it is not one."""
    body, sep, tail = text.strip().rpartition(":")
    setting = None
    if sep and tail in {str(r) for r in ReferenceTypes}:
        setting, text = ReferenceTypes(tail), body
    rustc, at, bindgen = text.strip().rpartition("@")
    if not at or not rustc or not bindgen:
        raise UsageError(f"cell {text!r} is not RUSTC@BINDGEN[:SETTING]", hint="e.g. debian:1.96.0@0.2.95:default")
    return Cell(rustc=rustc, bindgen=bindgen, setting=setting)


def terms_of(run: Run) -> Terms:
    """The words a run was judged in (its --term-old/--term-new, else the mode's)."""
    find_fix = bool(run.config.get("find_fix"))
    given = run.config.get("terms")
    if isinstance(given, dict):
        return Terms.of(str(given.get("old") or "") or None, str(given.get("new") or "") or None, find_fix=find_fix)
    return Terms.of(find_fix=find_fix)


def verdict_word(word: str, terms: Terms, where: str) -> Verdict:
    verdict = terms.verdict(word)
    if verdict is None or verdict not in MARKABLE:
        raise UsageError(f"{where}: {word!r} is not a verdict",
                         hint=f"use {terms.old}, {terms.new} or skip (or good, bad)")
    return verdict


def parse_log(text: str, *, store: Store | None = None) -> Replay:
    """The run id, command and verdict lines of a `wasm-bisect log` (comments and blank lines ignored). The
    words are read in the run's terms when `store` holds the run, else as good/bad/skip."""
    lines = text.splitlines()
    header = next((m for line in lines if (m := _HEADER.fullmatch(line.strip()))), None)
    if header is None:
        raise UsageError("no `# run ID (kind): COMMAND` line: not the output of `wasm-bisect log`",
                         hint="write it with `wasm-bisect log RUN > FILE`, then edit the verdict words")
    run_id, _kind, command = header.groups()
    terms = terms_of(store.run(run_id)) if store is not None else Terms.of()
    marks = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if not rest.strip():
            raise UsageError(f"line {number}: {line!r} is not `VERDICT RUSTC@BINDGEN:SETTING`")
        if word.lower() == "error":  # infrastructure failures are not marks: they are probed again
            continue
        marks.append(Mark(verdict=verdict_word(word, terms, f"line {number}"), cell=parse_cell(rest.strip()),
                          line=number))
    return Replay(run_id=run_id, command=command, marks=tuple(marks))


def _variant(run: Run, cell: Cell) -> Variant:
    """The run's grid cell that `cell` names (a bare rustc version matches its provider's toolchain)."""
    try:
        grid = Grid.from_identity(run.config["grid"])
    except (KeyError, TypeError, ValueError, UsageError) as exc:
        raise UsageError(f"run {run.run_id} has no grid of releases to mark ({exc})",
                         hint="marks work on bisect runs over wasm-bindgen releases") from None
    rustc = [r for r in grid.rustc if cell.rustc in (str(r), r.version)]
    bindgen = [b for b in grid.bindgen if b.label() == cell.bindgen]
    if len(rustc) != 1 or not bindgen:
        raise UsageError(f"{cell} is not a cell of run {run.run_id}",
                         hint=f"rustc {', '.join(map(str, grid.rustc))}; wasm-bindgen "
                         f"{', '.join(b.label() for b in grid.bindgen)}")
    setting = cell.setting or grid.reference_types[0]
    if cell.setting is None and len(grid.reference_types) > 1:
        raise UsageError(f"{cell}: the run searched reference-types {', '.join(map(str, grid.reference_types))}",
                         hint=f"name one: {cell}:{grid.reference_types[0]}")
    if setting not in grid.reference_types:
        raise UsageError(f"{cell}: run {run.run_id} did not search reference-types {setting}")
    return grid.variant(rustc[0], bindgen[0], setting)


def mark(store: Store, run: Run, verdict: Verdict, cell: Cell, *, how: str = "with `wasm-bisect mark`") -> Marked:
    """Record (or correct) a person's verdict for one cell of `run`, by: person, replacing the stored one."""
    if verdict not in MARKABLE:
        raise UsageError(f"a mark is good, bad or skip, not {verdict}")
    keys = store.run_keys(run.run_id)
    if keys is None:
        raise StoreError(f"run {run.run_id} has no probes yet: nothing tells which check its marks belong to",
                         hint="run the bisect until its first probe, then mark")
    variant = _variant(run, cell)
    th, ch = keys
    stored = store.get(variant, th, ch)
    outcome = (marked(stored, verdict, how=how) if stored is not None else
               Outcome(verdict=verdict, reason=f"marked {verdict} by a person {how} (not built)", by="person"))
    if stored is not None and stored.by == "person" and stored.verdict is verdict:
        return Marked(cell=variant.short(), was=stored.verdict, now=verdict)
    store.put(variant, th, ch, outcome)
    if not store.in_run(run.run_id, variant):  # it belongs to the run's log from now on
        store.record(run.run_id, variant, th, ch, outcome, cached=True)
    return Marked(cell=variant.short(), was=stored.verdict if stored else None, now=verdict)


def apply(store: Store, replay: Replay) -> list[Marked]:
    """The verdicts of an edited log that differ from the store, marked (the rest is left as it is)."""
    run = store.run(replay.run_id)
    keys = store.run_keys(run.run_id)
    done = []
    for item in replay.marks:
        variant = _variant(run, item.cell)
        stored = store.get(variant, *keys) if keys else None
        if stored is not None and stored.verdict is item.verdict:
            continue
        done.append(mark(store, run, item.verdict, item.cell, how="in a replayed log"))
    return done
