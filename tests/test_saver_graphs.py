"""Real graphs behave identically on our savers and on InMemorySaver."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import SCENARIOS, run_scenario


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_graph_matches_in_memory_saver(manager_factory, scenario):
    ours = run_scenario(scenario, ConfigCheckpointSaver(manager_factory()))
    reference = run_scenario(scenario, InMemorySaver())
    assert ours == reference


def test_send_branches_do_not_rerun(manager_factory):
    result = run_scenario("send_failure", ConfigCheckpointSaver(manager_factory()))
    assert result["error"] == "transient failure on b"
    assert result["calls"] == {"a": 1, "b": 2, "c": 1}


@pytest.mark.parametrize("strict", ["true", "false"])
def test_typed_state_round_trips(manager_factory, monkeypatch, strict):
    monkeypatch.setenv("LANGGRAPH_STRICT_MSGPACK", strict)
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    saver = ConfigCheckpointSaver(manager_factory(), serde=JsonPlusSerializer())
    result = run_scenario("typed_state", saver)
    assert result["types"] == ("Profile", ["Preference", "Preference"])
    assert result["values"]["profile"].score == 3.0


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
