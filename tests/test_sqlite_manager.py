"""SQLite-specific behaviour: durability across instances, WAL, processes, backups, raw tampering."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from langgraph_ckpt_config.errors import BackendUnavailableError, ConfigError, IntegrityError
from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager
from langgraph_ckpt_config.managers.records import RecordQuery
from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager


def _manager(path, **params) -> SqliteCheckpointManager:
    m = SqliteCheckpointManager({"database_path": str(path), "cleanup_interval": 0, **params})
    m.initialize()
    return m


def _put(m, thread_id: str, checkpoint_id: str, *, ns: str = "", metadata=None, versions=None, writes=()) -> None:
    """A LangGraph-shaped checkpoint whose blob and write payloads are arbitrary bytes."""
    versions = versions if versions is not None else {"c": 1}
    m.put_langgraph_checkpoint(
        thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=checkpoint_id, parent_checkpoint_id=None,
        workflow_id=None, created_at=time.time(), payload_type="bytes", payload=b"payload-" + checkpoint_id.encode(),
        metadata=metadata or {}, channel_versions=versions,
        blobs=[(ch, v, "bytes", f"{ch}@{v}".encode()) for ch, v in versions.items()],
    )
    if writes:
        m.put_langgraph_writes(
            thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=checkpoint_id, replace=False,
            writes=[("task", i, ch, "bytes", data, "") for i, (ch, data) in enumerate(writes)],
        )


def _traced(m) -> list[str]:
    """Statements every pooled connection of ``m`` runs from now on."""
    statements: list[str] = []
    for conn in m._connections:
        conn.set_trace_callback(statements.append)
    return statements


def test_survives_a_new_instance_and_uses_wal(tmp_path):
    db = tmp_path / "nested" / "dir" / "c.db"
    with _manager(db) as m:
        m.save_checkpoint("c1", {"a": 1}, "wf", "t1")
    with _manager(db) as m:
        assert m.load_checkpoint("c1") == {"a": 1}
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = conn.execute('SELECT value FROM "workflow_checkpoints_meta" WHERE key = ?', ("schema_version",)).fetchone()[0]
    assert version == "0"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"workflow_checkpoints", "workflow_checkpoints_blobs", "workflow_checkpoints_writes", "workflow_checkpoints_meta"} <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"workflow_checkpoints_idx_workflow_id", "workflow_checkpoints_idx_thread_id", "workflow_checkpoints_idx_timestamp"} <= indexes
    conn.close()


def test_table_name_prefixes_every_table_and_indexes_follow_index_fields(tmp_path):
    db = tmp_path / "named.db"
    with _manager(db, table_name="ckpt_v2", index_fields=["status"]) as m:
        _put(m, "t", "c1", writes=[("w", b"x")])
        assert m.get_langgraph_bundle("t").writes[0].data == b"x"
    conn = sqlite3.connect(db)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"ckpt_v2", "ckpt_v2_blobs", "ckpt_v2_writes", "ckpt_v2_meta", "ckpt_v2_idx_status"} <= names
    assert "ckpt_v2_idx_workflow_id" not in names and "workflow_checkpoints" not in names
    conn.close()
    with _manager(tmp_path / "plain.db", enable_indexes=False) as m:
        m.save_checkpoint("c1", {"a": 1}, "wf", "t")
    conn = sqlite3.connect(tmp_path / "plain.db")
    assert not [r for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'") if "_idx_" in r[0] and "checkpoint_id" not in r[0]]
    conn.close()


def test_in_memory_database_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="in-memory"):
        _manager(":memory:")


def test_table_name_injection_rejected(tmp_path):
    with pytest.raises(ConfigError, match="table_name"):
        SqliteCheckpointManager({"database_path": str(tmp_path / "x.db"), "table_name": 'x"; DROP TABLE y; --'})


def test_unwritable_path_is_backend_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BackendUnavailableError, match=str(blocker)):
        _manager(blocker / "sub" / "c.db")


def test_damaged_database_file_is_reported(tmp_path):
    db = tmp_path / "broken.db"
    db.write_bytes(b"this is not sqlite" * 100)
    m = SqliteCheckpointManager({"database_path": str(db), "cleanup_interval": 0})
    with pytest.raises(IntegrityError, match="broken.db"):
        m.initialize()
    assert m._connections == []  # the failed open left no connection behind


def test_lock_held_by_another_process_is_waited_for_then_reported(tmp_path):
    db = tmp_path / "locked.db"
    _manager(db).close()
    blocker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    releaser = threading.Timer(0.5, lambda: blocker.execute("COMMIT"))
    releaser.start()
    with _manager(db, connection_timeout=10) as m:  # the schema check waits for the lock
        m.save_checkpoint("c1", {"a": 1}, "wf", "t")
        assert m.load_checkpoint("c1") == {"a": 1}
    releaser.join()
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        m = SqliteCheckpointManager({"database_path": str(db), "cleanup_interval": 0, "connection_timeout": 0.3})
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="locked.db"):
            m.initialize()
            m.save_checkpoint("c2", {"a": 2}, "wf", "t")
        assert time.monotonic() - started < 5  # bounded by connection_timeout, not forever
        m.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def _writer(path: str, n: int, worker: int) -> None:
    m = SqliteCheckpointManager({"database_path": path, "cleanup_interval": 0})
    m.initialize()
    for i in range(n):
        m.save_checkpoint(f"w{worker}-{i}", {"worker": worker, "i": i}, "wf", f"t{worker}")
    m.close()


def test_two_processes_write_one_file(tmp_path):
    db = str(tmp_path / "shared.db")
    _manager(db).close()  # schema first
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, 40, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with _manager(db) as m:
        assert len(m.list_checkpoints()) == 80
        assert m.load_checkpoint("w1-39", thread_id="t1") == {"worker": 1, "i": 39}


def test_threads_share_one_manager(tmp_path):
    with _manager(tmp_path / "t.db") as m:
        errors = []

        def work(n):
            try:
                for i in range(30):
                    m.put_langgraph_checkpoint(
                        thread_id=f"t{n}", checkpoint_ns="", checkpoint_id=f"{i:04}", parent_checkpoint_id=None,
                        workflow_id=None, created_at=time.time(), payload_type="bytes", payload=b"p",
                        metadata={"step": i}, channel_versions={"c": i}, blobs=[("c", i, "bytes", b"v%d" % i)],
                    )
                    assert m.get_langgraph_bundle(f"t{n}").record.checkpoint_id == f"{i:04}"
            except Exception as exc:  # reported in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(m.list_thread_ids()) == 4
        assert 1 <= len(m._connections) <= m.params.connection_pool_size
        opened = list(m._connections)
    for conn in opened:  # close() closed every connection, whichever thread used it
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_versions_of_every_type_round_trip(tmp_path):
    with _manager(tmp_path / "v.db") as m:
        versions = {"i": 7, "f": 2.5, "s": "00000000000000000000000000000003.0.123", "one": "1", "int_one": 1}
        m.put_langgraph_checkpoint(
            thread_id="t", checkpoint_ns="", checkpoint_id="c", parent_checkpoint_id=None, workflow_id=None,
            created_at=time.time(), payload_type="bytes", payload=b"p", metadata={},
            channel_versions=versions, blobs=[(ch, v, "bytes", ch.encode()) for ch, v in versions.items()],
        )
        bundle = m.get_langgraph_bundle("t")
        assert {k: type(k[1]) for k in bundle.blobs} == {(ch, v): type(v) for ch, v in versions.items()}
        assert {k: raw for k, (_, raw) in bundle.blobs.items()} == {(ch, v): ch.encode() for ch, v in versions.items()}
        assert set(m._list_blob_keys("t")) == {("", ch, v) for ch, v in versions.items()}
        keys = list(m._list_blob_keys("t"))
        assert sorted((ch, type(v).__name__) for _, ch, v in keys) == sorted((ch, type(v).__name__) for ch, v in versions.items())
    with _manager(tmp_path / "v.db") as m:  # a new instance: read straight from the file, no cache
        stored = m._read_blobs("t", "", list(versions.items()))
        assert {k: (type(k[1]), b.payload_type) for k, b in stored.items()} == {
            (ch, v): (type(v), "bytes") for ch, v in versions.items()
        }
        assert m._read_blobs("t", "", [("i", 7.0), ("i", "7"), ("f", "2.5")]) == {}


def test_metadata_filter_runs_in_sql(tmp_path):
    with _manager(tmp_path / "f.db") as m:
        for i in range(20):
            m.save_checkpoint(f"c{i}", {"i": i}, "wf", "t", metadata={"source": "loop" if i % 2 else "input", "step": i})
        statements = _traced(m)
        found = m.query_records(RecordQuery(metadata={"source": "loop", "step": 3}, include_payload=False))
        assert [r.checkpoint_id for r in found] == ["c3"]
        assert found[0].payload is None
        select = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(select) == 1  # one statement: the filter is in the WHERE clause, not a Python loop
        assert "json_extract(metadata" in select[0] and " payload," not in select[0]
        # LangGraph's filtered list (thread, ns, filter, limit): one index range of the thread,
        # read newest first straight off the primary key (no sort, no full scan), filter in SQL.
        query = RecordQuery(thread_id="t", checkpoint_ns="", metadata={"source": "loop"}, limit=3)
        sql, args, python_side = m._query_sql(query)
        assert python_side == {} and "json_extract(metadata" in sql and "loop" in args
        plan = " | ".join(str(r[-1]) for r in m._run(lambda c: c.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall(), mode=None))
        assert plan.startswith("SEARCH") and "(thread_id=? AND checkpoint_ns=?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        assert [r.checkpoint_id for r in m.query_records(query)] == ["c9", "c7", "c5"]  # ids order as strings


def test_metadata_filters_match_the_memory_manager(tmp_path):
    """Equality exactly as the reference backend's (Python ``==``), whatever runs in SQL."""
    docs = [
        {"source": "loop", "step": 1, "flag": True, "ratio": 1.0, "tags": ["a", "b"], "n": None, 'we"ird': 1, "a.b": "x"},
        {"source": "input", "step": "1", "flag": 1, "ratio": 1, "tags": ["a"], "nested": {"k": [1, 2]}},
        {"source": "loop", "step": 2, "flag": False, "ratio": 1.5, "tags": '["a", "b"]', "n": 0, "big": 2**70},
        {"step": 1.0, "flag": "true", "nested": {"k": [1, 2]}, "big": 2**70 + 1},
    ]
    filters = [
        {"source": "loop"}, {"step": 1}, {"step": "1"}, {"step": 1.0}, {"flag": True}, {"flag": 1}, {"flag": False},
        {"flag": 0}, {"flag": "true"}, {"ratio": 1}, {"tags": ["a", "b"]}, {"tags": '["a", "b"]'}, {"n": None},
        {"n": 0}, {"nested": {"k": [1, 2]}}, {'we"ird': 1}, {"a.b": "x"}, {"big": 2**70}, {"missing": None},
        {"source": "loop", "step": 2}, {},
    ]
    sqlite_m = _manager(tmp_path / "parity.db")
    memory_m = MemoryCheckpointManager({"cleanup_interval": 0})
    memory_m.initialize()
    try:
        for m in (sqlite_m, memory_m):
            for i, md in enumerate(docs):
                _put(m, f"t{i % 2}", f"c{i}", metadata=md)
        for flt in filters:
            for limit, offset in ((None, 0), (1, 1)):
                query = RecordQuery(metadata=flt, limit=limit, offset=offset, include_payload=False)
                got = [r.checkpoint_id for r in sqlite_m.query_records(query)]
                want = [r.checkpoint_id for r in memory_m.query_records(query)]
                assert got == want, (flt, limit, offset)
    finally:
        sqlite_m.close()
        memory_m.close()


