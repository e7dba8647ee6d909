"""Real graphs behave identically on our savers and on InMemorySaver."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import SCENARIOS, chat_graph, delta_graph, run_scenario

INTERRUPT = "__interrupt__"  # a special channel: its write replaces what is stored


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_graph_matches_in_memory_saver(manager_factory, scenario):
    ours = run_scenario(scenario, ConfigCheckpointSaver(manager_factory()))
    reference = run_scenario(scenario, InMemorySaver())
    assert ours == reference


def test_send_branches_do_not_rerun(manager_factory):
    result = run_scenario("send_failure", ConfigCheckpointSaver(manager_factory()))
    assert result["error"] == "transient failure on b"
    assert result["calls"] == {"a": 1, "b": 2, "c": 1}


@pytest.mark.parametrize("strict", [True, False])
def test_typed_state_round_trips(manager_factory, monkeypatch, strict):
    """Pydantic models and dataclasses come back as their types, strict msgpack or not.

    LangGraph reads ``LANGGRAPH_STRICT_MSGPACK`` once, at import, into
    ``_msgpack.STRICT_MSGPACK_ENABLED``; a fresh ``JsonPlusSerializer`` consults that
    flag. So the test sets both, then builds the serde -- as a process started with
    the variable would. (``langgraph._internal._serde`` copies the flag too.) In strict mode only ``compile()``'s ``with_allowlist`` (which
    must reach our saver's serde) lets the state's types through.
    """
    import importlib

    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    monkeypatch.setenv("LANGGRAPH_STRICT_MSGPACK", "true" if strict else "false")
    # Both modules copy the flag at import: the serde's default allowlist and compile()'s
    # decision to derive an allowlist from the state schema.
    for module in ("langgraph.checkpoint.serde._msgpack", "langgraph._internal._serde"):
        mod = importlib.import_module(module)
        if hasattr(mod, "STRICT_MSGPACK_ENABLED"):
            monkeypatch.setattr(mod, "STRICT_MSGPACK_ENABLED", strict)
    serde = JsonPlusSerializer()
    assert (serde._allowed_msgpack_modules is not True) is strict  # the mode really is on/off
    saver = ConfigCheckpointSaver(manager_factory(), serde=serde)
    result = run_scenario("typed_state", saver)
    assert result["types"] == ("Profile", ["Preference", "Preference"])
    assert result["values"]["profile"].score == 3.0
    assert result == run_scenario("typed_state", InMemorySaver(serde=JsonPlusSerializer()))


def test_missing_thread_id_is_a_clear_error(manager_factory):
    from langgraph_ckpt_config.errors import InvalidInputError

    saver = ConfigCheckpointSaver(manager_factory())
    for call in (
        lambda: saver.get_tuple({"configurable": {}}),
        lambda: saver.get_tuple({}),
        lambda: saver.put({"configurable": {"checkpoint_ns": ""}}, {"id": "x", "ts": "", "channel_versions": {}}, {}, {}),
    ):
        with pytest.raises(InvalidInputError, match=r"configurable\.thread_id"):
            call()
    graph = chat_graph().compile(checkpointer=saver)
    with pytest.raises(ValueError, match="thread_id"):  # LangGraph's own check comes first
        graph.invoke({"messages": [HumanMessage("hi")]})


def test_encrypted_graph_matches_and_stores_no_plaintext(manager_factory, backend):
    from langgraph_ckpt_config.codecs import generate_key_spec

    manager = manager_factory(
        client_encryption={"enabled": True, "keys": generate_key_spec("k1"), "filterable_metadata": ["source"]}
    )
    ours = run_scenario("chat", ConfigCheckpointSaver(manager))
    assert ours == run_scenario("chat", InMemorySaver())
    # Every stored byte string: nothing of the conversation is readable.
    from langgraph_ckpt_config.managers.records import RecordQuery

    stored = b""
    for rec in manager.query_records(RecordQuery()):
        stored += rec.payload + repr(rec.metadata).encode()
        for blob in manager._read_blobs(rec.thread_id, rec.checkpoint_ns, list(rec.channel_versions.items())).values():
            stored += blob.payload
        for w in manager._read_writes(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id):
            stored += w.payload
    assert stored
    assert b"chat-a says" not in stored and b"echo" not in stored
    assert b"lang" not in stored  # the settings channel too


def test_sqlite_thread_resumes_in_new_process(tmp_path):
    db = tmp_path / "resume.db"
    script = textwrap.dedent(
        f"""
        import sys
        from langgraph.types import Command
        from langgraph_ckpt_config import from_config
        from langgraph_ckpt_config.testing.graphs import approval_graph
        config = {{"checkpoint_managers": {{"sqlite": {{
            "class_path": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager",
            "parameters": {{"database_path": {str(db)!r}}}}}}}, "default_manager": "sqlite"}}
        with from_config(config) as saver:
            graph = approval_graph().compile(checkpointer=saver)
            cfg = {{"configurable": {{"thread_id": "t"}}}}
            if sys.argv[1] == "start":
                out = graph.invoke({{"request": "from process one"}}, cfg)
                print("INTERRUPTED" if out.get("__interrupt__") else "NOT INTERRUPTED")
            else:
                out = graph.invoke(Command(resume="approved elsewhere"), cfg)
                print(out["log"])
        """
    )
    first = subprocess.run([sys.executable, "-c", script, "start"], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "INTERRUPTED" in first.stdout
    second = subprocess.run([sys.executable, "-c", script, "resume"], capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "acted on from process one (approved elsewhere)" in second.stdout


def test_sqlite_file_holds_no_plaintext_with_encryption(tmp_path):
    """A raw scan of the database file (and its WAL) finds neither messages nor metadata values,
    except the values of keys the config declares filterable (those stay queryable in SQL)."""
    from langgraph_ckpt_config import from_config
    from langgraph_ckpt_config.codecs import generate_key_spec

    db = tmp_path / "secret.db"
    config = {
        "checkpoint_managers": {
            "sqlite": {
                "class_path": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager",
                "parameters": {
                    "database_path": str(db),
                    "cleanup_interval": 0,
                    "compression_enabled": False,  # nothing hides plaintext but the cipher
                    "client_encryption": {
                        "enabled": True,
                        "keys": generate_key_spec("k1"),
                        "filterable_metadata": ["tenant"],
                    },
                },
            }
        },
        "default_manager": "sqlite",
    }
    with from_config(config) as saver:
        graph = chat_graph().compile(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "vault"}, "metadata": {"tenant": "tenant-visible-4242", "customer": "Quetzalcoatl-Metadata-Secret"}}
        for turn in range(3):
            graph.invoke({"messages": [HumanMessage(f"Zanzibar-Plaintext-Canary {turn}", id=f"h{turn}")]}, cfg)
        assert graph.get_state(cfg).values["messages"][-1].content == "echo 3: Zanzibar-Plaintext-Canary 2"
        # the filterable key is answered by the store, the secret one after decryption
        assert len(list(saver.list(cfg, filter={"tenant": "tenant-visible-4242"}))) == len(list(saver.list(cfg)))
        assert list(saver.list(cfg, filter={"customer": "Quetzalcoatl-Metadata-Secret"}, limit=1))
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("secret.db"))
    assert b"tenant-visible-4242" in raw  # declared filterable: plaintext by design
    for secret in (b"Zanzibar-Plaintext-Canary", b"Quetzalcoatl-Metadata-Secret", b"echo 3"):
        assert secret not in raw
        assert secret.decode().encode("utf-16-le") not in raw


def test_pruning_keeps_archived_checkpoints_readable(manager_factory):
    """An archived checkpoint survives pruning *with* the history its DeltaChannel is rebuilt
    from: its state reads back as before (as the InMemorySaver's, never pruned)."""
    cfg = {"configurable": {"thread_id": "d"}}
    reference = delta_graph().compile(checkpointer=InMemorySaver())
    saver = ConfigCheckpointSaver(manager_factory())
    graph = delta_graph().compile(checkpointer=saver)
    for _ in range(9):
        reference.invoke({}, cfg)
        graph.invoke({}, cfg)
    # a checkpoint whose items are rebuilt from ancestors (not snapshotted there)
    mid = next(
        s for s in list(graph.get_state_history(cfg))[6:]
        if (s.metadata.get("counters_since_delta_snapshot") or {}).get("items", [0])[0] >= 2
    )
    want = next(s for s in reference.get_state_history(cfg) if s.metadata["step"] == mid.metadata["step"]).values
    assert mid.values == want and len(want["items"]) >= 2
    c = mid.config["configurable"]
    assert saver.manager.archive_checkpoint(c["checkpoint_id"], thread_id="d", checkpoint_ns=c["checkpoint_ns"])
    saver.prune(["d"], keep_last=1)
    assert len(list(saver.list(cfg))) < 9 * 3  # something was pruned
    assert graph.get_state(mid.config).values == want
    assert graph.get_state(cfg).values == reference.get_state(cfg).values


async def test_cancelled_aput_writes_store_whole_batches(manager_factory):
    """A batch mixing regular and special channels (two manager calls) is stored whole or not
    at all, wherever the caller's task is cancelled."""
    saver = ConfigCheckpointSaver(manager_factory())
    cfg = await saver.aput({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, empty_checkpoint(), {"step": 0}, {})
    for i in range(40):
        batch = [("messages", f"w{i}"), (INTERRUPT, f"x{i}"), ("log", f"l{i}")]
        task = asyncio.create_task(saver.aput_writes(cfg, batch, f"task{i}"))
        for _ in range(i % 4):  # cancelled before it starts, during the first call, after it...
            await asyncio.sleep(0)
        if i % 5 == 4:
            await asyncio.sleep(0.001 * (i % 3))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # batches whose caller was cancelled finish in the background
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), 60)
    stored: dict[str, set[str]] = {}
    for task_id, channel, _value in (await saver.aget_tuple(cfg)).pending_writes:
        stored.setdefault(task_id, set()).add(channel)
    assert stored  # some batches had started when cancelled
    assert {t: chs for t, chs in stored.items() if chs != {"messages", INTERRUPT, "log"}} == {}
