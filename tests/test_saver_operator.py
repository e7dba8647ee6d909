"""The operator's view of LangGraph threads: the manager API works on what graphs write."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from langgraph_ckpt_config.managers.interfaces import CheckpointStatus, RecordKind
from langgraph_ckpt_config.managers.records import RecordQuery
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import approval_graph, chat_graph, delta_graph


def _cfg(thread: str, **extra):
    return {"configurable": {"thread_id": thread, **extra}}


def _chat(saver, thread: str, turns: int, **extra):
    graph = chat_graph().compile(checkpointer=saver)
    for i in range(turns):
        graph.invoke({"messages": [HumanMessage(f"{thread}-{i}", id=f"{thread}-{i}")]}, _cfg(thread, **extra))
    return graph


def test_langgraph_thread_visible_to_manager_api(manager_factory, tmp_path):
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    graph = _chat(saver, "op", 2, workflow_id="support-bot")
    metas = manager.list_checkpoints(thread_id="op")
    history = list(graph.get_state_history(_cfg("op")))
    assert len(metas) == len(history)
    assert {m.kind for m in metas} == {RecordKind.LANGGRAPH}
    assert {m.workflow_id for m in metas} == {"support-bot"}
    assert {m.checkpoint_id for m in metas} == {s.config["configurable"]["checkpoint_id"] for s in history}
    assert all(manager.verify_checkpoint(m.checkpoint_id, thread_id="op") for m in metas)
    head = history[0].config["configurable"]["checkpoint_id"]
    assert manager.archive_checkpoint(head, thread_id="op")
    assert manager.get_checkpoint_metadata(head, thread_id="op").status is CheckpointStatus.ARCHIVED
    assert graph.get_state(_cfg("op")).values["turns"] == 2  # archived stays usable
    assert manager.restore_checkpoint(head, thread_id="op")
    view = manager.load_checkpoint(head, thread_id="op")
    assert view["channel_values"]["turns"] == 2
    assert view["metadata"]["source"] == "loop"
    # LangGraph metadata is filterable in the store
    loops = list(saver.list(_cfg("op"), filter={"source": "loop"}))
    assert loops and all(t.metadata["source"] == "loop" for t in loops)
    stats = manager.get_statistics()
    assert stats["total_threads"] == 1 and stats["by_kind"] == {"langgraph": len(metas)}


def test_export_thread_then_resume_elsewhere(manager_factory, tmp_path):
    from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager

    source = ConfigCheckpointSaver(manager_factory())
    graph = approval_graph().compile(checkpointer=source)
    graph.invoke({"request": "move me"}, _cfg("mv"))  # paused on interrupt
    path = tmp_path / "mv.json"
    source.manager.export_threads(["mv"], str(path))

    with ConfigCheckpointSaver(MemoryCheckpointManager({"compression_enabled": True})) as target:
        target.manager.import_checkpoint(str(path))
        moved = approval_graph().compile(checkpointer=target)
        assert moved.get_state(_cfg("mv")).next == ("ask",)
        final = moved.invoke(Command(resume="moved"), _cfg("mv"))
        assert final["log"] == ["decided moved", "acted on move me (moved)"]


def test_retention_keeps_thread_resumable(manager_factory):
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    graph = _chat(saver, "ret", 5)
    before = graph.get_state(_cfg("ret")).values
    removed = manager.cleanup_checkpoints(max_count=2)
    assert removed > 0
    assert len(manager.list_checkpoints(thread_id="ret")) == 2
    assert graph.get_state(_cfg("ret")).values == before
    graph.invoke({"messages": [HumanMessage("after", id="after")]}, _cfg("ret"))
    assert graph.get_state(_cfg("ret")).values["turns"] == 6


def test_retention_keeps_pending_interrupt(manager_factory):
    manager = manager_factory()
    graph = approval_graph().compile(checkpointer=ConfigCheckpointSaver(manager))
    graph.invoke({"request": "keep me"}, _cfg("int"))
    manager.cleanup_checkpoints(max_count=1)
    final = graph.invoke(Command(resume="still works"), _cfg("int"))
    assert final["log"][-1] == "acted on keep me (still works)"


def test_prune_keep_last(manager_factory):
    saver = ConfigCheckpointSaver(manager_factory())
    graph = _chat(saver, "pr", 4)
    saver.prune(["pr"], keep_last=3)
    assert len(list(saver.list(_cfg("pr")))) == 3
    saver.prune(["pr"])
    assert len(list(saver.list(_cfg("pr")))) == 1
    assert graph.get_state(_cfg("pr")).values["turns"] == 4
    saver.prune(["pr"], strategy="delete")
    assert list(saver.list(_cfg("pr"))) == []


def test_prune_keeps_delta_channel_history(manager_factory):
    saver = ConfigCheckpointSaver(manager_factory())
    reference = InMemorySaver()
    ours = delta_graph().compile(checkpointer=saver)
    ref = delta_graph().compile(checkpointer=reference)
    for _ in range(7):
        ours.invoke({}, _cfg("delta"))
        ref.invoke({}, _cfg("delta"))
    expected = ref.get_state(_cfg("delta")).values
    assert ours.get_state(_cfg("delta")).values == expected
    saver.prune(["delta"])  # keep_latest, delta-aware
    assert ours.get_state(_cfg("delta")).values == expected
    ours.invoke({}, _cfg("delta"))
    ref.invoke({}, _cfg("delta"))
    assert ours.get_state(_cfg("delta")).values == ref.get_state(_cfg("delta")).values


def _delta_view(history) -> dict:
    """A delta history without task ids (random per run) so two savers compare equal."""
    return {
        ch: {"seed": repr(entry.get("seed", "<none>")), "writes": [(c, v) for _, c, v in entry["writes"]]}
        for ch, entry in history.items()
    }


async def test_delta_channel_history_matches_in_memory_saver(manager_factory):
    """Our one-walk override returns what InMemorySaver's does, at every checkpoint, sync and async."""
    saver = ConfigCheckpointSaver(manager_factory())
    reference = InMemorySaver()
    ours = delta_graph().compile(checkpointer=saver)
    ref = delta_graph().compile(checkpointer=reference)
    for _ in range(8):
        await ours.ainvoke({}, _cfg("dh"))
        await ref.ainvoke({}, _cfg("dh"))
    channels = ["items", "step", "no-such-channel"]
    ours_configs = [s.config for s in ours.get_state_history(_cfg("dh"))]
    ref_configs = [s.config for s in ref.get_state_history(_cfg("dh"))]
    assert len(ours_configs) == len(ref_configs)
    for mine, theirs in zip(ours_configs, ref_configs, strict=True):
        expected = _delta_view(reference.get_delta_channel_history(config=theirs, channels=channels))
        assert _delta_view(saver.get_delta_channel_history(config=mine, channels=channels)) == expected
        assert _delta_view(await saver.aget_delta_channel_history(config=mine, channels=channels)) == expected
    # the latest checkpoint when the config names none; nothing for an unknown thread
    latest = _delta_view(saver.get_delta_channel_history(config=_cfg("dh"), channels=channels))
    assert latest == _delta_view(reference.get_delta_channel_history(config=_cfg("dh"), channels=channels))
    assert saver.get_delta_channel_history(config=_cfg("nobody"), channels=["items"]) == {"items": {"writes": []}}
    assert saver.get_delta_channel_history(config=_cfg("dh"), channels=[]) == {}


