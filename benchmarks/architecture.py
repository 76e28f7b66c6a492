"""The package's shape in figures: rooms, floors, imports going up, circles, the biggest file and function.

A room is a direct child of `wasm_bisect` (a subpackage or a top-level module). Floors are the layers of
pyproject.toml's import-linter "layers" contract (rooms named on one line share a floor); an arrow up is an import
from a room to a room on a higher floor; a circle is a set of rooms (or of modules) that import each other.
`duplicates` pair counts come from the library's `duplicates` command when it is on PATH.

    python benchmarks/architecture.py            # print the figures as JSON
    python benchmarks/architecture.py --out F    # and append them as a run to a results file
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "bisect" / "wasm_bisect"


def _module_name(path: Path) -> str:
    parts = ["wasm_bisect", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any place in the file, type-checking blocks included)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    keep = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(keep + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                found = target
                while found and found not in modules:
                    found = found.rpartition(".")[0]
                if found and found != name:
                    graph[name].add(found)
    return graph


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _layers() -> list[list[str]]:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c.get("type") == "layers")
    return [[name.strip().removeprefix("wasm_bisect.") for name in line.split("|")] for line in layers]


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member (each one a circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _biggest_function() -> tuple[str, int]:
    best = ("", 0)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > best[1]:
                    best = (f"{path.relative_to(PACKAGE)}:{node.name}", length)
    return best


def _duplicate_pairs(tree: Path) -> int | None:
    """Pairs the `duplicates` command reports for a tree (None when the command is not installed)."""
    if shutil.which("duplicates") is None:
        return None
    out = subprocess.run(["duplicates", "--repo", str(tree), "--most", "1", "--seconds", "120"],
                         capture_output=True, text=True, check=False).stdout
    found = re.match(r"(\d+) pairs? of places", out)
    return int(found.group(1)) if found else 0


def figures(*, duplicates: bool = True) -> dict[str, Any]:
    graph = module_graph()
    rooms = sorted({room_of(m) for m in graph} - {"wasm_bisect", "__main__"})
    room_graph: dict[str, set[str]] = {r: set() for r in rooms}
    for module, targets in graph.items():
        source = room_of(module)
        for target in targets:
            if source in room_graph and room_of(target) in room_graph and room_of(target) != source:
                room_graph[source].add(room_of(target))
    layers = _layers()
    floor = {room: len(layers) - i for i, line in enumerate(layers) for room in line}
    arrows_up = sorted(f"{a} -> {b}" for a, targets in room_graph.items() for b in targets
                       if a in floor and b in floor and floor[b] > floor[a])
    lines = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    biggest_file = max(lines.items(), key=lambda item: item[1])
    function, length = _biggest_function()
    return {
        "rooms": len(rooms), "floors": len(layers), "rooms_without_floor": sorted(set(rooms) - set(floor)),
        "arrows_up": len(arrows_up), "arrows_up_list": arrows_up,
        "room_circles": _sccs(room_graph), "module_circles": _sccs(graph),
        "modules": len(graph), "lines": sum(lines.values()),
        "files_over_500_lines": sorted(f"{name} ({n})" for name, n in lines.items() if n > 500),
        "biggest_file": {"path": biggest_file[0], "lines": biggest_file[1]},
        "biggest_function": {"name": function, "lines": length},
        "duplicate_pairs": {"bisect": _duplicate_pairs(REPO / "bisect"), "tests": _duplicate_pairs(REPO / "tests")}
        if duplicates else None,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="append the figures as a run to this results file")
    args = parser.parse_args(argv[1:])
    found = figures()
    print(json.dumps(found, indent=1))
    if args.out is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import results_file

        numbers = {k: v for k, v in found.items() if isinstance(v, int)}
        results_file.append_run("architecture", numbers, found, path=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
