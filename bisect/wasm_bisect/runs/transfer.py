"""Move the expensive part of a tool home between machines: provisioned toolchains and built tools.

`export` writes one gzip'd tar with a manifest (what is in it, a content hash per entry, the host it was made on);
`import_` reads it on another machine of the same kind: it refuses an archive from another host (architecture,
OS release), extracts each entry into a staging directory with tarfile's `data` filter (no absolute paths, no
`..`, no links out, no device files), checks the content hash, proves the entry works (a toolchain answers
`rustc -vV`, a tool its `--version`) and only then renames it into place. Entries already present are kept.
Results (the store) and rendered crates are never moved: CI caches should not carry verdicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from wasm_bisect import __version__, toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.errors import UsageError, WasmBisectError
from wasm_bisect.toolchains.base import inspect_toolchain
from wasm_bisect.util import fs, paths

FORMAT = 1
MANIFEST = "wasm-bisect-cache.json"
TOOL_NAMES = ("wasm-bindgen", "wasm-pack", "wasm-bindgen-test-runner", "geckodriver")
Progress = Callable[[str], None]


def host() -> dict[str, str]:
    """What an exported toolchain or tool binary depends on: the CPU architecture and the OS release."""
    release: dict[str, str] = {}
    os_release = Path("/etc/os-release")
    if os_release.is_file():
        for line in os_release.read_text().splitlines():
            key, _, value = line.partition("=")
            release[key] = value.strip().strip('"')
    return {"machine": platform.machine(), "system": platform.system(),
            "os": f"{release.get('ID', '?')} {release.get('VERSION_ID', '?')}"}


@dataclass(frozen=True)
class Entry:
    kind: str  # "toolchain" | "tool"
    path: str  # relative to the home: toolchains/debian-1.96.0, tools/wasm-bindgen/0.2.99
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256}


@dataclass
class Transfer:
    archive: Path
    entries: list[Entry] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"archive": str(self.archive), "entries": [e.to_json() for e in self.entries], "added": self.added,
                "kept": self.kept}


def _files(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted([*files, *[d for d in dirs if (Path(directory) / d).is_symlink()]]):
            yield Path(directory) / name


def tree_hash(root: Path) -> str:
    """Content hash of a directory: relative names, file bytes and link targets (what must arrive unchanged)."""
    digest = hashlib.sha256()
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} -> {path.readlink()}\0".encode())
        elif path.is_file():
            digest.update(f"F {rel} {os.access(path, os.X_OK)}\0".encode())
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _exportable() -> list[tuple[str, Path]]:
    """(kind, absolute path) of every complete, working toolchain prefix and tool entry of this home."""
    found: list[tuple[str, Path]] = []
    # debian and rustup toolchains are the tool's own (path ones belong to the user)
    found += [("toolchain", prefix) for prefix in toolchains.managed_prefixes()]
    for tool in toolcache.installed():
        found.append(("tool", tool.bin_dir.parent))
    return found


def export(archive: Path, *, progress: Progress = lambda _m: None) -> Transfer:
    """Write every debian and rustup toolchain and every cached tool into `archive` (replaced atomically)."""
    home = paths.home()
    items = _exportable()
    if not items:
        raise UsageError(f"nothing to export: {home} has no provisioned toolchain and no built tool",
                         hint="provision some first (`wasm-bisect toolchain add`, `wasm-bisect tools install`)")
    result = Transfer(archive=archive)
    final = paths.resolve(archive, "the archive")  # through a symlink to a file, like every output
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
            for kind, path in items:
                rel = path.relative_to(home).as_posix()
                progress(f"exporting {rel}")
                entry = Entry(kind=kind, path=rel, sha256=tree_hash(path))
                tar.add(path, arcname=rel, recursive=True)
                result.entries.append(entry)
            manifest = json.dumps({"format": FORMAT, "tool_version": __version__, "host": host(),
                                   "entries": [e.to_json() for e in result.entries]}, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(manifest)
            tar.addfile(info, fileobj=_Bytes(manifest))
        fs.atomic_replace(Path(tmp), archive, what="the archive")  # never onto a device, FIFO or directory
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        chunk, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return chunk


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        data = json.loads(handle.read(1 << 20)) if handle is not None and member.size < (1 << 20) else None
    except (KeyError, ValueError, RecursionError, tarfile.TarError, OSError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), list):
        raise UsageError(f"{archive} is not a wasm-bisect cache archive (format {FORMAT})",
                         hint="make one with `wasm-bisect cache export FILE`")
    return data


def _check_entry(raw: Any, archive: Path) -> Entry:
    ok = isinstance(raw, dict) and raw.get("kind") in ("toolchain", "tool") and isinstance(raw.get("path"), str)
    path = Path(str(raw.get("path"))) if ok else Path()
    parts = path.parts
    ok = ok and isinstance(raw.get("sha256"), str) and not path.is_absolute() and ".." not in parts and (
        (raw["kind"] == "toolchain" and len(parts) == 2 and parts[0] == "toolchains"
         and parts[1].startswith(("debian-", "rustup-"))) or
        (raw["kind"] == "tool" and len(parts) == 3 and parts[0] == "tools" and parts[1] in TOOL_NAMES))
    if not ok:
        raise UsageError(f"{archive} lists an entry wasm-bisect does not import: {str(raw)[:120]}")
    return Entry(kind=raw["kind"], path=path.as_posix(), sha256=raw["sha256"])


def _works(entry: Entry, where: Path) -> str | None:
    """Why an extracted entry cannot be used here, or None when it answers as it should."""
    if entry.kind == "toolchain":
        toolchain = toolchains.read_manifest(where)
        if toolchain is None:
            return "its toolchain.json does not describe a complete toolchain"
        try:
            inspect_toolchain(spec=toolchain.spec, bin_dir=toolchain.bin_dir, env=toolchain.env)
        except WasmBisectError as exc:
            return exc.one_line()
        return None
    name, ident = Path(entry.path).parts[1:]
    data = json.loads((where / "tool.json").read_text()) if (where / "tool.json").is_file() else {}
    binary = where / "bin" / name
    version = toolcache.reported_version(binary) if binary.is_file() else None
    if version is None or version != data.get("version"):
        return f"{name} {ident} does not answer --version as its tool.json says ({version!r})"
    return None


# What an archive may hold: checked on its headers before a byte is extracted (a 2 MB archive can hold
# 2 GiB of zeros). The largest file of a real toolchain is ~150 MB; three toolchains are ~6,000 files, 1.8 GB.
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 16 << 30
MAX_MEMBERS = 200_000
FREE_SPACE_MARGIN = 256 << 20  # left free on the home's file system after the import
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


def _damaged(archive: Path, exc: BaseException) -> UsageError:
    return UsageError(f"{archive} is damaged or truncated ({type(exc).__name__}: {exc})",
                      hint="export it again; nothing was imported")


def _scan(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """Every member header, read once to the end (a truncated archive fails here), each one a regular file,
    directory or relative symlink with a safe name, and their count and sizes within bounds."""
    members: list[tarfile.TarInfo] = []
    total = 0
    try:
        for member in tar:
            if len(members) >= MAX_MEMBERS:
                raise UsageError(f"{archive} holds more than {MAX_MEMBERS:,} files; wasm-bisect does not import it")
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise UsageError(f"{archive} holds {member.name!r}, a path outside the home; nothing was imported")
            if member.issym():
                target = PurePosixPath(member.linkname)
                inside = posixpath.normpath(posixpath.join(str(name.parent), member.linkname))
                if target.is_absolute() or inside.startswith("../") or inside == ".." or \
                        len(PurePosixPath(inside).parts) < 2:
                    raise UsageError(f"{archive} holds a symlink {member.name} -> {member.linkname} that leads "
                                     "out of its entry; nothing was imported")
            elif not (member.isreg() or member.isdir()):
                kind = "a hard link" if member.islnk() else "a device, FIFO or other special file"
                raise UsageError(f"{archive} holds {member.name}, {kind}; wasm-bisect does not import it")
            if member.size > MAX_MEMBER_BYTES:
                raise UsageError(f"{archive} holds {member.name} of {member.size:,} bytes (at most "
                                 f"{MAX_MEMBER_BYTES:,}); wasm-bisect does not import it")
            total += member.size
            if total > MAX_TOTAL_BYTES:
                raise UsageError(f"{archive} unpacks to more than {MAX_TOTAL_BYTES:,} bytes; wasm-bisect does not "
                                 "import it")
            members.append(member)
    except _READ_ERRORS as exc:
        raise _damaged(archive, exc) from None
    return members


def _check_space(home: Path, needed: int) -> None:
    """The entries to add must fit on the home's file system (with a margin), checked before anything is written."""
    probe = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + FREE_SPACE_MARGIN > free:
        raise UsageError(f"the import needs {needed:,} bytes and {probe} has {free:,} free",
                         hint="free some space (`wasm-bisect cache prune`) or use another WASM_BISECT_HOME")


