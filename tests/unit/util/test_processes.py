import os
import sys
import time
from pathlib import Path

import pytest

from wasm_bisect.domain.errors import CommandFailed, CommandTimeout, ToolMissing
from wasm_bisect.util import processes as tools

pytestmark = pytest.mark.subprocess


def test_run_captures_output_and_exit_code(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    result = tools.run([sys.executable, "-c", "print('hello'); import sys; sys.exit(3)"], log=log, check=False)
    assert result.returncode == 3
    assert "hello" in result.output
    assert "hello" in log.read_text()
    with pytest.raises(CommandFailed):
        tools.run([sys.executable, "-c", "import sys; sys.exit(1)"])


def test_missing_program_is_tool_missing() -> None:
    with pytest.raises(ToolMissing):
        tools.run(["definitely-not-a-program-xyz"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(300)\n"
    )
    start = time.monotonic()
    with pytest.raises(CommandTimeout):
        tools.run([sys.executable, "-c", script], timeout=2)
    assert time.monotonic() - start < 15
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the forked grandchild survived the timeout"


def test_children_left_behind_after_exit_are_reaped(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    )
    tools.run([sys.executable, "-c", script], timeout=30)
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
