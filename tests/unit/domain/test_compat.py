"""The compatibility pre-filter: which pairs are skipped (never blamed), and why."""

from __future__ import annotations

import itertools

import pytest

from wasm_bisect.domain.compat import (
    CLI_RUST_VERSION,
    KNOWN_YANKED,
    LIB_RUST_VERSION,
    cargo_reaches_crates_io,
    cli_incompatibility,
    cli_rust_version,
    incompatibility,
    lib_rust_version,
)
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.versions import bundled_releases, bundled_yanked


def test_reason_reads_as_one_line() -> None:
    assert incompatibility("1.63.0", "0.2.118") == (
        "wasm-bindgen 0.2.118 needs rustc >= 1.77 (rust-version); rustc 1.63.0 is older"
    )


@pytest.mark.parametrize(
    ("bindgen", "rust"),
    [
        ("0.2.50", None),
        ("0.2.86", None),
        ("0.2.87", "1.56"),
        ("0.2.89", "1.57"),
        ("0.2.105", "1.57"),
        ("0.2.106", "1.71"),
        ("0.2.117", "1.71"),
        ("0.2.118", "1.77"),
        ("0.2.128", "1.77"),
        ("0.2.129", "1.81"),
        ("0.2.999", "1.81"),
    ],
)
def test_library_rust_version_table(bindgen: str, rust: str | None) -> None:
    assert lib_rust_version(bindgen) == rust


@pytest.mark.parametrize(
    ("bindgen", "rust"),
    [
        ("0.2.86", None),
        ("0.2.87", "1.56"),
        ("0.2.92", "1.57"),
        ("0.2.93", "1.76"),
        ("0.2.100", "1.76"),
        ("0.2.101", "1.82"),
        ("0.2.117", "1.82"),
        ("0.2.118", "1.86"),
        ("0.2.130", "1.86"),
    ],
)
def test_cli_rust_version_table(bindgen: str, rust: str | None) -> None:
    assert cli_rust_version(bindgen) == rust


def test_tables_agree_with_the_bundled_index() -> None:
    for release in bundled_releases():
        assert lib_rust_version(release.version) == release.rust_version, release.version
        if release.cli_rust_version or release.version in ("0.2.86", "0.2.50"):
            assert cli_rust_version(release.version) == release.cli_rust_version, release.version
    assert bundled_yanked() >= KNOWN_YANKED


def test_tables_are_contiguous() -> None:
    from packaging.version import Version

    for table in (LIB_RUST_VERSION, CLI_RUST_VERSION):
        assert table[-1].last is None
        for before, after in itertools.pairwise(table):
            assert before.last is not None
            assert Version(after.first).release == (
                *Version(before.last).release[:2],
                Version(before.last).release[2] + 1,
            )


@pytest.mark.parametrize(
    ("rustc", "bindgen"),
    [
        ("1.55.0", "0.2.87"),
        ("1.56.1", "0.2.88"),
        ("1.70.0", "0.2.106"),
        ("1.76.0", "0.2.118"),
        ("1.80.1", "0.2.129"),
    ],
)
def test_too_old_rustc_is_skipped(rustc: str, bindgen: str) -> None:
    reason = incompatibility(rustc, bindgen, allow_yanked=True)
    assert reason is not None and f"rustc {rustc} is older" in reason


@pytest.mark.parametrize(
    ("rustc", "bindgen"),
    [
        ("1.56.0", "0.2.87"),
        ("1.57.0", "0.2.89"),
        ("1.71", "0.2.106"),
        ("1.77.0", "0.2.118"),
        ("1.63.0", "0.2.86"),
        ("1.85.0", "0.2.50"),
        ("1.96.0", "0.2.89"),
        ("1.77.0-beta.2", "0.2.118"),
    ],
)
def test_compatible_pairs(rustc: str, bindgen: str) -> None:
    assert incompatibility(rustc, bindgen) is None


def test_new_rustc_refuses_old_bindgen() -> None:
    assert incompatibility("1.86.0", "0.2.87") == (
        "rustc 1.86.0 refuses wasm-bindgen 0.2.87: rustc >= 1.86 needs wasm-bindgen >= 0.2.88"
    )
    assert incompatibility("debian:1.96.0", "0.2.50") is not None
    assert incompatibility("1.85.1", "0.2.87") is None


def test_yanked_versions() -> None:
    assert (
        incompatibility("1.96.0", "0.2.88")
        == "wasm-bindgen 0.2.88 is yanked (allow yanked versions to try it)"
    )
    assert incompatibility("1.96.0", "0.2.94") is not None
    assert incompatibility("1.96.0", "0.2.88", allow_yanked=True) is None
    assert incompatibility("1.96.0", "0.2.99", yanked={"0.2.99"}) is not None
    assert incompatibility("1.96.0", "0.2.88", yanked=set()) is None
    assert incompatibility("stable", "0.2.94") is not None  # the one rule that needs no rustc version


def test_channels_and_dated_toolchains() -> None:
    assert incompatibility("stable", "0.2.130") is None  # unknown version: let the build decide
    assert incompatibility("nightly-2024-08-01", "0.2.118") is None  # a 1.82 nightly
    reason = incompatibility("nightly-2023-01-01", "0.2.118")
    assert reason is not None and "estimated from its date" in reason


def test_cli_incompatibility() -> None:
    assert cli_incompatibility("1.85.0", "0.2.118") == (
        "wasm-bindgen-cli 0.2.118 needs rustc >= 1.86 to install; host rustc 1.85.0 is older"
    )
    assert cli_incompatibility("1.96.0", "0.2.130") is None
    assert cli_incompatibility("nightly", "0.2.130") is None
    # rustc >= 1.86 refuses to build a CLI below 0.2.88 too (measured: 0.2.87 with rustc 1.95).
    assert cli_incompatibility("1.95.0", "0.2.87") == (
        "host rustc 1.95.0 refuses to build wasm-bindgen-cli 0.2.87: rustc >= 1.86 needs wasm-bindgen >= 0.2.88")
    assert cli_incompatibility("1.85.0", "0.2.84") is None
    assert cli_incompatibility("1.95.0", "0.2.88") is None


def test_cargo_reaches_crates_io_from_the_sparse_index_on() -> None:
    assert not cargo_reaches_crates_io("0.66.0")  # Debian's cargo next to rustc 1.63 (Rust 1.65)
    assert not cargo_reaches_crates_io("1.67.1")
    assert cargo_reaches_crates_io("1.68.0") and cargo_reaches_crates_io("1.85.0")


def test_malformed_input_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        incompatibility("1.96.0", "0.2")
    with pytest.raises(UsageError):
        incompatibility("one.two", "0.2.99")
