"""Compressors by name, each with a stable one-byte id written into record headers.

The id, not the name, is what a stored record carries, so ids are wire format: never
renumber one. A reader picks the decompressor from the record's id, whatever the
current configuration says.

lz4 and zstandard are imported on first use; a missing library is reported as a
``CodecError`` carrying the ``pip install`` line that fixes it. Each compressor
translates its library's "corrupt input" exceptions into ``CodecError`` itself, so
callers handle one error type. Integrity of the bytes is not checked here: that is
the job of the checksum (plaintext records) and of AES-GCM (encrypted records).
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from langgraph_ckpt_config.errors import CodecError

#: Largest body a stored record may decompress to. A forged or damaged record cannot make
#: a reader allocate more than this ("decompression bomb"); real checkpoints are far smaller.
MAX_DECOMPRESSED_SIZE = 1 << 30


def _too_large(name: str) -> CodecError:
    return CodecError(
        f"decompression refused ({name}): the body would exceed {MAX_DECOMPRESSED_SIZE} bytes; "
        "the record is damaged or forged"
    )


class Compressor:
    """One algorithm: ``compress(data, level)`` and ``decompress(data)`` on bytes.

    ``levels`` is the range :meth:`resolve_level` accepts; ``default_level`` is used
    when the configuration gives none.
    """

    name: str = ""
    id: int = -1
    levels: range = range(0, 1)
    default_level: int = 0

    def resolve_level(self, level: int | None) -> int:
        """The level to pass to :meth:`compress`; checked once at configuration time, not per call."""
        if level is None:
            return self.default_level
        if isinstance(level, bool) or not isinstance(level, int) or level not in self.levels:
            raise CodecError(
                f"compression level {level!r} is not valid for {self.name!r}; "
                f"use an integer from {self.levels.start} to {self.levels.stop - 1}"
            )
        return level

    def ensure_available(self) -> None:
        """Raise ``CodecError`` with an install hint if the backing library is missing."""

    def compress(self, data: bytes, level: int) -> bytes:
        raise NotImplementedError

    def decompress(self, data: bytes) -> bytes:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Compressor {self.name!r} id={self.id}>"


class _LazyModule:
    """Import a compression library on first use and keep it; a missing one names its install command."""

    def __init__(self, module: str, install_hint: str) -> None:
        self._name = module
        self._hint = install_hint
        self._module: ModuleType | None = None

    def get(self) -> ModuleType:
        module = self._module
        if module is None:
            try:
                module = self._module = importlib.import_module(self._name)
            except ImportError:
                raise CodecError(f"compression needs the {self._name!r} package: {self._hint}") from None
        return module


class NoCompression(Compressor):
    """Identity; also the id a record carries when compression was skipped for it."""

    name = "none"
    id = 0

    def compress(self, data: bytes, level: int) -> bytes:
        return data

    def decompress(self, data: bytes) -> bytes:
        return data


class GzipCompressor(Compressor):
    """DEFLATE with zlib framing: the gzip algorithm without the 18-byte gzip file header.

    Stored bytes are not ``.gz`` files, so the shorter framing is enough (the record
    header says what the body is) and saves bytes on every small record.
    """

    name = "gzip"
    id = 1
    levels = range(-1, 10)
    default_level = 6

    def compress(self, data: bytes, level: int) -> bytes:
        return zlib.compress(data, level)

    def decompress(self, data: bytes) -> bytes:
        stream = zlib.decompressobj()
        try:
            out = stream.decompress(data, MAX_DECOMPRESSED_SIZE)
        except zlib.error as exc:
            raise CodecError(f"decompression failed (gzip): {exc}") from None
        if stream.unconsumed_tail:
            raise _too_large(self.name)
        if not stream.eof:
            raise CodecError("decompression failed (gzip): incomplete or truncated stream")
        return out


class Lz4Compressor(Compressor):
    """lz4 frame format: the fastest option, for hot stores where CPU matters more than bytes."""

    name = "lz4"
    id = 2
    levels = range(0, 17)
    default_level = 0

    def __init__(self) -> None:
        self._lib = _LazyModule("lz4.frame", "pip install 'langgraph-ckpt-config[lz4]'")

    def ensure_available(self) -> None:
        self._lib.get()

    def compress(self, data: bytes, level: int) -> bytes:
        return self._lib.get().compress(data, compression_level=level)

    def decompress(self, data: bytes) -> bytes:
        frame = self._lib.get()
        try:
            decompressor = frame.LZ4FrameDecompressor()
            out = decompressor.decompress(data, max_length=MAX_DECOMPRESSED_SIZE)
        except RuntimeError as exc:  # lz4.frame reports corrupt frames as RuntimeError
            raise CodecError(f"decompression failed (lz4): {exc}") from None
        if not decompressor.eof:
            if len(out) >= MAX_DECOMPRESSED_SIZE:
                raise _too_large(self.name)
            raise CodecError("decompression failed (lz4): incomplete or truncated frame")
        return out


class ZstdCompressor(Compressor):
    """Zstandard: the best ratio for its speed, and the default when compression is enabled.

    ``ZstdCompressor``/``ZstdDecompressor`` objects are costly to build and must not be
    used by two threads at once. Idle ones wait in a shared stack (one per level): a call
    takes one, or builds one when all are in use, and puts it back. Not one per thread:
    LangGraph writes checkpoints from executor threads that live for one ``invoke``, so
    per-thread objects would be rebuilt at every turn. ``list.pop``/``append`` are atomic,
    so no lock is needed; the stacks hold at most as many objects as calls ran at once.
    """

    name = "zstd"
    id = 3
    levels = range(-(1 << 17), 23)  # ZSTD_minCLevel() .. ZSTD_maxCLevel()
    default_level = 3

    def __init__(self) -> None:
        self._lib = _LazyModule("zstandard", "pip install zstandard (a dependency of langgraph-ckpt-config)")
        self._idle_compressors: dict[int, list[Any]] = {}
        self._idle_decompressors: list[Any] = []

    def ensure_available(self) -> None:
        self._lib.get()

    def compress(self, data: bytes, level: int) -> bytes:
        idle = self._idle_compressors.get(level)
        if idle is None:
            idle = self._idle_compressors.setdefault(level, [])
        try:
            comp = idle.pop()
        except IndexError:
            comp = self._lib.get().ZstdCompressor(level=level)
        out = comp.compress(data)
        idle.append(comp)  # not after an exception: a failed object is dropped
        return out

    def decompress(self, data: bytes) -> bytes:
        lib = self._lib.get()
        idle = self._idle_decompressors
        try:
            dec = idle.pop()
        except IndexError:
            dec = lib.ZstdDecompressor()
        try:
            declared = lib.frame_content_size(data)
            if declared > MAX_DECOMPRESSED_SIZE:
                raise _too_large(self.name)
            if declared >= 0:
                out = dec.decompress(data)
            else:  # no size in the frame header (not written by us): an output buffer of at most the cap
                out = dec.decompress(data, max_output_size=MAX_DECOMPRESSED_SIZE)
        except lib.ZstdError as exc:  # including a size-less frame larger than the cap
            raise CodecError(f"decompression failed (zstd): {exc}") from None
        idle.append(dec)  # not after an error: a failed object is dropped
        return out


_BY_NAME: dict[str, Compressor] = {
    c.name: c for c in (NoCompression(), GzipCompressor(), Lz4Compressor(), ZstdCompressor())
}
_BY_ID: dict[int, Compressor] = {c.id: c for c in _BY_NAME.values()}

#: Read-only view of the registry, for listing (CLI, docs).
COMPRESSORS: Mapping[str, Compressor] = MappingProxyType(_BY_NAME)


def compressor_names() -> list[str]:
    """Valid values of ``compression_algorithm``."""
    return list(_BY_NAME)


def get_compressor(name: str) -> Compressor:
    """The compressor configured by name; unknown names list the valid ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise CodecError(f"unknown compression algorithm {name!r}; choose one of {compressor_names()}") from None


def compressor_by_id(ident: int) -> Compressor:
    """The compressor a record's header names; an unknown id means a newer writer or a damaged header."""
    try:
        return _BY_ID[ident]
    except KeyError:
        raise CodecError(
            f"record uses unknown compression id {ident} (written by a newer version, or a damaged header)"
        ) from None
