"""benchmarks/architecture.py computes every figure the architecture notes quote (and finds no arrow up today)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "architecture.py"


def test_the_architecture_figures_are_computed() -> None:
    spec = importlib.util.spec_from_file_location("architecture", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module
    spec.loader.exec_module(module)
    found = module.figures(duplicates=False)  # the duplicates command is a process
    assert found["rooms"] >= 10 and found["floors"] >= 5
    assert found["rooms_without_floor"] == []
    assert found["arrows_up"] == 0 and found["room_circles"] == [] and found["module_circles"] == []
    assert found["biggest_file"]["lines"] > 0 and found["biggest_function"]["lines"] > 0
