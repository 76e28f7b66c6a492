"""Error tree: domain code raises these; only cli.py turns them into a message and an exit code."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def did_you_mean(key: str, known: Sequence[str]) -> str:
    """The hint of every strict table's "unknown key" error: the closest known key (difflib), then them all."""
    close = difflib.get_close_matches(key, list(known), n=1)
    return (f"did you mean {close[0]!r}? " if close else "") + f"known keys: {', '.join(known)}"


class WasmBisectError(Exception):
    """A problem the user can act on: one line naming it, plus what to do."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint on one line, as the CLI prints it."""
        text = self.message.rstrip(".")
        return f"{text}. {self.hint}" if self.hint else f"{text}."


class UsageError(WasmBisectError):
    """Ill-formed or contradictory input (versions, ranges, options)."""


class ConfigError(WasmBisectError):
    """A config file or template manifest that cannot be used."""


class TemplateError(WasmBisectError):
    """A template that is missing, malformed or unsafe."""


class ToolMissing(WasmBisectError):
    """A program the tool needs is not on this machine."""


class ProvisionError(WasmBisectError):
    """A toolchain or tool could not be provisioned (download, unpack, build)."""


class CommandFailed(WasmBisectError):
    """A program exited non-zero where success was required."""

    def __init__(
        self, message: str, *, hint: str | None = None, returncode: int = 1, log_tail: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.log_tail = log_tail


class CommandTimeout(CommandFailed):
    """A program ran past its time limit and was killed with its whole process group."""


class Untestable(WasmBisectError):
    """A cell that cannot be tested, e.g. a wasm-bindgen commit whose CLI does not build: SKIP, never blamed."""


class StoreError(WasmBisectError):
    """The result store cannot be read or written."""


class SearchAborted(WasmBisectError):
    """The search cannot give a trustworthy answer (flaky cells, contradictory endpoints)."""

    exit_code = 3


class EndsAlike(SearchAborted):
    """Every corner of the grid answered alike (the same failure, or errors): the check cannot tell the ends
    apart, so no boundary the search could print would mean anything. Exit code 3: could not bisect."""
