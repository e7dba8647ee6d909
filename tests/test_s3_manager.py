"""S3-specific behaviour over a real S3 API (moto's server over HTTP)."""

from __future__ import annotations

import os
import time
import uuid

import boto3
import pytest

from langgraph_ckpt_config.errors import BackendUnavailableError
from langgraph_ckpt_config.managers.records import RecordQuery
from langgraph_ckpt_config.managers.s3 import S3CheckpointManager

CREDS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


@pytest.fixture(autouse=True)
def _heads_only_when_asked(monkeypatch):
    """Heads go out in the background 0.25 s after a change (docs/s3.md): here only at
    flush_heads()/close() (or where a test sets the delay), so request counts are exact."""
    from langgraph_ckpt_config.managers import s3 as s3_module

    monkeypatch.setattr(s3_module, "_HEAD_FLUSH_DELAY", 3600.0)


def _manager(endpoint: str, **params) -> S3CheckpointManager:
    m = S3CheckpointManager({
        "bucket": "lgckpt-s3-tests", "endpoint_url": endpoint, "create_bucket": True,
        "key_prefix": f"p/{uuid.uuid4().hex}/", "cleanup_interval": 0, **CREDS, **params,
    })
    m.initialize()
    return m


def _put(m, thread, cid, value=b"v", parent=None, ns="", channels=("c",)):
    m.put_langgraph_checkpoint(
        thread_id=thread, checkpoint_ns=ns, checkpoint_id=cid, parent_checkpoint_id=parent, workflow_id=None,
        created_at=time.time(), payload_type="bytes", payload=b"payload-" + cid.encode()[:50], metadata={"step": 1},
        channel_versions={ch: cid for ch in channels}, blobs=[(ch, cid, "bytes", value) for ch in channels],
    )


def _writes(m, thread, cid, n=2, ns=""):
    m.put_langgraph_writes(
        thread_id=thread, checkpoint_ns=ns, checkpoint_id=cid,
        writes=[("task", i, "c", "bytes", f"w{i}".encode(), "") for i in range(n)], replace=False,
    )


def _count_requests(m) -> list[str]:
    calls: list[str] = []
    m._client.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))
    return calls


def _all_keys(m, *, whole_bucket: bool = False) -> list[str]:
    return list(m._list("" if whole_bucket else m._prefix))


def test_hostile_ids_stay_inside_the_prefix(s3_server):
    m = _manager(s3_server.endpoint_url, bucket=f"hostile-{uuid.uuid4().hex[:8]}")
    hostile = ["../../x", "a/b", "a%2Fb", "%2F", "*", "ünï", "x" * 1024, "~h" + "0" * 64, ".", "..", "a b?#"]
    for tid in hostile:
        _put(m, tid, "001", value=tid.encode(), ns="n/../s" if tid == "a/b" else "")
    keys = _all_keys(m, whole_bucket=True)
    assert keys and all(k.startswith(m._prefix) for k in keys)
    assert not any(seg in (".", "..") for k in keys for seg in k[len(m._prefix):].split("/"))
    assert all(len(k.encode()) <= 1024 for k in keys)
    # one directory per thread: no two ids share (or escape into) another's keys
    dirs = {k[len(m._prefix):].split("/", 1)[0] for k in keys}
    assert len(dirs) == len(hostile)
    assert sorted(m.list_thread_ids()) == sorted(hostile)
    for tid in hostile:
        bundle = m.get_langgraph_bundle(tid, "n/../s" if tid == "a/b" else "")
        assert bundle.record.thread_id == tid and bundle.blobs[("c", "001")][1] == tid.encode()
    m.delete_thread("a/b")
    assert m.get_langgraph_bundle("a/b", "n/../s") is None and m.get_langgraph_bundle("../../x") is not None
    assert m.get_langgraph_bundle("a%2Fb") is not None
    m.close()


