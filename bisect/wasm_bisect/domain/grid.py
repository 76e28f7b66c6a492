"""The grid of a run: rustc axis x wasm-bindgen axis x reference-types settings, expanded into Variants. Pure."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import (
    BindgenSource,
    BuildOptions,
    ReferenceTypes,
    Runtime,
    ToolchainSpec,
    Variant,
    options_for,
)
from wasm_bisect.domain.versions import Release

RT_CHOICES = ("default", "on", "off", "externref", "both", "all")
MAX_SHARDS = 256  # GitHub Actions refuses a job matrix larger than this: the bound on shard counts everywhere
_SHARD = re.compile(r"([0-9]{1,9})/([0-9]{1,9})")
NODE_ONLY = (Runtime.NODE,)


@dataclass(frozen=True, kw_only=True)
class Grid:
    template: str
    rustc: tuple[ToolchainSpec, ...]  # ordered oldest -> newest
    bindgen: tuple[BindgenSource, ...]  # ordered oldest -> newest
    reference_types: tuple[ReferenceTypes, ...]
    options: BuildOptions = field(default_factory=BuildOptions)
    params: tuple[tuple[str, str], ...] = ()
    runtimes: tuple[Runtime, ...] = NODE_ONLY

    def variant(self, rustc: ToolchainSpec, bindgen: BindgenSource, rt: ReferenceTypes,
                runtime: Runtime | None = None) -> Variant:
        """The cell at (rustc, bindgen, rt) in `runtime` (default: the grid's first runtime)."""
        runtime = runtime or self.runtimes[0]
        return Variant(template=self.template, rustc=rustc, bindgen=bindgen, reference_types=rt,
                       options=options_for(self.options, runtime), params=self.params, runtime=runtime)

    def variants(self) -> list[Variant]:
        """Every cell, rustc-major then wasm-bindgen then reference-types then runtime (a stable order for
        sharding)."""
        return [self.variant(r, b, rt, rn) for r in self.rustc for b in self.bindgen for rt in self.reference_types
                for rn in self.runtimes]

    @property
    def size(self) -> int:
        return len(self.rustc) * len(self.bindgen) * len(self.reference_types) * len(self.runtimes)

    def identity(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "template": self.template,
            "rustc": [str(r) for r in self.rustc],
            "bindgen": [b.label() for b in self.bindgen],
            "reference_types": [str(r) for r in self.reference_types],
            "options": self.options.__dict__,
            "params": [list(p) for p in self.params],
        }
        if self.runtimes != NODE_ONLY:  # node grids keep the fingerprints they had before browsers existed
            data["runtimes"] = [str(r) for r in self.runtimes]
        return data

    @classmethod
    def from_identity(cls, data: Mapping[str, Any]) -> Grid:
        """A grid back from its stored identity (a run's config); releases only: a git or path source's label
        does not name its commit, so such a grid is refused (ValueError, KeyError or TypeError on bad data)."""
        bindgen = []
        for label in data["bindgen"]:
            if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.]+)?", str(label)):
                raise ValueError(f"wasm-bindgen {label!r} is not a release")
            bindgen.append(BindgenSource.crates(str(label)))
        return cls(template=str(data["template"]), rustc=tuple(ToolchainSpec.parse(str(r)) for r in data["rustc"]),
                   bindgen=tuple(bindgen), reference_types=tuple(ReferenceTypes(r) for r in data["reference_types"]),
                   options=BuildOptions(**data.get("options", {})),
                   params=tuple((str(k), str(v)) for k, v in data.get("params", [])),
                   runtimes=tuple(Runtime(r) for r in data.get("runtimes", ["node"])))

    def fingerprint(self, *salt: str) -> str:
        text = json.dumps([self.identity(), *salt], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_reference_types(value: str) -> tuple[ReferenceTypes, ...]:
    text = value.strip().lower()
    if text == "both":
        return (ReferenceTypes.DEFAULT, ReferenceTypes.ON)
    if text == "all":
        return tuple(ReferenceTypes)
    out: list[ReferenceTypes] = []
    for item in text.split(","):
        try:
            rt = ReferenceTypes(item.strip())
        except ValueError:
            raise UsageError(f"--reference-types {value!r} is not one of {', '.join(RT_CHOICES)}") from None
        if rt not in out:
            out.append(rt)
    return tuple(out)


def parse_runtimes(value: str) -> tuple[Runtime, ...]:
    """`node`, `chromium,firefox`, ... (case-insensitive, order kept, duplicates dropped)."""
    out: list[Runtime] = []
    for item in value.strip().lower().split(","):
        try:
            runtime = Runtime(item.strip())
        except ValueError:
            raise UsageError(f"--runtime {value!r} is not one of {', '.join(r.value for r in Runtime)} "
                             "(or a comma list of them)") from None
        if runtime not in out:
            out.append(runtime)
    return tuple(out)


@dataclass(frozen=True)
class RustcItem:
    """One item of a rustc axis: its provider, the rest, and whether it is a range (a `path:` never is)."""

    provider: str
    rest: str

    @property
    def is_range(self) -> bool:
        return self.provider != "path" and ".." in self.rest

    def __str__(self) -> str:
        return f"{self.provider}:{self.rest}"


def rustc_items(text: str) -> list[RustcItem]:
    """`debian:1.63.0,debian:1.96.0`, `1.63.0..1.96.0`, `path:/opt/rust..old` split into items, syntax checked
    offline: a provider prefix on the first item applies to items without one; a `path:` item is a path even
    when it holds `..`; every other item is ASCII and parses as a version or a range of versions."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise UsageError(f"--rustc {text!r} has an empty item", hint="write e.g. debian:1.63.0,debian:1.96.0")
    if len(items) > versions.MAX_ITEMS:
        raise UsageError(f"--rustc has {len(items)} items (at most {versions.MAX_ITEMS})", hint="use a range a..b")
    provider = items[0].partition(":")[0] if ":" in items[0] else "debian"
    found: list[RustcItem] = []
    for item in items:
        prov, sep, rest = item.partition(":")
        if not sep:
            prov, rest = provider, item
        parsed = RustcItem(prov, rest)
        if parsed.is_range:
            ToolchainSpec.parse(f"{prov}:1.0.0")  # the provider alone: the range itself is checked below
            versions.check_rustc_selection(rest)
        else:
            ToolchainSpec.parse(str(parsed))
        found.append(parsed)
    return found


def parse_rustc_axis(text: str, *, available: Sequence[str] | Mapping[str, Sequence[str]] | None = None
                     ) -> tuple[ToolchainSpec, ...]:
    """`debian:1.63.0,debian:1.96.0`, `1.63.0..1.96.0` (picked from `available` of the provider: one list, or
    one per provider), ... A provider prefix on the first item applies to items without one."""
    specs: list[ToolchainSpec] = []
    for item in rustc_items(text):
        if item.is_range:
            known = available.get(item.provider) if isinstance(available, Mapping) else available
            picked = versions.select_rustc(item.rest, list(known) if known is not None else None)
            specs += [ToolchainSpec.parse(f"{item.provider}:{v}") for v in picked]
        else:
            specs.append(ToolchainSpec.parse(str(item)))
    unique = list(dict.fromkeys(specs))
    return tuple(sorted(unique, key=lambda s: versions.rustc_key(s.version) if s.provider != "path" else (9,)))


def check_bindgen_axis(text: str) -> None:
    """The syntax of a wasm-bindgen axis, offline (before the release list is read)."""
    versions.check_bindgen_selection(text)


def parse_bindgen_axis(text: str, *, releases: Sequence[Release], include_yanked: bool = False
                       ) -> tuple[BindgenSource, ...]:
    picked = versions.select_bindgen(text, releases=releases, include_yanked=include_yanked)
    return tuple(BindgenSource.crates(v) for v in picked)


def parse_point(text: str, what: str) -> tuple[str, str]:
    """`RUSTC@BINDGEN` as given to --good/--bad, e.g. `debian:1.63.0@0.2.92` or `1.63.0@0.2.92`."""
    rustc, sep, bindgen = text.rpartition("@")
    if not sep or not rustc or not bindgen:
        raise UsageError(f"{what} {text!r} is not RUSTC@BINDGEN", hint="e.g. debian:1.63.0@0.2.92")
    if not bindgen.isascii() or not (rustc.startswith("path:") or rustc.isascii()):
        raise UsageError(f"{what} {text!r} has non-ASCII characters", hint="e.g. debian:1.63.0@0.2.92")
    return rustc, bindgen


def check_shard_count(n: int, what: str = "--shards") -> int:
    """A number of shards: 1..MAX_SHARDS (what GitHub accepts as one job matrix)."""
    if isinstance(n, bool) or not 1 <= n <= MAX_SHARDS:
        raise UsageError(f"{what} {n} must be between 1 and {MAX_SHARDS}",
                         hint=f"GitHub Actions runs at most {MAX_SHARDS} jobs per matrix")
    return n


def parse_shard(spec: str) -> tuple[int, int]:
    """`K/N` with ASCII digits, 1 <= K <= N <= MAX_SHARDS (checked before anything else happens)."""
    match = _SHARD.fullmatch(spec.strip()) if spec.isascii() else None
    if match is None:
        raise UsageError(f"--shard {spec!r} is not K/N", hint="e.g. --shard 1/2")
    k, n = int(match[1]), int(match[2])
    if not 1 <= k <= n:
        raise UsageError(f"--shard {spec!r} needs 1 <= K <= N", hint="e.g. --shard 1/2")
    check_shard_count(n, "--shard N")
    return k, n


def shard(variants: Sequence[Variant], spec: str) -> list[Variant]:
    """Cells of shard K/N: a deterministic slice (every N-th cell in grid order, from the K-th)."""
    k, n = parse_shard(spec)
    return [v for i, v in enumerate(variants) if i % n == k - 1]


def cell_id(variant: Variant) -> str:
    """How a cell is named on the command line and in nox sessions: `RUSTC@BINDGEN@RT`, and `@RUNTIME` for a
    browser cell."""
    where = "" if variant.runtime is Runtime.NODE else f"@{variant.runtime}"
    return f"{variant.rustc}@{variant.bindgen.label()}@{variant.reference_types}{where}"
