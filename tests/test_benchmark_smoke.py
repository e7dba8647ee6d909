"""The benchmark script runs (its numbers are not asserted: no timing thresholds in tests)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_benchmark_quick_run(tmp_path):
    out = tmp_path / "report.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_savers", "--quick", "--output", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    for section in ("chat workload", "get_tuple latest", "bytes stored after chat", "concurrent ainvoke", "Scale"):
        assert section in report
    assert "SqliteSaver" in report and "ours:sqlite" in report and "InMemorySaver" in report
    assert "ours:sqlite(reuse objects)" in report
