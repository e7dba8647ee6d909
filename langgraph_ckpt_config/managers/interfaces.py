"""The manager interface from the user's design sketch, kept name for name.

``ICheckpointManager`` is the operational API (save/load/list/verify/archive/...).
It is extended, never shrunk: every method that takes a bare ``checkpoint_id``
also accepts ``thread_id`` and ``checkpoint_ns`` keywords, because LangGraph
checkpoint ids are only unique within a (thread, namespace) -- ``copy_thread``
puts the same id into two threads. Without ``thread_id`` a bare id that matches
records in several threads raises ``AmbiguousCheckpointError`` instead of
guessing.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO, ClassVar


class CheckpointStatus(str, enum.Enum):
    """Lifecycle of a stored checkpoint.

    ACTIVE: normal. ARCHIVED: kept by retention (cleanup never removes it) and
    still readable. DELETED: reported for soft-deleted records by backends that
    keep tombstones. CORRUPTED: ``verify_checkpoint`` found a mismatch; loading
    it raises ``IntegrityError`` until it is repaired or deleted.
    """

    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"
    CORRUPTED = "corrupted"


class RecordKind(str, enum.Enum):
    """What wrote a record: the manager API (``DATA``) or the LangGraph adapter."""

    DATA = "data"
    LANGGRAPH = "langgraph"


@dataclass
class CheckpointMetadata:
    """What a manager knows about one stored checkpoint (never its payload).

    Fields after ``metadata`` extend the sketch: ``checkpoint_ns`` and
    ``parent_checkpoint_id`` come from LangGraph, ``kind`` says which API wrote
    the record, ``created_at``/``updated_at`` are epoch seconds for sorting.
    ``size`` is the stored (encoded) size in bytes, ``checksum`` is
    ``"<algorithm>:<hex>"`` over the stored bytes.
    """

    checkpoint_id: str
    workflow_id: str
    thread_id: str
    timestamp: datetime
    status: CheckpointStatus = CheckpointStatus.ACTIVE
    size: int | None = None
    checksum: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    checkpoint_ns: str = ""
    parent_checkpoint_id: str | None = None
    kind: RecordKind = RecordKind.DATA

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp as ISO-8601, enums as their values)."""
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        data["status"] = self.status.value
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckpointMetadata:
        values = dict(data)
        ts = values.get("timestamp")
        if isinstance(ts, str):
            values["timestamp"] = datetime.fromisoformat(ts)
        elif isinstance(ts, (int, float)):
            values["timestamp"] = datetime.fromtimestamp(ts, timezone.utc)
        values["status"] = CheckpointStatus(values.get("status", "active"))
        values["kind"] = RecordKind(values.get("kind", "data"))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})


class ICheckpointManager(ABC):
    """Interface every checkpoint manager implements (see the design sketch).

    Managers are thread-safe, context managers, and release everything in
    ``close()`` (``cleanup()`` is the sketch's name for the same thing).
    ``parameters_model`` is the pydantic model of the manager's ``parameters``
    YAML section; the config loader validates against it.
    """

    parameters_model: ClassVar[type]

    @abstractmethod
    def initialize(self, config: Mapping[str, Any] | None = None) -> None:
        """Open connections and start background workers. Idempotent."""

    @abstractmethod
    def save_checkpoint(
        self,
        checkpoint_id: str,
        data: dict[str, Any] | bytes | BinaryIO,
        workflow_id: str,
        thread_id: str,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> CheckpointMetadata:
        """Store ``data`` (a dict is serialized, bytes/file objects kept as bytes)."""

    @abstractmethod
    def load_checkpoint(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> dict[str, Any] | bytes:
        """Return what was saved; raises ``CheckpointNotFoundError``/``IntegrityError``."""

    @abstractmethod
    def delete_checkpoint(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> bool:
        """Delete one checkpoint; False when it did not exist."""

    @abstractmethod
    def list_checkpoints(
        self,
        workflow_id: str | None = None,
        thread_id: str | None = None,
        status: CheckpointStatus | None = None,
        tags: list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[CheckpointMetadata]:
        """Newest first (by creation time)."""

    @abstractmethod
    def get_checkpoint_metadata(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> CheckpointMetadata | None:
        """Metadata of one checkpoint or None."""

    @abstractmethod
    def update_checkpoint_metadata(
        self,
        checkpoint_id: str,
        metadata: dict[str, Any],
        *,
        thread_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> bool:
        """Merge ``metadata`` into the checkpoint's metadata; False if missing."""

    @abstractmethod
    def archive_checkpoint(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> bool:
        """Mark as archived (kept by retention); False if missing."""

    @abstractmethod
    def restore_checkpoint(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> bool:
        """Mark an archived checkpoint active again; False if missing."""

    @abstractmethod
    def cleanup_checkpoints(
        self, max_age: float | None = None, max_count: int | None = None
    ) -> int:
        """Apply retention; returns the number of checkpoints removed."""

    @abstractmethod
    def verify_checkpoint(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> bool:
        """Check stored bytes against their checksums; marks failures CORRUPTED."""

    @abstractmethod
    def export_checkpoint(
        self,
        checkpoint_id: str,
        output_path: str,
        *,
        thread_id: str | None = None,
        checkpoint_ns: str = "",
    ) -> bool:
        """Write a portable export file (see ``docs/design.md``)."""

    @abstractmethod
    def import_checkpoint(
        self, input_path: str, metadata: dict[str, Any] | None = None
    ) -> str:
        """Import an export file; returns the checkpoint id (the original one)."""

    @abstractmethod
    def get_statistics(self) -> dict[str, Any]:
        """Counts, sizes and operation counters."""

    @abstractmethod
    def cleanup(self) -> None:
        """Release resources (same as ``close()``)."""
