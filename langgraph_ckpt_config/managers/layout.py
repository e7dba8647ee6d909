"""I/O-free encoding shared by the key-value backends (Redis, S3, plugins).

* ``encode_component``: an id as a key component that cannot contain a separator,
  a glob character, a hash-tag brace or ``..`` -- percent-encoding of every byte
  outside ``A-Z a-z 0-9 . _ -`` (``~`` is kept free for the backends' own markers).
* ``pack_record`` / ``unpack_record``: a ``StoredRecord`` as msgpack, with or
  without its payload, in a fixed field order.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgpack

from langgraph_ckpt_config.managers.records import StoredRecord


def encode_component(value: str) -> str:
    text = quote(value, safe="").replace("~", "%7E")
    # "." and ".." would be path segments to S3 gateways and proxies that normalise paths.
    return text.replace(".", "%2E") if text in (".", "..") else text


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(value: bytes) -> Any:
    return msgpack.unpackb(value, raw=False, strict_map_key=False)


def pack_record(r: StoredRecord, *, with_payload: bool) -> bytes:
    fields = [
        r.thread_id, r.checkpoint_ns, r.checkpoint_id, r.parent_checkpoint_id, r.workflow_id, r.kind,
        r.payload_type, r.checksum, r.size, r.created_at, r.updated_at, r.status, r.tags, r.metadata,
        [[k, v] for k, v in r.channel_versions.items()],
    ]
    if with_payload:
        fields.append(r.payload)
    return pack(fields)


def unpack_record(raw: bytes, payload: bytes | None = None, *, include_payload: bool = True) -> StoredRecord:
    """A record from ``pack_record`` bytes; ``payload`` supplies it when stored separately."""
    v = unpack(raw)
    if len(v) > 15:
        payload = v[15]
    return StoredRecord(
        thread_id=v[0], checkpoint_ns=v[1], checkpoint_id=v[2], parent_checkpoint_id=v[3], workflow_id=v[4],
        kind=v[5], payload_type=v[6], payload=payload if include_payload else None, checksum=v[7], size=v[8],
        created_at=v[9], updated_at=v[10], status=v[11], tags=list(v[12]), metadata=dict(v[13]),
        channel_versions={k: ver for k, ver in v[14]},
    )
