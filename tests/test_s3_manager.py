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


def _manager(endpoint: str, **params) -> S3CheckpointManager:
    m = S3CheckpointManager({
        "bucket": "lgckpt-s3-tests", "endpoint_url": endpoint, "create_bucket": True,
        "key_prefix": f"p/{uuid.uuid4().hex}/", "cleanup_interval": 0, **CREDS, **params,
    })
    m.initialize()
    return m


def _put(m, thread, cid, value=b"v", parent=None, ns=""):
    m.put_langgraph_checkpoint(
        thread_id=thread, checkpoint_ns=ns, checkpoint_id=cid, parent_checkpoint_id=parent, workflow_id=None,
        created_at=time.time(), payload_type="bytes", payload=b"payload-" + cid.encode()[:50], metadata={"step": 1},
        channel_versions={"c": cid}, blobs=[("c", cid, "bytes", value)],
    )


def _all_keys(m) -> list[str]:
    return list(m._list(""))


def test_hostile_ids_stay_inside_the_prefix(s3_server):
    m = _manager(s3_server.endpoint_url)
    hostile = ["../../x", "a/b", "%2F", "*", "ünï", "x" * 1024, "~h" + "0" * 64]
    for tid in hostile:
        _put(m, tid, "001")
    keys = _all_keys(m)
    assert keys and all(k.startswith(m._prefix) and ".." not in k.split("/") for k in keys)
    assert all(len(k.encode()) <= 1024 for k in keys)
    assert sorted(m.list_thread_ids()) == sorted(hostile)
    for tid in hostile:
        assert m.get_langgraph_bundle(tid).record.thread_id == tid
    m.delete_thread("a/b")
    assert m.get_langgraph_bundle("a/b") is None and m.get_langgraph_bundle("../../x") is not None
    m.close()


def test_latest_and_limited_listing_read_only_what_they_return(s3_server):
    m = _manager(s3_server.endpoint_url)
    parent = None
    for i in range(120):
        cid = f"{i:05}"
        _put(m, "long", cid, parent=parent)
        parent = cid
    calls: list[str] = []
    m._client.meta.events.register("before-call.s3", lambda model, **kw: calls.append(model.name))
    assert m.get_langgraph_bundle("long").record.checkpoint_id == "00119"
    assert calls.count("ListObjectsV2") == 2 and calls.count("GetObject") == 2  # head list+get, writes list, blob get
    calls.clear()
    got = m.query_records(RecordQuery(thread_id="long", checkpoint_ns="", before_id="00050", limit=5, include_payload=False))
    assert [r.checkpoint_id for r in got] == ["00049", "00048", "00047", "00046", "00045"]
    assert calls.count("ListObjectsV2") == 1 and calls.count("GetObject") == 5
    m.close()


def test_crash_between_puts_leaves_store_readable(s3_server):
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001", b"first")
    # A writer that died after its blob PUT but before the record PUT:
    blob_key = m._blob_key("t", "", "c", "002")
    m._put(blob_key, b"\x93\xa5bytes\xc4\x01x\xa0")
    assert m.get_langgraph_bundle("t").record.checkpoint_id == "001"  # never a half checkpoint
    # A record whose blob vanished is reported, not returned half-empty by verify:
    _put(m, "t", "003", b"third", parent="001")
    m._delete_keys([m._blob_key("t", "", "c", "003")])
    assert m.verify_checkpoint("003", thread_id="t") is False
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
    with pytest.raises(BackendUnavailableError, match="lgckpt-s3-tests"):
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
    m.close()


def test_regular_writes_are_insert_if_absent_via_conditional_put(s3_server):
    m = _manager(s3_server.endpoint_url)
    _put(m, "t", "001")
    for data in (b"first", b"second"):
        m.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", 0, "c", "bytes", data, "")], replace=False)
    assert [w.data for w in m.get_langgraph_bundle("t").writes] == [b"first"]
    m.close()