def test_get_tuple_and_list_are_batched_reads(tmp_path):
    """get_tuple: one read transaction of a few statements; list: statements independent of its length."""
    with _manager(tmp_path / "batch.db", cache_enabled=False) as m:
        for i in range(30):
            _put(m, "t", f"{i:03}", versions={"a": i, "b": 1}, writes=[("x", b"w%d" % i), ("y", b"v")])
        statements = _traced(m)
        bundle = m.get_langgraph_bundle("t")
        assert bundle.record.checkpoint_id == "029" and [w.data for w in bundle.writes] == [b"w29", b"v"]
        assert statements[0] == "BEGIN DEFERRED" and statements[-1] == "COMMIT"
        assert len(statements) <= 6
        statements.clear()
        listed = list(m.iter_langgraph_bundles(RecordQuery(thread_id="t")))
        assert [b.record.checkpoint_id for b in listed] == [f"{i:03}" for i in reversed(range(30))]
        assert all(b.blobs[("a", int(b.record.checkpoint_id))] == ("bytes", b"a@%d" % int(b.record.checkpoint_id)) for b in listed)
        assert all([w.data for w in b.writes] == [b"w%d" % int(b.record.checkpoint_id), b"v"] for b in listed)
        assert statements.count("BEGIN DEFERRED") == 1 and len(statements) <= 8
        many = m._read_writes_many("t", "", ["000", "001", "nope"])
        assert {cid: sorted(w.idx for w in ws) for cid, ws in many.items()} == {"000": [0, 1], "001": [0, 1], "nope": []}


