"""SQLite-specific behaviour: durability across instances, WAL, processes, backups, raw tampering."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time

import pytest

from langgraph_ckpt_config.errors import BackendUnavailableError, ConfigError, IntegrityError
from langgraph_ckpt_config.managers.records import RecordQuery
from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager


def _manager(path, **params) -> SqliteCheckpointManager:
    m = SqliteCheckpointManager({"database_path": str(path), "cleanup_interval": 0, **params})
    m.initialize()
    return m


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
    with pytest.raises(IntegrityError, match="broken.db"):
        _manager(db)


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
        assert set(m._list_blob_keys("t")) == {("", ch, v) for ch, v in versions.items()}


def test_metadata_filter_runs_in_sql(tmp_path):
    with _manager(tmp_path / "f.db") as m:
        for i in range(20):
            m.save_checkpoint(f"c{i}", {"i": i}, "wf", "t", metadata={"source": "loop" if i % 2 else "input", "step": i})
        statements: list[str] = []
        for conn in m._connections:
            conn.set_trace_callback(statements.append)
        found = m.query_records(RecordQuery(metadata={"source": "loop", "step": 3}, include_payload=False))
        assert [r.checkpoint_id for r in found] == ["c3"]
        select = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(select) == 1
        assert "json_extract(metadata" in select[0] and "payload," not in select[0]


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
        with pytest.raises(IntegrityError):
            m.load_checkpoint("c1")


def test_backups_and_retention(tmp_path):
    backups = tmp_path / "backups"
    with _manager(tmp_path / "b.db", backup_path=str(backups), backup_retention=1) as m:
        m.save_checkpoint("c1", {"a": 1}, "wf", "t")
        old = backups / "b-20000101T000000000000Z.db"
        backups.mkdir(parents=True, exist_ok=True)
        old.write_bytes(b"old")
        os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
        path = m.backup_now()
        assert path.exists() and not old.exists()
        restored = _manager(path)
        assert restored.load_checkpoint("c1") == {"a": 1}
        restored.close()


def test_background_backup_runs_and_stops(tmp_path):
    backups = tmp_path / "auto"
    m = _manager(tmp_path / "auto.db", backup_enabled=True, backup_interval=0.2, backup_path=str(backups))
    m.save_checkpoint("c1", {"a": 1}, "wf", "t")
    deadline = time.time() + 10
    while time.time() < deadline and not list(backups.glob("auto-*.db")):
        time.sleep(0.1)
    assert list(backups.glob("auto-*.db"))
    worker = m._backup_thread
    m.close()
    assert worker is not None and not worker.is_alive()
