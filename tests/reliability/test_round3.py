"""Issue 21 (reliability round 3): the behaviours that are not refusals. Stored content is escaped for terminals
and XML; the GitHub step summary is a courtesy; the release index has one deadline; SIGHUP stops the children
like SIGTERM; cache import is bounded (count, total size, free space) before anything is written. Nothing here
builds; the refusals of issue 21 are cases of test_bad_input (cases_round3.py)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .cases_round3 import ENTRY, _add, _manifest_bytes
from .helpers import kill_marked, marked, run_cli, seed_index, start_cli, tmpfs, wait_for

HOSTILE_REASON = "\x1b[31mpanicked\x1b[0m at src/lib.rs \x00\x08\x0b \x1b]0;pwned\x07 \ud800"
HOSTILE_COMMAND = "wasm-bisect probe \x1b[2J\x1b[H"


def _hostile_store(path: Path) -> str:
    """A store (as a merged shard would bring it) whose reason and command hold terminal escapes and characters
    XML 1.0 forbids."""
    from wasm_bisect.domain.model import BindgenSource, Outcome, ToolchainSpec, Variant, Verdict
    from wasm_bisect.store import Store

    store = Store(path)
    variant = Variant(template="smoke", rustc=ToolchainSpec.parse("debian:1.96.0"),
                      bindgen=BindgenSource.crates("0.2.99"))
    run_id = store.start_run(kind="matrix", fingerprint=variant.key, command=HOSTILE_COMMAND,
                             config={"variant": variant.identity()})
    outcome = Outcome(verdict=Verdict.BAD, reason=HOSTILE_REASON)
    store.put(variant, "t", "c", outcome)
    store.record(run_id, variant, "t", "c", outcome, cached=False)
    store.finish_run(run_id, {"verdict": "bad"})
    store.close()
    return run_id


@pytest.mark.timeout(120)
def test_stored_content_is_escaped_for_terminals_and_xml(tmp_path: Path) -> None:
    home = tmp_path / "home"
    seed_index(home)
    store = tmp_path / "s.sqlite3"
    _hostile_store(store)
    for args in (["log", "--store", str(store)], ["runs", "--store", str(store)],
                 ["report", "--no-env", "--store", str(store)]):
        done = run_cli(*args, home=home, timeout=60)
        assert done.rc == 0, done.err
        assert "\x1b" not in done.out and "\x07" not in done.out and "\x00" not in done.out, done.out
        assert "\\x1b" in done.out, done.out  # shown, escaped: the user still sees what the check printed
    for fmt in ("junit", "svg", "html"):
        out = tmp_path / f"r.{fmt}"
        done = run_cli("report", "--no-env", "--store", str(store), "-f", fmt, "-o", str(out), home=home,
                       timeout=60)
        assert done.rc == 0, done.err
        text = out.read_text()
        assert "\x1b" not in text and "\x00" not in text, fmt
        if fmt != "html":
            ET.fromstring(text.encode())  # valid XML 1.0  # noqa: S314 - our own output
        assert "\\x1b[31mpanicked" in text, fmt


def _summary_child(target: str) -> subprocess.CompletedProcess[str]:
    code = "from wasm_bisect.util import log; log.step_summary('## done'); print('returned')"
    return subprocess.run([sys.executable, "-c", code], env={"GITHUB_STEP_SUMMARY": target, "PATH": "/usr/bin:/bin",
                          "PYTHONPATH": ":".join(sys.path)}, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.timeout(120)
def test_a_step_summary_that_cannot_be_written_is_one_warning(tmp_path: Path) -> None:
    """GITHUB_STEP_SUMMARY at a FIFO nobody reads (it hung), a directory, a full disk (it failed the finished
    run): one warning line and the run goes on; nothing is created at the path."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir").mkdir()
    targets = {str(fifo): "no job summary written", str(tmp_path / "dir"): "no job summary written",
               str(tmp_path / "missing" / "summary.md"): "no job summary written"}
    with tmpfs(tmp_path / "full", "64k") as full:
        (full / "summary.md").touch()
        with contextlib.suppress(OSError):
            (full / "filler").write_bytes(b"x" * (64 * 1024))
        targets[str(full / "summary.md")] = "the job summary is incomplete"
        for target, needle in targets.items():
            start = time.monotonic()
            done = _summary_child(target)
            assert time.monotonic() - start < 10
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == "returned", done.stderr
            warnings = [ln for ln in done.stderr.splitlines() if ln.strip()]
            assert len(warnings) == 1 and "warning:" in warnings[0] and needle in warnings[0], done.stderr
            assert "Traceback" not in done.stderr
    assert not (tmp_path / "missing").exists()


