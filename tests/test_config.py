"""The YAML config system: interpolation, coercion, sizes, rules, cross-checks, redaction."""

from __future__ import annotations

import copy
import filecmp
from pathlib import Path

import pytest
import yaml

from langgraph_ckpt_config.config.loader import PACKAGED_CONFIG, load_config, resolve_manager_name
from langgraph_ckpt_config.config.models import S3Parameters, SqliteParameters
from langgraph_ckpt_config.config.sizes import parse_size
from langgraph_ckpt_config.errors import ConfigError, ValidationRuleError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "configs" / "checkpoint_managers.yaml"


def _shipped() -> dict:
    return yaml.safe_load(SHIPPED.read_text())


def _minimal(**params) -> dict:
    return {
        "checkpoint_managers": {
            "mem": {"class_path": "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager", "parameters": params},
            "redis": {
                "class_path": "langgraph_ckpt_config.managers.redis:RedisCheckpointManager",
                "enabled": True,
                "parameters": {"port": "${TEST_REDIS_PORT:6379}"},
            },
        },
        "default_manager": "mem",
    }


def test_shipped_config_loads_and_validates():
    config = load_config(SHIPPED)
    assert config.default_manager == "sqlite"
    assert set(config.checkpoint_managers) == {"memory", "sqlite", "redis", "s3", "custom"}
    assert set(config.manager_groups) == {"basic", "persistent", "distributed", "cloud"}
    _, s3 = config.manager_parameters("s3")
    assert s3.multipart_threshold == 64 * 1024 * 1024  # "64 * 1024 * 1024" in the YAML
    _, redis = config.manager_parameters("redis")
    assert redis.port == 6379 and isinstance(redis.port, int)


def test_packaged_copy_is_identical():
    assert filecmp.cmp(SHIPPED, PACKAGED_CONFIG, shallow=False)


def test_required_variable_missing_names_variable_and_path(monkeypatch):
    monkeypatch.delenv("LGCKPT_UNSET_VAR", raising=False)
    raw = _minimal()
    raw["checkpoint_managers"]["mem"]["parameters"]["default_workflow_id"] = "${LGCKPT_UNSET_VAR}"
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert "LGCKPT_UNSET_VAR" in str(info.value)
    assert info.value.path == "checkpoint_managers.mem.parameters.default_workflow_id"


def test_interpolation_defaults_empty_and_several(monkeypatch):
    monkeypatch.setenv("LGCKPT_A", "alpha")
    monkeypatch.delenv("LGCKPT_B", raising=False)
    raw = _minimal(default_workflow_id="${LGCKPT_A}-${LGCKPT_B:beta}-${LGCKPT_B:}-$${literal}")
    config = load_config(raw)
    _, params = config.manager_parameters("mem")
    assert params.default_workflow_id == "alpha-beta--${literal}"


def test_port_coerced_and_bad_port_named(monkeypatch):
    monkeypatch.setenv("TEST_REDIS_PORT", "6380")
    assert load_config(_minimal()).manager_parameters("redis")[1].port == 6380
    monkeypatch.setenv("TEST_REDIS_PORT", "abc")
    with pytest.raises(ConfigError) as info:
        load_config(_minimal())
    message = str(info.value)
    assert "checkpoint_managers.redis.parameters.port" in message
    assert "'abc'" in message and "integer" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [(1024, 1024), ("64 * 1024 * 1024", 64 * 1024 * 1024), ("64MiB", 64 * 1024**2), ("16 MB", 16 * 1000**2), ("512k", 512 * 1024), ("7", 7)],
)
def test_sizes(text, expected):
    assert parse_size(text) == expected
    assert S3Parameters(multipart_chunksize=text).multipart_chunksize == expected


@pytest.mark.parametrize("bad", ["__import__('os').system('true')", "1+1", "64 ** 2", "ten MB", "-5", True])
def test_sizes_rejected_never_evaluated(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


def test_unknown_key_warns_with_path():
    raw = _minimal(databse_path="typo.db")
    with pytest.warns(UserWarning, match=r"checkpoint_managers\.mem\.parameters\.databse_path"):
        load_config(raw)


def test_table_name_injection_rejected():
    with pytest.raises(Exception, match="identifier"):
        SqliteParameters(table_name='x"; DROP TABLE y; --')
    raw = {
        "checkpoint_managers": {
            "sqlite": {
                "class_path": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager",
                "parameters": {"table_name": "a b"},
            }
        }
    }
    with pytest.raises(ConfigError, match=r"checkpoint_managers\.sqlite\.parameters\.table_name"):
        load_config(raw)


def _with_rule(rule: dict, **params) -> dict:
    raw = _minimal(**params)
    raw["validation_rules"] = [rule]
    return raw


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ({"field": "checkpoint_managers.*.parameters.max_checkpoints", "rule_type": "range", "value": [100, 1000]}, 500, 50),
        ({"field": "checkpoint_managers.*.parameters.max_checkpoints", "rule_type": "enum", "value": [100, 200]}, 200, 300),
        ({"field": "checkpoint_managers.mem.parameters.default_workflow_id", "rule_type": "pattern", "value": "[a-z]+"}, "abc", "ABC"),
        ({"field": "checkpoint_managers.mem.parameters.default_workflow_id", "rule_type": "type", "value": "string"}, "x", 5),
    ],
)
def test_rule_types(rule, good, bad):
    field = rule["field"].rsplit(".", 1)[1]
    rule = {**rule, "message": "custom rule message"}
    load_config(_with_rule(rule, **{field: good}))
    with pytest.raises(ValidationRuleError, match="custom rule message") as info:
        load_config(_with_rule(rule, **{field: bad}))
    assert info.value.path.startswith("checkpoint_managers.")


