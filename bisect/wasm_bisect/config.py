"""Grid, template and options from `wasm-bisect.toml` or `[tool.wasm-bisect]` in pyproject.toml.

The file gives defaults; command-line flags override them key by key. A bad file is a ConfigError naming
the file and the key, never a traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, UsageError
from .grid import Grid, parse_reference_types, parse_rustc_axis
from .model import BuildOptions

CONFIG_FILE = "wasm-bisect.toml"
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
    "jobs": "a positive integer",
    "shards": "a positive integer",
    "allow-yanked": "true or false",
    "store": "a path to a result store",
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
    build_failure: str | None = None
    profile: str | None = None
    target: str | None = None
    jobs: int | None = None
    shards: int | None = None
    allow_yanked: bool | None = None
    store: Path | None = None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Config and flags merged, defaults applied: everything a matrix run needs to build its grid."""

    template: str
    rustc: str
    bindgen: str
    reference_types: str
    params: dict[str, str]
    options: BuildOptions
    jobs: int
    shards: int | None
    allow_yanked: bool
    store: Path | None
    source: Path | None


def find(cwd: Path) -> Path | None:
    """`wasm-bisect.toml` in `cwd`, else a pyproject.toml there that has a [tool.wasm-bisect] table."""
    own = cwd / CONFIG_FILE
    if own.is_file():
        return own
    pyproject = cwd / PYPROJECT
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            return None  # someone else's broken pyproject is not ours to complain about unless named
        if isinstance(data.get("tool"), dict) and "wasm-bisect" in data["tool"]:
            return pyproject
    return None


def load(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """The config at `path` (must exist), else the one found in `cwd`, else an empty Config."""
    if path is None:
        path = find(cwd or Path.cwd())
        if path is None:
            return Config()
    elif not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if path.name == PYPROJECT:
        tool = data.get("tool", {})
        table = tool.get("wasm-bisect") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(f"{path} has no [tool.wasm-bisect] table")
        return parse(table, source=path, where=f"{path} [tool.wasm-bisect]")
    return parse(data, source=path, where=str(path))


def _axis(value: Any, key: str, where: str) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return ",".join(v.strip() for v in value)
    raise ConfigError(f"{where}: {key} must be {_KEYS[key]}")


def _positive(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {key} must be {_KEYS[key]}, not {value!r}")
    return value


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be {_KEYS[key]}, not {value!r}")
    return value.strip()


def parse(data: Mapping[str, Any], *, source: Path, where: str | None = None) -> Config:
    """Validate one config table (pure). Relative paths are taken relative to the file's directory."""
    where = where or str(source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table")
    table = {str(k).replace("_", "-"): v for k, v in data.items()}
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(_KEYS)}")
    base = source.parent
    out: dict[str, Any] = {"source": source}
    if "template" in table:
        name = _string(table["template"], "template", where)
        # A path-like template is relative to the config file, so the file works from any directory.
        is_path = "/" in name or name.startswith(".")
        out["template"] = str((base / name).resolve()) if is_path and not Path(name).is_absolute() else name
    for key in ("rustc", "bindgen"):
        if key in table:
            out[key] = _axis(table[key], key, where)
    if "reference-types" in table:
        text = _axis(table["reference-types"], "reference-types", where)
        try:
            parse_reference_types(text)
        except UsageError as exc:
            raise ConfigError(f"{where}: {exc.message.replace('--reference-types', 'reference-types')}") from None
        out["reference_types"] = text
    if "params" in table:
        params = table["params"]
        if not isinstance(params, dict) or not all(isinstance(v, _SCALARS) and not isinstance(v, bool)
                                                   for v in params.values()):
            raise ConfigError(f"{where}: params must be {_KEYS['params']} with string or number values")
        out["params"] = {str(k): str(v) for k, v in params.items()}
    for key in ("build-failure", "profile", "target"):
        if key in table:
            out[key.replace("-", "_")] = _string(table[key], key, where)
    for key in ("jobs", "shards"):
        if key in table:
            out[key] = _positive(table[key], key, where)
    if "allow-yanked" in table:
        if not isinstance(table["allow-yanked"], bool):
            raise ConfigError(f"{where}: allow-yanked must be true or false")
        out["allow_yanked"] = table["allow-yanked"]
    if "store" in table:
        out["store"] = (base / _string(table["store"], "store", where)).resolve()
    return Config(**out)


def _pick(flag: Any, configured: Any, default: Any) -> Any:
    return flag if flag is not None else configured if configured is not None else default


def settings(
    config: Config,
    *,
    template: str | None = None,
    rustc: str | None = None,
    bindgen: str | None = None,
    reference_types: str | None = None,
    params: Mapping[str, str] | None = None,
    build_failure: str | None = None,
    profile: str | None = None,
    target: str | None = None,
    jobs: int | None = None,
    shards: int | None = None,
    allow_yanked: bool | None = None,
    store: Path | None = None,
) -> Settings:
    """Flags override the config, the config overrides the defaults; the grid axes have no default."""
    from .cli import build_options  # the one place that validates build options

    where = f" or set it in {config.source}" if config.source else f" or put it in {CONFIG_FILE}"
    rustc_text = _pick(rustc, config.rustc, None)
    bindgen_text = _pick(bindgen, config.bindgen, None)
    if rustc_text is None:
        raise UsageError("no rustc axis", hint=f"give --rustc debian:1.63.0,debian:1.96.0{where}")
    if bindgen_text is None:
        raise UsageError("no wasm-bindgen axis", hint=f"give --bindgen 0.2.92,0.2.99{where}")
    if jobs is not None and jobs < 1:
        raise UsageError(f"-j {jobs} must be at least 1")
    if shards is not None and shards < 1:
        raise UsageError(f"--shards {shards} must be at least 1")
    options = build_options(build_failure=_pick(build_failure, config.build_failure, "skip"),
                            profile=_pick(profile, config.profile, "release"),
                            target=_pick(target, config.target, "nodejs"))
    return Settings(
        template=_pick(template, config.template, "vec-of-structs"),
        rustc=rustc_text,
        bindgen=bindgen_text,
        reference_types=_pick(reference_types, config.reference_types, "default"),
        params={**config.params, **(params or {})},
        options=options,
        jobs=_pick(jobs, config.jobs, 1),
        shards=_pick(shards, config.shards, None),
        allow_yanked=bool(_pick(allow_yanked, config.allow_yanked, False)),
        store=_pick(store, config.store, None),
        source=config.source,
    )


def make_grid(chosen: Settings, *, notice: Any = None) -> Grid:
    """Expand the axes into a Grid (reads the release index and, for rustc ranges, the provider)."""
    from . import index, templates, toolchains
    from .grid import parse_bindgen_axis

    tmpl = templates.load(chosen.template)
    available = None
    if ".." in chosen.rustc:
        first = chosen.rustc.split(",")[0]
        provider = first.partition(":")[0] if ":" in first else "debian"
        available = toolchains.provider(provider).available()
    rustc = parse_rustc_axis(chosen.rustc, available=available)
    bindgen = parse_bindgen_axis(chosen.bindgen, releases=index.releases(notice=notice),
                                 include_yanked=chosen.allow_yanked)
    if not rustc or not bindgen:
        raise UsageError("the grid is empty", hint="widen --rustc or --bindgen")
    return Grid(template=tmpl.name, rustc=rustc, bindgen=bindgen,
                reference_types=parse_reference_types(chosen.reference_types), options=chosen.options,
                params=tmpl.param_values(chosen.params))
