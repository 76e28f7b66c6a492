"""Snapshots of what the CLI says: `--help` of the root, every group and every command (found in the click
command tree), and the one-line error and exit code of each command for a few bad inputs that fail while the
arguments are checked (offline, nothing built). They guard refactors: help text and error lines stay identical.

The snapshots are text files in tests/unit/cli/snapshots/. After a deliberate change of help or of a message:
    pytest tests/unit/cli/test_snapshots.py --update-snapshots
and review the diff of the snapshot files with the change. Without the option a mismatch fails with a diff.

Everything that depends on the machine or the run is fixed or normalised: the width (COLUMNS=80), no colors
(NO_COLOR, TERM=dumb, ANSI escapes stripped), help as off a terminal (plain text), no GitHub Actions
annotations, the home and the working directory (temporary), the checkout, the user's home and the version.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from unit.conftest import command_paths, run_cli
from wasm_bisect import __version__, cli

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
REPO = Path(__file__).resolve().parents[3]
COLUMNS = 80

EVERY = command_paths()  # the root, every group and every command
GROUPS = {p[:-1] for p in EVERY if p}  # the root and every group: they have subcommands
COMMANDS = [p for p in EVERY if p not in GROUPS]

STORE = ("--store", "s.sqlite3")  # relative: in the test's working directory
# Bad inputs per command, each refused while its arguments are checked: unknown values, malformed axes and ranges,
# missing or unknown RUN ids, missing arguments. Every command also gets an unknown option (below).
BAD: dict[tuple[str, ...], list[list[str]]] = {
    ("probe",): [
        ["--template", "nope"],
        ["--template", "canvas-imagedata", "--open"],
        ["--rustc", "apt:1.96.0"],
        ["--rustc", "debian:1.96"],
        ["--bindgen", "0.2"],
        ["--reference-types", "maybe"],
        ["--param", "n"],
        ["--param", "zz=1"],
        ["--build-failure", "ignore"],
        ["--target", "web"],
        ["--runtime", "safari"],
        ["--tools", "download"],
        ["--runtime", "chromium", "--browser-path", "/nonexistent/chrome"],
    ],
    ("bisect",): [
        ["--template", "nope"],
        ["--rustc", "debian:1.96"],
        ["--rustc", "nightly:yesterday"],
        ["--bindgen", "0.2.99..0.2.93"],
        ["--bindgen", "0.2.x..0.2.99"],
        ["--reference-types", "sometimes"],
        ["--jobs", "0"],
    ],
    ("matrix",): [
        ["--template", "nope", "--rustc", "debian:1.96.0", "--bindgen", "0.2.99"],
        ["--rustc", "debian:1.96", "--bindgen", "0.2.99"],
        ["--rustc", "debian:1.96.0", "--bindgen", "0.2.99..0.2.93"],
        ["--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--reference-types", "maybe"],
        ["--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--runtime", "node,edge"],
        ["--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--shard", "3/2"],
        ["--rustc", "debian:1.96.0", "--bindgen", "0.2.99", "--runtime", "chromium,firefox",
         "--browser-path", "/bin/sh"],
    ],
    ("verify",): [
        ["--patch", "git+ext::sh -c touch% /tmp/x", "--against", "0.2.99"],
        ["--patch", "--upload-pack=x", "--against", "0.2.99"],
        ["--patch", "0.2.100", "--against", "git+https://h/x@a..b"],
        ["--patch", "0.2.100", *STORE],
        ["--patch", "0.2.99", "--against", "0.2.99"],
        ["--patch", "0.2.100", "--against", "0.2.99", "--rustc", "apt:1"],
    ],
    ("bisect-commits",): [
        ["--bindgen-repo", "ext::sh -c id", "--good", "a", "--bad", "b"],
        ["--bindgen-repo", "https://h/x", "--good", "-x", "--bad", "b"],
        ["--bindgen-repo", "/no/such/dir", "--good", "a", "--bad", "b"],
        ["--bindgen-repo", "https://h/x", "--good", "a", "--bad", "b", "--reference-types", "both"],
    ],
    ("report",): [["0123456789ab", *STORE], ["--format", "pdf", *STORE]],
    ("log",): [["0123456789ab", *STORE]],
    ("runs",): [["--limit", "0"]],
    ("mark",): [["0123456789ab", "good", "1.96.0@0.2.95", *STORE], ["0123456789ab", "maybe", "x", *STORE], []],
    ("merge",): [["missing.sqlite3", "--into", "m.sqlite3"], []],
    ("serve",): [["1.96.0@0.2.95", "--run", "0123456789ab", *STORE], ["0.2.95", *STORE],
                 ["1.96.0@0.2.95", "--page", "missing.html", *STORE], []],
    ("replay",): [["missing.log", *STORE], []],
    ("templates", "show"): [["nope"], ["../missing"], []],
    ("templates", "init"): [["nope", "dest"], []],
    ("toolchain", "add"): [["rustc:1.0.0"], ["debian:1.96"], []],
    ("toolchain", "available"): [["nope"]],
    ("tools", "install"): [[], ["--bindgen", "0.2"], ["--bindgen", "0.2.99", "--tools", "binary"]],
    ("cache", "export"): [[]],
    ("cache", "import"): [["missing.tar"], []],
}
CASES = [(command, args) for command in COMMANDS for args in [*BAD.get(command, []), ["--no-such-option"]]]


def _case_id(command: tuple[str, ...], args: list[str]) -> str:
    return " ".join([*command, *args]) or "(no arguments)"


def _file_name(words: tuple[str, ...] | list[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9.=,@+-]+", "_", " ".join(words)).strip("_")
    return name[:120] or "root"


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def normalise(text: str, *, home: Path, cwd: Path) -> str:
    """Machine- and run-specific parts replaced by placeholders."""
    text = ANSI.sub("", text)
    for path, name in ((home, "<HOME>"), (cwd, "<CWD>"), (REPO, "<REPO>"), (Path.home(), "<USER-HOME>")):
        for form in {str(path), str(path.resolve())}:
            text = text.replace(form, name)
    text = re.sub(r"/tmp/pytest-of-[^/\s]+/pytest-\d+/[^/\s]+", "<TMP>", text)
    return text.replace(f"wasm-bisect {__version__}", "wasm-bisect <VERSION>")


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A fresh home and working directory, help as off a terminal, the bundled release list (no network)."""
    from wasm_bisect.bindgen import index

    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("WASM_BISECT_HOME", str(home))
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(cli.app, "rich_markup_mode", None)  # as off a terminal, even under `pytest -s`
    monkeypatch.setattr(index, "_unreachable", True)  # the bundled list of releases
    return home, cwd


