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
    assert S3Parameters(bucket="b", multipart_chunksize=text).multipart_chunksize == expected


@pytest.mark.parametrize("bad", ["__import__('os')", "__import__('os').system('true')", "1+1", "64 ** 2", "ten MB", "-5", "2 * ", True])
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
        ({"field": "checkpoint_managers.m*.parameters.default_workflow_id", "rule_type": "type", "value": "integer"}, "123", "abc"),
        ({"field": "checkpoint_managers.mem.parameters.compression_min_size", "rule_type": "range", "value": [0, "1MiB"]}, "512k", "2MiB"),
        ({"field": "checkpoint_managers.mem.parameters.max_checkpoints", "rule_type": "enum", "value": [100, 200]}, "${LGCKPT_T_ENUM:200}", 150),
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
    assert config.manager_parameters("memory", max_checkpoints=700)[1].max_checkpoints == 700  # override wins


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


# ---------------------------------------------------------------------------- more loader behaviour


def test_malformed_reference_is_an_error_not_a_literal():
    raw = _minimal(default_workflow_id="${UNCLOSED")
    with pytest.raises(ConfigError, match="malformed reference") as info:
        load_config(raw)
    assert info.value.path == "checkpoint_managers.mem.parameters.default_workflow_id"


def test_every_parameter_problem_reported_at_once():
    raw = _minimal()
    raw["checkpoint_managers"]["redis"]["parameters"] = {"port": "abc", "db": "x", "ssl": "maybe"}
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    lines = str(info.value).splitlines()
    assert lines == [
        "checkpoint_managers.redis.parameters.port: got 'abc', expected an integer",
        "checkpoint_managers.redis.parameters.db: got 'x', expected an integer",
        "checkpoint_managers.redis.parameters.ssl: got 'maybe', expected true or false",
    ]


def test_coercion_of_interpolated_strings(monkeypatch):
    monkeypatch.setenv("LGCKPT_T_SSL", "true")
    monkeypatch.setenv("LGCKPT_T_NODES", "a:7000,b:7001")
    raw = _minimal()
    raw["checkpoint_managers"]["redis"]["parameters"].update(
        {"ssl": "${LGCKPT_T_SSL}", "cluster_nodes": "${LGCKPT_T_NODES}", "username": "${LGCKPT_T_USER:}"}
    )
    _, redis = load_config(raw).manager_parameters("redis")
    assert redis.ssl is True and redis.username is None  # empty default = unset
    assert [n.model_dump() for n in redis.cluster_nodes] == [{"host": "a", "port": 7000}, {"host": "b", "port": 7001}]


def test_s3_bucket_required_and_empty_endpoint_is_none():
    raw = {"checkpoint_managers": {"s3": {"class_path": "s3", "parameters": {"bucket": "b", "endpoint_url": ""}}}}
    _, s3 = load_config(raw).manager_parameters("s3")
    assert s3.endpoint_url is None
    raw["checkpoint_managers"]["s3"]["parameters"]["bucket"] = "${LGCKPT_T_BUCKET:}"
    with pytest.raises(ConfigError, match=r"checkpoint_managers\.s3\.parameters\.bucket: got '', expected a non-empty string"):
        load_config(raw)


def test_unknown_keys_warn_with_their_own_section():
    raw = _minimal()
    raw["checkpoint_managers"]["mem"]["enabeld"] = False
    raw["checkpoint_managers"]["mem"]["default_config"] = {"max_checkpoint": 5}
    raw["checkpoint_managers"]["mem"]["parameters"] = {"client_encryption": {"enabled": False, "keyz": "x"}}
    raw["global_config"] = {"default_max_checkpointz": 3}
    with pytest.warns(UserWarning) as record:
        config = load_config(raw)
    messages = " | ".join(str(w.message) for w in record)
    for path in (
        "checkpoint_managers.mem.enabeld",
        "checkpoint_managers.mem.default_config.max_checkpoint",
        "checkpoint_managers.mem.parameters.client_encryption.keyz",
        "global_config.default_max_checkpointz",
    ):
        assert path in messages
    with pytest.warns(UserWarning, match="mem override max_checkpoint"):
        config.manager_parameters("mem", max_checkpoint=3)


def test_disabled_managers_still_validated_unless_their_class_is_missing():
    raw = _minimal()
    raw["checkpoint_managers"]["redis"]["enabled"] = False
    raw["checkpoint_managers"]["redis"]["parameters"]["port"] = "abc"
    with pytest.raises(ConfigError, match=r"redis\.parameters\.port"):
        load_config(raw)
    raw = _minimal()
    raw["checkpoint_managers"]["ext"] = {"class_path": "lgckpt_not_installed_xyz:Manager", "enabled": False}
    load_config(raw)  # not installed here, not used here: fine
    raw["checkpoint_managers"]["ext"]["enabled"] = True
    with pytest.raises(ConfigError, match=r"checkpoint_managers\.ext\.class_path.*lgckpt_not_installed_xyz"):
        load_config(raw)


