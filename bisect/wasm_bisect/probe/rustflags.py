"""A cell's RUSTFLAGS: the project's own from its `.cargo/config.toml`, merged with the reference-types layer, and
how they reach cargo through the environment (`put_env`, the one encoder). Pure.

Cargo ignores every config rustflags once RUSTFLAGS is set in the environment, and the build sets it for the
reference-types layer, so the project's flags are read here the way cargo would read them for
wasm32-unknown-unknown and passed on explicitly: all matching `target.<triple>.rustflags` and
`target.'cfg(..)'.rustflags` joined, else `build.rustflags`. A flag that decides reference-types differently
from what the cell asks makes the cell untestable: the cell would not test what it says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import ReferenceTypes, Variant
from wasm_bisect.toolchains import Toolchain
from wasm_bisect.util import bounded

TARGET = "wasm32-unknown-unknown"
# What rustc reports for wasm32-unknown-unknown (`rustc --print cfg --target wasm32-unknown-unknown`).
_TARGET_CFG = {"target_arch": "wasm32", "target_os": "unknown", "target_family": "wasm", "target_env": "",
               "target_vendor": "unknown", "target_pointer_width": "32", "target_endian": "little",
               "panic": "abort", "target_abi": ""}
_TARGET_NAMES = {"wasm"}  # bare cfg names set for this target (`cfg(wasm)`); unix, windows, debug_assertions: no
Flag = tuple[str, str]  # (flag, where it came from)


@dataclass(frozen=True)
class ConfigFile:
    """One `.cargo/config.toml` of the project: where it is (relative to the project) and its table."""

    where: str
    table: dict[str, Any]


def parse_config(text: str, where: str) -> ConfigFile:
    config = ConfigFile(where, bounded.toml_loads(text, what=where))
    refuse_overrides(config)
    return config


# Keys of a .cargo/config.toml that would take rustc or a wasm-bindgen crate from elsewhere than the grid's cell:
# the verdict would then describe another pair.
_RUSTC_KEYS = ("rustc", "rustc-wrapper", "rustc-workspace-wrapper")


def refuse_overrides(config: ConfigFile) -> None:
    """Refuse a project config that replaces the cell's rustc or its wasm-bindgen (naming the file and the key)."""
    from wasm_bisect.probe.family import is_family

    table = config.table
    build = table.get("build")
    if build is not None and not isinstance(build, dict):
        raise UsageError(f"{config.where}: build must be a table")
    for key in _RUSTC_KEYS:
        if isinstance(build, dict) and key in build:
            raise UsageError(f"{config.where}: build.{key} would build with another rustc than the grid's",
                             hint="remove it (the grid decides rustc); nothing was built")
    patch = table.get("patch")
    if patch is not None:
        if not isinstance(patch, dict) or not all(isinstance(v, dict) for v in patch.values()):
            raise UsageError(f"{config.where}: patch must be a table of tables")
        for registry, entries in patch.items():
            for name, spec in entries.items():
                package = spec.get("package", name) if isinstance(spec, dict) else name
                if is_family(str(package)):
                    raise UsageError(f"{config.where}: patch.{registry}.{name} replaces {package}",
                                     hint="the grid decides wasm-bindgen; try a fork with `wasm-bisect verify "
                                          "--patch URL`")
    if "paths" in table:
        raise UsageError(f"{config.where}: paths overrides dependencies with local crates",
                         hint="remove it: wasm-bisect builds the grid's wasm-bindgen from crates.io")
    sources = table.get("source")
    if sources is not None:
        if not isinstance(sources, dict):
            raise UsageError(f"{config.where}: source must be a table")
        for name, spec in sources.items():
            if isinstance(spec, dict) and "replace-with" in spec:
                raise UsageError(f"{config.where}: source.{name}.replace-with replaces crates.io",
                                 hint="wasm-bisect resolves each cell's wasm-bindgen from crates.io; remove the "
                                      "source replacement for the bisect")


