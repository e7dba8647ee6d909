"""Importing an export file: the whole file is checked first, so a bad file imports nothing."""

from __future__ import annotations

import copy

import pytest
from langchain_core.messages import HumanMessage

from langgraph_ckpt_config.errors import CheckpointExistsError, IntegrityError, InvalidInputError
from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import approval_graph, chat_graph

SMALL = ["memory", "sqlite"]


@pytest.fixture
def exported(manager_factory):
    """(export document of two threads, an empty target manager)."""
    source = manager_factory()
    saver = ConfigCheckpointSaver(source)
    chat = chat_graph().compile(checkpointer=saver)
    for i in range(4):
        chat.invoke({"messages": [HumanMessage(f"hello {i}", id=f"h{i}")]}, {"configurable": {"thread_id": "chat"}})
    approval_graph().compile(checkpointer=saver).invoke({"request": "refund"}, {"configurable": {"thread_id": "ask"}})
    doc = source.export_threads(["chat", "ask"])
    from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager

    target = MemoryCheckpointManager({"cleanup_interval": 0})
    target.initialize()
    yield doc, target
    target.close()


def _nothing_imported(target) -> None:
    assert target.list_thread_ids() == []


@pytest.mark.parametrize("backend", SMALL)
def test_a_damaged_record_in_the_middle_imports_nothing(exported, backend):
    doc, target = exported
    bad = copy.deepcopy(doc)
    bad["records"][len(bad["records"]) // 2]["sha256"] = "0" * 64
    with pytest.raises(IntegrityError, match="does not match its sha256"):
        target.import_document(bad)
    _nothing_imported(target)
    assert len(target.import_document(doc)) == len(doc["records"])  # the good file still imports


@pytest.mark.parametrize("backend", SMALL)
def test_a_file_missing_a_blob_or_an_element_imports_nothing(exported, backend):
    doc, target = exported
    no_value = copy.deepcopy(doc)
    no_value["blobs"] = [b for b in no_value["blobs"] if not (b["thread_id"] == "chat" and b["channel"] == "messages")]
    with pytest.raises(IntegrityError, match="channel 'messages'.*not in the file"):
        target.import_document(no_value)
    no_element = copy.deepcopy(doc)
    first = next(i for i, b in enumerate(no_element["blobs"]) if b["channel"] == ELEMENT_CHANNEL)
    del no_element["blobs"][first]
    with pytest.raises(IntegrityError, match="list element .* not in the file"):
        target.import_document(no_element)
    _nothing_imported(target)


@pytest.mark.parametrize("backend", SMALL)
def test_malformed_entries_are_named(exported, backend):
    doc, target = exported
    no_data = copy.deepcopy(doc)
    del no_data["records"][2]["data"]
    with pytest.raises(InvalidInputError, match=r"records\[2\]\) has no 'data'"):
        target.import_document(no_data)
    not_base64 = copy.deepcopy(doc)
    not_base64["writes"][0]["data"] = "%%% not base64 %%%"
    with pytest.raises(InvalidInputError, match=r"writes\[0\]: 'data' is not valid base64"):
        target.import_document(not_base64)
    _nothing_imported(target)


@pytest.mark.parametrize("backend", SMALL)
def test_a_new_thread_id_needs_a_file_of_one_thread(exported, backend):
    doc, target = exported
    with pytest.raises(InvalidInputError, match="holds 2 threads.*would merge"):
        target.import_document(doc, thread_id="merged")
    _nothing_imported(target)
    one = target.import_document(
        {**doc, "records": [r for r in doc["records"] if r["thread_id"] == "ask"]}, thread_id="renamed"
    )
    assert {tid for tid, _, _ in one} == {"renamed"}
    resumed = approval_graph().compile(checkpointer=ConfigCheckpointSaver(target))
    from langgraph.types import Command

    out = resumed.invoke(Command(resume="yes"), {"configurable": {"thread_id": "renamed"}})
    assert out["decision"] == "yes"


@pytest.mark.parametrize("backend", SMALL)
def test_a_conflict_imports_nothing_and_says_how_to_proceed(exported, backend):
    doc, target = exported
    target.import_document({**doc, "records": [r for r in doc["records"] if r["thread_id"] == "ask"]})
    before = {tid: len(target.list_checkpoints(thread_id=tid)) for tid in target.list_thread_ids()}
    with pytest.raises(CheckpointExistsError, match=r"nothing was imported.*--overwrite.*--thread"):
        target.import_document(doc)
    assert {tid: len(target.list_checkpoints(thread_id=tid)) for tid in target.list_thread_ids()} == before
    assert len(target.import_document(doc, overwrite=True)) == len(doc["records"])


@pytest.mark.parametrize("backend", ["memory"])
def test_an_imported_thread_counts_each_stored_value_once_like_the_original(manager_factory, backend):
    source = manager_factory()
    chat = chat_graph().compile(checkpointer=ConfigCheckpointSaver(source))
    for i in range(6):
        chat.invoke({"messages": [HumanMessage(f"hello {i}", id=f"h{i}")]}, {"configurable": {"thread_id": "chat"}})
    target = manager_factory()
    target.import_document(source.export_threads(["chat"]), thread_id="copy")

    def total(manager, tid):
        return sum(m.size for m in manager.list_checkpoints(thread_id=tid))

    assert total(target, "copy") == total(source, "chat")
