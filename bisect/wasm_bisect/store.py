"""Persistent verdict store (SQLite, WAL): a probe already done is never redone; runs keep their probe log.

Key: variant hash + template content hash + check hash. Each probe is committed as soon as it finishes, so
Ctrl-C loses at most the probe in flight, and re-running the same command resumes from the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from wasm_bisect.domain.errors import StoreError
from wasm_bisect.domain.model import Outcome, Variant, Verdict
from wasm_bisect.util import paths

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS probes (
    variant_key TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    check_hash TEXT NOT NULL,
    variant_json TEXT NOT NULL,
    outcome_json TEXT NOT NULL,
    verdict TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (variant_key, template_hash, check_hash)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    command TEXT NOT NULL,
    config_json TEXT NOT NULL,
    result_json TEXT
);
CREATE TABLE IF NOT EXISTS run_probes (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    variant_key TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    check_hash TEXT NOT NULL,
    verdict TEXT NOT NULL,
    cached INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS runs_by_fingerprint ON runs (fingerprint, created);
"""


@dataclass(frozen=True, kw_only=True)
class StoredProbe:
    variant: dict[str, Any]
    outcome: Outcome
    cached: bool
    seq: int


@dataclass(frozen=True, kw_only=True)
class Run:
    run_id: str
    kind: str
    fingerprint: str
    created: float
    command: str
    config: dict[str, Any]
    result: dict[str, Any] | None


