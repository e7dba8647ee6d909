"""Linear storage (issue 8): bytes stored and per-step ``put`` cost as one chat thread grows.

    python -m benchmarks.bench_linear              # 10 / 100 / 1,000 / 5,000 steps, every backend (~6-9 min)
    python -m benchmarks.bench_linear --quick      # smoke run: 10 and 40 steps (seconds)
    python -m benchmarks.bench_linear --profile    # cProfile of puts at 2,000 steps, SQLite and memory
    python -m benchmarks.bench_linear --no-servers # without Redis and S3

One thread per saver grows by one ~500-byte ``HumanMessage`` per step, with the calls
LangGraph makes for a step (``put``, then ``put_writes``; ``benchmarks.bench_savers._step_args``
builds the checkpoint). All savers advance in lockstep -- step ``s`` on every saver (in a
rotating order) before step ``s + 1`` on any -- so a burst of load on the shared machine hits
all of them alike. Our backends run with ``list_storage`` on (the default), off, and on with
``list_storage_reuse_objects``, beside ``InMemorySaver`` and ``SqliteSaver``.

At each length the report gives
* bytes stored: SQLite files after ``wal_checkpoint(TRUNCATE)`` + ``VACUUM``; Redis: the sum of
  ``MEMORY USAGE key SAMPLES 0`` over every key of our own ``redis-server`` (``used_memory``
  growth in a second table); S3: the sum of the bucket's object sizes (moto, in a child
  process); in-process savers: the serialized bytes they hold (``InMemorySaver``: the payloads
  of its ``storage``/``blobs``/``writes`` dicts; ours: ``_storage_size()``, the stored
  payloads), i.e. no Python object overhead on either;
* the ratio to the unique content: what the steps must store at the least, once each -- every
  message, each step's checkpoint document without channel values, its metadata and its write;
* the mean wall and CPU (``time.process_time``) time of one ``put`` over the 10 steps ending
  at that length (steps 1-10 at the 10-step mark: the very first put creates statements).

Savers that grow with the square of the thread (the peers, ``list_storage`` off) stop at
1,000 steps; S3 at 1,000 (moto's CPU, not the layout, dominates beyond). No assertions.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import platform
import pstats
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from benchmarks.bench_savers import MESSAGE, _step_args, db_size
from langgraph_ckpt_config.managers.listtree import NODE_TYPE
from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager
from langgraph_ckpt_config.managers.records import ELEMENT_CHANNEL
from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver

WINDOW = 10
QUADRATIC_LIMIT = 1000
S3_LIMIT = 1000
VARIANTS = (("", {}), ("(reuse objects)", {"list_storage_reuse_objects": True}), ("(list_storage off)", {"list_storage": False}))


@dataclass
class Contender:
    """A saver, how far its thread grows, how to measure its bytes, and its thread's state."""

    name: str
    saver: Any
    limit: int
    measure: Callable[[], int]
    extra: Callable[[], int] | None = None  # a second measure (Redis used_memory growth)
    messages: list = field(default_factory=list)
    parent: dict | None = None
    puts: list = field(default_factory=list)
    results: dict = field(default_factory=dict)


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


def _limit(extra: dict, longest: int, cap: int = 0) -> int:
    limit = min(longest, QUADRATIC_LIMIT) if extra.get("list_storage") is False else longest
    return min(limit, cap) if cap else limit


def make_contenders(tmp: Path, stack: ExitStack, lengths: list[int], *, servers: bool) -> list[Contender]:
    longest = max(lengths)
    quadratic = min(longest, QUADRATIC_LIMIT)
    peer_mem = InMemorySaver()
    out = [Contender("InMemorySaver", peer_mem, quadratic, lambda: _inmemory_bytes(peer_mem))]
    conn = sqlite3.connect(tmp / "peer.db", check_same_thread=False)
    stack.callback(conn.close)
    peer = SqliteSaver(conn)
    peer.setup()
    out.append(Contender("SqliteSaver", peer, quadratic, lambda: db_size(tmp / "peer.db")))
    for suffix, extra in VARIANTS:
        mem = _ours(MemoryCheckpointManager({"cleanup_interval": 0, **extra}), stack)
        out.append(Contender(f"ours:memory{suffix}", mem, _limit(extra, longest), mem.manager._storage_size))
    for i, (suffix, extra) in enumerate(VARIANTS):
        path = tmp / f"ours-{i}.db"
        saver = _ours(SqliteCheckpointManager({"database_path": str(path), "cleanup_interval": 0, **extra}), stack)
        out.append(Contender(f"ours:sqlite{suffix}", saver, _limit(extra, longest), lambda p=path: db_size(p)))
    if servers:
        out += _server_contenders(tmp, stack, longest)
    return out


