"""The list tree of linear storage: manifests stay small, nodes are shared, expansion is exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage

from langgraph_ckpt_config.errors import IntegrityError
from langgraph_ckpt_config.managers.listtree import (
    FANOUT,
    NODE_TYPE,
    TREE_MANIFEST_TYPE,
    build_manifest,
    closure,
    element_digest,
    expand,
    manifest_entries,
    node_entries,
)
from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL, RecordQuery
from langgraph_ckpt_config.saver import ConfigCheckpointSaver


def _leaves(n: int, salt: str = "") -> tuple[list[str], dict[str, tuple[str, bytes]]]:
    elements = {}
    digests = []
    for i in range(n):
        raw = f"{salt}{i}".encode()
        h = element_digest("bytes", raw)
        elements[h] = ("bytes", raw)
        digests.append(h)
    return digests, elements


def _store(nodes, elements):
    store = dict(elements)
    store.update({h: (NODE_TYPE, body) for h, body in nodes})
    return store


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=300))
def test_expand_rebuilds_any_list(values):
    """Any sequence, duplicates included, comes back in order and complete."""
    elements = {}
    digests = []
    for v in values:
        raw = str(v).encode()
        h = element_digest("bytes", raw)
        elements[h] = ("bytes", raw)
        digests.append(h)
    body, nodes, _ = build_manifest(digests)
    assert [raw for _, raw in expand(TREE_MANIFEST_TYPE, body, _store(nodes, elements))] == [str(v).encode() for v in values]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 700), st.integers(0, 700))
def test_incremental_build_equals_a_fresh_one(first, more):
    """Building from the previous tree of a prefix gives the same manifest and all new nodes."""
    digests, _ = _leaves(first + more)
    _, old_nodes, levels = build_manifest(digests[:first])
    body, new_nodes, new_levels = build_manifest(digests, levels, first)
    fresh_body, fresh_nodes, fresh_levels = build_manifest(digests)
    assert body == fresh_body and new_levels == fresh_levels
    assert {h for h, _ in fresh_nodes} == {h for h, _ in old_nodes} | {h for h, _ in new_nodes}
    assert len(new_nodes) <= more // (FANOUT - 1) + 4


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 63, 64, 65, 511, 512, 5000])
def test_manifest_is_logarithmic(n):
    digests, elements = _leaves(n)
    body, nodes, _ = build_manifest(digests)
    entries = manifest_entries(TREE_MANIFEST_TYPE, body)
    levels = max(1, len(f"{n:o}"))  # digits of n in base 8 (FANOUT)
    assert len(entries) <= (FANOUT - 1) * levels
    assert len(entries) == sum(int(d) for d in f"{n:o}")  # one entry per unit of each base-8 digit
    assert len(expand(TREE_MANIFEST_TYPE, body, _store(nodes, elements))) == n


def test_appending_shares_the_prefix_nodes():
    """An append adds at most one node per level: the earlier nodes are reused as they are."""
    digests, _ = _leaves(1000)
    known: set[str] = set()
    new_per_step = []
    for n in range(1, 1001):
        _, nodes, _ = build_manifest(digests[:n])
        fresh = {h for h, _ in nodes} - known
        new_per_step.append(len(fresh))
        known |= fresh
    assert max(new_per_step) <= 4  # 1000 < 8**4: at most one new node per level
    assert sum(new_per_step) < 1000 / (FANOUT - 1) + 4  # about n/7 nodes in all


def test_closure_reads_only_nodes_and_reports_missing_ones():
    digests, elements = _leaves(100)
    body, nodes, _ = build_manifest(digests)
    bodies = dict(nodes)
    asked: list[str] = []

    def fetch(batch):
        asked.extend(batch)
        return {h: bodies[h] for h in batch if h in bodies}

    reached = closure(manifest_entries(TREE_MANIFEST_TYPE, body), fetch)
    assert reached == set(digests) | set(bodies)
    assert set(asked) <= set(bodies)  # elements are never fetched
    victim = next(iter(bodies))
    del bodies[victim]
    with pytest.raises(IntegrityError, match="node"):
        closure(manifest_entries(TREE_MANIFEST_TYPE, body), fetch)
    assert closure(manifest_entries(TREE_MANIFEST_TYPE, body), fetch, strict=False) < reached


def test_damaged_bodies_are_reported():
    with pytest.raises(IntegrityError, match="manifest"):
        manifest_entries(TREE_MANIFEST_TYPE, b"\x00" * 5)
    with pytest.raises(IntegrityError, match="node"):
        node_entries(b"\x00" + b"\x01" * 16)
    digests, elements = _leaves(20)
    body, nodes, _ = build_manifest(digests)
    with pytest.raises(IntegrityError, match="missing"):
        expand(TREE_MANIFEST_TYPE, body, elements)  # nodes absent


def test_a_long_chat_thread_grows_linearly(manager_factory):
    """200 appended messages: manifests stay small, stored lists stay exact, nothing leaks."""
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    from langgraph_ckpt_config.testing.graphs import chat_graph

    graph = chat_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "long"}}
    for i in range(100):
        graph.invoke({"messages": [HumanMessage(f"message {i}", id=f"h{i}")]}, cfg)
    state = graph.get_state(cfg).values["messages"]
    assert [m.content for m in state[::2]] == [f"message {i}" for i in range(100)]
    largest = 0
    for rec in manager.query_records(RecordQuery(thread_id="long", include_payload=False)):
        for blob in manager._read_blobs("long", "", list(rec.channel_versions.items())).values():
            if blob.payload_type == TREE_MANIFEST_TYPE:
                largest = max(largest, len(manager._open_blob("long", "", blob)))
    assert 0 < largest <= 17 * (FANOUT - 1) * 3  # 200 elements: three levels, never 200 entries
    # a cold reader (no cache) rebuilds the same list through the nodes
    manager._element_cache.clear()
    manager._blob_cache.clear()
    assert graph.get_state(cfg).values["messages"] == state
    stored = {ver for _, ch, ver in manager._list_blob_keys("long") if ch == ELEMENT_CHANNEL}
    referenced = {h for _, h in manager._referenced_elements("long", manager.query_records(RecordQuery(thread_id="long", include_payload=False)))}
    assert stored == referenced
    manager.prune_thread("long", keep_last=1)
    stored = {ver for _, ch, ver in manager._list_blob_keys("long") if ch == ELEMENT_CHANNEL}
    referenced = {h for _, h in manager._referenced_elements("long", manager.query_records(RecordQuery(thread_id="long", include_payload=False)))}
    assert stored == referenced
    assert graph.get_state(cfg).values["messages"] == state


def test_a_missing_node_is_reported_never_a_shorter_list(manager_factory):
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    from langgraph_ckpt_config.testing.graphs import chat_graph

    graph = chat_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "holes"}}
    for i in range(10):  # 20 messages: two full nodes
        graph.invoke({"messages": [HumanMessage(f"m{i}", id=f"h{i}")]}, cfg)
    checkpoint_id = graph.get_state(cfg).config["configurable"]["checkpoint_id"]
    nodes = [
        ver for _, ch, ver in manager._list_blob_keys("holes")
        if ch == ELEMENT_CHANNEL
        and manager._read_blobs("holes", "", [(ch, ver)])[(ch, ver)].payload_type == NODE_TYPE
    ]
    assert nodes
    manager._delete_blobs("holes", [("", ELEMENT_CHANNEL, h) for h in nodes])
    manager._element_cache.clear()
    manager._blob_cache.clear()
    try:
        messages = graph.get_state(cfg).values["messages"]
    except IntegrityError as exc:
        assert "missing" in str(exc)
    else:  # served whole from a self-contained copy of the newest checkpoint (S3's head object)
        assert len(messages) == 20
    report = manager.verify_report(checkpoint_id, thread_id="holes")
    assert any("missing" in problem for problem in report["problems"])
