"""`--prompt`: the question loop on a fake terminal, and the oracle that asks a person (fake probes, no builds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.conftest import recording_probe
from wasm_bisect import probe
from wasm_bisect.cli._prompt import Terminal, ask, describe, require_terminal
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.model import BindgenSource, Outcome, Stage, Terms, ToolchainSpec, Variant, Verdict
from wasm_bisect.probe import templates
from wasm_bisect.store import Store

CELL = Variant(template="vec-of-structs", rustc=ToolchainSpec.parse("debian:1.96.0"),
               bindgen=BindgenSource.crates("0.2.95"))
BUILT = Outcome(verdict=Verdict.BAD, reason="test_sum threw TypeError: detached ArrayBuffer", stage=Stage.CHECK,
                exit_code=1, log_tail="building...\nFAIL: test_sum threw TypeError: detached ArrayBuffer",
                crate_dir="/w/abc/crate",
                evidence={"pkg_dir": "/w/abc/crate/pkg", "target_features": ["+multivalue", "+reference-types"],
                          "externref_transform": True})


class FakeTerminal:
    def __init__(self, *answers: str) -> None:
        self.answers: Iterator[str] = iter(answers)
        self.shown: list[str] = []

    def terminal(self) -> Terminal:
        return Terminal(read=lambda: next(self.answers, ""), write=self.shown.append)

    @property
    def screen(self) -> str:
        return "".join(self.shown)


@pytest.mark.parametrize(("typed", "verdict"), [("good", Verdict.GOOD), ("bad\n", Verdict.BAD),
                                                 (" Skip \n", Verdict.SKIP)])
def test_an_answer_is_a_verdict(typed: str, verdict: Verdict) -> None:
    fake = FakeTerminal(typed)
    assert ask(CELL, BUILT, Terms.of(), fake.terminal()) is verdict
    assert "1.96.0@0.2.95[default]: good / bad / skip / retry / quit? " in fake.screen


def test_what_was_built_is_shown_before_the_question() -> None:
    fake = FakeTerminal("bad")
    ask(CELL, BUILT, Terms.of(), fake.terminal())
    screen = fake.screen
    assert "crate: /w/abc/crate" in screen and "pkg:   /w/abc/crate/pkg" in screen
    assert "module target_features: +multivalue +reference-types; externref transform: yes" in screen
    assert "the check says: bad at check: test_sum threw" in screen
    assert "| FAIL: test_sum threw TypeError: detached ArrayBuffer" in screen  # the check's output tail
    assert screen.index("the check says") < screen.index("? ")


def test_retry_asks_for_a_new_build_and_nonsense_is_asked_again() -> None:
    fake = FakeTerminal("maybe", "retry")
    assert ask(CELL, BUILT, Terms.of(), fake.terminal()) is None
    assert "answer one of: good / bad / skip / retry / quit" in fake.screen
    assert "building it again" in fake.screen


@pytest.mark.parametrize("typed", ["quit", "q", ""])  # "" is the end of input (Ctrl-D)
def test_quit_stops_like_ctrl_c(typed: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        ask(CELL, BUILT, Terms.of(), FakeTerminal(typed).terminal())


def test_the_users_terms_are_the_choices() -> None:
    terms = Terms.of("fast", "slow")
    fake = FakeTerminal("bad", "slow")  # the plain words stay understood; the terms are what is offered
    assert ask(CELL, BUILT, terms, fake.terminal()) is Verdict.BAD
    assert "fast / slow / skip / retry / quit? " in fake.screen
    assert "the check says: slow" in describe(CELL, BUILT, terms)
    fixing = FakeTerminal("fixed")  # --find-fix: broken / fixed, and fixed is a passing (good) cell
    assert ask(CELL, BUILT, Terms.of(find_fix=True), fixing.terminal()) is Verdict.GOOD
    assert "broken / fixed / skip / retry / quit? " in fixing.screen


def test_prompt_needs_a_terminal() -> None:
    with pytest.raises(UsageError) as refused:
        require_terminal(False)
    assert refused.value.exit_code == 2
    assert "stdin is not a terminal" in refused.value.one_line()
    require_terminal(True)


def _oracle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: list[Verdict | None]
            ) -> tuple[probe.Oracle, list[str]]:
    builds = recording_probe(monkeypatch, lambda _variant: BUILT)
    pending = iter(answers)

    def judge(_variant: Variant, _outcome: Outcome) -> Verdict | None:
        answer = next(pending, "quit")
        if answer == "quit":
            raise KeyboardInterrupt
        return answer  # type: ignore[return-value]

    tmpl = templates.load("vec-of-structs")
    return probe.Oracle(template=tmpl, store=Store(tmp_path / "s.sqlite3"), judge=judge), builds


def test_the_oracle_asks_retries_and_stores_a_persons_mark_apart(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    oracle, builds = _oracle(tmp_path, monkeypatch, [None, Verdict.GOOD])  # retry, then good
    got = oracle.outcome(CELL)
    assert builds == [CELL.short(), CELL.short()]  # built again on retry
    assert (got.verdict, got.by) == (Verdict.GOOD, "person")
    assert got.evidence["check_verdict"] == "bad" and "the check said bad" in got.reason
    tmpl = oracle.template
    assert oracle.store.get(CELL, tmpl.content_hash, probe.person_key(tmpl.check_hash)) == got
    assert oracle.store.get(CELL, tmpl.content_hash, tmpl.check_hash) == BUILT  # the check's own verdict

    again, builds_again = _oracle(tmp_path, monkeypatch, [])  # a re-run: from the store, nobody asked
    assert again.outcome(CELL).verdict is Verdict.GOOD and builds_again == []


def test_quit_stores_nothing_for_the_cell_and_a_rerun_asks_again(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    oracle, builds = _oracle(tmp_path, monkeypatch, [])
    with pytest.raises(KeyboardInterrupt):
        oracle.outcome(CELL)
    tmpl = oracle.template
    assert oracle.store.get(CELL, tmpl.content_hash, probe.person_key(tmpl.check_hash)) is None
    resumed, builds_again = _oracle(tmp_path, monkeypatch, [Verdict.BAD])
    assert resumed.outcome(CELL).verdict is Verdict.BAD
    assert builds == [CELL.short()] and builds_again == []  # the check's build is reused when resuming
