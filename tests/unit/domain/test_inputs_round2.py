"""Issue 13 in the domain layer: version text is ASCII, syntax is checked offline, a path is never a range,
shard counts are bounded by what GitHub accepts."""

from __future__ import annotations

import pytest

from wasm_bisect.domain import grid, versions
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import ToolchainSpec


@pytest.mark.parametrize("text", ["\u0660.\u0662.\u0669\u0669", "0.2.\uff19\uff19", "0.2.99\u2003x", "\U0001d7ce.2.99"])
def test_bindgen_versions_are_ascii(text: str) -> None:
    with pytest.raises(UsageError):
        versions.parse_bindgen(text)
    assert not versions.is_exact_version(text)
    assert not versions.is_exact_version("0.2.99\n")  # exact means exact: `$` would have let this through


@pytest.mark.parametrize("text", ["rustup:\uff11.\uff18\uff12.\uff10", "rustup:1.82.0\u00a0", "debian:1.\uff196.0",
                                  "rustup:nightly-\u0662\u0660\u0662\u0664-01-01",
                                  "rustup:../evil", "rustup:a b", "rustup:-x"])
def test_toolchain_specs_are_ascii_names(text: str) -> None:
    with pytest.raises(UsageError):
        ToolchainSpec.parse(text)


def test_path_specs_may_hold_any_character_and_dots() -> None:
    assert ToolchainSpec.parse("path:/home/jos\u00e9/rust..old").version == "/home/jos\u00e9/rust..old"
    with pytest.raises(UsageError, match="NUL"):
        ToolchainSpec.parse("path:/a\0b")


@pytest.mark.parametrize(("text", "needle"), [
    ("0.2.99..0.2.92", "reversed"), ("0.2.92...0.2.99", "ill-formed"), ("0.2.92,,0.2.99", "empty item"),
    ("0.2.92..0.2.\u0669\u0669", "non-ASCII"), ("latest", "cannot read"), ("..", "ill-formed"), ("", "empty"),
])
def test_bindgen_syntax_is_checked_without_the_release_list(text: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        versions.check_bindgen_selection(text)


def test_unknown_versions_are_only_found_with_the_list() -> None:
    versions.check_bindgen_selection("0.2.92..0.2.1000")  # well-formed: the release list decides later
    with pytest.raises(UsageError, match=r"unknown wasm-bindgen version '0\.2\.1000'"):
        versions.select_bindgen("0.2.92..0.2.1000")
    with pytest.raises(UsageError, match="items"):
        versions.check_bindgen_selection(",".join(["0.2.99"] * 2000))


def test_a_path_is_never_a_range() -> None:
    items = grid.rustc_items("path:/opt/rust..old,path:../x,debian:1.63.0..1.96.0")
    assert [(i.provider, i.rest, i.is_range) for i in items] == [
        ("path", "/opt/rust..old", False), ("path", "../x", False), ("debian", "1.63.0..1.96.0", True)]
    specs = grid.parse_rustc_axis("path:/opt/rust..old,/other..dir")  # the first prefix applies to the second
    assert [str(s) for s in specs] == ["path:/opt/rust..old", "path:/other..dir"]
    with pytest.raises(UsageError, match="non-ASCII"):
        grid.rustc_items("1.63.0..\u0661.96.0")
    with pytest.raises(UsageError, match="reversed rustc range"):
        grid.rustc_items("debian:1.96.0..1.63.0")


@pytest.mark.parametrize(("spec", "needle"), [
    ("\u0661/\u0662", "is not K/N"), ("1_0/20", "is not K/N"), (" 1 / 2", "is not K/N"), ("3/2", "1 <= K <= N"),
    ("1/257", "between 1 and 256"), ("1/" + "9" * 50, "is not K/N"), ("0/0", "1 <= K <= N"),
])
def test_shards_are_ascii_and_bounded(spec: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        grid.parse_shard(spec)
    assert grid.parse_shard("256/256") == (256, 256)
    with pytest.raises(UsageError, match="between 1 and 256"):
        grid.check_shard_count(257)


def test_points_are_ascii() -> None:
    with pytest.raises(UsageError, match="non-ASCII"):
        grid.parse_point("debian:1.63.0@0.2.\u0669\u0662", "--good")
    assert grid.parse_point("path:/jos\u00e9@0.2.92", "--good") == ("path:/jos\u00e9", "0.2.92")
