"""What decides a verdict besides the variant and the template: this tool's own code. Stored verdicts are keyed
on it (through Template.check_hash), so a user who upgrades the tool, or a developer who changes a build step,
never sees a verdict written by other code as a fresh one."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from wasm_bisect import __version__

# Bumped when the tool reads a probe differently (verdict rules, evidence) in a way the code hash cannot see.
OUTCOME_FORMAT = 3
_ROOT = Path(__file__).resolve().parents[1]
# The code that builds, checks and classifies a probe; reports, the CLI and the search cannot change a verdict.
_DECIDING = ("probe", "toolchains", "bindgen", "domain/model.py", "domain/compat.py", "util/processes.py",
             "util/wasmfile.py")


@functools.cache
def engine() -> str:
    """A short hash of the tool version, the outcome format and the source of every verdict-deciding module."""
    digest = hashlib.sha256(f"{__version__}|{OUTCOME_FORMAT}".encode())
    files: list[Path] = []
    for part in _DECIDING:
        path = _ROOT / part
        # The check runners (node_runner.mjs, page_runner.js) decide exit codes too.
        files += sorted(f for f in path.rglob("*") if f.suffix in (".py", ".js", ".mjs")) if path.is_dir() else [path]
    for file in files:
        digest.update(file.relative_to(_ROOT).as_posix().encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]