def test_latest_and_limited_listing_read_only_what_they_return(s3_server):
    m = _manager(s3_server.endpoint_url)
    parent = None
    for i in range(200):
        cid = f"{i:05}"
        _put(m, "long", cid, parent=parent, channels=("a", "b", "c", "d", "e"))
        parent = cid
    _writes(m, "long", "00150")
    m.flush_heads()

    # The writing process: the listing's ETags validate its cache -- one LIST, no GET.
    calls = _count_requests(m)
    assert m.get_langgraph_bundle("long").record.checkpoint_id == "00199"
    assert calls == ["ListObjectsV2"]
    calls.clear()
    assert [b.record.checkpoint_id for b in m.iter_langgraph_bundles(RecordQuery(thread_id="long", checkpoint_ns="", limit=10))] == [
        f"{i:05}" for i in range(199, 189, -1)
    ]
    assert calls == ["ListObjectsV2"]
    m.close()

    # Another process (nothing cached): the LIST and a GET of the namespace's head, in parallel.
    other = _manager(s3_server.endpoint_url, key_prefix=m.params.key_prefix)
    calls = _count_requests(other)
    bundle = other.get_langgraph_bundle("long")
    assert bundle.record.checkpoint_id == "00199" and len(bundle.blobs) == 5 and bundle.writes == []
    assert sorted(calls) == ["GetObject", "ListObjectsV2"]
    calls.clear()
    assert other.get_langgraph_bundle("long").record.checkpoint_id == "00199"
    assert calls == ["ListObjectsV2"]  # its own cache now
    calls.clear()
    got = other.query_records(RecordQuery(thread_id="long", checkpoint_ns="", before_id="00050", limit=5, include_payload=False))
    assert [r.checkpoint_id for r in got] == ["00049", "00048", "00047", "00046", "00045"]
    assert calls.count("ListObjectsV2") == 1 and calls.count("GetObject") == 5 and len(calls) == 6
    calls.clear()
    listed = list(other.iter_langgraph_bundles(RecordQuery(thread_id="long", checkpoint_ns="", before_id="00155", limit=10)))
    assert [b.record.checkpoint_id for b in listed] == [f"{i:05}" for i in range(154, 144, -1)]
    assert [w.data for w in listed[4].writes] == [b"w0", b"w1"] and all(not b.writes for i, b in enumerate(listed) if i != 4)
    # 1 LIST names the records and the writes of 00150 (with their ETags), 10 records (their
    # values are inline: no blob GET) + 1 object holding the 2 writes of that call
    assert calls.count("ListObjectsV2") == 1 and calls.count("GetObject") == 10 + 1 and len(calls) == 12
    calls.clear()
    bundle = other.get_langgraph_bundle("long", "", "00150")
    assert len(bundle.writes) == 2 and calls.count("ListObjectsV2") == 1
    other.close()


def test_cache_never_serves_a_stale_record(s3_server):
    a = _manager(s3_server.endpoint_url)
    b = _manager(s3_server.endpoint_url, key_prefix=a.params.key_prefix)
    _put(a, "t", "001")
    assert b.get_langgraph_bundle("t").record.metadata == {"step": 1}
    a.update_checkpoint_metadata("001", {"seen": True}, thread_id="t")
    assert b.get_langgraph_bundle("t").record.metadata == {"step": 1, "seen": True}
    _put(a, "t", "002", parent="001")
    _writes(a, "t", "002")
    got = b.get_langgraph_bundle("t")
    assert got.record.checkpoint_id == "002" and len(got.writes) == 2
    a.close()
    b.close()


def test_crash_between_puts_leaves_store_readable(s3_server, monkeypatch):
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001", b"first")
    real_put = m._put

    def dying_put(key, body, **kw):
        if "/r/" in key:
            raise KeyboardInterrupt("process killed before the record PUT")
        return real_put(key, body, **kw)

    monkeypatch.setattr(m, "_put", dying_put)
    with pytest.raises(KeyboardInterrupt):
        _put(m, "t", "002", b"second", parent="001", channels=("c", "d"))
    monkeypatch.undo()
    assert any("/b/" in k and "002" in k for k in _all_keys(m))  # its blobs made it
    other = _manager(s3_server.endpoint_url, key_prefix=m.params.key_prefix)
    for reader in (m, other):
        assert reader.get_langgraph_bundle("t").record.checkpoint_id == "001"  # never a half checkpoint
        assert [r.checkpoint_id for r in reader.query_records(RecordQuery(thread_id="t"))] == ["001"]
    # The orphaned blobs go with the next retention pass of the thread.
    _put(m, "t", "003", b"third", parent="001")
    m.prune_thread("t", keep_last=1)
    assert not any("002" in k for k in _all_keys(m)), _all_keys(m)
    # A crash while deleting (record gone, its writes not yet) leaves orphan writes that are never
    # attributed to another checkpoint.
    _writes(m, "t", "003")
    m._delete_keys([m._record_key("t", "", "003")])
    assert other.get_langgraph_bundle("t") is None or other.get_langgraph_bundle("t").writes == []
    # A record whose blob vanished is reported by verify, not returned half-empty silently.
    _put(m, "t", "004", b"fourth")
    m._delete_keys([m._blob_key("t", "", "c", "004")])
    assert m.verify_checkpoint("004", thread_id="t") is False
    m.close()
    other.close()


