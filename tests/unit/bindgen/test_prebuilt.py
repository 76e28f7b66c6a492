"""Published binaries first: upstream's asset layout, and the tool cache against a local release server with
fake binaries (a fake `cargo` records any source build): prebuilt, corrupt, wrong version, refused, slow."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.releases import TARGET, ReleaseServer, serve
from wasm_bisect.bindgen import prebuilt, toolcache
from wasm_bisect.bindgen.prebuilt import ToolSource
from wasm_bisect.domain.errors import ProvisionError
from wasm_bisect.util import paths

pytestmark = pytest.mark.subprocess

FAKE_BINDGEN = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "{name} {version}"; exit 0; fi
{body}
while [ $# -gt 0 ]; do
  if [ "$1" = "--out-dir" ]; then mkdir -p "$2"; touch "$2/tiny_bg.wasm"; fi
  shift
done
"""


def fake(name: str, version: str, body: str = "") -> bytes:
    return FAKE_BINDGEN.format(name=name, version=version, body=body).encode()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseServer]:
    monkeypatch.setattr(prebuilt, "host_target", lambda: TARGET)
    releases = ReleaseServer()
    with serve(releases) as running:
        monkeypatch.setenv(prebuilt.RELEASES_URL_ENV, running.url)
        yield running


def test_asset_names_and_urls_follow_upstream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prebuilt.RELEASES_URL_ENV)
    old = prebuilt.bindgen_asset("0.2.87", ("wasm-bindgen",), target=TARGET)
    assert old is not None and old.checksum_url is None  # checksums from 0.2.88 (upstream #3605)
    assert old.url == ("https://github.com/rustwasm/wasm-bindgen/releases/download/0.2.87/"
                       "wasm-bindgen-0.2.87-x86_64-unknown-linux-musl.tar.gz")
    mid = prebuilt.bindgen_asset("0.2.99", ("wasm-bindgen",), target=TARGET)
    assert mid is not None and mid.checksum_url == mid.url + ".sha256sum"
    assert mid.top == "wasm-bindgen-0.2.99-x86_64-unknown-linux-musl"
    assert "/rustwasm/" in mid.url and "/rustwasm/" in str(prebuilt.bindgen_asset("0.2.100", (), target=TARGET))
    new = prebuilt.bindgen_asset("0.2.101", ("wasm-bindgen",), target=TARGET)
    assert new is not None and new.url.startswith("https://github.com/wasm-bindgen/wasm-bindgen/releases/download/")
    pack = prebuilt.wasm_pack_asset("0.13.1", target=TARGET)
    assert pack is not None and pack.checksum_url is None and pack.url == (
        "https://github.com/rustwasm/wasm-pack/releases/download/v0.13.1/"
        "wasm-pack-v0.13.1-x86_64-unknown-linux-musl.tar.gz")
    monkeypatch.setenv(prebuilt.RELEASES_URL_ENV, "http://mirror.example/gh/")
    assert str(prebuilt.wasm_pack_asset("0.13.1", target=TARGET).url).startswith(  # type: ignore[union-attr]
        "http://mirror.example/gh/rustwasm/wasm-pack/")


def test_no_published_binary_for_another_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prebuilt.platform, "machine", lambda: "riscv64")
    assert prebuilt.bindgen_asset("0.2.99", ("wasm-bindgen",)) is None


def test_a_published_cli_is_installed_without_building(server: ReleaseServer, fake_cargo: Path) -> None:
    server.add_bindgen("0.2.99", {"wasm-bindgen": fake("wasm-bindgen", "0.2.99"),
                                  "wasm-bindgen-test-runner": b"#!/bin/sh\n", "wasm2es6js": b"#!/bin/sh\n"})
    said: list[str] = []
    tool = toolcache.bindgen_cli("0.2.99", progress=said.append)
    assert tool.origin == "prebuilt" and tool.version == "0.2.99" and tool.build_seconds == 0.0
    assert fake_cargo.read_text() == ""  # cargo never ran
    assert sorted(p.name for p in tool.bin_dir.iterdir()) == ["wasm-bindgen"]
    manifest = json.loads((tool.bin_dir.parent / "tool.json").read_text())
    assert manifest["origin"] == "prebuilt" and len(manifest["download"]["sha256"]) == 64
    assert manifest["download"]["checksum"] is True
    assert [r.rsplit("/", 1)[1] for r in server.requests] == [
        "wasm-bindgen-0.2.99-x86_64-unknown-linux-musl.tar.gz",
        "wasm-bindgen-0.2.99-x86_64-unknown-linux-musl.tar.gz.sha256sum"]
    assert tool.built_with.startswith("prebuilt (http://127.0.0.1:")
    assert toolcache.bindgen_cli("0.2.99").origin == "prebuilt"  # cached: no second download
    assert len(server.requests) == 2
    assert not list((paths.tools_dir() / "wasm-bindgen").glob(".staging-*"))


