"""Pydantic errors and unknown keys, reported in the user's terms: YAML paths.

Pydantic's own messages name model fields (``port``) and print the whole input,
secrets included. Users need the YAML path (``checkpoint_managers.redis.
parameters.port``), the value they wrote (secrets shown as ``***``) and what is
expected instead -- one problem per line, every problem at once.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from langgraph_ckpt_config.config.redact import describe_type, path_may_hold_secret, redact_url
from langgraph_ckpt_config.errors import ConfigError

logger = logging.getLogger("langgraph_ckpt_config.config")

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CLI_DIR = os.path.join(_PACKAGE_DIR, "cli") + os.sep


class UnknownConfigKeyWarning(UserWarning):
    """A key no model declares was found (probably a typo); the message names its YAML path."""


def _field_is_secret(model: Any, path: str, loc: Sequence[Any]) -> bool:
    """Whether ``loc`` inside ``model`` (at ``path``) is a ``SecretStr`` field or lies in/under a secret-holding one."""
    if path_may_hold_secret([*(path.split(".") if path else []), *(str(p) for p in loc)]):
        return True
    current = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return False
        annotation = current.model_fields[part].annotation
        if "SecretStr" in repr(annotation):
            return True
        current = annotation
    return False


def _show(value: Any, secret: bool) -> str:
    """The value as a message may show it: its type only where it may be (or hold) a secret."""
    if secret or isinstance(value, SecretStr):
        return describe_type(value)
    if isinstance(value, (Mapping, list)):
        return f"a {type(value).__name__}"
    text = repr(redact_url(value) if isinstance(value, str) else value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_expected(err: Mapping[str, Any]) -> str:
    """Pydantic's error as "expected ..." in plain words."""
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "invalid"))
    if kind.startswith("int_") or kind == "int_type":
        return "expected an integer"
    if kind.startswith("float_"):
        return "expected a number"
    if kind.startswith("bool_"):
        return "expected true or false"
    if kind == "string_too_short":
        return "expected a non-empty string"
    if kind.startswith("string_"):
        return "expected a string"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping"
    if kind == "list_type":
        return "expected a list"
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    if msg.startswith("Input should be"):
        return "expected" + msg[len("Input should be"):]
    return msg[:1].lower() + msg[1:]


def validation_problems(
    model: type[BaseModel] | None, exc: ValidationError, path: str, label: Callable[[list[str]], str | None] | None = None
) -> list[str]:
    """One ``path: got VALUE, expected ...`` line per pydantic error.

    ``label(loc)`` may name where a value came from instead of its YAML path
    (``override max_checkpoints (for manager 'memory')``); None keeps the path.
    """
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"]]
        field_path = ".".join([path, *(str(p) for p in loc)]) if path else ".".join(str(p) for p in loc)
        field_path = (label([str(p) for p in loc]) if label else None) or field_path or "<root>"
        if err.get("type") == "missing":
            lines.append(f"{field_path}: is required but missing")
            continue
        secret = _field_is_secret(model, path, loc)
        if secret and err.get("type") == "value_error":  # our own message, already value-free: "entry 2 is not ..."
            lines.append(f"{field_path}: {describe_expected(err)}")
            continue
        lines.append(f"{field_path}: got {_show(err.get('input'), secret)}, {describe_expected(err)}")
    return lines


def validate_model(
    model: type[BaseModel], raw: Mapping[str, Any], path: str, label: Callable[[list[str]], str | None] | None = None
) -> Any:
    """``model`` validated from ``raw``; ConfigError listing every problem by YAML path (or ``label``)."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise problems_error(validation_problems(model, exc, path, label)) from None


def problems_error(lines: list[str]) -> ConfigError:
    """One ConfigError for one or several ``path: problem`` lines (one line each)."""
    if len(lines) == 1 and ": " in lines[0]:
        path, _, message = lines[0].partition(": ")
        return ConfigError(message, path=path)
    return ConfigError("\n".join(lines))


def _user_stacklevel() -> int | None:
    """A stacklevel pointing at the first frame outside this package (the caller's code).

    None when the ``lgckpt`` command line is running: there is no caller's code to point at.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        if os.path.abspath(frame.f_code.co_filename).startswith(_CLI_DIR):
            return None
        frame = frame.f_back
        level += 1
    return level


def warn_unknown(paths: Iterable[str]) -> None:
    """Report each unknown key once: silently ignoring a typo is the bug we prevent.

    Python callers get an ``UnknownConfigKeyWarning`` pointing at their own line
    (``logging.captureWarnings(True)`` routes it to their logs); the ``lgckpt``
    command line gets a log line -- not both, which printed every key twice.
    """
    for path in paths:
        message = f"unknown key {path} is ignored (typo?)"
        stacklevel = _user_stacklevel()
        if stacklevel is None:
            logger.warning(message)
        else:
            warnings.warn(message, UnknownConfigKeyWarning, stacklevel=stacklevel)
