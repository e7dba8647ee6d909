"""``validation_rules`` of the YAML: required / range / enum / pattern / type over globbed field paths.

Rules are checked against enabled managers only: a disabled manager may be
half-configured (its servers need not exist where this deployment runs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from langgraph_ckpt_config.config.sizes import parse_size
from langgraph_ckpt_config.errors import ConfigError, ValidationRuleError

RULE_TYPES = ("required", "range", "enum", "pattern", "type")
_MISSING = object()
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, Mapping),
}


def _expand(node: Any, parts: list[str], path: str) -> Iterator[tuple[str, Any]]:
    """(path, value or _MISSING) for every match of a dotted pattern with ``*`` segments."""
    if not parts:
        yield path, node
        return
    head, rest = parts[0], parts[1:]
    if not isinstance(node, Mapping):
        yield (f"{path}.{head}" if path else head), _MISSING
        return
    if head == "*":
        for key, child in node.items():
            yield from _expand(child, rest, f"{path}.{key}" if path else str(key))
    else:
        yield from _expand(node.get(head, _MISSING), rest, f"{path}.{head}" if path else head)


def _number(value: Any) -> float | None:
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


def check_rules(raw: Mapping[str, Any], rules: list[Mapping[str, Any]], enabled: set[str]) -> None:
    """Raise ``ValidationRuleError`` for the first rule a field breaks."""
    for index, rule in enumerate(rules):
        rtype = rule.get("rule_type")
        field = rule.get("field")
        if rtype not in RULE_TYPES:
            raise ConfigError(f"unknown rule_type {rtype!r}; expected one of {list(RULE_TYPES)}", path=f"validation_rules[{index}]")
        if not isinstance(field, str) or not field:
            raise ConfigError("a rule needs a 'field' path", path=f"validation_rules[{index}]")
        message = rule.get("message") or f"{field} failed rule {rtype}"
        expected = rule.get("value")
        for path, value in _expand(raw, field.split("."), ""):
            parts = path.split(".")
            if parts[0] == "checkpoint_managers" and len(parts) > 1 and parts[1] not in enabled:
                continue
            if value is _MISSING or value is None:
                if rtype == "required":
                    raise ValidationRuleError(f"{message} (missing)", path=path)
                continue
            shown = "***" if _secret(path) else repr(value)
            if rtype == "required":
                if value == "":
                    raise ValidationRuleError(f"{message} (empty)", path=path)
            elif rtype == "range":
                if not (isinstance(expected, list) and len(expected) == 2):
                    raise ConfigError("a range rule needs value: [min, max]", path=f"validation_rules[{index}]")
                number = _number(value)
                if number is None or not (expected[0] <= number <= expected[1]):
                    raise ValidationRuleError(f"{message} (got {shown}, allowed {expected[0]}..{expected[1]})", path=path)
            elif rtype == "enum":
                if value not in (expected or []):
                    raise ValidationRuleError(f"{message} (got {shown}, allowed {expected})", path=path)
            elif rtype == "pattern":
                if not isinstance(value, str) or not re.fullmatch(str(expected), value):
                    raise ValidationRuleError(f"{message} (got {shown}, pattern {expected!r})", path=path)
            elif rtype == "type":
                check = _TYPES.get(str(expected))
                if check is None:
                    raise ConfigError(f"type rule value must be one of {sorted(_TYPES)}", path=f"validation_rules[{index}]")
                if not check(value):
                    raise ValidationRuleError(f"{message} (got {shown}, expected {expected})", path=path)


def _secret(path: str) -> bool:
    from langgraph_ckpt_config.config.redact import is_secret_key

    return is_secret_key(path.rsplit(".", 1)[-1])
