"""``CheckpointManagerFactory``: managers built from the YAML by name, cached by name *and* overrides.

A manager that cannot start is an error. Only an explicit ``fallback:`` in its
YAML entry makes the factory use another manager, with a warning: durable
storage must never silently turn into volatile storage.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph_ckpt_config.config.loader import CheckpointConfig, load_config, resolve_manager_name
from langgraph_ckpt_config.errors import BackendUnavailableError, CkptError, ManagerError
from langgraph_ckpt_config.registry import get_manager_class

logger = logging.getLogger(__name__)


def _cache_key(name: str, overrides: Mapping[str, Any]) -> tuple[str, str]:
    return name, json.dumps(overrides, sort_keys=True, default=repr)


class CheckpointManagerFactory:
    def __init__(self, config: CheckpointConfig | str | Path | Mapping[str, Any] | None = None) -> None:
        self.config = load_config(config)
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()

    def create_manager(self, name: str | None = None, **overrides: Any):
        """The manager ``name`` (default: env / ``default_manager``), initialized and cached."""
        name = resolve_manager_name(self.config, name)
        key = _cache_key(name, overrides)
        with self._lock:
            manager = self._cache.get(key)
            if manager is not None and not getattr(manager, "_closed", False):
                return manager
            manager = self._build(name, overrides, chain=())
            self._cache[key] = manager
            return manager

    def _build(self, name: str, overrides: Mapping[str, Any], chain: tuple[str, ...]):
        entry = self.config.manager_entry(name)
        if not entry.enabled:
            raise ManagerError(
                f"manager {name!r} is disabled; set checkpoint_managers.{name}.enabled: true to use it"
            )
        try:
            _, params = self.config.manager_parameters(name, **overrides)
            cls = get_manager_class(entry.class_path)
            manager = cls(params, name=name)
            manager.initialize()
            return manager
        except Exception as exc:
            if entry.fallback and entry.fallback not in chain:
                logger.warning(
                    "manager %r could not start (%s); using its configured fallback %r",
                    name,
                    _short(exc),
                    entry.fallback,
                )
                return self._build(entry.fallback, {}, chain + (name,))
            if isinstance(exc, CkptError):
                raise
            raise BackendUnavailableError(f"manager {name!r} could not start: {_short(exc)}") from exc

    def get_default_manager(self):
        return self.create_manager(None)

    def list_available_managers(self) -> list[str]:
        """Enabled managers, highest priority first."""
        entries = self.config.checkpoint_managers
        return sorted(self.config.enabled_managers(), key=lambda n: (-entries[n].priority, n))

    def create_group(self, group: str) -> dict[str, Any]:
        spec = self.config.manager_groups.get(group)
        if spec is None:
            raise ManagerError(f"no manager group {group!r}; configured: {sorted(self.config.manager_groups)}")
        return {name: self.create_manager(name) for name in spec.managers}

    def close(self) -> None:
        with self._lock:
            managers, self._cache = list(self._cache.values()), {}
        for manager in managers:
            try:
                manager.close()
            except CkptError as exc:
                logger.warning("closing manager %r failed: %s", getattr(manager, "name", "?"), exc)

    def __enter__(self) -> CheckpointManagerFactory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    from langgraph_ckpt_config.config.redact import redact_url

    return redact_url(text)[:500]
