"""Load, interpolate, merge defaults, validate: YAML in, ``CheckpointConfig`` out.

Order: ``yaml.safe_load`` -> ``${VAR:default}`` interpolation (errors name the
YAML path) -> per-manager parameter defaults merged (model defaults <
``global_config`` defaults < ``default_config`` < ``parameters`` < caller
overrides) -> ``validation_rules`` -> pydantic models (errors name the path,
the bad value and what was expected) -> cross-checks (default manager, groups,
fallbacks).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langgraph_ckpt_config.config.interpolate import interpolate
from langgraph_ckpt_config.config.models import BUILTIN_PARAMETER_MODELS, ManagerParameters
from langgraph_ckpt_config.config.redact import REDACTED, is_secret_key, redact
from langgraph_ckpt_config.config.rules import check_rules
from langgraph_ckpt_config.errors import ConfigError, RegistryError

logger = logging.getLogger(__name__)

CONFIG_ENV = "LANGGRAPH_CKPT_CONFIG"
MANAGER_ENV = "LANGGRAPH_CKPT_MANAGER"
PACKAGED_CONFIG = Path(__file__).with_name("checkpoint_managers.yaml")
REPO_CONFIG = Path("configs") / "checkpoint_managers.yaml"

# default_config keys of the sketch that name a parameter differently
_DEFAULT_CONFIG_ALIASES = {"enable_compression": "compression_enabled", "enable_serialization": "serialization_enabled"}
# global_config.default_* -> parameter it fills in
_GLOBAL_DEFAULTS = {
    "default_max_checkpoints": "max_checkpoints",
    "default_cleanup_interval": "cleanup_interval",
    "default_cache_size": "cache_size",
    "default_cache_ttl": "cache_ttl",
    "default_batch_size": "batch_size",
}


class ManagerEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    description: str = ""
    class_path: str
    enabled: bool = True
    priority: int = 0
    tags: list[str] = Field(default_factory=list)
    default_config: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    fallback: str | None = None


class ManagerGroup(BaseModel):
    model_config = ConfigDict(extra="allow")

    description: str = ""
    managers: list[str] = Field(default_factory=list)


class GlobalConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    default_max_checkpoints: int | None = None
    default_cleanup_interval: float | None = None
    default_ttl: int | None = None
    default_cache_size: int | None = None
    default_cache_ttl: float | None = None
    default_batch_size: int | None = None
    monitoring_enabled: bool = False
    metrics_interval: float = 60
    logging_enabled: bool = True
    log_level: str = "INFO"
    log_checkpoint_operations: bool = False


class CheckpointConfig(BaseModel):
    """The whole YAML document, validated. ``raw`` keeps the interpolated dict."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    metadata: dict[str, Any] = Field(default_factory=dict)
    checkpoint_managers: dict[str, ManagerEntry]
    default_manager: str | None = None
    manager_groups: dict[str, ManagerGroup] = Field(default_factory=dict)
    global_config: GlobalConfig = Field(default_factory=GlobalConfig)
    validation_rules: list[dict[str, Any]] = Field(default_factory=list)
    source: str = "<dict>"

    def manager_entry(self, name: str) -> ManagerEntry:
        try:
            return self.checkpoint_managers[name]
        except KeyError:
            raise ConfigError(
                f"no manager named {name!r}; configured: {sorted(self.checkpoint_managers)}", path="checkpoint_managers"
            ) from None

    def merged_parameters(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The effective raw parameters of ``name`` (before model validation)."""
        entry = self.manager_entry(name)
        merged: dict[str, Any] = {}
        for key, param in _GLOBAL_DEFAULTS.items():
            value = getattr(self.global_config, key)
            if value is not None:
                merged[param] = value
        if self.global_config.default_ttl is not None and _parameters_model(entry, name, strict=False) is BUILTIN_PARAMETER_MODELS["redis"]:
            merged["ttl"] = self.global_config.default_ttl
        for key, value in entry.default_config.items():
            merged[_DEFAULT_CONFIG_ALIASES.get(key, key)] = value
        _deep_update(merged, entry.parameters)
        if overrides:
            _deep_update(merged, dict(overrides))
        return merged

    def manager_parameters(self, name: str, **overrides: Any) -> tuple[ManagerEntry, ManagerParameters]:
        """(entry, validated parameters model) for one manager."""
        entry = self.manager_entry(name)
        model = _parameters_model(entry, name, strict=True)
        raw = self.merged_parameters(name, overrides)
        params = _validate(model, raw, f"checkpoint_managers.{name}.parameters")
        return entry, params

    def enabled_managers(self) -> list[str]:
        return [n for n, e in self.checkpoint_managers.items() if e.enabled]

    def redacted_dict(self) -> dict[str, Any]:
        """The resolved config for display, every secret replaced by ``***``."""
        data = self.model_dump(exclude={"source"})
        for name in self.checkpoint_managers:
            try:
                _, params = self.manager_parameters(name)
                data["checkpoint_managers"][name]["parameters"] = params.model_dump(mode="json")
            except (ConfigError, RegistryError):
                pass
        return redact(data)


def _deep_update(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _parameters_model(entry: ManagerEntry, name: str, *, strict: bool) -> type[ManagerParameters]:
    from langgraph_ckpt_config.registry import builtin_name_for, get_manager_class

    builtin = builtin_name_for(entry.class_path)
    if builtin is not None:
        return BUILTIN_PARAMETER_MODELS[builtin]
    try:
        cls = get_manager_class(entry.class_path)
    except RegistryError as exc:
        if strict:
            raise ConfigError(str(exc), path=f"checkpoint_managers.{name}.class_path") from None
        return ManagerParameters
    return getattr(cls, "parameters_model", ManagerParameters)


def _describe_expected(err: Mapping[str, Any]) -> str:
    msg = err.get("msg", "invalid")
    kind = err.get("type", "")
    if kind.startswith("int"):
        return "expected an integer"
    if kind.startswith("float"):
        return "expected a number"
    if kind.startswith("bool"):
        return "expected true or false"
    if kind == "literal_error":
        return msg.replace("Input should be", "expected")
    return msg[0].lower() + msg[1:] if msg else "invalid"


def _validate(model: type[BaseModel], raw: Mapping[str, Any], path: str) -> Any:
    try:
        params = model.model_validate(dict(raw))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            field_path = f"{path}.{loc}" if loc else path
            value = err.get("input")
            shown = REDACTED if is_secret_key(str(err["loc"][-1]) if err["loc"] else "") else repr(value)
            lines.append(f"{field_path}: got {shown}, {_describe_expected(err)}")
        raise ConfigError("; ".join(lines)) from None
    unknown = params.unknown_keys() if hasattr(params, "unknown_keys") else []
    for key in unknown:
        message = f"unknown parameter {path}.{key} (typo? it is ignored)"
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=4)
    return params


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML at {where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {path}: {exc}") from None


def default_config_path() -> Path:
    """``$LANGGRAPH_CKPT_CONFIG``, else ``configs/checkpoint_managers.yaml`` here, else the packaged copy."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    if REPO_CONFIG.exists():
        return REPO_CONFIG
    return PACKAGED_CONFIG


def load_config(source: str | Path | Mapping[str, Any] | CheckpointConfig | None = None) -> CheckpointConfig:
    if isinstance(source, CheckpointConfig):
        return source
    if source is None:
        source = default_config_path()
    if isinstance(source, Mapping):
        raw, origin = dict(source), "<dict>"
    else:
        raw, origin = _read_yaml(Path(source)), str(source)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: the top level must be a mapping with 'checkpoint_managers'")
    if not isinstance(raw.get("checkpoint_managers"), Mapping) or not raw["checkpoint_managers"]:
        raise ConfigError("at least one manager must be configured", path="checkpoint_managers")
    resolved = interpolate(raw)
    managers = resolved["checkpoint_managers"]
    for name, entry in managers.items():
        if not isinstance(entry, Mapping):
            raise ConfigError("a manager entry must be a mapping", path=f"checkpoint_managers.{name}")
        if not entry.get("class_path"):
            raise ConfigError("class_path is required (e.g. 'langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager')", path=f"checkpoint_managers.{name}.class_path")
    try:
        config = CheckpointConfig.model_validate({**resolved, "source": origin})
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {_describe_expected(e)} (got {e.get('input')!r})" for e in exc.errors()]
        raise ConfigError("; ".join(lines)) from None
    enabled = set(config.enabled_managers())
    # Rules see the effective parameters (defaults merged), so they check what will run.
    effective = dict(resolved)
    effective["checkpoint_managers"] = {
        name: {**dict(entry), "parameters": config.merged_parameters(name)} for name, entry in managers.items()
    }
    check_rules(effective, config.validation_rules, enabled)
    for name in enabled:
        config.manager_parameters(name)
    _cross_check(config)
    return config


def _cross_check(config: CheckpointConfig) -> None:
    names = set(config.checkpoint_managers)
    if config.default_manager is not None:
        if config.default_manager not in names:
            raise ConfigError(f"names unknown manager {config.default_manager!r}; configured: {sorted(names)}", path="default_manager")
        if not config.checkpoint_managers[config.default_manager].enabled:
            raise ConfigError(f"manager {config.default_manager!r} is disabled (set enabled: true)", path="default_manager")
    for group, spec in config.manager_groups.items():
        for member in spec.managers:
            if member not in names:
                raise ConfigError(f"names unknown manager {member!r}", path=f"manager_groups.{group}.managers")
    for name, entry in config.checkpoint_managers.items():
        if entry.fallback is not None:
            if entry.fallback not in names:
                raise ConfigError(f"names unknown manager {entry.fallback!r}", path=f"checkpoint_managers.{name}.fallback")
            if entry.fallback == name:
                raise ConfigError("a manager cannot be its own fallback", path=f"checkpoint_managers.{name}.fallback")


def resolve_manager_name(config: CheckpointConfig, name: str | None = None) -> str:
    name = name or os.environ.get(MANAGER_ENV) or config.default_manager
    if not name:
        enabled = config.enabled_managers()
        if len(enabled) == 1:
            return enabled[0]
        raise ConfigError("no manager given and no default_manager configured", path="default_manager")
    config.manager_entry(name)
    return name
