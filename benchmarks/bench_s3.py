"""S3 benchmark (issue 5): our S3 manager beside the S3 peers, on one moto server, in one run.

    python -m benchmarks.bench_s3            # full run (a few minutes on 2 cores)
    python -m benchmarks.bench_s3 --quick    # smoke run (seconds)
    python -m benchmarks.bench_s3 --output benchmarks/RESULTS_s3.md

The script starts its own moto S3 server (``ThreadedMotoServer`` on a free loopback port,
``langgraph_ckpt_config.testing.servers.start_moto_s3``) in a child process -- a store is
another machine, and a server sharing the client's interpreter lock would turn every
contender's parallel requests into sequential ones -- and one bucket; every contender writes
under its own prefix of that bucket and talks to the server over HTTP like to any S3 endpoint.
``--in-process`` runs the server in this process instead (as the tests do).

Contenders:
* ``ours:s3`` -- ``S3CheckpointManager`` behind ``ConfigCheckpointSaver`` (default settings:
  gzip, list storage, local cache);
* ``langgraph-checkpoint-s3`` 0.1.3 (``S3CheckpointSaver``, boto3) -- the baseline of every
  ratio. As shipped it fails on langgraph-checkpoint 4.x: it calls ``serde.dumps`` /
  ``serde.loads``, which ``JsonPlusSerializer`` no longer has. It runs here through a small
  serde shim (``_DumpsShim``: ``dumps`` = ``dumps_typed`` with the type name in front,
  ``loads`` its inverse); nothing else of it is changed;
* ``langgraph-checkpoint-objectstorage`` (``ObjectStorageSaver`` over fsspec/s3fs, pointed at
  the moto endpoint).

Workloads are those of ``benchmarks/bench_savers.py`` (imported, not copied): the chat
workload (per step: ``put``, two tasks' ``put_writes``, the latest ``get_tuple``) and the reads
after it. Added here: HTTP requests per operation, counted at the wire by a counting proxy in
front of the same moto server (``FaultProxy.requests``), for ``put``, ``put_writes``, the latest
``get_tuple`` and ``list(limit=10)`` -- by the process that wrote the thread (warm) and by a new
saver instance (cold), on a short and on a long thread; and the bytes each contender keeps in
the bucket (sum of its objects' sizes after the chat workload).
No timing assertions anywhere: this script only measures and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from benchmarks.bench_savers import MESSAGE, _step_args, chat_thread, interleaved_chat, interleaved_reads
from langgraph_ckpt_config.managers.s3 import S3CheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.servers import FaultProxy, start_moto_s3

BUCKET = "bench-s3"
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
BASELINE = "langgraph-checkpoint-s3"
OURS = "ours:s3"


# ---------------------------------------------------------------------------- server
_SERVE = (
    "import logging, sys\n"
    "logging.getLogger('werkzeug').setLevel(logging.ERROR)\n"
    "from langgraph_ckpt_config.testing.servers import start_moto_s3\n"
    "server = start_moto_s3()\n"
    "print(server.port, flush=True)\n"
    "sys.stdin.read()\n"  # until the parent closes our stdin (or dies)
    "server.stop()\n"
)


class _ChildMoto:
    """``start_moto_s3()`` in a child process (stopped by closing its stdin)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError(f"moto server did not start: {line!r}")
        self.port = int(line)
        self.endpoint_url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------- contenders
class _DumpsShim(JsonPlusSerializer):
    """``langgraph-checkpoint-s3`` 0.1.3 calls ``serde.dumps``/``serde.loads`` (removed from
    LangGraph's serializers in langgraph-checkpoint 4.x): provide them on top of the typed API."""

    def dumps(self, obj: Any) -> bytes:
        typ, data = self.dumps_typed(obj)
        return typ.encode() + b"\0" + data

    def loads(self, data: bytes) -> Any:
        typ, _, body = data.partition(b"\0")
        return self.loads_typed((typ.decode(), body))


