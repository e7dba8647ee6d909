"""The ``custom`` manager of the design sketch: a backend chosen by name, or from a plugin.

Design: ``CustomCheckpointManager(params)`` does not wrap the backend, it *becomes*
it -- ``__new__`` resolves ``backend`` (a registered name, a ``module:Class`` path,
or a plugin from ``plugin_path``) and returns an instance of that backend's class,
built with ``backend_config`` merged over the entry's shared parameters (codec,
retention, cache). So the factory, the LangGraph adapter and the CLI talk to the
real backend with no forwarding layer to keep in step, and ``isinstance`` shows
what is really storing the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.config.models import CustomParameters, ManagerParameters
from langgraph_ckpt_config.errors import RegistryError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager
from langgraph_ckpt_config.plugins import resolve_backend

_CUSTOM_ONLY = {"backend", "backend_config", "plugin_enabled", "plugin_path"}


class CustomCheckpointManager(BaseCheckpointManager):
    parameters_model = CustomParameters
    backend_name = "custom"

    def __new__(cls, config: Mapping[str, Any] | Any | None = None, *, name: str | None = None):
        params = cls._validate_params(config)
        if params.backend in ("custom", "langgraph_ckpt_config.managers.custom:CustomCheckpointManager"):
            raise RegistryError("the custom manager's backend cannot be 'custom' itself")
        backend_cls = resolve_backend(params.backend, plugin_path=params.plugin_path, plugin_enabled=params.plugin_enabled)
        shared = params.model_dump(include=set(ManagerParameters.model_fields) - _CUSTOM_ONLY, exclude_unset=True)
        if "client_encryption" in shared and params.client_encryption.keys is not None:
            shared["client_encryption"]["keys"] = params.client_encryption.keys.get_secret_value()
        delegate_params = {**shared, **params.backend_config}
        return backend_cls(delegate_params, name=name)