def test_test_runner_and_wasm_pack_come_prebuilt(server: ReleaseServer, fake_cargo: Path) -> None:
    server.add_bindgen("0.2.99", {"wasm-bindgen": fake("wasm-bindgen", "0.2.99"),
                                  "wasm-bindgen-test-runner": b"#!/bin/sh\n"})
    server.add_wasm_pack("0.13.1", fake("wasm-pack", "0.13.1"))
    runner = toolcache.bindgen_test_runner("0.2.99")
    assert runner.origin == "prebuilt"
    assert {p.name for p in runner.bin_dir.iterdir()} == {"wasm-bindgen", "wasm-bindgen-test-runner"}
    assert toolcache.wasm_pack("0.13.1").origin == "prebuilt"
    assert fake_cargo.read_text() == ""


@pytest.mark.parametrize(("case", "why"), [
    ("corrupt", "does not match its published sha256"),
    ("wrong-version", "reports version '0.2.98', not 0.2.97"),
    ("missing", "answered HTTP 404"),
    ("no-binary", "has no wasm-bindgen-0.2.97-x86_64-unknown-linux-musl/wasm-bindgen"),
    ("broken-binary", "cannot process a tiny module"),
    ("not-a-tarball", "is not a readable tar.gz"),
])
def test_an_unusable_binary_falls_back_to_a_build_and_says_so_once(
        server: ReleaseServer, fake_cargo: Path, case: str, why: str) -> None:
    good = fake("wasm-bindgen", "0.2.97")
    if case == "corrupt":
        server.add_bindgen("0.2.97", {"wasm-bindgen": good}, checksum_of=b"something else")
    elif case == "wrong-version":
        server.add_bindgen("0.2.98", {"wasm-bindgen": fake("wasm-bindgen", "0.2.98")}, served_as="0.2.97")
    elif case == "no-binary":
        server.add_bindgen("0.2.97", {"wasm2es6js": good})
    elif case == "broken-binary":
        server.add_bindgen("0.2.97", {"wasm-bindgen": fake("wasm-bindgen", "0.2.97", "echo boom >&2; exit 3")})
    elif case == "not-a-tarball":
        server.add_bindgen("0.2.97", {"wasm-bindgen": good})
        url = next(p for p in server.assets if p.endswith(".tar.gz"))
        server.assets[url] = b"not gzip at all"  # with a checksum that matches it: only the unpacking fails
        server.assets[url + ".sha256sum"] = hashlib.sha256(b"not gzip at all").hexdigest().encode()
    said: list[str] = []
    tool = toolcache.bindgen_cli("0.2.97", progress=said.append)
    assert tool.origin == "built" and tool.version == "0.2.97"
    assert len(fake_cargo.read_text().splitlines()) == 1  # one source build
    fallbacks = [line for line in said if "building from source instead" in line]
    assert len(fallbacks) == 1 and why in fallbacks[0], said
    assert not list((paths.tools_dir() / "wasm-bindgen").glob(".staging-*"))


def test_a_slow_download_falls_back(server: ReleaseServer, fake_cargo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.add_bindgen("0.2.97", {"wasm-bindgen": fake("wasm-bindgen", "0.2.97"), "pad": os.urandom(300_000)})
    server.delay = 0.3
    monkeypatch.setenv(prebuilt.DEADLINE_ENV, "0.5")
    said: list[str] = []
    assert toolcache.bindgen_cli("0.2.97", progress=said.append).origin == "built"
    assert any("took longer than 0.5 s" in line for line in said), said


def test_unreachable_mirror_falls_back(fake_cargo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prebuilt, "host_target", lambda: TARGET)  # the conftest's port 9 refuses
    said: list[str] = []
    assert toolcache.bindgen_cli("0.2.97", progress=said.append).origin == "built"
    assert any("cannot download" in line for line in said), said


def test_prebuilt_only_reports_instead_of_building(server: ReleaseServer, fake_cargo: Path) -> None:
    server.add_bindgen("0.2.97", {"wasm-bindgen": fake("wasm-bindgen", "0.2.97")}, checksum_of=b"other")
    toolcache.set_tool_source(ToolSource.PREBUILT)
    with pytest.raises(ProvisionError, match=r"no usable prebuilt wasm-bindgen 0\.2\.97: .*sha256"):
        toolcache.bindgen_cli("0.2.97")
    assert fake_cargo.read_text() == ""
    assert not (paths.tools_dir() / "wasm-bindgen" / "0.2.97").exists()


def test_source_only_never_downloads(server: ReleaseServer, fake_cargo: Path) -> None:
    server.add_bindgen("0.2.97", {"wasm-bindgen": fake("wasm-bindgen", "0.2.97")})
    toolcache.set_tool_source(ToolSource.SOURCE)
    assert toolcache.bindgen_cli("0.2.97").origin == "built"
    assert server.requests == []