def make_ours(endpoint: str) -> Any:
    manager = S3CheckpointManager({
        "bucket": BUCKET, "endpoint_url": endpoint, "create_bucket": True, "key_prefix": "ours/", "cleanup_interval": 0,
        "access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1",
    })
    manager.initialize()
    return ConfigCheckpointSaver(manager)


def make_peer_s3(endpoint: str) -> Any:
    from langgraph_checkpoint_s3 import S3CheckpointSaver

    client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=10), **CREDS)
    return S3CheckpointSaver(BUCKET, prefix="peer-s3/", s3_client=client, serde=_DumpsShim())


def make_peer_objectstorage(endpoint: str) -> Any:
    from langgraph_checkpoint_objectstorage import ObjectStorageSaver

    return ObjectStorageSaver.from_conn_string(
        f"s3://{BUCKET}/peer-os", key="testing", secret="testing", endpoint_url=endpoint,
        client_kwargs={"region_name": "us-east-1"},
    )


MAKERS: dict[str, Callable[[str], Any]] = {
    OURS: make_ours,
    BASELINE: make_peer_s3,
    "langgraph-checkpoint-objectstorage": make_peer_objectstorage,
}
PREFIXES = {OURS: "ours/", BASELINE: "peer-s3/", "langgraph-checkpoint-objectstorage": "peer-os/"}


def close_saver(saver: Any) -> None:
    manager = getattr(saver, "manager", None)
    if manager is not None:
        manager.close()


def bucket_bytes(client: Any, prefix: str) -> tuple[int, int]:
    """(objects, bytes) under ``prefix``."""
    count = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            count += 1
            size += obj["Size"]
    return count, size


# ---------------------------------------------------------------------------- request counts
def _head_puts(saver: Any) -> Callable[[], int]:
    """Counter of our manager's head PUTs. They go out in the background (deferred, docs/s3.md),
    so at the wire they fall into whatever operation runs then: they are reported on their own
    row, per chat step, and taken out of the operation they fell into. Zero for the peers."""
    client = getattr(getattr(saver, "manager", None), "_client", None)
    if client is None:
        return lambda: 0
    count = [0]

    def hook(params: dict, **kwargs: Any) -> None:
        if "/h/" in params.get("Key", ""):  # ids are percent-encoded: only the head has it
            count[0] += 1

    client.meta.events.register("before-parameter-build.s3.PutObject", hook)
    return lambda: count[0]


def count_requests(make: Callable[[str], Any], proxy: FaultProxy, steps: int, long_thread: tuple[str, int] | None) -> dict[str, float]:
    """Requests per operation at the wire (the proxy counts every HTTP request it forwards)."""
    out: dict[str, float] = {}
    heads: Callable[[], int] = lambda: 0  # noqa: E731 - rebound below, once the saver exists

    def measure(fn: Callable[[], Any]) -> int:
        before, h = proxy.requests, heads()
        fn()
        return proxy.requests - before - (heads() - h)

    # The writer: a chat thread of ``steps`` steps through the proxy, each call counted.
    saver = make(proxy.endpoint_url)
    heads = _head_puts(saver)
    puts, writes, latest, head_puts = [], [], [], []
    messages: list = []
    parent = None
    thread = "count-chat"
    cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    for step in range(steps):
        messages = [*messages, HumanMessage(f"{MESSAGE}{step}", id=f"{thread}-{step}")]
        config, checkpoint, metadata, new_versions = _step_args(thread, step, parent, messages, saver)
        heads_before = heads()
        before, h = proxy.requests, heads()
        stored = saver.put(config, checkpoint, metadata, new_versions)
        puts.append(proxy.requests - before - (heads() - h))
        for task_writes, task in (([("messages", AIMessage("ok")), ("branch:to:agent", None)], "a"), ([("config", {"k": step})], "b")):
            before, h = proxy.requests, heads()
            saver.put_writes(stored, task_writes, f"task-{task}", task)
            writes.append(proxy.requests - before - (heads() - h))
        before, h = proxy.requests, heads()
        tup = saver.get_tuple(cfg)
        latest.append(proxy.requests - before - (heads() - h))
        head_puts.append(heads() - heads_before)
        parent = {"checkpoint": tup.checkpoint}
    out["put"] = statistics.mean(puts)
    out["put_writes (per call)"] = statistics.mean(writes)
    out["get_tuple latest, warm (writer, each step)"] = statistics.mean(latest)
    out["head PUTs in the background (ours; per step, not in the rows above)"] = statistics.mean(head_puts)
    out["list(limit=10), warm"] = measure(lambda: list(saver.list(cfg, limit=10)))
    close_saver(saver)

    # Cold: a new saver instance (a process that has not seen the thread), short and long thread.
    threads = [(f"{steps} steps", thread)] + ([(f"{long_thread[1]} steps", long_thread[0])] if long_thread else [])
    for name, tid in threads:
        cfg = {"configurable": {"thread_id": tid, "checkpoint_ns": ""}}
        fresh = make(proxy.endpoint_url)
        out[f"get_tuple latest, cold ({name})"] = measure(lambda fresh=fresh, cfg=cfg: fresh.get_tuple(cfg))
        close_saver(fresh)
        fresh = make(proxy.endpoint_url)
        out[f"list(limit=10), cold ({name})"] = measure(lambda fresh=fresh, cfg=cfg: list(fresh.list(cfg, limit=10)))
        close_saver(fresh)
    return out


