"""Redis manager: plain Redis 6+ / Valkey / Redis Cluster, no modules; sync and native async.

Key layout (``P`` = ``key_prefix``, ``T`` = the percent-encoded thread id, ``~`` for "")::

    P{T}:rec    HASH  "<ns>|<checkpoint_id>" -> the packed checkpoint: a msgpack array of 4
                      raw strings {record fields (msgpack), sealed payload, msgpack list of
                      the blob fields it names, checksum}
    P{T}:idx    ZSET  "<ns>|<checkpoint_id>", all scores 0: per-namespace lexicographic index
    P{T}:cr     ZSET  "<checkpoint_id>\\0<ns>" scored by created_at: the manager API's order
    P{T}:blob   HASH  "<ns>|<channel>|<json version>" -> msgpack (type, payload, checksum)
    P{T}:w      HASH  "<ns>|<checkpoint_id>" -> the checkpoint's writes: a msgpack array of
                      raw strings {"<task>|<idx>", msgpack write, ...}
    P{T}:pl, P{T}:bk, P{T}:wi   (first layout only, read and still written to, see below)

Checksums (``sha256:``/``blake2b:`` + 64 hex) are stored as 1 algorithm byte + the 32-byte
digest. One field per checkpoint and one per checkpoint's writes keep the per-field
overhead of a Redis hash (~60-90 bytes of dict entry, field name and allocator rounding)
to two fields per step besides the list elements (docs/design.md, "Redis memory").
Data of the first layout stays readable and writable: a record whose value is not a packed
checkpoint (a bare record: msgpack array of 15, never of 4) has its payload in ``pl`` and
its blob fields in ``bk``; a checkpoint whose writes are listed in ``wi`` (field
``"<ns>|<checkpoint_id>"`` -> list of its fields ``"<ns>|<checkpoint_id>|<task>|<idx>"`` of
``w``) keeps getting its writes that way. Text checksums are read as they are.

``<ns>``, ``<channel>`` and ``<task>`` are percent-encoded (``layout.encode_component``:
``|``, ``{``, ``}``, ``*``, ``?``, ``[``, ``:`` never appear raw); checkpoint ids stay raw in
``idx``/``cr`` so the lexicographic order is the id order. Every key of a thread shares
the hash tag ``{T}``: a thread lives on one cluster slot, so each multi-key operation is
one Lua script -- atomic, one round trip, and valid on a cluster.

* Latest checkpoint of a namespace: ``ZREVRANGEBYLEX idx [ns|\\xff [ns| LIMIT 0 1``
  inside the read script, which also returns record, payload, blobs and writes:
  ``get_tuple`` is one round trip, O(log n). ``list`` with ``limit``/``before`` pages
  ``idx`` (or ``cr`` for the manager API's created_at order) in a script that returns
  the records of the page: O(log n + limit) (a packed checkpoint brings its payload along).
* Metadata filters run in Python on the plaintext metadata after the thread /
  namespace / index narrowed the candidates (pages grow until ``limit`` matches).
* TTL: every write refreshes the expiry of all eight keys of the thread in the same
  script, so a thread expires as a whole -- including a blob written many steps ago
  that the newest checkpoint still references (``refresh_ttl_on_read`` also refreshes
  on reads).
* No global keys on the write path; cross-thread listing uses SCAN with the prefix's
  glob characters escaped (on a cluster, redis-py scans every primary).
* Failures: connection errors, timeouts and cluster-down states become
  ``BackendUnavailableError("redis at host:port unavailable: ...")`` (never the
  password). Clients retry once without backoff -- enough to replace a pooled
  connection the server closed (e.g. after a restart), never after a timeout -- so an
  operation fails within about ``connection_timeout`` + ``socket_timeout``. Standalone pools block: more
  concurrent operations than ``connection_pool_size`` wait (up to ``socket_timeout``)
  for a connection rather than fail.
* ``local_cache_*``: redis-py's client-side caching (RESP3 ``cache_config``) does not
  fit this layout and is not used. The hot reads are ``EVALSHA`` calls, which it never
  caches; it caches per *key*, and a thread's blobs share one hash that changes at
  every step, so every entry would be invalidated at the next write; and the
  ``redis.asyncio`` clients do not support it. ``local_cache_size``/``local_cache_ttl``
  instead size the process-local cache of decoded, immutable blobs (base.py's
  ``LRUCache``), which needs no invalidation.

The command logic is written once as generators that yield requests (``_plan_*``) and
is driven by a sync or an async executor (``_run`` / ``_arun``), so the adapter's async
methods use ``redis.asyncio`` natively, on the event loop, with no second copy of the
logic -- reads, writes, ``delete_thread``, the thread operations ``copy_thread``,
``delete_for_runs`` and ``prune_thread`` (with blob collection), whose plans also batch
what base.py does call by call, and the DeltaChannel walk ``delta_lineage``, which runs
in the server: one script call reads up to ``delta_steps_per_call`` ancestors, returning
only the blobs and writes of the channels still unresolved (then one ``HMGET`` per
list-tree level for the elements of list seeds, none when cached).
``pipeline_enabled``/``pipeline_size`` batch the per-checkpoint reads of a listing, the
per-thread reads of a cross-thread query and the writes of a thread copy into pipelines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import queue
import re
import socket
import time
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any
from urllib.parse import unquote

import msgpack

from langgraph_ckpt_config.config.models import RedisParameters
from langgraph_ckpt_config.errors import (
    BackendUnavailableError,
    CkptError,
    ConfigError,
    ManagerError,
    StaleElementsError,
)
from langgraph_ckpt_config.managers.base import (
    _OPENED,
    BaseCheckpointManager,
    DeltaSeed,
    DeltaStep,
    LRUCache,
    OpenedBundle,
    _check_id,
    _first_named,
    _run_ids,
    carried_over_values,
)
from langgraph_ckpt_config.managers.layout import encode_component, pack, pack_record, unpack, unpack_record
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
    apply_update,
    record_matches,
    sort_key,
)

try:
    import redis
    import redis.asyncio as aredis
    import redis.asyncio.cluster
    import redis.asyncio.retry
    import redis.cluster
    import redis.retry
    from redis import exceptions as rexc
    from redis.backoff import NoBackoff
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the redis manager needs redis-py: pip install 'langgraph-ckpt-config[redis]'") from exc

from langgraph_ckpt_config.managers.listtree import MANIFEST_TYPES, NODE_TYPE, manifest_entries, node_entries
from langgraph_ckpt_config.managers.trim import COUNT, TRIM

logger = logging.getLogger(__name__)

_KEY_SUFFIXES = ("rec", "pl", "bk", "idx", "blob", "w", "wi", "cr")
REC, PL, BK, IDX, BLOB, W, WI, CR = range(len(_KEY_SUFFIXES))
_GLOB = re.compile(r"([*?\[\]\\])")
#: Field of the ``pl`` hash counting the thread's checkpoint writes (no checkpoint field
#: starts with NUL: namespaces are encoded).
_GENERATION_FIELD = "\x00gen"
#: Blob collections restarted because a checkpoint was written meanwhile, at most.
_COLLECT_ATTEMPTS = 3

#: Errors meaning "the server cannot answer now" (as opposed to a bad command).
_UNAVAILABLE = (
    rexc.ConnectionError,
    rexc.TimeoutError,
    rexc.BusyLoadingError,
    rexc.ClusterDownError,
    rexc.MasterDownError,
    rexc.TryAgainError,
    rexc.ReadOnlyError,
    rexc.RedisClusterException,
    OSError,
)

# Lua notes: every script takes all eight keys of one thread (KEYS[1..8] in
# _KEY_SUFFIXES order), so the TTL loop can refresh them all; HMGET/HDEL argument lists
# are unpacked in chunks of 1000 (Lua's unpack() fails past ~8000 values).
_TOUCH = """
local function touch(ttl)
  if ttl > 0 then
    for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
