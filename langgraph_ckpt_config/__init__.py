"""Durable, inspectable, config-driven checkpoint storage for LangGraph."""

from langgraph_ckpt_config.errors import (  # noqa: F401
    AmbiguousCheckpointError,
    BackendUnavailableError,
    CheckpointExistsError,
    CheckpointNotFoundError,
    CkptError,
    CodecError,
    ConfigError,
    EncryptionError,
    IntegrityError,
    InvalidInputError,
    ManagerError,
    RegistryError,
    ValidationRuleError,
)
from langgraph_ckpt_config.managers.interfaces import (  # noqa: F401
    CheckpointMetadata,
    CheckpointStatus,
    ICheckpointManager,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: importing the package must not import LangGraph or the backends.
    if name in ("from_config", "ConfigCheckpointSaver"):
        from langgraph_ckpt_config import saver

        return getattr(saver, name)
    if name == "CheckpointManagerFactory":
        from langgraph_ckpt_config.factory import CheckpointManagerFactory

        return CheckpointManagerFactory
    raise AttributeError(f"module 'langgraph_ckpt_config' has no attribute {name!r}")


__all__ = [
    "AmbiguousCheckpointError",
    "BackendUnavailableError",
    "CheckpointExistsError",
    "CheckpointManagerFactory",
    "CheckpointMetadata",
    "CheckpointNotFoundError",
    "CheckpointStatus",
    "CkptError",
    "CodecError",
    "ConfigCheckpointSaver",
    "ConfigError",
    "EncryptionError",
    "ICheckpointManager",
    "IntegrityError",
    "InvalidInputError",
    "ManagerError",
    "RegistryError",
    "ValidationRuleError",
    "from_config",
]
