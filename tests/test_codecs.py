"""The codec pipeline: compression x encryption, headers, rotation, tampering, no key leaks.

Real libraries throughout (zlib, lz4, zstandard, cryptography, msgpack); no mocks.
"""

from __future__ import annotations

import base64
import os
import pickle
import threading
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from langgraph_ckpt_config.codecs import (
    CodecPipeline,
    KeyRing,
    compressor_names,
    generate_key_spec,
    get_compressor,
    get_serializer,
)
from langgraph_ckpt_config.codecs.compression import _LazyModule
from langgraph_ckpt_config.codecs.header import FIXED_SIZE, MAGIC
from langgraph_ckpt_config.errors import CodecError, EncryptionError, IntegrityError

# Fixed test keys: parametrize ids are built from them, and pytest-xdist workers must
# collect identical ids (a key generated at import differs per worker).
K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.b64encode(bytes(range(32, 64))).decode()
K1_MATERIAL = K1.split(":", 1)[1]
COMPRESSIONS = ["none", "gzip", "lz4", "zstd"]
COMPRESSIBLE = b"compressible " * 80_000  # ~1 MB
PAYLOADS = {
    "empty": b"",
    "one-byte": b"x",
    "1mb-random": os.urandom(1 << 20),
    "1mb-compressible": COMPRESSIBLE,
}


def _ring(spec: str = K1) -> KeyRing:
    return KeyRing.from_spec(spec)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_round_trip(compression, encrypted, payload):
    raw = PAYLOADS[payload]
    pipe = CodecPipeline(
        compression=compression,
        compression_min_size=0,
        keyring=_ring() if encrypted else None,
        require_encryption=encrypted,
    )
    sealed = pipe.seal(raw, b"thread/ns/ckpt")
    assert pipe.open(sealed, b"thread/ns/ckpt") == raw
    info = pipe.describe(sealed)
    assert info["encrypted"] is encrypted
    assert info["key_id"] == ("k1" if encrypted else None)
    assert info["stored_size"] == len(sealed) == info["header_size"] + info["body_size"]
    if payload == "1mb-compressible":
        expected = compression
        assert info["compression"] == expected
        if compression != "none":
            assert len(sealed) < len(raw) // 10
    elif payload == "1mb-random":
        assert info["compression"] == "none"  # random bytes never shrink


def test_plain_header_is_five_bytes_and_encrypted_adds_key_id_nonce_and_tag():
    plain = CodecPipeline().seal(b"abc", b"")
    assert plain == MAGIC + b"\x01\x00\x00abc"
    encrypted = CodecPipeline(keyring=_ring()).seal(b"abc", b"")
    assert encrypted.startswith(MAGIC + b"\x01\x00\x03\x02k1")
    assert len(encrypted) == FIXED_SIZE + 1 + len("k1") + 12 + 3 + 16


def test_a_record_cannot_be_flipped_to_plaintext():
    """The encrypted flag is the one field GCM cannot cover: no single bit flip may clear it."""
    sealed = CodecPipeline(keyring=_ring()).seal(b"abc", b"")
    reader = CodecPipeline(keyring=_ring(), require_encryption=False)
    for bit in range(8):
        damaged = bytearray(sealed)
        damaged[4] ^= 1 << bit
        with pytest.raises(CodecError):
            reader.open(bytes(damaged), b"")


def test_header_wins_over_current_config():
    raw = b"abc" * 1000
    sealed = CodecPipeline(compression="zstd", compression_min_size=0).seal(raw, b"k")
    reader = CodecPipeline(compression="gzip")
    assert reader.describe(sealed)["compression"] == "zstd"
    assert reader.open(sealed, b"k") == raw
    # and every algorithm reads every other's records
    for writer_algo in COMPRESSIONS:
        sealed = CodecPipeline(compression=writer_algo, compression_min_size=0).seal(raw, b"k")
        for reader_algo in COMPRESSIONS:
            assert CodecPipeline(compression=reader_algo).open(sealed, b"k") == raw


def test_compression_skipped_when_it_would_not_shrink():
    pipe = CodecPipeline(compression="zstd", compression_min_size=0)
    raw = os.urandom(4096)
    sealed = pipe.seal(raw, b"")
    assert pipe.describe(sealed)["compression"] == "none"
    assert len(sealed) <= len(raw) + FIXED_SIZE


