"""Atomic writes, atomic directory installs and cross-process locks: nothing is ever half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock

from . import paths


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory and an atomic rename."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make cache files unreadable to other users
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


@contextlib.contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """Yield a fresh sibling directory; on success it is renamed to `final`, on any failure removed.

    `final` must not exist yet (callers check under a lock). A crash leaves only a `.staging-*` directory,
    which `sweep_staging` removes later; `final` is either absent or complete.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".staging-{final.name}-", dir=final.parent))
    try:
        yield tmp
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sweep_staging(final: Path) -> list[Path]:
    """Remove leftovers of interrupted installs of `final`; call it holding `final`'s lock."""
    removed = []
    if final.parent.is_dir():
        for child in final.parent.glob(f".staging-{final.name}-*"):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def lock(name: str, timeout: float = -1) -> filelock.FileLock:
    """A cross-process lock named `name` under the tool's home (blocking by default)."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name)
    directory = paths.locks_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(directory / f"{safe}.lock"), timeout=timeout)
