"""The S3 benchmark runs end to end in quick mode (its numbers are not asserted: no timing
thresholds in tests). It starts its own moto server, so it needs nothing but the venv; every
peer either runs (a column of the tables) or has a row saying why it could not."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTENDERS = ("ours:s3", "langgraph-checkpoint-s3", "langgraph-checkpoint-objectstorage")


def test_s3_benchmark_quick_run(tmp_path):
    out = tmp_path / "report.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_s3", "--quick", "--output", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text()
    assert report.strip() in proc.stdout
    assert "serde shim" in report
    for row in (
        "| chat workload (total) |",
        "| get_tuple latest |",
        "| list limit=10 |",
        "| put |",
        "| put_writes (per call) |",
        "| get_tuple latest, warm (writer, each step) |",
        "| list(limit=10), warm |",
        "| get_tuple latest, cold (",
        "| list(limit=10), cold (",
    ):
        assert row in report, row
    for section in ("HTTP requests per operation", "Bytes stored in the bucket", "Peers that could not run", "Against the issue's targets"):
        assert section in report, section
    tables, peers = report.split("Peers that could not run", 1)
    peers = peers.split("###", 1)[0]
    assert "| ours:s3 |" not in peers, peers  # ours always runs
    for name in CONTENDERS:
        assert (f"| {name} | " in peers) != (f" {name} |" in tables), name
    targets = report.split("Against the issue's targets", 1)[1]
    for target in ("latest get_tuple <= 2 requests (cold", "list(limit=10) <= 1 + 10 requests (cold", "chat workload <= 0.3x", "bytes stored <= 0.5x"):
        assert target in targets, target
    assert targets.count("| met |") + targets.count("| not met |") >= 5
