"""SQLite manager: one file, WAL mode, safe for several threads and processes.

Three tables named after the validated ``table_name`` (records, ``_blobs``,
``_writes``) plus ``_meta`` holding the schema version; ``MIGRATIONS`` is a list
whose index is the version, as in LangGraph's own SqliteSaver.

Atomicity: a checkpoint's blobs and its record are written in one
``BEGIN IMMEDIATE`` transaction, so a reader (in WAL mode, a snapshot) never sees
a record before its blobs, and a crash leaves either all or none of them. Reads
that take several statements (a bundle: record, blobs, list elements, writes; a
``list`` page) run in one read transaction, i.e. on one snapshot.

Concurrency: a small LIFO pool of at most ``connection_pool_size`` connections
(``check_same_thread=False`` is safe because a connection is used by one thread at
a time: it is checked out of the pool for the duration of one operation). Several
processes share the file through WAL + ``busy_timeout``; a ``database is locked``
that still escapes (SQLite skips the busy handler where waiting could deadlock)
is retried a bounded number of times within ``connection_timeout``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from langgraph_ckpt_config.config.models import SqliteParameters
from langgraph_ckpt_config.errors import (
    BackendUnavailableError,
    ConfigError,
    IntegrityError,
    ManagerNotInitializedError,
    StaleElementsError,
)
from langgraph_ckpt_config.managers.base import BaseCheckpointManager, OpenedBundle, carried_over_values
from langgraph_ckpt_config.managers.records import (
    ELEMENT_CHANNEL,
    BlobKey,
    ChannelVersion,
    RecordQuery,
    StoredBlob,
    StoredBundle,
    StoredRecord,
    StoredWrite,
    record_matches,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RECORD_COLS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, workflow_id, kind, payload_type, "
    "{payload}, checksum, size, created_at, updated_at, status, tags, metadata, channel_versions"
)
_RECORD_COL_COUNT = _RECORD_COLS.count(",") + 1


def _migrations(t: str) -> list[str]:
    """Schema migrations; the index is the version. Never edit one that shipped: append."""
    return [
        f"""
        CREATE TABLE IF NOT EXISTS "{t}" (
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL DEFAULT '',
            checkpoint_id TEXT NOT NULL,
            parent_checkpoint_id TEXT,
            workflow_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload_type TEXT NOT NULL,
            payload BLOB NOT NULL,
            checksum TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            status TEXT NOT NULL,
            tags TEXT NOT NULL,
            metadata TEXT NOT NULL,
            channel_versions TEXT NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
        );
        CREATE TABLE IF NOT EXISTS "{t}_blobs" (
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL DEFAULT '',
            channel TEXT NOT NULL,
            version TEXT NOT NULL,
            payload_type TEXT NOT NULL,
            payload BLOB NOT NULL,
            checksum TEXT NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
        );
        CREATE TABLE IF NOT EXISTS "{t}_writes" (
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL DEFAULT '',
            checkpoint_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            channel TEXT NOT NULL,
            payload_type TEXT NOT NULL,
            payload BLOB NOT NULL,
            checksum TEXT NOT NULL,
            task_path TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
        );
        CREATE INDEX IF NOT EXISTS "{t}_idx_checkpoint_id" ON "{t}" (checkpoint_id);
        """,
    ]


#: ``index_fields`` -> index columns. Hot paths already served by primary keys: the latest
#: checkpoint of (thread, ns) (``ORDER BY checkpoint_id DESC LIMIT 1``), blobs by key,
#: writes of a checkpoint. These serve the manager API's listings (newest first by time).
_INDEXES = {
    "workflow_id": "(workflow_id, created_at)",
    "timestamp": "(created_at)",
    "status": "(status)",
    "thread_id": "(thread_id, created_at)",
    "checkpoint_ns": "(checkpoint_ns)",
}

class _PinnedConnection(threading.local):
    """Per thread: the connection of a ``_collection_guard`` transaction, if one is open."""

    conn: sqlite3.Connection | None = None


#: How often a ``database is locked`` that escaped ``busy_timeout`` is retried (within
#: ``connection_timeout`` in total).
_BUSY_RETRIES = 8
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6

_BACKUP_STAMP = "%Y%m%dT%H%M%SZ"

#: ``_cached_bundle``: the checkpoint does not exist (None there means "read it the long way").
_NOT_FOUND = object()

_INT64 = (-(2**63), 2**63 - 1)


def _with_writes(t: str, record_select: str) -> str:
    """``record_select`` (one record at most) joined with that record's writes: one row per
    write, or one row with NULL write columns when it has none."""
    return (
        f"SELECT r.*, w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path "
        f'FROM ({record_select}) AS r LEFT JOIN "{t}_writes" AS w '
        "ON w.thread_id = r.thread_id AND w.checkpoint_ns = r.checkpoint_ns AND w.checkpoint_id = r.checkpoint_id"
    )


def _version_key(version: ChannelVersion) -> str:
    """The stored form of a channel version: JSON, whose syntax is the type marker.

    ``7``, ``7.0`` and ``"7"`` stay three distinct keys and each round-trips exactly.
    """
    return json.dumps(version)


def _json_path(key: str) -> str | None:
    """A JSON path selecting top-level ``key``, or None when SQLite's path syntax cannot name it."""
    if '"' in key or "\\" in key:
        return None
    return '$."' + key + '"'


