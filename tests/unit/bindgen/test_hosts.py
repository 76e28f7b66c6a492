"""The host toolchain that builds a wasm-bindgen CLI: a pure choice over versions (compat.py's facts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wasm_bisect.bindgen.hosts import HostCandidate, HostToolchain, choose, refusal
from wasm_bisect.domain.compat import cli_incompatibility
from wasm_bisect.domain.errors import ProvisionError

# What this machine kind offers: Debian's rustc 1.63 (cargo 0.66: no sparse index), rustc-web 1.85 and 1.96.
D163 = HostCandidate(spec="debian:1.63.0", rustc="1.63.0", cargo="0.66.0", ready=True)
D185 = HostCandidate(spec="debian:1.85.0", rustc="1.85.0", cargo="1.85.0")
D196 = HostCandidate(spec="debian:1.96.0", rustc="1.96.0", cargo="1.96.0", ready=True)
MACHINE = [D163, D185, D196]


@pytest.mark.parametrize("bindgen", ["0.2.88", "0.2.92", "0.2.99", "0.2.118"])
def test_the_default_host_builds_what_it_can(bindgen: str) -> None:
    assert choose(bindgen, default_rustc="1.95.0", candidates=MACHINE) is None


def test_a_cli_below_0_2_88_gets_an_older_toolchain_that_reaches_crates_io() -> None:
    """rustc >= 1.86 refuses 0.2.84 and 0.2.87; Debian's 1.63 cargo cannot download: 1.85 it is."""
    for bindgen in ("0.2.80", "0.2.84", "0.2.87"):
        assert choose(bindgen, default_rustc="1.95.0", candidates=MACHINE) == D185


def test_an_older_default_host_builds_old_clis_itself() -> None:
    assert choose("0.2.84", default_rustc="1.85.0", candidates=MACHINE) is None
    assert choose("0.2.84", default_rustc=None, candidates=MACHINE) is None  # unknown: the build will tell


def test_a_ready_toolchain_wins_over_a_newer_one_to_provision() -> None:
    r180 = HostCandidate(spec="rustup:1.80.0", rustc="1.80.0", cargo="1.80.0", ready=True)
    assert choose("0.2.84", default_rustc="1.95.0", candidates=[*MACHINE, r180]) == r180
    provisioned = HostCandidate(spec="debian:1.85.0", rustc="1.85.0", cargo="1.85.0", ready=True)
    assert choose("0.2.84", default_rustc="1.95.0", candidates=[r180, provisioned]) == provisioned  # then newest


def test_an_unknown_cargo_is_taken_as_old_as_its_rustc() -> None:
    """A Debian release not unpacked yet: the old `rustc` flavour's cargo is not known before it is."""
    assert refusal("0.2.84", "1.63.0") == "cargo 1.63.0 cannot download from crates.io (no sparse index)"
    assert refusal("0.2.84", "1.63.0", "0.66.0") == "cargo 0.66.0 cannot download from crates.io (no sparse index)"
    assert refusal("0.2.84", "1.68.0") is None
    assert refusal("0.2.84", "1.86.0") == ("host rustc 1.86.0 refuses to build wasm-bindgen-cli 0.2.84: "
                                           "rustc >= 1.86 needs wasm-bindgen >= 0.2.88")


def test_the_cli_rust_version_is_respected_too() -> None:
    """0.2.118's CLI needs rustc 1.86: an old default host gets a newer toolchain for it."""
    assert choose("0.2.118", default_rustc="1.85.0", candidates=MACHINE) == D196
    assert refusal("0.2.99", "1.75.0") == (
        "wasm-bindgen-cli 0.2.99 needs rustc >= 1.76 to install; host rustc 1.75.0 is older")


def test_no_fitting_toolchain_is_a_provision_error_naming_each_refusal() -> None:
    with pytest.raises(ProvisionError, match=r"no toolchain here can build wasm-bindgen-cli 0\.2\.84") as caught:
        choose("0.2.84", default_rustc="1.95.0", candidates=[D163, D196])
    text = caught.value.one_line()
    assert "debian:1.63.0 (cargo 0.66.0 cannot download" in text and "debian:1.96.0 (host rustc 1.96.0 refuses" in text
    with pytest.raises(ProvisionError, match="other toolchains: none"):
        choose("0.2.84", default_rustc="1.95.0", candidates=[])


def test_host_toolchain_describes_itself() -> None:
    assert HostToolchain(name="debian:1.85.0", rustc="1.85.0").describe() == "debian:1.85.0 (rustc 1.85.0)"
    assert HostToolchain(name="default", rustc="").describe() == "default"


VERSIONS = st.tuples(st.just(1), st.integers(50, 100), st.integers(0, 2)).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}")
CANDIDATE = st.builds(HostCandidate, spec=st.sampled_from(["debian:a", "rustup:b", "debian:c"]), rustc=VERSIONS,
                      cargo=st.one_of(st.none(), VERSIONS), ready=st.booleans())


@given(bindgen=st.integers(60, 130).map(lambda n: f"0.2.{n}"), default=VERSIONS, candidates=st.lists(CANDIDATE))
def test_the_chosen_host_can_always_build_the_cli(bindgen: str, default: str, candidates: list[HostCandidate]
                                                  ) -> None:
    """Property: the answer is the default when it can, else a candidate with no refusal; an error only when
    every candidate is refused."""
    try:
        chosen = choose(bindgen, default_rustc=default, candidates=candidates)
    except ProvisionError:
        assert cli_incompatibility(default, bindgen) is not None
        assert [c for c in candidates if refusal(bindgen, c.rustc, c.cargo) is None] == []  # each one refused
        return
    if chosen is None:
        assert cli_incompatibility(default, bindgen) is None
    else:
        assert chosen in candidates and refusal(bindgen, chosen.rustc, chosen.cargo) is None
        fitting = [c for c in candidates if refusal(bindgen, c.rustc, c.cargo) is None]
        assert chosen.ready or not any(c.ready for c in fitting)
