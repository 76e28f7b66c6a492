"""Where output goes: results on stdout (`out()`), progress and diagnostics on stderr (`console`); CI-aware
(GitHub Actions log groups, annotations, step summary). Off a terminal nothing is cut to a width: results are
laid out at their natural width, so `wasm-bisect ... > file` or a pipe keeps every character."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, highlight=False, soft_wrap=True)
_START = time.monotonic()
_verbose = False
_quiet = False
# Off a terminal, rich would lay tables out for 80 columns and cut cells with an ellipsis.
_NATURAL_WIDTH = 100_000
_out: Console | None = None


def out() -> Console:
    """The results console on stdout: a terminal's width on a terminal, natural width elsewhere."""
    global _out  # noqa: PLW0603 - one process-wide results console, made on first use (after tests swap stdout)
    if _out is None or _out.file is not sys.stdout:
        terminal = sys.stdout.isatty()
        _out = Console(file=sys.stdout, highlight=False, soft_wrap=not terminal,
                       width=None if terminal else _NATURAL_WIDTH, no_color=not terminal or None)
    return _out


def set_quiet(value: bool) -> None:
    """--quiet: no progress lines on stderr (warnings, errors and results stay)."""
    global _quiet  # noqa: PLW0603 - one process-wide verbosity, like nox's logger
    _quiet = value


def quiet() -> bool:
    return _quiet


def on_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def set_verbose(value: bool) -> None:
    global _verbose  # noqa: PLW0603 - one process-wide verbosity, like nox's logger
    _verbose = value


def _stamp() -> str:
    seconds = int(time.monotonic() - _START)
    return f"[dim]{seconds // 60:02d}:{seconds % 60:02d}[/dim]"


def info(message: str) -> None:
    if not _quiet:
        console.print(f"{_stamp()} {message}", markup=True)


def plain(message: str) -> None:
    if not _quiet:
        console.print(f"{_stamp()} ", end="")
        console.print(message, markup=False)


def command(line: str) -> None:
    if _verbose:
        console.print(line, markup=False, style="dim")


def _one_line(text: str) -> str:
    """Control characters, line separators and lone surrogates of user input shown escaped (`\\n`, `\\x1b`):
    a message stays one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def printable(text: str) -> str:
    """Stored or user content for a terminal: one line, every control character shown escaped (a merged
    shard's reason or command cannot clear the screen or retitle the window)."""
    return _one_line(text)


def terminal_text(text: str) -> str:
    """A document for stdout (a report): lines and tabs kept, every other control character shown escaped."""
    return "\n".join("\t".join(_one_line(part) for part in line.split("\t")) for line in text.split("\n"))


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
        info(f"[bold]{escape(title)}[/bold]")
    try:
        yield
    finally:
        if on_github():
            print("::endgroup::", file=sys.stderr, flush=True)


def step_summary(markdown: str) -> None:
    """Append to the GitHub Actions job summary when running there. A courtesy: a summary path that is not a
    regular file (a FIFO would block, a directory cannot be written) or a failed write (a full disk) is one
    warning line, never a hang and never a failed run."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY, 0o644)
    except OSError as exc:
        warn(f"GITHUB_STEP_SUMMARY {target}: {exc.strerror}; no job summary written")
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            warn(f"GITHUB_STEP_SUMMARY {target} is not a regular file; no job summary written")
            return
        os.write(fd, (markdown + "\n").encode())
    except OSError as exc:
        warn(f"GITHUB_STEP_SUMMARY {target}: {exc.strerror}; the job summary is incomplete")
    finally:
        os.close(fd)
