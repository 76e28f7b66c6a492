"""What a run tells its caller while it works: the CLI prints these, library users may ignore them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from wasm_bisect.domain.model import Outcome, Stage, Variant


def quiet(_message: str) -> None:
    """Say nothing."""


def no_section(_title: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


@dataclass(frozen=True, kw_only=True)
class Events:
    info: Callable[[str], None] = quiet  # run-level news: "resuming run X", "bisect T: N cells"
    progress: Callable[[str], None] = quiet  # provisioning and tool builds, line by line
    on_probe: Callable[[Variant, Outcome, bool], None] | None = None  # a cell answered (bool: from the store)
    on_stage: Callable[[Variant, Stage], None] | None = None  # a probe entered a stage
    # The probing phase of a run, once its input is checked (the CLI opens a CI log group).
    section: Callable[[str], AbstractContextManager[None]] = no_section


QUIET = Events()
