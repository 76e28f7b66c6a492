"""The live display, seen through a real pseudo-terminal during a real build (no screenshot: the byte stream)."""

from __future__ import annotations

import os
from pathlib import Path

from . import _pty


def run_in_pty(*args: str, timeout: float = 1800) -> tuple[int, str]:
    """The CLI with stdin, stdout and stderr on a pty, as in an interactive shell; everything it drew."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("NO_COLOR", None)
    master, proc = _pty.spawn(list(args), env, own_terminal=False)
    chunks: list[bytes] = []
    rc = _pty.read_all(master, proc, timeout, chunks.append)
    return rc, b"".join(chunks).decode(errors="replace")


def test_live_display_during_a_real_bisect(real_home: Path) -> None:
    rc, screen = run_in_pty("bisect", "--template", "smoke", "--rustc", "debian:1.96.0", "--bindgen", "0.2.98,0.2.99",
                            "--no-follow-up")
    print(screen[-4000:])
    assert rc == 0
    assert "\x1b[?25l" in screen  # rich's live area hides the cursor while it redraws
    assert "bisect smoke: 0 probes (a single-corner boundary needs at most" in screen  # the overall row
    assert "1.96.0@0.2.99[default]: cargo-build" in screen  # a running probe's row with its stage
    assert "0:00:" in screen  # elapsed time
    assert "[probe 1]" in screen and "GOOD" in screen  # each answer, above the live rows
    assert "so no pair is bad" in screen  # the result block, on the same terminal
