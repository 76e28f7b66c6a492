"""`debian:X.Y.Z`: Debian's rustc/cargo .debs unpacked side by side into one prefix per version."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wasm_bisect.domain.compat import reference_types_by_default
from wasm_bisect.domain.errors import ProvisionError, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains import debian_apt
from wasm_bisect.toolchains.base import (
    DEFAULT_STD_RUSTFLAGS,
    MANIFEST,
    MVP_SYSROOT,
    WASM_TARGET,
    Progress,
    StepTimer,
    Toolchain,
    add_mvp_std,
    build_std_sysroot,
    build_wasm32_std,
    check_features,
    inspect_toolchain,
    logs_dir,
    provisioned,
    quiet,
    read_manifest,
    write_manifest,
)
from wasm_bisect.util import fs, paths


class DebianProvider:
    """`debian:X.Y.Z`: Debian's rustc/cargo .debs unpacked side by side, plus a wasm32 std built if needed."""

    name = "debian"

    def __init__(self, apt: debian_apt.Apt | None = None, *, refresh: bool = True) -> None:
        self._apt = apt
        # False while input is validated: read the private lists as they are (or the machine's), never fetch or
        # write them before the command has checked everything it was given.
        self._refresh = refresh
        self.last_timings: dict[str, float] = {}

    @property
    def apt(self) -> debian_apt.Apt:
        """apt with the private configuration (Debian's archive beyond this machine's sources), refreshed weekly;
        the machine's own configuration when that cannot be read (offline before the first update, or
        WASM_BISECT_APT=system)."""
        if self._apt is None:
            debian_apt.Apt.check_machine()
            self._apt = _private_apt(refresh=self._refresh) or debian_apt.Apt(os.environ)
        return self._apt

    @staticmethod
    def prefix(version: str) -> Path:
        return paths.toolchains_dir() / f"debian-{version}"

    def availability(self) -> list[Availability]:
        """Every rustc release apt knows, each with whether it runs here (and why not) and whether Debian ships
        its wasm32 std prebuilt. Of several builds of one version (bookworm's security update and trixie's),
        the newest that runs here is the one used."""
        rows = self.apt.madison([f.rustc for f in debian_apt.FLAVOURS])
        candidates = [r for rows_of in debian_apt.releases_by_row(rows) for r in rows_of]
        libc = self.apt.installed().versions.get("libc6")
        names = sorted({n for r in candidates for n in (r.flavour.rustc, _runtime_lib(r), r.flavour.wasm32_std)})
        index = self.apt.show(names) if candidates else {}

        def built(name: str, release: debian_apt.Release) -> list[dict[str, str]]:
            return [p for p in index.get(name, []) if p.get("Version") == release.debian_version]

        why = {r: debian_apt.runs_with(built(r.flavour.rustc, r) + built(_runtime_lib(r), r), libc)
               for r in candidates}
        runnable = debian_apt.releases_from_madison(
            [row for row in rows if any(why[r] is None for r in debian_apt.releases_by_row([row])[0])])
        found = [Availability(release=r, why_not=None, prebuilt_wasm32=bool(built(r.flavour.wasm32_std, r)))
                 for r in runnable.values()]
        others = debian_apt.releases_from_madison(rows)
        found += [Availability(release=r, why_not=why.get(r) or "not runnable here",
                               prebuilt_wasm32=bool(built(r.flavour.wasm32_std, r)))
                  for version, r in others.items() if version not in runnable]
        return sorted(found, key=lambda a: debian_apt.version_key(a.release.upstream))

    def releases(self) -> dict[str, debian_apt.Release]:
        """Discovered now from apt: upstream version -> release (flavour and exact Debian version), the ones
        whose binaries run on this machine."""
        return {a.release.upstream: a.release for a in self.availability() if a.why_not is None}

    def available(self) -> list[str]:
        return list(self.releases())

    def installed(self) -> list[Toolchain]:
        return provisioned(self.name)

    def remove(self, version: str) -> bool:
        final = self.prefix(version)
        with fs.lock(f"toolchain-debian-{version}"):
            fs.sweep_staging(final)
            if final.exists():
                shutil.rmtree(final)
                return True
        return False

    def provision(self, version: str, *, progress: Progress = quiet, mvp_std: bool = False) -> Toolchain:
        """Unpack (once) and return debian:`version`; concurrent callers wait for the first one's result.

        `mvp_std`: also build the reference-types-off std now (otherwise the first `off` probe does).
        """
        spec = ToolchainSpec.parse(f"debian:{version}")
        final = self.prefix(version)
        cached = read_manifest(final)
        if cached is not None:
            return self.with_mvp_std(cached, progress=progress) if mvp_std else cached
        releases = self.releases()
        release = releases.get(version)
        if release is None:
            rows = {a.release.upstream: a for a in self.availability()}
            if version in rows:
                raise ProvisionError(f"debian:{version} ({rows[version].release.suite}) cannot run on this machine: "
                                     f"{rows[version].why_not}", hint=f"use one of {', '.join(releases)}")
            raise debian_apt.unknown_version_error(version, releases)
        with fs.lock(f"toolchain-debian-{version}"):
            cached = read_manifest(final)
            if cached is not None:
                return cached
            fs.sweep_staging(final)
            if final.exists():
                progress(f"{final} has no valid {MANIFEST}: rebuilding it")
                shutil.rmtree(final)
            return self._provision_locked(spec, release, final, progress, mvp_std=mvp_std)

    def with_mvp_std(self, toolchain: Toolchain, *, progress: Progress = quiet) -> Toolchain:
        """The toolchain with its reference-types-off std, built into its prefix once (rustc >= 1.82 only)."""
        if toolchain.mvp_sysroot is not None or not toolchain.reference_types_default:
            return toolchain
        version = toolchain.spec.version
        final = self.prefix(version)
        with fs.lock(f"toolchain-debian-{version}"):
            current = read_manifest(final)
            if current is None:
                raise ProvisionError(f"debian:{version} is not provisioned in {final}",
                                     hint=f"run `wasm-bisect toolchain add debian:{version}`")
            if current.mvp_sysroot is not None:  # another process built it while we waited
                return current
            log = logs_dir() / f"debian-{version}.log"
            result, seconds = add_mvp_std(current, final, log=log, progress=progress)
            progress(f"debian:{version}: reference-types-off std ready ({seconds:.0f} s)")
            return result

    def plan(self, release: debian_apt.Release) -> tuple[debian_apt.Plan, dict[str, dict[str, str]]]:
        """Which exact packages make up debian:`release` on this machine (and their apt paragraphs)."""
        apt = self.apt
        flavour = release.flavour
        index: dict[str, list[dict[str, str]]] = {}

        libc = apt.installed().versions.get("libc6")

        def lookup(names: Sequence[str]) -> dict[str, list[dict[str, str]]]:
            todo = [n for n in names if n not in index]
            if todo:
                fetched = apt.show(todo)
                for name in todo:  # a build for a newer Debian (newer glibc) is never a candidate here
                    index[name] = [p for p in fetched.get(name, []) if debian_apt.runs_with([p], libc) is None]
            return {n: index[n] for n in names}

        extra = lookup([flavour.cargo, flavour.wasm32_std, flavour.src])
        cargo = debian_apt.pick_cargo(extra[flavour.cargo], flavour, release.debian_version)
        if cargo is None:
            raise ProvisionError(
                f"no {flavour.cargo} package fits {flavour.rustc} {release.debian_version}",
                hint="run `apt-get update`, or use another debian: version",
            )
        roots = [(flavour.rustc, release.debian_version), (flavour.cargo, cargo["Version"])]
        has_wasm_std = any(p["Version"] == release.debian_version for p in extra[flavour.wasm32_std])
        if has_wasm_std:
            roots.append((flavour.wasm32_std, release.debian_version))
        # The source builds the wasm32 std when Debian has none, and the mvp std from 1.82 on.
        needs_src = not has_wasm_std or reference_types_by_default(release.upstream)
        if needs_src and any(p["Version"] == release.debian_version for p in extra[flavour.src]):
            roots.append((flavour.src, release.debian_version))
        installed = apt.installed()
        own = frozenset({flavour.source})
        first = debian_apt.plan_packages(roots, lookup=lookup, installed=installed, own_sources=own)
        major = debian_apt.llvm_major(index[name][0] for name in first.packages if index.get(name))
        if major is None:
            raise ProvisionError(f"cannot tell which LLVM {flavour.rustc} {release.debian_version} uses")
        # lld-N is the rust-lld of this rustc: always in the prefix, so the symlink never points outside it.
        lld = lookup([f"lld-{major}"])[f"lld-{major}"]
        if not lld:
            raise ProvisionError(f"lld-{major} (rust-lld for {release.upstream}) is not in the apt index")
        plan = self._plan_with_lld(roots, lld, first.packages.get(f"libllvm{major}"), lookup=lookup,
                                   installed=installed, own=own)
        paragraphs = {
            name: next(p for p in index[name] if p["Version"] == version)
            for name, version in plan.packages.items()
        }
        return plan, paragraphs

    @staticmethod
    def _plan_with_lld(roots: list[tuple[str, str]], lld: Sequence[dict[str, str]], llvm: str | None, *,
                       lookup: debian_apt.Lookup, installed: debian_apt.Installed,
                       own: frozenset[str]) -> debian_apt.Plan:
        """The plan with the lld-N whose dependencies resolve on this machine: the build of the libllvmN the
        rustc already pulls in first, then newest first. The newest lld of a suite built for a newer glibc
        (sid's lld-22 needs a libllvm22 that needs glibc 2.38) is never the only choice tried."""
        def newer_first(a: Mapping[str, str], b: Mapping[str, str]) -> int:
            return debian_apt.compare_versions(b["Version"], a["Version"])

        newest_first = sorted(lld, key=functools.cmp_to_key(newer_first))
        ordered = sorted(newest_first, key=lambda p: p["Version"] != llvm)  # stable: the rest stay newest first
        failure: ProvisionError | None = None
        for candidate in ordered:
            try:
                return debian_apt.plan_packages([*roots, (candidate["Package"], candidate["Version"])],
                                                lookup=lookup, installed=installed, own_sources=own)
            except ProvisionError as exc:
                failure = failure or exc
        assert failure is not None
        raise failure

    def _provision_locked(
        self, spec: ToolchainSpec, release: debian_apt.Release, final: Path, progress: Progress, *, mvp_std: bool
    ) -> Toolchain:
        timer = StepTimer()
        log = logs_dir() / f"debian-{release.upstream}.log"
        with timer.step("plan"):
            plan, paragraphs = self.plan(release)
        if plan.missing_system:
            raise ProvisionError(
                f"debian:{release.upstream} needs system packages that are not installed: "
                + ", ".join(plan.missing_system),
                hint=debian_apt.SYSTEM_HINT,
            )
        progress(f"debian:{release.upstream}: {len(plan.packages)} packages ({', '.join(plan.packages)})")
        progress(f"downloading {len(plan.packages)} packages (cached .debs are reused)")
        with timer.step("download"), fs.lock("debian-downloads"):
            debs, fetched = self.apt.download(list(paragraphs.values()), paths.downloads_dir(), log=log)
        progress(f"downloaded {fetched} of {len(debs)} packages ({len(debs) - fetched} cached)")
        with fs.staging_dir(final) as stage:
            with timer.step("unpack"):
                progress(f"unpacking {len(debs)} packages")
                for deb in debs:
                    self.apt.unpack(deb, stage, log=log)
                debian_apt.relativize_symlinks(stage)
                lib_dirs = find_lib_dirs(stage)
            ld_path = os.pathsep.join(str(d) for d in lib_dirs)
            toolchain = inspect_toolchain(spec=spec, bin_dir=stage / "usr" / "bin", env={"LD_LIBRARY_PATH": ld_path})
            if not toolchain.sysroot.resolve().is_relative_to(stage.resolve()):
                raise ProvisionError(f"unpacked rustc uses sysroot {toolchain.sysroot}, not its own prefix")
            major = toolchain.llvm_version.split(".")[0] if toolchain.llvm_version else None
            wire_rust_lld(stage, toolchain.host, major)
            work = stage / ".work"
            prebuilt_std = toolchain.wasm32_std
            if not prebuilt_std:
                with timer.step("std_build"):
                    build_wasm32_std(
                        toolchain,
                        work / "std",
                        toolchain.sysroot / "lib" / "rustlib" / WASM_TARGET / "lib",
                        rustflags=DEFAULT_STD_RUSTFLAGS,
                        log=log,
                        progress=progress,
                    )
            # The reference-types-off (mvp) std is built the first time an `off` probe needs it (`with_mvp_std`),
            # or now when asked (`toolchain add --with-mvp-std`): most runs never turn reference-types off.
            mvp_rel: str | None = None
            if mvp_std and toolchain.reference_types_default:
                with timer.step("mvp_std_build"):
                    build_std_sysroot(toolchain, stage / MVP_SYSROOT, work / "mvp", mvp=True, log=log,
                                      progress=progress)
                mvp_rel = MVP_SYSROOT
            toolchain = inspect_toolchain(
                spec=spec,
                bin_dir=toolchain.bin_dir,
                env=toolchain.env,
                mvp_sysroot=stage / mvp_rel if mvp_rel else None,
            )
            toolchain.require_wasm32()
            pruned = prune_source(toolchain.sysroot) if not prebuilt_std else []
            with timer.step("verify"):
                progress(f"verifying debian:{release.upstream} (compiling a wasm32 cdylib)")
                features = check_features(toolchain, work / "verify", log=log)
            shutil.rmtree(work, ignore_errors=True)
            manifest = write_manifest(stage, spec=spec, toolchain=toolchain,
                           std_source="debian package" if prebuilt_std else "built with -Z build-std",
                           bin_dir=toolchain.bin_dir, lib_dirs=lib_dirs, mvp_sysroot=mvp_rel,
                           target_features={"default": features.default, "mvp": features.mvp},
                           timings=timer.seconds, log=log,
                           provider={"debian": {"flavour": release.flavour.source, "version": release.debian_version},
                                     "packages": plan.packages, "pruned_source": pruned,
                                     "package_reasons": plan.reasons})
        # rustc finds its sysroot relative to its own binary: prove it still does from the final place.
        try:
            with timer.step("verify_final"):
                result = read_manifest(final)
                if result is None:
                    raise ProvisionError(f"{final} has no readable {MANIFEST} after the rename")
                moved = inspect_toolchain(
                    spec=spec, bin_dir=result.bin_dir, env=result.env, mvp_sysroot=result.mvp_sysroot
                )
                if moved.sysroot.resolve() != result.sysroot.resolve():
                    raise ProvisionError(
                        f"{final}: rustc reports sysroot {moved.sysroot}, not {result.sysroot}"
                    )
                with tempfile.TemporaryDirectory(prefix=".verify-", dir=final.parent) as tmp:
                    check_features(result, Path(tmp), log=log)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        self.last_timings = dict(timer.seconds)
        manifest["timings"] = timer.seconds
        fs.atomic_write_text(final / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        progress(f"debian:{release.upstream} ready in {final} ({_format_timings(timer.seconds)})")
        return result


@dataclass(frozen=True, kw_only=True)
class Availability:
    """One Debian release of rustc and whether it can be used on this machine."""

    release: debian_apt.Release
    why_not: str | None  # None: its binaries run here
    prebuilt_wasm32: bool  # Debian ships its wasm32 std (else it is built from source once)

    def to_json(self) -> dict[str, object]:
        return {"version": self.release.upstream, "debian_version": self.release.debian_version,
                "package": self.release.flavour.rustc, "suite": self.release.suite, "runnable": self.why_not is None,
                "why_not": self.why_not, "prebuilt_wasm32_std": self.prebuilt_wasm32}


def _runtime_lib(release: debian_apt.Release) -> str:
    """libstd-rust-1.48 / libstd-rust-web-1.78: the package holding librustc_driver (what needs the glibc)."""
    major, minor = release.upstream.split(".")[:2]
    web = "web-" if release.flavour.source == "rustc-web" else ""
    return f"libstd-rust-{web}{major}.{minor}"


_update_tried = False  # one private `apt-get update` attempt per process


def private_lists_present() -> bool:
    """Whether Debian's other suites were read into the tool's home (their package lists exist)."""
    return any((paths.home() / "apt" / "lists").glob("*_Packages*"))


def _private_apt(*, refresh: bool = True) -> debian_apt.Apt | None:
    """apt reading Debian's archive through a private configuration under the tool's home, or None. Without
    `refresh` only lists already there are read (nothing is written or fetched)."""
    global _update_tried  # noqa: PLW0603 - one attempt per process, like the release-index fetch
    if os.environ.get("WASM_BISECT_APT") == "system":
        return None
    # The configuration names its directories by absolute path: the real one, so a home that reaches the lists
    # through a link (test homes share the machine's) never writes its own path into a shared apt.conf.
    root = paths.resolve(paths.home() / "apt") if (paths.home() / "apt").exists() else paths.home() / "apt"
    if not refresh:
        if not private_lists_present():
            return None
        return debian_apt.Apt({**os.environ, "APT_CONFIG": str(root / "apt.conf")})
    base = debian_apt.Apt(os.environ)
    conf = debian_apt.private_config(root, base.architecture())
    apt = debian_apt.Apt({**os.environ, "APT_CONFIG": str(conf)})
    lists = sorted((root / "lists").glob("*_Packages*"))
    fresh = bool(lists) and time.time() - min(p.stat().st_mtime for p in lists) < debian_apt.LISTS_MAX_AGE
    if not fresh and not _update_tried:
        _update_tried = True
        with fs.lock("debian-private-apt"), contextlib.suppress(WasmBisectError):
            apt.update(log=logs_dir() / "apt-update.log")
        lists = sorted((root / "lists").glob("*_Packages*"))
    return apt if lists else None


def _format_timings(seconds: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())


# Parts of the Rust source package that -Z build-std never reads (compiler and tools, ~365 MB on 1.96).
PRUNABLE_SOURCE = ("src", "compiler", "tests")


def prune_source(sysroot: Path) -> list[str]:
    """Drop the compiler/tool sources once std is built, when `library/` is a workspace of its own.

    Before Rust 1.86 (or so) `library/` belonged to the root workspace, whose members live in the pruned
    trees: there, keep everything so a later `-Z build-std` still works.
    """
    root = sysroot / "lib" / "rustlib" / "src" / "rust"
    if not (root / "library" / "Cargo.lock").is_file():
        return []
    removed = []
    for name in PRUNABLE_SOURCE:
        target = (root / name).resolve()
        if target.is_dir():
            shutil.rmtree(target)
            removed.append(name)
    return removed


def find_lib_dirs(prefix: Path) -> list[Path]:
    """LD_LIBRARY_PATH for an unpacked prefix (Debian binaries have no RPATH).

    The multiarch dir holding librustc_driver, plus the same dir under /lib: some bookworm libraries
    (libpcre3, needed by cargo 1.85) still ship in /lib/<multiarch>.
    """
    drivers = sorted((prefix / "usr" / "lib").glob("*/librustc_driver-*.so"))
    if not drivers:
        raise ProvisionError(
            f"no librustc_driver-*.so under {prefix}/usr/lib: the rustc package did not unpack"
        )
    multiarch = drivers[0].parent.name
    return [d for d in (prefix / "usr" / "lib" / multiarch, prefix / "lib" / multiarch) if d.is_dir()]


def wire_rust_lld(prefix: Path, host: str, llvm_major: str | None) -> Path:
    """Point `<sysroot>/lib/rustlib/<host>/bin/rust-lld` (where rustc looks) at the prefix's own lld."""
    candidates = sorted((prefix / "usr" / "lib").glob(f"llvm-{llvm_major or '*'}/bin/lld"))
    if not candidates:
        raise ProvisionError(
            f"no lld binary under {prefix}/usr/lib/llvm-*/bin: the lld package did not unpack"
        )
    lld = candidates[-1]
    bin_dir = prefix / "usr" / "lib" / "rustlib" / host / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / "rust-lld"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(lld, bin_dir))
    return link

