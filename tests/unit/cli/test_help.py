"""Help as click and typer users expect it: `-h` and `--help` everywhere, a bare command or group prints its
help (stdout, exit 0, like cargo), nothing cut off a terminal at any width, and the README's Commands table
names only flags the commands have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from unit.conftest import command_paths, run_cli
from wasm_bisect import cli

ROOT = get_command(cli.app)
README = Path(__file__).resolve().parents[3] / "README.md"


EVERY = command_paths()  # the root, every group and every command
GROUPS = [p for p in EVERY if len(p) == 1 and hasattr(ROOT.commands[p[0]], "commands")]  # type: ignore[attr-defined]


def test_every_group_is_found() -> None:
    assert sorted(g[0] for g in GROUPS) == ["cache", "templates", "toolchain", "tools"]
    assert len(EVERY) > 25


@pytest.mark.parametrize("columns", [40, 200])
@pytest.mark.parametrize("path", EVERY, ids=lambda p: " ".join(p) or "wasm-bisect")
def test_help_is_never_cut_at_any_width(path: tuple[str, ...], columns: int) -> None:
    code, out, err = run_cli([*path, "--help"], columns=columns)
    assert code == 0 and err == ""
    usage, _, rest = out.partition("\n\n")
    assert usage.startswith("Usage: wasm-bisect")
    # The usage line may say that an argument repeats (`COMMAND [ARGS]...`, `{stores}...`); nothing else may end
    # in an ellipsis, click's ASCII one included.
    assert "…" not in out
    assert "..." not in re.sub(r"[\]}A-Z]\.\.\.", "", usage), usage
    repeats = re.compile(r"^  \S+\.\.\. <")  # an argument that repeats, in the Arguments list: `stores... <list[Path]>`
    cut = [line for line in rest.splitlines() if "..." in repeats.sub("", line)]
    assert cut == [], cut
    assert "-h, --help" in out


@pytest.mark.parametrize("path", EVERY, ids=lambda p: " ".join(p) or "wasm-bisect")
def test_short_h_is_help_everywhere(path: tuple[str, ...]) -> None:
    assert run_cli([*path, "-h"], columns=80) == run_cli([*path, "--help"], columns=80)


@pytest.mark.parametrize("path", [(), *GROUPS], ids=lambda p: " ".join(p) or "wasm-bisect")
def test_a_bare_command_or_group_prints_its_help(path: tuple[str, ...]) -> None:
    code, out, err = run_cli(list(path), columns=80)
    assert (code, err) == (0, "")
    assert "\\n" not in out and out.startswith("Usage: wasm-bisect") and "Commands:" in out
    assert out == run_cli([*path, "--help"], columns=80)[1]


# -- the README's Commands table --------------------------------------------------------------------------------
FLAG = re.compile(r"(?:^|[\s\[(|])(--?[a-z][a-z0-9-]*)")


def _table_rows() -> list[list[str]]:
    text = README.read_text()
    table = text[text.index("## Commands"):].split("\n\n")[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) >= 14, rows
    return [re.findall(r"`([^`]*)`", line) for line in rows]


def flags_by_command() -> dict[tuple[str, ...], set[str]]:
    """Each flag a row of the table names, under the command it goes with: a segment `wasm-bisect X [Y]` names
    the command; a following segment that starts with a command of the same group (or a top-level command) moves
    to it; other segments (values, flags) stay with the last command named."""
    named: dict[tuple[str, ...], set[str]] = {}
    for segments in _table_rows():
        path: tuple[str, ...] = ()
        group: tuple[str, ...] = ()
        for segment in segments:
            words = segment.removeprefix("wasm-bisect ").split()
            first = words[0] if words else ""
            if segment.startswith("wasm-bisect ") or first in ROOT.commands:  # type: ignore[attr-defined]
                top = ROOT.commands[first]  # type: ignore[attr-defined]
                subs = getattr(top, "commands", None)
                path = (first, words[1]) if subs and len(words) > 1 and words[1] in subs else (first,)
                group = (first,) if subs else ()
            elif group and first in ROOT.commands[group[0]].commands:  # type: ignore[attr-defined]
                path = (*group, first)
            for part in segment.split(" / "):  # `templates list / show NAME / init NAME DIR`
                head = part.split()[0] if part.split() else ""
                if group and head in ROOT.commands[group[0]].commands:  # type: ignore[attr-defined]
                    path = (*group, head)
                named.setdefault(path, set()).update(FLAG.findall(part))
    return named


def test_every_flag_of_the_readme_commands_table_is_in_the_real_help() -> None:
    named = flags_by_command()
    assert {("bisect",), ("toolchain", "add"), ("templates", "init"), ("report",)} <= set(named)
    assert "--with-mvp-std" in named[("toolchain", "add")] and "--from-crate" in named[("templates", "init")]
    missing = []
    for path, flags in sorted(named.items()):
        assert path, f"flags {flags} of the table go with no command"
        code, out, _ = run_cli([*path, "--help"], columns=200)
        assert code == 0, path
        missing += [f"{' '.join(path)} {flag}" for flag in sorted(flags)
                    if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", out)]
    assert missing == []
