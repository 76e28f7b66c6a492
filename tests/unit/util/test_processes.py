import os
import subprocess
import sys
import threading
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


def _marked(mark: str) -> list[int]:
    needle = f"{tools.PROC_MARK_ENV}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_spawn_keeps_a_child_running_and_takes_its_whole_tree_down(tmp_path: Path) -> None:
    """A background child with a grandchild in its group and one that left it (setsid): both go with it."""
    log = tmp_path / "driver.log"
    script = "sleep 300 & setsid sleep 301 & echo started; wait"
    with tools.spawn(["sh", "-c", script], log=log) as child:
        assert child.alive()
        deadline = time.monotonic() + 10
        while len(_marked(child.mark)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_marked(child.mark)) == 3  # sh, the sleep in its group, the setsid one
        environ = Path(f"/proc/{child.pid}/environ").read_bytes().split(b"\0")
        assert any(e.startswith(f"{tools.OWNER_ENV}={os.getpid()}-".encode()) for e in environ)
    assert _marked(child.mark) == []
    assert "started" in log.read_text()


def test_cancel_all_kills_spawned_children(tmp_path: Path) -> None:
    try:
        with tools.spawn(["sh", "-c", "setsid sleep 302 & sleep 303"], log=tmp_path / "log") as child:
            time.sleep(0.3)
            tools.cancel_all()
            assert _marked(child.mark) == []
            with pytest.raises(KeyboardInterrupt), tools.spawn(["true"], log=tmp_path / "log"):
                pass
    finally:
        tools.reset_cancel()


def test_reap_orphans_kills_children_of_a_dead_wasm_bisect(tmp_path: Path) -> None:
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    mark = "test-orphan"
    orphan = subprocess.Popen(["sleep", "304"], env={**os.environ, tools.PROC_MARK_ENV: mark,
                                                      tools.OWNER_ENV: f"{dead.pid}-1"})
    ours = subprocess.Popen(["sleep", "305"], env={**os.environ, tools.OWNER_ENV: tools._owner_tag()})
    try:
        time.sleep(0.1)
        reaped = tools.reap_orphans()
        assert orphan.pid in reaped and ours.pid not in reaped
        assert orphan.wait(timeout=5) == -9
        assert ours.poll() is None  # the owner (this process) is alive: not an orphan
    finally:
        for proc in (orphan, ours):
            proc.kill()
            proc.wait()


def test_owner_tag_names_this_process_and_not_a_dead_one() -> None:
    assert tools.owner_alive(tools.owner_tag())
    assert not tools.owner_alive("999999999-1")
    assert not tools.owner_alive("garbage")


# --- tickets: work ahead of the search runs niced and can be dropped --------------------------------------

NICENESS = "import os, time; time.sleep(0.3); print(os.nice(0))"  # sleep first: the renice follows the spawn


def _guessed(base: int) -> str:
    return str(min(base + 10, tools.NICEST))  # one step (10) below the caller, never past the lowest priority


def test_a_guess_runs_a_step_below_the_caller_and_a_promoted_one_at_the_callers_priority() -> None:
    base = os.nice(0)  # whatever the runner's: `nice -n 19 pytest` included
    guess = tools.Ticket(nice=10)
    with tools.ticket(guess):
        assert tools.current_ticket() is guess
        assert tools.run([sys.executable, "-c", NICENESS]).output.strip() == _guessed(base)
    assert tools.current_ticket() is None
    guess.promote()
    with tools.ticket(guess):
        assert tools.run([sys.executable, "-c", NICENESS]).output.strip() == str(base)


def test_promoting_renices_a_running_group_when_allowed() -> None:
    """Lowering a running process's niceness needs root; without it the promotion is quietly best effort."""
    base = os.nice(0)
    guess = tools.Ticket(nice=10)
    script = "import os, time; time.sleep(1.0); print(os.nice(0))"
    found: list[str] = []

    def work() -> None:
        with tools.ticket(guess):
            found.append(tools.run([sys.executable, "-c", script]).output.strip())

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.4)
    guess.promote()
    thread.join()
    assert found == [str(base) if os.geteuid() == 0 else _guessed(base)]


# A caller at niceness 15 or more (as under `nice -n 19 wasm-bisect`): its guesses run at 19, its promoted work
# at its own niceness; nothing it starts runs at a higher priority than itself. Run in a child so that this
# process's own niceness stays as it is.
UNDER_NICE = """
import os, sys, time
from wasm_bisect.util import processes
os.nice(max(0, 15 - os.nice(0)))
base = os.nice(0)
probe = [sys.executable, "-c", "import os, time; time.sleep(0.3); print(os.nice(0))"]
guess = processes.Ticket(nice=10)
with processes.ticket(guess):
    guessed = processes.run(probe).output.strip()
guess.promote()
with processes.ticket(guess):
    promoted = processes.run(probe).output.strip()
with processes.ticket(processes.Ticket()):
    needed = processes.run(probe).output.strip()
print(base, guessed, promoted, needed)
"""


def test_under_nice_nothing_runs_above_the_callers_priority() -> None:
    proc = subprocess.run([sys.executable, "-c", UNDER_NICE], capture_output=True, text=True, check=True,
                          timeout=60)
    base, guessed, promoted, needed = (int(x) for x in proc.stdout.split())
    assert base >= 15
    assert (guessed, promoted, needed) == (tools.NICEST, base, base)


def test_a_dropped_ticket_kills_its_process_and_refuses_new_ones() -> None:
    guess = tools.Ticket(nice=10)
    raised: list[BaseException] = []

    def work() -> None:
        with tools.ticket(guess):
            try:
                tools.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=60)
            except BaseException as exc:
                raised.append(exc)

    thread = threading.Thread(target=work)
    start = time.monotonic()
    thread.start()
    time.sleep(0.3)
    guess.drop()
    thread.join(timeout=20)
    assert time.monotonic() - start < 10
    assert len(raised) == 1 and isinstance(raised[0], tools.Dropped)
    with tools.ticket(guess), pytest.raises(tools.Dropped):
        tools.run([sys.executable, "-c", "print(1)"])
