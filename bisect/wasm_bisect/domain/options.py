"""The choices a command is given, as enums, and the typed bundles of the reproducer's flags. Pure: no I/O.

Flags, config files and defaults all end up as these values (see `config`); probe, runs and the CLI take them
from here, so each choice has one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["BuildFailure", "CheckFlags", "Mode", "Profile", "ProjectFlags", "Target", "TimeoutVerdict",
           "ToolSource"]


class BuildFailure(StrEnum):
    """How a failed build counts (like cargo-bisect-rustc's --regress modes)."""

    SKIP = "skip"
    BAD = "bad"


class TimeoutVerdict(StrEnum):
    """What a check that does not finish in time means: an infrastructure error, or the bug (a hang)."""

    ERROR = "error"
    BAD = "bad"


class Profile(StrEnum):
    RELEASE = "release"
    DEV = "dev"
    PROFILING = "profiling"


class Target(StrEnum):
    """wasm-pack targets the checks can load (the Node check needs nodejs)."""

    NODEJS = "nodejs"


class ToolSource(StrEnum):
    """Where a missing tool comes from: the published binary first (auto), only that, or only a source build."""

    AUTO = "auto"
    PREBUILT = "prebuilt"
    SOURCE = "source"


class Mode(StrEnum):
    """What a bisect looks for: the first failing pair, or (--find-fix) the first fixed one."""

    REGRESSION = "regression"
    FIND_FIX = "find-fix"


@dataclass(frozen=True, kw_only=True)
class ProjectFlags:
    """Crate mode's flags as given (None: not given; the config file or the defaults decide)."""

    crate: Path | None = None
    package: str | None = None
    features: tuple[str, ...] | None = None
    no_default_features: bool | None = None
    all_features: bool | None = None
    relock: bool | None = None


@dataclass(frozen=True, kw_only=True)
class CheckFlags:
    """The check's flags as given (None: not given; the config file or the reproducer decide)."""

    check: str | None = None
    signature: str | None = None
    timeout: float | None = None
    timeout_verdict: TimeoutVerdict | None = None
    test: str | None = None