def test_get_tuple_of_a_cached_checkpoint_is_one_statement_and_sees_other_writers(tmp_path):
    """With every blob cached (the writer reads back what it wrote), the record and its writes
    come from one statement, without a transaction; what another connection wrote since is seen."""
    db = tmp_path / "fast.db"
    with _manager(db) as m, _manager(db) as other:
        _put(m, "t", "001", versions={"a": 1}, writes=[("x", b"w1")])
        statements = _traced(m)
        bundle = m.get_langgraph_bundle("t")
        assert [w.data for w in bundle.writes] == [b"w1"] and bundle.blobs[("a", 1)] == ("bytes", b"a@1")
        assert len(statements) == 1 and statements[0].startswith("SELECT r.*")
        _put(other, "t", "002", versions={"a": 2})
        assert m.get_langgraph_bundle("t").record.checkpoint_id == "002"
        other.put_langgraph_writes(thread_id="t", checkpoint_ns="", checkpoint_id="001", writes=[("task", 7, "y", "bytes", b"w7", "")], replace=False)
        assert [w.data for w in m.get_langgraph_bundle("t", checkpoint_id="001").writes] == [b"w1", b"w7"]
        assert m.get_langgraph_bundle("t", checkpoint_id="nope") is None
    with _manager(db) as cold:  # a reader that wrote nothing: its caches are empty
        statements = _traced(cold)
        bundle = cold.get_langgraph_bundle("t", checkpoint_id="001")
        assert [w.data for w in bundle.writes] == [b"w1", b"w7"] and bundle.blobs[("a", 1)] == ("bytes", b"a@1")
        assert statements[0].startswith("SELECT r.*") and statements[1] == "BEGIN DEFERRED" and len(statements) <= 4
        statements.clear()
        assert cold.get_langgraph_bundle("t", checkpoint_id="001").blobs[("a", 1)] == ("bytes", b"a@1")
        assert len(statements) == 1


