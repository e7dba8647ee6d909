"""Serializers for plain data saved through the manager API (``save_checkpoint``).

LangGraph state never goes through these: the adapter uses LangGraph's own serde.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

from langgraph_ckpt_config.errors import CodecError


class JsonSerializer:
    name = "json"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        opts = dict(options or {})
        self._dump_opts = {k: opts[k] for k in ("ensure_ascii", "indent", "sort_keys") if k in opts}

    def dumps(self, obj: Any) -> bytes:
        try:
            return json.dumps(obj, **self._dump_opts).encode("utf-8")
        except TypeError as exc:
            hint = " (json cannot hold bytes: use serialization_format: msgpack)" if "bytes" in str(exc) else ""
            raise CodecError(f"cannot serialize as json: {exc}{hint}") from None

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CodecError(f"stored json is invalid: {exc}") from None


class MsgpackSerializer:
    name = "msgpack"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._use_bin_type = bool((options or {}).get("use_bin_type", True))

    def dumps(self, obj: Any) -> bytes:
        try:
            return msgpack.packb(obj, use_bin_type=self._use_bin_type)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CodecError(f"cannot serialize as msgpack: {exc}") from None

    def loads(self, data: bytes) -> Any:
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
            raise CodecError(f"stored msgpack is invalid: {exc}") from None


_SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgpackSerializer}


def get_serializer(fmt: str, options: dict[str, Any] | None = None):
    try:
        cls = _SERIALIZERS[fmt]
    except KeyError:
        raise CodecError(f"unknown serialization format {fmt!r}; choose one of {sorted(_SERIALIZERS)}") from None
    return cls(options)
