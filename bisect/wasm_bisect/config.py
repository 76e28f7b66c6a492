"""The one settings path of every command: flags > `wasm-bisect.toml` / `[tool.wasm-bisect]` > data/defaults.toml.

The config file is found in the working directory or the nearest parent that has one (like cargo and ruff), or
named with `--config`. A bad file is a ConfigError naming the file and the key, never a traceback. The result is
one frozen `Settings` value; `make_grid` turns it into the Grid a run searches.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from wasm_bisect.domain.errors import ConfigError, UsageError, did_you_mean
from wasm_bisect.domain.grid import (
    MAX_SHARDS,
    check_bindgen_axis,
    check_shard_count,
    parse_reference_types,
    parse_runtimes,
    rustc_items,
)
from wasm_bisect.domain.model import BROWSER_NAMES, BuildOptions, ReferenceTypes, Runtime, ToolchainSpec
from wasm_bisect.domain.options import (
    BuildFailure,
    CheckOverrides,
    Profile,
    ProjectFlags,
    Selection,
    Target,
    TimeoutVerdict,
    ToolSource,
    split_features,
)
from wasm_bisect.domain.signature import check_signature
from wasm_bisect.util import bounded, paths

__all__ = [
    "CONFIG_FILE",
    "Config",
    "Flags",
    "Settings",
    "check_axes",
    "check_single",
    "defaults",
    "find",
    "load",
    "parse",
    "resolve",
    "settings",
    "single_reference_types",
    "single_rustc",
]

CONFIG_FILE = "wasm-bisect.toml"
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a config file (or the pyproject.toml holding one), checked with stat first
MAX_JOBS = 64
MAX_TEXT = 64 * 1024  # one string value
MAX_LIST = 1000  # items of a list value
MAX_PARAMS = 64
PYPROJECT = "pyproject.toml"
_SCALARS = (str, int, float)
# key -> what it must be; kebab-case in files (snake_case is accepted too, like cargo does).
_KEYS = {
    "template": "a template name or directory",
    "rustc": "a list of toolchains or one comma-separated string",
    "bindgen": "a list of wasm-bindgen versions or one string (a range works)",
    "reference-types": "a list or one of default, on, off, externref, both, all",
    "params": "a table of template parameters",
    "build-failure": "skip or bad",
    "profile": "release, dev or profiling",
    "target": "a wasm-pack target",
    "jobs": f"a positive integer (at most {MAX_JOBS})",
    "shards": f"a positive integer (at most {MAX_SHARDS}, GitHub's limit)",
    "allow-yanked": "true or false",
    "store": "a path to a result store",
    "crate": "a path to your own Cargo project (instead of template)",
    "package": "a package of that workspace",
    "features": "a list of features or one comma-separated string",
    "no-default-features": "true or false",
    "all-features": "true or false",
    "relock": "true or false",
    "check": "a check command line, or wasm-pack-test",
    "signature": "a regex that tells the bug from other failures",
    "timeout": "a number of seconds in (0, 86400]",
    "timeout-verdict": "error or bad",
    "test": "a test target of --check wasm-pack-test",
    "runtime": "node, chromium, firefox, or a list of them (a matrix axis)",
    "browser-path": "a table of browser binaries, e.g. {chromium = \"/usr/bin/chromium\"}",
    "tools": "auto, prebuilt or source (where a missing wasm-bindgen CLI or wasm-pack comes from)",
}


@dataclass(frozen=True, kw_only=True)
class Config:
    """What a config file says; None means "not set here" so flags and defaults can fill it."""

    source: Path | None = None
    template: str | None = None
    rustc: str | None = None
    bindgen: str | None = None
    reference_types: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    build_failure: BuildFailure | None = None
    profile: Profile | None = None
    target: Target | None = None
    jobs: int | None = None
    shards: int | None = None
    allow_yanked: bool | None = None
    store: Path | None = None
    crate: Path | None = None
    package: str | None = None
    features: tuple[str, ...] | None = None
    no_default_features: bool | None = None
    all_features: bool | None = None
    relock: bool | None = None
    check: str | None = None
    signature: str | None = None
    timeout: float | None = None
    timeout_verdict: TimeoutVerdict | None = None
    test: str | None = None
    runtime: str | None = None
    browser_paths: dict[str, Path] = field(default_factory=dict)
    tools: ToolSource | None = None


Origin = Literal["flag", "config", "default", "none"]
_Choice = TypeVar("_Choice", bound=StrEnum)


@dataclass(frozen=True, kw_only=True)
class Flags:
    """What a command's flags say, typed; None means "not given" so the config and the defaults decide."""

    template: str | None = None
    rustc: str | None = None
    bindgen: str | None = None
    reference_types: str | None = None
    params: Mapping[str, str] | None = None
    build_failure: BuildFailure | None = None
    profile: Profile | None = None
    target: Target | None = None
    jobs: int | None = None
    shards: int | None = None
    allow_yanked: bool | None = None
    store: Path | None = None
    runtime: str | None = None  # one runtime or a comma list
    browser_path: Sequence[str] | None = None  # PATH or RUNTIME=PATH items
    tools: ToolSource | None = None
    project: ProjectFlags = field(default_factory=ProjectFlags)
    checks: CheckOverrides = field(default_factory=CheckOverrides)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Flags, config and defaults merged for one command: everything it needs to build its grid or cell."""

    command: str
    template: str
    rustc: str | None
    bindgen: str | None
    reference_types: tuple[ReferenceTypes, ...]  # parsed once, here
    params: dict[str, str]
    options: BuildOptions
    jobs: int
    shards: int | None
    allow_yanked: bool
    store: Path | None
    source: Path | None
    origin: Mapping[str, Origin] = field(default_factory=dict)  # key -> where its value came from
    crate: Path | None = None  # crate mode: the user's project (instead of `template`)
    selection: Selection = field(default_factory=Selection)
    check: CheckOverrides = field(default_factory=CheckOverrides)
    runtimes: tuple[Runtime, ...] = (Runtime.NODE,)  # parsed once, here (runs.plan.runtimes: which to use)
    # The two axes of a single cell as written (flag, file or default), for the messages that quote them.
    runtime_text: str = "node"
    reference_types_text: str = "default"
    browser_paths: Mapping[Runtime, Path] = field(default_factory=dict)
    tools: ToolSource = ToolSource.AUTO  # published binaries first, or only those, or only source builds

    def from_user(self, key: str) -> bool:
        """True when the value of `key` was given (flag or config), not taken from the defaults."""
        return self.origin.get(key) in ("flag", "config")


@functools.cache
def _defaults_table() -> dict[str, dict[str, Any]]:
    text = resources.files("wasm_bisect").joinpath("data", "defaults.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    common = data.pop("common", {})
    return {command: {**common, **table} for command, table in data.items()}


def defaults(command: str) -> dict[str, Any]:
    """The defaults of `command` (its own table over [common]), keyed like the config file."""
    table = _defaults_table()
    if command not in table:
        raise KeyError(f"no defaults for command {command!r}")
    return dict(table[command])


# -- the config file ---------------------------------------------------------------------------------------
def _read(path: Path) -> dict[str, Any]:
    """A config file's TOML, bounded (stat before reading; depth-limited parse): ConfigError otherwise."""
    text = bounded.read_text(path, limit=MAX_CONFIG_BYTES, what="config file", error=ConfigError)
    return bounded.toml_loads(text, what=str(path), error=ConfigError)


