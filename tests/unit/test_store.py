from pathlib import Path

from unit.conftest import make_variant
from wasm_bisect.domain.model import Outcome, Variant, Verdict
from wasm_bisect.store import Store


def v(version: str) -> Variant:
    return make_variant("smoke", bindgen=version)


def test_put_get_and_run_log(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    assert store.get(v("0.2.99"), "t", "c") is None
    out = Outcome(verdict=Verdict.BAD, reason="detached", evidence={"target_features": ["+reference-types"]})
    store.put(v("0.2.99"), "t", "c", out)
    assert store.get(v("0.2.99"), "t", "c") == out
    assert store.get(v("0.2.99"), "t", "other-check") is None  # a changed check invalidates
    run = store.start_run(kind="bisect", fingerprint="f", command="wasm-bisect bisect", config={"a": 1})
    store.record(run, v("0.2.99"), "t", "c", out, cached=False)
    store.record(run, v("0.2.99"), "t", "c", out, cached=True)
    store.finish_run(run, {"first_bad": "x"})
    probes = store.run_probes(run)
    assert [p.seq for p in probes] == [1, 2] and probes[1].cached
    assert store.run(run[:12]).result == {"first_bad": "x"}
    assert store.run().run_id == run
    store.close()
    reopened = Store(tmp_path / "s.sqlite3")
    assert reopened.get(v("0.2.99"), "t", "c") == out


def test_corrupt_store_is_moved_aside(tmp_path: Path) -> None:
    # Only the tool's own store is ever repaired, and only the very file it made (issue 13): make it first.
    path = Store.default_path()
    Store().close()
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 300)
    notes: list[str] = []
    store = Store(path, notice=notes.append)
    store.put(v("0.2.92"), "t", "c", Outcome(verdict=Verdict.GOOD, reason="ok"))
    assert notes and "moved to" in notes[0]
    assert list(path.parent.glob(f"{path.name}.corrupt-*"))


# -- issue 13: a store the user names is used as it is or refused; only the tool's own is ever repaired -------
import hashlib  # noqa: E402
import sqlite3  # noqa: E402

import pytest  # noqa: E402

from wasm_bisect import store as store_mod  # noqa: E402
from wasm_bisect.domain.errors import StoreError, UsageError  # noqa: E402


def _state(path: Path) -> tuple[str, list[str]]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.iterdir())


def _foreign(path: Path, *, wal: bool = False) -> Path:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("kind", ["text", "foreign", "foreign-wal"])
@pytest.mark.parametrize("read_only", [False, True])
def test_user_named_non_store_is_refused_untouched(tmp_path: Path, kind: str, read_only: bool) -> None:
    path = tmp_path / "user.db"
    if kind == "text":
        path.write_text("SQLite format 3 is what I wrote here\n" * 5)
    else:
        _foreign(path, wal=kind == "foreign-wal")
    before = _state(path)
    with pytest.raises(UsageError, match="not a wasm-bisect result store"):
        Store(path, read_only=read_only)
    with pytest.raises(UsageError, match="left as it is"):
        store_mod.check_usable(path)
    assert _state(path) == before  # same bytes, no -wal/-shm/-journal/.corrupt-* next to it


def test_user_named_damaged_store_is_never_repaired(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))  # our header (application id), damaged pages
    before = _state(path)
    with pytest.raises(StoreError, match="damaged wasm-bisect store"):
        Store(path)
    assert _state(path) == before


def test_own_store_is_repaired_only_when_proven_ours(home: Path) -> None:
    own = Store.default_path()
    own.parent.mkdir(parents=True)
    own.write_bytes(b"someone else's file in the tool's home\n" * 10)  # not made by the tool: no proof
    with pytest.raises(UsageError) as info:
        Store()
    assert "left as it is" in info.value.one_line() and "move it away" in info.value.one_line()
    assert own.read_bytes().startswith(b"someone else's")
    own.unlink()
    Store().close()  # made by the tool: its identity (device, inode) is remembered next to it
    assert store_mod.identity_file(own).is_file()
    own.write_bytes(b"\0" * 4096)  # damaged in place (same file): proven ours, set aside, started afresh
    notes: list[str] = []
    Store(notice=notes.append).close()
    assert notes and "moved to" in notes[0] and list(own.parent.glob("store.sqlite3.corrupt-*"))


def test_newer_or_unknown_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    for value, hint in (("2", "newer wasm-bisect"), ("x", "that wrote it")):
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (value,))
        for read_only in (False, True):
            with pytest.raises(StoreError) as info:
                Store(path, read_only=read_only)
            line = info.value.one_line()
            assert f"schema version '{value}'" in line and "reads schema version 1" in line and hint in line


def test_read_only_open_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    store.start_run(kind="probe", fingerprint="f", command="c", config={})
    store.close()  # WAL store, closed: no -wal/-shm left
    before = _state(path)
    reader = Store(path, read_only=True)
    assert len(reader.runs()) == 1
    with pytest.raises(StoreError):
        reader.start_run(kind="probe", fingerprint="f", command="c", config={})
    reader.close()
    assert _state(path) == before
    absent = Store(tmp_path / "absent.sqlite3", read_only=True)  # nothing stored yet: no file is created
    assert absent.runs() == [] and not (tmp_path / "absent.sqlite3").exists()


def test_existing_user_store_keeps_its_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    store = Store(path)
    store.start_run(kind="probe", fingerprint="f", command="c", config={})
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_hostile_rows_are_store_errors_not_crashes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    run_id = store.start_run(kind="probe", fingerprint="f", command="c", config={})
    store.close()
    for config_json, needle in (("[" * 100_000, "nests"), ("{not json", "not valid JSON"), ("[1]", "not a JSON object"),
                                ("9" * 5000, "not valid JSON")):
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE runs SET config_json = ?", (config_json,))
        reader = Store(path, read_only=True)
        with pytest.raises(StoreError, match=needle):
            reader.run(run_id)
        assert reader.runs() == []  # left out of listings, never a crash
        reader.close()