@contextmanager
def trickling_proxy() -> Iterator[str]:
    """A local HTTP proxy that accepts CONNECT and then sends one byte every 2 s, forever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            for byte in b"HTTP/1.1 200 Connection established\r\n" * 100:
                if stop.wait(2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()


@pytest.mark.timeout(60)
def test_a_trickling_proxy_cannot_hold_the_release_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every read answers within the socket time-out, so only the overall deadline ends it (before: past 90 s);
    the command then goes on with the bundled list and a notice."""
    from wasm_bisect.bindgen import index

    monkeypatch.setenv("WASM_BISECT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(index, "DEADLINE", 4.0)
    monkeypatch.setattr(index, "_unreachable", False)
    # urllib builds its default opener once per process, with the proxies of that moment: a test before this one
    # may have built it without ours.
    monkeypatch.setattr(urllib.request, "_opener", None)
    with trickling_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("https_proxy", proxy)
        notices: list[str] = []
        start = time.monotonic()
        releases = index.releases(refresh=True, notice=notices.append)
        took = time.monotonic() - start
    assert took < 4.0 + 3, took
    assert releases and len(notices) == 1 and "within 4 s" in notices[0], notices


@pytest.mark.timeout(120)
def test_sighup_during_a_toolchain_query_stops_it(tmp_path: Path) -> None:
    """SIGHUP (a closed terminal) while `rustc -vV` hangs: exit 130 with the one line, no orphaned rustc."""
    prefix = tmp_path / "tc"
    (prefix / "bin").mkdir(parents=True)
    for program in ("rustc", "cargo"):
        (prefix / "bin" / program).write_text("#!/bin/sh\nsleep 3600\n")
        (prefix / "bin" / program).chmod(0o755)
    home = tmp_path / "home"
    seed_index(home)
    mark = uuid.uuid4().hex
    proc = start_cli("toolchain", "add", f"path:{prefix}", home=home, env={"RELIABILITY_MARK": mark})
    try:
        assert wait_for(lambda: any("sleep" in cmd for _, cmd in marked(mark)), 30), marked(mark)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("wasm-bisect: error: interrupted")
        assert wait_for(lambda: not marked(mark), 10), marked(mark)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_marked(mark)


def _archive(path: Path, files: int, size: int) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for i in range(files):
            _add(tar, f"{ENTRY}/f{i}", b"\0" * size)
        _add(tar, "wasm-bisect-cache.json",
             _manifest_bytes([{"kind": "tool", "path": ENTRY, "sha256": "0" * 64}]))
    path.write_bytes(buffer.getvalue())


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("limit", "value", "needle"), [
    ("MAX_MEMBERS", 5, "more than 5 files"),
    ("MAX_TOTAL_BYTES", 10_000, "unpacks to more than 10,000 bytes"),
    ("MAX_MEMBER_BYTES", 1_000, "(at most 1,000)"),
    ("FREE_SPACE_MARGIN", 1 << 60, "free some space"),
])
def test_cache_import_is_bounded_before_anything_is_written(limit: str, value: int, needle: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Count, total size, member size and free space (limits lowered here: the real ones are GiB) are checked
    on the headers; the home stays as it was (no toolchains/, tools/ or locks/ debris)."""
    from wasm_bisect.domain.errors import UsageError
    from wasm_bisect.runs import transfer

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("WASM_BISECT_HOME", str(home))
    monkeypatch.setattr(transfer, limit, value)
    _archive(tmp_path / "a.tgz", files=10, size=2_000)
    with pytest.raises(UsageError) as caught:
        transfer.import_(tmp_path / "a.tgz")
    assert needle in caught.value.one_line(), caught.value.one_line()
    assert sorted(p.name for p in home.iterdir()) == []


@pytest.mark.timeout(120)
def test_a_failed_merge_into_a_new_store_leaves_no_file(tmp_path: Path) -> None:
    """`merge --into` a new store on a full disk: one line, exit 2, and no empty store file left behind."""
    from .cases_round2 import shard

    shard("s.sqlite3")(tmp_path)
    home = tmp_path / "home"
    seed_index(home)
    with tmpfs(tmp_path / "full", "16k") as full:
        with contextlib.suppress(OSError):
            (full / "filler").write_bytes(b"x" * (16 * 1024))
        done = run_cli("merge", str(tmp_path / "s.sqlite3"), "--into", str(full / "merged.sqlite3"), home=home,
                       timeout=60)
        left = sorted(p.name for p in full.iterdir())
    assert done.rc == 2, done.err
    assert "Traceback" not in done.err and len(done.error_lines) == 1, done.err
    assert left == ["filler"], left
