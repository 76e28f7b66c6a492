"""cache export / import: toolchains and tools move between homes, verified, and only onto the same machine kind."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import pytest

from unit.conftest import write_executable
from wasm_bisect import cli, toolchains
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.runs import transfer

pytestmark = pytest.mark.subprocess  # the fake binaries answer --version and -vV for real

RUSTC = """#!/bin/sh
case "$*" in
  *-vV*) printf 'rustc 1.96.0 (fake 2026-01-01)\\nhost: x86_64-unknown-linux-gnu\\nrelease: 1.96.0\\n' ;;
  *sysroot*) cd "$(dirname "$0")/.." && pwd ;;
esac
"""


def fake_home(home: Path) -> None:
    prefix = home / "toolchains" / "debian-1.96.0"
    write_executable(prefix / "usr/bin/rustc", RUSTC)
    write_executable(prefix / "usr/bin/cargo", "#!/bin/sh\necho 'cargo 1.96.0 (fake)'\n")
    std = prefix / "usr/lib/rustlib/wasm32-unknown-unknown/lib"
    std.mkdir(parents=True)
    (std / "libstd-0123.rlib").write_bytes(b"rlib")
    (prefix / "usr/lib/rustlib/x86_64-unknown-linux-gnu").mkdir(parents=True)
    (prefix / "usr/lib/rust-lld").symlink_to("rustlib/x86_64-unknown-linux-gnu")  # a relative link inside
    (prefix / "toolchain.json").write_text(json.dumps({
        "schema": 1, "spec": "debian:1.96.0", "version": "1.96.0", "verbose_version": "rustc 1.96.0 (fake)",
        "host": "x86_64-unknown-linux-gnu", "cargo_version": "1.96.0", "wasm32_std": True,
        "paths": {"sysroot": "usr", "bin_dir": "usr/bin", "lib_dirs": [], "mvp_sysroot": None}}))
    entry = home / "tools" / "wasm-bindgen" / "0.2.99"
    write_executable(entry / "bin" / "wasm-bindgen", "#!/bin/sh\necho 'wasm-bindgen 0.2.99'\n")
    (entry / "tool.json").write_text(json.dumps({"version": "0.2.99", "build_seconds": 1}))


def test_export_then_import_into_an_empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    fake_home(source)
    monkeypatch.setenv("WASM_BISECT_HOME", str(source))
    archive = tmp_path / "out" / "cache.tar.gz"
    done = transfer.export(archive)
    assert sorted(e.path for e in done.entries) == ["toolchains/debian-1.96.0", "tools/wasm-bindgen/0.2.99"]
    monkeypatch.setenv("WASM_BISECT_HOME", str(target))
    got = transfer.import_(archive)
    assert sorted(got.added) == ["toolchains/debian-1.96.0", "tools/wasm-bindgen/0.2.99"]
    assert [str(t.spec) for t in toolchains.DebianProvider().installed()] == ["debian:1.96.0"]
    assert [(t.name, t.version) for t in toolcache.installed()] == [("wasm-bindgen", "0.2.99")]
    assert (target / "toolchains/debian-1.96.0/usr/lib/rust-lld").readlink() == Path("rustlib/x86_64-unknown-linux-gnu")
    again = transfer.import_(archive)  # present entries are kept, never replaced
    assert again.added == [] and len(again.kept) == 2
    assert not list((target / "toolchains").glob(".staging-*"))


def test_an_archive_from_another_machine_kind_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_home(tmp_path / "a")
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "a"))
    archive = tmp_path / "cache.tar.gz"
    transfer.export(archive)
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "b"))
    monkeypatch.setattr(transfer, "host", lambda: {"machine": "aarch64", "system": "Linux", "os": "debian 12"})
    with pytest.raises(UsageError, match=r"was made on Linux .* x86_64, this is Linux debian 12 aarch64"):
        transfer.import_(archive)
    assert not (tmp_path / "b" / "toolchains").exists()


def _rewrite(archive: Path, out: Path, *, manifest: dict[str, object] | None = None,
             tamper: str | None = None) -> None:
    """A copy of `archive` with another manifest or one file's bytes changed."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            handle = src.extractfile(member) if member.isfile() else None
            data = handle.read() if handle is not None else None
            if member.name == transfer.MANIFEST and manifest is not None:
                data = json.dumps(manifest).encode()
            if tamper and member.name.endswith(tamper) and data is not None:
                data = data + b"#"
            if data is not None:
                member.size = len(data)
                import io

                dst.addfile(member, io.BytesIO(data))
            else:
                dst.addfile(member)


def test_damaged_or_hostile_archives_are_refused_and_leave_nothing(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake_home(tmp_path / "a")
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "a"))
    archive = tmp_path / "cache.tar.gz"
    transfer.export(archive)
    with tarfile.open(archive, "r:gz") as tar:
        handle = tar.extractfile(transfer.MANIFEST)
        assert handle is not None
        manifest = json.loads(handle.read())
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "b"))
    damaged = tmp_path / "damaged.tar.gz"
    _rewrite(archive, damaged, tamper="bin/wasm-bindgen")
    with pytest.raises(UsageError, match="does not match its content hash"):
        transfer.import_(damaged)
    hostile = tmp_path / "hostile.tar.gz"
    _rewrite(archive, hostile, manifest={**manifest, "entries": [{"kind": "tool", "path": "tools/../../etc",
                                                                   "sha256": "x"}]})
    with pytest.raises(UsageError, match="does not import"):
        transfer.import_(hostile)
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    with pytest.raises(UsageError, match="not a wasm-bisect cache archive"):
        transfer.import_(text)
    assert text.read_text() == "not an archive"
    assert not (tmp_path / "b" / "tools" / "wasm-bindgen" / "0.2.99").exists()


def test_cli_export_and_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    fake_home(tmp_path / "a")
    archive = tmp_path / "cache.tar.gz"
    for home, args in ((tmp_path / "a", ["cache", "export", str(archive)]),
                       (tmp_path / "b", ["cache", "import", str(archive), "--json"])):
        monkeypatch.setenv("WASM_BISECT_HOME", str(home))
        monkeypatch.setattr(sys, "argv", ["wasm-bisect", *args])
        with pytest.raises(SystemExit) as done:
            cli.main()
        out, err = capsys.readouterr()
        assert done.value.code == 0, err
    assert len(json.loads(out)["added"]) == 2  # the import's answer
    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "argv", ["wasm-bisect", "cache", "export", str(tmp_path / "x.tar.gz")])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 2 and "nothing to export" in capsys.readouterr().err
    assert not (tmp_path / "x.tar.gz").exists()
