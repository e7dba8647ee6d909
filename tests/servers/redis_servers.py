"""Real redis-server processes for the tests: a standalone server and a 3-master cluster.

Started on free loopback ports in temporary directories and stopped at the end of
the session. A missing ``redis-server`` fails the tests that need it (under CI a
skip would be turned into a failure anyway).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    """A free loopback port; ``with_bus`` also needs port + 10000 free (Redis Cluster's bus port)."""
    if not with_bus:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _is_free(port) and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH: install Redis (apt-get install redis-server) to run these tests")
    return path


@dataclass
class RedisServer:
    port: int
    directory: Path
    cluster: bool = False
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.directory / f"redis-{self.port}.log"

    def start(self) -> RedisServer:
        args = [
            _binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.directory), "--protected-mode", "no", "--loglevel", "warning",
            "--logfile", str(self.log_path),
        ]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf", "--cluster-node-timeout", "2000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()
        return self

    def cli(self, *args: str, timeout: float = 30) -> str:
        return subprocess.run(
            [_binary("redis-cli"), "-h", self.host, "-p", str(self.port), *args],
            capture_output=True, text=True, timeout=timeout, check=True,
        ).stdout

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited: {self.log_path.read_text()[-2000:] if self.log_path.exists() else ''}")
            try:
                if "PONG" in self.cli("ping", timeout=2):
                    return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@dataclass
class RedisCluster:
    nodes: list[RedisServer]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(directory: Path, size: int = 3) -> RedisCluster:
    nodes = [RedisServer(free_port(with_bus=True), directory, cluster=True).start() for _ in range(size)]
    subprocess.run(
        [_binary("redis-cli"), "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if all("cluster_state:ok" in n.cli("cluster", "info") for n in nodes):
            return RedisCluster(nodes)
        time.sleep(0.1)
    raise RuntimeError("redis cluster did not reach cluster_state:ok")


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