def _flags_value(value: Any, where: str) -> list[str]:
    """rustflags is a string (split on whitespace) or an array of strings, one argument each."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"{where} must be a string or an array of strings")


# -- cfg(...) expressions, for target.'cfg(..)'.rustflags -------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[(),=]))')


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot read {text[pos:]!r}")
        out.append(match.group().strip())
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


MAX_CFG_TOKENS = 512
MAX_CFG_DEPTH = 16


def cfg_matches(expr: str) -> bool:
    """Whether `cfg(...)` holds for wasm32-unknown-unknown; raises ValueError for an expression it cannot read."""
    if len(expr) > 4096:
        raise ValueError("the expression is too long")
    tokens = _tokens(expr)
    depth = level = 0
    for token in tokens:
        level += {"(": 1, ")": -1}.get(token, 0)
        depth = max(depth, level)
    if len(tokens) > MAX_CFG_TOKENS or depth > MAX_CFG_DEPTH:
        raise ValueError(f"the expression nests deeper than {MAX_CFG_DEPTH} levels or is too long")
    if len(tokens) < 3 or tokens[0] != "cfg" or tokens[1] != "(" or tokens[-1] != ")":
        raise ValueError(f"{expr!r} is not cfg(...)")
    value, rest = _predicate(tokens[2:-1])
    if rest:
        raise ValueError(f"trailing {' '.join(rest)!r} in {expr!r}")
    return value


def _predicate(tokens: list[str]) -> tuple[bool, list[str]]:
    if not tokens:
        raise ValueError("empty cfg predicate")
    head, rest = tokens[0], tokens[1:]
    if head in ("all", "any", "not") and rest[:1] == ["("]:
        values: list[bool] = []
        rest = rest[1:]
        while rest and rest[0] != ")":
            value, rest = _predicate(rest)
            values.append(value)
            if rest[:1] == [","]:
                rest = rest[1:]
        if not rest:
            raise ValueError(f"unclosed {head}(")
        rest = rest[1:]
        if head == "not":
            if len(values) != 1:
                raise ValueError("not() takes one predicate")
            return not values[0], rest
        return (all(values) if head == "all" else any(values)), rest
    if rest[:1] == ["="] and len(rest) >= 2 and rest[1].startswith('"'):
        return _TARGET_CFG.get(head) == rest[1][1:-1], rest[2:]
    return head in _TARGET_NAMES, rest


def config_rustflags(configs: Sequence[ConfigFile]) -> list[Flag]:
    """The rustflags cargo would use for wasm32-unknown-unknown. `configs` go from the lowest precedence (the
    project root) to the highest (the package directory); like cargo, higher precedence values come later."""
    target_flags: list[Flag] = []
    build_flags: list[Flag] = []
    for config in configs:
        targets = config.table.get("target", {})
        if isinstance(targets, dict):
            for raw_key, table in targets.items():
                key = str(raw_key)
                if not isinstance(table, dict) or "rustflags" not in table:
                    continue
                if key.startswith("cfg("):
                    try:
                        applies = cfg_matches(key)
                    except ValueError as exc:
                        raise UsageError(f"{config.where}: cannot read target.'{key}': {exc}") from None
                else:
                    applies = key == TARGET
                if applies:
                    where = f"{config.where} target.{key if not key.startswith('cfg(') else repr(key)}.rustflags"
                    target_flags += [(f, where) for f in _flags_value(table["rustflags"], where)]
        build = config.table.get("build", {})
        if isinstance(build, dict) and "rustflags" in build:
            where = f"{config.where} build.rustflags"
            build_flags += [(f, where) for f in _flags_value(build["rustflags"], where)]
    return target_flags or build_flags


# -- reference-types ------------------------------------------------------------------------------------------
def _codegen_options(flags: Sequence[Flag]) -> list[tuple[str, str, str]]:
    """(option, value, flag as written) for every -C option, in order: `-Cx=y`, `-C x=y`, `--codegen x=y`."""
    out: list[tuple[str, str, str]] = []
    items = [f for f, _ in flags]
    i = 0
    while i < len(items):
        item = items[i]
        text = None
        if item in ("-C", "--codegen") and i + 1 < len(items):
            text, shown = items[i + 1], f"{item} {items[i + 1]}"
            i += 1
        elif item.startswith("--codegen="):
            text, shown = item.removeprefix("--codegen="), item
        elif item.startswith("-C") and len(item) > 2:
            text, shown = item[2:], item
        if text is not None:
            option, _, value = text.partition("=")
            out.append((option.strip().replace("_", "-"), value.strip(), shown))
        i += 1
    return out


def reference_types_of(flags: Sequence[Flag]) -> tuple[bool, str] | None:
    """What the flags say about reference-types (the last word wins, like rustc), and the flag that says it."""
    said: tuple[bool, str] | None = None
    for option, value, shown in _codegen_options(flags):
        if option == "target-feature":
            for written in value.split(","):
                feature = written.strip()
                if feature in ("+reference-types", "-reference-types"):
                    said = (feature.startswith("+"), shown)
        elif option == "target-cpu" and value == "mvp":
            said = (False, shown)  # the MVP cpu has no reference-types
    return said


def merge(
    project: Sequence[Flag],
    layer: Sequence[str],
    *,
    layer_origin: str,
    wanted: bool,
    setting: str,
    owns_sysroot: bool = False,
) -> tuple[list[Flag], str | None]:
    """The project's flags then the layer's (rustc: a later target-feature wins), and why the cell cannot be tested
    when the project's flags decide reference-types against the cell (`wanted`: on or off in this cell)."""
    merged = [*project, *((flag, layer_origin) for flag in layer)]
    said = reference_types_of(project)
    if said is not None and said[0] != wanted:
        flag = said[1]
        origin = next((where for f, where in project if f in flag), "the project's config")
        return merged, (f"the project's rustflags turn reference-types {'on' if said[0] else 'off'} ({flag} in "
                        f"{origin}), which fights reference-types {setting} in this cell")
    if owns_sysroot:
        clash = next(((f, where) for f, where in project if f.startswith("--sysroot")), None)
        if clash is not None:
            return merged, (f"the project's rustflags set {clash[0]} ({clash[1]}), but reference-types {setting} "
                            "needs the tool's own std sysroot")
    return merged, None


