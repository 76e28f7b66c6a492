"""What the tool's home holds, and pruning what can be made again (rendered crates, cargo target dirs).

Verdicts live in the store and are never pruned; tools and debian toolchains are kept (they cost minutes to
make again); rustup toolchains (downloads) go only when asked (`--toolchains`). A directory that a running
probe or build holds (its lock) is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from wasm_bisect.util import fs, paths

_VARIANT_DIR = re.compile(r"^[0-9a-f]{16,64}$")  # work/<variant hash>
_SLOT_DIR = re.compile(r"^slot([0-9]+)(-test)?$")  # -test: the same slot's test builds (wasm-pack test)
PRUNABLE = ("work", "targets")  # the default; "toolchains" (rustup downloads) only when asked
_RUSTUP_PREFIX = re.compile(r"^rustup-[A-Za-z0-9._-]+$")  # toolchains/rustup-<name>: made again by a download


@dataclass(frozen=True)
class Usage:
    name: str
    path: Path
    bytes: int
    entries: int
    what: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "path": str(self.path), "bytes": self.bytes, "entries": self.entries,
                "what": self.what}


@dataclass
class Pruned:
    removed: list[Path] = field(default_factory=list)
    busy: list[Path] = field(default_factory=list)
    freed: int = 0


def size_of(path: Path) -> int:
    """Bytes of regular files under `path` (symlinks are not followed)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                continue  # removed meanwhile by a concurrent run
    return total


def _children(path: Path) -> list[Path]:
    return sorted(path.iterdir()) if path.is_dir() else []


def usage() -> list[Usage]:
    """Sizes of the parts of the home, largest first."""
    home = paths.home()
    parts = [
        ("toolchains", paths.toolchains_dir(), "rustc toolchains (kept)"),
        ("tools", paths.tools_dir(), "wasm-bindgen CLIs and wasm-pack (kept)"),
        ("work", paths.work_dir(), "rendered variant crates, logs, reproduce.sh (prunable)"),
        ("targets", paths.work_dir() / "targets", "cargo target dirs shared by probes (prunable)"),
        ("downloads", paths.downloads_dir(), "downloaded Debian packages"),
        ("vendor", paths.vendor_dir(), "vendored crates for old cargo"),
        ("git", home / "git", "wasm-bindgen git mirrors and worktrees"),
        ("store", paths.store_path(), "verdicts and runs (kept)"),
    ]
    found = []
    for name, path, what in parts:
        if not path.exists():
            continue
        if name == "work":
            entries = [p for p in _children(path) if _VARIANT_DIR.match(p.name)]
            found.append(Usage(name, path, sum(size_of(p) for p in entries), len(entries), what))
        else:
            found.append(Usage(name, path, size_of(path), len(_children(path)) if path.is_dir() else 1, what))
    return sorted(found, key=lambda u: -u.bytes)


def _candidates(kinds: tuple[str, ...]) -> Iterator[tuple[Path, str]]:
    """(directory, lock name) pairs that may be removed."""
    work = paths.work_dir()
    if "work" in kinds:
        for entry in _children(work):
            if entry.is_dir() and not entry.is_symlink() and _VARIANT_DIR.match(entry.name):
                yield entry, f"probe-{entry.name}"
    if "toolchains" in kinds:
        for prefix in _children(paths.toolchains_dir()):
            if prefix.is_dir() and not prefix.is_symlink() and _RUSTUP_PREFIX.match(prefix.name):
                yield prefix, f"toolchain-{prefix.name}"
    if "targets" in kinds:
        for family in _children(work / "targets"):
            for slot in _children(family):
                match = _SLOT_DIR.match(slot.name)
                if match and slot.is_dir() and not slot.is_symlink():
                    yield slot, f"target-{family.name}-{match.group(1)}"


def prune(kinds: tuple[str, ...], *, dry_run: bool = False) -> Pruned:
    """Remove what `kinds` names, except what a running probe or build holds right now."""
    result = Pruned()
    for directory, lock_name in _candidates(kinds):
        lock = fs.lock(lock_name, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:  # in use by a running probe or build
            result.busy.append(directory)
            continue
        try:
            size = size_of(directory)
            if not dry_run:
                shutil.rmtree(directory, ignore_errors=True)
            result.removed.append(directory)
            result.freed += size
        finally:
            lock.release()
    return result


def human(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"
