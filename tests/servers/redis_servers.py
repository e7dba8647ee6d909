"""Session fixtures: a standalone redis-server and a 3-master Redis Cluster on free loopback ports."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from langgraph_ckpt_config.testing.servers import RedisServer, free_port, start_cluster

__all__ = ["RedisServer", "free_port", "redis_cluster", "redis_server"]


@pytest.fixture(scope="session")
def redis_server():
    with tempfile.TemporaryDirectory(prefix="lgckpt-redis-") as tmp:
        server = RedisServer(free_port(), Path(tmp)).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_cluster():
    with tempfile.TemporaryDirectory(prefix="lgckpt-cluster-") as tmp:
        cluster = start_cluster(Path(tmp))
        try:
            yield cluster
        finally:
            cluster.stop()