def test_compression_skipped_below_min_size():
    pipe = CodecPipeline(compression="gzip", compression_min_size=256)
    small = b"a" * 255
    assert pipe.describe(pipe.seal(small, b""))["compression"] == "none"
    assert pipe.describe(pipe.seal(b"a" * 256, b""))["compression"] == "gzip"


@pytest.mark.parametrize("compression,level", [("gzip", 9), ("gzip", 0), ("lz4", 16), ("zstd", 19), ("zstd", -5)])
def test_compression_levels(compression, level):
    pipe = CodecPipeline(compression=compression, compression_level=level, compression_min_size=0)
    assert pipe.open(pipe.seal(COMPRESSIBLE[:10_000], b""), b"") == COMPRESSIBLE[:10_000]


@pytest.mark.parametrize(
    "compression,level", [("gzip", 10), ("lz4", 99), ("zstd", 23), ("zstd", "high"), ("gzip", True)]
)
def test_invalid_compression_level_is_rejected_at_configuration(compression, level):
    with pytest.raises(CodecError, match=f"not valid for '{compression}'"):
        CodecPipeline(compression=compression, compression_level=level)


def test_unknown_compression_names_the_choices():
    with pytest.raises(CodecError, match=r"'brotli'.*\['none', 'gzip', 'lz4', 'zstd'\]"):
        CodecPipeline(compression="brotli")
    assert compressor_names() == COMPRESSIONS
    assert [get_compressor(n).id for n in COMPRESSIONS] == [0, 1, 2, 3]


def test_missing_library_names_the_install_command():
    with pytest.raises(CodecError, match=r"pip install 'langgraph-ckpt-config\[lz4\]'"):
        _LazyModule("no_such_compression_module", "pip install 'langgraph-ckpt-config[lz4]'").get()


def test_zstd_objects_are_safe_across_threads():
    pipe = CodecPipeline(compression="zstd", compression_min_size=0, compression_level=5)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(200):
                raw = f"thread {seed} item {i} ".encode() * 50
                assert pipe.open(pipe.seal(raw, b""), b"") == raw
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------- encryption


def test_key_rotation():
    sealed = CodecPipeline(keyring=_ring(K1)).seal(b"secret", b"r")
    rotated = CodecPipeline(keyring=_ring(f"{K2},{K1}"))
    assert rotated.open(sealed, b"r") == b"secret"
    new = rotated.seal(b"new", b"r")
    assert rotated.describe(new)["key_id"] == "k2"
    assert rotated.open(new, b"r") == b"new"
    with pytest.raises(EncryptionError, match="'k2' which is not configured"):
        CodecPipeline(keyring=_ring(K1)).open(new, b"r")


def test_wrong_key_is_an_encryption_error():
    sealed = CodecPipeline(keyring=_ring(K1)).seal(b"secret", b"r")
    other_k1 = CodecPipeline(keyring=_ring(generate_key_spec("k1")))
    with pytest.raises(EncryptionError, match="wrong key or data tampered/bound to another record"):
        other_k1.open(sealed, b"r")


def test_unknown_key_id_is_named():
    sealed = CodecPipeline(keyring=_ring(K1)).seal(b"secret", b"r")
    with pytest.raises(EncryptionError, match="record was encrypted with key 'k1' which is not configured"):
        CodecPipeline(keyring=_ring(K2)).open(sealed, b"r")
    with pytest.raises(EncryptionError, match="'k1' but no encryption keys are configured"):
        CodecPipeline().open(sealed, b"r")


def test_aad_binds_the_record():
    pipe = CodecPipeline(keyring=_ring())
    sealed = pipe.seal(b"secret", b"thread-1/ckpt-1")
    with pytest.raises(EncryptionError):
        pipe.open(sealed, b"thread-1/ckpt-2")
    with pytest.raises(EncryptionError):
        pipe.open(sealed, b"")


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_every_flipped_byte_of_an_encrypted_record_is_detected(compression):
    pipe = CodecPipeline(compression=compression, compression_min_size=0, keyring=_ring())
    sealed = pipe.seal(b"payload " * 20, b"r")
    for i in range(len(sealed)):
        for bit in (0x01, 0x80):
            damaged = bytearray(sealed)
            damaged[i] ^= bit
            with pytest.raises(CodecError):
                pipe.open(bytes(damaged), b"r")


