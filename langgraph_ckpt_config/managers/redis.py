"""Redis manager: plain Redis 6+ / Valkey / Redis Cluster, no modules; sync and native async.

Key layout (``P`` = ``key_prefix``, ``T`` = the percent-encoded thread id)::

    P{T}:rec    HASH  "<ns>|<checkpoint_id>" -> record fields (msgpack, no payload)
    P{T}:pl     HASH  "<ns>|<checkpoint_id>" -> sealed payload
    P{T}:bk     HASH  "<ns>|<checkpoint_id>" -> msgpack list of the blob fields it names
    P{T}:idx    ZSET  "<ns>|<checkpoint_id>", all scores 0: lexicographic index
    P{T}:blob   HASH  "<ns>|<channel>|<json version>" -> msgpack (type, payload, checksum)
    P{T}:w      HASH  "<ns>|<checkpoint_id>|<task>|<idx>" -> msgpack write
    P{T}:wi     HASH  "<ns>|<checkpoint_id>" -> msgpack list of its write fields

``<ns>``, ``<channel>`` and ``<task>`` are percent-encoded (so ``|``, ``{``, ``}``,
``*``, ``?``, ``[`` never appear raw); checkpoint ids stay raw in ``idx`` so the
lexicographic order is the id order. Every key of a thread shares the hash tag
``{T}``: all of a thread's keys live on one cluster slot, so each multi-key
operation is one Lua script -- atomic, one round trip, and valid on a cluster.

* Latest checkpoint of a namespace: ``ZREVRANGEBYLEX idx [ns|\\xff [ns| LIMIT 0 1``
  inside the read script, which also fetches record, payload, blobs and writes:
  ``get_tuple`` is one round trip, O(log n).
* TTL: every write refreshes the expiry of all seven keys of the thread in the
  same script, so a thread expires as a whole -- including a blob written many
  steps ago that the newest checkpoint still references.
* No global keys on the write path; cross-thread listing uses SCAN (on a cluster,
  redis-py scans every primary).

The command logic is written once as generators that yield requests
(``_plan_*``) and is driven by a sync or an async executor, so the async methods
use ``redis.asyncio`` natively without a second copy of the logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Generator, Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from langgraph_ckpt_config.config.models import RedisParameters
from langgraph_ckpt_config.errors import BackendUnavailableError, CkptError, ConfigError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager, OpenedBundle
from langgraph_ckpt_config.managers.layout import encode_component, pack, pack_record, unpack, unpack_record
from langgraph_ckpt_config.managers.records import (
    BlobKey,
    ChannelVersion,
    RecordQuery,
    StoredBlob,
    StoredBundle,
    StoredRecord,
    StoredWrite,
    apply_update,
    record_matches,
    sort_key,
)

try:
    import redis
    import redis.asyncio as aredis
    from redis.exceptions import ConnectionError as _RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as _RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the redis manager needs redis-py: pip install 'langgraph-ckpt-config[redis]'") from exc

logger = logging.getLogger(__name__)

_KEY_SUFFIXES = ("rec", "pl", "bk", "idx", "blob", "w", "wi")
_GLOB = re.compile(r"([*?\[\]\\])")

_GET_BUNDLE = """
local field
if ARGV[2] == '' then
  local r = redis.call('ZREVRANGEBYLEX', KEYS[4], '[' .. ARGV[1] .. '\\255', '[' .. ARGV[1], 'LIMIT', 0, 1)
  if #r == 0 then return false end
  field = r[1]
else
  field = ARGV[1] .. ARGV[2]
end
local rec = redis.call('HGET', KEYS[1], field)
if not rec then return false end
local pl = redis.call('HGET', KEYS[2], field)
local blobs = {}
local bk = redis.call('HGET', KEYS[3], field)
if bk then
  local names = cmsgpack.unpack(bk)
  if #names > 0 then blobs = redis.call('HMGET', KEYS[5], unpack(names)) end