def test_a_none_filter_matches_checkpoints_without_the_key_like_in_memory_saver(manager_factory):
    def matches(saver) -> list[int]:
        graph = _chat(saver, "nf", 2)
        listed = lambda flt: [s.metadata["step"] for s in graph.get_state_history(_cfg("nf"), filter=flt)]  # noqa: E731
        return [listed({"absent_key": None}), listed({"source": None}), listed({"source": "loop", "absent_key": None})]

    assert matches(ConfigCheckpointSaver(manager_factory())) == matches(InMemorySaver())


# ---------------------------------------------------------------- metadata under client encryption
_K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()


def _encrypted(**extra):
    return {"client_encryption": {"enabled": True, "keys": _K1, "filterable_metadata": ["source"], **extra}}


def _stored_bytes(manager) -> bytes:
    """Every byte the backend stored: the SQLite files, else the plaintext record columns as read
    back (for the other backends the record fields are the only plaintext a row carries)."""
    path = getattr(manager.params, "database_path", None)
    if path:
        return b"".join(p.read_bytes() for p in Path(path).parent.glob(Path(path).name + "*"))
    return json.dumps(
        [(r.metadata, r.tags) for r in manager.query_records(RecordQuery(include_payload=False))]
    ).encode()


def test_encryption_keeps_manager_api_metadata_sealed(manager_factory):
    manager = manager_factory(**_encrypted())
    manager.save_checkpoint("c1", {"doc": 1}, "wf", "t-api", metadata={"patient": "SECRET-PATIENT", "source": "intake"})
    graph = _chat(ConfigCheckpointSaver(manager), "t-lg", 1, **{})
    head = graph.get_state(_cfg("t-lg")).config["configurable"]["checkpoint_id"]
    assert manager.update_checkpoint_metadata(head, {"note": "SECRET-NOTE", "source": "reviewed"}, thread_id="t-lg")
    assert manager.update_checkpoint_metadata("c1", {"note": "SECRET-NOTE-2"}, thread_id="t-api")
    stored = _stored_bytes(manager)
    for secret in (b"SECRET-PATIENT", b"SECRET-NOTE"):
        assert secret not in stored
    # the plaintext column: filterable and structural keys only; the manager API shows it all
    assert manager.list_checkpoints(thread_id="t-api")[0].metadata == {"source": "intake"}
    assert manager.get_checkpoint_metadata("c1", thread_id="t-api").metadata == {
        "patient": "SECRET-PATIENT", "source": "intake", "note": "SECRET-NOTE-2"
    }
    assert manager.load_checkpoint("c1", thread_id="t-api") == {"doc": 1}
    full = manager.get_checkpoint_metadata(head, thread_id="t-lg").metadata
    assert full["note"] == "SECRET-NOTE" and full["source"] == "reviewed"
    assert graph.get_state(_cfg("t-lg")).metadata["note"] == "SECRET-NOTE"  # LangGraph sees the update
    assert manager.verify_checkpoint(head, thread_id="t-lg") and manager.verify_checkpoint("c1", thread_id="t-api")
    # filters on sealed keys are answered after opening the records
    assert [m.checkpoint_id for m in manager.list_checkpoints(metadata={"patient": "SECRET-PATIENT"})] == ["c1"]
    assert [m.checkpoint_id for m in manager.list_checkpoints(metadata={"note": "SECRET-NOTE"})] == [head]


