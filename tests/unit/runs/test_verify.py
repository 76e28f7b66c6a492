"""Patch verification and commit bisection, pure parts: cell changes, the one-line conclusion, the commit search;
plus the CLI's refusals, which all happen before any git or build runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from unit.conftest import make_variant, run_cli
from wasm_bisect import search
from wasm_bisect.domain.model import BindgenSource, Outcome, ReferenceTypes, ToolchainSpec, Variant, Verdict
from wasm_bisect.runs import commits, verify
from wasm_bisect.runs.verify import Change, Conclusion

G, B, S, E = Verdict.GOOD, Verdict.BAD, Verdict.SKIP, Verdict.ERROR
R163, R196 = ToolchainSpec.parse("debian:1.63.0"), ToolchainSpec.parse("debian:1.96.0")


@pytest.mark.parametrize(
    ("base", "patch", "change"),
    [(B, G, Change.FIXED), (B, B, Change.STILL_FAILING), (G, B, Change.REGRESSION), (G, G, Change.STILL_PASSING),
     (S, G, Change.UNTESTABLE), (B, E, Change.UNTESTABLE), (E, B, Change.UNTESTABLE)],
)
def test_compare(base: Verdict, patch: Verdict, change: Change) -> None:
    assert verify.compare(base, patch) is change


def _cells(*pairs: tuple[Verdict, Verdict]) -> list[verify.Cell]:
    rows = [(R163, ReferenceTypes.ON), (R196, ReferenceTypes.DEFAULT), (R163, ReferenceTypes.DEFAULT),
            (R196, ReferenceTypes.ON)]
    return [verify.Cell(rustc=r, reference_types=rt, base=Outcome(verdict=b, reason="b"),
                        patch=Outcome(verdict=p, reason="p")) for (r, rt), (b, p) in zip(rows, pairs, strict=False)]


@pytest.mark.parametrize(
    ("pairs", "conclusion", "needle"),
    [
        (((B, G), (B, G), (G, G)), Conclusion.FIXED, "passes in all 2 cell(s) where base failed"),
        (((B, G), (B, B)), Conclusion.PARTIAL, "fixes 1 of 2"),
        (((B, G), (B, S)), Conclusion.PARTIAL, "untestable: rustc 1.96.0 [default]"),
        (((B, B), (B, B), (G, G)), Conclusion.NOT_FIXED, "still fails in 2 of 2"),
        (((B, G), (G, B)), Conclusion.REGRESSES, "newly fails in 1 cell(s)"),
        (((G, G), (S, B)), Conclusion.INCONCLUSIVE, "base fails in no testable cell"),
        (((B, S), (B, E)), Conclusion.INCONCLUSIVE, "untestable in every cell"),
    ],
)
def test_conclude(pairs: tuple[tuple[Verdict, Verdict], ...], conclusion: Conclusion, needle: str) -> None:
    got, line = verify.conclude(_cells(*pairs), base="base", patch="patch")
    assert got is conclusion
    assert line.startswith(str(conclusion) + ":") and needle in line and "\n" not in line


def test_exit_codes() -> None:
    assert [c.exit_code for c in Conclusion] == [0, 1, 1, 1, 3]


def test_run_asks_base_cells_first_and_reports() -> None:
    base, patch = BindgenSource.crates("0.2.99"), BindgenSource(kind="git", version="0.2.100", url="file:///r",
                                                                rev="a" * 40)
    asked: list[Variant] = []
    table = {("1.63.0", "0.2.99"): B, ("1.96.0", "0.2.99"): B, ("1.63.0", "0.2.100"): G, ("1.96.0", "0.2.100"): G}

    def outcome(v: Variant) -> Outcome:
        asked.append(v)
        return Outcome(verdict=table[(v.rustc.version, v.bindgen.version)], reason="r")

    result = verify.run(template="t", rustc=[R163, R196], reference_types=[ReferenceTypes.ON], base=base,
                        patch=patch, variant=lambda r, b, rt: make_variant("t", r, b, rt), outcome=outcome)
    assert [v.bindgen.kind for v in asked] == ["crates", "crates", "git", "git"]
    assert result.conclusion[0] is Conclusion.FIXED
    data = result.to_json()
    assert data["counts"]["fixed"] == 2 and data["conclusion"] == "FIXED"
    md = verify.markdown(result, base="0.2.99", patch="the fix", run_id="r1", matrix="## grid\n")
    assert "## t: FIXED" in md and "| debian:1.96.0 | on | bad | good | ✅ fixed |" in md and "## grid" in md


@dataclass
class FakeRun:
    kind: str
    config: dict[str, Any]
    result: dict[str, Any] | None


def test_base_from_runs_takes_the_newest_regress_bisect_of_the_template() -> None:
    def bisect(template: str, bindgen: str | None, *, find_fix: bool = False, done: bool = True) -> FakeRun:
        result = {"searches": [{"first_failing": {"bindgen": bindgen} if bindgen else None}]} if done else None
        return FakeRun("bisect", {"grid": {"template": template, "rustc": ["debian:1.63.0"]}, "find_fix": find_fix},
                       result)

    runs = [FakeRun("matrix", {"grid": {"template": "v"}}, {}), bisect("other", "0.2.90"),
            bisect("v", "0.2.98", find_fix=True), bisect("v", None, done=False), bisect("v", None),
            bisect("v", "0.2.95"), bisect("v", "0.2.91")]
    found = verify.base_from_runs(runs, "v")
    assert found is not None and found[0] == "0.2.95" and found[1]["rustc"] == ["debian:1.63.0"]
    assert verify.base_from_runs(runs[:3], "v") is None


def test_base_from_runs_of_a_crate_is_the_same_projects() -> None:
    """Two projects may both have a package `app`: the base comes from a bisect of this directory."""
    def bisect(root: str, bindgen: str) -> FakeRun:
        return FakeRun("bisect", {"grid": {"template": "crate:app"}, "template_path": root},
                       {"searches": [{"first_failing": {"bindgen": bindgen}}]})

    runs = [bisect("/elsewhere", "0.2.97"), bisect("/mine", "0.2.95")]
    found = verify.base_from_runs(runs, "crate:app", "/mine")
    assert found is not None and found[0] == "0.2.95"
    assert verify.base_from_runs(runs, "crate:app")[0] == "0.2.97"  # type: ignore[index]


# -- commit bisection --------------------------------------------------------------------------------------
ITEMS = [commits.Commit(f"{i:040x}", f"commit {i}") for i in range(9)]


def _oracle(verdicts: dict[int, Verdict], default_bad_from: int) -> Any:
    asked: list[int] = []

    def ask(c: commits.Commit) -> Verdict:
        i = ITEMS.index(c)
        asked.append(i)
        return verdicts.get(i, B if i >= default_bad_from else G)

    ask.asked = asked  # type: ignore[attr-defined]
    return ask


def test_bisect_commits_first_bad_with_subject() -> None:
    ask = _oracle({}, 5)
    found = commits.bisect(ITEMS, ask)
    data = commits.result(found, find_fix=False, url="https://github.com/wasm-bindgen/wasm-bindgen")
    assert data["first"] == ITEMS[5].to_json() and data["exit_code"] == 0
    assert ask.asked[:2] == [0, 8]  # both ends first
    assert commits.headline(data) == f"first bad commit: {ITEMS[5].sha[:12]} commit 5"
    assert data["link"].endswith(ITEMS[5].sha)
    assert commits.result(found, find_fix=False, url="file:///x")["link"] is None


def test_bisect_commits_steps_around_untestable() -> None:
    found = commits.bisect(ITEMS, _oracle({4: S, 5: S}, 5))
    assert found.status is search.Status.RANGE and found.candidates == (4, 5, 6)
    data = commits.result(commits.bisect(ITEMS, _oracle({5: S}, 5)), find_fix=False, url="u")
    assert data["status"] == "range" and [c["subject"] for c in data["candidates"]] == ["commit 5", "commit 6"]
    assert "one of 2" in commits.headline(data)


def test_bisect_commits_find_fix_and_wrong_ends() -> None:
    fix = commits.bisect(ITEMS, _oracle({i: (B if i < 3 else G) for i in range(9)}, 99), find_fix=True)
    data = commits.result(fix, find_fix=True, url="u")
    assert data["first"]["subject"] == "commit 3" and commits.headline(data).startswith("first fixed commit")
    wrong = commits.result(commits.bisect(ITEMS, _oracle({}, 0)), find_fix=False, url="u")
    assert wrong["status"] == "first-not-old" and wrong["exit_code"] == 3 and "is not good" in commits.headline(wrong)


# -- CLI refusals (before any process) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["verify", "--patch", "git+ext::sh -c touch% /tmp/x", "--against", "0.2.99"], "remote helpers"),
        (["verify", "--patch", "--upload-pack=x", "--against", "0.2.99"], "starts with '-'"),
        (["verify", "--patch", "0.2.100", "--against", "git+https://h/x@a..b"], "is not a branch"),
        (["verify", "--patch", "0.2.100"], "no finished bisect run"),
        (["verify", "--patch", "0.2.99", "--against", "0.2.99"], "same source"),
        (["verify", "--patch", "0.2.100", "--against", "0.2.99", "--rustc", "apt:1"], "unknown toolchain"),
        (["bisect-commits", "--bindgen-repo", "ext::sh -c id", "--good", "a", "--bad", "b"], "remote helpers"),
        (["bisect-commits", "--bindgen-repo", "https://h/x", "--good", "-x", "--bad", "b"], "starts with '-'"),
        (["bisect-commits", "--bindgen-repo", "/no/such/dir", "--good", "a", "--bad", "b"], "not a git URL"),
        (["bisect-commits", "--bindgen-repo", "https://h/x", "--good", "a", "--bad", "b",
          "--reference-types", "both"], "is not one of"),
    ],
)
def test_cli_refusals_are_one_line_exit_2(args: list[str], needle: str) -> None:
    code, _, err = run_cli(args)
    assert code == 2, err
    assert needle in err and "Traceback" not in err
    assert len([ln for ln in err.strip().splitlines() if ln.strip()]) == 1, err
