"""Matrix mode with a fake probe (no builds): parallel cells, store reuse, shards, merge, CLI, nox matrix."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fixtures.schema import validate_report
from unit.conftest import CountingProbe, install_probe, run_cli
from wasm_bisect import noxsupport, probe, report, toolchains
from wasm_bisect.domain import versions
from wasm_bisect.domain.errors import SearchAborted, UsageError
from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, Stage, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import templates
from wasm_bisect.report import loader as report_load
from wasm_bisect.runs import matrix, merge
from wasm_bisect.store import Store

pytestmark = pytest.mark.usefixtures("offline_index")  # the bundled release list, no network

RUSTC = ("debian:1.63.0", "debian:1.96.0")
BINDGEN = ("0.2.92", "0.2.93", "0.2.98", "0.2.99")
GRID_ARGS = ["--rustc", ",".join(RUSTC), "--bindgen", ",".join(BINDGEN), "--reference-types", "default,on"]


def truth(variant: Variant) -> Verdict:
    """#4352's shape: bad from 0.2.98 when reference-types is on (always on for rustc 1.96)."""
    rt_on = variant.reference_types is ReferenceTypes.ON or variant.rustc.version == "1.96.0"
    return Verdict.BAD if rt_on and versions.bindgen_key(variant.bindgen.version) >= versions.bindgen_key("0.2.98") \
        else Verdict.GOOD


