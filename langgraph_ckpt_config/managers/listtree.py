"""Linear storage of list values: element digests, manifests and the node tree over them.

A list channel value is stored as a *manifest* plus its elements, each element
content-addressed by ``element_digest`` and stored once per thread. A flat manifest
(``lgc:list-manifest``, the first layout) names every element, so it grows with the
list and a thread's manifests grow with the square of its length. A *tree* manifest
(``lgc:list-tree``) names at most ``FANOUT - 1`` entries per level: the elements are
grouped, FANOUT at a time and from the start of the list, into *nodes* -- themselves
content-addressed and stored like elements (payload type ``lgc:list-node``) -- nodes
into nodes of the next level, and so on. Appending to a list rewrites a manifest of
O(FANOUT x log n) entries and, once every FANOUT appends, one node per completed level:
storage grows linearly with the thread, and the nodes of the unchanged prefix of a list
are shared by every later version (docs/design.md, "Linear storage").

Bodies (no codec here; the manager seals them like any blob):

* tree manifest: entries of 1 byte *level* + 16-byte digest, in list order; level 0 is
  an element, level k >= 1 a node covering FANOUT**k elements;
* node: 1 byte level (>= 1), then the digests of its FANOUT children (level - 1);
* flat manifest: 16-byte element digests (read only; still understood everywhere).

Addresses. Without client encryption a digest is an unkeyed blake2b of the content, as it
always was. With encryption on, the store must not reveal the content through its keys, so
elements and nodes are addressed by a blake2b *keyed* with ``thread_address_key`` (a subkey of
the primary encryption key, bound to the thread): without the key an address confirms no guess
and equal elements of two threads get unrelated addresses. Nothing checks an address against
its content on read (a manifest simply names stored blobs, authenticated by AES-GCM with the
address in the associated data), so addresses of any scheme -- unkeyed ones written before
encryption, ones under an older primary key -- stay readable side by side.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from langgraph_ckpt_config.errors import IntegrityError
from langgraph_ckpt_config.managers.records import MANIFEST_BLOB_TYPE

#: Element digests are blake2b-128: collisions are out of reach for the elements of one thread.
DIGEST_SIZE = 16
#: Children per node. 8 keeps a manifest small (at most 7 entries per level) and a
#: cold read of a 5,000-element list at 5 rounds of batched fetches.
FANOUT = 8
TREE_MANIFEST_TYPE = "lgc:list-tree"
FLAT_MANIFEST_TYPE = MANIFEST_BLOB_TYPE
MANIFEST_TYPES = frozenset({FLAT_MANIFEST_TYPE, TREE_MANIFEST_TYPE})
NODE_TYPE = "lgc:list-node"

Entry = tuple[int, str]  # (level, hex digest)


def element_digest(payload_type: str, raw: bytes, key: bytes | None = None) -> str:
    """The content address of one stored element (or node): its type and bytes, hashed
    under ``key`` (``thread_address_key``) when the store is encrypted."""
    if key is None:
        return hashlib.blake2b(payload_type.encode() + b"\0" + raw, digest_size=DIGEST_SIZE).hexdigest()
    return hashlib.blake2b(payload_type.encode() + b"\0" + raw, digest_size=DIGEST_SIZE, key=key).hexdigest()


@functools.lru_cache(maxsize=4096)
def thread_address_key(address_key: bytes, thread_id: str) -> bytes:
    """The key a thread's elements are addressed under (encrypted stores): bound to the thread
    so that the same element in two threads has unrelated addresses."""
    data = thread_id.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=address_key, digest_size=32, person=b"lgc:thread").digest()


def build_manifest(
    leaves: Sequence[str],
    previous: Sequence[Sequence[str]] | None = None,
    previous_count: int = 0,
    *,
    key: bytes | None = None,
) -> tuple[bytes, list[tuple[str, bytes]], list[list[str]]]:
    """The tree manifest body for elements ``leaves`` (hex digests, list order), the nodes
    ``(digest, body)`` it refers to, and the node digests per level (for the next call).

    ``previous`` (the third result of an earlier call, whose ``previous_count`` leaves are
    a prefix of ``leaves``) lets the nodes of that prefix be reused as they are: only the
    nodes completed since are built and returned, so an append costs O(log n), not O(n).
    ``key``: the thread's address key in an encrypted store (nodes are addressed like elements).
    """
    nodes: list[tuple[str, bytes]] = []
    tails: list[list[Entry]] = []  # per level, the entries left over after the full groups
    levels: list[list[str]] = []
    level_entries: Sequence[str] = leaves
    known = previous_count if previous is not None else 0
    level = 0
    width = FANOUT * DIGEST_SIZE
    while len(level_entries) >= FANOUT:
        full = len(level_entries) - len(level_entries) % FANOUT
        reused = min(known // FANOUT, full // FANOUT)
        parents: list[str] = list(previous[level][:reused]) if reused else []
        start = reused * FANOUT
        packed = bytes.fromhex("".join(level_entries[start:full]))
        marker = bytes((level + 1,))
        for offset in range(0, len(packed), width):
            body = marker + packed[offset : offset + width]
            digest = _node_digest(body, key)
            nodes.append((digest, body))
            parents.append(digest)
        tails.append([(level, h) for h in level_entries[full:]])
        levels.append(parents)
        known = len(previous[level]) if previous is not None and level < len(previous) else 0
        level_entries = parents
        level += 1
    entries = [(level, h) for h in level_entries]
    for tail in reversed(tails):
        entries.extend(tail)
    return pack_entries(entries), nodes, levels


@functools.lru_cache(maxsize=65536)
def _node_digest(body: bytes, key: bytes | None) -> str:
    # memoized: the nodes of a list's unchanged prefix are rebuilt at every step
    return element_digest(NODE_TYPE, body, key)


def pack_entries(entries: Iterable[Entry]) -> bytes:
    return b"".join(bytes((level,)) + bytes.fromhex(h) for level, h in entries)


@functools.lru_cache(maxsize=2048)
def _tree_entries(raw: bytes) -> tuple[Entry, ...]:
    width = DIGEST_SIZE + 1
    if len(raw) % width:
        raise IntegrityError(f"list manifest is damaged: {len(raw)} bytes is not a multiple of {width}")
    return tuple((raw[i], raw[i + 1 : i + width].hex()) for i in range(0, len(raw), width))


@functools.lru_cache(maxsize=2048)
def _flat_entries(raw: bytes) -> tuple[Entry, ...]:
    if len(raw) % DIGEST_SIZE:
        raise IntegrityError(f"list manifest is damaged: {len(raw)} bytes is not a multiple of {DIGEST_SIZE}")
    text = raw.hex()
    step = 2 * DIGEST_SIZE
    return tuple((0, text[i : i + step]) for i in range(0, len(text), step))


def manifest_entries(payload_type: str, raw: bytes) -> tuple[Entry, ...]:
    """``(level, digest)`` of each entry of a manifest of either layout, in list order."""
    if payload_type == TREE_MANIFEST_TYPE:
        return _tree_entries(raw)
    if payload_type == FLAT_MANIFEST_TYPE:
        return _flat_entries(raw)
    raise IntegrityError(f"not a list manifest: payload type {payload_type!r}")


@functools.lru_cache(maxsize=4096)
def node_entries(raw: bytes) -> tuple[Entry, ...]:
    """``(level, digest)`` of a node's children."""
    if not raw or raw[0] < 1 or (len(raw) - 1) % DIGEST_SIZE:
        raise IntegrityError(f"list node is damaged ({len(raw)} bytes)")
    child = raw[0] - 1
    text = raw[1:].hex()
    step = 2 * DIGEST_SIZE
    return tuple((child, text[i : i + step]) for i in range(0, len(text), step))


