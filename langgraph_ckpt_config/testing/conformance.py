"""Run LangGraph's official conformance suite (``langgraph-checkpoint-conformance``) on a saver.

For plugin authors and our own tests::

    from langgraph_ckpt_config.testing.conformance import assert_full_conformance

    async def test_conformance(tmp_path):
        def make_saver():
            return ConfigCheckpointSaver(MyManager({...}))
        await assert_full_conformance(make_saver, name="my-backend")

``make_saver`` may return a saver (entered with ``async with`` when it is an async
context manager, as ``ConfigCheckpointSaver`` is), an async context manager yielding
a saver (``AsyncSqliteSaver.from_conn_string(...)``), or an async generator yielding
one. It is called once per capability suite, so each suite starts on a fresh saver;
the suite asserts on ``list(None)``, so the store behind it must start empty.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

#: The capabilities every backend of ours must detect and pass: base and extended
#: (get_tuple, list, put, put_writes, delete_thread, delete_for_runs, copy_thread, prune).
REQUIRED_CAPABILITIES = frozenset(c.value for c in ALL_CAPABILITIES)


async def run_conformance(make_saver: Callable[[], Any], *, name: str, capabilities: set[str] | None = None):
    """Validate fresh savers from ``make_saver`` (one per capability); returns the
    ``CapabilityReport`` (``report.results[capability]`` has ``detected``, ``passed``,
    ``tests_failed`` and ``failures``)."""

    @checkpointer_test(name=name)
    async def factory():
        made = make_saver()
        if inspect.isasyncgen(made):
            saver = await made.__anext__()
            try:
                yield saver
            finally:
                await made.aclose()
        elif hasattr(made, "__aenter__"):
            async with made as saver:
                yield saver
        elif isinstance(made, BaseCheckpointSaver):
            yield made
        else:
            raise TypeError(
                f"make_saver() returned {type(made).__name__}; expected a checkpoint saver, "
                "an async context manager or an async generator yielding one"
            )

    return await validate(factory, capabilities=capabilities)


def failures_of(report, required: frozenset[str] = REQUIRED_CAPABILITIES) -> list[str]:
    """One line per missing capability or failing test (with the first lines of each failure)."""
    problems = []
    for cap in sorted(required):
        result = report.results.get(cap)
        if result is None or not result.detected:
            problems.append(f"{cap}: not detected (the saver does not override it)")
        elif result.passed is not True:
            problems.append(f"{cap}: {result.tests_failed} failed")
            problems.extend(f"  {line}" for f in result.failures for line in str(f).splitlines()[:6])
    return problems


async def assert_full_conformance(make_saver: Callable[[], Any], *, name: str) -> None:
    """Fail unless all 8 capabilities (base + extended) are detected and pass.

    A pytest helper: the assertion message lists every failing capability and test.
    """
    report = await run_conformance(make_saver, name=name)
    problems = failures_of(report)
    assert not problems, f"{name} is not fully conformant:\n" + "\n".join(problems)
