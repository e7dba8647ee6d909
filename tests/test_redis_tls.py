"""Redis over TLS: ``rediss://`` and ``ssl: true`` with a private CA, mutual TLS, a TLS
cluster, and clear (never hanging, never password-leaking) failures.

A throwaway CA and server/client certificates are made with ``cryptography``
(``testing.servers.make_test_certificates``); our own ``redis-server`` processes listen
with TLS only (``--port 0 --tls-port``) on free 127.0.0.1 ports. A missing
``redis-server`` fails the fixtures (never a skip).
"""

from __future__ import annotations

import time
import uuid

import pytest
from langchain_core.messages import HumanMessage

from langgraph_ckpt_config.errors import BackendUnavailableError, ManagerError
from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import chat_graph
from langgraph_ckpt_config.testing.servers import RedisServer, free_port, make_test_certificates, start_cluster

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_test_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """A second CA that vouches for nothing our servers present."""
    return make_test_certificates(tmp_path_factory.mktemp("other-ca"), name="someone else")


@pytest.fixture(scope="module")
def tls_server(certs, tmp_path_factory):
    server = RedisServer(free_port(), tmp_path_factory.mktemp("tls"), tls=certs, password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mtls_server(certs, tmp_path_factory):
    server = RedisServer(free_port(), tmp_path_factory.mktemp("mtls"), tls=certs, tls_auth_clients=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_cluster(certs, tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("tls-cluster"), tls=certs)
    yield cluster
    cluster.stop()


def _params(server, certs, how: str, **extra) -> dict:
    """Connection parameters for ``server``: a ``rediss://`` url or ``ssl: true`` + host/port."""
    if how == "url":
        params = {"url": f"rediss://:{PASSWORD}@127.0.0.1:{server.port}/0"}
    else:
        params = {"host": "127.0.0.1", "port": server.port, "ssl": True, "password": PASSWORD}
    return {**params, "ssl_ca_certs": str(certs.ca_cert), **extra}


def _manager(**params) -> RedisCheckpointManager:
    base = {"cleanup_interval": 0, "connection_timeout": 3, "socket_timeout": 3, "key_prefix": f"tls:{uuid.uuid4().hex[:8]}:"}
    return RedisCheckpointManager({**base, **params})


def _graph(manager):
    return chat_graph().compile(checkpointer=ConfigCheckpointSaver(manager))


def _round_trip(manager, text: str = "over tls") -> str:
    graph = _graph(manager)
    cfg = {"configurable": {"thread_id": "tls"}}
    graph.invoke({"messages": [HumanMessage(text, id="m1")]}, cfg)
    return graph.get_state(cfg).values["messages"][0].content


async def _around_trip(manager, text: str = "async over tls") -> str:
    graph = _graph(manager)
    cfg = {"configurable": {"thread_id": "tls-async"}}
    await graph.ainvoke({"messages": [HumanMessage(text, id="a1")]}, cfg)
    return (await graph.aget_state(cfg)).values["messages"][0].content


def _fails_fast(call, *, within: float = 20) -> BackendUnavailableError:
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        call()
    assert time.monotonic() - started < within, "a failed TLS connection must fail, not hang"
    return info.value


# --------------------------------------------------------------------------- private CA
@pytest.mark.parametrize("how", ["url", "flag"])
def test_sync_round_trip_with_a_private_ca(tls_server, certs, how):
    manager = _manager(**_params(tls_server, certs, how))
    try:
        manager.initialize()
        assert manager._uses_tls
        assert _round_trip(manager) == "over tls"
        assert PASSWORD not in repr(manager) and PASSWORD not in str(manager)
    finally:
        manager.close()


@pytest.mark.parametrize("how", ["url", "flag"])
async def test_async_round_trip_with_a_private_ca(tls_server, certs, how):
    manager = _manager(**_params(tls_server, certs, how))
    try:
        manager.initialize()
        assert await _around_trip(manager) == "async over tls"
        assert _graph(manager).get_state({"configurable": {"thread_id": "tls-async"}}).values["messages"]  # sync client too
    finally:
        await manager.aclose()


def test_ssl_flag_upgrades_a_redis_url(tls_server, certs):
    manager = _manager(url=f"redis://:{PASSWORD}@127.0.0.1:{tls_server.port}/0", ssl=True, ssl_ca_certs=str(certs.ca_cert))
    try:
        manager.initialize()
        assert _round_trip(manager) == "over tls"
    finally:
        manager.close()


def test_the_tls_port_refuses_plain_redis(tls_server):
    """The round trips above really used TLS: the server speaks nothing else."""
    manager = _manager(url=f"redis://:{PASSWORD}@127.0.0.1:{tls_server.port}/0")
    error = _fails_fast(manager.initialize)
    assert PASSWORD not in str(error)
    manager.close()


def test_unverified_tls_needs_no_ca(tls_server):
    """``ssl_cert_reqs: none`` encrypts without checking the server (the hostname check goes with it)."""
    manager = _manager(host="127.0.0.1", port=tls_server.port, ssl=True, password=PASSWORD, ssl_cert_reqs="none")
    try:
        manager.initialize()
        assert _round_trip(manager) == "over tls"
    finally:
        manager.close()


def test_hostname_is_checked_against_the_certificate(tls_server, certs):
    manager = _manager(**_params(tls_server, certs, "flag", host="localhost"))  # in the certificate's SAN
    try:
        manager.initialize()
        assert _round_trip(manager) == "over tls"
    finally:
        manager.close()


# --------------------------------------------------------------------------- failures
@pytest.mark.parametrize("how", ["url", "flag"])
def test_a_ca_that_does_not_vouch_for_the_server_is_refused(tls_server, certs, other_ca, how):
    manager = _manager(**_params(tls_server, certs, how, ssl_ca_certs=str(other_ca.ca_cert)))
    error = _fails_fast(manager.initialize)
    message = str(error)
    assert "certificate verify failed" in message, message
    assert PASSWORD not in message and PASSWORD not in repr(error)
    manager.close()


def test_system_cas_do_not_vouch_for_a_private_ca(tls_server, certs):
    params = _params(tls_server, certs, "flag")
    del params["ssl_ca_certs"]
    error = _fails_fast(_manager(**params).initialize)
    assert "certificate verify failed" in str(error)


async def test_async_failures_are_clear_too(tls_server, certs, other_ca):
    manager = _manager(**_params(tls_server, certs, "url"))
    manager.initialize()
    try:
        manager.params.ssl_ca_certs = str(other_ca.ca_cert)  # only the async client, made now, sees it
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as info:
            await _around_trip(manager)
        assert time.monotonic() - started < 20
        assert "certificate verify failed" in str(info.value) and PASSWORD not in str(info.value)
    finally:
        await manager.aclose()


def test_a_wrong_password_over_tls_is_not_echoed(tls_server, certs):
    manager = _manager(url=f"rediss://:not-{PASSWORD}@127.0.0.1:{tls_server.port}/0", ssl_ca_certs=str(certs.ca_cert))
    with pytest.raises(ManagerError, match="authentication failed") as info:
        manager.initialize()
    assert f"not-{PASSWORD}" not in str(info.value) and f"not-{PASSWORD}" not in repr(manager)
    manager.close()


# --------------------------------------------------------------------------- mutual TLS
def test_mutual_tls_with_the_client_certificate(mtls_server, certs):
    manager = _manager(
        url=f"rediss://127.0.0.1:{mtls_server.port}", ssl_ca_certs=str(certs.ca_cert),
        ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key),
    )
    try:
        manager.initialize()
        assert _round_trip(manager) == "over tls"
    finally:
        manager.close()


async def test_mutual_tls_async(mtls_server, certs):
    manager = _manager(
        host="127.0.0.1", port=mtls_server.port, ssl=True, ssl_ca_certs=str(certs.ca_cert),
        ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key),
    )
    try:
        manager.initialize()
        assert await _around_trip(manager) == "async over tls"
    finally:
        await manager.aclose()


