"""`--prompt`: a person judges each built cell on the terminal (`good / bad / skip / retry / quit`)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Outcome, Terms, Variant, Verdict
from wasm_bisect.probe import Judge
from wasm_bisect.runs.serve import PageFor

TAIL_LINES = 12


@dataclass(frozen=True, kw_only=True)
class Terminal:
    """Where the question is shown and the answer read: the controlling terminal, or a fake in tests."""

    read: Callable[[], str]  # one line; "" at end of input
    write: Callable[[str], None]


def require_terminal(stdin_is_tty: bool | None = None) -> None:
    """--prompt needs a person at a terminal: refused (one line, exit 2) when stdin is not one."""
    if not (sys.stdin.isatty() if stdin_is_tty is None else stdin_is_tty):
        raise UsageError("--prompt asks a person on the terminal, but stdin is not a terminal",
                         hint="run it in a terminal, or record verdicts with `wasm-bisect mark`")


def describe(variant: Variant, outcome: Outcome, terms: Terms, page: str | None = None) -> str:
    """What was built, for the person to judge: the cell, its paths, the check's word and output, the module."""
    ev = outcome.evidence
    lines = [f"\n== {variant.short()}: rustc {variant.rustc} + wasm-bindgen {variant.bindgen.label()}, "
             f"reference-types {variant.reference_types} =="]
    if outcome.crate_dir:
        lines.append(f"  crate: {outcome.crate_dir}")
    if ev.get("pkg_dir"):
        lines.append(f"  pkg:   {ev['pkg_dir']}")
    if page:
        lines.append(f"  page:  {page}  (served while this question is open)")
    if ev.get("target_features") is not None:
        lines.append(f"  module target_features: {' '.join(ev['target_features']) or '(none)'}; externref "
                     f"transform: {'yes' if ev.get('externref_transform') else 'no'}")
    stage = f" at {outcome.stage}" if outcome.stage else ""
    lines.append(f"  the check says: {terms.word(outcome.verdict)}{stage}: {outcome.reason}")
    tail = outcome.log_tail.strip().splitlines()[-TAIL_LINES:]
    if tail:
        lines.append("  output (last lines):")
        lines.extend(f"    | {line}" for line in tail)
    return "\n".join(lines) + "\n"


def ask(variant: Variant, outcome: Outcome, terms: Terms, terminal: Terminal, page: str | None = None
        ) -> Verdict | None:
    """The person's verdict for a built cell; None to build it again (retry). `quit` (or the end of input)
    raises KeyboardInterrupt: the run stops resumable, as after Ctrl-C."""
    choices = f"{terms.old} / {terms.new} / skip / retry / quit"
    terminal.write(describe(variant, outcome, terms, page))
    while True:
        terminal.write(f"{variant.short()}: {choices}? ")
        line = terminal.read()
        if not line:
            terminal.write("\n")
            raise KeyboardInterrupt
        word = line.strip().lower()
        if word in ("quit", "q"):
            raise KeyboardInterrupt
        if word in ("retry", "r"):
            terminal.write("building it again\n")
            return None
        verdict = terms.verdict(word)
        if verdict is not None and verdict is not Verdict.ERROR:
            return verdict
        terminal.write(f"answer one of: {choices}\n")


@contextlib.contextmanager
def controlling_terminal() -> Iterator[Terminal]:
    """The controlling terminal (/dev/tty), read and written directly: stdout stays for results."""
    try:  # two handles: a terminal cannot seek, which a text file opened for both would try
        reader: IO[str] = Path(os.ctermid()).open(encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
        writer: IO[str] = Path(os.ctermid()).open("w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"--prompt cannot open the terminal: {exc.strerror or exc}",
                         hint="run it in a terminal, or record verdicts with `wasm-bisect mark`") from None

    def write(text: str) -> None:
        writer.write(text)
        writer.flush()

    try:
        yield Terminal(read=reader.readline, write=write)
    finally:
        reader.close()
        writer.close()


def judge(terms: Terms, terminal: Terminal, pages: PageFor | None = None) -> Judge:
    """The oracle's judge: ask the person about each cell built (with its page served while asked, `pages`)."""
    if pages is None:
        return lambda variant, outcome: ask(variant, outcome, terms, terminal)

    def with_page(variant: Variant, outcome: Outcome) -> Verdict | None:
        with pages(variant, outcome) as url:
            return ask(variant, outcome, terms, terminal, url)

    return with_page
