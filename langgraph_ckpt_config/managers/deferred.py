"""Keyed jobs run once, a fixed delay after they were first scheduled (write coalescing).

The S3 manager uses it to re-send a namespace's head with the pending writes that came after
it: a burst of ``put_writes`` calls (or one followed soon by the next ``put``, which replaces
the head anyway) then costs at most one head PUT instead of one per call. Scheduling a key
again before its job ran replaces the job but keeps the first due time, so nothing waits more
than ``delay`` however often it is rescheduled. ``cancel`` drops a job that became pointless;
``close`` runs what is pending at once (on the caller's thread) and stops the worker.

Jobs are optimisations only: a job that fails is logged and dropped, never retried.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable

logger = logging.getLogger(__name__)


class DeferredJobs:
    def __init__(self, delay: float, name: str) -> None:
        self.delay = delay
        self._name = name
        self._cond = threading.Condition()
        self._jobs: dict[Hashable, tuple[float, int, Callable[[], None]]] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def schedule(self, key: Hashable, job: Callable[[], None]) -> None:
        with self._cond:
            if self._closed:
                return
            pending = self._jobs.get(key)
            if pending is not None:  # keep the first due time (and heap entry)
                self._jobs[key] = (pending[0], pending[1], job)
                return
            due, seq = time.monotonic() + self.delay, next(self._seq)
            self._jobs[key] = (due, seq, job)
            heapq.heappush(self._heap, (due, seq, key))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def cancel(self, key: Hashable) -> None:
        with self._cond:
            self._jobs.pop(key, None)  # its heap entry is skipped when it comes up

    def cancel_where(self, predicate: Callable[[Hashable], bool]) -> None:
        with self._cond:
            for key in [k for k in self._jobs if predicate(k)]:
                del self._jobs[key]

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def run_pending(self) -> None:
        """Run every pending job now, on this thread."""
        with self._cond:
            jobs = [job for _due, _seq, job in sorted(self._jobs.values(), key=lambda j: j[:2])]
            self._jobs.clear()
            self._heap.clear()
        for job in jobs:
            self._call(job)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self.run_pending()

    def _call(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - an optimisation failed: log, never raise
            logger.warning("%s: a deferred job failed: %s: %s", self._name, type(exc).__name__, exc)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = time.monotonic()
                    while self._heap and self._jobs.get(self._heap[0][2], (None, None))[1] != self._heap[0][1]:
                        heapq.heappop(self._heap)  # cancelled or already run
                    if self._heap and self._heap[0][0] <= now:
                        _due, _seq, key = heapq.heappop(self._heap)
                        job = self._jobs.pop(key)[2]
                        break
                    self._cond.wait(None if not self._heap else self._heap[0][0] - now)
            self._call(job)
