"""Atomic writes, atomic directory installs and cross-process locks: nothing is ever half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import filelock

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.util import paths


def atomic_write_text(path: Path, text: str, *, what: str = "file") -> None:
    """Write `text` to `path` via a temporary file in the same directory and an atomic rename."""
    atomic_write_bytes(path, text.encode(), what=what)


def _kind(mode: int) -> str | None:
    """What a non-regular file is, for messages; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _refuse_non_regular(final: Path, shown: Path, what: str) -> None:
    """A destination that exists must be a regular file: an atomic rename would replace a device node, a FIFO
    or a socket with a plain file, and opening a FIFO to check it would block."""
    try:
        mode = final.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot write {what} {shown}: {exc.strerror}") from None
    kind = _kind(mode)
    if kind is not None:
        raise UsageError(f"refusing to write {what} {shown}: it is {kind}, not a regular file",
                         hint="give the path of a regular file (or of one to create)")


def _final(path: Path, what: str = "") -> Path:
    """Where writing `path` really lands: through symlinks (a link to a file is written through, never replaced)."""
    return paths.resolve(path, what)


def atomic_write_bytes(path: Path, data: bytes, *, what: str = "file") -> None:
    """Write `data` to `path` via a temporary file in the same directory and an atomic rename; never replaces
    anything but a regular file."""
    final = _final(path, what)
    _refuse_non_regular(final, path, what)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make cache files unreadable to other users
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        atomic_replace(Path(tmp), path, what=what)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def atomic_replace(source: Path, dest: Path, *, what: str = "file") -> None:
    """Rename the finished file `source` onto `dest` (followed through symlinks) unless `dest` exists and is not
    a regular file; `source` must be in the same directory as the final destination."""
    final = _final(dest, what)
    _refuse_non_regular(final, dest, what)  # checked again right before the rename
    source.replace(final)


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


@contextlib.contextmanager
def held_or_undone(name: str, *dirs: Path) -> Iterator[filelock.FileLock]:
    """Hold the lock `name` for a block that may fail: when it fails, the lock file (if this call made it) and
    the directories of `dirs` this call made (when still empty, innermost last in `dirs`) are removed again,
    so a refusal leaves no debris in the home. Nothing that existed before is touched."""
    missing = [d for d in (*dirs, paths.locks_dir()) if not d.exists()]
    held = lock(name)
    fresh = not Path(held.lock_file).exists()
    try:
        with held:
            yield held
    except BaseException:
        if fresh:
            Path(held.lock_file).unlink(missing_ok=True)
        for directory in sorted(missing, key=lambda d: len(d.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def output_path(text: str | Path, what: str) -> Path:
    """An output path the user typed: `~` expanded like every path option, and a name that can only be a
    directory (`out/`, `.`, `..`) refused before any work."""
    raw = str(text)
    if not raw:
        raise UsageError(f"{what} is empty", hint="give a file name")
    if "\0" in raw:
        raise UsageError(f"{what} {raw!r} contains a NUL character")
    if raw in (".", "..") or raw.endswith(("/", "/.", "/..")):
        raise UsageError(f"{what} {raw} names a directory", hint="give a file name")
    return paths.expand(raw)


STORE_SIDECARS = ("-wal", "-shm", "-journal")


def refuse_own_state(dest: Path, what: str, stores: Iterable[Path] = ()) -> None:
    """The one rule of every output: it never lands on the tool's own state, that is an existing entry of the
    home (its store, caches, locks, work directories, and anything below them) or a store this command names,
    with its SQLite -wal/-shm/-journal files. Refused before any work; nothing is opened."""
    final = paths.resolve(dest, what)
    home = paths.home()
    for store in dict.fromkeys([*stores, paths.store_path()]):
        target = paths.resolve(store, "--store")
        if final == target:
            raise UsageError(f"{what} {dest} is the result store of this command", hint="write it somewhere else")
        for suffix in STORE_SIDECARS:
            if final == target.with_name(target.name + suffix):
                raise UsageError(f"{what} {dest} is the {suffix[1:]} file of the result store {store}",
                                 hint="write it somewhere else")
    for candidate in dict.fromkeys((paths.expand(dest).absolute(), final)):
        if candidate == home:
            raise UsageError(f"{what} {dest} is the tool's home", hint="write it somewhere else")
        if candidate.is_relative_to(home) and (home / candidate.relative_to(home).parts[0]).exists():
            raise UsageError(f"{what} {dest} is part of the tool's own state in {home}",
                             hint="write it somewhere else (the home holds the store, caches and locks)")


def check_writable(dest: str | Path, what: str, *, stores: Iterable[Path] = ()) -> Path:
    """Refuse an output path that cannot be written, before any work is done; nothing is left behind.
    Returns the path to write (`~` expanded).

    Only a regular file (or nothing) may be there: a directory, device node, FIFO or socket is refused without
    being opened. Tried for real (a temporary file in the directory that will hold it) rather than with
    os.access: root passes every permission check, yet still cannot write to a read-only or pseudo filesystem.
    """
    path = output_path(dest, what)
    final = _final(path, what)
    refuse_own_state(path, what, stores)
    try:
        mode: int | None = final.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {exc.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{what} {path} is a directory", hint="give a file name")
    _refuse_non_regular(final, path, what)
    ancestor = final.parent
    while not ancestor.exists():  # missing directories are created when the file is written
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot write {what} {path}: {ancestor} is not a directory")
    try:
        if mode is not None:
            with final.open("ab"):  # a regular file: opened, not written, so it keeps its content and mtime
                pass
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path}: {exc.strerror}") from None
    return path
