"""Runtimes in the model: node variants keep their keys, browser ones get their own; the grid's runtime axis."""

from __future__ import annotations

import pytest

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.grid import Grid, cell_id, parse_runtimes
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, Runtime, ToolchainSpec, Variant, options_for
from wasm_bisect.domain.reproduce import matrix_command, probe_command

RUSTC = ToolchainSpec.parse("debian:1.96.0")


def _variant(runtime: Runtime = Runtime.NODE) -> Variant:
    return Variant(template="vec-of-structs", rustc=RUSTC, bindgen=BindgenSource.crates("0.2.99"),
                   runtime=runtime, options=options_for(Variant.__dataclass_fields__["options"].default_factory(),
                                                        runtime))


def test_node_variants_keep_the_key_they_had_before_browsers() -> None:
    # The key of this cell as stored by every earlier version of the tool.
    assert _variant().key == "5ed576cd685f60cda191"
    assert "runtime" not in _variant().identity()


def test_browser_variants_are_their_own_cells() -> None:
    keys = {_variant(r).key for r in Runtime}
    assert len(keys) == 3
    chromium = _variant(Runtime.CHROMIUM)
    assert chromium.identity()["runtime"] == "chromium"
    assert chromium.options.target == "web"
    assert "in chromium" in chromium.short()
    assert "--runtime chromium" in probe_command(chromium)
    assert "--runtime" not in probe_command(_variant())


def test_runtime_axis_of_a_grid() -> None:
    grid = Grid(template="t", rustc=(RUSTC,), bindgen=(BindgenSource.crates("0.2.99"),),
                reference_types=(ReferenceTypes.DEFAULT,), runtimes=parse_runtimes("node,Chromium,firefox,node"))
    assert grid.size == 3
    cells = grid.variants()
    assert [v.runtime for v in cells] == [Runtime.NODE, Runtime.CHROMIUM, Runtime.FIREFOX]
    assert [v.options.target for v in cells] == ["nodejs", "web", "web"]
    assert [cell_id(v) for v in cells] == ["debian:1.96.0@0.2.99@default", "debian:1.96.0@0.2.99@default@chromium",
                                           "debian:1.96.0@0.2.99@default@firefox"]
    assert grid.identity()["runtimes"] == ["node", "chromium", "firefox"]
    assert "--runtime node,chromium,firefox" in matrix_command(grid.identity())
    node_only = Grid(template="t", rustc=(RUSTC,), bindgen=(BindgenSource.crates("0.2.99"),),
                     reference_types=(ReferenceTypes.DEFAULT,))
    assert "runtimes" not in node_only.identity()  # node grids keep their fingerprints


def test_parse_runtimes_refuses_unknown_names() -> None:
    with pytest.raises(UsageError, match="is not one of node, chromium, firefox"):
        parse_runtimes("node,safari")


def test_matrix_cells_and_github_matrix_name_the_runtime() -> None:
    from wasm_bisect.runs.matrix import github_matrix, select_cells

    grid = Grid(template="t", rustc=(RUSTC,), bindgen=(BindgenSource.crates("0.2.99"),),
                reference_types=(ReferenceTypes.DEFAULT,), runtimes=(Runtime.NODE, Runtime.FIREFOX))
    chosen = select_cells(grid, ["1.96.0@0.2.99@default@firefox", "debian:1.96.0@0.2.99@default"])
    assert [v.runtime for v in chosen] == [Runtime.NODE, Runtime.FIREFOX]
    with pytest.raises(UsageError, match="not a cell"):
        select_cells(grid, ["1.96.0@0.2.99@default@chromium"])
    include = github_matrix(grid, shards=None)["include"]
    assert [c.get("runtime") for c in include] == [None, "firefox"]
    assert include[1]["cell"] == "debian:1.96.0@0.2.99@default@firefox"