def _server_contenders(tmp: Path, stack: ExitStack, longest: int) -> list[Contender]:
    import boto3
    import redis

    from benchmarks.bench_s3 import _ChildMoto
    from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
    from langgraph_ckpt_config.managers.s3 import S3CheckpointManager
    from langgraph_ckpt_config.testing.servers import RedisServer, free_port

    out = []
    for i, (suffix, extra) in enumerate(VARIANTS):
        directory = tmp / f"redis-{i}"
        directory.mkdir()
        server = RedisServer(port=free_port(), directory=directory).start()
        stack.callback(server.stop)
        client = redis.Redis(host="127.0.0.1", port=server.port)
        stack.callback(client.close)
        baseline = int(client.info("memory")["used_memory"])
        saver = _ours(RedisCheckpointManager({"host": "127.0.0.1", "port": server.port, "cleanup_interval": 0, **extra}), stack)

        def key_bytes(client=client) -> int:
            return sum(client.memory_usage(key, samples=0) or 0 for key in client.scan_iter(count=1000))

        def used(client=client, baseline=baseline) -> int:
            return int(client.info("memory")["used_memory"]) - baseline

        out.append(Contender(f"ours:redis{suffix}", saver, _limit(extra, longest), key_bytes, used))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = _ChildMoto()  # moto's CPU stays out of this process's process_time
    stack.callback(moto.stop)
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.session.Session().client("s3", endpoint_url=moto.endpoint_url, **creds)
    for i, (suffix, extra) in enumerate(VARIANTS):
        bucket = f"bench-linear-{i}"
        manager = S3CheckpointManager({
            "bucket": bucket, "endpoint_url": moto.endpoint_url, "create_bucket": True, "cleanup_interval": 0,
            "access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1", **extra,
        })
        saver = _ours(manager, stack)

        def bucket_bytes(bucket=bucket) -> int:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))

        out.append(Contender(f"ours:s3{suffix}", saver, _limit(extra, longest, S3_LIMIT), bucket_bytes))
    return out


def _message(step: int) -> HumanMessage:
    return HumanMessage(f"{MESSAGE}{step}", id=f"m-{step}")


def _step(contender: Contender, step: int, message: HumanMessage, profiler: cProfile.Profile | None = None) -> None:
    saver = contender.saver
    contender.messages = [*contender.messages, message]
    config, checkpoint, metadata, new_versions = _step_args("linear", step, contender.parent, contender.messages, saver)
    if profiler is not None:
        profiler.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    stored = saver.put(config, checkpoint, metadata, new_versions)
    contender.puts.append((time.perf_counter() - wall, time.process_time() - cpu))
    if profiler is not None:
        profiler.disable()
    saver.put_writes(stored, [("messages", AIMessage("ok"))], "task-a", "a")
    contender.parent = {"checkpoint": checkpoint}


def _unique_content(steps: int) -> tuple[list[int], list[int]]:
    """Per step, cumulative: message bytes, and message + checkpoint document + metadata + write."""
    serde = InMemorySaver().serde
    saver = InMemorySaver()
    messages, parent, unique, minimal = [], None, [], []
    total_msg = total = 0
    for step in range(steps):
        message = _message(step)
        messages = [*messages, message]
        _config, checkpoint, metadata, _nv = _step_args("linear", step, parent, messages, saver)
        document = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        size = len(serde.dumps_typed(message)[1])
        total_msg += size
        total += size + len(serde.dumps_typed(document)[1]) + len(serde.dumps_typed(metadata)[1])
        total += len(serde.dumps_typed(AIMessage("ok"))[1])
        unique.append(total_msg)
        minimal.append(total)
        parent = {"checkpoint": checkpoint}
    return unique, minimal


