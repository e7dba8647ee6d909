"""Serializers for plain data saved through the manager API (``save_checkpoint``).

LangGraph state never goes through these: the saver uses LangGraph's own serde. Here
the data is plain JSON-like Python (dict/list/str/int/float/bool/None; msgpack also
bytes); tuples come back as lists.

``serialization_options`` is one dict shared by the configured format and by records
read back in another format (each record names its own), so every serializer takes
the options it knows and ignores the other serializers' ones; an option that *no*
serializer knows is a typo and is rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import msgpack

from langgraph_ckpt_config.errors import CodecError


class Serializer(Protocol):
    name: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


def _bool_option(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise CodecError(f"serialization_options.{key} must be true or false, not {value!r}")
    return value


def _refuse_bytes(obj: Any) -> Any:
    """``json.dumps(default=...)``: name the fix for bytes, the usual reason json fails here."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raise CodecError("json cannot hold bytes values; use serialization_format: msgpack")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class JsonSerializer:
    """UTF-8 JSON; readable in any store browser, but no bytes."""

    name = "json"
    options = frozenset({"ensure_ascii", "indent", "sort_keys"})

    def __init__(self, options: Mapping[str, Any]) -> None:
        indent = options.get("indent")
        if indent is not None and (isinstance(indent, bool) or not isinstance(indent, (int, str))):
            raise CodecError(f"serialization_options.indent must be an integer or a string, not {indent!r}")
        self._dump_opts: dict[str, Any] = {
            "ensure_ascii": _bool_option(options, "ensure_ascii", True),
            "indent": indent,
            "sort_keys": _bool_option(options, "sort_keys", False),
            "default": _refuse_bytes,
        }

    def dumps(self, obj: Any) -> bytes:
        try:
            return json.dumps(obj, **self._dump_opts).encode("utf-8")
        except (TypeError, ValueError) as exc:  # unsupported type / circular reference
            raise CodecError(f"cannot serialize as json: {exc}") from None

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise CodecError(f"stored json is invalid: {exc}") from None


class MsgpackSerializer:
    """Compact binary; holds bytes. Strings are always decoded as UTF-8 on load (``raw=False``)."""

    name = "msgpack"
    options = frozenset({"use_bin_type"})

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._use_bin_type = _bool_option(options, "use_bin_type", True)

    def dumps(self, obj: Any) -> bytes:
        try:
            return msgpack.packb(obj, use_bin_type=self._use_bin_type)
        except (TypeError, ValueError, OverflowError) as exc:  # unsupported type / int out of range
            raise CodecError(f"cannot serialize as msgpack: {exc}") from None

    def loads(self, data: bytes) -> Any:
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, TypeError) as exc:  # msgpack's format errors are ValueErrors; unhashable keys TypeError
            raise CodecError(f"stored msgpack is invalid: {exc}") from None


_SERIALIZERS: dict[str, type[JsonSerializer] | type[MsgpackSerializer]] = {
    "json": JsonSerializer,
    "msgpack": MsgpackSerializer,
}
_KNOWN_OPTIONS = frozenset().union(*(cls.options for cls in _SERIALIZERS.values()))


def serializer_names() -> list[str]:
    """Valid values of ``serialization_format``."""
    return list(_SERIALIZERS)


def get_serializer(fmt: str, options: Mapping[str, Any] | None = None) -> Serializer:
    """The serializer for ``fmt`` configured with ``serialization_options``."""
    try:
        cls = _SERIALIZERS[fmt]
    except (KeyError, TypeError):
        raise CodecError(f"unknown serialization format {fmt!r}; choose one of {serializer_names()}") from None
    options = options or {}
    unknown = sorted(set(options) - _KNOWN_OPTIONS)
    if unknown:
        raise CodecError(f"unknown serialization_options {unknown}; known options are {sorted(_KNOWN_OPTIONS)}")
    return cls(options)
