"""Secret redaction for anything shown to people (``config show``, errors, logs).

Two nets, because neither alone is enough: typed secrets (``SecretStr`` fields)
are always hidden, and free-form places (``backend_config``, user metadata,
URLs) are redacted by key name and by the ``user:password@`` part of URLs.
Empty values stay visible: "no password set" is useful and reveals nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

REDACTED = "***"
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_?key|access_?key|keys?$|credential|private)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``password``, ``api_key``, ``keys``, ``*_token``...)."""
    return bool(_SECRET_KEY.search(str(key)))


def redact_url(value: str) -> str:
    """``redis://user:pw@host`` -> ``redis://user:***@host`` (anywhere inside ``value``)."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", value)


def redact(value: Any, key: str = "") -> Any:
    """A copy with secret-looking keys, SecretStr values and URL passwords replaced by ``***``."""
    if isinstance(value, SecretStr):
        return REDACTED if value.get_secret_value() else None
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "", [], {}) and not isinstance(v, (bool, Mapping)) else redact(v, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value
