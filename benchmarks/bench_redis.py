"""Redis benchmark (issue 4): our Redis manager, standalone and on a 3-node cluster, side by
side with the Redis peers, our SQLite manager and ``InMemorySaver`` -- in one run.

    python -m benchmarks.bench_redis            # full run (several minutes on 2 cores)
    python -m benchmarks.bench_redis --quick    # smoke run (seconds)
    python -m benchmarks.bench_redis --output benchmarks/RESULTS_redis.md

Every server is started here on free loopback ports (``langgraph_ckpt_config.testing.servers``)
and stopped at the end -- never a shared instance such as the one on 6379. Each Redis saver
gets its own server (or cluster), so its memory can be measured alone.

Contenders: ``ours:redis`` (standalone), ``ours:redis-cluster`` (3 masters), ``plainredis``
(``langgraph-checkpoint-plainredis``, the baseline of every ratio), ``langgraph-checkpoint-redis``
(needs the RedisJSON and RediSearch modules; if the server lacks them it gets a row saying
why instead of numbers), ``ours:sqlite`` and ``InMemorySaver``.

Workloads are those of ``benchmarks/bench_savers.py`` (imported, not copied): the chat
workload (put, two tasks' writes, latest ``get_tuple`` per step), a real compiled graph's
turn, the reads after the chat workload (including ``list`` with a metadata filter), and
async concurrency. Added here: a *selective* metadata filter (one checkpoint of the thread
matches, so a saver that filters after loading loads the whole thread), network round trips
per operation (socket writes counted in redis-py's connection classes: a pipeline or a
script call is one), server commands per operation (``INFO stats`` ``total_commands_processed``,
which also counts the commands a Lua script runs), and memory per checkpoint (``INFO memory``
``used_memory`` delta over the chat workload, and the keys' own ``MEMORY USAGE``).
No timing assertions anywhere: this script only measures and prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import redis
import redis.asyncio.connection
import redis.connection
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from benchmarks.bench_savers import (
    _step_args,
    async_concurrency,
    chat_thread,
    interleaved_chat,
    interleaved_graph_turns,
    interleaved_reads,
    ratio_table,
    rotated,
)
from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
from langgraph_ckpt_config.managers.sqlite import SqliteCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.servers import RedisCluster, RedisServer, free_port, start_cluster

BASELINE = "plainredis"
LCR = "langgraph-checkpoint-redis"
OURS, CLUSTER = "ours:redis", "ours:redis-cluster"
KEY_PREFIX = "bench:"


# ---------------------------------------------------------------------------- measurement helpers
class RoundTrips:
    """Counts network round trips of every redis-py client of this process (sync and async).

    redis-py writes one request per ``send_packed_command`` call -- one command, a whole
    pipeline, or one script call -- and then reads its replies: the count of those calls is
    the count of round trips. (A cluster pipeline spanning nodes writes once per node.)
    """

    def __init__(self) -> None:
        self.count = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[RoundTrips]:
        sync_cls = redis.connection.AbstractConnection
        async_cls = redis.asyncio.connection.AbstractConnection
        sync_orig, async_orig = sync_cls.send_packed_command, async_cls.send_packed_command
        counter = self

        def sync_counted(conn: Any, command: Any, check_health: bool = True) -> Any:
            counter.count += 1
            return sync_orig(conn, command, check_health)

        async def async_counted(conn: Any, command: Any, check_health: bool = True) -> Any:
            counter.count += 1
            return await async_orig(conn, command, check_health)

        sync_cls.send_packed_command = sync_counted  # type: ignore[method-assign]
        async_cls.send_packed_command = async_counted  # type: ignore[method-assign]
        try:
            yield self
        finally:
            sync_cls.send_packed_command = sync_orig  # type: ignore[method-assign]
            async_cls.send_packed_command = async_orig  # type: ignore[method-assign]


class Servers:
    """The Redis processes behind one saver: a standalone server or a cluster's masters."""

    def __init__(self, nodes: list[RedisServer]) -> None:
        self.nodes = nodes
        self.clients = [redis.Redis(host=n.host, port=n.port) for n in nodes]

    def commands(self) -> int:
        """Commands processed so far (client commands and those run by scripts), minus our INFO calls."""
        return sum(int(c.info("stats")["total_commands_processed"]) for c in self.clients)

    def cpu_seconds(self) -> float:
        """CPU time the server processes used so far (``INFO cpu``: user + system)."""
        total = 0.0
        for c in self.clients:
            info = c.info("cpu")
            total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return total

    def used_memory(self) -> int:
        return sum(int(c.info("memory")["used_memory"]) for c in self.clients)

    def key_bytes(self) -> int:
        """``MEMORY USAGE`` (exact, SAMPLES 0) of every key: the data alone, without allocator noise."""
        total = 0
        for c in self.clients:
            for key in c.scan_iter(count=1000):
                total += int(c.memory_usage(key, samples=0) or 0)
        return total

    def close(self) -> None:
        for c in self.clients:
            c.close()


