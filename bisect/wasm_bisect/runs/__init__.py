"""Orchestration of the runs: bisect, matrix, verify, bisect-commits, single probes, merges and pruning.

Each run module plans its work, holds its locks, resumes what was interrupted, calls the oracle and the pure
search, stores the result and returns it typed (`to_json()` gives what the store keeps). `Events` is how a run
talks to whoever started it.
"""

from wasm_bisect.runs._events import QUIET, Events

__all__ = ["QUIET", "Events"]