def test_get_tuple_of_a_checkpoint_whose_blob_is_gone_reads_it_on_one_snapshot(tmp_path):
    """The one-statement read hands over to the transactional one when a blob it must fetch is
    not there (as when the checkpoint was pruned in between); a value still missing on that one
    snapshot is lost, and reported as such (never a state read without the channel)."""
    db = tmp_path / "gone.db"
    with _manager(db) as m:
        _put(m, "t", "001", versions={"a": 1, "b": 1}, writes=[("x", b"w1")])
    raw = sqlite3.connect(db)
    raw.execute('DELETE FROM "workflow_checkpoints_blobs" WHERE channel = ?', ("b",))
    raw.commit()
    raw.close()
    with _manager(db) as cold:
        statements = _traced(cold)
        with pytest.raises(IntegrityError, match="'b'@1 is missing"):
            cold.get_langgraph_bundle("t")
        assert statements.count("BEGIN DEFERRED") == 2  # the blobs alone, then everything again


def test_raw_tampering_detected(tmp_path):
    db = tmp_path / "tamper.db"
    with _manager(db) as m:
        m.save_checkpoint("c1", {"balance": 100}, "wf", "t")
        raw = sqlite3.connect(db)
        payload = raw.execute('SELECT payload FROM "workflow_checkpoints"').fetchone()[0]
        raw.execute('UPDATE "workflow_checkpoints" SET payload = ?', (payload[:-1] + bytes([payload[-1] ^ 1]),))
        raw.commit()
        raw.close()
        assert m.verify_checkpoint("c1") is False
        assert m.query_records(RecordQuery(checkpoint_id="c1"))[0].status == "corrupted"
        with pytest.raises(IntegrityError):
            m.load_checkpoint("c1")


