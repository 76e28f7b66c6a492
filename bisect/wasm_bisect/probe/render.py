"""Template + variant -> the files of a variant crate (pure: returns a dict, writes nothing).

Cargo.toml is edited as data through a TOML library, never by string formatting, so template or user values
cannot inject keys or tables.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any, Protocol

import toml

from wasm_bisect.domain.errors import TemplateError
from wasm_bisect.domain.model import Variant
from wasm_bisect.domain.versions import rust_release
from wasm_bisect.probe.family import family_dependencies


class Template(Protocol):
    """What rendering reads of a template (probe.templates.Template)."""

    @property
    def name(self) -> str: ...

    @property
    def files(self) -> dict[str, bytes]: ...

CRATE_NAME = "wasm-bisect-probe"
PKG_MODULE = "pkg/wasm_bisect_probe.js"  # what wasm-pack --target nodejs emits for CRATE_NAME
WASM_PACK_PROFILES = ("release", "dev", "profiling")


def _table(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.setdefault(key, {})
    if not isinstance(value, dict):
        raise TemplateError(f"{where}.{key} in the template's Cargo.toml must be a table")
    return value


def rust_version_of(rustc_version: str) -> str:
    """`1.96.0` -> `1.96`: what `package.rust-version` takes; drives MSRV-aware resolution."""
    major, minor, _ = rust_release(rustc_version)
    return f"{major}.{minor}"


# The companions (js-sys, web-sys, wasm-bindgen-futures, -test, ...) have version numbers of their own, and every
# release of them requires one wasm-bindgen exactly (`wasm-bindgen = "=0.2.99"`). With wasm-bindgen pinned to
# `=X`, a companion's requirement of `*` lets cargo pick exactly the companion release made for X (the newest
# whose own wasm-bindgen requirement is `=X`), which no hand-written requirement can promise for every X.
COMPANION_REQUIREMENT = "*"


def pin_family(doc: dict[str, Any], version: str) -> None:
    """Pin every wasm-bindgen-family dependency of a manifest to the grid's version: wasm-bindgen to `=X`,
    the companions to whatever matches `=X` (see COMPANION_REQUIREMENT); features and options are kept."""
    for table, key, entry in family_dependencies(doc):
        requirement = f"={version}" if key == "wasm-bindgen" else COMPANION_REQUIREMENT
        deps = doc[table]
        deps[key] = {**entry, "version": requirement} if isinstance(entry, dict) else requirement


def family_pins(doc: dict[str, Any], version: str) -> list[str]:
    """Family dependencies of a rendered manifest that are NOT pinned as `pin_family` pins them (should be none)."""
    wrong = []
    for table, key, entry in family_dependencies(doc):
        requirement = entry.get("version") if isinstance(entry, dict) else entry
        expected = f"={version}" if key == "wasm-bindgen" else COMPANION_REQUIREMENT
        if requirement != expected:
            wrong.append(f"{table}.{key}")
    return wrong


def cargo_toml(
    template: Template,
    variant: Variant,
    *,
    rustc_version: str,
    patches: Mapping[str, str] | None = None,
) -> str:
    try:
        doc: dict[str, Any] = toml.loads(template.files["Cargo.toml"].decode())
    except (toml.TomlDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"template {template.name}: Cargo.toml is not valid TOML: {exc}") from exc
    package = _table(doc, "package", "")
    package["name"] = CRATE_NAME
    package["publish"] = False
    package["rust-version"] = rust_version_of(rustc_version)
    package.setdefault("version", "0.1.0")
    package.setdefault("edition", "2021")
    lib = _table(doc, "lib", "")
    crate_types = lib.get("crate-type", [])
    if not isinstance(crate_types, list):
        raise TemplateError("lib.crate-type in the template's Cargo.toml must be a list")
    lib["crate-type"] = ["cdylib", *[t for t in crate_types if t != "cdylib"]]
    deps = _table(doc, "dependencies", "")
    deps.setdefault("wasm-bindgen", "")
    pin_family(doc, variant.bindgen.version)
    wasm_pack = _table(_table(package, "metadata", "package"), "wasm-pack", "package.metadata")
    profiles = _table(wasm_pack, "profile", "package.metadata.wasm-pack")
    for profile in WASM_PACK_PROFILES:
        # wasm-pack would download wasm-opt from GitHub; it is a separate, opt-in stage here.
        _table(profiles, profile, "package.metadata.wasm-pack.profile")["wasm-opt"] = variant.options.wasm_opt
    doc["workspace"] = {}  # a standalone crate, even when rendered below some other workspace
    if patches:
        patch = _table(_table(doc, "patch", ""), "crates-io", "patch")
        for name, path in sorted(patches.items()):
            patch[name] = {"path": path}
    text = toml.dumps(doc)
    try:
        exact = tomllib.loads(text) == doc
    except tomllib.TOMLDecodeError:
        exact = False
    if not exact:  # the writer mangled a value (see template_cargo.writes_back_exactly): never build a lie
        raise TemplateError(f"template {template.name}: its Cargo.toml cannot be written back exactly")
    unpinned = family_pins(tomllib.loads(text), variant.bindgen.version)
    if unpinned:  # check_cargo_toml refuses what could escape the pin; this proves the rendered file agrees
        raise TemplateError(f"template {template.name}: {unpinned[0]} escaped the grid's wasm-bindgen pin")
    return text


def render(
    template: Template,
    variant: Variant,
    *,
    rustc_version: str,
    patches: Mapping[str, str] | None = None,
) -> dict[str, bytes]:
    """All files of the variant crate, relative POSIX path -> bytes."""
    files = dict(template.files)
    files["Cargo.toml"] = cargo_toml(template, variant, rustc_version=rustc_version, patches=patches).encode()
    return files
