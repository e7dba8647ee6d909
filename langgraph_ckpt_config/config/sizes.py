"""Byte sizes as users write them: ``1048576``, ``"64MiB"``, ``"16 MB"``, ``"64 * 1024 * 1024"``.

Parsed by a tiny grammar (digits, unit suffixes and ``*``); never ``eval``'d.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1024**4, "tb": 1000**4, "tib": 1024**4,
}
_WITH_UNIT = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")
_PRODUCT = re.compile(r"^\s*\d+(\s*\*\s*\d+)*\s*$")


def parse_size(value: Any) -> int:
    """Bytes from an int or a size string; ValueError says what is accepted."""
    if isinstance(value, bool):
        raise ValueError("expected a size, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str):
        if _PRODUCT.match(value):
            result = 1
            for factor in value.split("*"):
                result *= int(factor)
            return result
        m = _WITH_UNIT.match(value)
        if m and m.group(2).lower() in _UNITS:
            return int(m.group(1)) * _UNITS[m.group(2).lower()]
    raise ValueError(
        # The value itself is not quoted: the config error quotes it once, as "got '64 MiBs'".
        "expected a size in bytes: an integer, '64MiB'/'16 MB'/'512k', or a product like '64 * 1024 * 1024'"
    )


Size = Annotated[int, BeforeValidator(parse_size)]
