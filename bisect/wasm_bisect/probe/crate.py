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
variant's wasm-bindgen family with the resolver (probe/lockfile.py). The workspace is read by
probe/workspace.py and its manifests by probe/manifest.py; probe/export.py turns a project into a template.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import toml

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Runtime, Variant
from wasm_bisect.domain.options import CheckOverrides, Selection, TimeoutVerdict
from wasm_bisect.probe import fingerprint, lockneeds, manifest, runtimes, rustflags, workspace
from wasm_bisect.probe.reproducer import CheckKind, CheckSpec, Materialised, apply_overrides, write_files
from wasm_bisect.util import paths

__all__ = ["CrateProject", "load", "with_patches"]

DEFAULT_CHECK_TIMEOUT = 600.0  # a check may compile (wasm-pack test)
DEFAULT_BUILD_TIMEOUT = 1800.0


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
            runtimes.bindgen_test_runner.parse_webdriver_json(own, str(self.root / self._webdriver_rel))

    @property
    def _webdriver_rel(self) -> str:
        return PurePosixPath(self.package_dir, runtimes.bindgen_test_runner.WEBDRIVER_JSON).as_posix()

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
        if self.check.timeout_verdict != TimeoutVerdict.ERROR:
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
            root_manifest = dest / "Cargo.toml"
            root_manifest.write_text(with_patches(root_manifest.read_text(), patches))
        package = dest / self.package_dir if self.package_dir else dest
        evidence: dict[str, Any] = {}
        if self.check.kind is CheckKind.WASM_PACK_TEST and variant.runtime.is_browser:
            # The runner reads the browser's capabilities from the package dir: ours go into the copy only.
            data, evidence["webdriver_json"] = runtimes.bindgen_test_runner.webdriver_file(
                variant.runtime, runtimes.locate(variant.runtime).binary, self.files.get(self._webdriver_rel),
                where=str(self.root / self._webdriver_rel))
            (package / runtimes.bindgen_test_runner.WEBDRIVER_JSON).write_bytes(data)
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
    reader = workspace.Reader(root)
    root_manifest = reader.manifest("")
    members = workspace.members(reader)
    package, package_dir = workspace.choose_package(reader, members, selection.package)
    package_manifest = reader.manifest(package_dir)
    local = {key: reader.manifest(rel) for rel, key in workspace.local_dependencies(reader, package_dir,
                                                                                      package_manifest)}
    manifest.check_features(package, package_manifest, selection.features, local)
    if not manifest.is_cdylib(package_manifest):
        raise UsageError(f"package {package} is not a cdylib, so wasm-pack cannot build it",
                         hint='add crate-type = ["cdylib", "rlib"] under [lib] in its Cargo.toml')
    manifest.refuse_family_patches(root_manifest)
    crate_dirs, extra_files = workspace.crate_dirs(reader, members)
    if not manifest.uses_bindgen((reader.manifest(rel) for rel in crate_dirs), root_manifest):
        raise UsageError(f"package {package} does not use wasm-bindgen, so there is nothing for the grid to pin")

    files, left_out, node_modules = workspace.read_files(reader, package_dir, extra_files)
    project_flags = rustflags.config_rustflags(workspace.config_files(root, package_dir, files))
    check = _check_spec(overrides)
    test_targets: tuple[str, ...] = ()
    executables = workspace.executables_of(root, files)
    if check.kind is CheckKind.COMMAND:
        workspace.require_check_files(check.argv, root=root, package_dir=package_dir, files=files,
                                      executables=executables)
    elif check.kind is CheckKind.WASM_PACK_TEST:
        test_targets = workspace.check_test_targets(package, package_dir, package_manifest, files, check.test)
    return CrateProject(root=root, package=package, package_dir=package_dir,
                        artifact=manifest.artifact_name(package_manifest, package),
                        selection=replace(selection, package=package), files=files,
                        project_rustflags=tuple(project_flags), check=check, build_timeout=build_timeout,
                        left_out=tuple(sorted(set(left_out))), test_targets=test_targets,
                        node_modules=tuple(node_modules),
                        node_modules_state=workspace.installed_state(root, node_modules),
                        executables=executables)


def _check_spec(overrides: CheckOverrides) -> CheckSpec:
    if overrides.check is None:
        raise UsageError("crate mode needs a check: --check \"CMD ARGS\" or --check wasm-pack-test",
                         hint="e.g. --check \"node tests/check.mjs\" (git bisect's exit codes: 0 good, 125 skip, "
                              "1-127 bad)")
    base = CheckSpec(kind=CheckKind.COMMAND, timeout=DEFAULT_CHECK_TIMEOUT)
    return apply_overrides(base, overrides)
