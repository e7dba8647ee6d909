"""``lgckpt`` through its real entry point, on real SQLite files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from langchain_core.messages import HumanMessage
from langgraph.types import Command

from langgraph_ckpt_config import from_config
from langgraph_ckpt_config.testing.graphs import approval_graph, chat_graph

SQLITE = "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    config = {
        "checkpoint_managers": {
            "main": {"class_path": SQLITE, "parameters": {"database_path": str(tmp_path / "main.db")}},
            "archive": {"class_path": SQLITE, "parameters": {"database_path": str(tmp_path / "archive.db")}},
            "vault": {
                "class_path": "langgraph_ckpt_config.managers.redis:RedisCheckpointManager",
                "enabled": False,
                "parameters": {"password": "${LGCKPT_TEST_SECRET}"},
            },
        },
        "default_manager": "main",
    }
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("LGCKPT_TEST_SECRET", "s3cr3t-password-value")
    with from_config(str(path)) as saver:
        chat = chat_graph().compile(checkpointer=saver)
        for i in range(3):
            chat.invoke({"messages": [HumanMessage(f"hello {i}", id=f"h{i}")]}, {"configurable": {"thread_id": "chat-1"}})
        approval = approval_graph().compile(checkpointer=saver)
        approval.invoke({"request": "refund"}, {"configurable": {"thread_id": "ask-1"}})
    return path


def lgckpt(config: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "LGCKPT_TEST_SECRET": "s3cr3t-password-value", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "langgraph_ckpt_config.cli", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, env=env,
    )
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    assert "s3cr3t-password-value" not in proc.stdout + proc.stderr
    return proc


def test_managers_and_config_commands(workspace):
    out = json.loads(lgckpt(workspace, "managers", "--json").stdout)
    assert [m["name"] for m in out if m["default"]] == ["main"]
    assert "valid" in lgckpt(workspace, "config", "validate").stdout
    shown = lgckpt(workspace, "config", "show").stdout
    assert "***" in shown and "password" in shown
    bad = workspace.parent / "bad.yaml"
    bad.write_text(yaml.safe_dump({"checkpoint_managers": {"x": {"class_path": SQLITE, "parameters": {"connection_timeout": "soon"}}}}))
    proc = lgckpt(workspace, "config", "validate", str(bad), check=1)
    assert "checkpoint_managers.x.parameters.connection_timeout" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_threads_history_show_diff(workspace):
    threads = json.loads(lgckpt(workspace, "threads", "--json").stdout)
    assert {t["thread_id"] for t in threads["threads"]} == {"chat-1", "ask-1"}
    history = json.loads(lgckpt(workspace, "history", "chat-1", "--json").stdout)
    assert [h["step"] for h in history] == list(range(len(history) - 2, -2, -1))
    assert history[-1]["source"] == "input" and history[-1]["next"] == ["__start__"]
    ask = json.loads(lgckpt(workspace, "history", "ask-1", "--json").stdout)
    assert "__interrupt__" in ask[0]["writes"]
    shown = json.loads(lgckpt(workspace, "show", "chat-1", "--json").stdout)
    assert shown["values"]["turns"] == 3
    assert shown["values"]["messages"][-1] == "ai: echo 3: hello 2"
    table = lgckpt(workspace, "show", "chat-1").stdout
    assert "echo 3: hello 2" in table
    newest, older = history[0]["checkpoint_id"], history[3]["checkpoint_id"]
    diff = json.loads(lgckpt(workspace, "diff", "chat-1", older, newest, "--json").stdout)
    changed = {c["channel"]: c for c in diff["changes"]}
    assert changed["turns"]["change"] == "changed" and changed["messages"]["detail"].startswith("+")
    missing = lgckpt(workspace, "history", "nope", check=1)
    assert "nope" in missing.stderr


def test_verify_archive_restore_stats(workspace):
    assert json.loads(lgckpt(workspace, "verify", "--all", "--json").stdout)["corrupted"] == []
    lgckpt(workspace, "verify", check=1)  # nothing selected is an error, not a silent success
    assert "archived" in lgckpt(workspace, "archive", "chat-1").stdout
    stats = json.loads(lgckpt(workspace, "stats", "--json").stdout)
    assert stats["by_status"]["archived"] > 0 and stats["total_threads"] == 2
    lgckpt(workspace, "restore", "chat-1")
    stats = json.loads(lgckpt(workspace, "stats", "--json").stdout)
    assert "archived" not in stats["by_status"]
    assert "restored 0 checkpoint(s)" in lgckpt(workspace, "restore", "chat-1").stdout  # nothing was archived
    # tamper with one payload: verify reports it and exits 1
    import sqlite3

    db = sqlite3.connect(workspace.parent / "main.db")
    db.execute("UPDATE workflow_checkpoints SET payload = payload || x'00' WHERE rowid = (SELECT min(rowid) FROM workflow_checkpoints)")
    db.commit()
    db.close()
    report = json.loads(lgckpt(workspace, "verify", "--all", "--json", check=1).stdout)
    assert len(report["corrupted"]) == 1
    damaged = report["corrupted"][0]
    rows = json.loads(lgckpt(workspace, "history", damaged["thread_id"], "--json").stdout)  # the rest still listed
    assert [r["status"].split()[0] for r in rows if r["checkpoint_id"] == damaged["checkpoint_id"]] == ["corrupted"]
    assert sum(r["status"] == "active" for r in rows) == len(rows) - 1


def test_verify_all_reports_a_damaged_plaintext_column_and_goes_on(workspace):
    import sqlite3

    db = sqlite3.connect(workspace.parent / "main.db")
    db.execute(
        "UPDATE workflow_checkpoints SET metadata = replace(metadata, '}', ']') "
        "WHERE rowid = (SELECT max(rowid) FROM workflow_checkpoints WHERE thread_id = 'chat-1')"
    )
    db.commit()
    db.close()
    proc = lgckpt(workspace, "verify", "--all", "--json", check=1)
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert len(report["corrupted"]) == 1 and "metadata" in report["corrupted"][0]["problems"][0]
    assert report["checked"] == len(json.loads(lgckpt(workspace, "history", "chat-1", "--json").stdout)) + len(
        json.loads(lgckpt(workspace, "history", "ask-1", "--json").stdout)
    )


def test_cleanup_dry_run_then_real(workspace):
    plan = json.loads(lgckpt(workspace, "cleanup", "--max-count", "2", "--dry-run", "--json").stdout)
    assert plan["dry_run"] and plan["removed"] > 0
    before = json.loads(lgckpt(workspace, "threads", "--json").stdout)
    assert sum(t["checkpoints"] for t in before["threads"]) > 4
    done = json.loads(lgckpt(workspace, "cleanup", "--max-count", "2", "--json").stdout)
    assert done["removed"] == plan["removed"]
    lgckpt(workspace, "cleanup", "--max-age", "soon", check=1)


def test_export_import_and_migrate_then_resume(workspace, tmp_path):
    out = tmp_path / "export.json"
    lgckpt(workspace, "export", "chat-1", "ask-1", "-o", str(out))
    doc = json.loads(out.read_text())
    assert doc["format"] == "langgraph-ckpt-config/export" and {r["thread_id"] for r in doc["records"]} == {"chat-1", "ask-1"}
    proc = lgckpt(workspace, "--manager", "archive", "import", str(out))
    assert "imported" in proc.stdout
    lgckpt(workspace, "--manager", "archive", "import", str(out), check=1)  # exists: refused, nothing lost
    # migrate: the archive already holds everything -> nothing duplicated; then move
    result = json.loads(lgckpt(workspace, "migrate", "--from", "main", "--to", "archive", "--json").stdout)
    assert result["copied"] == 0 and result["already_present"] == len(doc["records"])
    result = json.loads(lgckpt(workspace, "migrate", "--from", "main", "--to", "archive", "--move", "--json").stdout)
    assert json.loads(lgckpt(workspace, "threads", "--json").stdout)["total"] == 0
    with from_config(str(workspace), manager="archive") as saver:
        graph = approval_graph().compile(checkpointer=saver)
        final = graph.invoke(Command(resume="yes"), {"configurable": {"thread_id": "ask-1"}})
        assert final["log"][-1] == "acted on refund (yes)"


def test_keygen_prints_a_usable_key(workspace):
    spec = lgckpt(workspace, "keygen", "prod-2026").stdout.strip()
    from langgraph_ckpt_config.codecs import KeyRing

    assert KeyRing.from_spec(spec).primary == "prod-2026"


def test_progress_bar_on_a_terminal_only(workspace):
    import pty

    env = {**os.environ, "LGCKPT_TEST_SECRET": "s3cr3t-password-value", "COLUMNS": "120", "TERM": "xterm"}
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout/stderr are the pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "langgraph_ckpt_config.cli", "--config", str(workspace), "verify", "--all"], env)
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"verifying" in output  # the rich progress bar
    quiet = lgckpt(workspace, "verify", "--all")
    assert "verifying" not in quiet.stdout + quiet.stderr  # not a terminal: no bar


def test_migrate_interrupted_part_way_then_resumed(workspace):
    """A migration that died after copying part of a thread finishes without duplicates."""
    from langgraph_ckpt_config.factory import CheckpointManagerFactory

    with CheckpointManagerFactory(str(workspace)) as factory:
        source, target = factory.create_manager("main"), factory.create_manager("archive")
        doc = source.export_threads(["chat-1"])
        partial = {**doc, "records": doc["records"][: len(doc["records"]) // 2]}  # the crash point
        assert target.import_document(partial)
        total = len(doc["records"]) + len(source.export_threads(["ask-1"])["records"])
    result = json.loads(lgckpt(workspace, "migrate", "--from", "main", "--to", "archive", "--json").stdout)
    assert result["copied"] == total - len(partial["records"])
    assert result["already_present"] == len(partial["records"])
    with from_config(str(workspace), manager="archive") as saver:
        history = list(saver.list({"configurable": {"thread_id": "chat-1"}}))
        assert len(history) == len(doc["records"])
        assert len({t.config["configurable"]["checkpoint_id"] for t in history}) == len(history)
        graph = chat_graph().compile(checkpointer=saver)
        graph.invoke({"messages": [HumanMessage("after migration", id="am")]}, {"configurable": {"thread_id": "chat-1"}})
        assert graph.get_state({"configurable": {"thread_id": "chat-1"}}).values["turns"] == 4


def test_migrate_killed_between_a_checkpoint_and_its_writes_keeps_the_pending_interrupt(workspace):
    """A migration killed after the target stored ask-1's head, before its pending writes (the
    interrupt): the re-run completes the writes, so the thread still waits for its answer."""
    from langgraph_ckpt_config.factory import CheckpointManagerFactory

    with CheckpointManagerFactory(str(workspace)) as factory:
        source, target = factory.create_manager("main"), factory.create_manager("archive")
        doc = source.export_threads(["ask-1"])
        head = next(w["checkpoint_id"] for w in doc["writes"] if w["channel"] == "__interrupt__")
        store_writes = target.put_langgraph_writes

        def killed(**kwargs):
            if kwargs["checkpoint_id"] == head:
                raise KeyboardInterrupt("kill -9")
            store_writes(**kwargs)

        target.put_langgraph_writes = killed
        with pytest.raises(KeyboardInterrupt):
            target.import_document(doc, skip_existing=True)
    result = json.loads(lgckpt(workspace, "migrate", "--from", "main", "--to", "archive", "--json").stdout)
    assert result["already_present"] >= 1
    with from_config(str(workspace), manager="archive") as saver:
        graph = approval_graph().compile(checkpointer=saver)
        state = graph.get_state({"configurable": {"thread_id": "ask-1"}})
        assert state.next and len(state.interrupts) == 1
    with from_config(str(workspace)) as saver:
        expected = approval_graph().compile(checkpointer=saver).get_state({"configurable": {"thread_id": "ask-1"}})
    assert state.interrupts == expected.interrupts and state.values == expected.values


def _lgckpt_with_a_deletion_before(config: Path, method: str, *args: str) -> subprocess.CompletedProcess:
    """``lgckpt *args`` in a process where the first call of the manager's ``method`` on chat-1
    deletes that very checkpoint just before (a cron cleanup after the command listed it)."""
    script = f"""
