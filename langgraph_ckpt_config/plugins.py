"""Plugin directories: manager backends loaded from Python files, no packaging needed.

A plugin is a ``.py`` file in ``plugin_path`` (files starting with ``_`` are
skipped) that declares what it registers in one of two ways (``docs/plugins.md``)::

    LGCKPT_MANAGERS = {"localdir": LocalDirCheckpointManager}     # a mapping

    def register(register_manager):                                 # or a hook
        register_manager("localdir", LocalDirCheckpointManager)

Each file is imported once per process under a unique module name (its stem plus
a digest of its absolute path, so two ``backend.py`` in two directories never
clash) and registered in ``langgraph_ckpt_config.registry``.

Every problem is a ``PluginError`` (a ``RegistryError``) naming the file: a
missing directory, a module that fails to import (cause chained), no
declaration, a class that is not an ``ICheckpointManager``, a name that is
already registered (built-in, entry point, or another plugin). A file either
registers all its names or none of them.

Isolation (``resolve_backend``): a broken file in a plugin directory only fails
the managers that need it. A ``custom`` manager whose backend another file of
the directory registers works (the broken file is logged as a warning); one
whose backend cannot be found gets the broken files' errors; one whose backend
name is itself in conflict always fails -- using "the other" class of that
name would store data where the config did not say.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from langgraph_ckpt_config.errors import RegistryError
from langgraph_ckpt_config.registry import available_managers, get_manager_class, register_manager, unregister_manager

logger = logging.getLogger(__name__)

__all__ = ["PluginError", "load_plugin_directory", "load_plugin_file", "resolve_backend"]

#: resolved file path -> names it registered (a file is executed once per process)
_loaded: dict[Path, list[str]] = {}
# Held for a whole file load: two threads building managers from one directory
# must not both execute a plugin (the second would see its own names as "taken").
_lock = threading.RLock()


class PluginError(RegistryError):
    """A plugin file could not be loaded. ``path``: the file; ``names``: what it declared, if known."""

    def __init__(self, path: Path, message: str, names: tuple[str, ...] = ()) -> None:
        self.path = path
        self.names = names
        super().__init__(f"plugin {path}: {message}")


def _module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"lgckpt_plugin_{stem}_{digest}"


def _declarations(path: Path, module: Any) -> list[tuple[str, Any]]:
    """(name, class or "module:Class") pairs a loaded plugin module declares."""
    declared = getattr(module, "LGCKPT_MANAGERS", None)
    hook = getattr(module, "register", None)
    if declared is None and not callable(hook):
        raise PluginError(
            path,
            "declares no managers (define LGCKPT_MANAGERS = {name: Class} or a function register(register_manager))",
        )
    pairs: list[tuple[str, Any]] = []
    if declared is not None:
        if not isinstance(declared, dict):
            raise PluginError(
                path, f"LGCKPT_MANAGERS must be a dict of name -> manager class, got {type(declared).__name__}"
            )
        pairs += declared.items()
    if callable(hook):
        try:
            hook(lambda name, cls_or_path: pairs.append((name, cls_or_path)))
        except Exception as exc:
            raise PluginError(path, f"register() failed: {type(exc).__name__}: {exc}") from exc
    if not pairs:
        raise PluginError(path, "declares no managers (LGCKPT_MANAGERS is empty and register() registered none)")
    return pairs


def load_plugin_file(path: str | Path) -> list[str]:
    """Import one plugin file and register what it declares; returns the names.

    All or nothing: if one name cannot be registered, the names registered before
    it are removed again and the module is forgotten, so a fixed file can be
    loaded on the next call.
    """
    path = Path(path).resolve()
    with _lock:
        if path in _loaded:
            return list(_loaded[path])
        if not path.is_file():
            raise PluginError(path, "no such file")
        available_managers()  # entry points first: a plugin clashing with one is reported here
        spec = importlib.util.spec_from_file_location(_module_name(path), path)
        if spec is None or spec.loader is None:
            raise PluginError(path, "cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses, pickling and typing look modules up here
        registered: list[str] = []
        try:
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise PluginError(path, f"import failed: {type(exc).__name__}: {exc}") from exc
            pairs = _declarations(path, module)
            names = tuple(str(name) for name, _ in pairs)
            for name, cls_or_path in pairs:
                try:
                    register_manager(name, cls_or_path)
                except RegistryError as exc:
                    raise PluginError(path, str(exc), names) from None
                registered.append(name)
        except BaseException:
            for name in registered:
                unregister_manager(name)
            sys.modules.pop(spec.name, None)
            raise
        _loaded[path] = registered
        logger.debug("plugin %s registered %s", path, registered)
        return list(registered)


def _plugin_files(directory: str | Path) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        where = f" (resolved from {Path.cwd()})" if not root.is_absolute() else ""
        raise RegistryError(f"plugin_path {str(root)!r}{where} is not a directory")
    return [p for p in sorted(root.glob("*.py")) if not p.name.startswith("_")]


def load_plugin_directory(directory: str | Path) -> list[str]:
    """Load every plugin file of ``directory``; the first error is raised (strict)."""
    names: list[str] = []
    for path in _plugin_files(directory):
        names += load_plugin_file(path)
    return names


def _load_collecting(directory: str | Path) -> tuple[list[str], list[PluginError]]:
    names: list[str] = []
    errors: list[PluginError] = []
    for path in _plugin_files(directory):
        try:
            names += load_plugin_file(path)
        except PluginError as exc:
            errors.append(exc)
    return names, errors


def resolve_backend(backend: str, *, plugin_path: str | None = None, plugin_enabled: bool = False) -> type:
    """The manager class a ``custom`` entry's ``backend`` names (plugins of ``plugin_path`` loaded first if enabled).

    ``backend`` is a registered name (built-in, entry point, plugin) or a
    ``module:Class`` path. See the module docstring for what a broken file does.
    """
    if not plugin_enabled:
        return get_manager_class(backend)
    if not plugin_path:
        raise RegistryError("plugin_enabled is true but plugin_path is not set")
    _, errors = _load_collecting(plugin_path)
    for exc in errors:
        if backend in exc.names:
            raise exc
    try:
        cls = get_manager_class(backend)
    except RegistryError as exc:
        if not errors:
            raise
        broken = "; ".join(str(e) for e in errors)
        raise RegistryError(f"{exc}. Plugin files of {plugin_path!r} that failed to load: {broken}") from errors[0]
    for exc in errors:
        logger.warning("ignoring a broken plugin (backend %r does not need it): %s", backend, exc)
    return cls
