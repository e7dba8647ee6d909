"""The Redis benchmark runs end to end in quick mode (its numbers are not asserted: no timing
thresholds in tests). It starts its own redis-server processes and cluster, so it needs
``redis-server`` / ``redis-cli`` on PATH -- like the fixtures, it fails (never skips) without them."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_redis_benchmark_quick_run(tmp_path):
    out = tmp_path / "report.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_redis", "--quick", "--output", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text()
    assert report.strip() in proc.stdout
    for contender in ("InMemorySaver", "ours:sqlite", "plainredis", "ours:redis", "ours:redis-cluster", "langgraph-checkpoint-redis"):
        assert contender in report, contender
    for row in (
        "| chat workload (total) |",
        "| graph turn (per invoke) |",
        "| get_tuple latest |",
        "| list filter source=loop |",
        "(1 match) limit=10 |",
        "| concurrent ainvoke (total) |",
        "| put |",
        "| put_writes |",
        "| get_tuple latest, cold |",
        "| used_memory delta per checkpoint |",
        "| key bytes per checkpoint |",
    ):
        assert row in report, row
    for section in ("Cluster vs standalone", "Peers that could not run", "Against the issue's targets"):
        assert section in report, section
    targets = report.split("Against the issue's targets", 1)[1]
    for target in ("chat workload <= 0.6x", "graph turn <= 0.6x", "<= 0.1x", "memory per checkpoint", "cluster <= 1.3x standalone",
                   "one round trip per put", "one round trip per get_tuple latest"):
        assert target in targets, target
    assert targets.count("| met |") + targets.count("| not met |") >= 10
    # langgraph-checkpoint-redis either ran (a column of the tables) or has a row saying why it could not
    tables, peers = report.split("Peers that could not run", 1)
    peers = peers.split("###", 1)[0]
    assert ("| langgraph-checkpoint-redis | " in peers) != ("| langgraph-checkpoint-redis |" in tables)
