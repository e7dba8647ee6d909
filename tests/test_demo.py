"""`make demo`'s program: runs on the default embedded manager, and twice continues the same threads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run_demo(db: Path) -> str:
    env = {**os.environ, "CHECKPOINT_DB_PATH": str(db), "COLUMNS": "160"}
    env.pop("LANGGRAPH_CKPT_CONFIG", None)
    env.pop("LANGGRAPH_CKPT_MANAGER", None)
    proc = subprocess.run([sys.executable, "-m", "langgraph_ckpt_config.demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _stat(output: str, name: str) -> int:
    line = next(line for line in output.splitlines() if f" {name} " in line)
    return int(line.split("│")[2].strip())


def test_demo_runs_twice_and_continues(tmp_path):
    db = tmp_path / "demo.db"
    first = _run_demo(db)
    assert "SqliteCheckpointManager" in first
    assert "interrupted: Approve this refund?" in first
    assert "Your refund is approved." in first and "forked answer" in first
    assert db.exists()
    second = _run_demo(db)
    assert _stat(second, "total_threads") == _stat(first, "total_threads") == 2
    assert _stat(second, "total_checkpoints") > _stat(first, "total_checkpoints")
    assert "[turn 1] Your refund" in first and "[turn 2] Your refund" in second  # the same thread, one turn later