def test_raw_tampering_of_a_blob_detected(tmp_path):
    db = tmp_path / "tamper-blob.db"
    with _manager(db) as m:
        _put(m, "t", "c1", versions={"c": 3})
    raw = sqlite3.connect(db)
    raw.execute('UPDATE "workflow_checkpoints_blobs" SET payload = ? WHERE channel = ?', (b"forged", "c"))
    raw.commit()
    raw.close()
    with _manager(db) as m:  # a fresh process view: nothing cached
        with pytest.raises(IntegrityError):
            m.get_langgraph_bundle("t")
        assert m.verify_checkpoint("c1", thread_id="t") is False


def test_backups_and_retention(tmp_path):
    backups = tmp_path / "backups"
    with _manager(tmp_path / "b.db", backup_path=str(backups), backup_retention=1) as m:
        m.save_checkpoint("c1", {"a": 1}, "wf", "t")
        backups.mkdir(parents=True, exist_ok=True)
        old_by_mtime = backups / "b-20000101T000000000000Z.db"
        old_by_mtime.write_bytes(b"old")
        os.utime(old_by_mtime, (time.time() - 3 * 86400, time.time() - 3 * 86400))
        # the time in the name decides (a copied backup gets a fresh mtime)
        old_by_name = backups / f"b-{(datetime.now(timezone.utc) - timedelta(days=2)):%Y%m%dT%H%M%S}Z.db"
        old_by_name.write_bytes(b"old")
        recent = backups / f"b-{(datetime.now(timezone.utc) - timedelta(hours=1)):%Y%m%dT%H%M%S}Z.db"
        recent.write_bytes(b"recent")
        stale_tmp = backups / ".b-interrupted.db.tmp"
        stale_tmp.write_bytes(b"partial")
        os.utime(stale_tmp, (time.time() - 3 * 86400, time.time() - 3 * 86400))
        unrelated = backups / "other-20000101T000000Z.db"
        unrelated.write_bytes(b"not ours")
        os.utime(unrelated, (time.time() - 3 * 86400, time.time() - 3 * 86400))
        path = m.backup_now()
        assert path.parent == backups and path.name.startswith("b-") and path.name.endswith("Z.db")
        assert datetime.strptime(path.name, "b-%Y%m%dT%H%M%SZ.db")  # <stem>-YYYYmmddTHHMMSSZ.db
        assert path.exists() and recent.exists() and unrelated.exists()
        assert not old_by_mtime.exists() and not old_by_name.exists() and not stale_tmp.exists()
        assert not list(backups.glob("*.tmp"))
        m.save_checkpoint("c2", {"a": 2}, "wf", "t")  # after the backup: not in it
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [r[0] for r in check.execute('SELECT checkpoint_id FROM "workflow_checkpoints"')] == ["c1"]
    check.close()
    with _manager(path) as restored:
        assert restored.load_checkpoint("c1") == {"a": 1}


def test_background_backup_runs_and_stops(tmp_path):
    backups = tmp_path / "auto"
    m = _manager(tmp_path / "auto.db", backup_enabled=True, backup_interval=0.2, backup_path=str(backups))
    m.save_checkpoint("c1", {"a": 1}, "wf", "t")
    deadline = time.time() + 10
    while time.time() < deadline and not list(backups.glob("auto-*.db")):
        time.sleep(0.1)
    assert list(backups.glob("auto-*.db"))
    worker = m._backup_thread
    started = time.monotonic()
    m.close()
    assert worker is not None and not worker.is_alive()
    assert time.monotonic() - started < 5