def _cfg(thread: str) -> dict:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


# ---------------------------------------------------------------------------- contenders
def make_savers(tmp: Path, stack: ExitStack, standalone: RedisServer, cluster: RedisCluster, peer: RedisServer,
                lcr_server: RedisServer) -> tuple[dict[str, Any], dict[str, Servers], dict[str, str]]:
    """(savers by name, the servers behind each Redis saver, peers that cannot run: reason)."""
    from langgraph_checkpoint_plainredis import RedisSaver as PlainRedisSaver

    savers: dict[str, Any] = {"InMemorySaver": InMemorySaver()}
    sqlite = SqliteCheckpointManager({"database_path": str(tmp / "ours.db"), "cleanup_interval": 0})
    sqlite.initialize()
    stack.callback(sqlite.close)
    savers["ours:sqlite"] = ConfigCheckpointSaver(sqlite)

    plain = PlainRedisSaver(host=standalone.host, port=peer.port)
    stack.callback(plain.close)
    savers[BASELINE] = plain

    ours = RedisCheckpointManager({"host": standalone.host, "port": standalone.port, "key_prefix": KEY_PREFIX, "cleanup_interval": 0})
    ours.initialize()
    stack.callback(ours.close)
    savers[OURS] = ConfigCheckpointSaver(ours)

    nodes = [{"host": n.host, "port": n.port} for n in cluster.nodes]
    clustered = RedisCheckpointManager({"cluster_enabled": True, "cluster_nodes": nodes, "key_prefix": KEY_PREFIX, "cleanup_interval": 0})
    clustered.initialize()
    stack.callback(clustered.close)
    savers[CLUSTER] = ConfigCheckpointSaver(clustered)

    servers = {BASELINE: Servers([peer]), OURS: Servers([standalone]), CLUSTER: Servers(list(cluster.nodes))}
    unavailable: dict[str, str] = {}
    try:
        from langgraph.checkpoint.redis import RedisSaver as ModuleRedisSaver

        lcr = ModuleRedisSaver(redis_url=f"redis://{lcr_server.host}:{lcr_server.port}")
        try:
            lcr.setup()  # creates its RediSearch indexes: FT.* commands
        except Exception:
            with contextlib.suppress(Exception):
                lcr._redis.close()
            raise
        stack.callback(lambda: lcr._redis.close())
        savers[LCR] = lcr
        servers[LCR] = Servers([lcr_server])
    except Exception as exc:  # recorded in the report, never silently dropped
        modules = ""
        with contextlib.suppress(Exception):
            loaded = redis.Redis(host=lcr_server.host, port=lcr_server.port).execute_command("MODULE", "LIST")
            modules = f"; server modules loaded: {loaded or 'none'}"
        version = redis.Redis(host=lcr_server.host, port=lcr_server.port).info("server")["redis_version"]
        unavailable[LCR] = f"setup() failed on redis-server {version}{modules}: {type(exc).__name__}: {str(exc)[:160]}"
    for s in servers.values():
        stack.callback(s.close)
    return savers, servers, unavailable


