"""Every speed and duration figure in README/docs prose is held by a results file (benchmarks/figures_check.py, run by
`readme_table.py --check`): invented figures fail, backed ones pass with unit conversion and rounding, code and
the generated table are not prose, and a reviewed `<!-- not-a-measurement -->` marker is honoured."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> Any:
    """benchmarks/figures_check.py, imported the way readme_table.py --check imports it (the same module object)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    return importlib.import_module("figures_check")


fc = _module()

RESULTS = {
    "cold": {"benchmark": "cold", "runs": [{
        "date": "2026-12-01", "machine": {"cpus": 2},
        "figures": {"after_wall_s": 656.3, "after_probes": 45, "after_load_before": 1.54},
        "details": {"toolchains": {"debian:1.96.0": {"mvp_std_build": 90.56}},
                    "tools": {"wasm-bindgen 0.2.95": 660.0}}}]},
    "probe": {"benchmark": "probe", "runs": [{
        "date": "2026-11-22", "machine": {"cpus": 2},
        "figures": {"overhead_pct": 6.56, "matrix_peak_rss_mib": 66.3, "j2_cells_speedup": 1.61},
        "details": {"parallel": {"runs": [{"seconds": 156.14}]}, "module_bytes": {"release": 2097152}}}]},
}


def _project(tmp_path: Path, readme: str, docs: dict[str, str] | None = None) -> Path:
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    for name, data in RESULTS.items():
        (tmp_path / "benchmarks" / "results" / f"{name}.json").write_text(json.dumps(data))
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(readme)
    for name, text in (docs or {}).items():
        (tmp_path / "docs" / name).write_text(text)
    return tmp_path


def _unbacked(tmp_path: Path, text: str) -> list[str]:
    return fc.problems(_project(tmp_path, text))  # type: ignore[no-any-return]


def test_an_invented_figure_is_flagged_with_file_line_and_text(tmp_path: Path) -> None:
    text = "# demo\n\nThe reference-types-off std (about 45 s on 2 cores) is built lazily.\n"
    assert _unbacked(tmp_path, text) == ['README.md:3: "45 s" is in no results file']


def test_an_invented_figure_in_docs_is_flagged_and_check_fails(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "nothing measured here\n", {"reliability.md": "exits within ~0.2 s\n"})
    assert fc.check(root) == 1
    assert 'docs/reliability.md:1: "0.2 s" is in no results file' in capsys.readouterr().out


@pytest.mark.parametrize("figure", [
    "656 s",            # 656.3 rounded
    "656.3 s",
    "11 min",           # 660 s, to the minute
    "0.18 hours",       # 656.3 s = 0.182 h
    "91-156 s",         # a range: both ends recorded (90.56 and 156.14)
    "91 to 156 seconds",
    "6.6%", "7%",       # overhead_pct 6.56
    "66 MiB", "66.3 MiB", "0.06 GiB", "2 MiB", "2 MB",  # peak RSS 66.3 MiB; a module of 2,097,152 bytes
    "1.6x", "1.61x",    # a ratio key (speedup)
])
def test_a_backed_figure_passes_with_unit_conversion_and_rounding(tmp_path: Path, figure: str) -> None:
    assert _unbacked(tmp_path, f"It took {figure} here.\n") == []


@pytest.mark.parametrize(("figure", "why"), [
    ("45 s", "45 is a count of probes, not seconds"),
    ("1.54x", "a load average is not a ratio"),
    ("650 s", "656.3 rounds to 656, not 650"),
    ("12 min", "660 s is 11 min"),
    ("91-200 s", "a range needs both ends"),
    ("66 GiB", "the unit is converted, not dropped"),
    ("6.56 s", "a percentage does not back a duration"),
])
def test_a_figure_is_backed_only_by_a_number_of_its_kind_and_value(tmp_path: Path, figure: str, why: str) -> None:
    assert _unbacked(tmp_path, f"It took {figure} here.\n") == [f'README.md:1: "{figure}" is in no results file'], why


def test_a_figure_whose_paragraph_names_a_results_file_must_be_in_that_file(tmp_path: Path) -> None:
    text = "\n".join([
        "A cold demo measured 656 s",
        "(`benchmarks/results/cold.json`) and 66 MiB.",
        "- another item: 66 MiB (results/probe.json), 656 s.",
        "",
        "Unnamed: 656 s, 66 MiB.",
    ])
    assert _unbacked(tmp_path, text + "\n") == [
        'README.md:2: "66 MiB" is not in results/cold.json, which its paragraph names',
        'README.md:3: "656 s" is not in results/probe.json, which its paragraph names']


def test_code_blocks_inline_code_and_the_generated_table_are_not_prose(tmp_path: Path) -> None:
    text = "\n".join([
        "Real output:",
        "```",
        "probes: at most 26, each ~17 s here",
        "```",
        "~~~",
        "estimate: about 3 min",
        "~~~",
        "",
        "    wasm-bisect bisect --timeout 999 s   # an indented code block",
        "",
        "Run `sleep 77 s` first.",
        "<!-- benchmark-table:start -->",
        "| x | 1234 s | 9.99x |",
        "<!-- benchmark-table:end -->",
        "- a list item whose continuation",
        "  is indented 2 and says 13 s.",
    ])
    assert _unbacked(tmp_path, text + "\n") == ['README.md:16: "13 s" is in no results file']


def test_grids_and_versions_are_not_figures(tmp_path: Path) -> None:
    text = "A 3 x 40 grid, a 2x2x2 matrix, 3x40 cells, wasm-bindgen 0.2.95 on rustc 1.96.0, Node 20.\n"
    assert _unbacked(tmp_path, text) == []


def test_the_not_a_measurement_marker_is_honoured_for_its_line_or_its_named_figures(tmp_path: Path) -> None:
    text = "\n".join([
        "A check timeout of 180 s and a 90 min limit. <!-- not-a-measurement -->",
        "Guesses: a 10 s probe, a 33 s build. <!-- not-a-measurement: 10 s; 33 s -->",
        "A 10 s probe and a measured 47 s build. <!-- not-a-measurement: 10 s -->",
        "The next line is not covered: 180 s.",
    ])
    assert _unbacked(tmp_path, text + "\n") == ['README.md:3: "47 s" is in no results file',
                                                'README.md:4: "180 s" is in no results file']


def test_a_marker_naming_a_figure_its_line_lacks_is_reported(tmp_path: Path) -> None:
    text = "Default 20 s. <!-- not-a-measurement: 30 s -->\n"
    assert _unbacked(tmp_path, text) == [
        'README.md:1: "20 s" is in no results file',
        'README.md:1: not-a-measurement names "30 s", which is no figure of this line']


def test_readme_and_docs_figures_are_backed() -> None:
    problems = fc.problems(ROOT)
    assert problems == [], "\n".join([*problems, "point each figure at the results file that holds it, remove it, "
                                                 "or mark one that is not a measurement <!-- not-a-measurement -->"])


def test_readme_table_check_runs_the_figures_check(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "benchmarks" / "readme_table.py")
    assert spec is not None and spec.loader is not None
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    calls: list[Path] = []
    monkeypatch.setattr(fc, "check", lambda root: calls.append(root) or 1)
    assert table.main(["readme_table.py", "--check"]) == 1
    assert calls == [ROOT]
