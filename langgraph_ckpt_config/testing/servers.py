"""Real servers on free loopback ports, for tests, notebooks and plugin authors.

* ``RedisServer`` -- a ``redis-server`` process (no persistence) in a temp directory; with
  ``tls=make_test_certificates(dir)`` it listens with TLS only (``--port 0 --tls-port``),
  optionally requiring client certificates (``tls_auth_clients=True``);
* ``make_test_certificates`` -- a throwaway CA, a server certificate for 127.0.0.1/localhost
  and a client certificate (needs ``cryptography``);
* ``start_cluster`` -- three ``--cluster-enabled`` servers joined by ``redis-cli --cluster create``;
* ``start_moto_s3`` -- moto's S3 API server (``ThreadedMotoServer``);
* ``FaultProxy`` -- an HTTP proxy that can answer 5xx or drop connections on demand.

Everything binds to 127.0.0.1 only and is stopped explicitly (``stop()``).
"""

from __future__ import annotations

import http.client
import random
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    """A free loopback port; ``with_bus`` also needs port + 10000 free (Redis Cluster's bus port)."""
    if not with_bus:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _is_free(port) and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of ``make_test_certificates``: a CA and the certificates it signed."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_test_certificates(directory: Path, *, name: str = "lgckpt test", days: int = 1) -> TLSFiles:
    """A throwaway CA (``name`` CA) plus a server certificate (SAN ``127.0.0.1`` and
    ``localhost``) and a client certificate signed by it, written to ``directory``.

    EC P-256 keys (fast to make); valid from five minutes ago for ``days`` days.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def subject(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(stem: str, key, cert) -> tuple[Path, Path]:
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert_path, key_path

    def builder(cn: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder().subject_name(subject(cn)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder(f"{name} CA", subject(f"{name} CA"), ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_cert, ca_key_path = write("ca", ca_key, ca)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    paths: dict[str, tuple[Path, Path]] = {}
    # The server certificate also authenticates a node as a client on a TLS cluster bus.
    usages = {"server": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], "client": [ExtendedKeyUsageOID.CLIENT_AUTH]}
    for who, usage in usages.items():
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            builder(f"{name} {who}", ca.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .add_extension(aki, critical=False)
        )
        if who == "server":
            b = b.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        paths[who] = write(who, key, b.sign(ca_key, hashes.SHA256()))
    return TLSFiles(ca_cert, ca_key_path, *paths["server"], *paths["client"])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH: install Redis (apt-get install redis-server) to run these tests")
    return path


@dataclass
class RedisServer:
    port: int
    directory: Path
    cluster: bool = False
    host: str = "127.0.0.1"
    #: TLS only: ``port`` is the TLS port (``--tls-port``), the plain port is off.
    tls: TLSFiles | None = None
    #: With ``tls``: clients must present a certificate signed by the CA (mutual TLS).
    tls_auth_clients: bool = False
    #: ``--requirepass``: clients (and ``cli``) must authenticate.
    password: str | None = field(default=None, repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.directory / f"redis-{self.port}.log"

    def start(self) -> RedisServer:
        if self.tls is None:
            ports = ["--port", str(self.port)]
        else:
            ports = [
                "--port", "0", "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.server_cert), "--tls-key-file", str(self.tls.server_key),
                "--tls-ca-cert-file", str(self.tls.ca_cert),
                "--tls-auth-clients", "yes" if self.tls_auth_clients else "no",
            ]
            if self.cluster:
                ports += ["--tls-cluster", "yes"]
        args = [
            _binary("redis-server"), *ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.directory), "--protected-mode", "no", "--loglevel", "warning",
            "--logfile", str(self.log_path),
        ]
        if self.password is not None:
            args += ["--requirepass", self.password]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf", "--cluster-node-timeout", "2000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()
        return self

    @property
    def cli_tls_args(self) -> list[str]:
        """``redis-cli`` options to reach this server (TLS with our CA and client certificate, password)."""
        args = [] if self.password is None else ["-a", self.password, "--no-auth-warning"]
        if self.tls is None:
            return args
        return args + ["--tls", "--cacert", str(self.tls.ca_cert), "--cert", str(self.tls.client_cert), "--key", str(self.tls.client_key)]

    def cli(self, *args: str, timeout: float = 30) -> str:
        return subprocess.run(
            [_binary("redis-cli"), "-h", self.host, "-p", str(self.port), *self.cli_tls_args, *args],
            capture_output=True, text=True, timeout=timeout, check=True,
        ).stdout

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited: {self.log_path.read_text()[-2000:] if self.log_path.exists() else ''}")
            try:
                if "PONG" in self.cli("ping", timeout=2):
                    return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@dataclass
class RedisCluster:
    nodes: list[RedisServer]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(directory: Path, size: int = 3, *, tls: TLSFiles | None = None) -> RedisCluster:
    """``size`` masters joined by ``redis-cli --cluster create``; with ``tls`` the clients
    and the cluster bus use TLS only (``--tls-cluster yes``)."""
    cluster = RedisCluster([])
    try:
        for _ in range(size):
            cluster.nodes.append(RedisServer(free_port(with_bus=True), directory, cluster=True, tls=tls).start())
        nodes = cluster.nodes
        subprocess.run(
            [_binary("redis-cli"), *nodes[0].cli_tls_args, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60, check=True,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if all("cluster_state:ok" in n.cli("cluster", "info") for n in nodes):
                return cluster
            time.sleep(0.1)
        raise RuntimeError("redis cluster did not reach cluster_state:ok")
    except BaseException:
        cluster.stop()  # no orphaned servers when the cluster cannot form
        raise


@dataclass
class S3Server:
    endpoint_url: str
    port: int
    server: object = field(default=None, repr=False)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def start_moto_s3() -> S3Server:
    """moto's S3 server on a free loopback port (stop it with ``.stop()``)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Server(f"http://127.0.0.1:{port}", port, server)


class FaultProxy:
    """Forwards HTTP to ``target_port``; ``fail(n, status)`` answers the next n requests with
    ``status`` (or drops the connection when status is 0)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.lock = threading.Lock()
        self.failures_left = 0
        self.failure_status = 503
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.requests += 1
                    fail = proxy.failures_left > 0
                    if fail:
                        proxy.failures_left -= 1
                    status = proxy.failure_status
                if fail:
                    if status == 0:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    payload = b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"127.0.0.1:{proxy.target_port}"
                conn.request(self.command, self.path, body=body, headers=headers)
                res = conn.getresponse()
                data = res.read()
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, count: int, status: int = 503) -> None:
        with self.lock:
            self.failures_left = count
            self.failure_status = status

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
