"""``lgckpt managers`` and ``lgckpt config validate|show``: in-process (CliRunner) and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from langgraph_ckpt_config.cli import app

SECRET = "cli-secret-password-value"
MEMORY = "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LGCKPT_CLI_SECRET", SECRET)
    monkeypatch.delenv("LANGGRAPH_CKPT_MANAGER", raising=False)
    config = {
        "checkpoint_managers": {
            "fast": {"class_path": MEMORY, "priority": 50, "tags": ["mem"], "description": "in memory"},
            "disk": {
                "class_path": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager",
                "priority": 90,
                "parameters": {"database_path": str(tmp_path / "c.db")},
            },
            "cache": {
                "class_path": "langgraph_ckpt_config.managers.redis:RedisCheckpointManager",
                "enabled": False,
                "parameters": {"password": "${LGCKPT_CLI_SECRET}", "url": "redis://app:${LGCKPT_CLI_SECRET}@h:6379/0"},
            },
        },
        "default_manager": "fast",
    }
    path = tmp_path / "lgckpt.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert SECRET not in result.output + result.stderr
    return result


def test_managers_table_and_json(config_file):
    table = run("--config", str(config_file), "managers")
    assert table.exit_code == 0, table.output
    assert "fast (default)" in table.output and "disk" in table.output
    data = json.loads(run("--config", str(config_file), "--json", "managers").output)
    assert [m["name"] for m in data] == ["disk", "fast", "cache"]  # priority desc
    assert [m["name"] for m in data if m["default"]] == ["fast"]
    assert data[-1]["enabled"] is False


def test_manager_option_and_env_mark_the_default(config_file, monkeypatch):
    data = json.loads(run("--config", str(config_file), "--manager", "disk", "--json", "managers").output)
    assert [m["name"] for m in data if m["default"]] == ["disk"]
    monkeypatch.setenv("LANGGRAPH_CKPT_CONFIG", str(config_file))
    monkeypatch.setenv("LANGGRAPH_CKPT_MANAGER", "disk")
    data = json.loads(run("--json", "managers").output)
    assert [m["name"] for m in data if m["default"]] == ["disk"]


def test_validate_ok_and_json(config_file):
    ok = run("config", "validate", str(config_file))
    assert ok.exit_code == 0 and ok.output.startswith("valid:")
    summary = json.loads(run("--json", "config", "validate", str(config_file)).output)
    assert summary["valid"] is True and sorted(summary["enabled"]) == ["disk", "fast"]


def test_validate_lists_each_problem_on_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LGCKPT_CLI_SECRET", SECRET)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "checkpoint_managers": {
                    "r": {
                        "class_path": "redis",
                        "parameters": {"port": "abc", "db": "x", "password": {"oops": "${LGCKPT_CLI_SECRET}"}},
                    }
                }
            }
        )
    )
    result = run("config", "validate", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: checkpoint_managers.r.parameters.port: got 'abc', expected an integer"
    assert len(lines) == 3 and all(line.startswith("error: checkpoint_managers.r.parameters.") for line in lines)
    assert "Traceback" not in result.output + result.stderr
    as_json = json.loads(run("--json", "config", "validate", str(bad)).stdout)
    assert as_json["valid"] is False and len(as_json["errors"]) == 3


def test_validate_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "syntax.yaml"
    bad.write_text("checkpoint_managers:\n  a: {class_path: memory\n")
    result = run("config", "validate", str(bad))
    assert result.exit_code == 1 and "syntax.yaml:" in result.stderr


def test_show_yaml_json_and_one_manager(config_file):
    shown = run("--config", str(config_file), "config", "show")
    assert shown.exit_code == 0, shown.output
    doc = yaml.safe_load(shown.output)
    cache = doc["checkpoint_managers"]["cache"]["parameters"]
    assert cache["password"] == "***" and cache["url"] == "***" and cache["port"] == 6379
    as_json = json.loads(run("--config", str(config_file), "--json", "config", "show", "--manager", "disk").output)
    assert list(as_json["checkpoint_managers"]) == ["disk"]
    assert as_json["checkpoint_managers"]["disk"]["parameters"]["table_name"] == "workflow_checkpoints"
    missing = run("--config", str(config_file), "config", "show", "--manager", "nope")
    assert missing.exit_code == 1 and "no manager named 'nope'" in missing.stderr


def test_real_process_exit_codes_and_json(config_file, tmp_path):
    env = {**os.environ, "LGCKPT_CLI_SECRET": SECRET, "COLUMNS": "200", "PYTHONPATH": str(REPO)}

    def lgckpt(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "langgraph_ckpt_config.cli", *args],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )
        assert SECRET not in proc.stdout + proc.stderr
        return proc

    # global options may come after the command: main() hoists them
    ok = lgckpt("config", "show", "--config", str(config_file), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["checkpoint_managers"]["cache"]["parameters"]["password"] == "***"
    managers = lgckpt("--config", str(config_file), "managers", "--json")
    assert managers.returncode == 0 and {m["name"] for m in json.loads(managers.stdout)} == {"fast", "disk", "cache"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"checkpoint_managers": {"x": {"class_path": "memory"}}, "default_manager": "y"}))
    failed = lgckpt("config", "validate", str(bad))
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.strip() == "error: default_manager: names unknown manager 'y'; configured: ['x']"


def test_validate_describes_a_misplaced_secret_without_echoing_it(tmp_path):
    bad = tmp_path / "misplaced.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "checkpoint_managers": {
                    "s": {"class_path": "sqlite", "parameters": {"client_encryption": f"k1:{SECRET}"}},
                    "c": {"class_path": "custom", "parameters": {"backend_config": f"api_key={SECRET}"}},
                    "r": {"class_path": "redis", "parameters": {"url": 6379, "port": "abc"}},
                    "d": {"class_path": "memory", "parameters": f"password={SECRET}"},
                }
            }
        )
    )
    result = run("config", "validate", str(bad))  # run() asserts SECRET is not in the output
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: checkpoint_managers.d.parameters: got a string, expected a mapping",
    ]
    del_d = yaml.safe_load(bad.read_text())
    del del_d["checkpoint_managers"]["d"]
    bad.write_text(yaml.safe_dump(del_d))
    result = run("config", "validate", str(bad))
    assert sorted(result.stderr.strip().splitlines()) == [
        "error: checkpoint_managers.c.parameters.backend_config: got a string, expected a mapping",
        "error: checkpoint_managers.r.parameters.port: got 'abc', expected an integer",  # not a secret: shown
        "error: checkpoint_managers.r.parameters.url: got an integer, expected a string",
        "error: checkpoint_managers.s.parameters.client_encryption: got a string, expected a mapping",
    ]


def test_rule_failure_on_a_secret_field_shows_its_type_only(tmp_path):
    bad = tmp_path / "rule.yaml"
    rule = {"field": "checkpoint_managers.*.parameters.url", "rule_type": "pattern", "value": "rediss://.*", "message": "use TLS"}
    config = {
        "checkpoint_managers": {"r": {"class_path": "redis", "parameters": {"url": f"redis://:{SECRET}@h:6379/0"}}},
        "validation_rules": [rule],
    }
    bad.write_text(yaml.safe_dump(config))
    result = run("config", "validate", str(bad))
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: checkpoint_managers.r.parameters.url: use TLS (got a string, pattern 'rediss://.*')"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (f"k1:{SECRET}!!!", "entry 1 is not 'key_id:' followed by a base64-encoded 32-byte (AES-256) key"),
        (SECRET, "entry 1 must look like 'key_id:BASE64KEY'"),
    ],
    ids=["not-base64", "no-key-id"],
)
def test_validate_rejects_a_key_spec_every_command_would_reject(tmp_path, keys, problem):
    bad = tmp_path / "keys.yaml"
    encryption = {"enabled": True, "keys": keys}
    bad.write_text(yaml.safe_dump({"checkpoint_managers": {"sq": {"class_path": "sqlite", "parameters": {"client_encryption": encryption}}}}))
    result = run("config", "validate", str(bad))  # run() asserts SECRET is not in the output
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: checkpoint_managers.sq.parameters.client_encryption.keys: {problem}")


def test_validate_rejects_encryption_enabled_without_keys(tmp_path, monkeypatch):
    """What every command would refuse when the manager starts: ``keys`` from an unset variable."""
    monkeypatch.delenv("LGCKPT_TEST_UNSET_KEYS", raising=False)
    bad = tmp_path / "nokeys.yaml"
    encryption = {"enabled": True, "keys": "${LGCKPT_TEST_UNSET_KEYS:}"}
    bad.write_text(yaml.safe_dump({"checkpoint_managers": {"sq": {"class_path": "sqlite", "parameters": {"client_encryption": encryption}}}}))
    result = run("config", "validate", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: checkpoint_managers.sq.parameters.client_encryption.keys: encryption is enabled but no keys")
    off = tmp_path / "disabled.yaml"
    entry = {"class_path": "sqlite", "enabled": False, "parameters": {"client_encryption": encryption}}
    off.write_text(yaml.safe_dump({"checkpoint_managers": {"sq": entry, "mem": {"class_path": "memory"}}, "default_manager": "mem"}))
    assert run("config", "validate", str(off)).exit_code == 0  # a disabled manager is not started


def test_validate_rejects_an_unknown_custom_backend_naming_the_field(tmp_path):
    bad = tmp_path / "backend.yaml"
    bad.write_text(yaml.safe_dump({"checkpoint_managers": {"c": {"class_path": "custom", "parameters": {"backend": "nosuchbackend"}}}}))
    result = run("config", "validate", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: checkpoint_managers.c.parameters.backend: unknown manager 'nosuchbackend'; known: [")


def test_unknown_key_is_reported_once_and_a_size_error_quotes_the_value_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    path = tmp_path / "typo.yaml"
    params = {"cleanup_interval": 0, "maxx": 3}
    path.write_text(yaml.safe_dump({"checkpoint_managers": {"m": {"class_path": "memory", "parameters": params}}}))

    def validate() -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "langgraph_ckpt_config.cli", "config", "validate", str(path)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)

    ok = validate()
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr.splitlines() == ["unknown key checkpoint_managers.m.parameters.maxx is ignored (typo?)"]
    params["cache_max_bytes"] = "64 MiBs"
    path.write_text(yaml.safe_dump({"checkpoint_managers": {"m": {"class_path": "memory", "parameters": params}}}))
    failed = validate()
    assert failed.returncode == 1 and failed.stderr.count("64 MiBs") == 1
    assert "error: checkpoint_managers.m.parameters.cache_max_bytes: got '64 MiBs', expected a size in bytes" in failed.stderr


def test_validate_imports_custom_backends_and_checks_their_own_parameters(tmp_path):
    """A custom entry is checked all the way down, as the manager would start: its backend
    imported (plugin files loaded), its backend_config validated by that backend's model."""
    plugins = str(REPO / "examples" / "plugins")
    good = {"backend": "localdir", "plugin_enabled": True, "plugin_path": plugins, "backend_config": {"root": str(tmp_path / "r")}}
    managers = {
        "ok": {"class_path": "custom", "parameters": good},
        "nomodule": {"class_path": "custom", "parameters": {"backend": "nosuch_pkg.module:Thing"}},
        "noplugin": {"class_path": "custom", "parameters": {**good, "backend": "not-in-the-dir"}},
        "badparams": {
            "class_path": "custom",
            "parameters": {"backend": "sqlite", "backend_config": {"database_path": "x.db", "journal_mode": "BOGUS"}},
        },
    }
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump({"checkpoint_managers": managers, "default_manager": "ok"}))
    result = run("config", "validate", str(path))
    assert result.exit_code == 1
    errors = sorted(result.stderr.splitlines())
    assert len(errors) == 3, result.stderr
    assert errors[0].startswith("error: checkpoint_managers.badparams.parameters.backend_config: ")
    assert "journal_mode" in errors[0]
    assert errors[1].startswith("error: checkpoint_managers.nomodule.parameters.backend: nosuch_pkg.module:Thing: ")
    assert errors[2].startswith("error: checkpoint_managers.noplugin.parameters.backend: unknown manager 'not-in-the-dir'")
    for broken in ("nomodule", "noplugin", "badparams"):
        del managers[broken]
    path.write_text(yaml.safe_dump({"checkpoint_managers": managers, "default_manager": "ok"}))
    assert run("config", "validate", str(path)).exit_code == 0