def test_mutual_tls_without_a_client_certificate_fails_fast(mtls_server, certs):
    manager = _manager(host="127.0.0.1", port=mtls_server.port, ssl=True, ssl_ca_certs=str(certs.ca_cert))
    _fails_fast(manager.initialize)
    manager.close()


def test_mutual_tls_with_a_certificate_of_another_ca_fails_fast(mtls_server, certs, other_ca):
    manager = _manager(
        host="127.0.0.1", port=mtls_server.port, ssl=True, ssl_ca_certs=str(certs.ca_cert),
        ssl_certfile=str(other_ca.client_cert), ssl_keyfile=str(other_ca.client_key),
    )
    _fails_fast(manager.initialize)
    manager.close()


async def test_mutual_tls_without_a_client_certificate_fails_fast_async(mtls_server, certs):
    with_cert = _manager(
        host="127.0.0.1", port=mtls_server.port, ssl=True, ssl_ca_certs=str(certs.ca_cert),
        ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key),
    )
    with_cert.initialize()  # the sync client connects with the certificate
    try:
        with_cert.params.ssl_certfile = with_cert.params.ssl_keyfile = None  # the async client has none
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError):
            await _around_trip(with_cert)
        assert time.monotonic() - started < 20
    finally:
        await with_cert.aclose()


# --------------------------------------------------------------------------- cluster
@pytest.mark.parametrize("how", ["nodes", "url"])
async def test_tls_cluster_sync_and_async(tls_cluster, certs, how):
    if how == "nodes":
        params = {"cluster_enabled": True, "ssl": True, "cluster_nodes": [{"host": n.host, "port": n.port} for n in tls_cluster.nodes]}
    else:
        params = {"cluster_enabled": True, "url": f"rediss://127.0.0.1:{tls_cluster.nodes[0].port}"}
    manager = _manager(**params, ssl_ca_certs=str(certs.ca_cert))
    try:
        manager.initialize()
        assert _round_trip(manager) == "over tls"
        assert await _around_trip(manager) == "async over tls"
    finally:
        await manager.aclose()
