"""Atomic writes, atomic directory installs and cross-process locks: nothing is ever half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.util import paths


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


def check_writable(dest: Path, what: str) -> None:
    """Refuse an output path that cannot be written, before any work is done; nothing is left behind.

    Tried for real (a temporary file in the directory that will hold it) rather than with os.access:
    root passes every permission check, yet still cannot write to a read-only or pseudo filesystem.
    """
    if "\0" in str(dest):
        raise UsageError(f"{what} {str(dest)!r} contains a NUL character")
    if dest.is_dir():
        raise UsageError(f"{what} {dest} is a directory", hint="give a file name")
    ancestor = dest.absolute().parent
    while not ancestor.exists():  # missing directories are created when the file is written
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot write {what} {dest}: {ancestor} is not a directory")
    try:
        if dest.exists():
            with dest.open("ab"):  # opened, not written: the file keeps its content and mtime
                pass
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {what} {dest}: {exc.strerror}") from None