def import_(archive: Path, *, progress: Progress = lambda _m: None) -> Transfer:
    """Add the archive's toolchains and tools to this home, each verified before it is renamed into place.

    Everything that can be known from the archive is checked before anything is written: it reads to the end,
    every member is a plain file, directory or inner symlink of a listed entry, sizes and count are bounded,
    it was made on this machine kind, and the entries to add fit on the disk. A refusal after that (a content
    hash, an entry that does not run here) removes what this call created."""
    if not archive.is_file():
        raise UsageError(f"{archive} does not exist or is not a file")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the `with tar:` below, after the checks
    except _READ_ERRORS as exc:
        raise UsageError(f"{archive} is not a wasm-bisect cache archive ({exc})") from None
    result = Transfer(archive=archive)
    home = paths.home()
    with tar:
        members = _scan(tar, archive)
        manifest = _read_manifest(tar, archive)
        here, there = host(), manifest.get("host") or {}
        if not isinstance(there, dict):
            raise UsageError(f"{archive} is not a wasm-bisect cache archive (its host is not a table)")
        if {k: here[k] for k in ("machine", "system", "os")} != {k: there.get(k) for k in ("machine", "system", "os")}:
            raise UsageError(f"{archive} was made on {there.get('system')} {there.get('os')} {there.get('machine')}, "
                             f"this is {here['system']} {here['os']} {here['machine']}",
                             hint="toolchains and tool binaries only work on the machine kind they were made on")
        entries = [_check_entry(raw, archive) for raw in manifest["entries"]]
        owned = {m.name: next((e for e in entries if m.name == e.path or m.name.startswith(e.path + "/")), None)
                 for m in members}
        above = {str(parent) for e in entries for parent in PurePosixPath(e.path).parents}  # tools/, tools/NAME/
        stray = [m.name for m in members if owned[m.name] is None and m.name != MANIFEST
                 and not (m.isdir() and m.name in above)]
        if stray:
            raise UsageError(f"{archive} holds {stray[0]}, outside the entries its manifest lists; nothing was "
                             "imported")
        for m in members:
            entry = owned[m.name]
            if m.issym() and entry is not None and not posixpath.normpath(
                    posixpath.join(posixpath.dirname(m.name), m.linkname)).startswith(entry.path + "/"):
                raise UsageError(f"{archive} holds a symlink {m.name} -> {m.linkname} that leads out of its entry; "
                                 "nothing was imported")
        new = [e for e in entries if not (home / e.path).exists()]
        _check_space(home, sum(m.size for m in members if owned[m.name] in new))
        created = _missing_dirs(home, entries)
        try:
            for entry in entries:
                result.entries.append(entry)
                _import_entry(tar, archive, entry, mine=[m for m in members if owned[m.name] is entry],
                              result=result, progress=progress)
        except BaseException:
            for directory in reversed(created):  # only what this call made, and only while empty
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise
    return result