def test_header_fields_are_authenticated():
    pipe = CodecPipeline(compression="gzip", compression_min_size=0, keyring=_ring())
    sealed = bytearray(pipe.seal(b"x" * 1000, b"r"))
    assert sealed[3] == get_compressor("gzip").id
    sealed[3] = get_compressor("zstd").id  # claim another algorithm
    with pytest.raises(EncryptionError):
        pipe.open(bytes(sealed), b"r")


def test_plaintext_refused_when_required():
    plain = CodecPipeline().seal(b"data", b"r")
    with pytest.raises(EncryptionError, match="plaintext record refused: encryption is required"):
        CodecPipeline(keyring=_ring(), require_encryption=True).open(plain, b"r")
    assert CodecPipeline(keyring=_ring(), require_encryption=False).open(plain, b"r") == b"data"


def test_require_without_keys_is_a_configuration_error():
    with pytest.raises(CodecError, match="no encryption keys"):
        CodecPipeline(require_encryption=True)


def test_keyring_encrypt_decrypt_api():
    ring = _ring(f"{K2},{K1}")
    assert ring.primary == "k2" and ring.key_ids == ("k2", "k1") and "k1" in ring
    key_id, nonce, ciphertext = ring.encrypt(b"hello", b"aad")
    assert key_id == "k2" and len(nonce) == 12
    assert ring.decrypt(key_id, nonce, ciphertext, b"aad") == b"hello"
    assert ring.encrypt(b"hello", b"aad")[1] != nonce  # fresh nonce every time


def test_key_spec_parsing():
    raw = os.urandom(32)
    urlsafe_unpadded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    ring = KeyRing.from_spec(f"  new:{urlsafe_unpadded} ,\n old:{K1_MATERIAL} ")
    assert ring.primary == "new" and ring.key_ids == ("new", "old")
    # the same key bytes, whatever the base64 flavour, decrypt each other's records
    standard = KeyRing.from_spec("new:" + base64.b64encode(raw).decode())
    assert CodecPipeline(keyring=standard).open(CodecPipeline(keyring=ring).seal(b"z", b""), b"") == b"z"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("", "no keys configured"),
        (" , ", "no keys configured"),
        ("justakey", "entry 1 must look like 'key_id:BASE64KEY'"),
        ("bad id:AAAA", "entry 1 must look like"),
        (f"k1:{K1_MATERIAL},k1:{K1_MATERIAL}", "entries 1 and 2 have the same key id"),
        (
            "k1:" + base64.b64encode(bytes(16)).decode(),
            "entry 1 is not 'key_id:' followed by a base64-encoded 32-byte",
        ),
        ("k1:not base64 at all!!", "entry 1 is not 'key_id:' followed by a base64-encoded 32-byte"),
        ("k1:" + K1_MATERIAL[:-4], "entry 1 is not 'key_id:' followed by a base64-encoded 32-byte"),
    ],
    ids=["empty", "blank", "no-id", "bad-id", "duplicate", "short-key", "not-base64", "truncated"],
)
def test_bad_key_specs_name_the_source_not_the_key(spec, message):
    with pytest.raises(CodecError, match=message) as info:
        KeyRing.from_spec(spec, source="LGCKPT_ENCRYPTION_KEYS")
    text = str(info.value)
    assert text.startswith("LGCKPT_ENCRYPTION_KEYS: ")
    assert K1_MATERIAL not in text and K1_MATERIAL[:-4] not in text


@pytest.mark.parametrize(
    "entry", [f"{K1_MATERIAL}:k1", f"{K1_MATERIAL[:40]}:k1", f"k2:{K2.split(':')[1]},{K1_MATERIAL[:40]}:k1"]
)
def test_reversed_entry_does_not_echo_the_key(entry):
    with pytest.raises(CodecError, match="entry") as info:
        KeyRing.from_spec(entry)
    assert K1_MATERIAL[:40] not in str(info.value) and K1_MATERIAL[:12] not in str(info.value)


