"""The manager contract suite over every backend case (see tests/backend_cases.py)."""

from langgraph_ckpt_config.testing.contract import ManagerContract


class TestManagerContract(ManagerContract):
    """Runs ``ManagerContract`` with the ``manager_factory`` fixture from conftest."""
