"""`--drill nightly` and the cargo-bisect-rustc hand-off: the plans of the drill (pure), the command line and the
script cargo-bisect-rustc runs (run here with a fake rustc and a fake wasm-bisect on PATH)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from wasm_bisect.domain.grid import Grid
from wasm_bisect.domain.model import BindgenSource, ReferenceTypes, ToolchainSpec, Variant
from wasm_bisect.domain.reproduce import bisect_rustc_script, rustc_next_step
from wasm_bisect.runs.bisect import BisectPlan, BisectResult, FirstFailing, SearchResult, drill_plans

CELL = Variant(template="vec-of-structs", rustc=ToolchainSpec.parse("rustup:nightly-2024-06-21"),
               bindgen=BindgenSource.crates("0.2.95"), reference_types=ReferenceTypes.DEFAULT)


def test_the_cargo_bisect_rustc_command_names_the_day_and_the_script() -> None:
    step = rustc_next_step("rustup:nightly-2024-06-20", "rustup:nightly-2024-06-21", script="/h/work/x/bisect-rustc.sh")
    assert step is not None
    argv = shlex.split(step.split(" (")[0])
    assert argv[:2] == ["cargo", "bisect-rustc"]
    assert argv[argv.index("--start") + 1] == "2024-06-20" and argv[argv.index("--end") + 1] == "2024-06-21"
    assert argv[argv.index("--target") + 1] == "wasm32-unknown-unknown"
    assert argv[argv.index("--script") + 1] == "/h/work/x/bisect-rustc.sh"


@pytest.mark.subprocess
@pytest.mark.parametrize(("probe_exit", "expected"), [(0, 0), (1, 1), (125, 125)])
def test_the_script_probes_the_cell_with_the_toolchain_under_test(tmp_path: Path, probe_exit: int,
                                                                   expected: int) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "rustc").write_text('#!/bin/sh\n[ "$1 $2" = "--print sysroot" ] && echo "/tc/$RUSTUP_TOOLCHAIN"\n')
    record = tmp_path / "args"
    (bin_dir / "wasm-bisect").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\nexit {probe_exit}\n')
    for program in bin_dir.iterdir():
        program.chmod(0o755)
    script = tmp_path / "bisect-rustc.sh"
    script.write_text(bisect_rustc_script(CELL, reproducer=("--crate", "/p/my app", "--check", "npm test")))
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "RUSTUP_TOOLCHAIN": "bisector-nightly-2024-06-21"}
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == expected, done.stderr
    args = record.read_text().splitlines()
    assert args[:5] == ["probe", "--crate", "/p/my app", "--check", "npm test"]
    assert args[args.index("--rustc") + 1] == "path:/tc/bisector-nightly-2024-06-21"
    assert args[args.index("--bindgen") + 1] == "0.2.95" and args[args.index("--reference-types") + 1] == "default"
    assert "--exit-code" in args and "--fresh" in args
    assert ("counts it as regressed" in done.stderr) == (expected == 125)


def _result(next_step: str | None, setting: str = "default") -> BisectResult:
    first = FirstFailing(rustc="rustup:1.81.0", bindgen="0.2.95", reference_types=setting, reason="FAIL",
                         evidence={}, last_good_bindgen="0.2.93", last_good_rustc="rustup:1.80.1",
                         reproduce="wasm-bisect probe ...", crate_dir=None, compare=(), next_step=next_step)
    search = SearchResult(reference_types=setting, status="found", message="", probes=3, filtered=0, cells=4,
                          expected_probes_one_corner=4, first_failing=first, candidates=(), violations=(),
                          frontier=(), attribution={}, terms={"old": "good", "new": "bad"}, follow_up=None)
    return BisectResult(mode="regression", grid={}, searches=(search,), reference_types_summary="", built=3,
                        from_store=0, asked=3, cells=4)


def test_the_drill_bisects_the_nightlies_at_the_first_failing_release() -> None:
    grid = Grid(template="vec-of-structs", rustc=(ToolchainSpec.parse("rustup:1.80.1"),
                                                  ToolchainSpec.parse("rustup:1.81.0")),
                bindgen=(BindgenSource.crates("0.2.93"), BindgenSource.crates("0.2.95")),
                reference_types=(ReferenceTypes.DEFAULT,))
    plan = BisectPlan(grid=grid, jobs=2)
    seen: list[str] = []

    def axis(text: str) -> tuple[ToolchainSpec, ...]:
        seen.append(text)
        return tuple(ToolchainSpec.parse(f"rustup:nightly-2024-06-{d:02d}") for d in (5, 20, 21))

    [(setting, drilled)] = drill_plans(plan, _result("--rustc rustup:nightly-2024-06-05..nightly-2024-07-17 (the "
                                                     "nightlies that became 1.81.0)"), axis)
    assert setting == "default" and seen == ["rustup:nightly-2024-06-05..nightly-2024-07-17"]
    assert isinstance(drilled, BisectPlan)
    assert [b.label() for b in drilled.grid.bindgen] == ["0.2.95"] and len(drilled.grid.rustc) == 3
    assert drilled.follow_up is False and drilled.jobs == 2
    [(_, why)] = drill_plans(plan, _result(None), axis)
    assert isinstance(why, str) and "no rustc boundary" in why
