"""Trim-on-write for ``max_checkpoints``: when is a thread namespace counted, when trimmed.

Counting a namespace costs a query (a round trip on Redis/S3), so a put must not count on
every write. ``TrimPolicy`` keeps, per (thread, namespace) this process writes, an
*estimate* of how many checkpoints it holds and decides per write:

* ``COUNT``: this process has not seen the namespace yet (first write, or its entry was
  evicted), or it wrote ``RECOUNT_EVERY`` checkpoints there since the last count (other
  processes may write the same thread): count it, then ``counted`` says whether to trim;
* ``TRIM``: the estimate exceeds the threshold (``cleanup_threshold``, default
  ``max_checkpoints``): prune the thread to ``max_checkpoints``, then call ``trimmed``;
* ``NOTHING`` otherwise (the common case: no I/O at all).

A namespace's first checkpoint (no parent: a new thread, a subgraph invocation) starts at an
estimate of one without a count. After a trim the thread's estimates drop to
``max_checkpoints``: checkpoints the trim had to keep (archived ones, the ancestors a kept
checkpoint's ``DeltaChannel`` values are rebuilt from) are noticed again at the next count,
not on every write. The state is bounded: ``max_keys`` namespaces in all, at most
``max_per_thread`` of them per thread (a subgraph invocation is a namespace of its own, so
a long thread collects many, each written only for a while); the least recently written are
forgotten first, and a forgotten namespace is counted again at its next write. Memory stays
flat however many threads a process serves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

NOTHING = 0
COUNT = 1
TRIM = 2


class TrimPolicy:
    """Per (thread, namespace) checkpoint-count estimates (see the module docstring). Thread-safe."""

    RECOUNT_EVERY = 16

    def __init__(
        self, max_checkpoints: int, threshold: int | None = None, *, max_keys: int = 10_000, max_per_thread: int = 64
    ) -> None:
        self.max_checkpoints = int(max_checkpoints)
        self.threshold = max(int(threshold or 0), self.max_checkpoints)
        self.max_keys = max(1, int(max_keys))
        self.max_per_thread = max(1, min(int(max_per_thread), self.max_keys))
        #: thread id -> {ns: [estimate, writes since the last count]}, least recently written first
        self._threads: OrderedDict[str, OrderedDict[str, list[int]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def on_write(self, thread_id: str, ns: str, *, root: bool = False) -> int:
        """Account one checkpoint written to (thread_id, ns); ``root``: it has no parent."""
        with self._lock:
            by_ns = self._threads.get(thread_id)
            entry = by_ns.get(ns) if by_ns is not None else None
            if entry is None:
                if not root:
                    return COUNT  # ``counted`` creates the entry
                self._set(thread_id, ns, [1, 1])
                return NOTHING
            self._threads.move_to_end(thread_id)
            by_ns.move_to_end(ns)
            entry[0] += 1
            entry[1] += 1
            if entry[1] >= self.RECOUNT_EVERY:
                return COUNT
            return TRIM if entry[0] > self.threshold else NOTHING

    def counted(self, thread_id: str, ns: str, count: int) -> bool:
        """Record a count of (thread_id, ns); whether the thread must be trimmed now."""
        with self._lock:
            self._set(thread_id, ns, [count, 0])
        return count > self.threshold

    def trimmed(self, thread_id: str) -> None:
        """The thread was just pruned to ``max_checkpoints`` per namespace."""
        with self._lock:
            for entry in self._threads.get(thread_id, {}).values():
                entry[0] = min(entry[0], self.max_checkpoints)

    def forget(self, thread_id: str) -> None:
        """Drop what is known of a thread (it was deleted)."""
        with self._lock:
            by_ns = self._threads.pop(thread_id, None)
            if by_ns:
                self._size -= len(by_ns)

    def estimate(self, thread_id: str, ns: str) -> int | None:
        entry = self._threads.get(thread_id, {}).get(ns)
        return entry[0] if entry else None

    def _set(self, thread_id: str, ns: str, entry: list[int]) -> None:
        by_ns = self._threads.get(thread_id)
        if by_ns is None:
            by_ns = self._threads[thread_id] = OrderedDict()
        else:
            self._threads.move_to_end(thread_id)
        if ns in by_ns:
            by_ns.move_to_end(ns)
        else:
            self._size += 1
            if len(by_ns) >= self.max_per_thread:
                by_ns.popitem(last=False)
                self._size -= 1
        by_ns[ns] = entry
        while self._size > self.max_keys:  # max_per_thread <= max_keys: never the thread just written
            _, dropped = self._threads.popitem(last=False)
            self._size -= len(dropped)