def test_fallback_must_be_enabled():
    raw = _minimal()
    raw["checkpoint_managers"]["off"] = {"class_path": "memory", "enabled": False}
    raw["checkpoint_managers"]["redis"]["fallback"] = "off"
    with pytest.raises(ConfigError, match=r"checkpoint_managers\.redis\.fallback.*'off' is disabled"):
        load_config(raw)
    raw["checkpoint_managers"]["redis"]["fallback"] = "redis"
    with pytest.raises(ConfigError, match="own fallback"):
        load_config(raw)


def test_rules_skip_disabled_managers_and_report_every_failure():
    rule = {"field": "checkpoint_managers.*.parameters.max_checkpoints", "rule_type": "range", "value": [100, 200], "message": "m"}
    raw = _with_rule(rule, max_checkpoints=5)
    raw["checkpoint_managers"]["redis"]["parameters"]["max_checkpoints"] = 7
    with pytest.raises(ValidationRuleError) as info:
        load_config(raw)
    assert len(str(info.value).splitlines()) == 2
    raw["checkpoint_managers"]["redis"]["enabled"] = False
    with pytest.raises(ValidationRuleError) as info:
        load_config(raw)
    assert info.value.path == "checkpoint_managers.mem.parameters.max_checkpoints"
    assert "got 5" in str(info.value)


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ({"field": "a", "rule_type": "range", "value": "100..200"}, r"validation_rules\[0\].*\[min, max\]"),
        ({"field": "a", "rule_type": "type", "value": "str"}, r"validation_rules\[0\].*must be one of"),
        ({"field": "a", "rule_type": "pattern", "value": "("}, r"validation_rules\[0\].*not a valid regular expression"),
        ({"rule_type": "required"}, r"validation_rules\[0\].*'field'"),
    ],
)
def test_broken_rules_are_config_errors(rule, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_with_rule(rule))


def test_global_defaults_fill_only_matching_fields():
    raw = _minimal()
    raw["global_config"] = {"default_ttl": 60, "default_cache_size": 42}
    config = load_config(raw)
    assert config.manager_parameters("redis")[1].ttl == 60
    mem = config.manager_parameters("mem")[1]
    assert mem.cache_size == 42 and "ttl" not in mem.model_dump()
    raw["checkpoint_managers"]["redis"]["default_config"] = {"ttl": 30, "enable_compression": False}
    redis = load_config(raw).manager_parameters("redis")[1]
    assert redis.ttl == 30 and redis.compression_enabled is False  # default_config beats global; alias mapped


