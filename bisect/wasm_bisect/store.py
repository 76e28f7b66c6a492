"""Persistent verdict store (SQLite, WAL): a probe already done is never redone; runs keep their probe log.

Key: variant hash + template content hash + check hash. Each probe is committed as soon as it finishes, so
Ctrl-C loses at most the probe in flight, and re-running the same command resumes from the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import filelock

from wasm_bisect.domain.errors import StoreError, UsageError, WasmBisectError
from wasm_bisect.domain.model import Outcome, Variant, Verdict
from wasm_bisect.util import bounded, fs, paths

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


_HEADER = b"SQLite format 3\x00"
APPLICATION_ID = 0x77626973  # "wbis" in the SQLite header: marks files this tool created
_TABLES = frozenset({"meta", "probes", "runs", "run_probes"})
IDENTITY_SUFFIX = ".identity"  # next to the tool's own store: which file (device, inode) the tool created
MAX_JSON = 64 * 1024 * 1024  # one stored JSON value (a run's config or result, an outcome)

StoreKind = Literal["absent", "empty", "store", "damaged", "not-sqlite", "foreign", "not-a-file"]


@dataclass(frozen=True, kw_only=True)
class StoreFile:
    """What a file is, found by reading it only (never opened for writing, no journal or WAL file created)."""

    path: Path
    kind: StoreKind
    schema: str | None = None  # meta.schema of a wasm-bisect store
    marked: bool = False  # the header carries this tool's application id
    why: str = ""


def _sidecars(path: Path) -> bool:
    return any(Path(f"{path}{s}").exists() for s in ("-wal", "-journal"))


def read_only_uri(path: Path) -> str:
    """An SQLite URI that reads `path` without writing anything next to it: `immutable` when no journal or WAL
    file exists (a read-only open of a WAL database would otherwise leave -wal and -shm files behind)."""
    quoted = urllib.parse.quote(str(path.absolute()))
    return f"file:{quoted}?mode=ro" + ("" if _sidecars(path) else "&immutable=1")


def inspect(path: Path) -> StoreFile:
    """Is `path` a wasm-bisect store? Read-only: the file's header, then its table list through a read-only,
    immutable connection."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return StoreFile(path=path, kind="absent")
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        return StoreFile(path=path, kind="not-a-file", why=what)
    if info.st_size == 0:
        return StoreFile(path=path, kind="empty")
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    marked = len(header) == 100 and int.from_bytes(header[68:72], "big") == APPLICATION_ID
    if not header.startswith(_HEADER) or len(header) < 100:
        return StoreFile(path=path, kind="not-sqlite", marked=marked, why="not an SQLite database")
    conn = None
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables >= _TABLES:
            kind: StoreKind = "damaged" if marked else "foreign"
            return StoreFile(path=path, kind=kind, marked=marked, why="it has no wasm-bisect tables")
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.DatabaseError as exc:
        return StoreFile(path=path, kind="damaged", marked=marked, why=str(exc))
    finally:
        if conn is not None:
            conn.close()
    if row is None:
        return StoreFile(path=path, kind="damaged", marked=marked, why="it has no schema version")
    return StoreFile(path=path, kind="store", schema=str(row[0]), marked=marked)


def check_schema(found: StoreFile) -> None:
    """A store of another schema version is refused, naming both versions (never read as if it were ours)."""
    if found.schema != str(SCHEMA_VERSION):
        newer = found.schema is not None and found.schema.isdigit() and int(found.schema) > SCHEMA_VERSION
        raise StoreError(
            f"{found.path} is a wasm-bisect store of schema version {found.schema!r}; this wasm-bisect reads "
            f"schema version {SCHEMA_VERSION}",
            hint="use a newer wasm-bisect" if newer else "use the wasm-bisect that wrote it")