def test_concurrent_reads_cannot_deadlock_the_pool(s3_server):
    import threading

    m = _manager(s3_server.endpoint_url, max_concurrency=1)
    for i in range(4):
        _put(m, f"t{i}", "001", channels=("a", "b", "c"))
        _writes(m, f"t{i}", "001", n=3)
    reader = _manager(s3_server.endpoint_url, key_prefix=m.params.key_prefix, max_concurrency=1)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                assert len(reader.get_langgraph_bundle(f"t{i % 4}").writes) == 3
                reader._objects.clear()
                reader._blob_cache.clear()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "reads deadlocked"
    assert not errors
    m.close()
    reader.close()


def test_async_twins_share_the_client(s3_server):
    import asyncio

    m = _manager(s3_server.endpoint_url)
    for i in range(5):
        _put(m, f"t{i}", "001")

    async def main():
        return await asyncio.gather(*(m.aget_langgraph_bundle(f"t{i}") for i in range(5)))

    assert [b.record.thread_id for b in asyncio.run(main())] == [f"t{i}" for i in range(5)]
    m.close()


def test_server_side_encryption_is_requested(s3_server):
    m = _manager(s3_server.endpoint_url, encryption_enabled=True, encryption_algorithm="AES256")
    _put(m, "t", "001")
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    for key in _all_keys(m):
        assert client.head_object(Bucket=m._bucket, Key=key).get("ServerSideEncryption") == "AES256"
    m.close()


def test_transient_errors_are_retried(s3_server, s3_fault_proxy):
    m = _manager(s3_fault_proxy.endpoint_url, max_retries=5)
    _put(m, "t", "001", b"one")
    s3_fault_proxy.fail(3, 503)
    _put(m, "t", "002", b"two", parent="001")
    s3_fault_proxy.fail(2, 0)  # dropped connections
    assert m.get_langgraph_bundle("t").blobs[("c", "002")][1] == b"two"
    m.close()


def test_persistent_errors_fail_clearly_and_leave_nothing_half_visible(s3_server, s3_fault_proxy):
    m = _manager(s3_fault_proxy.endpoint_url, max_retries=2, connect_timeout=2, read_timeout=5)
    _put(m, "t", "001", b"one")
    s3_fault_proxy.fail(1000, 500)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match=f"lgckpt-s3-tests.*{s3_fault_proxy.endpoint_url}"):
        _put(m, "t", "002", b"two", parent="001")
    assert time.monotonic() - started < 30
    s3_fault_proxy.fail(0)
    assert m.get_langgraph_bundle("t").record.checkpoint_id == "001"
    m.close()


def test_missing_bucket(s3_server):
    with pytest.raises(BackendUnavailableError, match="does not exist.*create_bucket"):
        S3CheckpointManager({"bucket": f"missing-{uuid.uuid4().hex[:8]}", "endpoint_url": s3_server.endpoint_url, **CREDS}).initialize()
    name = f"created-{uuid.uuid4().hex[:8]}"
    with S3CheckpointManager({"bucket": name, "endpoint_url": s3_server.endpoint_url, "create_bucket": True, **CREDS}) as m:
        m.save_checkpoint("c", b"x", "wf", "t")
        assert m.load_checkpoint("c") == b"x"


def test_versioning_keeps_at_most_max_versions(s3_server):
    m = _manager(s3_server.endpoint_url, bucket=f"versioned-{uuid.uuid4().hex[:8]}", versioning_enabled=True, max_versions=3)
    m.save_checkpoint("c", {"v": 0}, "wf", "t")
    for i in range(1, 7):
        m.update_checkpoint_metadata("c", {"i": i})
    key = m._record_key("t", "", "c")
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    versions = [v for v in client.list_object_versions(Bucket=m._bucket, Prefix=key).get("Versions", []) if v["Key"] == key]
    assert len(versions) == 3
    assert m.get_checkpoint_metadata("c").metadata == {"i": 6}
    m.close()


def test_large_checkpoint_uses_multipart(s3_server):
    m = _manager(s3_server.endpoint_url, multipart_threshold="5MiB", multipart_chunksize="5MiB")
    big = os.urandom(6 * 1024 * 1024)
    calls: list[str] = []
    m._client.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))
    m.save_checkpoint("big", big, "wf", "t")
    assert "CreateMultipartUpload" in calls and "CompleteMultipartUpload" in calls
    assert m.load_checkpoint("big") == big
    calls.clear()
    _put(m, "lg", "001", big)  # a large channel value (conditional blob) also goes multipart
    assert "CompleteMultipartUpload" in calls
    other = _manager(s3_server.endpoint_url, key_prefix=m.params.key_prefix)
    assert other.get_langgraph_bundle("lg").blobs[("c", "001")][1] == big
    other.close()
    m.close()


