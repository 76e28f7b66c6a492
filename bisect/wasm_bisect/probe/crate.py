"""Crate mode: the user's own project as a reproducer.

`load` reads the project (never writes, never locks it, never runs cargo in it) and keeps in memory everything
under the directory the user named (`--crate`, the workspace root when they name it) that a build or a check may
read: manifests, sources, tests, scripts, fixtures, data, package.json; never build outputs (target/, pkg/),
VCS, editor or Python tool state, a rust-toolchain file (the grid decides rustc), `.cargo/` files other than its
config (credentials stay home), or wasm-bisect's own config and stores. node_modules/ is not copied: the copy
links to the project's own, which a check may import from (read only). Everything is checked here, before any
build: the directory is a Cargo project, the package is a member, the features exist, no path leaves the
directory, the package is a cdylib that uses wasm-bindgen, and the check's program and files exist.

The check rule: a `--check` command runs in the copy of the directory the user named, so its relative paths are
taken from there (like `git bisect run` and cargo-bisect-rustc's `--script`, which run where the user stands).
`materialise` writes the copy into a probe directory; the build then moves the project's own Cargo.lock to the
variant's wasm-bindgen family with the resolver (probe/build.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import stat
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import toml

from wasm_bisect.domain.errors import UsageError, WasmBisectError
from wasm_bisect.domain.model import Runtime, Variant
from wasm_bisect.probe import fingerprint, lockneeds, runtimes, rustflags
from wasm_bisect.probe.reproducer import (
    CheckKind,
    CheckOverrides,
    CheckSpec,
    Materialised,
    apply_overrides,
    require_program,
    write_files,
)
from wasm_bisect.util import bounded, paths

# Every crate of wasm-bindgen's release train: they pin each other exactly, so they move together.
FAMILY = re.compile(r"^(wasm-bindgen(-[a-z0-9-]+)?|js-sys|web-sys)$")
NODE_MODULES = "node_modules"  # linked into the copy, never copied (see `materialise`)
_SKIP_DIRS = {"target", "pkg", NODE_MODULES, ".git",
              # other VCS, editor and Python tool state: never read by a build, and churn would change the hash
              ".hg", ".svn", ".idea", ".vscode", ".venv", ".nox", ".tox", "__pycache__", ".pytest_cache",
              ".mypy_cache", ".ruff_cache"}
# wasm-bisect's own files in a project (its config, a result store kept next to it): not part of the build, and a
# store that changes with every run must not change the project's hash.
_SKIP_FILE = re.compile(r"^(wasm-bisect\.toml|.*\.sqlite3(-wal|-shm|-journal)?)$")
_TOOLCHAIN_FILES = {"rust-toolchain", "rust-toolchain.toml"}  # rustup would let them override the grid's rustc
_CONFIG_NAMES = ("config.toml", "config")
_DEP_TABLES = ("dependencies", "dev-dependencies", "build-dependencies", "dev_dependencies", "build_dependencies")
_TARGET_KINDS = ("bin", "example", "test", "bench")
MAX_FILES = 20_000
MAX_BYTES = 256 * 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # Cargo.toml, Cargo.lock, .cargo/config.toml: far beyond any real one
LOCK_VERSIONS = range(1, 5)  # the lockfile formats cargo has written (v1 and v2 carry no `version` key)
DEFAULT_CHECK_TIMEOUT = 600.0  # a check may compile (wasm-pack test)
DEFAULT_BUILD_TIMEOUT = 1800.0


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Which package of the project, with which features (what cargo is told through wasm-pack)."""

    package: str | None = None
    features: tuple[str, ...] = ()
    no_default_features: bool = False
    all_features: bool = False
    # Re-resolve the project's dependencies for each cell's rustc (MSRV-aware), the wasm-bindgen family pinned to
    # the cell's version, instead of building the user's own Cargo.lock.
    relock: bool = False

    def cargo_args(self) -> tuple[str, ...]:
        args: list[str] = []
        if self.features:
            args += ["--features", ",".join(self.features)]
        if self.no_default_features:
            args.append("--no-default-features")
        if self.all_features:
            args.append("--all-features")
        return tuple(args)


