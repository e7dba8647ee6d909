"""Third-party backends: the example plugin loaded each of the three ways, and bad plugins.

The three ways: ``class_path`` in the YAML; the plugin directory through the ``custom``
manager (``plugin_enabled`` / ``plugin_path``); an entry point of an installed
distribution (a real ``.dist-info`` on a temporary ``sys.path`` entry, which is all
``importlib.metadata`` looks at).
"""

from __future__ import annotations

import base64
import logging
import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ckpt_config.errors import RegistryError
from langgraph_ckpt_config.factory import CheckpointManagerFactory
from langgraph_ckpt_config.plugins import PluginError, load_plugin_directory, load_plugin_file, resolve_backend
from langgraph_ckpt_config.registry import get_manager_class, reload_entry_points, unregister_manager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.conformance import assert_full_conformance
from langgraph_ckpt_config.testing.contract import ManagerContract, _lg_put
from langgraph_ckpt_config.testing.graphs import SCENARIOS, run_scenario

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO / "examples" / "plugins"
CLASS_PATH = "examples.plugins.localdir_backend:LocalDirCheckpointManager"
CUSTOM = "langgraph_ckpt_config.managers.custom:CustomCheckpointManager"
WAYS = ["class_path", "plugin_dir", "entry_point"]


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
    elif way == "plugin_dir":  # what configs/plugin_example.yaml does
        entry = {
            "class_path": CUSTOM,
            "parameters": {
                "backend": "localdir",
                "plugin_enabled": True,
                "plugin_path": str(PLUGIN_DIR),
                "backend_config": {"root": str(root)},
                "cleanup_interval": 0,
            },
        }
    elif way == "entry_point":
        entry = {
            "class_path": CUSTOM,
            "parameters": {"backend": "localdir-ep", "backend_config": {"root": str(root)}, "cleanup_interval": 0},
        }
    else:
        raise AssertionError(way)
    return {"checkpoint_managers": {"plugin": entry}, "default_manager": "plugin"}


@pytest.fixture(params=WAYS)
def way(request):
    if request.param == "entry_point":
        request.getfixturevalue("entry_point")
    return request.param


class TestLocalDirContract(ManagerContract):
    """The shared contract, exactly as a plugin author would run it, over each way of loading."""

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


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_real_graphs_each_way(way, tmp_path, scenario):
    with CheckpointManagerFactory(_config(way, tmp_path / "root")) as factory:
        ours = run_scenario(scenario, ConfigCheckpointSaver(factory.create_manager("plugin")))
    assert ours == run_scenario(scenario, InMemorySaver())


def test_plugin_dir_way_resolves_to_the_plugin_class(tmp_path):
    config = {
        "checkpoint_managers": {
            "custom": {
                "class_path": "langgraph_ckpt_config.managers.custom:CustomCheckpointManager",
                "parameters": {
                    "backend": "localdir",
                    "plugin_enabled": True,
                    "plugin_path": str(PLUGIN_DIR),
                    "backend_config": {"root": str(tmp_path / "r")},
                    "compression_enabled": True,
                },
            }
        }
    }
    with CheckpointManagerFactory(config) as factory:
        manager = factory.create_manager("custom")
        assert type(manager).__name__ == "LocalDirCheckpointManager"
        assert manager.params.compression_enabled is True and manager.params.root == str(tmp_path / "r")
        # overrides reach the backend through backend_config (deep-merged), shared ones directly
        other = factory.create_manager("custom", backend_config={"root": str(tmp_path / "o")}, max_checkpoints=7)
        assert other is not manager and other.params.root == str(tmp_path / "o") and other.params.max_checkpoints == 7
        # the shared codec settings of the custom entry reach the backend (a SecretStr key included)
        key = "base64:" + base64.b64encode(b"k" * 32).decode()
        sealed = factory.create_manager("custom", client_encryption={"enabled": True, "keys": key})
        sealed.save_checkpoint("c", {"secret": "plaintext-marker-123"}, "wf", "t")
        assert sealed.load_checkpoint("c") == {"secret": "plaintext-marker-123"}
        stored = b"".join(p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file())
        assert b"plaintext-marker-123" not in stored


