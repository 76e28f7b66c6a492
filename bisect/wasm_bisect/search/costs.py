"""What a probe of each cell would cost, as numbers the search can weigh (it never looks at caches itself).

The oracle side fills a `CostModel` from what is ready when a search starts (CLIs built, toolchains
provisioned, cargo target slots warm). The search then keeps it current from its own probes: a probed
column's CLI is built, a probed row's toolchain is provisioned. Costs depend only on the model and the
search's own history, never on the clock, so a search replayed with the same answers makes the same choices.

Choosing with costs: among the probes whose split of the remaining candidates is close to the best one,
take the one with the lowest cost per bit of information. Because the search runs until no open cell is
left (mode="full"), which cells it probes on the way changes how much it pays, never what it answers.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

Cell = tuple[int, int]

# A probe is "about as good a split" as the best one when its smaller side is at least this share of the
# best probe's smaller side (0.25: a 12/88 split still qualifies when 50/50 is available). Tuned with
# benchmarks/cost_bench.py: wider windows buy cheaper probes with more of them.
BALANCE_WINDOW = 0.25


@dataclass(frozen=True, kw_only=True)
class CostModel:
    """Seconds to probe each cell of a rows x cols grid, from what was ready when the search started."""

    cli: Sequence[float]  # per column: seconds to build its wasm-bindgen CLI (0: cached)
    toolchain: Sequence[float]  # per row: seconds to provision its toolchain (0: ready)
    probe: float = 10.0  # build + check of a cell in a cold cargo target slot
    warm_probe: float = 1.5  # the same when the slot already compiled this cell's dependency set
    warm: frozenset[Cell] = field(default_factory=frozenset)
    neighbour_saving: float = 0.0  # share of a CLI build saved once an adjacent release's CLI is built
    known: frozenset[Cell] = field(default_factory=frozenset)  # answers already stored: free to ask
    # Per cell (cold, warm) build + check seconds where this machine's history knows them; else probe/warm_probe.
    cell_probe: Mapping[Cell, tuple[float, float]] = field(default_factory=dict)

    def seconds(self, cell: Cell, built_cols: Collection[int], ready_rows: Collection[int]) -> float:
        """The cost of probing `cell` after the search built `built_cols` and provisioned `ready_rows`."""
        if cell in self.known:
            return 0.0
        row, col = cell
        cli = 0.0 if col in built_cols else self.cli[col]
        if cli and self.neighbour_saving and (col - 1 in built_cols or col + 1 in built_cols):
            cli *= 1.0 - self.neighbour_saving
        toolchain = 0.0 if row in ready_rows else self.toolchain[row]
        cold, warm = self.cell_probe.get(cell, (self.probe, self.warm_probe))
        return cli + toolchain + (warm if cell in self.warm else cold)

    @classmethod
    def uniform(cls, n_rows: int, n_cols: int, *, cli: float = 90.0, probe: float = 10.0) -> CostModel:
        """Every CLI still to build and every toolchain ready: a cold tool cache."""
        return cls(cli=(cli,) * n_cols, toolchain=(0.0,) * n_rows, probe=probe)


def entropy(share: float) -> float:
    """Bits learnt from a probe that comes out bad with probability `share`."""
    if share <= 0.0 or share >= 1.0:
        return 0.0
    return -(share * math.log2(share) + (1.0 - share) * math.log2(1.0 - share))


def cheapest_split(
    options: Sequence[tuple[float, Cell]],
    reference: Cell,
    seconds: dict[Cell, float],
    *,
    window: float | None = None,
) -> Cell:
    """Among `options` (share of candidates on the bad side, cell) that split about as evenly as the best
    one, the cell with the lowest cost per bit; `reference` (the cost-blind choice) wins ties."""
    balance = {cell: min(share, 1.0 - share) for share, cell in options}
    best = max(balance.values(), default=0.0)
    if best <= 0.0:
        return reference
    floor = (BALANCE_WINDOW if window is None else window) * best
    # A stored answer is free, so any split it gives is worth taking first: a re-run of a finished search
    # then asks only what it asked before and builds nothing.
    eligible = [(share, cell) for share, cell in options
                if balance[cell] >= floor or (balance[cell] > 0.0 and seconds[cell] == 0.0)]

    def per_bit(option: tuple[float, Cell]) -> tuple[float, bool, float]:
        share, cell = option
        bits = entropy(share)
        return (seconds[cell] / bits if bits else math.inf, cell != reference, -balance[cell])

    return min(eligible, key=per_bit)[1]
