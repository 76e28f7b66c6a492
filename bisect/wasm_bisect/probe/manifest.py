"""What a Cargo manifest and lockfile say, as data: shapes cargo would accept, dependency tables, features, the
lib target, and the refusals crate mode makes before any build (a patched wasm-bindgen family). Pure: the files
are read by probe/workspace.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.probe.family import DEPENDENCY_TABLES, is_family
from wasm_bisect.util import bounded

TARGET_KINDS = ("bin", "example", "test", "bench")
LOCK_VERSIONS = range(1, 5)  # the lockfile formats cargo has written (v1 and v2 carry no `version` key)


def _want(value: Any, kind: type | tuple[type, ...], where: str, key: str, shape: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise UsageError(f"{where}: {key} must be {shape}, not {type(value).__name__}")


def _string_list(value: Any, where: str, key: str) -> None:
    _want(value, list, where, key, "an array of strings")
    if isinstance(value, list) and not all(isinstance(v, str) and "\0" not in v for v in value):
        raise UsageError(f"{where}: {key} must be an array of strings")


def check_manifest_shape(data: Mapping[str, Any], where: str) -> None:
    """The keys this reader relies on have the shapes cargo gives them (cargo refuses the rest too)."""
    for key in ("package", "workspace", "lib", "features", "patch", "replace", "target", *DEPENDENCY_TABLES):
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
    for kind in TARGET_KINDS:
        targets = data.get(kind)
        _want(targets, list, where, kind, "an array of tables")
        if isinstance(targets, list) and not all(isinstance(t, dict) for t in targets):
            raise UsageError(f"{where}: {kind} must be an array of tables")
    for table in tables(data):
        for key, spec in table.items():
            if isinstance(spec, dict):
                _want(spec.get("path"), str, where, f"dependency {key}.path", "a string")
                _want(spec.get("package"), str, where, f"dependency {key}.package", "a string")
            elif not isinstance(spec, str):
                raise UsageError(f"{where}: dependency {key} must be a version string or a table")


def tables(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every dependency table of a manifest, target-specific ones included."""
    found = [manifest[t] for t in DEPENDENCY_TABLES if isinstance(manifest.get(t), dict)]
    targets = manifest.get("target", {})
    if isinstance(targets, dict):
        for table in targets.values():
            if isinstance(table, dict):
                found += [table[t] for t in DEPENDENCY_TABLES if isinstance(table.get(t), dict)]
    return found


def dependencies(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Dependency key -> its spec, over every table (a later table does not hide an earlier key)."""
    deps: dict[str, Any] = {}
    for table in tables(manifest):
        for key, spec in table.items():
            deps.setdefault(str(key), spec)
    return deps


def package_name(spec: Any, key: str) -> str:
    return str(spec.get("package", key)) if isinstance(spec, dict) else key


def workspace_dependency(root_manifest: Mapping[str, Any], key: str) -> Any:
    workspace = root_manifest.get("workspace", {})
    deps = workspace.get("dependencies", {}) if isinstance(workspace, dict) else {}
    return deps.get(key) if isinstance(deps, dict) else None


def _features_of(manifest: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(feature names incl. implicit ones of optional dependencies, dependency keys)."""
    features = manifest.get("features", {})
    names = set(features) if isinstance(features, dict) else set()
    deps = dependencies(manifest)
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


def uses_bindgen(manifests: Iterable[Mapping[str, Any]], root_manifest: Mapping[str, Any]) -> bool:
    for manifest in manifests:
        for key, spec in dependencies(manifest).items():
            if package_name(spec, key) == "wasm-bindgen":
                return True
            if isinstance(spec, dict) and spec.get("workspace") is True and key == "wasm-bindgen":
                return True
    return workspace_dependency(root_manifest, "wasm-bindgen") is not None


def is_cdylib(manifest: Mapping[str, Any]) -> bool:
    lib = manifest.get("lib", {})
    return isinstance(lib, dict) and "cdylib" in (lib.get("crate-type") or lib.get("crate_type") or [])


def artifact_name(manifest: Mapping[str, Any], package: str) -> str:
    lib = manifest.get("lib", {})
    name = lib.get("name") if isinstance(lib, dict) and isinstance(lib.get("name"), str) else package
    return str(name).replace("-", "_")


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


def refuse_family_patches(root_manifest: Mapping[str, Any]) -> None:
    for section in ("patch", "replace"):
        found = root_manifest.get(section, {})
        entries = found.values() if section == "patch" and isinstance(found, dict) else [found]
        for table in entries:
            if not isinstance(table, dict):
                continue
            for key, spec in table.items():
                name = package_name(spec, str(key).split(":")[0].split("@")[0])
                if is_family(name):
                    raise UsageError(f"the project's Cargo.toml [{section}] replaces {name}",
                                     hint="the grid decides wasm-bindgen; try a fork with `wasm-bisect verify "
                                          "--patch URL`")