def _missing_dirs(home: Path, entries: list[Entry]) -> list[Path]:
    """The directories an import would create (the home, toolchains/, tools/NAME/), outermost first."""
    missing: list[Path] = []
    if not home.exists():
        missing.insert(0, home)
    for entry in entries:
        for parent in reversed((home / entry.path).parents):
            if parent not in missing and not parent.exists() and (parent == home or parent.is_relative_to(home)):
                missing.append(parent)
    return missing


def _import_entry(tar: tarfile.TarFile, archive: Path, entry: Entry, *, mine: list[tarfile.TarInfo],
                  result: Transfer, progress: Progress) -> None:
    home = paths.home()
    final = home / entry.path
    kind = "toolchain" if entry.kind == "toolchain" else "tool"
    parts = Path(entry.path).parts  # the provider's own lock: an import never races a build of the same
    name = f"toolchain-{parts[1]}" if entry.kind == "toolchain" else f"tool-{parts[1]}-{parts[2]}"
    with fs.held_or_undone(name):  # a refusal leaves no lock file of its own behind
        _extract_entry(tar, archive, entry, final=final, mine=mine, kind=kind, result=result, progress=progress)


def _extract_entry(tar: tarfile.TarFile, archive: Path, entry: Entry, *, final: Path, mine: list[tarfile.TarInfo],
                   kind: str, result: Transfer, progress: Progress) -> None:
    if final.exists():
        result.kept.append(entry.path)  # a local one wins: never replaced by an imported one
        return
    progress(f"importing {entry.path}")
    with fs.staging_dir(final) as staging, tempfile.TemporaryDirectory(dir=final.parent) as scratch:
        try:
            tar.extractall(scratch, members=mine, filter="data")
        except _READ_ERRORS as exc:
            raise _damaged(archive, exc) from None
        extracted = Path(scratch) / entry.path
        if not extracted.is_dir() or tree_hash(extracted) != entry.sha256:
            raise UsageError(f"{archive}: {entry.path} does not match its content hash",
                             hint="the archive is damaged: export it again")
        shutil.rmtree(staging)
        extracted.rename(staging)
        why = _works(entry, staging)
        if why is not None:
            raise UsageError(f"{archive}: the imported {kind} {entry.path} does not work here: {why}")
    result.added.append(entry.path)
