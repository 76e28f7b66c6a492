"""The bisect run on grids whose axes move the bug opposite ways, and the ends check (fake probes, no builds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from unit.conftest import recording_probe
from wasm_bisect import probe
from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import EndsAlike
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import oracle as probe_oracle
from wasm_bisect.probe import templates
from wasm_bisect.runs import bisect
from wasm_bisect.store import Store

pytestmark = pytest.mark.usefixtures("offline_index")  # the bundled release list, no network

BINDGEN = ("0.2.92", "0.2.93", "0.2.95", "0.2.96", "0.2.97", "0.2.98")
Truth = Callable[[Variant], Outcome]


def mixed(variant: Variant) -> Outcome:
    """rustc 1.96 makes it fatal, wasm-bindgen 0.2.97 fixes it: bad = {1.96} x {<= 0.2.96}."""
    bad = variant.rustc.version == "1.96.0" and versions.bindgen_key(variant.bindgen.version) <= \
        versions.bindgen_key("0.2.96")
    return Outcome(verdict=Verdict.BAD if bad else Verdict.GOOD, reason="FAIL: detached" if bad else "ok",
                   stage=Stage.CHECK)


def missing_check(variant: Variant) -> Outcome:
    """The real wrong answer of issue 20: every 1.96 cell fails because the check file is missing, 1.63 skips."""
    if variant.rustc.version == "1.63.0":
        return Outcome(verdict=Verdict.SKIP, reason="check exited 125", stage=Stage.CHECK)
    return Outcome(verdict=Verdict.BAD, reason=f"node: cannot find module /w/{variant.key[:12]}/check.mjs",
                   stage=Stage.CHECK)


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, truth: Truth, *, jobs: int = 1, find_fix: bool = False,
        rustc: tuple[str, ...] = ("debian:1.63.0", "debian:1.96.0")) -> bisect.BisectResult:
    calls = recording_probe(monkeypatch, truth)
    monkeypatch.setattr(probe_oracle, "provision_together", lambda v, **_: None)
    tmpl = templates.load("vec-of-structs")
    g = Grid(template=tmpl.name, rustc=tuple(ToolchainSpec.parse(r) for r in rustc),
             bindgen=tuple(BindgenSource.crates(b) for b in BINDGEN), reference_types=(ReferenceTypes.DEFAULT,),
             params=tmpl.param_values({}))
    oracle = probe.Oracle(template=tmpl, store=Store(tmp_path / f"s{jobs}{find_fix}.sqlite3"))
    result = bisect.run(bisect.BisectPlan(grid=g, jobs=jobs, find_fix=find_fix, follow_up=False), oracle)
    assert len(calls) == len(set(calls)) == result.built
    return result


@pytest.mark.parametrize("find_fix", [False, True])
def test_opposite_axes_name_both_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, find_fix: bool) -> None:
    result = run(tmp_path, monkeypatch, mixed, find_fix=find_fix)
    search = result.searches[0]
    assert search.status == "found", search.message
    orientation = search.orientation
    assert orientation is not None
    assert (orientation["rustc"], orientation["bindgen"]) == ("introduces", "fixes")
    assert orientation["summary"] == ("rustc 1.96.0 introduces it (with wasm-bindgen <= 0.2.96); "
                                      "wasm-bindgen 0.2.97 fixes it (with rustc >= 1.96.0)")
    rustc, bindgen = orientation["boundaries"]
    assert (rustc["good"], rustc["bad"]) == ("debian:1.63.0", "debian:1.96.0")
    assert (bindgen["good"], bindgen["bad"], bindgen["version"]) == ("0.2.97", "0.2.96", "0.2.97")
    assert bindgen["compare"].endswith("/compare/0.2.96...0.2.97")
    assert "--rustc debian:1.96.0 --bindgen 0.2.96" in bindgen["reproduce"]["bad"]
    assert "--rustc debian:1.96.0 --bindgen 0.2.97" in bindgen["reproduce"]["good"]
    first = search.first_failing
    assert first is not None and (first.rustc, first.bindgen) == ("debian:1.96.0", "0.2.96")
    assert search.probes <= bisect.expected_probes(2, len(BINDGEN)) + 4
    assert search.to_json()["orientation"] == orientation


def test_opposite_axes_with_jobs_give_the_sequential_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = run(tmp_path, monkeypatch, mixed)
    many = run(tmp_path, monkeypatch, mixed, jobs=3)
    assert [s.to_json() for s in many.searches] == [s.to_json() for s in one.searches]


def test_a_check_that_fails_everywhere_alike_stops_after_the_corners(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(variant: Variant) -> Outcome:
        return Outcome(verdict=Verdict.BAD, reason=f"node: cannot find module /w/{variant.key[:12]}/check.mjs",
                       stage=Stage.CHECK)

    with pytest.raises(EndsAlike) as caught:
        run(tmp_path, monkeypatch, broken)
    assert caught.value.exit_code == 3
    line = caught.value.one_line()
    assert "4 corner(s) of the grid (reference-types default) answered bad the same way, none passed" in line
    assert "cannot find module" in line and "--good RUSTC@BINDGEN" in line and "--signature" in line
    with pytest.raises(EndsAlike) as wrong:  # issue 20's wrong answer: 1.96 all bad (no check file), 1.63 skips
        run(tmp_path / "x", monkeypatch, missing_check)
    assert "2 corner(s) of the grid (reference-types default) answered bad the same way (2 more untestable)" in \
        wrong.value.one_line()


def test_no_boundary_is_printed_when_no_cell_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(variant: Variant) -> Outcome:  # failures that differ (not one broken check), and skips
        outcome = missing_check(variant)
        return Outcome(verdict=outcome.verdict, reason=f"FAIL: case {BINDGEN.index(variant.bindgen.version) % 2}",
                       stage=Stage.CHECK) if outcome.verdict is Verdict.BAD else outcome

    result = run(tmp_path, monkeypatch, failing)
    search = result.searches[0]
    assert search.status == "no-pass" and search.first_failing is None and search.orientation is None
    assert search.message.startswith("no cell passed: every testable cell probed fails")


def test_the_reference_types_follow_up_works_on_a_mirrored_axis(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def needs_reference_types(variant: Variant) -> Outcome:
        on = variant.reference_types is ReferenceTypes.ON or (
            variant.reference_types is ReferenceTypes.DEFAULT and variant.rustc.version == "1.96.0")
        bad = on and versions.bindgen_key(variant.bindgen.version) <= versions.bindgen_key("0.2.96")
        return Outcome(verdict=Verdict.BAD if bad else Verdict.GOOD, reason="FAIL" if bad else "ok",
                       stage=Stage.CHECK)

    recording_probe(monkeypatch, needs_reference_types)
    monkeypatch.setattr(probe_oracle, "provision_together", lambda v, **_: None)
    tmpl = templates.load("vec-of-structs")
    g = Grid(template=tmpl.name, rustc=(ToolchainSpec.parse("debian:1.63.0"), ToolchainSpec.parse("debian:1.96.0")),
             bindgen=tuple(BindgenSource.crates(b) for b in BINDGEN), reference_types=(ReferenceTypes.DEFAULT,),
             params=tmpl.param_values({}))
    oracle = probe.Oracle(template=tmpl, store=Store(tmp_path / "f.sqlite3"))
    search = bisect.run(bisect.BisectPlan(grid=g), oracle).searches[0]
    assert search.orientation is not None and search.orientation["bindgen"] == "fixes"
    follow = search.follow_up
    assert follow is not None
    assert "the first failing pair passes with reference-types off: the failure needs reference-types" in \
        follow.message
    assert "the rustc boundary is reference-types: rustc 1.63.0 fails too with reference-types on" in follow.message
    assert "the wasm-bindgen boundary is a real change: 0.2.97 passes even with reference-types off" in follow.message
    assert {(r["rustc"], r["bindgen"]) for r in follow.reprobes} == {
        ("debian:1.96.0", "0.2.96"), ("debian:1.63.0", "0.2.96"), ("debian:1.96.0", "0.2.97")}
