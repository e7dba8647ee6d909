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
