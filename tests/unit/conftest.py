"""Helpers shared by the unit tests: the CLI run in-process as a user runs it (`run_cli`), and the fakes several
test modules need. Import them (`from unit.conftest import run_cli`) or take the fixtures by name.

The home isolation, the refusal to start processes and the `--update-snapshots` option live in tests/conftest.py
(shared by every suite; pytest reads command-line options only from the conftests it loads first).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest
from typer._click import formatting
from typer.testing import CliRunner

from wasm_bisect.store import Store


class CliResult(NamedTuple):
    """What a run of the CLI left: its exit code, stdout and stderr (unpacks as `code, out, err`)."""

    code: int
    out: str
    err: str


def run_cli(args: list[str] | tuple[str, ...], *, input: str | bytes | None = None,
            env: Mapping[str, str | None] | None = None, columns: int | None = None) -> CliResult:
    """`wasm-bisect ARGS` through the console entry `cli.main()` (its own handler turns errors into one line and an
    exit code), inside typer's CliRunner isolation: stdin is `input` (empty if None), stdout and stderr are captured
    apart, `env` is set for the run only, COLUMNS too when `columns` is given.

    Help is wrapped as in a real run (by COLUMNS, up to click's 80), not at the 80 CliRunner pins.
    """
    from wasm_bisect import cli

    env = {**(env or {}), **({"COLUMNS": str(columns)} if columns is not None else {})}
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (stdout, stderr, _):
        formatting.FORCED_WIDTH = None  # restored by the isolation on exit
        argv = sys.argv
        sys.argv = ["wasm-bisect", *args]
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code
        else:
            raise AssertionError(f"wasm-bisect {' '.join(args)}: main() returned instead of exiting")
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        out, err = stdout.getvalue(), stderr.getvalue()
    if code is not None and not isinstance(code, int):
        raise AssertionError(f"wasm-bisect {' '.join(args)}: exited with {code!r}, not a number")
    return CliResult(int(code or 0), out.decode().replace("\r\n", "\n"), err.decode().replace("\r\n", "\n"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store in the test's directory, closed afterwards."""
    s = Store(tmp_path / "store.sqlite3")
    yield s
    s.close()
