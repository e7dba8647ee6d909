"""Plugin directories: manager backends loaded from Python files, no packaging needed.

A plugin is a ``.py`` file in ``plugin_path`` that declares what it registers in
one of two ways (see ``docs/plugins.md``)::

    LGCKPT_MANAGERS = {"localdir": LocalDirCheckpointManager}     # a mapping

    def register(register_manager):                                 # or a hook
        register_manager("localdir", LocalDirCheckpointManager)

Every problem is a ``RegistryError`` naming the file: a missing directory, a
module that fails to import (cause chained), no declaration, a class that is
not an ``ICheckpointManager``, a name that is already registered.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from pathlib import Path

from langgraph_ckpt_config.errors import RegistryError
from langgraph_ckpt_config.registry import get_manager_class, register_manager

_loaded: dict[Path, list[str]] = {}
_lock = threading.Lock()


def _module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"lgckpt_plugin_{path.stem}_{digest}"


def load_plugin_file(path: Path) -> list[str]:
    """Import one plugin file and register what it declares; returns the names."""
    path = path.resolve()
    with _lock:
        if path in _loaded:
            return list(_loaded[path])
    spec = importlib.util.spec_from_file_location(_module_name(path), path)
    if spec is None or spec.loader is None:
        raise RegistryError(f"plugin {path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(spec.name, None)
        raise RegistryError(f"plugin {path}: import failed: {type(exc).__name__}: {exc}") from exc
    names: list[str] = []

    def _register(name: str, cls: type) -> None:
        try:
            register_manager(name, cls)
        except RegistryError as exc:
            raise RegistryError(f"plugin {path}: {exc}") from None
        names.append(name)

    declared = getattr(module, "LGCKPT_MANAGERS", None)
    hook = getattr(module, "register", None)
    if declared is None and not callable(hook):
        raise RegistryError(f"plugin {path}: declares no managers (define LGCKPT_MANAGERS = {{name: Class}} or register(register_manager))")
    if declared is not None:
        if not isinstance(declared, dict):
            raise RegistryError(f"plugin {path}: LGCKPT_MANAGERS must be a dict of name -> manager class")
        for name, cls in declared.items():
            _register(name, cls)
    if callable(hook):
        hook(_register)
    with _lock:
        _loaded[path] = names
    return names


def load_plugin_directory(directory: str | Path) -> list[str]:
    """Load every ``*.py`` plugin of ``directory`` (files starting with ``_`` are skipped)."""
    root = Path(directory)
    if not root.is_dir():
        raise RegistryError(f"plugin_path {str(root)!r} is not a directory")
    names: list[str] = []
    for path in sorted(root.glob("*.py")):
        if not path.name.startswith("_"):
            names += load_plugin_file(path)
    return names


def resolve_backend(backend: str, *, plugin_path: str | None = None, plugin_enabled: bool = False) -> type:
    """The manager class a ``custom`` entry's ``backend`` names (loading plugins first if enabled)."""
    if plugin_enabled:
        if not plugin_path:
            raise RegistryError("plugin_enabled is true but plugin_path is not set")
        load_plugin_directory(plugin_path)
    return get_manager_class(backend)