def _is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc)
    return "locked" in text or "busy" in text


class SqliteCheckpointManager(BaseCheckpointManager):
    parameters_model = SqliteParameters
    backend_name = "sqlite"

    # ------------------------------------------------------------------ connections
    def _open(self) -> None:
        p = self.params
        if str(p.database_path).strip() in ("", ":memory:") or str(p.database_path).startswith("file::memory:"):
            raise ConfigError(
                "database_path: an in-memory SQLite database cannot be shared by the connection pool; "
                "give a file path or use the memory manager"
            )
        self.path = Path(p.database_path)
        #: whether this manager created the database file (the CLI's read-only commands refuse
        #: to report an empty store that a mistyped path just created)
        self.created_database = not self.path.exists()
        t = p.table_name  # validated as an identifier by SqliteParameters; quoted everywhere anyway
        self._t = t
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()  # warm cache first
        self._connections: list[sqlite3.Connection] = []  # every open connection (close() closes them all)
        self._reserved = 0  # connections open or being opened (bounded by connection_pool_size)
        self._conn_lock = threading.Lock()
        #: One write transaction at a time within this process: two threads of one process
        #: (LangGraph's background checkpoint writer and the caller's put_writes) would
        #: otherwise meet in SQLite's busy handler, which sleeps milliseconds at a time.
        #: Other processes still share the file through WAL + busy_timeout.
        self._write_lock = threading.Lock()
        #: the connection of a ``_collection_guard`` transaction, for its own thread's ``_run``
        self._pinned = _PinnedConnection()
        self._shutdown = False
        self._backup_stop = threading.Event()
        self._backup_thread: threading.Thread | None = None
        payload_cols = _RECORD_COLS.format(payload="payload")
        write_cols = "thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, payload_type, payload, checksum, task_path"
        self._sql = {
            "record_cols": payload_cols,
            "record_cols_nopayload": _RECORD_COLS.format(payload="NULL"),
            "latest": f'SELECT {payload_cols} FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? ORDER BY checkpoint_id DESC LIMIT 1',
            "by_id": f'SELECT {payload_cols} FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            # get_tuple's record and its pending writes in one statement (one snapshot, no transaction)
            "latest_with_writes": _with_writes(t, f'SELECT {payload_cols} FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? ORDER BY checkpoint_id DESC LIMIT 1'),
            "by_id_with_writes": _with_writes(t, f'SELECT {payload_cols} FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?'),
            "put_record": f'INSERT OR REPLACE INTO "{t}" ({payload_cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
            "put_blob": f'INSERT OR IGNORE INTO "{t}_blobs" (thread_id, checkpoint_ns, channel, version, payload_type, payload, checksum) VALUES (?,?,?,?,?,?,?)',
            "get_blob": f'SELECT payload_type, payload, checksum FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version=?',
            # + "<sum of counts> = ?": the record only if every named value is stored
            "put_record_if_present": f'INSERT OR REPLACE INTO "{t}" ({payload_cols}) SELECT ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,? WHERE ',
            # one count per channel, each a primary-key search (an OR of pairs or a row-value IN
            # would scan the thread's blobs); list elements: their versions as a JSON list
            "count_values": f'(SELECT count(*) FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? '
            "AND version IN (SELECT value FROM json_each(?)))",
            "count_value": f'(SELECT count(*) FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version=?)',
            "values_present": f'SELECT version FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? '
            "AND version IN (SELECT value FROM json_each(?))",
            "get_blobs_of_channel": f'SELECT version, payload_type, payload, checksum FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version IN (SELECT value FROM json_each(?))',
            "put_write_ignore": f'INSERT OR IGNORE INTO "{t}_writes" ({write_cols}) VALUES (?,?,?,?,?,?,?,?,?,?)',
            "put_write_replace": f'INSERT OR REPLACE INTO "{t}_writes" ({write_cols}) VALUES (?,?,?,?,?,?,?,?,?,?)',
            "get_writes": f'SELECT task_id, idx, channel, payload_type, payload, checksum, task_path FROM "{t}_writes" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "get_writes_many": f'SELECT checkpoint_id, task_id, idx, channel, payload_type, payload, checksum, task_path FROM "{t}_writes" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id IN (SELECT value FROM json_each(?))',
            "del_record": f'DELETE FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "del_writes": f'DELETE FROM "{t}_writes" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "del_blob": f'DELETE FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version=?',
            "thread_ids": f'SELECT DISTINCT thread_id FROM "{t}"',
            "blob_keys": f'SELECT checkpoint_ns, channel, version FROM "{t}_blobs" WHERE thread_id = ?',
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailableError(f"cannot create the directory of SQLite database {self.path}: {exc}") from None
        try:
            self._run(self._migrate, mode="IMMEDIATE")
        except BaseException:
            self._close_connections()
            raise
        if p.backup_enabled:
            self._backup_thread = threading.Thread(target=self._backup_worker, name=f"lgckpt-backup-{self.name}", daemon=True)
            self._backup_thread.start()

    def _new_connection(self) -> sqlite3.Connection:
        p = self.params
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=p.connection_timeout,
                isolation_level=None,  # explicit transactions only
                check_same_thread=False,  # the pool hands a connection to one thread at a time
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open SQLite database {self.path}: {exc}") from None
        try:
            with self._translate():
                self._retry(lambda: self._configure(conn))
        except BaseException:
            conn.close()
            raise
        with self._conn_lock:
            self._connections.append(conn)
        return conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        p = self.params
        conn.execute(f"PRAGMA busy_timeout={int(p.connection_timeout * 1000)}")
        mode = conn.execute(f"PRAGMA journal_mode={p.journal_mode}").fetchone()[0]
        if str(mode).upper() != p.journal_mode:
            logger.warning("SQLite database %s: journal_mode %s requested, %s in use", self.path, p.journal_mode, mode)
        conn.execute(f"PRAGMA synchronous={p.synchronous}")

    def _acquire(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._conn_lock:
            if self._shutdown:
                raise ManagerNotInitializedError(f"manager {self.name!r} is closed")
            create = self._reserved < self.params.connection_pool_size
            if create:
                self._reserved += 1
        if create:
            try:
                return self._new_connection()
            except BaseException:
                with self._conn_lock:
                    self._reserved -= 1
                raise
        try:
            return self._idle.get(timeout=self.params.connection_timeout)
        except queue.Empty:
            raise BackendUnavailableError(
                f"SQLite database {self.path}: no free connection within {self.params.connection_timeout}s "
                f"(connection_pool_size={self.params.connection_pool_size})"
            ) from None

    def _release(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:  # an interrupted operation: never hand out a connection mid-transaction
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            healthy = not conn.in_transaction and not self._shutdown
        except sqlite3.ProgrammingError:  # closed by close() while in use
            healthy = False
        if healthy:
            self._idle.put(conn)
            return
        with self._conn_lock:
            if conn in self._connections:
                self._connections.remove(conn)
                self._reserved -= 1
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection (at most ``connection_pool_size``), returned to the pool after use.

        A pool rather than one connection per thread: LangGraph runs checkpoint writes on
        short-lived executor threads, and per-thread connections would be opened (and
        leaked) for each of them.
        """
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _close_connections(self) -> None:
        with self._conn_lock:
            self._shutdown = True
            conns, self._connections = self._connections, []
            self._reserved = 0
        with contextlib.suppress(queue.Empty):
            while True:
                self._idle.get_nowait()
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _close(self) -> None:
        self._backup_stop.set()
        if self._backup_thread is not None and self._backup_thread is not threading.current_thread():
            self._backup_thread.join(timeout=30)
        self._close_connections()

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        """sqlite3 errors -> our error tree, naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "malformed" in text or "not a database" in text or "Could not decode" in text:
                raise IntegrityError(f"SQLite database {self.path} is damaged: {text}") from None
            if isinstance(exc, sqlite3.OperationalError):
                raise BackendUnavailableError(f"SQLite database {self.path}: {text}") from None
            raise

    def _retry(self, fn: Callable[[], T]) -> T:
        """``fn()``, retried when SQLite reports busy/locked, at most ``_BUSY_RETRIES`` times within
        ``connection_timeout``. ``fn`` must be idempotent (every operation here is)."""
        deadline = time.monotonic() + self.params.connection_timeout
        attempt = 0
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                attempt += 1
                left = deadline - time.monotonic()
                if not _is_busy(exc) or attempt > _BUSY_RETRIES or left <= 0:
                    raise
                self._count("sqlite_busy_retries")
                time.sleep(min(0.002 * 2**attempt, 0.25, left))

    def _run(self, body: Callable[[sqlite3.Connection], T], *, mode: str | None) -> T:
        """``body(conn)`` on a pooled connection: in a ``BEGIN IMMEDIATE`` (writes) or ``BEGIN
        DEFERRED`` (multi-statement reads) transaction, or in autocommit when ``mode`` is None
        (one read statement) or ``"WRITE"`` (one write statement, its own transaction).
        Writes hold ``_write_lock``. Errors are translated; busy is retried."""
        pinned = self._pinned.conn
        if pinned is not None:  # inside _collection_guard's transaction, on this thread
            with self._translate():
                return body(pinned)
        begin = {"IMMEDIATE": "BEGIN IMMEDIATE", "DEFERRED": "BEGIN DEFERRED", "WRITE": None, None: None}[mode]

        def attempt(conn: sqlite3.Connection) -> T:
            if begin is None:
                return body(conn)
            conn.execute(begin)
            try:
                result = body(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            return result

        if mode in ("IMMEDIATE", "WRITE"):
            with self._write_lock, self._translate(), self._connection() as conn:
                return self._retry(lambda: attempt(conn))
        with self._translate(), self._connection() as conn:
            return self._retry(lambda: attempt(conn))

    @contextlib.contextmanager
    def _collection_guard(self, thread_id: str) -> Iterator[None]:
        """The whole blob collection in one ``BEGIN IMMEDIATE`` transaction, on one connection
        that this thread's ``_run`` calls use meanwhile: no checkpoint commits between the
        records read and the orphans deleted (SQLite admits one writer at a time)."""
        if self._pinned.conn is not None:
            yield
            return
        with self._write_lock, self._translate(), self._connection() as conn:
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            self._pinned.conn = conn
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._pinned.conn = None
            conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        t = self._t
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{t}_meta" (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
        row = conn.execute(f'SELECT value FROM "{t}_meta" WHERE key = ?', ("schema_version",)).fetchone()
        current = int(row[0]) if row else -1
        migrations = _migrations(t)
        if current >= len(migrations):
            raise BackendUnavailableError(
                f"SQLite database {self.path}: table {t!r} has schema version {current}, newer than this "
                f"package knows ({len(migrations) - 1}); upgrade langgraph-ckpt-config"
            )
        for version in range(current + 1, len(migrations)):
            for statement in migrations[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f'INSERT OR REPLACE INTO "{t}_meta" (key, value) VALUES (?, ?)', ("schema_version", str(version)))
        if self.params.enable_indexes:
            for field in self.params.index_fields:
                conn.execute(f'CREATE INDEX IF NOT EXISTS "{t}_idx_{field}" ON "{t}" {_INDEXES[field]}')

    # ------------------------------------------------------------------ row mapping
    @staticmethod
    def _record(row: tuple) -> StoredRecord:
        try:
            tags, metadata, versions = json.loads(row[13]), json.loads(row[14]), json.loads(row[15])
            damage = None
            if not (isinstance(tags, list) and isinstance(metadata, dict) and isinstance(versions, dict)):
                raise ValueError("not the JSON types written")
        except (ValueError, TypeError):  # json.JSONDecodeError is a ValueError
            tags, metadata, versions, damage = _parse_damaged_columns(row)
        return StoredRecord(
            thread_id=row[0],
            checkpoint_ns=row[1],
            checkpoint_id=row[2],
            parent_checkpoint_id=row[3],
            workflow_id=row[4],
            kind=row[5],
            payload_type=row[6],
            payload=row[7],
            checksum=row[8],
            size=row[9],
            created_at=row[10],
            updated_at=row[11],
            status=row[12],
            tags=tags,
            metadata=metadata,
            channel_versions=versions,
            damage=damage,
        )

    @staticmethod
    def _record_row(r: StoredRecord) -> tuple:
        return (
            r.thread_id,
            r.checkpoint_ns,
            r.checkpoint_id,
            r.parent_checkpoint_id,
            r.workflow_id,
            r.kind,
            r.payload_type,
            r.payload,
            r.checksum,
            r.size,
            r.created_at,
            r.updated_at,
            r.status,
            json.dumps(r.tags),
            json.dumps(r.metadata),
            json.dumps(r.channel_versions),
        )

    # ------------------------------------------------------------------ writes
    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        self._write(record, blobs, ())

    def _write_checkpoint_checked(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str]
    ) -> None:
        """One transaction; base.py's check (the list elements ``must_exist`` and the values of
        unchanged channels are still stored) runs inside it, so no other process can delete
        one between the check and the commit."""
        wanted = [(ELEMENT_CHANNEL, h) for h in must_exist] + carried_over_values(record, blobs)
        self._write(record, blobs, wanted)

    def _write(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], wanted: Sequence[tuple[str, ChannelVersion]]
    ) -> None:
        """Blobs and record in one transaction; the record only if every ``(channel, version)``
        of ``wanted`` is stored (else ``StaleElementsError``, nothing written)."""
        sql = self._sql
        tid, ns = record.thread_id, record.checkpoint_ns
        blob_rows = [
            (tid, b_ns, b.channel, _version_key(b.version), b.payload_type, b.payload, b.checksum) for b_ns, b in blobs
        ]
        record_row = self._record_row(record)
        by_channel: dict[str, set[str]] = {}
        for ch, ver in wanted:
            by_channel.setdefault(ch, set()).add(_version_key(ver))
        groups = [(ch, sorted(versions)) for ch, versions in by_channel.items()]
        # a channel's value: one version (a point lookup); list elements: many (json_each)
        condition = " + ".join(sql["count_value"] if len(v) == 1 else sql["count_values"] for _, v in groups) + " = ?"
        params = [part for ch, v in groups for part in (tid, ns, ch, v[0] if len(v) == 1 else json.dumps(v))]
        wanted_count = sum(len(v) for _, v in groups)

        def body(conn: sqlite3.Connection) -> None:
            if blob_rows:  # immutable per key: an existing blob is kept (INSERT OR IGNORE)
                conn.executemany(sql["put_blob"], blob_rows)
            if not groups:
                conn.execute(sql["put_record"], record_row)
                return
            # one statement, no extra round: the record only if every named value is there
            statement = sql["put_record_if_present"] + condition
            if conn.execute(statement, (*record_row, *params, wanted_count)).rowcount == 1:
                return
            missing = []
            for ch, versions in groups:
                present = {row[0] for row in conn.execute(sql["values_present"], (tid, ns, ch, json.dumps(versions)))}
                missing += [f"{ch}@{v}" for v in versions if v not in present]
            raise StaleElementsError(tid, missing)

        self._run(body, mode="IMMEDIATE")

    def _write_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool
    ) -> None:
        if not writes:
            return
        statement = self._sql["put_write_replace" if replace else "put_write_ignore"]
        rows = [
            (thread_id, checkpoint_ns, checkpoint_id, w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path)
            for w in writes
        ]
        if len(rows) == 1:  # one statement is atomic on its own: no BEGIN/COMMIT round trips
            self._run(lambda conn: conn.execute(statement, rows[0]), mode="WRITE")
        else:
            self._run(lambda conn: conn.executemany(statement, rows), mode="IMMEDIATE")

    def _update_record(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        *,
        status: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        updated_at: float,
    ) -> bool:
        sets = ["updated_at = ?"]
        args: list[Any] = [updated_at]
        if status is not None:
            sets.append("status = ?")
            args.append(status)
        if metadata is not None:
            sets.append("metadata = ?")
            args.append(json.dumps(metadata))
        if tags is not None:
            sets.append("tags = ?")
            args.append(json.dumps(tags))
        args += [thread_id, checkpoint_ns, checkpoint_id]
        sql = f'UPDATE "{self._t}" SET {", ".join(sets)} WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?'
        return self._run(lambda conn: conn.execute(sql, args).rowcount > 0, mode="WRITE")

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        rows = [(thread_id, ns, cid) for ns, cid in keys]

        def body(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(self._sql["del_record"], rows)
            removed = conn.total_changes - before
            conn.executemany(self._sql["del_writes"], rows)
            return removed

        return self._run(body, mode="IMMEDIATE") if rows else 0

    def _delete_thread(self, thread_id: str) -> None:
        t = self._t

        def body(conn: sqlite3.Connection) -> None:
            for table in (f'"{t}"', f'"{t}_blobs"', f'"{t}_writes"'):
                conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,))

        self._run(body, mode="IMMEDIATE")

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        rows = [(thread_id, ns, ch, _version_key(v)) for ns, ch, v in keys]

        def body(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(self._sql["del_blob"], rows)
            return conn.total_changes - before

        return self._run(body, mode="IMMEDIATE") if rows else 0

    # ------------------------------------------------------------------ reads (on a given connection)
    def _record_on(self, conn: sqlite3.Connection, thread_id: str, ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        if checkpoint_id is None:  # the primary key answers "latest" with one index probe
            row = conn.execute(self._sql["latest"], (thread_id, ns)).fetchone()
        else:
            row = conn.execute(self._sql["by_id"], (thread_id, ns, checkpoint_id)).fetchone()
        return self._record(row) if row else None

    def _read_blobs_on(
        self, conn: sqlite3.Connection, thread_id: str, ns: str, keys: Sequence[BlobKey], *, use_cache: bool = False
    ) -> dict[BlobKey, StoredBlob]:
        # Point lookups on the primary key: constant SQL (cached statement), O(log n) each;
        # blobs this process already verified are not read again (see _split_cached_blobs).
        # Many versions of one channel (a list's elements) are fetched by one query instead.
        get = self._sql["get_blob"]
        out, missing = self._split_cached_blobs(thread_id, ns, keys) if use_cache else ({}, list(keys))
        by_channel: dict[str, list[ChannelVersion]] = {}
        for channel, version in missing:
            by_channel.setdefault(channel, []).append(version)
        for channel, versions in by_channel.items():
            if len(versions) <= 4:
                for version in versions:
                    row = conn.execute(get, (thread_id, ns, channel, _version_key(version))).fetchone()
                    if row is not None:
                        out[(channel, version)] = StoredBlob(channel, version, row[0], row[1], row[2])
                continue
            wanted = {_version_key(v): v for v in versions}
            rows = conn.execute(self._sql["get_blobs_of_channel"], (thread_id, ns, channel, json.dumps(list(wanted))))
            for key, typ, payload, checksum in rows:
                version = wanted[key]
                out[(channel, version)] = StoredBlob(channel, version, typ, payload, checksum)
        return out

    def _read_writes_on(self, conn: sqlite3.Connection, thread_id: str, ns: str, checkpoint_id: str) -> list[StoredWrite]:
        return [
            StoredWrite(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
            for r in conn.execute(self._sql["get_writes"], (thread_id, ns, checkpoint_id))
        ]

    def _read_writes_many_on(
        self, conn: sqlite3.Connection, thread_id: str, ns: str, checkpoint_ids: Sequence[str]
    ) -> dict[str, list[StoredWrite]]:
        out: dict[str, list[StoredWrite]] = {cid: [] for cid in checkpoint_ids}
        if len(out) == 1:
            cid = next(iter(out))
            out[cid] = self._read_writes_on(conn, thread_id, ns, cid)
            return out
        for r in conn.execute(self._sql["get_writes_many"], (thread_id, ns, json.dumps(list(out)))):
            out[r[0]].append(StoredWrite(r[1], r[2], r[3], r[4], r[5], r[6], r[7]))
        return out

    def _manifest_elements_on(
        self, conn: sqlite3.Connection, thread_id: str, ns: str, blobs: Sequence[StoredBlob]
    ) -> dict[str, tuple[str, bytes]]:
        """The opened elements and list nodes the manifests among ``blobs`` reach, read on
        ``conn`` (same snapshot) unless cached: one query per level of the list tree."""
        roots = self._manifest_roots(thread_id, ns, blobs)
        if not roots:
            return {}
        return self._load_elements(thread_id, ns, roots, lambda keys: self._read_blobs_on(conn, thread_id, ns, keys))

    def _bundle_on(
        self, conn: sqlite3.Connection, thread_id: str, ns: str, checkpoint_id: str | None
    ) -> StoredBundle | None:
        record = self._record_on(conn, thread_id, ns, checkpoint_id)
        if record is None:
            return None
        blobs = self._read_blobs_on(conn, thread_id, ns, list(record.channel_versions.items()), use_cache=True)
        writes = self._read_writes_on(conn, thread_id, ns, record.checkpoint_id)
        return StoredBundle(record, blobs, writes)

    def _finish(self, bundle: StoredBundle, elements: dict[str, tuple[str, bytes]]) -> OpenedBundle:
        """Decode a bundle read by this backend, with the list elements read alongside it."""
        opened = self._open_bundle(bundle)
        if elements:
            opened.elements = elements
        return opened

    # ------------------------------------------------------------------ read primitives
    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        return self._run(lambda conn: self._record_on(conn, thread_id, checkpoint_ns, checkpoint_id), mode=None)

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        if not keys:
            return {}
        return self._run(lambda conn: self._read_blobs_on(conn, thread_id, checkpoint_ns, keys), mode="DEFERRED")

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        return self._run(lambda conn: self._read_writes_on(conn, thread_id, checkpoint_ns, checkpoint_id), mode=None)

    def _read_writes_many(
        self, thread_id: str, checkpoint_ns: str, checkpoint_ids: Sequence[str]
    ) -> dict[str, list[StoredWrite]]:
        if not checkpoint_ids:
            return {}
        return self._run(lambda conn: self._read_writes_many_on(conn, thread_id, checkpoint_ns, checkpoint_ids), mode=None)

    def _read_bundle(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredBundle | None:
        """Record, blobs and writes on one snapshot (record, then blob keys, then writes)."""
        return self._run(lambda conn: self._bundle_on(conn, thread_id, checkpoint_ns, checkpoint_id), mode="DEFERRED")

    def get_langgraph_bundle(
        self, thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None
    ) -> OpenedBundle | None:
        """``get_tuple``: record, blobs, list elements and writes in one read transaction."""
        self._require_open()
        fast = self._cached_bundle(thread_id, checkpoint_ns, checkpoint_id) if self._blob_cache.maxsize else None
        if fast is not None:
            self._count("checkpoints_read")
            return fast if fast is not _NOT_FOUND else None

        def body(conn: sqlite3.Connection) -> tuple[StoredBundle, dict[str, tuple[str, bytes]]] | None:
            bundle = self._bundle_on(conn, thread_id, checkpoint_ns, checkpoint_id)
            if bundle is None:
                return None
            return bundle, self._manifest_elements_on(conn, thread_id, checkpoint_ns, list(bundle.blobs.values()))

        found = self._run(body, mode="DEFERRED")
        self._count("checkpoints_read")
        return self._finish(*found) if found is not None else None

    def _cached_bundle(self, thread_id: str, ns: str, checkpoint_id: str | None) -> OpenedBundle | object | None:
        """``get_tuple`` with the record and its writes from one statement: the bundle,
        ``_NOT_FOUND``, or None to take the transactional path.

        Blobs and list elements never change once written, so those in this process's
        caches need no reading (the writer's case: one statement in all); the others are
        read in a second, read-only transaction. Should one have vanished in between (the
        checkpoint was pruned meanwhile), or fail to open, None: everything is read again
        on one snapshot, which returns what is there now or raises."""
        if checkpoint_id is None:
            sql, args = self._sql["latest_with_writes"], (thread_id, ns)
        else:
            sql, args = self._sql["by_id_with_writes"], (thread_id, ns, checkpoint_id)
        rows = self._run(lambda conn: conn.execute(sql, args).fetchall(), mode=None)
        if not rows:
            return _NOT_FOUND
        record = self._record(rows[0])
        blobs, missing = self._split_cached_blobs(thread_id, ns, list(record.channel_versions.items()))
        elements = None if missing else self._cached_elements(thread_id, ns, blobs.values())
        if elements is None:
            fetched = self._read_rest(thread_id, ns, blobs, missing)
            if fetched is None:
                return None
            blobs, elements = fetched
        n = _RECORD_COL_COUNT
        writes = [StoredWrite(*row[n:]) for row in rows if row[n] is not None]
        return self._finish(StoredBundle(record, blobs, writes), elements)

    def _read_rest(
        self, thread_id: str, ns: str, cached: dict[BlobKey, StoredBlob], missing: list[BlobKey]
    ) -> tuple[dict[BlobKey, StoredBlob], dict[str, tuple[str, bytes]]] | None:
        """The blobs of ``missing`` and every list element the blobs reach, on one snapshot;
        None when a blob is gone or something fails to open (``_cached_bundle``)."""

        def body(conn: sqlite3.Connection) -> tuple[dict[BlobKey, StoredBlob], dict[str, tuple[str, bytes]]] | None:
            got = self._read_blobs_on(conn, thread_id, ns, missing) if missing else {}
            if len(got) < len(missing):
                return None
            blobs = {**cached, **got}
            return blobs, self._manifest_elements_on(conn, thread_id, ns, list(blobs.values()))

        try:
            return self._run(body, mode="DEFERRED")
        except IntegrityError:
            return None

    def iter_langgraph_bundles(self, query: RecordQuery) -> Iterator[OpenedBundle]:
        """``list``: the records, their blobs, list elements and writes in one read transaction,
        batched per (thread, namespace); decoded lazily as the caller iterates."""
        self._require_open()

        def body(conn: sqlite3.Connection) -> list[tuple[StoredBundle, dict[str, tuple[str, bytes]]]]:
            records = self._query_on(conn, query)
            groups: dict[tuple[str, str], list[StoredRecord]] = {}
            for rec in records:
                groups.setdefault((rec.thread_id, rec.checkpoint_ns), []).append(rec)
            parts: dict[tuple[str, str, str], tuple[StoredBundle, dict[str, tuple[str, bytes]]]] = {}
            for (tid, ns), recs in groups.items():
                keys = list({key for rec in recs for key in rec.channel_versions.items()})
                blobs = self._read_blobs_on(conn, tid, ns, keys, use_cache=True)
                writes = self._read_writes_many_on(conn, tid, ns, [r.checkpoint_id for r in recs])
                elements = self._manifest_elements_on(conn, tid, ns, list(blobs.values()))
                for rec in recs:
                    mine = {key: blobs[key] for key in rec.channel_versions.items() if key in blobs}
                    parts[(tid, ns, rec.checkpoint_id)] = (StoredBundle(rec, mine, writes[rec.checkpoint_id]), elements)
            return [parts[(r.thread_id, r.checkpoint_ns, r.checkpoint_id)] for r in records]

        found = self._run(body, mode="DEFERRED")
        for bundle, elements in found:
            yield self._finish(bundle, elements)

    def _query_sql(self, query: RecordQuery) -> tuple[str, list[Any], dict[str, Any]]:
        """SQL answering ``query`` (values bound), and the metadata filters left to Python."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("thread_id", query.thread_id),
            ("checkpoint_ns", query.checkpoint_ns),
            ("checkpoint_id", query.checkpoint_id),
            ("workflow_id", query.workflow_id),
            ("status", query.status),
            ("kind", query.kind),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if query.before_id is not None:
            clauses.append("checkpoint_id < ?")
            args.append(query.before_id)
        if query.older_than is not None:
            clauses.append("created_at < ?")
            args.append(query.older_than)
        for tag in query.tags or ():
            clauses.append("EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)")
            args.append(tag)
        python_filter: dict[str, Any] = {}
        # Equality as Python's ``==`` (records.record_matches): True == 1 == 1.0, "1" != 1,
        # a nested list/object never equals a scalar.
        for key, value in (query.metadata or {}).items():
            path = _json_path(key)
            if path is None:  # a key SQLite's JSON path cannot name: compare in Python
                python_filter[key] = value
            elif value is None:  # null or absent, as metadata.get(key) == None
                clauses.append("(json_type(metadata, ?) IS NULL OR json_type(metadata, ?) = 'null')")
                args.extend([path, path])
            elif isinstance(value, str):
                clauses.append("(json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) = ?)")
                args.extend([path, path, value])
            elif isinstance(value, (bool, int, float)) and (
                not isinstance(value, int) or isinstance(value, bool) or _INT64[0] <= value <= _INT64[1]
            ):
                clauses.append(
                    "(json_type(metadata, ?) IN ('integer', 'real', 'true', 'false') AND json_extract(metadata, ?) = ?)"
                )
                args.extend([path, path, int(value) if isinstance(value, bool) else value])
            else:  # lists, objects, huge ints: SQL narrows to rows having the key, Python compares
                clauses.append("json_type(metadata, ?) IS NOT NULL")
                args.append(path)
                python_filter[key] = value
        cols = self._sql["record_cols" if query.include_payload else "record_cols_nopayload"]
        order = "created_at DESC, checkpoint_id DESC" if query.order == "created_at" else "checkpoint_id DESC, created_at DESC"
        sql = f'SELECT {cols} FROM "{self._t}"'
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order}"
        if not python_filter:
            if query.limit is not None:
                sql += " LIMIT ? OFFSET ?"
                args.extend([query.limit, query.offset])
            elif query.offset:
                sql += " LIMIT -1 OFFSET ?"
                args.append(query.offset)
        return sql, args, python_filter

    def _query_on(self, conn: sqlite3.Connection, query: RecordQuery) -> list[StoredRecord]:
        sql, args, python_filter = self._query_sql(query)
        records = [self._record(r) for r in conn.execute(sql, args)]
        if python_filter:
            post = RecordQuery(metadata=python_filter)
            matched = [r for r in records if record_matches(r, post)]
            end = None if query.limit is None else query.offset + query.limit
            records = matched[query.offset : end]
        return records

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        # One statement (its own snapshot); the connection goes back to the pool before the
        # caller iterates.
        return iter(self._run(lambda conn: self._query_on(conn, query), mode=None))

    def _list_thread_ids(self) -> Iterator[str]:
        rows = self._run(lambda conn: conn.execute(self._sql["thread_ids"]).fetchall(), mode=None)
        return iter([r[0] for r in rows])

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        rows = self._run(lambda conn: conn.execute(self._sql["blob_keys"], (thread_id,)).fetchall(), mode=None)
        return iter([(ns, ch, json.loads(v)) for ns, ch, v in rows])

    def _storage_size(self) -> int | None:
        def body(conn: sqlite3.Connection) -> int:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            return pages * size

        # bytes on disk: the database file plus its write-ahead log (pages not yet copied back)
        files = [self.path, Path(f"{self.path}-wal")]
        if self.path.exists():
            return sum(f.stat().st_size for f in files if f.exists())
        return self._run(body, mode=None)

    # ------------------------------------------------------------------ backups
    def backup_now(self) -> Path:
        """Write an online backup (sqlite3 backup API) and apply ``backup_retention``; returns its path.

        The file is ``backup_path/<stem>-YYYYmmddTHHMMSSZ.db``, written to a temporary file in
        the same directory and renamed, so a backup file is always complete (two backups within
        one second: the later replaces the earlier).
        """
        self._require_open()
        directory = Path(self.params.backup_path)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".db.tmp", dir=str(directory))
            os.close(fd)
        except OSError as exc:
            raise BackendUnavailableError(f"cannot write SQLite backups to {directory}: {exc}") from None
        tmp = Path(tmp_name)
        final = directory / f"{self.path.stem}-{datetime.now(timezone.utc).strftime(_BACKUP_STAMP)}.db"
        try:
            with self._translate():
                dest = sqlite3.connect(str(tmp))
                try:
                    with self._connection() as conn:
                        self._retry(lambda: conn.backup(dest))
                finally:
                    dest.close()
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._prune_backups(directory)
        self._count("backups")
        return final

    def _backup_time(self, name: str) -> float | None:
        """The UTC time in a backup file name of this database, or None if ``name`` is not one."""
        match = re.fullmatch(re.escape(self.path.stem) + r"-(\d{8}T\d{6})(\d{6})?Z\.db", name)
        if match is None:
            return None
        try:
            return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            return None

    def _prune_backups(self, directory: Path) -> None:
        """Delete this database's backups older than ``backup_retention`` days (by the time in
        the name, which survives copies), and temporary files of interrupted backups."""
        cutoff = time.time() - self.params.backup_retention * 86400
        for entry in directory.iterdir():
            try:
                stamp = self._backup_time(entry.name)
                if stamp is None:
                    if not (entry.name.startswith(f".{self.path.stem}-") and entry.name.endswith(".db.tmp")):
                        continue
                    stamp = entry.stat().st_mtime
                if stamp < cutoff:
                    entry.unlink()
            except OSError as exc:
                logger.warning("could not remove old backup %s: %s", entry, exc)

    def _backup_worker(self) -> None:
        while not self._backup_stop.wait(self.params.backup_interval):
            try:
                self.backup_now()
            except Exception as exc:  # keep backing up at the next interval
                if self._backup_stop.is_set():
                    return
                logger.warning("SQLite backup of %s failed: %s", self.path, exc)


_COLUMN_TYPES = (("tags", list), ("metadata", dict), ("channel_versions", dict))


def _parse_damaged_columns(row: tuple) -> tuple[list, dict, dict, str]:
    """The JSON columns of a row one of which does not parse (or is not of the type written):
    the good ones parsed, the damaged ones empty, and what is damaged -- so the row can still be
    listed and reported, never opened (``StoredRecord.damage``)."""
    parsed: list[Any] = []
    damaged: list[str] = []
    for (name, kind), text in zip(_COLUMN_TYPES, row[13:16]):
        try:
            value = json.loads(text)
        except (ValueError, TypeError):
            value = None
        if not isinstance(value, kind):
            damaged.append(name)
            value = kind()
        parsed.append(value)
    what = f"plaintext column(s) {', '.join(damaged)} of the stored row are damaged (not the JSON written)"
    return parsed[0], parsed[1], parsed[2], what
