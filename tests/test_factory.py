"""Registry and factory: class paths, caching by overrides, groups, no silent fallback."""

from __future__ import annotations

import base64
import logging

import pytest
from pydantic import SecretStr

from langgraph_ckpt_config.config.models import MemoryParameters
from langgraph_ckpt_config.errors import BackendUnavailableError, ConfigError, ManagerError, RegistryError
from langgraph_ckpt_config.factory import CheckpointManagerFactory
from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager
from langgraph_ckpt_config.registry import get_manager_class, register_manager, symbol_by_name, unregister_manager

MEMORY = "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager"


class BrokenManager(MemoryCheckpointManager):
    """Fails to start, like a backend whose server is down."""

    parameters_model = MemoryParameters

    def _open(self) -> None:
        raise ConnectionRefusedError("server at 127.0.0.1:1 refused the connection")


class NotAManager:
    pass


def _config(**extra_entries) -> dict:
    return {
        "checkpoint_managers": {
            "mem": {"class_path": MEMORY, "priority": 10},
            "disk": {"class_path": "langgraph_ckpt_config.managers.sqlite:SqliteCheckpointManager", "priority": 20, "parameters": {"database_path": "${LGCKPT_TEST_DB}"}},
            "off": {"class_path": MEMORY, "enabled": False},
            **extra_entries,
        },
        "default_manager": "mem",
        "manager_groups": {"pair": {"managers": ["mem", "disk"]}},
    }


@pytest.fixture(autouse=True)
def _db(monkeypatch, tmp_path):
    monkeypatch.setenv("LGCKPT_TEST_DB", str(tmp_path / "f.db"))


def test_create_default_and_cache_by_overrides():
    with CheckpointManagerFactory(_config()) as factory:
        a = factory.get_default_manager()
        assert isinstance(a, MemoryCheckpointManager) and a.is_initialized
        assert factory.create_manager("mem") is a
        b = factory.create_manager("mem", max_checkpoints=5)
        assert b is not a and b.params.max_checkpoints == 5
        assert factory.create_manager("mem", max_checkpoints=5) is b
        nested = factory.create_manager("mem", client_encryption={"enabled": False})
        assert nested is factory.create_manager("mem", client_encryption={"enabled": False})
    assert not a.is_initialized and not b.is_initialized  # close() closes every cached manager


def test_available_managers_and_groups():
    with CheckpointManagerFactory(_config()) as factory:
        assert factory.list_available_managers() == ["disk", "mem"]
        group = factory.create_group("pair")
        assert set(group) == {"mem", "disk"}
        with pytest.raises(ManagerError, match="no manager group 'nope'"):
            factory.create_group("nope")


def test_disabled_manager_is_an_error():
    with CheckpointManagerFactory(_config()) as factory:
        with pytest.raises(ManagerError, match="disabled.*enabled: true"):
            factory.create_manager("off")


def test_no_silent_fallback():
    broken = {"class_path": f"{__name__}:BrokenManager"}
    with CheckpointManagerFactory(_config(broken=broken)) as factory:
        with pytest.raises(BackendUnavailableError, match="'broken' could not start.*refused"):
            factory.create_manager("broken")


def test_explicit_fallback_warns(caplog):
    broken = {"class_path": f"{__name__}:BrokenManager", "fallback": "mem"}
    with CheckpointManagerFactory(_config(broken=broken)) as factory:
        with caplog.at_level(logging.WARNING):
            manager = factory.create_manager("broken")
        assert isinstance(manager, MemoryCheckpointManager) and not isinstance(manager, BrokenManager)
        assert "'broken' could not start" in caplog.text and "'mem'" in caplog.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_xyz:Thing", "module 'no_such_module_xyz' not found"),
        ("langgraph_ckpt_config.managers.memory:Nope", "has no attribute 'Nope'"),
        (f"{__name__}:NotAManager", "does not implement ICheckpointManager"),
        ("justaname", "unknown manager 'justaname'"),
    ],
)
def test_registry_errors(path, message):
    with pytest.raises(RegistryError, match=message):
        get_manager_class(path)


def test_bad_class_path_in_config_names_the_field():
    with pytest.raises(ConfigError, match=r"checkpoint_managers\.bad\.class_path"):
        CheckpointManagerFactory(_config(bad={"class_path": "no_such_module_xyz:Thing"}))


