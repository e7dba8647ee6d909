"""Metadata kept inside a record's sealed payload (client encryption).

With encryption on, a record's plaintext ``metadata`` column holds only the keys the config
declares filterable (``client_encryption.filterable_metadata``) and the structural keys
retention reads; the whole metadata must still be readable through the manager API. A
LangGraph checkpoint already carries it: its payload is ``{"checkpoint", "metadata"}``.
A record saved through ``save_checkpoint`` holds the caller's bytes, so when keys are
withheld from plaintext its payload becomes an *envelope* (``payload_type``
``"lgc:md+" + <the data's own type>``, body: 4-byte big-endian length, the metadata as
JSON, then the data). Readers strip the envelope; records without one are read as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.errors import IntegrityError

#: ``payload_type`` prefix of a data record whose payload seals its metadata.
SEALED_METADATA_PREFIX = "lgc:md+"
_LENGTH = 4


def has_envelope(payload_type: str) -> bool:
    return payload_type.startswith(SEALED_METADATA_PREFIX)


def wrap(payload_type: str, raw: bytes, metadata: Mapping[str, Any]) -> tuple[str, bytes]:
    """``(payload_type, raw)`` of data whose payload also seals ``metadata`` (JSON-representable)."""
    if has_envelope(payload_type):
        payload_type, raw, _ = unwrap(payload_type, raw)
    text = json.dumps(dict(metadata), separators=(",", ":"), sort_keys=True).encode()
    return SEALED_METADATA_PREFIX + payload_type, len(text).to_bytes(_LENGTH, "big") + text + raw


def unwrap(payload_type: str, raw: bytes) -> tuple[str, bytes, dict[str, Any] | None]:
    """The data's own ``(payload_type, raw)`` and the metadata its envelope seals (None: no envelope)."""
    if not has_envelope(payload_type):
        return payload_type, raw, None
    size = int.from_bytes(raw[:_LENGTH], "big")
    try:
        if len(raw) < _LENGTH + size:
            raise ValueError("truncated")
        metadata = json.loads(raw[_LENGTH : _LENGTH + size])
        if not isinstance(metadata, dict):
            raise ValueError("not an object")
    except ValueError as exc:  # authenticated bytes: only a bug or a forged plaintext record gets here
        raise IntegrityError(f"sealed metadata is damaged ({exc})") from None
    return payload_type[len(SEALED_METADATA_PREFIX) :], raw[_LENGTH + size :], metadata


def _langgraph_document(serde: Any, payload_type: str, raw: bytes) -> dict[str, Any] | None:
    """A LangGraph checkpoint's payload decoded (``{"checkpoint": ..., "metadata": {...}}``), or
    None when ``serde`` cannot read it (a payload not written by ``ConfigCheckpointSaver``,
    another serde)."""
    try:
        doc = serde.loads_typed((payload_type, raw))
    except Exception:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
        return None
    return doc


def langgraph_metadata(serde: Any, payload_type: str, raw: bytes) -> dict[str, Any] | None:
    """The metadata a LangGraph checkpoint's payload carries, or None when ``serde`` cannot read it."""
    doc = _langgraph_document(serde, payload_type, raw)
    return doc["metadata"] if doc is not None else None


def reseal_langgraph(serde: Any, payload_type: str, raw: bytes, updates: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """The LangGraph payload with ``updates`` merged into its metadata (what ``get_tuple`` then
    returns), or None when ``serde`` cannot read it."""
    doc = _langgraph_document(serde, payload_type, raw)
    if doc is None:
        return None
    doc["metadata"] = {**doc["metadata"], **updates}
    return serde.dumps_typed(doc)
