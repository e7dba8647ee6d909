"""Configuration: YAML loading, ``${VAR}`` interpolation, parameter models, validation rules.

``load_config`` is the entry point; everything it returns is already checked.
"""

from langgraph_ckpt_config.config.loader import (
    CONFIG_ENV,
    MANAGER_ENV,
    CheckpointConfig,
    GlobalConfig,
    ManagerEntry,
    ManagerGroup,
    default_config_path,
    load_config,
    resolve_manager_name,
)
from langgraph_ckpt_config.config.sizes import Size, parse_size
from langgraph_ckpt_config.config.validation import UnknownConfigKeyWarning

__all__ = [
    "CONFIG_ENV",
    "MANAGER_ENV",
    "CheckpointConfig",
    "GlobalConfig",
    "ManagerEntry",
    "ManagerGroup",
    "Size",
    "UnknownConfigKeyWarning",
    "default_config_path",
    "load_config",
    "parse_size",
    "resolve_manager_name",
]
