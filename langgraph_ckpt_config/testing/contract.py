"""The manager contract suite: what every ``ICheckpointManager`` must do.

Shipped inside the package (like fsspec's abstract tests) so a plugin author runs
exactly the suite our own backends pass::

    import pytest
    from langgraph_ckpt_config.testing.contract import ManagerContract

    class TestMyBackend(ManagerContract):
        @pytest.fixture
        def manager_factory(self, tmp_path):
            made = []
            def make(**overrides):
                m = MyManager({"root": str(tmp_path), **overrides})
                m.initialize()
                made.append(m)
                return m
            yield make
            for m in made:
                m.close()

``manager_factory(**overrides)`` must return an initialized manager whose storage is
shared by every manager it makes during one test (same file, prefix, bucket...) and
empty at the start of the test. ``overrides`` are manager parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import threading
import time
from typing import Any

import pytest

from langgraph_ckpt_config.errors import (
    AmbiguousCheckpointError,
    CheckpointExistsError,
    CheckpointNotFoundError,
    CodecError,
    EncryptionError,
    IntegrityError,
    InvalidInputError,
    ManagerNotInitializedError,
)
from langgraph_ckpt_config.managers.interfaces import CheckpointStatus, RecordKind
from langgraph_ckpt_config.managers.records import RecordQuery

HOSTILE_IDS = [
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "a/b",
    "a\\b",
    "*",
    "a*",
    "?",
    "[ab]",
    "{tag}",
    "%2F",
    "%",
    "it's \"quoted\"",
    "with space",
    "colon:sep",
    "ünïcødé-线程-🙂",
    "x" * 1024,
]

CODEC_CASES = [
    pytest.param({"compression_enabled": False}, id="plain"),
    pytest.param({"compression_enabled": True, "compression_algorithm": "gzip", "compression_min_size": 0}, id="gzip"),
    pytest.param({"compression_enabled": True, "compression_algorithm": "lz4", "compression_min_size": 0}, id="lz4"),
    pytest.param({"compression_enabled": True, "compression_algorithm": "zstd", "compression_min_size": 0}, id="zstd"),
    pytest.param({"serialization_format": "json"}, id="json"),
    pytest.param({"serialization_format": "msgpack"}, id="msgpack"),
    pytest.param("encrypted", id="aes-gcm"),
    pytest.param("encrypted+zstd", id="aes-gcm+zstd"),
]

SAMPLE = {"messages": ["hello", "world"], "count": 2, "nested": {"ok": True, "pi": 3.25}, "none": None}


def _encryption(spec: str) -> dict[str, Any]:
    return {"client_encryption": {"enabled": True, "keys": spec}}


def _key_spec(key_id: str) -> str:
    from langgraph_ckpt_config.codecs import generate_key_spec

    return generate_key_spec(key_id)


def _codec_overrides(case: Any) -> dict[str, Any]:
    if case == "encrypted":
        return _encryption(_key_spec("k1"))
    if case == "encrypted+zstd":
        return {
            **_encryption(_key_spec("k1")),
            "compression_enabled": True,
            "compression_algorithm": "zstd",
            "compression_min_size": 0,
        }
    return dict(case)


def _lg_put(manager, thread_id: str, checkpoint_id: str, *, ns: str = "", parent: str | None = None,
            channels: dict[str, bytes] | None = None, versions: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None, payload: bytes = b"checkpoint-payload") -> None:
    """Store a LangGraph-shaped record with arbitrary payload bytes."""
    channels = channels or {}
    versions = versions or {ch: f"v-{checkpoint_id}" for ch in channels}
    manager.put_langgraph_checkpoint(
        thread_id=thread_id,
        checkpoint_ns=ns,
        checkpoint_id=checkpoint_id,
        parent_checkpoint_id=parent,
        workflow_id=None,
        created_at=time.time(),
        payload_type="bytes",
        payload=payload,
        metadata=metadata or {"source": "loop", "step": 1},
        channel_versions=versions,
        blobs=[(ch, versions[ch], "bytes", raw) for ch, raw in channels.items()],
    )


def _corrupt_payload(manager, thread_id: str, checkpoint_id: str, ns: str = "") -> None:
    """Flip one stored byte of a record through the storage primitives (any backend)."""
    rec = manager._read_record(thread_id, ns, checkpoint_id)
    assert rec is not None and rec.payload
    flipped = bytearray(rec.payload)
    flipped[-1] ^= 0xFF
    manager._write_checkpoint(dataclasses.replace(rec, payload=bytes(flipped)), [])


class ManagerContract:
    """Behaviour every manager must have. Subclass and provide ``manager_factory``."""

    @pytest.fixture
    def manager(self, manager_factory):
        return manager_factory()

    # ------------------------------------------------------------------ save / load
    def test_save_and_load_dict(self, manager):
        meta = manager.save_checkpoint("c1", SAMPLE, "wf", "t1", metadata={"k": "v"}, tags=["a"])
        assert meta.checkpoint_id == "c1" and meta.thread_id == "t1" and meta.workflow_id == "wf"
        assert meta.size and meta.size > 0
        assert meta.checksum and ":" in meta.checksum
        assert meta.tags == ["a"] and meta.metadata == {"k": "v"}
        assert manager.load_checkpoint("c1") == SAMPLE
        assert manager.load_checkpoint("c1", thread_id="t1") == SAMPLE

    def test_save_bytes_and_file_objects(self, manager):
        blob = bytes(range(256)) * 10
        manager.save_checkpoint("b1", blob, "wf", "t1")
        manager.save_checkpoint("b2", io.BytesIO(blob), "wf", "t1")
        assert manager.load_checkpoint("b1") == blob
        assert manager.load_checkpoint("b2") == blob

    def test_save_overwrites_same_id(self, manager):
        manager.save_checkpoint("c1", {"v": 1}, "wf", "t1")
        manager.save_checkpoint("c1", {"v": 2}, "wf", "t1")
        assert manager.load_checkpoint("c1") == {"v": 2}
        assert len(manager.list_checkpoints(thread_id="t1")) == 1

    @pytest.mark.parametrize("codec", CODEC_CASES)
    def test_codec_combinations_round_trip(self, manager_factory, codec):
        m = manager_factory(**_codec_overrides(codec))
        big = {"text": "abc" * 5000, "n": list(range(100))}
        m.save_checkpoint("c", big, "wf", "t")
        m.save_checkpoint("raw", b"\x00\x01" * 3000, "wf", "t")
        assert m.load_checkpoint("c") == big
        assert m.load_checkpoint("raw") == b"\x00\x01" * 3000
        assert m.verify_checkpoint("c")

    def test_records_stay_readable_after_codec_change(self, manager_factory):
        first = manager_factory(compression_enabled=True, compression_algorithm="zstd", compression_min_size=0)
        big = {"text": "compressible " * 200}
        first.save_checkpoint("c", big, "wf", "t")
        from langgraph_ckpt_config.codecs import CodecPipeline

        # The reader follows each record's header, not today's config.
        first.pipeline = CodecPipeline.from_parameters(
            {"compression_enabled": True, "compression_algorithm": "gzip", "compression_min_size": 0}
        )
        assert first.load_checkpoint("c") == big
        first.save_checkpoint("d", big, "wf", "t")
        assert first.pipeline.describe(first._read_record("t", "", "d").payload)["compression"] == "gzip"
        assert first.pipeline.describe(first._read_record("t", "", "c").payload)["compression"] == "zstd"

    def test_bad_data_types_rejected(self, manager):
        with pytest.raises(InvalidInputError):
            manager.save_checkpoint("c", 12345, "wf", "t")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            manager.save_checkpoint("", {"a": 1}, "wf", "t")
        with pytest.raises(InvalidInputError):
            manager.save_checkpoint("c", {"a": 1}, "wf", "")
        with pytest.raises(InvalidInputError):
            manager.save_checkpoint("c", {"a": 1}, "wf", "t", metadata={"x": object()})
        assert manager.list_checkpoints() == []

    def test_serialization_disabled_requires_bytes(self, manager_factory):
        m = manager_factory(serialization_enabled=False)
        with pytest.raises(InvalidInputError, match="serialization"):
            m.save_checkpoint("c", {"a": 1}, "wf", "t")
        m.save_checkpoint("c", b"raw", "wf", "t")
        assert m.load_checkpoint("c") == b"raw"

    def test_json_serialization_rejects_bytes_clearly(self, manager_factory):
        m = manager_factory(serialization_format="json")
        with pytest.raises(CodecError, match="(?i)msgpack"):
            m.save_checkpoint("c", {"b": b"\x00"}, "wf", "t")

    # ------------------------------------------------------------------ unknown ids
    def test_unknown_ids(self, manager):
        with pytest.raises(CheckpointNotFoundError, match="nope"):
            manager.load_checkpoint("nope")
        with pytest.raises(CheckpointNotFoundError, match="t9"):
            manager.load_checkpoint("nope", thread_id="t9")
        assert manager.delete_checkpoint("nope") is False
        assert manager.get_checkpoint_metadata("nope") is None
        assert manager.update_checkpoint_metadata("nope", {"a": 1}) is False
        assert manager.archive_checkpoint("nope") is False
        assert manager.restore_checkpoint("nope") is False
        with pytest.raises(CheckpointNotFoundError):
            manager.verify_checkpoint("nope")

    def test_ambiguous_bare_id(self, manager):
        manager.save_checkpoint("same", {"t": 1}, "wf", "t1")
        manager.save_checkpoint("same", {"t": 2}, "wf", "t2")
        with pytest.raises(AmbiguousCheckpointError, match="thread_id"):
            manager.load_checkpoint("same")
        assert manager.load_checkpoint("same", thread_id="t2") == {"t": 2}

    # ------------------------------------------------------------------ delete / list
    def test_delete(self, manager):
        manager.save_checkpoint("c1", {"a": 1}, "wf", "t1")
        manager.save_checkpoint("c2", {"a": 2}, "wf", "t1")
        assert manager.delete_checkpoint("c1") is True
        assert manager.delete_checkpoint("c1") is False
        assert [m.checkpoint_id for m in manager.list_checkpoints(thread_id="t1")] == ["c2"]

    def test_list_filters_and_paging(self, manager):
        for i in range(6):
            manager.save_checkpoint(
                f"c{i}", {"i": i}, "wf-even" if i % 2 == 0 else "wf-odd", f"t{i % 3}", tags=["x"] if i < 3 else ["y"]
            )
            time.sleep(0.002)
        ids = [m.checkpoint_id for m in manager.list_checkpoints()]
        assert ids == ["c5", "c4", "c3", "c2", "c1", "c0"]  # newest first
        assert [m.checkpoint_id for m in manager.list_checkpoints(workflow_id="wf-even")] == ["c4", "c2", "c0"]
        assert [m.checkpoint_id for m in manager.list_checkpoints(thread_id="t1")] == ["c4", "c1"]
        assert [m.checkpoint_id for m in manager.list_checkpoints(tags=["y"])] == ["c5", "c4", "c3"]
        assert [m.checkpoint_id for m in manager.list_checkpoints(limit=2)] == ["c5", "c4"]
        assert [m.checkpoint_id for m in manager.list_checkpoints(limit=2, offset=2)] == ["c3", "c2"]
        assert manager.list_checkpoints(limit=0) == []
        manager.archive_checkpoint("c3")
        assert [m.checkpoint_id for m in manager.list_checkpoints(status=CheckpointStatus.ARCHIVED)] == ["c3"]
        with pytest.raises(InvalidInputError):
            manager.list_checkpoints(limit=-1)

    # ------------------------------------------------------------------ metadata / status
    def test_metadata_get_and_update(self, manager):
        manager.save_checkpoint("c1", {"a": 1}, "wf", "t1", metadata={"a": 1})
        assert manager.update_checkpoint_metadata("c1", {"b": 2}) is True
        meta = manager.get_checkpoint_metadata("c1")
        assert meta is not None and meta.metadata == {"a": 1, "b": 2}
        assert meta.status is CheckpointStatus.ACTIVE
        assert meta.to_dict()["status"] == "active"

    def test_archive_and_restore(self, manager):
        manager.save_checkpoint("c1", {"a": 1}, "wf", "t1")
        assert manager.archive_checkpoint("c1") is True
        assert manager.get_checkpoint_metadata("c1").status is CheckpointStatus.ARCHIVED
        assert manager.load_checkpoint("c1") == {"a": 1}  # archived stays readable
        assert manager.cleanup_checkpoints(max_age=0) == 0  # and retention keeps it
        assert manager.restore_checkpoint("c1") is True
        assert manager.get_checkpoint_metadata("c1").status is CheckpointStatus.ACTIVE

    # ------------------------------------------------------------------ retention
    def test_cleanup_max_age_and_count(self, manager):
        for i in range(5):
            manager.save_checkpoint(f"c{i}", {"i": i}, "wf", "t1")
            time.sleep(0.002)
        assert manager.cleanup_checkpoints(max_age=3600) == 0
        plan = manager.plan_cleanup(max_count=2)
        assert plan["removed"] == 3 and plan["dry_run"] is True
        assert len(manager.list_checkpoints()) == 5  # a plan removes nothing
        assert manager.cleanup_checkpoints(max_count=2) == 3
        assert [m.checkpoint_id for m in manager.list_checkpoints()] == ["c4", "c3"]
        assert manager.cleanup_checkpoints(max_age=0) == 2
        assert manager.list_checkpoints() == []

    def test_background_cleanup_applies_policy_and_stops(self, manager_factory):
        m = manager_factory(max_checkpoints=2, cleanup_threshold=100, cleanup_interval=0.2)
        for i in range(5):
            m.save_checkpoint(f"c{i}", {"i": i}, "wf", "t1")
            time.sleep(0.002)
        deadline = time.time() + 10
        while time.time() < deadline and len(m.list_checkpoints()) > 2:
            time.sleep(0.1)
        assert [x.checkpoint_id for x in m.list_checkpoints()] == ["c4", "c3"]
        worker = m._cleanup_thread
        assert worker is not None and worker.is_alive()
        m.close()
        assert not worker.is_alive()

    def test_retention_keeps_langgraph_head_and_resumable_chain(self, manager):
        parent = None
        for i in range(6):
            cid = f"00{i}"
            _lg_put(manager, "lg", cid, parent=parent, channels={"messages": f"m{i}".encode()})
            parent = cid
        removed = manager.cleanup_checkpoints(max_count=2)
        assert removed == 4
        bundle = manager.get_langgraph_bundle("lg")
        assert bundle is not None and bundle.record.checkpoint_id == "005"
        assert bundle.blobs[("messages", "v-005")][1] == b"m5"
        # no blob left that no checkpoint references
        kept_versions = {("", "messages", "v-005"), ("", "messages", "v-004")}
        assert set(manager._list_blob_keys("lg")) == kept_versions

    def test_prune_keeps_delta_ancestors(self, manager):
        # c2 and c3 carry counters for delta channel "d": they are rebuilt from ancestors up to c1 (snapshot).
        _lg_put(manager, "d", "c0", metadata={"step": 0})
        _lg_put(manager, "d", "c1", parent="c0", metadata={"step": 1})
        _lg_put(manager, "d", "c2", parent="c1", metadata={"step": 2, "counters_since_delta_snapshot": {"d": [1, 1]}})
        _lg_put(manager, "d", "c3", parent="c2", metadata={"step": 3, "counters_since_delta_snapshot": {"d": [2, 2]}})
        manager.prune_thread("d", keep_last=1)
        left = sorted(r.checkpoint_id for r in manager.query_records(RecordQuery(thread_id="d", include_payload=False)))
        assert left == ["c1", "c2", "c3"]

    @pytest.mark.parametrize("path", ["prune", "cleanup", "max_checkpoints"])
    def test_retention_keeps_archived_checkpoints_delta_history(self, manager_factory, path):
        # d is snapshotted at c1 and c4; c3 (archived) is rebuilt from c2 and c1 as c6 is from c5 and c4.
        m = manager_factory(max_checkpoints=1) if path == "max_checkpoints" else manager_factory()
        counters = {"c2": [1, 1], "c3": [2, 2], "c5": [1, 1], "c6": [2, 2]}
        parent = None
        for i in range(7):
            cid = f"c{i}"
            md = {"step": i, **({"counters_since_delta_snapshot": {"d": counters[cid]}} if cid in counters else {})}
            _lg_put(m, "d", cid, parent=parent, metadata=md)
            parent = cid
            if cid == "c3":
                assert m.archive_checkpoint("c3", thread_id="d")
        if path == "prune":
            m.prune_thread("d", keep_last=1)
        elif path == "cleanup":
            m.cleanup_checkpoints(max_count=1)
        left = sorted(r.checkpoint_id for r in m.query_records(RecordQuery(thread_id="d", include_payload=False)))
        assert left == ["c1", "c2", "c3", "c4", "c5", "c6"]

    def test_prune_keeps_what_kept_ancestors_need(self, manager):
        # Two delta channels: c5 needs a back to c3; c3 (so kept, and listed) needs b back to c1.
        chain = [("c0", {}), ("c1", {}), ("c2", {"b": [1, 1]}), ("c3", {"b": [2, 2]}),
                 ("c4", {"a": [1, 1], "b": [3, 3]}), ("c5", {"a": [2, 2]})]
        parent = None
        for cid, counters in chain:
            md = {"step": int(cid[1:]), **({"counters_since_delta_snapshot": counters} if counters else {})}
            _lg_put(manager, "d", cid, parent=parent, metadata=md)
            parent = cid
        manager.prune_thread("d", keep_last=1)
        left = sorted(r.checkpoint_id for r in manager.query_records(RecordQuery(thread_id="d", include_payload=False)))
        assert left == ["c1", "c2", "c3", "c4", "c5"]

    @pytest.mark.parametrize("mode", ["sync", "async"])
    async def test_max_checkpoints_trims_every_thread_namespace(self, manager_factory, mode):
        """Trim-on-write is per (thread, namespace): threads written in turn are all kept at
        ``max_checkpoints`` (with ``cleanup_threshold`` unset, after every write)."""
        m = manager_factory(max_checkpoints=3)
        keys = [(f"t{i}", ns) for i in range(4) for ns in ("", "child:1")]
        heads: dict[tuple[str, str], str | None] = dict.fromkeys(keys)
        for step in range(20):
            for tid, ns in keys:
                cid = f"{step:04d}"
                kwargs = dict(
                    thread_id=tid, checkpoint_ns=ns, checkpoint_id=cid, parent_checkpoint_id=heads[(tid, ns)],
                    workflow_id=None, created_at=time.time(), payload_type="bytes", payload=b"p",
                    metadata={"step": step}, channel_versions={"a": cid}, blobs=[("a", cid, "bytes", cid.encode())],
                )
                if mode == "sync":
                    m.put_langgraph_checkpoint(**kwargs)
                else:
                    await m.aput_langgraph_checkpoint(**kwargs)
                heads[(tid, ns)] = cid
        for tid, ns in keys:
            got = sorted(r.checkpoint_id for r in m.query_records(RecordQuery(thread_id=tid, checkpoint_ns=ns, include_payload=False)))
            assert got == ["0017", "0018", "0019"], (tid, ns)
            assert m.get_langgraph_bundle(tid, ns).blobs[("a", "0019")][1] == b"0019"

    def test_close_during_background_cleanup_is_quiet(self, manager_factory, caplog):
        """close() while the worker is in a pass: the pass ends without reporting a failure."""
        m = manager_factory(max_checkpoints=1, cleanup_threshold=100, cleanup_interval=0.05)
        armed = threading.Event()
        blocked = threading.Event()
        real_ids, real_query = m._list_thread_ids, m._query_records

        def list_thread_ids():
            if threading.current_thread() is m._cleanup_thread and not armed.is_set():
                return iter(())  # no pass does anything before the test is ready
            return real_ids()

        def query_records(query):
            if threading.current_thread() is m._cleanup_thread and not blocked.is_set():
                blocked.set()
                deadline = time.time() + 10
                while not m._closed and time.time() < deadline:  # go on once close() has begun
                    time.sleep(0.005)
            return real_query(query)

        m._list_thread_ids, m._query_records = list_thread_ids, query_records
        for i in range(3):
            m.save_checkpoint(f"c{i}", {"i": i}, "wf", "t1")
        worker = m._cleanup_thread
        armed.set()
        assert blocked.wait(10)
        caplog.clear()
        m.close()
        assert not worker.is_alive()
        assert [r.getMessage() for r in caplog.records if r.levelno >= 30] == []

    # ------------------------------------------------------------------ integrity
    def test_verify_detects_tampering(self, manager):
        manager.save_checkpoint("c1", SAMPLE, "wf", "t1")
        assert manager.verify_checkpoint("c1") is True
        _corrupt_payload(manager, "t1", "c1")
        assert manager.verify_checkpoint("c1") is False
        assert manager.get_checkpoint_metadata("c1").status is CheckpointStatus.CORRUPTED
        with pytest.raises(IntegrityError):
            manager.load_checkpoint("c1")
        with pytest.raises(IntegrityError):
            manager.restore_checkpoint("c1")

    def test_tampered_record_never_returned_even_unverified(self, manager):
        manager.save_checkpoint("c1", SAMPLE, "wf", "t1")
        _corrupt_payload(manager, "t1", "c1")
        with pytest.raises((IntegrityError, CodecError)):
            manager.load_checkpoint("c1")

    def test_verify_langgraph_checks_blobs_and_writes(self, manager):
        _lg_put(manager, "lg", "001", channels={"a": b"1", "b": b"2"})
        manager.put_langgraph_writes(
            thread_id="lg", checkpoint_ns="", checkpoint_id="001",
            writes=[("task", 0, "a", "bytes", b"w", "")], replace=False,
        )
        report = manager.verify_report("001", thread_id="lg")
        assert report["problems"] == []
        manager._delete_blobs("lg", [("", "b", "v-001")])
        report = manager.verify_report("001", thread_id="lg")
        assert any("missing" in p for p in report["problems"])

    def test_wrong_decryption_key(self, manager_factory):
        m = manager_factory(**_encryption(_key_spec("k1")))
        m.save_checkpoint("c1", SAMPLE, "wf", "t1")
        from langgraph_ckpt_config.codecs import CodecPipeline, KeyRing

        m.pipeline = CodecPipeline(keyring=KeyRing.from_spec(_key_spec("k1")), require_encryption=True)
        with pytest.raises(EncryptionError):
            m.load_checkpoint("c1")

    def test_key_rotation(self, manager_factory):
        old = _key_spec("k1")
        m = manager_factory(**_encryption(old))
        m.save_checkpoint("c1", SAMPLE, "wf", "t1")
        from langgraph_ckpt_config.codecs import CodecPipeline, KeyRing

        m.pipeline = CodecPipeline(keyring=KeyRing.from_spec(_key_spec("k2") + "," + old), require_encryption=True)
        assert m.load_checkpoint("c1") == SAMPLE
        m.save_checkpoint("c2", SAMPLE, "wf", "t1")
        assert m.pipeline.describe(m._read_record("t1", "", "c2").payload)["key_id"] == "k2"

    def test_ciphertext_moved_to_another_record_fails(self, manager_factory):
        m = manager_factory(**_encryption(_key_spec("k1")))
        m.save_checkpoint("c1", {"secret": 1}, "wf", "t1")
        m.save_checkpoint("c2", {"secret": 2}, "wf", "t1")
        r1 = m._read_record("t1", "", "c1")
        r2 = m._read_record("t1", "", "c2")
        m._write_checkpoint(dataclasses.replace(r2, payload=r1.payload, checksum=r1.checksum), [])
        with pytest.raises(EncryptionError):
            m.load_checkpoint("c2")

    def test_plaintext_refused_when_encryption_required(self, manager_factory):
        plain = manager_factory()
        plain.save_checkpoint("c1", SAMPLE, "wf", "t1")
        from langgraph_ckpt_config.codecs import CodecPipeline, KeyRing

        plain.pipeline = CodecPipeline(keyring=KeyRing.from_spec(_key_spec("k1")), require_encryption=True)
        with pytest.raises(EncryptionError):
            plain.load_checkpoint("c1")

    # ------------------------------------------------------------------ hostile ids
    @pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=lambda s: repr(s[:12]))
    def test_hostile_ids_are_isolated(self, manager, hostile):
        manager.save_checkpoint("c-neighbour", {"who": "neighbour"}, "wf", "x")
        manager.save_checkpoint(hostile, {"who": "hostile"}, hostile, hostile, tags=[hostile])
        assert manager.load_checkpoint(hostile, thread_id=hostile) == {"who": "hostile"}
        assert [m.checkpoint_id for m in manager.list_checkpoints(thread_id=hostile)] == [hostile]
        _lg_put(manager, hostile, "001", ns=hostile, channels={hostile: b"v"})
        bundle = manager.get_langgraph_bundle(hostile, hostile)
        assert bundle is not None and bundle.blobs[(hostile, "v-001")][1] == b"v"
        manager.delete_thread(hostile)
        assert manager.list_checkpoints(thread_id=hostile) == []
        assert manager.load_checkpoint("c-neighbour", thread_id="x") == {"who": "neighbour"}

    def test_glob_like_thread_ids_do_not_match_others(self, manager):
        manager.save_checkpoint("c", {"t": "ab"}, "wf", "ab")
        manager.save_checkpoint("c", {"t": "a*"}, "wf", "a*")
        manager.save_checkpoint("c", {"t": "a?"}, "wf", "a?")
        manager.delete_thread("a*")
        manager.delete_thread("a?")
        assert manager.load_checkpoint("c", thread_id="ab") == {"t": "ab"}
        assert [m.thread_id for m in manager.list_checkpoints()] == ["ab"]

    # ------------------------------------------------------------------ export / import
    def test_export_import_round_trip(self, manager, manager_factory, tmp_path):
        manager.save_checkpoint("c1", SAMPLE, "wf", "t1", metadata={"m": 1}, tags=["tag"])
        path = tmp_path / "c1.json"
        assert manager.export_checkpoint("c1", str(path)) is True
        doc = json.loads(path.read_text())
        assert doc["format"] == "langgraph-ckpt-config/export" and doc["version"] == 1
        with pytest.raises(CheckpointExistsError):
            manager.import_checkpoint(str(path))
        assert manager.import_checkpoint(str(path), checkpoint_id="c1-copy") == "c1-copy"
        assert manager.load_checkpoint("c1-copy") == SAMPLE
        manager.delete_checkpoint("c1")
        assert manager.import_checkpoint(str(path)) == "c1"  # original id kept
        assert manager.load_checkpoint("c1") == SAMPLE
        meta = manager.get_checkpoint_metadata("c1")
        assert meta.tags == ["tag"] and meta.metadata == {"m": 1}

    def test_export_between_differently_configured_managers(self, manager_factory, tmp_path):
        src = manager_factory(**_encryption(_key_spec("k1")))
        _lg_put(src, "lg", "001", channels={"a": b"one"})
        _lg_put(src, "lg", "002", parent="001", channels={"a": b"two"})
        src.put_langgraph_writes(thread_id="lg", checkpoint_ns="", checkpoint_id="002",
                                 writes=[("task", 0, "a", "bytes", b"pending", "")], replace=False)
        path = tmp_path / "thread.json"
        src.export_threads(["lg"], str(path))
        dst = manager_factory(compression_enabled=True, compression_algorithm="gzip", compression_min_size=0,
                              client_encryption={"enabled": False})
        if _shares_storage(src, dst):
            dst.delete_thread("lg")
        dst.import_checkpoint(str(path))
        bundle = dst.get_langgraph_bundle("lg")
        assert bundle.record.checkpoint_id == "002" and bundle.record.parent_checkpoint_id == "001"
        assert bundle.blobs[("a", "v-002")][1] == b"two"
        assert [(w.task_id, w.data) for w in bundle.writes] == [("task", b"pending")]

    def test_import_rejects_bad_files(self, manager, tmp_path):
        bad = tmp_path / "bad.json"
        bad.write_text("{not json")
        with pytest.raises(InvalidInputError, match="bad.json"):
            manager.import_checkpoint(str(bad))
        bad.write_text(json.dumps({"format": "other"}))
        with pytest.raises(InvalidInputError, match="format"):
            manager.import_checkpoint(str(bad))
        with pytest.raises(InvalidInputError, match="not found"):
            manager.import_checkpoint(str(tmp_path / "missing.json"))

    def test_damaged_export_is_reported(self, manager, tmp_path):
        manager.save_checkpoint("c1", SAMPLE, "wf", "t1")
        path = tmp_path / "c1.json"
        manager.export_checkpoint("c1", str(path))
        doc = json.loads(path.read_text())
        doc["records"][0]["sha256"] = "0" * 64
        path.write_text(json.dumps(doc))
        manager.delete_checkpoint("c1")
        with pytest.raises(IntegrityError):
            manager.import_checkpoint(str(path))
        assert manager.list_checkpoints() == []

    # ------------------------------------------------------------------ LangGraph record API
    def test_langgraph_latest_and_by_id(self, manager):
        _lg_put(manager, "t", "001", channels={"a": b"1"})
        _lg_put(manager, "t", "003", parent="001", channels={"a": b"3"})
        _lg_put(manager, "t", "002", parent="001", channels={"a": b"2"})
        assert manager.get_langgraph_bundle("t").record.checkpoint_id == "003"
        assert manager.get_langgraph_bundle("t", "", "002").blobs[("a", "v-002")][1] == b"2"
        assert manager.get_langgraph_bundle("t", "other-ns") is None
        assert manager.get_langgraph_bundle("missing") is None
        listed = [b.record.checkpoint_id for b in manager.iter_langgraph_bundles(RecordQuery(thread_id="t"))]
        assert listed == ["003", "002", "001"]
        before = [b.record.checkpoint_id for b in manager.iter_langgraph_bundles(RecordQuery(thread_id="t", before_id="003", limit=1))]
        assert before == ["002"]
        metas = manager.list_checkpoints(thread_id="t")
        assert {m.kind for m in metas} == {RecordKind.LANGGRAPH}
        assert manager.verify_checkpoint("003", thread_id="t")
        view = manager.load_checkpoint("003", thread_id="t")
        assert view["parent_checkpoint_id"] == "001"

    def test_langgraph_writes_idempotent(self, manager):
        _lg_put(manager, "t", "001")
        put = manager.put_langgraph_writes
        put(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", 0, "a", "bytes", b"first", "p")], replace=False)
        put(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", 0, "a", "bytes", b"second", "p")], replace=False)
        put(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", -1, "__error__", "bytes", b"e1", "p")], replace=True)
        put(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", -1, "__error__", "bytes", b"e2", "p")], replace=True)
        writes = manager.get_langgraph_bundle("t").writes
        assert sorted((w.idx, w.data) for w in writes) == [(-1, b"e2"), (0, b"first")]

    def test_copy_thread_and_delete_for_runs(self, manager):
        _lg_put(manager, "src", "001", channels={"a": b"1"}, metadata={"run_id": "r1", "step": 0})
        _lg_put(manager, "src", "002", parent="001", channels={"a": b"2"}, metadata={"run_id": "r2", "step": 1})
        manager.put_langgraph_writes(thread_id="src", checkpoint_ns="", checkpoint_id="002",
                                     writes=[("task", 0, "a", "bytes", b"w", "")], replace=False)
        manager.copy_thread("src", "dst")
        copy = manager.get_langgraph_bundle("dst")
        assert copy.record.checkpoint_id == "002" and copy.blobs[("a", "v-002")][1] == b"2"
        assert [w.data for w in copy.writes] == [b"w"]
        manager.delete_for_runs(["r2"])
        assert manager.get_langgraph_bundle("src").record.checkpoint_id == "001"
        assert manager.get_langgraph_bundle("dst").record.checkpoint_id == "001"
        assert set(manager._list_blob_keys("src")) == {("", "a", "v-001")}

    async def test_delete_for_runs_ignores_missing_run_ids(self, manager):
        """None / "" (what ``metadata.get("run_id")`` gives for a checkpoint written without a
        run id) match nothing, rather than every checkpoint without a run id."""
        _lg_put(manager, "mine", "001", metadata={"step": 0})
        _lg_put(manager, "other", "002", metadata={"step": 0})
        _lg_put(manager, "ran", "003", metadata={"step": 0, "run_id": "r1"})
        _lg_put(manager, "blank", "004", metadata={"step": 0, "run_id": ""})

        def left() -> list[str]:
            return sorted(r.checkpoint_id for r in manager.query_records(RecordQuery(include_payload=False)))

        assert manager.delete_for_runs([None]) == 0
        assert manager.delete_for_runs([""]) == 0
        assert await manager.adelete_for_runs([None, ""]) == 0
        assert left() == ["001", "002", "003", "004"]
        assert await manager.adelete_for_runs([None, "r1"]) == 1
        assert left() == ["001", "002", "004"]

    # ------------------------------------------------------------------ list, then read: races
    def _three_checkpoints(self, manager) -> None:
        for i, parent in (("001", None), ("002", "001"), ("003", "002")):
            _lg_put(manager, "src", i, parent=parent, channels={"a": f"value {i}".encode()})
            manager.put_langgraph_writes(thread_id="src", checkpoint_ns="", checkpoint_id=i,
                                         writes=[("task", 0, "a", "bytes", f"write {i}".encode(), "")], replace=False)

    @pytest.mark.parametrize("operation", ["copy", "export"])
    def test_checkpoints_deleted_while_copied_or_exported_are_left_out_whole(self, manager_factory, operation):
        """Another process prunes the source after the copy (export) listed its checkpoints,
        before it read their values: the pruned ones are left out, not copied without values."""
        manager = manager_factory()
        other = manager_factory()
        other = other if _shares_storage(manager, other) else manager
        self._three_checkpoints(manager)
        with _before_first_value_read(manager, lambda: other.prune_thread("src", keep_last=1)) as fired:
            if operation == "copy":
                manager.copy_thread("src", "dst")
            else:
                doc = manager.export_threads(["src"])
        assert fired
        if operation == "export":
            assert [r["checkpoint_id"] for r in doc["records"]] == ["003"]
            assert [w["checkpoint_id"] for w in doc["writes"]] == ["003"]
            manager.import_document(doc, thread_id="dst")
        copied = manager.query_records(RecordQuery(thread_id="dst", include_payload=False))
        assert [r.checkpoint_id for r in copied] == ["003"]
        assert manager.verify_report("003", thread_id="dst")["problems"] == []
        bundle = manager.get_langgraph_bundle("dst")
        assert bundle.blobs[("a", "v-003")][1] == b"value 003" and [w.data for w in bundle.writes] == [b"write 003"]

    @pytest.mark.parametrize("operation", ["copy", "export"])
    def test_copy_or_export_of_a_checkpoint_missing_values_raises(self, manager, operation):
        """A checkpoint still stored whose value is gone is damage: IntegrityError naming it,
        and nothing of the copy written -- never a copy or file that cannot be read back."""
        self._three_checkpoints(manager)
        manager._delete_blobs("src", [("", "a", "v-002")])
        with pytest.raises(IntegrityError, match=r"'002' of thread 'src'.*channel 'a'"):
            manager.copy_thread("src", "dst") if operation == "copy" else manager.export_threads(["src"])
        assert manager.query_records(RecordQuery(thread_id="dst", include_payload=False)) == []

    def test_a_resumed_import_completes_a_record_stopped_before_its_writes(self, manager):
        """``import_document(skip_existing=True)`` (``lgckpt migrate``) stopped after a record was
        written, before its pending writes: the re-run skips the record but imports its writes,
        insert-if-absent -- a pending interrupt (a special channel) is not lost."""
        _lg_put(manager, "src", "001", channels={"a": b"1"})
        _lg_put(manager, "src", "002", parent="001", channels={"a": b"2"})
        writes = [("task", 0, "a", "bytes", b"regular", "p"), ("task", -3, "__interrupt__", "bytes", b"ask", "p")]
        manager.put_langgraph_writes(thread_id="src", checkpoint_ns="", checkpoint_id="002", writes=writes[:1], replace=False)
        manager.put_langgraph_writes(thread_id="src", checkpoint_ns="", checkpoint_id="002", writes=writes[1:], replace=True)
        doc = manager.export_threads(["src"])
        original = manager.put_langgraph_writes

        def killed(**kwargs: Any) -> None:
            raise KeyboardInterrupt("killed between the record and its writes")

        manager.put_langgraph_writes = killed
        try:
            with pytest.raises(KeyboardInterrupt):
                manager.import_document(doc, thread_id="dst", skip_existing=True)
        finally:
            del manager.put_langgraph_writes
        assert manager.put_langgraph_writes == original
        assert manager.get_langgraph_bundle("dst").writes == []  # the record is there, its writes are not
        assert manager.import_document(doc, thread_id="dst", skip_existing=True) == []  # nothing left to write...
        copied = sorted((w.task_id, w.idx, w.channel, w.data) for w in manager.get_langgraph_bundle("dst").writes)
        assert copied == [("task", -3, "__interrupt__", b"ask"), ("task", 0, "a", b"regular")]  # ...but its writes
        # a write the target holds already is kept (insert-if-absent, special channels too)
        manager.put_langgraph_writes(thread_id="dst", checkpoint_ns="", checkpoint_id="002",
                                     writes=[("task", -3, "__interrupt__", "bytes", b"newer", "p")], replace=True)
        manager.import_document(doc, thread_id="dst", skip_existing=True)
        assert {w.idx: w.data for w in manager.get_langgraph_bundle("dst").writes} == {-3: b"newer", 0: b"regular"}

    def test_a_checkpoint_deleted_while_it_is_verified_is_not_found_not_corrupted(self, manager_factory):
        """Verification read the record, then a prune removed it with its values: the values
        are missing because the checkpoint is gone, which is not damage (nothing to mark)."""
        manager = manager_factory()
        other = manager_factory()
        other = other if _shares_storage(manager, other) else manager
        self._three_checkpoints(manager)
        with _before_first_value_read(manager, lambda: other.delete_checkpoints("src", [("", "001")])) as fired:
            with pytest.raises(CheckpointNotFoundError, match="deleted while it was verified"):
                manager.verify_report("001", thread_id="src")
        assert fired
        assert manager.verify_report("002", thread_id="src")["problems"] == []
        assert manager.get_statistics()["operations"].get("verification_failures", 0) == 0

    def test_namespaces_are_separate(self, manager):
        _lg_put(manager, "t", "001", ns="", channels={"a": b"root"})
        _lg_put(manager, "t", "002", ns="child:1", channels={"a": b"child"})
        assert manager.get_langgraph_bundle("t", "").record.checkpoint_id == "001"
        assert manager.get_langgraph_bundle("t", "child:1").blobs[("a", "v-002")][1] == b"child"
        manager.delete_thread("t")
        assert manager.get_langgraph_bundle("t", "child:1") is None

    def test_langgraph_metadata_filter(self, manager):
        _lg_put(manager, "t", "001", metadata={"source": "input", "step": -1})
        _lg_put(manager, "t", "002", metadata={"source": "loop", "step": 0})
        _lg_put(manager, "u", "003", metadata={"source": "loop", "step": 1})
        got = [r.checkpoint_id for r in manager.query_records(RecordQuery(metadata={"source": "loop"}, include_payload=False))]
        assert sorted(got) == ["002", "003"]
        got = [r.checkpoint_id for r in manager.query_records(RecordQuery(thread_id="t", metadata={"source": "loop", "step": 0}))]
        assert got == ["002"]

    # ------------------------------------------------------------------ statistics / lifecycle
    def test_statistics(self, manager):
        manager.save_checkpoint("c1", SAMPLE, "wf", "t1")
        manager.save_checkpoint("c2", SAMPLE, "wf", "t2")
        manager.archive_checkpoint("c2")
        manager.load_checkpoint("c1")
        stats = manager.get_statistics()
        assert stats["total_checkpoints"] == 2 and stats["total_threads"] == 2
        assert stats["by_status"] == {"active": 1, "archived": 1}
        assert stats["total_size_bytes"] > 0
        assert stats["operations"]["checkpoints_written"] >= 2
        assert stats["operations"]["checkpoints_read"] >= 1
        json.dumps(stats)

    def test_closed_manager_refuses_work(self, manager):
        manager.save_checkpoint("c1", SAMPLE, "wf", "t1")
        manager.close()
        manager.close()  # idempotent
        with pytest.raises(ManagerNotInitializedError):
            manager.load_checkpoint("c1")

    def test_repr_has_no_secrets(self, manager_factory):
        spec = _key_spec("k1")
        m = manager_factory(**_encryption(spec))
        secret = spec.split(":", 1)[1]
        assert secret not in repr(m) and secret not in str(m.get_statistics())

    def test_concurrent_writers(self, manager):
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    manager.save_checkpoint(f"c{n}-{i}", {"n": n, "i": i}, "wf", f"t{n}")
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(manager.list_checkpoints()) == 80
        assert manager.load_checkpoint("c3-19", thread_id="t3") == {"n": 3, "i": 19}

    async def test_async_twins(self, manager):
        await manager.asave_checkpoint("c1", SAMPLE, "wf", "t1")
        assert await manager.aload_checkpoint("c1") == SAMPLE
        assert [m.checkpoint_id for m in await manager.alist_checkpoints(thread_id="t1")] == ["c1"]
        await manager.aput_langgraph_checkpoint(
            thread_id="lg", checkpoint_ns="", checkpoint_id="001", parent_checkpoint_id=None, workflow_id=None,
            created_at=time.time(), payload_type="bytes", payload=b"p", metadata={}, channel_versions={"a": 1},
            blobs=[("a", 1, "bytes", b"v")],
        )
        bundle = await manager.aget_langgraph_bundle("lg")
        assert bundle.payload == b"p" and bundle.blobs[("a", 1)][1] == b"v"
        await manager.adelete_thread("lg")
        assert await manager.aget_langgraph_bundle("lg") is None


@contextlib.contextmanager
def _before_first_value_read(manager, action):
    """Run ``action`` once, just before ``manager`` first reads channel values (after a copy or
    export listed the records): a deterministic interleaving with another process. Yields a
    list that is non-empty once ``action`` ran."""
    fired: list[bool] = []
    # Redis reads blobs through a plan (``_plan_read_blobs``) in its own copy_thread too
    name = "_plan_read_blobs" if hasattr(manager, "_plan_read_blobs") else "_read_blobs"
    original = getattr(manager, name)

    def fire() -> None:
        if not fired:
            fired.append(True)
            action()

    if name == "_plan_read_blobs":

        def hooked(*args: Any, **kwargs: Any) -> Any:
            fire()
            return (yield from original(*args, **kwargs))

    else:

        def hooked(*args: Any, **kwargs: Any) -> Any:
            fire()
            return original(*args, **kwargs)

    setattr(manager, name, hooked)
    try:
        yield fired
    finally:
        delattr(manager, name)


def _shares_storage(a, b) -> bool:
    """Whether two managers from one factory see the same records."""
    a.save_checkpoint("__probe__", b"x", "wf", "__probe__")
    try:
        return b.get_checkpoint_metadata("__probe__", thread_id="__probe__") is not None
    finally:
        a.delete_thread("__probe__")
