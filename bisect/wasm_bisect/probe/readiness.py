"""How many seconds a probe of a variant would still take on this machine: what the cost-aware search weighs.

Looked up from the caches (tool cache, toolchain prefixes, warm marks in the cargo target slots) without
starting a process, once per run. Estimates, not promises: a cold CLI build is the median of this
machine's earlier ones (90 s when there are none), a missing toolchain a flat figure; a CLI the default host
rustc refuses (below 0.2.88 on a current one) also waits for an older host toolchain to be provisioned.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from wasm_bisect import toolchains
from wasm_bisect.bindgen import hosts, toolcache
from wasm_bisect.domain.compat import NEW_RUSTC_REFUSES_BELOW, reference_types_by_default
from wasm_bisect.domain.errors import ProvisionError
from wasm_bisect.domain.model import ReferenceTypes, ToolchainSpec, Variant
from wasm_bisect.domain.versions import rust_release
from wasm_bisect.probe import build, hosttools

CLI_BUILD_SECONDS = 90.0  # wasm-bindgen CLI, cold, on 2 cores (benchmarks/results/toolbuild.json)
TOOLCHAIN_SECONDS = 60.0  # a debian: toolchain: download, unpack, maybe a wasm32 std build
MVP_STD_SECONDS = 45.0  # the reference-types-off std of a rustc >= 1.82
COLD_PROBE_SECONDS = 10.0  # build + check when the target slot has not compiled this wasm-bindgen yet
WARM_PROBE_SECONDS = 1.5  # the same when it has (a new template or parameter on a known cell)


@dataclass
class Readiness:
    """Seconds still to spend per part of a probe, from one look at the caches."""

    cli_built: set[str] = field(default_factory=set)
    cli_seconds: float = CLI_BUILD_SECONDS
    machine: bool = True  # False: a cold machine, nothing provisioned (simulations)
    # The default host rustc's release, as the cached tools record it; None: unknown, taken as a current one.
    default_rustc: str | None = None
    hosts_ready: list[hosts.HostCandidate] = field(default_factory=list)  # provisioned toolchains that can host
    _toolchains: dict[ToolchainSpec, toolchains.Toolchain | None] = field(default_factory=dict)

    @classmethod
    def cold(cls) -> Readiness:
        """Nothing built or provisioned, whatever this machine has: what a fresh machine would see."""
        return cls(machine=False)

    wasm_pack_built: bool = False

    @classmethod
    def look(cls) -> Readiness:
        tools = toolcache.installed()
        built = [t for t in tools if t.name == "wasm-bindgen"]
        timed = [t.build_seconds for t in built if t.build_seconds > 0]
        wasm_pack = any(t.name == "wasm-pack" and t.version == toolcache.WASM_PACK_VERSION for t in tools)
        defaults = [t.host_rustc for t in tools if t.host == hosts.DEFAULT and t.host_rustc]
        ready = [hosttools.ready_candidate(t) for t in hosttools.ready_toolchains(rustup=False)]
        return cls(cli_built={t.ident for t in built}, wasm_pack_built=wasm_pack,
                   cli_seconds=statistics.median(timed) if timed else CLI_BUILD_SECONDS,
                   default_rustc=max(defaults, key=rust_release, default=None), hosts_ready=ready)

    def needs_provisioning(self, variant: Variant) -> bool:
        """Whether a probe of `variant` would build or provision something first (a crates.io CLI, wasm-pack,
        a debian toolchain or its mvp std); git and path sources are prepared by the probe itself."""
        cli = variant.bindgen.kind == "crates" and variant.bindgen.version not in self.cli_built
        return cli or not self.wasm_pack_built or self.toolchain_seconds(variant) > 0

    def toolchain(self, spec: ToolchainSpec) -> toolchains.Toolchain | None:
        """The provisioned debian toolchain (read from its manifest); None when absent or not debian."""
        if spec not in self._toolchains:
            found = None
            if spec.provider == "debian" and self.machine:
                found = toolchains.read_manifest(toolchains.DebianProvider.prefix(spec.version))
            self._toolchains[spec] = found
        return self._toolchains[spec]

    def cli(self, variant: Variant) -> float:
        """Seconds to build the variant's wasm-bindgen CLI (0 when cached), with the older host toolchain it
        needs when the default one refuses it and none that fits is provisioned."""
        source = variant.bindgen
        if source.kind != "crates":
            return self.cli_seconds
        if source.version in self.cli_built:
            return 0.0
        return self.cli_seconds + self.host_seconds(source.version)

    def host_seconds(self, version: str) -> float:
        """Seconds to provision the host toolchain that builds wasm-bindgen-cli `version` (0: one is ready)."""
        default = self.default_rustc or f"{NEW_RUSTC_REFUSES_BELOW[0]}.0"
        try:
            hosts.choose(version, default_rustc=default, candidates=self.hosts_ready if self.machine else [])
        except ProvisionError:
            return TOOLCHAIN_SECONDS
        return 0.0

    def toolchain_seconds(self, variant: Variant) -> float:
        """Seconds to provision the variant's toolchain, with its mvp std for `off` (0 when ready).

        Only debian toolchains are provisioned by us; a rustup or path toolchain counts as ready."""
        spec = variant.rustc
        if spec.provider != "debian":
            return 0.0
        found = self.toolchain(spec)
        needs_mvp = variant.reference_types is ReferenceTypes.OFF and reference_types_by_default(spec.version)
        seconds = 0.0 if found is not None else TOOLCHAIN_SECONDS
        if needs_mvp and (found is None or found.mvp_sysroot is None):
            seconds += MVP_STD_SECONDS
        return seconds

    def probe_seconds(self, variant: Variant) -> float:
        """Build + check seconds: warm when a slot of the same toolchain and flags compiled this wasm-bindgen."""
        found = self.toolchain(variant.rustc)
        if found is not None and build.is_warm(variant, found):
            return WARM_PROBE_SECONDS
        return COLD_PROBE_SECONDS
