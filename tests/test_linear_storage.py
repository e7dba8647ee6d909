"""Linear storage: list channel values stored as manifests of content-addressed elements."""

from __future__ import annotations

import base64
import operator
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langgraph_ckpt_config.managers.listtree import MANIFEST_TYPES, NODE_TYPE, element_digest
from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL, RecordQuery
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import run_scenario

SMALL = ["memory", "sqlite"]


class ListState(TypedDict, total=False):
    items: list[Any]
    log: Annotated[list[str], operator.add]


def _set_items(state: ListState) -> dict[str, Any]:
    return {"log": ["x"]}


def _one_node_graph(state: type, node: Any, saver):
    builder = StateGraph(state)
    builder.add_node("step", node)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile(checkpointer=saver)


def _graph(saver):
    return _one_node_graph(ListState, _set_items, saver)


def _element_keys(manager, thread_id: str) -> set[tuple[str, str]]:
    return {(ns, ver) for ns, ch, ver in manager._list_blob_keys(thread_id) if ch == ELEMENT_CHANNEL}


def _referenced(manager, thread_id: str) -> set[tuple[str, str]]:
    return manager._referenced_elements(thread_id, manager.query_records(RecordQuery(thread_id=thread_id, include_payload=False)))


values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=6,
)
# Long enough for the list tree to have nodes (FANOUT 8), with duplicates.
list_values = st.lists(values, max_size=6) | st.lists(st.integers(0, 30), min_size=7, max_size=40) | values


def _small_manager(kind: str, tmp_path, **extra):
    from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager
    from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager

    if kind == "memory":
        manager = MemoryCheckpointManager({"cleanup_interval": 0, **extra})
    else:
        manager = SqliteCheckpointManager({"database_path": str(tmp_path / "prop.db"), "cleanup_interval": 0, **extra})
    manager.initialize()
    return manager


@pytest.mark.parametrize("reuse", [False, True], ids=["serialize-all", "reuse-objects"])
@pytest.mark.parametrize("kind", SMALL)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(list_values, min_size=1, max_size=6), prune_to=st.integers(0, 3))
def test_random_list_sequences_round_trip_and_never_leak(kind, reuse, tmp_path, sequence, prune_to):
    manager = _small_manager(kind, tmp_path, list_storage_reuse_objects=reuse)
    ours = _graph(ConfigCheckpointSaver(manager))
    reference = _graph(InMemorySaver())
    thread = f"p-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread}}
    for value in sequence:
        ours.invoke({"items": value}, cfg)
        reference.invoke({"items": value}, cfg)
        assert ours.get_state(cfg).values == reference.get_state(cfg).values
    assert [s.values for s in ours.get_state_history(cfg)] == [s.values for s in reference.get_state_history(cfg)]
    if prune_to:
        manager.prune_thread(thread, keep_last=prune_to)
    else:
        manager.delete_thread(thread)
    assert _element_keys(manager, thread) == _referenced(manager, thread)  # nothing leaked, nothing missing
    if prune_to:
        assert ours.get_state(cfg).values == reference.get_state(cfg).values
    manager.close()


def test_each_message_stored_once(manager_factory):
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    from langgraph_ckpt_config.testing.graphs import chat_graph

    chat = chat_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "once"}}
    for i in range(12):
        chat.invoke({"messages": [HumanMessage("m" * 300 + str(i), id=f"h{i}")]}, cfg)
    # 12 human + 12 AI messages: 24 distinct elements, however many checkpoints name them
    leaves = [
        key for key in _element_keys(manager, "once")
        if manager._read_blobs("once", "", [(ELEMENT_CHANNEL, key[1])])[(ELEMENT_CHANNEL, key[1])].payload_type != NODE_TYPE
    ]
    assert len(leaves) == 24
    manifests = [
        b for rec in manager.query_records(RecordQuery(thread_id="once", include_payload=False))
        for b in manager._read_blobs("once", "", list(rec.channel_versions.items())).values()
        if b.payload_type in MANIFEST_TYPES
    ]
    assert len(manifests) >= 12
    assert manager.verify_checkpoint(chat.get_state(cfg).config["configurable"]["checkpoint_id"], thread_id="once")


