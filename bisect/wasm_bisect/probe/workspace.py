"""Reading a cargo workspace from disk for crate mode: its members, the path dependencies and target files they
name, every file a build or a check may read (never build outputs, VCS or tool state, rust-toolchain files,
`.cargo/` files other than its config), and what the check needs from it. Nothing here writes; no path may lead
outside the directory the user named. What the manifests say is read by probe/manifest.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from wasm_bisect.domain.errors import UsageError, WasmBisectError
from wasm_bisect.probe import rustflags
from wasm_bisect.probe.manifest import (
    TARGET_KINDS,
    check_lockfile,
    check_manifest_shape,
    dependencies,
    package_name,
    workspace_dependency,
)
from wasm_bisect.probe.reproducer import require_program
from wasm_bisect.util import bounded, paths

NODE_MODULES = "node_modules"  # linked into the copy, never copied (see `CrateProject.materialise`)
_SKIP_DIRS = {"target", "pkg", NODE_MODULES, ".git",
              # other VCS, editor and Python tool state: never read by a build, and churn would change the hash
              ".hg", ".svn", ".idea", ".vscode", ".venv", ".nox", ".tox", "__pycache__", ".pytest_cache",
              ".mypy_cache", ".ruff_cache"}
# wasm-bisect's own files in a project (its config, a result store kept next to it): not part of the build, and a
# store that changes with every run must not change the project's hash.
_SKIP_FILE = re.compile(r"^(wasm-bisect\.toml|.*\.sqlite3(-wal|-shm|-journal)?)$")
_TOOLCHAIN_FILES = {"rust-toolchain", "rust-toolchain.toml"}  # rustup would let them override the grid's rustc
_CONFIG_NAMES = ("config.toml", "config")
MAX_FILES = 20_000
MAX_BYTES = 256 * 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # Cargo.toml, Cargo.lock, .cargo/config.toml: far beyond any real one


# -- reading the project ------------------------------------------------------------------------------------
class Reader:
    """Reads manifests and files under one root, refusing anything that leads outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = paths.resolve(root, "--crate")
        self.manifests: dict[str, dict[str, Any]] = {}

    def rel(self, base: str, path: str, what: str) -> str:
        """`path` (as written in the manifest at `base`) relative to the root; refused when it leaves the root."""
        if not isinstance(path, str) or "\0" in path or not path.strip():
            raise UsageError(f"{what}: {path!r} is not a path")
        joined = os.path.normpath(self.root / base / path)  # lexical: `a/../b` is judged as written
        real = paths.resolve(joined, f"{what}:")
        if not (joined == str(self.root) or joined.startswith(str(self.root) + os.sep)) or not (
                real == self.real_root or self.real_root in real.parents):
            raise UsageError(f"{what}: {path!r} is outside {self.root} (it resolves to {real})",
                             hint="give --crate the directory that holds the whole workspace; nothing outside it "
                                  "is copied")
        return Path(joined).relative_to(self.root).as_posix() if joined != str(self.root) else ""

    def manifest(self, rel_dir: str) -> dict[str, Any]:
        if rel_dir in self.manifests:
            return self.manifests[rel_dir]
        path = self.root / rel_dir / "Cargo.toml"
        shown = PurePosixPath(rel_dir or ".", "Cargo.toml").as_posix()
        if path.is_symlink() and not _inside(paths.resolve(path), self.real_root):
            raise UsageError(f"{shown} is a symlink to outside {self.root}")
        if not path.exists():
            raise UsageError(f"{self.root / shown} does not exist", hint="is this path a crate?")
        text = bounded.read_text(path, limit=MAX_MANIFEST_BYTES, what="the manifest")
        data = bounded.toml_loads(text, what=str(self.root / shown))
        check_manifest_shape(data, str(self.root / shown))
        self.manifests[rel_dir] = data
        return data


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _glob_members(reader: Reader, patterns: list[Any], where: str) -> list[str]:
    members: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise UsageError(f"{where}: workspace.members must be a list of paths")
        if any(ch in pattern for ch in "*?["):
            if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
                raise UsageError(f"{where}: workspace member glob {pattern!r} leaves the workspace",
                                 hint="members are paths inside the workspace directory")
            try:
                matches = sorted(reader.root.glob(pattern))
            except (ValueError, NotImplementedError) as exc:
                raise UsageError(f"{where}: workspace member glob {pattern!r} is not a valid pattern: {exc}") from None
            for match in matches:
                if (match / "Cargo.toml").is_file():
                    members.append(reader.rel("", match.relative_to(reader.root).as_posix(), "workspace member"))
        else:
            members.append(reader.rel("", pattern, "workspace member"))
    return list(dict.fromkeys(members))