def test_register_manager_names_and_duplicates():
    register_manager("test-mem", MemoryCheckpointManager)
    try:
        assert get_manager_class("test-mem") is MemoryCheckpointManager
        with pytest.raises(RegistryError, match="already registered"):
            register_manager("test-mem", MemoryCheckpointManager)
        with pytest.raises(RegistryError, match="already registered"):
            register_manager("sqlite", MemoryCheckpointManager)
        with pytest.raises(RegistryError, match="does not implement"):
            register_manager("test-bad", NotAManager)  # type: ignore[arg-type]
        register_manager("test-mem", MEMORY, clobber=True)
        assert get_manager_class("test-mem") is MemoryCheckpointManager
    finally:
        unregister_manager("test-mem")


def test_symbol_by_name_both_spellings():
    assert symbol_by_name(MEMORY) is symbol_by_name(MEMORY.replace(":", ".")) is MemoryCheckpointManager


# ---------------------------------------------------------------------------- more factory / registry behaviour

# A well-formed key spec (keys are parsed, and kept for reading, even with encryption off).
SECRET = "k1:" + base64.b64encode(b"pw-that-must-not-leak-0123456789").decode()


class LeakyBrokenManager(MemoryCheckpointManager):
    """Fails to start with the password in its error, as some drivers do."""

    parameters_model = MemoryParameters
    closed_after_failure: list[str] = []

    def _open(self) -> None:
        raise RuntimeError(f"AUTH failed for password {self.params.client_encryption.keys.get_secret_value()}")

    def close(self) -> None:
        LeakyBrokenManager.closed_after_failure.append(self.name)
        super().close()


def test_fallback_warning_has_no_secret_and_failed_manager_is_closed(caplog, monkeypatch):
    monkeypatch.setenv("LGCKPT_TEST_KEYS", SECRET)
    leaky = {
        "class_path": f"{__name__}:LeakyBrokenManager",
        "fallback": "mem",
        "parameters": {"client_encryption": {"keys": "${LGCKPT_TEST_KEYS}"}},
    }
    LeakyBrokenManager.closed_after_failure.clear()
    with CheckpointManagerFactory(_config(leaky=leaky)) as factory:
        with caplog.at_level(logging.WARNING):
            manager = factory.create_manager("leaky")
        assert manager is factory.create_manager("mem")  # the fallback is the cached 'mem' instance
        assert "'leaky' could not start" in caplog.text and "***" in caplog.text
        assert SECRET not in caplog.text
        assert LeakyBrokenManager.closed_after_failure == ["leaky"]


def test_without_fallback_the_secret_free_error_chains_the_cause(monkeypatch):
    monkeypatch.setenv("LGCKPT_TEST_KEYS", SECRET)
    leaky = {"class_path": f"{__name__}:LeakyBrokenManager", "parameters": {"client_encryption": {"keys": "${LGCKPT_TEST_KEYS}"}}}
    with CheckpointManagerFactory(_config(leaky=leaky)) as factory:
        with pytest.raises(BackendUnavailableError) as info:
            factory.create_manager("leaky")
    assert SECRET not in str(info.value) and isinstance(info.value.__cause__, RuntimeError)


def test_configuration_errors_never_fall_back():
    broken = {"class_path": f"{__name__}:BrokenManager", "fallback": "mem"}
    with CheckpointManagerFactory(_config(broken=broken)) as factory:
        with pytest.raises(ConfigError, match=r"^override max_checkpoints \(for manager 'broken'\): got 'many'"):
            factory.create_manager("broken", max_checkpoints="many")


def test_cache_distinguishes_secret_overrides():
    with CheckpointManagerFactory(_config()) as factory:
        key_a = "k1:" + base64.b64encode(b"a" * 32).decode()
        key_b = "k1:" + base64.b64encode(b"b" * 32).decode()
        a = factory.create_manager("mem", client_encryption={"keys": SecretStr(key_a)})
        b = factory.create_manager("mem", client_encryption={"keys": SecretStr(key_b)})
        assert a is not b
        assert factory.create_manager("mem", client_encryption={"keys": SecretStr(key_a)}) is a


def test_env_selects_manager_and_factory_accepts_paths(monkeypatch, tmp_path):
    import yaml

    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(_config()))
    monkeypatch.setenv("LANGGRAPH_CKPT_MANAGER", "disk")
    with CheckpointManagerFactory(str(path)) as factory:
        assert factory.get_default_manager() is factory.create_manager("disk")
    monkeypatch.setenv("LANGGRAPH_CKPT_CONFIG", str(path))
    monkeypatch.delenv("LANGGRAPH_CKPT_MANAGER")
    with CheckpointManagerFactory() as factory:
        assert factory.config.source == str(path)
        assert factory.get_default_manager() is factory.create_manager("mem")


