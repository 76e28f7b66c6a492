"""Issue 13's proofs through the real CLI: paths the user names are never replaced or changed, everything is
validated before anything is written or fetched (with the network disabled), a misbehaving toolchain is refused
alike everywhere, and a home that cannot be used is one line for every command."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wasm_bisect.util import processes

from .cases import GRID
from .cases_round2 import device, fifo, foreign_sqlite, shard, tagged_repo, text_file, unix_socket
from .helpers import cli_env, marked, seed_index, snapshot, tmpfs, wait_for


def run(args: list[str], home: Path, cwd: Path, *, env: dict[str, str] | None = None, timeout: float = 120,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real CLI; a hang fails the test (subprocess.TimeoutExpired) instead of blocking the suite."""
    return subprocess.run([sys.executable, "-m", "wasm_bisect", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=cli_env(home, env), cwd=cwd, check=False)


def assert_refused(done: subprocess.CompletedProcess[str], needle: str) -> None:
    errors = [ln for ln in done.stderr.splitlines() if "wasm-bisect: error:" in ln]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(errors) == 1, done.stderr
    assert needle.lower() in errors[0].lower(), errors[0]


# -- output paths onto device nodes, FIFOs, sockets and directories ----------------------------------------------

OUTPUT_COMMANDS: dict[str, list[str]] = {
    "report -o": ["report", "--no-env", "-o", "{out}"],
    "matrix --report": ["matrix", *GRID, "--report", "md:{out}"],
    "matrix --export": ["matrix", *GRID, "--export", "{out}"],
    "verify --markdown": ["verify", "--against", "0.2.99", "--patch", "0.2.100", "--markdown", "{out}"],
    "bisect-commits --markdown": ["bisect-commits", "--bindgen-repo", "https://h.invalid/wb", "--good", "a",
                                  "--bad", "b", "--markdown", "{out}"],
    "cache export": ["cache", "export", "{out}"],
}


def _directory(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).mkdir()
        (d / name / "keep.txt").write_text("mine\n")

    return make


SPECIAL: dict[str, tuple[Callable[[Path], None] | None, Callable[[int], bool], str]] = {
    # kind -> (setup making {d}/out, what it must still be afterwards, the refusal)
    "device": (device("out"), stat.S_ISCHR, "character device"),
    "fifo": (fifo("out"), stat.S_ISFIFO, "FIFO"),
    "socket": (unix_socket("out"), stat.S_ISSOCK, "socket"),
    "directory": (_directory("out"), stat.S_ISDIR, "is a directory"),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("command", list(OUTPUT_COMMANDS))
def test_outputs_onto_special_files_are_refused_and_left_alone(command: str, tmp_path: Path) -> None:
    """Every command with an output path, onto a device node (mknod), a FIFO, a socket, a directory and a
    directory-looking path: one line, exit 2, nothing hung (each run has a time limit), the node still a node."""
    home = tmp_path / "home"
    seed_index(home)
    for kind, (setup, still, needle) in SPECIAL.items():
        d = tmp_path / kind
        d.mkdir()
        assert setup is not None
        setup(d)
        before = snapshot(d)
        args = [a.replace("{out}", str(d / "out")) for a in OUTPUT_COMMANDS[command]]
        done = run(args, home, d, timeout=60)
        assert_refused(done, needle)
        assert still(os.lstat(d / "out").st_mode), f"{command} onto a {kind}: it is not a {kind} any more"
        assert snapshot(d) == before, f"{command} onto a {kind} changed {d}"
    slash = tmp_path / "slash"
    slash.mkdir()
    args = [a.replace("{out}", f"{slash}/newdir/") for a in OUTPUT_COMMANDS[command]]
    assert_refused(run(args, home, slash, timeout=60), "names a directory")
    assert list(slash.iterdir()) == []


# -- stores the user names: a text file and another program's SQLite file stay byte-for-byte the same ------------

STORE_COMMANDS: dict[str, list[str]] = {
    "probe --store": ["probe", "--store", "{s}"],
    "bisect --store": ["bisect", "--store", "{s}"],
    "matrix --store": ["matrix", *GRID, "--store", "{s}"],
    "verify --store": ["verify", "--against", "0.2.99", "--patch", "0.2.100", "--store", "{s}"],
    "bisect-commits --store": ["bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v0", "--bad", "v1",
                               "--store", "{s}"],
    "report --store": ["report", "--no-env", "--store", "{s}"],
    "log --store": ["log", "--store", "{s}"],
    "runs --store": ["runs", "--store", "{s}"],
    "merge --into": ["merge", "{d}/shard.sqlite3", "--into", "{s}"],
    "merge SHARD": ["merge", "{s}", "--into", "{d}/merged.sqlite3"],
    "config store": ["matrix", *GRID, "--config", "{d}/wasm-bisect.toml"],
}

USER_FILES: dict[str, Callable[[Path], None]] = {
    "text": text_file("user.db"),
    "foreign-sqlite": foreign_sqlite("user.db"),
    "foreign-sqlite-wal": foreign_sqlite("user.db", wal=True),
}


def _fingerprint(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_size, info.st_mtime_ns


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", list(USER_FILES))
def test_user_named_stores_are_refused_and_left_byte_for_byte(kind: str, tmp_path: Path) -> None:
    """--store / --into / a merge shard / the config's `store` pointing at a text file or at another program's
    SQLite database: refused, and the file is byte-for-byte the same (same hash, size and mtime), with no
    journal, WAL or `.corrupt-*` file next to it."""
    home = tmp_path / "home"
    seed_index(home)
    for name, template in STORE_COMMANDS.items():
        d = tmp_path / name.replace(" ", "_").replace("-", "")
        d.mkdir()
        USER_FILES[kind](d)
        shard("shard.sqlite3")(d)
        tagged_repo(d)
        (d / "wasm-bisect.toml").write_text('store = "user.db"\n')
        user = d / "user.db"
        before, listing = _fingerprint(user), sorted(p.name for p in d.iterdir())
        args = [a.replace("{s}", str(user)).replace("{d}", str(d)) for a in template]
        done = run(args, home, d)
        assert_refused(done, "another program" if "sqlite" in kind else "not an SQLite database")
        assert _fingerprint(user) == before, f"{name}: {kind} file changed"
        assert sorted(p.name for p in d.iterdir()) == listing, f"{name}: files appeared or vanished next to it"
    assert not (home / "store.sqlite3").exists()


# -- validation before anything is written or fetched, with the network disabled ---------------------------------


@contextlib.contextmanager
def recording_proxy() -> Iterator[tuple[str, list[float]]]:
    """An HTTP(S) proxy on localhost that accepts, records and drops every connection: with HTTPS_PROXY pointing
    at it, the tool is offline, and every attempt to reach the index is counted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    seen: list[float] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            seen.append(time.monotonic())
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


# Syntax, toolchain and store errors: refused offline, before the release index is even asked for.
NO_NETWORK: list[tuple[list[str], str]] = [
    (["bisect", "--bindgen", "0.2.99..0.2.92"], "reversed wasm-bindgen range"),
    (["bisect", "--bindgen", "0.2.92...0.2.99"], "ill-formed wasm-bindgen range"),
    (["bisect", "--bindgen", "0.2.92,,0.2.99"], "empty item"),
    (["matrix", "--rustc", "1.96.0..1.63.0", "--bindgen", "0.2.99"], "reversed rustc range"),
    (["matrix", "--rustc", "debian:1.63.0", "--bindgen", "0.2.\u0669\u0662"], "non-ASCII"),
    (["matrix", *GRID, "--shard", "3/2"], "--shard '3/2'"),
    (["matrix", *GRID, "--report", "md:{d}/newdir/"], "names a directory"),
    (["matrix", "--rustc", "debian:1.70.0", "--bindgen", "0.2.99"], "Debian has no rustc 1.70.0"),
    (["bisect", "--rustc", "debian:1.63.0,debian:1.70.0"], "Debian has no rustc 1.70.0"),
    (["bisect", "--rustc", "path:{d}/a..b,path:{d}/c"], "has no bin/rustc"),
    (["probe", "--rustc", "debian:1.9"], "is not of the form X.Y.Z"),
    (["probe", "--rustc", "debian:1.70.0", "--bindgen", "9.9.9"], "Debian has no rustc 1.70.0"),
    (["probe", "--store", "{d}/notes.txt"], "not a wasm-bisect result store"),
    (["verify", "--against", "0.2.99", "--patch", "0.2.100", "--rustc", "debian:1.9"], "is not of the form"),
    (["verify", "--against", "0.2.99", "--patch", "0.2.100", "--rustc", "debian:1.70.0"], "Debian has no rustc"),
    (["verify", "--against", "0.2.99", "--patch", "0.2.99"], "same source"),
    (["bisect-commits", "--bindgen-repo", "{d}/repo", "--good", "v0", "--bad", "v1", "--rustc", "debian:1.70.0"],
     "Debian has no rustc 1.70.0"),
    (["tools", "install", "--bindgen", "0.2"], "not an exact X.Y.Z"),
]
# Checked against the release list: the index may be asked (it does not answer here), nothing is written.
RELEASE_LIST: list[tuple[list[str], str]] = [
    (["probe", "--bindgen", "9.9.9"], "9.9.9 is not a published"),
    (["tools", "install", "--bindgen", "9.9.9"], "9.9.9 is not a published"),
    (["verify", "--against", "0.2.99", "--patch", "9.9.9"], "9.9.9 is not a published"),
    (["verify", "--patch", "0.2.100"], "no finished bisect run"),
    (["bisect", "--bindgen", "0.2.92..0.2.1000"], "unknown wasm-bindgen version '0.2.1000'"),
]


@pytest.mark.timeout(900)
def test_nothing_is_written_or_fetched_before_input_is_validated(tmp_path: Path) -> None:
    """Class 3: with the network disabled (HTTPS_PROXY pointing at a proxy that drops everything), no file
    appears in the home or the working directory for any bad input, and for syntax, toolchain and store errors
    the release index is not even asked for (a typo never costs a network time-out)."""
    d = tmp_path / "d"
    d.mkdir()
    tagged_repo(d)
    text_file("notes.txt")(d)
    home = tmp_path / "home"  # not seeded: the release list would have to be fetched
    with recording_proxy() as (proxy, seen):
        env = dict.fromkeys(("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"), proxy)
        env["NO_PROXY"] = env["no_proxy"] = ""
        for cases, may_fetch in ((NO_NETWORK, False), (RELEASE_LIST, True)):
            for args, needle in cases:
                before, count = snapshot(d), len(seen)
                done = run([a.replace("{d}", str(d)) for a in args], home, d, env=env)
                assert_refused(done, needle)
                assert not home.exists(), f"{args}: wrote {sorted(snapshot(home))}"
                assert snapshot(d) == before, args
                if not may_fetch:
                    assert len(seen) == count, f"{args}: asked the network before refusing"
        assert seen, "the release-list cases should have tried the (disabled) network"


# -- a misbehaving toolchain: the same time limit and the same refusal everywhere ---------------------------------


@pytest.mark.timeout(600)
def test_a_hanging_toolchain_is_refused_alike_by_toolchain_add_probe_and_matrix(tmp_path: Path) -> None:
    """A path: toolchain whose rustc never answers: `toolchain add`, `probe` and `matrix` all give up after the
    same time limit (processes.QUERY_TIMEOUT), exit 2 with the same line, leave no process behind and store no
    run of ERROR cells."""
    prefix = tmp_path / "tc"
    (prefix / "bin").mkdir(parents=True)
    for program in ("rustc", "cargo"):
        (prefix / "bin" / program).write_text("#!/bin/sh\nsleep 3600\n")
        (prefix / "bin" / program).chmod(0o755)
    home = tmp_path / "home"
    seed_index(home)
    lines = []
    for args in (["toolchain", "add", f"path:{prefix}"], ["probe", "--rustc", f"path:{prefix}", "--bindgen", "0.2.99"],
                 ["matrix", "--rustc", f"path:{prefix}", "--bindgen", "0.2.99"]):
        mark = uuid.uuid4().hex
        start = time.monotonic()
        done = run(args, home, tmp_path, env={"RELIABILITY_MARK": mark}, timeout=processes.QUERY_TIMEOUT + 90)
        took = time.monotonic() - start
        assert_refused(done, f"did not finish within {processes.QUERY_TIMEOUT:.0f} s")
        assert processes.QUERY_TIMEOUT <= took < processes.QUERY_TIMEOUT + 60, took
        assert wait_for(lambda mark=mark: not marked(mark), 10), marked(mark)  # type: ignore[misc]
        lines.append(done.stderr.strip().splitlines()[-1])
    assert len(set(lines)) == 1, lines  # refused in the same words by every command
    assert not (home / "store.sqlite3").exists()  # no run was started, so no run of ERRORs


# -- a home that is not a usable directory -----------------------------------------------------------------------

EVERY_COMMAND = [["cache", "info"], ["tools", "list"], ["toolchain", "list"], ["runs"], ["log"], ["versions"],
                 ["templates", "list"], ["probe"], ["matrix", *GRID], ["report"], ["cache", "prune", "--dry-run"]]


@pytest.mark.timeout(600)
def test_a_read_only_or_file_home_is_one_line_for_every_command(tmp_path: Path) -> None:
    """WASM_BISECT_HOME on a read-only filesystem (a tmpfs mounted ro; root passes permission checks, so the
    test needs a real read-only mount), below it, or a regular file: one line, exit 2, for read-only commands
    too."""
    (tmp_path / "file").write_text("not a directory\n")
    with tmpfs(tmp_path / "ro", "1m") as mount:
        (mount / "home").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        homes = {mount / "home": "not writable", mount / "new" / "home": "not writable",
                 tmp_path / "file": "is not a directory", tmp_path / "file" / "below": "is not a directory"}
        for home, needle in homes.items():
            for args in EVERY_COMMAND:
                done = run(args, home, tmp_path, timeout=60)
                assert_refused(done, needle)
    assert (tmp_path / "file").read_text() == "not a directory\n"
