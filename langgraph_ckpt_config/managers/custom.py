"""The ``custom`` manager of the design sketch: a backend chosen by name, or from a plugin.

Design: ``CustomCheckpointManager(params)`` does not wrap the backend, it *becomes*
it -- ``__new__`` resolves ``backend`` (a registered name, a ``module:Class`` path,
or a plugin from ``plugin_path``) and returns an instance of that backend's class,
built with ``backend_config`` merged over the entry's shared parameters (codec,
retention, cache). So the factory, the LangGraph adapter and the CLI talk to the
real backend with no forwarding layer to keep in step (the record API, the async
twins and anything a backend adds are simply there), and ``isinstance`` /
``type(manager)`` show what is really storing the data. The price: the object is
not an instance of ``CustomCheckpointManager``; nothing relies on that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.config.models import CustomParameters, ManagerParameters
from langgraph_ckpt_config.errors import RegistryError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager
from langgraph_ckpt_config.plugins import resolve_backend
from langgraph_ckpt_config.registry import builtin_name_for

_CUSTOM_ONLY = {"backend", "backend_config", "plugin_enabled", "plugin_path"}


class CustomCheckpointManager(BaseCheckpointManager):
    """``backend`` + ``backend_config`` (+ ``plugin_enabled`` / ``plugin_path``) -> that backend's manager."""

    parameters_model = CustomParameters
    backend_name = "custom"

    def __new__(cls, config: Mapping[str, Any] | Any | None = None, *, name: str | None = None):
        backend_cls, delegate_params = cls.resolve(config)
        return backend_cls(delegate_params, name=name)

    @classmethod
    def resolve(cls, config: Mapping[str, Any] | Any | None) -> tuple[type, dict[str, Any]]:
        """(backend class, its raw parameters) for a custom entry's parameters -- no I/O, no instance.

        The parameters are the shared ``ManagerParameters`` fields the entry sets
        (codec, retention, cache...) with ``backend_config`` on top. Usable by
        ``config validate`` to check a custom entry all the way down.
        """
        params = cls._validate_params(config)
        if builtin_name_for(params.backend) == "custom":
            raise RegistryError("the custom manager's backend cannot be 'custom' itself; name a real backend")
        backend_cls = resolve_backend(
            params.backend, plugin_path=params.plugin_path, plugin_enabled=params.plugin_enabled
        )
        if issubclass(backend_cls, CustomCheckpointManager):
            raise RegistryError(f"backend {params.backend!r} is itself a custom manager; name a real backend")
        shared_fields = set(ManagerParameters.model_fields) - _CUSTOM_ONLY
        # Python mode keeps SecretStr values as SecretStr: the delegate's model accepts them unchanged.
        shared = params.model_dump(include=shared_fields, exclude_unset=True)
        return backend_cls, {**shared, **params.backend_config}
