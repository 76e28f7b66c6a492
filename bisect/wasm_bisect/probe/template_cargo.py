"""What a template's Cargo.toml may say: TOML the writer keeps exactly (rendering edits it as data), tables where
cargo has tables, and the wasm-bindgen family only as the grid pins it (no other source, spelling, target table,
[patch] or [replace]). Pure: checked when a template is loaded, before anything is built.
"""

from __future__ import annotations

import tomllib
from typing import Any

import toml

from wasm_bisect.domain.errors import TemplateError
from wasm_bisect.probe.family import DEPENDENCY_TABLES, canonical, family_dependencies, is_family, names
from wasm_bisect.util import bounded

# Keys that would take a wasm-bindgen-family crate from somewhere else than the grid says (a path, a git repo,
# a registry, another package, the workspace).
_SOURCE_KEYS = ("path", "git", "branch", "tag", "rev", "registry", "registry-index", "package", "workspace")


def writes_back_exactly(doc: dict[str, Any], truth: dict[str, Any]) -> bool:
    """The `toml` writer mangles some strings (backslash-x, control characters) or fails on them: Cargo.toml
    is edited as data only when reading it and writing it back gives exactly what a strict parser reads."""
    try:
        return doc == truth and tomllib.loads(toml.dumps(doc)) == truth
    except (IndexError, ValueError, TypeError, tomllib.TOMLDecodeError):
        return False


def check_cargo_toml(name: str, data: bytes) -> None:
    """Reject a template Cargo.toml that cannot be rendered, or that would take a wasm-bindgen-family crate
    (wasm-bindgen, wasm-bindgen-*, js-sys, web-sys) from anywhere but the grid's pin: another source, a renamed
    dependency, a target-specific table, the workspace, [patch] or [replace]. Found at load time, before
    anything is built or stored; the error names the key."""
    what = f"Cargo.toml of template {name}"
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise TemplateError(f"{what} is not valid TOML: it is not UTF-8 text") from None
    truth = bounded.toml_loads(text, what=what, error=TemplateError)
    try:
        doc = toml.loads(text)  # what render.cargo_toml edits
    except (toml.TomlDecodeError, IndexError, ValueError, TypeError, KeyError, RecursionError):  # `toml` has bugs
        doc = None
    if doc is None or not writes_back_exactly(doc, truth):
        raise TemplateError(f"Cargo.toml of template {name} has values the TOML writer cannot keep exactly",
                            hint="avoid control characters and backslash escapes such as \\x in its strings")
    for key in ("package", "lib", "patch", "replace", "workspace", "target", *DEPENDENCY_TABLES):
        if key in doc and not isinstance(doc[key], dict):
            raise TemplateError(f"[{key}] in the Cargo.toml of template {name} must be a table")
    lib = doc.get("lib", {})
    if "crate-type" in lib and not isinstance(lib["crate-type"], list):
        raise TemplateError(f"lib.crate-type in the Cargo.toml of template {name} must be a list")
    node: Any = doc.get("package", {})
    for key in ("metadata", "wasm-pack", "profile"):  # rendering writes wasm-opt = false down there
        node = node.get(key, {})
        if not isinstance(node, dict):
            raise TemplateError(f"package.metadata.wasm-pack... in the Cargo.toml of template {name} must be tables")
    if any(not isinstance(node.get(p, {}), dict) for p in ("release", "dev", "profiling")):
        raise TemplateError(f"package.metadata.wasm-pack.profile.* of template {name} must be tables")
    hint = "the grid decides the wasm-bindgen version and source; keep only features"
    for table, key, entry in family_dependencies(doc):
        sources = [k for k in _SOURCE_KEYS if isinstance(entry, dict) and k in entry]
        if sources:
            raise TemplateError(f"template {name} takes {key} from {', '.join(sources)} "
                                f"({table}.{key}.{sources[0]})", hint=hint)
        if key != canonical(key):
            raise TemplateError(f"template {name} spells {key} unlike crates.io ({table}.{key})",
                                hint=f"write {canonical(key)}: the grid pins it under that name")
    for target, tables in doc.get("target", {}).items():
        if not isinstance(tables, dict):
            raise TemplateError(f"target.{target!r} in the Cargo.toml of template {name} must be a table")
        for table, key, _entry in family_dependencies(tables):
            raise TemplateError(f"template {name} declares {key} in a target-specific table "
                                f"(target.{target!r}.{table}.{key})",
                                hint="declare wasm-bindgen-family crates under [dependencies]: the grid pins them")
    tables = [(f"patch.{source}", table) for source, table in doc.get("patch", {}).items()]
    tables.append(("replace", doc.get("replace", {})))
    for where, table in tables:
        if not isinstance(table, dict):
            raise TemplateError(f"[{where}] in the Cargo.toml of template {name} must be a table")
        for crate, entry in table.items():
            if any(is_family(n) for n in names(str(crate), entry)):
                raise TemplateError(f"template {name} patches or replaces {crate} ([{where}] {crate})",
                                    hint="the grid decides wasm-bindgen; try a fork with "
                                         "`wasm-bisect verify --patch URL`")