def expand(payload_type: str, raw: bytes, elements: Mapping[str, tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The list's elements ``(serde type, bytes)`` in order, nodes resolved through ``elements``."""
    return element_values(expand_digests(payload_type, raw, elements), elements)


def element_values(digests: Iterable[str], elements: Mapping[str, tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """``elements[h]`` for each digest; a missing one is an ``IntegrityError``, never a shorter list."""
    try:
        return [elements[h] for h in digests]
    except KeyError as exc:
        raise IntegrityError(f"list element {str(exc.args[0])[:16]}... is missing") from None


def expand_digests(payload_type: str, raw: bytes, elements: Mapping[str, tuple[str, bytes]]) -> list[str]:
    """The digests of the list's elements in order, nodes resolved through ``elements``.

    Memoized by manifest: a manifest and its nodes are content-addressed, so the same body
    always expands to the same digests (the elements themselves are looked up by the caller).
    """
    key = (payload_type, raw)
    known = _EXPANDED.get(key)
    if known is not None:
        return list(known)
    out: list[str] = []
    for level, digest in manifest_entries(payload_type, raw):
        _expand_into(level, digest, elements, out)
    if len(_EXPANDED) >= _EXPANDED_MAX:
        _EXPANDED.clear()
    _EXPANDED[key] = tuple(out)
    return out


_EXPANDED: dict[tuple[str, bytes], tuple[str, ...]] = {}
_EXPANDED_MAX = 4096


def _expand_into(level: int, digest: str, elements: Mapping[str, tuple[str, bytes]], out: list[str]) -> None:
    if not level:
        out.append(digest)
        return
    item = elements.get(digest)
    if item is None:
        raise IntegrityError(f"list node {digest[:16]}... is missing")
    if item[0] != NODE_TYPE:
        raise IntegrityError(f"list node {digest[:16]}... is damaged (stored as {item[0]!r})")
    if level == 1:
        out.extend(_leaf_children(item[1]))
    else:
        for child_level, child in node_entries(item[1]):
            _expand_into(child_level, child, elements, out)


@functools.lru_cache(maxsize=4096)
def _leaf_children(body: bytes) -> tuple[str, ...]:
    return tuple(h for _, h in node_entries(body))


def closure(
    entries: Iterable[Entry],
    fetch_nodes: Callable[[list[str]], Mapping[str, bytes]],
    *,
    strict: bool = True,
) -> set[str]:
    """Every digest (elements and nodes) reachable from manifest ``entries``.

    ``fetch_nodes(digests)`` returns node bodies by digest, one batch per tree level;
    elements themselves are never fetched. A node it cannot return raises
    ``IntegrityError`` when ``strict``, else its subtree is left out.
    """
    seen: set[str] = set()
    frontier: list[str] = []
    for level, digest in entries:
        if digest not in seen:
            seen.add(digest)
            if level:
                frontier.append(digest)
    while frontier:
        bodies = fetch_nodes(frontier)
        following: list[str] = []
        for digest in frontier:
            body = bodies.get(digest)
            if body is None:
                if strict:
                    raise IntegrityError(f"list node {digest[:16]}... is missing")
                continue
            for level, child in node_entries(body):
                if child not in seen:
                    seen.add(child)
                    if level:
                        following.append(child)
        frontier = following
    return seen
