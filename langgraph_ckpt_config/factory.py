"""``CheckpointManagerFactory``: managers built from the YAML by name, cached by name *and* overrides.

Two flaws of the design sketch's factory are the reason for this module's shape:

* it cached a manager by type alone, so ``create_manager("redis", ttl=60)``
  returned whatever was built first -- here the cache key is (name, overrides);
* it fell back to the in-memory manager whenever the configured one failed,
  silently turning durable storage into volatile storage -- here a manager that
  cannot start is an error, and only an explicit ``fallback:`` in its YAML entry
  makes the factory use another manager, with a WARNING naming both.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr

from langgraph_ckpt_config.config.loader import CheckpointConfig, load_config, resolve_manager_name
from langgraph_ckpt_config.config.redact import REDACTED, is_secret_key, redact_url
from langgraph_ckpt_config.errors import BackendUnavailableError, CkptError, ConfigError, ManagerError
from langgraph_ckpt_config.registry import get_manager_class

if TYPE_CHECKING:
    from langgraph_ckpt_config.managers.interfaces import ICheckpointManager

logger = logging.getLogger(__name__)

__all__ = ["CheckpointManagerFactory"]


def _freeze(value: Any) -> Any:
    """A hashable, order-independent form of an override value for the cache key.

    Secrets are keyed by a digest (their repr is the same mask for every secret,
    which would make two different passwords share one manager).
    """
    if isinstance(value, SecretStr):
        return ("secret", hashlib.sha256(value.get_secret_value().encode()).hexdigest())
    if isinstance(value, BaseModel):
        return _freeze(value.model_dump())
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(_freeze(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(_freeze(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("obj", id(value))
    return (type(value).__name__, value)


def _secrets_of(params: Any) -> list[str]:
    """Every SecretStr value inside a parameters model (to scrub them from log lines)."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                found.append(value.get_secret_value())
        elif isinstance(value, str):
            # Plain strings under secret-looking keys too (e.g. a custom backend's backend_config).
            if value and key and is_secret_key(key):
                found.append(value)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), name)
            for name, extra in (value.model_extra or {}).items():
                walk(extra, name)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(params)
    return found


def _fragments(secret: str) -> list[str]:
    """``secret`` and, for a URL, the pieces of its userinfo (longest first).

    A driver that misreads a URL quotes a piece of it: a password containing '/'
    becomes a host and a port (``Port could not be cast to integer value as 'TOP'``).
    """
    found = [secret]
    scheme, sep, rest = secret.partition("://")
    if sep and "@" in rest:
        userinfo = rest.rpartition("@")[0]
        found += [userinfo, *(piece for piece in re.split(r"[:/@?#]", userinfo) if len(piece) >= 3)]
    return sorted(set(found), key=len, reverse=True)


def _reason(exc: BaseException, params: Any = None) -> str:
    """A one-line, secret-free description of why a manager could not start."""
    text = redact_url(f"{type(exc).__name__}: {exc}")
    for secret in _secrets_of(params):
        for fragment in _fragments(secret):
            text = text.replace(fragment, REDACTED)
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _in_entry(exc: ConfigError, name: str) -> ConfigError:
    """``exc`` with its path made a full config path (a manager names only its own field: ``url``)."""
    if not exc.path or exc.path.startswith(("checkpoint_managers.", "override ")):
        return exc
    message = str(exc)[len(exc.path) + 2 :]
    return type(exc)(message, path=f"checkpoint_managers.{name}.parameters.{exc.path}")


