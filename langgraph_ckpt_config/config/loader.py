"""Load a configuration: YAML in, a fully checked ``CheckpointConfig`` out.

Steps, each failing with a ``ConfigError`` that names the YAML path:

1. ``yaml.safe_load`` (syntax errors name the file, line and column);
2. ``${VAR}`` / ``${VAR:default}`` interpolation of every string;
3. the document models (``class_path`` required, types of ``enabled``...);
4. cross-checks: ``default_manager`` exists and is enabled, groups and
   ``fallback`` name existing managers;
5. every manager's parameters through its model, defaults layered -- all
   problems reported at once, one per line;
6. ``validation_rules`` (``ValidationRuleError``, the rule's own message).

Everything is checked at load time so a deployment fails at start-up, not at
its first checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from langgraph_ckpt_config.config.interpolate import interpolate
from langgraph_ckpt_config.config.models import CustomParameters
from langgraph_ckpt_config.config.rules import check_rules
from langgraph_ckpt_config.config.schema import (
    CONFIG_ENV,
    MANAGER_ENV,
    CheckpointConfig,
    GlobalConfig,
    ManagerEntry,
    ManagerGroup,
    resolve_manager_name,
)
from langgraph_ckpt_config.config.validation import problems_error, validation_problems, warn_unknown
from langgraph_ckpt_config.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "MANAGER_ENV",
    "PACKAGED_CONFIG",
    "REPO_CONFIG",
    "CheckpointConfig",
    "GlobalConfig",
    "ManagerEntry",
    "ManagerGroup",
    "default_config_path",
    "load_config",
    "resolve_manager_name",
]

#: Byte-identical copy of the repository's ``configs/checkpoint_managers.yaml``, shipped in the wheel.
PACKAGED_CONFIG = Path(__file__).with_name("checkpoint_managers.yaml")
#: The user-facing file of a source checkout (located from the package, not the working directory).
REPO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "checkpoint_managers.yaml"


def default_config_path() -> Path:
    """``$LANGGRAPH_CKPT_CONFIG``, else the repository's ``configs/`` file, else the packaged copy."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return REPO_CONFIG if REPO_CONFIG.is_file() else PACKAGED_CONFIG


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
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML at {where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {path}: {exc}") from None


def load_config(source: str | Path | Mapping[str, Any] | CheckpointConfig | None = None) -> CheckpointConfig:
    """A validated ``CheckpointConfig`` from a YAML path, a dict, or the default file.

    A ``CheckpointConfig`` is returned as is. Unknown keys produce an
    ``UnknownConfigKeyWarning`` (and a log warning) naming their YAML path.
    """
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
    resolved = interpolate({k: v for k, v in raw.items() if k != "source"})
    try:
        config = CheckpointConfig.model_validate({**resolved, "source": origin})
    except ValidationError as exc:
        raise problems_error(validation_problems(CheckpointConfig, exc, "")) from None
    _warn_unknown_sections(config)
    _cross_check(config)
    _check_parameters(config)
    effective = dict(resolved)
    effective["checkpoint_managers"] = {
        name: {**dict(entry), "parameters": config.merged_parameters(name)}
        for name, entry in resolved["checkpoint_managers"].items()
        if config.checkpoint_managers[name].enabled
    }
    check_rules(effective, config.validation_rules, set(config.enabled_managers()))
    return config


def _warn_unknown_sections(config: CheckpointConfig) -> None:
    unknown = [k for k in config.unknown_keys("") if k != "source"]
    unknown += config.global_config.unknown_keys("global_config")
    for name, entry in config.checkpoint_managers.items():
        unknown += entry.unknown_keys(f"checkpoint_managers.{name}")
    for name, group in config.manager_groups.items():
        unknown += group.unknown_keys(f"manager_groups.{name}")
    warn_unknown(unknown)


def _check_parameters(config: CheckpointConfig) -> None:
    """Validate every manager's parameters, collecting all problems.

    A disabled manager whose class cannot be imported is skipped (its package
    need not be installed where it is not used); otherwise disabled managers are
    checked too, so a typo is found before someone enables the entry.
    """
    problems: list[str] = []
    for name, entry in config.checkpoint_managers.items():
        try:
            config.parameters_model(name)
        except ConfigError as exc:
            if entry.enabled:
                problems.append(str(exc))
            continue
        try:
            params = config._validated(name, None, warn_from=None)
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
            continue
        if entry.enabled:
            problems.extend(_unknown_backend(name, params))
    if problems:
        raise problems_error(problems)


def _unknown_backend(name: str, params: Any) -> list[str]:
    """A custom entry's ``backend`` that names no registered manager (checked without importing anything).

    Only plain names are checked: a ``module:Class`` path would have to be imported,
    and a plugin directory's names are known only once its files have run.
    """
    from langgraph_ckpt_config.registry import available_managers

    if not isinstance(params, CustomParameters) or params.plugin_enabled:
        return []
    backend = params.backend
    if ":" in backend or "." in backend or backend in available_managers():
        return []
    known = sorted(available_managers())
    return [f"checkpoint_managers.{name}.parameters.backend: unknown manager {backend!r}; known: {known}"]


def _cross_check(config: CheckpointConfig) -> None:
    names = set(config.checkpoint_managers)
    known = f"configured: {sorted(names)}"
    if config.default_manager is not None:
        if config.default_manager not in names:
            raise ConfigError(f"names unknown manager {config.default_manager!r}; {known}", path="default_manager")
        if not config.checkpoint_managers[config.default_manager].enabled:
            raise ConfigError(
                f"manager {config.default_manager!r} is disabled "
                f"(set checkpoint_managers.{config.default_manager}.enabled: true, or pick another default)",
                path="default_manager",
            )
    for group, spec in config.manager_groups.items():
        for member in spec.managers:
            if member not in names:
                raise ConfigError(f"names unknown manager {member!r}; {known}", path=f"manager_groups.{group}.managers")
    for name, entry in config.checkpoint_managers.items():
        if entry.fallback is None:
            continue
        path = f"checkpoint_managers.{name}.fallback"
        if entry.fallback not in names:
            raise ConfigError(f"names unknown manager {entry.fallback!r}; {known}", path=path)
        if entry.fallback == name:
            raise ConfigError("a manager cannot be its own fallback", path=path)
        if entry.enabled and not config.checkpoint_managers[entry.fallback].enabled:
            raise ConfigError(f"fallback manager {entry.fallback!r} is disabled", path=path)