def enclosing_workspace(root: Path) -> Path | None:
    """A workspace above `root` that has it as a member (cargo would build it as part of that workspace)."""
    real = paths.resolve(root, "--crate")
    for parent in real.parents:
        manifest = parent / "Cargo.toml"
        try:
            # Someone else's file: read only a regular, modest one, and ignore it when it is not a workspace.
            data = bounded.toml_loads(bounded.read_text(manifest, limit=MAX_MANIFEST_BYTES, what="manifest"),
                                      what=str(manifest))
        except WasmBisectError:
            continue
        workspace = data.get("workspace")
        if not isinstance(workspace, dict):
            continue
        exclude = workspace.get("exclude", [])
        members = workspace.get("members", [])
        if not isinstance(exclude, list) or not isinstance(members, list):
            continue
        try:
            excluded = {(parent / e).resolve() for e in exclude if isinstance(e, str) and "\0" not in e}
            for pattern in members:
                if not isinstance(pattern, str) or "\0" in pattern or PurePosixPath(pattern).is_absolute():
                    continue
                matches = parent.glob(pattern) if any(ch in pattern for ch in "*?[") else [parent / pattern]
                if any(m.resolve() == real for m in matches) and real not in excluded:
                    return parent
        except (OSError, RuntimeError, ValueError, NotImplementedError):
            continue
    return None


def _path_entries(reader: Reader, rel_dir: str, manifest: Mapping[str, Any], owner: str) -> list[tuple[str, str]]:
    """(relative dir, what) of every path dependency a manifest names (inherited ones from the workspace)."""
    out: list[tuple[str, str]] = []
    root_manifest = reader.manifest("")
    for key, spec in dependencies(manifest).items():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("path"), str):
            what = f"path dependency {key} of {owner}"
            out.append((reader.rel(rel_dir, spec["path"], what), what))
        elif spec.get("workspace") is True:
            inherited = workspace_dependency(root_manifest, key)
            if isinstance(inherited, dict) and isinstance(inherited.get("path"), str):
                what = f"path dependency {key} of {owner} (workspace.dependencies)"
                out.append((reader.rel("", inherited["path"], what), what))
    return out


def _target_files(reader: Reader, rel_dir: str, manifest: Mapping[str, Any], owner: str) -> list[str]:
    """Source files a manifest names by path outside its own directory (lib.path, bin paths, build script)."""
    named: list[tuple[str, str]] = []
    lib = manifest.get("lib")
    if isinstance(lib, dict) and isinstance(lib.get("path"), str):
        named.append((lib["path"], f"lib.path of {owner}"))
    for kind in TARGET_KINDS:
        for target in manifest.get(kind, []) if isinstance(manifest.get(kind), list) else []:
            if isinstance(target, dict) and isinstance(target.get("path"), str):
                named.append((target["path"], f"{kind}.path of {owner}"))
    package = manifest.get("package", {})
    if isinstance(package, dict) and isinstance(package.get("build"), str):
        named.append((package["build"], f"package.build of {owner}"))
    files = []
    for path, what in named:
        rel = reader.rel(rel_dir, path, what)
        if not (rel == rel_dir or rel.startswith(f"{rel_dir}/") or not rel_dir):
            files.append(rel)
    return files


