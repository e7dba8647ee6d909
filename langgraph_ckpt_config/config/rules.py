"""``validation_rules`` of the YAML: required / range / enum / pattern / type over globbed paths.

Rules run on the interpolated config with each manager's defaults merged into
its ``parameters`` (so they check what will actually run), before the pydantic
models. That is why values are compared leniently: ``"6379"`` from
``${REDIS_PORT:6379}`` counts as an integer and ``"64MiB"`` as a number for
``range``, as the models will coerce them the same way.

Only **enabled** managers are checked: a disabled entry may be half-configured
for a deployment that does not run it (its servers need not exist here).
Rules check only fields that exist, except ``required``.

A field path is dotted; a segment may be a glob (``*``, ``redis*``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from typing import Any

from langgraph_ckpt_config.config.redact import describe_type, path_may_hold_secret
from langgraph_ckpt_config.config.sizes import parse_size
from langgraph_ckpt_config.errors import ConfigError, ValidationRuleError

RULE_TYPES = ("required", "range", "enum", "pattern", "type")
_MISSING = object()
_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v) is not None


def _is_number(v: Any) -> bool:
    return _number(v) is not None and not isinstance(v, bool)


_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_int,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in _BOOL_WORDS),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, Mapping),
}


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def expand(node: Any, parts: list[str], path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value or ``_MISSING``) for every match of a dotted pattern whose segments may be globs."""
    if not parts:
        yield path, node
        return
    head, rest = parts[0], parts[1:]
    is_glob = any(c in head for c in "*?[")
    if not isinstance(node, Mapping):
        if not is_glob:
            yield _join(path, head), _MISSING
        return
    if is_glob:
        for key, child in node.items():
            if fnmatch.fnmatchcase(str(key), head):
                yield from expand(child, rest, _join(path, key))
    else:
        yield from expand(node.get(head, _MISSING), rest, _join(path, head))


def _number(value: Any) -> float | None:
    """A number for range checks: ints, floats, numeric strings and sizes (``"64MiB"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            try:
                return parse_size(value)
            except ValueError:
                return None
    return None


def _check_rule_shape(index: int, rule: Any) -> tuple[str, str, Any, str]:
    """Validate the rule itself (not the config) so a broken rule fails even when nothing matches."""
    where = f"validation_rules[{index}]"
    if not isinstance(rule, Mapping):
        raise ConfigError("a rule must be a mapping with field, rule_type, value, message", path=where)
    rtype, field, expected = rule.get("rule_type"), rule.get("field"), rule.get("value")
    if rtype not in RULE_TYPES:
        raise ConfigError(f"unknown rule_type {rtype!r}; expected one of {list(RULE_TYPES)}", path=where)
    if not isinstance(field, str) or not field.strip():
        raise ConfigError("a rule needs a 'field' path such as 'checkpoint_managers.*.parameters.port'", path=where)
    if rtype == "range" and not (
        isinstance(expected, list) and len(expected) == 2 and all(_number(v) is not None or v is None for v in expected)
    ):
        raise ConfigError(f"a range rule needs value: [min, max] (null for open), got {expected!r}", path=where)
    if rtype == "enum" and not isinstance(expected, list):
        raise ConfigError(f"an enum rule needs value: [allowed, ...], got {expected!r}", path=where)
    if rtype == "pattern":
        try:
            re.compile(str(expected))
        except re.error as exc:
            raise ConfigError(f"pattern {expected!r} is not a valid regular expression: {exc}", path=where) from None
    if rtype == "type" and expected not in _TYPES:
        raise ConfigError(f"a type rule's value must be one of {sorted(_TYPES)}, got {expected!r}", path=where)
    message = str(rule.get("message") or f"{field} failed the {rtype} rule")
    return rtype, field, expected, message


def _in_enum(value: Any, allowed: list[Any]) -> bool:
    if value in allowed:
        return True
    number = _number(value)
    return number is not None and any(_number(a) == number for a in allowed if not isinstance(a, bool))


def _failure(rtype: str, value: Any, expected: Any) -> str | None:
    """Why ``value`` breaks the rule, or None when it passes (``value`` exists)."""
    if rtype == "required":
        return "empty" if value == "" else None
    if rtype == "range":
        number = _number(value)
        low, high = (_number(v) if v is not None else None for v in expected)
        if number is None or (low is not None and number < low) or (high is not None and number > high):
            return f"allowed {expected[0]}..{expected[1]}"
        return None
    if rtype == "enum":
        return None if _in_enum(value, expected) else f"allowed {expected}"
    if rtype == "pattern":
        text = value if isinstance(value, str) else (str(value) if _is_number(value) else None)
        return None if text is not None and re.fullmatch(str(expected), text) else f"pattern {expected!r}"
    return None if _TYPES[expected](value) else f"expected {expected}"


def check_rules(raw: Mapping[str, Any], rules: list[Any], enabled: set[str]) -> None:
    """Raise one ``ValidationRuleError`` listing every failure (one per line).

    ``raw``: the interpolated config with merged parameters; ``enabled``: names of
    the managers to check (paths under ``checkpoint_managers.<other>`` are skipped).
    """
    raise_failures(rule_failures(raw, rules, enabled))


def raise_failures(failures: list[tuple[str, str]]) -> None:
    """One ``ValidationRuleError`` for (path, message) failures, if there are any."""
    if len(failures) == 1:
        raise ValidationRuleError(failures[0][1], path=failures[0][0])
    if failures:
        raise ValidationRuleError("\n".join(f"{path}: {text}" for path, text in failures))


def rule_failures(raw: Mapping[str, Any], rules: list[Any], enabled: set[str]) -> list[tuple[str, str]]:
    """(path, message) of every rule failure in ``raw`` (see ``check_rules``)."""
    if not isinstance(rules, list):
        raise ConfigError("validation_rules must be a list", path="validation_rules")
    failures: list[tuple[str, str]] = []
    for index, rule in enumerate(rules):
        rtype, field, expected, message = _check_rule_shape(index, rule)
        for path, value in expand(raw, field.strip().split(".")):
            parts = path.split(".")
            if parts[0] == "checkpoint_managers" and len(parts) > 1 and parts[1] not in enabled:
                continue
            if value is _MISSING or value is None:
                if rtype == "required":
                    failures.append((path, f"{message} (missing)"))
                continue
            why = _failure(rtype, value, expected)
            if why is not None:
                shown = describe_type(value) if path_may_hold_secret(parts) else repr(value)
                failures.append((path, f"{message} (got {shown}, {why})"))
    return failures
