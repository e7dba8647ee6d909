"""The I/O-free record layout every backend stores.

Three kinds of rows make up a thread (see ``docs/design.md``):

* ``StoredRecord`` -- one checkpoint: identity, lineage, plaintext index fields
  (status, tags, filterable metadata, channel versions) and the sealed payload.
* ``StoredBlob`` -- one channel value, stored once per (thread, ns, channel, version).
* ``StoredWrite`` -- one pending write of a task, keyed by (checkpoint, task, idx).

Payloads are *sealed* bytes (codec header + optional compression/encryption);
backends never look inside them. Everything here is plain data so that
memory, SQLite, Redis, S3 and plugins share one shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ChannelVersion = str | int | float
BlobKey = tuple[str, ChannelVersion]  # (channel, version)

#: ``payload_type`` of a blob that holds no value (a channel with a version but
#: nothing to store, e.g. a consumed trigger or a DeltaChannel sentinel).
EMPTY_BLOB_TYPE = "empty"

#: Linear storage of list values (see docs/design.md): a list channel value is stored
#: as a *manifest* blob (``payload_type`` MANIFEST_BLOB_TYPE, body: msgpack list of
#: element hashes) plus one *element* blob per distinct element, keyed
#: ``(ELEMENT_CHANNEL, <hash>)`` in the same thread and namespace.
MANIFEST_BLOB_TYPE = "lgc:list-manifest"
ELEMENT_CHANNEL = "\x00lgc:element"


@dataclass(slots=True)
class StoredRecord:
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    workflow_id: str
    kind: str  # RecordKind value
    payload_type: str
    payload: bytes | None  # None when listed with include_payload=False
    checksum: str
    size: int
    created_at: float
    updated_at: float
    status: str = "active"
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    channel_versions: dict[str, ChannelVersion] = field(default_factory=dict)
    #: What of the stored row could not be parsed (a damaged plaintext column), else None. Such a
    #: record is still listed -- so ``lgckpt verify --all`` reports it and goes on -- with the
    #: damaged fields empty, but opening it raises ``IntegrityError`` (``_open_record``).
    damage: str | None = None


@dataclass(slots=True)
class StoredBlob:
    channel: str
    version: ChannelVersion
    payload_type: str
    payload: bytes
    checksum: str


@dataclass(slots=True)
class StoredWrite:
    task_id: str
    idx: int
    channel: str
    payload_type: str
    payload: bytes
    checksum: str
    task_path: str = ""


@dataclass(slots=True)
class StoredBundle:
    """A checkpoint with the blobs its channel versions name and its writes."""

    record: StoredRecord
    blobs: dict[BlobKey, StoredBlob]
    writes: list[StoredWrite]


@dataclass(slots=True)
class RecordQuery:
    """What ``_query_records`` selects. ``None`` means "any".

    Results are newest first by ``order``: ``checkpoint_id`` (LangGraph's
    order, ids are time-ordered uuid6) or ``created_at`` (the manager API's).
    ``metadata`` is equality on top-level keys of the plaintext metadata.
    ``before_id`` keeps ids strictly lower than it (within the query's thread).
    """

    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    workflow_id: str | None = None
    status: str | None = None
    tags: Sequence[str] | None = None
    kind: str | None = None
    metadata: dict[str, Any] | None = None
    before_id: str | None = None
    older_than: float | None = None
    order: Literal["checkpoint_id", "created_at"] = "checkpoint_id"
    limit: int | None = None
    offset: int = 0
    include_payload: bool = True


def record_matches(record: StoredRecord, query: RecordQuery) -> bool:
    """Reference semantics of ``RecordQuery`` (backends filtering in Python use it)."""
    if query.thread_id is not None and record.thread_id != query.thread_id:
        return False
    if query.checkpoint_ns is not None and record.checkpoint_ns != query.checkpoint_ns:
        return False
    if query.checkpoint_id is not None and record.checkpoint_id != query.checkpoint_id:
        return False
    if query.workflow_id is not None and record.workflow_id != query.workflow_id:
        return False
    if query.status is not None and record.status != query.status:
        return False
    if query.kind is not None and record.kind != query.kind:
        return False
    if query.tags and not set(query.tags).issubset(record.tags):
        return False
    if query.before_id is not None and not record.checkpoint_id < query.before_id:
        return False
    if query.older_than is not None and not record.created_at < query.older_than:
        return False
    if query.metadata:
        md = record.metadata
        for key, value in query.metadata.items():
            # as LangGraph's savers compare (metadata.get(key) == value): None also matches a
            # checkpoint without the key
            if md.get(key) != value:
                return False
    return True


def sort_key(query: RecordQuery):
    """Sort key giving newest-first order for ``query.order`` (use reverse=True)."""
    if query.order == "created_at":
        return lambda r: (r.created_at, r.checkpoint_id)
    return lambda r: (r.checkpoint_id, r.created_at)


def apply_update(
    record: StoredRecord,
    *,
    status: str | None,
    metadata: dict[str, Any] | None,
    tags: list[str] | None,
    updated_at: float,
) -> StoredRecord:
    """Apply ``_update_record``'s arguments to a record (in place; returned for chaining)."""
    if status is not None:
        record.status = status
    if metadata is not None:
        record.metadata = dict(metadata)
    if tags is not None:
        record.tags = list(tags)
    record.updated_at = updated_at
    return record
