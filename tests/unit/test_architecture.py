"""The import graph of the package has no cycle at any level (lint checks the layers; this checks modules)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "architecture.py"


def _graph() -> dict[str, set[str]]:
    """The one import-graph reader: benchmarks/architecture.py (the figures of the closing notes use it too)."""
    spec = importlib.util.spec_from_file_location("architecture", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph: dict[str, set[str]] = module.module_graph()
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_module_import_graph_has_no_cycle() -> None:
    graph = _graph()
    assert len(graph) > 40
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


@pytest.mark.parametrize("module", ["wasm_bisect.noxsupport", "wasm_bisect.search", "wasm_bisect.domain.model"])
def test_light_modules_do_not_reach_the_cli(module: str) -> None:
    graph = _graph()
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += graph[current]
    assert not any(m == "wasm_bisect.cli" or m.startswith("wasm_bisect.cli.") for m in seen)
