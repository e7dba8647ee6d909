"""Configuration: YAML loading, interpolation, parameter models, validation rules."""

from langgraph_ckpt_config.config.loader import (
    CONFIG_ENV,
    MANAGER_ENV,
    CheckpointConfig,
    ManagerEntry,
    load_config,
    resolve_manager_name,
)

__all__ = ["CONFIG_ENV", "MANAGER_ENV", "CheckpointConfig", "ManagerEntry", "load_config", "resolve_manager_name"]