# ---------------------------------------------------------------------------- round trips and commands
def per_op_costs(savers: dict[str, Any], servers: dict[str, Servers], steps: int, rt: RoundTrips,
                 cold: dict[str, Callable[[], Any]]) -> dict[str, dict[str, float]]:
    """Round trips and server commands per put / put_writes / latest get_tuple / filtered list.

    Measured on a fresh thread ``rt`` of ``steps`` chat steps per saver, after a warm-up
    thread (connections and script caches are set up once per process, not per operation).
    ``cold``: per saver, a function giving a saver with empty process caches on the same data.
    """
    return {
        name: _op_costs(saver, servers[name], steps, rt, cold.get(name))
        for name, saver in savers.items()
        if name in servers
    }


def _op_costs(saver: Any, srv: Servers, steps: int, rt: RoundTrips, make_cold: Callable[[], Any] | None) -> dict[str, float]:
    from langchain_core.messages import AIMessage

    chat_thread(saver, "rt-warmup", 2)  # connections opened, scripts loaded (NOSCRIPT is a one-time cost)
    list(saver.list(_cfg("rt-warmup"), filter={"step": 1}, limit=10))
    totals: dict[str, list[int]] = {}

    def measure(op: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        before_cmd = srv.commands()
        before_rt = rt.count
        result = fn(*args, **kwargs)
        trips = rt.count - before_rt
        cmds = srv.commands() - before_cmd - len(srv.clients)  # minus the INFO call(s) made for the count
        totals.setdefault(op, []).append(trips)
        totals.setdefault(op + " (server cmds)", []).append(cmds)
        return result

    parent = None
    messages: list = []
    for step in range(steps):
        messages = [*messages, HumanMessage(f"{'x' * 480}{step}", id=f"rt-{step}")]
        config, checkpoint, metadata, new_versions = _step_args("rt", step, parent, messages, saver)
        stored = measure("put", saver.put, config, checkpoint, metadata, new_versions)
        measure("put_writes", saver.put_writes, stored, [("messages", AIMessage("ok")), ("branch:to:agent", None)], "task-a", "a")
        tup = measure("get_tuple latest", saver.get_tuple, _cfg("rt"))
        parent = {"checkpoint": tup.checkpoint}
    measure("list limit=10", lambda: list(saver.list(_cfg("rt"), limit=10)))
    measure("list filter step=1 limit=10", lambda: list(saver.list(_cfg("rt"), filter={"step": 1}, limit=10)))
    fresh = make_cold() if make_cold is not None else saver  # no process cache: a cold read is a warm one
    measure("get_tuple latest, cold", fresh.get_tuple, _cfg("rt"))
    return {op: statistics.mean(values) for op, values in totals.items()}


def costs_table(costs: dict[str, dict[str, float]]) -> str:
    names = list(costs)
    ops = list(next(iter(costs.values())))
    lines = [
        "\n### Round trips and server commands per operation (lower is better)\n",
        "Round trips: requests written by redis-py (a script call or a pipeline is one). Server cmds: "
        "`total_commands_processed` delta, which counts each command a Lua script runs too.\n",
        "| operation | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for op in ops:
        lines.append(f"| {op} | " + " | ".join(f"{costs[n][op]:.2f}" for n in names) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CPU of the chat workload
def chat_cpu(savers: dict[str, Any], servers: dict[str, Servers], threads: int, steps: int) -> dict[str, dict[str, float]]:
    """CPU per chat step: this process (``time.process_time``) and the saver's own redis-server(s)
    (``INFO cpu``), savers alternating thread by thread. Unlike wall time, CPU time barely moves
    with the load other work puts on a shared machine."""
    names = [n for n in savers if n in servers]
    client = dict.fromkeys(names, 0.0)
    server = dict.fromkeys(names, 0.0)
    for t in range(threads):
        for name in names:
            s0, c0 = servers[name].cpu_seconds(), time.process_time()
            chat_thread(savers[name], f"cpu-{t}", steps)
            client[name] += time.process_time() - c0
            server[name] += servers[name].cpu_seconds() - s0
    n = threads * steps
    return {
        "client CPU per chat step": {k: v / n for k, v in client.items()},
        "redis-server CPU per chat step": {k: v / n for k, v in server.items()},
        "total CPU per chat step": {k: (client[k] + server[k]) / n for k in names},
    }


def cpu_table(cpu: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(cpu.values())))
    lines = ["\n### CPU of the chat workload (ratio vs plainredis; lower is better)\n",
             "This process's CPU (`time.process_time`) and the saver's own redis-server(s) (`INFO cpu`, user + "
             "system; a cluster: its 3 masters), per chat step, savers alternating thread by thread. Less sensitive "
             "than wall time to the load of other work on a shared machine.\n",
             "| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, row in cpu.items():
        lines.append(f"| {label} | " + " | ".join(f"{row[n] * 1e3:.3f} ms ({row[n] / row[BASELINE]:.2f}x)" for n in names) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- extra reads
def selective_ops(saver: Any, threads: int, steps: int) -> dict[str, Callable[[], Any]]:
    """Metadata filters a saver cannot answer from the first checkpoints it loads."""
    cfg = _cfg("chat-0")
    middle = steps // 2
    return {
        f"list filter step={middle} (1 match) limit=10": lambda: list(saver.list(cfg, filter={"step": middle}, limit=10)),
        "list filter source=update (no match)": lambda: list(saver.list(cfg, filter={"source": "update"})),
    }


def interleaved_ops(savers: dict[str, Any], make_ops: Callable[[Any], dict[str, Callable[[], Any]]], repeat: int) -> dict[str, dict[str, float]]:
    """Median of ``repeat`` samples per (op, saver), savers alternating (as bench_savers does)."""
    ops = {name: make_ops(saver) for name, saver in savers.items()}
    out: dict[str, dict[str, float]] = {}
    for op in next(iter(ops.values())):
        samples: dict[str, list[float]] = {name: [] for name in savers}
        for name in savers:
            ops[name][op]()
        for i in range(repeat):
            for name in rotated(list(savers), i):
                t0 = time.perf_counter()
                ops[name][op]()
                samples[name].append(time.perf_counter() - t0)
        out[op] = {name: statistics.median(v) for name, v in samples.items()}
    return out


# ---------------------------------------------------------------------------- async
async def run_async(savers: dict[str, Any], make_async_peers: Callable[[], dict[str, Any]], threads: int, turns: int) -> dict[str, float]:
    """Concurrent ``ainvoke`` threads; each saver twice, alternating, best of the two."""
    contenders = {"InMemorySaver": InMemorySaver()}
    peers = make_async_peers()
    for name, saver in savers.items():
        if name == "InMemorySaver":
            continue
        contenders[name] = peers.get(name, saver)
    best: dict[str, float] = {}
    try:
        for rnd in range(2):
            for name, saver in contenders.items():
                took = await async_concurrency(saver, threads, turns, prefix=f"async{rnd}")
                best[name] = min(best.get(name, took), took)
    finally:
        for peer in peers.values():
            with contextlib.suppress(Exception):
                await peer.aclose()
        for name in (OURS, CLUSTER):  # the async clients of this loop, before it closes
            await savers[name].manager.aclose_loop_clients()
    return best


# ---------------------------------------------------------------------------- report
def _fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"


def targets_table(chat: dict, reads: dict, extra: dict, mem: dict, costs: dict, asyncs: dict, cpu: dict) -> tuple[str, list[tuple]]:
    def r(row: dict, name: str = OURS) -> float:
        return row[name] / row[BASELINE]

    rows: list[tuple[str, str, bool]] = []
    for label, row in [("chat workload", chat["chat workload (total)"]),
                       ("chat workload, total CPU (client + redis-server)", cpu["total CPU per chat step"]),
                       ("graph turn", chat["graph turn (per invoke)"])]:
        got = r(row)
        rows.append((f"{label} <= 0.6x plainredis (standalone / cluster)", f"{_fmt_ratio(got)} / {_fmt_ratio(r(row, CLUSTER))}", got <= 0.6 and r(row, CLUSTER) <= 0.6))
    selective = next(k for k in extra if "1 match" in k)
    for label, row in [(selective, extra[selective]), ("list filter source=loop limit=10 (bench_savers)", reads["list filter source=loop"])]:
        got = r(row)
        rows.append((f"metadata-filtered list, {label}, <= 0.1x", f"{_fmt_ratio(got)} / {_fmt_ratio(r(row, CLUSTER))}", got <= 0.1 and r(row, CLUSTER) <= 0.1))
    for label, key in [("memory per checkpoint (used_memory delta) <= 0.5x", "used_memory delta per checkpoint"),
                       ("memory per checkpoint (keys' MEMORY USAGE) <= 0.5x", "key bytes per checkpoint")]:
        got = mem[key][OURS] / mem[key][BASELINE]
        rows.append((label, f"{_fmt_ratio(got)} / {_fmt_ratio(mem[key][CLUSTER] / mem[key][BASELINE])}", got <= 0.5))
    ratios = {label: row[CLUSTER] / row[OURS] for label, row in {**chat, **reads, **extra, **asyncs}.items()}
    worst = max(ratios, key=ratios.get)
    chat_ratio = ratios["chat workload (total)"]
    graph_ratio = ratios["graph turn (per invoke)"]
    rows.append(("cluster <= 1.3x standalone (chat / graph)", f"{_fmt_ratio(chat_ratio)} / {_fmt_ratio(graph_ratio)}", chat_ratio <= 1.3 and graph_ratio <= 1.3))
    rows.append(("cluster <= 1.3x standalone (worst workload of all)", f"{_fmt_ratio(ratios[worst])} ({worst})", ratios[worst] <= 1.3))
    for op in ("put", "get_tuple latest"):
        got = costs[OURS][op], costs[CLUSTER][op]
        rows.append((f"one round trip per {op} (standalone / cluster)", f"{got[0]:.2f} / {got[1]:.2f}", max(got) <= 1.0))
    cold = costs[OURS]["get_tuple latest, cold"], costs[CLUSTER]["get_tuple latest, cold"]
    rows.append(("one round trip per latest get_tuple by a process that did not write the thread (cold caches)",
                 f"{cold[0]:.2f} / {cold[1]:.2f}", max(cold) <= 1.0))
    lines = ["\n### Against the issue's targets (ours:redis / ours:redis-cluster vs plainredis)\n",
             "| target | measured | met? |", "|---|---|---|"]
    lines += [f"| {label} | {value} | {'met' if ok else 'not met'} |" for label, value, ok in rows]
    return "\n".join(lines), rows


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the script runs (seconds)")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    threads, steps, repeat, turns = (2, 5, 3, 3) if args.quick else (20, 50, 25, 40)
    rt_steps = 4 if args.quick else 30
    async_threads, async_turns = (2, 2) if args.quick else (8, 10)

    report = [
        f"Redis benchmark run {datetime.now(timezone.utc).isoformat(timespec='seconds')} on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, redis-py {redis.__version__}; "
        f"chat workload {threads} threads x {steps} steps (~500-byte message per step); "
        f"graph turns {turns}; reads: median of {repeat}; async {async_threads} threads x {async_turns} turns."
        + (" QUICK MODE: sizes too small for the ratios to mean anything." if args.quick else "")
    ]
    rt = RoundTrips()
    with tempfile.TemporaryDirectory(prefix="lgckpt-bench-redis-") as tmpdir, ExitStack() as stack, rt.installed():
        tmp = Path(tmpdir)
        (tmp / "s").mkdir()
        (tmp / "c").mkdir()
        standalone = RedisServer(free_port(), tmp / "s").start()
        stack.callback(standalone.stop)
        peer = RedisServer(free_port(), tmp / "s").start()
        stack.callback(peer.stop)
        lcr_server = RedisServer(free_port(), tmp / "s").start()
        stack.callback(lcr_server.stop)
        cluster = start_cluster(tmp / "c")
        stack.callback(cluster.stop)
        report[0] += f" redis-server {redis.Redis(port=standalone.port).info('server')['redis_version']}, no modules."

        savers, servers, unavailable = make_savers(tmp, stack, standalone, cluster, peer, lcr_server)

        def cold_ours(manager: RedisCheckpointManager) -> Callable[[], Any]:
            def make() -> Any:
                fresh = RedisCheckpointManager(manager.params)
                fresh.initialize()
                stack.callback(fresh.close)
                return ConfigCheckpointSaver(fresh)
            return make

        cold = {OURS: cold_ours(savers[OURS].manager), CLUSTER: cold_ours(savers[CLUSTER].manager)}
        costs = per_op_costs(savers, servers, rt_steps, rt, cold)
        gc.collect()
        cpu = chat_cpu(savers, servers, max(2, threads // 2), steps)
        gc.collect()

        mem_before = {name: (s.used_memory(), s.key_bytes()) for name, s in servers.items()}
        chat = {"chat workload (total)": interleaved_chat(savers, threads, steps)}
        mem_after = {name: (s.used_memory(), s.key_bytes()) for name, s in servers.items()}
        n_ckpt = threads * steps
        mem = {
            "used_memory delta per checkpoint": {n: (mem_after[n][0] - mem_before[n][0]) / n_ckpt for n in servers},
            "key bytes per checkpoint": {n: (mem_after[n][1] - mem_before[n][1]) / n_ckpt for n in servers},
        }
        reads = interleaved_reads(savers, threads, repeat)
        extra = interleaved_ops(savers, lambda s: selective_ops(s, threads, steps), repeat)
        chat["graph turn (per invoke)"] = interleaved_graph_turns(savers, turns)

        def make_async_peers() -> dict[str, Any]:
            from langgraph_checkpoint_plainredis import AsyncRedisSaver as PlainAsync

            return {BASELINE: PlainAsync(host=peer.host, port=peer.port, prefix="lgasync")}

        asyncs = {"concurrent ainvoke (total)": asyncio.run(run_async(savers, make_async_peers, async_threads, async_turns))}

        legend = ("\n`plainredis` = `langgraph-checkpoint-plainredis` (RedisSaver / AsyncRedisSaver), the baseline of "
                  "every ratio; `ours:redis` = RedisCheckpointManager on one redis-server, `ours:redis-cluster` = the same "
                  "on a 3-master Redis Cluster (both: defaults, i.e. msgpack + zstd, list_storage on); `ours:sqlite` = "
                  "SqliteCheckpointManager defaults. Each Redis saver has its own server(s).")
        report.append(legend)
        report.append(ratio_table("Writes: chat workload and a real graph turn", chat, BASELINE))
        report.append(ratio_table("Reads after the chat workload (bench_savers' read_ops)", reads, BASELINE))
        report.append(ratio_table("Metadata filters that select few checkpoints", extra, BASELINE))
        report.append(ratio_table("Async: concurrent graph threads (ainvoke)", asyncs, BASELINE))
        report.append(cpu_table(cpu))
        report.append(costs_table(costs))
        mem_lines = ["\n### Memory per checkpoint after the chat workload (ratio vs plainredis; lower is better)\n",
                     "| measure | " + " | ".join(servers) + " |", "|---" * (len(servers) + 1) + "|"]
        for label, row in mem.items():
            mem_lines.append(f"| {label} | " + " | ".join(f"{row[n]:.0f} B ({row[n] / row[BASELINE]:.2f}x)" for n in servers) + " |")
        report.append("\n".join(mem_lines))
        cl_rows = {label: {OURS: row[OURS], CLUSTER: row[CLUSTER]} for label, row in {**chat, **reads, **extra, **asyncs}.items()}
        report.append(ratio_table("Cluster vs standalone (ours)", cl_rows, OURS))
        peers = ["\n### Peers that could not run\n", "| saver | why |", "|---|---|"]
        peers += [f"| {name} | {why} |" for name, why in unavailable.items()] or ["| (none) | |"]
        report.append("\n".join(peers))
        table, _rows = targets_table(chat, reads, extra, mem, costs, asyncs, cpu)
        report.append(table)
    text = "\n".join(report) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    return text


if __name__ == "__main__":
    main()