def _plain_memory_manager():
    from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager

    manager = MemoryCheckpointManager({"cleanup_interval": 0})
    manager.initialize()
    return manager


def _write_secret_threads(manager, thread: str, data_thread: str) -> None:
    """A LangGraph thread and a data record whose metadata holds a secret (``ssn``), also set
    through ``update_checkpoint_metadata`` (plaintext column only, in an unencrypted store)."""
    _chat(ConfigCheckpointSaver(manager), thread, 1)
    manager.save_checkpoint("d1", b"raw", "wf", data_thread, metadata={"ssn": "SSN-123"})
    for cid in [m.checkpoint_id for m in manager.list_checkpoints(thread_id=thread)]:
        manager.update_checkpoint_metadata(cid, {"ssn": "SSN-123"}, thread_id=thread)


def _assert_sealed_but_readable(manager, threads) -> None:
    for thread in threads:
        metas = manager.list_checkpoints(thread_id=thread)
        assert metas
        for meta in metas:
            assert set(meta.metadata) <= {"source", "step", "run_id", "counters_since_delta_snapshot"}
            assert manager.get_checkpoint_metadata(meta.checkpoint_id, thread_id=thread).metadata["ssn"] == "SSN-123"


def test_import_and_copy_apply_the_targets_plaintext_rule(manager_factory, backend):
    source = _plain_memory_manager()
    _write_secret_threads(source, "T", "D")
    enc = manager_factory(**_encrypted())
    enc.import_document(source.export_threads(["T", "D"]))  # what `lgckpt import`/`migrate` do
    assert b"SSN-123" not in _stored_bytes(enc)
    _assert_sealed_but_readable(enc, ["T", "D"])
    assert enc.load_checkpoint("d1", thread_id="D") == b"raw"
    saver = ConfigCheckpointSaver(enc)
    assert [t.metadata["ssn"] for t in saver.list(_cfg("T"), filter={"ssn": "SSN-123"})]
    assert chat_graph().compile(checkpointer=saver).get_state(_cfg("T")).values["turns"] == 1
    # back into an unencrypted store: the whole metadata is plaintext (and filterable) again
    back = _plain_memory_manager()
    back.import_document(enc.export_threads(["T"]))
    assert all(m.metadata["ssn"] == "SSN-123" for m in back.list_checkpoints(thread_id="T"))
    if backend == "memory":
        return  # storage is per manager instance: no store to switch encryption on for
    # encryption switched on for a store holding plaintext records, then copy_thread
    _write_secret_threads(manager_factory(), "P", "PD")
    switched = manager_factory(**_encrypted(require=False))
    switched.copy_thread("P", "P-copy")
    switched.copy_thread("PD", "PD-copy")
    _assert_sealed_but_readable(switched, ["P-copy", "PD-copy"])


