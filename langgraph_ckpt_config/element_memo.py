"""Which list elements the adapter need not serialize again (linear storage, default path).

At every ``put`` LangGraph hands the saver the whole list of a channel (a chat's
messages), nearly all of it unchanged since the previous step. Serializing each element
again is what makes a step's CPU grow with the thread. But an element may have been
changed in place since it was stored (``add_messages`` assigns missing ids that way, and a
node may edit a message it was given), so the adapter cannot trust object identity alone.

A *fingerprint* is an element's complete state written by ``pickle`` (protocol 5, the C
pickler), which is exact about types (``1``, ``1.0`` and ``True`` differ; ``bytes`` and
``bytearray`` differ; an enum, a ``str`` subclass, a datetime or a nested model carries
its class and full state) and several times cheaper than LangGraph's serde. It is kept
and compared byte for byte, not hashed. Two elements of the same class with the same
fingerprint serialize to the same bytes, so the digest recorded when the element was
last serialized still names its content. (``marshal`` would be a little faster, but it
writes every buffer object -- ``bytearray``, numpy arrays -- as plain bytes, so a numpy
array reshaped in place would go unnoticed.) An element whose state cannot be pickled
has no fingerprint and is serialized every time, as before.

Reads use fingerprints the other way round (``DecodedElements``): the state of an element
as the serde decoded it, recorded once, is unpickled into a new object at each later read
of the same stored element -- a deep copy of the decoder's output, cheaper than decoding.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Any

#: Pickle protocol 5: classes by reference, every builtin type with its own opcode.
_PROTOCOL = 5


_NONE, _VALUE, _PYDANTIC, _DATACLASS = range(4)
#: class -> how its fingerprint is taken (classes are few; computing this is not cheap)
_KINDS: dict[type, int] = {dict: _VALUE, list: _VALUE, tuple: _VALUE}


def _kind(cls: type) -> int:
    kind = _KINDS.get(cls)
    if kind is None:
        if hasattr(cls, "__pydantic_fields__") and hasattr(cls, "__pydantic_extra__"):
            kind = _PYDANTIC
        elif dataclasses.is_dataclass(cls) and not hasattr(cls, "__slots__"):
            kind = _DATACLASS
        else:
            kind = _NONE
        _KINDS[cls] = kind
    return kind


def _state(element: Any, kind: int) -> Any:
    if kind == _VALUE:
        return element
    if kind == _PYDANTIC:
        return (element.__dict__, element.__pydantic_extra__, element.__pydantic_private__, element.__pydantic_fields_set__)
    return element.__dict__


def _revive(cls: type, kind: int, fp: bytes) -> Any:
    """A new, independent object whose state is the one ``fp`` recorded (what ``copy.deepcopy``
    of that object would give: pickle and deepcopy share the reduce protocol)."""
    state = pickle.loads(fp)
    if kind == _VALUE:
        return state
    obj = cls.__new__(cls)
    if kind == _PYDANTIC:  # as pydantic's own __copy__/__deepcopy__ rebuild a model
        d, extra, private, fields_set = state
        _set(obj, "__dict__", d)
        _set(obj, "__pydantic_extra__", extra)
        _set(obj, "__pydantic_fields_set__", fields_set)
        _set(obj, "__pydantic_private__", private)
    else:
        _set(obj, "__dict__", state)
    return obj


_set = object.__setattr__


class _PlainStatePickler(pickle.Pickler):
    """``pickle.dumps``'s bytes, noting whether the state holds anything but builtin values
    (``reducer_override`` is not called for None, bools, ints, floats, str, bytes, dict, set,
    frozenset, list and tuple, and is called for every other object)."""

    plain = True

    def reducer_override(self, obj: Any) -> Any:
        self.plain = False
        return NotImplemented


def _recorded_state(state: Any) -> tuple[bytes | None, bool]:
    """``(fingerprint, plain)`` of a decoded element's state; ``(None, False)`` when it cannot
    be pickled. Only a plain state is revived later: one holding other objects (a nested model,
    an enum, a datetime) would be rebuilt from classes looked up by name, which a re-run notebook
    cell or a reloaded module may have replaced since -- the serde would build the new class."""
    buffer = io.BytesIO()
    pickler = _PlainStatePickler(buffer, _PROTOCOL)
    try:
        pickler.dump(state)
    except Exception:
        return None, False
    return buffer.getvalue(), pickler.plain


def _still_current(cls: type) -> bool:
    """Whether ``cls`` is still what its module exposes under its name (a class redefined since
    -- a re-run notebook cell, a reloaded module -- must be decoded into the new class)."""
    if cls in (dict, list, tuple):
        return True
    module = sys.modules.get(cls.__module__)
    obj: Any = module
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return obj is cls


def fingerprint(element: Any) -> bytes | None:
    """``element``'s complete state as pickle bytes, or None when it cannot be taken.

    Covered: plain ``dict``/``list``/``tuple`` values, pydantic v2 models (LangChain
    messages: fields, extra fields and private attributes) and dataclasses without
    ``__slots__``. The same state always gives the same bytes (an unchanged element is
    recognised); a different state or a value of another type gives other bytes.
    """
    kind = _kind(type(element))
    if kind == _NONE:
        return None
    try:
        return pickle.dumps(_state(element, kind), _PROTOCOL)
    except Exception:  # unpicklable (a lock, a memoryview...), or a failing __reduce__: no shortcut
        return None


class _BoundedByBytes:
    """A dict of ``key -> (class, fingerprint, ...)`` bounded by the bytes of the fingerprints
    it keeps (plus ``ENTRY_OVERHEAD`` per entry): the oldest entries go first."""

    #: per entry, besides its fingerprint: the dict slot, the tuple and what else it holds
    ENTRY_OVERHEAD = 200

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._data: dict[Any, tuple] = {}
        self._lock = threading.Lock()

    def _store(self, entries: Iterable[tuple[Any, tuple]], *, replace: bool) -> None:
        """Add ``(key, value)`` pairs; an existing key is replaced only if ``replace``."""
        overhead = self.ENTRY_OVERHEAD
        limit = self._max_bytes // 4
        with self._lock:
            data = self._data
            for key, value in entries:
                size = len(value[1]) + overhead
                if size > limit:
                    continue
                old = data.get(key)
                if old is not None:
                    if not replace:
                        continue
                    del data[key]
                    self._bytes -= len(old[1]) + overhead
                data[key] = value
                self._bytes += size
            while self._bytes > self._max_bytes:
                dropped = data.pop(next(iter(data)))
                self._bytes -= len(dropped[1]) + overhead

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


class DecodedElements(_BoundedByBytes):
    """``digest -> (class, kind, fingerprint)`` of stored list elements as the serde decoded them.

    Reading an element the serde already decoded in this process returns a revived copy of
    that decoded object (``_revive``: a pickle round trip of its recorded state, about half
    the cost of LangGraph's serde for a message) instead of decoding the stored bytes again.
    Exact: the recorded state is the decoder's own output for those bytes (the same digest
    is the same bytes, and one serde decodes the same bytes the same way), taken before
    anyone else held the object; each read gets a new, independent object, as from the
    serde. Only the decoder's output is recorded -- never an object a graph put, whose
    state a round trip through the serde may change (a tuple becomes a list). Bounded by
    the bytes of the fingerprints it keeps; the oldest go first. Elements without a
    fingerprint (a str, an int, an arbitrary object) are decoded every time.
    """

    def decode(
        self, digests: Sequence[str], items: Sequence[tuple[str, bytes]], loads: Any
    ) -> tuple[list[Any], list[bytes | None]]:
        """The elements ``items`` (their ``(type, bytes)``, named by ``digests``) decoded, and
        the fingerprint of each (None where it has none): revived where recorded, else by
        ``loads`` (the serde's ``loads_typed``) and recorded."""
        get = self._data.get
        values: list[Any] = []
        fps: list[bytes | None] = []
        fresh: list[tuple[str, tuple[type, bytes, int]]] = []
        kinds = _KINDS
        current: dict[type, bool] = {}  # per call: is the class still the one its module names?
        for digest, item in zip(digests, items):
            hit = get(digest)
            if hit is not None:
                cls = hit[0]
                ok = current.get(cls)
                if ok is None:
                    ok = current[cls] = _still_current(cls)
                if ok:
                    try:
                        values.append(_revive(cls, hit[2], hit[1]))
                        fps.append(hit[1])
                        continue
                    except Exception:  # cannot be rebuilt any more: decode as usual
                        pass
            value = loads(item)
            values.append(value)
            cls = type(value)
            kind = kinds.get(cls)
            if kind is None:
                kind = _kind(cls)
            fp = None
            if kind != _NONE:
                fp, plain = _recorded_state(_state(value, kind))
                if plain:
                    fresh.append((digest, (cls, fp, kind)))
            fps.append(fp)
        if fresh:
            self._store(fresh, replace=False)
        return values, fps


class FingerprintMemo(_BoundedByBytes):
    """``id(element) -> (class, fingerprint, digest)`` for elements serialized before.

    The entry holds the class, never the element: nothing is kept alive for the memo. A
    recycled ``id`` is harmless, since a hit needs the same class (held by the entry, so
    its identity cannot be recycled) and the same fingerprint, which determine the bytes.
    Bounded by the bytes of the fingerprints it keeps: the oldest entries go first.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        #: the same serde's decoded elements, for reads (same budget, kept apart)
        self.decoded = DecodedElements(max_bytes)

    def digests_of(self, elements: Sequence[Any]) -> list[tuple[str | None, bytes | None]]:
        """``(digest, fingerprint)`` for each of ``elements`` (one loop: a list holds thousands):
        the digest when the element is unchanged since it was remembered (else None), and its
        fingerprint now (None if it has none)."""
        get = self._data.get
        dumps = pickle.dumps
        kinds = _KINDS
        out: list[tuple[str | None, bytes | None]] = []
        append = out.append
        for element in elements:
            cls = type(element)
            kind = kinds.get(cls)
            if kind is None:
                kind = _kind(cls)
            if kind == _NONE:
                append((None, None))
                continue
            try:
                fp = dumps(_state(element, kind), _PROTOCOL)
            except Exception:
                append((None, None))
                continue
            hit = get(id(element))
            append((hit[2] if hit is not None and hit[0] is cls and hit[1] == fp else None, fp))
        return out

    def remember(self, element: Any, fp: bytes, digest: str) -> None:
        """Record that ``element``, whose fingerprint was ``fp`` *before* it was serialized,
        serialized to ``digest`` (taken before: a concurrent in-place edit then only costs a
        needless serialization later, never a stale digest)."""
        self._store([(id(element), (type(element), fp, digest))], replace=True)

    def remember_loaded(self, elements: Sequence[Any], digests: Sequence[str], fingerprints: Sequence[bytes | None]) -> None:
        """Record ``elements``, just decoded from the stored elements ``digests`` (same order)
        and not yet handed to anyone, with the ``fingerprints`` ``DecodedElements.decode`` took
        of them: their state is exactly what those bytes decode to, so while it stays the same
        the next ``put`` may name the stored element instead of serializing it again.
        (LangGraph rebuilds a thread's state from ``get_tuple`` at every ``invoke``: without
        this, every element is a new object and each invoke's first ``put`` would serialize
        them all.)"""
        self._store(
            [(id(e), (type(e), fp, d)) for e, d, fp in zip(elements, digests, fingerprints) if fp is not None],
            replace=True,
        )

    def clear(self) -> None:
        super().clear()
        self.decoded.clear()
