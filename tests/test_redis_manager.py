"""Redis-specific behaviour on real servers: slots, hostile ids, TTL, faults, native async, indexes."""

from __future__ import annotations

import asyncio
import operator
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated

import pytest
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langgraph_ckpt_config.errors import BackendUnavailableError, ConfigError, ManagerError
from langgraph_ckpt_config.managers.records import RecordQuery
from langgraph_ckpt_config.managers.redis import BLOB, RedisCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import chat_graph, normalize
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


def test_a_wrong_password_is_a_clear_error_without_the_password(tmp_path):
    """Not "unavailable" (callers retry those): the configuration is wrong."""
    server = RedisServer(free_port(), tmp_path).start()
    try:
        server.cli("config", "set", "requirepass", "right-password")
        m = RedisCheckpointManager({"host": server.host, "port": server.port, "password": "wrong-password-123", "cleanup_interval": 0})
        with pytest.raises(ManagerError, match="authentication failed") as info:
            m.initialize()
        assert not isinstance(info.value, BackendUnavailableError)
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
    assert len(calls) == 1  # one script: index page and its records
    m.close()


# --------------------------------------------------------------------------- both topologies
def _cluster_params(cluster) -> dict:
    return {"cluster_enabled": True, "cluster_nodes": [{"host": n.host, "port": n.port} for n in cluster.nodes]}


@pytest.fixture(params=["standalone", "cluster"])
def make_manager(request):
    """``make(**params)`` -> an initialized manager on a fresh key prefix, standalone or cluster."""
    if request.param == "standalone":
        server = request.getfixturevalue("redis_server")
        base = {"host": server.host, "port": server.port}
    else:
        base = _cluster_params(request.getfixturevalue("redis_cluster"))
    made = []

    def make(**params):
        m = RedisCheckpointManager({**base, "key_prefix": f"h:{uuid.uuid4().hex}:", "cleanup_interval": 0, **params})
        m.initialize()
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


HOSTILE = ["a*", "ab", "*", "?", "a?", "[a]", "a", "{x}", "}{", "a:b", "a|b", "%2A", "~", "ünï💥", "x" * 1024, "a\\*"]


def test_hostile_thread_ids_are_isolated(make_manager):
    m = make_manager(key_prefix=f"p*?[x]\\:{uuid.uuid4().hex}:")  # glob characters in the prefix too
    other = make_manager()  # another prefix on the same server: never listed here
    _put(other, "a*", "001", {"c": (1, b"other")})
    for t in HOSTILE:
        _put(m, t, "001", {"c": (1, t.encode())})
        m.put_langgraph_writes(thread_id=t, checkpoint_ns="", checkpoint_id="001", writes=[("task", 0, "c", "bytes", t.encode(), "")], replace=False)
    assert m.list_thread_ids() == sorted(HOSTILE)
    m.delete_thread("a*")
    m.delete_thread("*")
    assert m.list_thread_ids() == sorted(set(HOSTILE) - {"a*", "*"})
    for t in set(HOSTILE) - {"a*", "*"}:
        bundle = m.get_langgraph_bundle(t)
        assert bundle.blobs[("c", 1)][1] == t.encode() and bundle.writes[0].data == t.encode()
    assert other.get_langgraph_bundle("a*").blobs[("c", 1)][1] == b"other"
    if m.params.cluster_enabled:
        for t in HOSTILE:
            assert len({m._client.keyslot(k) for k in m._keys(t)}) == 1


def test_unicode_checkpoint_ids_sort_like_python(make_manager):
    m = make_manager()
    ids = ["a", "b", "z", "é", "€", "\U0001f600", "ab"]
    for cid in ids:
        _put(m, "t", cid, {"c": (1, b"v")})
    assert m.get_langgraph_bundle("t").record.checkpoint_id == max(ids)
    from langgraph_ckpt_config.managers.records import RecordQuery

    got = m.query_records(RecordQuery(thread_id="t", checkpoint_ns="", before_id="é", limit=3, include_payload=False))
    assert [r.checkpoint_id for r in got] == sorted((i for i in ids if i < "é"), reverse=True)[:3]


def test_created_at_index_gives_the_manager_api_order(make_manager):
    m = make_manager()
    for i, cid in enumerate(["c", "a", "b", "d"]):
        m.save_checkpoint(cid, {"i": i}, "wf", "t", metadata={"even": i % 2 == 0})
        time.sleep(0.002)
    assert [c.checkpoint_id for c in m.list_checkpoints(thread_id="t")] == ["d", "b", "a", "c"]
    assert [c.checkpoint_id for c in m.list_checkpoints(thread_id="t", limit=2, offset=1)] == ["b", "a"]
    assert [c.checkpoint_id for c in m.list_checkpoints(thread_id="t", metadata={"even": True}, limit=1)] == ["b"]
    assert [c.checkpoint_id for c in m.list_checkpoints(metadata={"even": False})] == ["d", "a"]
    m.delete_checkpoint("b", thread_id="t")
    assert [c.checkpoint_id for c in m.list_checkpoints(thread_id="t", limit=2)] == ["d", "a"]


