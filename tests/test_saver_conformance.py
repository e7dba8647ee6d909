"""LangGraph's official conformance suite, all 8 capabilities, on every backend case."""

import pytest

from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.conformance import assert_full_conformance

LIST_STORAGE = {
    "list-storage": {},  # the default: lists element by element under a list tree
    "list-storage-off": {"list_storage": False},
    "reuse-objects": {"list_storage_reuse_objects": True},
}


@pytest.mark.parametrize("layout", list(LIST_STORAGE))
async def test_full_conformance(manager_factory, backend, layout):
    counter = iter(range(1000))

    def make_saver():
        # A fresh, empty store for every capability suite (the suite asserts on list(None)).
        manager = manager_factory(default_workflow_id=f"wf{next(counter)}", **LIST_STORAGE[layout])
        for thread_id in manager.list_thread_ids():
            manager.delete_thread(thread_id)
        return ConfigCheckpointSaver(manager)

    await assert_full_conformance(make_saver, name=f"langgraph-ckpt-config[{backend},{layout}]")


async def test_full_conformance_with_encryption(manager_factory, backend):
    from langgraph_ckpt_config.codecs import generate_key_spec

    spec = generate_key_spec("k1")
    counter = iter(range(1000))

    def make_saver():
        manager = manager_factory(
            client_encryption={"enabled": True, "keys": spec}, compression_enabled=True, default_workflow_id=f"e{next(counter)}"
        )
        for thread_id in manager.list_thread_ids():
            manager.delete_thread(thread_id)
        return ConfigCheckpointSaver(manager)

    await assert_full_conformance(make_saver, name=f"langgraph-ckpt-config[{backend}+aes]")


async def test_run_conformance_accepts_context_managers_and_generators():
    """Plugin authors may hand over any factory shape; a partial saver is reported, not hidden."""
    from langgraph.checkpoint.memory import InMemorySaver

    from langgraph_ckpt_config.testing.conformance import failures_of, run_conformance

    async def gen():
        yield InMemorySaver()

    for factory in (InMemorySaver, gen):
        report = await run_conformance(factory, name="in-memory", capabilities={"get_tuple", "put"})
        assert not failures_of(report, frozenset({"get_tuple", "put"}))
