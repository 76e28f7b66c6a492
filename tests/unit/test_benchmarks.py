"""Benchmarks cannot rot: the pure ones run in smoke mode (one round, the smallest grid, nothing written) and
must compute every headline figure; the real ones (they build) must at least import and parse their arguments."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
PURE = ["search_bench", "driver_bench", "cost_bench"]
REAL = ["probe_bench", "runtime_bench"]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their neighbours (figures, results_file)

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    yield load
    for name in [*PURE, *REAL, "figures", "results_file"]:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("name", PURE)
def test_pure_benchmark_runs_in_smoke_mode_and_computes_every_figure(
        name: str, bench: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = bench(name)  # type: ignore[operator]
    out = tmp_path / "results.json"
    assert module.main([f"{name}.py", str(out), "--smoke"]) == 0
    assert not out.exists(), "a smoke run writes no results"
    assert "figures computed, nothing written" in capsys.readouterr().out


@pytest.mark.parametrize("name", REAL)
def test_real_benchmark_imports_and_parses_its_arguments(name: str, bench: object, tmp_path: Path) -> None:
    module = bench(name)  # type: ignore[operator]
    assert callable(module.main)
    results_file = bench("results_file")  # type: ignore[operator]
    kind = name.removesuffix("_bench")
    args = results_file.arguments(kind, [f"{name}.py", str(tmp_path / "x.json"), "--rounds", "3"], rounds=5)
    assert (args.out, args.rounds, args.smoke) == (tmp_path / "x.json", 3, False)
    smoke = results_file.arguments(kind, [f"{name}.py", "--smoke"], rounds=5)
    assert (smoke.out.name, smoke.rounds, smoke.smoke) == (f"{kind}.json", 1, True)


def test_a_figure_that_cannot_be_computed_fails(bench: object) -> None:
    results_file = bench("results_file")  # type: ignore[operator]
    results_file.check_figures("x", {"a": 1.5, "b": True})
    for bad in ({}, {"a": float("nan")}, {"a": None}, {"a": "text"}):
        with pytest.raises(SystemExit):
            results_file.check_figures("x", bad)


def test_probe_bench_reads_the_bisect_section_of_the_report_document(bench: object,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`--json` of bisect is the report document: the probe counts are under `bisect` (KeyError 'probes' once)."""
    module = bench("probe_bench")  # type: ignore[operator]
    doc = '{"bisect": {"probes": {"built": %d, "from_store": %d}}}'
    answers = iter([(10.0, 2048, doc % (6, 0)), (1.0, 1024, doc % (0, 6))])
    monkeypatch.setattr(module, "private_home", lambda: Path("/nonexistent"))
    monkeypatch.setattr(module, "rss_run", lambda *args, **kwargs: next(answers))
    figures = module.cache_and_memory(module.SMOKE_BISECT)
    assert (figures["first_builds"], figures["rerun_builds"], figures["rerun_from_store"]) == (6, 0, 6)


def test_ci_runs_every_benchmark_script_in_smoke_mode() -> None:
    """A new benchmark script cannot escape the smoke run of `nox -s ci` (noxfile.BENCH_SCRIPTS), and every one
    takes --smoke, checks its figures and writes nothing then (results_file.record(..., smoke=...))."""
    import ast

    noxfile = ast.parse((BENCHMARKS.parent / "noxfile.py").read_text())
    listed = next(ast.literal_eval(node.value) for node in noxfile.body if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "BENCH_SCRIPTS" for t in node.targets))
    scripts = sorted(p.stem for p in BENCHMARKS.glob("*_bench.py"))
    assert sorted(listed) == scripts
    for name in scripts:
        source = (BENCHMARKS / f"{name}.py").read_text()
        assert "results_file.arguments(" in source, f"{name} does not take the common [OUT.json] [--smoke] line"
        assert "smoke=args.smoke" in source, f"{name} records without the smoke switch"


@pytest.mark.parametrize(("name", "argv", "names", "expected"), [
    ("jobs_bench", ["jobs_bench.py", "--jobs", "3", "--smoke"], ("--jobs",),
     ({"--jobs": "3"}, ["jobs_bench.py", "--smoke"])),
    ("toolbuild_bench", ["toolbuild_bench.py", "out.json", "--version", "0.2.98", "--reps", "2", "--smoke"],
     ("--version", "--neighbour", "--reps"),
     ({"--version": "0.2.98", "--reps": "2"}, ["toolbuild_bench.py", "out.json", "--smoke"])),
])
def test_real_benchmarks_own_options_leave_the_common_line(name: str, argv: list[str], names: tuple[str, ...],
                                                            expected: tuple[dict[str, str], list[str]],
                                                            bench: object) -> None:
    results_file = bench("results_file")  # type: ignore[operator]
    assert results_file.own_options(argv, names) == expected
    assert results_file.arguments(name.removesuffix("_bench"), expected[1]).smoke