def _copy_tree(reader: Reader, rel_dir: str, files: dict[str, bytes], left_out: list[str], seen: set[Path], *,
               node_modules: list[str]) -> None:
    """Every file under `rel_dir` except build outputs, VCS data, toolchain overrides; symlinks only to inside.
    node_modules directories are listed in `node_modules`, not read."""
    start = reader.root / rel_dir if rel_dir else reader.root
    stack = [(start, rel_dir)]
    while stack:
        directory, rel = stack.pop()
        real = paths.resolve(directory)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(directory.iterdir())
        except OSError as exc:
            raise UsageError(f"cannot read {directory}: {exc.strerror}") from None
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink() and not _inside(paths.resolve(entry), reader.real_root):
                raise UsageError(f"{child} is a symlink to outside {reader.root} ({paths.resolve(entry)})",
                                 hint="nothing outside the project directory is copied")
            try:
                kind = entry.stat().st_mode
            except OSError:  # a dangling link, or a loop
                left_out.append(f"{child} (unreadable: a dangling or looping link)")
                continue
            if stat.S_ISDIR(kind):
                if entry.name == NODE_MODULES and not entry.is_symlink():
                    node_modules.append(child)
                if entry.name in _SKIP_DIRS:
                    continue
                if entry.name == ".cargo":
                    for name in _CONFIG_NAMES:
                        config = entry / name
                        if config.is_symlink() and not _inside(paths.resolve(config), reader.real_root):
                            raise UsageError(f"{child}/{name} is a symlink to outside {reader.root}",
                                             hint="nothing outside the project directory is copied")
                        if config.exists():
                            _add(files, f"{child}/{name}", config)
                    continue
                stack.append((entry, child))
            elif not stat.S_ISREG(kind):  # a FIFO, socket or device: never opened
                left_out.append(f"{child} (not a regular file)")
            else:
                if entry.name in _TOOLCHAIN_FILES:
                    left_out.append(child)
                    continue
                if _SKIP_FILE.match(entry.name):
                    continue
                _add(files, child, entry)
        if len(files) > MAX_FILES or sum(map(len, files.values())) > MAX_BYTES:
            raise UsageError(f"{reader.root} is too large to copy (over {MAX_FILES} files or 256 MiB)",
                             hint="point --crate at a smaller workspace, or move data out of the crates")


def _add(files: dict[str, bytes], rel: str, path: Path) -> None:
    """One file into the copy: a regular file, read within what is left of the copy's size limit."""
    if rel not in files:
        room = MAX_BYTES - sum(map(len, files.values()))
        files[rel] = bounded.read_bytes(path, limit=max(room, 0), what="the project file")


def executables_of(root: Path, files: Mapping[str, bytes]) -> frozenset[str]:
    """The copied files the user can execute (scripts a check runs as `./x.sh`): the copy keeps their bit."""
    out = set()
    for rel in files:
        try:
            if (root / rel).stat().st_mode & 0o111:
                out.add(rel)
        except OSError:
            continue
    return frozenset(out)


def choose_package(reader: Reader, members: list[str], wanted: str | None) -> tuple[str, str]:
    names: dict[str, str] = {}
    for rel in members:
        package = reader.manifest(rel).get("package")
        if isinstance(package, dict) and isinstance(package.get("name"), str):
            names.setdefault(package["name"], rel)
    if wanted is not None:
        if wanted not in names:
            raise UsageError(f"package {wanted!r} is not in the workspace at {reader.root}",
                             hint=f"its members: {', '.join(sorted(names)) or 'none'}")
        return wanted, names[wanted]
    if "" in members and "" in names.values():
        name = next(n for n, rel in names.items() if rel == "")
        return name, ""
    if len(names) == 1:
        name, rel = next(iter(names.items()))
        return name, rel
    raise UsageError(f"the workspace at {reader.root} has {len(names)} packages: choose one with --package",
                     hint=f"its members: {', '.join(sorted(names)) or 'none'}")


def require_check_files(argv: tuple[str, ...], *, root: Path, package_dir: str, files: Mapping[str, bytes],
                         executables: frozenset[str]) -> None:
    """The check's program and the files its command line names exist, taken from the directory the user named
    (where the check runs); a path that only exists from the package's directory gets a hint with the right one."""
    program = argv[0].removeprefix("./")
    if "/" in argv[0] and not PurePosixPath(program).is_absolute() and program not in files and \
            any(f.startswith(program.rstrip("/") + "/") for f in files):
        raise UsageError(f"the check's program {argv[0]!r} is a directory", hint="give the script or program in it")
    if "/" in argv[0] and not PurePosixPath(program).is_absolute() and program in files and \
            program not in executables:
        raise UsageError(f"the check's program {argv[0]!r} is not executable",
                         hint=f"chmod +x {program}, or give its interpreter: --check \"sh {program}\"")
    _require_npm_script(argv, root=root, files=files)
    try:
        require_program(argv, cwd=root, files=files, where=str(root), search_path=None)
    except UsageError as exc:
        if package_dir:
            for arg in argv:
                rel = arg.removeprefix("./")
                if f"{package_dir}/{rel}" in files and rel not in files:
                    raise UsageError(f"{exc.message}: paths in --check are taken from the --crate directory",
                                     hint=f"the file is {package_dir}/{rel}: write --check "
                                          f"\"{shlex.join(a if a != arg else f'{package_dir}/{rel}' for a in argv)}\"",
                                     ) from None
        raise


