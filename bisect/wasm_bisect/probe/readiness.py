"""How many seconds a probe of a variant would still take on this machine: what the cost-aware search weighs.

Looked up from the caches (tool cache, toolchain prefixes, warm marks in the cargo target slots) and, when the
caller gives one, the result store, without starting a process, once per run. Estimates, not promises, from
this machine's own history (`MachineTimes`, medians): build + check seconds from the store's recorded stage
timings (per toolchain and per toolchain x release where known), a CLI build from the tool cache's recorded
build seconds, a prebuilt CLI from its recorded download seconds, a toolchain from the provisioned toolchains'
recorded steps. The constants below stand in only where nothing is recorded yet. A CLI the default host rustc
refuses (below 0.2.88 on a current one) also waits for an older host toolchain, unless it can come prebuilt.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wasm_bisect import toolchains
from wasm_bisect.bindgen import hosts, prebuilt, toolcache
from wasm_bisect.bindgen.prebuilt import ToolSource
from wasm_bisect.domain.compat import (
    NEW_RUSTC_REFUSES_BELOW,
    reference_types_by_default,
    reference_types_by_default_for,
)
from wasm_bisect.domain.errors import ProvisionError
from wasm_bisect.domain.model import Stage, ToolchainSpec, Variant
from wasm_bisect.domain.versions import rust_release
from wasm_bisect.probe import hosttools, rustflags, slots
from wasm_bisect.store import Store

# A wasm-bindgen CLI build on 2 cores, until this machine has recorded its own: between a first build into an empty
# target slot (76 to 141 s) and a later one that reuses a slot (9 to 54 s) in the four cold demo runs of
# benchmarks/results/cold.json (2026-12-07, an idle machine).
CLI_BUILD_SECONDS = 90.0
TOOLCHAIN_SECONDS = 60.0  # a debian: toolchain: download, unpack, maybe a wasm32 std build
RUSTUP_DOWNLOAD_SECONDS = 30.0  # a rustup: toolchain not installed yet: download and install (minimal profile)
MVP_STD_SECONDS = 45.0  # the reference-types-off std of a rustc >= 1.82
COLD_PROBE_SECONDS = 10.0  # build + check when the target slot has not compiled this wasm-bindgen yet
WARM_PROBE_SECONDS = 1.5  # the same when it has (a new template or parameter on a known cell)
# Build + check samples this far apart (max / min) hold both kinds: split them at their geometric mean.
WARM_COLD_RATIO = 3.0
MAX_SAMPLES = 5000  # the store's most recent probes read for timings
_TOOLCHAIN_STEPS_MVP = "mvp_std_build"
_NOT_PROBE = (str(Stage.PROVISION), str(Stage.PLAN))


def _cold_warm(samples: list[float]) -> tuple[float | None, float | None]:
    """(cold, warm) medians of build + check seconds; a sample set of one kind only answers as cold."""
    if not samples:
        return None, None
    low, high = min(samples), max(samples)
    if low > 0 and high / low >= WARM_COLD_RATIO:
        cut = math.sqrt(low * high)
        return (statistics.median([x for x in samples if x > cut]),
                statistics.median([x for x in samples if x <= cut]))
    return statistics.median(samples), None


@dataclass(frozen=True, kw_only=True)
class MachineTimes:
    """What this machine took before (medians), with the constants where nothing was recorded."""

    cold_probe: float = COLD_PROBE_SECONDS
    warm_probe: float = WARM_PROBE_SECONDS
    by_rustc: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # spec -> (cold, warm)
    by_cell: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (spec, release) -> cold
    cli_build: float = CLI_BUILD_SECONDS
    download: float = prebuilt.DOWNLOAD_SECONDS
    toolchain: float = TOOLCHAIN_SECONDS
    mvp_std: float = MVP_STD_SECONDS
    recorded: frozenset[str] = frozenset()  # which figures come from records ("probe", "cli", ...)

    @classmethod
    def from_records(cls, probes: Iterable[tuple[str, str, Mapping[str, float]]],
                     tools: Iterable[toolcache.CachedTool] = (),
                     toolchain_steps: Iterable[Mapping[str, float]] = ()) -> MachineTimes:
        """Pure: `probes` are (rustc spec, wasm-bindgen release, stage timings) of earlier probes that built."""
        recorded: set[str] = set()
        per_rustc: dict[str, list[float]] = {}
        per_cell: dict[tuple[str, str], list[float]] = {}
        everything: list[float] = []
        for rustc, release, timings in probes:
            seconds = sum(v for k, v in timings.items() if k not in _NOT_PROBE)
            if timings.get(str(Stage.CARGO_BUILD), 0.0) <= 0.0 or seconds <= 0.0:
                continue  # decided before a build (plan, provision, resolve): says nothing about builds
            per_rustc.setdefault(rustc, []).append(seconds)
            per_cell.setdefault((rustc, release), []).append(seconds)
            everything.append(seconds)
        cold, warm = _cold_warm(everything)
        if cold is not None:
            recorded.add("probe")
        cold = cold if cold is not None else COLD_PROBE_SECONDS
        warm = min(warm if warm is not None else WARM_PROBE_SECONDS, cold)
        by_rustc = {}
        for rustc, samples in per_rustc.items():
            r_cold, r_warm = _cold_warm(samples)
            assert r_cold is not None
            by_rustc[rustc] = (r_cold, min(r_warm if r_warm is not None else warm, r_cold))
        by_cell = {}
        for (rustc, release), samples in per_cell.items():
            c_cold, _ = _cold_warm(samples)
            if c_cold is not None and c_cold > by_rustc[rustc][1]:  # a cell seen warm only says nothing of cold
                by_cell[rustc, release] = c_cold
        tools = list(tools)
        built = [t.build_seconds for t in tools
                 if t.name == "wasm-bindgen" and t.origin == "built" and t.build_seconds > 0]
        downloads = [float(t.download["download_seconds"]) for t in tools  # type: ignore[arg-type]
                     if t.origin == "prebuilt" and t.download
                     and isinstance(t.download.get("download_seconds"), int | float)]
        steps = [dict(s) for s in toolchain_steps if s]
        provision = [sum(v for k, v in s.items() if k != _TOOLCHAIN_STEPS_MVP) for s in steps]
        mvp = [s[_TOOLCHAIN_STEPS_MVP] for s in steps if s.get(_TOOLCHAIN_STEPS_MVP)]
        for name, values in (("cli", built), ("download", downloads), ("toolchain", provision), ("mvp", mvp)):
            if values:
                recorded.add(name)
        return cls(cold_probe=cold, warm_probe=warm, by_rustc=by_rustc, by_cell=by_cell,
                   cli_build=statistics.median(built) if built else CLI_BUILD_SECONDS,
                   download=statistics.median(downloads) if downloads else prebuilt.DOWNLOAD_SECONDS,
                   toolchain=statistics.median(provision) if provision else TOOLCHAIN_SECONDS,
                   mvp_std=statistics.median(mvp) if mvp else MVP_STD_SECONDS,
                   recorded=frozenset(recorded))

    def probe(self, variant: Variant) -> tuple[float, float]:
        """(cold, warm) build + check seconds of `variant`: its cell's, its toolchain's, or the machine's."""
        rustc = str(variant.rustc)
        cold, warm = self.by_rustc.get(rustc, (self.cold_probe, self.warm_probe))
        if variant.bindgen.kind == "crates":
            cold = self.by_cell.get((rustc, variant.bindgen.version), cold)
        return cold, warm


