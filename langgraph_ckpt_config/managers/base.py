"""``BaseCheckpointManager``: the whole manager API over a handful of storage primitives.

A backend (built-in or plugin) subclasses this and implements the ``_``-prefixed
primitives in the "storage primitives" section: write a checkpoint with its blobs
atomically, read records/blobs/writes, query, update, delete. Everything else --
the codec pipeline, checksums, the design sketch's operational API, the record
API the LangGraph adapter uses, retention, verify, export/import, statistics,
the background cleanup worker and the async twins -- lives here once.

Payloads handed to primitives are already *sealed* (codec header, optional
compression and AES-GCM encryption whose associated data is the record's key,
see ``_aad``). Backends store bytes; they never decode them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar

from langgraph_ckpt_config.errors import (
    AmbiguousCheckpointError,
    CheckpointExistsError,
    CheckpointNotFoundError,
    CkptError,
    CodecError,
    EncryptionError,
    IntegrityError,
    InvalidInputError,
    ManagerNotInitializedError,
    StaleElementsError,
)
from langgraph_ckpt_config.files import replace_file
from langgraph_ckpt_config.managers import sealed_metadata
from langgraph_ckpt_config.managers.export_doc import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ImportItem,
    check_export,
    read_export,
)
from langgraph_ckpt_config.managers.interfaces import (
    CheckpointMetadata,
    CheckpointStatus,
    ICheckpointManager,
    RecordKind,
)
from langgraph_ckpt_config.managers.listtree import (
    MANIFEST_TYPES,
    NODE_TYPE,
    TREE_MANIFEST_TYPE,
    build_manifest,
    closure,
    element_digest,
    expand,
    expand_digests,
    manifest_entries,
    node_entries,
    thread_address_key,
)
from langgraph_ckpt_config.managers.records import (
    ELEMENT_CHANNEL,
    EMPTY_BLOB_TYPE,
    BlobKey,
    ChannelVersion,
    RecordQuery,
    StoredBlob,
    StoredBundle,
    StoredRecord,
    StoredWrite,
)
from langgraph_ckpt_config.managers.trim import COUNT, TRIM, TrimPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: Metadata keys LangGraph's retention logic reads; always kept in plaintext
#: (they are counters and ids, not state) so retention works with encryption on.
STRUCTURAL_METADATA_KEYS = frozenset({"counters_since_delta_snapshot", "step", "source", "run_id"})
_MISSING = object()


# --------------------------------------------------------------------------- helpers
def _aad(*parts: str | int | float) -> bytes:
    """Associated data binding a ciphertext to its record key.

    Length-prefixed so that ("a", "bc") and ("ab", "c") never collide.
    """
    out = bytearray()
    for part in parts:
        raw = str(part).encode("utf-8", "surrogatepass")
        out += len(raw).to_bytes(4, "big")
        out += raw
    return bytes(out)


def _metadata_matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """``records.record_matches``'s metadata rule (a missing key matches None)."""
    return all(metadata.get(key) == value for key, value in wanted.items())


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or value == "":
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _json_safe(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-representable part of ``metadata`` (what a backend can index)."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


class LRUCache:
    """A small thread-safe LRU bounded by entry count and total bytes, with a time to live."""

    def __init__(self, maxsize: int, ttl: float | None, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.maxsize = max(0, int(maxsize))
        self.max_bytes = max_bytes
        self.ttl = ttl if ttl and ttl > 0 else None
        self._data: OrderedDict[Any, tuple[float, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        if not self.maxsize:
            return None
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value, size = item
            if expires and expires < time.monotonic():
                del self._data[key]
                self._bytes -= size
                return None
            self._data.move_to_end(key)
            return value

    def get_many(self, keys: Sequence[Any]) -> list[Any | None]:
        """``get`` for many keys under one lock acquisition (list elements are read by the hundred)."""
        if not self.maxsize:
            return [None] * len(keys)
        out: list[Any | None] = []
        now = time.monotonic() if self.ttl else 0.0
        data = self._data
        with self._lock:
            for key in keys:
                item = data.get(key)
                if item is None or (item[0] and item[0] < now):
                    out.append(None)
                    continue
                data.move_to_end(key)
                out.append(item[1])
        return out

    def put(self, key: Any, value: Any, size: int = 0) -> None:
        if not self.maxsize or size > self.max_bytes // 4:
            return
        expires = time.monotonic() + self.ttl if self.ttl else 0.0
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._data[key] = (expires, value, size)
            self._bytes += size
            while len(self._data) > self.maxsize or self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    def discard_where(self, predicate: Callable[[Any], bool]) -> None:
        with self._lock:
            for key in [k for k in self._data if predicate(k)]:
                self._bytes -= self._data.pop(key)[2]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


class DigestCache:
    """Opened payloads ``(label, raw)``, bounded by bytes: list elements and nodes by content
    digest, and (``_opened_cache``) record and write payloads by ids with their checksum;
    also the element cache's reached trees (``ElementCache.reachable``).

    None goes stale (content-addressed; validated by checksum at each hit), so there is
    no time to live, and eviction is first-in first-out: a hit costs one dict lookup and no
    lock (a list is read element by element, hundreds of hits per read). An evicted value is
    simply read again.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._data: dict[Any, Any] = {}
        self._sizes: dict[Any, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, digest: Any) -> Any:
        return self._data.get(digest)

    @property
    def lookup(self) -> Callable[[str], tuple[str, bytes] | None]:
        """``get`` as the dict's own method: one C call per element on the read hot path."""
        return self._data.get

    def get_many(self, digests: Iterable[str]) -> list[tuple[str, bytes] | None]:
        get = self._data.get
        return [get(h) for h in digests]

    def put(self, digest: Any, value: Any, size: int, *, replace: bool = False) -> None:
        """Cache ``value`` counted as ``size`` bytes (for ``(label, raw)``: ``len(raw) + 100``).
        A key already cached keeps its value unless ``replace`` (content-addressed keys never
        change)."""
        if size > self.max_bytes // 4:
            return
        with self._lock:
            data, sizes = self._data, self._sizes
            if digest in data:
                if not replace:
                    return
                del data[digest]
                self._bytes -= sizes.pop(digest)
            data[digest] = value
            sizes[digest] = size
            self._bytes += size
            while self._bytes > self.max_bytes and data:
                oldest = next(iter(data))
                del data[oldest]
                self._bytes -= sizes.pop(oldest)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._sizes.clear()
            self._bytes = 0


class ElementCache(DigestCache):
    """The element cache, with the trees walked through it: ``reachable`` maps the root digests
    of a bundle's list manifests to every element and node they reach, opened (what
    ``_load_elements`` built from this cache alone). A tree of digests is content-addressed, so
    the same roots always reach the same entries: a warm read of an unchanged list skips the
    walk. A quarter of the budget, counted by the bytes the entries hold (kept alive there even
    when this cache evicts them); never mutated once stored, so readers share a mapping
    read-only. Clearing the cache forgets both: a cleared cache is cold for trees too."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.reachable = DigestCache(self.max_bytes // 4)

    def clear(self) -> None:
        super().clear()
        self.reachable.clear()


class _NotCached(Exception):
    """A cached-only read met something it would have to fetch (``_cached_elements``)."""


#: Checksum of a blob whose ``payload`` already holds the opened bytes, taken from this
#: process's cache (``_split_cached_blobs``). No real checksum looks like it.
_OPENED = "\x00opened"


def carried_over_values(record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> list[tuple[str, ChannelVersion]]:
    """``(channel, version)`` of the values a LangGraph checkpoint names without its write
    carrying them: its unchanged channels, whose values an earlier checkpoint stored. A delete
    or prune by another process while a run was going on may have removed them since the run
    read its parent; the write checks they are still there (``_write_checkpoint_checked``)."""
    ns = record.checkpoint_ns
    carried = {(b.channel, b.version) for b_ns, b in blobs if b_ns == ns}
    return [(ch, ver) for ch, ver in record.channel_versions.items() if (ch, ver) not in carried]


class _BoundedSet:
    """A thread-safe set that forgets its oldest members past ``maxsize``."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[Any, float] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        #: bumped whenever members are discarded (storage removed elements of some thread);
        #: one counter for all threads keeps it bounded (a bump is rare: prune, retention, delete)
        self.generation = 0

    def add(self, item: Any) -> None:
        with self._lock:
            self._data[item] = time.monotonic()
            if len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def added_at(self, item: Any) -> float | None:
        """When ``item`` was (last) added, or None if it is not a member."""
        return self._data.get(item)

    def __contains__(self, item: Any) -> bool:
        return item in self._data

    @property
    def members(self) -> Mapping[Any, float]:
        """The members (read-only use: ``in`` tests without a method call per item)."""
        return self._data

    def discard_thread(self, thread_id: str) -> None:
        with self._lock:
            self.generation += 1
            for key in [k for k in self._data if k[0] == thread_id]:
                del self._data[key]


# --------------------------------------------------------------------------- opened views
class OpenedWrite(tuple):
    """(task_id, idx, channel, payload_type, raw_bytes, task_path) -- payload decoded by the codec."""

    __slots__ = ()

    def __new__(cls, task_id: str, idx: int, channel: str, payload_type: str, data: bytes, task_path: str):
        return tuple.__new__(cls, (task_id, idx, channel, payload_type, data, task_path))

    task_id = property(lambda self: self[0])
    idx = property(lambda self: self[1])
    channel = property(lambda self: self[2])
    payload_type = property(lambda self: self[3])
    data = property(lambda self: self[4])
    task_path = property(lambda self: self[5])


class OpenedBundle:
    """A checkpoint as the LangGraph adapter consumes it: codec already undone."""

    __slots__ = ("record", "payload", "blobs", "writes", "elements")

    def __init__(
        self,
        record: StoredRecord,
        payload: bytes,
        blobs: dict[BlobKey, tuple[str, bytes]],
        writes: list[OpenedWrite],
        elements: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self.record = record
        self.payload = payload
        self.blobs = blobs
        self.writes = writes
        #: element hash -> (serde type, bytes), for every list manifest among ``blobs``
        self.elements = elements if elements is not None else {}

    def manifest_hashes(self) -> set[str]:
        """Digests a list manifest among the blobs names directly (elements, or nodes of the tree)."""
        return {h for typ, raw in self.blobs.values() if typ in MANIFEST_TYPES for _, h in manifest_entries(typ, raw)}


#: A delta channel's seed as stored: (serde type, bytes, list elements by digest when the
#: value is a list manifest).
DeltaSeed = tuple[str, bytes, dict[str, tuple[str, bytes]]]
#: One ancestor of the delta walk: its writes to unresolved channels, the seeds found there.
DeltaStep = tuple[list[OpenedWrite], dict[str, DeltaSeed]]

class BaseCheckpointManager(ICheckpointManager):
    """Everything a manager does, over the storage primitives a backend provides.

    Construction validates ``config`` against ``parameters_model`` and does no
    I/O; ``initialize()`` opens the backend (``_open``) and starts the cleanup
    worker; ``close()`` stops both. Instances are thread-safe as long as the
    backend's primitives are.
    """

    #: Set by subclasses: the pydantic model of this manager's ``parameters``.
    parameters_model: ClassVar[type]
    #: Short backend name used in messages and statistics.
    backend_name: ClassVar[str] = "base"

    def __init__(self, config: Mapping[str, Any] | Any | None = None, *, name: str | None = None) -> None:
        self.name = name or self.backend_name
        self.params = self._validate_params(config)
        self._initialized = False
        self._closed = False
        self._lifecycle_lock = threading.RLock()
        self._stop_event = threading.Event()
        self._cleanup_thread: threading.Thread | None = None
        self._counters: dict[str, int] = {}
        self._counters_lock = threading.Lock()
        self._serde: Any = None
        self.pipeline: Any = None
        self._blob_cache = LRUCache(0, None)
        self._element_cache = ElementCache(0)
        #: opened record and pending-write payloads: key -> (checksum, raw), see _open_cached
        self._opened_cache = DigestCache(0)
        self._known_elements = _BoundedSet(200_000)
        #: the subkey list elements are addressed under (encrypted stores), see element_key
        self._address_key: bytes | None = None
        self._element_scheme: bytes | None = None
        self._element_ttl: float | None = None
        #: for ``ttl`` backends, thread id -> (last write of this process, start of the run of
        #: writes without a gap long enough for the thread to have expired in between)
        self._thread_writes: OrderedDict[str, tuple[float, float]] = OrderedDict()
        #: trim-on-write for ``max_checkpoints`` (set by ``initialize``; None: no limit)
        self._trim: TrimPolicy | None = None
        self.last_cleanup: dict[str, Any] | None = None

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _validate_params(cls, config: Any) -> Any:
        model = cls.parameters_model
        if isinstance(config, model):
            return config
        if config is not None and hasattr(config, "model_dump"):
            config = config.model_dump()
        from pydantic import ValidationError

        from langgraph_ckpt_config.errors import ConfigError

        try:
            return model.model_validate(dict(config or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid parameters for {cls.__name__}: {problems}") from None

    # ------------------------------------------------------------------ lifecycle
    def initialize(self, config: Mapping[str, Any] | None = None) -> None:
        with self._lifecycle_lock:
            if self._closed:
                raise ManagerNotInitializedError(f"manager {self.name!r} is closed; create a new one")
            if config:
                merged = self.params.model_dump()
                merged.update(config)
                self.params = self._validate_params(merged)
            if self._initialized:
                return
            from langgraph_ckpt_config.codecs import CodecPipeline, get_serializer

            self.pipeline = CodecPipeline.from_parameters(self.params)
            self._address_key = key = self.pipeline.address_key
            self._element_scheme = hashlib.blake2b(key, digest_size=16, person=b"lgc:scheme").digest() if key else None
            #: the backend's key expiry (Redis ``ttl``), read once: element_known runs per element
            self._element_ttl = getattr(self.params, "ttl", None) or None
            self.serializer = get_serializer(
                self.params.serialization_format, self.params.serialization_options
            )
            if self.params.cache_enabled:
                max_bytes = int(self.params.cache_max_bytes)
                self._blob_cache = LRUCache(self.params.cache_size, self.params.cache_ttl, max_bytes)
                # List elements are small and many (one per message): bounded by bytes only.
                self._element_cache = ElementCache(max_bytes)
                # Validated by checksum at every hit, so nothing in it goes stale: no time to live.
                self._opened_cache = DigestCache(max_bytes // 4)
            if self.params.max_checkpoints:
                self._trim = TrimPolicy(self.params.max_checkpoints, self.params.cleanup_threshold)
            self._open()
            self._initialized = True
            self._start_cleanup_worker()

    def close(self) -> None:
        with self._lifecycle_lock:
            if self._closed:
                return
            # the worker's stop signal first: a pass that meets the closed manager then ends
            # quietly instead of reporting a failure (_start_cleanup_worker)
            self._stop_event.set()
            self._closed = True
            worker = self._cleanup_thread
            if worker is not None and worker is not threading.current_thread():
                worker.join(timeout=30)
            if self._initialized:
                self._close()
            self._blob_cache.clear()
            self._element_cache.clear()
            self._opened_cache.clear()

    def cleanup(self) -> None:
        """The sketch's name for ``close()``."""
        self.close()

    def __enter__(self) -> BaseCheckpointManager:
        self.initialize()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> BaseCheckpointManager:
        await self._to_thread(self.initialize)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._to_thread(self.close)

    @property
    def is_initialized(self) -> bool:
        return self._initialized and not self._closed

    def _require_open(self) -> None:
        if not self._initialized:
            if self._closed:
                raise ManagerNotInitializedError(f"manager {self.name!r} is closed")
            self.initialize()
        elif self._closed:
            raise ManagerNotInitializedError(f"manager {self.name!r} is closed")

    def __repr__(self) -> str:  # never the parameters: they may hold secrets
        state = "closed" if self._closed else ("open" if self._initialized else "new")
        return f"<{type(self).__name__} name={self.name!r} {state}>"

    @property
    def serde(self) -> Any:
        """Serializer used to decode LangGraph payloads for operators (``load_checkpoint``, CLI)."""
        if self._serde is None:
            from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

            self._serde = JsonPlusSerializer()
        return self._serde

    @serde.setter
    def serde(self, value: Any) -> None:
        self._serde = value

    def _count(self, name: str, n: int = 1) -> None:
        with self._counters_lock:
            self._counters[name] = self._counters.get(name, 0) + n

    # ------------------------------------------------------------------ storage primitives
    # Backends implement these. All take and return *sealed* payloads.
    def _open(self) -> None:
        """Connect / create schema. Called once by ``initialize``."""

    def _close(self) -> None:
        """Release connections, files, threads."""

    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        """Store ``record`` and its new blobs atomically (replace an existing record of the same key).

        ``blobs`` are ``(checkpoint_ns, blob)`` pairs for ``record.thread_id``. Blobs are
        immutable per key: writing an existing blob key again may be skipped.
        A reader must never see the record before its blobs.
        """
        raise NotImplementedError

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        """One record, or the newest (highest ``checkpoint_id``) of (thread, ns) when id is None."""
        raise NotImplementedError

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        """Records matching ``query`` (see ``records.record_matches``), newest first."""
        raise NotImplementedError

    def _read_blobs(
        self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]
    ) -> dict[BlobKey, StoredBlob]:
        """The blobs that exist among ``keys`` (missing keys are simply absent)."""
        raise NotImplementedError

    def _write_writes(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        writes: Sequence[StoredWrite],
        *,
        replace: bool,
    ) -> None:
        """Store pending writes keyed by (task_id, idx); existing keys kept unless ``replace``."""
        raise NotImplementedError

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        """Writes of one checkpoint, in any order."""
        raise NotImplementedError

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
        """Replace the given plaintext fields; False when the record does not exist."""
        raise NotImplementedError

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        """Delete records ``(checkpoint_ns, checkpoint_id)`` of a thread with their writes."""
        raise NotImplementedError

    def _delete_thread(self, thread_id: str) -> None:
        """Delete every record, blob and write of a thread (all namespaces)."""
        raise NotImplementedError

    def _list_thread_ids(self) -> Iterator[str]:
        """Every thread id that has at least one record."""
        raise NotImplementedError

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        """Every (checkpoint_ns, channel, version) blob key of a thread."""
        raise NotImplementedError

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        """Delete the given blob keys of a thread."""
        raise NotImplementedError

    # Optional primitives: defaults compose the required ones; override when one
    # round trip can do the work of several.
    def _read_bundle(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> StoredBundle | None:
        record = self._read_record(thread_id, checkpoint_ns, checkpoint_id)
        if record is None:
            return None
        blobs = self._read_blobs_cached(thread_id, checkpoint_ns, list(record.channel_versions.items()))
        writes = self._read_writes(thread_id, checkpoint_ns, record.checkpoint_id)
        return StoredBundle(record, blobs, writes)

    def _read_writes_many(
        self, thread_id: str, checkpoint_ns: str, checkpoint_ids: Sequence[str]
    ) -> dict[str, list[StoredWrite]]:
        return {cid: self._read_writes(thread_id, checkpoint_ns, cid) for cid in checkpoint_ids}

    def _storage_size(self) -> int | None:
        """Bytes the backend uses on disk/in the server, when it can tell cheaply."""
        return None

    # ------------------------------------------------------------------ sealing
    def _seal(self, raw: bytes, aad: bytes | Callable[[], bytes]) -> tuple[bytes, str]:
        stored = self.pipeline.seal(raw, aad)
        return stored, self.pipeline.checksum(stored)

    def _open_payload(
        self, stored: bytes, checksum: str, aad: bytes | Callable[[], bytes], what: str | Callable[[], str]
    ) -> bytes:
        """Verify and open ``stored``. ``aad`` and ``what`` (the name used in errors) may be
        functions: they are only needed for encrypted records and errors, not on the hot path."""
        try:
            if getattr(self.params, "verify_on_read", True):
                try:
                    self.pipeline.verify_checksum(stored, checksum)
                except IntegrityError as exc:
                    self._count("integrity_errors")
                    raise IntegrityError(f"{what() if callable(what) else what}: {exc}") from None
            return self.pipeline.open(stored, aad)
        except CodecError as exc:
            self._count("integrity_errors")
            raise type(exc)(f"{what() if callable(what) else what}: {exc}") from None

    @staticmethod
    def _record_aad(thread_id: str, ns: str, checkpoint_id: str) -> bytes:
        return _aad("record", thread_id, ns, checkpoint_id)

    @staticmethod
    def _blob_aad(thread_id: str, ns: str, channel: str, version: ChannelVersion) -> bytes:
        return _aad("blob", thread_id, ns, channel, version)

    @staticmethod
    def _write_aad(thread_id: str, ns: str, checkpoint_id: str, task_id: str, idx: int) -> bytes:
        return _aad("write", thread_id, ns, checkpoint_id, task_id, idx)

    def seal_blob(self, thread_id: str, ns: str, channel: str, version: ChannelVersion, payload_type: str, raw: bytes) -> StoredBlob:
        stored, checksum = self._seal(raw, lambda: self._blob_aad(thread_id, ns, channel, version))
        # Blobs are immutable per key: remember what we just wrote so the next read of this
        # checkpoint (LangGraph reads it back at the next step) needs neither I/O nor decoding.
        self._cache_opened(thread_id, ns, channel, version, payload_type, raw, checksum)
        return StoredBlob(channel, version, payload_type, stored, checksum)

    def _empty_blob(self, thread_id: str, ns: str, channel: str, version: ChannelVersion) -> StoredBlob:
        """The marker of a channel emptied at ``version``, cached like any blob: the next
        ``get_tuple`` of the checkpoint then needs no query for it."""
        self._blob_cache.put((thread_id, ns, channel, version), ("", b"", EMPTY_BLOB_TYPE), 100)
        return StoredBlob(channel, version, EMPTY_BLOB_TYPE, b"", "")

    def _cache_opened(
        self, thread_id: str, ns: str, channel: str, version: ChannelVersion, payload_type: str, raw: bytes, checksum: str
    ) -> None:
        if channel == ELEMENT_CHANNEL:  # content-addressed: the key alone identifies the bytes
            # Keyed by digest alone: equal digests are equal plaintext, whichever thread holds them.
            self._element_cache.put(version, (payload_type, raw), len(raw) + 100)  # +100: entry overhead
        else:
            self._blob_cache.put((thread_id, ns, channel, version), (checksum, raw, payload_type), len(raw) + 100)

    def _split_cached_blobs(
        self, thread_id: str, ns: str, keys: Sequence[BlobKey]
    ) -> tuple[dict[BlobKey, StoredBlob], list[BlobKey]]:
        """Blobs already verified and opened in this process, and the keys to fetch.

        A cached blob comes back with its opened bytes as ``payload`` and the ``_OPENED``
        checksum, so ``_open_blob`` returns it as is (one cache lookup per blob). Safe
        because a blob never changes once written (list elements are content-addressed),
        and retention only removes blobs that no remaining checkpoint references.
        ``verify_checkpoint`` bypasses the cache.
        """
        cached: dict[BlobKey, StoredBlob] = {}
        missing: list[BlobKey] = []
        element_keys = [key for key in keys if key[0] == ELEMENT_CHANNEL]
        other_keys = [key for key in keys if key[0] != ELEMENT_CHANNEL] if len(element_keys) != len(keys) else []
        if element_keys:
            hits = self._element_cache.get_many([key[1] for key in element_keys])
            for key, hit in zip(element_keys, hits):
                if hit is None:
                    missing.append(key)
                else:
                    cached[key] = StoredBlob(ELEMENT_CHANNEL, key[1], hit[0], hit[1], _OPENED)
        if other_keys:
            hits = self._blob_cache.get_many([(thread_id, ns, key[0], key[1]) for key in other_keys])
            for key, hit in zip(other_keys, hits):
                if hit is None:
                    missing.append(key)
                else:
                    cached[key] = StoredBlob(key[0], key[1], hit[2], hit[1], _OPENED)
        return cached, missing

    def _read_blobs_cached(self, thread_id: str, ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        cached, missing = self._split_cached_blobs(thread_id, ns, keys)
        if missing:
            cached.update(self._read_blobs(thread_id, ns, missing))
        return cached

    def _open_blob(self, thread_id: str, ns: str, blob: StoredBlob) -> bytes:
        if blob.checksum == _OPENED:
            return blob.payload
        if blob.channel != ELEMENT_CHANNEL:
            cached = self._blob_cache.get((thread_id, ns, blob.channel, blob.version))
            if cached is not None and cached[0] == blob.checksum:
                return cached[1]
        raw = self._open_payload(
            blob.payload,
            blob.checksum,
            lambda: self._blob_aad(thread_id, ns, blob.channel, blob.version),
            lambda: f"blob {blob.channel!r}@{blob.version} of thread {thread_id!r}",
        )
        self._cache_opened(thread_id, ns, blob.channel, blob.version, blob.payload_type, raw, blob.checksum)
        return raw

    def _open_record(self, record: StoredRecord) -> bytes:
        if record.damage is not None:
            raise IntegrityError(f"checkpoint {record.checkpoint_id!r} of thread {record.thread_id!r}: {record.damage}")
        if record.status == CheckpointStatus.CORRUPTED.value:
            raise IntegrityError(
                f"checkpoint {record.checkpoint_id!r} of thread {record.thread_id!r} is marked corrupted by a "
                f"verification; `lgckpt verify -t {record.thread_id}` checks it again and clears the mark if it "
                "is intact, else restore the thread from an export"
            )
        assert record.payload is not None
        return self._open_cached(
            (record.thread_id, record.checkpoint_ns, record.checkpoint_id),
            record.payload,
            record.checksum,
            lambda: self._record_aad(record.thread_id, record.checkpoint_ns, record.checkpoint_id),
            lambda: f"checkpoint {record.checkpoint_id!r} of thread {record.thread_id!r}",
        )

    def _open_write(self, thread_id: str, ns: str, checkpoint_id: str, w: StoredWrite) -> OpenedWrite:
        raw = self._open_cached(
            (thread_id, ns, checkpoint_id, w.task_id, w.idx),
            w.payload,
            w.checksum,
            lambda: self._write_aad(thread_id, ns, checkpoint_id, w.task_id, w.idx),
            lambda: f"write {w.task_id}/{w.idx} of checkpoint {checkpoint_id!r}",
        )
        return OpenedWrite(w.task_id, w.idx, w.channel, w.payload_type, raw, w.task_path)

    def _open_cached(
        self,
        key: tuple,
        stored: bytes,
        checksum: str,
        aad: Callable[[], bytes],
        what: Callable[[], str],
    ) -> bytes:
        """``_open_payload``, remembering the result under ``key`` (a record's or a write's ids)
        with the checksum it was verified against. A later read of the same row whose stored
        checksum is the same gets the opened bytes without verifying and decompressing again:
        equal checksums are equal stored bytes, and the key fixes the associated data. A row
        rewritten since (a replaced special write) has another checksum, so no invalidation is
        needed. ``verify_checkpoint`` reads through ``_open_payload`` and is never answered here."""
        hit = self._opened_cache.get(key)
        if hit is not None and hit[0] == checksum:
            return hit[1]
        raw = self._open_payload(stored, checksum, aad, what)
        self._remember_opened(key, checksum, raw)
        return raw

    def _remember_opened(self, key: tuple, checksum: str, raw: bytes) -> None:
        """Cache what a record or write with ``checksum`` opens to -- also when this process
        just sealed it: the next read of it skips the checksum and decompression. An entry
        of a write that then failed is harmless, since a hit needs a stored row with the same
        checksum, i.e. the same bytes."""
        self._opened_cache.put(key, (checksum, raw), len(raw) + 100, replace=True)

    def _open_bundle(self, bundle: StoredBundle) -> OpenedBundle:
        rec = bundle.record
        tid, ns = rec.thread_id, rec.checkpoint_ns
        if len(bundle.blobs) < len(rec.channel_versions):
            self._missing_values(bundle)
        payload = self._open_record(rec)
        blobs = {
            key: (blob.payload_type, self._open_blob(tid, ns, blob) if blob.payload_type != EMPTY_BLOB_TYPE else b"")
            for key, blob in bundle.blobs.items()
        }
        for (channel, version), blob in bundle.blobs.items():
            if blob.payload_type == EMPTY_BLOB_TYPE and blob.checksum != _OPENED:  # read from the store
                self._empty_blob(tid, ns, channel, version)
        writes = [self._open_write(tid, ns, rec.checkpoint_id, w) for w in bundle.writes]
        writes.sort(key=lambda w: (w.task_path, w.task_id, w.idx))
        return OpenedBundle(rec, payload, blobs, writes)

    @staticmethod
    def _missing_values(bundle: StoredBundle) -> None:
        """Every channel version a checkpoint names has a stored value (an empty channel an
        empty blob): one the store lost (a Redis key evicted, a damaged file) must be an error,
        never a state silently read without that channel."""
        rec = bundle.record
        missing = [f"{ch!r}@{ver}" for ch, ver in rec.channel_versions.items() if (ch, ver) not in bundle.blobs]
        if missing:
            raise IntegrityError(
                f"thread {rec.thread_id!r} checkpoint {rec.checkpoint_id!r}: the stored value of "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} is missing"
            )

    # ------------------------------------------------------------------ record API (LangGraph adapter)
    def plaintext_metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """The part of a checkpoint's metadata stored unencrypted (and so filterable)."""
        safe = _json_safe(metadata)
        if not self.pipeline.is_encrypted:
            return safe
        allowed = set(self.params.client_encryption.filterable_metadata) | STRUCTURAL_METADATA_KEYS
        return {k: v for k, v in safe.items() if k in allowed}

    def can_filter_in_store(self, keys: Iterable[str]) -> bool:
        """Whether a metadata filter on ``keys`` can be answered from plaintext metadata.

        Always when no keys are configured. With keys -- encryption on, or switched off with
        the old keys kept for reading -- the store may hold records written encrypted, whose
        plaintext metadata has only the filterable and structural keys: a filter on another
        key must then be checked against the sealed metadata, after opening each record."""
        if not self.pipeline.has_keys:
            return True
        allowed = set(self.params.client_encryption.filterable_metadata) | STRUCTURAL_METADATA_KEYS
        return set(keys) <= allowed

    def _with_payload(self, rec: StoredRecord) -> StoredRecord:
        if rec.payload is not None:
            return rec
        found = self._read_record(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id)
        if found is None:
            raise CheckpointNotFoundError(f"checkpoint {rec.checkpoint_id!r} of thread {rec.thread_id!r} is gone")
        return found

    def _sealed_metadata(self, kind: str, payload_type: str, raw: bytes) -> dict[str, Any]:
        """The metadata an opened payload carries (``sealed_metadata.py``); {} when none or
        unreadable by ``self.serde``. Only its JSON-representable part: what the manager API shows."""
        if sealed_metadata.has_envelope(payload_type):
            return sealed_metadata.unwrap(payload_type, raw)[2] or {}
        if kind == RecordKind.LANGGRAPH.value:
            found = sealed_metadata.langgraph_metadata(self.serde, payload_type, raw)
            return _json_safe(found) if found else {}
        return {}

    def _full_metadata(self, rec: StoredRecord) -> dict[str, Any]:
        """A record's whole metadata for the manager API: the plaintext column, completed by what
        the payload seals when it may hold more (an envelope; a LangGraph checkpoint of a store
        with keys configured, which may have been written encrypted). The plaintext column wins
        for the keys it has (``update_checkpoint_metadata`` of an unencrypted store sets only it).
        A record that cannot be opened shows its plaintext metadata."""
        listed = dict(rec.metadata)
        if not (
            sealed_metadata.has_envelope(rec.payload_type)
            or (rec.kind == RecordKind.LANGGRAPH.value and self.pipeline.has_keys)
        ):
            return listed
        try:
            rec = self._with_payload(rec)
            sealed = self._sealed_metadata(rec.kind, rec.payload_type, self._open_record(rec))
        except CkptError:
            return listed
        return {**sealed, **listed}

    def _apply_plaintext_rule(
        self, kind: str, payload_type: str, raw: bytes, listed: Mapping[str, Any], *, strict: bool
    ) -> tuple[str, bytes, dict[str, Any]]:
        """``(payload_type, raw, plaintext metadata)`` for storing a record under this manager's
        rule (``plaintext_metadata``), whatever rule it was written under: the whole metadata is
        what the payload seals completed by ``listed`` (the plaintext it came with); keys withheld
        from plaintext that the payload does not seal yet are sealed into it (an envelope for a
        data record, the checkpoint document of a LangGraph one). A LangGraph payload ``self.serde``
        cannot read cannot take them: ``strict`` raises, else they are dropped with a warning."""
        sealed = self._sealed_metadata(kind, payload_type, raw)
        full = {**sealed, **listed}
        plain = self.plaintext_metadata(full)
        unsealed = {k: v for k, v in full.items() if k not in plain and sealed.get(k, _MISSING) != v}
        if not unsealed:
            return payload_type, raw, plain
        if kind != RecordKind.LANGGRAPH.value:
            return (*sealed_metadata.wrap(payload_type, raw, full), plain)
        resealed = sealed_metadata.reseal_langgraph(self.serde, payload_type, raw, unsealed)
        if resealed is not None:
            return (*resealed, plain)
        message = (
            f"metadata keys {sorted(unsealed)} are not filterable (client_encryption.filterable_metadata) "
            "and the checkpoint's payload cannot be read by the manager's serde to seal them"
        )
        if strict:
            raise InvalidInputError(message)
        logger.warning("%s: they are not stored", message)
        return payload_type, raw, plain

    def put_langgraph_checkpoint(self, **kwargs: Any) -> None:
        """Store one LangGraph checkpoint and the channel values it introduces.

        Keyword arguments: ``thread_id, checkpoint_ns, checkpoint_id,
        parent_checkpoint_id, workflow_id, created_at, payload_type, payload``
        (the serde's bytes for the checkpoint without channel values, plus its
        metadata), ``metadata`` (the metadata dict, for the plaintext index),
        ``channel_versions`` and ``blobs``: ``(channel, version, payload_type, raw)``;
        optionally ``must_exist``: list element digests the checkpoint names without carrying
        them (``_write_checkpoint_checked``; ``StaleElementsError`` when one is gone).
        """
        self._require_open()
        must_exist = kwargs.pop("must_exist", ())
        record, blobs = self._prepare_langgraph_checkpoint(**kwargs)
        try:
            self._write_checkpoint_checked(record, blobs, must_exist)
        except BaseException as exc:
            self._forget_sealed(record.thread_id, blobs)
            if isinstance(exc, StaleElementsError):
                self._known_elements.discard_thread(record.thread_id)
            raise
        self._remember_elements(record.thread_id, blobs)
        self._count("checkpoints_written")
        self._after_write(record.thread_id, record.checkpoint_ns, root=record.parent_checkpoint_id is None)

    def _write_checkpoint_checked(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str]
    ) -> None:
        """``_write_checkpoint``, unless something the new checkpoint names without carrying it
        is gone: one of the list elements/nodes ``must_exist`` (this process believed them
        stored), or the value of an unchanged channel (``carried_over_values``: stored by an
        earlier checkpoint). Then ``StaleElementsError`` and nothing is written. Another
        process may have deleted or pruned the thread since the run read it; a checkpoint
        naming a vanished value would be unreadable, and the adapter stores it again in full.
        This default checks before writing (a delete in between can still slip through);
        backends with transactions or scripts check inside the write (SQLite, Redis)."""
        wanted = [(ELEMENT_CHANNEL, h) for h in must_exist] + carried_over_values(record, blobs)
        if wanted:
            tid, ns = record.thread_id, record.checkpoint_ns
            found = self._read_blobs(tid, ns, wanted)
            missing = [f"{ch}@{ver}" for ch, ver in wanted if (ch, ver) not in found]
            if missing:
                raise StaleElementsError(tid, missing)
        self._write_checkpoint(record, blobs)

    def _forget_sealed(self, thread_id: str, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        """Drop what sealing cached for blobs whose write failed: the cache must only ever hold
        values the store holds (list elements are content-addressed and need no care)."""
        keys = {(thread_id, ns, b.channel, b.version) for ns, b in blobs if b.channel != ELEMENT_CHANNEL}
        if keys:
            self._blob_cache.discard_where(keys.__contains__)

    def _remember_elements(self, thread_id: str, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        ttl = self._element_ttl
        if ttl:
            now = time.monotonic()
            with self._counters_lock:
                last, since = self._thread_writes.get(thread_id, (None, now))
                if last is None or now - last >= ttl / 2:
                    since = now  # the thread may have expired before this write
                self._thread_writes[thread_id] = (now, since)
                self._thread_writes.move_to_end(thread_id)
                if len(self._thread_writes) > 100_000:
                    self._thread_writes.popitem(last=False)
        for ns, blob in blobs:
            if blob.channel == ELEMENT_CHANNEL:
                self._known_elements.add((thread_id, ns, blob.version))

    def _prepare_langgraph_checkpoint(
        self,
        *,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        parent_checkpoint_id: str | None,
        workflow_id: str | None,
        created_at: float,
        payload_type: str,
        payload: bytes,
        metadata: Mapping[str, Any],
        channel_versions: Mapping[str, ChannelVersion],
        blobs: Sequence[tuple[str, ChannelVersion, str, bytes]],
    ) -> tuple[StoredRecord, list[tuple[str, StoredBlob]]]:
        """Seal a checkpoint and its blobs into storage rows (CPU only, no I/O)."""
        _check_id(thread_id, "thread_id")
        _check_id(checkpoint_id, "checkpoint_id")
        stored_blobs = [
            (checkpoint_ns, self.seal_blob(thread_id, checkpoint_ns, ch, ver, typ, raw))
            if typ != EMPTY_BLOB_TYPE
            else (checkpoint_ns, self._empty_blob(thread_id, checkpoint_ns, ch, ver))
            for ch, ver, typ, raw in blobs
        ]
        sealed, checksum = self._seal(payload, lambda: self._record_aad(thread_id, checkpoint_ns, checkpoint_id))
        self._remember_opened((thread_id, checkpoint_ns, checkpoint_id), checksum, payload)
        record = StoredRecord(
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            checkpoint_id=checkpoint_id,
            parent_checkpoint_id=parent_checkpoint_id,
            workflow_id=workflow_id or self.params.default_workflow_id,
            kind=RecordKind.LANGGRAPH.value,
            payload_type=payload_type,
            payload=sealed,
            checksum=checksum,
            size=len(sealed) + sum(len(b.payload) for _, b in stored_blobs),
            created_at=created_at,
            updated_at=time.time(),
            status=CheckpointStatus.ACTIVE.value,
            tags=[],
            metadata=self.plaintext_metadata(metadata),
            channel_versions=dict(channel_versions),
        )
        return record, stored_blobs

    def put_langgraph_writes(
        self,
        *,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        writes: Sequence[tuple[str, int, str, str, bytes, str]],
        replace: bool,
    ) -> None:
        """Store pending writes ``(task_id, idx, channel, payload_type, raw, task_path)``."""
        self._require_open()
        stored = self._prepare_writes(thread_id, checkpoint_ns, checkpoint_id, writes)
        self._write_writes(thread_id, checkpoint_ns, checkpoint_id, stored, replace=replace)
        self._count("writes_written", len(stored))

    def _prepare_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[tuple[str, int, str, str, bytes, str]]
    ) -> list[StoredWrite]:
        stored = []
        for task_id, idx, channel, typ, raw, task_path in writes:
            sealed, checksum = self._seal(
                raw, lambda t=task_id, i=idx: self._write_aad(thread_id, checkpoint_ns, checkpoint_id, t, i)
            )
            stored.append(StoredWrite(task_id, idx, channel, typ, sealed, checksum, task_path))
            self._remember_opened((thread_id, checkpoint_ns, checkpoint_id, task_id, idx), checksum, raw)
        return stored

    def get_langgraph_bundle(
        self, thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None
    ) -> OpenedBundle | None:
        """The checkpoint (latest of the namespace when ``checkpoint_id`` is None), decoded by the codec."""
        self._require_open()
        bundle = self._read_bundle(thread_id, checkpoint_ns, checkpoint_id)
        self._count("checkpoints_read")
        if bundle is None:
            return None
        return self._attach_elements(self._open_bundle(bundle))

    def _attach_elements(self, bundle: OpenedBundle) -> OpenedBundle:
        """Fetch (batched) and open the elements the bundle's list manifests name."""
        hashes = bundle.manifest_hashes()
        if hashes:
            tid, ns = bundle.record.thread_id, bundle.record.checkpoint_ns
            bundle.elements = self._load_elements(
                tid, ns, hashes, lambda keys: self._read_blobs(tid, ns, keys)
            )
        return bundle

    def _manifest_roots(self, thread_id: str, ns: str, blobs: Iterable[StoredBlob]) -> set[str]:
        """The elements and top-level list nodes the list manifests among ``blobs`` name."""
        return {
            h
            for blob in blobs
            if blob.payload_type in MANIFEST_TYPES
            for _, h in manifest_entries(blob.payload_type, self._open_blob(thread_id, ns, blob))
        }

    def _cached_elements(self, thread_id: str, ns: str, blobs: Iterable[StoredBlob]) -> dict[str, tuple[str, bytes]] | None:
        """What ``_load_elements`` returns for the manifests among ``blobs``, when every element
        and node is in the element cache; None when one would have to be read."""
        roots = self._manifest_roots(thread_id, ns, blobs)
        if not roots:
            return {}
        key = frozenset(roots)
        memo = self._element_cache.reachable
        reached = memo.get(key)
        if reached is not None:
            return reached

        def refuse(keys: list[BlobKey]) -> Mapping[BlobKey, StoredBlob]:
            raise _NotCached

        try:
            reached = self._load_elements(thread_id, ns, roots, refuse)
        except _NotCached:
            return None
        memo.put(key, reached, sum(len(raw) + 100 for _, raw in reached.values()) + 100)
        return reached

    def _load_elements(
        self,
        thread_id: str,
        ns: str,
        roots: Iterable[str],
        fetch: Callable[[list[BlobKey]], Mapping[BlobKey, StoredBlob]],
    ) -> dict[str, tuple[str, bytes]]:
        """The opened elements and list nodes reachable from ``roots``: from the element cache,
        else ``fetch`` (one batch per tree level). Raises ``IntegrityError`` for a missing one."""
        out: dict[str, tuple[str, bytes]] = {}
        frontier = list(roots)
        get = self._element_cache.lookup
        while frontier:
            found = {h: hit for h in frontier if (hit := get(h)) is not None}
            if len(found) < len(frontier):
                missing = [h for h in frontier if h not in found]
                stored = fetch([(ELEMENT_CHANNEL, h) for h in missing])
                found.update(self._open_elements_flat(thread_id, ns, missing, stored))
            out.update(found)
            nodes = [raw for typ, raw in found.values() if typ == NODE_TYPE]
            frontier = [child for raw in nodes for _, child in node_entries(raw) if child not in out] if nodes else []
        return out

    def _open_elements_flat(
        self, thread_id: str, ns: str, hashes: Iterable[str], stored: Mapping[BlobKey, StoredBlob]
    ) -> dict[str, tuple[str, bytes]]:
        out = {}
        for h in hashes:
            blob = stored.get((ELEMENT_CHANNEL, h))
            if blob is None:
                raise IntegrityError(f"thread {thread_id!r}: list element {h[:16]}... is missing")
            if blob.checksum == _OPENED:
                out[h] = (blob.payload_type, blob.payload)
            else:
                out[h] = (blob.payload_type, self._open_blob(thread_id, ns, blob))
                self._known_elements.add((thread_id, ns, h))
        return out

    def _element_closure(
        self, thread_id: str, ns: str, manifests: Iterable[tuple[str, bytes]], *, strict: bool = True
    ) -> set[str]:
        """Every element and node digest the opened ``manifests`` ``(type, body)`` reach;
        only nodes are read (one batch per tree level)."""

        def fetch(digests: list[str]) -> dict[str, bytes]:
            stored = self._read_blobs_cached(thread_id, ns, [(ELEMENT_CHANNEL, h) for h in digests])
            bodies = {}
            for key, blob in stored.items():
                try:
                    bodies[key[1]] = self._open_blob(thread_id, ns, blob)
                except CkptError:
                    if strict:
                        raise
                    # not strict (collection, verification): a damaged node is treated as
                    # absent; verify_checkpoint reports it through its own checksum check.
            return bodies

        entries = [e for typ, raw in manifests if typ in MANIFEST_TYPES for e in manifest_entries(typ, raw)]
        return closure(entries, fetch, strict=strict)

    def element_known(self, thread_id: str, ns: str, digest: str) -> bool:
        """Whether this process has written or read element ``digest`` of the thread.

        Lets the adapter skip re-writing an element at every step. Only this process's
        view: a concurrent prune in another process of the *same* thread could remove an
        element between its check and our write (docs/design.md, "Linear storage").
        """
        known_at = self._known_elements.added_at((thread_id, ns, digest))
        if known_at is None:
            return False
        ttl = self._element_ttl
        if ttl:
            # Keys expire ``ttl`` after the thread's last write: trust what we learnt only
            # within the current run of writes, and only while the last one is recent.
            last, since = self._thread_writes.get(thread_id, (None, None))
            return last is not None and known_at >= since and time.monotonic() - last < ttl / 2
        return True

    def elements_known(self, thread_id: str, ns: str, digests: Sequence[str]) -> list[bool]:
        """``element_known`` for many digests of one thread (a list is checked every step)."""
        if self._element_ttl:
            return [self.element_known(thread_id, ns, d) for d in digests]
        members = self._known_elements.members
        return [(thread_id, ns, d) in members for d in digests]

    def element_key(self, thread_id: str) -> bytes | None:
        """The key new list elements and nodes of the thread are addressed under
        (``listtree.element_digest``): None (unkeyed blake2b) unless new records are
        encrypted, then a subkey of the primary key bound to the thread, so an address
        reveals nothing of the element without the key (docs/design.md, "Linear storage")."""
        if not self._initialized:
            self._require_open()
        key = self._address_key
        return thread_address_key(key, thread_id) if key is not None else None

    @property
    def element_scheme(self) -> bytes | None:
        """Identifies how this manager addresses new elements (None: unkeyed), so that a
        digest computed for one scheme is never reused for another (the adapter keeps its
        element memos per scheme). Not secret material: a hash of the address subkey."""
        if not self._initialized:
            self._require_open()
        return self._element_scheme

    def element_generation(self, thread_id: str) -> int:
        """Changes whenever this process removed elements of the thread (prune, retention,
        delete): what the adapter remembers of the thread's stored elements is then stale."""
        return self._known_elements.generation

    def delta_lineage(
        self, thread_id: str, ns: str, checkpoint_id: str | None, channels: Sequence[str]
    ) -> list[DeltaStep]:
        """The I/O half of LangGraph's ``get_delta_channel_history``: per ancestor of
        ``checkpoint_id`` (newest first), its writes to the still-unresolved ``channels``
        (in ``get_tuple`` order) and the non-empty blobs ``(type, bytes, list elements)``
        that resolve channels there. Raw serde bytes only: the adapter decodes them."""
        manager = self
        manager._require_open()
        target = manager._read_record(thread_id, ns, checkpoint_id)
        cursor = target.parent_checkpoint_id if target is not None else None
        remaining = set(channels)
        steps: list[DeltaStep] = []
        while cursor is not None and remaining:
            bundle = manager._read_bundle(thread_id, ns, cursor)
            if bundle is None:  # a pruned ancestor: the history ends here, as in InMemorySaver
                break
            rec = bundle.record
            seeds: dict[str, DeltaSeed] = {}
            for ch in remaining:
                ver = rec.channel_versions.get(ch)
                blob = bundle.blobs.get((ch, ver)) if ver is not None else None
                if blob is not None and blob.payload_type != EMPTY_BLOB_TYPE:
                    raw = manager._open_blob(thread_id, ns, blob)
                    elements: dict[str, tuple[str, bytes]] = {}
                    if blob.payload_type in MANIFEST_TYPES:  # a list stored element by element
                        hashes = {h for _, h in manifest_entries(blob.payload_type, raw)}
                        elements = manager._load_elements(
                            thread_id, ns, hashes, lambda keys: manager._read_blobs(thread_id, ns, keys)
                        )
                    seeds[ch] = (blob.payload_type, raw, elements)
            writes = [
                manager._open_write(thread_id, ns, rec.checkpoint_id, w)
                for w in bundle.writes
                if w.channel in remaining
            ]
            writes.sort(key=lambda w: (w.task_path, w.task_id, w.idx))
            steps.append((writes, seeds))
            remaining.difference_update(seeds)
            cursor = rec.parent_checkpoint_id
        return steps

    def iter_langgraph_bundles(self, query: RecordQuery) -> Iterator[OpenedBundle]:
        """Bundles for every record ``query`` selects, newest first, blobs and writes batched."""
        self._require_open()
        for record in self._query_records(query):
            blobs = self._read_blobs_cached(record.thread_id, record.checkpoint_ns, list(record.channel_versions.items()))
            writes = self._read_writes(record.thread_id, record.checkpoint_ns, record.checkpoint_id)
            opened = self._listed_bundle(StoredBundle(record, blobs, writes))
            if opened is not None:
                yield opened

    def _listed_bundle(self, bundle: StoredBundle) -> OpenedBundle | None:
        """A listed checkpoint opened; None when it was deleted after the listing (a prune or
        retention pass ran in between, and its values went with it). A checkpoint still there
        with values missing is damage: ``IntegrityError``."""
        try:
            return self._attach_elements(self._open_bundle(bundle))
        except IntegrityError:
            rec = bundle.record
            if self._read_record(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id) is None:
                return None
            raise

    def query_records(self, query: RecordQuery) -> list[StoredRecord]:
        """Plain records (payloads sealed) -- for operators and tools."""
        self._require_open()
        return list(self._query_records(query))

    def list_thread_ids(self) -> list[str]:
        self._require_open()
        return sorted(self._list_thread_ids())

    def delete_thread(self, thread_id: str) -> None:
        """Remove a whole thread: every namespace, checkpoint, blob and write."""
        self._require_open()
        self._delete_thread(thread_id)
        self._blob_cache.discard_where(lambda k: k[0] == thread_id)
        self._known_elements.discard_thread(thread_id)
        if self._trim is not None:
            self._trim.forget(thread_id)
        self._count("threads_deleted")

    def delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        """Delete checkpoints ``(ns, id)`` of one thread, their writes, and blobs no longer referenced."""
        self._require_open()
        if not keys:
            return 0
        removed = self._delete_checkpoints(thread_id, keys)
        self._collect_blobs(thread_id)
        self._count("checkpoints_deleted", removed)
        return removed

    def _collect_blobs(self, thread_id: str) -> int:
        """Delete blobs (and list elements) of ``thread_id`` that no remaining checkpoint references.

        The collection runs inside ``_collection_guard``: no checkpoint of the thread commits
        between the records read and the orphans deleted. One that did could name an orphan
        again -- a fork from a pruned checkpoint, a list back to earlier content, a writer
        naming an element it stored before -- and would lose it. Blob keys are also listed
        *before* the records are read, so a backend without a guard (S3, plugins that keep
        the default) still never deletes what such a checkpoint carries itself.
        """
        with self._collection_guard(thread_id):
            return self._collect_blobs_unguarded(thread_id)

    def _collection_guard(self, thread_id: str) -> contextlib.AbstractContextManager[Any]:
        """A critical section against checkpoint writes to ``thread_id`` for the whole of
        ``_collect_blobs`` (the memory manager: its lock; SQLite: one write transaction).
        The default guards nothing: see docs/plugins.md."""
        return contextlib.nullcontext()

    def _collect_blobs_unguarded(self, thread_id: str) -> int:
        candidates = list(self._list_blob_keys(thread_id))
        referenced: set[tuple[str, str, ChannelVersion]] = set()
        records = list(self._query_records(RecordQuery(thread_id=thread_id, include_payload=False)))
        damaged = [rec.checkpoint_id for rec in records if rec.damage]
        if damaged:
            # what a damaged record references is unknown: collecting could delete the values
            # a repair of that row would need. Nothing is collected until verify/repair.
            logger.warning(
                "blob collection of thread %r skipped: checkpoint(s) %s have damaged rows", thread_id, damaged[:3]
            )
            return 0
        for rec in records:
            for ch, ver in rec.channel_versions.items():
                referenced.add((rec.checkpoint_ns, ch, ver))
        if any(key[1] == ELEMENT_CHANNEL for key in candidates):
            for ns, h in self._referenced_elements(thread_id, records):
                referenced.add((ns, ELEMENT_CHANNEL, h))
        orphans = [key for key in candidates if key not in referenced]
        if orphans:
            self._delete_blobs(thread_id, orphans)
            self._blob_cache.discard_where(lambda k: k[0] == thread_id)
            self._known_elements.discard_thread(thread_id)
        return len(orphans)

    def _referenced_elements(self, thread_id: str, records: Iterable[StoredRecord]) -> set[tuple[str, str]]:
        """(ns, digest) of every element and list node the manifests of ``records`` reach."""
        out: set[tuple[str, str]] = set()
        seen: set[tuple[str, str, ChannelVersion]] = set()
        manifests: dict[str, list[tuple[str, bytes]]] = {}
        for rec in records:
            keys = [(ch, ver) for ch, ver in rec.channel_versions.items() if (rec.checkpoint_ns, ch, ver) not in seen]
            seen.update((rec.checkpoint_ns, ch, ver) for ch, ver in keys)
            for blob in self._read_blobs(thread_id, rec.checkpoint_ns, keys).values():
                if blob.payload_type in MANIFEST_TYPES:
                    body = self._open_blob(thread_id, rec.checkpoint_ns, blob)
                    manifests.setdefault(rec.checkpoint_ns, []).append((blob.payload_type, body))
        for ns, found in manifests.items():
            # strict=False: a node already missing must not stop the collection of the rest
            out.update((ns, h) for h in self._element_closure(thread_id, ns, found, strict=False))
        return out

    def _thread_values(
        self, thread_id: str, records: Sequence[StoredRecord]
    ) -> dict[str, dict[BlobKey, tuple[str, bytes]]]:
        """Per namespace, the opened ``(payload_type, bytes)`` of every blob the LangGraph
        ``records`` of one thread name, and of every list element and node their manifests
        reach, as the store holds them now. What is missing is left out (``_value_gaps``
        names it): a record listed earlier may have been deleted since, with its values."""
        out: dict[str, dict[BlobKey, tuple[str, bytes]]] = {}
        lg = [r for r in records if r.kind == RecordKind.LANGGRAPH.value]
        for ns in sorted({r.checkpoint_ns for r in lg}):
            keys = list(dict.fromkeys(key for r in lg if r.checkpoint_ns == ns for key in r.channel_versions.items()))
            found: dict[BlobKey, StoredBlob] = {}
            for i in range(0, len(keys), 1000):
                found.update(self._read_blobs(thread_id, ns, keys[i : i + 1000]))
            opened = {
                key: (b.payload_type, b"" if b.payload_type == EMPTY_BLOB_TYPE else self._open_blob(thread_id, ns, b))
                for key, b in found.items()
            }
            asked: set[str] = set()
            frontier = {h for typ, body in opened.values() if typ in MANIFEST_TYPES for _, h in manifest_entries(typ, body)}
            while frontier:  # a tree level per batch
                asked |= frontier
                stored = self._read_blobs(thread_id, ns, [(ELEMENT_CHANNEL, h) for h in sorted(frontier)])
                children: set[str] = set()
                for key, b in stored.items():
                    body = self._open_blob(thread_id, ns, b)
                    opened[key] = (b.payload_type, body)
                    if b.payload_type == NODE_TYPE:
                        children.update(h for _, h in node_entries(body))
                frontier = children - asked
            out[ns] = opened
        return out

    def _still_whole(
        self,
        thread_id: str,
        records: Sequence[StoredRecord],
        values: Mapping[str, Mapping[BlobKey, tuple[str, bytes]]],
        what: str,
    ) -> list[StoredRecord]:
        """``records`` of one thread, listed before their values (``_thread_values``) and
        writes were read, minus those deleted since; a record still there whose values are
        not all found is damage: ``IntegrityError``, before anything is written.

        A record that exists both when listed and now existed all along (checkpoint ids are
        never reused), so whatever it names was there when read: retention deletes a record
        before it collects the values only that record named. A record gone by now was
        deleted concurrently (a prune, ``delete_for_runs``, a cron cleanup): it is left out,
        whole -- its values or writes may have been read after it went -- and the copy or
        export shows the later state."""
        if not records:
            return []
        if len(records) <= 4:
            alive = {
                (r.checkpoint_ns, r.checkpoint_id)
                for r in records
                if self._read_record(thread_id, r.checkpoint_ns, r.checkpoint_id) is not None
            }
        else:
            alive = {
                (r.checkpoint_ns, r.checkpoint_id)
                for r in self._query_records(RecordQuery(thread_id=thread_id, include_payload=False))
            }
        return self._keep_whole(thread_id, records, values, alive, what)

    @staticmethod
    def _keep_whole(
        thread_id: str,
        records: Sequence[StoredRecord],
        values: Mapping[str, Mapping[BlobKey, tuple[str, bytes]]],
        alive: set[tuple[str, str]],
        what: str,
    ) -> list[StoredRecord]:
        """``_still_whole`` once ``alive`` -- the (ns, id) of the thread's records now -- is known."""
        kept = []
        memos: dict[str, dict[str, int]] = {}
        for rec in records:
            if (rec.checkpoint_ns, rec.checkpoint_id) not in alive:
                logger.info("%s: checkpoint %r of thread %r was deleted meanwhile; left out", what, rec.checkpoint_id, thread_id)
                continue
            if rec.kind == RecordKind.LANGGRAPH.value:
                gaps = _value_gaps(rec, values.get(rec.checkpoint_ns, {}), memos.setdefault(rec.checkpoint_ns, {}))
                if gaps:
                    raise IntegrityError(
                        f"{what}: checkpoint {rec.checkpoint_id!r} of thread {thread_id!r} (namespace "
                        f"{rec.checkpoint_ns!r}) is stored, but {'; '.join(gaps)} cannot be read: the source is "
                        "damaged (lgckpt verify --thread reports it); nothing of that checkpoint was written"
                    )
            kept.append(rec)
        return kept

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of a thread under a new thread id.

        Payloads are re-sealed because encryption binds each one to its thread. Everything
        is read first, then written in id order, each checkpoint with the values it is the
        first to name (so a reader of the target never sees a checkpoint without them). A
        checkpoint deleted while the copy reads is left out; one whose values are missing
        though it is still there raises ``IntegrityError`` before anything is written
        (``_still_whole``).
        """
        self._require_open()
        _check_id(target_thread_id, "target_thread_id")
        records = list(self._query_records(RecordQuery(thread_id=source_thread_id)))
        records.sort(key=lambda r: (r.checkpoint_ns, r.checkpoint_id))
        values = self._thread_values(source_thread_id, records)
        writes: dict[tuple[str, str], list[OpenedWrite]] = {}
        for ns in sorted({r.checkpoint_ns for r in records}):
            cids = [r.checkpoint_id for r in records if r.checkpoint_ns == ns]
            for cid, found in self._read_writes_many(source_thread_id, ns, cids).items():
                writes[(ns, cid)] = [self._open_write(source_thread_id, ns, cid, w) for w in found]
        records = self._still_whole(source_thread_id, records, values, f"copy of thread {source_thread_id!r}")
        sent: set[tuple[str, BlobKey]] = set()
        for rec in records:
            ns = rec.checkpoint_ns
            # this config's plaintext rule, whatever the source record was written under
            payload_type, payload, plain = self._apply_plaintext_rule(
                rec.kind, rec.payload_type, self._open_record(rec), rec.metadata, strict=False
            )
            new_blobs = [
                (ns, self.seal_blob(target_thread_id, ns, ch, ver, typ, body))
                if typ != EMPTY_BLOB_TYPE
                else (ns, StoredBlob(ch, ver, EMPTY_BLOB_TYPE, b"", ""))
                for (ch, ver), (typ, body) in _first_named(rec, values.get(ns, {}), sent)
            ]
            sealed, checksum = self._seal(payload, self._record_aad(target_thread_id, ns, rec.checkpoint_id))
            copy = StoredRecord(
                thread_id=target_thread_id,
                checkpoint_ns=ns,
                checkpoint_id=rec.checkpoint_id,
                parent_checkpoint_id=rec.parent_checkpoint_id,
                workflow_id=rec.workflow_id,
                kind=rec.kind,
                payload_type=payload_type,
                payload=sealed,
                checksum=checksum,
                size=rec.size,
                created_at=rec.created_at,
                updated_at=time.time(),
                status=rec.status,
                tags=list(rec.tags),
                metadata=plain,
                channel_versions=dict(rec.channel_versions),
            )
            self._write_checkpoint(copy, new_blobs)
            found = writes.get((ns, rec.checkpoint_id))
            if found:
                self.put_langgraph_writes(
                    thread_id=target_thread_id,
                    checkpoint_ns=ns,
                    checkpoint_id=rec.checkpoint_id,
                    writes=[tuple(w) for w in found],
                    replace=True,
                )
        self._count("threads_copied")

    def delete_for_runs(self, run_ids: Sequence[str]) -> int:
        """Delete every checkpoint whose metadata ``run_id`` is one of ``run_ids``.

        A run id of None or ``""`` matches nothing (``_run_ids``)."""
        self._require_open()
        removed = 0
        for run_id in _run_ids(run_ids):
            by_thread: dict[str, list[tuple[str, str]]] = {}
            for rec in self._query_records(RecordQuery(metadata={"run_id": run_id}, include_payload=False)):
                by_thread.setdefault(rec.thread_id, []).append((rec.checkpoint_ns, rec.checkpoint_id))
            for thread_id, keys in by_thread.items():
                removed += self.delete_checkpoints(thread_id, keys)
        return removed

    def prune_thread(self, thread_id: str, *, keep_last: int = 1) -> int:
        """Keep the newest ``keep_last`` checkpoints of each namespace (plus what they need).

        Never removes a namespace's head, an archived checkpoint, or an ancestor a
        kept checkpoint's ``DeltaChannel`` values are rebuilt from (see
        ``_delta_protected``). ``keep_last=0`` deletes the thread.
        """
        self._require_open()
        if keep_last <= 0:
            count = sum(1 for _ in self._query_records(RecordQuery(thread_id=thread_id, include_payload=False)))
            self.delete_thread(thread_id)
            return count
        return self.delete_checkpoints(thread_id, self._prune_plan(thread_id, keep_last))

    def _prune_plan(self, thread_id: str, keep_last: int) -> list[tuple[str, str]]:
        """The (ns, checkpoint_id) keys ``prune_thread(keep_last=...)`` removes."""
        by_ns: dict[str, list[StoredRecord]] = {}
        for rec in self._query_records(RecordQuery(thread_id=thread_id, include_payload=False)):
            by_ns.setdefault(rec.checkpoint_ns, []).append(rec)
        doomed: list[tuple[str, str]] = []
        for ns, recs in by_ns.items():
            recs.sort(key=lambda r: r.checkpoint_id, reverse=True)
            if recs and recs[0].kind != RecordKind.LANGGRAPH.value:
                recs.sort(key=lambda r: (r.created_at, r.checkpoint_id), reverse=True)
            # the newest keep_last, and every archived checkpoint: all must read back whole
            kept = recs[:keep_last] + [r for r in recs[keep_last:] if r.status == CheckpointStatus.ARCHIVED.value]
            protected = self._delta_protected(kept, {r.checkpoint_id: r for r in recs})
            keep = protected.union(r.checkpoint_id for r in kept)
            doomed.extend((ns, rec.checkpoint_id) for rec in recs[keep_last:] if rec.checkpoint_id not in keep)
        return doomed

    @staticmethod
    def _delta_protected(kept: Sequence[StoredRecord], by_id: Mapping[str, StoredRecord]) -> set[str]:
        """Ancestors of kept checkpoints that their DeltaChannel values still depend on.

        LangGraph records ``counters_since_delta_snapshot`` ({channel: (updates,
        supersteps)}) in checkpoint metadata for every delta channel *not*
        snapshotted at that checkpoint. Walking parents from a kept checkpoint,
        a channel is resolved at the first ancestor where it is absent from the
        counters (that ancestor holds its snapshot); every ancestor visited
        until all channels resolve -- and that resolving ancestor, whose writes
        feed the replay -- must stay.

        A protected ancestor is itself kept (listed, readable), so its own delta channels
        are followed the same way: every checkpoint retention keeps reads back whole.
        Each (checkpoint, channel) is walked through once, so the cost stays linear in
        the namespace's size.
        """
        protected: set[str] = set()
        #: channels already followed from each checkpoint (as the start of a walk or on the way)
        walked: dict[str, set[str]] = {}
        todo: list[StoredRecord] = list(kept)
        while todo:
            rec = todo.pop()
            pending = set((rec.metadata.get("counters_since_delta_snapshot") or {}).keys())
            pending -= walked.setdefault(rec.checkpoint_id, set())
            walked[rec.checkpoint_id] |= pending
            cursor = rec.parent_checkpoint_id
            while pending and cursor is not None:
                ancestor = by_id.get(cursor)
                if ancestor is None:
                    break
                if cursor not in protected:
                    protected.add(cursor)
                    todo.append(ancestor)  # its own delta channels, walked in turn
                counters = ancestor.metadata.get("counters_since_delta_snapshot") or {}
                pending &= set(counters.keys())
                done = walked.setdefault(cursor, set())
                pending -= done  # a walk through here already went on for these channels
                done |= pending
                cursor = ancestor.parent_checkpoint_id
        return protected

    # ------------------------------------------------------------------ retention
    def cleanup_checkpoints(self, max_age: float | None = None, max_count: int | None = None) -> int:
        """Apply retention now; returns how many checkpoints were removed.

        ``max_age`` (seconds): a thread whose newest checkpoint is older is removed
        whole (a LangGraph thread is never cut in the middle), and so is a manager-API
        record older than that. ``max_count``: each thread namespace keeps its newest
        ``max_count`` checkpoints (see ``prune_thread``). Archived checkpoints are kept.
        """
        return self._apply_retention(max_age=max_age, max_count=max_count, dry_run=False)["removed"]

    def plan_cleanup(self, max_age: float | None = None, max_count: int | None = None) -> dict[str, Any]:
        """What ``cleanup_checkpoints`` would remove, without removing anything."""
        return self._apply_retention(max_age=max_age, max_count=max_count, dry_run=True)

    def _apply_retention(self, *, max_age: float | None, max_count: int | None, dry_run: bool) -> dict[str, Any]:
        self._require_open()
        now = time.time()
        removed = 0
        threads_removed: list[str] = []
        trimmed: dict[str, int] = {}
        for thread_id in list(self._list_thread_ids()):
            if self._stop_event.is_set():
                break  # closing: the pass ends here (what it removed so far is reported)
            records = list(self._query_records(RecordQuery(thread_id=thread_id, include_payload=False)))
            if not records:
                continue
            if max_age is not None:
                newest = max(r.created_at for r in records)
                archived = any(r.status == CheckpointStatus.ARCHIVED.value for r in records)
                is_langgraph = any(r.kind == RecordKind.LANGGRAPH.value for r in records)
                if newest < now - max_age and not archived:
                    threads_removed.append(thread_id)
                    removed += len(records)
                    if not dry_run:
                        self.delete_thread(thread_id)
                    continue
                if not is_langgraph:
                    old = [
                        (r.checkpoint_ns, r.checkpoint_id)
                        for r in records
                        if r.created_at < now - max_age and r.status != CheckpointStatus.ARCHIVED.value
                    ]
                    if old:
                        removed += len(old)
                        trimmed[thread_id] = trimmed.get(thread_id, 0) + len(old)
                        if not dry_run:
                            self.delete_checkpoints(thread_id, old)
                        records = [r for r in records if (r.checkpoint_ns, r.checkpoint_id) not in set(old)]
            if max_count is not None and max_count > 0:
                per_ns: dict[str, int] = {}
                for r in records:
                    per_ns[r.checkpoint_ns] = per_ns.get(r.checkpoint_ns, 0) + 1
                if any(n > max_count for n in per_ns.values()):
                    plan = self._prune_plan(thread_id, max_count)
                    n = len(plan) if dry_run else self.delete_checkpoints(thread_id, plan)
                    if n:
                        trimmed[thread_id] = trimmed.get(thread_id, 0) + n
                        removed += n
        result = {"removed": removed, "threads_removed": threads_removed, "trimmed": trimmed, "dry_run": dry_run}
        if not dry_run:
            self._count("cleanup_removed", removed)
            self.last_cleanup = {"at": now, **result}
        return result

    def _after_write(self, thread_id: str, checkpoint_ns: str, *, root: bool = False) -> None:
        """Hook after each checkpoint write: enforce ``max_checkpoints`` on that thread namespace
        (``TrimPolicy``: no I/O unless a count or a trim is due). ``root``: the checkpoint has no
        parent (a namespace's first)."""
        trim = self._trim
        if trim is None:
            return
        action = trim.on_write(thread_id, checkpoint_ns, root=root)
        if action == COUNT:
            due = trim.counted(thread_id, checkpoint_ns, self._count_namespace(thread_id, checkpoint_ns))
        else:
            due = action == TRIM
        if due:
            self.prune_thread(thread_id, keep_last=trim.max_checkpoints)
            trim.trimmed(thread_id)

    def _count_namespace(self, thread_id: str, checkpoint_ns: str) -> int:
        """How many checkpoints (thread_id, checkpoint_ns) holds (backends with a cheaper count override)."""
        query = RecordQuery(thread_id=thread_id, checkpoint_ns=checkpoint_ns, include_payload=False)
        return sum(1 for _ in self._query_records(query))

    def _start_cleanup_worker(self) -> None:
        interval = self.params.cleanup_interval
        if not interval or interval <= 0:
            return
        if not (self.params.max_checkpoints or self.params.retention_max_age):
            return

        def work() -> None:
            while not self._stop_event.wait(interval):
                try:
                    self._apply_retention(
                        max_age=self.params.retention_max_age,
                        max_count=self.params.max_checkpoints,
                        dry_run=False,
                    )
                except Exception as exc:  # the worker must survive a transient backend error
                    if self._stop_event.is_set():
                        # close() interrupted the pass (the manager refuses work, or the backend
                        # is going away): not a failure; the next process's cleanup goes on
                        logger.debug("background cleanup of manager %r stopped by close(): %r", self.name, exc)
                        return
                    if isinstance(exc, CkptError):
                        logger.warning("background cleanup of manager %r failed: %s", self.name, exc)
                    else:
                        logger.exception("background cleanup of manager %r failed", self.name)

        self._cleanup_thread = threading.Thread(target=work, name=f"lgckpt-cleanup-{self.name}", daemon=True)
        self._cleanup_thread.start()

    # ------------------------------------------------------------------ the sketch's data API
    def save_checkpoint(
        self,
        checkpoint_id: str,
        data: dict[str, Any] | bytes | BinaryIO,
        workflow_id: str,
        thread_id: str,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> CheckpointMetadata:
        self._require_open()
        _check_id(checkpoint_id, "checkpoint_id")
        _check_id(thread_id, "thread_id")
        _check_id(workflow_id, "workflow_id")
        if isinstance(data, (bytes, bytearray, memoryview)):
            raw, payload_type = bytes(data), "data:bytes"
        elif hasattr(data, "read"):
            raw = data.read()
            if not isinstance(raw, bytes):
                raise InvalidInputError("a file object passed as data must be opened in binary mode")
            payload_type = "data:bytes"
        elif isinstance(data, Mapping):
            if not self.params.serialization_enabled:
                raise InvalidInputError(
                    "serialization_enabled is false: pass bytes or a binary file, or enable serialization"
                )
            raw = self.serializer.dumps(dict(data))
            payload_type = f"data:{self.serializer.name}"
        else:
            raise InvalidInputError(f"data must be a dict, bytes or a binary file object, got {type(data).__name__}")
        md = dict(metadata or {})
        try:
            json.dumps(md)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"metadata must be JSON-serializable: {exc}") from None
        plain = self.plaintext_metadata(md)
        if plain != md:  # keys withheld from plaintext (client encryption): sealed with the data
            payload_type, raw = sealed_metadata.wrap(payload_type, raw, md)
        sealed, checksum = self._seal(raw, self._record_aad(thread_id, "", checkpoint_id))
        now = time.time()
        record = StoredRecord(
            thread_id=thread_id,
            checkpoint_ns="",
            checkpoint_id=checkpoint_id,
            parent_checkpoint_id=None,
            workflow_id=workflow_id,
            kind=RecordKind.DATA.value,
            payload_type=payload_type,
            payload=sealed,
            checksum=checksum,
            size=len(sealed),
            created_at=now,
            updated_at=now,
            status=CheckpointStatus.ACTIVE.value,
            tags=list(tags or []),
            metadata=plain,
            channel_versions={},
        )
        self._write_checkpoint(record, [])
        self._count("checkpoints_written")
        self._after_write(thread_id, "")
        meta = self._to_metadata(record)
        meta.metadata = md
        return meta

    def _resolve(self, checkpoint_id: str, thread_id: str | None, checkpoint_ns: str) -> StoredRecord:
        _check_id(checkpoint_id, "checkpoint_id")
        if thread_id is not None:
            rec = self._read_record(thread_id, checkpoint_ns, checkpoint_id)
            if rec is None:
                raise CheckpointNotFoundError(
                    f"checkpoint {checkpoint_id!r} not found in thread {thread_id!r} (namespace {checkpoint_ns!r})"
                )
            return rec
        matches = list(self._query_records(RecordQuery(checkpoint_id=checkpoint_id, limit=2)))
        if not matches:
            raise CheckpointNotFoundError(f"checkpoint {checkpoint_id!r} not found")
        if len(matches) > 1:
            where = ", ".join(f"thread {m.thread_id!r} ns {m.checkpoint_ns!r}" for m in matches)
            raise AmbiguousCheckpointError(
                f"checkpoint id {checkpoint_id!r} exists in several places ({where}, ...); pass thread_id="
            )
        return matches[0]

    def _find(self, checkpoint_id: str, thread_id: str | None, checkpoint_ns: str) -> StoredRecord | None:
        try:
            return self._resolve(checkpoint_id, thread_id, checkpoint_ns)
        except CheckpointNotFoundError:
            return None

    def load_checkpoint(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> dict[str, Any] | bytes:
        """What ``save_checkpoint`` stored; for a LangGraph checkpoint, a decoded view:
        ``{"checkpoint", "metadata", "channel_values", "pending_writes", "parent_checkpoint_id"}``."""
        self._require_open()
        rec = self._resolve(checkpoint_id, thread_id, checkpoint_ns)
        self._count("checkpoints_read")
        if rec.kind == RecordKind.LANGGRAPH.value:
            bundle = self.get_langgraph_bundle(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id)
            assert bundle is not None
            return self.decode_langgraph(bundle)
        raw = self._open_record(rec)
        return self._decode_data(rec.payload_type, raw)

    def _decode_data(self, payload_type: str, raw: bytes) -> dict[str, Any] | bytes:
        payload_type, raw, _ = sealed_metadata.unwrap(payload_type, raw)
        if payload_type == "data:bytes":
            return raw
        from langgraph_ckpt_config.codecs import get_serializer

        fmt = payload_type.split(":", 1)[1]
        return get_serializer(fmt, self.params.serialization_options).loads(raw)

    def decode_langgraph(self, bundle: OpenedBundle) -> dict[str, Any]:
        """Decode a LangGraph bundle with ``self.serde`` (for operators, not the hot path)."""
        serde = self.serde
        doc = serde.loads_typed((bundle.record.payload_type, bundle.payload))
        if isinstance(doc, dict) and "checkpoint" in doc:
            checkpoint, metadata = dict(doc["checkpoint"]), doc.get("metadata") or {}
        else:  # not written by ConfigCheckpointSaver: show the payload as it is
            checkpoint, metadata = {"payload": doc}, {}
        values = {}
        for (ch, _ver), (typ, raw) in bundle.blobs.items():
            if typ in MANIFEST_TYPES:
                values[ch] = [serde.loads_typed(item) for item in expand(typ, raw, bundle.elements)]
            elif typ != EMPTY_BLOB_TYPE:
                values[ch] = serde.loads_typed((typ, raw))
        checkpoint["channel_values"] = values
        return {
            "checkpoint": checkpoint,
            "metadata": metadata,
            "channel_values": values,
            "pending_writes": [(w.task_id, w.channel, serde.loads_typed((w.payload_type, w.data))) for w in bundle.writes],
            "parent_checkpoint_id": bundle.record.parent_checkpoint_id,
        }

    def delete_checkpoint(self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = "") -> bool:
        self._require_open()
        rec = self._find(checkpoint_id, thread_id, checkpoint_ns)
        if rec is None:
            return False
        return self.delete_checkpoints(rec.thread_id, [(rec.checkpoint_ns, rec.checkpoint_id)]) > 0

    def list_checkpoints(
        self,
        workflow_id: str | None = None,
        thread_id: str | None = None,
        status: CheckpointStatus | None = None,
        tags: list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        *,
        checkpoint_ns: str | None = None,
        metadata: dict[str, Any] | None = None,
        order: str = "created_at",
    ) -> list[CheckpointMetadata]:
        self._require_open()
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit must be a non-negative integer, got {limit!r}")
        if offset is not None and (not isinstance(offset, int) or offset < 0):
            raise InvalidInputError(f"offset must be a non-negative integer, got {offset!r}")
        in_store = not metadata or self.can_filter_in_store(metadata)
        query = RecordQuery(
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            workflow_id=workflow_id,
            status=CheckpointStatus(status).value if status is not None else None,
            tags=tags,
            metadata=metadata if in_store else None,
            order=order,  # type: ignore[arg-type]
            limit=limit if in_store else None,
            offset=(offset or 0) if in_store else 0,
            include_payload=False,
        )
        records: Iterable[StoredRecord] = self._query_records(query)
        if not in_store:  # keys that records written encrypted keep sealed: checked after opening
            assert metadata is not None
            records = itertools.islice(
                (r for r in records if _metadata_matches(self._full_metadata(r), metadata)),
                offset or 0,
                None if limit is None else (offset or 0) + limit,
            )
        return [self._to_metadata(r) for r in records]

    def get_checkpoint_metadata(
        self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> CheckpointMetadata | None:
        """The record's whole metadata (with client encryption, also the keys kept sealed in its
        payload; ``list_checkpoints`` shows the plaintext part only)."""
        self._require_open()
        rec = self._find(checkpoint_id, thread_id, checkpoint_ns)
        if rec is None:
            return None
        meta = self._to_metadata(rec)
        meta.metadata = self._full_metadata(rec)
        return meta

    def update_checkpoint_metadata(
        self, checkpoint_id: str, metadata: dict[str, Any], *, thread_id: str | None = None, checkpoint_ns: str = ""
    ) -> bool:
        self._require_open()
        rec = self._find(checkpoint_id, thread_id, checkpoint_ns)
        if rec is None:
            return False
        try:
            json.dumps(metadata)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"metadata must be JSON-serializable: {exc}") from None
        merged = {**rec.metadata, **metadata}
        if not (self.pipeline.has_keys or sealed_metadata.has_envelope(rec.payload_type)):
            # nothing sealed nor withheld: the plaintext column is the whole metadata
            return self._update_record(
                rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id, metadata=merged, updated_at=time.time()
            )
        return self._update_sealed_metadata(self._with_payload(rec), merged)

    def _update_sealed_metadata(self, rec: StoredRecord, merged: Mapping[str, Any]) -> bool:
        """``update_checkpoint_metadata`` under client encryption: keys withheld from plaintext go
        into the sealed payload (re-sealed, same associated data), the rest into the column."""
        raw = self._open_record(rec)
        payload_type, new_raw, plain = self._apply_plaintext_rule(rec.kind, rec.payload_type, raw, merged, strict=True)
        now = time.time()
        if new_raw is raw:
            return self._update_record(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id, metadata=plain, updated_at=now)
        sealed, checksum = self._seal(new_raw, self._record_aad(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id))
        assert rec.payload is not None
        self._write_checkpoint(
            dataclasses.replace(
                rec, payload_type=payload_type, payload=sealed, checksum=checksum, metadata=plain, updated_at=now,
                size=rec.size - len(rec.payload) + len(sealed),
            ),
            [],
        )
        return True

    def _set_status(self, checkpoint_id: str, status: CheckpointStatus, thread_id: str | None, ns: str) -> bool:
        self._require_open()
        rec = self._find(checkpoint_id, thread_id, ns)
        if rec is None:
            return False
        return self._update_record(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id, status=status.value, updated_at=time.time())

    def archive_checkpoint(self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = "") -> bool:
        return self._set_status(checkpoint_id, CheckpointStatus.ARCHIVED, thread_id, checkpoint_ns)

    def restore_checkpoint(self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = "") -> bool:
        """Archived -> active. A corrupted checkpoint is restored only if it verifies again."""
        self._require_open()
        rec = self._find(checkpoint_id, thread_id, checkpoint_ns)
        if rec is None:
            return False
        if rec.status == CheckpointStatus.CORRUPTED.value:
            try:
                failing = self.verify_report(rec.checkpoint_id, thread_id=rec.thread_id, checkpoint_ns=rec.checkpoint_ns)["problems"]
            except CheckpointNotFoundError:
                return False  # deleted meanwhile
            if failing:
                raise IntegrityError(f"checkpoint {checkpoint_id!r} still fails verification; it cannot be restored")
        return self._update_record(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id, status=CheckpointStatus.ACTIVE.value, updated_at=time.time())

    # ------------------------------------------------------------------ verify
    def verify_checkpoint(self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = "") -> bool:
        return not self.verify_report(checkpoint_id, thread_id=thread_id, checkpoint_ns=checkpoint_ns)["problems"]

    def verify_report(self, checkpoint_id: str, *, thread_id: str | None = None, checkpoint_ns: str = "") -> dict[str, Any]:
        """Check the payload, every referenced blob and every write; mark the record corrupted on failure.

        ``CheckpointNotFoundError`` when the checkpoint does not exist -- also when it is deleted
        while it is verified (its values then go missing with it, which is not damage: marking it
        finds no record). A loop that lists checkpoints first counts those as gone, not corrupted."""
        self._require_open()
        try:
            rec = self._resolve(checkpoint_id, thread_id, checkpoint_ns)
        except IntegrityError as exc:
            if thread_id is None:
                raise
            # The row itself cannot be read back: report it and mark it, without its payload.
            if not self._update_record(thread_id, checkpoint_ns, checkpoint_id, status=CheckpointStatus.CORRUPTED.value, updated_at=time.time()):
                raise CheckpointNotFoundError(
                    f"checkpoint {checkpoint_id!r} of thread {thread_id!r} (namespace {checkpoint_ns!r}) was deleted while it was verified"
                ) from exc
            self._count("verification_failures")
            return {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
                "problems": [f"record: {exc}"],
                "marked_corrupted": True,
            }
        problems: list[str] = [f"record: {rec.damage}"] if rec.damage is not None else []
        key_problems: list[str] = []
        tid, ns, cid = rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id

        def check(stored: bytes, checksum: str, aad: bytes, what: str) -> None:
            try:
                self.pipeline.verify_checksum(stored, checksum)
            except CkptError as exc:
                problems.append(f"{what}: {exc}")
                return
            try:
                self.pipeline.open(stored, aad)
            except EncryptionError as exc:
                # The stored bytes are the ones written (their checksum matches): a key that is
                # missing, unknown or wrong here is a configuration problem, not damage.
                key_problems.append(str(exc))
            except CkptError as exc:
                problems.append(f"{what}: {exc}")

        assert rec.payload is not None
        check(rec.payload, rec.checksum, self._record_aad(tid, ns, cid), "payload")
        if rec.kind == RecordKind.LANGGRAPH.value and not problems and not key_problems:
            problems += self._verify_channel_versions(rec)
        if rec.kind == RecordKind.LANGGRAPH.value:
            blobs = self._read_blobs(tid, ns, list(rec.channel_versions.items()))
            for ch, ver in rec.channel_versions.items():
                blob = blobs.get((ch, ver))
                if blob is None:
                    problems.append(f"blob {ch!r}@{ver}: missing")
                elif blob.payload_type != EMPTY_BLOB_TYPE:
                    check(blob.payload, blob.checksum, self._blob_aad(tid, ns, ch, ver), f"blob {ch!r}@{ver}")
                    if blob.payload_type in MANIFEST_TYPES:
                        problems += self._verify_elements(tid, ns, ch, ver, blob, check)
            for w in self._read_writes(tid, ns, cid):
                check(w.payload, w.checksum, self._write_aad(tid, ns, cid, w.task_id, w.idx), f"write {w.task_id}/{w.idx}")
        self._count("verifications")
        if problems:
            if not self._update_record(tid, ns, cid, status=CheckpointStatus.CORRUPTED.value, updated_at=time.time()):
                # What was missing went with the record (a prune, a cron cleanup): not damage.
                raise CheckpointNotFoundError(
                    f"checkpoint {cid!r} of thread {tid!r} (namespace {ns!r}) was deleted while it was verified"
                )
            self._count("verification_failures")
            logger.warning("checkpoint %r of thread %r failed verification: %s", cid, tid, "; ".join(problems))
        elif key_problems:
            # Not marked: marking would take a healthy thread offline over a key setting.
            self._count("verification_failures")
            # one line per distinct reason (usually one: every part uses the same key)
            key_problems = [f"{n} part(s) not decryptable: {why}" for why, n in Counter(key_problems).items()]
            logger.warning("checkpoint %r of thread %r could not be decrypted: %s", cid, tid, "; ".join(key_problems))
        elif rec.status == CheckpointStatus.CORRUPTED.value:
            # Marked by an earlier run, intact now (e.g. a blob restored): readable again.
            self._update_record(tid, ns, cid, status=CheckpointStatus.ACTIVE.value, updated_at=time.time())
        return {
            "thread_id": tid,
            "checkpoint_ns": ns,
            "checkpoint_id": cid,
            "problems": problems + key_problems,
            "marked_corrupted": bool(problems),
        }

    def _verify_channel_versions(self, rec: StoredRecord) -> list[str]:
        """The record's plaintext ``channel_versions`` (which choose the blobs read) against the
        sealed checkpoint's, when ``self.serde`` can read the payload (the payload just verified)."""
        try:
            raw = self.pipeline.open(rec.payload, self._record_aad(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id))
            doc = self.serde.loads_typed((rec.payload_type, raw))
            sealed = doc["checkpoint"]["channel_versions"]
        except Exception:  # another serde's payload, or not a saver's document: nothing to compare
            return []
        if not isinstance(sealed, dict) or sealed == rec.channel_versions:
            return []
        differing = sorted(ch for ch in {*sealed, *rec.channel_versions} if sealed.get(ch) != rec.channel_versions.get(ch))
        return [f"channel_versions: the plaintext versions differ from the sealed checkpoint's for {differing}"]

    def _verify_elements(self, tid: str, ns: str, ch: str, ver: ChannelVersion, blob: StoredBlob, check) -> list[str]:
        """Problems with the list elements a manifest names (missing ones; ``check`` reports damage)."""
        try:
            body = self.pipeline.open(blob.payload, self._blob_aad(tid, ns, ch, ver))
            hashes = sorted(self._element_closure(tid, ns, [(blob.payload_type, body)], strict=False))
        except CkptError:
            return []  # the manifest itself was already reported as damaged
        elements = self._read_blobs(tid, ns, [(ELEMENT_CHANNEL, h) for h in hashes])
        missing = []
        for h in hashes:
            el = elements.get((ELEMENT_CHANNEL, h))
            if el is None:
                missing.append(f"list element {h[:16]}... of {ch!r}@{ver}: missing")
            else:
                check(el.payload, el.checksum, self._blob_aad(tid, ns, ELEMENT_CHANNEL, h), f"list element {h[:16]}...")
        return missing

    # ------------------------------------------------------------------ export / import
    def export_records(self, records: Iterable[StoredRecord]) -> dict[str, Any]:
        """A portable document (see ``docs/design.md``) holding the given records with
        their blobs and writes, codec undone so any manager can import it.

        Per thread the values and writes are read after the records were listed; a record
        deleted meanwhile is left out, one still there whose values cannot all be read raises
        ``IntegrityError`` (``_still_whole``): a document never holds half a checkpoint."""
        self._require_open()
        listed: list[StoredRecord] = []
        for rec in records:
            if rec.payload is None:
                rec = self._read_record(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id)
                if rec is None:
                    continue  # deleted since it was listed
            listed.append(rec)
        by_thread: dict[str, list[StoredRecord]] = {}
        for rec in listed:
            by_thread.setdefault(rec.thread_id, []).append(rec)
        values: dict[str, dict[str, dict[BlobKey, tuple[str, bytes]]]] = {}
        writes: dict[tuple[str, str, str], list[StoredWrite]] = {}
        kept: set[tuple[str, str, str]] = set()
        for tid, recs in by_thread.items():
            values[tid] = self._thread_values(tid, recs)
            for ns in sorted({r.checkpoint_ns for r in recs if r.kind == RecordKind.LANGGRAPH.value}):
                cids = [r.checkpoint_id for r in recs if r.checkpoint_ns == ns and r.kind == RecordKind.LANGGRAPH.value]
                for cid, found in self._read_writes_many(tid, ns, cids).items():
                    writes[(tid, ns, cid)] = found
            kept.update(
                (r.thread_id, r.checkpoint_ns, r.checkpoint_id)
                for r in self._still_whole(tid, recs, values[tid], f"export of thread {tid!r}")
            )
        out_records: list[dict[str, Any]] = []
        out_blobs: list[dict[str, Any]] = []
        out_writes: list[dict[str, Any]] = []
        sent: dict[str, set[tuple[str, BlobKey]]] = {}
        for rec in listed:
            tid, ns = rec.thread_id, rec.checkpoint_ns
            if (tid, ns, rec.checkpoint_id) not in kept:
                continue
            raw = self._open_record(rec)
            out_records.append(
                {
                    "thread_id": rec.thread_id,
                    "checkpoint_ns": rec.checkpoint_ns,
                    "checkpoint_id": rec.checkpoint_id,
                    "parent_checkpoint_id": rec.parent_checkpoint_id,
                    "workflow_id": rec.workflow_id,
                    "kind": rec.kind,
                    "status": rec.status,
                    "tags": rec.tags,
                    "metadata": rec.metadata,
                    "created_at": rec.created_at,
                    "channel_versions": rec.channel_versions,
                    "payload_type": rec.payload_type,
                    "data": base64.b64encode(raw).decode("ascii"),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                }
            )
            if rec.kind != RecordKind.LANGGRAPH.value:
                continue
            for (ch, ver), (typ, braw) in _first_named(rec, values[tid].get(ns, {}), sent.setdefault(tid, set())):
                out_blobs.append(
                    {
                        "thread_id": tid,
                        "checkpoint_ns": ns,
                        "channel": ch,
                        "version": ver,
                        "payload_type": typ,
                        "data": base64.b64encode(braw).decode("ascii"),
                    }
                )
            for w in writes.get((tid, ns, rec.checkpoint_id), []):
                opened = self._open_write(tid, ns, rec.checkpoint_id, w)
                out_writes.append(
                    {
                        "thread_id": tid,
                        "checkpoint_ns": ns,
                        "checkpoint_id": rec.checkpoint_id,
                        "task_id": w.task_id,
                        "idx": w.idx,
                        "channel": w.channel,
                        "payload_type": w.payload_type,
                        "task_path": w.task_path,
                        "data": base64.b64encode(opened.data).decode("ascii"),
                    }
                )
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": datetime.now(timezone.utc).isoformat(),
            "source_manager": self.name,
            "records": out_records,
            "blobs": out_blobs,
            "writes": out_writes,
        }

    def export_checkpoint(self, checkpoint_id: str, output_path: str, *, thread_id: str | None = None, checkpoint_ns: str = "") -> bool:
        rec = self._resolve(checkpoint_id, thread_id, checkpoint_ns)
        doc = self.export_records([rec])
        if not doc["records"]:
            raise CheckpointNotFoundError(f"checkpoint {checkpoint_id!r} of thread {rec.thread_id!r} was deleted while it was exported")
        _write_json_atomic(Path(output_path), doc)
        self._count("exports")
        return True

    def export_threads(self, thread_ids: Sequence[str], output_path: str | None = None) -> dict[str, Any]:
        """Export whole threads (every namespace and checkpoint); write to ``output_path`` if given."""
        self._require_open()
        records: list[StoredRecord] = []
        for tid in thread_ids:
            found = list(self._query_records(RecordQuery(thread_id=tid)))
            if not found:
                raise CheckpointNotFoundError(f"thread {tid!r} not found")
            records.extend(sorted(found, key=lambda r: (r.checkpoint_ns, r.checkpoint_id)))
        doc = self.export_records(records)
        if output_path is not None:
            _write_json_atomic(Path(output_path), doc)
        self._count("exports")
        return doc

    def import_checkpoint(
        self,
        input_path: str,
        metadata: dict[str, Any] | None = None,
        *,
        checkpoint_id: str | None = None,
        thread_id: str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Import an export file. Keeps the original ids unless ``checkpoint_id``/``thread_id``
        say otherwise (renaming a checkpoint is only allowed for single-record files).
        Returns the checkpoint id of the newest imported record."""
        doc = _read_export(Path(input_path))
        if checkpoint_id is not None and len(doc["records"]) != 1:
            raise InvalidInputError("checkpoint_id= can only rename a file holding exactly one checkpoint")
        keys = self.import_document(doc, thread_id=thread_id, checkpoint_id=checkpoint_id, overwrite=overwrite, metadata=metadata)
        return max(keys, key=lambda k: k[2])[2] if keys else ""

    def import_document(
        self,
        doc: Mapping[str, Any],
        *,
        thread_id: str | None = None,
        checkpoint_id: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, Any] | None = None,
        skip_existing: bool = False,
        progress: Callable[[], None] | None = None,
    ) -> list[tuple[str, str, str]]:
        """Import a parsed export document; returns (thread_id, ns, checkpoint_id) per imported record.

        The whole document is checked first (export_doc.py), and so is every conflict with
        what the store holds: a damaged or incomplete file, or a conflict, imports nothing.
        ``thread_id`` renames the thread (a file of one thread only); ``skip_existing`` leaves
        records that already exist untouched (a resumed migration) but still imports the
        file's pending writes of such a record, insert-if-absent, when it is the same checkpoint
        (same parent, kind and channel versions): a run stopped between a record and its writes
        is completed by the next; ``progress`` is called after each record written."""
        self._require_open()
        items = read_export(doc, renaming_thread=thread_id is not None, renaming_checkpoint=checkpoint_id is not None)
        # Every conflict before any write: a refused import leaves the store as it was.
        todo = []
        conflicts = []
        present = []  # (item, target) of records skipped as present whose writes are imported
        for item in items:
            src_tid, ns, src_cid = item.key
            target = (thread_id or src_tid, ns, checkpoint_id or src_cid)
            existing = None if overwrite else self._read_record(*target)
            if existing is not None:
                if not skip_existing:
                    conflicts.append(target)
                elif item.writes and _same_checkpoint(existing, item.fields):
                    present.append((item, target))
                continue
            todo.append((item, target))
        if conflicts:
            shown = ", ".join(f"{cid!r} of thread {tid!r}" for tid, _, cid in conflicts[:3])
            raise CheckpointExistsError(
                f"{len(conflicts)} checkpoint(s) of the file already exist ({shown}{', ...' if len(conflicts) > 3 else ''}); "
                "nothing was imported: import with overwrite (CLI: --overwrite) or under another thread id (CLI: --thread)"
            )
        imported: list[tuple[str, str, str]] = []
        counted: set[tuple[str, str, str, Any]] = set()
        addresses: dict[tuple[str, str], str] = {}
        for item, (tid, ns, cid) in present:
            # A record is written before its writes (``_import_item``): a run stopped between
            # the two left it without them. Insert-if-absent, special channels included: a
            # write already there is this import's own, or newer than the file's.
            self.put_langgraph_writes(thread_id=tid, checkpoint_ns=ns, checkpoint_id=cid, writes=item.writes, replace=False)
        for item, (tid, ns, cid) in todo:
            self._import_item(item, tid, ns, cid, metadata, counted, addresses)
            imported.append((tid, ns, cid))
            if progress is not None:
                progress()
        self._count("imports", len(imported))
        return imported

    def _import_item(
        self, item: ImportItem, tid: str, ns: str, cid: str, metadata: Mapping[str, Any] | None, counted: set,
        addresses: dict[tuple[str, str], str],
    ) -> None:
        """Write one checked record. ``counted``: the blobs whose bytes an earlier record of
        this import already counted in its ``size`` (as ``put`` counts a blob once, when the
        checkpoint that first stores it is written); ``addresses``: see ``_readdressed``."""
        fields = item.fields
        blobs = [
            (ns, StoredBlob(ch, ver, EMPTY_BLOB_TYPE, b"", "") if typ == EMPTY_BLOB_TYPE else self.seal_blob(tid, ns, ch, ver, typ, raw))
            for ch, ver, typ, raw in self._readdressed(tid, item.blobs, addresses)
        ]
        md = dict(fields.get("metadata") or {})
        if metadata:
            md.update(metadata)
        kind = fields.get("kind", RecordKind.DATA.value)
        # this store's plaintext rule, whatever the source's was (sealed metadata completes it)
        payload_type, raw, plain = self._apply_plaintext_rule(kind, fields["payload_type"], item.raw, md, strict=False)
        sealed, checksum = self._seal(raw, self._record_aad(tid, ns, cid))
        now = time.time()
        status = fields.get("status", CheckpointStatus.ACTIVE.value)
        record = StoredRecord(
            thread_id=tid,
            checkpoint_ns=ns,
            checkpoint_id=cid,
            parent_checkpoint_id=fields.get("parent_checkpoint_id"),
            workflow_id=fields.get("workflow_id") or self.params.default_workflow_id,
            kind=kind,
            payload_type=payload_type,
            payload=sealed,
            checksum=checksum,
            size=len(sealed) + sum(len(b.payload) for _, b in blobs if _first_time(counted, (tid, ns, b.channel, str(b.version)))),
            created_at=float(fields.get("created_at") or now),
            updated_at=now,
            status=CheckpointStatus.ACTIVE.value if status == CheckpointStatus.CORRUPTED.value else status,
            tags=list(fields.get("tags") or []),
            metadata=plain,
            channel_versions=dict(fields.get("channel_versions") or {}),
        )
        self._write_checkpoint(record, blobs)
        if item.writes:
            self.put_langgraph_writes(thread_id=tid, checkpoint_ns=ns, checkpoint_id=cid, writes=item.writes, replace=True)

    def _readdressed(
        self, thread_id: str, blobs: Sequence[tuple[str, Any, str, bytes]], addresses: dict[tuple[str, str], str]
    ) -> list[tuple[str, Any, str, bytes]]:
        """An imported record's blobs with its list elements and nodes under this store's
        addresses (``element_key``) when it encrypts: an export holds the source's addresses --
        unkeyed ones from an unencrypted store, another key's, another thread's -- which must not
        name content in an encrypted store. Manifests are rebuilt as tree manifests over the new
        addresses. ``addresses``: (thread, file address) -> new address, shared by the records of
        one import (an element is hashed once however many records name it)."""
        key = self.element_key(thread_id)
        if key is None or not any(blob[0] == ELEMENT_CHANNEL for blob in blobs):
            return list(blobs)
        elements = {ver: (typ, raw) for ch, ver, typ, raw in blobs if ch == ELEMENT_CHANNEL}
        out: list[tuple[str, Any, str, bytes]] = []
        added: set[str] = set()
        for ch, ver, typ, raw in blobs:
            if ch == ELEMENT_CHANNEL:
                continue
            if typ not in MANIFEST_TYPES:
                out.append((ch, ver, typ, raw))
                continue
            new: list[str] = []
            for old in expand_digests(typ, raw, elements):
                address = addresses.get((thread_id, old))
                if address is None:
                    address = addresses[(thread_id, old)] = element_digest(*elements[old], key)
                new.append(address)
                if address not in added:
                    added.add(address)
                    out.append((ELEMENT_CHANNEL, address, *elements[old]))
            body, nodes, _ = build_manifest(new, key=key)
            out.append((ch, ver, TREE_MANIFEST_TYPE, body))
            for address, node in nodes:
                if address not in added:
                    added.add(address)
                    out.append((ELEMENT_CHANNEL, address, NODE_TYPE, node))
        return out

    # ------------------------------------------------------------------ statistics
    def get_statistics(self) -> dict[str, Any]:
        self._require_open()
        by_status: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        total = 0
        size = 0
        threads: set[str] = set()
        oldest: float | None = None
        newest: float | None = None
        for rec in self._query_records(RecordQuery(include_payload=False)):
            total += 1
            size += rec.size or 0
            threads.add(rec.thread_id)
            by_status[rec.status] = by_status.get(rec.status, 0) + 1
            by_kind[rec.kind] = by_kind.get(rec.kind, 0) + 1
            oldest = rec.created_at if oldest is None else min(oldest, rec.created_at)
            newest = rec.created_at if newest is None else max(newest, rec.created_at)
        with self._counters_lock:
            counters = dict(self._counters)
        return {
            "manager": self.name,
            "backend": self.backend_name,
            "total_checkpoints": total,
            "total_threads": len(threads),
            "total_size_bytes": size,
            "storage_size_bytes": self._storage_size(),
            "by_status": by_status,
            "by_kind": by_kind,
            "oldest_checkpoint": _iso(oldest),
            "newest_checkpoint": _iso(newest),
            "compression": self.params.compression_algorithm if self.params.compression_enabled else "none",
            "encryption": bool(self.pipeline.is_encrypted),
            "operations": counters,
            "last_cleanup": self.last_cleanup,
        }

    def _to_metadata(self, rec: StoredRecord) -> CheckpointMetadata:
        return CheckpointMetadata(
            checkpoint_id=rec.checkpoint_id,
            workflow_id=rec.workflow_id,
            thread_id=rec.thread_id,
            timestamp=datetime.fromtimestamp(rec.created_at, timezone.utc),
            status=CheckpointStatus(rec.status),
            size=rec.size,
            checksum=rec.checksum,
            tags=list(rec.tags),
            metadata=dict(rec.metadata),
            checkpoint_ns=rec.checkpoint_ns,
            parent_checkpoint_id=rec.parent_checkpoint_id,
            kind=RecordKind(rec.kind),
        )

    # ------------------------------------------------------------------ async twins
    async def _to_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call off the event loop (backends with native async override the ``a*`` methods)."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def aput_langgraph_checkpoint(self, **kwargs: Any) -> None:
        await self._to_thread(lambda: self.put_langgraph_checkpoint(**kwargs))

    async def aput_langgraph_writes(self, **kwargs: Any) -> None:
        await self._to_thread(lambda: self.put_langgraph_writes(**kwargs))

    async def adelta_lineage(
        self, thread_id: str, ns: str, checkpoint_id: str | None, channels: Sequence[str]
    ) -> list[DeltaStep]:
        return await self._to_thread(self.delta_lineage, thread_id, ns, checkpoint_id, channels)

    async def aget_langgraph_bundle(self, thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None) -> OpenedBundle | None:
        return await self._to_thread(self.get_langgraph_bundle, thread_id, checkpoint_ns, checkpoint_id)

    async def alist_langgraph_bundles(self, query: RecordQuery) -> list[OpenedBundle]:
        return await self._to_thread(lambda: list(self.iter_langgraph_bundles(query)))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._to_thread(self.delete_thread, thread_id)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> int:
        return await self._to_thread(self.delete_for_runs, run_ids)

    async def aprune_thread(self, thread_id: str, *, keep_last: int = 1) -> int:
        return await self._to_thread(self.prune_thread, thread_id, keep_last=keep_last)

    async def asave_checkpoint(self, *args: Any, **kwargs: Any) -> CheckpointMetadata:
        return await self._to_thread(self.save_checkpoint, *args, **kwargs)

    async def aload_checkpoint(self, *args: Any, **kwargs: Any) -> dict[str, Any] | bytes:
        return await self._to_thread(self.load_checkpoint, *args, **kwargs)

    async def alist_checkpoints(self, *args: Any, **kwargs: Any) -> list[CheckpointMetadata]:
        return await self._to_thread(self.list_checkpoints, *args, **kwargs)

    async def aget_statistics(self) -> dict[str, Any]:
        return await self._to_thread(self.get_statistics)


# --------------------------------------------------------------------------- export file helpers
def _first_named(
    rec: StoredRecord, opened: Mapping[BlobKey, tuple[str, bytes]], sent: set[tuple[str, BlobKey]]
) -> list[tuple[BlobKey, tuple[str, bytes]]]:
    """The blobs of a thread copy (or export) that ``rec`` is the first to name, with the list
    elements and nodes their manifests reach; marks them ``sent``. ``opened``: the namespace's
    blobs (``_thread_values``)."""
    ns = rec.checkpoint_ns
    out = []
    stack: list[BlobKey] = list(rec.channel_versions.items())
    while stack:
        key = stack.pop()
        if (ns, key) in sent or key not in opened:
            continue
        sent.add((ns, key))
        typ, body = opened[key]
        out.append((key, (typ, body)))
        if typ in MANIFEST_TYPES:
            stack.extend((ELEMENT_CHANNEL, h) for _, h in manifest_entries(typ, body))
        elif typ == NODE_TYPE:
            stack.extend((ELEMENT_CHANNEL, h) for _, h in node_entries(body))
    return out


def _value_gaps(rec: StoredRecord, opened: Mapping[BlobKey, tuple[str, bytes]], memo: dict[str, int]) -> list[str]:
    """What ``opened`` (a namespace's values, ``_thread_values``) lacks of ``rec``'s: channel
    values, and list elements and nodes their manifests reach. ``memo`` (one per namespace)
    keeps what is missing under each digest, so a thread's records cost their manifests'
    entries beyond one walk of each distinct node."""

    def missing_under(digest: str) -> int:
        known = memo.get(digest)
        if known is not None:
            return known
        hit = opened.get((ELEMENT_CHANNEL, digest))
        if hit is None:
            n = 1
        elif hit[0] == NODE_TYPE:
            n = sum(missing_under(child) for _, child in node_entries(hit[1]))
        else:
            n = 0
        memo[digest] = n
        return n

    gaps = []
    for ch, ver in rec.channel_versions.items():
        hit = opened.get((ch, ver))
        if hit is None:
            gaps.append(f"the value of channel {ch!r} (version {ver!r})")
        elif hit[0] in MANIFEST_TYPES:
            n = sum(missing_under(h) for _, h in manifest_entries(*hit))
            if n:
                gaps.append(f"{n} list element(s) or node(s) of channel {ch!r} (version {ver!r})")
    return gaps


def _same_checkpoint(existing: StoredRecord, fields: Mapping[str, Any]) -> bool:
    """Whether a stored record is the checkpoint an export record describes (not another
    history's checkpoint under the same id): same parent, kind and channel versions."""
    return (
        existing.parent_checkpoint_id == fields.get("parent_checkpoint_id")
        and existing.kind == fields.get("kind", RecordKind.DATA.value)
        and existing.channel_versions == dict(fields.get("channel_versions") or {})
    )


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts is not None else None


def _write_json_atomic(path: Path, doc: Mapping[str, Any]) -> None:
    """The export file, replaced atomically: a crash leaves the old file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def _run_ids(run_ids: Iterable[Any]) -> list[Any]:
    """The ids ``delete_for_runs`` looks for: None and ``""`` dropped. LangGraph records a
    ``run_id`` in checkpoint metadata only when the caller passes one, so a checkpoint's
    ``metadata.get("run_id")`` is often None; as a metadata filter that would match every
    checkpoint *without* a run id, in every thread. (Like SQL's ``run_id IN (...)``, which
    never matches a NULL.)"""
    return [r for r in run_ids if r is not None and r != ""]


def _first_time(seen: set, key: Any) -> bool:
    """Whether ``key`` was not in ``seen`` (it is now)."""
    if key in seen:
        return False
    seen.add(key)
    return True


def _read_export(path: Path) -> dict[str, Any]:
    try:
        with path.open("r", encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise InvalidInputError(f"export file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not an export file (invalid JSON: {exc})") from None
    check_export(doc)
    return doc