def run_lockstep(contenders: list[Contender], lengths: list[int]) -> dict[int, dict[str, int]]:
    """Grow every contender's thread one step at a time, all in lockstep; measure at each mark."""
    marks = {c.name: [n for n in lengths if n <= c.limit] for c in contenders}
    steps = max((max(m) for m in marks.values() if m), default=0)
    unique, minimal = _unique_content(steps)
    started = time.perf_counter()
    for step in range(steps):
        message = _message(step)
        active = [c for c in contenders if marks[c.name] and step < max(marks[c.name])]
        shift = step % len(active)
        for contender in active[shift:] + active[:shift]:
            _step(contender, step, message)
        n = step + 1
        if n in lengths:
            for contender in active:
                if n not in marks[contender.name]:
                    continue
                window = contender.puts[max(1, n - WINDOW) : n]
                contender.results[n] = {
                    "bytes": contender.measure(),
                    "used_memory": contender.extra() if contender.extra else None,
                    "put_ms": statistics.mean(w for w, _ in window) * 1000,
                    "put_cpu_ms": statistics.mean(c for _, c in window) * 1000,
                }
            print(f"# {n:,} steps measured after {time.perf_counter() - started:,.0f} s", flush=True)
    return {n: {"unique": unique[n - 1], "minimal": minimal[n - 1]} for n in lengths if n <= steps}


def _fmt_bytes(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n:,.0f} B"


def report(contenders: list[Contender], content: dict[int, dict[str, int]], lengths: list[int]) -> str:
    head = "| saver | " + " | ".join(f"{n:,} steps" for n in lengths) + " |"
    rule = "|---|" + "---|" * len(lengths)
    lines = [
        "### Bytes stored (ratio to the unique content: messages + each step's checkpoint document, metadata and write, once)",
        "",
        head,
        rule,
    ]
    for c in contenders:
        cells = [
            f"{_fmt_bytes(r['bytes'])} ({r['bytes'] / content[n]['minimal']:.2f}x)" if (r := c.results.get(n)) else "—"
            for n in lengths
        ]
        lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    lines.append("| unique content | " + " | ".join(_fmt_bytes(content[n]["minimal"]) if n in content else "—" for n in lengths) + " |")
    lines.append("| of which messages | " + " | ".join(_fmt_bytes(content[n]["unique"]) if n in content else "—" for n in lengths) + " |")
    peer = next((c for c in contenders if c.name == "SqliteSaver"), None)
    if peer is not None:
        lines += ["", "### Bytes stored as a fraction of `SqliteSaver`'s at the same length", "", head, rule]
        for c in contenders:
            cells = []
            for n in lengths:
                r, p = c.results.get(n), peer.results.get(n)
                cells.append(f"{r['bytes'] / p['bytes']:.3f}x" if r and p else "—")
            lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    redis_rows = [c for c in contenders if c.extra]
    if redis_rows:
        lines += ["", "### Redis `INFO memory` `used_memory` growth since the server started (allocator, script cache and client buffers included)", "", head, rule]
        for c in redis_rows:
            cells = [f"{_fmt_bytes(r['used_memory'])} ({r['used_memory'] / content[n]['minimal']:.2f}x)" if (r := c.results.get(n)) else "—" for n in lengths]
            lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"### Per-step `put`: wall ms / CPU ms, mean of the {WINDOW} steps ending there (wall-time ratio to 10 steps; CPU-time ratio)",
        "",
        head,
        rule,
    ]
    first = min(lengths)
    for c in contenders:
        cells = []
        base = c.results.get(first)
        for n in lengths:
            r = c.results.get(n)
            if not r:
                cells.append("—")
                continue
            ratio = f" ({r['put_ms'] / base['put_ms']:.1f}x; CPU {r['put_cpu_ms'] / base['put_cpu_ms']:.1f}x)" if base and n != first else ""
            cells.append(f"{r['put_ms']:.2f} / {r['put_cpu_ms']:.2f}{ratio}")
        lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- profile
#: Functions whose cumulative time per put is summarized (substring of pstats' function name).
_SPOTS = (
    ("saver.put (all)", "saver.py", "put"),
    ("_put_kwargs (serialize, digest, tree)", "saver.py", "_put_kwargs"),
    ("_list_blobs", "saver.py", "_list_blobs"),
    ("serde.dumps_typed (all calls)", "jsonplus.py", "dumps_typed"),
    ("element_digest (blake2b)", "listtree.py", "element_digest"),
    ("build_manifest (list tree)", "listtree.py", "build_manifest"),
    ("element_known", "base.py", "element_known"),
    ("manager.put_langgraph_checkpoint (codec + store)", "base.py", "put_langgraph_checkpoint"),
)