# ---------------------------------------------------------------------------- report
def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio_table(title: str, rows: dict[str, dict[str, float]], names: list[str]) -> str:
    lines = [f"### {title}", "", "| operation | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for op, values in rows.items():
        base = values.get(BASELINE)
        cells = []
        for name in names:
            v = values.get(name)
            if v is None:
                cells.append("n/a")
            elif base:
                cells.append(f"{fmt_ms(v)} ({v / base:.2f}x)")
            else:
                cells.append(fmt_ms(v))
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Ratios are against `{BASELINE}` (1.00x); lower is better.")
    return "\n".join(lines)


def count_table(rows: dict[str, dict[str, float]], names: list[str]) -> str:
    ops = list(next(iter(rows.values())))
    lines = ["### HTTP requests per operation (counted at the wire)", "",
             "| operation | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for op in ops:
        cells = []
        for name in names:
            v = rows.get(name, {}).get(op)
            cells.append("n/a" if v is None else (f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"))
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the script runs (seconds)")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    parser.add_argument("--in-process", action="store_true", help="run the moto server in this process")
    args = parser.parse_args(argv)
    threads, steps, repeat, long_steps, count_steps = (1, 3, 1, 8, 3) if args.quick else (4, 50, 5, 150, 25)

    report = [
        f"S3 benchmark run {datetime.now(timezone.utc).isoformat(timespec='seconds')} on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; one moto server (ThreadedMotoServer, HTTP on "
        f"loopback, {'in this process' if args.in_process else 'in a child process'}), one bucket; chat workload {threads} threads x {steps} steps (~500-byte message per step, "
        f"two tasks' writes, latest get_tuple); long thread {long_steps} steps.",
        "",
        f"`{BASELINE}` 0.1.3 runs through a serde shim: as shipped it calls `serde.dumps`/`serde.loads`, which "
        "langgraph-checkpoint 4.x's `JsonPlusSerializer` does not have (it fails on the first `put`). The shim adds "
        "`dumps`/`loads` on top of `dumps_typed`/`loads_typed`; nothing else of the peer is changed.",
    ]
    server = start_moto_s3() if args.in_process else _ChildMoto()
    proxy = FaultProxy(server.port)
    failed: dict[str, str] = {}
    try:
        client = boto3.session.Session().client("s3", endpoint_url=server.endpoint_url, **CREDS)
        client.create_bucket(Bucket=BUCKET)
        savers: dict[str, Any] = {}
        for name, make in MAKERS.items():
            try:
                saver = make(server.endpoint_url)
                chat_thread(saver, "probe", 2)  # proves it can run at all
                savers[name] = saver
            except Exception as exc:  # noqa: BLE001 - reported as a row
                failed[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        names = list(savers)
        gc.collect()
        started = time.perf_counter()
        chat = {"chat workload (total)": interleaved_chat(savers, threads, steps)}
        reads = interleaved_reads(savers, threads, repeat)
        # The long thread (for the "whatever the history length" counts), one per contender.
        for saver in savers.values():
            chat_thread(saver, "long", long_steps)
        sizes = {name: bucket_bytes(client, PREFIXES[name]) for name in names}
        counts = {}
        for name in names:
            try:
                # --quick: the short thread only (the proxy is slow, and the peers read a lot)
                counts[name] = count_requests(MAKERS[name], proxy, count_steps, None if args.quick else ("long", long_steps))
            except Exception as exc:  # noqa: BLE001 - reported as a row
                failed[f"{name} (request counts)"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        elapsed = time.perf_counter() - started
        for saver in savers.values():
            close_saver(saver)

        report.append("")
        report.append(ratio_table("Chat workload (writes + latest read per step)", chat, names))
        report.append("")
        report.append(ratio_table("Reads after the chat workload (median per call)", reads, names))
        report.append("")
        report.append(count_table(counts, names))
        report.append("")
        lines = ["### Bytes stored in the bucket (after the chat workload and the long thread)", "",
                 "| contender | objects | bytes | vs " + BASELINE + " |", "|---|---|---|---|"]
        base_bytes = sizes.get(BASELINE, (0, 0))[1]
        for name in names:
            n, b = sizes[name]
            lines.append(f"| {name} | {n} | {b:,} | {b / base_bytes:.2f}x |" if base_bytes else f"| {name} | {n} | {b:,} | n/a |")
        report.append("\n".join(lines))
        report.append("")
        lines = ["### Peers that could not run", "", "| contender | error |", "|---|---|"]
        lines += [f"| {name} | {why} |" for name, why in failed.items()] or ["| (none) | |"]
        report.append("\n".join(lines))
        report.append("")
        report.append(targets_table(chat, counts, sizes, None if args.quick else long_steps, count_steps))
        report.append("")
        report.append(f"Measured part of the run: {elapsed:.0f} s.")
    finally:
        proxy.stop()
        server.stop()
    text = "\n".join(report) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    return text


def targets_table(chat: dict, counts: dict, sizes: dict, long_steps: int | None, count_steps: int) -> str:
    lines = ["### Against the issue's targets", "", "| target | measured | verdict |", "|---|---|---|"]

    def row(target: str, measured: str, ok: bool | None) -> None:
        lines.append(f"| {target} | {measured} | {'n/a' if ok is None else ('met' if ok else 'not met')} |")

    ours = counts.get(OURS, {})
    labels = [f"{count_steps} steps"] + ([f"{long_steps} steps"] if long_steps else [])
    for label in labels:
        v = ours.get(f"get_tuple latest, cold ({label})")
        row(f"latest get_tuple <= 2 requests (cold, {label})", "n/a" if v is None else f"{v:.0f}", None if v is None else v <= 2)
    v = ours.get("get_tuple latest, warm (writer, each step)")
    row("latest get_tuple <= 2 requests (warm, the writer)", "n/a" if v is None else f"{v:.2f}", None if v is None else v <= 2)
    for label in labels:
        v = ours.get(f"list(limit=10), cold ({label})")
        row(f"list(limit=10) <= 1 + 10 requests (cold, {label})", "n/a" if v is None else f"{v:.0f}", None if v is None else v <= 11)
    mine, base = chat["chat workload (total)"].get(OURS), chat["chat workload (total)"].get(BASELINE)
    ratio = mine / base if mine and base else None
    row(f"chat workload <= 0.3x {BASELINE}'s time", "n/a" if ratio is None else f"{ratio:.2f}x", None if ratio is None else ratio <= 0.3)
    mine_b, base_b = sizes.get(OURS, (0, 0))[1], sizes.get(BASELINE, (0, 0))[1]
    ratio = mine_b / base_b if mine_b and base_b else None
    row(f"bytes stored <= 0.5x {BASELINE}'s", "n/a" if ratio is None else f"{ratio:.2f}x", None if ratio is None else ratio <= 0.5)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