def test_no_key_material_in_reprs_or_errors():
    ring = _ring(f"{K1},{K2}")
    pipe = CodecPipeline(keyring=ring, compression="zstd")
    texts = [repr(ring), str(ring), repr(pipe), str(pipe)]
    sealed = pipe.seal(b"secret", b"r")
    for bad_reader, aad in [(CodecPipeline(keyring=_ring(generate_key_spec("k1"))), b"r"), (pipe, b"other")]:
        with pytest.raises(EncryptionError) as info:
            bad_reader.open(sealed, aad)
        texts += [str(info.value), repr(info.value)]
    for text in texts:
        for spec in (K1, K2):
            material = spec.split(":", 1)[1]
            assert material not in text and material[:16] not in text
    assert "k1" in repr(ring) and "k2" in repr(ring)


def test_keyring_refuses_pickling():
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(_ring())


def test_generate_key_spec():
    spec = generate_key_spec("prod-2026.a_b")
    key_id, material = spec.split(":")
    assert key_id == "prod-2026.a_b" and len(base64.b64decode(material)) == 32
    assert generate_key_spec("k1") != generate_key_spec("k1")
    with pytest.raises(CodecError, match="invalid key id"):
        generate_key_spec("has space")


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"\xc1",
        b"not a record at all",
        b'{"json": true}',
        MAGIC + b"\x09\x00\x00body",
        MAGIC + b"\x01\x00\x03",
        MAGIC + b"\x01\x00\x03\x05k1",
        MAGIC + b"\x01\x00\x03\x00" + bytes(40),
        MAGIC + b"\x01\x00\x03\x02\xff\xfe" + bytes(40),
        MAGIC + b"\x01\x00\x01body",
        MAGIC + b"\x01\x00\x80body",
        MAGIC + b"\x01\x09\x00body",
    ],
    ids=[
        "empty",
        "nul",
        "half-magic",
        "text",
        "json",
        "future-version",
        "enc-no-keyid",
        "enc-short",
        "enc-empty-keyid",
        "enc-non-ascii-keyid",
        "half-flag",
        "unknown-flag",
        "unknown-compression",
    ],
)
def test_garbage_is_a_codec_error(garbage):
    with pytest.raises(CodecError):
        CodecPipeline(keyring=_ring()).open(garbage, b"")


def test_not_a_record_message():
    with pytest.raises(CodecError, match="not a langgraph-ckpt-config record"):
        CodecPipeline().open(b"hello world", b"")


@pytest.mark.parametrize("encrypted", [False, True])
def test_every_truncation_is_a_codec_error(encrypted):
    pipe = CodecPipeline(compression="zstd", compression_min_size=0, keyring=_ring() if encrypted else None)
    sealed = pipe.seal(b"abc" * 100, b"r")
    for cut in range(len(sealed)):
        with pytest.raises(CodecError):
            pipe.open(sealed[:cut], b"r")


@pytest.mark.parametrize("compression", ["gzip", "lz4", "zstd"])
def test_corrupt_compressed_body_is_a_codec_error(compression):
    pipe = CodecPipeline(compression=compression, compression_min_size=0)
    sealed = bytearray(pipe.seal(b"abc" * 1000, b""))
    sealed[FIXED_SIZE:] = b"\xff" * (len(sealed) - FIXED_SIZE)
    with pytest.raises(CodecError, match=f"decompression failed \\({compression}\\)"):
        pipe.open(bytes(sealed), b"")


# ---------------------------------------------------------------- checksums


@pytest.mark.parametrize("algorithm", ["sha256", "blake2b"])
def test_checksums(algorithm):
    pipe = CodecPipeline(checksum_algorithm=algorithm)
    digest = pipe.checksum(b"stored")
    assert digest.startswith(algorithm + ":") and len(digest.split(":")[1]) == 64
    pipe.verify_checksum(b"stored", digest)
    with pytest.raises(IntegrityError, match="mismatch"):
        pipe.verify_checksum(b"stored!", digest)


def test_checksum_follows_the_stored_algorithm_not_the_config():
    old = CodecPipeline(checksum_algorithm="blake2b").checksum(b"data")
    CodecPipeline(checksum_algorithm="sha256").verify_checksum(b"data", old)


@pytest.mark.parametrize("expected", ["", "sha256", "md5:abc", "deadbeef"])
def test_malformed_checksum_is_an_integrity_error(expected):
    with pytest.raises(IntegrityError, match="malformed"):
        CodecPipeline.verify_checksum(b"data", expected)


