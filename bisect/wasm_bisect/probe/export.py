"""`templates init --from-crate`: a crate-mode project turned into a self-contained template directory.

The package becomes the template's crate; path dependencies move under `deps/`; inherited workspace fields are
filled in; the feature selection becomes the default features; the project's rustflags go to template.toml
`[build] rustflags`; the check becomes `[check] command`. Only `to_template` writes (through templates.write_made).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import toml

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.options import TimeoutVerdict
from wasm_bisect.probe import rustflags, templates
from wasm_bisect.probe.family import DEPENDENCY_TABLES
from wasm_bisect.probe.manifest import dependencies, workspace_dependency
from wasm_bisect.probe.reproducer import CheckSpec


class FeatureChoice(Protocol):
    """The package's feature selection (domain.options.Selection)."""

    @property
    def features(self) -> tuple[str, ...]: ...
    @property
    def no_default_features(self) -> bool: ...
    @property
    def all_features(self) -> bool: ...


class Project(Protocol):
    """What the export reads of a crate-mode project (crate.Project)."""

    @property
    def root(self) -> Path: ...
    @property
    def package(self) -> str: ...
    @property
    def package_dir(self) -> str: ...
    @property
    def artifact(self) -> str: ...
    @property
    def files(self) -> dict[str, bytes]: ...
    @property
    def selection(self) -> FeatureChoice: ...
    @property
    def check(self) -> CheckSpec: ...
    @property
    def project_rustflags(self) -> tuple[rustflags.Flag, ...]: ...


def to_template(project: Project, dest: Path, *, name: str) -> Path:
    """Turn a crate-mode reproducer into a self-contained template directory (which must not exist yet), written by
    the one writer of new template directories (templates.write_made: staged, never removing what this call did not
    create)."""
    files = template_files(project, name=name)
    return templates.write_made(dest, files, check={"command": project.check.flag_value(),
                                                    "failure_signature": project.check.failure_signature})


def template_files(project: Project, *, name: str) -> dict[str, bytes]:
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
    if check.timeout_verdict != TimeoutVerdict.ERROR:
        manifest_doc["check"]["timeout_verdict"] = str(check.timeout_verdict)
    if project.project_rustflags:
        manifest_doc["build"] = {"rustflags": [f for f, _ in project.project_rustflags]}
    out["template.toml"] = toml.dumps(manifest_doc).encode()
    return out


def _root_files(project: Project) -> dict[str, bytes]:
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
    for key, spec in dependencies(manifest).items():
        path = None
        if isinstance(spec, dict) and isinstance(spec.get("path"), str):
            path = os.path.normpath(Path(rel) / spec["path"])
        elif isinstance(spec, dict) and spec.get("workspace") is True:
            inherited = workspace_dependency(root_manifest, key)
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
                inherited = workspace_dependency(root_manifest, key)
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

    for table in DEPENDENCY_TABLES:
        if isinstance(doc.get(table), dict):
            doc[table] = fix_table(doc[table])
    if isinstance(doc.get("target"), dict):
        doc["target"] = {k: ({t: fix_table(v[t]) if t in DEPENDENCY_TABLES and isinstance(v[t], dict) else v[t]
                              for t in v} if isinstance(v, dict) else v) for k, v in doc["target"].items()}
    if isinstance(doc.get("lints"), dict) and doc["lints"].get("workspace") is True:
        lints = workspace.get("lints")
        if isinstance(lints, dict):
            doc["lints"] = lints
        else:
            doc.pop("lints")
    return doc


def _bake_features(doc: dict[str, Any], selection: FeatureChoice) -> dict[str, Any]:
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
