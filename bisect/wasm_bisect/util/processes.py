"""The only module that starts processes: echo the command, find the program, time-limit, kill process groups.

`run` runs a command to its end; `spawn` keeps one running in the background (a WebDriver) for a `with` block.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import select
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wasm_bisect.domain.errors import CommandFailed, CommandTimeout, ToolMissing

# Echo hook: the CLI installs a printer; library use stays quiet.
_echo: Callable[[str], None] | None = None
KILL_GRACE_SECONDS = 3.0
# How long a program may take to say who it is (`rustc -vV`, `cargo -V`, `rustup which`, `node --version`,
# `wasm-bindgen --version`): the same limit everywhere, so a toolchain that hangs is refused alike by
# `toolchain add`, probe, matrix and report.
QUERY_TIMEOUT = 10.0  # seconds: a real rustc answers in well under one; a hang is refused quickly
# Every child gets a unique mark in its environment; descendants that leave the process group (setsid,
# `detached: true` in Node) still carry it, so they can be found in /proc and killed with the rest.
PROC_MARK_ENV = "WASM_BISECT_PROC_MARK"
# Long-running children (a WebDriver and the browser it starts) also carry their owner: if this process dies
# without cleaning up (SIGKILL, OOM), the next one finds them by an owner that no longer exists.
OWNER_ENV = "WASM_BISECT_OWNER"
_live: dict[int, subprocess.Popen[bytes]] = {}  # running group leaders, of every thread
_spawned_marks: dict[int, str] = {}  # group leader pid -> mark, for spawned (long-running) children
_live_lock = threading.RLock()  # re-entrant: cancel_all() runs in a signal handler on the main thread
_cancelled = threading.Event()


class Dropped(BaseException):  # not an error: work nobody needs any more was stopped
    """The work this process belonged to was dropped (a look-ahead probe no search needs any more).

    A BaseException, so no `except Exception` on the way mistakes it for a failed build to record."""


NICEST = 19  # the lowest CPU priority (the highest niceness) Linux has


class Ticket:
    """The processes of one piece of work: started at a lower CPU priority while the work is only a guess
    (a probe ahead of the search), raised to the caller's own once it is needed, killed when it is dropped.

    Priorities are relative to this process's own niceness when the ticket is made (`nice -n 19 wasm-bisect
    -j 2` keeps all of its work at 19): `nice` is how many steps below it the guess runs (at most to 19), and a
    promotion goes back to the caller's niceness, never above it."""

    def __init__(self, *, nice: int = 0) -> None:
        self.nice = nice
        self.base = os.getpriority(os.PRIO_PROCESS, 0)  # the caller's own niceness: what its children inherit
        self.dropped = False
        self._groups: set[int] = set()
        self._lock = threading.Lock()

    def attach(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            nice, dropped = self.nice, self.dropped
        if dropped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        elif nice:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.setpriority(os.PRIO_PGRP, pgid, min(self.base + nice, NICEST))

    def detach(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)

    def promote(self) -> None:
        """The caller's priority from now on; running groups too where allowed (lowering niceness needs root)."""
        with self._lock:
            self.nice = 0
            groups = list(self._groups)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.setpriority(os.PRIO_PGRP, pgid, self.base)

    def drop(self) -> None:
        """Kill what runs and refuse to start more: `run` raises Dropped in the ticket's thread."""
        with self._lock:
            self.dropped = True
            groups = list(self._groups)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("wasm_bisect_ticket", default=None)


def current_ticket() -> Ticket | None:
    """The ticket of the work this thread is doing (None outside any)."""
    return _ticket.get()


@contextlib.contextmanager
def ticket(work: Ticket) -> Iterator[Ticket]:
    """Run the processes started in this context (this thread) under `work`."""
    token = _ticket.set(work)
    try:
        yield work
    finally:
        _ticket.reset(token)


def set_echo(printer: Callable[[str], None] | None) -> None:
    global _echo  # noqa: PLW0603 - one process-wide echo sink, like nox's logger
    _echo = printer


@dataclass(frozen=True, kw_only=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    output: str  # combined stdout+stderr (tail only when streamed to a log)
    seconds: float
    timed_out: bool = False
    signal: int | None = None
    stderr: str = ""  # only with run(..., stderr_apart=True); `output` is then stdout alone

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _resolved(argv: Sequence[str | Path], env: Mapping[str, str] | None) -> tuple[str, tuple[str, ...]]:
    """(the program to start, argv as strings): a program given by path must exist, a bare name is looked up on
    the PATH of `env` (ToolMissing either way)."""
    argv_s = tuple(str(a) for a in argv)
    program = which(argv_s[0], env) if os.sep not in argv_s[0] else argv_s[0]
    if os.sep in argv_s[0] and not Path(program).exists():
        raise ToolMissing(f"{program} does not exist")
    return program, argv_s


def which(program: str, env: Mapping[str, str] | None = None) -> str:
    """Absolute path of `program` on the PATH of `env` (or ours), or raise ToolMissing."""
    path_var = (env or os.environ).get("PATH", os.defpath)
    found = shutil.which(program, path=path_var)
    if found is None:
        raise ToolMissing(f"{program} not found on PATH", hint=f"install {program} or put it on PATH")
    return found


def quote(argv: Sequence[str | Path]) -> str:
    return shlex.join(str(a) for a in argv)


def cancel_all() -> None:
    """Ctrl-C/SIGTERM: kill every running child group (of every thread); later runs raise KeyboardInterrupt.

    Worker threads (-j N) cannot receive the KeyboardInterrupt themselves: this stops their builds at once,
    and their `run` calls then unwind with KeyboardInterrupt instead of reporting a killed build as a verdict.
    """
    _cancelled.set()
    with _live_lock:
        leaders = list(_live.values())
        marks = list(_spawned_marks.values())
    for proc in leaders:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    for mark in marks:  # a browser's helpers (crash handler) leave the group: they carry the mark
        _kill_marked(mark)


def cancelled() -> bool:
    """True once cancel_all() ran: loops that wait on something other than a process check it."""
    return _cancelled.is_set()


def reset_cancel() -> None:
    """Forget an earlier cancel_all() (a fresh CLI invocation in the same process, e.g. tests)."""
    _cancelled.clear()


def _environ_pids(wanted: Callable[[list[bytes]], bool]) -> list[int]:
    """Pids of the processes (but ours) whose environment entries satisfy `wanted`."""
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        return []
    found = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted(environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def _kill_marked(mark: str) -> None:
    """SIGKILL every process whose environment carries `mark` (stragglers that left the process group)."""
    needle = f"{PROC_MARK_ENV}={mark}".encode()
    for _ in range(3):  # a straggler may fork while we look: look again until none is left
        found = _environ_pids(lambda entries: needle in entries)
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat): with the pid, a process's identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _owner_tag() -> str:
    return f"{os.getpid()}-{_start_time(os.getpid())}"


def owner_tag() -> str:
    """This process as `<pid>-<start time>`: names what it owns (children, temporary directories)."""
    return _owner_tag()


def owner_alive(tag: str) -> bool:
    """Is the process an `owner_tag()` names still running (the same process, not a reused pid)?"""
    pid_text, _, started = tag.partition("-")
    return pid_text.isdigit() and _start_time(int(pid_text)) == started


def reap_orphans() -> list[int]:
    """Kill long-running children left by a wasm-bisect process that died without cleaning up; their pids."""
    prefix = f"{OWNER_ENV}=".encode()

    def orphaned(entries: list[bytes]) -> bool:
        for item in entries:
            if item.startswith(prefix):
                pid_text, _, started = item[len(prefix):].decode(errors="replace").partition("-")
                return not pid_text.isdigit() or _start_time(int(pid_text)) != started
        return False

    found = _environ_pids(orphaned)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return found


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left: no orphans survive a timeout."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; stragglers in the group still get the SIGKILL.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> None:
    """Wait for the child to exit, waking the moment it does.

    Popen.wait(timeout=...) polls with sleeps of up to 50 ms, which cost ~25 ms per command on average
    (two per probe); a pidfd becomes readable exactly when the process exits. TimeoutExpired as Popen.
    """
    if timeout is None or not hasattr(os, "pidfd_open"):
        proc.wait(timeout=timeout)
        return
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # an old kernel, or the child is already reaped
        proc.wait(timeout=timeout)
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(max(0, int(timeout * 1000))):  # EINTR is retried with the remaining time (PEP 475)
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    proc.wait()


def run(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    log: Path | None = None,
    check: bool = True,
    tail_lines: int = 40,
    what: str | None = None,
    on_line: Callable[[str], None] | None = None,
    stderr_apart: bool = False,
) -> Completed:
    """Run `argv` (never through a shell) in its own process group.

    Output goes to `log` when given (and the last `tail_lines` lines are kept), else it is captured whole.
    `check` raises CommandFailed/CommandTimeout; otherwise the caller reads the Completed.
    """
    if _cancelled.is_set():
        raise KeyboardInterrupt
    work = _ticket.get()
    if work is not None and work.dropped:
        raise Dropped
    program, argv_s = _resolved(argv, env)
    if _echo is not None:
        _echo(f"+ {quote(argv_s)}")
    start = time.monotonic()
    log_handle = log.open("ab") if log is not None else None
    if log_handle is not None:
        log_handle.write(f"+ {quote(argv_s)}\n".encode())
        log_handle.flush()
    tail: deque[str] = deque(maxlen=tail_lines if log is not None else None)
    mark = uuid.uuid4().hex
    child_env = {**(env if env is not None else os.environ), PROC_MARK_ENV: mark}
    try:
        proc = subprocess.Popen(
            [program, *argv_s[1:]],
            env=child_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_apart else subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        if log_handle is not None:
            log_handle.close()
        raise ToolMissing(f"cannot start {argv_s[0]}: {exc.strerror}") from exc

    with _live_lock:
        _live[proc.pid] = proc
    if work is not None:
        work.attach(proc.pid)  # its own session: the group id is the pid
    log_broken = False

    def pump() -> None:
        nonlocal log_broken
        assert proc.stdout is not None
        for raw in proc.stdout:
            if log_handle is not None and not log_broken:
                try:
                    log_handle.write(raw)
                except (OSError, ValueError):
                    # Disk full (or the log closed under us): keep draining the pipe, or the child blocks.
                    log_broken = True
            line = raw.decode(errors="replace").rstrip("\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)

    errors: list[bytes] = []

    def pump_stderr() -> None:
        assert proc.stderr is not None
        errors.extend(proc.stderr)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    err_reader = threading.Thread(target=pump_stderr, daemon=True) if stderr_apart else None
    if err_reader is not None:
        err_reader.start()
    timed_out = False
    try:
        _wait(proc, timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    except BaseException:
        # Ctrl-C or SIGTERM in the parent: take the whole child group down with us.
        _kill_group(proc)
        raise
    finally:
        # The group leader may have exited while children still hold the pipe: reap them all.
        if proc.poll() is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        _kill_marked(mark)  # and those that left the group but kept our mark
        with _live_lock:
            _live.pop(proc.pid, None)
        if work is not None:
            work.detach(proc.pid)
        reader.join(timeout=10)
        if err_reader is not None:
            err_reader.join(timeout=10)
            if proc.stderr is not None and not err_reader.is_alive():
                proc.stderr.close()
        # Closing a pipe another thread is still reading blocks forever: leave it to the daemon thread then.
        if proc.stdout is not None and not reader.is_alive():
            proc.stdout.close()
        if log_handle is not None:
            with contextlib.suppress(OSError):  # a full disk: the log is incomplete, the result still stands
                log_handle.close()
    if _cancelled.is_set():
        raise KeyboardInterrupt  # killed by cancel_all() from another thread: not a verdict
    if work is not None and work.dropped:
        raise Dropped  # killed because nobody needs the work: not a verdict either
    seconds = time.monotonic() - start
    rc = proc.returncode
    result = Completed(
        argv=argv_s,
        returncode=rc if rc is not None else -9,
        output="\n".join(tail),
        stderr=b"".join(errors).decode(errors="replace"),
        seconds=seconds,
        timed_out=timed_out,
        signal=-rc if rc is not None and rc < 0 else None,
    )
    if check and not result.ok:
        label = what or Path(argv_s[0]).name
        tail_text = "\n".join(list(tail)[-10:])
        if timed_out:
            raise CommandTimeout(
                f"{label} did not finish within {timeout:.0f} s and was killed",
                returncode=result.returncode,
                log_tail=tail_text,
            )
        raise CommandFailed(
            f"{label} failed with exit code {result.returncode}"
            + (f" (log: {log})" if log is not None else ""),
            returncode=result.returncode,
            log_tail=tail_text,
        )
    return result


class Spawned:
    """A long-running child started by `spawn` (a WebDriver, and the browser it starts): its own process group,
    its own mark and its owner in the environment, output to a log file."""

    def __init__(self, proc: subprocess.Popen[bytes], mark: str, argv: tuple[str, ...]) -> None:
        self.proc = proc
        self.mark = mark
        self.argv = argv

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the group and every marked straggler at once (a timeout or a Ctrl-C: no grace)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        _kill_marked(self.mark)

    def stop(self) -> None:
        """End the child and everything it started (the same policy as a timed-out `run`), and forget it."""
        try:
            if self.alive():
                _kill_group(self.proc)
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            _kill_marked(self.mark)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=KILL_GRACE_SECONDS)
        finally:
            with _live_lock:
                _live.pop(self.proc.pid, None)
                _spawned_marks.pop(self.proc.pid, None)


@contextlib.contextmanager
def spawn(argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
          log: Path) -> Iterator[Spawned]:
    """Start `argv` in the background (never through a shell) for the duration of the `with` block.

    The child gets the same kill policy as `run` (own process group, a mark for stragglers, killed by
    cancel_all) plus its owner, so `reap_orphans` finds it if this process dies without the `finally`.
    """
    if _cancelled.is_set():
        raise KeyboardInterrupt
    program, argv_s = _resolved(argv, env)
    if _echo is not None:
        _echo(f"+ {quote(argv_s)} &")
    mark = uuid.uuid4().hex
    child_env = {**(env if env is not None else os.environ), PROC_MARK_ENV: mark, OWNER_ENV: _owner_tag()}
    with log.open("ab") as handle:
        handle.write(f"+ {quote(argv_s)} &\n".encode())
        handle.flush()
        with _live_lock:  # registered before it can be signalled: cancel_all never misses it
            try:
                proc = subprocess.Popen([program, *argv_s[1:]], env=child_env, cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                raise ToolMissing(f"cannot start {argv_s[0]}: {exc.strerror}") from exc
            _live[proc.pid] = proc
            _spawned_marks[proc.pid] = mark
    child = Spawned(proc, mark, argv_s)
    try:
        yield child
    finally:
        child.stop()


def output(argv: Sequence[str | Path], **kwargs: object) -> str:
    """Run and return the captured output (stripped); raises on failure."""
    result = run(argv, **kwargs)  # type: ignore[arg-type]
    return result.output.strip()