def test_missing_element_is_reported(manager_factory):
    manager = manager_factory()
    chat = _graph(ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "gap"}}
    chat.invoke({"items": ["a", "b", "c"]}, cfg)
    victim = sorted(_element_keys(manager, "gap"))[0]
    manager._delete_blobs("gap", [(victim[0], ELEMENT_CHANNEL, victim[1])])
    manager._blob_cache.clear()
    manager._element_cache.clear()
    from langgraph_ckpt_config.errors import IntegrityError

    try:
        values = ConfigCheckpointSaver(manager).get_tuple(cfg).checkpoint["channel_values"]
    except IntegrityError as exc:
        assert "list element" in str(exc)
    else:  # a backend keeping a self-contained copy of the newest checkpoint (S3's head object)
        assert values["items"] == ["a", "b", "c"]  # ... returns it whole: never a shorter list
    checkpoint_id = manager.query_records(RecordQuery(thread_id="gap", checkpoint_ns="", limit=1))[0].checkpoint_id
    assert manager.verify_checkpoint(checkpoint_id, thread_id="gap") is False


def test_a_missing_channel_value_is_reported_not_read_as_absent(manager_factory):
    """A channel value the store lost (a Redis key evicted, a damaged file) is an error naming
    the checkpoint, never a state silently read without that channel."""
    manager = manager_factory()
    app = _window_graph(ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "lost"}}
    app.invoke({"status": "open"}, cfg)
    head = manager.query_records(RecordQuery(thread_id="lost", checkpoint_ns="", limit=1))[0]
    manager._delete_blobs("lost", [("", "status", head.channel_versions["status"])])
    manager._blob_cache.clear()
    from langgraph_ckpt_config.errors import IntegrityError

    try:
        values = ConfigCheckpointSaver(manager).get_tuple(cfg).checkpoint["channel_values"]
    except IntegrityError as exc:
        assert "'status'@" in str(exc) and head.checkpoint_id in str(exc)
    else:  # a backend keeping a self-contained copy of the newest checkpoint (S3's head object)
        assert values["status"] == "open"
    assert manager.verify_checkpoint(head.checkpoint_id, thread_id="lost") is False


def test_switch_off_and_data_written_either_way_stays_readable(manager_factory):
    on = manager_factory(list_storage=True)
    off = manager_factory(list_storage=False)
    shared = on.get_checkpoint_metadata is not None  # same storage per test (see conftest)
    assert shared
    cfg = {"configurable": {"thread_id": "mixed"}}
    _graph(ConfigCheckpointSaver(on)).invoke({"items": [1, 2, 3]}, cfg)
    graph_off = _graph(ConfigCheckpointSaver(off))
    if on is not off and not off.list_thread_ids():  # the memory backend keeps storage per instance
        graph_off = _graph(ConfigCheckpointSaver(on))
        on.params.list_storage = False
    graph_off.invoke({"items": [1, 2, 3, 4]}, cfg)
    history = [s.values["items"] for s in graph_off.get_state_history(cfg) if "items" in s.values]
    assert history[0] == [1, 2, 3, 4] and [1, 2, 3] in history


@pytest.mark.parametrize("scenario", ["chat", "interrupt", "time_travel", "subgraph", "async", "typed_state"])
def test_graphs_match_with_list_storage_off(manager_factory, scenario):
    ours = run_scenario(scenario, ConfigCheckpointSaver(manager_factory(list_storage=False)))
    assert ours == run_scenario(scenario, InMemorySaver())


@pytest.mark.parametrize("scenario", ["chat", "interrupt", "time_travel", "subgraph", "async", "typed_state"])
def test_graphs_match_with_object_reuse_on(manager_factory, scenario):
    ours = run_scenario(scenario, ConfigCheckpointSaver(manager_factory(list_storage_reuse_objects=True)))
    assert ours == run_scenario(scenario, InMemorySaver())


@pytest.mark.parametrize("reuse", [False, True])
def test_object_reuse_skips_serializing_stored_elements(manager_factory, reuse):
    """Off (default): an element is serialized again unless its fingerprint (its complete
    state, test_element_memo.py) is unchanged since this process serialized it, so an
    in-place edit of an old message is stored too. On: an element object already stored is
    not serialized again (objects the saver read back count as stored, no fingerprint), so
    a turn's CPU no longer grows with the list."""
    from langgraph_ckpt_config.testing.graphs import chat_graph

    saver = ConfigCheckpointSaver(manager_factory(list_storage_reuse_objects=reuse))
    graph = chat_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "turns"}}
    for i in range(10):
        graph.invoke({"messages": [HumanMessage(f"m{i}", id=f"h{i}")]}, cfg)
    serde = saver.serde
    serialized: list[Any] = []
    original = serde.dumps_typed

    def counting(obj):
        serialized.append(obj)
        return original(obj)

    serde.dumps_typed = counting
    try:
        graph.invoke({"messages": [HumanMessage("last", id="h-last")]}, cfg)
    finally:
        del serde.dumps_typed
    messages = [obj for obj in serialized if isinstance(obj, HumanMessage)]
    if reuse:
        assert {m.content for m in messages} == {"last"}
    else:
        assert "last" in {m.content for m in messages} and len(messages) <= 11
    saver.manager._element_cache.clear()  # a cold reader: everything from storage
    reader = chat_graph().compile(checkpointer=ConfigCheckpointSaver(saver.manager))
    contents = [m.content for m in reader.get_state(cfg).values["messages"]]
    assert len(contents) == 22 and contents[20] == "last"
    assert contents[:20:2] == [f"m{i}" for i in range(10)]