# Each of these would escape the root, hide from listings, or collide with another id under
# a naive file-name scheme ("." and ".." as directories, ".tmp-" as a temp file, case folding
# on macOS, the 255-byte name limit, NUL bytes).
TRICKY_IDS = [".", "..", "../..", ".tmp-x", "~", "", "A", "a", "%41", "x" * 1024, "ü" * 300, "\x00", "con", "a/b", "*"]


def test_localdir_file_names_survive_tricky_ids(tmp_path):
    from examples.plugins.localdir_backend import LocalDirCheckpointManager

    root = tmp_path / "outer" / "root"
    (tmp_path / "outer" / "precious.txt").parent.mkdir(parents=True)
    (tmp_path / "outer" / "precious.txt").write_text("keep me")
    ids = [i for i in TRICKY_IDS if i]  # thread ids must be non-empty; namespaces may be ""
    with LocalDirCheckpointManager({"root": str(root), "cleanup_interval": 0}) as m:
        for i in ids:
            m.save_checkpoint(i, {"id": i}, "wf", i)
        for ns in TRICKY_IDS:  # namespaces, channels and checkpoint ids of one thread
            _lg_put(m, "lg", "001", ns=ns, channels={ns or "ch": ns.encode("utf-8", "surrogatepass")})
        assert sorted(m.list_thread_ids()) == sorted([*ids, "lg"])
        for i in ids:
            assert m.load_checkpoint(i, thread_id=i) == {"id": i}
        for ns in TRICKY_IDS:
            bundle = m.get_langgraph_bundle("lg", ns)
            assert bundle.record.checkpoint_ns == ns
            assert bundle.blobs[(ns or "ch", "v-001")][1] == ns.encode("utf-8", "surrogatepass")
        ids.append("lg")
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert all(len(p.name.encode()) <= 255 for p in files)
        assert all(root in p.parents for p in files if p.name != "precious.txt")
        for i in ids:
            m.delete_thread(i)
        assert m.list_thread_ids() == []
    assert (tmp_path / "outer" / "precious.txt").read_text() == "keep me"


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
        (
            "class NotAManager: pass\nLGCKPT_MANAGERS = {'bad-one': NotAManager}\n",
            "does not implement ICheckpointManager",
        ),
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


# --------------------------------------------------------------------------- declarations and errors
MEMORY = "langgraph_ckpt_config.managers.memory:MemoryCheckpointManager"


def test_register_hook_convention(tmp_path):
    path = _write_plugin(
        tmp_path,
        "hooked",
        f"""
        def register(register_manager):
            register_manager("hooked-mem", {MEMORY!r})
        """,
    )
    try:
        assert load_plugin_file(path) == ["hooked-mem"]
        assert load_plugin_file(path) == ["hooked-mem"]  # executed once per process
        assert get_manager_class("hooked-mem").__name__ == "MemoryCheckpointManager"
    finally:
        unregister_manager("hooked-mem")


def test_a_plugin_registers_all_its_names_or_none(tmp_path):
    body = "LGCKPT_MANAGERS = {{'half-ok': {m!r}, {second!r}: {m!r}}}\n"
    path = _write_plugin(tmp_path, "half", body.format(m=MEMORY, second="memory"))
    with pytest.raises(PluginError, match="half.py: a manager named 'memory' is already registered") as info:
        load_plugin_file(path)
    assert info.value.names == ("half-ok", "memory")
    with pytest.raises(RegistryError, match="unknown manager 'half-ok'"):
        get_manager_class("half-ok")
    path.write_text(body.format(m=MEMORY, second="half-ok-2"))  # fixed: loads on the next try
    try:
        assert load_plugin_file(path) == ["half-ok", "half-ok-2"]
    finally:
        unregister_manager("half-ok")
        unregister_manager("half-ok-2")


def test_register_hook_failure_is_named(tmp_path):
    path = _write_plugin(tmp_path, "hookfail", "def register(register_manager):\n    raise KeyError('nope')\n")
    with pytest.raises(PluginError, match="hookfail.py: register\\(\\) failed: KeyError") as info:
        load_plugin_file(path)
    assert isinstance(info.value.__cause__, KeyError)


