"""Example plugin: a local-directory checkpoint backend in one small file.

Shows how little a backend needs: ``BaseCheckpointManager`` supplies the codec
pipeline, checksums, statistics, retention, verify, export/import and the
LangGraph record API; this file only stores and finds bytes.

One file per record, blob and write; every write is atomic (temp file in the
same directory, fsync, ``os.replace``). File names are percent-encoded ids, or a
sha256 for ids too long for a file name; each file also holds its real ids.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgpack

from langgraph_ckpt_config.config.models import ManagerParameters
from langgraph_ckpt_config.managers.base import BaseCheckpointManager
from langgraph_ckpt_config.managers.records import (
    BlobKey,
    ChannelVersion,
    RecordQuery,
    StoredBlob,
    StoredRecord,
    StoredWrite,
    record_matches,
    sort_key,
)


class LocalDirParameters(ManagerParameters):
    root: str = "data/localdir"


def _name(value: str) -> str:
    """A safe, collision-free file name for any id (hostile ones included)."""
    text = quote(value, safe="").replace("~", "%7E")
    return text if 0 < len(text) <= 150 else "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> Any | None:
    try:
        return msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    except FileNotFoundError:
        return None


class LocalDirCheckpointManager(BaseCheckpointManager):
    parameters_model = LocalDirParameters
    backend_name = "localdir"

    def _open(self) -> None:
        self.root = Path(self.params.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()

    # layout: <root>/<thread>/{r/<ns>/<id>, b/<ns>/<channel>/<version>, w/<ns>/<id>/<task>.<idx>}
    def _dir(self, thread_id: str) -> Path:
        return self.root / _name(thread_id)

    def _record_path(self, t: str, ns: str, cid: str) -> Path:
        return self._dir(t) / "r" / _name(ns or "~") / _name(cid)

    def _blob_path(self, t: str, ns: str, ch: str, ver: ChannelVersion) -> Path:
        return self._dir(t) / "b" / _name(ns or "~") / _name(ch) / _name(repr(ver))

    def _writes_dir(self, t: str, ns: str, cid: str) -> Path:
        return self._dir(t) / "w" / _name(ns or "~") / _name(cid)

    @staticmethod
    def _pack_record(r: StoredRecord) -> bytes:
        fields = {f: getattr(r, f) for f in StoredRecord.__slots__}
        fields["channel_versions"] = list(r.channel_versions.items())
        return msgpack.packb(fields, use_bin_type=True)

    @staticmethod
    def _unpack_record(data: dict[str, Any]) -> StoredRecord:
        data["channel_versions"] = dict(data["channel_versions"])
        return StoredRecord(**data)

    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        with self._lock:
            for ns, b in blobs:  # blobs first: a record never names a missing blob
                path = self._blob_path(record.thread_id, ns, b.channel, b.version)
                if not path.exists():
                    _atomic_write(path, msgpack.packb([ns, b.channel, b.version, b.payload_type, b.payload, b.checksum], use_bin_type=True))
            _atomic_write(self._record_path(record.thread_id, record.checkpoint_ns, record.checkpoint_id), self._pack_record(record))

    def _thread_records(self, thread_id: str, ns: str | None = None) -> list[StoredRecord]:
        base = self._dir(thread_id) / "r"
        dirs = [base / _name(ns or "~")] if ns is not None else (list(base.iterdir()) if base.is_dir() else [])
        out = []
        for d in dirs:
            if d.is_dir():
                out += [self._unpack_record(data) for p in d.iterdir() if not p.name.startswith(".tmp-") and (data := _read(p))]
        return out

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        with self._lock:
            if checkpoint_id is not None:
                data = _read(self._record_path(thread_id, checkpoint_ns, checkpoint_id))
                return self._unpack_record(data) if data else None
            records = self._thread_records(thread_id, checkpoint_ns)
            return max(records, key=lambda r: r.checkpoint_id) if records else None

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        with self._lock:
            threads = [query.thread_id] if query.thread_id is not None else list(self._list_thread_ids())
            found = [r for t in threads for r in self._thread_records(t, query.checkpoint_ns) if record_matches(r, query)]
        found.sort(key=sort_key(query), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        for r in found[query.offset : end]:
            if not query.include_payload:
                r.payload = None
            yield r

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        out = {}
        for ch, ver in keys:
            data = _read(self._blob_path(thread_id, checkpoint_ns, ch, ver))
            if data:
                out[(ch, ver)] = StoredBlob(ch, ver, data[3], data[4], data[5])
        return out

    def _write_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool) -> None:
        directory = self._writes_dir(thread_id, checkpoint_ns, checkpoint_id)
        with self._lock:
            for w in writes:
                path = directory / f"{_name(w.task_id)}.{w.idx}"
                if replace or not path.exists():
                    _atomic_write(path, msgpack.packb([w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path], use_bin_type=True))

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        directory = self._writes_dir(thread_id, checkpoint_ns, checkpoint_id)
        if not directory.is_dir():
            return []
        return [StoredWrite(*data) for p in directory.iterdir() if not p.name.startswith(".tmp-") and (data := _read(p))]

    def _update_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, *, status: str | None = None,
                       metadata: dict[str, Any] | None = None, tags: list[str] | None = None, updated_at: float) -> bool:
        with self._lock:
            rec = self._read_record(thread_id, checkpoint_ns, checkpoint_id)
            if rec is None:
                return False
            rec.status = status if status is not None else rec.status
            rec.metadata = dict(metadata) if metadata is not None else rec.metadata
            rec.tags = list(tags) if tags is not None else rec.tags
            rec.updated_at = updated_at
            _atomic_write(self._record_path(thread_id, checkpoint_ns, checkpoint_id), self._pack_record(rec))
            return True

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        import shutil

        removed = 0
        with self._lock:
            for ns, cid in keys:
                path = self._record_path(thread_id, ns, cid)
                if path.exists():
                    path.unlink()
                    removed += 1
                shutil.rmtree(self._writes_dir(thread_id, ns, cid), ignore_errors=True)
        return removed

    def _delete_thread(self, thread_id: str) -> None:
        import shutil

        with self._lock:
            shutil.rmtree(self._dir(thread_id), ignore_errors=True)

    def _list_thread_ids(self) -> Iterator[str]:
        ids = []
        for d in self.root.iterdir() if self.root.is_dir() else []:
            records = d / "r"
            for ns_dir in records.iterdir() if records.is_dir() else []:
                first = next((p for p in ns_dir.iterdir() if not p.name.startswith(".tmp-")), None)
                if first is not None and (data := _read(first)):
                    ids.append(data["thread_id"])
                    break
        return iter(ids)

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        base = self._dir(thread_id) / "b"
        return iter([(d[0], d[1], d[2]) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-") and (d := _read(p))])

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        removed = 0
        with self._lock:
            for ns, ch, ver in keys:
                path = self._blob_path(thread_id, ns, ch, ver)
                if path.exists():
                    path.unlink()
                    removed += 1
        return removed


# What this plugin registers (see docs/plugins.md).
LGCKPT_MANAGERS = {"localdir": LocalDirCheckpointManager}