def test_regular_writes_are_insert_if_absent_via_conditional_put(s3_server):
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001")
    for data in (b"first", b"second"):
        m.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", 0, "c", "bytes", data, "")], replace=False)
    assert [w.data for w in m.get_langgraph_bundle("t").writes] == [b"first"]
    m.close()


def test_bulk_delete_removes_records_then_their_writes(s3_server):
    m = _manager(s3_server.endpoint_url)
    parent = None
    for i in range(30):
        cid = f"{i:03}"
        _put(m, "t", cid, parent=parent)
        parent = cid
        if i % 3 == 0:
            _writes(m, "t", cid)
    _writes(m, "t", "999")  # writes without a record (e.g. a crash mid-delete)
    doomed = [("", f"{i:03}") for i in range(25)] + [("", "999")]
    assert m.delete_checkpoints("t", doomed) == 25  # > _HEAD_PROBES: one listing instead of HEADs
    assert [r.checkpoint_id for r in m.query_records(RecordQuery(thread_id="t"))] == ["029", "028", "027", "026", "025"]
    left = [k[len(m._thread_dir("t")):] for k in _all_keys(m)]
    assert sum(k.startswith("r/") for k in left) == 5 + 1  # 5 records + the (packed) writes of 027
    assert sum(k.startswith("b/") for k in left) == 5  # unreferenced blobs collected
    assert len(m.get_langgraph_bundle("t", "", "027").writes) == 2
    m.close()


def _count_sends(m) -> list[str]:
    """Every HTTP request the manager's client actually sends (retries included)."""
    sent: list[str] = []
    m._client.meta.events.register("before-send.s3", lambda request, **kw: sent.append(f"{request.method} {request.url}"))
    return sent