local function hmget(key, names)
  local out = {}
  for i = 1, #names, 1000 do
    local part = redis.call('HMGET', key, unpack(names, i, math.min(i + 999, #names)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end
-- layout.encode_component of an ASCII string (quote(s, safe='') with '~' encoded too)
local function enc(s)
  if not string.find(s, '[^%w%._%-]') then return s end  -- the usual case: gsub costs ~5 us
  return (string.gsub(s, '[^%w%._%-]', function(c) return string.format('%%%02X', string.byte(c)) end))
end
-- The blob fields a packed checkpoint {record, payload, blob names, checksum} names: its
-- list, or ('' when the writer found them derivable) "<prefix><enc channel>|\"<version>\"".
local function packed_names(t, prefix)
  if t[3] ~= '' then return cmsgpack.unpack(t[3]) end
  local names = {}
  for i, cv in ipairs(cmsgpack.unpack(t[1])[15]) do names[i] = prefix .. enc(cv[1]) .. '|"' .. cv[2] .. '"' end
  return names
end
-- A checkpoint's stored value: packed (0x94) or, as first written, the record alone with
-- its payload and blob names in KEYS[2]/KEYS[3]. Returns the blob-field list or nil.
local function blob_names(field, v, prefix)
  if string.byte(v, 1) == 0x94 then return packed_names(cmsgpack.unpack(v), prefix) end
  local bk = redis.call('HGET', KEYS[3], field)
  return bk and cmsgpack.unpack(bk)
end
-- The raw writes of a checkpoint: one packed field of KEYS[6] ({key, write, key, write...})
-- or, as first written, one field per write listed in KEYS[7] (never both: _PUT_WRITES).
local function writes_of(field)
  local out = {}
  local packed = redis.call('HGET', KEYS[6], field)
  if packed then
    local t = cmsgpack.unpack(packed)
    for i = 2, #t, 2 do out[#out + 1] = t[i] end
    return out
  end
  local wi = redis.call('HGET', KEYS[7], field)
  if wi then out = hmget(KEYS[6], cmsgpack.unpack(wi)) end
  return out
end
"""

_GET_BUNDLE = _TOUCH + """
-- ARGV: "<ns>|", checkpoint id or '', ttl to refresh (0: none), '1' for blobs and writes
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
local pl = false
if string.byte(rec, 1) ~= 0x94 then pl = redis.call('HGET', KEYS[2], field) end
local blobs = {}
local writes = {}
if ARGV[4] == '1' then
  local names = blob_names(field, rec, ARGV[1])
  if names then blobs = hmget(KEYS[5], names) end
  writes = writes_of(field)
end
-- A reader with a cold cache (ARGV[5]: the namespace's element-field prefix) also gets the
-- namespace's list elements and nodes, sealed, when the thread is small enough (HLEN <=
-- ARGV[6]): its cold read is one round trip instead of one per list-tree level.
local elements = false
if ARGV[4] == '1' and ARGV[5] and ARGV[5] ~= '' and redis.call('HLEN', KEYS[5]) <= tonumber(ARGV[6]) then
  elements = {}
  local all = redis.call('HGETALL', KEYS[5])
  local p, n = ARGV[5], #ARGV[5]
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, n) == p then
      elements[#elements + 1] = string.sub(all[i], n + 1)
      elements[#elements + 1] = all[i + 1]
    end
  end
end
touch(tonumber(ARGV[3]))
-- one bulk reply (msgpack of raw strings): far cheaper for the client to parse than nested arrays
return cmsgpack.pack({rec, pl, blobs, writes, elements})
"""

_PAGE = _TOUCH + """
-- ARGV: 'lex' | 'score', max, min, offset, count, ttl to refresh (0: none)
local members
if ARGV[1] == 'lex' then
  members = redis.call('ZREVRANGEBYLEX', KEYS[4], ARGV[2], ARGV[3], 'LIMIT', ARGV[4], ARGV[5])
else
  members = redis.call('ZREVRANGEBYSCORE', KEYS[8], ARGV[2], ARGV[3], 'LIMIT', ARGV[4], ARGV[5])
  for i = 1, #members do
    local m = members[i]
    local p = #m
    while p > 0 and string.byte(m, p) ~= 0 do p = p - 1 end
    members[i] = string.sub(m, p + 1) .. '|' .. string.sub(m, 1, p - 1)
  end
end
touch(tonumber(ARGV[6]))
if #members == 0 then return {{}, {}} end
return {members, hmget(KEYS[1], members)}
"""

_PUT_CHECKPOINT = _TOUCH + """
-- ARGV: field, packed checkpoint (record, payload, blob names, checksum), ttl, cr member,
-- created_at, n, then n blob fields that must exist (list elements the checkpoint names
-- without carrying them: if one is gone, nothing is written and the reply is
-- {'gone', its field}), then blob field/value pairs
local n = tonumber(ARGV[6])
for i = 7, 6 + n do
  if redis.call('HEXISTS', KEYS[5], ARGV[i]) == 0 then return {'gone', ARGV[i]} end
end
for i = 7 + n, #ARGV, 2 do redis.call('HSETNX', KEYS[5], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
redis.call('ZADD', KEYS[8], ARGV[5], ARGV[4])
redis.call('HINCRBY', KEYS[2], '\\0gen', 1)  -- the thread's write generation (_DELETE_ORPHANS)
touch(tonumber(ARGV[3]))
return 1
"""

_PUT_WRITES = _TOUCH + """
-- ARGV: checkpoint field, replace (1/0), ttl, the checkpoint's first-layout write-field
-- prefix, then "<task>|<idx>" / write pairs. A checkpoint's writes are one packed field
-- {key, write, key, write...}; a checkpoint whose writes were stored in the first layout
-- (one field each, listed in KEYS[7]) keeps getting them that way.
local replace = ARGV[2] == '1'
local packed = redis.call('HGET', KEYS[6], ARGV[1])
local wi = (not packed) and redis.call('HGET', KEYS[7], ARGV[1])
if wi then
  local names, seen = {}, {}
  for _, n in ipairs(cmsgpack.unpack(wi)) do names[#names + 1] = n; seen[n] = true end
  for i = 5, #ARGV, 2 do
    local name = ARGV[4] .. ARGV[i]
    if replace then redis.call('HSET', KEYS[6], name, ARGV[i + 1]) else redis.call('HSETNX', KEYS[6], name, ARGV[i + 1]) end
    if not seen[name] then names[#names + 1] = name; seen[name] = true end
  end
  redis.call('HSET', KEYS[7], ARGV[1], cmsgpack.pack(names))
elseif #ARGV >= 5 then
  local t, at = {}, {}
  if packed then
    t = cmsgpack.unpack(packed)
    for i = 1, #t, 2 do at[t[i]] = i end
  end
  for i = 5, #ARGV, 2 do
    local j = at[ARGV[i]]
    if j == nil then
      t[#t + 1] = ARGV[i]; t[#t + 1] = ARGV[i + 1]; at[ARGV[i]] = #t - 1
    elseif replace then
      t[j + 1] = ARGV[i + 1]
    end
  end
  redis.call('HSET', KEYS[6], ARGV[1], cmsgpack.pack(t))
end
touch(tonumber(ARGV[3]))
return 1
"""

_SET_RECORD = _TOUCH + """
-- ARGV: field, record, ttl. Only an existing record is replaced (no resurrection); a
-- packed checkpoint keeps its payload, blob names and checksum.
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
if string.byte(v, 1) == 0x94 then
  local t = cmsgpack.unpack(v)
  t[1] = ARGV[2]
  v = cmsgpack.pack(t)
else
  v = ARGV[2]
end
redis.call('HSET', KEYS[1], ARGV[1], v)
touch(tonumber(ARGV[3]))
return 1
"""

_DELETE_CHECKPOINTS = """
-- ARGV: field / cr member pairs
local removed = 0
for i = 1, #ARGV, 2 do
  local f = ARGV[i]
  removed = removed + redis.call('HDEL', KEYS[1], f)
  redis.call('HDEL', KEYS[2], f)
  redis.call('HDEL', KEYS[3], f)
  redis.call('ZREM', KEYS[4], f)
  redis.call('ZREM', KEYS[8], ARGV[i + 1])
  redis.call('HDEL', KEYS[6], f)
  local wi = redis.call('HGET', KEYS[7], f)
  if wi then
    local names = cmsgpack.unpack(wi)
    for j = 1, #names, 1000 do redis.call('HDEL', KEYS[6], unpack(names, j, math.min(j + 999, #names))) end
    redis.call('HDEL', KEYS[7], f)
  end
end
return removed
"""

_DELETE_ORPHANS = """
-- The end of a blob collection (_plan_collect_blobs). ARGV: the thread's write generation
-- read before its blob fields were listed ('' if none), then the orphan fields. Deletes
-- them only if no checkpoint was written since (every put script increments the
-- generation): one that was may name an orphan again. Returns the count, or -1.
if (redis.call('HGET', KEYS[2], '\\0gen') or '') ~= ARGV[1] then return -1 end
local n = 0
for i = 2, #ARGV, 1000 do n = n + redis.call('HDEL', KEYS[5], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
return n
"""

_DELTA_LINEAGE = _TOUCH + """
-- The ancestors of a DeltaChannel walk (base ``delta_lineage``), several per call.
-- ARGV: "<ns>|", checkpoint id ('' = latest of the namespace), '1' to start at that
-- checkpoint's parent (else at the checkpoint itself), ttl to refresh (0: none), the most
-- ancestors to read, the bytes an empty blob starts with, then the channels to resolve.
-- Returns {steps, more}: per ancestor, newest first, {record, {i, blob, ...}, writes} with
-- only the blobs (i: 1-based index into the record's channel versions) and the writes of
-- unresolved channels; more = 1 when the walk stopped at the cap, not at its end.
-- Redis's cmsgpack cannot decode msgpack bin (blobs and writes hold bytes): an empty blob
-- is recognized by its first bytes, a write's channel read by mp_str (a write whose
-- layout is unexpected is returned; the caller filters again).
local function mp_str(s, pos)
  local b = string.byte(s, pos)
  if not b then return nil, pos end
  local n, h
  if b >= 0xa0 and b <= 0xbf then n, h = b - 0xa0, 1
  elseif b == 0xd9 then n, h = string.byte(s, pos + 1), 2
  elseif b == 0xda then local x, y = string.byte(s, pos + 1, pos + 2); n, h = x * 256 + y, 3
  elseif b == 0xdb then local w, x, y, z = string.byte(s, pos + 1, pos + 4); n, h = ((w * 256 + x) * 256 + y) * 256 + z, 5
  else return nil, pos end
  return string.sub(s, pos + h, pos + h + n - 1), pos + h + n
end
local INT_SIZE = {[0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8}
local function write_channel(raw)
  if string.byte(raw, 1) ~= 0x97 then return nil end  -- [task_id, idx, channel, ...]
  local _, pos = mp_str(raw, 2)
  if pos == 2 then return nil end
  local b = string.byte(raw, pos)
  if not b then return nil end
  if b <= 0x7f or b >= 0xe0 then pos = pos + 1
  elseif INT_SIZE[b] then pos = pos + 1 + INT_SIZE[b]
  else return nil end
  return (mp_str(raw, pos))
end
local prefix = ARGV[1]
local cursor = ARGV[2]
local field
if cursor == '' then
  local r = redis.call('ZREVRANGEBYLEX', KEYS[4], '[' .. prefix .. '\\255', '[' .. prefix, 'LIMIT', 0, 1)
  if #r == 0 then cursor = nil else field = r[1] end
else
  field = prefix .. cursor
end
local function record(f)  -- the record alone (no payload) and its blob-field list (or nil)
  local v = redis.call('HGET', KEYS[1], f)
  if not v then return nil end
  if string.byte(v, 1) == 0x94 then
    local t = cmsgpack.unpack(v)
    return t[1], packed_names(t, prefix)
  end
  local bk = redis.call('HGET', KEYS[3], f)
  return v, bk and cmsgpack.unpack(bk)
end
if field and ARGV[3] == '1' then
  local rec = record(field)
  cursor = rec and cmsgpack.unpack(rec)[4] or nil
end
if type(cursor) ~= 'string' then cursor = nil end
local remaining, left = {}, 0
for i = 7, #ARGV do
  if not remaining[ARGV[i]] then remaining[ARGV[i]] = true; left = left + 1 end
end
local cap, empty = tonumber(ARGV[5]), ARGV[6]
local steps, more = {}, 0
while cursor and left > 0 do
  field = prefix .. cursor
  if #steps >= cap then
    if redis.call('HEXISTS', KEYS[1], field) == 1 then more = 1 end
    break
  end
  local rec, bk = record(field)
  if not rec then break end  -- a pruned ancestor: the history ends here
  local r = cmsgpack.unpack(rec)
  local versions = r[15]
  local at, names = {}, {}
  if bk then
    local all = bk
    for i = 1, #versions do
      if remaining[versions[i][1]] and all[i] then at[#at + 1] = i; names[#names + 1] = all[i] end
    end
  end
  local blobs, resolved = {}, {}
  local raws = hmget(KEYS[5], names)
  for j = 1, #names do
    if raws[j] then
      blobs[#blobs + 1] = at[j]
      blobs[#blobs + 1] = raws[j]
      if string.sub(raws[j], 1, #empty) ~= empty then resolved[#resolved + 1] = versions[at[j]][1] end
    end
  end
  local writes = {}
  local wraws = writes_of(field)
  for j = 1, #wraws do
    if wraws[j] then
      local ch = write_channel(wraws[j])
      if ch == nil or remaining[ch] then writes[#writes + 1] = wraws[j] end
    end
  end
  steps[#steps + 1] = {rec, blobs, writes}
  for _, ch in ipairs(resolved) do
    if remaining[ch] then remaining[ch] = nil; left = left - 1 end
  end
  cursor = r[4]
  if type(cursor) ~= 'string' then cursor = nil end
end
touch(tonumber(ARGV[4]))
return {steps, more}
"""

_SCRIPTS = {
    "get_bundle": _GET_BUNDLE,
    "page": _PAGE,
    "put_checkpoint": _PUT_CHECKPOINT,
    "put_writes": _PUT_WRITES,
    "set_record": _SET_RECORD,
    "delete_checkpoints": _DELETE_CHECKPOINTS,
    "delete_orphans": _DELETE_ORPHANS,
    "delta_lineage": _DELTA_LINEAGE,
}

#: A plan yields requests and receives their results:
#: ("script", name, keys, args) | ("scripts", [(name, keys, args), ...]) |
#: ("cmd", name, *args) | ("pipeline", [(name, *args), ...]) | ("scan", pattern)
Plan = Generator[tuple, Any, Any]

_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_.\-]+").fullmatch
_PLAIN_JSON_STRING = re.compile(r"[A-Za-z0-9_.:+\- ]*").fullmatch


def _enc(value: str) -> str:
    """``encode_component``, skipping ``quote`` for the usual ids (nothing to encode)."""
    if _SAFE_COMPONENT(value) and value != "." and value != "..":
        return value
    return encode_component(value)


def _json_version(version: ChannelVersion) -> str:
    """``json.dumps(version)``, without json for the usual version strings."""
    if type(version) is str and _PLAIN_JSON_STRING(version):
        return f'"{version}"'
    return json.dumps(version)


#: The first bytes of every stored empty blob (``[type, payload, checksum]``, msgpack).
_EMPTY_PREFIX = pack([EMPTY_BLOB_TYPE, b"", ""])[: 2 + len(EMPTY_BLOB_TYPE)]
_pack = pack
_unpack = unpack
#: The first byte of a packed checkpoint value (a msgpack array of 4; a bare record is an array of 15).
_PACKED_CHECKPOINT = 0x94
#: Checksums ("<algorithm>:<64 hex>") are stored as 1 algorithm byte + the 32-byte digest.
_CHECKSUM_CODES = {"sha256": 1, "blake2b": 2}
_CHECKSUM_NAMES = {code: f"{name}:" for name, code in _CHECKSUM_CODES.items()}


def _checksum_bytes(checksum: str) -> bytes | str:
    """``checksum`` as stored: compact bytes for the known 32-byte digests, else unchanged."""
    algorithm, _, digest = checksum.partition(":")
    code = _CHECKSUM_CODES.get(algorithm)
    if code is None or len(digest) != 64:
        return checksum
    try:
        return bytes((code,)) + bytes.fromhex(digest)
    except ValueError:
        return checksum


def _checksum_text(stored: bytes | str) -> str:
    if isinstance(stored, str):
        return stored  # written before checksums were compacted, or an unknown algorithm
    name = _CHECKSUM_NAMES.get(stored[0]) if len(stored) == 33 else None
    return name + stored[1:].hex() if name else "?:" + stored.hex()  # "?:": fails verification


def _decode_blob(channel: str, version: ChannelVersion, raw: bytes) -> StoredBlob:
    typ, data, checksum = _unpack(raw)
    return StoredBlob(channel, version, typ, data, _checksum_text(checksum))


def _decode_record(raw: bytes, payload: bytes | None = None, *, include_payload: bool = True) -> StoredRecord:
    """A record from its stored value: packed with its payload, or (first layout) bare."""
    if raw[0] == _PACKED_CHECKPOINT:
        inner, packed_payload, _names, checksum = msgpack.unpackb(raw, raw=True)
        rec = unpack_record(inner, packed_payload, include_payload=include_payload)
        if len(checksum) == 33 and checksum[0] in _CHECKSUM_NAMES:
            rec.checksum = _checksum_text(checksum)
        elif checksum:
            rec.checksum = checksum.decode()  # an unknown algorithm, kept as text
        return rec
    return unpack_record(raw, payload, include_payload=include_payload)


def _packed_writes(value: bytes | None) -> list[bytes]:
    """The raw writes of a checkpoint's packed writes field ({key, write, ...})."""
    return msgpack.unpackb(value, raw=True)[1::2] if value else []


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def iter_one(request: tuple) -> Plan:
    """A plan of a single request whose result is the plan's result."""
    return (yield request)


class RedisCheckpointManager(BaseCheckpointManager):
    """Checkpoints in Redis or Redis Cluster (see the module docstring for the key layout)."""

    parameters_model = RedisParameters
    backend_name = "redis"
    #: Ancestors a delta-channel walk reads per round trip (bounds the time one script holds the server).
    delta_steps_per_call = 128

    # ------------------------------------------------------------------ clients
    def _open(self) -> None:
        p = self.params
        if "{" in p.key_prefix or "}" in p.key_prefix:
            raise ConfigError("must not contain '{' or '}' (they would replace the per-thread hash tag)", path="key_prefix")
        if p.cluster_enabled and not p.cluster_nodes and p.url is None:
            raise ConfigError("cluster_enabled needs at least one entry in cluster_nodes (or a url)", path="cluster_nodes")
        self._prefix = p.key_prefix
        self._key_cache: dict[str, list[str]] = {}
        self._warm_threads: set[tuple[str, str]] = set()
        self._where = self._describe_endpoint()
        self._batch = p.pipeline_size if p.pipeline_enabled else 1
        if p.local_cache_enabled:  # see the module docstring: a decoded-blob cache, not RESP3 tracking
            self._blob_cache = LRUCache(p.local_cache_size, p.local_cache_ttl)
        self._async: dict[int, tuple[Any, dict[str, Any], Any]] = {}
        self._initialized_clients: weakref.WeakSet[Any] = weakref.WeakSet()
        with self._translate():
            self._client = self._make_client(asynchronous=False)
            self._scripts = {name: self._client.register_script(src) for name, src in _SCRIPTS.items()}
            self._client.ping()
        self._fast_scripts = _DirectScripts.for_client(self._client) or _DirectClusterScripts.for_client(self._client, self._scripts)
        if p.cluster_enabled:
            with self._translate():  # on every primary: no NOSCRIPT round trip per node later
                for src in _SCRIPTS.values():
                    self._client.script_load(src)

    def _describe_endpoint(self) -> str:
        p = self.params
        if p.cluster_enabled and p.cluster_nodes:
            return "redis cluster at " + ",".join(f"{n.host}:{n.port}" for n in p.cluster_nodes)
        if p.url is not None:
            from langgraph_ckpt_config.config.redact import redact_url

            return "redis at " + redact_url(p.url.get_secret_value())
        return f"redis at {p.host}:{p.port}"

    def _client_kwargs(self, asynchronous: bool) -> dict[str, Any]:
        p = self.params
        retry_cls = redis.asyncio.retry.Retry if asynchronous else redis.retry.Retry
        kwargs: dict[str, Any] = {
            "socket_timeout": p.socket_timeout,
            "socket_connect_timeout": p.connection_timeout,
            # One immediate retry replaces a pooled connection the server closed; no
            # backoff so that a dead server fails within the configured timeouts. Not after a
            # timeout: a server that accepts connections but does not answer would cost a
            # new connection's handshake and a second timeout.
            "retry": retry_cls(NoBackoff(), 1, supported_errors=(rexc.ConnectionError,)),
        }
        if p.password is not None:
            kwargs["password"] = p.password.get_secret_value()
        if p.username is not None:
            kwargs["username"] = p.username
        if self._uses_tls:
            kwargs.update(
                ssl_ca_certs=p.ssl_ca_certs,
                ssl_certfile=p.ssl_certfile,
                ssl_keyfile=p.ssl_keyfile,
                ssl_cert_reqs=p.ssl_cert_reqs,
                ssl_check_hostname=p.ssl_check_hostname and p.ssl_cert_reqs != "none",
            )
        return kwargs

    def _url(self) -> str:
        """The configured url; ``ssl: true`` turns a ``redis://`` url into ``rediss://``."""
        url = self.params.url.get_secret_value()
        if self.params.ssl and url[:8].lower() == "redis://":
            url = "rediss://" + url[8:]
        return url

    def _from_url(self, build: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """``build(url, **kwargs)``; a URL redis-py cannot parse is a ConfigError naming ``url``.

        redis-py's own message may quote a piece of the URL -- a password containing
        '/' is read as a host and a port (``Port could not be cast to integer value
        as 'TOP'``) -- so neither it nor the URL is shown, and it is not chained.
        """
        try:
            return build(self._url(), **kwargs)
        except ValueError:  # redis.connection.parse_url's only error
            pass
        raise ConfigError(
            "is not a valid Redis URL: expected the scheme redis, rediss or unix, then [username:password@]host[:port][/db] "
            "(percent-encode '/', '?' and '#' in a password, or set the password in 'password' instead)",
            path="url",
        )

    @property
    def _uses_tls(self) -> bool:
        """``ssl: true`` or a ``rediss://`` url (a ``unix://`` socket never uses TLS)."""
        p = self.params
        if p.url is None:
            return p.ssl
        scheme = p.url.get_secret_value().split("://", 1)[0].lower()
        return scheme == "rediss" or (p.ssl and scheme == "redis")

    def _make_client(self, *, asynchronous: bool) -> Any:
        p = self.params
        kwargs = self._client_kwargs(asynchronous)
        if p.cluster_enabled:
            cluster_mod = redis.asyncio.cluster if asynchronous else redis.cluster
            kwargs["max_connections"] = max(p.connection_pool_size, 32)
            if p.cluster_nodes:
                nodes = [cluster_mod.ClusterNode(n.host, n.port) for n in p.cluster_nodes]
                return cluster_mod.RedisCluster(startup_nodes=nodes, ssl=self._uses_tls, **kwargs)
            return self._from_url(cluster_mod.RedisCluster.from_url, kwargs)
        mod = aredis if asynchronous else redis
        # A blocking pool: more concurrent operations than connection_pool_size (an async
        # graph runs a thread's put and writes concurrently, many threads at once) wait up
        # to socket_timeout for a free connection instead of failing with "Too many connections".
        kwargs["max_connections"] = p.connection_pool_size
        kwargs["timeout"] = p.socket_timeout
        if p.url is not None:
            pool = self._from_url(mod.BlockingConnectionPool.from_url, kwargs)
        else:
            if p.ssl:
                kwargs["connection_class"] = mod.SSLConnection
            pool = mod.BlockingConnectionPool(host=p.host, port=p.port, db=p.db, **kwargs)
        return mod.Redis.from_pool(pool)  # the client owns the pool: closing it disconnects the pool

    def _aclient(self) -> tuple[Any, dict[str, Any]]:
        """The async client of the running event loop, created on first use.

        redis.asyncio clients are bound to the loop that created them. A client whose
        loop has closed cannot be closed the asyncio way any more: when a new client is
        made, the clients of closed loops are released (their sockets shut down and
        closed, see ``_drop_sockets``) and forgotten.
        """
        loop = asyncio.get_running_loop()
        entry = self._async.get(id(loop))
        if entry is None or entry[2] is not loop:
            client = self._make_client(asynchronous=True)
            scripts = {name: client.register_script(src) for name, src in _SCRIPTS.items()}
            entry = (client, scripts, loop)
            for key, (old, _scripts, old_loop) in list(self._async.items()):
                if old_loop.is_closed():
                    self._async.pop(key, None)
                    _drop_sockets(old, close=True)
            self._async[id(loop)] = entry
        return entry[0], entry[1]

    async def _aclient_ready(self) -> tuple[Any, dict[str, Any]]:
        client, scripts = self._aclient()
        if self.params.cluster_enabled and client not in self._initialized_clients:
            # redis.asyncio's RedisCluster initializes lazily, and concurrent first commands
            # on a fresh client race there (seen as "'NoneType' object has no attribute
            # 'writelines'" or closed connections): initialize it first (it holds a lock).
            await client.initialize()
            self._initialized_clients.add(client)
        return client, scripts

    def _close(self) -> None:
        with contextlib.suppress(rexc.RedisError, OSError):
            self._client.close()
        entries = list(self._async.values())
        self._async.clear()
        for client, _scripts, loop in entries:
            _release_async_client(client, loop)

    async def aclose_loop_clients(self) -> None:
        """Close the async client of the running event loop (the manager stays open; the
        next async call makes a new one). For callers about to close their loop."""
        loop = asyncio.get_running_loop()
        for key, (client, _scripts, client_loop) in list(getattr(self, "_async", {}).items()):
            if client_loop is loop:
                self._async.pop(key, None)
                with contextlib.suppress(rexc.RedisError, OSError):
                    await client.aclose()

    async def aclose(self) -> None:
        try:
            await self.aclose_loop_clients()
        finally:
            self.close()  # sync client close: no I/O beyond closing sockets

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except CkptError:
            raise
        except (*_UNAVAILABLE, rexc.RedisError) as exc:
            raise self._translated(exc) from None

    def _translated(self, exc: BaseException) -> CkptError:
        """Our error for a redis-py one: unavailable (connection, timeout, loading...) or not.
        A refused password is not "unavailable" (redis-py raises it as a ConnectionError):
        retrying cannot help, the configuration must change."""
        if isinstance(exc, (rexc.AuthenticationError, rexc.AuthorizationError)):
            return ManagerError(
                f"{self._where}: authentication failed ({type(exc).__name__}); check the configured "
                "username/password (not shown)"
            )
        if isinstance(exc, _UNAVAILABLE):
            return BackendUnavailableError(f"{self._where} unavailable: {type(exc).__name__}: {exc}")
        return ManagerError(f"{self._where} error: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ executors
    def _run(self, plan: Plan) -> Any:
        # _translate's handling inline: a context manager per call costs more than the rest of it
        try:
            request = next(plan)
            while True:
                request = plan.send(self._execute(request))
        except StopIteration as stop:
            return stop.value
        except CkptError:
            raise
        except (*_UNAVAILABLE, rexc.RedisError) as exc:
            raise self._translated(exc) from None

    async def _arun(self, plan: Plan) -> Any:
        with self._translate():
            client, scripts = await self._aclient_ready()
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
            if self._fast_scripts is not None:
                return self._fast_scripts(name, keys, args)
            return self._scripts[name](keys=keys, args=args)
        if kind == "scripts":
            return self._script_pipeline(self._client, self._scripts, request[1])
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
        if kind == "scripts":
            return await self._ascript_pipeline(client, scripts, request[1])
        if kind == "scan":
            return [k async for k in client.scan_iter(match=request[1], count=1000)]
        if kind == "pipeline":
            pipe = client.pipeline(transaction=False)
            for cmd, *args in request[1]:
                pipe.execute_command(cmd, *args)
            return await pipe.execute()
        _, cmd, *args = request
        return await client.execute_command(cmd, *args)

    # Script calls batched in one pipeline: EVALSHA, and EVAL for the calls a server
    # answered NOSCRIPT (its script cache is empty after a restart or on a new node).
    # On a cluster each call names its node: redis-py's sync cluster pipeline otherwise asks
    # a server (COMMAND GETKEYS, one round trip per command) where an EVALSHA's keys are.
    # A slot that moved meanwhile still works: redirected commands are routed again.
    @staticmethod
    def _script_pipeline(client: Any, scripts: dict[str, Any], calls: list[tuple]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        cluster = isinstance(client, redis.cluster.RedisCluster)
        for name, keys, args in calls:
            route = {"target_nodes": client.get_node_from_key(keys[0])} if cluster else {}
            pipe.execute_command("EVALSHA", scripts[name].sha, len(keys), *keys, *args, **route)
        results = pipe.execute(raise_on_error=False)
        retry = [i for i, r in enumerate(results) if isinstance(r, rexc.NoScriptError)]
        if retry:
            pipe = client.pipeline(transaction=False)
            for i in retry:
                name, keys, args = calls[i]
                route = {"target_nodes": client.get_node_from_key(keys[0])} if cluster else {}
                pipe.execute_command("EVAL", _SCRIPTS[name], len(keys), *keys, *args, **route)
            for i, r in zip(retry, pipe.execute(raise_on_error=False)):
                results[i] = r
        return _raise_first(results)

    @staticmethod
    async def _ascript_pipeline(client: Any, scripts: dict[str, Any], calls: list[tuple]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        cluster = isinstance(client, redis.asyncio.cluster.RedisCluster)
        for name, keys, args in calls:
            route = {"target_nodes": client.get_node_from_key(keys[0])} if cluster else {}
            pipe.execute_command("EVALSHA", scripts[name].sha, len(keys), *keys, *args, **route)
        results = await pipe.execute(raise_on_error=False)
        retry = [i for i, r in enumerate(results) if isinstance(r, rexc.NoScriptError)]
        if retry:
            pipe = client.pipeline(transaction=False)
            for i in retry:
                name, keys, args = calls[i]
                route = {"target_nodes": client.get_node_from_key(keys[0])} if cluster else {}
                pipe.execute_command("EVAL", _SCRIPTS[name], len(keys), *keys, *args, **route)
            for i, r in zip(retry, await pipe.execute(raise_on_error=False)):
                results[i] = r
        return _raise_first(results)

    # ------------------------------------------------------------------ layout
    def _keys(self, thread_id: str) -> list[str]:
        """The thread's keys (cached: callers must not change the list)."""
        cache = self._key_cache
        keys = cache.get(thread_id)
        if keys is None:
            tag = _enc(thread_id) or "~"  # an empty hash tag would scatter the keys over slots
            base = f"{self._prefix}{{{tag}}}:"
            keys = [base + suffix for suffix in _KEY_SUFFIXES]
            if len(cache) >= 4096:
                cache.clear()
            cache[thread_id] = keys
        return keys

    @staticmethod
    def _field(ns: str, checkpoint_id: str) -> str:
        return f"{_enc(ns)}|{checkpoint_id}"

    @staticmethod
    def _cr_member(ns: str, checkpoint_id: str) -> str:
        return f"{checkpoint_id}\x00{_enc(ns)}"

    @staticmethod
    def _blob_field(ns: str, channel: str, version: ChannelVersion) -> str:
        return f"{_enc(ns)}|{_enc(channel)}|{_json_version(version)}"

    @staticmethod
    def _write_field(ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
        return f"{_enc(ns)}|{_enc(checkpoint_id)}|{_enc(task_id)}|{idx}"

    @property
    def _ttl(self) -> int:
        return int(self.params.ttl or 0)

    @property
    def _read_ttl(self) -> int:
        return self._ttl if self.params.refresh_ttl_on_read else 0

    # ------------------------------------------------------------------ plans (logic written once)
    def _write_request(
        self,
        record: StoredRecord,
        blobs: Sequence[tuple[str, StoredBlob]],
        must_exist: Sequence[str] = (),
        carried_over: Sequence[tuple[str, ChannelVersion]] = (),
    ) -> tuple:
        field = self._field(record.checkpoint_ns, record.checkpoint_id)
        blob_args: list[Any] = []
        for ns, b in blobs:
            blob_args += [self._blob_field(ns, b.channel, b.version), _pack([b.payload_type, b.payload, _checksum_bytes(b.checksum)])]
        if _derivable_names(record.channel_versions):
            names = b""  # the scripts derive them (packed_names): ~130 bytes less per checkpoint
        else:
            names = _pack([self._blob_field(record.checkpoint_ns, ch, ver) for ch, ver in record.channel_versions.items()])
        ns = record.checkpoint_ns
        required = [self._blob_field(ns, ELEMENT_CHANNEL, h) for h in must_exist]
        required += [self._blob_field(ns, ch, ver) for ch, ver in carried_over]
        args = [
            field, _pack_checkpoint(record, names), self._ttl,
            self._cr_member(record.checkpoint_ns, record.checkpoint_id), repr(float(record.created_at)),
            len(required), *required, *blob_args,
        ]
        return ("put_checkpoint", self._keys(record.thread_id), args)

    def _plan_write_checkpoint(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str] = (), *, checked: bool = False
    ) -> Plan:
        """One script call. ``checked``: base.py's check (the list elements ``must_exist`` and
        the values of unchanged channels are still stored), done by the script before it writes."""
        carried = carried_over_values(record, blobs) if checked else ()
        res = yield ("script", *self._write_request(record, blobs, must_exist, carried))
        if isinstance(res, list) and res and res[0] in (b"gone", "gone"):
            field = res[1].decode() if isinstance(res[1], bytes) else str(res[1])
            raise StaleElementsError(record.thread_id, [field])

    #: A cold read gets the namespace's elements with the checkpoint when the thread's blob
    #: hash has at most this many fields (bounds the reply and the script's time).
    cold_read_max_fields = 2048

    def _bundle_request(self, thread_id: str, ns: str, checkpoint_id: str | None, full: bool = True, cold: bool = False) -> tuple:
        args = [f"{_enc(ns)}|", checkpoint_id or "", self._read_ttl, "1" if full else "0"]
        if cold:
            args += [f"{_enc(ns)}|{_enc(ELEMENT_CHANNEL)}|", self.cold_read_max_fields]
        return ("get_bundle", self._keys(thread_id), args)

    @staticmethod
    def _decode_bundle(res: Any, on_elements: Any = None) -> StoredBundle | None:
        """The stored bundle of a ``get_bundle`` reply; ``on_elements(record, flat)`` receives
        the elements of a cold read (``[json digest, stored element, ...]``), if any."""
        if not res:
            return None
        rec_raw, payload, blob_raws, write_raws, *extra = msgpack.unpackb(res, raw=True)
        record = _decode_record(rec_raw, payload or b"")
        blobs: dict[BlobKey, StoredBlob] = {}
        for (ch, ver), raw in zip(record.channel_versions.items(), blob_raws):
            if raw:
                blobs[(ch, ver)] = _decode_blob(ch, ver, raw)
        writes = [RedisCheckpointManager._decode_write(raw) for raw in write_raws if raw]
        if on_elements is not None and extra and extra[0]:
            on_elements(record, extra[0])
        return StoredBundle(record, blobs, writes)

    def _plan_read_bundle(self, thread_id: str, ns: str, checkpoint_id: str | None, full: bool = True) -> Plan:
        cold = full and (thread_id, ns) not in self._warm_threads
        res = yield ("script", *self._bundle_request(thread_id, ns, checkpoint_id, full, cold))
        if not cold:
            return self._decode_bundle(res)
        bundle = self._decode_bundle(res, self._cache_cold_elements)
        self._mark_warm(thread_id, ns)
        return bundle

    def _mark_warm(self, thread_id: str, ns: str) -> None:
        """This process has read or written the namespace: its list elements are (or were) in
        the element cache, so reads stop asking for all of them."""
        warm = self._warm_threads
        if len(warm) >= 100_000:
            warm.clear()
        warm.add((thread_id, ns))

    def _cache_cold_elements(self, record: StoredRecord, flat: Sequence[bytes]) -> None:
        """Verify, open and cache (by digest, base ``_open_blob``) the elements a cold read
        brought, so ``_plan_attach_elements`` finds the bundle's in the cache. One that fails
        verification is skipped here: if the bundle needs it, the usual fetch reports it."""
        tid, ns, cache = record.thread_id, record.checkpoint_ns, self._element_cache
        for i in range(0, len(flat), 2):
            try:
                digest = json.loads(flat[i])
                if cache.get(digest) is None:
                    self._open_blob(tid, ns, _decode_blob(ELEMENT_CHANNEL, digest, flat[i + 1]))
            except (CkptError, ValueError, TypeError):
                continue

    @staticmethod
    def _decode_write(raw: bytes) -> StoredWrite:
        task_id, idx, channel, typ, payload, checksum, task_path = _unpack(raw)
        return StoredWrite(task_id, idx, channel, typ, payload, _checksum_text(checksum), task_path)

    def _writes_request(self, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], replace: bool) -> tuple:
        legacy_prefix = f"{_enc(ns)}|{_enc(checkpoint_id)}|"  # the first layout's write fields
        args: list[Any] = [self._field(ns, checkpoint_id), "1" if replace else "0", self._ttl, legacy_prefix]
        for w in writes:
            args += [
                f"{_enc(w.task_id)}|{w.idx}",
                _pack([w.task_id, w.idx, w.channel, w.payload_type, w.payload, _checksum_bytes(w.checksum), w.task_path]),
            ]
        return ("put_writes", self._keys(thread_id), args)

    def _plan_write_writes(self, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], replace: bool) -> Plan:
        yield ("script", *self._writes_request(thread_id, ns, checkpoint_id, writes, replace))

    def _plan_read_blobs(self, thread_id: str, ns: str, keys: Sequence[BlobKey]) -> Plan:
        if not keys:
            return {}
        fields = [self._blob_field(ns, ch, ver) for ch, ver in keys]
        raws = yield ("cmd", "HMGET", self._keys(thread_id)[BLOB], *fields)
        return {(ch, ver): _decode_blob(ch, ver, raw) for (ch, ver), raw in zip(keys, raws) if raw is not None}

    def _plan_attach_elements(self, bundle: OpenedBundle) -> Plan:
        """Async-capable twin of base ``_attach_elements``: list elements named by manifests.

        Warm (every element and node in this process's cache): base ``_load_elements`` alone.
        Otherwise every missing element and list-tree node is fetched here (one ``HMGET`` per
        tree level), so that ``_load_elements`` then finds them all and does no I/O.
        """
        hashes = bundle.manifest_hashes()
        if hashes:
            tid, ns = bundle.record.thread_id, bundle.record.checkpoint_ns
            try:
                bundle.elements = self._load_elements(tid, ns, hashes, _fetch_nothing)
            except _NotCached:
                stored = yield from self._plan_fetch_elements(tid, ns, hashes)
                bundle.elements = self._load_elements(tid, ns, hashes, lambda keys: stored)
        return bundle

    def _plan_fetch_elements(self, thread_id: str, ns: str, digests: Any) -> Plan:
        """Stored (or cached) elements ``digests`` and, for list-tree nodes among them, their
        descendants, a tree level per round trip. Missing digests are left out (callers
        that need them all find out when opening them)."""
        stored: dict[BlobKey, StoredBlob] = {}
        wanted = set(digests)
        while wanted:
            cached, missing = self._split_cached_blobs(thread_id, ns, [(ELEMENT_CHANNEL, h) for h in wanted])
            stored.update(cached)
            if missing:
                stored.update((yield from self._plan_read_blobs(thread_id, ns, missing)))
            children: set[str] = set()
            if NODE_TYPE is not None:
                for h in wanted:
                    blob = stored.get((ELEMENT_CHANNEL, h))
                    if blob is not None and blob.payload_type == NODE_TYPE:
                        body = self._open_blob(thread_id, ns, blob)
                        if blob.checksum != _OPENED:  # verified now: not again by _open_elements
                            stored[(ELEMENT_CHANNEL, h)] = StoredBlob(ELEMENT_CHANNEL, h, NODE_TYPE, body, _OPENED)
                            self._known_elements.add((thread_id, ns, h))
                        children.update(child for _, child in node_entries(body))
            wanted = {h for h in children if (ELEMENT_CHANNEL, h) not in stored}
        return stored

    def _plan_thread_ids(self) -> Plan:
        pattern = _GLOB.sub(r"\\\1", self._prefix) + "{*}:rec"
        keys = yield ("scan", pattern)
        start, end = len(self._prefix) + 1, -len("}:rec")
        out = set()
        for key in keys:
            tag = _text(key)[start:end]
            out.add("" if tag == "~" else unquote(tag))
        return list(out)

    @staticmethod
    def _index_range(query: RecordQuery) -> tuple[str, bytes | str, bytes | str, bool] | None:
        """(mode, max, min, exact) of the index answering ``query`` for one thread, or None.

        ``exact``: the index alone selects the records (no Python filter can drop one),
        so offset and limit can be applied by the server.
        """
        q = query
        others = bool(q.workflow_id or q.status or q.tags or q.kind or q.metadata)
        if q.order == "checkpoint_id" and q.checkpoint_ns is not None:
            prefix = f"{_enc(q.checkpoint_ns)}|".encode()
            upper = b"(" + prefix + q.before_id.encode() if q.before_id is not None else b"[" + prefix + b"\xff"
            return "lex", upper, b"[" + prefix, not (others or q.older_than is not None)
        if q.order == "created_at":
            upper = f"({q.older_than!r}" if q.older_than is not None else "+inf"
            return "score", upper, "-inf", not (others or q.checkpoint_ns is not None or q.before_id is not None)
        return None

    def _plan_thread_records(self, thread_id: str, query: RecordQuery) -> Plan:
        """Records of one thread matching ``query``: sorted, offset/limit applied, payloads if asked."""
        q = query
        keys = self._keys(thread_id)
        if q.limit == 0:
            return []
        need = None if q.limit is None else q.offset + q.limit
        index = self._index_range(q) if q.checkpoint_id is None else None
        decode = self._record_decoder(q.include_payload)
        if q.checkpoint_id is not None and q.checkpoint_ns is not None:
            raws = yield ("cmd", "HMGET", keys[REC], self._field(q.checkpoint_ns, q.checkpoint_id))
            recs = [rec for rec in (decode(r) for r in raws if r) if record_matches(rec, q)]
        elif index is None:
            found = yield ("cmd", "HGETALL", keys[REC])
            recs = [rec for rec in (decode(r) for r in found.values()) if record_matches(rec, q)]
            recs.sort(key=sort_key(q), reverse=True)
            recs = recs[q.offset : need]
        else:
            mode, upper, lower, exact = index
            if exact:
                count = -1 if q.limit is None else q.limit
                _, raws = yield ("script", "page", keys, [mode, upper, lower, q.offset, count, self._read_ttl])
                recs = [rec for rec in (decode(r) for r in raws if r) if record_matches(rec, q)]
            else:
                start, size, recs = 0, (-1 if need is None else max(64, 2 * need)), []
                while True:
                    fields, raws = yield ("script", "page", keys, [mode, upper, lower, start, size, self._read_ttl])
                    recs += [rec for rec in (decode(r) for r in raws if r) if record_matches(rec, q)]
                    if size < 0 or len(fields) < size or (need is not None and len(recs) >= need):
                        break
                    start, size = start + size, size * 2
                recs = recs[q.offset : need]
        bare = [r for r in recs if r.payload is None] if q.include_payload else []
        if bare:  # records of the first layout: payloads stored apart
            fields = [self._field(r.checkpoint_ns, r.checkpoint_id) for r in bare]
            payloads = yield ("cmd", "HMGET", keys[PL], *fields)
            for rec, payload in zip(bare, payloads):
                rec.payload = payload or b""
        return recs

    @staticmethod
    def _record_decoder(include_payload: bool) -> Any:
        if include_payload:
            return _decode_record
        return lambda raw: _decode_record(raw, include_payload=False)

    def _plan_query(self, query: RecordQuery) -> Plan:
        if query.thread_id is not None:
            return (yield from self._plan_thread_records(query.thread_id, query))
        threads = yield from self._plan_thread_ids()
        found: list[StoredRecord] = []
        for chunk in _chunks(sorted(threads), self._batch):
            results = yield ("pipeline", [("HGETALL", self._keys(tid)[REC]) for tid in chunk])
            for mapping in results:
                found += [rec for rec in map(_decode_record, mapping.values()) if record_matches(rec, query)]
        found.sort(key=sort_key(query), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        found = found[query.offset : end]
        if not query.include_payload:
            for rec in found:
                rec.payload = None
        else:
            bare = [r for r in found if r.payload is None]  # first layout: payloads stored apart
            for chunk in _chunks(bare, self._batch):
                cmds = [("HGET", self._keys(r.thread_id)[PL], self._field(r.checkpoint_ns, r.checkpoint_id)) for r in chunk]
                for rec, payload in zip(chunk, (yield ("pipeline", cmds))):
                    rec.payload = payload or b""
        return found

    def _plan_bundles(self, query: RecordQuery) -> Plan:
        """Stored bundles of the records ``query`` selects: one script call each, pipelined."""
        records = yield from self._plan_query(dataclasses.replace(query, include_payload=False))
        out: list[StoredBundle] = []
        for chunk in _chunks(records, self._batch):
            calls = [self._bundle_request(r.thread_id, r.checkpoint_ns, r.checkpoint_id) for r in chunk]
            if len(calls) == 1:
                results = [(yield ("script", *calls[0]))]
            else:
                results = yield ("scripts", calls)
            out += [b for b in map(self._decode_bundle, results) if b is not None]
        return out

    def _plan_open_bundles(self, query: RecordQuery) -> Plan:
        out = []
        for stored in (yield from self._plan_bundles(query)):
            out.append((yield from self._plan_attach_elements(self._open_bundle(stored))))
        return out

    def _plan_read_writes(self, thread_id: str, ns: str, checkpoint_id: str) -> Plan:
        keys = self._keys(thread_id)
        field = self._field(ns, checkpoint_id)
        index, packed = yield ("pipeline", [("HGET", keys[WI], field), ("HGET", keys[W], field)])
        raws = _packed_writes(packed)
        names = _unpack(index) if index else []
        if names:  # writes stored in the first layout, one field each
            raws = [*(yield ("cmd", "HMGET", keys[W], *names)), *raws]
        return [self._decode_write(raw) for raw in raws if raw is not None]

    def _plan_delta_lineage(self, thread_id: str, ns: str, checkpoint_id: str | None, channels: Sequence[str]) -> Plan:
        """base ``delta_lineage``: the walk runs in the server (``_DELTA_LINEAGE``), up to
        ``delta_steps_per_call`` ancestors per round trip, returning only the blobs and
        writes of still-unresolved channels; then the list elements (and list-tree nodes)
        of every list seed found, a tree level per round trip, none when cached."""
        remaining = set(channels)
        steps: list[DeltaStep] = []
        if not remaining:
            return steps
        keys = self._keys(thread_id)
        prefix = f"{_enc(ns)}|"
        cursor: str | None = checkpoint_id or ""
        from_parent = "1"
        lists: list[tuple[list[str], dict[str, tuple[str, bytes]]]] = []  # (roots, elements to fill)
        while cursor is not None and remaining:
            args = [prefix, cursor, from_parent, self._read_ttl, self.delta_steps_per_call, _EMPTY_PREFIX, *remaining]
            found, more = yield ("script", "delta_lineage", keys, args)
            for rec_raw, blob_raws, write_raws in found:
                rec = unpack_record(rec_raw, include_payload=False)
                versions = list(rec.channel_versions.items())
                blobs: dict[BlobKey, StoredBlob] = {}
                for i in range(0, len(blob_raws), 2):
                    ch, ver = versions[int(blob_raws[i]) - 1]
                    blobs[(ch, ver)] = _decode_blob(ch, ver, blob_raws[i + 1])
                seeds: dict[str, DeltaSeed] = {}
                for ch in remaining:  # base's order: the same set, the same iteration
                    ver = rec.channel_versions.get(ch)
                    blob = blobs.get((ch, ver)) if ver is not None else None
                    if blob is not None and blob.payload_type != EMPTY_BLOB_TYPE:
                        raw = self._open_blob(thread_id, ns, blob)
                        elements: dict[str, tuple[str, bytes]] = {}
                        if blob.payload_type in MANIFEST_TYPES:  # a list stored element by element
                            lists.append(([h for _, h in manifest_entries(blob.payload_type, raw)], elements))
                        seeds[ch] = (blob.payload_type, raw, elements)
                writes = [
                    self._open_write(thread_id, ns, rec.checkpoint_id, w)
                    for w in map(self._decode_write, write_raws)
                    if w.channel in remaining
                ]
                writes.sort(key=lambda w: (w.task_path, w.task_id, w.idx))
                steps.append((writes, seeds))
                remaining.difference_update(seeds)
                cursor = rec.parent_checkpoint_id
            if not more:
                break
            from_parent = "0"
        if lists:
            stored = yield from self._plan_fetch_elements(thread_id, ns, {h for roots, _ in lists for h in roots})
            for roots, elements in lists:  # no I/O: every reachable element is in ``stored``
                elements.update(self._load_elements(thread_id, ns, roots, lambda _keys: stored))
        return steps

    # ------------------------------------------------------------------ thread operations as plans
    # copy / delete-for-runs / prune / blob collection, written once for ``_run`` (sync) and
    # ``_arun`` (the adapter's async methods, on the event loop): base.py's versions call the
    # sync primitives one by one, which the async twins could only run in a worker thread.
    def _plan_referenced_elements(self, thread_id: str, records: Sequence[StoredRecord]) -> Plan:
        """(ns, digest) of every element and list node the manifests of ``records`` reach
        (a missing node does not stop the walk: this feeds garbage collection)."""
        per_ns: dict[str, set[BlobKey]] = {}
        for rec in records:
            per_ns.setdefault(rec.checkpoint_ns, set()).update(rec.channel_versions.items())
        out: set[tuple[str, str]] = set()
        for ns, keys in per_ns.items():
            digests: set[str] = set()
            for chunk in _chunks(list(keys), 1000):
                for blob in (yield from self._plan_read_blobs(thread_id, ns, chunk)).values():
                    if blob.payload_type in MANIFEST_TYPES:
                        body = self._open_blob(thread_id, ns, blob)
                        digests.update(h for _, h in manifest_entries(blob.payload_type, body))
            reached = yield from self._plan_fetch_elements(thread_id, ns, digests)
            out.update((ns, h) for h in digests)
            out.update((ns, key[1]) for key in reached)
        return out

    def _plan_collect_blobs(self, thread_id: str) -> Plan:
        """base ``_collect_blobs``: blob keys listed *before* the records are read, and the
        orphans deleted only if no checkpoint was written to the thread meanwhile (the put
        script's write generation, checked by ``_DELETE_ORPHANS``); otherwise the collection
        starts again, at most ``_COLLECT_ATTEMPTS`` times (then the orphans wait for the next)."""
        keys = self._keys(thread_id)
        for _ in range(_COLLECT_ATTEMPTS):
            generation, fields = yield ("pipeline", [("HGET", keys[PL], _GENERATION_FIELD), ("HKEYS", keys[BLOB])])
            candidates = []
            for f in fields:
                ns, ch, ver = _text(f).split("|", 2)
                candidates.append((unquote(ns), unquote(ch), json.loads(ver)))
            records = yield from self._plan_thread_records(thread_id, RecordQuery(thread_id=thread_id, include_payload=False))
            referenced = {(rec.checkpoint_ns, ch, ver) for rec in records for ch, ver in rec.channel_versions.items()}
            if any(key[1] == ELEMENT_CHANNEL for key in candidates):
                elements = yield from self._plan_referenced_elements(thread_id, records)
                referenced.update((ns, ELEMENT_CHANNEL, h) for ns, h in elements)
            orphans = [key for key in candidates if key not in referenced]
            if not orphans:
                return 0
            args = [_text(generation) if generation is not None else "", *[self._blob_field(ns, ch, v) for ns, ch, v in orphans]]
            removed = int((yield ("script", "delete_orphans", keys, args)))
            if removed < 0:  # a checkpoint was written meanwhile
                continue
            self._blob_cache.discard_where(lambda k: k[0] == thread_id)
            self._known_elements.discard_thread(thread_id)
            return removed
        return 0

    def _plan_delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> Plan:
        """base ``delete_checkpoints``: one script, then the blobs no longer referenced."""
        if not keys:
            return 0
        args: list[str] = []
        for ns, cid in keys:
            args += [self._field(ns, cid), self._cr_member(ns, cid)]
        removed = int((yield ("script", "delete_checkpoints", self._keys(thread_id), args)))
        yield from self._plan_collect_blobs(thread_id)
        self._count("checkpoints_deleted", removed)
        return removed

    def _plan_delete_for_runs(self, run_ids: Sequence[str]) -> Plan:
        """base ``delete_for_runs``: one SCAN and one pipelined read of every thread's
        records for all ``run_ids``, then one delete script (and blob collection) per thread."""
        queries = [RecordQuery(metadata={"run_id": run_id}, include_payload=False) for run_id in _run_ids(run_ids)]
        if not queries:
            return 0
        threads = sorted((yield from self._plan_thread_ids()))
        by_thread: dict[str, list[tuple[str, str]]] = {}
        for chunk in _chunks(threads, self._batch):
            results = yield ("pipeline", [("HGETALL", self._keys(tid)[REC]) for tid in chunk])
            for tid, mapping in zip(chunk, results):
                for raw in mapping.values():
                    rec = _decode_record(raw, include_payload=False)
                    if any(record_matches(rec, q) for q in queries):
                        by_thread.setdefault(tid, []).append((rec.checkpoint_ns, rec.checkpoint_id))
        removed = 0
        for tid, keys in by_thread.items():
            removed += yield from self._plan_delete_checkpoints(tid, keys)
        return removed

    def _plan_prune(self, thread_id: str, keep_last: int) -> Plan:
        """base ``prune_thread`` for ``keep_last >= 1``: base's policy (``_prune_plan``:
        heads, archived checkpoints, DeltaChannel ancestors) on records read by the plan."""
        records = yield from self._plan_thread_records(thread_id, RecordQuery(thread_id=thread_id, include_payload=False))
        doomed = BaseCheckpointManager._prune_plan(_Prefetched(self, records), thread_id, keep_last)
        return (yield from self._plan_delete_checkpoints(thread_id, doomed))

    def _plan_copy_thread(self, source: str, target: str) -> Plan:
        """base ``copy_thread`` in a handful of round trips: the records, each namespace's
        blobs (and list elements / nodes), the writes, the record fields still there (a
        checkpoint deleted meanwhile is left out, one missing values though still there raises
        ``IntegrityError`` before anything is written); then the re-sealed copies written in
        id order, pipelined, each checkpoint's script carrying the blobs it is the first
        to name -- a reader of the target never sees a checkpoint without its values."""
        _check_id(target, "target_thread_id")
        records = yield from self._plan_thread_records(source, RecordQuery(thread_id=source))
        records.sort(key=lambda r: (r.checkpoint_ns, r.checkpoint_id))
        src = self._keys(source)
        wi_all, w_all = yield ("pipeline", [("HGETALL", src[WI]), ("HGETALL", src[W])])
        opened: dict[str, dict[BlobKey, tuple[str, bytes]]] = {}  # per ns: (type, raw bytes) of each blob
        for ns in {r.checkpoint_ns for r in records}:
            keys = list({key for r in records if r.checkpoint_ns == ns for key in r.channel_versions.items()})
            found: dict[BlobKey, StoredBlob] = {}
            for chunk in _chunks(keys, 1000):
                found.update((yield from self._plan_read_blobs(source, ns, chunk)))
            raw = {key: (b.payload_type, self._open_blob(source, ns, b) if b.payload_type != EMPTY_BLOB_TYPE else b"") for key, b in found.items()}
            digests = {h for typ, body in raw.values() if typ in MANIFEST_TYPES for _, h in manifest_entries(typ, body)}
            elements = yield from self._plan_fetch_elements(source, ns, digests)
            raw.update((key, (b.payload_type, self._open_blob(source, ns, b))) for key, b in elements.items())
            opened[ns] = raw
        # a checkpoint deleted since it was listed is left out; one still there whose values
        # were not all found is damage (base ``_still_whole``)
        alive_fields = {_text(f) for f in (yield ("cmd", "HKEYS", src[REC]))}
        alive = {
            (r.checkpoint_ns, r.checkpoint_id) for r in records
            if _text(self._field(r.checkpoint_ns, r.checkpoint_id)) in alive_fields
        }
        records = self._keep_whole(source, records, opened, alive, f"copy of thread {source!r}")
        calls: list[tuple] = []
        sent: set[tuple[str, BlobKey]] = set()
        for rec in records:
            ns = rec.checkpoint_ns
            new_blobs = [
                (ns, self.seal_blob(target, ns, ch, ver, typ, body))
                if typ != EMPTY_BLOB_TYPE
                else (ns, StoredBlob(ch, ver, EMPTY_BLOB_TYPE, b"", ""))
                for (ch, ver), (typ, body) in _first_named(rec, opened[ns], sent)
            ]
            # this config's plaintext rule, whatever the source record was written under
            payload_type, payload, plain = self._apply_plaintext_rule(
                rec.kind, rec.payload_type, self._open_record(rec), rec.metadata, strict=False
            )
            sealed, checksum = self._seal(payload, self._record_aad(target, ns, rec.checkpoint_id))
            copy = dataclasses.replace(rec, thread_id=target, payload_type=payload_type, payload=sealed, checksum=checksum,
                                       updated_at=time.time(), tags=list(rec.tags), metadata=plain,
                                       channel_versions=dict(rec.channel_versions))
            calls.append(self._write_request(copy, new_blobs))
            field = self._field(ns, rec.checkpoint_id).encode()
            names = wi_all.get(field)
            raws = [w_all.get(n if isinstance(n, bytes) else n.encode()) for n in (_unpack(names) if names else [])]
            raws += _packed_writes(w_all.get(field))
            writes = [self._open_write(source, ns, rec.checkpoint_id, self._decode_write(r)) for r in raws if r]
            if writes:
                stored = self._prepare_writes(target, ns, rec.checkpoint_id, [tuple(w) for w in writes])
                calls.append(self._writes_request(target, ns, rec.checkpoint_id, stored, True))
                self._count("writes_written", len(stored))
            self._remember_elements(target, new_blobs)
        for chunk in _chunks(calls, self._batch):
            if len(chunk) == 1:
                yield ("script", *chunk[0])
            else:
                yield ("scripts", list(chunk))
        self._count("threads_copied")
        return None

    # ------------------------------------------------------------------ primitives
    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        self._run(self._plan_write_checkpoint(record, blobs))

    def _write_checkpoint_checked(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str]
    ) -> None:
        self._run(self._plan_write_checkpoint(record, blobs, must_exist, checked=True))
        self._mark_warm(record.thread_id, record.checkpoint_ns)

    def _read_bundle(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredBundle | None:
        return self._run(self._plan_read_bundle(thread_id, checkpoint_ns, checkpoint_id))

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        bundle = self._run(self._plan_read_bundle(thread_id, checkpoint_ns, checkpoint_id, full=False))
        return bundle.record if bundle else None

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        return iter(self._run(self._plan_query(query)))

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        return self._run(self._plan_read_blobs(thread_id, checkpoint_ns, keys))

    def _write_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool) -> None:
        self._run(self._plan_write_writes(thread_id, checkpoint_ns, checkpoint_id, writes, replace))

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        return self._run(self._plan_read_writes(thread_id, checkpoint_ns, checkpoint_id))

    def _update_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, *, status: str | None = None,
                       metadata: dict[str, Any] | None = None, tags: list[str] | None = None, updated_at: float) -> bool:
        keys = self._keys(thread_id)
        field = self._field(checkpoint_ns, checkpoint_id)
        with self._translate():
            raw = self._client.hget(keys[REC], field)
            if raw is None:
                return False
            rec = apply_update(_decode_record(raw, include_payload=False), status=status, metadata=metadata, tags=tags, updated_at=updated_at)
            return bool(self._scripts["set_record"](keys=keys, args=[field, pack_record(rec, with_payload=False), self._ttl]))

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        args: list[str] = []
        for ns, cid in keys:
            args += [self._field(ns, cid), self._cr_member(ns, cid)]
        return int(self._run(iter_one(("script", "delete_checkpoints", self._keys(thread_id), args))))

    def _delete_thread(self, thread_id: str) -> None:
        self._run(iter_one(("cmd", "DEL", *self._keys(thread_id))))

    def _list_thread_ids(self) -> Iterator[str]:
        return iter(self._run(self._plan_thread_ids()))

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        fields = self._run(iter_one(("cmd", "HKEYS", self._keys(thread_id)[BLOB])))
        out = []
        for f in fields:
            ns, ch, ver = _text(f).split("|", 2)
            out.append((unquote(ns), unquote(ch), json.loads(ver)))
        return iter(out)

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        if not keys:
            return 0
        removed = 0
        for chunk in _chunks(list(keys), 1000):
            fields = [self._blob_field(ns, ch, v) for ns, ch, v in chunk]
            removed += int(self._run(iter_one(("cmd", "HDEL", self._keys(thread_id)[BLOB], *fields))))
        return removed

    def _storage_size(self) -> int | None:
        """``used_memory`` of the server (summed over a cluster's primaries); None if unknown."""
        try:
            with self._translate():
                if self.params.cluster_enabled:
                    info = self._client.info("memory", target_nodes=redis.cluster.RedisCluster.PRIMARIES)
                else:
                    info = self._client.info("memory")
        except (BackendUnavailableError, ManagerError):
            return None
        if isinstance(info, dict) and "used_memory" in info:
            return int(info["used_memory"])
        if isinstance(info, dict):  # cluster: {node: info}
            return sum(int(v.get("used_memory", 0)) for v in info.values() if isinstance(v, dict)) or None
        return None

    # ------------------------------------------------------------------ sync overrides (batched reads)
    def iter_langgraph_bundles(self, query: RecordQuery) -> Iterator[OpenedBundle]:
        """One script call per listed checkpoint (record, payload, blobs, writes), pipelined."""
        self._require_open()
        yield from self._run(self._plan_open_bundles(query))

    def _collect_blobs(self, thread_id: str) -> int:
        return int(self._run(self._plan_collect_blobs(thread_id)))

    def delta_lineage(self, thread_id: str, ns: str, checkpoint_id: str | None, channels: Sequence[str]) -> list[DeltaStep]:
        """base ``delta_lineage`` as one plan for both clients (see ``_plan_delta_lineage``)."""
        self._require_open()
        return self._run(self._plan_delta_lineage(thread_id, ns, checkpoint_id, channels))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._require_open()
        self._run(self._plan_copy_thread(source_thread_id, target_thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> int:
        self._require_open()
        return int(self._run(self._plan_delete_for_runs(list(run_ids))))

    def _count_namespace(self, thread_id: str, checkpoint_ns: str) -> int:
        """base ``_count_namespace`` (for ``_after_write``'s trim policy) with one ZLEXCOUNT."""
        return int(self._run(self._plan_count_namespace(thread_id, checkpoint_ns)))

    def _plan_count_namespace(self, thread_id: str, checkpoint_ns: str) -> Plan:
        prefix = f"{_enc(checkpoint_ns)}|".encode()
        return iter_one(("cmd", "ZLEXCOUNT", self._keys(thread_id)[IDX], b"[" + prefix, b"[" + prefix + b"\xff"))

    async def _aafter_write(self, thread_id: str, checkpoint_ns: str, *, root: bool) -> None:
        """base ``_after_write`` on the event loop (the same ``TrimPolicy``)."""
        trim = self._trim
        if trim is None:
            return
        action = trim.on_write(thread_id, checkpoint_ns, root=root)
        if action == COUNT:
            count = int(await self._arun(self._plan_count_namespace(thread_id, checkpoint_ns)))
            due = trim.counted(thread_id, checkpoint_ns, count)
        else:
            due = action == TRIM
        if due:
            await self.aprune_thread(thread_id, keep_last=trim.max_checkpoints)
            trim.trimmed(thread_id)

    # ------------------------------------------------------------------ native async (the adapter's hot path)
    async def aput_langgraph_checkpoint(self, **kwargs: Any) -> None:
        if not self.params.async_operations:
            return await super().aput_langgraph_checkpoint(**kwargs)
        self._require_open()
        must_exist = kwargs.pop("must_exist", ())
        record, blobs = self._prepare_langgraph_checkpoint(**kwargs)
        try:
            await self._arun(self._plan_write_checkpoint(record, blobs, must_exist, checked=True))
        except BaseException as exc:
            self._forget_sealed(record.thread_id, blobs)
            if isinstance(exc, StaleElementsError):
                self._known_elements.discard_thread(record.thread_id)
            raise
        self._mark_warm(record.thread_id, record.checkpoint_ns)
        self._remember_elements(record.thread_id, blobs)
        self._count("checkpoints_written")
        await self._aafter_write(record.thread_id, record.checkpoint_ns, root=record.parent_checkpoint_id is None)

    async def aput_langgraph_writes(self, *, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Any, replace: bool) -> None:
        if not self.params.async_operations:
            return await super().aput_langgraph_writes(
                thread_id=thread_id, checkpoint_ns=checkpoint_ns, checkpoint_id=checkpoint_id, writes=writes, replace=replace
            )
        self._require_open()
        stored = self._prepare_writes(thread_id, checkpoint_ns, checkpoint_id, writes)
        await self._arun(self._plan_write_writes(thread_id, checkpoint_ns, checkpoint_id, stored, replace))
        self._count("writes_written", len(stored))

    async def aget_langgraph_bundle(self, thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None) -> OpenedBundle | None:
        if not self.params.async_operations:
            return await super().aget_langgraph_bundle(thread_id, checkpoint_ns, checkpoint_id)
        self._require_open()
        stored = await self._arun(self._plan_read_bundle(thread_id, checkpoint_ns, checkpoint_id))
        self._count("checkpoints_read")
        if stored is None:
            return None
        return await self._arun(self._plan_attach_elements(self._open_bundle(stored)))

    async def alist_langgraph_bundles(self, query: RecordQuery) -> list[OpenedBundle]:
        if not self.params.async_operations:
            return await super().alist_langgraph_bundles(query)
        self._require_open()
        return await self._arun(self._plan_open_bundles(query))

    async def adelta_lineage(
        self, thread_id: str, ns: str, checkpoint_id: str | None, channels: Sequence[str]
    ) -> list[DeltaStep]:
        if not self.params.async_operations:
            return await super().adelta_lineage(thread_id, ns, checkpoint_id, channels)
        self._require_open()
        return await self._arun(self._plan_delta_lineage(thread_id, ns, checkpoint_id, channels))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        if not self.params.async_operations:
            return await super().acopy_thread(source_thread_id, target_thread_id)
        self._require_open()
        await self._arun(self._plan_copy_thread(source_thread_id, target_thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> int:
        if not self.params.async_operations:
            return await super().adelete_for_runs(run_ids)
        self._require_open()
        return int(await self._arun(self._plan_delete_for_runs(list(run_ids))))

    async def aprune_thread(self, thread_id: str, *, keep_last: int = 1) -> int:
        if not self.params.async_operations:
            return await super().aprune_thread(thread_id, keep_last=keep_last)
        self._require_open()
        if keep_last <= 0:  # base prune_thread: the whole thread goes
            query = RecordQuery(thread_id=thread_id, include_payload=False)
            count = len(await self._arun(self._plan_thread_records(thread_id, query)))
            await self.adelete_thread(thread_id)
            return count
        return int(await self._arun(self._plan_prune(thread_id, keep_last)))

    async def adelete_thread(self, thread_id: str) -> None:
        if not self.params.async_operations:
            return await super().adelete_thread(thread_id)
        self._require_open()
        await self._arun(iter_one(("cmd", "DEL", *self._keys(thread_id))))
        self._blob_cache.discard_where(lambda k: k[0] == thread_id)
        known = getattr(self, "_known_elements", None)
        if known is not None:
            known.discard_thread(thread_id)
        if self._trim is not None:
            self._trim.forget(thread_id)
        self._count("threads_deleted")


def _pack_checkpoint(r: StoredRecord, names: bytes) -> bytes:
    """A checkpoint's stored value: ``{record, payload, blob names, checksum}`` as a msgpack
    array of raw strings, so that the scripts can unpack it (Lua's cmsgpack reads no msgpack
    bin). The record is ``pack_record``'s, with the checksum moved out in compact form."""
    record = _pack([
        r.thread_id, r.checkpoint_ns, r.checkpoint_id, r.parent_checkpoint_id, r.workflow_id, r.kind,
        r.payload_type, "", r.size, r.created_at, r.updated_at, r.status, r.tags, r.metadata,
        [[k, v] for k, v in r.channel_versions.items()],
    ])
    checksum = _checksum_bytes(r.checksum)
    if isinstance(checksum, str):
        checksum = checksum.encode()  # an unknown algorithm: kept as text
    return msgpack.packb([record, r.payload or b"", names, checksum], use_bin_type=False)


def _derivable_names(versions: dict[str, ChannelVersion]) -> bool:
    """Whether the scripts can rebuild a checkpoint's blob fields from its channel versions
    (``packed_names``): ASCII channel names (their encoding is the same in Lua) and version
    strings that JSON writes as they are -- LangGraph's own versions."""
    for channel, version in versions.items():
        if not (channel.isascii() and channel != "." and channel != ".." and type(version) is str and _PLAIN_JSON_STRING(version)):
            return False
    return True


class _NotCached(Exception):
    """Raised by ``_fetch_nothing``: an element is not in the process cache."""


def _fetch_nothing(keys: Any) -> Any:
    raise _NotCached


def _resp_args(parts: Sequence[Any]) -> list[bytes]:
    """Arguments in the Redis protocol, as redis-py's encoder writes them (str as UTF-8,
    int in decimal, float by ``repr``)."""
    out = []
    append = out.append
    for part in parts:
        kind = type(part)
        if kind is str:
            part = part.encode()
        elif kind is int:
            part = b"%d" % part
        elif kind is not bytes and kind is not bytearray:
            part = repr(part).encode()
        append(b"$%d\r\n" % len(part))
        append(part)
        append(b"\r\n")
    return out


def _script_command(verb: bytes, script: bytes, keys: Sequence[str], args: Sequence[Any], cache: dict) -> bytes:
    """``EVALSHA``/``EVAL``: the keys' part of the request is cached per key list (a thread's)."""
    key_part = cache.get(tuple(keys))
    if key_part is None:
        if len(cache) >= 4096:
            cache.clear()
        key_part = cache[tuple(keys)] = b"".join(_resp_args([len(keys), *keys]))
    head = b"*%d\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (3 + len(keys) + len(args), len(verb), verb, len(script), script)
    return b"".join([head, key_part, *_resp_args(args)])


class _DirectScripts:
    """Script calls of a standalone sync client, sent straight on a pooled connection.

    A call through redis-py's ``Script`` costs ~120 us of client CPU on the project VM, of
    which ~70 us is its per-command machinery (pool bookkeeping and metrics hooks, the retry
    wrapper, argument encoding one by one) -- more than the server's round trip. This does
    the same on the same pool: take an idle connection from ``BlockingConnectionPool``'s
    queue (blocking up to its timeout, a new connection for an empty slot), send the whole
    ``EVALSHA`` as one buffer, read the reply with the connection's own parser, put the
    connection back. Same guarantees: one immediate retry on a new connection after a
    connection error (the configured ``Retry(NoBackoff(), 1)``, never after a timeout), ``EVAL`` when the
    server answers NOSCRIPT, and a connection whose reply was not read in full is
    disconnected before it goes back. Used only where those pool internals exist (else, and
    after a fork, calls go through redis-py).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._pool = client.connection_pool
        self._pid = os.getpid()
        self._key_parts: dict[tuple[str, ...], bytes] = {}
        self._requests: dict[str, tuple[bytes, bytes]] = {}
        for name, src in _SCRIPTS.items():
            script = client.register_script(src)
            self._requests[name] = (script.sha.encode(), src.encode())

    @classmethod
    def for_client(cls, client: Any) -> _DirectScripts | None:
        pool = getattr(client, "connection_pool", None)
        if (
            type(client) is not redis.Redis
            or not isinstance(pool, redis.BlockingConnectionPool)
            or not hasattr(getattr(pool, "pool", None), "put_nowait")
            or not hasattr(pool, "make_connection")
            or getattr(pool, "cache", None) is not None
        ):
            return None
        return cls(client)

    def __call__(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        pool = self._pool
        if os.getpid() != self._pid or getattr(pool, "_in_maintenance", False):
            return self._client.register_script(_SCRIPTS[name])(keys=keys, args=args)
        sha, src = self._requests[name]
        command = _script_command(b"EVALSHA", sha, keys, args, self._key_parts)
        try:
            try:
                return self._send(pool, command)
            except rexc.ConnectionError:  # not after a timeout (see _client_kwargs)
                return self._send(pool, command)  # the one retry, on a reconnected connection
        except rexc.NoScriptError:  # a restarted server's empty script cache
            return self._send(pool, _script_command(b"EVAL", src, keys, args, self._key_parts))

    @staticmethod
    def _send(pool: Any, command: bytes) -> Any:
        try:
            conn = pool.pool.get(block=True, timeout=pool.timeout)
        except queue.Empty:  # every connection busy for ``timeout`` seconds
            raise rexc.ConnectionError("No connection available.") from None
        if conn is None:
            try:
                conn = pool.make_connection()
            except BaseException:
                pool.pool.put_nowait(None)
                raise
        return _exchange(conn, command, lambda c: _put_back(pool, c), connect=True)


def _exchange(conn: Any, command: bytes, give_back: Callable[[Any], None], *, connect: bool = False) -> Any:
    """Send one packed command on ``conn`` and read its reply, then hand ``conn`` back: as it
    is after a reply (an error reply included: it was read in full), disconnected after any
    other failure, so no half-read reply is left for the next caller."""
    try:
        if connect:
            conn.connect()
        conn.send_packed_command([command], check_health=False)
        response = conn.read_response()
    except rexc.ResponseError:
        give_back(conn)
        raise
    except BaseException:
        conn.disconnect()
        give_back(conn)
        raise
    give_back(conn)
    return response


def _put_back(pool: Any, conn: Any) -> None:
    """Return ``conn`` to a ``BlockingConnectionPool``'s queue (a queue that is full was
    replaced by a reset of the pool: the connection is then dropped)."""
    try:
        pool.pool.put_nowait(conn)
    except queue.Full:
        conn.disconnect()


class _DirectClusterScripts:
    """Script calls of a sync ``RedisCluster`` sent straight to the node that owns the
    thread's slot (from redis-py's slot cache), on that node's pool -- about half the client
    CPU of redis-py's cluster command path. Anything a cluster client must handle itself --
    a redirection (MOVED/ASK), TRYAGAIN, CLUSTERDOWN, a connection error or timeout (the
    topology may have changed) -- sends the call again through redis-py, which follows the
    redirection, refreshes the slot table and applies its retries; so a failing node costs at
    most one extra timeout before the error surfaces."""

    _REDIRECTED = (rexc.MovedError, rexc.AskError, rexc.TryAgainError, rexc.ClusterDownError,
                   rexc.ConnectionError, rexc.TimeoutError, OSError)

    def __init__(self, client: Any, scripts: dict[str, Any]) -> None:
        self._client = client
        self._scripts = scripts
        self._pid = os.getpid()
        self._key_parts: dict[tuple[str, ...], bytes] = {}
        self._requests = {name: (script.sha.encode(), _SCRIPTS[name].encode()) for name, script in scripts.items()}

    @classmethod
    def for_client(cls, client: Any, scripts: dict[str, Any]) -> _DirectClusterScripts | None:
        if type(client) is not redis.cluster.RedisCluster or not hasattr(client, "get_node_from_key"):
            return None
        return cls(client, scripts)

    def __call__(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        pool = None
        if os.getpid() == self._pid:
            try:
                pool = self._client.get_node_from_key(keys[0]).redis_connection.connection_pool
            except Exception:  # no slot table yet, a node without a client: redis-py's path
                pool = None
        if pool is None:
            return self._scripts[name](keys=keys, args=args)
        sha, src = self._requests[name]
        command = _script_command(b"EVALSHA", sha, keys, args, self._key_parts)
        try:
            try:
                return self._send(pool, command)
            except rexc.NoScriptError:  # a restarted or new node's empty script cache
                # SCRIPT LOAD goes to every primary (as redis-py's Script does), so the
                # other nodes do not each answer NOSCRIPT once.
                self._client.script_load(src.decode())
                return self._send(pool, command)
        except self._REDIRECTED:
            return self._scripts[name](keys=keys, args=args)

    @staticmethod
    def _send(pool: Any, command: bytes) -> Any:
        return _exchange(_take_connection(pool), command, lambda c: _give_back(pool, c))


_LEAN_POOLS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _lean_pool(pool: Any) -> bool:
    """Whether ``pool`` is a ``redis.ConnectionPool`` with the internals ``_take_connection``
    uses, in the process that made it (the type check is remembered per pool)."""
    lean = _LEAN_POOLS.get(pool)
    if lean is None:
        lean = _LEAN_POOLS[pool] = _has_lean_internals(pool)
    return lean and pool.pid == os.getpid()


def _has_lean_internals(pool: Any) -> bool:
    return (
        type(pool) is redis.ConnectionPool
        and isinstance(getattr(pool, "pid", None), int)
        and isinstance(getattr(pool, "_available_connections", None), list)
        and isinstance(getattr(pool, "_in_use_connections", None), set)
        and hasattr(getattr(pool, "_lock", None), "__enter__")
        and getattr(pool, "cache", None) is None
    )


def _take_connection(pool: Any) -> Any:
    """An idle connection of a ``ConnectionPool`` (what its ``get_connection`` does, minus its
    metrics hooks and per-call socket poll: our callers read every reply in full or
    disconnect); a new one through ``get_connection`` when none is idle."""
    if _lean_pool(pool):
        with pool._lock:
            conn = pool._available_connections.pop() if pool._available_connections else None
            if conn is not None:
                pool._in_use_connections.add(conn)
        if conn is not None:
            try:
                conn.connect()  # a no-op unless it was disconnected
            except BaseException:
                _give_back(pool, conn)
                raise
            return conn
    return pool.get_connection()


def _give_back(pool: Any, conn: Any) -> None:
    if _lean_pool(pool):
        with pool._lock:
            if conn in pool._in_use_connections:
                pool._in_use_connections.remove(conn)
                pool._available_connections.append(conn)
                return
    pool.release(conn)


class _Prefetched:
    """The manager, answering ``_query_records`` from records a plan already read (so base's
    retention policy ``_prune_plan`` runs unchanged on them, without I/O)."""

    def __init__(self, manager: RedisCheckpointManager, records: Sequence[StoredRecord]) -> None:
        self._manager = manager
        self._records = records

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        return (r for r in self._records if record_matches(r, query))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


async def _aclose_quietly(client: Any) -> None:
    with contextlib.suppress(rexc.RedisError, OSError, RuntimeError, asyncio.CancelledError):
        await client.aclose()


def _async_connections(client: Any) -> list[Any]:
    """The connections a ``redis.asyncio`` client holds (standalone pool or cluster nodes)."""
    conns: list[Any] = []
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        conns += list(getattr(pool, "_available_connections", ()))
        conns += list(getattr(pool, "_in_use_connections", ()))
    manager = getattr(client, "nodes_manager", None)
    nodes = list((getattr(manager, "nodes_cache", None) or {}).values())
    nodes += list((getattr(manager, "startup_nodes", None) or {}).values())
    for node in nodes:
        conns += list(getattr(node, "_connections", ()))
    return conns


def _drop_sockets(client: Any, *, close: bool) -> int:
    """Release the sockets of an async client without its event loop; returns how many.

    Each connection's socket is shut down (the server frees the connection at once);
    with ``close`` (only for a closed loop, whose selector no longer watches the fds) the
    socket is closed too, so the descriptor does not wait for garbage collection. The
    connections are then marked disconnected, so redis-py does not touch the dead loop.
    """
    dropped = 0
    for conn in _async_connections(client):
        writer = getattr(conn, "_writer", None)
        if writer is None:
            continue
        with contextlib.suppress(Exception):
            sock = writer.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                raw = getattr(sock, "_sock", None)  # asyncio's TransportSocket wraps the socket
                if close and isinstance(raw, socket.socket):
                    raw.close()
                dropped += 1
        conn._writer = conn._reader = None
    if getattr(client, "_initialize", None) is False:
        # a RedisCluster client: marked closed as its aclose() would, or its __del__ reports
        # "Unclosed RedisCluster client" through the (next) running loop's exception handler
        client._initialize = True
    return dropped


def _release_async_client(client: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Close an async client from synchronous code, whatever the state of its loop.

    * loop closed: its sockets are shut down and closed (``_drop_sockets``);
    * loop running (here, or in another thread): ``aclose()`` is scheduled on it;
    * loop idle and no loop running in this thread: ``aclose()`` runs on it to completion;
    * otherwise (an idle loop while another one runs here): the sockets are shut down.
    """
    if loop.is_closed():
        _drop_sockets(client, close=True)
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    try:
        if loop.is_running():
            if running is loop:
                task = loop.create_task(_aclose_quietly(client))
                _CLOSING.add(task)
                task.add_done_callback(_CLOSING.discard)
            else:
                asyncio.run_coroutine_threadsafe(_aclose_quietly(client), loop)
        elif running is None:
            loop.run_until_complete(_aclose_quietly(client))
        else:
            _drop_sockets(client, close=False)
    except RuntimeError:  # the loop closed or started meanwhile
        _drop_sockets(client, close=loop.is_closed())


#: Close tasks scheduled on a running loop (asyncio keeps only weak references to tasks).
_CLOSING: set[asyncio.Task] = set()


def _raise_first(results: list[Any]) -> list[Any]:
    for r in results:
        if isinstance(r, Exception):
            raise r
    return results
