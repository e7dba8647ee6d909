"""``ConfigCheckpointSaver``: LangGraph's ``BaseCheckpointSaver`` over any checkpoint manager.

The saver holds no backend code. It maps LangGraph's model onto manager records
(see ``docs/design.md``):

* the checkpoint without its channel values, plus its metadata -> one payload;
* each channel value -> one blob per (thread, ns, channel, version), written only
  for channels in ``new_versions`` (an unchanged channel is never written again);
* pending writes -> one row per (checkpoint, task_id, idx), LangGraph's special
  channels on their negative ``WRITES_IDX_MAP`` indexes.

Serialization is LangGraph's own serde, read from ``self.serde`` at every call:
``graph.compile()`` replaces it through ``with_allowlist``, and a wrapper would
silently turn the msgpack allowlist off. The manager's codec pipeline
(compression, encryption, checksums) works below it on the serde's bytes.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import random
import threading
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    PendingWrite,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)

from langgraph_ckpt_config.element_memo import FingerprintMemo
from langgraph_ckpt_config.errors import CkptError, IntegrityError, InvalidInputError, StaleElementsError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager, DeltaStep, OpenedBundle
from langgraph_ckpt_config.managers.interfaces import RecordKind
from langgraph_ckpt_config.managers.listtree import (
    MANIFEST_TYPES,
    NODE_TYPE,
    TREE_MANIFEST_TYPE,
    build_manifest,
    element_digest,
    element_values,
    expand,
    expand_digests,
    manifest_entries,
    node_entries,
)
from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL, EMPTY_BLOB_TYPE, RecordQuery

logger = logging.getLogger(__name__)

#: Element objects remembered by ``list_storage_reuse_objects`` (per saver).
_ELEMENT_MEMO_SIZE = 100_000
#: Bytes of element fingerprints remembered per serde (default path; about an element's size each).
_FINGERPRINT_MEMO_BYTES = 64 * 1024 * 1024
#: Channels whose last stored list is remembered by the same option (per saver).
_REMEMBERED_LISTS = 1_000


class _RememberedList(NamedTuple):
    thread_id: str
    ns: str
    channel: str
    objects: list | None  # a copy (the caller's list may grow in place); only with object reuse
    hashes: list[str]
    levels: list[list[str]] | None  # node digests per tree level (build_manifest); None: unknown
    generation: int


def _thread_id(config: RunnableConfig) -> str:
    try:
        thread_id = config["configurable"]["thread_id"]
    except (KeyError, TypeError):
        raise InvalidInputError(
            "config is missing configurable.thread_id: pass {'configurable': {'thread_id': ...}}"
        ) from None
    if thread_id is None or thread_id == "":
        raise InvalidInputError("configurable.thread_id must not be empty")
    return str(thread_id)


def _in_a_run(configurable: Mapping[str, Any]) -> bool:
    """Whether a ``get_tuple`` comes from a graph run (``invoke``/``stream`` and their async
    twins), which will ``put`` the state it reads: LangGraph then passes its runtime in
    ``configurable`` under ``__pregel_*`` keys. Only a performance hint: a wrong answer costs
    a needless fingerprint or a needless serialization, never correctness."""
    return any(key.startswith("__pregel_") for key in configurable)


def _versions_mismatch(bundle: OpenedBundle, versions: Mapping[str, Any]) -> IntegrityError:
    """The sealed checkpoint names channel versions other than the record's plaintext
    ``channel_versions`` (which chose the blobs read): never a state silently missing a
    channel. (A value missing for a version the record names is the manager's
    ``IntegrityError`` already: ``_open_bundle``.)"""
    rec = bundle.record
    stored = rec.channel_versions
    channels = sorted(ch for ch in {*versions, *stored} if versions.get(ch) != stored.get(ch))
    return IntegrityError(
        f"checkpoint {rec.checkpoint_id!r} of thread {rec.thread_id!r}: the stored channel versions do not match "
        f"the sealed checkpoint's for channel(s) {channels}"
    )


def _undecodable(bundle: OpenedBundle, exc: Exception) -> IntegrityError:
    rec = bundle.record
    return IntegrityError(
        f"checkpoint {rec.checkpoint_id!r} of thread {rec.thread_id!r}: a stored value cannot be decoded "
        f"({type(exc).__name__}: {exc})"
    )


def _every_version(checkpoint: Checkpoint) -> ChannelVersions:
    """Every channel of the checkpoint as if new: a put that stores all of its values (after a
    ``StaleElementsError``; an existing value is kept, the same version holds the same value)."""
    return dict(checkpoint.get("channel_versions", {}))


def _created_at(checkpoint: Checkpoint) -> float:
    try:
        return datetime.fromisoformat(checkpoint["ts"]).timestamp()
    except (KeyError, TypeError, ValueError):
        import time

        return time.time()


class ConfigCheckpointSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer delegating storage to ``manager`` (sync and async).

    ``saver.manager`` is the same object operators use (``list_checkpoints``,
    ``verify_checkpoint``, ``export_threads``...). Used as a (async) context
    manager, the saver initializes the manager and closes it on exit.
    """

    manager: BaseCheckpointManager

    def __init__(self, manager: BaseCheckpointManager, *, serde: Any = None) -> None:
        super().__init__(serde=serde)
        self.manager = manager
        #: id(element) -> (element, digest) for ``list_storage_reuse_objects`` (the element is
        #: held so its id cannot be reused by another object while it is remembered)
        self._element_memo: OrderedDict[int, tuple[Any, str]] = OrderedDict()
        #: (thread, ns, channel) -> the list last stored there, for the same option
        self._lists: OrderedDict[tuple[str, str, str], _RememberedList] = OrderedDict()
        self._memo_lock = threading.Lock()
        #: serde -> addressing scheme -> elements it serialized before, by fingerprint of their
        #: state (the default path). Per serde: a digest is only as good as the serde that made
        #: it; per scheme (``manager.element_scheme``: unkeyed, or keyed under one encryption
        #: key): a digest is only an address under the scheme that computed it. Shared with the
        #: clones ``with_allowlist`` makes (``compile()``), each keeping its own serde.
        self._fingerprints: weakref.WeakKeyDictionary[Any, dict[bytes | None, FingerprintMemo]] = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> ConfigCheckpointSaver:
        self.manager.initialize()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> ConfigCheckpointSaver:
        await self.manager._to_thread(self.manager.initialize)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.manager.aclose()

    def close(self) -> None:
        self.manager.close()

    def __repr__(self) -> str:
        return f"<ConfigCheckpointSaver manager={self.manager!r}>"

    # ------------------------------------------------------------------ versions
    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """Monotonic string versions (``<counter:032>.<random:016>``) as LangGraph's own savers use."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # ------------------------------------------------------------------ mapping helpers
    def _put_kwargs(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> tuple[dict[str, Any], RunnableConfig, list[_RememberedList]]:
        """The manager call for ``put``, the next config, and the lists to remember once
        the write succeeded (``list_storage_reuse_objects``)."""
        serde = self.serde
        thread_id = _thread_id(config)
        configurable = config["configurable"]
        ns = configurable.get("checkpoint_ns", "") or ""
        stored = dict(checkpoint)
        values = stored.pop("channel_values", None) or {}
        md = get_serializable_checkpoint_metadata(config, metadata)
        payload_type, payload = serde.dumps_typed({"checkpoint": stored, "metadata": md})
        blobs: list[tuple[str, Any, str, bytes]] = []
        remember: list[_RememberedList] = []
        named: set[str] = set()  # list elements and nodes the new manifests and nodes name
        linear = getattr(self.manager.params, "list_storage", False)
        for channel, version in new_versions.items():
            if channel not in values:
                blobs.append((channel, version, EMPTY_BLOB_TYPE, b""))
            elif linear and type(values[channel]) is list:
                blobs.extend(self._list_blobs(thread_id, ns, channel, version, values[channel], blobs, remember, named))
            else:
                typ, raw = serde.dumps_typed(values[channel])
                blobs.append((channel, version, typ, raw))
        kwargs = {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint["id"],
            "parent_checkpoint_id": configurable.get("checkpoint_id"),
            "workflow_id": configurable.get("workflow_id"),
            "created_at": _created_at(checkpoint),
            "payload_type": payload_type,
            "payload": payload,
            "metadata": md,
            "channel_versions": checkpoint.get("channel_versions", {}),
            "blobs": blobs,
        }
        if named:
            # named but not carried: this process believes them stored; the manager checks
            # (another process may have deleted or pruned the thread since)
            carried = {b[1] for b in blobs if b[0] == ELEMENT_CHANNEL}
            must_exist = sorted(named - carried)
            if must_exist:
                kwargs["must_exist"] = must_exist
        next_config: RunnableConfig = {
            "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}
        }
        return kwargs, next_config, remember

    def _list_blobs(
        self, thread_id: str, ns: str, channel: str, version: Any, value: list, pending: list, remember: list, named: set
    ) -> list[tuple[str, Any, str, bytes]]:
        """Linear storage: a tree manifest plus each element and list node not yet stored.

        Each element is serialized on its own by the serde and content-addressed by a
        blake2b-128 of its type and bytes (keyed per thread when the store is encrypted:
        ``manager.element_key``), so a message shared by every later version of
        the list is stored once per thread; the nodes grouping a list's unchanged prefix
        are shared the same way (docs/design.md, "Linear storage"). An element whose
        fingerprint (element_memo.py) is unchanged since this process serialized it keeps
        its digest without being serialized again.
        """
        serde = self.serde
        manager = self.manager
        queued = {b[1] for b in pending if b[0] == ELEMENT_CHANNEL}
        out: list[tuple[str, Any, str, bytes]] = []
        reuse = getattr(manager.params, "list_storage_reuse_objects", False)
        previous = self._previous_list(thread_id, ns, channel, value) if reuse else None
        hashes: list[str] = list(previous.hashes) if previous is not None else []
        memo = self._fingerprint_memo(serde)
        key = manager.element_key(thread_id)
        todo = value if previous is None else value[len(hashes) :]
        # Elements unchanged since this process serialized them (element_memo.py), and
        # whether the thread holds them: one pass each, before the per-element loop.
        looked = memo.digests_of(todo) if memo is not None else [(None, None)] * len(todo)
        candidates = [d for d, _ in looked if d is not None]
        stored = dict(zip(candidates, manager.elements_known(thread_id, ns, candidates))) if candidates else {}
        for element, (known, fp) in zip(todo, looked):
            if reuse:
                hit = self._element_memo.get(id(element))
                if hit is not None and hit[0] is element and manager.element_known(thread_id, ns, hit[1]):
                    hashes.append(hit[1])
                    continue
            if known is not None and stored.get(known):
                hashes.append(known)
                continue
            # a bytearray inside a list comes back as bytes from every saver that serializes the
            # list whole (msgpack has one binary type); the serde keeps a top-level one as is
            typ, raw = serde.dumps_typed(bytes(element) if type(element) is bytearray else element)
            digest = element_digest(typ, raw, key)
            hashes.append(digest)
            if fp is not None:
                memo.remember(element, fp, digest)  # type: ignore[union-attr]
            if reuse:
                self._remember_object(element, digest)
            if digest not in queued and not manager.element_known(thread_id, ns, digest):
                queued.add(digest)
                out.append((ELEMENT_CHANNEL, digest, typ, raw))
        tree = previous if previous is not None else self._stored_tree(thread_id, ns, channel, hashes)
        if tree is not None and tree.levels is not None:  # only the nodes completed since are new
            body, nodes, levels = build_manifest(hashes, tree.levels, len(tree.hashes), key=key)
        else:
            body, nodes, levels = build_manifest(hashes, key=key)
        for digest, node in nodes:
            if digest in queued or manager.element_known(thread_id, ns, digest):
                continue
            queued.add(digest)
            out.append((ELEMENT_CHANNEL, digest, NODE_TYPE, node))
            named.update(child for _, child in node_entries(node))
        named.update(digest for _, digest in manifest_entries(TREE_MANIFEST_TYPE, body))
        out.append((channel, version, TREE_MANIFEST_TYPE, body))
        # remembered by put() once the write succeeded: then every element and node is stored
        objects = list(value) if reuse else None
        remember.append(_RememberedList(thread_id, ns, channel, objects, hashes, levels, manager.element_generation(thread_id)))
        return out

    def _fingerprint_memo(self, serde: Any) -> FingerprintMemo | None:
        """The memo of ``serde`` for the manager's addressing scheme (one dict lookup more than
        a memo per serde alone; a scheme never sees the other's digests)."""
        scheme = self.manager.element_scheme
        try:
            memos = self._fingerprints.get(serde)
            if memos is None:
                with self._memo_lock:
                    memos = self._fingerprints.setdefault(serde, {})
        except TypeError:  # a serde that cannot be weakly referenced: no memo, serialize every time
            return None
        memo = memos.get(scheme)
        if memo is None:
            with self._memo_lock:
                memo = memos.setdefault(scheme, FingerprintMemo(_FINGERPRINT_MEMO_BYTES))
        return memo

    def _stored_tree(self, thread_id: str, ns: str, channel: str, hashes: list[str]) -> _RememberedList | None:
        """The tree this saver last stored for the channel, when ``hashes`` (the new list's
        digests, computed from its content) start with that list's digests: its nodes are
        stored and need neither rebuilding nor checking. Safe without object reuse: the
        prefix is compared by content digest, not by object identity."""
        state = self._valid_state(thread_id, ns, channel)
        if state is None:
            return None
        n = len(state.hashes)
        return state if n <= len(hashes) and hashes[:n] == state.hashes else None

    def _valid_state(self, thread_id: str, ns: str, channel: str) -> _RememberedList | None:
        state = self._lists.get((thread_id, ns, channel))
        if state is None or state.generation != self.manager.element_generation(thread_id):
            return None
        if state.hashes and not self.manager.element_known(thread_id, ns, state.hashes[-1]):
            return None  # e.g. the thread may have expired (ttl) since it was remembered
        return state

    def _previous_list(self, thread_id: str, ns: str, channel: str, value: list) -> _RememberedList | None:
        """What this saver stored for the channel last, when ``value`` extends it with the
        very same objects (``list_storage_reuse_objects``): its digests need no new work."""
        state = self._valid_state(thread_id, ns, channel)
        if state is None or state.objects is None:
            return None
        n = len(state.objects)
        if n > len(value) or not all(map(operator.is_, state.objects, value)):  # stops after n
            return None
        return state

    def _remember_lists(self, lists: list[_RememberedList]) -> None:
        with self._memo_lock:
            for state in lists:
                key = (state.thread_id, state.ns, state.channel)
                self._lists[key] = state
                self._lists.move_to_end(key)
                if len(self._lists) > _REMEMBERED_LISTS:
                    self._lists.popitem(last=False)

    def _remember_object(self, element: Any, digest: str) -> None:
        if element is None or isinstance(element, (bool, int, float, str, bytes)):
            return  # cheap to serialize, and small ints/strings share ids
        with self._memo_lock:
            self._element_memo[id(element)] = (element, digest)
            if len(self._element_memo) > _ELEMENT_MEMO_SIZE:
                self._element_memo.popitem(last=False)

    def _value(self, bundle: OpenedBundle, typ: str, raw: bytes, channel: str, resume: bool) -> Any:
        if typ in MANIFEST_TYPES:
            serde = self.serde
            elements = bundle.elements
            digests = expand_digests(typ, raw, elements)
            memo = self._fingerprint_memo(serde)
            items = element_values(digests, elements)
            if memo is None:
                value, fps = [serde.loads_typed(item) for item in items], None
            else:  # elements decoded before in this process: revived copies (element_memo.py)
                value, fps = memo.decoded.decode(digests, items, serde.loads_typed)
            if getattr(self.manager.params, "list_storage_reuse_objects", False):
                # the objects handed to the graph are exactly these digests: the next put of
                # this channel (the graph appending to them) need not serialize them again
                rec = bundle.record
                generation = self.manager.element_generation(rec.thread_id)
                self._remember_lists([_RememberedList(rec.thread_id, rec.checkpoint_ns, channel, list(value), digests, None, generation)])
            elif resume and memo is not None:
                # get_tuple starts every invoke: the graph will put these objects back
                memo.remember_loaded(value, digests, fps)
            return value
        return self.serde.loads_typed((typ, raw))

    def _writes_calls(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> list[dict[str, Any]]:
        """The manager calls for ``put_writes``: as ``InMemorySaver`` does per write, special
        channels (errors, interrupts, resume values: negative indexes) replace what is stored,
        regular writes are insert-if-absent so a retried task cannot overwrite what was already
        recorded. One call, or two when a batch mixes both kinds."""
        serde = self.serde
        configurable = config["configurable"]
        checkpoint_id = configurable.get("checkpoint_id")
        if not checkpoint_id:
            raise InvalidInputError("put_writes needs configurable.checkpoint_id (the checkpoint the writes belong to)")
        special: list[tuple] = []
        regular: list[tuple] = []
        for idx, (channel, value) in enumerate(writes):
            typ, raw = serde.dumps_typed(value)
            row = (task_id, WRITES_IDX_MAP.get(channel, idx), channel, typ, raw, task_path)
            (special if channel in WRITES_IDX_MAP else regular).append(row)
        base = {
            "thread_id": _thread_id(config),
            "checkpoint_ns": configurable.get("checkpoint_ns", "") or "",
            "checkpoint_id": checkpoint_id,
        }
        return [{**base, "writes": rows, "replace": replace} for rows, replace in ((regular, False), (special, True)) if rows]

    def _to_tuple(self, bundle: OpenedBundle, doc: Mapping[str, Any] | None = None, *, resume: bool = False) -> CheckpointTuple:
        """The tuple LangGraph expects. ``resume``: for a ``get_tuple`` a graph run continues
        from -- the list elements loaded are fingerprinted (element_memo.py) so that the run's
        next ``put`` does not serialize them again. Other reads (``list``, ``get_state``, an
        operator's ``get_tuple``) skip that cost.

        Stored bytes the serde cannot decode -- a type it does not know or bytes that are not of
        their type, i.e. a damaged plaintext ``payload_type`` (verified bytes are the ones
        written) -- are an ``IntegrityError`` naming the checkpoint, like any other damage."""
        try:
            return self._build_tuple(bundle, doc, resume)
        except (NotImplementedError, ValueError) as exc:  # "unknown serialization type", a parse error
            if isinstance(exc, CkptError):
                raise
            raise _undecodable(bundle, exc) from exc

    def _build_tuple(self, bundle: OpenedBundle, doc: Mapping[str, Any] | None, resume: bool) -> CheckpointTuple:
        serde = self.serde
        rec = bundle.record
        if doc is None:
            doc = serde.loads_typed((rec.payload_type, bundle.payload))
        checkpoint: dict[str, Any] = doc["checkpoint"]  # freshly decoded: ours to complete in place
        versions = checkpoint.get("channel_versions", {})
        if rec.channel_versions != versions:
            raise _versions_mismatch(bundle, versions)
        checkpoint["channel_values"] = {
            channel: self._value(bundle, typ, raw, channel, resume)
            for (channel, version), (typ, raw) in bundle.blobs.items()
            if typ != EMPTY_BLOB_TYPE
        }
        config: RunnableConfig = {
            "configurable": {
                "thread_id": rec.thread_id,
                "checkpoint_ns": rec.checkpoint_ns,
                "checkpoint_id": rec.checkpoint_id,
            }
        }
        parent_config: RunnableConfig | None = None
        if rec.parent_checkpoint_id:
            parent_config = {
                "configurable": {
                    "thread_id": rec.thread_id,
                    "checkpoint_ns": rec.checkpoint_ns,
                    "checkpoint_id": rec.parent_checkpoint_id,
                }
            }
        pending: list[PendingWrite] = [
            (w.task_id, w.channel, serde.loads_typed((w.payload_type, w.data))) for w in bundle.writes
        ]
        return CheckpointTuple(config, checkpoint, doc["metadata"], parent_config, pending)

    def _list_query(
        self, config: RunnableConfig | None, filter: dict[str, Any] | None, before: RunnableConfig | None, limit: int | None
    ) -> tuple[RecordQuery, dict[str, Any] | None]:
        """The store query for ``list`` and the part of ``filter`` left to check after decoding."""
        configurable = (config or {}).get("configurable", {}) or {}
        thread_id = configurable.get("thread_id")
        pushdown = bool(filter) and self.manager.can_filter_in_store(filter.keys())
        query = RecordQuery(
            thread_id=str(thread_id) if thread_id is not None else None,
            checkpoint_ns=configurable.get("checkpoint_ns"),
            checkpoint_id=get_checkpoint_id(config) if config else None,
            kind=RecordKind.LANGGRAPH.value,
            metadata=dict(filter) if pushdown else None,
            before_id=get_checkpoint_id(before) if before else None,
            limit=limit if (not filter or pushdown) else None,
        )
        return query, (dict(filter) if filter and not pushdown else None)

    def _filtered(self, bundles: Iterator[OpenedBundle], post_filter: dict[str, Any] | None, limit: int | None) -> Iterator[CheckpointTuple]:
        count = 0
        for bundle in bundles:
            if limit is not None and count >= limit:
                return
            try:
                doc = self.serde.loads_typed((bundle.record.payload_type, bundle.payload))
            except (NotImplementedError, ValueError) as exc:
                raise _undecodable(bundle, exc) from exc
            if post_filter and not all(doc["metadata"].get(k) == v for k, v in post_filter.items()):
                continue
            count += 1
            yield self._to_tuple(bundle, doc)

    # ------------------------------------------------------------------ sync API
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id = _thread_id(config)
        configurable = config["configurable"]
        bundle = self.manager.get_langgraph_bundle(
            thread_id, configurable.get("checkpoint_ns", "") or "", get_checkpoint_id(config)
        )
        return self._to_tuple(bundle, resume=_in_a_run(configurable)) if bundle is not None else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        query, post_filter = self._list_query(config, filter, before, limit)
        yield from self._filtered(self.manager.iter_langgraph_bundles(query), post_filter, limit)

    def put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> RunnableConfig:
        kwargs, next_config, remember = self._put_kwargs(config, checkpoint, metadata, new_versions)
        try:
            self.manager.put_langgraph_checkpoint(**kwargs)
        except StaleElementsError:
            # another process deleted or pruned what this checkpoint names without carrying it
            # (list elements, unchanged channels' values): store all of it again
            kwargs, next_config, remember = self._put_kwargs(config, checkpoint, metadata, _every_version(checkpoint))
            self.manager.put_langgraph_checkpoint(**kwargs)
        if remember:
            self._remember_lists(remember)
        return next_config

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        if writes:
            for call in self._writes_calls(config, writes, task_id, task_path):
                self.manager.put_langgraph_writes(**call)

    def delete_thread(self, thread_id: str) -> None:
        self.manager.delete_thread(str(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.manager.delete_for_runs(list(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.manager.copy_thread(str(source_thread_id), str(target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest", keep_last: int | None = None) -> None:
        """``keep_latest`` keeps each namespace's newest checkpoint (``keep_last=N``: the newest N),
        plus the ancestors its DeltaChannel values are rebuilt from; ``delete`` removes the threads."""
        keep = self._keep_count(strategy, keep_last)
        for thread_id in thread_ids:
            if keep == 0:
                self.manager.delete_thread(str(thread_id))
            else:
                self.manager.prune_thread(str(thread_id), keep_last=keep)

    @staticmethod
    def _keep_count(strategy: str, keep_last: int | None) -> int:
        if strategy == "delete":
            return 0
        if strategy != "keep_latest":
            raise InvalidInputError(f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")
        if keep_last is None:
            return 1
        if not isinstance(keep_last, int) or keep_last < 1:
            raise InvalidInputError(f"keep_last must be a positive integer, got {keep_last!r}")
        return keep_last

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per-channel writes + seed along the parent chain (LangGraph's ``DeltaChannel`` contract).

        One walk: each ancestor is read once with the backend's batched bundle read
        (``_read_bundle``: record, blobs and writes in one round trip where the backend
        can), and only what the walk needs is opened -- the requested channels' blobs
        and writes. The record payload (the checkpoint document) and unrelated channels
        are never decrypted, decompressed nor decoded, unlike the default implementation
        that calls ``get_tuple`` per ancestor.
        """
        if not channels:
            return {}
        thread_id = _thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "") or ""
        steps = self.manager.delta_lineage(thread_id, ns, get_checkpoint_id(config), channels)
        return self._delta_history(steps, channels)

    def _delta_history(
        self,
        steps: Sequence[DeltaStep],
        channels: Sequence[str],
    ) -> dict[str, DeltaChannelHistory]:
        """The decoding half: ``DeltaChannelHistory`` per channel, writes oldest first."""
        serde = self.serde
        collected: dict[str, list[PendingWrite]] = {c: [] for c in channels}
        seeds: dict[str, Any] = {}
        for writes, step_seeds in steps:
            for w in reversed(writes):
                if w.channel in collected and w.channel not in seeds:
                    collected[w.channel].append((w.task_id, w.channel, serde.loads_typed((w.payload_type, w.data))))
            for ch, (typ, raw, elements) in step_seeds.items():
                if typ in MANIFEST_TYPES:
                    seeds[ch] = [serde.loads_typed(item) for item in expand(typ, raw, elements)]
                else:
                    seeds[ch] = serde.loads_typed((typ, raw))
        result: dict[str, DeltaChannelHistory] = {}
        for ch in channels:
            entry: DeltaChannelHistory = {"writes": list(reversed(collected[ch]))}
            if ch in seeds:
                entry["seed"] = seeds[ch]
            result[ch] = entry
        return result

    # ------------------------------------------------------------------ async API
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id = _thread_id(config)
        configurable = config["configurable"]
        bundle = await self.manager.aget_langgraph_bundle(
            thread_id, configurable.get("checkpoint_ns", "") or "", get_checkpoint_id(config)
        )
        return self._to_tuple(bundle, resume=_in_a_run(configurable)) if bundle is not None else None

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        query, post_filter = self._list_query(config, filter, before, limit)
        bundles = await self.manager.alist_langgraph_bundles(query)
        for item in self._filtered(iter(bundles), post_filter, limit):
            yield item

    async def aput(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> RunnableConfig:
        kwargs, next_config, remember = self._put_kwargs(config, checkpoint, metadata, new_versions)
        try:
            await self.manager.aput_langgraph_checkpoint(**kwargs)
        except StaleElementsError:  # as in put
            kwargs, next_config, remember = self._put_kwargs(config, checkpoint, metadata, _every_version(checkpoint))
            await self.manager.aput_langgraph_checkpoint(**kwargs)
        if remember:
            self._remember_lists(remember)
        return next_config

    #: ``aput_writes`` batches still finishing (strong references: the loop keeps weak ones)
    _batches_in_flight: set = set()

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """A batch mixing regular and special channels is two manager calls (``_writes_calls``).
        Once started it is stored whole even if the caller is cancelled in between: the calls
        run as one task the caller awaits through ``asyncio.shield`` (half a batch would resume
        with, say, a task's writes recorded and its interrupt missing)."""
        if not writes:
            return
        calls = self._writes_calls(config, writes, task_id, task_path)
        if len(calls) == 1:
            await self.manager.aput_langgraph_writes(**calls[0])
            return
        async def put_batch() -> None:
            for call in calls:
                await self.manager.aput_langgraph_writes(**call)

        batch = asyncio.ensure_future(put_batch())
        in_flight = ConfigCheckpointSaver._batches_in_flight
        in_flight.add(batch)
        batch.add_done_callback(in_flight.discard)
        try:
            await asyncio.shield(batch)
        except asyncio.CancelledError:
            if not batch.done():  # the caller is gone: nobody else sees how the batch ends

                def report(done: asyncio.Future) -> None:
                    if not done.cancelled() and done.exception() is not None:
                        logger.warning(
                            "pending writes of task %r (their caller was cancelled) failed: %r", task_id, done.exception()
                        )

                batch.add_done_callback(report)
            raise

    async def adelete_thread(self, thread_id: str) -> None:
        await self.manager.adelete_thread(str(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.manager.adelete_for_runs(list(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.manager.acopy_thread(str(source_thread_id), str(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest", keep_last: int | None = None) -> None:
        keep = self._keep_count(strategy, keep_last)
        for thread_id in thread_ids:
            if keep == 0:
                await self.manager.adelete_thread(str(thread_id))
            else:
                await self.manager.aprune_thread(str(thread_id), keep_last=keep)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """The walk's I/O is the manager's (native async where the backend has it, else off
        the event loop); decoding happens here, like ``aget_tuple``'s."""
        if not channels:
            return {}
        thread_id = _thread_id(config)
        ns = config["configurable"].get("checkpoint_ns", "") or ""
        steps = await self.manager.adelta_lineage(thread_id, ns, get_checkpoint_id(config), channels)
        return self._delta_history(steps, channels)

def from_config(
    config: str | Path | Mapping[str, Any] | None = None,
    *,
    manager: str | None = None,
    serde: Any = None,
    **overrides: Any,
) -> ConfigCheckpointSaver:
    """A saver over the manager ``manager`` of ``config`` (see the README).

    ``config``: a YAML path or a loaded dict (default ``$LANGGRAPH_CKPT_CONFIG``,
    else the shipped YAML); ``manager``: a name (default ``$LANGGRAPH_CKPT_MANAGER``,
    else ``default_manager``); ``overrides`` replace that manager's parameters.
    Closing the saver closes the manager it built.
    """
    from langgraph_ckpt_config.factory import CheckpointManagerFactory

    factory = CheckpointManagerFactory(config)
    return ConfigCheckpointSaver(factory.create_manager(manager, **overrides), serde=serde)