def store_probes(store: Store) -> list[tuple[str, str, Mapping[str, float]]]:
    """(rustc spec, release, stage timings) of the store's recent probes of crates.io releases."""
    found: list[tuple[str, str, Mapping[str, float]]] = []
    for variant, outcome in store.recent_probes(MAX_SAMPLES):
        bindgen = variant.get("bindgen")
        version = bindgen.get("version") if isinstance(bindgen, dict) else None
        rustc = variant.get("rustc")
        if isinstance(rustc, str) and isinstance(version, str) and outcome.timings:
            found.append((rustc, version, outcome.timings))
    return found


def machine_times(store: Store | None, tools: Iterable[toolcache.CachedTool]) -> MachineTimes:
    """This machine's history: the store's probes (when given), the tool cache, the provisioned toolchains."""
    steps = []
    for toolchain in hosttools.ready_toolchains(rustup=False):  # provisioned debian ones: what we provision
        prefix = toolchains.DebianProvider.prefix(toolchain.spec.version)
        timings = toolchains.read_manifest_data(prefix).get("timings")
        if isinstance(timings, dict) and all(isinstance(v, int | float) for v in timings.values()):
            steps.append(timings)
    return MachineTimes.from_records(store_probes(store) if store is not None else [], tools, steps)


@dataclass
class Readiness:
    """Seconds still to spend per part of a probe, from one look at the caches."""

    cli_built: set[str] = field(default_factory=set)
    cli_seconds: float = CLI_BUILD_SECONDS
    times: MachineTimes = field(default_factory=MachineTimes)
    source: ToolSource = ToolSource.AUTO  # whether a missing CLI may come prebuilt (a download, not a build)
    machine: bool = True  # False: a cold machine, nothing provisioned (simulations)
    # The default host rustc's release, as the cached tools record it; None: unknown, taken as a current one.
    default_rustc: str | None = None
    hosts_ready: list[hosts.HostCandidate] = field(default_factory=list)  # provisioned toolchains that can host
    _toolchains: dict[ToolchainSpec, toolchains.Toolchain | None] = field(default_factory=dict)

    @classmethod
    def cold(cls) -> Readiness:
        """Nothing built or provisioned, whatever this machine has: what a fresh machine would see (every CLI
        built from source, as the simulations assume)."""
        return cls(machine=False, source=ToolSource.SOURCE)

    wasm_pack_built: bool = False

    @classmethod
    def look(cls, store: Store | None = None) -> Readiness:
        """What is ready now, and what the rest costs on this machine (its history in `store`, if given)."""
        tools = toolcache.installed()
        built = [t for t in tools if t.name == "wasm-bindgen"]
        wasm_pack = any(t.name == "wasm-pack" and t.version == toolcache.WASM_PACK_VERSION for t in tools)
        defaults = [t.host_rustc for t in tools if t.host == hosts.DEFAULT and t.host_rustc]
        ready = [hosttools.ready_candidate(t) for t in hosttools.ready_toolchains(rustup=False)]
        times = machine_times(store, tools)
        return cls(cli_built={t.ident for t in built}, wasm_pack_built=wasm_pack, cli_seconds=times.cli_build,
                   times=times, source=toolcache.tool_source(),
                   default_rustc=max(defaults, key=rust_release, default=None), hosts_ready=ready)

    def needs_provisioning(self, variant: Variant) -> bool:
        """Whether a probe of `variant` would build or provision something first (a crates.io CLI, wasm-pack,
        a debian toolchain or its mvp std); git and path sources are prepared by the probe itself."""
        cli = variant.bindgen.kind == "crates" and variant.bindgen.version not in self.cli_built
        return cli or not self.wasm_pack_built or self.toolchain_seconds(variant) > 0

    def toolchain(self, spec: ToolchainSpec) -> toolchains.Toolchain | None:
        """The provisioned debian or rustup toolchain (read from its manifest); None when absent or a path one."""
        if spec not in self._toolchains:
            found = None
            if spec.provider == "debian" and self.machine:
                found = toolchains.read_manifest(toolchains.DebianProvider.prefix(spec.version))
            elif spec.provider == "rustup" and self.machine:
                found = toolchains.read_manifest(toolchains.RustupProvider.prefix(spec.version))
            self._toolchains[spec] = found
        return self._toolchains[spec]

    def cli(self, variant: Variant) -> float:
        """Seconds to build the variant's wasm-bindgen CLI (0 when cached), with the older host toolchain it
        needs when the default one refuses it and none that fits is provisioned."""
        source = variant.bindgen
        if source.kind == "crates" and source.version not in self.cli_built and self.prebuilt_allowed(source.version):
            return self.times.download  # a published binary: no build, no host toolchain
        return self.cli_built_from_source(variant)

    def cli_built_from_source(self, variant: Variant) -> float:
        """`cli` when no published binary can be had: what `--tools auto` spends when the download fails (a
        release server that does not answer costs a build, not a download)."""
        source = variant.bindgen
        if source.kind != "crates":
            return self.cli_seconds
        if source.version in self.cli_built:
            return 0.0
        return self.cli_seconds + self.host_seconds(source.version)

    def prebuilt_allowed(self, version: str) -> bool:
        """Whether a missing CLI of `version` would be downloaded (the tool source allows it, one is published
        for this machine, and the release server has not been found unreachable in this process)."""
        return (self.source is not ToolSource.SOURCE and not prebuilt.unreachable()
                and prebuilt.bindgen_asset(version, ("wasm-bindgen",)) is not None)

    def host_seconds(self, version: str) -> float:
        """Seconds to provision the host toolchain that builds wasm-bindgen-cli `version` (0: one is ready)."""
        default = self.default_rustc or f"{NEW_RUSTC_REFUSES_BELOW[0]}.0"
        try:
            hosts.choose(version, default_rustc=default, candidates=self.hosts_ready if self.machine else [])
        except ProvisionError:
            return self.times.toolchain
        return 0.0

    def toolchain_seconds(self, variant: Variant) -> float:
        """Seconds to provision the variant's toolchain, with its mvp std for `off` (0 when ready).

        A debian toolchain is unpacked (and maybe a std built), a rustup one downloaded; a path one is ready."""
        spec = variant.rustc
        if spec.provider not in ("debian", "rustup"):
            return 0.0
        found = self.toolchain(spec)
        on_by_default = (reference_types_by_default(found.version) if found is not None
                         else reference_types_by_default_for(spec.version))
        needs_mvp = rustflags.needs_mvp_std(variant, on_by_default=on_by_default)
        missing = self.times.toolchain if spec.provider == "debian" else RUSTUP_DOWNLOAD_SECONDS
        seconds = 0.0 if found is not None else missing
        if needs_mvp and (found is None or found.mvp_sysroot is None):
            seconds += self.times.mvp_std
        return seconds

    def is_warm(self, variant: Variant) -> bool:
        """Whether a slot of the same toolchain and flags compiled this wasm-bindgen already."""
        found = self.toolchain(variant.rustc)
        return found is not None and slots.is_warm(variant, found)

    def probe_seconds(self, variant: Variant) -> float:
        """Build + check seconds on this machine: warm when a slot already compiled this wasm-bindgen."""
        cold, warm = self.times.probe(variant)
        return warm if self.is_warm(variant) else cold
