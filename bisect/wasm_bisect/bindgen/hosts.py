"""Which toolchain builds a wasm-bindgen CLI: the host's default one, or an older one for a release it refuses.

The default host toolchain (rustup's default, the `cargo` on PATH) builds every tool it can. A CLI it cannot
install (rustc >= 1.86 refuses wasm-bindgen-cli < 0.2.88; a CLI's rust-version above it) is built by another
toolchain the tool can provision: one already provisioned or installed first, then the newest. The facts are
domain/compat.py's; this module only chooses (pure), and `HostToolchain` says how to run the chosen one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wasm_bisect.domain.compat import cargo_reaches_crates_io, cli_incompatibility
from wasm_bisect.domain.errors import ProvisionError
from wasm_bisect.domain.versions import rust_release

DEFAULT = "default"  # the host toolchain on PATH (rustup's default)


@dataclass(frozen=True, kw_only=True)
class HostCandidate:
    """A toolchain that could build a CLI: a spec the toolchain providers understand, and its versions."""

    spec: str  # "debian:1.85.0", "rustup:1.85.0"
    rustc: str  # the release it reports (X.Y.Z)
    cargo: str | None = None  # `cargo -V`'s number (Debian's old cargo: 0.66); None: not known yet, taken as rustc's
    ready: bool = False  # provisioned or installed already: costs nothing to use


@dataclass(frozen=True, kw_only=True)
class HostToolchain:
    """How to run a chosen host toolchain's cargo: its bin dir first on PATH, plus its own variables."""

    name: str  # DEFAULT or a spec such as "debian:1.85.0"
    rustc: str  # the release its rustc reports ("" when unknown)
    bin_dir: Path | None = None  # None: the default one, found on PATH
    env: Mapping[str, str] = field(default_factory=dict)  # e.g. LD_LIBRARY_PATH, RUSTUP_TOOLCHAIN

    def describe(self) -> str:
        """`debian:1.85.0 (rustc 1.85.0)`, `default (rustc 1.95.0)`: what built a tool, for lists and evidence."""
        return f"{self.name} (rustc {self.rustc})" if self.rustc else self.name


def refusal(bindgen: str, rustc: str, cargo: str | None = None) -> str | None:
    """Why a toolchain (rustc release, cargo number) cannot `cargo install` wasm-bindgen-cli `bindgen`, or None."""
    reason = cli_incompatibility(rustc, bindgen)
    if reason is not None:
        return reason
    if not cargo_reaches_crates_io(cargo or rustc):
        return f"cargo {cargo or rustc} cannot download from crates.io (no sparse index)"
    return None


def choose(bindgen: str, *, default_rustc: str | None, candidates: Sequence[HostCandidate]) -> HostCandidate | None:
    """The toolchain that builds wasm-bindgen-cli `bindgen`: None for the default one (also when its version is
    unknown: the build will tell), else the fitting candidate that is ready, then the newest.

    Raises ProvisionError naming the refusal and what would fit when no candidate can."""
    if default_rustc is None or cli_incompatibility(default_rustc, bindgen) is None:
        return None
    fitting = [c for c in candidates if refusal(bindgen, c.rustc, c.cargo) is None]
    if fitting:
        return max(fitting, key=lambda c: (c.ready, rust_release(c.rustc), c.spec.startswith("debian:")))
    why = cli_incompatibility(default_rustc, bindgen)
    tried = ", ".join(f"{c.spec} ({refusal(bindgen, c.rustc, c.cargo)})" for c in candidates) or "none"
    raise ProvisionError(
        f"no toolchain here can build wasm-bindgen-cli {bindgen}: {why}; other toolchains: {tried}",
        hint="provision one that can (`wasm-bisect toolchain add debian:X.Y.Z`, see `wasm-bisect toolchain "
             "available debian`; or install a rustup toolchain)",
    )
