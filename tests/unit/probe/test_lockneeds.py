"""Which rustc a project's Cargo.lock needs (pure parts; the index is fed from text, never fetched here)."""

from wasm_bisect.probe import lockneeds

LOCK = """version = 4

[[package]]
name = "bumpalo"
version = "3.19.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "log"
version = "0.4.28"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "wasm-bindgen"
version = "0.2.99"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "app"
version = "0.1.0"
"""
BUMPALO = ('{"name":"bumpalo","vers":"3.18.0","rust_version":"1.71.1"}\n'
           '{"name":"bumpalo","vers":"3.19.0","rust_version":"1.71.1"}\n')
LOG = '{"name":"log","vers":"0.4.28","rust_version":"1.61.0"}\n'


def test_registry_packages_leave_out_the_family_and_local_crates() -> None:
    assert lockneeds.registry_packages(LOCK) == [("bumpalo", "3.19.0"), ("log", "0.4.28")]
    assert lockneeds.registry_packages("not toml [") == []


def test_the_highest_declared_rust_version_wins_and_rules_out_older_rows() -> None:
    declared = {("bumpalo", "3.19.0"): lockneeds.rust_version_of(BUMPALO, "3.19.0"),
                ("log", "0.4.28"): lockneeds.rust_version_of(LOG, "0.4.28"),
                ("other", "1.0.0"): lockneeds.rust_version_of(LOG, "1.0.0")}
    need = lockneeds.need_of(declared)
    assert need is not None and need.version == "1.71.1" and need.packages == ("bumpalo 3.19.0",)
    assert need.rules_out("1.63.0") and need.rules_out("1.71.0") and not need.rules_out("1.71.1")
    assert not need.rules_out("1.96.0") and not need.rules_out("nightly")
    assert need.describe() == "the project's Cargo.lock needs rustc >= 1.71.1 (bumpalo 3.19.0)"
    assert lockneeds.need_of({("x", "1"): None}) is None


def test_index_paths_follow_cargo() -> None:
    assert [lockneeds.index_path(n) for n in ("a", "ab", "abc", "Serde")] == ["1/a", "2/ab", "3/a/abc", "se/rd/serde"]


def test_offline_means_unknown_not_a_skip(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(lockneeds, "_fetch_index", lambda name, deadline: None)
    assert lockneeds.lock_need(LOCK) is None
