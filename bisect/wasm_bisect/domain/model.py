"""The frozen values that flow through the tool: Variant -> Outcome (with a Verdict). Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from wasm_bisect.domain.errors import UsageError

Judge = Literal["check", "person"]


class Verdict(StrEnum):
    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"  # untestable: incompatible pair, unsupported setting, exit 125, other failure
    ERROR = "error"  # infrastructure: tool missing, timeout, crash of a tool

    @property
    def testable(self) -> bool:
        return self in (Verdict.GOOD, Verdict.BAD)


class ReferenceTypes(StrEnum):
    DEFAULT = "default"  # whatever the toolchain does
    ON = "on"  # codegen +reference-types
    OFF = "off"  # codegen -reference-types (needs an mvp std on rustc >= 1.82)
    EXTERNREF = "externref"  # force wasm-bindgen's externref transform (WASM_BINDGEN_EXTERNREF=1)


class Runtime(StrEnum):
    """Where a check runs: Node, or a real headless browser (DOM and web-sys types exist only there)."""

    NODE = "node"
    CHROMIUM = "chromium"
    FIREFOX = "firefox"

    @property
    def is_browser(self) -> bool:
        return self is not Runtime.NODE

    @property
    def wasm_pack_target(self) -> Literal["nodejs", "web"]:
        """The wasm-pack target whose glue this runtime loads (a page imports an ES module and fetches the wasm)."""
        return "web" if self.is_browser else "nodejs"


class Stage(StrEnum):
    PLAN = "plan"  # compatibility filter, before any build
    PROVISION = "provision"
    RENDER = "render"
    RESOLVE = "resolve"
    CARGO_BUILD = "cargo-build"
    WASM_BINDGEN = "wasm-bindgen"
    WASM_OPT = "wasm-opt"
    CHECK = "check"


TOOLCHAIN_PROVIDERS = ("debian", "rustup", "path")
_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
# A rustup toolchain name: a channel, version or dated build, optionally with a host triple (ASCII only).
_RUSTUP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


@dataclass(frozen=True, kw_only=True, order=True)
class ToolchainSpec:
    """Which rustc: `debian:1.96.0`, `rustup:1.82.0`, `rustup:nightly-2024-08-01`, `path:/prefix`."""

    provider: str
    version: str

    @classmethod
    def parse(cls, text: str) -> ToolchainSpec:
        """`provider:version`; version text is ASCII (a `path:` prefix is a path and may hold any character)."""
        provider, sep, version = text.strip().partition(":")
        if not sep:
            # A bare version means the offline-capable provider of this machine kind.
            provider, version = "debian", provider
        if provider not in TOOLCHAIN_PROVIDERS:
            raise UsageError(
                f"unknown toolchain provider {provider!r} in {text!r}",
                hint=f"use one of {', '.join(p + ':' for p in TOOLCHAIN_PROVIDERS)}",
            )
        if not version:
            raise UsageError(f"toolchain {text!r} has no version", hint="write e.g. debian:1.96.0")
        if provider != "path" and not text.isascii():
            raise UsageError(f"toolchain {text!r} has non-ASCII characters", hint="e.g. debian:1.96.0")
        if provider == "debian" and not _VERSION_RE.fullmatch(version):
            raise UsageError(
                f"debian toolchain version {version!r} is not of the form X.Y.Z", hint="e.g. debian:1.96.0"
            )
        if provider == "rustup" and not _RUSTUP_RE.fullmatch(version):
            raise UsageError(f"rustup toolchain {version!r} is not a toolchain name",
                             hint="e.g. rustup:1.82.0, rustup:stable or rustup:nightly-2024-08-01")
        if provider == "path" and "\0" in version:
            raise UsageError(f"toolchain path {version!r} contains a NUL character")
        return cls(provider=provider, version=version)

    def __str__(self) -> str:
        return f"{self.provider}:{self.version}"


@dataclass(frozen=True, kw_only=True, order=True)
class BindgenSource:
    """Where wasm-bindgen (crate and CLI) comes from: a crates.io version, a git revision or a local path."""

    kind: Literal["crates", "git", "path"] = "crates"
    version: str  # the wasm-bindgen crate version (git/path: the checkout's), pinned `=X` in the variant crate
    url: str | None = None  # git: the repository URL; path: the checkout directory
    # git: the resolved commit id (not the branch/tag the user typed, so the key changes per commit);
    # path: `tree-<hash>` of the checkout's contents (see sources.py)
    rev: str | None = None

    @classmethod
    def crates(cls, version: str) -> BindgenSource:
        return cls(kind="crates", version=version)

    def label(self) -> str:
        if self.kind == "crates":
            return self.version
        if self.kind == "git":
            return f"git+{self.url}@{(self.rev or self.version)[:12]}"
        return f"path:{self.url}"


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    target: Literal["nodejs", "web", "bundler", "no-modules", "deno"] = "nodejs"
    profile: Literal["release", "dev", "profiling"] = "release"
    wasm_opt: bool = False
    build_failure: Literal["skip", "bad"] = "skip"  # like cargo-bisect-rustc's --regress modes


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One cell of the grid; its `key` is its identity everywhere (work dir, store, logs)."""

    template: str
    rustc: ToolchainSpec
    bindgen: BindgenSource
    reference_types: ReferenceTypes = ReferenceTypes.DEFAULT
    options: BuildOptions = field(default_factory=BuildOptions)
    params: tuple[tuple[str, str], ...] = ()  # template parameters, sorted (e.g. ("n", "1000000"))
    runtime: Runtime = Runtime.NODE

    def identity(self) -> dict[str, Any]:
        data = asdict(self)
        data["rustc"] = str(self.rustc)
        if self.runtime is Runtime.NODE:
            del data["runtime"]  # node probes keep the keys they had before browsers existed
        else:
            data["runtime"] = str(self.runtime)
        return data

    @property
    def key(self) -> str:
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]

    def short(self) -> str:
        where = "" if self.runtime is Runtime.NODE else f" in {self.runtime}"
        return f"{self.rustc.version}@{self.bindgen.label()}[{self.reference_types}]{where}"


