"""Issue 13: every toolchain query has the same time limit, and a toolchain is checked before a run starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wasm_bisect import toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.errors import ProvisionError, ToolMissing
from wasm_bisect.domain.model import ToolchainSpec
from wasm_bisect.probe import machine
from wasm_bisect.toolchains import base
from wasm_bisect.util import processes

VV = "rustc 1.96.0 (x 2025-05-09)\nbinary: rustc\ncommit-hash: x\nhost: x86_64-unknown-linux-gnu\nrelease: 1.96.0\n"


def test_every_toolchain_query_has_the_same_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, Any]] = []

    def fake_run(argv: Any, **kwargs: Any) -> processes.Completed:
        words = [str(a) for a in argv]
        seen.append((" ".join(words[1:3]), kwargs.get("timeout")))
        out = {"-vV": VV, "--print": str(tmp_path), "-V": "cargo 1.96.0 (x 2025-05-09)",
               "--version": "wasm-bindgen 0.2.99", "toolchain": "stable-x86_64-unknown-linux-gnu",
               "which": str(tmp_path / "bin" / "rustc")}.get(words[1], "")
        return processes.Completed(argv=tuple(words), returncode=0, output=out, seconds=0.0)

    monkeypatch.setattr(processes, "run", fake_run)
    monkeypatch.setattr(processes, "output", lambda argv, **kw: fake_run(argv, **kw).output)
    monkeypatch.setattr(processes, "which", lambda program, env=None: f"/usr/bin/{program}")
    spec = ToolchainSpec.parse(f"path:{tmp_path}")
    found = base.inspect_toolchain(spec=spec, bin_dir=tmp_path / "bin", env={})
    toolcache.reported_version(tmp_path / "wasm-bindgen")
    monkeypatch.setattr(toolchains, "resolve", lambda *_a, **_k: found)
    machine.toolchain_entry(str(spec))
    assert len(seen) >= 5
    assert {timeout for _, timeout in seen} == {processes.QUERY_TIMEOUT}, seen


def test_a_toolchain_that_does_not_answer_like_rustc_is_a_provision_error(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "output", lambda *_a, **_k: "hello from a shell script")
    with pytest.raises(ProvisionError, match="does not run as rustc"):
        base.inspect_toolchain(spec=ToolchainSpec.parse("path:/x"), bin_dir=tmp_path, env={})

    def missing(*_a: Any, **_k: Any) -> str:
        raise ToolMissing("cannot start rustc: Exec format error")

    monkeypatch.setattr(processes, "output", missing)
    with pytest.raises(ProvisionError, match="does not run: cannot start rustc"):
        base.inspect_toolchain(spec=ToolchainSpec.parse("path:/x"), bin_dir=tmp_path, env={})


def test_prepare_resolves_before_a_run_and_only_what_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    monkeypatch.setattr(toolchains, "check_known", lambda specs: None)

    def resolve(spec: ToolchainSpec, **_: Any) -> Any:
        resolved.append(str(spec))
        if spec.version == "/bad":
            raise ProvisionError(f"toolchain {spec} does not run")
        return spec

    monkeypatch.setattr(toolchains, "resolve", resolve)
    specs = [ToolchainSpec.parse(t) for t in ("debian:1.96.0", "path:/ok", "debian:1.96.0")]
    assert list(toolchains.prepare(specs)) == specs[:2] and resolved == ["debian:1.96.0", "path:/ok"]
    resolved.clear()
    toolchains.prepare(specs, provision=False)  # a bisect: only path toolchains, which cost nothing, are run
    assert resolved == ["path:/ok"]
    with pytest.raises(ProvisionError, match="does not run"):
        toolchains.prepare([ToolchainSpec.parse("path:/bad")])
