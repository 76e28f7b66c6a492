"""Progress and messages on stderr; CI-aware (GitHub Actions log groups, annotations, step summary)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, highlight=False, soft_wrap=True)
_START = time.monotonic()
_verbose = False


def on_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def set_verbose(value: bool) -> None:
    global _verbose  # noqa: PLW0603 - one process-wide verbosity, like nox's logger
    _verbose = value


def _stamp() -> str:
    seconds = int(time.monotonic() - _START)
    return f"[dim]{seconds // 60:02d}:{seconds % 60:02d}[/dim]"


def info(message: str) -> None:
    console.print(f"{_stamp()} {message}", markup=True)


def plain(message: str) -> None:
    console.print(f"{_stamp()} ", end="")
    console.print(message, markup=False)


def command(line: str) -> None:
    if _verbose:
        console.print(line, markup=False, style="dim")


def _one_line(text: str) -> str:
    """Control characters, line separators and lone surrogates of user input shown escaped (`\\n`, `\\x1b`):
    a message stays one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def warn(message: str) -> None:
    """Plain text (paths, exception texts): never read as rich markup."""
    message = _one_line(message)
    if on_github():
        print(f"::warning::{message}", file=sys.stderr)
    console.print(f"[yellow]warning:[/yellow] {escape(message)}", markup=True)


def error(message: str) -> None:
    """One line of plain text, whatever the message holds: user input may contain `[`, newlines, escapes."""
    message = _one_line(message)
    if on_github():
        print(f"::error::{message}", file=sys.stderr)
    console.print(f"[red]wasm-bisect: error:[/red] {escape(message)}", markup=True, soft_wrap=True)


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible log group on GitHub Actions, a heading elsewhere."""
    if on_github():
        print(f"::group::{title}", file=sys.stderr, flush=True)
    else:
        info(f"[bold]{title}[/bold]")
    try:
        yield
    finally:
        if on_github():
            print("::endgroup::", file=sys.stderr, flush=True)


def step_summary(markdown: str) -> None:
    """Append to the GitHub Actions job summary when running there."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a") as handle:
            handle.write(markdown + "\n")