def _grow(saver: Any, steps: int) -> Contender:
    c = Contender("profile", saver, steps, lambda: 0)
    for step in range(steps):
        _step(c, step, _message(step))
    return c


def _spots(stats: pstats.Stats, puts: int) -> list[tuple[str, float, int]]:
    out = []
    raw = stats.stats  # type: ignore[attr-defined]
    for label, filename, func in _SPOTS:
        cum, calls = 0.0, 0
        for (path, _line, name), (_cc, nc, _tt, ct, _callers) in raw.items():
            if name == func and path.endswith(filename):
                cum, calls = max(cum, ct), max(calls, nc)
        out.append((label, cum / puts * 1000, calls // puts))
    return out


def _top(stats: pstats.Stats, key: str, puts: int, n: int = 12) -> list[str]:
    raw = stats.stats  # type: ignore[attr-defined]
    index = 3 if key == "cumulative" else 2
    rows = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:n]
    out = ["| function | calls per put | own ms | inclusive ms |", "|---|---|---|---|"]
    for (path, line, name), (_cc, nc, tt, ct, _callers) in rows:
        where = f"{Path(path).name}:{line}({name})" if path != "~" else name
        out.append(f"| `{where}` | {nc / puts:,.0f} | {tt / puts * 1000:.3f} | {ct / puts * 1000:.3f} |")
    return out


def _sqlite_bytes(path: Path, steps: int, t: str) -> list[str]:
    total = db_size(path)
    conn = sqlite3.connect(path)
    try:
        lines = [f"file after VACUUM: {total:,} B = {total / steps:,.0f} B per step", ""]
        lines += ["| table / index (dbstat) | bytes on pages | per step |", "|---|---|---|"]
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
            lines.append(f"| {name} | {size:,} | {size / steps:,.0f} |")
        lines += ["", "| rows | count | mean payload B | mean key+checksum B | payload per step |", "|---|---|---|---|---|"]
        keys = "length(thread_id)+length(checkpoint_ns)+length(channel)+length(version)+length(payload_type)+length(checksum)"
        for label, where, args in (
            ("elements (messages)", "channel = ? AND payload_type != ?", (ELEMENT_CHANNEL, NODE_TYPE)),
            ("list-tree nodes", "channel = ? AND payload_type = ?", (ELEMENT_CHANNEL, NODE_TYPE)),
            ("manifests (messages)", "channel = ?", ("messages",)),
            ("other blobs", "channel NOT IN (?, ?)", (ELEMENT_CHANNEL, "messages")),
        ):
            count, mean, mean_keys, tot = conn.execute(
                f"SELECT count(*), avg(length(payload)), avg({keys}), coalesce(sum(length(payload)), 0) FROM \"{t}_blobs\" WHERE {where}", args
            ).fetchone()
            lines.append(f"| {label} | {count:,} | {mean or 0:,.0f} | {mean_keys or 0:,.0f} | {tot / steps:,.0f} |")
        for label, table, cols in (
            ("checkpoint records", t, "length(checksum)+length(metadata)+length(channel_versions)"),
            ("writes", f"{t}_writes", "length(checksum)+length(task_id)+length(checkpoint_id)"),
        ):
            try:
                count, mean, mean_keys, tot = conn.execute(
                    f"SELECT count(*), avg(length(payload)), avg({cols}), sum(length(payload)) FROM \"{table}\""
                ).fetchone()
            except sqlite3.OperationalError:
                count, mean, mean_keys, tot = conn.execute(
                    f"SELECT count(*), avg(length(payload)), avg(length(checksum)), sum(length(payload)) FROM \"{table}\""
                ).fetchone()
            lines.append(f"| {label} | {count:,} | {mean:,.0f} | {mean_keys:,.0f} | {tot / steps:,.0f} |")
        largest = conn.execute(
            f'SELECT length(payload) FROM "{t}_blobs" WHERE channel = \'messages\' ORDER BY version DESC LIMIT 1'
        ).fetchone()
        if largest:
            lines.append(f"\nnewest manifest: {largest[0]:,} B")
    finally:
        conn.close()
    return lines


def _memory_bytes(manager: MemoryCheckpointManager, steps: int) -> list[str]:
    groups: dict[str, list[int]] = {"elements (messages)": [], "list-tree nodes": [], "manifests (messages)": [], "other blobs": []}
    for blobs in manager._blobs.values():
        for blob in blobs.values():
            if blob.channel == ELEMENT_CHANNEL:
                groups["list-tree nodes" if blob.payload_type == NODE_TYPE else "elements (messages)"].append(len(blob.payload))
            elif blob.channel == "messages":
                groups["manifests (messages)"].append(len(blob.payload))
            else:
                groups["other blobs"].append(len(blob.payload))
    groups["checkpoint records"] = [len(r.payload or b"") for t in manager._records.values() for ns in t.values() for r in ns.values()]
    groups["writes"] = [len(w.payload) for ws in manager._writes.values() for w in ws.values()]
    total = manager._storage_size() or 0
    lines = [f"`_storage_size()`: {total:,} B = {total / steps:,.0f} B per step", "", "| rows | count | mean payload B | per step |", "|---|---|---|---|"]
    for label, sizes in groups.items():
        lines.append(f"| {label} | {len(sizes):,} | {statistics.mean(sizes) if sizes else 0:,.0f} | {sum(sizes) / steps:,.0f} |")
    return lines


def profile(steps: int, puts: int = 20) -> str:
    """cProfile ``puts`` puts after a thread of ``steps`` steps, on SQLite and memory."""
    lines = [f"## Profile: {puts} puts after {steps:,} steps (cProfile; times per put)", ""]
    with tempfile.TemporaryDirectory() as tmpdir, ExitStack() as stack:
        tmp = Path(tmpdir)
        cases = []
        for suffix, extra in VARIANTS[:2]:
            cases.append((f"ours:sqlite{suffix}", _ours(SqliteCheckpointManager({"database_path": str(tmp / f"p{len(cases)}.db"), "cleanup_interval": 0, **extra}), stack)))
            cases.append((f"ours:memory{suffix}", _ours(MemoryCheckpointManager({"cleanup_interval": 0, **extra}), stack)))
        for name, saver in cases:
            c = _grow(saver, steps)
            profiler = cProfile.Profile()
            for step in range(steps, steps + puts):
                _step(c, step, _message(step), profiler)
            plain = c.puts[steps - WINDOW : steps]
            profiled = c.puts[steps:]
            stats = pstats.Stats(profiler)
            lines += [
                f"### {name}",
                "",
                f"put at {steps:,} steps, unprofiled (mean of {WINDOW}): {statistics.mean(w for w, _ in plain) * 1000:.2f} ms wall, "
                f"{statistics.mean(c for _, c in plain) * 1000:.2f} ms CPU; under cProfile: "
                f"{statistics.mean(w for w, _ in profiled) * 1000:.2f} ms wall",
                "",
                "| where (cProfile, inclusive) | ms per put | calls per put |",
                "|---|---|---|",
            ]
            lines += [f"| {label} | {ms:.2f} | {calls:,} |" for label, ms, calls in _spots(stats, puts)]
            for key, title in (("cumulative", "inclusive"), ("tottime", "own")):
                lines += ["", f"Top 12 functions by {title} time (ms per put):", ""] + _top(stats, key, puts)
            lines += ["", f"bytes after {steps + puts:,} steps:", ""]
            if "sqlite" in name:
                lines += _sqlite_bytes(Path(saver.manager.path), steps + puts, saver.manager.params.table_name)
            else:
                lines += _memory_bytes(saver.manager, steps + puts)
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 and 40 steps (servers too unless --no-servers)")
    parser.add_argument("--no-servers", action="store_true", help="skip Redis and S3")
    parser.add_argument("--profile", nargs="?", type=int, const=2000, metavar="STEPS", help="profile puts after STEPS steps (default 2,000) instead")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.profile:
        out = profile(args.profile, puts=5 if args.quick else 20)
    else:
        lengths = [10, 40] if args.quick else [10, 100, 1000, 5000]
        text = [
            f"Linear-storage benchmark {datetime.now(timezone.utc).isoformat(timespec='seconds')} on {platform.node()}: "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; one thread per saver, one ~500-byte message per step, "
            "all savers in lockstep.",
            "",
        ]
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmpdir, ExitStack() as stack:
            contenders = make_contenders(Path(tmpdir), stack, lengths, servers=not args.no_servers)
            content = run_lockstep(contenders, lengths)
            text.append(report(contenders, content, lengths))
        text += ["", f"Whole run: {time.perf_counter() - started:,.0f} s."]
        out = "\n".join(text) + "\n"
    print(out)
    if args.output:
        args.output.write_text(out)


if __name__ == "__main__":
    main()
