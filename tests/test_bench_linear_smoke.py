"""The linear-storage benchmark runs end to end in quick mode, servers included (its numbers are
not asserted: no timing thresholds in tests). It starts its own redis-server and moto S3 (in a
child process), so it needs nothing but the venv and ``redis-server`` on PATH; nothing here is
ever skipped."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("memory", "sqlite", "redis", "s3")
VARIANTS = ("", "(reuse objects)", "(list_storage off)")


def _run(tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "linear.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_linear", "--quick", *extra, "--output", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out.read_text()


def _row(report: str, section: str, name: str) -> list[str]:
    body = report.split(section, 1)[1].split("###", 1)[0]
    line = next((line for line in body.splitlines() if line.startswith(f"| {name} |")), None)
    assert line is not None, f"no row {name!r} under {section!r}"
    return [cell.strip() for cell in line.strip("|").split("|")[1:]]


def test_linear_benchmark_quick_run(tmp_path):
    report = _run(tmp_path)
    savers = ["InMemorySaver", "SqliteSaver"] + [f"ours:{b}{v}" for b in BACKENDS for v in VARIANTS]
    for section in ("### Bytes stored (ratio", "### Bytes stored as a fraction of `SqliteSaver`", "### Per-step `put`"):
        for name in savers:
            cells = _row(report, section, name)
            assert len(cells) == 2 and "—" not in cells, (section, name, cells)  # measured at 10 and 40 steps
    for name in ("unique content", "of which messages"):
        assert len(_row(report, "### Bytes stored (ratio", name)) == 2
    for v in VARIANTS:
        assert len(_row(report, "used_memory", f"ours:redis{v}")) == 2


def test_linear_benchmark_quick_profile(tmp_path):
    report = _run(tmp_path, "--profile", "30")
    for name in ("ours:sqlite", "ours:memory", "ours:sqlite(reuse objects)", "ours:memory(reuse objects)"):
        assert f"### {name}\n" in report
    for spot in ("| saver.put (all) |", "| serde.dumps_typed (all calls) |", "| element_digest (blake2b) |", "| elements (messages) |", "| manifests (messages) |"):
        assert spot in report, spot
    assert "dbstat" in report