def test_background_backup_stops_promptly_with_a_long_interval(tmp_path):
    m = _manager(tmp_path / "slow.db", backup_enabled=True, backup_interval=3600, backup_path=str(tmp_path / "bk"))
    worker = m._backup_thread
    assert worker is not None and worker.is_alive()
    started = time.monotonic()
    m.close()
    assert not worker.is_alive() and time.monotonic() - started < 2
    assert not (tmp_path / "bk").exists() or not list((tmp_path / "bk").glob("*.db"))


def test_storage_size_counts_the_write_ahead_log(tmp_path):
    db = tmp_path / "size.db"
    with _manager(db) as m:
        for i in range(20):
            m.save_checkpoint(f"c{i}", {"payload": "x" * 2000, "i": i}, "wf", "t1")
        wal = db.with_name("size.db-wal")
        assert wal.exists() and wal.stat().st_size > 0  # not yet checkpointed into the file
        reported = m.get_statistics()["storage_size_bytes"]
        assert reported == db.stat().st_size + wal.stat().st_size
        assert reported > 20 * 2000 // 2


def test_verify_without_the_right_key_reports_but_never_marks(tmp_path):
    """A key that is missing or different is a configuration problem: verify fails (exit 1 in
    the CLI) but leaves the intact checkpoint readable with the right key."""
    import base64

    key = "k1:" + base64.b64encode(bytes(range(32))).decode()
    other = "k1:" + base64.b64encode(bytes(range(1, 33))).decode()
    db = tmp_path / "keys.db"
    with _manager(db, client_encryption={"enabled": True, "keys": key}) as m:
        _put(m, "t", "c1")
    for config in ({}, {"client_encryption": {"enabled": True, "keys": other}}):
        with _manager(db, **config) as m:
            report = m.verify_report("c1", thread_id="t")
            assert report["problems"] and not report["marked_corrupted"]
            assert m.query_records(RecordQuery(checkpoint_id="c1"))[0].status == "active"
    with _manager(db, client_encryption={"enabled": True, "keys": key}) as m:
        assert m.verify_checkpoint("c1", thread_id="t")
        assert m.get_langgraph_bundle("t").payload == b"payload-c1"


def test_a_passing_verify_clears_an_earlier_mark(tmp_path):
    """Damage marks the checkpoint corrupted; once the bytes are back (repaired from a backup),
    verify finds it intact and makes it readable again."""
    db = tmp_path / "repair.db"
    with _manager(db) as m:
        _put(m, "t", "c1")
    raw = sqlite3.connect(db)
    good = raw.execute('SELECT payload FROM "workflow_checkpoints_blobs" WHERE channel = ?', ("c",)).fetchone()[0]
    raw.execute('UPDATE "workflow_checkpoints_blobs" SET payload = ? WHERE channel = ?', (b"forged", "c"))
    raw.commit()
    with _manager(db) as m:
        report = m.verify_report("c1", thread_id="t")
        assert report["problems"] and report["marked_corrupted"]
        with pytest.raises(IntegrityError, match="lgckpt verify -t t"):
            m.get_langgraph_bundle("t")
    raw.execute('UPDATE "workflow_checkpoints_blobs" SET payload = ? WHERE channel = ?', (good, "c"))
    raw.commit()
    raw.close()
    with _manager(db) as m:
        assert m.verify_checkpoint("c1", thread_id="t")
        assert m.query_records(RecordQuery(checkpoint_id="c1"))[0].status == "active"
        assert m.get_langgraph_bundle("t").blobs[("c", 1)][1] == b"c@1"


# ---------------------------------------------------------------- damaged plaintext columns
_DAMAGE = {
    "metadata": "UPDATE workflow_checkpoints SET metadata = replace(metadata, '}', ']') WHERE rowid = ?",
    "tags": "UPDATE workflow_checkpoints SET tags = '[}' WHERE rowid = ?",
    "channel_versions": "UPDATE workflow_checkpoints SET channel_versions = substr(channel_versions, 2) WHERE rowid = ?",
    "payload_type": "UPDATE workflow_checkpoints SET payload_type = 'msgpacK' WHERE rowid = ?",
}