def test_request_counts_of_latest_and_first_page_on_a_long_chat_thread(s3_server):
    """Through the LangGraph saver: a chat thread (a growing ``messages`` list stored as list
    elements, an unchanged channel, two tasks' writes at every step, so the latest checkpoint
    has pending writes too). A new manager instance (nothing cached) reads the latest in at most
    2 requests and ``list(limit=10)`` in at most 1 + 10, however long the history."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.checkpoint.base import uuid6

    from langgraph_ckpt_config.saver import ConfigCheckpointSaver

    writer = _manager(s3_server.endpoint_url)
    saver = ConfigCheckpointSaver(writer)
    cfg = {"configurable": {"thread_id": "chat", "checkpoint_ns": ""}}
    messages: list = []
    parent = None
    steps = 60
    for step in range(steps):
        messages = [*messages, HumanMessage(f"message {step} " + "x" * 200, id=f"m{step}")]
        versions = dict(parent["channel_versions"]) if parent else {}
        new_versions = {"messages": saver.get_next_version(versions.get("messages"), None)}
        if step == 0:
            new_versions["config"] = saver.get_next_version(None, None)
        versions.update(new_versions)
        checkpoint = {
            "v": 4, "id": str(uuid6(clock_seq=step)), "ts": "2026-01-01T00:00:00+00:00",
            "channel_values": {"messages": messages, "config": {"model": "none"}},
            "channel_versions": versions, "versions_seen": {"agent": dict(versions)}, "updated_channels": list(new_versions),
        }
        put_cfg = {"configurable": {**cfg["configurable"], **({"checkpoint_id": parent["id"]} if parent else {})}}
        stored = saver.put(put_cfg, checkpoint, {"source": "loop", "step": step, "parents": {}}, new_versions)
        saver.put_writes(stored, [("messages", AIMessage("ok")), ("branch:to:agent", None)], "task-a", "a")
        saver.put_writes(stored, [("config", {"k": step})], "task-b", "b")
        parent = saver.get_tuple(cfg).checkpoint

    # The head waiting for the last step's writes goes out now (else within _HEAD_FLUSH_DELAY).
    writer.flush_heads()
    # The writing process: one LIST validates what it holds.
    sent = _count_sends(writer)
    latest = saver.get_tuple(cfg)
    assert len(latest.checkpoint["channel_values"]["messages"]) == steps and len(latest.pending_writes) == 3
    assert len(sent) == 1, sent

    def cold() -> tuple[ConfigCheckpointSaver, list[str]]:
        m = _manager(s3_server.endpoint_url, key_prefix=writer.params.key_prefix)
        return ConfigCheckpointSaver(m), _count_sends(m)

    reader, sent = cold()
    got = reader.get_tuple(cfg)
    assert len(sent) <= 2, sent
    assert got.checkpoint["id"] == latest.checkpoint["id"] and got.checkpoint["channel_values"] == latest.checkpoint["channel_values"]
    assert sorted(got.pending_writes) == sorted(latest.pending_writes)
    reader.manager.close()

    reader, sent = cold()
    page = list(reader.list(cfg, limit=10))
    assert len(sent) <= 1 + 10, "\n".join(sent)
    expected = list(saver.list(cfg, limit=10))
    assert [t.checkpoint["id"] for t in page] == [t.checkpoint["id"] for t in expected]
    for a, b in zip(page, expected):
        assert a.checkpoint["channel_values"] == b.checkpoint["channel_values"] and len(a.pending_writes) == 3
        assert sorted(a.pending_writes) == sorted(b.pending_writes)
    reader.manager.close()
    writer.close()


def test_a_stale_head_is_never_served(s3_server):
    """The head is used only when the listed latest record has the MD5 of the body it carries:
    after an update, a newer record from a process without the head, or a put whose record
    never landed, a cold reader falls back to the records and still reads the truth."""
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001", b"one")
    _put(m, "t", "002", b"two", parent="001")
    m.update_checkpoint_metadata("002", {"seen": True}, thread_id="t")  # record rewritten: head stale

    def cold_read():
        reader = _manager(s3_server.endpoint_url, key_prefix=m.params.key_prefix)
        try:
            return reader.get_langgraph_bundle("t")
        finally:
            reader.close()

    got = cold_read()
    assert got.record.checkpoint_id == "002" and got.record.metadata == {"step": 1, "seen": True}
    assert got.blobs[("c", "002")][1] == b"two"
    # Another writer that holds no state (so writes no head) adds 003: the head still names 002.
    other = _manager(s3_server.endpoint_url, key_prefix=m.params.key_prefix)
    other.put_langgraph_checkpoint(
        thread_id="t", checkpoint_ns="", checkpoint_id="003", parent_checkpoint_id="002", workflow_id=None,
        created_at=time.time(), payload_type="bytes", payload=b"payload-003", metadata={"step": 3},
        channel_versions={"c": "002", "d": "003"}, blobs=[("d", "003", "bytes", b"three")],  # c unchanged: not held
    )
    assert other._heads.get(("t", "")) is None  # it could not write a head
    got = cold_read()
    assert got.record.checkpoint_id == "003" and got.blobs[("d", "003")][1] == b"three" and got.blobs[("c", "002")][1] == b"two"
    # A put whose record PUT failed after its head went out: the head names a missing record.
    real_put = m._put

    def failing_record_put(key, body, **kw):
        if "/r/" in key:
            raise BackendUnavailableError("record PUT failed")
        return real_put(key, body, **kw)

    m._put = failing_record_put
    with pytest.raises(BackendUnavailableError):
        _put(m, "t", "004", b"four", parent="003")
    m._put = real_put
    assert cold_read().record.checkpoint_id == "003"
    other.close()
    m.close()


class _Crash(BaseException):
    """The process dies here (not an error any code path may handle)."""


def _crash_on_put(m, matches):
    """A boto3 event hook that kills the process right before a PUT whose key ``matches``."""
    def hook(params, **kw):
        if matches(params["Key"]):
            raise _Crash(params["Key"])

    m._client.meta.events.register("before-parameter-build.s3.PutObject", hook)
    return hook


def _cold(m):
    return _manager(m._client.meta.endpoint_url, key_prefix=m.params.key_prefix)


def test_the_head_follows_puts_and_regular_writes_later_special_writes_at_once(s3_server, monkeypatch):
    """put PUTs its blobs then its record, put_writes only its writes; the head (the latest
    checkpoint whole, with every write body) follows once, after a delay that the next put
    usually makes pointless. Until then a cold reader uses what the older head holds and GETs
    the rest (still correct); special writes (interrupt, error) send the head at once."""
    from langgraph_ckpt_config.managers import s3 as s3_module

    monkeypatch.setattr(s3_module, "_HEAD_FLUSH_DELAY", 3600.0)
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001")
    m.flush_heads()
    calls = _count_requests(m)
    _put(m, "t", "002", parent="001")
    assert calls == ["PutObject"] * 2 and m._deferred.pending() == 1  # blob, record
    calls.clear()
    _writes(m, "t", "002", n=2)
    m.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id="002",
                           writes=[("task-b", 0, "c", "bytes", b"b0", "")], replace=False)
    assert calls == ["PutObject"] * 2  # one object per call, no head sent
    assert m._deferred.pending() == 1

    def cold_read():
        reader = _cold(m)
        sent = _count_requests(reader)
        try:
            got = reader.get_langgraph_bundle("t")
            return got, sent
        finally:
            reader.close()

    got, sent = cold_read()  # the head is 001's: LIST || GET head, then the record and the 2 write objects
    assert got.record.checkpoint_id == "002" and sorted(w.data for w in got.writes) == [b"b0", b"w0", b"w1"]
    assert got.blobs[("c", "002")][1] == b"v"
    assert sorted(sent) == ["GetObject"] * 4 + ["ListObjectsV2"]
    m.flush_heads()
    assert m._deferred.pending() == 0
    got, sent = cold_read()
    assert sorted(w.data for w in got.writes) == [b"b0", b"w0", b"w1"] and sorted(sent) == ["GetObject", "ListObjectsV2"]

    # The next put replaces the head to send: one head PUT for both, later.
    _writes(m, "t", "002", n=3)
    assert m._deferred.pending() == 1
    calls.clear()
    _put(m, "t", "003", parent="002")
    assert m._deferred.pending() == 1 and calls == ["PutObject"] * 2  # blob, record

    # A special write (negative idx: interrupt, error...) re-sends the head beside it.
    calls.clear()
    m.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id="003",
                           writes=[("task", -3, "__interrupt__", "bytes", b"stop", "")], replace=True)
    assert calls == ["PutObject", "PutObject"] and m._deferred.pending() == 0
    got, sent = cold_read()
    assert [w.data for w in got.writes] == [b"stop"] and sorted(sent) == ["GetObject", "ListObjectsV2"]
    # close() sends what is still waiting.
    _writes(m, "t", "003", n=1)
    m.close()
    got, sent = cold_read()
    assert sorted(w.data for w in got.writes) == [b"stop", b"w0"] and sorted(sent) == ["GetObject", "ListObjectsV2"]


def test_the_deferred_head_goes_out_on_its_own(s3_server):
    """After ``head_flush_delay`` (configured here; the module default is 3600 s in these tests)."""
    m = _manager(s3_server.endpoint_url, head_flush_delay=0.05)
    _put(m, "t", "001")
    _writes(m, "t", "001", n=2)
    deadline = time.monotonic() + 30  # a wait for the worker, not a timing assertion
    while m._deferred.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert m._deferred.pending() == 0
    reader = _cold(m)
    sent = _count_requests(reader)
    assert len(reader.get_langgraph_bundle("t").writes) == 2 and sorted(sent) == ["GetObject", "ListObjectsV2"]
    reader.close()
    m.close()


def test_crash_between_the_writes_and_the_deferred_head(s3_server, monkeypatch):
    """The new write order: the writes land, the process dies before the head follows them.
    The store stays readable, the writes are found (through the listing), and the head that
    is there (without them) is still used for the rest."""
    from langgraph_ckpt_config.managers import s3 as s3_module

    monkeypatch.setattr(s3_module, "_HEAD_FLUSH_DELAY", 3600.0)
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001", b"one")
    _put(m, "t", "002", b"two", parent="001")
    _writes(m, "t", "002", n=2)
    hook = _crash_on_put(m, lambda key: "/h/" in key)
    with pytest.raises(_Crash):
        m.flush_heads()  # the deferred head PUT: the process dies there
    assert m._deferred.pending() == 0
    reader = _cold(m)
    got = reader.get_langgraph_bundle("t")
    assert got.record.checkpoint_id == "002" and got.blobs[("c", "002")][1] == b"two"
    assert sorted(w.data for w in got.writes) == [b"w0", b"w1"]
    reader.close()
    m._client.meta.events.unregister("before-parameter-build.s3.PutObject", hook)
    m.close()


def test_crash_before_the_record_put_returns_the_previous_checkpoint(s3_server):
    """put: blobs (in parallel), then the record beside the head. A process killed right
    before the record PUT (its blobs and possibly its head landed) leaves the store readable:
    every reader gets the previous checkpoint, never a half-written one, and the head naming
    the missing record is ignored."""
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001", b"one")
    _writes(m, "t", "001", n=1)
    m.flush_heads()
    _crash_on_put(m, lambda key: "/r/" in key and "/h/" not in key)
    with pytest.raises(_Crash):
        _put(m, "t", "002", b"two", parent="001", channels=("c", "d"))
    assert any("/b/" in k and "002" in k for k in _all_keys(m))
    reader = _cold(m)
    got = reader.get_langgraph_bundle("t")
    assert got.record.checkpoint_id == "001" and got.blobs[("c", "001")][1] == b"one" and [w.data for w in got.writes] == [b"w0"]
    assert [r.checkpoint_id for r in reader.query_records(RecordQuery(thread_id="t"))] == ["001"]
    reader.close()
    m.close()


def _chat_put(saver, messages: list, parent: dict | None, i: int) -> dict:
    """One chat step through the saver: ``messages`` as the next version of the list channel
    of thread ``chat``, child of ``parent`` (a checkpoint dict). Returns the new checkpoint."""
    from langgraph.checkpoint.base import uuid6

    versions = dict(parent["channel_versions"]) if parent else {}
    new_versions = {"messages": saver.get_next_version(versions.get("messages"), None)}
    versions.update(new_versions)
    checkpoint = {"v": 4, "id": str(uuid6(clock_seq=i)), "ts": "2026-01-01T00:00:00+00:00",
                  "channel_values": {"messages": messages}, "channel_versions": versions,
                  "versions_seen": {}, "updated_channels": list(new_versions)}
    cfg = {"configurable": {"thread_id": "chat", "checkpoint_ns": "", **({"checkpoint_id": parent["id"]} if parent else {})}}
    saver.put(cfg, checkpoint, {"source": "loop", "step": i, "parents": {}}, new_versions)
    return checkpoint


def _chat_steps(saver, steps: int, after_step=None) -> None:
    """``steps`` chat steps of thread ``chat``, one message ``m<i>`` more each;
    ``after_step(i)`` runs after step ``i``."""
    from langchain_core.messages import HumanMessage

    messages, parent = [], None
    for i in range(steps):
        messages = [*messages, HumanMessage(f"m{i}", id=f"m{i}")]
        parent = _chat_put(saver, messages, parent, i)
        if after_step is not None:
            after_step(i)


def test_a_resumed_thread_does_not_resend_its_list_elements(s3_server):
    """A process that read the latest checkpoint through the head holds every element of its
    lists: its next put sends only what is new (element, manifest, record; the head follows)."""
    from langchain_core.messages import HumanMessage

    from langgraph_ckpt_config.saver import ConfigCheckpointSaver

    writer = _manager(s3_server.endpoint_url)
    _chat_steps(ConfigCheckpointSaver(writer), 30)
    writer.close()
    resumed = ConfigCheckpointSaver(_cold(writer))
    latest = resumed.get_tuple({"configurable": {"thread_id": "chat", "checkpoint_ns": ""}}).checkpoint
    sent = _count_requests(resumed.manager)
    _chat_put(resumed, [*latest["channel_values"]["messages"], HumanMessage("new", id="new")], latest, 30)
    assert sent == ["PutObject"] * 3, sent  # element, manifest, record: not one PUT per stored element
    reader = ConfigCheckpointSaver(_cold(writer))
    got = reader.get_tuple({"configurable": {"thread_id": "chat", "checkpoint_ns": ""}}).checkpoint
    assert [msg.id for msg in got["channel_values"]["messages"]] == [f"m{i}" for i in range(30)] + ["new"]
    reader.manager.close()
    resumed.manager.close()


def test_a_cold_reader_takes_the_elements_of_an_older_head(s3_server, monkeypatch):
    """Before the head caught up with the latest checkpoint, a cold reader still takes the list
    elements the older head holds (a digest names one value) and GETs only the newer ones."""

    from langgraph_ckpt_config.managers import s3 as s3_module
    from langgraph_ckpt_config.saver import ConfigCheckpointSaver

    monkeypatch.setattr(s3_module, "_HEAD_FLUSH_DELAY", 3600.0)
    writer = _manager(s3_server.endpoint_url)
    # the head holds m0..m36; m37..m39 are newer
    _chat_steps(ConfigCheckpointSaver(writer), 40, lambda i: writer.flush_heads() if i == 36 else None)
    reader = ConfigCheckpointSaver(_cold(writer))
    sent = _count_requests(reader.manager)
    got = reader.get_tuple({"configurable": {"thread_id": "chat", "checkpoint_ns": ""}}).checkpoint
    assert [msg.id for msg in got["channel_values"]["messages"]] == [f"m{i}" for i in range(40)]
    # LIST || GET head, GET record, then only what the head lacks: 3 elements and the node grouping m32..m39
    assert sent.count("ListObjectsV2") == 1 and sent.count("GetObject") <= 2 + 3 + 1, sent
    reader.manager.close()
    writer.close()


def test_one_call_s_writes_are_one_object(s3_server, monkeypatch):
    """The insert-if-absent writes of one put_writes call are one object (one PUT): a retry of
    the call is refused whole; a racing writer of the same task with another write set gets
    another key, and every reader keeps, per (task, idx), the write of the first key. Single
    write objects (a one-write call, special writes, data of the earlier layout) read alike."""
    from langgraph_ckpt_config.managers import s3 as s3_module

    monkeypatch.setattr(s3_module, "_HEAD_FLUSH_DELAY", 3600.0)
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001")
    calls = _count_requests(m)

    def call(task, datas, replace=False, first=0):
        m.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id="001", replace=replace,
                               writes=[(task, first + i, "c", "bytes", d, "") for i, d in enumerate(datas)])

    call("a", [b"a0", b"a1", b"a2"])
    assert calls == ["PutObject"]
    call("a", [b"retry0", b"retry1", b"retry2"])  # a retry: refused whole
    call("a", [b"race0", b"race1"])  # another write set of the same task
    call("b", [b"b0"])  # one write: one object as before
    call("s", [b"stop"], replace=True, first=-3)  # special: one object per write, replaced
    call("s", [b"stop again"], replace=True, first=-3)
    # the earlier layout: one object per regular write
    prefix = m._writes_prefix("t", "", "001")
    m._put(f"{prefix}old.0", s3_module._pack(["old", 0, "c", "bytes", *m._seal(b"o0", m._write_aad("t", "", "001", "old", 0)), ""]))
    rel = sorted(k[len(prefix):] for k in _all_keys(m) if k.startswith(prefix))
    assert rel == ["a.0+2", "a.0+3", "b.0", "old.0", "s.-3"]

    def seen(manager):
        return sorted((w.task_id, w.idx, w.data) for w in manager.get_langgraph_bundle("t", "", "001").writes)

    expected = [("a", 0, b"race0"), ("a", 1, b"race1"), ("a", 2, b"a2"), ("b", 0, b"b0"), ("old", 0, b"o0"), ("s", -3, b"stop again")]
    reader = _cold(m)
    assert seen(m) == seen(reader) == expected
    assert sorted((w.task_id, w.idx) for w in reader._read_writes("t", "", "001")) == [(t, i) for t, i, _ in expected]
    assert reader.verify_checkpoint("001", thread_id="t")
    reader.copy_thread("t", "t2")
    assert sorted((w.task_id, w.idx, w.data) for w in reader.get_langgraph_bundle("t2", "", "001").writes) == expected
    reader.close()
    m.close()


def test_deferred_jobs_keep_the_first_due_time_and_never_raise(caplog):
    """The worker behind the deferred heads, without a server and without timing: a key
    scheduled again replaces its job (one run), cancel drops it, run_pending/close run what is
    pending on the caller's thread, a failing job is logged, not raised."""
    from langgraph_ckpt_config.managers.deferred import DeferredJobs

    jobs = DeferredJobs(3600.0, "test-deferred")
    ran: list[str] = []
    jobs.schedule("a", lambda: ran.append("a1"))
    due = jobs._jobs["a"][0]
    jobs.schedule("a", lambda: ran.append("a2"))
    assert jobs.pending() == 1 and jobs._jobs["a"][0] == due  # replaced, same due time
    jobs.schedule("b", lambda: ran.append("b"))
    jobs.cancel("b")
    jobs.schedule(("t", "x"), lambda: 1 / 0)
    jobs.run_pending()
    assert ran == ["a2"] and jobs.pending() == 0
    assert "a deferred job failed: ZeroDivisionError" in caplog.text
    jobs.schedule("c", lambda: ran.append("c"))
    jobs.cancel_where(lambda k: k == "nothing")
    jobs.close()
    assert ran == ["a2", "c"]
    jobs.schedule("d", lambda: ran.append("d"))  # closed: ignored
    assert jobs.pending() == 0 and ran == ["a2", "c"]


def test_a_key_prefix_must_be_a_folder_so_deployments_cannot_overlap():
    """With "tenant1" and "tenant10" side by side, tenant1's thread "0alice" would be tenant10's
    thread "alice": listed, read and deleted by both. A prefix must end with "/" (or be empty)."""
    from langgraph_ckpt_config.errors import ConfigError

    with pytest.raises(ConfigError, match="key_prefix: .*must be empty or end with '/'"):
        S3CheckpointManager({"bucket": "b", "key_prefix": "tenant1"})
    for ok in ("", "tenant1/", "a/b/"):
        assert S3CheckpointManager({"bucket": "b", "key_prefix": ok, "cleanup_interval": 0}).params.key_prefix == ok
