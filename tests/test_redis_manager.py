"""Redis-specific behaviour on real servers: slots, TTL, faults, native async."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from langgraph_ckpt_config.errors import BackendUnavailableError, ConfigError
from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import chat_graph
from tests.servers.redis_servers import RedisServer, free_port


def _standalone(server, **params) -> RedisCheckpointManager:
    m = RedisCheckpointManager({"host": server.host, "port": server.port, "key_prefix": f"t:{uuid.uuid4().hex}:", "cleanup_interval": 0, **params})
    m.initialize()
    return m


def _put(m, thread, cid, channels, parent=None):
    m.put_langgraph_checkpoint(
        thread_id=thread, checkpoint_ns="", checkpoint_id=cid, parent_checkpoint_id=parent, workflow_id=None,
        created_at=time.time(), payload_type="bytes", payload=b"p", metadata={"step": 1},
        channel_versions={ch: v for ch, (v, _) in channels.items()},
        blobs=[(ch, v, "bytes", raw) for ch, (v, raw) in channels.items() if raw is not None],
    )


def test_thread_keys_share_one_cluster_slot(redis_cluster):
    nodes = [{"host": n.host, "port": n.port} for n in redis_cluster.nodes]
    m = RedisCheckpointManager({"cluster_enabled": True, "cluster_nodes": nodes, "key_prefix": "slot:", "cleanup_interval": 0})
    with m:
        for thread in ["plain", "a{b}c", "*", "x" * 1024, "ünï"]:
            _put(m, thread, "001", {"c": (1, b"v")})
            m.put_langgraph_writes(thread_id=thread, checkpoint_ns="", checkpoint_id="001", writes=[("t", 0, "c", "bytes", b"w", "")], replace=False)
            slots = {m._client.keyslot(k) for k in m._keys(thread)}
            assert len(slots) == 1
            assert m.get_langgraph_bundle(thread).writes[0].channel == "c"
        assert set(m.list_thread_ids()) >= {"plain", "a{b}c", "*", "x" * 1024, "ünï"}


def test_key_prefix_with_braces_rejected(redis_server):
    with pytest.raises(ConfigError, match="key_prefix"):
        _standalone(redis_server, key_prefix="a{b}:")


def test_ttl_expires_a_thread_as_a_whole_and_keeps_referenced_blobs(redis_server):
    m = _standalone(redis_server, ttl=2)
    _put(m, "t", "001", {"old": (1, b"written once"), "n": (1, b"1")})
    for i in range(2, 5):  # later steps never rewrite "old"
        time.sleep(0.7)
        _put(m, "t", f"00{i}", {"old": (1, None), "n": (i, str(i).encode())}, parent=f"00{i-1}")
    bundle = m.get_langgraph_bundle("t")
    assert bundle.blobs[("old", 1)][1] == b"written once"  # 2.1 s after it was written, still alive
    ttls = {m._client.ttl(k) for k in m._keys("t") if m._client.exists(k)}
    assert ttls and all(0 < t <= 2 for t in ttls)
    time.sleep(2.5)
    assert not any(m._client.exists(k) for k in m._keys("t"))
    assert m.get_langgraph_bundle("t") is None
    m.close()


def test_server_killed_then_restarted(tmp_path):
    server = RedisServer(free_port(), tmp_path).start()
    m = _standalone(server, socket_timeout=1, connection_timeout=1)
    m.save_checkpoint("c1", {"a": 1}, "wf", "t")
    server.stop()
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        m.load_checkpoint("c1", thread_id="t")
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{server.port}" in str(info.value)

    async def async_fails():
        with pytest.raises(BackendUnavailableError):
            await m.aget_langgraph_bundle("t")

    asyncio.run(async_fails())
    server.start()
    m.save_checkpoint("c2", {"b": 2}, "wf", "t")  # the same manager works again
    assert m.load_checkpoint("c2", thread_id="t") == {"b": 2}
    m.close()
    server.stop()


def test_password_never_in_errors(tmp_path):
    server = RedisServer(free_port(), tmp_path).start()
    try:
        server.cli("config", "set", "requirepass", "right-password")
        m = RedisCheckpointManager({"host": server.host, "port": server.port, "password": "wrong-password-123", "cleanup_interval": 0})
        with pytest.raises(BackendUnavailableError) as info:
            m.initialize()
        assert "wrong-password-123" not in str(info.value) and "wrong-password-123" not in repr(m)
        ok = RedisCheckpointManager({"host": server.host, "port": server.port, "password": "right-password", "cleanup_interval": 0})
        with ok:
            ok.save_checkpoint("c", b"x", "wf", "t")
            assert ok.load_checkpoint("c") == b"x"
    finally:
        server.stop()


def test_async_hot_path_uses_the_async_client(redis_server):
    m = _standalone(redis_server)

    def no_threads(*args, **kwargs):
        raise AssertionError("the async hot path must not move work to a thread")

    m._to_thread = no_threads  # type: ignore[method-assign]
    saver = ConfigCheckpointSaver(m)

    async def run():
        graph = chat_graph().compile(checkpointer=saver)
        from langchain_core.messages import HumanMessage

        for i in range(3):
            await graph.ainvoke({"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}, {"configurable": {"thread_id": "async"}})
        state = await graph.aget_state({"configurable": {"thread_id": "async"}})
        history = [s async for s in graph.aget_state_history({"configurable": {"thread_id": "async"}})]
        await saver.adelete_thread("async")
        return state, history

    state, history = asyncio.run(run())
    assert state.values["turns"] == 3 and len(history) == 9
    assert m.get_langgraph_bundle("async") is None


def test_latest_lookup_reads_only_what_it_returns(redis_server):
    m = _standalone(redis_server)
    parent = None
    for i in range(300):
        cid = f"{i:05}"
        _put(m, "long", cid, {"c": (i, b"v")}, parent=parent)
        parent = cid
    calls = []
    original = m._execute

    def counting(request):
        calls.append(request[:2])
        return original(request)

    m._execute = counting  # count round trips, nothing replaced
    assert m.get_langgraph_bundle("long").record.checkpoint_id == "00299"
    assert len(calls) == 1
    calls.clear()
    from langgraph_ckpt_config.managers.records import RecordQuery

    got = m.query_records(RecordQuery(thread_id="long", checkpoint_ns="", limit=10, before_id="00100", include_payload=False))
    assert [r.checkpoint_id for r in got] == [f"{i:05}" for i in range(99, 89, -1)]
    assert len(calls) == 2  # one index range, one pipelined fetch
    m.close()
