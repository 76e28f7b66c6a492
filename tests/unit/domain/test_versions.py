"""Version parsing, ordering and selection, and the bundled wasm-bindgen release list."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.versions import (
    Release,
    bundled_releases,
    bundled_versions,
    bundled_yanked,
    is_release,
    merge_cli,
    parse_bindgen,
    parse_bindgen_version,
    parse_rustc,
    parse_sparse_index,
    releases_from_toml,
    releases_to_toml,
    rustc_key,
    select_bindgen,
    select_rustc,
    sort_bindgen,
    sort_rustc,
    stable_release_date,
)

RELEASES = [
    Release(version=f"0.2.{n}", yanked=n in (88, 94), rust_version="1.57" if n >= 88 else None)
    for n in range(84, 101)
]


def usage_error(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(UsageError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    line = caught.value.one_line()
    assert "\n" not in line
    return line


# --- rustc ----------------------------------------------------------------------------------------


def test_stable_release_dates_follow_the_six_week_train() -> None:
    assert stable_release_date(63) == dt.date(2022, 8, 11)
    assert stable_release_date(77) == dt.date(2024, 3, 21)
    assert stable_release_date(82) == dt.date(2024, 10, 17)
    assert stable_release_date(86) == dt.date(2025, 4, 3)


def test_rustc_ordering_interleaves_numbered_dated_and_channels() -> None:
    names = [
        "nightly",
        "1.82.0",
        "beta",
        "nightly-2024-08-01",
        "1.9.0",
        "stable",
        "1.80.1",
        "beta-2024-09-01",
        "1.10.0",
        "1.63",
        "debian:1.96.0",
        "1.82.0-beta.3",
    ]
    assert sort_rustc(names) == [
        "1.9.0",
        "1.10.0",
        "1.63",
        "1.80.1",
        "nightly-2024-08-01",  # 1.82 nightly at the time
        "beta-2024-09-01",  # 1.82 beta
        "1.82.0-beta.3",
        "1.82.0",
        "debian:1.96.0",
        "stable",
        "beta",
        "nightly",  # bare channels cannot be placed: last
    ]


def test_rustc_details() -> None:
    dated = parse_rustc("nightly-2024-08-01")
    assert dated.channel == "nightly" and dated.estimated and dated.feature_version() == (1, 82, 0)
    assert dated.date == dt.date(2024, 8, 1) and not dated.numbered
    assert parse_rustc("1.63").feature_version() == (1, 63, 0)
    assert parse_rustc("rustup:1.77.2").feature_version() == (1, 77, 2)
    assert parse_rustc("stable").feature_version() is None
    assert str(parse_rustc(" 1.63.0 ")) == "1.63.0"
    assert rustc_key("1.63") == rustc_key("1.63.0")
    assert is_release("debian:1.96.0") and not is_release("nightly") and not is_release("path:/opt/rust")
    assert not is_release("garbage")


@pytest.mark.parametrize("text", ["1.x", "nightly-2024-13-01", "1", "1.2.3.4", "nightly-24-01-01", ""])
def test_rustc_ill_formed(text: str) -> None:
    line = usage_error(parse_rustc, text)
    assert repr(text.strip()) in line and "write" in line


def test_rustc_path_cannot_be_ordered() -> None:
    assert "name its version" in usage_error(parse_rustc, "path:/opt/rust")


@settings(max_examples=300, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(1, 2), st.integers(0, 120), st.integers(0, 9)), min_size=1, max_size=20)
)
def test_rustc_numbered_order_matches_tuples(parts: list[tuple[int, int, int]]) -> None:
    names = [".".join(map(str, p)) for p in parts]
    assert [tuple(map(int, n.split("."))) for n in sort_rustc(names)] == sorted(parts)


# --- wasm-bindgen ---------------------------------------------------------------------------------


def test_bindgen_versions() -> None:
    assert sort_bindgen(["0.2.100", "0.2.9", "0.2.87"]) == ["0.2.9", "0.2.87", "0.2.100"]
    assert parse_bindgen("0.2.99") < parse_bindgen("0.2.100")
    assert parse_bindgen_version(" 0.2.99 ") == "0.2.99"
    for bad in ["0.2", "0.2.x", "v0.2.99", "0.2.99-alpha", "0.2.99 0.2.100"]:
        line = usage_error(parse_bindgen, bad)
        assert repr(bad.strip()) in line and "X.Y.Z" in line


def test_select_range_is_inclusive_and_leaves_out_yanked() -> None:
    picked = select_bindgen("0.2.87..0.2.100", releases=RELEASES)
    assert picked[0] == "0.2.87" and picked[-1] == "0.2.100"
    assert "0.2.88" not in picked and "0.2.94" not in picked and len(picked) == 12
    assert len(select_bindgen("0.2.87..0.2.100", releases=RELEASES, include_yanked=True)) == 14
    assert select_bindgen("0.2.99..0.2.99", releases=RELEASES) == ["0.2.99"]


def test_select_lists_singles_and_open_ends() -> None:
    assert select_bindgen("0.2.99,0.2.92", releases=RELEASES) == ["0.2.92", "0.2.99"]
    assert select_bindgen(" 0.2.99 ", releases=RELEASES) == ["0.2.99"]
    assert select_bindgen("0.2.88", releases=RELEASES) == ["0.2.88"]  # named alone: kept
    assert select_bindgen("0.2.98..", releases=RELEASES) == ["0.2.98", "0.2.99", "0.2.100"]
    assert select_bindgen("..0.2.85", releases=RELEASES) == ["0.2.84", "0.2.85"]
    assert select_bindgen("0.2.84..0.2.85,0.2.85,0.2.99", releases=RELEASES) == ["0.2.84", "0.2.85", "0.2.99"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("0.2.100..0.2.87", ["reversed", "0.2.87..0.2.100"]),
        ("0.2.87..0.2.119", ["unknown", "'0.2.119'", "known versions are 0.2.84..0.2.100"]),
        ("0.2.87...0.2.90", ["ill-formed", "'0.2.87...0.2.90'"]),
        ("0.2.87..0.2.90..0.2.95", ["ill-formed", "0.2.87..0.2.90..0.2.95"]),
        ("0.2.x", ["'0.2.x'", "X.Y.Z"]),
        ("", ["empty", "0.2.87..0.2.100"]),
        ("0.2.92,", ["empty item", "'0.2.92,'"]),
        ("..", ["ill-formed"]),
        ("0.2.88..0.2.88", ["empty", "allow yanked"]),
    ],
)
def test_select_errors_are_one_line_and_name_the_token(spec: str, words: list[str]) -> None:
    line = usage_error(select_bindgen, spec, releases=RELEASES)
    for word in words:
        assert word in line


def test_select_rustc() -> None:
    known = ["1.63.0", "1.85.0", "1.96.0", "nightly-2027-01-01"]
    assert select_rustc("1.63.0..1.96.0", known) == ["1.63.0", "1.85.0", "1.96.0"]
    assert select_rustc("1.85.0..", known) == ["1.85.0", "1.96.0", "nightly-2027-01-01"]
    assert select_rustc("1.96.0,1.63.0") == ["1.63.0", "1.96.0"]
    assert select_rustc("1.63.0..1.66.0") == ["1.63.0", "1.64.0", "1.65.0", "1.66.0"]
    assert select_rustc("1.63.2..1.64.1") == ["1.63.2", "1.64.1"]
    assert "reversed" in usage_error(select_rustc, "1.70.0..1.63.0")
    assert "numbered releases" in usage_error(select_rustc, "nightly..1.70.0")
    assert "unknown rustc version '1.70.0'" in usage_error(select_rustc, "1.63.0..1.70.0", known)
    assert "empty item" in usage_error(select_rustc, "1.63.0,,1.64.0")


# --- the release list -----------------------------------------------------------------------------

INDEX = (
    "\n".join(
        json.dumps(
            {"name": "wasm-bindgen", "vers": v, "deps": [], "yanked": y, **({"rust_version": r} if r else {})}
        )
        for v, y, r in [("0.2.100", False, "1.57"), ("0.2.9", False, None), ("0.2.94", True, "1.57")]
    )
    + "\n\n"
)


def test_parse_sparse_index_sorts_and_reads_flags() -> None:
    releases = parse_sparse_index(INDEX)
    assert [r.version for r in releases] == ["0.2.9", "0.2.94", "0.2.100"]
    assert releases[1].yanked and releases[1].unusable and releases[0].rust_version is None
    assert releases[2].rust_version == "1.57"
    assert "line 2" in usage_error(parse_sparse_index, '{"vers": "0.2.1"}\nnot json')


def test_merge_cli_and_toml_round_trip() -> None:
    lib = parse_sparse_index(INDEX)
    cli = [
        Release(version="0.2.94", yanked=True, rust_version="1.76"),
        Release(version="0.2.100", rust_version="1.76"),
    ]
    merged = merge_cli(lib, cli)
    assert (
        merged[1].cli_yanked and merged[1].cli_rust_version == "1.76" and merged[0].cli_rust_version is None
    )
    text = releases_to_toml(merged, header="generated\n\nby a test")
    assert text.startswith("# generated\n#\n# by a test\n")
    assert releases_from_toml(text) == merged
    assert "malformed" in usage_error(releases_from_toml, "[[release]]\nyanked = true\n")


def test_bundled_release_list() -> None:
    releases = bundled_releases()
    versions = [r.version for r in releases]
    assert (
        versions[0] == "0.2.50" and versions == sort_bindgen(versions) and len(set(versions)) == len(versions)
    )
    assert {"0.2.87", "0.2.100", "0.2.118"} <= set(versions)
    assert {"0.2.88", "0.2.94"} <= bundled_yanked()
    assert "0.2.88" not in bundled_versions(include_yanked=False)
    assert "0.2.119" not in versions  # never published
    assert select_bindgen("0.2.92..0.2.95") == ["0.2.92", "0.2.93", "0.2.95"]
