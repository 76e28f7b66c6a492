"""The wasm-bindgen family: the crates of one release train (wasm-bindgen, wasm-bindgen-*, js-sys, web-sys) that pin
each other exactly, so the grid moves them together. One definition for templates, rendering and crate mode. Pure.
"""

from __future__ import annotations

from typing import Any

# Dependency tables of a manifest (cargo still reads the old underscore spellings).
DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies", "dev_dependencies",
                     "build_dependencies")


def canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def is_family(name: str) -> bool:
    """A wasm-bindgen-family crate (wasm-bindgen, wasm-bindgen-*, js-sys, web-sys): the grid pins them all.
    Recognised in any spelling (case, `-` or `_`) so that no spelling slips past the checks."""
    name = canonical(name)
    return name in ("wasm-bindgen", "js-sys", "web-sys") or name.startswith("wasm-bindgen-")


def names(key: str, entry: Any) -> list[str]:
    """The crate names a dependency or patch entry involves: its key, and its `package` when renamed."""
    package = entry.get("package") if isinstance(entry, dict) else None
    return [key.split(":", maxsplit=1)[0], *([str(package)] if package is not None else [])]


def family_dependencies(doc: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Every wasm-bindgen-family crate a manifest depends on: (table, key, entry) for [dependencies],
    [dev-dependencies] and [build-dependencies], renamed entries (`package = "js-sys"`) included."""
    found = []
    for table in DEPENDENCY_TABLES:
        deps = doc.get(table, {})
        if isinstance(deps, dict):
            found += [(table, str(key), entry) for key, entry in deps.items()
                      if any(is_family(n) for n in names(str(key), entry))]
    return found
