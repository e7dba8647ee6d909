"""AES-256-GCM with a key ring: encrypt with the primary key, decrypt with any configured one.

Key material never appears in reprs, logs or error messages; only key ids do.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from langgraph_ckpt_config.errors import CodecError, EncryptionError

NONCE_SIZE = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _decode_key(text: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(padded)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            return raw
    raise ValueError("not a base64-encoded 32-byte key")


class KeyRing:
    """Named AES-256 keys; the first of a spec is the primary (used for new records)."""

    def __init__(self, keys: dict[str, bytes], primary: str) -> None:
        if primary not in keys:
            raise CodecError(f"primary key id {primary!r} is not among the configured keys")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary = primary

    @classmethod
    def from_spec(cls, spec: str, *, source: str = "client_encryption.keys") -> KeyRing:
        """Parse ``"k2:BASE64,k1:BASE64"`` (primary first)."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for n, item in enumerate(p for p in (spec or "").split(",") if p.strip()):
            kid, sep, material = item.strip().partition(":")
            if not sep or not _KEY_ID.match(kid):
                raise CodecError(f"{source}: entry {n + 1} must look like 'key_id:BASE64KEY' (key id [A-Za-z0-9_.-])")
            if kid in keys:
                raise CodecError(f"{source}: key id {kid!r} is listed twice")
            try:
                keys[kid] = _decode_key(material)
            except ValueError:
                raise CodecError(f"{source}: key {kid!r} is not a base64-encoded 32-byte (AES-256) key") from None
            order.append(kid)
        if not order:
            raise CodecError(f"{source}: no keys configured")
        return cls(keys, order[0])

    @property
    def key_ids(self) -> list[str]:
        return list(self._aead)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes, bytes]:
        nonce = os.urandom(NONCE_SIZE)
        return self.primary, nonce, self._aead[self.primary].encrypt(nonce, plaintext, aad)

    def encrypt_framed(self, prefix: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``prefix + len(key id) + key id + nonce + ciphertext``, authenticating that whole header and ``aad``."""
        kid = self.primary.encode("ascii")
        header = prefix + bytes((len(kid),)) + kid + os.urandom(NONCE_SIZE)
        return header + self._aead[self.primary].encrypt(header[-NONCE_SIZE:], plaintext, header + aad)

    def decrypt(self, key_id: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            raise EncryptionError(f"record was encrypted with key {key_id!r}, which is not configured")
        try:
            return aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise EncryptionError(
                f"decryption with key {key_id!r} failed: wrong key, tampered data, or a record bound to another key"
            ) from None

    def __repr__(self) -> str:
        return f"<KeyRing primary={self.primary!r} keys={self.key_ids!r}>"


def generate_key_spec(key_id: str = "k1") -> str:
    """A fresh ``key_id:BASE64`` entry for ``client_encryption.keys``."""
    if not _KEY_ID.match(key_id):
        raise CodecError(f"invalid key id {key_id!r}")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode('ascii')}"
