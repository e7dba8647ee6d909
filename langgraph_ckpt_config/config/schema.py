"""The YAML document as pydantic models, and each manager's effective parameters.

The document keeps the design sketch's shape exactly (users write it by hand);
``parameters`` stays a raw dict here because its model depends on the manager
(``class_path``) and is applied by ``manager_parameters`` -- which is also where
the defaults are layered, lowest first:

    model defaults < global_config.default_* < default_config < parameters < overrides
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from langgraph_ckpt_config.config.models import BUILTIN_PARAMETER_MODELS, ManagerParameters
from langgraph_ckpt_config.config.redact import RedactedDict, redact, redacted_dict_of
from langgraph_ckpt_config.config.rules import raise_failures, rule_failures
from langgraph_ckpt_config.config.validation import validate_model, warn_unknown
from langgraph_ckpt_config.errors import ConfigError, RegistryError

CONFIG_ENV = "LANGGRAPH_CKPT_CONFIG"
MANAGER_ENV = "LANGGRAPH_CKPT_MANAGER"

# default_config keys of the sketch that name a parameter differently
DEFAULT_CONFIG_ALIASES = {"enable_compression": "compression_enabled", "enable_serialization": "serialization_enabled"}
# global_config.default_* -> the parameter it fills in (``default_ttl`` only where a model has ``ttl``)
GLOBAL_DEFAULTS = {
    "default_max_checkpoints": "max_checkpoints",
    "default_cleanup_interval": "cleanup_interval",
    "default_ttl": "ttl",
    "default_cache_size": "cache_size",
    "default_cache_ttl": "cache_ttl",
    "default_batch_size": "batch_size",
}


#: A free-form section (``parameters``, ``default_config``, ``metadata``): a dict that prints redacted.
RawSection = Annotated[dict[str, Any], AfterValidator(redacted_dict_of)]


class _Section(BaseModel):
    """Extra keys are kept (forward compatibility) but reported by ``unknown_keys``.

    The raw dicts of a section (``parameters``, ``default_config``, ``metadata``,
    extra keys) are not typed, so their ``repr``/``str`` show them redacted: a
    config object printed or logged must not show a password, URL credential or key.
    """

    model_config = ConfigDict(extra="allow")

    def unknown_keys(self, prefix: str) -> list[str]:
        return [f"{prefix}.{key}" if prefix else str(key) for key in (self.model_extra or {})]

    def __repr_args__(self):  # pydantic's repr/str hook
        for key, value in super().__repr_args__():
            yield key, _redacted_for_repr(value, key)


class ManagerEntry(_Section):
    """One ``checkpoint_managers.<name>`` entry.

    ``fallback`` names another manager used only when this one fails to
    *initialize*; there is no implicit fallback (durable must not become volatile).
    """

    description: str = ""
    class_path: str = Field(min_length=1)
    enabled: bool = True
    priority: int = 0
    tags: list[str] = Field(default_factory=list)
    default_config: RawSection = Field(default_factory=RedactedDict)
    parameters: RawSection = Field(default_factory=RedactedDict)
    metadata: RawSection = Field(default_factory=RedactedDict)
    fallback: str | None = None


class ManagerGroup(_Section):
    description: str = ""
    managers: list[str] = Field(default_factory=list)


class GlobalConfig(_Section):
    """``global_config``: defaults for every manager, plus monitoring and logging switches."""

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


class CheckpointConfig(_Section):
    """The whole (interpolated) YAML document; ``source`` says where it came from."""

    metadata: RawSection = Field(default_factory=RedactedDict)
    checkpoint_managers: dict[str, ManagerEntry]
    default_manager: str | None = None
    manager_groups: dict[str, ManagerGroup] = Field(default_factory=dict)
    global_config: GlobalConfig = Field(default_factory=GlobalConfig)
    validation_rules: list[dict[str, Any]] = Field(default_factory=list)
    source: str = "<dict>"

    _models: dict[str, type[ManagerParameters]] = PrivateAttr(default_factory=dict)

    # ------------------------------------------------------------------ lookup
    def manager_entry(self, name: str) -> ManagerEntry:
        try:
            return self.checkpoint_managers[name]
        except KeyError:
            raise ConfigError(
                f"no manager named {name!r}; configured: {sorted(self.checkpoint_managers)}", path="checkpoint_managers"
            ) from None

    def enabled_managers(self) -> list[str]:
        return [n for n, e in self.checkpoint_managers.items() if e.enabled]

    def parameters_model(self, name: str) -> type[ManagerParameters]:
        """The parameters model of ``name``: built-ins without importing a backend, else the class's own."""
        model = self._models.get(name)
        if model is None:
            model = _parameters_model_for(self.manager_entry(name), name)
            self._models[name] = model
        return model

    # ------------------------------------------------------------------ parameters
    def _layers(self, name: str, overrides: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
        """(YAML path of the layer, its values), lowest precedence first."""
        entry = self.manager_entry(name)
        fields = self.parameters_model(name).model_fields
        from_global = {
            param: getattr(self.global_config, key)
            for key, param in GLOBAL_DEFAULTS.items()
            if getattr(self.global_config, key) is not None and param in fields
        }
        default_config = {DEFAULT_CONFIG_ALIASES.get(k, k): v for k, v in entry.default_config.items()}
        base = f"checkpoint_managers.{name}"
        return [
            ("global_config", from_global),
            (f"{base}.default_config", default_config),
            (f"{base}.parameters", entry.parameters),
            ("overrides", dict(overrides or {})),
        ]

    def merged_parameters(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The effective raw parameters of ``name`` (before model validation)."""
        merged: dict[str, Any] = {}
        for _, values in self._layers(name, overrides):
            _deep_update(merged, values)
        return merged

    def _validated(self, name: str, overrides: Mapping[str, Any] | None, *, warn_from: set[str] | None) -> Any:
        layers = self._layers(name, overrides)
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for where, values in layers:
            _deep_update(merged, values)
            origin.update({str(k): where for k in values})

        def label(loc: list[str]) -> str | None:
            """An override's problem is blamed on the override: the YAML does not hold that value."""
            return _override_label(name, loc) if loc and origin.get(loc[0]) == "overrides" else None

        params = validate_model(self.parameters_model(name), merged, f"checkpoint_managers.{name}.parameters", label)
        if overrides:
            self._check_rules_on_overrides(name, merged, overrides)
        if hasattr(params, "unknown_keys"):
            unknown = []
            for key in params.unknown_keys():
                where = origin.get(key.split(".", 1)[0], f"checkpoint_managers.{name}.parameters")
                if warn_from is None or where in warn_from:
                    unknown.append(f"{where}.{key}" if where != "overrides" else f"{name} override {key}")
            warn_unknown(unknown)
        return params

    def _check_rules_on_overrides(self, name: str, merged: dict[str, Any], overrides: Mapping[str, Any]) -> None:
        """``validation_rules`` over the values ``overrides`` set (the YAML's were checked at load)."""
        if not self.validation_rules or not self.manager_entry(name).enabled:
            return
        document = self.model_dump(exclude={"source"})
        document["checkpoint_managers"] = {name: {**document["checkpoint_managers"][name], "parameters": merged}}
        prefix = f"checkpoint_managers.{name}.parameters."
        failures = []
        for path, message in rule_failures(document, self.validation_rules, {name}):
            loc = path[len(prefix) :].split(".") if path.startswith(prefix) else []
            if loc and loc[0] in overrides:
                failures.append((_override_label(name, loc), message))
        raise_failures(failures)

    def manager_parameters(self, name: str, **overrides: Any) -> tuple[ManagerEntry, ManagerParameters]:
        """(entry, validated parameters model) of ``name`` with ``overrides`` on top.

        Unknown keys in ``overrides`` are warned about here; the YAML's own were
        reported once, by ``load_config``.
        """
        entry = self.manager_entry(name)
        return entry, self._validated(name, overrides, warn_from={"overrides"})

    # ------------------------------------------------------------------ display
    def redacted_dict(self) -> dict[str, Any]:
        """The resolved config for display: effective parameters, every secret ``***``."""
        data = self.model_dump(exclude={"source"})
        for name in self.checkpoint_managers:
            try:
                params = self._validated(name, None, warn_from=set())
            except (ConfigError, RegistryError):
                continue  # shown raw (still redacted below); load_config already reported it
            data["checkpoint_managers"][name]["parameters"] = params.model_dump()
        return redact(data)


def _override_label(name: str, loc: list[str]) -> str:
    return f"override {'.'.join(loc)} (for manager {name!r})"


def _redacted_for_repr(value: Any, key: Any) -> Any:
    """``redact`` for raw data; models (a manager entry inside the document) redact themselves."""
    if isinstance(value, BaseModel) or (isinstance(value, Mapping) and any(isinstance(v, BaseModel) for v in value.values())):
        return value
    return redact({key: value})[key] if isinstance(key, str) else redact(value)


def _deep_update(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)


def _parameters_model_for(entry: ManagerEntry, name: str) -> type[ManagerParameters]:
    from langgraph_ckpt_config.registry import builtin_name_for, get_manager_class

    builtin = builtin_name_for(entry.class_path)
    if builtin is not None:
        return BUILTIN_PARAMETER_MODELS[builtin]
    try:
        cls = get_manager_class(entry.class_path)
    except RegistryError as exc:
        raise ConfigError(str(exc), path=f"checkpoint_managers.{name}.class_path") from None
    model = getattr(cls, "parameters_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(
            f"{entry.class_path} has no pydantic 'parameters_model' class attribute",
            path=f"checkpoint_managers.{name}.class_path",
        )
    return model


def resolve_manager_name(config: CheckpointConfig, name: str | None = None) -> str:
    """``name``, else ``$LANGGRAPH_CKPT_MANAGER``, else ``default_manager`` (else the only enabled one)."""
    name = name or os.environ.get(MANAGER_ENV) or config.default_manager
    if not name:
        enabled = config.enabled_managers()
        if len(enabled) == 1:
            return enabled[0]
        raise ConfigError(
            f"no manager given: pass a name, set ${MANAGER_ENV}, or set default_manager", path="default_manager"
        )
    config.manager_entry(name)
    return name
