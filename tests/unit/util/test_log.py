"""Messages stay one line and cannot drive the terminal; GitHub Actions gets annotations and a step summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasm_bisect.util import log


def test_error_is_one_escaped_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    log.error("bad [red]value[/red]\nsecond line \x1b[31m")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "[red]value[/red]" in err and "\\n" in err and "\\x1b" in err


def test_github_annotations_groups_and_summary(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    log.warn("careful")
    with log.group("bisect smoke"):
        log.info("inside")
    log.step_summary("## result")
    err = capsys.readouterr().err
    assert "::warning::careful" in err and "::group::bisect smoke" in err and "::endgroup::" in err
    assert summary.read_text() == "## result\n"


def test_commands_are_echoed_only_when_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    log.set_verbose(False)
    log.command("+ cargo build")
    assert capsys.readouterr().err == ""
    log.set_verbose(True)
    try:
        log.command("+ cargo build")
        assert "+ cargo build" in capsys.readouterr().err
    finally:
        log.set_verbose(False)
