"""``${VAR}`` / ``${VAR:default}`` interpolation inside string values.

Why here and not in the models: interpolation runs over the raw YAML tree, so an
error can name the exact YAML path of the field (``checkpoint_managers.redis.
parameters.password``) and the variable; the models then coerce the resulting
strings. A value that is exactly one ``${...}`` stays a string.

Grammar: ``${NAME}`` (required), ``${NAME:default}`` (default may be empty, and
may not contain ``}``), ``$${`` for a literal ``${``. Anything else starting with
``${`` is an error rather than being passed through: a half-typed reference
must not end up as, say, a database path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.errors import ConfigError

_PATTERN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}|\$\{")


def interpolate_string(value: str, path: str, environ: Mapping[str, str] | None = None) -> str:
    """``value`` with every reference replaced; ConfigError (with ``path``) when one cannot be."""
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name is None:
            raise ConfigError(
                f"malformed reference at {value[match.start():match.start() + 20]!r}: "
                "write ${NAME}, ${NAME:default}, or $${ for a literal '${'",
                path=path,
            )
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name!r} is not set and has no default (write ${{{name}:default}} to give one)",
            path=path,
        )

    return _PATTERN.sub(substitute, value)


def interpolate(value: Any, path: str = "", environ: Mapping[str, str] | None = None) -> Any:
    """A copy of ``value`` with every string interpolated (mappings and lists walked; keys untouched)."""
    if isinstance(value, str):
        return interpolate_string(value, path or "<root>", environ) if "${" in value else value
    if isinstance(value, Mapping):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k), environ) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", environ) for i, v in enumerate(value)]
    return value
