"""The bisect run's own logic: the --good/--bad box, the reference-types flip, the follow-up explanation."""

from __future__ import annotations

import pytest

from wasm_bisect import search
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, ToolchainSpec, Verdict
from wasm_bisect.runs import bisect

GRID = Grid(template="t", rustc=tuple(ToolchainSpec.parse(f"debian:{v}") for v in ("1.63.0", "1.85.0", "1.96.0")),
            bindgen=tuple(BindgenSource.crates(v) for v in ("0.2.92", "0.2.93", "0.2.95", "0.2.99")),
            reference_types=(ReferenceTypes.DEFAULT,))


def test_good_bad_box_narrows_both_axes() -> None:
    box = bisect.restrict(GRID, ("1.85.0", "0.2.93"), ("debian:1.96.0", "0.2.95"))
    assert [str(r) for r in box.rustc] == ["debian:1.85.0", "debian:1.96.0"]
    assert [b.version for b in box.bindgen] == ["0.2.93", "0.2.95"]
    assert bisect.restrict(GRID, None, None) == GRID


def test_good_newer_than_bad_on_an_axis_means_it_fixes_the_bug() -> None:
    box = bisect.restrict(GRID, ("1.63.0", "0.2.99"), ("1.96.0", "0.2.93"))
    assert [b.version for b in box.bindgen] == ["0.2.93", "0.2.95", "0.2.99"] and len(box.rustc) == 3
    given = bisect.given_orientation(GRID, ("1.63.0", "0.2.99"), ("1.96.0", "0.2.93"))
    assert given is not None and (given.rustc, given.bindgen) == (search.Change.INTRODUCES, search.Change.FIXES)
    assert bisect.given_orientation(GRID, None, None) is None
    one = bisect.given_orientation(GRID, ("1.63.0", "0.2.92"), None, find_fix=True)
    assert one is not None and one.name == "find-fix" and one.decided_by == "given"


@pytest.mark.parametrize(("good", "bad", "needle"), [
    (("1.70.0", "0.2.93"), None, "--good rustc '1.70.0' is not on the grid"),
    (("1.63.0", "0.2.94"), None, "--good wasm-bindgen '0.2.94' is not on the grid"),
    (("1.96.0", "0.2.92"), ("1.96.0", "0.2.92"), "--good and --bad name the same pair"),
])
def test_box_outside_the_grid_is_a_usage_error(good: tuple[str, str], bad: tuple[str, str] | None,
                                               needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        bisect.restrict(GRID, good, bad)


@pytest.mark.parametrize(("rt", "rustc", "expected"), [
    (ReferenceTypes.ON, "debian:1.63.0", ReferenceTypes.OFF),
    (ReferenceTypes.OFF, "debian:1.96.0", ReferenceTypes.ON),
    (ReferenceTypes.EXTERNREF, "debian:1.96.0", ReferenceTypes.DEFAULT),
    (ReferenceTypes.DEFAULT, "debian:1.63.0", ReferenceTypes.ON),  # default is off before 1.82
    (ReferenceTypes.DEFAULT, "debian:1.96.0", ReferenceTypes.OFF),
    (ReferenceTypes.DEFAULT, "rustup:nightly-2024-08-01", ReferenceTypes.OFF),
    (ReferenceTypes.DEFAULT, "rustup:stable", ReferenceTypes.OFF),  # unknown version: recent
])
def test_flipped_undoes_the_setting_for_that_rustc(rt: ReferenceTypes, rustc: str, expected: ReferenceTypes) -> None:
    assert bisect.flipped(rt, ToolchainSpec.parse(rustc)) is expected


def test_follow_up_explains_each_boundary() -> None:
    plan = (search.Reprobe(2, 2, Verdict.BAD), search.Reprobe(1, 2, Verdict.GOOD), search.Reprobe(2, 1, Verdict.GOOD))
    text = bisect.explain_follow_up(GRID, (2, 2), plan, {(2, 2): Verdict.GOOD, (1, 2): Verdict.BAD,
                                                         (2, 1): Verdict.GOOD}, ReferenceTypes.DEFAULT)
    assert "the first failing pair passes with reference-types off: the failure needs reference-types" in text
    assert "the rustc boundary is reference-types: rustc 1.85.0 fails too with reference-types off" in text
    assert "the wasm-bindgen boundary is a real change: 0.2.93 passes even with reference-types off" in text
    other = bisect.explain_follow_up(GRID, (2, 2), plan, {(2, 2): Verdict.BAD, (1, 2): Verdict.SKIP},
                                     ReferenceTypes.DEFAULT)
    assert other == "the first failing pair still fails with reference-types off: not a reference-types failure"


def test_a_grid_of_one_cell_is_not_bisected() -> None:
    one = Grid(template="t", rustc=GRID.rustc[:1], bindgen=GRID.bindgen[:1], reference_types=GRID.reference_types)
    with pytest.raises(UsageError, match="at least two versions"):
        bisect.check_grid(one)
    assert bisect.expected_probes(3, 40) == 11
