"""Helpers shared by the unit tests: the CLI run in-process as a user runs it (`run_cli`), and the fakes several
test modules need. Import them (`from unit.conftest import run_cli`) or take the fixtures by name.

The home isolation, the refusal to start processes and the `--update-snapshots` option live in tests/conftest.py
(shared by every suite; pytest reads command-line options only from the conftests it loads first).
"""

from __future__ import annotations

import contextlib
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from typer._click import formatting
from typer.testing import CliRunner

from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, ToolchainSpec, Variant
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


def write_executable(path: Path, text: str = "#!/bin/sh\n") -> Path:
    """A script at `path` (its directory made) that its owner may run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def command_paths() -> list[tuple[str, ...]]:
    """The root (`()`), every group and every command of the CLI, from its click command tree, sorted."""
    from typer.main import get_command

    from wasm_bisect import cli

    def walk(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = [path]
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            found += walk(sub, (*path, name))
        return found

    return walk(get_command(cli.app), ())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store in the test's directory, closed afterwards."""
    s = Store(tmp_path / "store.sqlite3")
    yield s
    s.close()


def offline_releases(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wasm-bindgen release list is the bundled one: no crates.io index, no network."""
    from wasm_bisect.bindgen import index
    from wasm_bisect.domain import versions

    monkeypatch.setattr(index, "releases", lambda **_: list(versions.bundled_releases()))


@pytest.fixture
def offline_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """`offline_releases` as a fixture (`pytestmark = pytest.mark.usefixtures("offline_index")`)."""
    offline_releases(monkeypatch)


def make_variant(template: str = "t", rustc: str | ToolchainSpec = "debian:1.96.0",
                 bindgen: str | BindgenSource = "0.2.99", reference_types: ReferenceTypes = ReferenceTypes.DEFAULT,
                 **fields: Any) -> Variant:
    """A grid cell from short spellings (`rustc` a toolchain spec, `bindgen` a crates.io version); `fields` are
    the Variant's other fields (options, params, runtime)."""
    return Variant(template=template, rustc=ToolchainSpec.parse(rustc) if isinstance(rustc, str) else rustc,
                   bindgen=BindgenSource.crates(bindgen) if isinstance(bindgen, str) else bindgen,
                   reference_types=reference_types, **fields)


ProbeFunction = Callable[..., Any]


def install_probe(monkeypatch: pytest.MonkeyPatch, fake: ProbeFunction) -> None:
    """Every probe of the test is answered by `fake(variant, template, **keywords)` instead of a real build."""
    from wasm_bisect.probe import oracle as probe_oracle

    monkeypatch.setattr(probe_oracle, "run_probe", fake)


def recording_probe(monkeypatch: pytest.MonkeyPatch, answer: Callable[[Variant], Any]) -> list[str]:
    """Install a fake probe that answers `answer(variant)`; the list it returns fills with each probed cell's
    `short()`, in order."""
    calls: list[str] = []

    def fake(variant: Variant, _template: Any, **_: Any) -> Any:
        calls.append(variant.short())
        return answer(variant)

    install_probe(monkeypatch, fake)
    return calls


class CountingProbe:
    """The base of the fake probes that run concurrently: records each call and how many ran at once."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def counted(self, name: str, also: Callable[[], None] | None = None) -> Iterator[None]:
        """One call named `name` runs inside; `also` runs under the same lock as the count (a subclass's own
        bookkeeping, ordered with it)."""
        with self._lock:
            self.calls.append(name)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            if also is not None:
                also()
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
