"""Real Redis servers for the tests: a standalone redis-server and a 3-master Redis Cluster.

Loaded by the lead's conftest through ``pytest_plugins``. Servers listen on free
127.0.0.1 ports, keep no data on disk (``--save "" --appendonly no``) and live in a
temporary directory; they are killed when the session ends. A missing ``redis-server``
/ ``redis-cli`` raises ``RuntimeError`` with an install hint -- the conftest decides
whether that is a skip or (CI) a failure.

The process helpers live in ``langgraph_ckpt_config.testing.servers`` so notebooks and
plugin authors can use them too; this module adds context managers and the fixtures.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from langgraph_ckpt_config.testing.servers import RedisCluster, RedisServer, free_port, start_cluster

__all__ = [
    "RedisCluster",
    "RedisServer",
    "free_port",
    "redis_cluster",
    "redis_cluster_processes",
    "redis_server",
    "redis_server_process",
]


@contextlib.contextmanager
def redis_server_process(port: int | None = None) -> Iterator[RedisServer]:
    """A running ``redis-server`` on ``port`` (default: a free one); killed on exit."""
    with tempfile.TemporaryDirectory(prefix="lgckpt-redis-") as tmp:
        server = RedisServer(port or free_port(), Path(tmp)).start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def redis_cluster_processes(size: int = 3) -> Iterator[RedisCluster]:
    """A Redis Cluster of ``size`` masters (no replicas) in ``cluster_state:ok``; killed on exit."""
    with tempfile.TemporaryDirectory(prefix="lgckpt-cluster-") as tmp:
        cluster = start_cluster(Path(tmp), size)
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """``.host``, ``.port``, ``.cli(...)`` of a session-wide standalone server."""
    with redis_server_process() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """``.nodes`` (each with ``.host``/``.port``) of a session-wide 3-master cluster."""
    with redis_cluster_processes() as cluster:
        yield cluster
