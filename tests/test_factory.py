"""Registry and factory: class paths, caching by overrides, groups, no silent fallback."""

from __future__ import annotations

import logging

import pytest

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