def test_metadata_filters_still_work_after_encryption_is_switched_off(manager_factory, backend):
    on = manager_factory(**_encrypted())
    graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(on))
    graph.invoke({"messages": [HumanMessage("hi", id="h")]}, {**_cfg("T"), "metadata": {"user": "alice"}})
    expected = len(list(ConfigCheckpointSaver(on).list(_cfg("T"), filter={"user": "alice"})))
    assert expected >= 2
    if backend == "memory":
        return  # storage is per manager instance: no store to switch encryption off for
    off = manager_factory(client_encryption={"enabled": False, "keys": _K1})  # old key kept for reading
    saver = ConfigCheckpointSaver(off)
    assert len(list(saver.list(_cfg("T"), filter={"user": "alice"}))) == expected
    assert len(list(saver.list(_cfg("T"), filter={"user": "alice"}, limit=1))) == 1
    assert len(off.list_checkpoints(thread_id="T", metadata={"user": "alice"})) == expected
    assert not list(saver.list(_cfg("T"), filter={"user": "bob"}))
    # without keys nothing was written encrypted: the fast in-store path
    assert manager_factory().can_filter_in_store(["user"]) and not off.can_filter_in_store(["user"])


def test_plaintext_channel_versions_pointing_elsewhere_are_an_integrity_error(manager_factory):
    """The record's plaintext channel_versions choose the blobs read; pointed at an older,
    existing version of a channel (outside the sealed payload), the read raises instead of
    returning a state without (or with another value of) that channel, and verify reports it."""
    from langgraph_ckpt_config.errors import IntegrityError

    manager = manager_factory()
    graph = _chat(ConfigCheckpointSaver(manager), "cv", 2)
    records = manager.query_records(RecordQuery(thread_id="cv"))
    head, older = records[0], next(r for r in records[1:] if r.channel_versions.get("turns") != records[0].channel_versions.get("turns"))
    tampered = dataclasses.replace(head, channel_versions={**head.channel_versions, "turns": older.channel_versions["turns"]})
    manager._write_checkpoint(tampered, [])
    manager._blob_cache.clear()
    manager._opened_cache.clear()
    fresh = chat_graph().compile(checkpointer=ConfigCheckpointSaver(manager))
    with pytest.raises(IntegrityError, match=r"checkpoint '.*' of thread 'cv'.*\['turns'\]"):
        fresh.get_state(_cfg("cv"))
    report = manager.verify_report(head.checkpoint_id, thread_id="cv")
    assert any("channel_versions" in p and "turns" in p for p in report["problems"])
    assert graph is not None