class FakeProbe(CountingProbe):
    """Stands in for probe.probe: walks the stages, answers from `truth`, counts calls and concurrency."""

    def __init__(self, delay: float = 0.0, flaky: set[str] | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.flaky = flaky or set()

    def __call__(self, variant: Variant, template: Any, *, on_stage: Any = None, **_: Any) -> Outcome:
        with self.counted(matrix.cell_id(variant)):
            for stage in (Stage.PROVISION, Stage.CARGO_BUILD, Stage.WASM_BINDGEN, Stage.CHECK):
                if on_stage:
                    on_stage(stage)
                time.sleep(self.delay / 4)
            if matrix.cell_id(variant) in self.flaky:
                raise SearchAborted(f"check of {variant.short()} is flaky")
            verdict = truth(variant)
            reason = "FAIL: detached ArrayBuffer" if verdict is Verdict.BAD else "OK: sum matches"
            return Outcome(verdict=verdict, reason=reason, stage=Stage.CHECK, exit_code=int(verdict is Verdict.BAD),
                           evidence={"reference_types_in_module": True}, timings={"check": 1.5})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProbe:
    stub = FakeProbe()
    install_probe(monkeypatch, stub)
    # The fake probe builds nothing, so no toolchain needs to be ready before the run starts.
    monkeypatch.setattr(toolchains, "prepare", lambda specs, **_: {})
    monkeypatch.setattr(toolchains, "check_known", lambda specs: None)
    return stub


@pytest.fixture
def grid() -> Grid:
    tmpl = templates.load("vec-of-structs")
    return Grid(template=tmpl.name, rustc=tuple(ToolchainSpec.parse(r) for r in RUSTC),
                bindgen=tuple(BindgenSource.crates(b) for b in BINDGEN),
                reference_types=(ReferenceTypes.DEFAULT, ReferenceTypes.ON), params=tmpl.param_values({}))


def run_matrix(grid: Grid, store: Store, *, jobs: int = 1, shard: str | None = None,
               cells: tuple[str, ...] = ()) -> tuple[str, matrix.MatrixOutcome, list[tuple[str, str]]]:
    tmpl = templates.load(grid.template)
    plan = matrix.MatrixPlan.make(grid, jobs=jobs, shard_spec=shard, cell_ids=cells)
    run_id = store.start_run(kind="matrix", fingerprint=grid.fingerprint(tmpl.content_hash, tmpl.check_hash),
                             command="test", config={"grid": grid.identity(), "template_hash": tmpl.content_hash,
                                                     "check_hash": tmpl.check_hash, "shard": shard})
    stages: list[tuple[str, str]] = []
    oracle = probe.Oracle(template=tmpl, store=store, run_id=run_id,
                          on_stage=lambda v, s: stages.append((matrix.cell_id(v), str(s))))
    outcome = matrix.run(plan, oracle)
    store.finish_run(run_id, matrix.result_dict(outcome, built=oracle.built, cached=oracle.cached))
    return run_id, outcome, stages


def test_every_cell_once_in_grid_order(grid: Grid, store: Store, fake: FakeProbe) -> None:
    run_id, outcome, stages = run_matrix(grid, store, jobs=2)
    assert sorted(fake.calls) == sorted(matrix.cell_id(v) for v in grid.variants())
    assert list(outcome.outcomes) == [v.key for v in grid.variants()]
    assert outcome.counts() == {"good": 10, "bad": 6, "skip": 0, "error": 0}
    assert ("debian:1.63.0@0.2.99@on", "cargo-build") in stages
    assert len(store.run_probes(run_id)) == 16
    result = store.run(run_id).result
    assert result is not None
    # The headline is the first reference-types setting's first failing pair, as in a bisect.
    assert result["first_failing"]["rustc"] == "debian:1.96.0"
    assert result["first_failing"]["bindgen"] == "0.2.98"
    assert result["first_failing"]["reference_types"] == "default"
    assert result["first_failing"]["last_good_rustc"] == "debian:1.63.0"
    on = result["frontier"]["on"]
    assert [(f["rustc"], f["first_bad"]) for f in on] == [("debian:1.63.0", "0.2.98"), ("debian:1.96.0", "0.2.98")]
    assert result["built"] == 16 and result["from_store"] == 0


def test_second_run_reuses_the_store(grid: Grid, store: Store, fake: FakeProbe) -> None:
    run_matrix(grid, store)
    fake.calls.clear()
    run_id, outcome, _ = run_matrix(grid, store, jobs=2)
    assert fake.calls == []
    assert outcome.from_store == {v.key for v in grid.variants()}
    result = store.run(run_id).result
    assert result is not None and result["from_store"] == 16 and result["built"] == 0


def test_jobs_run_cells_concurrently(grid: Grid, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = FakeProbe(delay=0.2)
    install_probe(monkeypatch, stub)
    start = time.monotonic()
    run_matrix(grid, store, jobs=4)
    assert stub.max_running == 4
    assert time.monotonic() - start < 16 * 0.2 / 2  # well under the serial time


def test_flaky_cell_is_an_error_and_the_others_go_on(grid: Grid, store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    stub = FakeProbe(flaky={"debian:1.96.0@0.2.99@on"})
    install_probe(monkeypatch, stub)
    run_id, outcome, _ = run_matrix(grid, store, jobs=2)
    assert outcome.counts()["error"] == 1 and len(outcome.outcomes) == 16
    assert any(p.outcome.verdict is Verdict.ERROR for p in store.run_probes(run_id))


def test_shards_partition_the_grid(grid: Grid) -> None:
    one = matrix.MatrixPlan.make(grid, shard_spec="1/3").cells
    two = matrix.MatrixPlan.make(grid, shard_spec="2/3").cells
    three = matrix.MatrixPlan.make(grid, shard_spec="3/3").cells
    keys = [v.key for v in (*one, *two, *three)]
    assert sorted(keys) == sorted(v.key for v in grid.variants()) and len(set(keys)) == 16
    with pytest.raises(UsageError, match="1 <= K <= N"):
        matrix.MatrixPlan.make(grid, shard_spec="4/3")


def test_select_cells(grid: Grid) -> None:
    chosen = matrix.select_cells(grid, ["debian:1.96.0@0.2.99@on", "1.63.0@0.2.92@default"])
    assert [matrix.cell_id(v) for v in chosen] == ["debian:1.63.0@0.2.92@default", "debian:1.96.0@0.2.99@on"]
    with pytest.raises(UsageError, match="not a cell of the grid"):
        matrix.select_cells(grid, ["debian:1.63.0@0.2.50@on"])


def test_github_matrix(grid: Grid) -> None:
    cells = matrix.github_matrix(grid, shards=None)["include"]
    assert len(cells) == 16 and cells[0] == {"cell": "debian:1.63.0@0.2.92@default", "rustc": "debian:1.63.0",
                                             "bindgen": "0.2.92", "reference_types": "default"}
    assert matrix.github_matrix(grid, shards=2) == {"include": [{"shard": "1/2", "name": "shard 1 of 2"},
                                                                {"shard": "2/2", "name": "shard 2 of 2"}]}


def test_grid_tables_render(grid: Grid, store: Store, fake: FakeProbe) -> None:
    from rich.console import Console

    from wasm_bisect.cli import _display as display

    _, outcome, _ = run_matrix(grid, store)
    console = Console(record=True, width=120)
    display.print_tables(console, display.grid_tables(grid, outcome.outcomes))
    text = console.export_text()
    assert "reference-types = on" in text and "debian:1.96.0" in text
    assert text.count("BAD") == 6 + 1  # six cells plus the legend


# -- shards + merge ----------------------------------------------------------------------------------------
def test_shards_merged_equal_one_run(grid: Grid, tmp_path: Path, fake: FakeProbe) -> None:
    full = Store(tmp_path / "full.sqlite3")
    run_id, _, _ = run_matrix(grid, full, jobs=2)
    whole = report_load.load(full, run_id, environment=False)
    exported = []
    for k in (1, 2):
        shard_run, _, _ = run_matrix(grid, full, shard=f"{k}/2")
        exported.append(tmp_path / f"shard{k}.sqlite3")
        merge.export(full, shard_run, exported[-1], command="test")
    target = Store(tmp_path / "merged.sqlite3")
    first = merge.merge_paths(exported, target, command="test")
    assert first.cells == 16 and not first.already
    merged = report_load.load(target, first.run_id, environment=False)
    assert report.comparable(merged) == report.comparable(whole)
    assert merged["run"]["merged_from"] and merged["run"]["id"] != whole["run"]["id"]
    again = merge.merge_paths([exported[1], exported[0], exported[0]], target, command="test")
    assert again.already and again.run_id == first.run_id
    assert len([r for r in target.runs() if r.kind == "matrix"]) == 1


def test_merge_refuses_a_different_template_or_config(grid: Grid, tmp_path: Path, fake: FakeProbe) -> None:
    a, b = Store(tmp_path / "a.sqlite3"), Store(tmp_path / "b.sqlite3")
    run_matrix(grid, a, shard="1/2")
    other = Grid(template=grid.template, rustc=grid.rustc, bindgen=grid.bindgen,
                 reference_types=grid.reference_types, params=(("n", "5"),))
    run_matrix(other, b, shard="2/2")
    a.close()
    b.close()
    with pytest.raises(UsageError, match="different template or config"):
        merge.merge_paths([tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"], Store(tmp_path / "m.sqlite3"),
                          command="test")


def test_merge_rejects_non_stores(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not a database at all, just text" * 100)
    with pytest.raises(UsageError, match="not a wasm-bisect result store"):
        merge.merge_paths([junk], Store(tmp_path / "m.sqlite3"), command="test")
    assert junk.read_text().startswith("not a database")  # untouched, not moved aside
    with pytest.raises(UsageError, match="does not exist"):
        merge.merge_paths([tmp_path / "missing.sqlite3"], Store(tmp_path / "m.sqlite3"), command="test")
    empty = Store(tmp_path / "empty.sqlite3")
    empty.close()
    with pytest.raises(UsageError, match="no finished matrix run"):
        merge.merge_paths([tmp_path / "empty.sqlite3"], Store(tmp_path / "m.sqlite3"), command="test")


# -- CLI ---------------------------------------------------------------------------------------------------
def test_cli_matrix_report_merge(tmp_path: Path, fake: FakeProbe, monkeypatch: pytest.MonkeyPatch) -> None:
    store = str(tmp_path / "s.sqlite3")
    html = tmp_path / "out" / "grid.html"
    monkeypatch.setattr(report_load, "collect_environment", lambda rustc, bindgen: {"node": "v0-test"})
    code, out, err = run_cli(["matrix", *GRID_ARGS, "-j", "2", "--store", store, "--json",
                               "--report", f"html:{html}", "--export", str(tmp_path / "e.sqlite3")])
    assert code == 0, err
    doc = validate_report(json.loads(out))
    assert doc["schema"] == "wasm-bisect-report" and doc["summary"]["bad"] == 6
    assert doc["environment"] == {"node": "v0-test"}
    assert "reference-types = on" in err and "first failing pair: rustc debian:1.96.0 + wasm-bindgen 0.2.98" in err
    assert html.read_text().count('class="cell verdict-') == 16
    code, out, _ = run_cli(["report", "--store", store, "--format", "junit", "--no-env"])
    assert code == 0 and out.count("<testcase ") == 16 and out.count("<failure ") == 6
    code, out, err = run_cli(["merge", str(tmp_path / "e.sqlite3"), "--into", str(tmp_path / "m.sqlite3")])
    assert code == 0, err
    code, again, _ = run_cli(["merge", str(tmp_path / "e.sqlite3"), "--into", str(tmp_path / "m.sqlite3")])
    assert again == out
    code, _, _ = run_cli(["matrix", *GRID_ARGS, "--store", store, "--fail-on-bad"])
    assert code == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["matrix", "--bindgen", "0.2.99"], "no rustc axis"),
        (["matrix", *GRID_ARGS, "--shard", "3/2"], "1 <= K <= N"),
        (["matrix", *GRID_ARGS, "--shard", "x"], "is not K/N"),
        (["matrix", *GRID_ARGS, "--cell", "debian:1.63.0@0.2.50@on"], "not a cell of the grid"),
        (["matrix", *GRID_ARGS, "-j", "0"], "must be at least 1"),
        (["matrix", *GRID_ARGS, "--report", "pdf:x.pdf"], "is not FORMAT:PATH"),
        (["matrix", *GRID_ARGS, "--config", "nope.toml"], "does not exist"),
        (["report", "--format", "pdf"], "is not one of"),
        (["report", "--store", "missing.sqlite3"], "does not exist"),
        (["report", "nosuchrun"], "no run 'nosuchrun'"),
        (["merge", "missing.sqlite3"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str, *, fake: FakeProbe, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(args)
    assert code == 2, err
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    assert fake.calls == []


def test_emit_github_matrix_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wasm-bisect.toml").write_text('rustc = ["debian:1.63.0"]\nbindgen = "0.2.92,0.2.99"\nshards = 3\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["matrix", "--emit-github-matrix"])
    assert code == 0 and len(json.loads(out)["include"]) == 3
    code, out, _ = run_cli(["matrix", "--emit-github-matrix", "--shards", "2"])
    assert [e["shard"] for e in json.loads(out)["include"]] == ["1/2", "2/2"]


# -- nox ---------------------------------------------------------------------------------------------------
NOX_LIST = json.dumps([
    {"session": "cell(debian:1.63.0@0.2.92@on)", "name": "cell", "description": None, "python": False,
     "tags": [], "call_spec": {"cell": "debian:1.63.0@0.2.92@on"}},
    {"session": "lint", "name": "lint", "description": None, "python": None, "tags": [], "call_spec": {}},
])


def test_nox_matrix() -> None:
    code, out, _ = run_cli(["nox-matrix"], input=NOX_LIST)
    assert code == 0
    assert json.loads(out) == {"include": [{"session": "cell(debian:1.63.0@0.2.92@on)",
                                            "cell": "debian:1.63.0@0.2.92@on", "rustc": "debian:1.63.0",
                                            "bindgen": "0.2.92", "reference_types": "on"}]}
    code, out, _ = run_cli(["nox-matrix", "--session", "lint"], input=NOX_LIST)
    assert json.loads(out) == {"include": [{"session": "lint"}]}
    for bad, needle in (("{", "not the JSON"), ("[1]", "not the JSON"), ("[]", "no nox session")):
        code, _, err = run_cli(["nox-matrix"], input=bad)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_nox_cells_and_run_cell(tmp_path: Path) -> None:
    cfg = tmp_path / "wasm-bisect.toml"
    cfg.write_text('rustc = ["debian:1.63.0", "debian:1.96.0"]\nbindgen = ["0.2.92"]\nreference-types = "both"\n')
    assert noxsupport.cells(cfg) == ["debian:1.63.0@0.2.92@default", "debian:1.63.0@0.2.92@on",
                                     "debian:1.96.0@0.2.92@default", "debian:1.96.0@0.2.92@on"]

    class Session:
        posargs = ["-j", "1"]
        ran: list[tuple[Any, ...]] = []

        def run(self, *args: Any, **kwargs: Any) -> None:
            self.ran.append((args, kwargs))

    session = Session()
    noxsupport.run_cell(session, "debian:1.63.0@0.2.92@on", config=cfg, export_dir=tmp_path / "out")
    args, kwargs = session.ran[0]
    assert args[:4] == ("wasm-bisect", "matrix", "--cell", "debian:1.63.0@0.2.92@on")
    assert str(tmp_path / "out" / "debian-1.63.0-0.2.92-on.sqlite3") in args
    assert args[-2:] == ("-j", "1") and kwargs == {"external": True}


def test_nox_merge_and_report(tmp_path: Path) -> None:
    class Session:
        def __init__(self) -> None:
            self.ran: list[tuple[str, ...]] = []

        def run(self, *args: str, **_: Any) -> None:
            self.ran.append(args)

        def error(self, message: str) -> None:
            raise RuntimeError(message)

    with pytest.raises(RuntimeError, match="no exported cells"):
        noxsupport.merge_and_report(Session(), export_dir=tmp_path)
    (tmp_path / "a.sqlite3").write_bytes(b"")
    session = Session()
    merged = noxsupport.merge_and_report(session, export_dir=tmp_path, formats=("md", "junit"))
    assert merged == tmp_path / "merged" / "store.sqlite3"
    assert session.ran[0] == ("wasm-bisect", "merge", str(tmp_path / "a.sqlite3"), "--into", str(merged))
    assert [r[-1] for r in session.ran[1:]] == [str(tmp_path / "report.md"), str(tmp_path / "report.xml")]
