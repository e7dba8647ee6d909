"""SQLite manager: one file, WAL mode, safe for several threads and processes.

Three tables named after the validated ``table_name`` (records, ``_blobs``,
``_writes``) plus ``_meta`` holding the schema version; ``MIGRATIONS`` is a list
whose index is the version, as in LangGraph's own SqliteSaver.

Atomicity: a checkpoint's blobs and its record are written in one
``BEGIN IMMEDIATE`` transaction, so a reader (in WAL mode, a snapshot) never sees
a record before its blobs, and a crash leaves either all or none of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langgraph_ckpt_config.config.models import SqliteParameters
from langgraph_ckpt_config.errors import BackendUnavailableError, IntegrityError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager, OpenedBundle
from langgraph_ckpt_config.managers.records import (
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

_RECORD_COLS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, workflow_id, kind, payload_type, "
    "{payload}, checksum, size, created_at, updated_at, status, tags, metadata, channel_versions"
)


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


_INDEXES = {
    "workflow_id": "(workflow_id, created_at)",
    "timestamp": "(created_at)",
    "status": "(status)",
    "thread_id": "(thread_id, created_at)",
    "checkpoint_ns": "(checkpoint_ns)",
}


def _version_key(version: ChannelVersion) -> str:
    # JSON keeps 1, 1.5 and "1" distinct and round-trips each exactly.
    return json.dumps(version)


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SqliteCheckpointManager(BaseCheckpointManager):
    parameters_model = SqliteParameters
    backend_name = "sqlite"

    # ------------------------------------------------------------------ connections
    def _open(self) -> None:
        p = self.params
        self.path = Path(p.database_path)
        if str(self.path) == ":memory:":
            raise BackendUnavailableError("database_path ':memory:' is not supported; use the memory manager")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailableError(f"cannot create the directory of SQLite database {self.path}: {exc}") from None
        t = p.table_name
        self._t = t
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()  # warm cache first
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        payload_cols = _RECORD_COLS.format(payload="payload")
        self._sql = {
            "record_cols": payload_cols,
            "record_cols_nopayload": _RECORD_COLS.format(payload="NULL"),
            "latest": f'SELECT {payload_cols} FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? ORDER BY checkpoint_id DESC LIMIT 1',
            "by_id": f'SELECT {payload_cols} FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "put_record": f'INSERT OR REPLACE INTO "{t}" ({payload_cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
            "put_blob": f'INSERT OR IGNORE INTO "{t}_blobs" (thread_id, checkpoint_ns, channel, version, payload_type, payload, checksum) VALUES (?,?,?,?,?,?,?)',
            "get_blob": f'SELECT payload_type, payload, checksum FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version=?',
            "get_blobs_of_channel": f'SELECT version, payload_type, payload, checksum FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version IN (SELECT value FROM json_each(?))',
            "put_write_ignore": f'INSERT OR IGNORE INTO "{t}_writes" (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, payload_type, payload, checksum, task_path) VALUES (?,?,?,?,?,?,?,?,?,?)',
            "put_write_replace": f'INSERT OR REPLACE INTO "{t}_writes" (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, payload_type, payload, checksum, task_path) VALUES (?,?,?,?,?,?,?,?,?,?)',
            "get_writes": f'SELECT task_id, idx, channel, payload_type, payload, checksum, task_path FROM "{t}_writes" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "del_record": f'DELETE FROM "{t}" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "del_writes": f'DELETE FROM "{t}_writes" WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?',
            "del_blob": f'DELETE FROM "{t}_blobs" WHERE thread_id=? AND checkpoint_ns=? AND channel=? AND version=?',
        }
        with self._translate(), self._connection() as conn:
            self._migrate(conn)
        self._backup_stop = threading.Event()
        self._backup_thread: threading.Thread | None = None
        if p.backup_enabled:
            self._backup_thread = threading.Thread(target=self._backup_worker, name=f"lgckpt-backup-{self.name}", daemon=True)
            self._backup_thread.start()

    def _new_connection(self) -> sqlite3.Connection:
        p = self.params
        try:
            conn = sqlite3.connect(str(self.path), timeout=p.connection_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise BackendUnavailableError(f"cannot open SQLite database {self.path}: {exc}") from None
        with self._translate():
            conn.execute(f"PRAGMA busy_timeout={int(p.connection_timeout * 1000)}")
            conn.execute(f"PRAGMA journal_mode={p.journal_mode}")
            conn.execute(f"PRAGMA synchronous={p.synchronous}")
        with self._conn_lock:
            self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection (at most ``connection_pool_size``), returned to the pool after use.

        A pool rather than one connection per thread: LangGraph runs checkpoint writes on
        short-lived executor threads, and per-thread connections would be opened (and
        leaked) for each of them.
        """
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            with self._conn_lock:
                create = len(self._connections) < self.params.connection_pool_size
            if create:
                conn = self._new_connection()
            else:
                try:
                    conn = self._idle.get(timeout=self.params.connection_timeout)
                except queue.Empty:
                    raise BackendUnavailableError(
                        f"SQLite database {self.path}: no free connection within {self.params.connection_timeout}s "
                        f"(connection_pool_size={self.params.connection_pool_size})"
                    ) from None
        try:
            yield conn
        finally:
            self._idle.put(conn)

    def _close(self) -> None:
        self._backup_stop.set()
        if self._backup_thread is not None:
            self._backup_thread.join(timeout=30)
        with self._conn_lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

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

    @contextlib.contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        with self._translate(), self._connection() as conn:
            conn.execute(f"BEGIN {mode}")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        t = self._t
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f'CREATE TABLE IF NOT EXISTS "{t}_meta" (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
            row = conn.execute(f'SELECT value FROM "{t}_meta" WHERE key = ?', ("schema_version",)).fetchone()
            current = int(row[0]) if row else -1
            migrations = _migrations(t)
            for version in range(current + 1, len(migrations)):
                for statement in migrations[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    f'INSERT OR REPLACE INTO "{t}_meta" (key, value) VALUES (?, ?)', ("schema_version", str(version))
                )
            if self.params.enable_indexes:
                for field in self.params.index_fields:
                    conn.execute(f'CREATE INDEX IF NOT EXISTS "{t}_idx_{field}" ON "{t}" {_INDEXES[field]}')
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ row mapping
    @staticmethod
    def _record(row: tuple) -> StoredRecord:
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
            tags=json.loads(row[13]),
            metadata=json.loads(row[14]),
            channel_versions=json.loads(row[15]),
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

    # ------------------------------------------------------------------ primitives
    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        sql = self._sql
        tid = record.thread_id
        blob_rows = [
            (tid, ns, b.channel, _version_key(b.version), b.payload_type, b.payload, b.checksum) for ns, b in blobs
        ]
        with self._transaction() as conn:
            if blob_rows:
                conn.executemany(sql["put_blob"], blob_rows)
            conn.execute(sql["put_record"], self._record_row(record))

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        with self._translate(), self._connection() as conn:
            if checkpoint_id is None:
                row = conn.execute(self._sql["latest"], (thread_id, checkpoint_ns)).fetchone()
            else:
                row = conn.execute(self._sql["by_id"], (thread_id, checkpoint_ns, checkpoint_id)).fetchone()
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

    def _read_bundle(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredBundle | None:
        sql = self._sql
        with self._transaction("DEFERRED") as conn:
            if checkpoint_id is None:
                row = conn.execute(sql["latest"], (thread_id, checkpoint_ns)).fetchone()
            else:
                row = conn.execute(sql["by_id"], (thread_id, checkpoint_ns, checkpoint_id)).fetchone()
            if row is None:
                return None
            record = self._record(row)
            blobs = self._read_blobs_on(conn, thread_id, checkpoint_ns, list(record.channel_versions.items()), use_cache=True)
            writes = self._read_writes_on(conn, thread_id, checkpoint_ns, record.checkpoint_id)
        return StoredBundle(record, blobs, writes)

    def iter_langgraph_bundles(self, query: RecordQuery) -> Iterator[OpenedBundle]:
        """``list``: the records, then their blobs and writes in one read transaction."""
        self._require_open()
        records = list(self._query_records(query))
        if not records:
            return
        bundles = []
        with self._transaction("DEFERRED") as conn:
            for rec in records:
                blobs = self._read_blobs_on(conn, rec.thread_id, rec.checkpoint_ns, list(rec.channel_versions.items()), use_cache=True)
                writes = self._read_writes_on(conn, rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id)
                bundles.append(StoredBundle(rec, blobs, writes))
        for bundle in bundles:
            yield self._attach_elements(self._open_bundle(bundle))

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
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
        for key, value in (query.metadata or {}).items():
            path = _json_path(key)
            if value is None:
                clauses.append("json_type(metadata, ?) = 'null'")
                args.append(path)
            elif isinstance(value, bool):
                clauses.append("json_type(metadata, ?) = ?")
                args.extend([path, "true" if value else "false"])
            elif isinstance(value, (int, float, str)):
                clauses.append("json_extract(metadata, ?) = ?")
                args.extend([path, value])
                if isinstance(value, (int, float)):
                    clauses.append("json_type(metadata, ?) IN ('integer', 'real')")
                    args.append(path)
                else:
                    clauses.append("json_type(metadata, ?) = 'text'")
                    args.append(path)
            else:  # lists / dicts: compare in Python after SQL narrowed the rows
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
        with self._translate(), self._connection() as conn:
            rows = conn.execute(sql, args).fetchall()
        records = (self._record(r) for r in rows)
        if python_filter:
            post = RecordQuery(metadata=python_filter)
            matched = [r for r in records if record_matches(r, post)]
            end = None if query.limit is None else query.offset + query.limit
            yield from matched[query.offset : end]
        else:
            yield from records

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        with self._translate(), self._connection() as conn:
            return self._read_blobs_on(conn, thread_id, checkpoint_ns, keys)

    def _write_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool
    ) -> None:
        rows = [
            (thread_id, checkpoint_ns, checkpoint_id, w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path)
            for w in writes
        ]
        with self._transaction() as conn:
            conn.executemany(self._sql["put_write_replace" if replace else "put_write_ignore"], rows)

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        with self._translate(), self._connection() as conn:
            return self._read_writes_on(conn, thread_id, checkpoint_ns, checkpoint_id)

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
        with self._transaction() as conn:
            cur = conn.execute(
                f'UPDATE "{self._t}" SET {", ".join(sets)} WHERE thread_id=? AND checkpoint_ns=? AND checkpoint_id=?', args
            )
            return cur.rowcount > 0

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        rows = [(thread_id, ns, cid) for ns, cid in keys]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(self._sql["del_record"], rows)
            removed = conn.total_changes - before
            conn.executemany(self._sql["del_writes"], rows)
        return removed

    def _delete_thread(self, thread_id: str) -> None:
        t = self._t
        with self._transaction() as conn:
            for table in (f'"{t}"', f'"{t}_blobs"', f'"{t}_writes"'):
                conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,))

    def _list_thread_ids(self) -> Iterator[str]:
        with self._translate(), self._connection() as conn:
            rows = conn.execute(f'SELECT DISTINCT thread_id FROM "{self._t}"').fetchall()
        return iter([r[0] for r in rows])

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        with self._translate(), self._connection() as conn:
            rows = conn.execute(
                f'SELECT checkpoint_ns, channel, version FROM "{self._t}_blobs" WHERE thread_id = ?', (thread_id,)
            ).fetchall()
        return iter([(ns, ch, json.loads(v)) for ns, ch, v in rows])

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        rows = [(thread_id, ns, ch, _version_key(v)) for ns, ch, v in keys]
        with self._transaction() as conn:
            before = conn.total_changes
            conn.executemany(self._sql["del_blob"], rows)
            return conn.total_changes - before

    def _storage_size(self) -> int | None:
        with self._translate(), self._connection() as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
        return pages * size

    # ------------------------------------------------------------------ backups
    def backup_now(self) -> Path:
        """Write an online backup (sqlite3 backup API) and apply ``backup_retention``; returns its path."""
        self._require_open()
        directory = Path(self.params.backup_path)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        final = directory / f"{self.path.stem}-{stamp}.db"
        tmp = directory / f".{final.name}.tmp"
        with self._translate():
            dest = sqlite3.connect(str(tmp))
            try:
                with self._connection() as conn:
                    conn.backup(dest)
            finally:
                dest.close()
        os.replace(tmp, final)
        self._prune_backups(directory)
        self._count("backups")
        return final

    def _prune_backups(self, directory: Path) -> None:
        cutoff = time.time() - self.params.backup_retention * 86400
        for old in directory.glob(f"{self.path.stem}-*.db"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError as exc:
                logger.warning("could not remove old backup %s: %s", old, exc)

    def _backup_worker(self) -> None:
        while not self._backup_stop.wait(self.params.backup_interval):
            try:
                self.backup_now()
            except Exception as exc:  # keep backing up at the next interval
                logger.warning("SQLite backup of %s failed: %s", self.path, exc)
