"""One exception tree for the whole package.

Every manager raises these (never a driver's own exception) so callers can handle
"the store is down" or "this record is corrupt" the same way whatever the backend.
Messages say what was wrong and, where there is one, what to do instead.
"""

from __future__ import annotations


class CheckpointConfigError(Exception):
    """Base of everything this package raises."""


# Kept short for users: ``from langgraph_ckpt_config.errors import ...``.
CkptError = CheckpointConfigError


class ConfigError(CkptError, ValueError):
    """The YAML/dict configuration is invalid.

    ``path`` is the dotted config path of the offending field
    (``checkpoint_managers.redis.parameters.port``) when one is known.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ValidationRuleError(ConfigError):
    """A ``validation_rules`` entry failed (the message is the rule's own)."""


class RegistryError(CkptError, LookupError):
    """A manager name or ``class_path`` cannot be resolved to a manager class."""


class CodecError(CkptError):
    """Encoding or decoding a stored record failed (bad header, unknown codec, ...)."""


class EncryptionError(CodecError):
    """Decryption failed (wrong key, tampered data, or a record bound to another key)."""


class ManagerError(CkptError):
    """Base of the errors a checkpoint manager raises at run time."""


class ManagerNotInitializedError(ManagerError):
    """An operation was called on a manager that is not initialized or already closed."""


class CheckpointNotFoundError(ManagerError, KeyError):
    """The checkpoint (or thread) does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class AmbiguousCheckpointError(ManagerError, LookupError):
    """A bare checkpoint id matches records in several threads; pass ``thread_id``."""


class CheckpointExistsError(ManagerError):
    """An import or save would overwrite an existing checkpoint and was told not to."""


class IntegrityError(ManagerError):
    """Stored bytes do not match their checksum, or a record is structurally broken."""


class StaleElementsError(IntegrityError):
    """A ``put`` named stored values it does not carry -- list elements this process believed
    stored, or the values of unchanged channels an earlier checkpoint stored -- and the store
    no longer holds them (another process deleted or pruned the thread meanwhile). Nothing was
    written; the adapter forgets what it knew of the thread and stores the checkpoint again in
    full."""

    def __init__(self, thread_id: str, missing: list[str]) -> None:
        super().__init__(
            f"thread {thread_id!r}: {len(missing)} stored value(s) or list element(s) named by the new checkpoint are gone"
        )
        self.thread_id = thread_id
        self.missing = missing


class BackendUnavailableError(ManagerError, ConnectionError):
    """The storage backend cannot be reached (connection refused, timeout, ...)."""


class InvalidInputError(ManagerError, ValueError):
    """An argument is invalid (empty id, wrong type of data, bad limit, ...)."""
