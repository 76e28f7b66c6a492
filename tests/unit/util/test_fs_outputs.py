"""Output paths (issue 13): a regular file or nothing; never a device, FIFO, socket or directory; `~` expanded."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from wasm_bisect.domain.errors import UsageError
from wasm_bisect.util import bounded, fs


def _specials(tmp_path: Path) -> dict[str, Path]:
    made = {"device": tmp_path / "null", "fifo": tmp_path / "fifo", "socket": tmp_path / "sock",
            "directory": tmp_path / "dir"}
    os.mknod(made["device"], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mkfifo(made["fifo"])
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(made["socket"]))
    sock.close()
    made["directory"].mkdir()
    return made


def test_check_writable_refuses_every_non_regular_file(tmp_path: Path) -> None:
    for kind, path in _specials(tmp_path).items():
        with pytest.raises(UsageError) as info:
            fs.check_writable(path, "--output")  # a FIFO is never opened: this would block otherwise
        assert ("is a directory" if kind == "directory" else kind.replace("device", "character device")) \
            in info.value.one_line()
        with pytest.raises(UsageError, match=r"not a regular file|a directory"):
            fs.atomic_write_text(path, "x", what="--output")
    assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode) and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("text", ["newdir/", ".", "..", "a/..", "out/."])
def test_directory_looking_names_are_refused_before_any_work(tmp_path: Path, text: str) -> None:
    with pytest.raises(UsageError, match="names a directory"):
        fs.check_writable(text, "--export")


def test_tilde_is_expanded_and_symlinks_are_written_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fs.check_writable("~/r.md", "-o") == tmp_path / "r.md"
    with pytest.raises(UsageError, match="cannot expand"):
        fs.check_writable("~nosuchuser0/r.md", "-o")
    target = tmp_path / "real.md"
    target.write_text("old")
    (tmp_path / "link.md").symlink_to(target)
    fs.atomic_write_text(tmp_path / "link.md", "new")
    assert (tmp_path / "link.md").is_symlink() and target.read_text() == "new"
    (tmp_path / "to-null").symlink_to(tmp_path / "null-device")
    os.mknod(tmp_path / "null-device", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with pytest.raises(UsageError, match="character device"):
        fs.check_writable(tmp_path / "to-null", "-o")


def test_bounded_readers(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as handle:
        handle.truncate(10 * 1024**3)  # sparse: refused by its size, never read
    with pytest.raises(UsageError, match="too large"):
        bounded.read_bytes(big, limit=1024, what="config file")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UsageError, match="not a regular file"):
        bounded.read_bytes(tmp_path / "fifo", limit=1024, what="config file")
    (tmp_path / "latin1").write_bytes(b"caf\xe9")
    with pytest.raises(UsageError, match="not UTF-8"):
        bounded.read_text(tmp_path / "latin1", limit=1024, what="config file")
    with pytest.raises(UsageError, match="nests"):
        bounded.toml_loads("a = " + "[" * 50_000, what="x")
    with pytest.raises(UsageError, match="not valid TOML"):
        bounded.toml_loads("a = " + "9" * 5000, what="x")
    with pytest.raises(UsageError, match="nests"):
        bounded.json_loads("[" * 100 + "]" * 100, what="x", limit=10_000)  # valid JSON, but deeper than 64
    with pytest.raises(UsageError, match="too large"):
        bounded.json_loads("[]" * 100, what="x", limit=10)
    assert bounded.depth({"a": [[1]]}) == 3 and bounded.json_loads('{"a": 1}', what="x", limit=100) == {"a": 1}