def split_features(items: Iterable[str]) -> tuple[str, ...]:
    """`--features a,b --features "c d"` -> (a, b, c, d), like cargo."""
    out: list[str] = []
    for item in items:
        out += [f for f in re.split(r"[\s,]+", item) if f]
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, kw_only=True)
class CrateProject:
    """The user's project, read once into memory: the files the build needs plus the package and features."""

    root: Path  # the directory the user named (read only)
    package: str
    package_dir: str  # the package's directory relative to `root` ("" for the root package)
    artifact: str  # the lib target's name: pkg/<artifact>.js
    selection: Selection
    files: dict[str, bytes] = field(repr=False)
    project_rustflags: tuple[rustflags.Flag, ...] = ()
    check: CheckSpec
    build_timeout: float = DEFAULT_BUILD_TIMEOUT
    left_out: tuple[str, ...] = ()  # files deliberately not copied (rust-toolchain files), for the evidence
    kind: str = "crate"
    params: dict[str, Any] = field(default_factory=dict)  # crate mode has no template parameters
    runtimes: tuple[Runtime, ...] = (Runtime.NODE,)
    test_targets: tuple[str, ...] = ()  # the package's integration test targets (for wasm-pack test)
    node_modules: tuple[str, ...] = ()  # the project's node_modules directories (relative), linked into the copy
    node_modules_state: str = ""  # what is installed there (npm's hidden lockfile), part of the check's identity
    executables: frozenset[str] = frozenset()  # copied files with an executable bit (kept in the copy)

    def check_runtime(self, runtime: Runtime) -> None:
        """A check command runs as it is given (Node's world); `wasm-pack test` runs in Node or in a headless browser
        (then the project's own webdriver.json, if any, must be readable: it is merged with ours)."""
        if runtime is Runtime.NODE:
            return
        if self.check.kind is not CheckKind.WASM_PACK_TEST:
            raise UsageError(f"crate mode checks run as given (--check {self.check.flag_value()}), not in {runtime}",
                             hint="use --check wasm-pack-test for the project's tests in a browser, or make the "
                                  "reproducer a template with a check module (`templates init --from-crate`)")
        own = self.files.get(self._webdriver_rel)
        if own is not None:
            runtimes.test_runner.parse_webdriver_json(own, str(self.root / self._webdriver_rel))

    @property
    def _webdriver_rel(self) -> str:
        return PurePosixPath(self.package_dir, runtimes.test_runner.WEBDRIVER_JSON).as_posix()

    @property
    def name(self) -> str:
        return f"crate:{self.package}"

    @property
    def content_hash(self) -> str:
        """The copied files plus the package and feature selection: what the build reads."""
        h = hashlib.sha256(repr((self.package, self.package_dir, self.selection)).encode())
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()[:16]

    @property
    def check_hash(self) -> str:
        """The check settings, the check's own files when it names any, what node_modules holds, and the tool's
        verdict-deciding code (the other files a check may read are in `content_hash`)."""
        h = hashlib.sha256(f"{self.check.identity()}|{fingerprint.engine()}|{self.node_modules_state}".encode())
        for rel in self.check_files():
            h.update(rel.encode() + b"\0" + hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()[:16]

    def check_files(self) -> list[str]:
        """The copied files the check's command line names (relative to the directory the user named)."""
        named = [PurePosixPath(arg.removeprefix("./")).as_posix() for arg in self.check.argv
                 if not arg.startswith("-") and not PurePosixPath(arg).is_absolute()]
        return [rel for rel in dict.fromkeys(named) if rel in self.files]

    def param_values(self, overrides: dict[str, str]) -> tuple[tuple[str, str], ...]:
        if overrides:
            raise UsageError(f"--param {sorted(overrides)[0]} is a template parameter; crate mode has none",
                             hint="pass settings to your check through its command line or environment")
        return ()

    def command_args(self) -> tuple[str, ...]:
        """How a command names this reproducer again (`wasm-bisect probe` + these + the cell)."""
        args = ["--crate", str(self.root), "--package", self.package]
        if self.selection.features:
            args += ["--features", ",".join(self.selection.features)]
        if self.selection.no_default_features:
            args.append("--no-default-features")
        if self.selection.all_features:
            args.append("--all-features")
        if self.selection.relock:
            args.append("--relock")
        args += ["--check", self.check.flag_value()]
        if self.check.test:
            args += ["--test", self.check.test]
        if self.check.failure_signature:
            args += ["--signature", self.check.failure_signature]
        if self.check.timeout != DEFAULT_CHECK_TIMEOUT:
            args += ["--timeout", f"{self.check.timeout:g}"]
        if self.check.timeout_verdict != "error":
            args += ["--timeout-verdict", str(self.check.timeout_verdict)]
        return tuple(args)

    @functools.cached_property
    def lock_need(self) -> lockneeds.LockNeed | None:
        """The oldest rustc the project's own lock builds with (the crates.io index; None: unknown or no lock)."""
        lock = self.files.get("Cargo.lock")
        if lock is None or self.selection.relock:
            return None
        return lockneeds.lock_need(lock.decode("utf-8", errors="replace"))

    def plan_skip(self, rustc_version: str) -> str | None:
        """Why a cell cannot build the project's lock with this rustc, before any build (None: try it)."""
        need = self.lock_need
        if need is not None and need.rules_out(rustc_version):
            return f"{need.describe()}; rustc {rustc_version} cannot build it (--relock re-resolves it per cell)"
        return None

    def notes(self, rustc_versions: Sequence[str]) -> list[str]:
        """What a run says once, up front, about the project's lock and the grid's rustc rows."""
        if self.selection.relock:
            return ["--relock: each cell re-resolves the project's dependencies for its rustc (MSRV-aware), the "
                    "wasm-bindgen family pinned to the cell's release; the report names the lock each cell used"]
        need = self.lock_need
        if need is None:
            return []
        out = [r for r in rustc_versions if need.rules_out(r)]
        if not out:
            return [f"{need.describe()}: every rustc of the grid can build it"]
        return [f"{need.describe()}: rustc {', '.join(out)} cannot build it, so those cells are skip; --relock "
                "re-resolves the lock for each cell's rustc"]

    def describe(self) -> dict[str, Any]:
        return {"kind": "crate", "root": str(self.root), "package": self.package, "package_dir": self.package_dir,
                "features": list(self.selection.features), "no_default_features": self.selection.no_default_features,
                "all_features": self.selection.all_features, "relock": self.selection.relock,
                "check": self.check.describe(),
                "files": len(self.files), "left_out": list(self.left_out)}

    def snapshot(self, *, max_chars: int = 64_000) -> dict[str, Any]:
        """What a run keeps of the project: what it is and the files that say so (not the whole workspace)."""
        prefix = f"{self.package_dir}/" if self.package_dir else ""
        shown = ["Cargo.toml", ".cargo/config.toml", f"{prefix}Cargo.toml", f"{prefix}.cargo/config.toml",
                 f"{prefix}src/lib.rs"]
        shown += self.check_files()
        shown += ["package.json"] if self.check.argv[:1] in (("npm",), ("npx",)) else []
        if self.check.test:
            shown.append(f"{prefix}tests/{self.check.test}.rs")
        files: dict[str, str] = {}
        for rel in dict.fromkeys(shown):
            if rel in self.files:
                text = self.files[rel].decode("utf-8", errors="replace")
                files[rel] = text if len(text) <= max_chars else text[:max_chars] + "\n... (truncated)\n"
        features = ", ".join(self.selection.features) or "default"
        return {"kind": "crate", "name": self.name, "issue": None, "root": str(self.root), "ref": None,
                "description": f"the project at {self.root}: package {self.package} (features: {features}), "
                               f"checked with {self.check.describe()}",
                "crate": self.describe(), "check_script": None, "params": {}, "content_hash": self.content_hash,
                "check_hash": self.check_hash, "files": files}

    def materialise(self, dest: Path, variant: Variant, *, rustc_version: str,
                    patches: Mapping[str, str] | None = None) -> Materialised:
        """Write the copy into `dest` (the workspace root of the copy); patch in a wasm-bindgen checkout if given."""
        del rustc_version  # the project's own lock is pinned by the resolver, not its manifests
        write_files(dest, self.files)
        for rel in self.executables:
            (dest / rel).chmod(0o755)
        for rel in self.node_modules:  # the project's own packages for the check, read in place (never written)
            link = dest / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(self.root / rel, target_is_directory=True)
        if patches:
            manifest = dest / "Cargo.toml"
            manifest.write_text(with_patches(manifest.read_text(), patches))
        package = dest / self.package_dir if self.package_dir else dest
        evidence: dict[str, Any] = {}
        if self.check.kind is CheckKind.WASM_PACK_TEST and variant.runtime.is_browser:
            # The runner reads the browser's capabilities from the package dir: ours go into the copy only.
            data, evidence["webdriver_json"] = runtimes.test_runner.webdriver_file(
                variant.runtime, runtimes.locate(variant.runtime).binary, self.files.get(self._webdriver_rel),
                where=str(self.root / self._webdriver_rel))
            (package / runtimes.test_runner.WEBDRIVER_JSON).write_bytes(data)
        # Every test target but doctests (rustc 1.89+ cross-compiles those for wasm32 with rustdoc, which gets
        # neither the project's rustflags nor the cell's std: they would fail in every cell). wasm-pack passes
        # these to `cargo build --tests` too, so `--tests` itself cannot be one of them.
        test_args = ("--lib", *(a for name in self.test_targets for a in ("--test", name)))
        return Materialised(workspace=dest, package=package, artifact=self.artifact, pinning="lockfile",
                            cargo_args=self.selection.cargo_args(), tool_config_dir=dest.parent, evidence=evidence,
                            test_args=test_args, check_dir=dest, relock=self.selection.relock)


def with_patches(manifest_text: str, patches: Mapping[str, str]) -> str:
    """The workspace manifest with `[patch.crates-io]` entries for a wasm-bindgen checkout, edited as data."""
    truth = tomllib.loads(manifest_text)
    doc: dict[str, Any] = toml.loads(manifest_text)
    patch = doc.setdefault("patch", {}).setdefault("crates-io", {})
    for name, path in sorted(patches.items()):
        patch[name] = {"path": path}
    text = toml.dumps(doc)
    expected = dict(truth)
    expected.setdefault("patch", {})
    expected["patch"] = {**expected["patch"], "crates-io": {**expected["patch"].get("crates-io", {}),
                                                            **{n: {"path": p} for n, p in patches.items()}}}
    if tomllib.loads(text) != expected:  # the writer would change a value of the user's manifest
        raise UsageError("the project's Cargo.toml cannot be rewritten exactly to patch in a wasm-bindgen checkout",
                         hint="avoid control characters and backslash escapes in its strings")
    return text


# -- reading the project ------------------------------------------------------------------------------------
class _Reader:
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


def _want(value: Any, kind: type | tuple[type, ...], where: str, key: str, shape: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise UsageError(f"{where}: {key} must be {shape}, not {type(value).__name__}")


def _string_list(value: Any, where: str, key: str) -> None:
    _want(value, list, where, key, "an array of strings")
    if isinstance(value, list) and not all(isinstance(v, str) and "\0" not in v for v in value):
        raise UsageError(f"{where}: {key} must be an array of strings")


def check_manifest_shape(data: Mapping[str, Any], where: str) -> None:
    """The keys this reader relies on have the shapes cargo gives them (cargo refuses the rest too)."""
    for key in ("package", "workspace", "lib", "features", "patch", "replace", "target", *_DEP_TABLES):
        _want(data.get(key), dict, where, key, "a table")
    workspace = data.get("workspace") or {}
    for key in ("members", "exclude", "default-members"):
        _string_list(workspace.get(key), where, f"workspace.{key}")
    _want(workspace.get("dependencies"), dict, where, "workspace.dependencies", "a table")
    _want(workspace.get("package"), dict, where, "workspace.package", "a table")
    lib = data.get("lib") or {}
    for key in ("crate-type", "crate_type"):
        _string_list(lib.get(key), where, f"lib.{key}")
    _want(lib.get("name"), str, where, "lib.name", "a string")
    _want(lib.get("path"), str, where, "lib.path", "a string")
    package = data.get("package") or {}
    _want(package.get("name"), str, where, "package.name", "a string")
    _want(package.get("build"), (str, bool), where, "package.build", "a path or a boolean")
    for name, values in (data.get("features") or {}).items():
        _string_list(values, where, f"features.{name}")
    for table_name, entries in (data.get("patch") or {}).items():
        _want(entries, dict, where, f"patch.{table_name}", "a table")
    for kind in _TARGET_KINDS:
        targets = data.get(kind)
        _want(targets, list, where, kind, "an array of tables")
        if isinstance(targets, list) and not all(isinstance(t, dict) for t in targets):
            raise UsageError(f"{where}: {kind} must be an array of tables")
    for table in _tables(data):
        for key, spec in table.items():
            if isinstance(spec, dict):
                _want(spec.get("path"), str, where, f"dependency {key}.path", "a string")
                _want(spec.get("package"), str, where, f"dependency {key}.package", "a string")
            elif not isinstance(spec, str):
                raise UsageError(f"{where}: dependency {key} must be a version string or a table")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _tables(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every dependency table of a manifest, target-specific ones included."""
    found = [manifest[t] for t in _DEP_TABLES if isinstance(manifest.get(t), dict)]
    targets = manifest.get("target", {})
    if isinstance(targets, dict):
        for table in targets.values():
            if isinstance(table, dict):
                found += [table[t] for t in _DEP_TABLES if isinstance(table.get(t), dict)]
    return found


def _dependencies(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Dependency key -> its spec, over every table (a later table does not hide an earlier key)."""
    deps: dict[str, Any] = {}
    for table in _tables(manifest):
        for key, spec in table.items():
            deps.setdefault(str(key), spec)
    return deps


def _package_name(spec: Any, key: str) -> str:
    return str(spec.get("package", key)) if isinstance(spec, dict) else key


def _glob_members(reader: _Reader, patterns: list[Any], where: str) -> list[str]:
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


def _enclosing_workspace(root: Path) -> Path | None:
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


def _workspace_dependency(root_manifest: Mapping[str, Any], key: str) -> Any:
    workspace = root_manifest.get("workspace", {})
    deps = workspace.get("dependencies", {}) if isinstance(workspace, dict) else {}
    return deps.get(key) if isinstance(deps, dict) else None


def _path_entries(reader: _Reader, rel_dir: str, manifest: Mapping[str, Any], owner: str) -> list[tuple[str, str]]:
    """(relative dir, what) of every path dependency a manifest names (inherited ones from the workspace)."""
    out: list[tuple[str, str]] = []
    root_manifest = reader.manifest("")
    for key, spec in _dependencies(manifest).items():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("path"), str):
            what = f"path dependency {key} of {owner}"
            out.append((reader.rel(rel_dir, spec["path"], what), what))
        elif spec.get("workspace") is True:
            inherited = _workspace_dependency(root_manifest, key)
            if isinstance(inherited, dict) and isinstance(inherited.get("path"), str):
                what = f"path dependency {key} of {owner} (workspace.dependencies)"
                out.append((reader.rel("", inherited["path"], what), what))
    return out


def _target_files(reader: _Reader, rel_dir: str, manifest: Mapping[str, Any], owner: str) -> list[str]:
    """Source files a manifest names by path outside its own directory (lib.path, bin paths, build script)."""
    named: list[tuple[str, str]] = []
    lib = manifest.get("lib")
    if isinstance(lib, dict) and isinstance(lib.get("path"), str):
        named.append((lib["path"], f"lib.path of {owner}"))
    for kind in _TARGET_KINDS:
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


def _features_of(manifest: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(feature names incl. implicit ones of optional dependencies, dependency keys)."""
    features = manifest.get("features", {})
    names = set(features) if isinstance(features, dict) else set()
    deps = _dependencies(manifest)
    explicit = {v[4:] for vals in (features.values() if isinstance(features, dict) else []) if isinstance(vals, list)
                for v in vals if isinstance(v, str) and v.startswith("dep:")}
    optional = {k for k, s in deps.items() if isinstance(s, dict) and s.get("optional") is True}
    return names | {"default"} | (optional - explicit), set(deps)


def check_features(package: str, manifest: Mapping[str, Any], features: tuple[str, ...],
                   local: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Every feature exists; `dep/feature` names a dependency, and a feature of it when the dependency's manifest
    is in the project (`local`: dependency key -> its manifest)."""
    names, deps = _features_of(manifest)
    for feature in features:
        dep, slash, inner = feature.partition("/")
        if slash:
            key = dep.rstrip("?")
            if key not in deps:
                raise UsageError(f"--features {feature!r}: package {package} has no dependency {key!r}")
            if local is not None and key in local:
                dep_names, _ = _features_of(local[key])
                if inner not in dep_names:
                    shown = ", ".join(sorted(dep_names - {"default"})) or "none"
                    raise UsageError(f"--features {feature!r}: dependency {key} has no feature {inner!r}",
                                     hint=f"its features: {shown}")
        elif feature not in names:
            shown = ", ".join(sorted(names - {"default"})) or "none"
            raise UsageError(f"package {package} has no feature {feature!r}", hint=f"its features: {shown}")


def _copy_tree(reader: _Reader, rel_dir: str, files: dict[str, bytes], left_out: list[str], seen: set[Path], *,
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


def _executables(root: Path, files: Mapping[str, bytes]) -> frozenset[str]:
    """The copied files the user can execute (scripts a check runs as `./x.sh`): the copy keeps their bit."""
    out = set()
    for rel in files:
        try:
            if (root / rel).stat().st_mode & 0o111:
                out.add(rel)
        except OSError:
            continue
    return frozenset(out)


def _choose_package(reader: _Reader, members: list[str], wanted: str | None) -> tuple[str, str]:
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


def _uses_bindgen(manifests: Iterable[Mapping[str, Any]], root_manifest: Mapping[str, Any]) -> bool:
    for manifest in manifests:
        for key, spec in _dependencies(manifest).items():
            if _package_name(spec, key) == "wasm-bindgen":
                return True
            if isinstance(spec, dict) and spec.get("workspace") is True and key == "wasm-bindgen":
                return True
    return _workspace_dependency(root_manifest, "wasm-bindgen") is not None


def _is_cdylib(manifest: Mapping[str, Any]) -> bool:
    lib = manifest.get("lib", {})
    return isinstance(lib, dict) and "cdylib" in (lib.get("crate-type") or lib.get("crate_type") or [])


def _artifact(manifest: Mapping[str, Any], package: str) -> str:
    lib = manifest.get("lib", {})
    name = lib.get("name") if isinstance(lib, dict) and isinstance(lib.get("name"), str) else package
    return str(name).replace("-", "_")


def load(
    directory: str | Path,
    *,
    selection: Selection,
    overrides: CheckOverrides,
    build_timeout: float = DEFAULT_BUILD_TIMEOUT,
) -> CrateProject:
    """Read and check the project at `directory`; nothing is written anywhere."""
    root = paths.expand(directory).absolute()
    if not root.is_dir():
        raise UsageError(f"--crate {directory}: no such directory")
    if not (root / "Cargo.toml").is_file():
        raise UsageError(f"{root} is not a Cargo project (no Cargo.toml)",
                         hint="give --crate the directory of your workspace or crate")
    reader = _Reader(root)
    root_manifest = reader.manifest("")
    workspace = root_manifest.get("workspace")
    if workspace is None:
        above = _enclosing_workspace(root)
        if above is not None:
            raise UsageError(f"{root} is a member of the workspace at {above}",
                             hint=f"give --crate {above} --package NAME")
        package_table = root_manifest.get("package", {})
        if isinstance(package_table, dict) and isinstance(package_table.get("workspace"), str):
            reader.rel("", package_table["workspace"], "package.workspace")
    members: list[str] = []
    if isinstance(workspace, dict):
        members = _glob_members(reader, list(workspace.get("members", [])), str(root / "Cargo.toml"))
        excluded = {reader.rel("", e, "workspace.exclude") for e in workspace.get("exclude", []) if isinstance(e, str)}
        members = [m for m in members if m not in excluded]
    if isinstance(root_manifest.get("package"), dict):
        members.insert(0, "")
    if not members:
        raise UsageError(f"{root / 'Cargo.toml'} has neither a [package] nor workspace members")
    package, package_dir = _choose_package(reader, members, selection.package)
    manifest = reader.manifest(package_dir)
    local = {key: reader.manifest(rel) for rel, key in _local_dependencies(reader, package_dir, manifest)}
    check_features(package, manifest, selection.features, local)
    if not _is_cdylib(manifest):
        raise UsageError(f"package {package} is not a cdylib, so wasm-pack cannot build it",
                         hint='add crate-type = ["cdylib", "rlib"] under [lib] in its Cargo.toml')
    _refuse_family_patches(root_manifest)

    # Every member and every path dependency they use, transitively (cargo loads them all for the lock).
    crate_dirs: list[str] = []
    extra_files: list[str] = []
    todo = [(rel, f"workspace member {rel or '.'}") for rel in members]
    while todo:
        rel, _what = todo.pop(0)
        if rel in crate_dirs:
            continue
        crate_dirs.append(rel)
        data = reader.manifest(rel)
        owner = str((data.get("package") or {}).get("name", rel or "."))
        todo += _path_entries(reader, rel, data, owner)
        extra_files += _target_files(reader, rel, data, owner)
    for table in (root_manifest.get("patch", {}) or {}).values():
        if isinstance(table, dict):
            for key, spec in table.items():
                if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                    todo_rel = reader.rel("", spec["path"], f"[patch] {key}")
                    if todo_rel not in crate_dirs:
                        crate_dirs.append(todo_rel)
    if not _uses_bindgen((reader.manifest(rel) for rel in crate_dirs), root_manifest):
        raise UsageError(f"package {package} does not use wasm-bindgen, so there is nothing for the grid to pin")

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
    configs = _config_files(root, package_dir, files)
    project_flags = rustflags.config_rustflags(configs)

    check = _check_spec(overrides)
    test_targets: tuple[str, ...] = ()
    executables = _executables(root, files)
    if check.kind is CheckKind.COMMAND:
        _require_check_files(check.argv, root=root, package_dir=package_dir, files=files, executables=executables)
    elif check.kind is CheckKind.WASM_PACK_TEST:
        test_targets = _check_test_target(package, package_dir, manifest, files, check.test)
    return CrateProject(root=root, package=package, package_dir=package_dir, artifact=_artifact(manifest, package),
                        selection=replace(selection, package=package), files=files,
                        project_rustflags=tuple(project_flags), check=check, build_timeout=build_timeout,
                        left_out=tuple(sorted(set(left_out))), test_targets=test_targets,
                        node_modules=tuple(node_modules), node_modules_state=_installed(root, node_modules),
                        executables=executables)


def _require_check_files(argv: tuple[str, ...], *, root: Path, package_dir: str, files: Mapping[str, bytes],
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


def _installed(root: Path, node_modules: list[str]) -> str:
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


def _local_dependencies(reader: _Reader, rel_dir: str, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(directory, dependency key) of the package's path dependencies (their manifests are in the project)."""
    out = []
    for key, spec in _dependencies(manifest).items():
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            out.append((reader.rel(rel_dir, spec["path"], f"path dependency {key}"), key))
    return out


def check_lockfile(data: bytes, where: str) -> None:
    """A Cargo.lock cargo can read: UTF-8 TOML, modest nesting, a lockfile format cargo has written."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not a valid lockfile: not UTF-8 text") from None
    try:
        lock = bounded.toml_loads(text, what="it")
    except UsageError as exc:
        raise UsageError(f"{where} is not a valid lockfile: {exc.message.removeprefix('it ')}") from None
    version = lock.get("version")
    if version is not None and (isinstance(version, bool) or version not in LOCK_VERSIONS):
        raise UsageError(f"{where} has lockfile version {version!r}; cargo writes versions 1 to 4",
                         hint="regenerate it with `cargo generate-lockfile`")
    if not isinstance(lock.get("package", []), list):
        raise UsageError(f"{where} is not a valid lockfile: package must be an array of tables")


def _refuse_family_patches(root_manifest: Mapping[str, Any]) -> None:
    for section in ("patch", "replace"):
        tables = root_manifest.get(section, {})
        entries = tables.values() if section == "patch" and isinstance(tables, dict) else [tables]
        for table in entries:
            if not isinstance(table, dict):
                continue
            for key, spec in table.items():
                name = _package_name(spec, str(key).split(":")[0].split("@")[0])
                if FAMILY.match(name):
                    raise UsageError(f"the project's Cargo.toml [{section}] replaces {name}",
                                     hint="the grid decides wasm-bindgen; try a fork with `wasm-bisect verify "
                                          "--patch URL`")


def _dirs_to(package_dir: str) -> list[str]:
    """The root and every directory down to the package's ("" is the root)."""
    parts = PurePosixPath(package_dir).parts if package_dir else ()
    return ["", *("/".join(parts[: i + 1]) for i in range(len(parts)))]


def _config_files(root: Path, package_dir: str, files: dict[str, bytes]) -> list[rustflags.ConfigFile]:
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


def _check_spec(overrides: CheckOverrides) -> CheckSpec:
    if overrides.check is None:
        raise UsageError("crate mode needs a check: --check \"CMD ARGS\" or --check wasm-pack-test",
                         hint="e.g. --check \"node tests/check.mjs\" (git bisect's exit codes: 0 good, 125 skip, "
                              "1-127 bad)")
    base = CheckSpec(kind=CheckKind.COMMAND, timeout=DEFAULT_CHECK_TIMEOUT)
    return apply_overrides(base, overrides)


def _check_test_target(package: str, package_dir: str, manifest: Mapping[str, Any], files: Mapping[str, bytes],
                       test: str | None) -> tuple[str, ...]:
    """wasm-pack test needs wasm-bindgen-test; `--test NAME` must be one of the package's test targets (all of
    them are returned)."""
    deps = {_package_name(spec, key) for key, spec in _dependencies(manifest).items()}
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


# -- templates init --from-crate ----------------------------------------------------------------------------
def to_template(project: CrateProject, dest: Path, *, name: str) -> Path:
    """Turn a crate-mode reproducer into a self-contained template directory (which must not exist yet).

    The package becomes the template's crate; path dependencies move under `deps/`; inherited workspace
    fields are filled in; the feature selection becomes the default features; the project's rustflags go to
    template.toml `[build] rustflags`; the check becomes `[check] command`. Written by the one writer of new
    template directories (templates.write_made: staged, never removing what this call did not create).
    """
    from wasm_bisect.probe import templates

    files = template_files(project, name=name)
    return templates.write_made(dest, files, check={"command": project.check.flag_value(),
                                                    "failure_signature": project.check.failure_signature})


def template_files(project: CrateProject, *, name: str) -> dict[str, bytes]:
    """The files of the template `to_template` writes (pure)."""
    reader_root = tomllib.loads(project.files["Cargo.toml"].decode())
    prefix = f"{project.package_dir}/" if project.package_dir else ""
    package_manifest = tomllib.loads(project.files[f"{prefix}Cargo.toml"].decode())
    out: dict[str, bytes] = {}
    deps_dirs: dict[str, str] = {}  # project-relative dir of a path dependency -> its dir in the template
    queue = [(project.package_dir, package_manifest)]
    manifests: dict[str, dict[str, Any]] = {}
    while queue:
        rel, manifest = queue.pop(0)
        if rel in manifests:
            continue
        manifests[rel] = manifest
        for dep_rel, _ in _template_path_deps(rel, manifest, reader_root):
            if dep_rel not in deps_dirs and dep_rel != project.package_dir:
                dep_manifest = tomllib.loads(project.files[f"{dep_rel}/Cargo.toml" if dep_rel else "Cargo.toml"]
                                             .decode())
                dep_name = str(dep_manifest.get("package", {}).get("name", PurePosixPath(dep_rel).name))
                deps_dirs[dep_rel] = f"deps/{dep_name}"
                queue.append((dep_rel, dep_manifest))
    for rel, manifest in manifests.items():
        into = "" if rel == project.package_dir else deps_dirs[rel]
        fixed = _standalone_manifest(manifest, rel, into, root_manifest=reader_root, deps_dirs=deps_dirs,
                                     package_dir=project.package_dir)
        if rel == project.package_dir:
            fixed = _bake_features(fixed, project.selection)
            fixed.pop("workspace", None)
            # The template renames the package; its lib keeps the name the code (and its tests) use.
            lib = fixed.setdefault("lib", {})
            if isinstance(lib, dict):
                lib.setdefault("name", project.artifact)
        out[f"{into}/Cargo.toml" if into else "Cargo.toml"] = toml.dumps(fixed).encode()
        src_prefix = f"{rel}/" if rel else ""
        for path, data in project.files.items():
            if not path.startswith(src_prefix) or (path.endswith(("Cargo.toml", "Cargo.lock")) and path.count("/") == \
                    src_prefix.count("/")):
                continue
            inner = path[len(src_prefix):]
            if inner.startswith((".cargo/", "deps/")) or any(inner.startswith(f"{d}/") for d in _nested(rel, deps_dirs,
                                                                                                        manifests)):
                continue
            out[f"{into}/{inner}" if into else inner] = data
    for rel, data in _root_files(project).items():  # the check's scripts, helpers and data beside the crates
        if rel in out and out[rel] != data:
            raise UsageError(f"{rel} of the workspace root and of package {project.package} would both be {rel} in "
                             "the template", hint="rename one of them; nothing was written")
        out[rel] = data
    check = project.check
    manifest_doc: dict[str, Any] = {"name": name, "description": f"from the crate {project.package} of {project.root}",
                                    "check": {"command": check.flag_value(), "timeout": check.timeout}}
    if check.test:
        manifest_doc["check"]["test"] = check.test
    if check.failure_signature:
        manifest_doc["check"]["failure_signature"] = check.failure_signature
    if check.timeout_verdict != "error":
        manifest_doc["check"]["timeout_verdict"] = str(check.timeout_verdict)
    if project.project_rustflags:
        manifest_doc["build"] = {"rustflags": [f for f, _ in project.project_rustflags]}
    out["template.toml"] = toml.dumps(manifest_doc).encode()
    return out


def _root_files(project: CrateProject) -> dict[str, bytes]:
    """Files of a virtual workspace that belong to no crate (the check, its helpers and data, package.json): the
    template keeps them at its root, so the check's paths (taken from the --crate directory) stay valid."""
    if not project.package_dir or "package" in tomllib.loads(project.files["Cargo.toml"].decode()):
        return {}
    crate_dirs = [f[: -len("/Cargo.toml")] for f in project.files if f.endswith("/Cargo.toml")]
    return {rel: data for rel, data in project.files.items()
            if "/" in rel or rel not in ("Cargo.toml", "Cargo.lock")
            if not rel.startswith(".cargo/") and rel not in ("Cargo.toml", "Cargo.lock")
            and not any(rel.startswith(f"{d}/") for d in crate_dirs)}


def _nested(rel: str, deps_dirs: Mapping[str, str], manifests: Mapping[str, Any]) -> list[str]:
    """Directories of other copied crates inside `rel` (they are written under deps/ instead)."""
    prefix = f"{rel}/" if rel else ""
    return [d[len(prefix):] for d in (*deps_dirs, *manifests) if d != rel and d.startswith(prefix)]


def _template_path_deps(rel: str, manifest: Mapping[str, Any], root_manifest: Mapping[str, Any]
                        ) -> list[tuple[str, str]]:
    out = []
    for key, spec in _dependencies(manifest).items():
        path = None
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            path = os.path.normpath(Path(rel) / spec["path"])
        elif isinstance(spec, dict) and spec.get("workspace") is True:
            inherited = _workspace_dependency(root_manifest, key)
            if isinstance(inherited, dict) and isinstance(inherited.get("path"), str):
                path = os.path.normpath(inherited["path"])
        if path is not None:
            out.append(("" if path == "." else PurePosixPath(path).as_posix(), key))
    return out


def _standalone_manifest(manifest: Mapping[str, Any], rel: str, into: str, *, root_manifest: Mapping[str, Any],
                         deps_dirs: Mapping[str, str], package_dir: str) -> dict[str, Any]:
    """A member's manifest without workspace inheritance, its path dependencies pointing into the template."""
    workspace = root_manifest.get("workspace", {}) if isinstance(root_manifest.get("workspace"), dict) else {}
    shared_package = workspace.get("package", {}) if isinstance(workspace.get("package"), dict) else {}
    doc: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in manifest.items()}
    package = dict(doc.get("package", {}))
    for key, value in list(package.items()):
        if isinstance(value, dict) and value.get("workspace") is True:
            if key in shared_package:
                package[key] = shared_package[key]
            else:
                package.pop(key)
    package.pop("workspace", None)
    doc["package"] = package

    def where_in_template(dep_rel: str) -> str:
        target = "" if dep_rel == package_dir else deps_dirs.get(dep_rel, dep_rel)
        return os.path.relpath(target or ".", into or ".").replace(os.sep, "/")

    def fix_table(table: Mapping[str, Any]) -> dict[str, Any]:
        fixed: dict[str, Any] = {}
        for key, written in table.items():
            spec = written
            if isinstance(written, dict) and written.get("workspace") is True:
                inherited = _workspace_dependency(root_manifest, key)
                merged = {**(inherited if isinstance(inherited, dict) else {"version": inherited}),
                          **{k: v for k, v in written.items() if k != "workspace"}}
                if isinstance(inherited, dict) and isinstance(inherited.get("path"), str):
                    merged["path"] = where_in_template(os.path.normpath(inherited["path"]).replace(os.sep, "/"))
                if "features" in written and isinstance(inherited, dict) and "features" in inherited:
                    merged["features"] = sorted({*inherited["features"], *written["features"]})
                spec = merged
            elif isinstance(written, dict) and isinstance(written.get("path"), str):
                dep_rel = os.path.normpath(Path(rel) / written["path"]).replace(os.sep, "/")
                spec = {**written, "path": where_in_template("" if dep_rel == "." else dep_rel)}
            fixed[key] = spec
        return fixed

    for table in _DEP_TABLES:
        if isinstance(doc.get(table), dict):
            doc[table] = fix_table(doc[table])
    if isinstance(doc.get("target"), dict):
        doc["target"] = {k: ({t: fix_table(v[t]) if t in _DEP_TABLES and isinstance(v[t], dict) else v[t] for t in v}
                             if isinstance(v, dict) else v) for k, v in doc["target"].items()}
    if isinstance(doc.get("lints"), dict) and doc["lints"].get("workspace") is True:
        lints = workspace.get("lints")
        if isinstance(lints, dict):
            doc["lints"] = lints
        else:
            doc.pop("lints")
    return doc


def _bake_features(doc: dict[str, Any], selection: Selection) -> dict[str, Any]:
    """The selected features become the default ones (a template has no feature flags)."""
    features = dict(doc.get("features", {}))
    if selection.all_features:
        chosen = [f for f in features if f != "default"]
    else:
        chosen = [] if selection.no_default_features else list(features.get("default", []))
        chosen += [f for f in selection.features if f not in chosen]
    if chosen or "default" in features:
        features["default"] = chosen
        doc["features"] = features
    return doc