class Store:
    @staticmethod
    def default_path() -> Path:
        """The tool's own store under its home."""
        return paths.store_path()

    def __init__(self, path: Path | None = None, *, notice: Any = None) -> None:
        self.path = path or paths.store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.path.parent} for the result store: {exc.strerror}") from None
        self._notice = notice or (lambda _msg: None)
        self._lock = threading.RLock()  # one connection shared by the -j worker threads
        self._conn = self._open()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                raise sqlite3.DatabaseError(str(ok))
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            return conn
        except sqlite3.OperationalError as exc:
            # Locked, unreadable, read-only, disk full: the store may be fine; never move it aside for that.
            raise StoreError(f"cannot open the result store {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            # A truncated or corrupt store: keep it aside for inspection and start a fresh one.
            with contextlib.suppress(Exception):
                conn.close()
            # Two processes may find the same corrupt store: the first moves it aside, the second must find the
            # fresh store the first one made, not move that one too.
            with filelock.FileLock(f"{self.path}.repair-lock"):
                with contextlib.suppress(sqlite3.DatabaseError):
                    conn = self._connect()
                    ok = conn.execute("PRAGMA quick_check").fetchone()
                    if ok and ok[0] == "ok":
                        conn.executescript(_SCHEMA)
                        return conn
                    conn.close()
                aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}-{os.getpid()}")
                self.path.rename(aside)
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        self.path.with_name(self.path.name + suffix).unlink()
                self._notice(f"result store {self.path} was unreadable ({exc}); moved to {aside}, starting afresh")
                try:
                    conn = self._connect()
                    conn.executescript(_SCHEMA)
                except sqlite3.DatabaseError as again:
                    raise StoreError(f"cannot create a result store at {self.path}: {again}") from again
                return conn

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:  # disk full, locked past the busy timeout, read-only
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"cannot write the result store {self.path}: {exc}") from None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the result store {self.path}: {exc}") from None

    # -- probes -------------------------------------------------------------------------------------------
    def get(self, variant: Variant, template_hash: str, check_hash: str) -> Outcome | None:
        rows = self._read(
            "SELECT outcome_json FROM probes WHERE variant_key=? AND template_hash=? AND check_hash=?",
            (variant.key, template_hash, check_hash),
        )
        row = rows[0] if rows else None
        if row is None:
            return None
        try:
            return Outcome.from_json(json.loads(row[0]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # an unreadable row is as good as absent: the probe is redone

    def put(self, variant: Variant, template_hash: str, check_hash: str, outcome: Outcome) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (variant.key, template_hash, check_hash, json.dumps(variant.identity(), sort_keys=True),
                 json.dumps(outcome.to_json(), sort_keys=True), str(outcome.verdict), time.time()),
            )

    def all_probes(self, template_hash: str | None = None) -> list[tuple[dict[str, Any], Outcome]]:
        sql = "SELECT variant_json, outcome_json FROM probes"
        args: tuple[str, ...] = ()
        if template_hash:
            sql += " WHERE template_hash=?"
            args = (template_hash,)
        return [(_variant_json(v), _outcome_json(o)) for v, o in self._read(sql, args)]

    # -- runs ---------------------------------------------------------------------------------------------
    def start_run(self, *, kind: str, fingerprint: str, command: str, config: dict[str, Any]) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self._tx() as conn:
            conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, NULL)",
                         (run_id, kind, fingerprint, time.time(), command, json.dumps(config, sort_keys=True)))
        return run_id

    def record(self, run_id: str, variant: Variant, template_hash: str, check_hash: str, outcome: Outcome,
               *, cached: bool) -> None:
        with self._tx() as conn:
            (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM run_probes WHERE run_id=?",
                                  (run_id,)).fetchone()
            conn.execute("INSERT INTO run_probes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (run_id, seq, variant.key, template_hash, check_hash, str(outcome.verdict), int(cached),
                          time.time()))

    def finish_run(self, run_id: str, result: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE runs SET result_json=? WHERE run_id=?", (json.dumps(result, sort_keys=True), run_id))

    def run(self, run_id: str | None = None) -> Run:
        """A run by id (a unique prefix works), or the newest run when None."""
        if run_id is None:
            newest = self._read("SELECT * FROM runs ORDER BY created DESC LIMIT 1")
            row = newest[0] if newest else None
        else:
            rows = self._read("SELECT * FROM runs WHERE run_id LIKE ? ORDER BY created DESC",
                              (run_id.replace("%", "").replace("_", "") + "%",))
            if len(rows) > 1 and rows[0][0] != run_id:
                raise StoreError(f"run id {run_id!r} is ambiguous", hint="give more characters")
            row = rows[0] if rows else None
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}" if run_id else f"no runs yet in {self.path}",
                             hint="see `wasm-bisect runs`")
        return Run(run_id=row[0], kind=row[1], fingerprint=row[2], created=row[3], command=row[4],
                   config=json.loads(row[5]), result=json.loads(row[6]) if row[6] else None)

    def unfinished_run(self, fingerprint: str) -> str | None:
        """The newest run with this fingerprint that never finished (interrupted): resume into it."""
        rows = self._read("SELECT run_id FROM runs WHERE fingerprint=? AND result_json IS NULL "
                          "ORDER BY created DESC LIMIT 1", (fingerprint,))
        return str(rows[0][0]) if rows else None

    def runs(self, limit: int = 50) -> list[Run]:
        rows = self._read("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,))
        return [Run(run_id=r[0], kind=r[1], fingerprint=r[2], created=r[3], command=r[4], config=json.loads(r[5]),
                    result=json.loads(r[6]) if r[6] else None) for r in rows]

    def run_probes(self, run_id: str) -> list[StoredProbe]:
        rows = self._read(
            """SELECT rp.seq, rp.cached, p.variant_json, p.outcome_json FROM run_probes rp
               JOIN probes p ON p.variant_key = rp.variant_key AND p.template_hash = rp.template_hash
                            AND p.check_hash = rp.check_hash
               WHERE rp.run_id = ? ORDER BY rp.seq""",
            (run_id,),
        )
        return [StoredProbe(seq=s, cached=bool(c), variant=_variant_json(v), outcome=_outcome_json(o))
                for s, c, v, o in rows]


def _outcome_json(text: str) -> Outcome:
    """A stored outcome; a damaged row reads as an ERROR (never as a verdict it may not have had)."""
    try:
        return Outcome.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError):
        return Outcome(verdict=Verdict.ERROR, reason="the stored outcome is unreadable (damaged store row)")


def _variant_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    return {"rustc": "?", "bindgen": {"version": "?"}, "reference_types": "?", "unreadable": True}