@pytest.mark.parametrize("column", list(_DAMAGE))
def test_a_damaged_plaintext_column_is_an_integrity_error_and_verify_goes_on(tmp_path, column):
    """One changed byte in a column outside the sealed payload: reads raise our IntegrityError
    naming the thread and checkpoint (never a raw JSONDecodeError/NotImplementedError), and
    verifying every checkpoint reports it and goes on with the others."""
    import base64

    from langchain_core.messages import HumanMessage

    from langgraph_ckpt_config.saver import ConfigCheckpointSaver
    from langgraph_ckpt_config.testing.graphs import chat_graph

    db = tmp_path / "damaged.db"
    enc = {"client_encryption": {"enabled": True, "keys": "k1:" + base64.b64encode(bytes(range(32))).decode()}}
    cfg = {"configurable": {"thread_id": "T"}}
    with _manager(db, **enc) as m:
        graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(m))
        for i in range(2):
            graph.invoke({"messages": [HumanMessage(f"msg {i}", id=f"h{i}")]}, cfg)
    raw = sqlite3.connect(db)
    rowid, head = raw.execute("SELECT rowid, checkpoint_id FROM workflow_checkpoints ORDER BY checkpoint_id DESC LIMIT 1").fetchone()
    raw.execute(_DAMAGE[column], (rowid,))
    raw.commit()
    raw.close()
    with _manager(db, **enc) as m:  # a fresh process: nothing cached
        graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(m))
        with pytest.raises(IntegrityError, match=f"checkpoint '{head}' of thread 'T'"):
            graph.get_state(cfg)
        with pytest.raises(IntegrityError, match=head):
            list(graph.get_state_history(cfg))
        records = m.query_records(RecordQuery(thread_id="T", include_payload=False))  # still listed
        reports = {r.checkpoint_id: m.verify_report(r.checkpoint_id, thread_id="T") for r in records}
        damaged = [cid for cid, report in reports.items() if report["problems"]]
        if column != "payload_type":  # the serde's type names are its own: verify checks bytes
            assert damaged == [head] and reports[head]["marked_corrupted"]
        assert len(reports) == len(records) > 1 and all(not reports[c]["problems"] for c in reports if c != head)


def test_a_thread_with_a_damaged_row_is_not_collected_so_a_repair_loses_nothing(tmp_path, caplog):
    """Blob collection cannot tell what a row with a damaged ``channel_versions`` references:
    it skips the thread (with a warning) instead of deleting that checkpoint's values."""
    from langchain_core.messages import HumanMessage

    from langgraph_ckpt_config.saver import ConfigCheckpointSaver
    from langgraph_ckpt_config.testing.graphs import chat_graph

    db = tmp_path / "repair.db"
    cfg = {"configurable": {"thread_id": "T"}}
    with _manager(db) as m:
        graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(m))
        for i in range(3):
            graph.invoke({"messages": [HumanMessage(f"msg {i}", id=f"h{i}")]}, cfg)
        expected = graph.get_state(cfg).values
    raw = sqlite3.connect(db)
    rowid, original = raw.execute(
        "SELECT rowid, channel_versions FROM workflow_checkpoints ORDER BY checkpoint_id DESC LIMIT 1"
    ).fetchone()
    raw.execute(_DAMAGE["channel_versions"], (rowid,))
    raw.commit()
    with _manager(db) as m, caplog.at_level("WARNING"):
        assert m.prune_thread("T", keep_last=1) > 0  # older checkpoints go; no value is collected
    assert "blob collection of thread 'T' skipped" in caplog.text
    raw.execute("UPDATE workflow_checkpoints SET channel_versions = ? WHERE rowid = ?", (original, rowid))
    raw.commit()
    raw.close()
    with _manager(db) as m:  # repaired: the head reads whole again
        assert chat_graph().compile(checkpointer=ConfigCheckpointSaver(m)).get_state(cfg).values == expected