_NPM_SCRIPT_RUNNERS = ("npm", "pnpm", "yarn")


def _require_npm_script(argv: tuple[str, ...], *, root: Path, files: Mapping[str, bytes]) -> None:
    """`npm test` / `npm run NAME` (pnpm, yarn alike) needs the --crate directory's package.json with that script:
    otherwise npm exits 1 in every cell, which must never read as the bug."""
    if argv[0] not in _NPM_SCRIPT_RUNNERS or len(argv) < 2:
        return
    if argv[1] in ("test", "t", "tst"):
        script = "test"
    elif argv[1] in ("run", "run-script") and len(argv) > 2:
        script = argv[2]
    else:
        return
    if "package.json" not in files:
        raise UsageError(f"--check {shlex.join(argv)!r} needs a package.json in {root}",
                         hint="npm runs the scripts of the --crate directory's package.json")
    try:
        scripts = json.loads(files["package.json"]).get("scripts", {})
    except (ValueError, AttributeError):
        raise UsageError(f"{root / 'package.json'} is not valid JSON") from None
    if not isinstance(scripts, dict) or script not in scripts:
        known = ", ".join(sorted(scripts)) if isinstance(scripts, dict) and scripts else "none"
        raise UsageError(f"{root / 'package.json'} has no script {script!r}", hint=f"its scripts: {known}")


def installed_state(root: Path, node_modules: list[str]) -> str:
    """What the project's node_modules hold, as npm records it (its hidden lockfile), so a reinstall is seen."""
    h = hashlib.sha256()
    for rel in node_modules:
        marker = root / rel / ".package-lock.json"
        h.update(rel.encode() + b"\0")
        try:
            if marker.is_file() and marker.stat().st_size <= MAX_BYTES:
                h.update(marker.read_bytes())
            else:
                h.update("\n".join(sorted(p.name for p in (root / rel).iterdir())).encode())
        except OSError:
            h.update(b"unreadable")
    return h.hexdigest()[:16] if node_modules else ""