def test_closed_manager_is_rebuilt():
    with CheckpointManagerFactory(_config()) as factory:
        first = factory.create_manager("mem")
        first.close()
        second = factory.create_manager("mem")
        assert second is not first and second.is_initialized


def test_missing_optional_dependency_gives_install_hint(tmp_path, monkeypatch):
    (tmp_path / "lgckpt_needs_redis.py").write_text("import redis\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(__import__("sys").modules, "redis", None)  # as if redis were not installed
    with pytest.raises(RegistryError, match=r"pip install 'langgraph-ckpt-config\[redis\]'"):
        get_manager_class("lgckpt_needs_redis:Manager")


def test_register_rejects_a_non_path_string_and_view_is_read_only():
    from langgraph_ckpt_config.registry import available_managers

    with pytest.raises(RegistryError, match="'module:Class'"):
        register_manager("test-str", "not a path")
    view = available_managers()
    assert view["sqlite"].endswith(":SqliteCheckpointManager")
    with pytest.raises(TypeError):
        view["x"] = "y"  # type: ignore[index]


class LeakyManager(MemoryCheckpointManager):
    """Fails to start with an error that repeats its credentials (as some drivers do)."""

    parameters_model = MemoryParameters

    def _open(self) -> None:
        raise ConnectionRefusedError(f"auth failed for password {self.params.model_extra.get('password')}")


def test_backend_config_secrets_never_in_errors():
    config = {
        "checkpoint_managers": {
            "leaky": {
                "class_path": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
                "parameters": {"backend": f"{__name__}:LeakyManager", "backend_config": {"password": "hunter2-plugin-secret"}},
            }
        }
    }
    with CheckpointManagerFactory(config) as factory:
        with pytest.raises(BackendUnavailableError) as info:
            factory.create_manager("leaky")
    assert "hunter2-plugin-secret" not in str(info.value)


REDIS = "langgraph_ckpt_config.managers.redis:RedisCheckpointManager"


def _redis_at(url: str) -> dict:
    # port 1: nothing listens there, so the manager fails fast without any server
    return {"class_path": REDIS, "fallback": "mem", "parameters": {"url": url, "connection_timeout": 0.3, "socket_timeout": 0.3}}


def test_unparsable_redis_url_is_a_config_error_naming_the_field_without_its_content():
    with CheckpointManagerFactory(_config(r=_redis_at("redis://:TOP/SECRET8@127.0.0.1:1/0"))) as factory:
        with pytest.raises(ConfigError) as info:
            factory.create_manager("r")  # a config problem: never a reason to use the fallback
    assert info.value.path == "checkpoint_managers.r.parameters.url"
    assert "not a valid Redis URL" in str(info.value)
    assert "TOP" not in str(info.value) and "SECRET8" not in str(info.value) and info.value.__cause__ is None


def test_unavailable_redis_error_hides_a_password_containing_at(caplog):
    entry = _redis_at("redis://u:TOP@SECRET7@127.0.0.1:1/0")
    del entry["fallback"]
    with CheckpointManagerFactory(_config(r=entry)) as factory:
        with pytest.raises(BackendUnavailableError) as info:
            factory.create_manager("r")
    assert "redis://u:***@127.0.0.1:1/0" in str(info.value)
    assert "TOP" not in str(info.value) and "SECRET7" not in str(info.value)


class UrlParameters(MemoryParameters):
    url: SecretStr | None = None


class UrlQuotingManager(MemoryCheckpointManager):
    """Fails to start quoting a piece of its URL's password, as redis-py does with a '/' in it."""

    parameters_model = UrlParameters

    def _open(self) -> None:
        raise ValueError("Port could not be cast to integer value as 'TOPSECRET'")


def test_start_failure_quoting_part_of_a_url_secret_is_redacted(caplog):
    entry = {"class_path": f"{__name__}:UrlQuotingManager", "fallback": "mem", "parameters": {"url": "redis://:TOPSECRET/MORE@h:1/0"}}
    with CheckpointManagerFactory(_config(q=entry)) as factory:
        with caplog.at_level(logging.WARNING):
            factory.create_manager("q")
    assert "'q' could not start (ValueError: Port could not be cast to integer value as '***')" in caplog.text
    assert "TOPSECRET" not in caplog.text
