"""Example plugin: a local-directory checkpoint backend in one small file.

Shows how little a backend needs: ``BaseCheckpointManager`` supplies the codec
pipeline, checksums, statistics, retention, verify, export/import and the
LangGraph record API; this file only stores and finds bytes.

One file per record, blob and write (msgpack); every write is atomic (temp file
in the same directory, fsync, ``os.replace``, fsync of the directory). File names
are ids percent-encoded down to ``[a-z0-9_-]`` -- so ``.``, ``..``, ``a/b``, ``*``
and ids differing only in case (macOS) stay distinct, and no name starts with a
dot -- or ``~`` + sha256 when that would pass 150 bytes (the limit is 255). Each
file also holds its real ids, so listings never decode names.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langgraph_ckpt_config.config.models import ManagerParameters
from langgraph_ckpt_config.files import replace_file
from langgraph_ckpt_config.managers.base import BaseCheckpointManager
from langgraph_ckpt_config.managers.layout import pack, pack_record, unpack, unpack_record
from langgraph_ckpt_config.managers.records import (
    BlobKey,
    ChannelVersion,
    RecordQuery,
    StoredBlob,
    StoredRecord,
    StoredWrite,
    apply_update,
    record_matches,
    sort_key,
)


class LocalDirParameters(ManagerParameters):
    root: str = "data/localdir"


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _name(value: str) -> str:
    """A safe, collision-free file name for any id: never ``.``/``..``, a separator or a glob."""
    text = "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass")) for c in value)
    if len(text) > 150:  # "~" never appears otherwise: it is escaped
        return "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return text or "~"


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":  # a rename/new entry is durable only once its directory is synced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _makedirs(path: Path) -> None:
    if path.is_dir():
        return
    _makedirs(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return
    _fsync_dir(path.parent)


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a torn one; durable on return.

    Durable on return matters for ordering: blobs are written (and synced) before
    the record naming them, so after a crash a record never points at a lost blob.
    """
    for attempt in range(3):
        try:
            _makedirs(path.parent)
            replace_file(path, data)
            return
        except FileNotFoundError:  # another instance removed the folder meanwhile (delete_thread)
            if attempt == 2:
                raise


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _read(path: Path) -> Any | None:
    raw = _read_bytes(path)
    return None if raw is None else unpack(raw)