def test_export_import_copy_keep_elements(manager_factory, tmp_path):
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    chat = _graph(saver)
    cfg = {"configurable": {"thread_id": "src"}}
    for n in range(1, 4):
        chat.invoke({"items": list(range(n))}, cfg)
    saver.copy_thread("src", "dst")
    assert chat.get_state({"configurable": {"thread_id": "dst"}}).values["items"] == [0, 1, 2]
    assert _element_keys(manager, "dst") == _referenced(manager, "dst")
    path = tmp_path / "src.json"
    manager.export_threads(["src"], str(path))
    manager.delete_thread("src")
    assert _element_keys(manager, "src") == set()
    manager.import_checkpoint(str(path))
    assert chat.get_state(cfg).values["items"] == [0, 1, 2]
    assert _element_keys(manager, "src") == _referenced(manager, "src")



def test_more_elements_than_cache_entries(manager_factory):
    """Cache placeholders evicted before they are opened are re-read, never reported corrupt."""
    manager = manager_factory(cache_size=3)
    chat = _graph(ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "big-list"}}
    chat.invoke({"items": [f"element {i}" for i in range(40)]}, cfg)
    chat.invoke({"items": [f"element {i}" for i in range(45)]}, cfg)
    assert chat.get_state(cfg).values["items"] == [f"element {i}" for i in range(45)]
    assert [len(s.values.get("items", [])) for s in chat.get_state_history(cfg)][:2] == [45, 45]


@pytest.mark.parametrize("max_bytes", ["1KiB", "64MiB"])
def test_element_cache_bounded_by_bytes(manager_factory, max_bytes):
    """A list larger than the cache's byte budget reads back whole; a large budget keeps it all."""
    manager = manager_factory(cache_max_bytes=max_bytes)
    chat = _graph(ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "bytes-bound"}}
    items = [f"{i:04d}" + "e" * 200 for i in range(60)]
    chat.invoke({"items": items}, cfg)
    assert chat.get_state(cfg).values["items"] == items
    held = manager._element_cache._bytes
    assert held <= manager._element_cache.max_bytes
    if max_bytes == "64MiB":
        assert len(manager._element_cache._data) >= 60  # every element stays cached
    else:
        assert len(manager._element_cache._data) < 60


@pytest.mark.parametrize("backend", ["redis"])
@pytest.mark.parametrize("reuse", [False, True])
def test_a_thread_resumed_after_its_ttl_expired_rewrites_its_elements(manager_factory, backend, reuse):
    """The process remembers which elements it stored; after the whole thread expired, the
    same message sent again must be stored again (never a manifest naming a vanished element)."""
    import time

    from langgraph_ckpt_config.testing.graphs import chat_graph

    manager = manager_factory(ttl=1, list_storage_reuse_objects=reuse)
    graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "expiring"}}
    hello = HumanMessage("hello", id="same-id")
    graph.invoke({"messages": [hello]}, cfg)
    deadline = time.monotonic() + 10
    while manager.list_thread_ids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert manager.list_thread_ids() == []  # expired as a whole
    graph.invoke({"messages": [HumanMessage("hello", id="same-id")]}, cfg)
    manager._element_cache.clear()
    cold = chat_graph().compile(checkpointer=ConfigCheckpointSaver(manager))
    assert [m.content for m in cold.get_state(cfg).values["messages"]][0] == "hello"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_failed_write_leaves_nothing_in_the_cache(manager_factory, backend, monkeypatch):
    """Sealing caches a value for the next read; if the write then fails, that value must go."""
    from langgraph_ckpt_config.errors import BackendUnavailableError

    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    graph = _graph(saver)
    cfg = {"configurable": {"thread_id": "flaky"}}

    def refuse(record, blobs, must_exist=()):
        raise BackendUnavailableError("storage went away")

    monkeypatch.setattr(manager, "_write_checkpoint_checked", refuse)
    with pytest.raises(BackendUnavailableError):
        graph.invoke({"items": ["kept?"], "log": ["x"]}, cfg)
    assert not [key for key in manager._blob_cache._data if key[0] == "flaky"]
    monkeypatch.undo()
    graph.invoke({"items": ["kept"]}, cfg)
    assert graph.get_state(cfg).values["items"] == ["kept"]