def test_default_file_is_found_from_the_package(monkeypatch, tmp_path):
    from langgraph_ckpt_config.config import loader

    monkeypatch.delenv("LANGGRAPH_CKPT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # not the working directory: the file next to the package
    assert loader.default_config_path() == SHIPPED
    assert load_config().source == str(SHIPPED)
    monkeypatch.setattr(loader, "REPO_CONFIG", tmp_path / "absent.yaml")
    assert loader.default_config_path() == PACKAGED_CONFIG


def test_redaction_of_free_form_secrets(monkeypatch):
    from langgraph_ckpt_config.config.models import CustomParameters

    secret = "zz-free-form-secret"
    raw = _minimal()
    raw["checkpoint_managers"]["redis"]["parameters"]["url"] = f"redis://app:{secret}@cache:6379/0"
    raw["checkpoint_managers"]["cust"] = {
        "class_path": "custom",
        "enabled": False,
        "parameters": {"backend_config": {"api_key": secret, "dsn": f"postgres://u:{secret}@db/x", "host": "h"}},
    }
    config = load_config(raw)
    shown = config.redacted_dict()
    assert secret not in repr(shown)
    backend_config = shown["checkpoint_managers"]["cust"]["parameters"]["backend_config"]
    assert backend_config["host"] == "h" and backend_config["api_key"] == "***" and "u:***@db" in backend_config["dsn"]
    _, custom = config.manager_parameters("cust")
    assert secret not in repr(custom)
    assert secret not in repr(CustomParameters(backend_config={"password": secret}))
    raw["checkpoint_managers"]["redis"]["parameters"]["password"] = {"nested": secret}
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert secret not in str(info.value) and "redis.parameters.password" in str(info.value)


# ---------------------------------------------------------------------------- secrets in reprs and messages

_KEY = "k1:RYHHYbj9UbjXlSfHJO8SBPrHmt/oDLOo3CHG5tOZiAY="


def _secretive() -> dict:
    """Every kind of secret a raw section can hold, in parameters, default_config and metadata."""
    return {
        "metadata": {"token": "top-metadata-token"},
        "checkpoint_managers": {
            "enc": {
                "class_path": "sqlite",
                "parameters": {"database_path": "x.db", "client_encryption": {"enabled": True, "keys": _KEY}},
            },
            "redis": {
                "class_path": "redis",
                "enabled": False,
                "default_config": {"password": "DefaultPassw0rd"},
                "parameters": {"url": "redis://admin:UrlPassw0rd@localhost:6399/0", "password": "RedisPassw0rdXYZ"},
            },
            "cust": {
                "class_path": "custom",
                "enabled": False,
                "metadata": {"api_key": "MetaApiKey123"},
                "parameters": {"backend_config": {"api_key": "BackendApiKey9"}},
            },
        },
        "default_manager": "enc",
    }


_SECRETS = ("top-metadata-token", _KEY.split(":")[1], "DefaultPassw0rd", "UrlPassw0rd", "RedisPassw0rdXYZ", "MetaApiKey123", "BackendApiKey9")


def test_config_objects_print_without_secrets():
    config = load_config(_secretive())
    shown = [repr(config), str(config), repr(config.metadata)]
    for entry in config.checkpoint_managers.values():
        shown += [repr(entry), str(entry), repr(entry.parameters), str(entry.parameters), repr(entry.default_config)]
        shown += [repr(entry.metadata), *(repr(v) for v in entry.parameters.values() if isinstance(v, dict))]
    for text in shown:
        assert not [s for s in _SECRETS if s in text], text
    # what is not secret stays readable, and the values themselves are intact
    redis = config.checkpoint_managers["redis"]
    assert "redis://admin:***@localhost:6399/0" in repr(redis) and "x.db" in repr(config)
    assert redis.parameters["password"] == "RedisPassw0rdXYZ"
    assert config.checkpoint_managers["enc"].parameters["client_encryption"]["keys"] == _KEY


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://u:TOP@SECRET7@127.0.0.1:1/0", "redis://u:***@127.0.0.1:1/0"),  # '@' inside the password
        ("redis://:TOP/SECRET8@127.0.0.1:1/0", "redis://:***@127.0.0.1:1/0"),  # '/' inside the password
        ("redis://TOPSECRET9@127.0.0.1:1/0", "redis://***@127.0.0.1:1/0"),  # userinfo without ':' (a token)
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_url_passwords_redacted_to_the_last_at(url, shown):
    from langgraph_ckpt_config.config.redact import redact_url

    assert redact_url(url) == shown
    assert redact_url(f"redis at {url} unavailable: 'x@y'") == f"redis at {shown} unavailable: 'x@y'"


# ---------------------------------------------------------------------------- overrides


def test_validation_rules_apply_to_overrides():
    config = load_config(SHIPPED)  # its rule: max_checkpoints in [100, 1000000]
    with pytest.raises(ValidationRuleError) as info:
        config.manager_parameters("memory", max_checkpoints=5)
    assert info.value.path == "override max_checkpoints (for manager 'memory')"
    assert "max_checkpoints must be between 100 and 1000000 (got 5" in str(info.value)
    assert config.manager_parameters("memory", max_checkpoints=500)[1].max_checkpoints == 500
    # an override of another field does not re-report what the YAML holds
    assert config.manager_parameters("memory", cache_size=10)[1].cache_size == 10


def test_a_bad_override_is_blamed_on_the_override_not_the_yaml():
    config = load_config(_minimal())
    with pytest.raises(ConfigError) as info:
        config.manager_parameters("mem", max_checkpoints="lots")
    assert str(info.value) == "override max_checkpoints (for manager 'mem'): got 'lots', expected an integer"
    with pytest.raises(ConfigError) as info:
        config.manager_parameters("mem", client_encryption={"keys": 5})
    assert info.value.path == "override client_encryption.keys (for manager 'mem')"


def test_unknown_key_is_one_warning_at_the_callers_line_and_no_log_line(caplog):
    raw = _minimal(databse_path="typo.db")
    with pytest.warns(UserWarning) as record:
        load_config(raw)
    typo = [w for w in record if "databse_path" in str(w.message)]
    assert len(typo) == 1 and typo[0].filename == __file__
    assert "databse_path" not in caplog.text