ENV: dict[str, str | None] = {"COLUMNS": str(COLUMNS), "LINES": "50", "NO_COLOR": "1", "TERM": "dumb",
                              "FORCE_COLOR": None, "GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None, "CI": None}


def _render(args: list[str], machine: tuple[Path, Path], *, refused: bool = False) -> str:
    """The run as text; `refused`: it must be a refusal, exit code 2 and one line on stderr, nothing on stdout."""
    home, cwd = machine
    code, out, err = run_cli(args, env=ENV)
    if refused:
        assert (code, out, err.count("\n")) == (2, "", 1), f"not a one-line refusal: {code=} {out=} {err=}"
    text = f"$ wasm-bisect {' '.join(args)}\nexit code: {code}\n--- stdout\n{out}--- stderr\n{err}"
    return normalise(text, home=home, cwd=cwd)


def check_snapshot(name: str, actual: str, request: pytest.FixtureRequest) -> None:
    path = SNAPSHOTS / name
    if request.config.getoption("--update-snapshots"):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != actual:
            path.write_text(actual, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"no snapshot {path.relative_to(REPO)}; write it with --update-snapshots", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            f"{name} (snapshot)", f"{name} (now)"))
        pytest.fail(f"output differs from the snapshot (rewrite with --update-snapshots if intended):\n{diff}",
                    pytrace=False)


def test_every_group_and_command_is_found() -> None:
    assert ("toolchain", "add") in COMMANDS and ("probe",) in COMMANDS and ("toolchain",) not in COMMANDS
    assert set(BAD) <= set(COMMANDS), set(BAD) - set(COMMANDS)  # no case for a command that is gone


@pytest.mark.parametrize("path", EVERY, ids=lambda p: " ".join(p) or "wasm-bisect")
def test_help(path: tuple[str, ...], machine: tuple[Path, Path], request: pytest.FixtureRequest) -> None:
    text = _render([*path, "--help"], machine)
    check_snapshot(f"help/{_file_name(path)}.txt", text, request)


@pytest.mark.parametrize(("command", "args"), CASES, ids=[_case_id(c, a) for c, a in CASES])
def test_error(command: tuple[str, ...], args: list[str], machine: tuple[Path, Path],
               request: pytest.FixtureRequest) -> None:
    text = _render([*command, *args], machine, refused=True)
    check_snapshot(f"errors/{_file_name([*command, *args])}.txt", text, request)


def test_version(machine: tuple[Path, Path], request: pytest.FixtureRequest) -> None:
    check_snapshot("version.txt", _render(["--version"], machine), request)


def test_no_stale_snapshots(request: pytest.FixtureRequest) -> None:
    """Every snapshot file belongs to a case (a removed case takes its file with it under --update-snapshots)."""
    wanted = ({"version.txt"} | {f"help/{_file_name(p)}.txt" for p in EVERY}
              | {f"errors/{_file_name([*c, *a])}.txt" for c, a in CASES})
    assert len(wanted) == 1 + len(EVERY) + len(CASES), "two cases share a snapshot file name"
    present = {str(p.relative_to(SNAPSHOTS)) for p in SNAPSHOTS.rglob("*.txt")} if SNAPSHOTS.is_dir() else set()
    stale = present - wanted
    if stale and request.config.getoption("--update-snapshots"):
        for name in stale:
            (SNAPSHOTS / name).unlink()
        return
    assert not stale, f"snapshot files without a case (remove them or run --update-snapshots): {sorted(stale)}"