def test_in_place_edits_of_stored_elements_are_stored(manager_factory):
    """The default path skips serializing an element only while its fingerprint is unchanged:
    an element edited in place after it was stored is stored again, exactly as InMemorySaver
    would store it (types included)."""
    saver = ConfigCheckpointSaver(manager_factory())
    message = HumanMessage("original", id="m1")
    record = {"n": 1, "tags": ["a"]}
    items: list[Any] = [message, record, [1, 2]]
    serialized: list[Any] = []
    original = saver.serde.dumps_typed

    def counting(obj):
        serialized.append(obj)
        return original(obj)

    saver.serde.dumps_typed = counting
    try:
        config = _put_items(saver, "edits", None, items, 1)
        assert any(obj is message for obj in serialized)
        first = len(serialized)
        config = _put_items(saver, "edits", config, [*items, "new"], 2)
        assert not any(obj is message or obj is record for obj in serialized[first:])  # unchanged: skipped
        message.content = "edited in place"
        record["n"] = 1.0
        record["tags"].append("b")
        items[2].append(3)
        _put_items(saver, "edits", config, [*items, "new"], 3)
    finally:
        del saver.serde.dumps_typed
    saver.manager._element_cache.clear()
    stored = saver.get_tuple({"configurable": {"thread_id": "edits", "checkpoint_ns": ""}}).checkpoint["channel_values"]["items"]
    assert stored[0].content == "edited in place"
    assert stored[1] == {"n": 1.0, "tags": ["a", "b"]} and type(stored[1]["n"]) is float
    assert stored[2] == [1, 2, 3] and stored[3] == "new"


RUN = {"__pregel_runtime": object()}  # what LangGraph adds to configurable inside a graph run


def test_a_run_does_not_serialize_the_elements_it_loaded_again(manager_factory):
    """LangGraph rebuilds a thread's state from ``get_tuple`` at every invoke, so every element
    is a new object: the run's next put names the stored elements without serializing them
    again -- unless one was edited in place after it was loaded."""
    saver = ConfigCheckpointSaver(manager_factory())
    items: list[Any] = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(12)] + [{"n": 1}]
    config = _put_items(saver, "loaded", None, items, 1)
    serialized: list[Any] = []
    original = saver.serde.dumps_typed

    def counting(obj):
        serialized.append(obj)
        return original(obj)

    latest = {"configurable": {"thread_id": "loaded", "checkpoint_ns": "", **RUN}}
    saver.serde.dumps_typed = counting
    try:
        loaded = saver.get_tuple(latest).checkpoint["channel_values"]["items"]
        assert loaded == items and all(a is not b for a, b in zip(loaded, items))
        config = _put_items(saver, "loaded", config, [*loaded, "new"], 2)
        assert not any(any(obj is element for element in loaded) for obj in serialized)
        loaded = saver.get_tuple(latest).checkpoint["channel_values"]["items"]
        loaded[0].content = "edited after loading"
        loaded[-2]["n"] = 1.0
        _put_items(saver, "loaded", config, [*loaded, "newer"], 3)
        assert any(obj is loaded[0] for obj in serialized) and any(obj is loaded[-2] for obj in serialized)
    finally:
        del saver.serde.dumps_typed
    saver.manager._element_cache.clear()
    cold = ConfigCheckpointSaver(saver.manager).get_tuple({"configurable": {"thread_id": "loaded", "checkpoint_ns": ""}})
    stored = cold.checkpoint["channel_values"]["items"]
    assert stored[0].content == "edited after loading" and [m.content for m in stored[1:12]] == [f"m{i}" for i in range(1, 12)]
    assert stored[12] == {"n": 1.0} and type(stored[12]["n"]) is float
    assert stored[13:] == ["new", "newer"]