import sys
from langgraph_ckpt_config.managers.base import BaseCheckpointManager as B
orig = B.{method}
fired = []
def hooked(self, checkpoint_id, *, thread_id=None, checkpoint_ns=""):
    if thread_id == "chat-1" and not fired:
        fired.append(checkpoint_id)
        self.delete_checkpoints(thread_id, [(checkpoint_ns, checkpoint_id)])
    return orig(self, checkpoint_id, thread_id=thread_id, checkpoint_ns=checkpoint_ns)
B.{method} = hooked
sys.argv = ["lgckpt", "--config", {str(config)!r}, *{list(args)!r}]
from langgraph_ckpt_config.cli import main
main()
"""
    env = {**os.environ, "LGCKPT_TEST_SECRET": "s3cr3t-password-value", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)


def test_verify_archive_restore_go_on_past_checkpoints_deleted_after_they_were_listed(workspace):
    before = len(json.loads(lgckpt(workspace, "history", "chat-1", "--json").stdout))
    proc = _lgckpt_with_a_deletion_before(workspace, "verify_report", "verify", "--all", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["gone"] == 1 and report["corrupted"] == [] and report["checked"] >= before - 1
    proc = _lgckpt_with_a_deletion_before(workspace, "archive_checkpoint", "archive", "chat-1", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == {"archived": before - 2, "gone": 1, "thread_id": "chat-1"}
    proc = _lgckpt_with_a_deletion_before(workspace, "restore_checkpoint", "restore", "chat-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"restored {before - 3} checkpoint(s) of chat-1, 1 deleted meanwhile" in proc.stdout


def test_migrate_goes_on_past_a_thread_deleted_after_it_was_listed(workspace):
    script = f"""
