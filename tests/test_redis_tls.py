"""Redis over TLS: ``rediss://`` and ``ssl: true`` with a private CA, mutual TLS, clear failures.

A throwaway CA and server/client certificates are made with ``cryptography``; a
``redis-server`` of our own listens with TLS only, on a free loopback port.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from langgraph_ckpt_config.errors import BackendUnavailableError
from langgraph_ckpt_config.managers.redis import RedisCheckpointManager
from langgraph_ckpt_config.saver import ConfigCheckpointSaver
from langgraph_ckpt_config.testing.graphs import chat_graph
from langgraph_ckpt_config.testing.servers import free_port

redis_binary = shutil.which("redis-server") or "redis-server"  # missing: the fixture fails (never a skip)


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, key, cert) -> None:
    from cryptography.hazmat.primitives import serialization

    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _certificates(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = _key()
    ca = (
        x509.CertificateBuilder().subject_name(name("lgckpt test CA")).issuer_name(name("lgckpt test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / "ca", ca_key, ca)
    for who, san in (("server", True), ("client", False)):
        key = _key()
        builder = (
            x509.CertificateBuilder().subject_name(name(f"lgckpt test {who}")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        _write(directory / who, key, builder.sign(ca_key, hashes.SHA256()))
    return {n: directory / f"{n}.crt" for n in ("ca", "server", "client")} | {
        f"{n}_key": directory / f"{n}.key" for n in ("server", "client")
    }


def _start(directory: Path, certs: dict[str, Path], *, client_auth: bool) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            redis_binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(certs["server"]), "--tls-key-file", str(certs["server_key"]),
            "--tls-ca-cert-file", str(certs["ca"]), "--tls-auth-clients", "yes" if client_auth else "no",
            "--save", "", "--appendonly", "no", "--dir", str(directory), "--protected-mode", "no",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            client = redis.Redis(
                host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(certs["ca"]), socket_timeout=1,
                ssl_certfile=str(certs["client"]) if client_auth else None,
                ssl_keyfile=str(certs["client_key"]) if client_auth else None,
            )
            if client.ping():
                client.close()
                return proc, port
        except Exception:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("TLS redis-server did not start")


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    certs = _certificates(directory)
    servers = {}
    for auth in (False, True):
        proc, port = _start(directory, certs, client_auth=auth)
        servers[auth] = port
        servers[f"proc-{auth}"] = proc
    yield certs, servers
    for auth in (False, True):
        servers[f"proc-{auth}"].kill()
        servers[f"proc-{auth}"].wait()


def _manager(**params) -> RedisCheckpointManager:
    manager = RedisCheckpointManager({"cleanup_interval": 0, "connection_timeout": 3, "socket_timeout": 3, **params})
    manager.initialize()
    return manager


def _round_trip(manager) -> list[str]:
    graph = chat_graph().compile(checkpointer=ConfigCheckpointSaver(manager))
    cfg = {"configurable": {"thread_id": "tls"}}
    graph.invoke({"messages": [HumanMessage("over tls", id="t1")]}, cfg)
    return [m.content for m in graph.get_state(cfg).values["messages"]]


def test_rediss_url_with_a_private_ca(tls):
    certs, servers = tls
    manager = _manager(url=f"rediss://:s3cret-pw@127.0.0.1:{servers[False]}/0", ssl_ca_certs=str(certs["ca"]))
    try:
        assert _round_trip(manager)[0] == "over tls"
        assert "s3cret-pw" not in repr(manager)
    finally:
        manager.close()


async def test_ssl_flag_sync_and_async(tls):
    certs, servers = tls
    manager = _manager(host="127.0.0.1", port=servers[False], ssl=True, ssl_ca_certs=str(certs["ca"]))
    try:
        saver = ConfigCheckpointSaver(manager)
        graph = chat_graph().compile(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "tls-async"}}
        await graph.ainvoke({"messages": [HumanMessage("async over tls", id="a1")]}, cfg)
        assert (await graph.aget_state(cfg)).values["messages"][0].content == "async over tls"
        assert graph.get_state(cfg).values["messages"][0].content == "async over tls"  # the sync client too
    finally:
        await manager.aclose()


def test_mutual_tls_needs_the_client_certificate(tls):
    certs, servers = tls
    port = servers[True]
    manager = _manager(
        host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(certs["ca"]),
        ssl_certfile=str(certs["client"]), ssl_keyfile=str(certs["client_key"]),
    )
    try:
        assert _round_trip(manager)[0] == "over tls"
    finally:
        manager.close()
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        bare = _manager(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(certs["ca"]))
        try:
            _round_trip(bare)
        finally:
            bare.close()
    assert time.monotonic() - started < 30  # a clear failure, not a hang


def test_a_server_the_ca_does_not_vouch_for_is_refused(tls):
    certs, servers = tls
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        manager = _manager(host="127.0.0.1", port=servers[False], ssl=True)  # system CAs only
        try:
            _round_trip(manager)
        finally:
            manager.close()
    assert "certificate" in str(info.value).lower() or "ssl" in str(info.value).lower()
    assert time.monotonic() - started < 30
