"""Test suites shipped with the package so plugin authors run what our backends pass.

* ``langgraph_ckpt_config.testing.contract.ManagerContract`` -- the manager contract.
* ``langgraph_ckpt_config.testing.conformance`` -- LangGraph's official conformance run.
* ``langgraph_ckpt_config.testing.graphs`` -- real graphs compared with ``InMemorySaver``.
"""