def test_reads_hand_out_independent_copies(manager_factory):
    """Elements decoded once are revived for later reads (element_memo.DecodedElements): every
    read still gets its own objects, equal to what the serde decodes, whatever the caller
    did to the objects of an earlier read."""
    from langchain_core.messages import AIMessage

    saver = ConfigCheckpointSaver(manager_factory())
    items: list[Any] = [HumanMessage("q", id="q"), AIMessage("a", id="a", additional_kwargs={"tags": ["x"]}), {"n": [1, 2]}]
    _put_items(saver, "copies", None, items, 1)
    latest = {"configurable": {"thread_id": "copies", "checkpoint_ns": ""}}
    first = saver.get_tuple(latest).checkpoint["channel_values"]["items"]
    first[0].content = "changed"
    first[1].additional_kwargs["tags"].append("y")
    first[2]["n"].append(3)
    second = saver.get_tuple({**latest, "configurable": {**latest["configurable"], **RUN}}).checkpoint["channel_values"]["items"]
    third = list(saver.list(latest))[0].checkpoint["channel_values"]["items"]
    for read in (second, third):
        assert read == items and all(x is not y for x, y in zip(read, first))
    assert second[1].additional_kwargs["tags"] is not third[1].additional_kwargs["tags"]


class WindowState(TypedDict, total=False):
    window: list
    status: str


def _slide(state: WindowState) -> dict[str, Any]:
    return {"window": (state.get("window") or [])[-1:] + [state["status"]]}


def _window_graph(saver):
    return _one_node_graph(WindowState, _slide, saver)


@pytest.mark.parametrize("backend", ["sqlite", "redis", "redis-cluster", "plugin-dir"])
def test_a_writer_stores_again_what_another_process_deleted_or_pruned(manager_factory, backend):
    """A process remembers which elements of a thread it stored and names them instead of
    storing them again. When another process (here: another manager on the same store) deleted
    or pruned the thread meanwhile, the write notices inside its transaction/script and the
    adapter stores the elements again: a fresh reader always finds a whole thread."""
    # distinct overrides: distinct manager instances (processes), one store
    worker, admin = manager_factory(default_workflow_id="worker"), manager_factory(default_workflow_id="admin")
    assert worker is not admin
    cfg = {"configurable": {"thread_id": "shared"}}

    # deleted while the worker was idle, then the same conversation starts again
    chat = _graph(ConfigCheckpointSaver(worker))
    chat.invoke({"items": ["hello", "world"], "log": ["a"]}, cfg)
    ConfigCheckpointSaver(admin).delete_thread("shared")
    chat.invoke({"items": ["hello", "world"], "log": ["a"]}, cfg)
    fresh = _graph(ConfigCheckpointSaver(manager_factory(default_workflow_id="reader-1")))
    assert fresh.get_state(cfg).values == {"items": ["hello", "world"], "log": ["a", "x"]}

    # pruned: a value that left the list comes back after the element was collected
    window = {"configurable": {"thread_id": "window"}}
    app = _window_graph(ConfigCheckpointSaver(worker))
    for status in ("open", "pending", "closed"):
        app.invoke({"status": status}, window)
    ConfigCheckpointSaver(admin).prune(["window"])
    app.invoke({"status": "open"}, window)
    reader = _window_graph(ConfigCheckpointSaver(manager_factory(default_workflow_id="reader-2")))
    assert reader.get_state(window).values == {"window": ["closed", "open"], "status": "open"}


class TopicState(TypedDict, total=False):
    topic: str
    notes: Annotated[list, operator.add]