def test_unknown_checksum_algorithm_is_rejected_at_configuration():
    with pytest.raises(CodecError, match="'md5'"):
        CodecPipeline(checksum_algorithm="md5")


# ---------------------------------------------------------------- from_parameters


class _Encryption(BaseModel):
    enabled: bool = False
    keys: SecretStr | None = None
    require: bool | None = None


class _Params(BaseModel):
    compression_enabled: bool = False
    compression_algorithm: str = "zstd"
    compression_level: int | None = None
    compression_min_size: int = 256
    checksum_algorithm: str = "sha256"
    client_encryption: _Encryption = _Encryption()


def test_from_parameters_with_pydantic_model_and_secret_keys():
    params = _Params(
        compression_enabled=True,
        compression_algorithm="gzip",
        compression_min_size=0,
        checksum_algorithm="blake2b",
        client_encryption=_Encryption(enabled=True, keys=SecretStr(f"{K2},{K1}")),
    )
    pipe = CodecPipeline.from_parameters(params)
    assert pipe.is_encrypted and pipe.compression == "gzip"
    sealed = pipe.seal(COMPRESSIBLE[:5000], b"r")
    assert pipe.describe(sealed)["key_id"] == "k2" and pipe.describe(sealed)["compression"] == "gzip"
    assert pipe.checksum(sealed).startswith("blake2b:")
    # require defaults to enabled
    with pytest.raises(EncryptionError, match="plaintext record refused"):
        pipe.open(CodecPipeline().seal(b"x", b"r"), b"r")
    assert K1_MATERIAL not in repr(pipe)


def test_from_parameters_with_dict_and_attribute_objects():
    pipe = CodecPipeline.from_parameters(
        {"compression_enabled": False, "compression_algorithm": "lz4", "compression_level": 9}
    )
    assert pipe.compression == "none" and not pipe.is_encrypted
    enc = SimpleNamespace(enabled=True, keys=K1, require=False)
    pipe = CodecPipeline.from_parameters(
        SimpleNamespace(
            compression_enabled=True, compression_algorithm="lz4", compression_level=None, client_encryption=enc
        )
    )
    assert pipe.compression == "lz4" and pipe.is_encrypted
    assert pipe.open(CodecPipeline().seal(b"old plaintext", b""), b"") == b"old plaintext"  # require=False


@pytest.mark.parametrize("keys", [None, "", "   ", SecretStr("")])
def test_from_parameters_requires_keys_when_enabled(keys):
    with pytest.raises(CodecError, match=r"client_encryption\.keys.*\$\{LGCKPT_ENCRYPTION_KEYS\}"):
        CodecPipeline.from_parameters({"client_encryption": {"enabled": True, "keys": keys}})


def test_from_parameters_bad_keys_name_the_field():
    with pytest.raises(CodecError, match=r"^client_encryption\.keys: entry 1"):
        CodecPipeline.from_parameters({"client_encryption": {"enabled": True, "keys": "nonsense"}})


def test_from_parameters_require_without_enabled_is_rejected():
    with pytest.raises(CodecError, match="client_encryption.enabled is false"):
        CodecPipeline.from_parameters({"client_encryption": {"enabled": False, "require": True}})


# ---------------------------------------------------------------- serializers


def test_json_serializer_honours_options():
    js = get_serializer("json", {"indent": 2, "ensure_ascii": False, "sort_keys": True})
    assert js.name == "json"
    assert js.dumps({"b": 1, "a": "é"}) == '{\n  "a": "é",\n  "b": 1\n}'.encode()
    assert get_serializer("json").dumps({"b": 1, "a": "é"}) == b'{"b": 1, "a": "\\u00e9"}'
    doc = {"s": "x", "i": 1, "f": 1.5, "t": True, "n": None, "l": [1, "2"], "d": {"k": []}}
    assert js.loads(js.dumps(doc)) == doc


def test_json_serializer_rejects_bytes_clearly():
    js = get_serializer("json")
    for value in (b"\x00", bytearray(b"a")):
        with pytest.raises(CodecError, match="json cannot hold bytes.*msgpack"):
            js.dumps({"nested": [value]})
    with pytest.raises(CodecError, match="cannot serialize as json.*set"):
        js.dumps({"s": {1, 2}})
    with pytest.raises(CodecError, match="stored json is invalid"):
        js.loads(b"{not json")


