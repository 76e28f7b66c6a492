"""Which rustc a project's own Cargo.lock needs, before anything is built.

Each locked crates.io package may declare `rust-version`; the crates.io sparse index carries it per release
(`rust_version`). The highest one is the oldest rustc that can build the lock as it is: older grid rows would
fail cell by cell in cargo, so they are skipped at plan time with that reason, said once, unless `--relock`
re-resolves the lock for each cell's rustc. The wasm-bindgen family is left out: the grid moves it, and the
compatibility table already knows its requirements. Without the network the need is unknown and nothing is
skipped (cargo then says it per cell, as before).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import re
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass

from wasm_bisect.probe.family import is_family
from wasm_bisect.util import fs, paths

INDEX = "https://index.crates.io/{path}"
CACHE_SECONDS = 7 * 24 * 3600  # a published release's rust-version never changes; new releases do not matter
DEADLINE = 20.0  # seconds for all look-ups together
TIMEOUT = 5.0
MAX_PACKAGES = 2000
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RUST_VERSION = re.compile(r"^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?$")


@dataclass(frozen=True)
class LockNeed:
    """The oldest rustc the lock builds with, and the packages that ask for it (`name version`)."""

    rustc: tuple[int, int, int]
    packages: tuple[str, ...]

    @property
    def version(self) -> str:
        return ".".join(map(str, self.rustc))

    def rules_out(self, rustc_version: str) -> bool:
        found = _RUST_VERSION.match(rustc_version.split("-", maxsplit=1)[0])
        if found is None:
            return False
        have = (int(found[1]), int(found[2]), int(found[3] or 0))
        return have < self.rustc

    def describe(self) -> str:
        shown = ", ".join(self.packages[:3]) + (f" and {len(self.packages) - 3} more" if len(self.packages) > 3 else "")
        return f"the project's Cargo.lock needs rustc >= {self.version} ({shown})"


def index_path(name: str) -> str:
    """Where the sparse index keeps a crate (cargo's layout: 1/, 2/, 3/a/, ab/cd/)."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


def registry_packages(lock_text: str) -> list[tuple[str, str]]:
    """(name, version) of every crates.io package in a lock, the wasm-bindgen family left out. Pure."""
    try:
        data = tomllib.loads(lock_text)
    except tomllib.TOMLDecodeError:
        return []
    out = []
    packages = data.get("package", [])
    for package in packages if isinstance(packages, list) else []:
        if not isinstance(package, dict):
            continue
        name, version, source = package.get("name"), package.get("version"), package.get("source")
        if not (isinstance(name, str) and isinstance(version, str) and isinstance(source, str)):
            continue
        if source.startswith("registry+") and "crates.io" in source and _NAME.match(name) and not is_family(name):
            out.append((name, version))
    return sorted(set(out))[:MAX_PACKAGES]


def rust_version_of(index_text: str, version: str) -> tuple[int, int, int] | None:
    """The `rust_version` of one release in a sparse-index file (None: not declared). Pure."""
    for line in index_text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("vers") == version:
            declared = entry.get("rust_version")
            found = _RUST_VERSION.match(declared) if isinstance(declared, str) else None
            return (int(found[1]), int(found[2]), int(found[3] or 0)) if found else None
    return None


def need_of(declared: dict[tuple[str, str], tuple[int, int, int] | None]) -> LockNeed | None:
    """The highest declared rust-version and who declares it. Pure."""
    known = {pkg: v for pkg, v in declared.items() if v is not None}
    if not known:
        return None
    top = max(known.values())
    return LockNeed(rustc=top, packages=tuple(f"{n} {v}" for (n, v), rv in sorted(known.items()) if rv == top))


def _cached_index(name: str) -> str | None:
    cache = paths.home() / "index-cache" / f"{name.lower()}.txt"
    try:
        if cache.is_file() and time.time() - cache.stat().st_mtime < CACHE_SECONDS:
            return cache.read_text()
    except OSError:
        return None
    return None


def _fetch_index(name: str, deadline: float) -> str | None:
    cached = _cached_index(name)
    if cached is not None:
        return cached
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    url = INDEX.format(path=index_path(name))  # a fixed https URL: no file: or custom schemes reach urlopen
    request = urllib.request.Request(url, headers={"User-Agent": "wasm-bisect"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=min(TIMEOUT, left)) as response:  # noqa: S310 (fixed https)
            text = str(response.read(8 * 1024 * 1024).decode())
    except (OSError, urllib.error.URLError, ValueError, UnicodeDecodeError):
        return None
    with contextlib.suppress(OSError):  # a cache only
        fs.atomic_write_text(paths.home() / "index-cache" / f"{name.lower()}.txt", text)
    return text


def lock_need(lock_text: str, *, deadline_seconds: float = DEADLINE) -> LockNeed | None:
    """What the lock needs, from the crates.io index (cached for a week); None when nothing is declared or the
    index cannot be read in time."""
    packages = registry_packages(lock_text)
    if not packages:
        return None
    deadline = time.monotonic() + deadline_seconds
    declared: dict[tuple[str, str], tuple[int, int, int] | None] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        texts = dict(zip(packages, pool.map(lambda nv: _fetch_index(nv[0], deadline), packages), strict=True))
    for (name, version), text in texts.items():
        declared[(name, version)] = rust_version_of(text, version) if text is not None else None
    return need_of(declared)


