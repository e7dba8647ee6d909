"""Secret redaction for anything shown to people (``config show``, errors, logs, reprs).

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
# Fields that are not secrets themselves but may hold one: a URL (its password), or a
# section (a key spec, a backend's free-form settings). A wrong value there is described, never quoted.
_URL_KEY = re.compile(r"(url|uri|dsn|connection_string)$", re.IGNORECASE)
_SECRET_SECTION = re.compile(r"^(client_encryption|backend_config|parameters|default_config)$", re.IGNORECASE)
# The userinfo runs to the LAST '@' of the URL token (passwords may contain '@', '/' or ':'
# -- redis-py accepts them); a token ends at whitespace or a quote, as in reprs and messages.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^\s'\"<>@]*(?:@[^\s'\"<>@]*)*)@", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``password``, ``api_key``, ``keys``, ``*_token``...)."""
    return bool(_SECRET_KEY.search(str(key)))


def may_hold_secret(key: str) -> bool:
    """Whether a value under ``key`` may be or contain a secret: a secret key, or a URL / key spec / free-form section."""
    return is_secret_key(key) or bool(_URL_KEY.search(str(key))) or bool(_SECRET_SECTION.match(str(key)))


def path_may_hold_secret(path: str | list[str]) -> bool:
    """Whether the value at a dotted config path may be or contain a secret.

    The document's own structure does not count: the manager name in
    ``checkpoint_managers.<name>``, and the ``parameters`` / ``default_config``
    section a field lies in (that section given as a string, though, does).
    """
    parts = [str(p) for p in (path.split(".") if isinstance(path, str) else path)]
    if parts[:1] == ["checkpoint_managers"]:
        parts = parts[2:]
        if len(parts) > 1 and parts[0] in ("parameters", "default_config", "metadata"):
            parts = parts[1:]
    return any(may_hold_secret(part) for part in parts)


def redact_url(value: str) -> str:
    """``redis://user:pw@host`` -> ``redis://user:***@host`` (anywhere inside ``value``).

    Userinfo without a ``:`` (``https://TOKEN@host``) is taken for a credential and hidden whole.
    """

    def masked(m: re.Match[str]) -> str:
        user, colon, _ = m.group("userinfo").partition(":")
        return f"{m.group('scheme')}{user}:{REDACTED}@" if colon else f"{m.group('scheme')}{REDACTED}@"

    return _URL_USERINFO.sub(masked, value)


def redact(value: Any, key: str = "") -> Any:
    """A copy with secret-looking keys, SecretStr values and URL passwords replaced by ``***``."""
    if isinstance(value, SecretStr):
        return REDACTED if value.get_secret_value() else None
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "", [], {}) and not isinstance(v, (bool, Mapping)) else redact(v, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        # A string where a section belongs (``client_encryption: "k1:..."``) may be the secret itself.
        return REDACTED if value and _SECRET_SECTION.match(str(key)) else redact_url(value)
    return value


class RedactedDict(dict):
    """A plain dict whose ``repr``/``str`` hide secrets (for raw config sections printed or logged).

    Nested mappings are ``RedactedDict`` too (see ``redacted_dict_of``), so
    ``entry.parameters["client_encryption"]`` printed alone hides its keys as well.
    """

    def __repr__(self) -> str:
        return repr(redact(dict(self)))

    __str__ = __repr__


def redacted_dict_of(value: Any) -> Any:
    """``value`` with every mapping inside it (itself included) turned into a ``RedactedDict``."""
    if isinstance(value, Mapping):
        return RedactedDict({k: redacted_dict_of(v) for k, v in value.items()})
    if isinstance(value, list):
        return [redacted_dict_of(v) for v in value]
    return value


def describe_type(value: Any) -> str:
    """What a value is, without its content: ``a string``, ``an integer``, ``a mapping``..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (str, SecretStr)):
        return "a string"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