import sys
from langgraph_ckpt_config.managers.base import BaseCheckpointManager as B
orig = B.export_threads
def hooked(self, thread_ids, output_path=None):
    if list(thread_ids) == ["chat-1"]:
        self.delete_thread("chat-1")  # max_age cleanup, after migrate listed the threads
    return orig(self, thread_ids, output_path)
B.export_threads = hooked
sys.argv = ["lgckpt", "--config", {str(workspace)!r}, "migrate", "--from", "main", "--to", "archive", "--json"]
from langgraph_ckpt_config.cli import main
main()
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LGCKPT_TEST_SECRET": "s3cr3t-password-value"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["threads"] == 1 and result["threads_gone"] == 1 and result["copied"] > 0
    assert json.loads(lgckpt(workspace, "--manager", "archive", "verify", "--all", "--json").stdout)["checked"] == result["copied"]


def test_bad_arguments_exit_nonzero_with_one_line(workspace):
    folder = workspace.parent
    for args in (["cleanup"], ["migrate", "--from", "main", "--to", "main"], ["show", "chat-1", "no-such-checkpoint"],
                 ["import", "/nonexistent.json"], ["import", str(folder)], ["export", "chat-1", "-o", str(folder)],
                 ["export", "chat-1", "-o", str(folder / "main.db" / "x.json")]):
        proc = lgckpt(workspace, *args, check=1)
        assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1, args
    for args in (["cleanup", "--max-count", "0"], ["threads", "--limit", "-1"], ["threads", "--offset", "-5"], ["history", "chat-1", "--limit", "0"]):
        assert "Invalid value" in lgckpt(workspace, *args, check=2).stderr, args  # usage error, not a silent no-op


