"""Drive the real CLI through a pseudo-terminal, as a person at a terminal would (`--prompt`)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Callable

QUESTION = re.compile(r"(\S+): good / bad / skip / retry / quit\? $")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _own_terminal() -> None:
    """In the child: the pty on stdin becomes the controlling terminal of a new session (/dev/tty works)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def spawn(args: list[str], env: dict[str, str], *, own_terminal: bool) -> tuple[int, subprocess.Popen[bytes]]:
    """The CLI with stdin, stdout and stderr on a new pty (its controlling terminal when `own_terminal`): the
    master end and the process."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "wasm_bisect", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True, start_new_session=own_terminal,
                            preexec_fn=_own_terminal if own_terminal else None)  # noqa: PLW1509
    os.close(slave)
    return master, proc


def read_all(master: int, proc: subprocess.Popen[bytes], timeout: float, on_data: Callable[[bytes], None]) -> int:
    """Hand each chunk the child writes to `on_data` until it closes the terminal or exits (or `timeout`
    passes); then the exit code, with the master end closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            on_data(data)
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=60)
    os.close(master)
    return rc


def converse(args: list[str], answer: Callable[[str, str], str], timeout: float = 600) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal; each question is answered by `answer(cell, screen so far)`."""
    master, proc = spawn(args, {**os.environ, "TERM": "dumb", "COLUMNS": "160"}, own_terminal=True)
    screen = ""
    asked_at = 0

    def on_data(data: bytes) -> None:
        nonlocal screen, asked_at
        screen += ANSI.sub("", data.decode(errors="replace")).replace("\r", "")
        question = QUESTION.search(screen[asked_at:])
        if question:
            asked_at = len(screen)
            reply = answer(question.group(1), screen)  # the terminal echoes it into the screen
            os.write(master, f"{reply}\n".encode())

    rc = read_all(master, proc, timeout, on_data)
    sys.stderr.write(f"\n$ wasm-bisect {' '.join(args)}  -> exit {rc}\n{screen}\n")
    return rc, screen