end
local writes = {}
local wi = redis.call('HGET', KEYS[7], field)
if wi then
  local names = cmsgpack.unpack(wi)
  if #names > 0 then writes = redis.call('HMGET', KEYS[6], unpack(names)) end
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
end
return {rec, pl or false, blobs, writes}
"""

_PUT_CHECKPOINT = """
-- ARGV: field, rec, payload, bk, ttl, then blob field/value pairs
for i = 6, #ARGV, 2 do redis.call('HSETNX', KEYS[5], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
"""

_PUT_WRITES = """
-- ARGV: checkpoint field, replace (1/0), ttl, then write field/value pairs
local names = {}
local seen = {}
local wi = redis.call('HGET', KEYS[7], ARGV[1])
if wi then
  for _, n in ipairs(cmsgpack.unpack(wi)) do names[#names + 1] = n; seen[n] = true end
end
for i = 4, #ARGV, 2 do
  if ARGV[2] == '1' then
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  else
    redis.call('HSETNX', KEYS[6], ARGV[i], ARGV[i + 1])
  end
  if not seen[ARGV[i]] then names[#names + 1] = ARGV[i]; seen[ARGV[i]] = true end
end
redis.call('HSET', KEYS[7], ARGV[1], cmsgpack.pack(names))
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
"""

_DELETE_CHECKPOINTS = """
local removed = 0
for i = 1, #ARGV do
  local f = ARGV[i]
  removed = removed + redis.call('HDEL', KEYS[1], f)
  redis.call('HDEL', KEYS[2], f)
  redis.call('HDEL', KEYS[3], f)
  redis.call('ZREM', KEYS[4], f)
  local wi = redis.call('HGET', KEYS[7], f)
  if wi then
    local names = cmsgpack.unpack(wi)
    if #names > 0 then redis.call('HDEL', KEYS[6], unpack(names)) end
    redis.call('HDEL', KEYS[7], f)
  end
end
return removed
"""

_SCRIPTS = {
    "get_bundle": _GET_BUNDLE,
    "put_checkpoint": _PUT_CHECKPOINT,
    "put_writes": _PUT_WRITES,
    "delete_checkpoints": _DELETE_CHECKPOINTS,
}

Plan = Generator[tuple, Any, Any]


_enc = encode_component
_pack = pack
_unpack = unpack


class RedisCheckpointManager(BaseCheckpointManager):
    parameters_model = RedisParameters
    backend_name = "redis"

    # ------------------------------------------------------------------ clients
    def _open(self) -> None:
        p = self.params
        if "{" in p.key_prefix or "}" in p.key_prefix:
            raise ConfigError("must not contain '{' or '}' (they would replace the per-thread hash tag)", path="key_prefix")
        self._prefix = p.key_prefix
        self._where = self._describe_endpoint()
        self._client = self._make_client(asynchronous=False)
        self._scripts = {name: self._client.register_script(src) for name, src in _SCRIPTS.items()}
        self._async: dict[int, tuple[Any, dict[str, Any], Any]] = {}
        with self._translate():
            self._client.ping()

    def _describe_endpoint(self) -> str:
        p = self.params
        if p.cluster_enabled:
            return "redis cluster " + ",".join(f"{n.host}:{n.port}" for n in p.cluster_nodes)
        if p.url is not None:
            from langgraph_ckpt_config.config.redact import redact_url

            return "redis " + redact_url(p.url.get_secret_value())
        return f"redis {p.host}:{p.port}/{p.db}"

    def _client_kwargs(self) -> dict[str, Any]:
        p = self.params
        return {
            "socket_timeout": p.socket_timeout,
            "socket_connect_timeout": p.connection_timeout,
            "password": p.password.get_secret_value() if p.password else None,
            "username": p.username,
        }

    def _make_client(self, *, asynchronous: bool):
        p = self.params
        mod = aredis if asynchronous else redis
        kwargs = self._client_kwargs()
        if p.cluster_enabled:
            if not p.cluster_nodes:
                raise ConfigError("cluster_enabled needs at least one entry in cluster_nodes", path="cluster_nodes")
            cluster_mod = aredis.cluster if asynchronous else redis.cluster
            nodes = [cluster_mod.ClusterNode(n.host, n.port) for n in p.cluster_nodes]
            return cluster_mod.RedisCluster(startup_nodes=nodes, ssl=p.ssl, max_connections=max(p.connection_pool_size, 32), **kwargs)
        if p.url is not None:
            return mod.Redis.from_url(p.url.get_secret_value(), max_connections=p.connection_pool_size, **{k: v for k, v in kwargs.items() if v is not None})
        return mod.Redis(host=p.host, port=p.port, db=p.db, ssl=p.ssl, max_connections=p.connection_pool_size, **kwargs)

    def _aclient(self) -> tuple[Any, dict[str, Any]]:
        """The async client of the running event loop (redis.asyncio clients are bound to one loop)."""
        loop = asyncio.get_running_loop()
        entry = self._async.get(id(loop))
        if entry is None or entry[2] is not loop:
            client = self._make_client(asynchronous=True)
            scripts = {name: client.register_script(src) for name, src in _SCRIPTS.items()}
            entry = (client, scripts, loop)
            self._async = {k: v for k, v in self._async.items() if not v[2].is_closed()}
            self._async[id(loop)] = entry
        return entry[0], entry[1]

    def _close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            self._client.close()
        self._async.clear()

    async def aclose(self) -> None:
        entries = list(self._async.values())
        for client, _scripts, loop in entries:
            if loop is asyncio.get_running_loop():
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
        await self._to_thread(self.close)

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except (_RedisConnectionError, _RedisTimeoutError, OSError) as exc:
            raise BackendUnavailableError(f"{self._where} unavailable: {type(exc).__name__}: {exc}") from None
        except RedisError as exc:
            if isinstance(exc, CkptError):
                raise
            text = str(exc)
            if "CLUSTERDOWN" in text or "ClusterDown" in type(exc).__name__ or "MasterDown" in type(exc).__name__:
                raise BackendUnavailableError(f"{self._where} unavailable: {text}") from None
            raise BackendUnavailableError(f"{self._where} error: {type(exc).__name__}: {text}") from None

    # ------------------------------------------------------------------ executors
    def _run(self, plan: Plan) -> Any:
        with self._translate():
            try:
                request = next(plan)
                while True:
                    request = plan.send(self._execute(request))
            except StopIteration as stop:
                return stop.value

    async def _arun(self, plan: Plan) -> Any:
        client, scripts = self._aclient()
        with self._translate():
            try:
                request = next(plan)
                while True:
                    request = plan.send(await self._aexecute(client, scripts, request))
            except StopIteration as stop:
                return stop.value

    def _execute(self, request: tuple) -> Any:
        kind = request[0]
        if kind == "script":
            _, name, keys, args = request
            return self._scripts[name](keys=keys, args=args)
        if kind == "scan":
            return list(self._client.scan_iter(match=request[1], count=1000))
        if kind == "pipeline":
            pipe = self._client.pipeline(transaction=False)
            for cmd, *args in request[1]:
                pipe.execute_command(cmd, *args)
            return pipe.execute()
        _, cmd, *args = request
        return self._client.execute_command(cmd, *args)

    async def _aexecute(self, client: Any, scripts: dict[str, Any], request: tuple) -> Any:
        kind = request[0]
        if kind == "script":
            _, name, keys, args = request
            return await scripts[name](keys=keys, args=args)
        if kind == "scan":
            return [k async for k in client.scan_iter(match=request[1], count=1000)]
        if kind == "pipeline":
            pipe = client.pipeline(transaction=False)
            for cmd, *args in request[1]:
                pipe.execute_command(cmd, *args)
            return await pipe.execute()
        _, cmd, *args = request
        return await client.execute_command(cmd, *args)

    # ------------------------------------------------------------------ layout
    def _keys(self, thread_id: str) -> list[str]:
        base = f"{self._prefix}{{{_enc(thread_id)}}}:"
        return [base + suffix for suffix in _KEY_SUFFIXES]

    @staticmethod
    def _field(ns: str, checkpoint_id: str) -> str:
        return f"{_enc(ns)}|{checkpoint_id}"

    @staticmethod
    def _blob_field(ns: str, channel: str, version: ChannelVersion) -> str:
        return f"{_enc(ns)}|{_enc(channel)}|{json.dumps(version)}"

    @staticmethod
    def _write_field(ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
        return f"{_enc(ns)}|{_enc(checkpoint_id)}|{_enc(task_id)}|{idx}"

    @property
    def _ttl(self) -> int:
        return int(self.params.ttl or 0)

    # ------------------------------------------------------------------ plans (logic written once)
    def _plan_write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> Plan:
        field = self._field(record.checkpoint_ns, record.checkpoint_id)
        blob_args: list[Any] = []
        for ns, b in blobs:
            blob_args += [self._blob_field(ns, b.channel, b.version), _pack([b.payload_type, b.payload, b.checksum])]
        names = [self._blob_field(record.checkpoint_ns, ch, ver) for ch, ver in record.channel_versions.items()]
        args = [field, pack_record(record, with_payload=False), record.payload or b"", _pack(names), self._ttl, *blob_args]
        yield ("script", "put_checkpoint", self._keys(record.thread_id), args)

    def _plan_read_bundle(self, thread_id: str, ns: str, checkpoint_id: str | None) -> Plan:
        ttl = self._ttl if self.params.refresh_ttl_on_read else 0
        res = yield ("script", "get_bundle", self._keys(thread_id), [f"{_enc(ns)}|", checkpoint_id or "", ttl])
        if not res:
            return None
        rec_raw, payload, blob_raws, write_raws = res
        record = unpack_record(rec_raw, payload or b"")
        blobs: dict[BlobKey, StoredBlob] = {}
        for (ch, ver), raw in zip(record.channel_versions.items(), blob_raws):
            if raw is not None:
                typ, data, checksum = _unpack(raw)
                blobs[(ch, ver)] = StoredBlob(ch, ver, typ, data, checksum)
        writes = [self._decode_write(raw) for raw in write_raws if raw is not None]
        return StoredBundle(record, blobs, writes)

    @staticmethod
    def _decode_write(raw: bytes) -> StoredWrite:
        task_id, idx, channel, typ, payload, checksum, task_path = _unpack(raw)
        return StoredWrite(task_id, idx, channel, typ, payload, checksum, task_path)

    def _plan_write_writes(self, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], replace: bool) -> Plan:
        args: list[Any] = [self._field(ns, checkpoint_id), "1" if replace else "0", self._ttl]
        for w in writes:
            args += [
                self._write_field(ns, checkpoint_id, w.task_id, w.idx),
                _pack([w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path]),
            ]
        yield ("script", "put_writes", self._keys(thread_id), args)

    def _plan_thread_ids(self) -> Plan:
        pattern = _GLOB.sub(r"\\\1", self._prefix) + "{*}:rec"
        keys = yield ("scan", pattern)
        prefix_len = len(self._prefix) + 1
        out = []
        for key in keys:
            text = key.decode() if isinstance(key, bytes) else key
            out.append(unquote(text[prefix_len : -len("}:rec")]))
        return out

    def _plan_thread_records(self, thread_id: str, query: RecordQuery) -> Plan:
        """Records of one thread matching ``query`` (unsorted unless the index answered it)."""
        keys = self._keys(thread_id)
        simple = (
            query.checkpoint_ns is not None
            and query.order == "checkpoint_id"
            and query.checkpoint_id is None
            and not query.metadata and not query.tags and query.status is None and query.workflow_id is None
            and query.older_than is None
        )
        if query.checkpoint_ns is not None and query.checkpoint_id is not None:
            fields = [self._field(query.checkpoint_ns, query.checkpoint_id)]
        elif simple:
            ns_prefix = f"{_enc(query.checkpoint_ns)}|"
            upper = "[" + ns_prefix + "\xff" if query.before_id is None else "(" + ns_prefix + query.before_id
            args = ["ZREVRANGEBYLEX", keys[3], upper, "[" + ns_prefix]
            if query.limit is not None:
                args += ["LIMIT", query.offset, query.limit]
            fields = [f.decode() if isinstance(f, bytes) else f for f in (yield ("cmd", *args))]
        else:
            fields = None
        if fields is not None:
            if not fields:
                return []
            cmds = [("HMGET", keys[0], *fields)]
            if query.include_payload:
                cmds.append(("HMGET", keys[1], *fields))
            res = yield ("pipeline", cmds)
            payloads = res[1] if query.include_payload else [None] * len(fields)
            return [
                unpack_record(raw, pl)
                for raw, pl in zip(res[0], payloads)
                if raw is not None
            ]
        cmds = [("HGETALL", keys[0])]
        if query.include_payload:
            cmds.append(("HGETALL", keys[1]))
        res = yield ("pipeline", cmds)
        payloads = res[1] if query.include_payload else {}
        out = []
        for field, raw in res[0].items():
            rec = unpack_record(raw, payloads.get(field) if query.include_payload else None)
            if record_matches(rec, query):
                out.append(rec)
        return out

    def _plan_query(self, query: RecordQuery) -> Plan:
        if query.thread_id is not None:
            threads = [query.thread_id]
        else:
            threads = yield from self._plan_thread_ids()
        # A per-thread query already sorted and limited by the index needs nothing more.
        if query.thread_id is not None and query.checkpoint_ns is not None and query.order == "checkpoint_id":
            found = yield from self._plan_thread_records(query.thread_id, query)
            if query.checkpoint_id is None and not (query.metadata or query.tags or query.status or query.workflow_id or query.older_than):
                return found
            found = [r for r in found if record_matches(r, query)]
        else:
            unlimited = dataclasses.replace(query, limit=None, offset=0)
            found = []
            for tid in threads:
                found += yield from self._plan_thread_records(tid, unlimited)
        found.sort(key=sort_key(query), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end]

    # ------------------------------------------------------------------ primitives
    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        self._run(self._plan_write_checkpoint(record, blobs))

    def _read_bundle(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredBundle | None:
        return self._run(self._plan_read_bundle(thread_id, checkpoint_ns, checkpoint_id))

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        bundle = self._read_bundle(thread_id, checkpoint_ns, checkpoint_id)
        return bundle.record if bundle else None

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        return iter(self._run(self._plan_query(query)))

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        if not keys:
            return {}
        fields = [self._blob_field(checkpoint_ns, ch, ver) for ch, ver in keys]
        with self._translate():
            raws = self._client.hmget(self._keys(thread_id)[4], fields)
        out = {}
        for (ch, ver), raw in zip(keys, raws):
            if raw is not None:
                typ, data, checksum = _unpack(raw)
                out[(ch, ver)] = StoredBlob(ch, ver, typ, data, checksum)
        return out

    def _write_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool) -> None:
        self._run(self._plan_write_writes(thread_id, checkpoint_ns, checkpoint_id, writes, replace))

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        keys = self._keys(thread_id)
        with self._translate():
            index = self._client.hget(keys[6], self._field(checkpoint_ns, checkpoint_id))
            if not index:
                return []
            names = _unpack(index)
            raws = self._client.hmget(keys[5], names) if names else []
        return [self._decode_write(raw) for raw in raws if raw is not None]

    def _update_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, *, status: str | None = None,
                       metadata: dict[str, Any] | None = None, tags: list[str] | None = None, updated_at: float) -> bool:
        key = self._keys(thread_id)[0]
        field = self._field(checkpoint_ns, checkpoint_id)
        with self._translate():
            raw = self._client.hget(key, field)
            if raw is None:
                return False
            rec = apply_update(unpack_record(raw, None), status=status, metadata=metadata, tags=tags, updated_at=updated_at)
            self._client.hset(key, field, pack_record(rec, with_payload=False))
        return True

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        fields = [self._field(ns, cid) for ns, cid in keys]
        return int(self._run(iter_one(("script", "delete_checkpoints", self._keys(thread_id), fields))))

    def _delete_thread(self, thread_id: str) -> None:
        with self._translate():
            self._client.delete(*self._keys(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        self._require_open()
        await self._arun(iter_one(("cmd", "DEL", *self._keys(thread_id))))
        self._blob_cache.discard_where(lambda k: k[0] == thread_id)

    def _list_thread_ids(self) -> Iterator[str]:
        return iter(self._run(self._plan_thread_ids()))

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        with self._translate():
            fields = self._client.hkeys(self._keys(thread_id)[4])
        out = []
        for f in fields:
            ns, ch, ver = (f.decode() if isinstance(f, bytes) else f).split("|", 2)
            out.append((unquote(ns), unquote(ch), json.loads(ver)))
        return iter(out)

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        if not keys:
            return 0
        with self._translate():
            return int(self._client.hdel(self._keys(thread_id)[4], *[self._blob_field(ns, ch, v) for ns, ch, v in keys]))

    def _storage_size(self) -> int | None:
        try:
            with self._translate():
                info = self._client.info("memory")
        except BackendUnavailableError:
            return None
        if isinstance(info, dict) and "used_memory" in info:
            return int(info["used_memory"])
        if isinstance(info, dict):  # cluster: {node: info}
            return sum(int(v.get("used_memory", 0)) for v in info.values() if isinstance(v, dict)) or None
        return None

    # ------------------------------------------------------------------ native async (the adapter's hot path)
    async def aput_langgraph_checkpoint(self, **kwargs: Any) -> None:
        self._require_open()
        record, blobs = self._prepare_langgraph_checkpoint(**kwargs)
        await self._arun(self._plan_write_checkpoint(record, blobs))
        self._count("checkpoints_written")
        if self.params.max_checkpoints:
            await self._to_thread(self._after_write, record.thread_id, record.checkpoint_ns)

    async def aput_langgraph_writes(self, *, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes, replace: bool) -> None:
        self._require_open()
        stored = self._prepare_writes(thread_id, checkpoint_ns, checkpoint_id, writes)
        await self._arun(self._plan_write_writes(thread_id, checkpoint_ns, checkpoint_id, stored, replace))
        self._count("writes_written", len(stored))

    async def aget_langgraph_bundle(self, thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None) -> OpenedBundle | None:
        self._require_open()
        bundle = await self._arun(self._plan_read_bundle(thread_id, checkpoint_ns, checkpoint_id))
        self._count("checkpoints_read")
        return self._open_bundle(bundle) if bundle is not None else None

    async def alist_langgraph_bundles(self, query: RecordQuery) -> list[OpenedBundle]:
        self._require_open()
        records = await self._arun(self._plan_query(dataclasses.replace(query, include_payload=False)))
        out = []
        for rec in records:
            bundle = await self._arun(self._plan_read_bundle(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id))
            if bundle is not None:
                out.append(self._open_bundle(bundle))
        return out

    def iter_langgraph_bundles(self, query: RecordQuery) -> Iterator[OpenedBundle]:
        """One script call per listed checkpoint (record, payload, blobs and writes together)."""
        self._require_open()
        for rec in self._run(self._plan_query(dataclasses.replace(query, include_payload=False))):
            bundle = self._read_bundle(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id)
            if bundle is not None:
                yield self._open_bundle(bundle)


def iter_one(request: tuple) -> Plan:
    """A plan of a single request whose result is the plan's result."""
    return (yield request)

