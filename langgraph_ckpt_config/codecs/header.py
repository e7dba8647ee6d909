"""The self-describing header in front of every stored record, blob and write.

Layout (version 1)::

    offset  size  field
    0       2     magic  b"\\xc1L"
    2       1     format version (1)
    3       1     compression id (see compression.py; 0 = stored uncompressed)
    4       1     flags: 0x03 encrypted, 0x00 not (bits 2-7 reserved, must be 0)
    -- only when encrypted --
    5       1     key id length n (1..64)
    6       n     key id (ASCII)
    6+n     12    AES-GCM nonce
    -- then --
    ...           body: the (compressed) payload, encrypted when flagged

"Encrypted" is written as two equal bits (0 and 1) because it is the one header field
authentication cannot protect: a record whose flag no longer says encrypted is not
decrypted at all, and would hand its ciphertext back as the payload. With the bit
doubled, a single flipped bit leaves an invalid flags byte and the record is refused.

A plaintext record costs 5 bytes, an encrypted one 18 + len(key id) + the 16-byte GCM tag.

A reader follows the header, not today's configuration, which is what keeps records
readable after compression or keys change. 0xC1 never occurs in UTF-8 and is the one
byte msgpack never uses, so a header cannot be mistaken for a bare JSON, text or
msgpack value stored by something else.
"""

from __future__ import annotations

from typing import NamedTuple

from langgraph_ckpt_config.codecs.encryption import NONCE_SIZE
from langgraph_ckpt_config.errors import CodecError

MAGIC = b"\xc1L"
VERSION = 1
FLAG_ENCRYPTED = 0x03  # bit 0 and its copy in bit 1, see above
FIXED_SIZE = len(MAGIC) + 3
_NOT_A_RECORD = "not a langgraph-ckpt-config record (no header magic); was it written by another tool?"


class Header(NamedTuple):
    """A parsed header. ``body_offset`` is where the body starts (the header's length)."""

    compression_id: int
    key_id: str | None
    nonce: bytes | None
    body_offset: int

    @property
    def encrypted(self) -> bool:
        return self.key_id is not None


def plain_header(compression_id: int) -> bytes:
    """The complete header of an unencrypted record."""
    return MAGIC + bytes((VERSION, compression_id, 0))


def encrypted_prefix(compression_id: int, key_id: str) -> bytes:
    """An encrypted record's header up to (not including) the nonce.

    The pipeline authenticates this prefix as AES-GCM associated data. The nonce that
    follows it needs no such protection: GCM derives the tag from it, so a changed
    nonce fails authentication like any other tampering.
    """
    raw_id = key_id.encode("ascii")
    if not 0 < len(raw_id) < 256:
        raise CodecError(f"key id {key_id!r} does not fit in a record header")
    return MAGIC + bytes((VERSION, compression_id, FLAG_ENCRYPTED, len(raw_id))) + raw_id


def parse_header(stored: bytes) -> Header:
    """Parse and bounds-check the header; anything malformed is a ``CodecError``, never a guess."""
    if len(stored) < FIXED_SIZE:
        if stored and MAGIC.startswith(stored[: len(MAGIC)]):
            raise CodecError(f"truncated record: {len(stored)} bytes is shorter than any header")
        raise CodecError(_NOT_A_RECORD)
    if stored[:2] != MAGIC:
        raise CodecError(_NOT_A_RECORD)
    version = stored[2]
    if version != VERSION:
        raise CodecError(
            f"record format version {version} is not supported (this version reads {VERSION}); "
            "upgrade langgraph-ckpt-config"
        )
    compression_id = stored[3]
    flags = stored[4]
    if flags == 0:
        return Header(compression_id, None, None, FIXED_SIZE)
    if flags != FLAG_ENCRYPTED:
        raise CodecError(f"record header has invalid flags 0x{flags:02x} (damaged, or written by a newer version)")
    if len(stored) == FIXED_SIZE:
        raise CodecError("truncated record: encrypted header ends before its key id")
    id_end = FIXED_SIZE + 1 + stored[FIXED_SIZE]
    body_offset = id_end + NONCE_SIZE
    if len(stored) < body_offset or id_end == FIXED_SIZE + 1:
        raise CodecError("truncated record: encrypted header is incomplete")
    try:
        key_id = stored[FIXED_SIZE + 1 : id_end].decode("ascii")
    except UnicodeDecodeError:
        raise CodecError("record header has a key id that is not ASCII (damaged header)") from None
    return Header(compression_id, key_id, stored[id_end:body_offset], body_offset)
