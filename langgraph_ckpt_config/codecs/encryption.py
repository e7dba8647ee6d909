"""AES-256-GCM with a key ring: encrypt with the primary key, decrypt with any configured one.

Keys are rotated by putting a new key first in the spec and keeping the old ones after
it: new records use the new key, old records name the key they were written with.

Key material never appears in reprs, logs or error messages; only key ids and the
name of the setting the keys came from do. Key spec entries that fail to parse are
reported by position ("entry 2"), never quoted: in a mistyped entry (say, reversed
as ``KEY:id``) the part that looks like a key id may be the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from langgraph_ckpt_config.errors import CodecError, EncryptionError

KEY_SIZE = 32
NONCE_SIZE = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ALTCHARS = (None, b"-_")  # standard, then urlsafe base64


def is_valid_key_id(key_id: str) -> bool:
    """Key ids are stored in every encrypted record's header: short, ASCII, no separators."""
    return isinstance(key_id, str) and _KEY_ID.fullmatch(key_id) is not None


def _decode_key(text: str) -> bytes | None:
    """The 32 key bytes of standard or urlsafe base64 ``text`` (padding optional), else None."""
    padded = text + "=" * (-len(text) % 4)
    for altchars in _ALTCHARS:
        try:
            raw = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == KEY_SIZE:
            return raw
    return None


def parse_key_spec(spec: str) -> dict[str, bytes]:
    """``"k2:BASE64KEY,k1:BASE64KEY"`` -> {key id: 32 key bytes}, primary (first) first.

    A ValueError says which entry is wrong and how, never quoting it; config
    validation runs this so a bad spec is reported with its field path at load time.
    """
    keys: dict[str, bytes] = {}
    positions: dict[str, int] = {}
    entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
    if not entries:
        raise ValueError("no keys configured (expected 'key_id:BASE64KEY[,key_id:BASE64KEY...]')")
    for position, entry in enumerate(entries, start=1):
        key_id, sep, material = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not is_valid_key_id(key_id):
            raise ValueError(
                f"entry {position} must look like 'key_id:BASE64KEY' with a key id of 1-64 characters from [A-Za-z0-9_.-]"
            )
        if key_id in keys:
            raise ValueError(f"entries {positions[key_id]} and {position} have the same key id")
        key = _decode_key(material.strip())
        if key is None:
            raise ValueError(
                f"entry {position} is not 'key_id:' followed by a base64-encoded "
                f"{KEY_SIZE}-byte (AES-256) key; generate one with: lgckpt keygen"
            )
        keys[key_id] = key
        positions[key_id] = position
    return keys


class KeyRing:
    """Named AES-256 keys: one primary (encrypts new records) plus any number for decryption only.

    Immutable once built, so a pipeline may precompute header bytes from :attr:`primary`.
    """

    __slots__ = ("_address_key", "_ciphers", "_primary")

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys.items():
            if not is_valid_key_id(key_id):
                raise CodecError("key ids must match [A-Za-z0-9_.-]{1,64}")
            if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
                raise CodecError(f"key {key_id!r} must be {KEY_SIZE} bytes (AES-256)")
            ciphers[key_id] = AESGCM(bytes(key))
        if primary not in ciphers:
            raise CodecError(f"primary key id {primary!r} is not among the configured keys")
        self._ciphers = ciphers
        self._primary = primary
        self._address_key = _derive_address_key(bytes(keys[primary]))

    @classmethod
    def from_spec(cls, spec: str, *, source: str = "client_encryption.keys") -> KeyRing:
        """Parse ``"k2:BASE64KEY,k1:BASE64KEY"``; the first entry is the primary key.

        ``source`` names where the spec came from (a config path or an env var) so
        errors can point at it without quoting it.
        """
        if not isinstance(spec, str):
            raise CodecError(f"{source}: expected a string like 'key_id:BASE64KEY,...', got {type(spec).__name__}")
        try:
            keys = parse_key_spec(spec)
        except ValueError as exc:
            raise CodecError(f"{source}: {exc}") from None
        return cls(keys, next(iter(keys)))

    @property
    def primary(self) -> str:
        """The key id new records are encrypted with."""
        return self._primary

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every configured key id, primary first (in spec order)."""
        return tuple(self._ciphers)

    @property
    def address_key(self) -> bytes:
        """A subkey of the primary key for naming list elements in the store (see
        ``managers/listtree.py``): a keyed hash under it reveals nothing without the key.
        Derived, never the key itself, so an address can never help recover the key."""
        return self._address_key

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._ciphers

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes, bytes]:
        """Encrypt with the primary key under a fresh random nonce: ``(key_id, nonce, ciphertext+tag)``.

        Random 96-bit nonces are safe for far more records than one key will see
        (the NIST bound is 2**32 messages per key); rotate keys long before that.
        """
        nonce = os.urandom(NONCE_SIZE)
        return self._primary, nonce, self._ciphers[self._primary].encrypt(nonce, plaintext, aad)

    def decrypt(self, key_id: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Decrypt and authenticate; any failure is an ``EncryptionError`` naming the key id."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionError(
                f"record was encrypted with key {key_id!r} which is not configured "
                f"(configured: {list(self._ciphers)}); add it to client_encryption.keys"
            )
        try:
            return cipher.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise EncryptionError(
                f"decryption with key {key_id!r} failed: wrong key or data tampered/bound to another record"
            ) from None

    def __repr__(self) -> str:
        return f"<KeyRing primary={self._primary!r} key_ids={list(self._ciphers)!r}>"

    def __reduce__(self):
        # Pickling would copy key material into caches, queues and crash dumps.
        raise TypeError("KeyRing cannot be pickled; rebuild it from its key spec")


#: Domain separation of the address subkey from every other use of a key.
_ADDRESS_KEY_LABEL = b"langgraph-ckpt-config/element-address/v1"


def _derive_address_key(key: bytes) -> bytes:
    return hashlib.blake2b(_ADDRESS_KEY_LABEL, key=key, digest_size=32).digest()


def generate_key_spec(key_id: str = "k1") -> str:
    """A fresh ``key_id:BASE64KEY`` entry for ``client_encryption.keys`` (keep it secret)."""
    if not is_valid_key_id(key_id):
        raise CodecError(f"invalid key id {key_id!r}: use 1-64 characters from [A-Za-z0-9_.-]")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode('ascii')}"
