"""The rustup dist server format, the stable release list, nightly date ranges and Debian's archive suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import ProvisionError, UsageError
from wasm_bisect.domain.grid import parse_rustc_axis
from wasm_bisect.toolchains import debian_apt, rustup_dist
from wasm_bisect.toolchains.debian_apt import MadisonRow

# The shape of a real channel manifest (dist/channel-rust-stable.toml of 2026-10-15, cut down by hand; read
# once from static.rust-lang.org: manifest-version 2, [pkg.*.target.*] with url/hash and xz_url/xz_hash).
REAL_SHAPE = """
manifest-version = "2"
date = "2026-10-15"
[pkg.rust]
version = "1.99.1 (58cf8f9c3 2026-10-13)"
[pkg.rust.target.x86_64-unknown-linux-gnu]
available = true
url = "https://static.rust-lang.org/dist/2026-10-15/rust-1.99.1-x86_64-unknown-linux-gnu.tar.gz"
hash = "aa"
[[pkg.rust.target.x86_64-unknown-linux-gnu.components]]
pkg = "rustc"
target = "x86_64-unknown-linux-gnu"
[pkg.rust-std]
version = "1.99.1 (58cf8f9c3 2026-10-13)"
[pkg.rust-std.target.wasm32-unknown-unknown]
available = true
url = "https://static.rust-lang.org/dist/2026-10-15/rust-std-1.99.1-wasm32-unknown-unknown.tar.gz"
hash = "fdc8"
xz_url = "https://static.rust-lang.org/dist/2026-10-15/rust-std-1.99.1-wasm32-unknown-unknown.tar.xz"
xz_hash = "5f62"
[pkg.rust-std.target.wasm32-wasip1]
available = false
[pkg.rust-src]
version = "1.99.1 (58cf8f9c3 2026-10-13)"
[pkg.rust-src.target."*"]
available = true
xz_url = "https://static.rust-lang.org/dist/2026-10-15/rust-src-1.99.1.tar.xz"
xz_hash = "bb"
[profiles]
minimal = ["rustc", "cargo", "rust-std", "rust-mingw"]
[renames.clippy]
to = "clippy-preview"
"""


def test_channel_manifest_is_read_like_rustup_reads_it() -> None:
    manifest = rustup_dist.parse_channel_manifest(REAL_SHAPE)
    assert manifest.release == "1.99.1" and manifest.date == "2026-10-15"
    assert manifest.has_wasm32 and manifest.has_rust_src
    assert manifest.std_targets == frozenset({"wasm32-unknown-unknown"})  # not available: not offered
    assert manifest.minimal[:3] == ("rustc", "cargo", "rust-std")
    no_wasm = REAL_SHAPE.replace('[pkg.rust-std.target.wasm32-unknown-unknown]\navailable = true',
                                 '[pkg.rust-std.target.wasm32-unknown-unknown]\navailable = false')
    assert not rustup_dist.parse_channel_manifest(no_wasm).has_wasm32
    with pytest.raises(ProvisionError, match="v2"):
        rustup_dist.parse_channel_manifest('manifest-version = "1"\n')
    with pytest.raises(ProvisionError, match="not TOML"):
        rustup_dist.parse_channel_manifest("<html>")


def test_manifest_urls_follow_rustup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUSTUP_DIST_SERVER", "http://127.0.0.1:8080/")
    assert rustup_dist.manifest_url("1.79.0") == "http://127.0.0.1:8080/dist/channel-rust-1.79.0.toml"
    assert rustup_dist.manifest_url("nightly-2024-02-01") == (
        "http://127.0.0.1:8080/dist/2024-02-01/channel-rust-nightly.toml")
    monkeypatch.delenv("RUSTUP_DIST_SERVER")
    assert rustup_dist.manifest_url("stable") == "https://static.rust-lang.org/dist/channel-rust-stable.toml"
    with pytest.raises(ProvisionError, match="http"):
        rustup_dist.fetch_text("file:///etc/passwd")


def test_bundled_stable_list_and_refresh_merge() -> None:
    bundled = rustup_dist.bundled_stable()
    assert bundled[0] == "1.0.0" and {"1.77.2", "1.80.1", "1.85.1", "1.99.1"} <= set(bundled)
    assert bundled == sorted(bundled, key=versions.rust_release)
    assert rustup_dist.merge_current(["1.97.0", "1.97.1"], "1.100.0")[-4:] == ["1.97.1", "1.98.0", "1.99.0", "1.100.0"]
    assert rustup_dist.merge_current(["1.97.0"], "1.96.0") == ["1.96.0", "1.97.0"]


def test_stable_releases_offline_fall_back_to_the_bundled_list(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, *, timeout: float = 0) -> str:
        raise OSError("network unreachable")

    notes: list[str] = []
    monkeypatch.setattr(rustup_dist, "fetch_text", offline)
    monkeypatch.setattr(rustup_dist, "_unreachable", set())
    assert rustup_dist.stable_releases(notice=notes.append) == rustup_dist.bundled_stable()
    assert "unreachable" in notes[0]


def test_stable_releases_refresh_is_cached(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def answer(url: str, *, timeout: float = 0) -> str:
        calls.append(url)
        return REAL_SHAPE.replace("1.99.1", "1.101.0")

    monkeypatch.setattr(rustup_dist, "fetch_text", answer)
    monkeypatch.setattr(rustup_dist, "_unreachable", set())
    first = rustup_dist.stable_releases()
    assert first[-3:] == ["1.99.1", "1.100.0", "1.101.0"]
    assert rustup_dist.stable_releases() == first and len(calls) == 1  # a day's cache


def test_rustup_ranges_expand_stable_and_nightly_and_mix() -> None:
    stable = rustup_dist.bundled_stable()
    picked = parse_rustc_axis("rustup:1.76.0..1.78.0,rustup:nightly-2024-02-28..nightly-2024-03-01",
                              available={"rustup": stable})
    # One axis in rustc order: a nightly sits before the stable release it became (1.78.0 branched in March).
    assert [s.version for s in picked] == ["1.76.0", "1.77.0", "1.77.1", "1.77.2", "nightly-2024-02-28",
                                           "nightly-2024-02-29", "nightly-2024-03-01", "1.78.0"]
    assert versions.nightly_range("nightly-2024-01-30..nightly-2024-02-02") == [
        "nightly-2024-01-30", "nightly-2024-01-31", "nightly-2024-02-01", "nightly-2024-02-02"]
    assert versions.nightly_range("1.70.0..1.71.0") is None
    with pytest.raises(UsageError, match="reversed"):
        versions.nightly_range("nightly-2024-02-02..nightly-2024-02-01")
    with pytest.raises(UsageError, match="at most"):
        versions.nightly_range("nightly-2020-01-01..nightly-2024-01-01")


def test_debian_releases_that_need_a_newer_glibc_are_named_with_the_reason() -> None:
    rows = [MadisonRow(package="rustc", version="1.97.1+dfsg1-1", origin="http://deb.debian.org/debian sid/main"),
            MadisonRow(package="rustc", version="1.48.0+dfsg1-2",
                       origin="http://deb.debian.org/debian bullseye/main amd64 Packages")]
    releases = debian_apt.releases_from_madison(rows)
    assert releases["1.48.0"].suite == "bullseye" and releases["1.97.1"].suite == "sid"
    old = [{"Package": "libstd-rust-1.48", "Depends": "libc6 (>= 2.29), libllvm11"}]
    new = [{"Package": "libstd-rust-1.97", "Depends": "libc6 (>= 2.39), libllvm21"}]
    assert debian_apt.runs_with(old, "2.36-9+deb12u14") is None
    assert debian_apt.runs_with(new, "2.36-9+deb12u14") == "needs glibc 2.39 (this machine has 2.36)"
    assert debian_apt.runs_with([{"Depends": "gcc"}], "2.36-9") is None


def test_private_apt_config_never_names_etc_apt(tmp_path: Path) -> None:
    conf = debian_apt.private_config(tmp_path / "apt", "amd64")
    text = conf.read_text()
    assert "/etc/apt" not in text and 'Dir::Etc::SourceList "/dev/null"' in text
    sources = (tmp_path / "apt" / "sources.list.d" / "debian.sources").read_text()
    for suite in ("bullseye", "bookworm", "trixie-backports", "sid", "experimental", "bookworm-security"):
        assert suite in sources
    assert debian_apt.private_config(tmp_path / "apt", "amd64").read_text() == text  # idempotent


def test_rustc_next_step_narrows_a_rustc_boundary() -> None:
    from wasm_bisect.domain.reproduce import last_nightly_of, rustc_next_step

    # 1.81.0 was 1.81.0-nightly from 2024-06-06 to 2024-07-17 (master moved on a week before 1.80.0, 2024-07-25).
    assert str(last_nightly_of(81)) == "2024-07-17" and str(last_nightly_of(80)) == "2024-06-05"
    assert rustc_next_step("rustup:1.80.1", "rustup:1.81.0") == (
        "--rustc rustup:nightly-2024-06-05..nightly-2024-07-17 (the nightlies that became 1.81.0)")
    assert rustc_next_step("debian:1.63.0", "debian:1.96.0").startswith("--rustc rustup:1.63.0..1.96.0")
    handoff = rustc_next_step("rustup:nightly-2024-02-03", "rustup:nightly-2024-02-04")
    assert handoff is not None and handoff.startswith(
        "cargo bisect-rustc --start 2024-02-03 --end 2024-02-04 --target wasm32-unknown-unknown")
    assert rustc_next_step("rustup:nightly-2024-02-01", "rustup:nightly-2024-02-04") is None  # refine the axis first
    assert rustc_next_step("rustup:1.80.0", "rustup:1.80.1") is None  # a patch release: backports
    assert rustc_next_step("path:/opt/rust", "rustup:1.81.0") is None
    assert rustc_next_step(None, "rustup:1.81.0") is None
