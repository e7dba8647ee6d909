"""``CodecPipeline``: compression, encryption, header and checksum for stored bytes.

Stored layout (all records, blobs and writes)::

    b"\\xcb\\x01"   magic
    version       1 byte (1)
    compression   1 byte (compression id, see compression.py)
    flags         1 byte (bit 0: encrypted)
    [if encrypted] key-id length (1 byte), key id (ascii), nonce (12 bytes)
    body          compressed-then-encrypted bytes

The header (everything before the body) is part of the AES-GCM associated data
together with the caller's record key, so neither can be altered or swapped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.codecs.compression import compressor_by_id, get_compressor
from langgraph_ckpt_config.codecs.encryption import NONCE_SIZE, KeyRing
from langgraph_ckpt_config.errors import CodecError, EncryptionError, IntegrityError

MAGIC = b"\xcb\x01"
VERSION = 1
FLAG_ENCRYPTED = 0x01
_FIXED = len(MAGIC) + 3

_HASHES = {
    "sha256": lambda data: hashlib.sha256(data).hexdigest(),
    "blake2b": lambda data: hashlib.blake2b(data, digest_size=32).hexdigest(),
}


def _field(params: Any, name: str, default: Any = None) -> Any:
    if isinstance(params, Mapping):
        return params.get(name, default)
    return getattr(params, name, default)


class CodecPipeline:
    def __init__(
        self,
        *,
        compression: str = "none",
        compression_level: int | None = None,
        compression_min_size: int = 256,
        keyring: KeyRing | None = None,
        require_encryption: bool = False,
        checksum_algorithm: str = "sha256",
    ) -> None:
        self._compressor = get_compressor(compression)
        self._level = compression_level
        self._min_size = max(0, int(compression_min_size))
        self._keyring = keyring
        self._require = require_encryption
        if checksum_algorithm not in _HASHES:
            raise CodecError(f"unknown checksum algorithm {checksum_algorithm!r}; choose one of {sorted(_HASHES)}")
        self._checksum_name = checksum_algorithm
        self._hash = _HASHES[checksum_algorithm]
        self._plain_header = {cid: MAGIC + bytes((VERSION, cid, 0)) for cid in range(4)}

    @classmethod
    def from_parameters(cls, params: Any) -> CodecPipeline:
        compression = "none"
        if _field(params, "compression_enabled", False):
            compression = _field(params, "compression_algorithm", "zstd") or "none"
        enc = _field(params, "client_encryption")
        keyring = None
        require = False
        if enc is not None and _field(enc, "enabled", False):
            keys = _field(enc, "keys")
            if hasattr(keys, "get_secret_value"):
                keys = keys.get_secret_value()
            if not keys:
                raise CodecError(
                    "client_encryption.keys: encryption is enabled but no keys are configured; "
                    "set it to '${LGCKPT_ENCRYPTION_KEYS}' and export 'key_id:BASE64KEY' "
                    "(generate one with: lgckpt keygen)"
                )
            keyring = KeyRing.from_spec(keys)
            req = _field(enc, "require")
            require = True if req is None else bool(req)
        return cls(
            compression=compression,
            compression_level=_field(params, "compression_level"),
            compression_min_size=_field(params, "compression_min_size", 256) or 0,
            keyring=keyring,
            require_encryption=require,
            checksum_algorithm=_field(params, "checksum_algorithm", "sha256") or "sha256",
        )

    @property
    def is_encrypted(self) -> bool:
        return self._keyring is not None

    def seal(self, raw: bytes, aad: bytes) -> bytes:
        comp = self._compressor
        body = raw
        cid = 0
        if comp.id and len(raw) >= self._min_size:
            packed = comp.compress(raw, self._level)
            if len(packed) < len(raw):
                body, cid = packed, comp.id
        if self._keyring is None:
            return self._plain_header[cid] + body
        return self._keyring.encrypt_framed(MAGIC + bytes((VERSION, cid, FLAG_ENCRYPTED)), body, aad)

    def _parse(self, stored: bytes) -> tuple[int, int, str | None, bytes | None, int]:
        if len(stored) < _FIXED or stored[:2] != MAGIC:
            raise CodecError("not a langgraph-ckpt-config record (bad header magic)")
        version, cid, flags = stored[2], stored[3], stored[4]
        if version != VERSION:
            raise CodecError(f"record format version {version} is not supported (this version reads {VERSION})")
        if not flags & FLAG_ENCRYPTED:
            return cid, flags, None, None, _FIXED
        if len(stored) < _FIXED + 1:
            raise CodecError("truncated record header")
        klen = stored[_FIXED]
        start = _FIXED + 1
        end = start + klen + NONCE_SIZE
        if len(stored) < end:
            raise CodecError("truncated record header")
        try:
            kid = stored[start : start + klen].decode("ascii")
        except UnicodeDecodeError:
            raise CodecError("record header has an invalid key id") from None
        return cid, flags, kid, stored[start + klen : end], end

    def open(self, stored: bytes, aad: bytes) -> bytes:
        cid, flags, kid, nonce, offset = self._parse(stored)
        body = stored[offset:]
        if kid is not None:
            if self._keyring is None:
                raise EncryptionError(f"record is encrypted with key {kid!r} but no encryption keys are configured")
            body = self._keyring.decrypt(kid, nonce, body, stored[:offset] + aad)
        elif self._require:
            raise EncryptionError("plaintext record refused: encryption is required (client_encryption.require)")
        if cid:
            try:
                body = compressor_by_id(cid).decompress(body)
            except CodecError:
                raise
            except Exception as exc:  # each library raises its own error type for corrupt input
                raise CodecError(f"decompression failed: {exc}") from None
        return body

    def checksum(self, stored: bytes) -> str:
        return f"{self._checksum_name}:{self._hash(stored)}"

    @staticmethod
    def verify_checksum(stored: bytes, expected: str) -> None:
        algo, _, digest = (expected or "").partition(":")
        fn = _HASHES.get(algo)
        if fn is None:
            raise IntegrityError(f"unknown checksum {expected!r}")
        if fn(stored) != digest:
            raise IntegrityError("checksum mismatch: stored bytes were modified or damaged")

    def describe(self, stored: bytes) -> dict[str, Any]:
        cid, flags, kid, _nonce, offset = self._parse(stored)
        return {
            "compression": compressor_by_id(cid).name,
            "encrypted": kid is not None,
            "key_id": kid,
            "stored_size": len(stored),
            "header_size": offset,
        }

    def __repr__(self) -> str:
        return (
            f"<CodecPipeline compression={self._compressor.name!r} encrypted={self.is_encrypted} "
            f"checksum={self._checksum_name!r}>"
        )