def test_import_failure_chains_the_cause(tmp_path):
    path = _write_plugin(tmp_path, "chained", "import not_a_real_module_abc\n")
    with pytest.raises(PluginError, match="chained.py: import failed: ModuleNotFoundError") as info:
        load_plugin_file(path)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_plugin_clashing_with_an_entry_point_is_named(entry_point, tmp_path):
    path = _write_plugin(tmp_path, "clash", f"LGCKPT_MANAGERS = {{{entry_point!r}: {MEMORY!r}}}\n")
    with pytest.raises(PluginError, match=f"clash.py: a manager named '{entry_point}' is already registered"):
        load_plugin_file(path)


def test_one_broken_file_only_fails_the_backends_that_need_it(tmp_path, caplog):
    directory = tmp_path / "mixed"
    _write_plugin(directory, "good", f"LGCKPT_MANAGERS = {{'iso-good': {MEMORY!r}}}\n")
    _write_plugin(directory, "broken", "raise RuntimeError('broken on purpose')\n")
    _write_plugin(directory, "taken", f"LGCKPT_MANAGERS = {{'sqlite': {MEMORY!r}}}\n")
    _write_plugin(directory, "_helper", "raise RuntimeError('files starting with _ are not plugins')\n")
    try:
        with caplog.at_level(logging.WARNING, logger="langgraph_ckpt_config.plugins"):
            assert resolve_backend("iso-good", plugin_path=str(directory), plugin_enabled=True).__name__ == (
                "MemoryCheckpointManager"
            )
        assert "broken.py" in caplog.text and "taken.py" in caplog.text
        # a name the directory could not register: never silently the built-in of that name
        with pytest.raises(PluginError, match="taken.py: a manager named 'sqlite' is already registered"):
            resolve_backend("sqlite", plugin_path=str(directory), plugin_enabled=True)
        with pytest.raises(RegistryError, match="unknown manager 'iso-missing'.*broken.py: import failed"):
            resolve_backend("iso-missing", plugin_path=str(directory), plugin_enabled=True)
        with pytest.raises(PluginError, match="broken on purpose"):
            load_plugin_directory(directory)  # the strict loader stops at the first problem
    finally:
        unregister_manager("iso-good")


@pytest.mark.parametrize(
    ("class_path", "message"),
    [
        ("examples.plugins.no_such_plugin:Manager", "module 'examples.plugins.no_such_plugin' not found"),
        ("examples.plugins.localdir_backend:NoSuchClass", "has no attribute 'NoSuchClass'"),
        ("examples.plugins.localdir_backend:LocalDirParameters", "does not implement ICheckpointManager"),
    ],
)
def test_bad_class_paths_are_named(tmp_path, class_path, message):
    from langgraph_ckpt_config.errors import CkptError

    config = {"checkpoint_managers": {"p": {"class_path": class_path}}, "default_manager": "p"}
    with pytest.raises(CkptError, match=message):
        CheckpointManagerFactory(config).create_manager("p")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"backend": "custom"}, "cannot be 'custom' itself"),
        ({"backend": CUSTOM}, "cannot be 'custom' itself"),
        ({"backend": "no-such-backend"}, "unknown manager 'no-such-backend'"),
        ({"backend": "localdir", "plugin_enabled": True}, "plugin_path is not set"),
        (
            {"backend": "localdir", "plugin_enabled": True, "plugin_path": "/no/such/dir"},
            "'/no/such/dir' is not a directory",
        ),
    ],
)
def test_custom_manager_errors(parameters, message):
    from langgraph_ckpt_config.errors import ConfigError

    config = {"checkpoint_managers": {"c": {"class_path": CUSTOM, "parameters": parameters}}, "default_manager": "c"}
    # an unknown plain backend name is found when the config loads (a ConfigError naming the field)
    with pytest.raises((RegistryError, ConfigError), match=message):
        with CheckpointManagerFactory(config) as factory:
            factory.create_manager("c")
