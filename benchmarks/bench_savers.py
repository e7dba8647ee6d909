"""Side-by-side benchmark: our savers vs LangGraph's own, in one run, reported as ratios.

    python -m benchmarks.bench_savers            # default run (a couple of minutes)
    python -m benchmarks.bench_savers --quick    # smoke run (seconds)

Workloads (the same calls LangGraph makes at every step):
* chat: T threads x S steps; a growing ``messages`` channel (one ~500-byte message per
  step), an unchanged ``config`` channel, two tasks' writes per step, then the latest
  ``get_tuple`` -- what one graph step costs the checkpointer;
* reads after the chat workload: latest ``get_tuple``, ``get_tuple`` by id, full ``list``,
  ``list(limit=10)``, ``list`` with a metadata filter, ``list(before=..., limit=10)``;
* a real compiled graph's time per turn; async concurrency (many threads at once);
* bytes stored after the chat workload;
* scale: latest ``get_tuple`` / ``list(limit=10)`` on a 10,000-checkpoint thread vs a 10-checkpoint one.
No timing assertions live in the tests; this script only measures and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import uuid6
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager
from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import chat_graph

MESSAGE = "x" * 480


# ---------------------------------------------------------------------------- savers under test
def make_savers(tmp: Path, stack: ExitStack, *, include_async: bool = False) -> dict[str, Any]:
    savers: dict[str, Any] = {
        "InMemorySaver": InMemorySaver(),
        "ours:memory": ConfigCheckpointSaver(MemoryCheckpointManager({"cleanup_interval": 0})),
    }
    conn = sqlite3.connect(tmp / "peer.db", check_same_thread=False)
    stack.callback(conn.close)
    peer = SqliteSaver(conn)
    peer.setup()
    savers["SqliteSaver"] = peer
    ours = SqliteCheckpointManager({"database_path": str(tmp / "ours.db"), "cleanup_interval": 0})
    ours.initialize()
    stack.callback(ours.close)
    savers["ours:sqlite"] = ConfigCheckpointSaver(ours)
    plain = SqliteCheckpointManager({"database_path": str(tmp / "ours-plain.db"), "cleanup_interval": 0, "compression_enabled": False})
    plain.initialize()
    stack.callback(plain.close)
    savers["ours:sqlite(no compression)"] = ConfigCheckpointSaver(plain)
    if "list_storage" in SqliteCheckpointManager.parameters_model.model_fields:
        # Lists stored whole per version (the pre-"linear storage" layout), to show that trade-off.
        whole = SqliteCheckpointManager({"database_path": str(tmp / "ours-whole.db"), "cleanup_interval": 0, "list_storage": False})
        whole.initialize()
        stack.callback(whole.close)
        savers["ours:sqlite(list_storage off)"] = ConfigCheckpointSaver(whole)
    if "list_storage_reuse_objects" in SqliteCheckpointManager.parameters_model.model_fields:
        # Opt-in: list elements trusted not to change in place once stored (docs/design.md).
        reuse = SqliteCheckpointManager(
            {"database_path": str(tmp / "ours-reuse.db"), "cleanup_interval": 0, "list_storage_reuse_objects": True}
        )
        reuse.initialize()
        stack.callback(reuse.close)
        savers["ours:sqlite(reuse objects)"] = ConfigCheckpointSaver(reuse)
    return savers


def db_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.close()
    return path.stat().st_size


# ---------------------------------------------------------------------------- workloads
def _step_args(thread: str, step: int, parent: dict | None, messages: list, saver) -> tuple:
    versions = dict(parent["checkpoint"]["channel_versions"]) if parent else {}
    new_versions = {"messages": saver.get_next_version(versions.get("messages"), None)}
    if step == 0:
        new_versions["config"] = saver.get_next_version(None, None)
    versions.update(new_versions)
    checkpoint = {
        "v": 4,
        "id": str(uuid6(clock_seq=step)),
        "ts": datetime.now(timezone.utc).isoformat(),
        "channel_values": {"messages": messages, "config": {"model": "none", "temperature": 0}},
        "channel_versions": versions,
        "versions_seen": {"agent": dict(versions)},
        "updated_channels": list(new_versions),
    }
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if parent:
        config["configurable"]["checkpoint_id"] = parent["checkpoint"]["id"]
    metadata = {"source": "loop", "step": step, "parents": {}}
    return config, checkpoint, metadata, new_versions


def chat_thread(saver, thread: str, steps: int) -> float:
    """One thread of the chat workload; returns its wall time."""
    started = time.perf_counter()
    messages: list = []
    parent = None
    for step in range(steps):
        messages = [*messages, HumanMessage(f"{MESSAGE}{step}", id=f"{thread}-{step}")]
        config, checkpoint, metadata, new_versions = _step_args(thread, step, parent, messages, saver)
        stored = saver.put(config, checkpoint, metadata, new_versions)
        saver.put_writes(stored, [("messages", AIMessage("ok")), ("branch:to:agent", None)], "task-a", "a")
        saver.put_writes(stored, [("config", {"k": step})], "task-b", "b")
        tup = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        parent = {"checkpoint": tup.checkpoint}
    return time.perf_counter() - started


def chat_workload(saver, threads: int, steps: int) -> float:
    return sum(chat_thread(saver, f"chat-{t}", steps) for t in range(threads))


def rotated(names: list[str], i: int) -> list[str]:
    """``names`` rotated by ``i``: alternating savers in a rotating order, each one follows
    each other one equally often. A fixed order biases the ratios: a saver that fsyncs at
    every commit (``SqliteSaver``) leaves the disk busy for whichever saver comes next,
    measured at +0.1-0.25 ms on a ~3 ms graph turn for an identical twin of ours."""
    k = i % len(names)
    return names[k:] + names[:k]


def interleaved_chat(savers: dict[str, Any], threads: int, steps: int) -> dict[str, float]:
    """The chat workload on every saver, one thread at a time round-robin across savers.

    On a shared (noisy) machine a burst of load then hits every saver alike; the total
    is reported as ``threads x median(thread time)`` so one preempted thread does not
    decide a ratio.
    """
    samples: dict[str, list[float]] = {name: [] for name in savers}
    for t in range(threads):
        for name in rotated(list(savers), t):
            samples[name].append(chat_thread(savers[name], f"chat-{t}", steps))
    return {name: threads * statistics.median(values) for name, values in samples.items()}


def time_op(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def read_ops(saver, threads: int) -> dict[str, Callable[[], Any]]:
    cfg = {"configurable": {"thread_id": "chat-0", "checkpoint_ns": ""}}
    history = list(saver.list(cfg))
    middle = history[len(history) // 2].config
    return {
        "get_tuple latest": lambda: [saver.get_tuple({"configurable": {"thread_id": f"chat-{t}", "checkpoint_ns": ""}}) for t in range(threads)],
        "get_tuple by id": lambda: saver.get_tuple(middle),
        "list (full thread)": lambda: list(saver.list(cfg)),
        "list limit=10": lambda: list(saver.list(cfg, limit=10)),
        "list filter source=loop": lambda: list(saver.list(cfg, filter={"source": "loop"}, limit=10)),
        "list before= limit=10": lambda: list(saver.list(cfg, before=middle, limit=10)),
    }


def read_workloads(saver, threads: int, repeat: int) -> dict[str, float]:
    return {op: time_op(fn, repeat) for op, fn in read_ops(saver, threads).items()}


def interleaved_reads(savers: dict[str, Any], threads: int, repeat: int) -> dict[str, dict[str, float]]:
    """Median of ``repeat`` samples per (op, saver), the savers alternating sample by sample."""
    ops = {name: read_ops(saver, threads) for name, saver in savers.items()}
    out: dict[str, dict[str, float]] = {}
    for op in next(iter(ops.values())):
        samples: dict[str, list[float]] = {name: [] for name in savers}
        for name in savers:  # warm-up
            ops[name][op]()
        for i in range(repeat):
            for name in rotated(list(savers), i):
                t0 = time.perf_counter()
                ops[name][op]()
                samples[name].append(time.perf_counter() - t0)
        out[op] = {name: statistics.median(values) for name, values in samples.items()}
    return out


def graph_turns(saver, turns: int) -> float:
    graph = chat_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "graph-turns"}}
    started = time.perf_counter()
    for i in range(turns):
        graph.invoke({"messages": [HumanMessage(f"{MESSAGE}{i}", id=f"g{i}")]}, cfg)
    return (time.perf_counter() - started) / turns


def interleaved_graph_turns(savers: dict[str, Any], turns: int, rounds: int = 3) -> dict[str, float]:
    """Median time of one ``invoke`` of a compiled chat graph (a growing conversation of
    ``turns`` turns, on ``rounds`` threads one after the other), savers alternating turn by
    turn. A turn takes a few milliseconds, so more samples steady the median."""
    graphs = {name: chat_graph().compile(checkpointer=saver) for name, saver in savers.items()}
    samples: dict[str, list[float]] = {name: [] for name in savers}
    for r in range(rounds):
        cfg = {"configurable": {"thread_id": f"graph-turns-{r}"}}
        for i in range(turns):
            for name in rotated(list(graphs), r * turns + i):
                graph = graphs[name]
                t0 = time.perf_counter()
                graph.invoke({"messages": [HumanMessage(f"{MESSAGE}{i}", id=f"g{i}")]}, cfg)
                samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(values) for name, values in samples.items()}


async def async_concurrency(saver, threads: int, turns: int, prefix: str = "async") -> float:
    graph = chat_graph().compile(checkpointer=saver)

    async def one(t: int) -> None:
        cfg = {"configurable": {"thread_id": f"{prefix}-{t}"}}
        for i in range(turns):
            await graph.ainvoke({"messages": [HumanMessage(f"{MESSAGE}{i}", id=f"a{t}-{i}")]}, cfg)

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in range(threads)))
    return time.perf_counter() - started


def scale_reads(make: Callable[[], Any], sizes: tuple[int, int], repeat: int) -> dict[int, dict[str, float]]:
    """Latest ``get_tuple`` and ``list(limit=10)`` on threads of each size (built first,
    then sampled alternately so machine noise hits every size alike)."""
    savers = {}
    for size in sizes:
        saver = make()
        parent = None
        messages = [HumanMessage("hi", id="h")]
        for step in range(size):
            config, checkpoint, metadata, new_versions = _step_args("scale", step, parent, messages, saver)
            saver.put(config, checkpoint, metadata, new_versions)
            parent = {"checkpoint": checkpoint}
        savers[size] = saver
    cfg = {"configurable": {"thread_id": "scale", "checkpoint_ns": ""}}
    ops = {
        "get_tuple latest": lambda s: s.get_tuple(cfg),
        "list limit=10": lambda s: list(s.list(cfg, limit=10)),
    }
    out: dict[int, dict[str, float]] = {size: {} for size in sizes}
    for op, fn in ops.items():
        samples: dict[int, list[float]] = {size: [] for size in sizes}
        for size in sizes:
            fn(savers[size])
        for _ in range(max(repeat, 30)):
            for size in sizes:
                t0 = time.perf_counter()
                fn(savers[size])
                samples[size].append(time.perf_counter() - t0)
        for size in sizes:
            out[size][op] = statistics.median(samples[size])
    return out


# ---------------------------------------------------------------------------- report
def ratio_table(title: str, rows: dict[str, dict[str, float]], baseline: str, unit: str = "ms") -> str:
    names = list(next(iter(rows.values())).keys())
    lines = [f"\n### {title} (ratio vs {baseline}; lower is better)\n", "| workload | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for workload, by_saver in rows.items():
        base = by_saver[baseline]
        cells = []
        for name in names:
            value = by_saver[name]
            shown = f"{value * 1000:.2f} ms" if unit == "ms" else f"{value / 1024:.0f} KiB"
            cells.append(f"{shown} ({value / base:.2f}x)" if base else shown)
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the script runs")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    threads, steps, repeat, turns = (2, 5, 3, 3) if args.quick else (20, 50, 15, 30)
    scale_sizes = (10, 200) if args.quick else (10, 10_000)

    report = [
        f"Benchmark run {datetime.now(timezone.utc).isoformat(timespec='seconds')} on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}; "
        f"chat workload {threads} threads x {steps} steps (~500-byte message per step)."
    ]
    with tempfile.TemporaryDirectory() as tmpdir, ExitStack() as stack:
        tmp = Path(tmpdir)
        savers = make_savers(tmp, stack)
        gc.collect()
        chat: dict[str, dict[str, float]] = {"chat workload (total)": interleaved_chat(savers, threads, steps)}
        reads = interleaved_reads(savers, threads, repeat)
        chat["graph turn (per invoke)"] = interleaved_graph_turns(savers, turns)
        report.append(ratio_table("Writes: chat workload and a real graph turn", chat, "SqliteSaver"))
        report.append(ratio_table("Reads after the chat workload", reads, "SqliteSaver"))
        sizes = {
            "bytes stored after chat": {
                "SqliteSaver": db_size(tmp / "peer.db"),
                "ours:sqlite": db_size(tmp / "ours.db"),
                "ours:sqlite(no compression)": db_size(tmp / "ours-plain.db"),
            }
        }
        if "ours:sqlite(list_storage off)" in savers:
            sizes["bytes stored after chat"]["ours:sqlite(list_storage off)"] = db_size(tmp / "ours-whole.db")
        if "ours:sqlite(reuse objects)" in savers:
            sizes["bytes stored after chat"]["ours:sqlite(reuse objects)"] = db_size(tmp / "ours-reuse.db")
        report.append(ratio_table("Storage", sizes, "SqliteSaver", unit="bytes"))

        async def run_async() -> dict[str, float]:
            """Each saver twice, alternating, best of the two (the machine is shared)."""
            n_threads, n_turns = threads // 2 or 1, turns // 3 or 1
            async with AsyncExitStack() as astack:
                peer_async = await astack.enter_async_context(AsyncSqliteSaver.from_conn_string(str(tmp / "peer-async.db")))
                ours_async = await astack.enter_async_context(
                    ConfigCheckpointSaver(SqliteCheckpointManager({"database_path": str(tmp / "ours-async.db"), "cleanup_interval": 0}))
                )
                mem_async = await astack.enter_async_context(ConfigCheckpointSaver(MemoryCheckpointManager({"cleanup_interval": 0})))
                contenders = {"InMemorySaver": InMemorySaver(), "ours:memory": mem_async, "AsyncSqliteSaver": peer_async, "ours:sqlite": ours_async}
                best: dict[str, float] = {}
                for rnd in range(2):
                    for name, saver in contenders.items():
                        took = await async_concurrency(saver, n_threads, n_turns, prefix=f"async{rnd}")
                        best[name] = min(best.get(name, took), took)
                return best

        report.append(ratio_table("Async: concurrent graph threads", {"concurrent ainvoke (total)": asyncio.run(run_async())}, "AsyncSqliteSaver"))

        def make_ours() -> ConfigCheckpointSaver:
            m = SqliteCheckpointManager({"database_path": str(tmp / f"scale-{time.time_ns()}.db"), "cleanup_interval": 0})
            m.initialize()
            stack.callback(m.close)
            return ConfigCheckpointSaver(m)

        scale = scale_reads(make_ours, scale_sizes, repeat)
        small, large = scale_sizes
        scale_rows = {op: {f"{small} checkpoints": scale[small][op], f"{large} checkpoints": scale[large][op]} for op in scale[small]}
        report.append(ratio_table("Scale: ours:sqlite on a long thread", scale_rows, f"{small} checkpoints"))
        mem = {op: {"InMemorySaver": v["InMemorySaver"], "ours:memory": v["ours:memory"]} for op, v in {**chat, **reads}.items()}
        report.append(ratio_table("In-memory manager vs InMemorySaver", mem, "InMemorySaver"))
    text = "\n".join(report) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
