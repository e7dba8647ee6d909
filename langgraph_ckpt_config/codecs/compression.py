"""Compressors by name, each with a stable one-byte id written into record headers."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from langgraph_ckpt_config.errors import CodecError


@dataclass(frozen=True)
class Compressor:
    name: str
    id: int
    compress: Callable[[bytes, int | None], bytes]
    decompress: Callable[[bytes], bytes]


def _gzip_compress(data: bytes, level: int | None) -> bytes:
    # zlib framing (not the gzip file format): same DEFLATE, 18 bytes less per record.
    return zlib.compress(data, 6 if level is None else level)


def _lz4_module():
    try:
        import lz4.frame
    except ImportError:
        raise CodecError(
            "compression 'lz4' needs the lz4 package: pip install 'langgraph-ckpt-config[lz4]'"
        ) from None
    return lz4.frame


def _lz4_compress(data: bytes, level: int | None) -> bytes:
    return _lz4_module().compress(data, compression_level=0 if level is None else level)


def _lz4_decompress(data: bytes) -> bytes:
    return _lz4_module().decompress(data)


class _ZstdCodec:
    """zstd (de)compressor objects are costly to build and not thread-safe: one per thread and level."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _objects(self) -> dict:
        objs = getattr(self._local, "objs", None)
        if objs is None:
            objs = self._local.objs = {}
        return objs

    def compress(self, data: bytes, level: int | None) -> bytes:
        import zstandard

        objs = self._objects()
        key = ("c", 3 if level is None else level)
        comp = objs.get(key)
        if comp is None:
            comp = objs[key] = zstandard.ZstdCompressor(level=key[1])
        return comp.compress(data)

    def decompress(self, data: bytes) -> bytes:
        import zstandard

        objs = self._objects()
        dec = objs.get("d")
        if dec is None:
            dec = objs["d"] = zstandard.ZstdDecompressor()
        return dec.decompress(data)


_zstd = _ZstdCodec()

_COMPRESSORS = {
    c.name: c
    for c in (
        Compressor("none", 0, lambda data, level: data, lambda data: data),
        Compressor("gzip", 1, _gzip_compress, zlib.decompress),
        Compressor("lz4", 2, _lz4_compress, _lz4_decompress),
        Compressor("zstd", 3, _zstd.compress, _zstd.decompress),
    )
}
_BY_ID = {c.id: c for c in _COMPRESSORS.values()}


def compressor_names() -> list[str]:
    return list(_COMPRESSORS)


def get_compressor(name: str) -> Compressor:
    try:
        return _COMPRESSORS[name]
    except KeyError:
        raise CodecError(f"unknown compression algorithm {name!r}; choose one of {compressor_names()}") from None


def compressor_by_id(ident: int) -> Compressor:
    try:
        return _BY_ID[ident]
    except KeyError:
        raise CodecError(f"record uses unknown compression id {ident}; written by a newer version?") from None