def _has_table(pyproject: Path) -> bool:
    try:
        data = _read(pyproject)
    except ConfigError:
        return False  # someone else's broken pyproject is not ours to complain about unless named
    return isinstance(data.get("tool"), dict) and "wasm-bisect" in data["tool"]


def find(cwd: Path) -> Path | None:
    """The nearest config: in `cwd` or its parents, `wasm-bisect.toml`, else a pyproject.toml with a
    [tool.wasm-bisect] table (the first directory that has either wins)."""
    try:
        start = paths.resolve(cwd)
    except OSError:
        return None
    for directory in (start, *start.parents):
        own = directory / CONFIG_FILE
        if own.is_file():
            return own
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
    return None


def load(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """The config at `path` (must exist), else the one found from `cwd`, else an empty Config."""
    if path is None:
        path = find(cwd or Path.cwd())
        if path is None:
            return Config()
    else:
        path = paths.expand(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
    data = _read(path)
    if path.name == PYPROJECT:
        tool = data.get("tool", {})
        table = tool.get("wasm-bisect") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(f"{path} has no [tool.wasm-bisect] table")
        return parse(table, source=path, where=f"{path} [tool.wasm-bisect]")
    return parse(data, source=path, where=str(path))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _axis(value: Any, key: str, where: str) -> str:
    if isinstance(value, list) and len(value) > MAX_LIST:
        raise ConfigError(f"{where}: {key} has {len(value)} items (at most {MAX_LIST})")
    if isinstance(value, str) and value.strip() and len(value) <= MAX_TEXT:
        return value.strip()
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() and len(v) <= MAX_TEXT
                                                 for v in value):
        return ",".join(v.strip() for v in value)
    raise ConfigError(f"{where}: {key} must be {_KEYS[key]}")


def _bounded_int(value: Any, key: str, where: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ConfigError(f"{where}: {key} must be {_KEYS[key]}, not {_shown(value)}")
    return value


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise ConfigError(f"{where}: {key} must be {_KEYS[key]}, not {_shown(value)}")
    return value.strip()



def _choice(value: Any, key: str, where: str, choices: type[_Choice]) -> _Choice:
    """A choice of `choices` (any case), as the enum's member."""
    text = _string(value, key, where).lower()
    allowed = [c.value for c in choices]
    if text not in allowed:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(allowed)}, not {value!r}")
    return choices(text)


def parse(data: Mapping[str, Any], *, source: Path, where: str | None = None) -> Config:
    """Validate one config table (pure). Relative paths are taken relative to the file's directory."""
    where = where or str(source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table")
    table = {str(k).replace("_", "-"): v for k, v in data.items()}
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}", hint=did_you_mean(unknown[0], list(_KEYS)))
    base = source.parent
    out: dict[str, Any] = {"source": source}
    if "template" in table:
        name = _string(table["template"], "template", where)
        # A path-like template is relative to the config file, so the file works from any directory.
        is_path = "/" in name or name.startswith((".", "~"))
        out["template"] = str(paths.resolve(base / paths.expand(name), "template")) if is_path else name
    for key in ("rustc", "bindgen"):
        if key in table:
            out[key] = _axis(table[key], key, where)
    if "reference-types" in table:
        out["reference_types"] = _parsed_axis(table["reference-types"], "reference-types", where,
                                              parse_reference_types)
    if "params" in table:
        params = table["params"]
        if not isinstance(params, dict) or len(params) > MAX_PARAMS or not all(
                isinstance(v, _SCALARS) and not isinstance(v, bool) and len(str(v)) <= MAX_TEXT
                for v in params.values()):
            raise ConfigError(f"{where}: params must be {_KEYS['params']} with string or number values "
                              f"(at most {MAX_PARAMS})")
        out["params"] = {str(k): str(v) for k, v in params.items()}
    for key, choices in (("build-failure", BuildFailure), ("profile", Profile), ("target", Target),
                         ("tools", ToolSource)):
        if key in table:
            out[key.replace("-", "_")] = _choice(table[key], key, where, choices)
    for key, most in (("jobs", MAX_JOBS), ("shards", MAX_SHARDS)):
        if key in table:
            out[key] = _bounded_int(table[key], key, where, most)
    if "allow-yanked" in table:
        if not isinstance(table["allow-yanked"], bool):
            raise ConfigError(f"{where}: allow-yanked must be true or false")
        out["allow_yanked"] = table["allow-yanked"]
    if "store" in table:
        out["store"] = paths.resolve(base / paths.expand(_string(table["store"], "store", where)), "store")
    if "runtime" in table:
        out["runtime"] = _parsed_axis(table["runtime"], "runtime", where, parse_runtimes)
    if "browser-path" in table:
        out["browser_paths"] = _browser_paths(table["browser-path"], base, where)
    if "crate" in table:  # relative to the config file, like template directories
        out["crate"] = (base / paths.expand(_string(table["crate"], "crate", where))).absolute()
    for key in ("package", "check", "test"):
        if key in table:
            out[key] = _string(table[key], key, where)
    if "signature" in table:
        try:
            out["signature"] = check_signature(_string(table["signature"], "signature", where), "signature")
        except UsageError as exc:
            raise ConfigError(f"{where}: {exc.message}") from None
    if "features" in table:
        out["features"] = split_features([_axis(table["features"], "features", where)])
    for key in ("no-default-features", "all-features", "relock"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{where}: {key} must be true or false")
            out[key.replace("-", "_")] = table[key]
    if "timeout" in table:
        value = table["timeout"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
            raise ConfigError(f"{where}: timeout must be {_KEYS['timeout']}, not {value!r}")
        out["timeout"] = float(value)
    if "timeout-verdict" in table:
        out["timeout_verdict"] = _choice(table["timeout-verdict"], "timeout-verdict", where, TimeoutVerdict)
    return Config(**out)


def _parsed_axis(value: Any, key: str, where: str, parse: Callable[[str], object]) -> str:
    """An axis value checked by the same parser as its flag; the flag's error, worded for the file."""
    text = _axis(value, key, where)
    try:
        parse(text)
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc.message.replace(f'--{key}', key)}") from None
    return text


def _browser_paths(value: Any, base: Path, where: str) -> dict[str, Path]:
    browsers = [r.value for r in Runtime if r.is_browser]
    if not isinstance(value, dict) or not value or any(k not in browsers or not isinstance(v, str) or not v.strip()
                                                       for k, v in value.items()):
        raise ConfigError(f"{where}: browser-path must be {_KEYS['browser-path']} (keys: {', '.join(browsers)})")
    return {k: paths.resolve(base / v.strip()) for k, v in value.items()}


# -- merging -----------------------------------------------------------------------------------------------
# The enums' values as BuildOptions spells them (its fields are the literals the store records).
_FAILURES: dict[str, Literal["skip", "bad"]] = {BuildFailure.SKIP: "skip", BuildFailure.BAD: "bad"}
_PROFILES: dict[str, Literal["release", "dev", "profiling"]] = {Profile.RELEASE: "release", Profile.DEV: "dev",
                                                                 Profile.PROFILING: "profiling"}
_TARGETS: dict[str, Literal["nodejs"]] = {Target.NODEJS: "nodejs"}


def build_options(*, build_failure: str, profile: str, target: str) -> BuildOptions:
    """The one place build options are checked (flags arrive as enums, config files through `parse`)."""
    if build_failure not in _FAILURES:
        raise UsageError(f"--build-failure {build_failure!r} must be skip or bad")
    if profile not in _PROFILES:
        raise UsageError(f"--profile {profile!r} must be release, dev or profiling")
    if target not in _TARGETS:
        raise UsageError(f"--target {target!r} is not supported by the Node check", hint="use --target nodejs")
    return BuildOptions(build_failure=_FAILURES[build_failure], profile=_PROFILES[profile], target=_TARGETS[target])


def settings(config: Config, flags: Flags | None = None, *, command: str = "matrix",
             require_axes: bool | None = None) -> Settings:
    """Flags override the config, the config overrides `command`'s defaults. A matrix (and any command given
    `require_axes=True`) has no default axes: both must come from a flag or the config."""
    flags = flags or Flags()
    project, checks = flags.project, flags.checks
    rustc, bindgen, jobs, shards = flags.rustc, flags.bindgen, flags.jobs, flags.shards
    params, template = flags.params, flags.template
    table = defaults(command)
    origin: dict[str, Origin] = {}

    def pick(key: str, flag: Any, configured: Any) -> Any:
        for where, value in (("flag", flag), ("config", configured), ("default", table.get(key))):
            if value is not None:
                origin[key] = where  # type: ignore[assignment]
                return value
        origin[key] = "none"
        return None

    where = f" or set it in {config.source}" if config.source else f" or put it in {CONFIG_FILE}"
    rustc_text = pick("rustc", rustc, config.rustc)
    bindgen_text = pick("bindgen", bindgen, config.bindgen)
    if require_axes if require_axes is not None else command == "matrix":
        if rustc_text is None:
            raise UsageError("no rustc axis", hint=f"give --rustc debian:1.63.0,debian:1.96.0{where}")
        if bindgen_text is None:
            raise UsageError("no wasm-bindgen axis", hint=f"give --bindgen 0.2.92,0.2.99{where}")
    if jobs is not None and jobs < 1:
        raise UsageError(f"-j {jobs} must be at least 1")
    if jobs is not None and jobs > MAX_JOBS:
        raise UsageError(f"-j {jobs} must be at most {MAX_JOBS}")
    if shards is not None:
        check_shard_count(shards)
    if rustc is not None:
        rustc_items(rustc)  # a flag's syntax is checked at once, before anything reads a list or the network
    if bindgen is not None:
        check_bindgen_axis(bindgen)
    options = build_options(build_failure=pick("build-failure", flags.build_failure, config.build_failure),
                            profile=pick("profile", flags.profile, config.profile),
                            target=pick("target", flags.target, config.target))
    chosen_params = {**config.params, **(params or {})}
    origin["params"] = "flag" if params else "config" if config.params else "default"
    chosen_template = pick("template", template, config.template)
    chosen_crate = pick("crate", project.crate, config.crate)
    if chosen_crate is not None and origin["template"] in ("flag", "config"):
        if origin["template"] == origin["crate"]:
            where_both = "on the command line" if origin["crate"] == "flag" else f"in {config.source}"
            raise UsageError(f"--template and --crate are both given {where_both}", hint="give one reproducer")
        if origin["crate"] == "config":  # a --template flag wins over the config's crate
            chosen_crate = None
    selection = Selection(package=pick("package", project.package, config.package),
                                     features=pick("features", project.features or None, config.features) or (),
                                     no_default_features=bool(pick("no-default-features", project.no_default_features,
                                                                   config.no_default_features)),
                                     all_features=bool(pick("all-features", project.all_features,
                                                            config.all_features)),
                                     relock=bool(pick("relock", project.relock, config.relock)))
    if chosen_crate is None:
        # The config's package and features go with the config's crate, which a --template flag set aside.
        given = [k for k in ("package", "features", "no-default-features", "all-features", "relock")
                 if origin.get(k) == "flag" or (origin.get(k) == "config" and config.crate is None)]
        if given:
            raise UsageError(f"--{given[0]} selects from a project given with --crate DIR",
                             hint="add --crate DIR (or `crate = ...` in the config)")
    if checks.timeout is not None and not 0 < checks.timeout <= 86400:
        raise UsageError(f"--timeout {checks.timeout:g} must be a number of seconds in (0, 86400]")
    overrides = CheckOverrides(check=pick("check", checks.check, config.check),
                               signature=pick("signature", checks.signature, config.signature),
                               timeout=pick("timeout", checks.timeout, config.timeout),
                               timeout_verdict=pick("timeout-verdict", checks.timeout_verdict,
                                                    config.timeout_verdict),
                               test=pick("test", checks.test, config.test))
    runtime_text = pick("runtime", flags.runtime, config.runtime)
    runtimes = parse_runtimes(runtime_text)  # flag, file and default alike: the one parser of the axis
    reference_types_text = pick("reference-types", flags.reference_types, config.reference_types)
    browser_paths = {Runtime(k): v for k, v in config.browser_paths.items()}
    if flags.browser_path:
        browser_paths.update(parse_browser_paths(list(flags.browser_path), runtimes))
    return Settings(
        crate=chosen_crate,
        selection=selection,
        check=overrides,
        command=command,
        template=chosen_template,
        rustc=rustc_text,
        bindgen=bindgen_text,
        reference_types=parse_reference_types(reference_types_text),
        reference_types_text=reference_types_text,
        params=chosen_params,
        options=options,
        jobs=pick("jobs", jobs, config.jobs),
        shards=pick("shards", shards, config.shards),
        allow_yanked=bool(pick("allow-yanked", flags.allow_yanked, config.allow_yanked)),
        store=pick("store", flags.store, config.store),
        source=config.source,
        origin=origin,
        runtimes=runtimes,
        runtime_text=runtime_text,
        browser_paths=browser_paths,
        tools=ToolSource(pick("tools", flags.tools, config.tools)),
    )


def resolve(command: str, flags: Flags | None = None, *, config_path: Path | None = None,
            cwd: Path | None = None) -> Settings:
    """Load the config (named, or found from `cwd`) and merge it with `flags` for `command`."""
    return settings(load(config_path, cwd=cwd), flags, command=command)


def check_axes(chosen: Settings) -> None:
    """The syntax of both axes (flags or config), offline: a typo never costs a network round trip."""
    if chosen.rustc is not None:
        rustc_items(chosen.rustc)
    if chosen.bindgen is not None:
        check_bindgen_axis(chosen.bindgen)


def check_single(chosen: Settings, key: str, text: str, count: int, example: str) -> None:
    """A single-cell command's setting has one value (`count` of them were given)."""
    if count != 1:
        where = f"{chosen.source} gives" if chosen.origin.get(key) == "config" else "got"
        raise UsageError(f"{chosen.command} takes one {key} value; {where} {text!r}", hint=f"give --{key} {example}")


def single_rustc(chosen: Settings) -> ToolchainSpec:
    """The one toolchain of a single-cell command (probe, bisect-commits)."""
    text = chosen.rustc or ""
    items = rustc_items(text)
    check_single(chosen, "rustc", text, 0 if any(i.is_range for i in items) else len(items), "debian:1.96.0")
    return ToolchainSpec.parse(str(items[0]))


def single_reference_types(chosen: Settings) -> ReferenceTypes:
    """The one reference-types setting of a single-cell command."""
    check_single(chosen, "reference-types", chosen.reference_types_text, len(chosen.reference_types), "default")
    return chosen.reference_types[0]


def parse_browser_paths(items: list[str], runtimes: tuple[Runtime, ...]) -> dict[Runtime, Path]:
    """`--browser-path PATH` (for the one browser runtime in play) or `RUNTIME=PATH`, repeatable."""
    browsers = [r for r in runtimes if r.is_browser]
    out: dict[Runtime, Path] = {}
    for item in items:
        name, sep, rest = item.partition("=")
        if sep and name.strip().lower() in {r.value for r in Runtime}:
            runtime, text = Runtime(name.strip().lower()), rest
        elif len(browsers) == 1:
            runtime, text = browsers[0], item
        else:
            raise UsageError(f"--browser-path {item!r} does not say which browser it is for",
                             hint="write chromium=PATH or firefox=PATH")
        if not runtime.is_browser:
            raise UsageError(f"--browser-path {item!r}: node is not a browser")
        path = Path(text).expanduser()
        if not text.strip() or not path.is_file() or not os.access(path, os.X_OK):
            raise UsageError(f"--browser-path {text!r} is not an executable file",
                             hint=f"point at the {runtime} binary, e.g. /usr/bin/{BROWSER_NAMES[runtime][0]}")
        out[runtime] = paths.resolve(path, "--browser-path")
    return out
