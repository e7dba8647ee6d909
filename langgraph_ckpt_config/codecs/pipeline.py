"""``CodecPipeline``: compression, encryption, header and checksum for stored bytes.

``seal`` runs on write (compress, then encrypt, then prepend the header, see
``header.py``); ``open`` undoes it on read, following the record's header rather
than the pipeline's own settings. Both run for every channel value at every graph
step, so everything that can be decided once (levels, header bytes, digest function)
is decided in ``__init__``.

Encrypted records authenticate, as AES-GCM associated data, the header up to the
nonce (so compression id, flags and key id cannot be altered) followed by the
caller's ``aad`` -- the record's key -- so ciphertext copied onto another record
fails to open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph_ckpt_config.codecs.checksum import get_digest
from langgraph_ckpt_config.codecs.checksum import verify_checksum as _verify_checksum
from langgraph_ckpt_config.codecs.compression import compressor_by_id, get_compressor
from langgraph_ckpt_config.codecs.encryption import NONCE_SIZE, KeyRing
from langgraph_ckpt_config.codecs.header import VERSION, encrypted_prefix, parse_header, plain_header
from langgraph_ckpt_config.errors import CodecError, EncryptionError

_KEYS_HINT = (
    "client_encryption.keys: encryption is enabled but no keys are configured; set it to "
    "'${LGCKPT_ENCRYPTION_KEYS}' and export LGCKPT_ENCRYPTION_KEYS='key_id:BASE64KEY' "
    "(generate one with: lgckpt keygen)"
)


def _field(params: Any, name: str, default: Any = None) -> Any:
    """Read a parameter from a pydantic model, any attribute object, or a plain mapping."""
    value = params.get(name) if isinstance(params, Mapping) else getattr(params, name, None)
    return default if value is None else value


class CodecPipeline:
    """Turns raw bytes into stored bytes and back; see the module docstring for the guarantees."""

    __slots__ = (
        "_checksum_name",
        "_compress",
        "_compression_id",
        "_compressor",
        "_digest",
        "_encrypted_prefixes",
        "_keyring",
        "_level",
        "_min_size",
        "_plain_headers",
        "_require",
        "_write_keyring",
    )

    def __init__(
        self,
        *,
        compression: str = "none",
        compression_level: int | None = None,
        compression_min_size: int = 256,
        keyring: KeyRing | None = None,
        require_encryption: bool = False,
        checksum_algorithm: str = "sha256",
        encrypt_writes: bool = True,
    ) -> None:
        compressor = get_compressor(compression)
        compressor.ensure_available()  # fail at configuration time, not on the first write
        if (
            isinstance(compression_min_size, bool)
            or not isinstance(compression_min_size, int)
            or compression_min_size < 0
        ):
            raise CodecError(f"compression_min_size must be a non-negative integer, not {compression_min_size!r}")
        if require_encryption and (keyring is None or not encrypt_writes):
            raise CodecError(
                "client_encryption.require is true but no encryption keys are configured: "
                "every record would be written in plaintext and then refused"
            )
        self._compressor = compressor
        self._level = compressor.resolve_level(compression_level)
        self._min_size = compression_min_size
        self._compression_id = compressor.id
        self._compress = compressor.compress if compressor.id else None
        self._keyring = keyring
        # keys kept for reading only: encryption switched off, older records still readable
        self._write_keyring = keyring if encrypt_writes else None
        self._require = bool(require_encryption)
        self._digest = get_digest(checksum_algorithm)
        self._checksum_name = checksum_algorithm
        # A record is either compressed with the configured algorithm or not at all (id 0).
        ids = {0, compressor.id}
        self._plain_headers = {cid: plain_header(cid) for cid in ids}
        self._encrypted_prefixes = (
            {cid: encrypted_prefix(cid, keyring.primary) for cid in ids} if keyring is not None else {}
        )

    @classmethod
    def from_parameters(cls, params: Any) -> CodecPipeline:
        """Build from manager parameters (pydantic model, attribute object or dict).

        Reads ``compression_enabled``, ``compression_algorithm``, ``compression_level``,
        ``compression_min_size``, ``checksum_algorithm`` and ``client_encryption``
        (``enabled``, ``keys`` -- a string or ``SecretStr`` --, ``require`` defaulting to ``enabled``).
        """
        compression, level = "none", None
        if _field(params, "compression_enabled", False):
            # compression_level belongs to the algorithm; it means nothing while compression is off.
            compression, level = _field(params, "compression_algorithm", "zstd"), _field(params, "compression_level")
        keyring = None
        require = False
        encryption = _field(params, "client_encryption")
        if encryption is not None:
            enabled = bool(_field(encryption, "enabled", False))
            require = bool(_field(encryption, "require", enabled))
            keys = _field(encryption, "keys")
            if hasattr(keys, "get_secret_value"):
                keys = keys.get_secret_value()
            has_keys = bool(keys) and not (isinstance(keys, str) and not keys.strip())
            if enabled and not has_keys:
                raise CodecError(_KEYS_HINT)
            if has_keys:
                # With encryption switched off, keys still given are kept for reading the
                # records encrypted before: new records are written in plaintext.
                keyring = KeyRing.from_spec(keys, source="client_encryption.keys")
            if require and not enabled:
                raise CodecError(
                    "client_encryption.require is true but client_encryption.enabled is false: "
                    "records would be written in plaintext and then refused"
                )
        return cls(
            compression=compression,
            compression_level=level,
            compression_min_size=_field(params, "compression_min_size", 256),
            keyring=keyring,
            require_encryption=require,
            checksum_algorithm=_field(params, "checksum_algorithm", "sha256"),
            encrypt_writes=encryption is not None and bool(_field(encryption, "enabled", False)),
        )

    @property
    def is_encrypted(self) -> bool:
        """Whether new records are encrypted."""
        return self._write_keyring is not None

    @property
    def address_key(self) -> bytes | None:
        """The subkey new list elements are addressed under (``KeyRing.address_key`` of the
        primary key) while new records are encrypted; None when they are not (unkeyed
        addresses, as before encryption existed)."""
        keyring = self._write_keyring
        return keyring.address_key if keyring is not None else None

    @property
    def has_keys(self) -> bool:
        """Whether keys are configured, for writing or only for reading older records."""
        return self._keyring is not None

    @property
    def compression(self) -> str:
        """The configured compression algorithm's name."""
        return self._compressor.name

    def seal(self, raw: bytes, aad: bytes | Callable[[], bytes]) -> bytes:
        """Stored bytes for ``raw``; ``aad`` (the record's key) must be passed again to :meth:`open`.

        ``aad`` may be a function building it (called only when encrypting).
        Compression is applied only to payloads of at least ``compression_min_size``
        bytes and kept only if it shrinks them, so sealing never costs more than the header.
        """
        body = raw
        cid = 0
        if self._compress is not None and len(raw) >= self._min_size:
            packed = self._compress(raw, self._level)
            if len(packed) < len(raw):
                body, cid = packed, self._compression_id
        keyring = self._write_keyring
        if keyring is None:
            return self._plain_headers[cid] + body
        prefix = self._encrypted_prefixes[cid]
        _key_id, nonce, ciphertext = keyring.encrypt(body, prefix + (aad() if callable(aad) else aad))
        return b"".join((prefix, nonce, ciphertext))

    def open(self, stored: bytes, aad: bytes | Callable[[], bytes]) -> bytes:
        """The raw bytes sealed in ``stored``; any problem is a ``CodecError`` (``EncryptionError`` for keys).

        ``aad`` may be a function building it: it is called only for an encrypted record."""
        header = parse_header(stored)
        body = stored[header.body_offset :]
        key_id = header.key_id
        if key_id is not None:
            keyring = self._keyring
            if keyring is None:
                raise EncryptionError(
                    f"record is encrypted with key {key_id!r} but no encryption keys are configured "
                    "(set client_encryption.keys)"
                )
            prefix = stored[: header.body_offset - NONCE_SIZE]
            body = keyring.decrypt(key_id, header.nonce, body, prefix + (aad() if callable(aad) else aad))
        elif self._require:
            raise EncryptionError("plaintext record refused: encryption is required (client_encryption.require)")
        if header.compression_id:
            body = compressor_by_id(header.compression_id).decompress(body)
        return body

    def checksum(self, stored: bytes) -> str:
        """``"<algorithm>:<hex>"`` over the stored bytes, with the configured algorithm."""
        return f"{self._checksum_name}:{self._digest(stored)}"

    @staticmethod
    def verify_checksum(stored: bytes, expected: str) -> None:
        """Raise ``IntegrityError`` on mismatch; uses the algorithm named in ``expected``, not the config."""
        _verify_checksum(stored, expected)

    def describe(self, stored: bytes) -> dict[str, Any]:
        """What a stored record's header says, for operators; needs no keys and decodes no body."""
        header = parse_header(stored)
        return {
            "format_version": VERSION,
            "compression": compressor_by_id(header.compression_id).name,
            "encrypted": header.encrypted,
            "key_id": header.key_id,
            "header_size": header.body_offset,
            "body_size": len(stored) - header.body_offset,
            "stored_size": len(stored),
        }

    def __repr__(self) -> str:
        keys = f" key_ids={list(self._keyring.key_ids)!r}" if self._keyring is not None else ""
        if self._keyring is not None and self._write_keyring is None:
            keys += " (read only)"
        return (
            f"<CodecPipeline compression={self._compressor.name!r} encrypted={self.is_encrypted}{keys} "
            f"require_encryption={self._require} checksum={self._checksum_name!r}>"
        )