@pytest.mark.parametrize("operation", ["copy", "export"])
def test_a_chat_thread_pruned_while_copied_or_exported_reads_back_whole(manager_factory, operation):
    """List elements and nodes too: a prune between the listing and the reads leaves the pruned
    checkpoints out of the copy (export), and everything copied reads back and verifies."""
    from langgraph_ckpt_config.testing.contract import _before_first_value_read

    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    graph = _chat(saver, "src", 4)
    with _before_first_value_read(manager, lambda: manager.prune_thread("src", keep_last=1)) as fired:
        if operation == "copy":
            saver.copy_thread("src", "dst")
        else:
            manager.import_document(manager.export_threads(["src"]), thread_id="dst")
    assert fired
    copied = manager.query_records(RecordQuery(thread_id="dst", include_payload=False))
    left = manager.query_records(RecordQuery(thread_id="src", include_payload=False))
    assert sorted(r.checkpoint_id for r in copied) == sorted(r.checkpoint_id for r in left)
    for rec in copied:
        assert manager.verify_report(rec.checkpoint_id, thread_id="dst", checkpoint_ns=rec.checkpoint_ns)["problems"] == []
    assert graph.get_state(_cfg("dst")).values["messages"] == graph.get_state(_cfg("src")).values["messages"]


@pytest.mark.parametrize("operation", ["copy", "export"])
def test_a_list_element_missing_from_a_stored_checkpoint_stops_copy_and_export(manager_factory, operation):
    from langgraph_ckpt_config.errors import IntegrityError
    from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL

    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    _chat(saver, "src", 3)
    manager.prune_thread("src", keep_last=1)
    element = next(k for k in manager._list_blob_keys("src") if k[1] == ELEMENT_CHANNEL)
    manager._delete_blobs("src", [element])
    manager._element_cache.clear()  # as in another process: what this one read is not cached
    manager._blob_cache.clear()
    with pytest.raises(IntegrityError, match=r"thread 'src'.*list element"):
        saver.copy_thread("src", "dst") if operation == "copy" else manager.export_threads(["src"])
    assert manager.query_records(RecordQuery(thread_id="dst", include_payload=False)) == []


@pytest.mark.parametrize("backend", ["memory", "plugin-dir"])
def test_a_listing_leaves_out_checkpoints_pruned_while_it_reads(manager_factory, backend):
    """``list`` reads a listed checkpoint's values after the listing; one pruned in between
    (its values collected with it) is left out, not reported as damaged."""
    manager = manager_factory()
    saver = ConfigCheckpointSaver(manager)
    _chat(saver, "busy", 4)
    listed = len(list(saver.list(_cfg("busy"))))
    original = manager._read_blobs_cached
    pruned: list[int] = []

    def prune_first(*args):
        if not pruned:
            pruned.append(-1)  # the prune reads values too: once
            pruned[0] = manager.prune_thread("busy", keep_last=1)
        return original(*args)

    manager._read_blobs_cached = prune_first
    try:
        seen = list(saver.list(_cfg("busy")))
    finally:
        del manager._read_blobs_cached
    assert pruned[0] == listed - 1
    assert len(seen) == 1  # the head, read before the others went
