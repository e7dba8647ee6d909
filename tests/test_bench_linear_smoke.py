"""The linear-storage benchmark runs (its numbers are not asserted: no timing thresholds in tests)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_linear_benchmark_quick_run(tmp_path):
    out = tmp_path / "linear.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_linear", "--quick", "--output", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert "Bytes stored" in report and "Per-step `put`" in report and "unique content" in report
    for saver in ("InMemorySaver", "SqliteSaver", "ours:memory", "ours:sqlite", "ours:sqlite(reuse objects)"):
        assert f"| {saver} |" in report
