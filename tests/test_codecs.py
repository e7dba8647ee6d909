"""The codec pipeline: compression x encryption, headers, rotation, tampering, no key leaks."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langgraph_ckpt_config.codecs import CodecPipeline, KeyRing, generate_key_spec, get_serializer
from langgraph_ckpt_config.errors import CodecError, EncryptionError, IntegrityError

K1 = generate_key_spec("k1")
K2 = generate_key_spec("k2")
PAYLOADS = [b"", b"x", os.urandom(1 << 20), b"compressible " * 80000]


@pytest.mark.parametrize("compression", ["none", "gzip", "lz4", "zstd"])
@pytest.mark.parametrize("encrypted", [False, True])
def test_round_trip(compression, encrypted):
    ring = KeyRing.from_spec(K1) if encrypted else None
    pipe = CodecPipeline(compression=compression, compression_min_size=0, keyring=ring, require_encryption=encrypted)
    for raw in PAYLOADS:
        sealed = pipe.seal(raw, b"aad")
        assert pipe.open(sealed, b"aad") == raw
        info = pipe.describe(sealed)
        assert info["encrypted"] is encrypted
        if raw == PAYLOADS[3] and compression != "none":
            assert len(sealed) < len(raw) // 10 and info["compression"] == compression


def test_header_wins_over_current_config():
    sealed = CodecPipeline(compression="zstd", compression_min_size=0).seal(b"abc" * 1000, b"k")
    assert CodecPipeline(compression="gzip").open(sealed, b"k") == b"abc" * 1000


def test_compression_skipped_when_useless():
    pipe = CodecPipeline(compression="zstd", compression_min_size=0)
    raw = os.urandom(4096)
    sealed = pipe.seal(raw, b"")
    assert pipe.describe(sealed)["compression"] == "none" and len(sealed) <= len(raw) + 8


def test_key_rotation():
    sealed = CodecPipeline(keyring=KeyRing.from_spec(K1)).seal(b"secret", b"r")
    rotated = CodecPipeline(keyring=KeyRing.from_spec(f"{K2},{K1}"))
    assert rotated.open(sealed, b"r") == b"secret"
    assert rotated.describe(rotated.seal(b"new", b"r"))["key_id"] == "k2"


def test_wrong_key_unknown_key_and_aad():
    sealed = CodecPipeline(keyring=KeyRing.from_spec(K1)).seal(b"secret", b"r")
    other_k1 = CodecPipeline(keyring=KeyRing.from_spec(generate_key_spec("k1")))
    with pytest.raises(EncryptionError, match="wrong key"):
        other_k1.open(sealed, b"r")
    with pytest.raises(EncryptionError, match="'k1'.*not configured"):
        CodecPipeline(keyring=KeyRing.from_spec(K2)).open(sealed, b"r")
    with pytest.raises(EncryptionError):
        CodecPipeline(keyring=KeyRing.from_spec(K1)).open(sealed, b"another record")
    with pytest.raises(EncryptionError, match="no encryption keys"):
        CodecPipeline().open(sealed, b"r")


def test_every_flipped_byte_is_detected():
    pipe = CodecPipeline(compression="zstd", compression_min_size=0, keyring=KeyRing.from_spec(K1))
    sealed = pipe.seal(b"payload " * 20, b"r")
    for i in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[i] ^= 0x01
        with pytest.raises(CodecError):
            pipe.open(bytes(damaged), b"r")


def test_plaintext_refused_when_required():
    plain = CodecPipeline().seal(b"data", b"r")
    with pytest.raises(EncryptionError, match="plaintext record refused"):
        CodecPipeline(keyring=KeyRing.from_spec(K1), require_encryption=True).open(plain, b"r")
    assert CodecPipeline(keyring=KeyRing.from_spec(K1), require_encryption=False).open(plain, b"r") == b"data"


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"not a record at all", b"\xcb\x01\x09\x00\x00body", b"\xcb\x01\x01\x00\x01"])
def test_garbage_is_a_codec_error(garbage):
    with pytest.raises(CodecError):
        CodecPipeline(keyring=KeyRing.from_spec(K1)).open(garbage, b"")


def test_corrupt_compressed_body():
    pipe = CodecPipeline(compression="zstd", compression_min_size=0)
    sealed = bytearray(pipe.seal(b"abc" * 1000, b""))
    sealed[-3] ^= 0xFF
    with pytest.raises(CodecError, match="decompression failed"):
        pipe.open(bytes(sealed), b"")


def test_checksums():
    for algo in ("sha256", "blake2b"):
        pipe = CodecPipeline(checksum_algorithm=algo)
        digest = pipe.checksum(b"stored")
        assert digest.startswith(algo + ":")
        CodecPipeline.verify_checksum(b"stored", digest)
        with pytest.raises(IntegrityError, match="mismatch"):
            CodecPipeline.verify_checksum(b"stored!", digest)


def test_no_key_material_in_reprs_or_errors():
    material = K1.split(":", 1)[1]
    ring = KeyRing.from_spec(K1)
    pipe = CodecPipeline(keyring=ring)
    assert material not in repr(ring) and material not in repr(pipe)
    with pytest.raises(CodecError) as info:
        KeyRing.from_spec("k1:" + material[:-4])  # truncated key
    assert material[:-4] not in str(info.value)


def test_from_parameters_requires_keys():
    with pytest.raises(CodecError, match="client_encryption.keys"):
        CodecPipeline.from_parameters({"client_encryption": {"enabled": True, "keys": ""}})
    pipe = CodecPipeline.from_parameters({"compression_enabled": True, "compression_algorithm": "gzip", "client_encryption": {"enabled": True, "keys": K1}})
    assert pipe.is_encrypted


def test_serializers():
    js = get_serializer("json", {"indent": 2, "ensure_ascii": False, "sort_keys": True})
    assert js.dumps({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}'.encode()
    with pytest.raises(CodecError, match="msgpack"):
        js.dumps({"raw": b"\x00"})
    mp = get_serializer("msgpack")
    assert mp.loads(mp.dumps({"raw": b"\x00", "n": [1, 2]})) == {"raw": b"\x00", "n": [1, 2]}
    with pytest.raises(CodecError, match="unknown serialization format"):
        get_serializer("xml")


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=4096), aad=st.binary(max_size=64), compression=st.sampled_from(["none", "gzip", "lz4", "zstd"]))
def test_property_round_trip(raw, aad, compression):
    pipe = CodecPipeline(compression=compression, compression_min_size=0, keyring=KeyRing.from_spec(K1))
    assert pipe.open(pipe.seal(raw, aad), aad) == raw