def test_listing_is_pipelined_and_survives_a_script_flush(make_manager):
    m = make_manager(pipeline_size=50)
    parent = None
    for i in range(30):
        _put(m, "t", f"{i:03}", {"c": (i, b"v%d" % i)}, parent=parent)
        parent = f"{i:03}"
    from langgraph_ckpt_config.managers.records import RecordQuery

    calls = []
    original = m._execute
    m._execute = lambda request: (calls.append(request[0]), original(request))[1]
    # an emptied script cache (restart, failover, SCRIPT FLUSH): EVALSHA answers NOSCRIPT
    if m.params.cluster_enabled:
        for node in m._client.get_primaries():
            m._client.execute_command("SCRIPT", "FLUSH", target_nodes=node)
    else:
        m._client.script_flush()
    bundles = list(m.iter_langgraph_bundles(RecordQuery(thread_id="t", checkpoint_ns="", limit=20)))
    assert [b.record.checkpoint_id for b in bundles] == [f"{i:03}" for i in range(29, 9, -1)]
    assert bundles[0].blobs[("c", 29)][1] == b"v29"
    assert calls == ["script", "scripts"]  # one index page, one pipeline of bundle reads

    async def alist():
        return await m.alist_langgraph_bundles(RecordQuery(thread_id="t", checkpoint_ns="", limit=5))

    assert [b.record.checkpoint_id for b in asyncio.run(alist())] == ["029", "028", "027", "026", "025"]


def test_ttl_refreshed_by_updates_and_optionally_by_reads(make_manager):
    m = make_manager(ttl=100, refresh_ttl_on_read=True)
    _put(m, "t", "001", {"c": (1, b"v")})
    for k in m._keys("t"):
        if m._client.exists(k):
            m._client.expire(k, 10)
    m.get_langgraph_bundle("t")
    assert all(m._client.ttl(k) > 50 for k in m._keys("t") if m._client.exists(k))
    for k in m._keys("t"):
        if m._client.exists(k):
            m._client.expire(k, 10)
    m.update_checkpoint_metadata("001", {"x": 1}, thread_id="t")
    assert all(m._client.ttl(k) > 50 for k in m._keys("t") if m._client.exists(k))


ASYNC_TWINS = [
    "aput_langgraph_checkpoint", "aput_langgraph_writes", "aget_langgraph_bundle", "alist_langgraph_bundles",
    "adelete_thread", "acopy_thread", "adelete_for_runs", "aprune_thread", "adelta_lineage",
]


def test_async_twins_are_native_coroutines():
    from langgraph_ckpt_config.managers.base import BaseCheckpointManager

    for name in ASYNC_TWINS:
        method = getattr(RedisCheckpointManager, name)
        assert asyncio.iscoroutinefunction(method)
        assert method is not getattr(BaseCheckpointManager, name), name


def test_url_configuration_and_redaction(tmp_path):
    server = RedisServer(free_port(), tmp_path).start()
    try:
        server.cli("config", "set", "requirepass", "s3cret-pw")
        ok = RedisCheckpointManager({"url": f"redis://:s3cret-pw@127.0.0.1:{server.port}/2", "key_prefix": "u:", "cleanup_interval": 0})
        with ok:
            ok.save_checkpoint("c", b"x", "wf", "t")
            assert ok.load_checkpoint("c", thread_id="t") == b"x"
            assert "s3cret-pw" not in repr(ok)
        bad = RedisCheckpointManager({"url": f"redis://:wrong-pw-42@127.0.0.1:{server.port}/0", "cleanup_interval": 0})
        with pytest.raises(ManagerError, match="authentication failed") as info:
            bad.initialize()
        assert "wrong-pw-42" not in str(info.value) and str(server.port) in str(info.value)
    finally:
        server.stop()


def test_cluster_node_killed_fails_fast_then_recovers(tmp_path):
    from langgraph_ckpt_config.testing.servers import start_cluster

    cluster = start_cluster(tmp_path)
    try:
        m = RedisCheckpointManager({**_cluster_params(cluster), "key_prefix": "k:", "socket_timeout": 1, "connection_timeout": 1, "cleanup_interval": 0})
        m.initialize()
        threads = [f"t{i}" for i in range(12)]
        for t in threads:
            m.save_checkpoint("c", {"t": t}, "wf", t)
        victim = cluster.nodes[0]
        on_victim = [t for t in threads if m._client.get_node_from_key(m._keys(t)[0]).port == victim.port]
        assert on_victim
        victim.stop()
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError):
            m.load_checkpoint("c", thread_id=on_victim[0])
        assert time.monotonic() - started < 8
        victim.start()  # same port, same nodes.conf: rejoins with its slots (data gone)
        deadline = time.monotonic() + 30
        while True:
            try:
                m.save_checkpoint("c2", {"again": True}, "wf", on_victim[0])
                break
            except BackendUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert m.load_checkpoint("c2", thread_id=on_victim[0]) == {"again": True}
        m.close()
    finally:
        cluster.stop()


