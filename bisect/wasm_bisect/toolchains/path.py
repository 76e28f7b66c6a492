"""`path:/prefix`: any prefix with bin/rustc and bin/cargo, remembered in a small registry."""

from __future__ import annotations

import contextlib
from pathlib import Path

from wasm_bisect.domain.errors import UsageError, WasmBisectError
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.toolchains.base import (
    MVP_SYSROOT,
    PATH_REGISTRY,
    WASM_TARGET,
    Progress,
    Toolchain,
    inspect_toolchain,
    quiet,
    read_registry,
    wasm32_std_present,
    write_registry,
)
from wasm_bisect.util import fs, paths


class PathProvider:
    """`path:/prefix`: an existing prefix with bin/rustc and bin/cargo, remembered in a small registry."""

    name = "path"

    @staticmethod
    def registry_path() -> Path:
        return paths.toolchains_dir() / PATH_REGISTRY

    def available(self) -> list[str]:
        """Nothing to discover: any prefix the user names."""
        return []

    def installed(self) -> list[Toolchain]:
        found = []
        for entry in read_registry(self.registry_path()):
            with contextlib.suppress(KeyError, TypeError, ValueError, WasmBisectError):
                toolchain = Toolchain.from_json(entry)
                if toolchain.rustc.is_file() and toolchain.cargo.is_file():
                    found.append(toolchain)
        return found

    def provision(self, version: str, *, progress: Progress = quiet, mvp_std: bool = False) -> Toolchain:
        """Register the prefix; its mvp std is used when one lies next to it (`mvp_std` builds nothing here)."""
        prefix = paths.resolve(paths.expand(version), "path:")
        bin_dir = prefix / "bin"
        for program in ("rustc", "cargo"):
            if not (bin_dir / program).is_file():
                raise UsageError(
                    f"path:{prefix} has no bin/{program}",
                    hint="give a prefix containing bin/rustc and bin/cargo (e.g. ~/.rustup/toolchains/NAME)",
                )
        env = {}
        libs = sorted((prefix / "lib").glob("*/librustc_driver-*.so"))
        if libs:  # a Debian-style layout: binaries without RPATH need the multiarch dir
            env["LD_LIBRARY_PATH"] = str(libs[0].parent)
        spec = ToolchainSpec(provider=self.name, version=str(prefix))
        mvp = prefix / MVP_SYSROOT if wasm32_std_present(prefix / MVP_SYSROOT) else None
        if mvp is None and wasm32_std_present(prefix.parent / MVP_SYSROOT):
            mvp = prefix.parent / MVP_SYSROOT  # path:<debian prefix>/usr
        toolchain = inspect_toolchain(spec=spec, bin_dir=bin_dir, env=env, mvp_sysroot=mvp)
        if not toolchain.wasm32_std:  # not remembered: it cannot build anything the tool needs
            progress(f"warning: path:{prefix} has no {WASM_TARGET} std; it cannot build wasm")
            return toolchain
        with fs.lock("path-toolchains"):
            entries = [e for e in read_registry(self.registry_path()) if e.get("spec") != str(spec)]
            write_registry(self.registry_path(), [*entries, toolchain.to_json()])
        return toolchain

    def with_mvp_std(self, toolchain: Toolchain, *, progress: Progress = quiet) -> Toolchain:
        """A user's prefix is never written to: it has the mvp std it came with, or none."""
        return toolchain

    def remove(self, version: str) -> bool:
        spec = str(ToolchainSpec(provider=self.name, version=str(paths.resolve(paths.expand(version), "path:"))))
        with fs.lock("path-toolchains"):
            entries = read_registry(self.registry_path())
            kept = [e for e in entries if e.get("spec") != spec]
            write_registry(self.registry_path(), kept)
        return len(kept) != len(entries)

