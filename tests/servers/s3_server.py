"""Session fixture: moto's S3 server; per-test fault-injecting proxy in front of it."""

from __future__ import annotations

import pytest

from langgraph_ckpt_config.testing.servers import FaultProxy, start_moto_s3


@pytest.fixture(scope="session")
def s3_server():
    server = start_moto_s3()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_fault_proxy(s3_server):
    proxy = FaultProxy(s3_server.port)
    try:
        yield proxy
    finally:
        proxy.stop()