def test_frozen_server_times_out_within_the_socket_timeout(tmp_path):
    import signal

    server = RedisServer(free_port(), tmp_path).start()
    try:
        m = _standalone(server, socket_timeout=1, connection_timeout=1)
        m.save_checkpoint("c1", {"a": 1}, "wf", "t")
        saver = ConfigCheckpointSaver(m)
        cfg = {"configurable": {"thread_id": "lg", "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        saver.put(cfg, checkpoint, {"source": "input", "step": -1}, {})
        os.kill(server.process.pid, signal.SIGSTOP)  # accepts connections, never answers
        try:
            for operation in (
                lambda: m.load_checkpoint("c1", thread_id="t"),
                lambda: saver.get_tuple(cfg),
                lambda: saver.put(cfg, {**empty_checkpoint(), "id": "next"}, {"source": "loop", "step": 0}, {}),
            ):
                started = time.monotonic()
                with pytest.raises(BackendUnavailableError, match="unavailable"):
                    operation()
                # no retry after a timeout: a second connection would cost a handshake timeout too
                assert time.monotonic() - started < 1 + 1.5
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert m.load_checkpoint("c1", thread_id="t") == {"a": 1}  # same manager, same pool
        m.close()
    finally:
        server.stop()


# --------------------------------------------------------------------------- async thread operations
def _loop_only(m: RedisCheckpointManager) -> list[int]:
    """Make ``m`` fail on any worker thread or sync I/O; returns the thread ids async I/O ran on."""

    def no_threads(*args, **kwargs):
        raise AssertionError("an async method moved work to a worker thread")

    def no_sync_io(request):
        raise AssertionError(f"an async method used the sync client: {request[:2]}")

    m._to_thread = no_threads  # type: ignore[method-assign]
    m._execute = no_sync_io  # type: ignore[method-assign]
    seen: list[int] = []
    original = m._aexecute

    async def recording(client, scripts, request):
        seen.append(threading.get_ident())
        return await original(client, scripts, request)

    m._aexecute = recording  # type: ignore[method-assign]
    return seen


def test_async_copy_prune_delete_for_runs_are_native(make_manager):
    """acopy_thread / aprune / adelete_for_runs run on the event loop through redis.asyncio,
    standalone and on the cluster: no worker thread (``_to_thread`` raises) and no sync
    client (``_execute`` raises); every command is sent from the loop's thread."""
    from langchain_core.messages import HumanMessage

    m = make_manager()
    saver = ConfigCheckpointSaver(m)
    seen = _loop_only(m)
    graph = chat_graph().compile(checkpointer=saver)
    runs = [str(uuid.uuid4()) for _ in range(3)]

    async def scenario():
        src = {"configurable": {"thread_id": "src"}}
        for i, run_id in enumerate(runs):
            await graph.ainvoke({"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}, {"configurable": {"thread_id": "src", "run_id": run_id}})
        before = [s async for s in graph.aget_state_history(src)]

        await saver.acopy_thread("src", "dst")
        dst = {"configurable": {"thread_id": "dst"}}
        copied = [s async for s in graph.aget_state_history(dst)]
        assert [s.config["configurable"]["checkpoint_id"] for s in copied] == [s.config["configurable"]["checkpoint_id"] for s in before]
        assert [normalize(s.values) for s in copied] == [normalize(s.values) for s in before]
        assert [s.next for s in copied] == [s.next for s in before]

        await saver.aprune(["dst"], strategy="keep_latest")
        pruned = [s async for s in graph.aget_state_history(dst)]
        assert len(pruned) == 1 and normalize(pruned[0].values) == normalize(before[0].values)
        await graph.ainvoke({"messages": [HumanMessage("after prune", id="p")]}, dst)  # the pruned thread resumes
        assert (await graph.aget_state(dst)).values["turns"] == 4

        await saver.adelete_for_runs([runs[0]])
        left = [s async for s in graph.aget_state_history(src)]
        assert len(left) < len(before)
        assert all(s.metadata.get("run_id") != runs[0] for s in left)
        assert {s.metadata.get("run_id") for s in left} == {runs[1], runs[2]}
        assert (await graph.aget_state(src)).values["turns"] == 3
        assert await m.aprune_thread("dst", keep_last=0) == 4  # keep_last=0: the whole thread
        assert await saver.aget_tuple(dst) is None

    asyncio.run(scenario())
    assert seen and set(seen) == {threading.get_ident()}

    # the sync client agrees with what the async path wrote (blobs of the pruned thread collected)
    del m._execute
    assert m.get_langgraph_bundle("dst") is None
    assert not m._client.exists(m._keys("dst")[BLOB])  # no blob left behind
    fresh = make_manager(key_prefix=m.params.key_prefix)  # empty caches: everything read from Redis
    state = chat_graph().compile(checkpointer=ConfigCheckpointSaver(fresh)).get_state({"configurable": {"thread_id": "src"}})
    assert state.values["turns"] == 3 and len(state.values["messages"]) == 6
    cold = make_manager(key_prefix=m.params.key_prefix)
    _loop_only(cold)  # a cold async read fetches list elements (and tree nodes) natively too
    tup = asyncio.run(ConfigCheckpointSaver(cold).aget_tuple({"configurable": {"thread_id": "src"}}))
    assert normalize(tup.checkpoint["channel_values"]["messages"]) == normalize(state.values["messages"])


def test_async_prune_collects_unreferenced_blobs_and_elements(make_manager):
    m = make_manager()
    saver = ConfigCheckpointSaver(m)
    _loop_only(m)
    graph = chat_graph().compile(checkpointer=saver)
    from langchain_core.messages import HumanMessage

    async def scenario():
        cfg = {"configurable": {"thread_id": "t"}}
        for i in range(6):
            await graph.ainvoke({"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}, cfg)
        await saver.aprune(["t"], strategy="keep_latest")
        return await graph.aget_state(cfg)

    state = asyncio.run(scenario())
    del m._execute
    assert len(state.values["messages"]) == 12
    (rec,) = m.query_records(RecordQuery(thread_id="t", include_payload=False))
    fields = {f.decode() for f in m._client.hkeys(m._keys("t")[BLOB])}
    named = {m._blob_field("", ch, v) for ch, v in rec.channel_versions.items()}
    assert named <= fields
    assert not {f for f in fields if not f.startswith("|%00")} - named  # only the head's channel values remain


def test_more_concurrent_async_operations_than_pooled_connections(make_manager):
    """An async graph runs a thread's put and writes concurrently, many threads at once:
    operations beyond ``connection_pool_size`` wait for a connection instead of failing."""
    m = make_manager(connection_pool_size=2)
    for i in range(4):
        _put(m, f"t{i}", "001", {"c": (1, b"v%d" % i)})

    async def many():
        return await asyncio.gather(*(m.aget_langgraph_bundle(f"t{i % 4}") for i in range(40)))

    bundles = asyncio.run(many())
    assert [b.blobs[("c", 1)][1] for b in bundles] == [b"v%d" % (i % 4) for i in range(40)]

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # the sync client, from many threads
        got = list(pool.map(lambda i: m.get_langgraph_bundle(f"t{i % 4}").blobs[("c", 1)][1], range(40)))
    assert got == [b"v%d" % (i % 4) for i in range(40)]


def test_a_listing_page_is_two_round_trips_on_both_topologies(make_manager, monkeypatch):
    """One script for the index page, one pipeline for the bundles -- measured on the wire
    (redis-py writes once per request or pipeline): the sync cluster pipeline must not ask
    a server where each EVALSHA's keys are (COMMAND GETKEYS) -- sync and async."""
    import redis.asyncio.connection
    import redis.connection

    m = make_manager(pipeline_size=50)
    parent = None
    for i in range(30):
        _put(m, "t", f"{i:03}", {"c": (i, b"v%d" % i)}, parent=parent)
        parent = f"{i:03}"
    query = RecordQuery(thread_id="t", checkpoint_ns="", limit=20)
    list(m.iter_langgraph_bundles(query))  # warm: connections open, scripts loaded
    asyncio.run(m.alist_langgraph_bundles(query))
    sends = []
    sync_send = redis.connection.AbstractConnection.send_packed_command
    async_send = redis.asyncio.connection.AbstractConnection.send_packed_command

    def counted(conn, command, check_health=True):
        sends.append(command)
        return sync_send(conn, command, check_health)

    async def acounted(conn, command, check_health=True):
        sends.append(command)
        return await async_send(conn, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "send_packed_command", acounted)
    bundles = list(m.iter_langgraph_bundles(query))
    assert len(bundles) == 20 and len(sends) == 2, [bytes(c if isinstance(c, bytes) else b"".join(c))[:40] for c in sends]
    sends.clear()

    async def alist():
        await m.aclose_loop_clients()
        m._aclient()  # a fresh client of this loop, connected and initialized by one warm-up call
        await m.aget_langgraph_bundle("t")
        sends.clear()
        return await m.alist_langgraph_bundles(query)

    assert len(asyncio.run(alist())) == 20 and len(sends) == 2


# --------------------------------------------------------------------------- the DeltaChannel walk
def _lineage_view(steps) -> list:
    """A delta walk as comparable data: writes in order, seeds in order (elements by digest)."""
    return [(list(writes), [(ch, typ, raw, dict(elements)) for ch, (typ, raw, elements) in seeds.items()]) for writes, seeds in steps]


def _reference_lineage(m, thread_id, ns, checkpoint_id, channels):
    """base.py's walk (one primitive call at a time), the behaviour to match."""
    from langgraph_ckpt_config.managers.base import BaseCheckpointManager

    return _lineage_view(BaseCheckpointManager.delta_lineage(m, thread_id, ns, checkpoint_id, channels))


def _count_requests(m) -> list:
    calls = []
    original = m._execute

    def counting(request):
        calls.append(request[:2])
        return original(request)

    m._execute = counting  # type: ignore[method-assign]
    return calls


def test_delta_lineage_by_hand_sync_and_async_match_the_base_walk(make_manager):
    """Hand-made lineage: writes (hostile channels, long task ids, special negative idx,
    writes to channels not asked for), empty and missing blobs, a pruned ancestor that ends
    the walk. The server-side walk (sync and on redis.asyncio, with and without the per-call
    ancestor cap) returns exactly base's walk; one round trip per call when nothing is cached."""
    m = make_manager()
    tid = "t|{x}*ünï"
    chans = ["a", "b|c", "ünï💥", "gone"]

    def put(cid, parent, values, writes=()):
        m.put_langgraph_checkpoint(
            thread_id=tid, checkpoint_ns="ns:1", checkpoint_id=cid, parent_checkpoint_id=parent, workflow_id=None,
            created_at=time.time(), payload_type="bytes", payload=b"p" * 10, metadata={"step": cid, "f": 1.5, "n": None},
            channel_versions={ch: v for ch, (v, _) in values.items()},
            blobs=[(ch, v, *blob) for ch, (v, blob) in values.items() if blob is not None],
        )
        if writes:
            m.put_langgraph_writes(thread_id=tid, checkpoint_ns="ns:1", checkpoint_id=cid, writes=list(writes), replace=False)

    long_task = "task-" + "x" * 300  # a str16 task id in the stored write
    put("0001", "ghost", {"a": (1, ("bytes", b"a-seed")), "b|c": (1, ("bytes", b"bc-seed"))})  # its parent was pruned
    put("0002", "0001", {"a": (2, ("empty", b"")), "gone": (7, ("bytes", b"lost")), "ünï💥": (1, ("bytes", b"u" * 70000))},
        [("t1", 0, "a", "bytes", b"w-a", "p0"), (long_task, -1, "b|c", "bytes", b"w-bc", ""), ("t2", 1, "other", "bytes", b"no", "")])
    put("0003", "0002", {"a": (3, ("empty", b"")), "b|c": (1, None), "ünï💥": (2, ("empty", b""))},
        [("t3", 2, "ünï💥", "bytes", b"w-u", "p1"), ("t3", 0, "a", "bytes", b"w-a3", "p1"), ("t0", 5, "a", "bytes", b"w-a3b", "p0")])
    put("0004", "0003", {"a": (4, ("empty", b""))}, [("t4", 0, "a", "bytes", b"w-a4", "")])
    put("0005", "0004", {"a": (5, ("bytes", b"a5"))})
    m._delete_blobs(tid, [("ns:1", "gone", 7)])  # a value lost since (a write never names a missing one)
    m._blob_cache.clear()

    expected = {cid: _reference_lineage(m, tid, "ns:1", cid, chans) for cid in [None, "0005", "0004", "0003", "0002", "0001", "nope"]}
    assert [len(v) for v in expected.values()] == [4, 4, 3, 2, 1, 0, 0]  # the walk ends at the missing "ghost"
    walk = expected["0005"]  # 0004, 0003, 0002, 0001
    assert walk[1][1] == [("b|c", "bytes", b"bc-seed", {})]  # 0003 names the blob 0001 wrote
    assert [w.data for w in walk[1][0]] == [b"w-a3b", b"w-a3", b"w-u"]  # get_tuple order
    assert walk[2] == ([w for w in walk[2][0] if w.data == b"w-a"], [("ünï💥", "bytes", b"u" * 70000, {})])
    assert walk[3][1] == [("a", "bytes", b"a-seed", {})] and walk[3][0] == []
    calls = _count_requests(m)
    for cid, want in expected.items():
        assert _lineage_view(m.delta_lineage(tid, "ns:1", cid, chans)) == want, cid
    assert [c[1] for c in calls] == ["delta_lineage"] * len(expected)  # one round trip per walk
    assert m.delta_lineage(tid, "ns:1", "0005", []) == [] and len(calls) == len(expected)  # none for no channels
    m.delta_steps_per_call = 1  # the walk resumes where a capped call stopped
    calls.clear()
    assert _lineage_view(m.delta_lineage(tid, "ns:1", None, chans)) == expected[None]
    assert len(calls) == 4

    cold = make_manager(key_prefix=m.params.key_prefix)  # empty caches
    seen = _loop_only(cold)

    async def walk_all(manager):
        return {cid: _lineage_view(await manager.adelta_lineage(tid, "ns:1", cid, chans)) for cid in expected}

    assert asyncio.run(walk_all(cold)) == expected
    cold.delta_steps_per_call = 2
    assert asyncio.run(walk_all(cold)) == expected
    assert seen and set(seen) == {threading.get_ident()}


class _DeltaListState(TypedDict, total=False):
    items: Annotated[list[str], DeltaChannel(operator.add, snapshot_frequency=4)]
    log: list[str]
    step: int


def _delta_list_graph():
    """A DeltaChannel plus a plain list long enough for list-tree nodes (stored element by element)."""

    def add(state):
        step = state.get("step", 0) + 1
        return {"items": [f"item-{step}"] * 3, "log": [f"log-{i}" for i in range(step * 5)], "step": step}

    builder = StateGraph(_DeltaListState)
    builder.add_node("add", add)
    builder.add_edge(START, "add")
    builder.add_edge("add", END)
    return builder


def test_delta_lineage_of_a_graph_async_equals_sync_without_threads(make_manager):
    """A graph with a DeltaChannel and list values (elements resolved through list-tree
    nodes): at every checkpoint the async walk (redis.asyncio only: no worker thread, no
    sync client, from a cold cache) equals the sync walk and base's walk; so does the
    adapter's delta history."""
    m = make_manager()
    saver = ConfigCheckpointSaver(m)
    graph = _delta_list_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "dg"}}
    for _ in range(14):
        graph.invoke({}, cfg)
    configs = [s.config for s in graph.get_state_history(cfg)]
    channels = ["items", "log", "step", "nope"]
    ids = [c["configurable"]["checkpoint_id"] for c in configs] + [None]
    expected = {cid: _reference_lineage(m, "dg", "", cid, channels) for cid in ids}
    assert any(len(v) > 3 for v in expected.values())
    nodes = [h for v in expected.values() for _, seeds in v for *_, elements in seeds for h, (typ, _) in elements.items() if typ == "lgc:list-node"]
    assert nodes  # list-tree nodes were walked
    for cid in ids:
        assert _lineage_view(m.delta_lineage("dg", "", cid, channels)) == expected[cid]
    history = {cid: saver.get_delta_channel_history(config={"configurable": {"thread_id": "dg", **({"checkpoint_id": cid} if cid else {})}}, channels=channels) for cid in ids}

    cold = make_manager(key_prefix=m.params.key_prefix)  # cold caches: elements and nodes read natively
    seen = _loop_only(cold)
    cold_saver = ConfigCheckpointSaver(cold)

    async def walk():
        steps = {cid: _lineage_view(await cold.adelta_lineage("dg", "", cid, channels)) for cid in ids}
        hist = {
            cid: await cold_saver.aget_delta_channel_history(
                config={"configurable": {"thread_id": "dg", **({"checkpoint_id": cid} if cid else {})}}, channels=channels
            )
            for cid in ids
        }
        return steps, hist

    steps, hist = asyncio.run(walk())
    assert steps == expected
    assert repr(hist) == repr(history)
    assert seen and set(seen) == {threading.get_ident()}


# --------------------------------------------------------------------------- async clients per event loop
def _client_addrs(server) -> set[str]:
    import redis as redis_py

    with redis_py.Redis(host=server.host, port=server.port) as admin:
        return {c["addr"] for c in admin.client_list()}


def _local_addrs(client) -> set[str]:
    from langgraph_ckpt_config.managers.redis import _async_connections

    out = set()
    for conn in _async_connections(client):
        if getattr(conn, "_writer", None) is not None:
            host, port = conn._writer.transport.get_extra_info("sockname")[:2]
            out.add(f"{host}:{port}")
    return out


def _wait_gone(server, addrs: set[str], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while addrs & _client_addrs(server):
        assert time.monotonic() < deadline, f"connections still open on the server: {addrs & _client_addrs(server)}"
        time.sleep(0.02)


async def _use_async_client(m):
    assert (await m.aget_langgraph_bundle("loops")) is not None
    client, _ = m._aclient()
    return client


def test_async_client_of_a_closed_loop_is_released(redis_server):
    m = _standalone(redis_server)
    try:
        _put(m, "loops", "001", {"c": (1, b"v")})
        old = asyncio.run(_use_async_client(m))  # asyncio.run closes its loop; the client stays
        addrs = _local_addrs(old)
        assert addrs and addrs <= _client_addrs(redis_server)
        new = asyncio.run(_use_async_client(m))  # a new loop: the old loop's client is released
        assert new is not old and len(m._async) == 1
        _wait_gone(redis_server, addrs)
        assert not _local_addrs(old)  # marked disconnected: redis-py never touches the dead loop
    finally:
        m.close()


@pytest.mark.parametrize("state", ["idle", "running elsewhere", "closed"])
def test_close_releases_async_clients_of_every_loop(redis_server, state):
    m = _standalone(redis_server)
    loop = asyncio.new_event_loop()
    runner = None
    try:
        _put(m, "loops", "001", {"c": (1, b"v")})
        if state == "running elsewhere":
            runner = threading.Thread(target=loop.run_forever, daemon=True)
            runner.start()
            client = asyncio.run_coroutine_threadsafe(_use_async_client(m), loop).result(10)
        else:
            client = loop.run_until_complete(_use_async_client(m))
            if state == "closed":
                loop.close()
        addrs = _local_addrs(client)
        assert addrs and addrs <= _client_addrs(redis_server)
        m.close()
        assert not m._async
        _wait_gone(redis_server, addrs)
    finally:
        m.close()
        if runner is not None:
            loop.call_soon_threadsafe(loop.stop)
            runner.join(10)
        loop.close()


async def test_aclose_closes_the_clients_of_other_live_loops_too(redis_server):
    m = _standalone(redis_server)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        _put(m, "loops", "001", {"c": (1, b"v")})
        other = asyncio.run_coroutine_threadsafe(_use_async_client(m), loop).result(10)
        mine = await _use_async_client(m)
        addrs = _local_addrs(other) | _local_addrs(mine)
        assert len(m._async) == 2
        await m.aclose()
        assert not m._async
        _wait_gone(redis_server, addrs)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()


# --------------------------------------------------------------------------- layout compatibility
def _write_first_layout(m: RedisCheckpointManager) -> None:
    """Make ``m`` store checkpoints and writes the way the first layout did (record, payload,
    blob names and each write in fields of their own, text checksums), to check that data
    written then stays readable and writable."""
    from langgraph_ckpt_config.managers.layout import pack, pack_record, unpack
    from langgraph_ckpt_config.managers.redis import BK, CR, IDX, PL, REC, WI, W

    def write_checkpoint(record, blobs):
        keys, field = m._keys(record.thread_id), m._field(record.checkpoint_ns, record.checkpoint_id)
        pipe = m._client.pipeline(transaction=False)
        for ns, b in blobs:
            pipe.hsetnx(keys[BLOB], m._blob_field(ns, b.channel, b.version), pack([b.payload_type, b.payload, b.checksum]))
        names = [m._blob_field(record.checkpoint_ns, ch, v) for ch, v in record.channel_versions.items()]
        pipe.hset(keys[REC], field, pack_record(record, with_payload=False))
        pipe.hset(keys[PL], field, record.payload)
        pipe.hset(keys[BK], field, pack(names))
        pipe.zadd(keys[IDX], {field: 0})
        pipe.zadd(keys[CR], {m._cr_member(record.checkpoint_ns, record.checkpoint_id): record.created_at})
        pipe.execute()

    def write_writes(thread_id, ns, checkpoint_id, writes, *, replace):
        keys, field = m._keys(thread_id), m._field(ns, checkpoint_id)
        index = m._client.hget(keys[WI], field)
        names = unpack(index) if index else []
        for w in writes:
            name = m._write_field(ns, checkpoint_id, w.task_id, w.idx)
            value = pack([w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path])
            (m._client.hset if replace else m._client.hsetnx)(keys[W], name, value)
            if name not in names:
                names.append(name)
        m._client.hset(keys[WI], field, pack(names))

    m._write_checkpoint = write_checkpoint
    m._write_checkpoint_checked = lambda record, blobs, must_exist: write_checkpoint(record, blobs)
    m._write_writes = write_writes


def test_data_of_the_first_layout_stays_readable_and_writable(make_manager):
    from langchain_core.messages import HumanMessage

    old = make_manager()
    _write_first_layout(old)
    graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(old))
    cfg = {"configurable": {"thread_id": "t"}}
    for i in range(3):
        graph.invoke({"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}, cfg)
    before = [(s.config["configurable"]["checkpoint_id"], normalize(s.values), s.next) for s in graph.get_state_history(cfg)]
    latest = before[0][0]
    old._write_writes("t", "", latest, old._prepare_writes("t", "", latest, [("task", 0, "c", "bytes", b"old", "")]), replace=False)

    from langgraph_ckpt_config.managers.redis import _GENERATION_FIELD, PL, WI

    old_fields = old._client.hkeys(old._keys("t")[PL])
    assert len(old_fields) == len(before) and old._client.hlen(old._keys("t")[WI]) > 0
    new = make_manager(key_prefix=old.params.key_prefix)  # cold caches, today's layout
    saver = ConfigCheckpointSaver(new)
    graph = chat_graph().compile(checkpointer=saver)
    assert [(s.config["configurable"]["checkpoint_id"], normalize(s.values), s.next) for s in graph.get_state_history(cfg)] == before
    # writes added to a checkpoint of the first layout go where its other writes are
    for payload, replace in [(b"ignored", False), (b"replaced", True)]:
        new.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id=latest, writes=[("task", 0, "c", "bytes", payload, ""), ("task", 1, "c", "bytes", b"more", "")], replace=replace)
    assert [(w.idx, w.data) for w in new.get_langgraph_bundle("t").writes] == [(0, b"replaced"), (1, b"more")]
    assert [(w.idx, w.data) for w in (new._open_write("t", "", latest, s) for s in new._read_writes("t", "", latest))] == [(0, b"replaced"), (1, b"more")]
    assert new.update_checkpoint_metadata(latest, {"tag": "x"}, thread_id="t")
    assert new.get_checkpoint_metadata(latest, thread_id="t").metadata["tag"] == "x"
    assert new.verify_checkpoint(latest, thread_id="t")
    # new checkpoints on top of old ones; copy, prune and delete see both layouts
    graph.invoke({"messages": [HumanMessage("m3", id="m3")]}, cfg)
    # the new checkpoints are packed (the pl hash gained only the thread's write generation)
    assert set(new._client.hkeys(new._keys("t")[PL])) - set(old_fields) == {_GENERATION_FIELD.encode()}
    history = list(graph.get_state_history(cfg))
    assert [m.content for m in history[0].values["messages"]][:6:2] == ["m0", "m1", "m2"]
    saver.copy_thread("t", "copy")
    copied = list(graph.get_state_history({"configurable": {"thread_id": "copy"}}))
    assert [normalize(s.values) for s in copied] == [normalize(s.values) for s in history]
    assert new.prune_thread("t", keep_last=1) == len(history) - 1
    assert normalize(graph.get_state(cfg).values) == normalize(history[0].values)
    graph.invoke({"messages": [HumanMessage("m4", id="m4")]}, cfg)
    assert [m.content for m in graph.get_state(cfg).values["messages"]][-2:][0] == "m4"


def test_blob_fields_derived_by_the_scripts_match_the_stored_ones(make_manager):
    """Packed checkpoints whose channel names and versions the scripts can encode store no
    list of blob fields; every other checkpoint stores it. Both read back every blob,
    latest and by id, and through the delta walk."""
    m = make_manager()
    odd_channels = {"branch:to:agent": "00000000000000000000000000000002.0.5", "a b~c": "1.0", "%2A{x}|*?": "v", "__start__": "1"}
    odd_versions = {"n": 7, "f": 0.1 + 0.2, "q": 'quo"te', "u": "ünï", "dot": ".."}
    odd_names = {"ünï": "1", ".": "1", "..": "2"}
    for i, channels in enumerate([odd_channels, odd_versions, odd_names]):
        cid = f"{i:03}"
        expected = {ch: f"{ch}={v}".encode() for ch, v in channels.items()}
        _put(m, "t", cid, {ch: (v, expected[ch]) for ch, v in channels.items()})
        for bundle in (m.get_langgraph_bundle("t"), m.get_langgraph_bundle("t", "", cid)):
            assert bundle.record.checkpoint_id == cid
            assert {ch: raw for (ch, _), (_, raw) in bundle.blobs.items()} == expected
        _put(m, "t", f"{cid}-child", {ch: (v, None) for ch, v in channels.items()}, parent=cid)
        steps = m.delta_lineage("t", "", f"{cid}-child", list(channels))  # starts at the parent
        assert {ch: seed[1] for _, seeds in steps for ch, seed in seeds.items()} == expected
    cold = make_manager(key_prefix=m.params.key_prefix)
    assert {ch for ch, _ in cold.get_langgraph_bundle("t", "", "000").blobs} == set(odd_channels)


def test_direct_script_calls_leave_the_connection_usable_after_an_error(make_manager):
    """Script calls bypass redis-py's command path (``_DirectScripts`` / ``_DirectClusterScripts``):
    an error reply is raised as our error and the connection -- here the only one -- stays in
    step with the server for the next call."""
    from langgraph_ckpt_config.errors import ManagerError
    from langgraph_ckpt_config.managers.redis import iter_one

    m = make_manager(connection_pool_size=1)
    assert m._fast_scripts is not None
    _put(m, "t", "001", {"c": (1, b"v")})
    for _ in range(3):
        with pytest.raises(ManagerError, match="float"):  # ZREVRANGEBYSCORE: max is not a float
            m._run(iter_one(("script", "page", m._keys("t"), ["score", "not-a-number", "-inf", 0, 1, 0])))
        assert m.get_langgraph_bundle("t").blobs[("c", 1)][1] == b"v"


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_cold_latest_read_is_one_round_trip(make_manager, encrypted):
    """A process that never read the thread gets the namespace's (sealed) list elements with
    the checkpoint: one round trip. Under client encryption nothing is stored differently; a
    thread whose blob hash is over ``cold_read_max_fields`` reads its list tree level by level."""
    import base64

    from langchain_core.messages import HumanMessage

    params = {"client_encryption": {"enabled": True, "keys": "k1:" + base64.b64encode(bytes(range(32))).decode()}} if encrypted else {}
    writer = make_manager(**params)
    graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(writer))
    cfg = {"configurable": {"thread_id": "t"}}
    for i in range(20):  # 40 messages: a list tree of two levels
        graph.invoke({"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}, cfg)
    expected = normalize(graph.get_state(cfg).values)

    def cold_read(**overrides):
        m = make_manager(key_prefix=writer.params.key_prefix, **params)
        for name, value in overrides.items():
            setattr(m, name, value)
        calls = []
        original = m._execute
        m._execute = lambda request: (calls.append(request[0]), original(request))[1]
        saver = ConfigCheckpointSaver(m)
        values = normalize(chat_graph().compile(checkpointer=saver).get_state(cfg).values)
        return values, len(calls), saver

    values, trips, saver = cold_read()
    assert values == expected and trips == 1
    again = normalize(chat_graph().compile(checkpointer=saver).get_state(cfg).values)
    assert again == expected  # warm now: no elements asked for, all from the cache
    values, trips, _ = cold_read(cold_read_max_fields=5)  # too big for the one-trip read
    assert values == expected and trips > 1


def test_async_cluster_use_from_successive_event_loops_reports_no_unclosed_client(redis_cluster):
    """Each ``asyncio.run`` gets its own async client; the one of a closed loop is released
    quietly. redis-py's RedisCluster otherwise reports "Unclosed RedisCluster client" (at
    ERROR, through the next running loop's exception handler) in the user's stderr."""
    nodes = [{"host": n.host, "port": n.port} for n in redis_cluster.nodes]
    script = f"""
import asyncio, gc
from langgraph.checkpoint.base import empty_checkpoint
from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
m = RedisCheckpointManager({{"cluster_enabled": True, "cluster_nodes": {nodes!r}, "key_prefix": "loops:", "cleanup_interval": 0}})
m.initialize()
saver = ConfigCheckpointSaver(m)
cfg = {{"configurable": {{"thread_id": "loops", "checkpoint_ns": ""}}}}
asyncio.run(saver.aput(cfg, empty_checkpoint(), {{}}, {{}}))
assert asyncio.run(saver.aget_tuple(cfg)) is not None
gc.collect()
m.close()
gc.collect()
print("done")
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0 and run.stdout.strip() == "done", run.stderr
    assert "Unclosed" not in run.stderr, run.stderr