@pytest.mark.parametrize("operation", ["delete_thread", "delete_for_runs"])
@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis", "redis-cluster", "plugin-dir"])
def test_a_run_whose_thread_is_deleted_meanwhile_still_writes_whole_checkpoints(manager_factory, backend, operation):
    """Another process deletes the thread (or the run's checkpoints) while a run is in a node.
    The run's next checkpoint names the values of its unchanged channels (``topic``), stored
    by checkpoints that are gone now: the write notices and stores them again, so the thread
    the run leaves behind reads whole (never "the stored value of 'topic' is missing")."""
    worker = manager_factory()
    admin = worker if backend == "memory" else manager_factory(default_workflow_id="admin")
    cfg = {"configurable": {"thread_id": "T"}, "metadata": {"run_id": "run-1"}}  # run_id: in every checkpoint's metadata

    def slow(state: TopicState) -> dict[str, Any]:
        if operation == "delete_thread":
            ConfigCheckpointSaver(admin).delete_thread("T")
        else:
            ConfigCheckpointSaver(admin).delete_for_runs(["run-1"])
        return {"notes": ["a"]}

    builder = StateGraph(TopicState)
    builder.add_node("slow", slow)
    builder.add_node("fast", lambda state: {"notes": ["b"]})
    builder.add_edge(START, "slow")
    builder.add_edge("slow", "fast")
    builder.add_edge("fast", END)
    app = builder.compile(checkpointer=ConfigCheckpointSaver(worker))
    # durability "sync": the checkpoints before the node are stored when it deletes them
    assert app.invoke({"topic": "billing", "notes": []}, cfg, durability="sync") == {"topic": "billing", "notes": ["a", "b"]}
    reader = worker if backend == "memory" else manager_factory(default_workflow_id="reader")
    fresh = builder.compile(checkpointer=ConfigCheckpointSaver(reader))
    assert fresh.get_state(cfg).values == {"topic": "billing", "notes": ["a", "b"]}
    assert [snapshot.values for snapshot in fresh.get_state_history(cfg)] == [
        {"topic": "billing", "notes": ["a", "b"]},
        {"topic": "billing", "notes": ["a"]},
    ]
    for rec in reader.query_records(RecordQuery(thread_id="T", include_payload=False)):
        assert reader.verify_report(rec.checkpoint_id, thread_id="T")["problems"] == []


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis", "redis-cluster", "s3", "plugin-dir"])
def test_a_checkpoint_written_during_a_collection_keeps_the_elements_it_names(manager_factory, backend):
    """Pruning collects the list elements no remaining checkpoint names. A checkpoint written
    while the collection runs may name some of them again (here the window slides back to a
    value only pruned checkpoints held, which the writer names without storing it again), and
    the collection must not delete them. The write is started at the collection's worst moment:
    after it read the records, before it deletes the orphans."""
    manager = manager_factory()
    app = _window_graph(ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "race"}}
    for status in ("open", "pending", "closed"):
        app.invoke({"status": status}, cfg)
    writer = threading.Thread(target=app.invoke, args=({"status": "open"}, cfg))
    hook = "_plan_referenced_elements" if backend.startswith("redis") else "_referenced_elements"
    original = getattr(manager, hook)

    def records_read_then_a_write(*args: Any) -> Any:
        if writer.ident is None:
            writer.start()
            writer.join(timeout=1)  # where the collection is guarded, the write waits for it
        return original(*args)

    setattr(manager, hook, records_read_then_a_write)
    try:
        ConfigCheckpointSaver(manager).prune(["race"])
    finally:
        delattr(manager, hook)
    writer.join()
    assert writer.ident is not None  # the collection did run with elements to consider
    for rec in manager.query_records(RecordQuery(thread_id="race", include_payload=False)):
        assert manager.verify_report(rec.checkpoint_id, thread_id="race")["problems"] == []
    reader = manager if backend == "memory" else manager_factory(default_workflow_id="reader")
    assert _window_graph(ConfigCheckpointSaver(reader)).get_state(cfg).values == {"window": ["closed", "open"], "status": "open"}


@pytest.mark.parametrize("backend", SMALL)
def test_list_elements_come_back_as_in_memory_saver_returns_them(manager_factory, backend):
    """Element by element, but with the types a whole-list serialization gives (a bytearray
    inside a list is bytes there)."""
    items = [bytearray(b"ab"), b"cd", None, (1, 2), {"k": bytearray(b"x")}, "s", 3.0]

    def stored(saver):
        _put_items(saver, "types", None, items, 1)
        return saver.get_tuple({"configurable": {"thread_id": "types", "checkpoint_ns": ""}}).checkpoint["channel_values"]["items"]

    ours, reference = stored(ConfigCheckpointSaver(manager_factory())), stored(InMemorySaver())
    assert ours == reference and [type(v) for v in ours] == [type(v) for v in reference]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_the_async_path_also_stores_again_what_another_process_deleted(manager_factory, backend):
    import asyncio

    worker, admin = manager_factory(default_workflow_id="worker"), manager_factory(default_workflow_id="admin")
    cfg = {"configurable": {"thread_id": "async-shared"}}
    chat = _graph(ConfigCheckpointSaver(worker))

    async def run() -> None:
        await chat.ainvoke({"items": ["hello", "world"], "log": ["a"]}, cfg)
        await ConfigCheckpointSaver(admin).adelete_thread("async-shared")
        await chat.ainvoke({"items": ["hello", "world"], "log": ["a"]}, cfg)

    asyncio.run(run())
    fresh = _graph(ConfigCheckpointSaver(manager_factory(default_workflow_id="reader")))
    assert fresh.get_state(cfg).values == {"items": ["hello", "world"], "log": ["a", "x"]}


