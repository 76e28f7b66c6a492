"""The search: 1-D bisection with git-bisect semantics and the 2-D (rustc x wasm-bindgen) frontier.

Pure: every answer comes from an oracle, and the search never touches I/O, so it is tested against
simulated grids and benchmarked by probe count. SKIP and ERROR are both untestable for the search (it
steps around them and never blames them); results report them apart.

2-D strategy (`first_failing_pair`), assuming monotone failure (bad at (r, c) => bad at every
(r' >= r, c' >= c)); the unknown is the staircase f(r) = first bad column of row r:

0. Orientation first (`oriented_pair`, search/orient.py): probe the corners, decide per axis whether newer
   versions introduce or fix the bug, and run the steps below on the grid mirrored so both axes introduce it.
1. Check the newest pair (R-1, W-1) fails, like git bisect's bad end.
2. Bisect the last row for its first bad column c0 (ceil(log2 W) probes), then column c0 for its
   first bad row r0 (ceil(log2 R)), then probe (r0, c0-1), so the first failing pair (r0, c0) rests
   on direct evidence (and (0, 0) is known good without a probe of its own). mode="pair" stops here.
3. Verify the corner with one probe: (r0-1, W-1) good proves every older rustc clean, and the
   good (R-1, c0-1) already proves f(r) = c0 for r >= r0. A corner costs at most
   ceil(log2 R) + ceil(log2 W) + 3 probes.
4. If the verification fails, walk one more step of the staircase the same way (`walk_limit`, default
   1: real boundaries rarely have more than two corners, and each failed verification is evidence of
   a complex one), then hand what is left to a greedy search: probe the cell that splits the
   staircases still consistent with the evidence most evenly (weighted by dynamic programming, each
   corner weighing CORNER_WEIGHT so simpler boundaries count more). On uniformly random staircases
   this stays within ~1.5x of the information-theoretic floor log2 C(R+W, R) (see
   benchmarks/search_bench.py); a two-corner boundary costs about two corners' worth.

Untestable cells (SKIP/ERROR answers, or ruled out up front by `untestable`): a line bisection
probes the median of the cells still open, so around an untestable midpoint it tries the neighbours
outward, alternating sides. When untestable cells hide the last line's boundary, every candidate
column is bisected, right to left, so a good found in one column carries over to those left of it;
the corner verification passes over cells ruled out up front. What stays hidden is reported as a
range (RowFrontier.candidates, Frontier.pair_candidates), never blamed on an untestable cell.

Every probe feeds one knowledge base: per row, the columns known good (dominated by a good probe)
and known bad (dominating a bad probe). Inference saves probes, so the search itself only probes
cells it cannot infer; the verification probes (step 2, `verify_corners`) deliberately probe inferred
cells, and a good probe that dominates a bad one is recorded as a violation of monotonicity instead
of being explained away.
"""


from wasm_bisect.search._orientation import Change, Island, Orientation
from wasm_bisect.search.attribution import (
    Attribution,
    Cause,
    RefTypes,
    RefTypesFinding,
    Reprobe,
    attribute,
    conclude_reference_types,
    reference_types_plan,
)
from wasm_bisect.search.bisection import (
    Bisection,
    CellProbe,
    FlakyPoint,
    PointProbe,
    Status,
    find_fix,
    invert,
    least_failing,
    repeat_oracle,
)
from wasm_bisect.search.costs import CostModel, cheapest_split, entropy
from wasm_bisect.search.frontier import (
    CORNER_WEIGHT,
    Cell,
    Frontier,
    Mode,
    Order,
    RowFrontier,
    Violation,
    first_failing_pair,
    first_fixed_pair,
    staircase_floor,
)
from wasm_bisect.search.orient import oriented_pair

__all__ = [
    "CORNER_WEIGHT",
    "Attribution",
    "Bisection",
    "Cause",
    "Cell",
    "CellProbe",
    "Change",
    "CostModel",
    "FlakyPoint",
    "Frontier",
    "Island",
    "Mode",
    "Order",
    "Orientation",
    "PointProbe",
    "RefTypes",
    "RefTypesFinding",
    "Reprobe",
    "RowFrontier",
    "Status",
    "Violation",
    "attribute",
    "cheapest_split",
    "conclude_reference_types",
    "entropy",
    "find_fix",
    "first_failing_pair",
    "first_fixed_pair",
    "invert",
    "least_failing",
    "oriented_pair",
    "reference_types_plan",
    "repeat_oracle",
    "staircase_floor",
]
