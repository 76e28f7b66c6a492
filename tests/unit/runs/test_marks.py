"""`mark`, `replay` and the terms: parsing, and the whole flow through the CLI on fake probes (nothing built)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unit.cli.test_json_schemas import world  # noqa: F401 - `world` is the fixture: fake home and probes
from unit.conftest import run_cli
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import ReferenceTypes, Terms, Verdict
from wasm_bisect.runs import marks
from wasm_bisect.runs.bisect import _describe

pytestmark = pytest.mark.subprocess  # the fake toolchain's rustc and cargo answer -vV and --version for real

STORE = ("--store", "store.sqlite3")
# The fake probe: bad from wasm-bindgen 0.2.95 on, with any rustc.
GRID = ("--template", "vec-of-structs", "--rustc", "debian:1.96.0", "--bindgen", "0.2.93,0.2.95,0.2.96,0.2.99",
        "--reference-types", "default", "--no-follow-up", *STORE)


@pytest.mark.parametrize(("text", "cell"), [
    ("debian:1.96.0@0.2.95:default", marks.Cell(rustc="debian:1.96.0", bindgen="0.2.95",
                                                setting=ReferenceTypes.DEFAULT)),
    ("1.96.0@0.2.95", marks.Cell(rustc="1.96.0", bindgen="0.2.95")),
    ("path:/opt/r@1@0.2.99:on", marks.Cell(rustc="path:/opt/r@1", bindgen="0.2.99", setting=ReferenceTypes.ON)),
])
def test_cells_parse(text: str, cell: marks.Cell) -> None:
    assert marks.parse_cell(text) == cell


@pytest.mark.parametrize("text", ["1.96.0", "@0.2.95", "1.96.0@"])
def test_a_cell_without_both_versions_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="RUSTC@BINDGEN"):
        marks.parse_cell(text)


LOG = """# run 20261207-1 (bisect): wasm-bisect bisect --template t --store s.sqlite3
# terms: fast / slow
# slow: [debian:1.96.0 wasm-bindgen 0.2.99 reference-types default] FAIL
slow debian:1.96.0@0.2.99:default

