"""In-process manager: dictionaries behind one lock.

For tests and short-lived processes. Everything is lost when the process ends;
the codec pipeline still runs so that checksums, encryption and sizes behave
exactly as on the durable backends.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from langgraph_ckpt_config.config.models import MemoryParameters
from langgraph_ckpt_config.errors import StaleElementsError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager, carried_over_values
from langgraph_ckpt_config.managers.records import (
    ELEMENT_CHANNEL,
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


class MemoryCheckpointManager(BaseCheckpointManager):
    """Thread-safe in-memory storage. Records are copied in and out so callers cannot mutate the store."""

    parameters_model = MemoryParameters
    backend_name = "memory"

    def _open(self) -> None:
        self._lock = threading.RLock()
        # thread -> ns -> checkpoint_id -> record
        self._records: dict[str, dict[str, dict[str, StoredRecord]]] = {}
        # thread -> (ns, channel, version) -> blob
        self._blobs: dict[str, dict[tuple[str, str, ChannelVersion], StoredBlob]] = {}
        # (thread, ns, checkpoint_id) -> (task_id, idx) -> write
        self._writes: dict[tuple[str, str, str], dict[tuple[str, int], StoredWrite]] = {}

    def _collection_guard(self, thread_id: str) -> threading.RLock:
        """The store's lock for the whole blob collection: writes wait for it to finish."""
        return self._lock

    def _close(self) -> None:
        with self._lock:
            self._records.clear()
            self._blobs.clear()
            self._writes.clear()

    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        with self._lock:
            thread_blobs = self._blobs.setdefault(record.thread_id, {})
            for ns, blob in blobs:
                thread_blobs.setdefault((ns, blob.channel, blob.version), blob)
            self._records.setdefault(record.thread_id, {}).setdefault(record.checkpoint_ns, {})[
                record.checkpoint_id
            ] = dataclasses.replace(record)

    def _write_checkpoint_checked(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str]
    ) -> None:
        """Checked under the store's lock, where every delete also runs."""
        wanted = [(ELEMENT_CHANNEL, h) for h in must_exist] + carried_over_values(record, blobs)
        with self._lock:
            if wanted:
                thread_blobs = self._blobs.get(record.thread_id, {})
                ns = record.checkpoint_ns
                missing = [f"{ch}@{ver}" for ch, ver in wanted if (ns, ch, ver) not in thread_blobs]
                if missing:
                    raise StaleElementsError(record.thread_id, missing)
            self._write_checkpoint(record, blobs)

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        with self._lock:
            ns_records = self._records.get(thread_id, {}).get(checkpoint_ns)
            if not ns_records:
                return None
            if checkpoint_id is None:
                checkpoint_id = max(ns_records)
            rec = ns_records.get(checkpoint_id)
            return dataclasses.replace(rec) if rec is not None else None

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        with self._lock:
            if query.thread_id is not None:
                threads = [self._records.get(query.thread_id, {})]
            else:
                threads = list(self._records.values())
            found = [
                rec
                for thread in threads
                for ns, recs in thread.items()
                if query.checkpoint_ns is None or ns == query.checkpoint_ns
                for rec in recs.values()
                if record_matches(rec, query)
            ]
        found.sort(key=sort_key(query), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        for rec in found[query.offset : end]:
            yield dataclasses.replace(rec, payload=rec.payload if query.include_payload else None)

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        with self._lock:
            thread_blobs = self._blobs.get(thread_id, {})
            out = {}
            for ch, ver in keys:
                blob = thread_blobs.get((checkpoint_ns, ch, ver))
                if blob is not None:
                    out[(ch, ver)] = blob
            return out

    def _write_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool
    ) -> None:
        with self._lock:
            slot = self._writes.setdefault((thread_id, checkpoint_ns, checkpoint_id), {})
            for w in writes:
                key = (w.task_id, w.idx)
                if replace or key not in slot:
                    slot[key] = w

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        with self._lock:
            return list(self._writes.get((thread_id, checkpoint_ns, checkpoint_id), {}).values())

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
        with self._lock:
            rec = self._records.get(thread_id, {}).get(checkpoint_ns, {}).get(checkpoint_id)
            if rec is None:
                return False
            apply_update(rec, status=status, metadata=metadata, tags=tags, updated_at=updated_at)
            return True

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        removed = 0
        with self._lock:
            thread = self._records.get(thread_id, {})
            for ns, cid in keys:
                if thread.get(ns, {}).pop(cid, None) is not None:
                    removed += 1
                self._writes.pop((thread_id, ns, cid), None)
                if ns in thread and not thread[ns]:
                    del thread[ns]
            if thread_id in self._records and not thread:
                del self._records[thread_id]
        return removed

    def _delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._records.pop(thread_id, None)
            self._blobs.pop(thread_id, None)
            for key in [k for k in self._writes if k[0] == thread_id]:
                del self._writes[key]

    def _list_thread_ids(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._records))

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        with self._lock:
            return iter(list(self._blobs.get(thread_id, {})))

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        removed = 0
        with self._lock:
            thread_blobs = self._blobs.get(thread_id, {})
            for key in keys:
                if thread_blobs.pop(key, None) is not None:
                    removed += 1
        return removed

    def _storage_size(self) -> int | None:
        with self._lock:
            size = sum(len(r.payload or b"") for t in self._records.values() for ns in t.values() for r in ns.values())
            size += sum(len(b.payload) for t in self._blobs.values() for b in t.values())
            size += sum(len(w.payload) for ws in self._writes.values() for w in ws.values())
        return size
