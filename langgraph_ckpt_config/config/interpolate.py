"""``${VAR}`` / ``${VAR:default}`` interpolation inside string values, with the YAML path in errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from langgraph_ckpt_config.errors import ConfigError

_PATTERN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def interpolate_string(value: str, path: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
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
    """A copy of ``value`` with every string interpolated (dicts and lists walked)."""
    if isinstance(value, str):
        return interpolate_string(value, path or "<root>", environ) if "$" in value else value
    if isinstance(value, Mapping):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k), environ) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", environ) for i, v in enumerate(value)]
    return value
