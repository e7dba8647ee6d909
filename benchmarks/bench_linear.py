"""Linear storage (issue 8): bytes stored and per-step ``put`` cost as one chat thread grows.

    python -m benchmarks.bench_linear            # 10 / 100 / 1,000 / 5,000 steps (several minutes)
    python -m benchmarks.bench_linear --quick    # smoke run (seconds)

One thread per saver; at every step one ~500-byte ``HumanMessage`` is appended to
``messages`` and the saver gets the calls LangGraph makes for a step (``put``, then
``put_writes``). At each measured length the report gives:

* bytes stored (SQLite: file after ``wal_checkpoint(TRUNCATE)`` + ``VACUUM``; Redis: growth of
  ``used_memory`` on our own server; S3: sum of object sizes in the bucket; in-process savers:
  the bytes they hold -- payloads of ``InMemorySaver``'s dicts, ``_storage_size()`` of ours),
  and the ratio to the unique content (the serialized messages, each counted once);
* the mean wall and CPU time of one ``put`` over the 10 steps ending at that length.

Savers whose storage or CPU grows with the square of the thread (the peers, list storage off)
stop at 1,000 steps; S3 on moto at 200 (moto's CPU, not S3, would dominate). No assertions.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from benchmarks.bench_savers import MESSAGE, _step_args, db_size
from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager
from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver

WINDOW = 10


class Contender:
    """A saver, how far it runs, and how to measure its bytes."""

    def __init__(self, name: str, saver: Any, limit: int, measure: Callable[[], int | None]) -> None:
        self.name, self.saver, self.limit, self.measure = name, saver, limit, measure


def _inmemory_bytes(saver: InMemorySaver) -> int:
    total = 0
    for by_ns in saver.storage.values():
        for by_id in by_ns.values():
            for item in by_id.values():
                total += sum(len(part[1]) for part in item if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes))
    total += sum(len(v[1]) for v in saver.blobs.values() if isinstance(v, tuple) and isinstance(v[1], bytes))
    for writes in saver.writes.values():
        total += sum(len(w[2][1]) for w in writes.values() if isinstance(w[2], tuple))
    return total


def _ours(manager: Any, stack: ExitStack) -> ConfigCheckpointSaver:
    manager.initialize()
    stack.callback(manager.close)
    return ConfigCheckpointSaver(manager)


def make_contenders(tmp: Path, stack: ExitStack, lengths: list[int], *, servers: bool) -> list[Contender]:
    longest = max(lengths)
    quadratic = min(longest, 1000)
    out = [Contender("InMemorySaver", InMemorySaver(), quadratic, lambda: None)]
    out[0].measure = lambda s=out[0].saver: _inmemory_bytes(s)
    conn = sqlite3.connect(tmp / "peer.db", check_same_thread=False)
    stack.callback(conn.close)
    peer = SqliteSaver(conn)
    peer.setup()
    out.append(Contender("SqliteSaver", peer, quadratic, lambda: db_size(tmp / "peer.db")))
    mem = _ours(MemoryCheckpointManager({"cleanup_interval": 0}), stack)
    out.append(Contender("ours:memory", mem, longest, mem.manager._storage_size))
    for label, extra, limit in (
        ("ours:sqlite", {}, longest),
        ("ours:sqlite(reuse objects)", {"list_storage_reuse_objects": True}, longest),
        ("ours:sqlite(list_storage off)", {"list_storage": False}, quadratic),
    ):
        path = tmp / f"{label.replace(':', '-').replace('(', '-').replace(')', '').replace(' ', '-')}.db"
        saver = _ours(SqliteCheckpointManager({"database_path": str(path), "cleanup_interval": 0, **extra}), stack)
        out.append(Contender(label, saver, limit, lambda p=path: db_size(p)))
    if servers:
        out += _server_contenders(tmp, stack, longest)
    return out


def _server_contenders(tmp: Path, stack: ExitStack, longest: int) -> list[Contender]:
    import boto3

    from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
    from langgraph_ckpt_config.managers.s3 import S3CheckpointManager
    from langgraph_ckpt_config.testing.servers import RedisServer, free_port, start_moto_s3

    out = []
    for label, extra in (("ours:redis", {}), ("ours:redis(reuse objects)", {"list_storage_reuse_objects": True})):
        server = RedisServer(port=free_port(), directory=tmp).start()
        stack.callback(server.stop)
        saver = _ours(RedisCheckpointManager({"host": "127.0.0.1", "port": server.port, "cleanup_interval": 0, **extra}), stack)
        baseline = int(server.cli("info", "memory").split("used_memory:")[1].split()[0])

        def used(server=server, baseline=baseline) -> int:
            return int(server.cli("info", "memory").split("used_memory:")[1].split()[0]) - baseline

        out.append(Contender(label, saver, longest, used))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    s3 = start_moto_s3()
    stack.callback(s3.stop)
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.session.Session().client("s3", endpoint_url=s3.endpoint_url, **creds)
    manager = S3CheckpointManager({
        "bucket": "bench-linear", "endpoint_url": s3.endpoint_url, "create_bucket": True, "cleanup_interval": 0,
        "access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1",
    })
    saver = _ours(manager, stack)

    def bucket_bytes() -> int:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket="bench-linear")
        return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))

    out.append(Contender("ours:s3", saver, min(longest, 200), bucket_bytes))
    return out


def run_thread(contender: Contender, lengths: list[int]) -> dict[int, dict[str, float]]:
    """Grow one thread to each length it is allowed; measure at each."""
    saver = contender.saver
    serde = InMemorySaver().serde
    messages: list = []
    parent = None
    unique = 0
    step_doc = 0
    puts: list[tuple[float, float]] = []
    results: dict[int, dict[str, float]] = {}
    marks = [n for n in lengths if n <= contender.limit]
    for step in range(max(marks) if marks else 0):
        message = HumanMessage(f"{MESSAGE}{step}", id=f"m-{step}")
        unique += len(serde.dumps_typed(message)[1])
        messages = [*messages, message]
        config, checkpoint, metadata, new_versions = _step_args("linear", step, parent, messages, saver)
        # What a step must store at the least: its new message (above), its checkpoint
        # document without channel values, its metadata and its pending write -- once each.
        document = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        step_doc += len(serde.dumps_typed(document)[1]) + len(serde.dumps_typed(metadata)[1])
        step_doc += len(serde.dumps_typed(AIMessage("ok"))[1])
        wall, cpu = time.perf_counter(), time.process_time()
        stored = saver.put(config, checkpoint, metadata, new_versions)
        puts.append((time.perf_counter() - wall, time.process_time() - cpu))
        saver.put_writes(stored, [("messages", AIMessage("ok"))], "task-a", "a")
        parent = {"checkpoint": checkpoint}
        if step + 1 in marks:
            window = puts[-WINDOW:]
            stored_bytes = contender.measure()
            results[step + 1] = {
                "bytes": stored_bytes if stored_bytes is not None else float("nan"),
                "unique": unique,
                "minimal": unique + step_doc,
                "put_ms": statistics.mean(w for w, _ in window) * 1000,
                "put_cpu_ms": statistics.mean(c for _, c in window) * 1000,
            }
    return results


def _fmt_bytes(n: float) -> str:
    if n != n:  # nan
        return "n/a"
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n:,.0f} B"


def report(results: dict[str, dict[int, dict[str, float]]], lengths: list[int]) -> str:
    head = "| saver | " + " | ".join(f"{n:,} steps" for n in lengths) + " |"
    rule = "|---|" + "---|" * len(lengths)
    lines = [
        "### Bytes stored (ratio to the unique content: messages + each step's checkpoint document, metadata and write, once)",
        "",
        head,
        rule,
    ]
    for name, by_len in results.items():
        cells = []
        for n in lengths:
            r = by_len.get(n)
            cells.append(f"{_fmt_bytes(r['bytes'])} ({r['bytes'] / r['minimal']:.2f}x)" if r and r["bytes"] == r["bytes"] else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    longest = max(results.values(), key=len, default={})
    lines.append("| unique content | " + " | ".join(_fmt_bytes(longest[n]["minimal"]) if n in longest else "—" for n in lengths) + " |")
    lines.append("| of which messages | " + " | ".join(_fmt_bytes(longest[n]["unique"]) if n in longest else "—" for n in lengths) + " |")
    lines += ["", f"### Per-step `put`: wall ms / CPU ms, mean of the {WINDOW} steps ending there (ratio of wall time to 10 steps)", "", head, rule]
    first = min(lengths)
    for name, by_len in results.items():
        cells = []
        for n in lengths:
            r = by_len.get(n)
            if not r:
                cells.append("—")
                continue
            base = by_len[first]["put_ms"] if first in by_len else r["put_ms"]
            cells.append(f"{r['put_ms']:.2f} / {r['put_cpu_ms']:.2f} ({r['put_ms'] / base:.1f}x)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 and 40 steps, no servers")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    lengths = [10, 40] if args.quick else [10, 100, 1000, 5000]
    text = [
        f"Linear-storage benchmark {datetime.now(timezone.utc).isoformat(timespec='seconds')} on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; one thread, one ~500-byte message per step.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmpdir, ExitStack() as stack:
        contenders = make_contenders(Path(tmpdir), stack, lengths, servers=not args.quick)
        results = {c.name: run_thread(c, lengths) for c in contenders}
    text.append(report(results, lengths))
    out = "\n".join(text) + "\n"
    print(out)
    if args.output:
        args.output.write_text(out)


if __name__ == "__main__":
    main()