class EditedState(TypedDict, total=False):
    records: Annotated[list[dict], operator.add]


def _edit_first_record(state: EditedState) -> dict[str, Any]:
    if state.get("records"):
        state["records"][0]["visits"] += 1  # in place, on the object the run loaded
    return {"records": [{"visits": 0}]}


@pytest.mark.parametrize("backend", SMALL)
def test_a_node_editing_loaded_state_in_place_is_stored_like_in_memory_saver(manager_factory, backend):
    """A node that edits an element of the state it was given (not a pattern LangGraph
    recommends, but one real graphs have) is stored as InMemorySaver stores it. Durability
    "sync": with "async" the put of the step before runs in the background, racing the
    node's edit, on every saver alike."""

    def run(saver) -> list:
        graph = _one_node_graph(EditedState, _edit_first_record, saver)
        cfg = {"configurable": {"thread_id": "edited"}}
        for _ in range(4):
            graph.invoke({"records": []}, cfg, durability="sync")
        return [s.values.get("records") for s in graph.get_state_history(cfg)]

    manager = manager_factory()
    ours = run(ConfigCheckpointSaver(manager))
    manager._element_cache.clear()
    assert ours == run(InMemorySaver())
    assert ours[0][0] == {"visits": 3}


def _put_items(saver, thread_id: str, parent: dict | None, items: list, step: int) -> dict:
    from langgraph.checkpoint.base import empty_checkpoint

    checkpoint = empty_checkpoint()
    version = saver.get_next_version(None if step == 1 else f"{step - 1:032}.0", None)
    checkpoint["channel_values"] = {"items": items}
    checkpoint["channel_versions"] = {"items": version}
    config = parent or {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    return saver.put(config, checkpoint, {"source": "loop", "step": step, "parents": {}}, {"items": version})


# ---------------------------------------------------------------- element addresses under encryption
_K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
_K2 = "k2:" + base64.b64encode(bytes(range(32, 64))).decode()


def _unkeyed_addresses(values: list) -> set[str]:
    """What an attacker without the key computes from guessed elements (public serde)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    serde = JsonPlusSerializer()
    return {element_digest(*serde.dumps_typed(v)) for v in values}


def _sqlite_file_bytes(manager) -> bytes:
    path = getattr(manager.params, "database_path", None)
    if not path:
        return b""
    return b"".join(p.read_bytes() for p in Path(path).parent.glob(Path(path).name + "*"))


def test_encrypted_stores_address_elements_by_a_keyed_per_thread_hash(manager_factory, backend):
    """Under client encryption an element's store key confirms no guess and does not show
    equal elements across threads; rotation and switching encryption off keep every address
    readable; unencrypted stores keep today's unkeyed digests (issue: digest leak)."""
    items = [f"decided {i}" for i in range(20)]  # > FANOUT: the list tree has nodes
    guesses = _unkeyed_addresses(items)
    enc = manager_factory(client_encryption={"enabled": True, "keys": _K1})
    for thread in ("a", "b"):
        _graph(ConfigCheckpointSaver(enc)).invoke({"items": items}, {"configurable": {"thread_id": thread}})
    in_a, in_b = {h for _, h in _element_keys(enc, "a")}, {h for _, h in _element_keys(enc, "b")}
    assert len(in_a) == len(in_b) > len(items)  # elements and nodes
    assert not in_a & guesses and not in_a & in_b  # no guess confirmed, no equality across threads
    raw = _sqlite_file_bytes(enc)
    assert not any(g.encode() in raw for g in guesses)
    if backend == "memory":
        return  # storage is per manager instance: nothing to rotate over
    # rotation: k2 first -> new elements get new addresses, the old ones stay readable
    rotated = manager_factory(client_encryption={"enabled": True, "keys": f"{_K2},{_K1}"})
    graph = _graph(ConfigCheckpointSaver(rotated))
    cfg = {"configurable": {"thread_id": "a"}}
    graph.invoke({"items": items + ["after rotation"]}, cfg)
    assert graph.get_state(cfg).values["items"] == items + ["after rotation"]
    new = {h for _, h in _element_keys(rotated, "a")} - in_a
    assert new and not new & _unkeyed_addresses(["after rotation"])
    # encryption off, keys kept for reading: everything readable, new elements unkeyed again
    off = manager_factory(client_encryption={"enabled": False, "keys": f"{_K2},{_K1}"})
    graph = _graph(ConfigCheckpointSaver(off))
    graph.invoke({"items": items + ["after rotation", "plain again"]}, cfg)
    assert graph.get_state(cfg).values["items"] == items + ["after rotation", "plain again"]
    assert _unkeyed_addresses(["plain again"]) <= {h for _, h in _element_keys(off, "a")}
    head = off.query_records(RecordQuery(thread_id="a", limit=1))[0].checkpoint_id
    assert off.verify_checkpoint(head, thread_id="a")


def test_unkeyed_elements_written_before_encryption_stay_readable_and_new_ones_are_keyed(manager_factory, backend):
    items = [f"m{i}" for i in range(10)]
    plain = manager_factory()
    cfg = {"configurable": {"thread_id": "t"}}
    _graph(ConfigCheckpointSaver(plain)).invoke({"items": items}, cfg)
    assert _unkeyed_addresses(items) <= {h for _, h in _element_keys(plain, "t")}
    if backend == "memory":
        return  # storage is per manager instance: no store to switch encryption on for
    enc = manager_factory(client_encryption={"enabled": True, "keys": _K1, "require": False})
    saver = ConfigCheckpointSaver(enc)
    graph = _graph(saver)
    assert graph.get_state(cfg).values["items"] == items
    graph.invoke({"items": items + ["secret"]}, cfg)
    assert graph.get_state(cfg).values["items"] == items + ["secret"]
    assert not _unkeyed_addresses(["secret"]) & {h for _, h in _element_keys(enc, "t")}


def test_element_memos_are_kept_per_addressing_scheme(manager_factory):
    """One saver (one serde) used with an unencrypted and then an encrypted manager: a digest
    the memo learnt under one scheme is never an address under the other."""
    from langchain_core.messages import AIMessage

    items = [AIMessage(f"reply {i}", id=f"r{i}") for i in range(12)]
    plain = manager_factory()
    saver = ConfigCheckpointSaver(plain)
    graph = _graph(saver)
    graph.invoke({"items": items}, {"configurable": {"thread_id": "p"}})
    unkeyed = {h for _, h in _element_keys(plain, "p")}
    saver.manager = manager_factory(client_encryption={"enabled": True, "keys": _K1, "require": False})
    graph.invoke({"items": items}, {"configurable": {"thread_id": "e"}})
    keyed = {h for _, h in _element_keys(saver.manager, "e")}
    assert len(keyed) == len(unkeyed) and not keyed & unkeyed
    assert graph.get_state({"configurable": {"thread_id": "e"}}).values["items"] == items
    assert len(saver._fingerprints[saver.serde]) == 2 if saver.serde in saver._fingerprints else True


def test_import_into_an_encrypted_store_readdresses_the_files_elements(manager_factory):
    """`lgckpt import`/`migrate` from an unencrypted store: the file's unkeyed addresses are not
    written into the encrypted store; the thread reads back and goes on as before."""
    from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager

    items = [f"secret {i}" for i in range(19)]
    source = MemoryCheckpointManager({"cleanup_interval": 0})
    source.initialize()
    cfg = {"configurable": {"thread_id": "m"}}
    plain_graph = _graph(ConfigCheckpointSaver(source))
    plain_graph.invoke({"items": items[:9]}, cfg)
    plain_graph.invoke({"items": items}, cfg)
    unkeyed = {h for _, h in _element_keys(source, "m")}
    enc = manager_factory(client_encryption={"enabled": True, "keys": _K1})
    enc.import_document(source.export_threads(["m"]))
    stored = {h for _, h in _element_keys(enc, "m")}
    assert stored and not stored & unkeyed and not stored & _unkeyed_addresses(items)
    assert not any(h.encode() in _sqlite_file_bytes(enc) for h in unkeyed)
    graph = _graph(ConfigCheckpointSaver(enc))
    history = [s.values.get("items") for s in graph.get_state_history(cfg)]
    assert history == [s.values.get("items") for s in plain_graph.get_state_history(cfg)] and items in history
    for rec in enc.query_records(RecordQuery(thread_id="m", include_payload=False)):
        assert enc.verify_checkpoint(rec.checkpoint_id, thread_id="m")
    graph.invoke({"items": items + ["more"]}, cfg)  # the nodes of the imported tree are reused
    assert graph.get_state(cfg).values["items"] == items + ["more"]
    assert _element_keys(enc, "m") == _referenced(enc, "m")
