"""How the 2-D search sees the grid: which way each axis moves the bug, and the mirrored view that makes it a
regression. Also the island a non-monotone grid leaves (a bad box inside good cells)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wasm_bisect.domain.model import Verdict

Cell = tuple[int, int]


class Change(StrEnum):
    """What newer versions of one axis do to the bug."""

    INTRODUCES = "introduces"  # newer is worse (a regression along this axis)
    FIXES = "fixes"  # newer is better


@dataclass(frozen=True, kw_only=True)
class Orientation:
    """Per axis whether newer versions introduce or fix the bug, and how the search saw the grid.

    The search always looks for where `new_verdict` starts in a view in which both axes run from the old side
    to the new side: an axis that fixes the bug is mirrored (newest first) when the search looks for BAD. The
    one exception keeps find-fix's own answer: when both axes fix the bug and the run asked for the fix
    (`new_verdict` GOOD), nothing is mirrored and the search looks for where GOOD starts (the first fixed pair).
    """

    rustc: Change = Change.INTRODUCES
    bindgen: Change = Change.INTRODUCES
    new_verdict: Verdict = Verdict.BAD
    decided_by: str = "default"  # "corners", "evidence" (re-oriented after a contradiction), "given", "default"

    @property
    def rows_mirrored(self) -> bool:
        return self.rustc is Change.FIXES and self.new_verdict is Verdict.BAD

    @property
    def cols_mirrored(self) -> bool:
        return self.bindgen is Change.FIXES and self.new_verdict is Verdict.BAD

    def flip(self, cell: Cell, n_rows: int, n_cols: int) -> Cell:
        """Grid cell <-> view cell (the mirror is its own inverse)."""
        r, c = cell
        return (n_rows - 1 - r if self.rows_mirrored else r, n_cols - 1 - c if self.cols_mirrored else c)

    @property
    def name(self) -> str:
        """regression, find-fix or one of the two mixed orientations."""
        if self.rustc is self.bindgen:
            return "regression" if self.rustc is Change.INTRODUCES else "find-fix"
        return f"rustc-{self.rustc}-wasm-bindgen-{self.bindgen}"


REGRESSION = Orientation()


def bad_regions_monotone(answers: dict[Cell, Verdict], rustc: Change, bindgen: Change) -> bool:
    """Whether the testable answers fit a bad region that grows in the directions the axes give (no good cell
    on the worse side of a bad one on both axes)."""
    sr = 1 if rustc is Change.INTRODUCES else -1
    sc = 1 if bindgen is Change.INTRODUCES else -1
    bads = [cell for cell, v in answers.items() if v is Verdict.BAD]
    goods = [cell for cell, v in answers.items() if v is Verdict.GOOD]
    return not any(sr * (g[0] - b[0]) >= 0 and sc * (g[1] - b[1]) >= 0 for g in goods for b in bads)


@dataclass(frozen=True, kw_only=True)
class Island:
    """A bad box inside good cells, bounded along the row and the column through a bad `seed` cell (grid
    coordinates). The box's other cells are assumed bad and the cells around it good: only the cross was probed.
    """

    seed: Cell
    rows: tuple[int, int]  # first and last bad row through the seed
    cols: tuple[int, int]  # first and last bad column through the seed
    bounds: tuple[Cell, ...]  # probed good cells just outside the box, on the cross
    open_edges: tuple[Cell, ...]  # untestable cells at the box's edge: the box may reach into them
    outside_bad: tuple[Cell, ...]  # probed bad cells outside the box (another bad region)
    unprobed: int  # cells of the box and of the grid whose verdict was assumed, not probed
