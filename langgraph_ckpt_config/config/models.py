"""Pydantic models of every manager's ``parameters`` section.

Why models and not dicts: YAML and ``${VAR:default}`` interpolation hand us
strings (``"6379"``, ``"true"``, ``"64 * 1024 * 1024"``); the models coerce them
once, at load time, so a bad value fails with its YAML path before any backend
is touched. An empty string (``${VAR:}``) means "unset" for optional fields.

Unknown keys are kept (a manager subclass may read them) but reported by
``unknown_keys`` -- the loader turns each into a warning naming its YAML path,
so a typo such as ``databse_path`` never passes silently.

Secrets are ``SecretStr``: reprs and dumps show ``'**********'``; call
``get_secret_value()`` only where the secret is handed to a client library.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from langgraph_ckpt_config.config.sizes import Size

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=False, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_strings_are_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: v
                for k, v in data.items()
                if not (v == "" and k in cls.model_fields and cls.model_fields[k].default is None)
            }
        return data

    def unknown_keys(self, prefix: str = "") -> list[str]:
        """Dotted paths of keys no model field declares (nested models included)."""
        found = [f"{prefix}{k}" for k in (self.model_extra or {})]
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, _Model):
                found += value.unknown_keys(f"{prefix}{name}.")
        return found


class ClientEncryption(_Model):
    """AES-256-GCM encryption done by this library before bytes leave the process."""

    enabled: bool = False
    keys: SecretStr | None = None
    require: bool | None = None
    filterable_metadata: list[str] = Field(default_factory=lambda: ["source", "step", "run_id", "workflow_id"])

    @field_validator("keys")
    @classmethod
    def _key_spec_parses(cls, keys: SecretStr | None) -> SecretStr | None:
        """Parsed here too (not only when a manager starts) so ``config validate`` finds a bad spec.

        Checked even with ``enabled: false``: keys given then still decrypt older records.
        The error names the entry by position; the spec is never quoted.
        """
        from langgraph_ckpt_config.codecs.encryption import parse_key_spec

        if keys is not None and keys.get_secret_value().strip():
            parse_key_spec(keys.get_secret_value())
        return keys


class ManagerParameters(_Model):
    """Parameters every manager understands (retention, codec, cache, batching).

    ``max_checkpoints`` is per thread *and* namespace: older checkpoints are pruned
    once a thread holds more than ``cleanup_threshold`` (default: ``max_checkpoints``),
    and the newest one is always kept. ``cleanup_interval: 0`` starts no worker.
    """

    max_checkpoints: int | None = Field(default=None, ge=1)
    cleanup_threshold: int | None = Field(default=None, ge=1)
    cleanup_interval: float = Field(default=300, ge=0)
    retention_max_age: float | None = Field(default=None, gt=0)
    serialization_enabled: bool = True
    serialization_format: Literal["json", "msgpack"] = "msgpack"
    serialization_options: dict[str, Any] = Field(default_factory=dict)
    compression_enabled: bool = False
    compression_algorithm: Literal["none", "gzip", "lz4", "zstd"] = "zstd"
    compression_level: int | None = None
    compression_min_size: Size = 256
    checksum_algorithm: Literal["sha256", "blake2b"] = "sha256"
    verify_on_read: bool = True
    client_encryption: ClientEncryption = Field(default_factory=ClientEncryption)
    cache_enabled: bool = True
    cache_size: int = Field(default=1000, ge=0)
    cache_ttl: float = Field(default=1800, ge=0)
    #: Bytes the in-process caches (channel values, list elements) may hold in all.
    cache_max_bytes: Size = 64 * 1024 * 1024
    lazy_loading: bool = False
    batch_operations: bool = True
    batch_size: int = Field(default=100, ge=1)
    async_writes: bool = False
    default_workflow_id: str = "default"
    list_storage: bool = True
    #: Opt-in: treat list elements as immutable once checkpointed. An element object this
    #: saver already stored is then not serialized and hashed again at the next step, so a
    #: step's CPU no longer grows with the list; an in-place mutation of such an object
    #: (rather than returning an update) is not captured. Off by default.
    list_storage_reuse_objects: bool = False


class MemoryParameters(ManagerParameters):
    """The in-process manager needs nothing beyond the shared parameters."""


class SqliteParameters(ManagerParameters):
    """One SQLite file. ``table_name`` is interpolated into SQL, hence the identifier check."""

    database_path: str = "data/checkpoints.db"
    connection_pool_size: int = Field(default=5, ge=1)
    connection_timeout: float = Field(default=30, gt=0)
    table_name: str = "workflow_checkpoints"
    enable_indexes: bool = True
    index_fields: list[Literal["workflow_id", "thread_id", "timestamp", "status", "checkpoint_ns"]] = Field(
        default_factory=lambda: ["workflow_id", "thread_id", "timestamp"]
    )
    backup_enabled: bool = False
    backup_interval: float = Field(default=3600, gt=0)
    backup_path: str = "data/checkpoints_backup"
    backup_retention: float = Field(default=7, gt=0)
    journal_mode: Literal["WAL", "DELETE", "TRUNCATE"] = "WAL"
    synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL"
    compression_enabled: bool = True

    @field_validator("table_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a SQL identifier: a letter or _, then letters, digits or _ (max 63)")
        return value


class ClusterNode(_Model):
    """One Redis Cluster seed node; ``"host:port"`` strings are normalised to this."""

    host: str
    port: int = Field(ge=1, le=65535)


class RedisParameters(ManagerParameters):
    """Standalone Redis or Redis Cluster. ``url`` (may hold a password) is a secret.

    ``ttl`` (seconds; None/0 = keep forever) expires a thread's keys after its last write.
    """

    url: SecretStr | None = None
    host: str = "localhost"
    port: int = Field(default=6379, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    username: str | None = None
    password: SecretStr | None = None
    ssl: bool = False
    #: TLS (``ssl: true`` or a ``rediss://`` url): a CA bundle for a private CA, a client
    #: certificate and key for mutual TLS, and how strictly the server is checked.
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: Literal["required", "optional", "none"] = "required"
    ssl_check_hostname: bool = True
    connection_pool_size: int = Field(default=10, ge=1)
    connection_timeout: float = Field(default=10, gt=0)
    socket_timeout: float = Field(default=10, gt=0)
    key_prefix: str = "workflow:checkpoint:"
    ttl: int | None = Field(default=None, ge=0)
    refresh_ttl_on_read: bool = False
    cluster_enabled: bool = False
    cluster_nodes: list[ClusterNode] = Field(default_factory=list)
    local_cache_enabled: bool = False
    local_cache_size: int = Field(default=2000, ge=0)
    local_cache_ttl: float = Field(default=300, ge=0)
    pipeline_enabled: bool = True
    pipeline_size: int = Field(default=100, ge=1)
    async_operations: bool = True
    compression_enabled: bool = True
    compression_algorithm: Literal["none", "gzip", "lz4", "zstd"] = "zstd"

    @field_validator("cluster_nodes", mode="before")
    @classmethod
    def _nodes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        out = []
        for node in value or []:
            if isinstance(node, str):
                host, _, port = node.strip().rpartition(":")
                if not host:
                    raise ValueError(f"cluster node {node!r} must be 'host:port'")
                node = {"host": host, "port": port}
            out.append(node)
        return out


class S3Parameters(ManagerParameters):
    """S3 / S3-compatible storage.

    ``bucket`` has no default on purpose: writing checkpoints into a guessed bucket
    name is worse than failing at load time. ``encryption_*`` is server-side
    encryption; ``client_encryption`` encrypts before the bytes leave the process.
    """

    bucket: str = Field(min_length=1)
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    endpoint_url: str | None = None
    key_prefix: str = "checkpoints/"
    create_bucket: bool = False
    versioning_enabled: bool = False
    max_versions: int = Field(default=10, ge=1)
    encryption_enabled: bool = False
    encryption_algorithm: Literal["AES256", "aws:kms"] = "AES256"
    kms_key_id: str | None = None
    local_cache_enabled: bool = True
    local_cache_size: int = Field(default=5000, ge=0)
    local_cache_ttl: float = Field(default=1800, ge=0)
    multipart_threshold: Size = 64 * 1024 * 1024
    multipart_chunksize: Size = 16 * 1024 * 1024
    max_concurrency: int = Field(default=10, ge=1)
    max_retries: int = Field(default=5, ge=0)
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    connect_timeout: float = Field(default=5, gt=0)
    read_timeout: float = Field(default=30, gt=0)
    compression_enabled: bool = True
    compression_algorithm: Literal["none", "gzip", "lz4", "zstd"] = "gzip"
    #: Seconds between a namespace's first change not yet in its head and the head PUT
    #: (docs/s3.md, "The head"): larger saves requests in fast loops, smaller makes cold
    #: reads of a busy thread cheaper sooner. None: the built-in default, 0.25 s.
    head_flush_delay: float | None = Field(default=None, ge=0, le=3600)

    @field_validator("key_prefix")
    @classmethod
    def _folder(cls, value: str) -> str:
        # Thread folders are <key_prefix><thread>/: with "app1" and "app10" side by side,
        # app1's thread "0x" would be app10's thread "x" (listed, read and deleted by both).
        if value and not value.endswith("/"):
            raise ValueError(f"must be empty or end with '/' (got {value!r}), so that no deployment's prefix extends another's")
        return value


class CustomParameters(ManagerParameters):
    """A backend chosen by name (registry, ``module:Class``, or a plugin file).

    ``backend_config`` is passed to that backend as-is, so it cannot be typed here;
    its secret-looking keys (``api_key``, ``password``...) are redacted in ``repr``.
    """

    backend: str = "memory"
    backend_config: dict[str, Any] = Field(default_factory=dict)
    plugin_enabled: bool = False
    plugin_path: str | None = None

    def __repr_args__(self):  # pydantic's repr hook: never show backend_config secrets
        from langgraph_ckpt_config.config.redact import redact

        for key, value in super().__repr_args__():
            yield key, (redact(value) if key == "backend_config" else value)


#: Parameter models of the built-in manager names (no backend import needed to validate).
BUILTIN_PARAMETER_MODELS: dict[str, type[ManagerParameters]] = {
    "memory": MemoryParameters,
    "sqlite": SqliteParameters,
    "redis": RedisParameters,
    "s3": S3Parameters,
    "custom": CustomParameters,
}
