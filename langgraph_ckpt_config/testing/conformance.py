"""Run LangGraph's official conformance suite (``langgraph-checkpoint-conformance``) on a saver.

For plugin authors and our own tests::

    from langgraph_ckpt_config.testing.conformance import assert_full_conformance

    async def test_conformance(tmp_path):
        def make_saver():
            return ConfigCheckpointSaver(MyManager({...}))
        await assert_full_conformance(make_saver, name="my-backend")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

#: The capabilities every backend of ours must detect and pass: base and extended.
REQUIRED_CAPABILITIES = frozenset(c.value for c in ALL_CAPABILITIES)


async def run_conformance(make_saver: Callable[[], Any], *, name: str):
    """Validate fresh savers from ``make_saver`` (one per capability); returns the report.

    ``make_saver()`` returns a ``ConfigCheckpointSaver`` (or any saver with an
    async context manager); it is entered before and closed after each capability.
    """

    @checkpointer_test(name=name)
    async def factory():
        saver = make_saver()
        async with saver:
            yield saver

    return await validate(factory)


def failures_of(report) -> list[str]:
    """One line per missing capability or failing test."""
    problems = []
    for cap in sorted(REQUIRED_CAPABILITIES):
        result = report.results.get(cap)
        if result is None or not result.detected:
            problems.append(f"{cap}: not detected")
        elif result.passed is not True:
            problems.append(f"{cap}: {result.tests_failed} failed")
            problems.extend(f"  {line}" for f in result.failures for line in str(f).splitlines()[:6])
    return problems


async def assert_full_conformance(make_saver: Callable[[], Any], *, name: str) -> None:
    """Fail unless all 8 capabilities (base + extended) are detected and pass."""
    report = await run_conformance(make_saver, name=name)
    problems = failures_of(report)
    assert not problems, f"{name} is not fully conformant:\n" + "\n".join(problems)
