"""Reading an export document (docs/design.md, "Export format") before anything is imported.

``read_export`` checks the whole document -- its shape, every base64 field, every record's
sha256, and that each LangGraph checkpoint comes with every blob and list element it names --
and decodes it. The importer writes only after that, so a damaged or incomplete file is
refused as a whole instead of leaving half a thread behind. Errors name the record (by
index and id) and the field.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.errors import IntegrityError, InvalidInputError
from langgraph_ckpt_config.managers.interfaces import RecordKind
from langgraph_ckpt_config.managers.listtree import MANIFEST_TYPES, NODE_TYPE, closure, manifest_entries
from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL, EMPTY_BLOB_TYPE

EXPORT_FORMAT = "langgraph-ckpt-config/export"
EXPORT_VERSION = 1


@dataclasses.dataclass
class ImportItem:
    """One record of the document, decoded: ``blobs`` are ``(channel, version, type, raw)``
    (its channel values and every list element and node they reach), ``writes`` are
    ``(task_id, idx, channel, type, raw, task_path)``."""

    fields: Mapping[str, Any]
    raw: bytes
    blobs: list[tuple[str, Any, str, bytes]]
    writes: list[tuple[str, int, str, str, bytes, str]]

    @property
    def key(self) -> tuple[str, str, str]:
        return self.fields["thread_id"], self.fields["checkpoint_ns"], self.fields["checkpoint_id"]


def check_export(doc: Any) -> None:
    """The document's header: format, version, a records list."""
    if not isinstance(doc, Mapping) or doc.get("format") != EXPORT_FORMAT:
        raise InvalidInputError(f"not a langgraph-ckpt-config export (missing format {EXPORT_FORMAT!r})")
    if doc.get("version") != EXPORT_VERSION:
        raise InvalidInputError(
            f"export format version {doc.get('version')!r} is not supported (this version reads {EXPORT_VERSION})"
        )
    if not isinstance(doc.get("records"), list):
        raise InvalidInputError("export file has no 'records' list")


def read_export(doc: Any, *, renaming_thread: bool = False, renaming_checkpoint: bool = False) -> list[ImportItem]:
    """Every record of ``doc``, checked and decoded (see the module docstring).

    ``renaming_thread``/``renaming_checkpoint``: the import gives the records another thread
    id / checkpoint id, which is only meaningful for a file of one thread / one record."""
    check_export(doc)
    records = doc["records"]
    blobs_of: dict[tuple[str, str], list[tuple[str, Any, str, bytes]]] = {}
    for i, b in enumerate(_entries(doc, "blobs")):
        where = f"export file: blobs[{i}]"
        key = (_field(b, "thread_id", where), _field(b, "checkpoint_ns", where))
        typ = _field(b, "payload_type", where)
        raw = b"" if typ == EMPTY_BLOB_TYPE else _decoded(b, "data", where)
        blobs_of.setdefault(key, []).append((_field(b, "channel", where), _field(b, "version", where), typ, raw))
    writes_of: dict[tuple[str, str, str], list[tuple[str, int, str, str, bytes, str]]] = {}
    for i, w in enumerate(_entries(doc, "writes")):
        where = f"export file: writes[{i}]"
        key = (_field(w, "thread_id", where), _field(w, "checkpoint_ns", where), _field(w, "checkpoint_id", where))
        try:
            idx = int(_field(w, "idx", where))
        except (TypeError, ValueError):
            raise InvalidInputError(f"{where}: 'idx' is not an integer") from None
        writes_of.setdefault(key, []).append(
            (_field(w, "task_id", where), idx, _field(w, "channel", where), _field(w, "payload_type", where),
             _decoded(w, "data", where), w.get("task_path", ""))
        )
    items = []
    for i, rec in enumerate(records):
        where = f"export file: records[{i}]"
        if not isinstance(rec, Mapping):
            raise InvalidInputError(f"{where} is not an object")
        tid, ns, cid = (_field(rec, name, where) for name in ("thread_id", "checkpoint_ns", "checkpoint_id"))
        where = f"export file: checkpoint {cid!r} of thread {tid!r} (records[{i}])"
        _field(rec, "payload_type", where)
        raw = _decoded(rec, "data", where)
        if hashlib.sha256(raw).hexdigest() != rec.get("sha256"):
            raise IntegrityError(f"{where} does not match its sha256; the file is damaged")
        blobs = _blobs_of_record(rec, blobs_of.get((tid, ns), []), where)
        items.append(ImportItem(rec, raw, blobs, writes_of.get((tid, ns, cid), [])))
    threads = sorted({item.fields["thread_id"] for item in items})
    if renaming_thread and len(threads) > 1:
        raise InvalidInputError(
            f"the export file holds {len(threads)} threads ({', '.join(map(repr, threads[:5]))}"
            f"{', ...' if len(threads) > 5 else ''}); importing them under one thread id would merge "
            "their histories: import without a new thread id, or export one thread per file"
        )
    if renaming_checkpoint and len(items) > 1:
        raise InvalidInputError(f"the export file holds {len(items)} checkpoints; a new checkpoint id fits one only")
    return items


def _blobs_of_record(rec: Mapping[str, Any], candidates: list[tuple[str, Any, str, bytes]], where: str) -> list[tuple[str, Any, str, bytes]]:
    """The record's channel values and the list elements and nodes they reach; an
    ``IntegrityError`` names the first one the file lacks."""
    versions = rec.get("channel_versions") or {}
    if rec.get("kind", RecordKind.DATA.value) != RecordKind.LANGGRAPH.value or not versions:
        return []
    values = {(ch, ver): (ch, ver, typ, raw) for ch, ver, typ, raw in candidates if versions.get(ch) == ver}
    for ch, ver in versions.items():
        if (ch, ver) not in values:
            raise IntegrityError(f"{where}: its value of channel {ch!r} (version {ver!r}) is not in the file; the file is incomplete")
    elements = {ver: (ch, ver, typ, raw) for ch, ver, typ, raw in candidates if ch == ELEMENT_CHANNEL}
    nodes = {ver: raw for _, ver, typ, raw in elements.values() if typ == NODE_TYPE}
    roots = [entry for _, _, typ, raw in values.values() if typ in MANIFEST_TYPES for entry in manifest_entries(typ, raw)]
    needed = closure(roots, lambda digests: {h: nodes[h] for h in digests if h in nodes}, strict=False)
    missing = sorted(h for h in needed if h not in elements)
    if missing:
        raise IntegrityError(f"{where}: list element {missing[0][:16]}... is not in the file; the file is incomplete")
    return [*values.values(), *(elements[h] for h in sorted(needed))]


def _entries(doc: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    entries = doc.get(name) or []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise InvalidInputError(f"export file: '{name}' is not a list of objects")
    return entries


def _field(entry: Mapping[str, Any], name: str, where: str) -> Any:
    try:
        return entry[name]
    except KeyError:
        raise InvalidInputError(f"{where} has no '{name}'") from None


def _decoded(entry: Mapping[str, Any], name: str, where: str) -> bytes:
    value = _field(entry, name, where)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise InvalidInputError(f"{where}: '{name}' is not valid base64; the file is damaged") from None