def local_dependencies(reader: Reader, rel_dir: str, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(directory, dependency key) of the package's path dependencies (their manifests are in the project)."""
    out = []
    for key, spec in dependencies(manifest).items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            out.append((reader.rel(rel_dir, spec["path"], f"path dependency {key}"), key))
    return out


def _dirs_to(package_dir: str) -> list[str]:
    """The root and every directory down to the package's ("" is the root)."""
    parts = PurePosixPath(package_dir).parts if package_dir else ()
    return ["", *("/".join(parts[: i + 1]) for i in range(len(parts)))]


def config_files(root: Path, package_dir: str, files: dict[str, bytes]) -> list[rustflags.ConfigFile]:
    """The .cargo/config.toml files cargo reads when it runs in the package directory, lowest precedence first."""
    found = []
    for rel in _dirs_to(package_dir):
        for name in _CONFIG_NAMES:
            key = f"{rel}/.cargo/{name}" if rel else f".cargo/{name}"
            if key in files:
                try:
                    text = files[key].decode()
                except UnicodeDecodeError:
                    raise UsageError(f"{root / key} is not UTF-8 text") from None
                found.append(rustflags.parse_config(text, key))
                break  # cargo reads config.toml and ignores the legacy `config` beside it
    return found


def check_test_targets(package: str, package_dir: str, manifest: Mapping[str, Any], files: Mapping[str, bytes],
                       test: str | None) -> tuple[str, ...]:
    """wasm-pack test needs wasm-bindgen-test; `--test NAME` must be one of the package's test targets (all of
    them are returned)."""
    deps = {package_name(spec, key) for key, spec in dependencies(manifest).items()}
    if "wasm-bindgen-test" not in deps:
        raise UsageError(f"--check wasm-pack-test: package {package} has no wasm-bindgen-test dependency",
                         hint='add wasm-bindgen-test = "0.3" under [dev-dependencies]')
    prefix = f"{package_dir}/tests/" if package_dir else "tests/"
    names = {PurePosixPath(f).stem for f in files if f.startswith(prefix) and f.endswith(".rs")
             and "/" not in f[len(prefix):]}
    names |= {PurePosixPath(f[len(prefix):]).parts[0] for f in files if f.startswith(prefix)
              and f.endswith("/main.rs") and f.count("/") == prefix.count("/") + 1}
    declared = manifest.get("test", [])
    names |= {str(t["name"]) for t in declared if isinstance(t, dict) and "name" in t} if isinstance(
        declared, list) else set()
    if test is not None and test not in names:
        raise UsageError(f"package {package} has no test target {test!r}",
                         hint=f"its test targets: {', '.join(sorted(names)) or 'none'}")
    return tuple(sorted(names))


def members(reader: Reader) -> list[str]:
    """The workspace's member directories ("" for a root package), as cargo would take them; a crate that is a
    member of a workspace above the named directory is refused (cargo would build it as part of that one)."""
    root = reader.root
    root_manifest = reader.manifest("")
    workspace = root_manifest.get("workspace")
    if workspace is None:
        above = enclosing_workspace(root)
        if above is not None:
            raise UsageError(f"{root} is a member of the workspace at {above}",
                             hint=f"give --crate {above} --package NAME")
        package_table = root_manifest.get("package", {})
        if isinstance(package_table, dict) and isinstance(package_table.get("workspace"), str):
            reader.rel("", package_table["workspace"], "package.workspace")
    found: list[str] = []
    if isinstance(workspace, dict):
        found = _glob_members(reader, list(workspace.get("members", [])), str(root / "Cargo.toml"))
        excluded = {reader.rel("", e, "workspace.exclude") for e in workspace.get("exclude", []) if isinstance(e, str)}
        found = [m for m in found if m not in excluded]
    if isinstance(root_manifest.get("package"), dict):
        found.insert(0, "")
    if not found:
        raise UsageError(f"{root / 'Cargo.toml'} has neither a [package] nor workspace members")
    return found


def crate_dirs(reader: Reader, member_dirs: list[str]) -> tuple[list[str], list[str]]:
    """(every member and every path dependency they use, transitively, and [patch] paths; the source files their
    manifests name outside their own directories). Cargo loads them all for the lock."""
    found: list[str] = []
    extra_files: list[str] = []
    todo = [(rel, f"workspace member {rel or '.'}") for rel in member_dirs]
    while todo:
        rel, _what = todo.pop(0)
        if rel in found:
            continue
        found.append(rel)
        data = reader.manifest(rel)
        owner = str((data.get("package") or {}).get("name", rel or "."))
        todo += _path_entries(reader, rel, data, owner)
        extra_files += _target_files(reader, rel, data, owner)
    for table in (reader.manifest("").get("patch", {}) or {}).values():
        if isinstance(table, dict):
            for key, spec in table.items():
                if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                    patched = reader.rel("", spec["path"], f"[patch] {key}")
                    if patched not in found:
                        found.append(patched)
    return found, extra_files


def read_files(reader: Reader, package_dir: str, extra_files: list[str]
               ) -> tuple[dict[str, bytes], list[str], list[str]]:
    """(every file a build or a check may read, relative path -> bytes; what was deliberately left out; the
    node_modules directories, linked rather than copied)."""
    root = reader.root
    files: dict[str, bytes] = {}
    left_out: list[str] = []
    seen: set[Path] = set()
    for name in ("Cargo.toml", "Cargo.lock"):
        if (root / name).is_symlink() and not _inside(paths.resolve(root / name), reader.real_root):
            raise UsageError(f"{name} is a symlink to outside {root}", hint="nothing outside the project is copied")
    _add(files, "Cargo.toml", root / "Cargo.toml")
    if (root / "Cargo.lock").exists():
        files["Cargo.lock"] = bounded.read_bytes(root / "Cargo.lock", limit=MAX_MANIFEST_BYTES, what="the lockfile")
        check_lockfile(files["Cargo.lock"], str(root / "Cargo.lock"))
    node_modules: list[str] = []
    _copy_tree(reader, "", files, left_out, seen, node_modules=node_modules)  # everything a build or a check may read
    for rel in extra_files:
        if (root / rel).is_file():
            _add(files, rel, root / rel)
    for rel in _dirs_to(package_dir):  # cargo reads .cargo/config.toml from the package directory upwards
        for name in _CONFIG_NAMES:
            config = root / rel / ".cargo" / name
            if config.is_file() and not config.is_symlink():
                _add(files, f"{rel}/.cargo/{name}" if rel else f".cargo/{name}", config)
    return files, left_out, node_modules