def refuse(found: StoreFile, *, own: bool) -> StoreError | UsageError:
    """The one-line refusal of a file that cannot be used as a store (nothing about it is changed)."""
    if found.kind == "not-a-file":
        return UsageError(f"{found.path} is {found.why}, not a result store file",
                          hint="give the store file, e.g. store.sqlite3")
    if found.kind in ("not-sqlite", "foreign"):
        what = "not an SQLite database" if found.kind == "not-sqlite" else "an SQLite database of another program"
        hint = ("it is in the tool's home: move it away and run again" if own
                else "give a wasm-bisect store, or a new path for one")
        return UsageError(f"{found.path} is not a wasm-bisect result store ({what}); it was left as it is",
                          hint=hint)
    hint = ("move it away and run again (it is not proven to be this tool's own store)" if own
            else "wasm-bisect repairs only its own store: copy what you need and give another --store")
    return StoreError(f"{found.path} is a damaged wasm-bisect store ({found.why}); it was left as it is", hint=hint)


def identity_file(path: Path) -> Path:
    return path.with_name(path.name + IDENTITY_SUFFIX)


def proven_ours(found: StoreFile) -> bool:
    """A damaged file is this tool's store when its header still carries our application id, or when it is
    the very file (device and inode) the tool created or last opened at that path."""
    if found.marked:
        return True
    try:
        info = found.path.stat()
    except OSError:
        return False
    return _read_identity(identity_file(found.path)) == {"device": info.st_dev, "inode": info.st_ino}


def check_usable(path: Path | None) -> None:
    """Before any work (provisioning, fetching, a run): the store a command will write must be absent, empty,
    a wasm-bisect store of this schema, or the tool's own store proven damaged (set aside when opened).
    Anything else is refused now, one line, and left exactly as it is."""
    target = paths.expand(path) if path is not None else paths.store_path()
    found = inspect(target)
    own = Store.is_own(target)
    if found.kind in ("absent", "empty"):
        return
    if found.kind == "store":
        check_schema(found)
        return
    if own and found.kind in ("not-sqlite", "damaged") and proven_ours(found):
        return
    raise refuse(found, own=own)


