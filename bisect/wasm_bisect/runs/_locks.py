"""Run identity across processes: a run is resumed only when no live process holds it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import filelock

from wasm_bisect.store import Store
from wasm_bisect.util import fs

# A few seconds of grace: a run killed a moment ago may not have released its lock yet.
RESUME_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Claimed:
    run_id: str
    resumed: bool


@contextlib.contextmanager
def claim_run(store: Store, *, kind: str, fingerprint: str, command: str, config: dict[str, Any],
              resume: bool = True, info: Callable[[str], None] = lambda _m: None) -> Iterator[Claimed]:
    """Resume the newest unfinished run with `fingerprint` whose lock is free, else start a new one; the run's
    lock is held for the duration (the OS releases it even on SIGKILL), so a second copy of a live run starts its
    own run instead of writing into the first one's."""
    with fs.lock(f"{kind}-{fingerprint}"):
        run_id = store.unfinished_run(fingerprint) if resume else None
        run_lock = fs.lock(f"run-{run_id}", timeout=RESUME_GRACE_SECONDS) if run_id else None
        if run_lock is not None and not _try_acquire(run_lock):
            run_id, run_lock = None, None
        elif run_lock is not None and store.unfinished_run(fingerprint) != run_id:
            run_lock.release()  # it finished while we waited for its lock: nothing to resume
            run_id, run_lock = None, None
        resumed = run_id is not None
        if run_id is None:
            run_id = store.start_run(kind=kind, fingerprint=fingerprint, command=command, config=config)
            run_lock = fs.lock(f"run-{run_id}")
            run_lock.acquire()
        else:
            info(f"resuming interrupted run {run_id}: finished probes come from the store")
    assert run_lock is not None
    try:
        yield Claimed(run_id=run_id, resumed=resumed)
    finally:
        run_lock.release(force=True)


def _try_acquire(lock: filelock.BaseFileLock) -> bool:
    try:
        lock.acquire()
    except filelock.Timeout:
        return False
    return True
