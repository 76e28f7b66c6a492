"""The live display's tool-build bar, fed by cargo's own lines (a real CLI build is minutes; the pty test in
tests/real drives the rest of the display through a real bisect)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from wasm_bisect.bindgen import toolcache
from wasm_bisect.cli._display import Display


def test_a_tool_build_gets_a_bar_fed_by_cargo_compiling_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    # cargo install reads the release's Cargo.lock from the registry source: 4 packages here.
    src = tmp_path / "cargo" / "registry" / "src" / "index.crates.io-x" / "wasm-bindgen-cli-0.2.99"
    src.mkdir(parents=True)
    (src / "Cargo.lock").write_text("".join(f'[[package]]\nname = "c{i}"\nversion = "1.0.0"\n\n' for i in range(4)))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo"))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    display = Display(console, total=None, title="bisect smoke")
    with display:
        meter = toolcache._BuildMeter("wasm-bindgen-cli", "0.2.99")
        for line in ["    Updating crates.io index", "  Installing wasm-bindgen-cli v0.2.99",
                     "   Compiling c0 v1.0.0", "   Compiling c1 v1.0.0", "   Compiling c2 v1.0.0"]:
            meter(line)
        (task,) = display._builds.values()
        shown = display.progress.tasks[task]
        assert (shown.completed, shown.total) == (3, 4)
        assert "building wasm-bindgen-cli 0.2.99: 3 crates compiled" in shown.description
        display.progress.refresh()
        meter.finish()
        assert not display._builds  # the bar goes when the build is done
    assert "building wasm-bindgen-cli 0.2.99: 3 crates compiled" in screen.getvalue()


def test_off_a_terminal_no_bar_is_drawn() -> None:
    screen = io.StringIO()
    display = Display(Console(file=screen, force_terminal=False), total=None, title="bisect smoke")
    with display:
        meter = toolcache._BuildMeter("wasm-pack", "0.13.1")
        meter("   Compiling c0 v1.0.0")
        meter.finish()
    assert display.progress is None and "building" not in screen.getvalue()
