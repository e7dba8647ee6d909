"""Checksums over stored bytes, written as ``"<algorithm>:<hex digest>"``.

The algorithm travels with the digest so a record keeps verifying after
``checksum_algorithm`` changes: verification follows the stored string, not the config.
The checksum covers the *stored* (sealed) bytes, so it detects damage in the store
without needing keys and before any decompression or decryption is attempted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from langgraph_ckpt_config.errors import CodecError, IntegrityError


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _blake2b(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


_DIGESTS: dict[str, Callable[[bytes], str]] = {"sha256": _sha256, "blake2b": _blake2b}


def checksum_names() -> list[str]:
    """Valid values of ``checksum_algorithm``."""
    return list(_DIGESTS)


def get_digest(algorithm: str) -> Callable[[bytes], str]:
    """The hex-digest function for a configured algorithm; unknown names list the valid ones."""
    try:
        return _DIGESTS[algorithm]
    except (KeyError, TypeError):
        raise CodecError(f"unknown checksum algorithm {algorithm!r}; choose one of {checksum_names()}") from None


def verify_checksum(stored: bytes, expected: str) -> None:
    """Raise ``IntegrityError`` unless ``stored`` matches ``expected`` (whatever algorithm it names)."""
    algorithm, sep, digest = expected.partition(":") if isinstance(expected, str) else ("", "", "")
    digest_fn = _DIGESTS.get(algorithm)
    if not sep or digest_fn is None:
        raise IntegrityError(
            f"stored checksum {expected!r} is malformed; expected '<algorithm>:<hex>' with one of {checksum_names()}"
        )
    if digest_fn(stored) != digest.lower():
        raise IntegrityError(f"checksum mismatch ({algorithm}): stored bytes were modified or damaged")
