"""Third-party backends: the example plugin loaded each of the three ways, and bad plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ckpt_config.errors import RegistryError
from langgraph_ckpt_config.factory import CheckpointManagerFactory
from langgraph_ckpt_config.plugins import load_plugin_directory, load_plugin_file
from langgraph_ckpt_config.registry import reload_entry_points, unregister_manager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.conformance import assert_full_conformance
from langgraph_ckpt_config.testing.contract import ManagerContract
from langgraph_ckpt_config.testing.graphs import run_scenario

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "examples" / "plugins"
CLASS_PATH = "examples.plugins.localdir_backend:LocalDirCheckpointManager"


@pytest.fixture
def entry_point(tmp_path, monkeypatch):
    """An installed distribution (a real .dist-info on sys.path) registering 'localdir-ep'."""
    site = tmp_path / "site"
    info = site / "lgckpt_localdir_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lgckpt-localdir-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[langgraph_ckpt_config.managers]\nlocaldir-ep = {CLASS_PATH}\n")
    monkeypatch.syspath_prepend(str(site))
    reload_entry_points()
    yield "localdir-ep"
    unregister_manager("localdir-ep")
    reload_entry_points()


def _config(way: str, root: Path) -> dict:
    if way == "class_path":
        entry = {"class_path": CLASS_PATH, "parameters": {"root": str(root), "cleanup_interval": 0}}
    elif way == "entry_point":
        entry = {
            "class_path": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
            "parameters": {"backend": "localdir-ep", "backend_config": {"root": str(root)}, "cleanup_interval": 0},
        }
    else:
        raise AssertionError(way)
    return {"checkpoint_managers": {"plugin": entry}, "default_manager": "plugin"}


@pytest.fixture(params=["class_path", "entry_point"])
def way(request):
    if request.param == "entry_point":
        request.getfixturevalue("entry_point")
    return request.param


class TestLocalDirContract(ManagerContract):
    """The shared contract, exactly as a plugin author would run it (the plugin-dir way runs in
    tests/test_manager_contract.py through the 'plugin-dir' backend case)."""

    @pytest.fixture
    def manager_factory(self, way, tmp_path):
        factory = CheckpointManagerFactory(_config(way, tmp_path / "root"))
        yield lambda **overrides: factory.create_manager("plugin", **overrides)
        factory.close()


async def test_conformance_each_way(way, tmp_path):
    factory = CheckpointManagerFactory(_config(way, tmp_path / "root"))
    counter = iter(range(100))

    def make_saver():
        manager = factory.create_manager("plugin", default_workflow_id=f"w{next(counter)}")
        for tid in manager.list_thread_ids():
            manager.delete_thread(tid)
        return ConfigCheckpointSaver(manager)

    await assert_full_conformance(make_saver, name=f"localdir via {way}")
    factory.close()


@pytest.mark.parametrize("scenario", ["interrupt", "subgraph", "time_travel", "async"])
def test_real_graphs_each_way(way, tmp_path, scenario):
    with CheckpointManagerFactory(_config(way, tmp_path / "root")) as factory:
        ours = run_scenario(scenario, ConfigCheckpointSaver(factory.create_manager("plugin")))
    assert ours == run_scenario(scenario, InMemorySaver())


def test_plugin_dir_way_resolves_to_the_plugin_class(tmp_path):
    config = {
        "checkpoint_managers": {
            "custom": {
                "class_path": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
                "parameters": {"backend": "localdir", "plugin_enabled": True, "plugin_path": str(PLUGIN_DIR),
                               "backend_config": {"root": str(tmp_path / "r")}, "compression_enabled": True},
            }
        }
    }
    with CheckpointManagerFactory(config) as factory:
        manager = factory.create_manager("custom")
        assert type(manager).__name__ == "LocalDirCheckpointManager"
        assert manager.params.compression_enabled is True and manager.params.root == str(tmp_path / "r")


def _write_plugin(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise RuntimeError('boom at import')\n", "import failed: RuntimeError: boom at import"),
        ("X = 1\n", "declares no managers"),
        ("class NotAManager: pass\nLGCKPT_MANAGERS = {'bad-one': NotAManager}\n", "does not implement ICheckpointManager"),
        ("LGCKPT_MANAGERS = ['not', 'a', 'dict']\n", "must be a dict"),
        (
            "from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager\n"
            "LGCKPT_MANAGERS = {'sqlite': MemoryCheckpointManager}\n",
            "'sqlite' is already registered",
        ),
    ],
)
def test_bad_plugins_are_named(tmp_path, body, message):
    path = _write_plugin(tmp_path / "plugins", f"p{abs(hash(body)) % 10**8}", body)
    with pytest.raises(RegistryError, match=message) as info:
        load_plugin_file(path)
    assert str(path.name) in str(info.value)


def test_missing_plugin_dir_and_duplicate_names(tmp_path):
    with pytest.raises(RegistryError, match="not a directory"):
        load_plugin_directory(tmp_path / "nope")
    body = "from langgraph_ckpt_config.managers.memory import MemoryCheckpointManager\nLGCKPT_MANAGERS = {'dup-name': MemoryCheckpointManager}\n"
    _write_plugin(tmp_path / "a", "one", body)
    _write_plugin(tmp_path / "b", "two", body)
    try:
        assert load_plugin_directory(tmp_path / "a") == ["dup-name"]
        with pytest.raises(RegistryError, match="two.py.*'dup-name' is already registered"):
            load_plugin_directory(tmp_path / "b")
    finally:
        unregister_manager("dup-name")


def test_broken_plugin_does_not_take_down_other_managers(tmp_path):
    broken_dir = tmp_path / "broken"
    _write_plugin(broken_dir, "broken", "import not_a_real_module_xyz\n")
    config = {
        "checkpoint_managers": {
            "good": {"class_path": "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager"},
            "bad": {
                "class_path": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
                "parameters": {"backend": "whatever", "plugin_enabled": True, "plugin_path": str(broken_dir)},
            },
        },
        "default_manager": "good",
    }
    with CheckpointManagerFactory(config) as factory:
        with pytest.raises(RegistryError, match="broken.py: import failed.*not_a_real_module_xyz"):
            factory.create_manager("bad")
        good = factory.create_manager("good")
        good.save_checkpoint("c", {"ok": True}, "wf", "t")
        assert good.load_checkpoint("c") == {"ok": True}


def test_custom_backend_config_secrets_are_redacted(monkeypatch):
    from langgraph_ckpt_config.config.loader import load_config

    monkeypatch.setenv("CUSTOM_API_KEY", "plugin-api-key-secret")
    config = load_config(REPO / "configs" / "checkpoint_managers.yaml")
    assert "plugin-api-key-secret" not in repr(config.redacted_dict())


def test_example_config_loads():
    from langgraph_ckpt_config.config.loader import load_config

    config = load_config(REPO / "configs" / "plugin_example.yaml")
    assert config.default_manager == "custom"