# -- the flags of one cell -----------------------------------------------------------------------------------
def needs_mvp_std(variant: Variant, *, on_by_default: bool) -> bool:
    """Reference-types off on a rustc whose wasm32 std has them on (1.82+) needs a std built for target-cpu=mvp: the
    one statement of that rule (provisioning, the test sysroot, the cost estimate and the flags all ask here)."""
    return variant.reference_types is ReferenceTypes.OFF and on_by_default


@dataclass(frozen=True, kw_only=True)
class FlagPlan:
    """The RUSTFLAGS of one variant: the project's own (if any) then the reference-types layer's."""

    flags: list[str] | None  # None: the cell cannot be built as asked (see `reason`)
    listed: list[tuple[str, str]]  # (flag, where it came from), for the evidence
    layer: str  # what the codegen layer does
    reason: str | None = None  # why the cell is untestable

    def evidence(self) -> list[dict[str, str]]:
        return [{"flag": f, "from": where} for f, where in self.listed]


def flag_plan(variant: Variant, project_flags: tuple[tuple[str, str], ...], toolchain: Toolchain) -> FlagPlan:
    """Merge the project's flags with the reference-types layer; a project flag that fights the cell's setting
    makes the cell untestable (it would not test what it says)."""
    layer, said = codegen_flags(variant, toolchain)
    if layer is None:
        return FlagPlan(flags=None, listed=list(project_flags), layer=said, reason=said)
    rt = variant.reference_types
    wanted = {ReferenceTypes.ON: True, ReferenceTypes.OFF: False}.get(rt, toolchain.reference_types_default)
    owns_sysroot = any(f.startswith("--sysroot") for f in layer)
    merged, conflict = merge(project_flags, layer, layer_origin=f"reference-types {rt}", wanted=wanted,
                             setting=str(rt), owns_sysroot=owns_sysroot)
    if conflict is not None:
        return FlagPlan(flags=None, listed=merged, layer=said, reason=conflict)
    return FlagPlan(flags=[f for f, _ in merged], listed=merged, layer=said)


def codegen_flags(variant: Variant, toolchain: Toolchain) -> tuple[list[str] | None, str]:
    """RUSTFLAGS for the reference-types setting, and which layer sets it; None flags = cannot be done."""
    rt = variant.reference_types
    new_default = toolchain.reference_types_default
    if rt is ReferenceTypes.ON:
        return ["-Ctarget-feature=+reference-types"], "codegen: -Ctarget-feature=+reference-types"
    if rt is ReferenceTypes.OFF:
        if needs_mvp_std(variant, on_by_default=new_default) and toolchain.mvp_sysroot is None:
            return None, (
                f"reference-types cannot be turned off on rustc {toolchain.version} without a std built for "
                f"target-cpu=mvp, and {toolchain.spec} has none"
            )
        layer = ("codegen: -Ctarget-cpu=mvp with an mvp-built std (reference-types off)" if new_default else
                 "codegen: -Ctarget-feature=-reference-types")
        return toolchain.reference_types_off_rustflags(), layer
    return [], "codegen: toolchain default" + (" (reference-types on since rustc 1.82)" if new_default else "")


# -- RUSTFLAGS in an environment: the one encoder ------------------------------------------------------------
def put_env(env: dict[str, str], flags: Sequence[str]) -> None:
    """Give cargo `flags` through `env`, replacing what it held: CARGO_ENCODED_RUSTFLAGS when a flag holds
    whitespace (the only way such a flag survives), else RUSTFLAGS; neither when there are no flags."""
    env.pop("RUSTFLAGS", None)
    env.pop("CARGO_ENCODED_RUSTFLAGS", None)
    if any(any(ch.isspace() for ch in flag) for flag in flags):
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags)
    elif flags:
        env["RUSTFLAGS"] = " ".join(flags)


def from_env(env: Mapping[str, str]) -> list[str]:
    """The flags `put_env` gave cargo in `env`."""
    encoded = env.get("CARGO_ENCODED_RUSTFLAGS")
    return [f for f in (encoded.split("\x1f") if encoded else env.get("RUSTFLAGS", "").split()) if f]