class Store:
    """The verdict store. The tool's own store (under its home) is created, migrated and, once proven to be
    a damaged wasm-bisect store, set aside and started afresh; a store the user names is used as it is or
    refused, never repaired, moved or converted; `read_only` opens change nothing at all."""

    @staticmethod
    def default_path() -> Path:
        """The tool's own store under its home."""
        return paths.store_path()

    @staticmethod
    def is_own(path: Path) -> bool:
        return path.absolute() == paths.store_path() or paths.resolve(path) == paths.resolve(paths.store_path())

    def __init__(self, path: Path | None = None, *, notice: Any = None, read_only: bool = False) -> None:
        self.path = paths.expand(path) if path is not None else paths.store_path()
        self.own = self.is_own(self.path)
        self.read_only = read_only
        self._notice = notice or (lambda _msg: None)
        self._lock = threading.RLock()  # one connection shared by the -j worker threads
        self._conn = self._open_read() if read_only else self._open_write()

    # -- opening ------------------------------------------------------------------------------------------
    def _open_read(self) -> sqlite3.Connection:
        found = inspect(self.path)
        if found.kind in ("absent", "empty"):
            # Nothing stored yet: an empty store in memory answers "no runs", and no file is created.
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.executescript(_SCHEMA)
            return conn
        if found.kind != "store":
            if found.kind == "damaged" and self.own:
                raise StoreError(f"the result store {self.path} is damaged ({found.why})",
                                 hint="the next run that writes to it sets it aside and starts afresh")
            raise refuse(found, own=self.own)
        check_schema(found)
        try:
            conn = sqlite3.connect(read_only_uri(self.path), uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the result store {self.path}: {exc}") from None
        return conn

    def _open_write(self) -> sqlite3.Connection:
        if not self.own:
            return self._open_write_checked()
        # Between its creation and its tables, a new store looks like another program's SQLite file: processes
        # starting at once on a fresh home inspect and create the tool's own store one at a time.
        with fs.lock("store-open"):
            return self._open_write_checked()

    def _open_write_checked(self) -> sqlite3.Connection:
        found = inspect(self.path)
        if found.kind in ("not-a-file", "not-sqlite", "foreign", "damaged"):
            if not (self.own and found.kind in ("not-sqlite", "damaged") and self._proven_ours(found)):
                raise refuse(found, own=self.own)
            return self._repair(found.why)
        existing = found.kind == "store"
        if existing:
            check_schema(found)
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {self.path.parent} for the result store: {exc.strerror}") from None
        # A store the user named is used as it is: its journal mode and header stay theirs.
        ours_to_manage = self.own or not existing
        try:
            conn = self._connect(wal=ours_to_manage)
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                conn.close()
                damaged = StoreFile(path=self.path, kind="damaged", marked=found.marked, why=str(ok and ok[0]))
                if not (self.own and (existing or self._proven_ours(damaged))):
                    raise refuse(damaged, own=self.own)
                return self._repair(damaged.why)
            if ours_to_manage:
                self._initialise(conn)
            return conn
        except sqlite3.OperationalError as exc:
            # Locked, unreadable, read-only, disk full: the store may be fine; never move it aside for that.
            raise StoreError(f"cannot open the result store {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the result store {self.path}: {exc}") from None

    def _connect(self, *, wal: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        """Tables of a new (or empty) store, the application id in its header; the identity file of our own."""
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        if self.own:
            self._remember_identity()

    def _identity_file(self) -> Path:
        return identity_file(self.path)

    def _remember_identity(self) -> None:
        info = self.path.stat()
        data = {"device": info.st_dev, "inode": info.st_ino}
        with contextlib.suppress(OSError, WasmBisectError):  # only a proof for later repairs: never fatal
            if _read_identity(self._identity_file()) != data:
                fs.atomic_write_text(self._identity_file(), json.dumps(data) + "\n")

    def _proven_ours(self, found: StoreFile) -> bool:
        return proven_ours(found)

    def _repair(self, why: str) -> sqlite3.Connection:
        """Our own store, proven damaged: keep it aside for inspection and start a fresh one."""
        # Two processes may find the same damaged store: the first moves it aside, the second must find the
        # fresh store the first one made, not move that one too.
        with filelock.FileLock(f"{self.path}.repair-lock"):
            again = inspect(self.path)
            if again.kind in ("store", "empty", "absent"):
                with contextlib.suppress(sqlite3.DatabaseError):
                    conn = self._connect()
                    ok = conn.execute("PRAGMA quick_check").fetchone()
                    if ok and ok[0] == "ok":
                        self._initialise(conn)
                        return conn
                    conn.close()
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}-{os.getpid()}")
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    self.path.with_name(self.path.name + suffix).unlink()
            self._notice(f"result store {self.path} was unreadable ({why}); moved to {aside}, starting afresh")
            try:
                conn = self._connect()
                self._initialise(conn)
            except sqlite3.DatabaseError as again_exc:
                raise StoreError(f"cannot create a result store at {self.path}: {again_exc}") from again_exc
            return conn

    def close(self) -> None:
        self._conn.close()

    def self_contained(self) -> None:
        """One file and no WAL: an artifact that is copied around alone (`matrix --export`)."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the result store {self.path}: {exc}") from None

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
        data = _json_object(row[0])
        try:
            return Outcome.from_json(data) if data is not None else None
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

    def recent_probes(self, limit: int) -> list[tuple[dict[str, Any], Outcome]]:
        """The `limit` most recently stored probes (their timings feed the cost model)."""
        rows = self._read("SELECT variant_json, outcome_json FROM probes ORDER BY created DESC LIMIT ?", (limit,))
        return [(_variant_json(v), _outcome_json(o)) for v, o in rows]

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

    def run_keys(self, run_id: str) -> tuple[str, str] | None:
        """The (template hash, check hash) a run stored its probes under; None before its first probe."""
        rows = self._read("SELECT template_hash, check_hash FROM run_probes WHERE run_id=? ORDER BY seq DESC LIMIT 1",
                          (run_id,))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def in_run(self, run_id: str, variant: Variant) -> bool:
        return bool(self._read("SELECT 1 FROM run_probes WHERE run_id=? AND variant_key=? LIMIT 1",
                               (run_id, variant.key)))

    def finish_run(self, run_id: str, result: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE runs SET result_json=? WHERE run_id=?", (json.dumps(result, sort_keys=True), run_id))

    def run(self, run_id: str | None = None) -> Run:
        """A run by id (a unique prefix works), or the newest run when None."""
        if run_id is None:
            newest = self._read("SELECT * FROM runs ORDER BY created DESC LIMIT 1")
            row = newest[0] if newest else None
        else:
            # A prefix compared as text: `_` and `%` are characters of an id, never LIKE wildcards.
            rows = self._read("SELECT * FROM runs WHERE ? != '' AND substr(run_id, 1, length(?)) = ? "
                              "ORDER BY created DESC", (run_id, run_id, run_id))
            if len(rows) > 1 and rows[0][0] != run_id:
                raise StoreError(f"run id {run_id!r} is ambiguous", hint="give more characters")
            row = rows[0] if rows else None
        if row is None:
            missing = f"no run {run_id!r}" if run_id is not None else "no runs yet"
            raise StoreError(f"{missing} in {self.path}",
                             hint="see `wasm-bisect runs`")
        return self._run_from_row(row)

    def _run_from_row(self, row: tuple[Any, ...]) -> Run:
        """A run row, shape-checked: a damaged or hostile row is a StoreError, never a crash further on."""
        run_id, kind, fingerprint, created, command, config_text, result_text = row
        where = f"run {run_id!r} in {self.path}" if isinstance(run_id, str) else f"a run in {self.path}"
        if not all(isinstance(v, str) for v in (run_id, kind, fingerprint, command, config_text)) or \
                isinstance(created, bool) or not isinstance(created, int | float) or \
                not (result_text is None or isinstance(result_text, str)):
            raise StoreError(f"{where} is damaged (a field has the wrong type)")
        config = bounded.json_loads(config_text, what=f"the config of {where}", limit=MAX_JSON, error=StoreError)
        result = (bounded.json_loads(result_text, what=f"the result of {where}", limit=MAX_JSON, error=StoreError)
                  if result_text else None)
        if not isinstance(config, dict) or not (result is None or isinstance(result, dict)):
            raise StoreError(f"{where} is damaged (its config or result is not a JSON object)")
        return Run(run_id=run_id, kind=kind, fingerprint=fingerprint, created=float(created), command=command,
                   config=config, result=result)

    def unfinished_run(self, fingerprint: str) -> str | None:
        """The newest run with this fingerprint that never finished (interrupted): resume into it."""
        rows = self._read("SELECT run_id FROM runs WHERE fingerprint=? AND result_json IS NULL "
                          "ORDER BY created DESC LIMIT 1", (fingerprint,))
        return str(rows[0][0]) if rows else None

    def runs(self, limit: int = 50) -> list[Run]:
        """The newest runs; damaged rows are left out (and said once), never a crash."""
        rows = self._read("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,))
        found = []
        for row in rows:
            try:
                found.append(self._run_from_row(row))
            except StoreError as exc:
                self._notice(f"skipping it: {exc.one_line()}")
        return found

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


def _read_identity(path: Path) -> dict[str, Any] | None:
    try:
        data = bounded.json_loads(path.read_text(), what=str(path), limit=4096)
    except (OSError, UnicodeDecodeError, WasmBisectError):
        return None
    return data if isinstance(data, dict) else None


def _json_object(text: Any) -> dict[str, Any] | None:
    """A stored JSON object, bounded in size and depth; None when the row is damaged or hostile."""
    if not isinstance(text, str | bytes):
        return None
    try:
        data = bounded.json_loads(text, what="a stored value", limit=MAX_JSON, error=StoreError)
    except StoreError:
        return None
    return data if isinstance(data, dict) else None


def _outcome_json(text: Any) -> Outcome:
    """A stored outcome; a damaged row reads as an ERROR (never as a verdict it may not have had)."""
    data = _json_object(text)
    try:
        if data is not None:
            return Outcome.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return Outcome(verdict=Verdict.ERROR, reason="the stored outcome is unreadable (damaged store row)")


def _variant_json(text: Any) -> dict[str, Any]:
    data = _json_object(text)
    if data is not None:
        return data
    return {"rustc": "?", "bindgen": {"version": "?"}, "reference_types": "?", "unreadable": True}