def test_required_rule_and_glob():
    rule = {"field": "checkpoint_managers.*.parameters.default_workflow_id", "rule_type": "required", "message": "need a workflow"}
    raw = _with_rule(rule, default_workflow_id="x")
    with pytest.raises(ValidationRuleError, match="need a workflow") as info:
        load_config(raw)  # the redis entry has none
    assert info.value.path == "checkpoint_managers.redis.parameters.default_workflow_id"


def test_shipped_rules_apply():
    raw = _shipped()
    raw["checkpoint_managers"]["sqlite"]["parameters"]["cleanup_interval"] = 5
    with pytest.raises(ValidationRuleError, match="cleanup_interval must be between 60 and 86400"):
        load_config(raw)


def test_unknown_rule_type_is_an_error():
    with pytest.raises(ConfigError, match=r"validation_rules\[0\].*unknown rule_type 'regex'"):
        load_config(_with_rule({"field": "x", "rule_type": "regex", "message": "m"}))


def test_cross_checks():
    raw = _minimal()
    raw["default_manager"] = "nope"
    with pytest.raises(ConfigError, match="default_manager"):
        load_config(raw)
    raw = _minimal()
    raw["checkpoint_managers"]["mem"]["enabled"] = False
    with pytest.raises(ConfigError, match="disabled"):
        load_config(raw)
    raw = _minimal()
    raw["manager_groups"] = {"g": {"managers": ["mem", "ghost"]}}
    with pytest.raises(ConfigError, match=r"manager_groups\.g\.managers.*ghost"):
        load_config(raw)
    raw = _minimal()
    raw["checkpoint_managers"]["mem"]["fallback"] = "ghost"
    with pytest.raises(ConfigError, match="fallback"):
        load_config(raw)


def test_missing_class_path_and_bad_yaml(tmp_path):
    raw = _minimal()
    del raw["checkpoint_managers"]["mem"]["class_path"]
    with pytest.raises(ConfigError, match=r"checkpoint_managers\.mem\.class_path"):
        load_config(raw)
    bad = tmp_path / "bad.yaml"
    bad.write_text("checkpoint_managers:\n  a: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_env_selects_file_and_manager(tmp_path, monkeypatch):
    path = tmp_path / "alt.yaml"
    path.write_text(yaml.safe_dump(_minimal()))
    monkeypatch.setenv("LANGGRAPH_CKPT_CONFIG", str(path))
    config = load_config()
    assert config.source == str(path)
    assert resolve_manager_name(config) == "mem"
    monkeypatch.setenv("LANGGRAPH_CKPT_MANAGER", "redis")
    assert resolve_manager_name(config) == "redis"
    assert resolve_manager_name(config, "mem") == "mem"


def test_precedence_of_defaults():
    raw = copy.deepcopy(_shipped())
    memory = raw["checkpoint_managers"]["memory"]
    del memory["parameters"]["max_checkpoints"]
    config = load_config(raw)
    assert config.manager_parameters("memory")[1].max_checkpoints == 1000  # default_config
    del memory["default_config"]["max_checkpoints"]
    raw["global_config"]["default_max_checkpoints"] = 4321
    config = load_config(raw)
    assert config.manager_parameters("memory")[1].max_checkpoints == 4321  # global default
    assert config.manager_parameters("memory", max_checkpoints=7)[1].max_checkpoints == 7  # override wins


def test_secrets_redacted_everywhere(monkeypatch):
    secret = "hunter2-very-secret"
    monkeypatch.setenv("REDIS_PASSWORD", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret + "-aws")
    monkeypatch.setenv("CUSTOM_API_KEY", secret + "-api")
    config = load_config(SHIPPED)
    shown = repr(config.redacted_dict())
    assert secret not in shown
    _, redis = config.manager_parameters("redis")
    assert redis.password.get_secret_value() == secret
    assert secret not in repr(redis) and secret not in str(redis.model_dump())
    raw = _shipped()
    raw["checkpoint_managers"]["redis"]["parameters"]["password"] = secret
    raw["checkpoint_managers"]["redis"]["parameters"]["port"] = "not-a-port"
    raw["checkpoint_managers"]["redis"]["enabled"] = True
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert secret not in str(info.value)
