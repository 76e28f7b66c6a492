"""Which (rustc, wasm-bindgen) pairs cannot be built at all: skip them, never blame them. Pure data + rules.

The oracle answers SKIP for a pair this module rules out, without building it, and the search steps
around it. Sources: DESIGN.md and the crates.io index (`rust-version` of wasm-bindgen and
wasm-bindgen-cli, see data/bindgen_versions.toml; a test keeps both in agreement).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from packaging.version import Version

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import Variant
from wasm_bisect.domain.versions import (
    bundled_yanked,
    cargo_release,
    is_release,
    parse_bindgen,
    parse_rustc,
    rust_release,
    yanked_bindgen,
)


@dataclass(frozen=True, kw_only=True)
class RustVersionRule:
    """wasm-bindgen versions `first..last` (inclusive; open-ended when last is None) need rustc >= `rust`."""

    first: str
    last: str | None
    rust: str | None  # None: the crate declares no rust-version

    def covers(self, bindgen: Version) -> bool:
        return Version(self.first) <= bindgen and (self.last is None or bindgen <= Version(self.last))


# The library crate's `rust-version`: a hard floor for the rustc that compiles the user's crate.
LIB_RUST_VERSION: tuple[RustVersionRule, ...] = (
    RustVersionRule(first="0.0.0", last="0.2.86", rust=None),
    RustVersionRule(first="0.2.87", last="0.2.87", rust="1.56"),
    RustVersionRule(first="0.2.88", last="0.2.105", rust="1.57"),
    RustVersionRule(first="0.2.106", last="0.2.117", rust="1.71"),
    RustVersionRule(first="0.2.118", last="0.2.128", rust="1.77"),
    # DESIGN.md stops at "1.77 from 0.2.118"; the index says 0.2.129 raised it to 1.81.
    RustVersionRule(first="0.2.129", last=None, rust="1.81"),
)

# wasm-bindgen-cli's `rust-version`. Not a cell filter: it and NEW_RUSTC_REFUSES_BELOW decide which host
# toolchain can install a given CLI (`cli_incompatibility`; bindgen/hosts.py picks an older one when needed).
CLI_RUST_VERSION: tuple[RustVersionRule, ...] = (
    RustVersionRule(first="0.0.0", last="0.2.86", rust=None),
    RustVersionRule(first="0.2.87", last="0.2.87", rust="1.56"),
    RustVersionRule(first="0.2.88", last="0.2.92", rust="1.57"),
    RustVersionRule(first="0.2.93", last="0.2.100", rust="1.76"),
    RustVersionRule(first="0.2.101", last="0.2.117", rust="1.82"),
    RustVersionRule(first="0.2.118", last=None, rust="1.86"),
)

# rustc 1.82 (LLVM 19) turned reference-types and multivalue on by default for wasm32-unknown-unknown.
REFERENCE_TYPES_DEFAULT_SINCE = (1, 82, 0)


def reference_types_by_default(release: str) -> bool:
    """Does a rustc of this release (as it reports itself: `1.96.0`, `1.82.0-nightly`) enable reference-types in
    its default wasm32 codegen and prebuilt std?"""
    return rust_release(release) >= REFERENCE_TYPES_DEFAULT_SINCE


def reference_types_by_default_for(rustc: str) -> bool:
    """The same for a toolchain as a user names it (`1.63.0`, `debian:1.96.0`, `nightly-2024-08-01`); a name
    whose version is unknown (`stable`, a path) counts as recent: new enough to default to on."""
    try:
        version = parse_rustc(rustc).feature_version()
    except UsageError:
        return True
    return version is None or version >= REFERENCE_TYPES_DEFAULT_SINCE


# rustc >= 1.86 rejects wasm-bindgen older than 0.2.88 with a hard error (not a lint): in a user's crate, and
# when it builds wasm-bindgen-cli < 0.2.88 itself (measured: 0.2.87 with rustc 1.95).
NEW_RUSTC_REFUSES_BELOW = ("1.86", "0.2.88")

# Cargo before 1.68 reaches crates.io only through the git index on GitHub (the sparse index came in 1.68):
# it cannot download anything here, so it builds vendored sources offline, and cannot `cargo install`.
SPARSE_INDEX_CARGO = "1.68"

# Yanked per DESIGN.md; the bundled index data adds the rest (0.2.109..0.2.111 at the time of writing).
KNOWN_YANKED: frozenset[str] = frozenset({"0.2.88", "0.2.94"})


def _rule_for(rules: tuple[RustVersionRule, ...], bindgen: str) -> RustVersionRule:
    version = parse_bindgen(bindgen)
    return next(rule for rule in rules if rule.covers(version))


def lib_rust_version(bindgen: str) -> str | None:
    """The minimum rustc the wasm-bindgen library `bindgen` declares, or None."""
    return _rule_for(LIB_RUST_VERSION, bindgen).rust


def cli_rust_version(bindgen: str) -> str | None:
    """The minimum rustc that can `cargo install wasm-bindgen-cli --version bindgen`, or None."""
    return _rule_for(CLI_RUST_VERSION, bindgen).rust


def _older(rustc: tuple[int, int, int], floor: str) -> bool:
    # Cargo compares rust-version against the release number only: 1.77.0-nightly satisfies 1.77.
    parts = (*Version(floor).release, 0, 0)
    return rustc < (parts[0], parts[1], parts[2])


def incompatibility(
    rustc: str, bindgen: str, *, allow_yanked: bool = False, yanked: Set[str] | None = None
) -> str | None:
    """Why the pair cannot be built (one line for a SKIP reason), or None when it may be tried.

    `yanked` defaults to the bundled list plus DESIGN.md's. Bare channel names (`stable`) have no
    known version, so only the yanked rule applies to them; dated nightlies use their estimated version.
    """
    parse_bindgen(bindgen)  # a malformed version is a usage error, not a skip
    yanked_set = (bundled_yanked() | KNOWN_YANKED) if yanked is None else yanked
    if not allow_yanked and bindgen in yanked_set:
        return f"wasm-bindgen {bindgen} is yanked (allow yanked versions to try it)"
    compiler = parse_rustc(rustc)
    version = compiler.feature_version()
    if version is None:
        return None
    about = " (estimated from its date)" if compiler.estimated else ""
    need = lib_rust_version(bindgen)
    if need is not None and _older(version, need):
        return (
            f"wasm-bindgen {bindgen} needs rustc >= {need} (rust-version); "
            f"rustc {compiler.text} is older{about}"
        )
    refusing_rustc, oldest_bindgen = NEW_RUSTC_REFUSES_BELOW
    if not _older(version, refusing_rustc) and parse_bindgen(bindgen) < Version(oldest_bindgen):
        return (
            f"rustc {compiler.text}{about} refuses wasm-bindgen {bindgen}: "
            f"rustc >= {refusing_rustc} needs wasm-bindgen >= {oldest_bindgen}"
        )
    return None


def cli_incompatibility(host_rustc: str, bindgen: str) -> str | None:
    """Why a host rustc cannot install wasm-bindgen-cli `bindgen` (its rust-version, or the refusal of
    wasm-bindgen < 0.2.88 by rustc >= 1.86), or None; a bare channel name is taken to be able to."""
    compiler = parse_rustc(host_rustc)
    version = compiler.feature_version()
    if version is None:
        return None
    need = cli_rust_version(bindgen)
    if need is not None and _older(version, need):
        return f"wasm-bindgen-cli {bindgen} needs rustc >= {need} to install; host rustc {compiler.text} is older"
    refusing_rustc, oldest_bindgen = NEW_RUSTC_REFUSES_BELOW
    if not _older(version, refusing_rustc) and parse_bindgen(bindgen) < Version(oldest_bindgen):
        return (f"host rustc {compiler.text} refuses to build wasm-bindgen-cli {bindgen}: "
                f"rustc >= {refusing_rustc} needs wasm-bindgen >= {oldest_bindgen}")
    return None


def cargo_reaches_crates_io(cargo: str) -> bool:
    """Can this cargo (`cargo -V` number; Debian's old cargo says 0.66 for Rust 1.65) download from crates.io?"""
    return not _older(cargo_release(cargo), SPARSE_INDEX_CARGO)


def untestable_reason(variant: Variant, *, allow_yanked: bool) -> str | None:
    """The compatibility pre-filter of a cell: why it cannot be built (a SKIP before any build), or None."""
    if variant.bindgen.kind != "crates":
        return None
    rustc = variant.rustc.version
    if not is_release(rustc):
        return None  # a channel or a path: known only after provisioning; the build itself will tell
    return incompatibility(rustc, variant.bindgen.version, allow_yanked=allow_yanked, yanked=yanked_bindgen())
