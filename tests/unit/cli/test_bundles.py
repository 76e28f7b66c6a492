"""The flag bundles: shared options declared once, listed in place, handed to a command as one typed value."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from wasm_bisect.cli._common import NO_CHECK_FLAGS, NO_PROJECT_FLAGS, bundled
from wasm_bisect.domain.options import CheckOverrides, ProjectFlags, TimeoutVerdict

seen: dict[str, object] = {}


def _command(before: str | None = typer.Option(None, "--before"), project: ProjectFlags = NO_PROJECT_FLAGS,
             middle: str | None = typer.Option(None, "--middle"), checks: CheckOverrides = NO_CHECK_FLAGS,
             after: str | None = typer.Option(None, "--after")) -> None:
    seen.update(before=before, project=project, middle=middle, checks=checks, after=after)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("x")(bundled(_command))
    app.command("y")(lambda: None)  # two commands: `x` stays a subcommand
    return app


def test_a_bundle_arrives_as_one_frozen_value() -> None:
    result = CliRunner().invoke(_app(), ["x", "--crate", "proj", "-F", "a,b", "--features", "c d", "--relock",
                                         "--timeout", "5", "--timeout-verdict", "BAD", "--before", "1"])
    assert result.exit_code == 0, result.output
    assert seen["project"] == ProjectFlags(crate=Path("proj"), features=("a", "b", "c", "d"), relock=True)
    assert seen["checks"] == CheckOverrides(timeout=5.0, timeout_verdict=TimeoutVerdict.BAD)
    assert seen["before"] == "1" and seen["middle"] is None


def test_nothing_given_is_all_none() -> None:
    assert CliRunner().invoke(_app(), ["x"]).exit_code == 0
    assert seen["project"] == ProjectFlags() and seen["checks"] == CheckOverrides()


def test_help_lists_the_options_in_the_bundles_place() -> None:
    text = CliRunner().invoke(_app(), ["x", "--help"], env={"COLUMNS": "200"}).output
    order = [text.index(flag) for flag in ("--before", "--crate", "--relock", "--middle", "--check ", "--test",
                                           "--after")]
    assert order == sorted(order)
