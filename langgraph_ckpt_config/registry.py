"""Manager names -> classes: built-ins (imported lazily), runtime registrations, entry points.

Modelled on fsspec's registry: a table of ``"module:Class"`` strings with the
install hint shown when the import fails, ``register_manager`` for code, the
``langgraph_ckpt_config.managers`` entry-point group for installed packages, and
a read-only view of what is known.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from langgraph_ckpt_config.errors import RegistryError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "langgraph_ckpt_config.managers"

BUILTIN_MANAGERS: Mapping[str, str] = MappingProxyType(
    {
        "memory": "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager",
        "sqlite": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager",
        "redis": "langgraph_ckpt_config.managers.redis:RedisCheckpointManager",
        "s3": "langgraph_ckpt_config.managers.s3:S3CheckpointManager",
        "custom": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
    }
)
INSTALL_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "redis": "pip install 'langgraph-ckpt-config[redis]'",
        "boto3": "pip install 'langgraph-ckpt-config[s3]'",
        "botocore": "pip install 'langgraph-ckpt-config[s3]'",
        "lz4": "pip install 'langgraph-ckpt-config[lz4]'",
    }
)

_registry: dict[str, Any] = {}  # name -> class or "module:Class"
_lock = threading.Lock()
_entry_points_loaded = False


def builtin_name_for(class_path: str) -> str | None:
    """The built-in name whose class path is ``class_path`` (either spelling), if any."""
    normalized = class_path.replace(":", ".")
    for name, path in BUILTIN_MANAGERS.items():
        if path.replace(":", ".") == normalized or class_path == name:
            return name
    return None


def symbol_by_name(path: str) -> Any:
    """Import ``module:Class`` or ``module.Class`` (kombu's ``symbol_by_name``)."""
    if not isinstance(path, str) or not path.strip():
        raise RegistryError(f"a class path must be 'module:Class', got {path!r}")
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise RegistryError(f"class path {path!r} must look like 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        hint = INSTALL_HINTS.get(missing)
        if hint and exc.name != module_name:
            raise RegistryError(f"{path}: needs the {missing!r} package: {hint}") from exc
        raise RegistryError(f"{path}: module {exc.name!r} not found") from exc
    except ImportError as exc:
        raise RegistryError(f"{path}: importing {module_name!r} failed: {exc}") from exc
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise RegistryError(f"{path}: module {module_name!r} has no attribute {attr!r}") from None
    return obj


def _check_manager_class(obj: Any, where: str) -> type:
    """``obj`` if it is an ICheckpointManager subclass; otherwise a RegistryError saying what it is."""
    from langgraph_ckpt_config.managers.interfaces import ICheckpointManager

    if not isinstance(obj, type):
        raise RegistryError(f"{where} is not a class (got {type(obj).__name__})")
    if not issubclass(obj, ICheckpointManager):
        raise RegistryError(f"{where} ({obj.__module__}.{obj.__qualname__}) does not implement ICheckpointManager")
    return obj


def register_manager(name: str, cls_or_path: type | str, *, clobber: bool = False) -> None:
    """Register a manager under ``name`` (a class, or a lazily imported ``module:Class``).

    Re-using a name -- built-in or registered -- needs ``clobber=True``: two
    plugins claiming one name must fail loudly, not depend on import order.
    """
    if not isinstance(name, str) or not name:
        raise RegistryError(f"a manager name must be a non-empty string, got {name!r}")
    if isinstance(cls_or_path, type):
        _check_manager_class(cls_or_path, f"manager {name!r}")
    elif not isinstance(cls_or_path, str) or not (":" in cls_or_path or "." in cls_or_path):
        raise RegistryError(f"manager {name!r} must be registered with a class or a 'module:Class' string, got {cls_or_path!r}")
    with _lock:
        if not clobber and (name in _registry or name in BUILTIN_MANAGERS):
            raise RegistryError(f"a manager named {name!r} is already registered (pass clobber=True to replace it)")
        _registry[name] = cls_or_path


def unregister_manager(name: str) -> None:
    """Forget a runtime registration (built-ins cannot be removed). Mostly for tests."""
    with _lock:
        _registry.pop(name, None)


def _load_entry_points() -> None:
    """Register the ``langgraph_ckpt_config.managers`` entry points once (lazily: no imports yet).

    A third-party name that clashes with a built-in or a registered manager is
    skipped with a warning: an installed package must not silently replace the
    storage a config names, nor break every other lookup.
    """
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        found = list(entry_points(group=ENTRY_POINT_GROUP))
        for ep in found:
            existing = _registry.get(ep.name, BUILTIN_MANAGERS.get(ep.name))
            if existing is None:
                _registry[ep.name] = ep.value
            elif existing != ep.value:
                logger.warning(
                    "entry point %r (%s) ignored: the name is already registered to %s", ep.name, ep.value, existing
                )


def reload_entry_points() -> None:
    """Forget which entry points were read (after installing a plugin at run time)."""
    global _entry_points_loaded
    with _lock:
        _entry_points_loaded = False


def get_manager_class(name_or_path: str) -> type:
    """A manager class from a registered name or a ``module:Class`` / ``module.Class`` path.

    Errors (all ``RegistryError``) name what is wrong: an unknown name (with the
    known ones), a missing module (with the ``pip install`` hint for optional
    backends), a missing class, or a class that does not implement ICheckpointManager.
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise RegistryError(f"a manager name or class path must be a non-empty string, got {name_or_path!r}")
    _load_entry_points()
    with _lock:
        target = _registry.get(name_or_path, BUILTIN_MANAGERS.get(name_or_path))
    if target is None:
        if ":" not in name_or_path and "." not in name_or_path:
            raise RegistryError(f"unknown manager {name_or_path!r}; known: {sorted(available_managers())}")
        target = name_or_path
    if isinstance(target, type):
        return target
    return _check_manager_class(symbol_by_name(target), target)


def available_managers() -> Mapping[str, Any]:
    """A read-only view: name -> class or class path."""
    _load_entry_points()
    with _lock:
        return MappingProxyType({**BUILTIN_MANAGERS, **_registry})
