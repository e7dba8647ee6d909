"""The backend cases every shared suite runs over, as users would configure them.

A new backend joins every shared suite (manager contract, LangGraph conformance,
real-graph comparison) by adding one entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BACKEND_CASES = ["memory", "sqlite", "redis", "redis-cluster", "s3", "plugin-dir"]

_CLASS_PATHS = {
    "memory": "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager",
    "sqlite": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager",
    "redis": "langgraph_ckpt_config.managers.redis:RedisCheckpointManager",
    "redis-cluster": "langgraph_ckpt_config.managers.redis:RedisCheckpointManager",
    "s3": "langgraph_ckpt_config.managers.s3:S3CheckpointManager",
    "plugin-dir": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
}
REPO = Path(__file__).resolve().parents[1]


def case_parameters(backend: str, request, tmp_path, unique: str) -> dict[str, Any]:
    """Manager parameters for one test of ``backend`` (fresh, isolated storage)."""
    base: dict[str, Any] = {"cleanup_interval": 0}
    if backend == "memory":
        return base
    if backend == "sqlite":
        return {**base, "database_path": str(tmp_path / f"ckpt-{unique}.db")}
    if backend == "redis":
        server = request.getfixturevalue("redis_server")
        return {**base, "host": server.host, "port": server.port, "key_prefix": f"test:{unique}:", "socket_timeout": 5}
    if backend == "redis-cluster":
        cluster = request.getfixturevalue("redis_cluster")
        nodes = [{"host": n.host, "port": n.port} for n in cluster.nodes]
        return {**base, "cluster_enabled": True, "cluster_nodes": nodes, "key_prefix": f"test:{unique}:", "socket_timeout": 5}
    if backend == "s3":
        server = request.getfixturevalue("s3_server")
        return {
            **base,
            "bucket": "lgckpt-tests",
            "endpoint_url": server.endpoint_url,
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "region": "us-east-1",
            "create_bucket": True,
            "key_prefix": f"tests/{unique}/",
        }
    if backend == "plugin-dir":
        # The example plugin, loaded from its directory through the custom manager.
        return {
            **base,
            "backend": "localdir",
            "plugin_enabled": True,
            "plugin_path": str(REPO / "examples" / "plugins"),
            "backend_config": {"root": str(tmp_path / f"localdir-{unique}")},
        }
    raise ValueError(f"unknown backend case {backend!r}")


def case_config(backend: str, request, tmp_path, unique: str) -> tuple[str, dict[str, Any]]:
    """(manager name, full config dict) for ``CheckpointManagerFactory``."""
    params = case_parameters(backend, request, tmp_path, unique)
    name = backend.replace("-", "_")
    return name, {
        "checkpoint_managers": {
            name: {"class_path": _CLASS_PATHS[backend], "enabled": True, "parameters": params},
        },
        "default_manager": name,
    }