def options_for(options: BuildOptions, runtime: Runtime) -> BuildOptions:
    """The build options of a cell in `runtime`: the runtime decides the wasm-pack target."""
    target = runtime.wasm_pack_target
    return options if options.target == target else replace(options, target=target)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one probe found: the verdict plus the evidence a person needs to trust or redo it."""

    verdict: Verdict
    reason: str
    stage: Stage | None = None
    exit_code: int | None = None
    log_tail: str = ""
    logs: tuple[str, ...] = ()
    crate_dir: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    by: Judge = "check"  # who gave the verdict: the check, or a person (`--prompt`, `mark`, `replay`)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["stage"] = str(self.stage) if self.stage else None
        data["logs"] = list(self.logs)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        """An outcome read back (from the store or a shard): every field type-checked, ValueError otherwise."""
        def typed(key: str, kinds: Any, default: Any) -> Any:
            value = data.get(key, default)
            if (value is not None and not isinstance(value, kinds)) or (isinstance(value, bool) and kinds is not bool):
                raise ValueError(f"outcome field {key!r} has the wrong type")
            return value

        if not isinstance(data, dict):
            raise ValueError("an outcome must be a JSON object")
        logs = typed("logs", list, [])
        evidence = typed("evidence", dict, {})
        timings = typed("timings", dict, {})
        if not all(isinstance(v, str) for v in logs):
            raise ValueError("outcome logs must be strings")
        if not all(isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
                   for k, v in timings.items()):
            raise ValueError("outcome timings must be numbers")
        stage = typed("stage", str, None)
        by = typed("by", str, "check") or "check"
        if by not in ("check", "person"):
            raise ValueError("outcome field 'by' must be check or person")
        return cls(
            verdict=Verdict(typed("verdict", str, None)),
            reason=typed("reason", str, "") or "",
            stage=Stage(stage) if stage else None,
            exit_code=typed("exit_code", int, None),
            log_tail=typed("log_tail", str, "") or "",
            logs=tuple(logs or ()),
            crate_dir=typed("crate_dir", str, None),
            evidence=dict(evidence or {}),
            timings={k: float(v) for k, v in (timings or {}).items()},
            by="person" if by == "person" else "check",
        )


@dataclass(frozen=True, kw_only=True)
class Terms:
    """The words for the two sides of a bisect (`--term-old/--term-new`), like git bisect's terms.

    The old side is what the oldest versions show: good in a regression hunt, broken (bad) with --find-fix.
    """

    old: str = "good"
    new: str = "bad"
    find_fix: bool = False

    @classmethod
    def of(cls, old: str | None = None, new: str | None = None, *, find_fix: bool = False) -> Terms:
        """The user's words, the mode's defaults where none given; refused when they clash with other answers."""
        default_old, default_new = ("broken", "fixed") if find_fix else ("good", "bad")
        terms = cls(old=(old or default_old).strip(), new=(new or default_new).strip(), find_fix=find_fix)
        for word in (terms.old, terms.new):
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", word):
                raise UsageError(f"term {word!r} is not one word", hint="use letters, digits, - or _, e.g. slow")
            if word in ("skip", "retry", "quit", "error"):
                raise UsageError(f"term {word!r} is taken by another answer", hint="choose another word")
        if terms.old == terms.new:
            raise UsageError(f"--term-old and --term-new are both {terms.old!r}", hint="give two different words")
        return terms

    @property
    def old_verdict(self) -> Verdict:
        return Verdict.BAD if self.find_fix else Verdict.GOOD

    @property
    def new_verdict(self) -> Verdict:
        return Verdict.GOOD if self.find_fix else Verdict.BAD

    def word(self, verdict: Verdict) -> str:
        """The verdict in these terms (skip and error keep their names)."""
        if verdict is self.old_verdict:
            return self.old
        if verdict is self.new_verdict:
            return self.new
        return str(verdict)

    def verdict(self, word: str) -> Verdict | None:
        """A word back to a verdict: these terms, or the plain verdict names; None when it is neither."""
        word = word.strip().lower()
        if word == self.old.lower():
            return self.old_verdict
        if word == self.new.lower():
            return self.new_verdict
        try:
            return Verdict(word)
        except ValueError:
            return None

    def to_json(self) -> dict[str, str]:
        return {"old": self.old, "new": self.new}


# The binaries a browser runtime answers to on PATH (Debian's first), in hints too.
BROWSER_NAMES = {Runtime.CHROMIUM: ("chromium", "chromium-browser"), Runtime.FIREFOX: ("firefox-esr", "firefox")}
