"""README's benchmark table is generated from benchmarks/results/*.json: the two never disagree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module() -> object:
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "benchmarks" / "readme_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_matches_the_results_files() -> None:
    module = _module()
    assert module.main(["readme_table.py", "--check"]) == 0, (  # type: ignore[attr-defined]
        "README.md's benchmark table is stale: run `python benchmarks/readme_table.py` (or `nox -s bench`)")


def test_every_results_file_keeps_a_list_of_dated_runs() -> None:
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        data = json.loads(path.read_text())
        assert data["benchmark"] == path.stem and isinstance(data["runs"], list) and data["runs"], path
        for run in data["runs"]:
            assert run["date"] and isinstance(run["machine"], dict) and isinstance(run["figures"], dict), path
            assert run["figures"] or run.get("note"), f"{path}: a run without figures must say why"


def test_superseded_runs_and_figures_leave_the_table(tmp_path: Path, monkeypatch: object) -> None:
    """A run marked superseded leaves every figure; `superseded_figures` retires single ones of a run (their code
    changed since) and leaves its other figures in."""
    module = _module()
    runs = [{"figures": {"a_s": 1.0, "b_s": 10.0}, "superseded": "old code"},
            {"figures": {"a_s": 3.0, "b_s": 30.0}, "superseded_figures": {"b_s": "estimate code changed"}},
            {"figures": {"a_s": 5.0, "b_s": 50.0}}]
    (tmp_path / "x.json").write_text(json.dumps({"benchmark": "x", "runs": runs}))
    monkeypatch.setattr(module, "RESULTS", tmp_path)  # type: ignore[attr-defined]
    figures = module.Figures("x")  # type: ignore[attr-defined]
    assert figures.values("a_s") == [3.0, 5.0]
    assert figures.values("b_s") == [50.0]
    assert figures.count() == "2 runs (+1 superseded)"