def test_msgpack_serializer():
    mp = get_serializer("msgpack")
    assert mp.name == "msgpack"
    doc = {"raw": b"\x00\xff", "n": [1, 2], "s": "é", "none": None, "f": 0.25}
    assert mp.loads(mp.dumps(doc)) == doc
    legacy = get_serializer("msgpack", {"use_bin_type": False})
    assert legacy.loads(legacy.dumps({"s": "text"})) == {"s": "text"}
    with pytest.raises(CodecError, match="cannot serialize as msgpack"):
        mp.dumps({"s": object()})
    with pytest.raises(CodecError, match="stored msgpack is invalid"):
        mp.loads(b"\xc1")


def test_serializer_errors():
    with pytest.raises(CodecError, match=r"unknown serialization format 'xml'.*\['json', 'msgpack'\]"):
        get_serializer("xml")
    with pytest.raises(CodecError, match=r"unknown serialization_options \['indnet'\]"):
        get_serializer("json", {"indnet": 2})
    with pytest.raises(CodecError, match="sort_keys must be true or false"):
        get_serializer("json", {"sort_keys": "yes"})
    # options of the other format are tolerated: one dict serves records of either format
    assert get_serializer("msgpack", {"indent": 2}).loads(get_serializer("msgpack").dumps([1])) == [1]


# ---------------------------------------------------------------- property


@settings(max_examples=300, deadline=None)
@given(
    raw=st.binary(max_size=4096),
    aad=st.binary(max_size=64),
    compression=st.sampled_from(COMPRESSIONS),
    encrypted=st.booleans(),
    min_size=st.integers(min_value=0, max_value=512),
)
def test_property_open_inverts_seal(raw, aad, compression, encrypted, min_size):
    pipe = CodecPipeline(compression=compression, compression_min_size=min_size, keyring=_ring() if encrypted else None)
    sealed = pipe.seal(raw, aad)
    assert pipe.open(sealed, aad) == raw
    assert len(sealed) <= len(raw) + pipe.describe(sealed)["header_size"] + (16 if encrypted else 0)


@pytest.mark.parametrize("name", ["gzip", "lz4", "zstd"])
def test_decompression_bombs_and_truncation_are_refused(name, monkeypatch):
    """A forged record cannot make a reader allocate without bound; a cut one is an error."""
    from langgraph_ckpt_config.codecs import compression

    comp = compression.get_compressor(name)
    level = comp.resolve_level(None)
    data = b"checkpoint " * 200
    packed = comp.compress(data, level)
    assert comp.decompress(packed) == data
    with pytest.raises(CodecError):
        comp.decompress(packed[:-4])
    monkeypatch.setattr(compression, "MAX_DECOMPRESSED_SIZE", 1000)
    with pytest.raises(CodecError, match="decompress"):
        comp.decompress(comp.compress(b"\0" * 50_000, level))
    if name == "zstd":  # a frame that does not declare its size is bounded too
        import zstandard

        sizeless = zstandard.ZstdCompressor(write_content_size=False)
        with pytest.raises(CodecError):
            comp.decompress(sizeless.compress(b"\0" * 50_000))
        assert comp.decompress(sizeless.compress(b"ab" * 10)) == b"ab" * 10


def test_switching_encryption_off_keeps_old_records_readable():
    """enabled: false with keys still given: new records are plaintext, old ones still open."""
    import base64
    import os

    from langgraph_ckpt_config.codecs.pipeline import CodecPipeline

    keys = "k1:" + base64.b64encode(os.urandom(32)).decode()
    before = CodecPipeline.from_parameters({"client_encryption": {"enabled": True, "keys": keys}})
    after = CodecPipeline.from_parameters({"client_encryption": {"enabled": False, "keys": keys}})
    old = before.seal(b"state", b"key")
    assert after.open(old, b"key") == b"state"
    new = after.seal(b"state", b"key")
    assert after.describe(new)["encrypted"] is False and not after.is_encrypted
    assert "read only" in repr(after) and keys.split(":")[1] not in repr(after)
    without = CodecPipeline.from_parameters({"client_encryption": {"enabled": False}})
    with pytest.raises(EncryptionError, match="no encryption keys"):
        without.open(old, b"key")