def _files(directory: Path) -> list[Path]:
    """The data files of a directory (temp files of in-flight writes left out)."""
    try:
        return [p for p in directory.iterdir() if not p.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []


class LocalDirCheckpointManager(BaseCheckpointManager):
    """Checkpoints as files under ``root``; one ``RLock`` serializes this instance's threads."""

    parameters_model = LocalDirParameters
    backend_name = "localdir"

    def _open(self) -> None:
        self.root = Path(self.params.root)
        _makedirs(self.root)
        self._lock = threading.RLock()

    # layout: <root>/<thread>/{r/<ns>/<id>, b/<ns>/<channel>/<version>, w/<ns>/<id>/<task>.<idx>}
    def _dir(self, thread_id: str) -> Path:
        return self.root / _name(thread_id)

    def _record_path(self, t: str, ns: str, cid: str) -> Path:
        return self._dir(t) / "r" / _name(ns) / _name(cid)

    def _blob_path(self, t: str, ns: str, ch: str, ver: ChannelVersion) -> Path:
        return self._dir(t) / "b" / _name(ns) / _name(ch) / _name(repr(ver))  # repr: 1 and "1" differ

    def _writes_dir(self, t: str, ns: str, cid: str) -> Path:
        return self._dir(t) / "w" / _name(ns) / _name(cid)

    @staticmethod
    def _load_record(path: Path) -> StoredRecord | None:
        raw = _read_bytes(path)
        return None if raw is None else unpack_record(raw)

    def _thread_records(self, thread_id: str, ns: str | None) -> list[StoredRecord]:
        base = self._dir(thread_id) / "r"
        dirs = [base / _name(ns)] if ns is not None else _files(base)
        return [r for d in dirs for p in _files(d) if (r := self._load_record(p)) is not None]

    # ------------------------------------------------------------------ the primitives
    def _write_checkpoint_checked(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str]
    ) -> None:
        with self._lock:  # the base's check and the write as one step, against a collection
            super()._write_checkpoint_checked(record, blobs, must_exist)

    def _collection_guard(self, thread_id: str) -> threading.RLock:
        """Blob collection holds the lock throughout: no checkpoint lands between its read of
        the records and its delete of the orphans (within this instance; see the README)."""
        return self._lock

    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        with self._lock:
            for ns, b in blobs:  # blobs first: a record never names a missing blob
                path = self._blob_path(record.thread_id, ns, b.channel, b.version)
                if not path.exists():  # blobs are immutable per key
                    data = [ns, b.channel, b.version, b.payload_type, b.payload, b.checksum]
                    _atomic_write(path, pack(data))
            path = self._record_path(record.thread_id, record.checkpoint_ns, record.checkpoint_id)
            _atomic_write(path, pack_record(record, with_payload=True))

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        with self._lock:
            if checkpoint_id is not None:
                return self._load_record(self._record_path(thread_id, checkpoint_ns, checkpoint_id))
            records = self._thread_records(thread_id, checkpoint_ns)
            return max(records, key=lambda r: r.checkpoint_id) if records else None

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        with self._lock:
            threads = [query.thread_id] if query.thread_id is not None else list(self._list_thread_ids())
            found = [
                r for t in threads for r in self._thread_records(t, query.checkpoint_ns) if record_matches(r, query)
            ]
        found.sort(key=sort_key(query), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        for r in found[query.offset : end]:
            if not query.include_payload:
                r.payload = None
            yield r

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        out = {}
        with self._lock:
            for ch, ver in keys:
                data = _read(self._blob_path(thread_id, checkpoint_ns, ch, ver))
                if data is not None:
                    out[(ch, ver)] = StoredBlob(ch, ver, data[3], data[4], data[5])
        return out

    def _write_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool
    ) -> None:
        directory = self._writes_dir(thread_id, checkpoint_ns, checkpoint_id)
        with self._lock:
            for w in writes:
                path = directory / f"{_name(w.task_id)}.{w.idx}"
                if replace or not path.exists():
                    data = [w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path]
                    _atomic_write(path, pack(data))

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        with self._lock:
            files = _files(self._writes_dir(thread_id, checkpoint_ns, checkpoint_id))
            return [StoredWrite(*data) for p in files if (data := _read(p)) is not None]

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
        path = self._record_path(thread_id, checkpoint_ns, checkpoint_id)
        with self._lock:
            rec = self._load_record(path)
            if rec is None:
                return False
            apply_update(rec, status=status, metadata=metadata, tags=tags, updated_at=updated_at)
            _atomic_write(path, pack_record(rec, with_payload=True))
            return True

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        removed = 0
        with self._lock:
            for ns, cid in keys:
                try:
                    self._record_path(thread_id, ns, cid).unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                shutil.rmtree(self._writes_dir(thread_id, ns, cid), ignore_errors=True)
        return removed

    def _delete_thread(self, thread_id: str) -> None:
        with self._lock:
            shutil.rmtree(self._dir(thread_id), ignore_errors=True)

    def _list_thread_ids(self) -> Iterator[str]:
        ids = []
        with self._lock:
            for thread_dir in _files(self.root):
                # the first record found names the thread: file names are never decoded
                files = (p for d in _files(thread_dir / "r") for p in _files(d))
                record = next((r for p in files if (r := self._load_record(p)) is not None), None)
                if record is not None:
                    ids.append(record.thread_id)
        return iter(ids)

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        with self._lock:
            base = self._dir(thread_id) / "b"
            files = [p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")]
            return iter([(d[0], d[1], d[2]) for p in files if (d := _read(p)) is not None])

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        removed = 0
        with self._lock:
            for ns, ch, ver in keys:
                try:
                    self._blob_path(thread_id, ns, ch, ver).unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def _storage_size(self) -> int | None:  # optional: shown by statistics and `lgckpt stats`
        with self._lock:
            return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


# What this plugin registers (see docs/plugins.md).
LGCKPT_MANAGERS = {"localdir": LocalDirCheckpointManager}