class CheckpointManagerFactory:
    """Builds, initializes and caches the managers of one configuration.

    ``config`` is anything ``load_config`` accepts (None: ``$LANGGRAPH_CKPT_CONFIG``
    or the shipped YAML). Thread-safe; ``close()`` (or ``with``) closes every
    manager it built.
    """

    def __init__(self, config: CheckpointConfig | str | Path | Mapping[str, Any] | None = None) -> None:
        self.config = load_config(config)
        self._cache: dict[tuple[str, Any], ICheckpointManager] = {}
        # Re-entrant: building a manager may build its fallback through the same cache.
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ creation
    def create_manager(self, name: str | None = None, **overrides: Any) -> ICheckpointManager:
        """The initialized manager ``name`` (default: ``$LANGGRAPH_CKPT_MANAGER``, then ``default_manager``).

        The same (name, overrides) returns the same instance until ``close()``;
        different overrides build a separate manager.
        """
        return self._get(resolve_manager_name(self.config, name), overrides, chain=())

    def _get(self, name: str, overrides: Mapping[str, Any], chain: tuple[str, ...]) -> ICheckpointManager:
        key = (name, _freeze(overrides))
        with self._lock:
            manager = self._cache.get(key)
            if manager is not None and getattr(manager, "is_initialized", True):
                return manager
            manager = self._build(name, overrides, chain)
            self._cache[key] = manager
            return manager

    def _build(self, name: str, overrides: Mapping[str, Any], chain: tuple[str, ...]) -> ICheckpointManager:
        entry = self.config.manager_entry(name)
        if not entry.enabled:
            raise ManagerError(
                f"manager {name!r} is disabled; set checkpoint_managers.{name}.enabled: true in {self.config.source} to use it"
            )
        # Configuration problems are raised as they are: they are never a reason to fall back.
        _, params = self.config.manager_parameters(name, **overrides)
        cls = get_manager_class(entry.class_path)
        try:
            manager = cls(params, name=name)
        except CkptError:
            raise
        except Exception as exc:
            raise ManagerError(f"manager {name!r} ({entry.class_path}) could not be constructed: {_reason(exc, params)}") from exc
        try:
            manager.initialize()
        except ConfigError as exc:  # a bad value found only now (a URL the driver cannot parse): no fallback
            self._discard(manager)
            raise _in_entry(exc, name) from None
        except Exception as exc:
            self._discard(manager)
            reason = _reason(exc, params)
            if entry.fallback and entry.fallback not in chain and entry.fallback != name:
                logger.warning(
                    "checkpoint manager %r could not start (%s); using its configured fallback %r instead",
                    name,
                    reason,
                    entry.fallback,
                )
                return self._get(entry.fallback, {}, chain + (name,))
            if isinstance(exc, CkptError):
                raise
            raise BackendUnavailableError(f"manager {name!r} could not start: {reason}") from exc
        return manager

    @staticmethod
    def _discard(manager: Any) -> None:
        """Release whatever a half-initialized manager opened; its own error is the one that matters."""
        try:
            manager.close()
        except Exception as exc:  # secondary failure: logged, not raised
            logger.debug("closing manager %r after a failed start also failed: %s", getattr(manager, "name", "?"), exc)

    def get_default_manager(self) -> ICheckpointManager:
        """``create_manager()`` with no name: the env-selected or ``default_manager``."""
        return self.create_manager(None)

    def list_available_managers(self) -> list[str]:
        """Enabled managers, highest priority first, then by name."""
        entries = self.config.checkpoint_managers
        return sorted(self.config.enabled_managers(), key=lambda n: (-entries[n].priority, n))

    def create_group(self, group: str) -> dict[str, ICheckpointManager]:
        """Every manager of ``manager_groups.<group>``, by name."""
        spec = self.config.manager_groups.get(group)
        if spec is None:
            raise ManagerError(f"no manager group {group!r}; configured: {sorted(self.config.manager_groups)}")
        return {name: self.create_manager(name) for name in spec.managers}

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close every cached manager (each once, even if cached under several keys); keep going on errors."""
        with self._lock:
            managers = list({id(m): m for m in self._cache.values()}.values())
            self._cache = {}
        for manager in managers:
            try:
                manager.close()
            except Exception as exc:  # one failing close must not leak the others
                logger.warning("closing checkpoint manager %r failed: %s", getattr(manager, "name", "?"), _reason(exc))

    def __enter__(self) -> CheckpointManagerFactory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