fast debian:1.96.0@0.2.93:default
# error: [...] the tool crashed
error debian:1.96.0@0.2.95:default
skip   debian:1.96.0@0.2.96:default
bad debian:1.96.0@0.2.97:default
"""


def test_a_log_parses_into_its_run_command_and_marks() -> None:
    replay = marks.parse_log(LOG.replace("slow", "bad").replace("fast", "good"))
    assert replay.run_id == "20261207-1"
    assert replay.argv() == ["bisect", "--template", "t", "--store", "s.sqlite3"]
    assert [(m.verdict, m.cell.bindgen, m.line) for m in replay.marks] == [
        (Verdict.BAD, "0.2.99", 4), (Verdict.GOOD, "0.2.93", 6), (Verdict.SKIP, "0.2.96", 9),
        (Verdict.BAD, "0.2.97", 10)]  # error lines are not marks: those cells are probed again


def test_a_log_needs_its_header_and_verdict_words() -> None:
    with pytest.raises(UsageError, match="not the output of `wasm-bisect log`"):
        marks.parse_log("good debian:1.96.0@0.2.93:default\n")
    with pytest.raises(UsageError, match="line 4: 'slow' is not a verdict"):
        marks.parse_log(LOG)  # no store holding the run: its terms are unknown, only good/bad/skip are read


def test_terms_name_the_verdicts_in_both_modes() -> None:
    terms = Terms.of("fast", "slow")
    assert (terms.word(Verdict.GOOD), terms.word(Verdict.BAD), terms.word(Verdict.SKIP)) == ("fast", "slow", "skip")
    assert terms.verdict("SLOW") is Verdict.BAD and terms.verdict("good") is Verdict.GOOD
    assert terms.verdict("maybe") is None
    fixing = Terms.of(find_fix=True)
    assert (fixing.old, fixing.new, fixing.verdict("fixed"), fixing.word(Verdict.BAD)) == \
        ("broken", "fixed", Verdict.GOOD, "broken")
    for old, new in (("same", "same"), ("two words", "bad"), ("skip", "bad")):
        with pytest.raises(UsageError):
            Terms.of(old, new)
    assert _describe("the first bad pair is x; every good pair", new_term="slow", terms=terms) == \
        "the first slow pair is x; every fast pair"


def _bisect(*extra: str) -> dict[str, object]:
    code, out, err = run_cli(["bisect", *GRID, *extra, "--json"])
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def _first(doc: dict[str, object]) -> str | None:
    first = doc["bisect"]["searches"][0]["first_failing"]  # type: ignore[index]
    return first["bindgen"] if first else None  # type: ignore[index]


def test_mark_corrects_a_verdict_and_the_rerun_builds_nothing(world: Path) -> None:  # noqa: F811
    doc = _bisect()
    assert _first(doc) == "0.2.95"
    run_id = str(doc["run"]["id"])  # type: ignore[index]
    code, _, err = run_cli(["mark", run_id[:12], "good", "1.96.0@0.2.95", *STORE])
    assert code == 0, err
    assert "1.96.0@0.2.95[default] marked good by a person (was bad)" in err
    again = _bisect()
    assert _first(again) == "0.2.96"  # the search moved on from the corrected cell
    probes = again["bisect"]["probes"]  # type: ignore[index]
    assert probes["built"] == 0 and probes["from_store"] == 4  # type: ignore[index]  # the first run asked all four
    cells = {c["bindgen"]: c for c in again["cells"]}  # type: ignore[attr-defined]
    assert cells["0.2.95"]["by"] == "person" and cells["0.2.93"]["by"] == "check"
    assert cells["0.2.95"]["evidence"]["check_verdict"] == "bad"
    code, out, _ = run_cli(["log", *STORE])
    assert "# good by a person: [debian:1.96.0 wasm-bindgen 0.2.95 reference-types default] marked good" in out


def test_mark_refuses_what_is_not_a_cell_or_a_verdict(world: Path) -> None:  # noqa: F811
    doc = _bisect()
    run_id = str(doc["run"]["id"])  # type: ignore[index]
    for args, said in ((["maybe", "1.96.0@0.2.95"], "'maybe' is not a verdict"),
                       (["bad", "1.63.0@0.2.95"], "is not a cell of run"),
                       (["bad", "1.96.0@0.2.95:on"], "did not search reference-types on")):
        code, _, err = run_cli(["mark", run_id, *args, *STORE])
        assert code == 2 and said in err, err


def test_replay_applies_an_edited_log(world: Path, tmp_path: Path) -> None:  # noqa: F811
    _bisect()
    code, log_text, _ = run_cli(["log", *STORE])
    assert code == 0
    assert "bad debian:1.96.0@0.2.95:default" in log_text
    edited = tmp_path / "edited.log"
    edited.write_text(log_text.replace("bad debian:1.96.0@0.2.95:default", "good debian:1.96.0@0.2.95:default"))
    code, out, err = run_cli(["replay", str(edited), *STORE])
    assert code == 0, err
    assert "1.96.0@0.2.95[default]: bad -> good (by a person)" in err
    assert "replay of run" in err and "1 verdict(s) changed" in err
    assert "the first bad pair is rustc 1.96.0 + wasm-bindgen 0.2.96" in out
    code, out, _ = run_cli(["runs", *STORE])
    assert out.count("wasm-bisect bisect --template vec-of-structs") == 2  # the replay ran the logged command


def test_terms_in_output_and_the_log(world: Path) -> None:  # noqa: F811
    code, out, err = run_cli(["bisect", *GRID, "--term-old", "fast", "--term-new", "slow"])
    assert code == 0, err
    assert "the first slow pair is rustc 1.96.0 + wasm-bindgen 0.2.95" in out
    assert "first slow pair: rustc debian:1.96.0 + wasm-bindgen 0.2.95" in out
    assert "last fast on the wasm-bindgen axis: 0.2.93" in out
    assert " SLOW " in err and " FAST " in err  # the live lines
    code, out, _ = run_cli(["log", *STORE])
    assert "# terms: fast / slow" in out and "slow debian:1.96.0@0.2.95:default" in out
    assert "fast debian:1.96.0@0.2.93:default" in out


def test_prompt_off_a_terminal_is_one_line_and_exit_2(world: Path) -> None:  # noqa: F811
    code, _, err = run_cli(["bisect", *GRID, "--prompt"])
    assert code == 2
    assert err.strip().count("\n") == 0 and "--prompt asks a person on the terminal" in err