def test_export_names_each_thread_once_and_import_renames_one_thread_only(workspace, tmp_path):
    out = tmp_path / "twice.json"
    lgckpt(workspace, "export", "chat-1", "chat-1", "-o", str(out))
    doc = json.loads(out.read_text())
    assert len({r["checkpoint_id"] for r in doc["records"]}) == len(doc["records"])
    both = tmp_path / "both.json"
    lgckpt(workspace, "export", "chat-1", "ask-1", "-o", str(both))
    proc = lgckpt(workspace, "--manager", "archive", "import", str(both), "--thread", "merged", check=1)
    assert "would merge" in proc.stderr
    assert json.loads(lgckpt(workspace, "--manager", "archive", "threads", "--json").stdout)["total"] == 0
    lgckpt(workspace, "--manager", "archive", "import", str(out), "--thread", "copy")
    assert [t["thread_id"] for t in json.loads(lgckpt(workspace, "--manager", "archive", "threads", "--json").stdout)["threads"]] == ["copy"]


def test_a_mistyped_database_path_is_an_error_not_an_empty_store(workspace, tmp_path):
    typo = tmp_path / "typo" / "checkpints.db"
    config = {
        "checkpoint_managers": {"main": {"class_path": SQLITE, "parameters": {"database_path": str(typo)}}},
        "default_manager": "main",
    }
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(config))
    for args in (["threads"], ["stats"], ["verify", "--all"], ["history", "t"]):
        proc = lgckpt(path, *args, check=1)
        assert f"no SQLite database at {typo}" in proc.stderr, args
        assert not typo.exists() and not Path(f"{typo}-wal").exists()
    out = tmp_path / "one.json"
    lgckpt(workspace, "export", "chat-1", "-o", str(out))
    lgckpt(path, "import", str(out))  # writing new data may create the database
    assert json.loads(lgckpt(path, "threads", "--json").stdout)["total"] == 1


def test_migrate_refuses_to_merge_two_histories_of_one_thread_id(workspace):
    with from_config(str(workspace), manager="archive") as saver:  # another chat-1, its own history
        chat_graph().compile(checkpointer=saver).invoke(
            {"messages": [HumanMessage("elsewhere", id="e0")]}, {"configurable": {"thread_id": "chat-1"}}
        )
    before = json.loads(lgckpt(workspace, "--manager", "archive", "history", "chat-1", "--json").stdout)
    proc = lgckpt(workspace, "migrate", "--from", "main", "--to", "archive", "--threads", "chat-1", check=1)
    assert "would merge two histories" in proc.stderr
    assert json.loads(lgckpt(workspace, "--manager", "archive", "history", "chat-1", "--json").stdout) == before
    result = json.loads(lgckpt(workspace, "migrate", "--from", "main", "--to", "archive", "--threads", "ask-1", "--json").stdout)
    assert result["copied"] > 0
