"""Cache of exact-version tools built with a host toolchain: wasm-bindgen CLI (per version or commit), its
test runner (for `wasm-pack test`), wasm-pack.

The host toolchain is the default one on PATH, unless the caller gives another for a CLI the default rustc
cannot install (bindgen/hosts.py chooses it); each entry's tool.json records which one built it.

Each entry is installed at most once per machine: under a per-entry lock, into a staging directory that is
renamed into place only when the binary answers `--version` correctly. A crates.io release of the CLI or of
wasm-pack is first taken from its published binary (bindgen/prebuilt.py) when the tool source allows it
(`--tools auto`, the default, or `prebuilt`): checksum where published, exact `--version`, and a CLI must turn a
tiny known module into glue; anything else falls back to `cargo install` (auto) and says so once.

Builds share a few cargo target directories (slots): cargo locks a target directory for a whole build, so two
builds at once (-j N) need two; each build takes the free slot that built the nearest release before, whose
compiled dependencies it reuses the most.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import filelock

from wasm_bisect.bindgen import prebuilt
from wasm_bisect.bindgen.hosts import DEFAULT, HostToolchain
from wasm_bisect.bindgen.prebuilt import Asset, PrebuiltUnavailable, ToolSource
from wasm_bisect.domain.errors import CommandFailed, ProvisionError, UsageError, WasmBisectError
from wasm_bisect.domain.versions import bindgen_key, is_exact_version, rust_release
from wasm_bisect.util import fs, paths, processes

WASM_PACK_VERSION = "0.13.1"  # pinned: its PATH lookup + exact version check is what the build relies on
# Firefox's WebDriver: Debian does not package it, crates.io has it. Pinned so every machine drives the same.
GECKODRIVER_VERSION = "0.37.1"
BINDGEN_CLI = "wasm-bindgen-cli"
TEST_RUNNER = "wasm-bindgen-test-runner"
# Env vars of the user's shell that would change how the host cargo builds a tool.
_HOST_BUILD_DROP = ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC", "RUSTC_WRAPPER")
# Unoptimised: the CLI builds 2.5x faster than at opt-level 1 and still processes a probe's module in a
# tenth of a second (0.13 s vs 0.03 s; 0.25 s vs 0.07 s for a 470 KB dev build); benchmarks/toolbuild_bench.py.
FAST_PROFILE = {"CARGO_PROFILE_RELEASE_OPT_LEVEL": "0", "CARGO_PROFILE_RELEASE_DEBUG": "0",
                "CARGO_PROFILE_RELEASE_INCREMENTAL": "false"}

Progress = Callable[[str], None]
# Asked only when a tool is about to be built: the host toolchain to build it with (None: the default one).
HostChoice = Callable[[], HostToolchain | None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, kw_only=True)
class CachedTool:
    name: str  # "wasm-bindgen" | "wasm-bindgen-test-runner" | "wasm-pack" | "geckodriver"
    version: str  # the version the binary reports
    ident: str  # cache identity: a version, or "git-<commit>"
    bin_dir: Path
    build_seconds: float
    host: str = DEFAULT  # the toolchain that built it: DEFAULT or a spec ("debian:1.85.0")
    host_rustc: str = ""  # the release of its rustc ("" for entries from before it was recorded)
    origin: str = "built"  # "built" (cargo install here) or "prebuilt" (the published binary)
    download: dict[str, object] | None = None  # a prebuilt one's url, sha256, checksum, download_seconds

    @property
    def binary(self) -> Path:
        return self.bin_dir / self.name

    @property
    def built_with(self) -> str:
        """`debian:1.85.0 (rustc 1.85.0)`: the host toolchain that built it; `prebuilt (URL)` for a download."""
        if self.origin == "prebuilt":
            return f"prebuilt ({(self.download or {}).get('url', 'published release')})"
        return HostToolchain(name=self.host, rustc=self.host_rustc).describe()

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "ident": self.ident,
                "bin_dir": str(self.bin_dir), "build_seconds": self.build_seconds,
                "host": self.host, "host_rustc": self.host_rustc, "origin": self.origin,
                **({"download": self.download} if self.download else {})}


_source = ToolSource.AUTO


def set_tool_source(source: ToolSource) -> None:
    """Where missing tools come from for this process (`--tools`, `tools` in the config); set by the CLI."""
    global _source  # noqa: PLW0603 - one process-wide choice, like set_build_listener
    _source = ToolSource(source)


def tool_source() -> ToolSource:
    return _source


# name, ident, crates compiled so far, crates in the lock file (None: unknown), finished
BuildListener = Callable[[str, str, int, int | None, bool], None]
_listener: BuildListener | None = None


def set_build_listener(listener: BuildListener | None) -> None:
    """Where `cargo install` progress goes (the CLI's live display); None: nowhere."""
    global _listener  # noqa: PLW0603 - one process-wide display, like processes.set_echo
    _listener = listener


class _BuildMeter:
    """Counts cargo's `Compiling x` lines against the crate count of the lock file being installed."""

    def __init__(self, name: str, ident: str) -> None:
        self.name, self.ident = name, ident
        self.compiled: int = 0
        self.total: int | None = None

    def __call__(self, line: str) -> None:
        text = line.strip()
        if text.startswith("Installing ") and self.total is None:
            self.total = _locked_crates(text)
        elif text.startswith("Compiling "):
            self.compiled += 1
        else:
            return
        if _listener is not None:
            _listener(self.name, self.ident, self.compiled, self.total, False)

    def finish(self) -> None:
        if _listener is not None:
            _listener(self.name, self.ident, self.compiled, self.total, True)


def _locked_crates(installing: str) -> int | None:
    """`Installing wasm-bindgen-cli v0.2.99` -> the number of packages in that release's Cargo.lock."""
    words = installing.split()
    if len(words) < 3 or not words[2].startswith("v"):
        return None
    crate, version = words[1], words[2][1:]
    if len(words) > 3 and words[3].startswith("("):  # a path install: (/path/to/crate)
        roots = [Path(words[3].strip("()"))]
        roots += list(roots[0].parents)[:3]
    else:
        cargo_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
        roots = sorted((cargo_home / "registry" / "src").glob(f"*/{crate}-{version}"))
    for root in roots:
        lock = root / "Cargo.lock"
        if lock.is_file():
            try:
                return sum(1 for ln in lock.read_text().splitlines() if ln.strip() == "[[package]]")
            except OSError:
                return None
    return None


def _entry_dir(name: str, ident: str) -> Path:
    return paths.tools_dir() / name / ident


def _target_base(host: str = DEFAULT) -> str:
    """Target dirs of one host toolchain: `cargo-target[-N]` for the default one, `cargo-target@debian-1.85.0[-N]`
    for another (nothing compiled by one rustc is reused by another)."""
    return "cargo-target" if host == DEFAULT else "cargo-target@" + "".join(
        ch if ch.isalnum() or ch in ".-_" else "-" for ch in host)


def _target_dir(slot: int = 0, host: str = DEFAULT) -> Path:
    base = _target_base(host)
    return paths.tools_dir() / (base if slot == 0 else f"{base}-{slot}")


SLOT_RECORD = ".wasm-bisect-built.json"  # what a target slot has built: the releases it can reuse most for


def _slot_builds(slot: int, host: str = DEFAULT) -> list[str]:
    """Idents built in a slot; slot 0 from before the record existed holds every cached CLI."""
    directory = _target_dir(slot, host)
    try:
        data = json.loads((directory / SLOT_RECORD).read_text())
        return [str(x) for x in data] if isinstance(data, list) else []
    except (OSError, ValueError):
        if slot == 0 and host == DEFAULT and directory.is_dir():
            return [t.ident for t in installed()]
        return []


def release_distance(ident: str, built: list[str]) -> float:
    """How far `ident` is from the nearest release in `built` (a slot's or the machine's builds): releases apart in
    the same major.minor; neighbours share most dependencies."""
    if not built:
        return float("inf")
    if not is_exact_version(ident):
        return 0.0  # a commit or wasm-pack: any slot that compiled something shares the common crates
    key = bindgen_key(ident)
    near = [abs(bindgen_key(b).micro - key.micro) + 1000 * (bindgen_key(b).release[:2] != key.release[:2])
            for b in built if is_exact_version(b)]
    return float(min(near, default=1000))


@contextlib.contextmanager
def build_slot(ident: str, host: str = DEFAULT) -> Iterator[Path]:
    """A cargo target dir to build `ident` with host toolchain `host` in, held for the build: the free slot
    nearest to it, else a new one."""
    base = _target_base(host)
    existing = sorted(0 if p.name == base else int(p.name.removeprefix(base + "-"))
                      for p in paths.tools_dir().glob(f"{base}*")
                      if p.is_dir() and (p.name == base or p.name.removeprefix(base + "-").isdigit()))
    order = sorted(existing, key=lambda slot: (release_distance(ident, _slot_builds(slot, host)), slot))
    lock_base = "tool-target" if host == DEFAULT else f"tool-{base}"
    # After the existing slots, new ones: another build may have just taken the one we would create.
    for slot in itertools.chain(order, itertools.count(max(existing, default=-1) + 1)):
        lock = fs.lock(f"{lock_base}-{slot}", timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            continue
        try:
            directory = _target_dir(slot, host)
            if not directory.is_dir():
                directory.mkdir(parents=True)
                fs.atomic_write_text(directory / SLOT_RECORD, "[]")  # new: not a slot from before the records
            yield directory
            builds = _slot_builds(slot, host)
            if ident not in builds:
                fs.atomic_write_text(directory / SLOT_RECORD, json.dumps([*builds, ident]))
        finally:
            lock.release()
        return


def host_build_env(base: Mapping[str, str] | None = None, *, target_dir: Path | None = None,
                   host: HostToolchain | None = None) -> dict[str, str]:
    """Environment for building tools with the host toolchain (rustup default, or `host`), free of the user's
    build flags."""
    env = dict(os.environ if base is None else base)
    for key in _HOST_BUILD_DROP:
        env.pop(key, None)
    env["CARGO_TARGET_DIR"] = str(target_dir or _target_dir())
    if os.environ.get("WASM_BISECT_TOOL_PROFILE", "fast") == "fast":
        env.update(FAST_PROFILE)
    if host is not None and host.bin_dir is not None:
        env.pop("RUSTUP_TOOLCHAIN", None)  # rustup's own choice would win over PATH for a rustup proxy
        env["PATH"] = os.pathsep.join([str(host.bin_dir), *filter(None, [env.get("PATH")])])
        env["RUSTC"] = str(host.bin_dir / "rustc")
        env["CARGO"] = str(host.bin_dir / "cargo")
    if host is not None:
        env.update(host.env)
    return env


_default_rustc: dict[str, str] = {}  # PATH -> release: asked once per process


def default_host_rustc() -> str | None:
    """The release of the default host rustc (`rustc --version` as a tool build would run it); None if unknown."""
    env = host_build_env()
    key = env.get("PATH", "") + "\0" + env.get("RUSTUP_TOOLCHAIN", "")
    if key not in _default_rustc:
        try:
            result = processes.run(["rustc", "--version"], env=env, check=False, timeout=processes.QUERY_TIMEOUT)
        except WasmBisectError:
            return None
        words = result.output.strip().split()
        if not (result.ok and len(words) > 1 and words[0] == "rustc"):
            return None
        _default_rustc[key] = ".".join(map(str, rust_release(words[1])))
    return _default_rustc[key]


def reported_version(binary: Path) -> str | None:
    """`wasm-bindgen 0.2.92` -> `0.2.92` (the same parse wasm-pack applies); None when it does not run."""
    try:
        result = processes.run([binary, "--version"], check=False, timeout=processes.QUERY_TIMEOUT)
    except Exception:
        return None
    if not result.ok:
        return None
    words = result.output.strip().split()
    return words[1] if len(words) > 1 else None


def _load(name: str, ident: str, expect_version: str | None, extra_bins: tuple[str, ...] = ()) -> CachedTool | None:
    """The cached entry if complete and working, else None (a broken entry is treated as absent)."""
    entry = _entry_dir(name, ident)
    manifest = entry / "tool.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    seconds = data.get("build_seconds", 0.0) if isinstance(data, dict) else None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return None  # a tool.json of another shape is a broken entry, rebuilt when needed
    host, host_rustc = data.get("host", DEFAULT), data.get("host_rustc", "")
    download = data.get("download")
    tool = CachedTool(name=name, version=str(data.get("version")), ident=ident,
                      bin_dir=entry / "bin", build_seconds=float(seconds),
                      host=host if isinstance(host, str) else DEFAULT,
                      host_rustc=host_rustc if isinstance(host_rustc, str) else "",
                      origin="prebuilt" if data.get("origin") == "prebuilt" else "built",
                      download=download if isinstance(download, dict) else None)
    if not tool.binary.is_file() or (expect_version and tool.version != expect_version):
        return None
    if any(not (tool.bin_dir / extra).is_file() for extra in extra_bins):
        return None
    return tool


def _install(
    name: str,
    ident: str,
    expect_version: str | None,
    cargo_args: list[str],
    progress: Progress,
    *,
    locked: bool = True,
    version_bin: str | None = None,
    extra_bins: tuple[str, ...] = (),
    host: HostChoice | None = None,
    asset: Asset | None = None,
) -> CachedTool:
    """`version_bin` is the binary asked for `--version` (default `name`); `extra_bins` must exist beside it;
    `host` is asked, only when a build is needed, which host toolchain builds it (None: the default one);
    `asset` is the published binary to try first when the tool source allows it."""
    existing = _load(name, ident, expect_version, extra_bins)
    if existing is not None:
        return existing
    entry = _entry_dir(name, ident)
    with fs.lock(f"tool-{name}-{ident}"):
        existing = _load(name, ident, expect_version, extra_bins)  # another process may have finished it meanwhile
        if existing is not None:
            return existing
        fs.sweep_staging(entry)
        if entry.exists():  # incomplete or broken: rebuild from scratch
            progress(f"{name} {ident}: cache entry is broken, rebuilding")
            shutil.rmtree(entry)
        source = tool_source()
        if source is not ToolSource.SOURCE:
            if asset is None and source is ToolSource.PREBUILT:
                raise ProvisionError(f"{name} {ident} has no published binary for this machine",
                                     hint="use --tools auto (or source) to build it from source")
            if asset is not None:
                try:
                    return _install_prebuilt(name, ident, expect_version, asset, progress,
                                             version_bin=version_bin, extra_bins=extra_bins)
                except PrebuiltUnavailable as exc:
                    if source is ToolSource.PREBUILT:
                        raise ProvisionError(f"no usable prebuilt {name} {ident}: {exc.message}",
                                             hint="--tools auto builds it from source instead") from None
                    progress(f"{name} {ident}: the prebuilt binary is not usable ({exc.message}); "
                             "building from source instead")
        log = paths.tools_dir() / "logs" / f"{name}-{ident}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        chosen = (host() if host is not None else None) or HostToolchain(name=DEFAULT, rustc=default_host_rustc() or "")
        start = time.monotonic()  # after provisioning the host toolchain: build_seconds is the build's own
        progress(f"building {name} {ident} with the host toolchain {chosen.describe()} "
                 "(cargo install, minutes on a cold cache)")
        meter = _BuildMeter(name, ident)
        slot_ident = ident if name == "wasm-bindgen" else name
        with fs.staging_dir(entry) as staging, build_slot(slot_ident, chosen.name) as target:
            try:
                processes.run(
                    ["cargo", "install", *(["--locked"] if locked else []), "--root", staging, *cargo_args],
                    env=host_build_env(target_dir=target, host=chosen),
                    log=log,
                    timeout=3600,
                    what=f"cargo install {name} {ident}",
                    on_line=meter,
                )
            except CommandFailed as exc:
                raise _explain_install_failure(name, ident, exc, log) from exc
            finally:
                meter.finish()
            binary = staging / "bin" / (version_bin or name)
            version = reported_version(binary)
            if version is None or (expect_version and version != expect_version):
                raise ProvisionError(
                    f"{name} {ident} was built but reports version {version!r}",
                    hint=f"see {log}",
                )
            missing = [b for b in (name, *extra_bins) if not (staging / "bin" / b).is_file()]
            if missing:
                raise ProvisionError(f"{name} {ident} was built without {missing[0]}", hint=f"see {log}")
            seconds = time.monotonic() - start
            manifest = {"name": name, "version": version, "ident": ident, "build_seconds": round(seconds, 1),
                        "host": chosen.name, "host_rustc": chosen.rustc}
            fs.atomic_write_text(staging / "tool.json", json.dumps(manifest, indent=2))
        progress(f"{name} {ident} ready in {seconds:.0f} s")
        tool = _load(name, ident, expect_version, extra_bins)
        assert tool is not None
        return tool


TINY_MODULE = b"\x00asm\x01\x00\x00\x00"  # an empty module: every wasm-bindgen release turns it into glue


def _processes_tiny_module(wasm_bindgen: Path, scratch: Path) -> str | None:
    """Why `wasm-bindgen` cannot turn the tiny known module into Node glue, or None when it can."""
    scratch.mkdir(parents=True, exist_ok=True)
    module = scratch / "tiny.wasm"
    module.write_bytes(TINY_MODULE)
    try:
        result = processes.run([wasm_bindgen, "--target", "nodejs", "--out-dir", scratch / "out", module],
                               check=False, timeout=processes.QUERY_TIMEOUT)
    except WasmBisectError as exc:
        return exc.one_line()
    if not result.ok or not (scratch / "out" / "tiny_bg.wasm").is_file():
        return f"it cannot process a tiny module: {result.output.strip()[-200:] or 'no output'}"
    return None


def _install_prebuilt(name: str, ident: str, expect_version: str | None, asset: Asset, progress: Progress, *,
                      version_bin: str | None, extra_bins: tuple[str, ...]) -> CachedTool:
    """Download `asset` into a staging entry and verify it like a build (version, binaries, a tiny module);
    PrebuiltUnavailable when it does not pass."""
    entry = _entry_dir(name, ident)
    progress(f"downloading the prebuilt {name} {ident} from {asset.url}")
    with fs.staging_dir(entry) as staging:
        meta = prebuilt.fetch(asset, staging / "bin")
        binary = staging / "bin" / (version_bin or name)
        version = reported_version(binary)
        if version is None or (expect_version and version != expect_version):
            raise PrebuiltUnavailable(f"the prebuilt binary reports version {version!r}, not {expect_version}")
        missing = [b for b in (name, *extra_bins) if not (staging / "bin" / b).is_file()]
        if missing:
            raise PrebuiltUnavailable(f"the prebuilt tarball has no {missing[0]}")
        if (staging / "bin" / "wasm-bindgen").is_file():
            why = _processes_tiny_module(staging / "bin" / "wasm-bindgen", staging / "smoke")
            shutil.rmtree(staging / "smoke", ignore_errors=True)
            if why is not None:
                raise PrebuiltUnavailable(f"the prebuilt wasm-bindgen fails: {why}")
        manifest = {"name": name, "version": version, "ident": ident, "build_seconds": 0.0,
                    "origin": "prebuilt", "download": meta}
        fs.atomic_write_text(staging / "tool.json", json.dumps(manifest, indent=2))
    progress(f"{name} {ident} ready (prebuilt, {meta['download_seconds']} s)")
    tool = _load(name, ident, expect_version, extra_bins)
    assert tool is not None
    return tool


def _explain_install_failure(name: str, ident: str, exc: CommandFailed, log: Path) -> Exception:
    tail = exc.log_tail
    if "could not find" in tail and "in registry" in tail:
        return UsageError(f"{name} {ident} does not exist on crates.io", hint="pick a published version")
    if "failed to" in tail and ("download" in tail or "fetch" in tail or "index" in tail):
        return ProvisionError(f"cannot download the sources of {name} {ident}",
                              hint=f"check access to crates.io; log: {log}")
    return ProvisionError(f"building {name} {ident} failed", hint=f"see {log}")


def exact_version(version: str, what: str) -> str:
    """`X.Y.Z` (an `=` prefix allowed), ASCII digits only; UsageError otherwise."""
    version = version.strip().lstrip("=")
    if not is_exact_version(version):
        raise UsageError(f"{what} version {version!r} is not an exact X.Y.Z version", hint="e.g. 0.2.99")
    return version


def bindgen_cli(version: str, *, progress: Progress = _quiet, host: HostChoice | None = None) -> CachedTool:
    """The wasm-bindgen CLI of exactly `version` (crates.io), built once and cached; `host` chooses the toolchain
    that builds it (asked only for a build; default: the host's default toolchain)."""
    version = exact_version(version, "wasm-bindgen")
    return _install(
        "wasm-bindgen", version, version,
        [BINDGEN_CLI, "--version", f"={version}", "--bin", "wasm-bindgen"],
        progress, host=host, asset=prebuilt.bindgen_asset(version, ("wasm-bindgen",)),
    )


def bindgen_test_runner(version: str, *, progress: Progress = _quiet, host: HostChoice | None = None
                        ) -> CachedTool:
    """`wasm-bindgen-test-runner` of exactly `version`, with the `wasm-bindgen` of the same `cargo install` beside it.

    wasm-pack takes the runner from the directory of the `wasm-bindgen` it finds on PATH (when that one reports
    the locked version), so this entry's bin dir goes first on PATH for `wasm-pack test`: both binaries come from
    one build of one wasm-bindgen-cli release.
    """
    version = exact_version(version, "wasm-bindgen")
    return _install(
        TEST_RUNNER, version, version,
        [BINDGEN_CLI, "--version", f"={version}", "--bin", "wasm-bindgen", "--bin", TEST_RUNNER],
        progress, version_bin="wasm-bindgen", extra_bins=("wasm-bindgen",), host=host,
        asset=prebuilt.bindgen_asset(version, ("wasm-bindgen", TEST_RUNNER)),
    )


def bindgen_cli_from_checkout(
    checkout: Path,
    commit: str,
    *,
    cli_crate: Path | None = None,
    version: str | None = None,
    ident: str | None = None,
    progress: Progress = _quiet,
) -> CachedTool:
    """The wasm-bindgen CLI built from a source checkout, cached by commit id so crate and CLI always match.

    `cli_crate` is the CLI's package directory (found from the checkout's manifests; default crates/cli),
    `version` the version it must report, `ident` the cache identity (default git-<commit>). `--locked` only
    when the checkout has a Cargo.lock: upstream does not commit one.
    """
    cli_crate = cli_crate or checkout / "crates" / "cli"
    if not (cli_crate / "Cargo.toml").is_file():
        raise UsageError(f"{checkout} has no crates/cli: not a wasm-bindgen checkout",
                         hint="point at the root of a wasm-bindgen repository")
    locked = (checkout / "Cargo.lock").is_file() or (cli_crate / "Cargo.lock").is_file()
    return _install("wasm-bindgen", ident or f"git-{commit[:12]}", version,
                    ["--path", str(cli_crate), "--bin", "wasm-bindgen"], progress, locked=locked)


def bindgen_test_runner_from_checkout(checkout: Path, commit: str, *, cli_crate: Path, version: str, ident: str,
                                      progress: Progress = _quiet) -> CachedTool:
    """The test runner (and the wasm-bindgen beside it) built from a source checkout, cached like its CLI."""
    locked = (checkout / "Cargo.lock").is_file() or (cli_crate / "Cargo.lock").is_file()
    return _install(TEST_RUNNER, ident, version,
                    ["--path", str(cli_crate), "--bin", "wasm-bindgen", "--bin", TEST_RUNNER], progress, locked=locked,
                    version_bin="wasm-bindgen", extra_bins=("wasm-bindgen",))


def wasm_pack(version: str = WASM_PACK_VERSION, *, progress: Progress = _quiet) -> CachedTool:
    version = exact_version(version, "wasm-pack")
    return _install("wasm-pack", version, version, ["wasm-pack", "--version", f"={version}"], progress,
                    asset=prebuilt.wasm_pack_asset(version))


def geckodriver(version: str = GECKODRIVER_VERSION, *, progress: Progress = _quiet) -> CachedTool:
    """Firefox's WebDriver of exactly `version`, built once from crates.io (Debian does not package it)."""
    version = exact_version(version, "geckodriver")
    return _install("geckodriver", version, version, ["geckodriver", "--version", f"={version}"], progress)


def installed() -> list[CachedTool]:
    """Every complete cache entry (broken ones are not listed)."""
    found: list[CachedTool] = []
    root = paths.tools_dir()
    for name in ("wasm-bindgen", TEST_RUNNER, "wasm-pack", "geckodriver"):
        base = root / name
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name.startswith("."):
                continue
            # A crates.io entry is named after its version: one reporting another version is broken.
            tool = _load(name, entry.name, entry.name if is_exact_version(entry.name) else None)
            if tool is not None:
                found.append(tool)
    return found
