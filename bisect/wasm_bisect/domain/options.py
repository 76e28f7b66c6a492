"""The choices a command is given, as enums, and the typed bundles of the reproducer's flags. Pure: no I/O.

Flags, config files and defaults all end up as these values (see `config`); probe, runs and the CLI take them
from here, so each choice has one definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["BuildFailure", "CheckOverrides", "Mode", "Profile", "ProjectFlags", "Selection", "Target",
           "TimeoutVerdict", "ToolSource", "split_features"]


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
class Selection:
    """Which package of the project, with which features (what cargo is told through wasm-pack)."""

    package: str | None = None
    features: tuple[str, ...] = ()
    no_default_features: bool = False
    all_features: bool = False
    # Re-resolve the project's dependencies for each cell's rustc (MSRV-aware), the wasm-bindgen family pinned to
    # the cell's version, instead of building the user's own Cargo.lock.
    relock: bool = False

    def cargo_args(self) -> tuple[str, ...]:
        args: list[str] = []
        if self.features:
            args += ["--features", ",".join(self.features)]
        if self.no_default_features:
            args.append("--no-default-features")
        if self.all_features:
            args.append("--all-features")
        return tuple(args)


def split_features(items: Iterable[str]) -> tuple[str, ...]:
    """`--features a,b --features "c d"` -> (a, b, c, d), like cargo."""
    out: list[str] = []
    for item in items:
        out += [f for f in re.split(r"[\s,]+", item) if f]
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, kw_only=True)
class CheckOverrides:
    """The check's settings as flags give them, and after the cascade as flags or the config give them (None: not
    given; the config file, then the reproducer decide)."""

    check: str | None = None
    signature: str | None = None
    timeout: float | None = None
    timeout_verdict: TimeoutVerdict | None = None
    test: str | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.check, self.signature, self.timeout, self.timeout_verdict, self.test))
