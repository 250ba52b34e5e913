"""The simulated API server's CA, server certificate, token and kubeconfig.

Every connection made here goes to 127.0.0.1, to servers these tests start themselves.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import shutil
import ssl
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from conformance.sim.tls import (
    CA_CERT_FILE,
    KEY_FILE,
    REDACTED,
    SERVER_CERT_FILE,
    TOKEN_FILE,
    Credentials,
    load_credentials,
    make_credentials,
    redact,
    server_ssl_context,
    write_kubeconfig,
)

LOOPBACK = "127.0.0.1"


@pytest.fixture
def creds(tmp_path: Path) -> Credentials:
    return make_credentials(tmp_path / "pki")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _handshake(
    creds: Credentials, client: ssl.SSLContext, server_hostname: str = LOOPBACK
) -> tuple[dict[str, object], bytes]:
    """TLS handshake with a loopback echo server; returns the peer cert and the echo."""

    async def main() -> tuple[dict[str, object], bytes]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                writer.write(await reader.readexactly(4))
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(echo, LOOPBACK, 0, ssl=server_ssl_context(creds))
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    LOOPBACK, port, ssl=client, server_hostname=server_hostname
                ),
                timeout=10,
            )
            peer = writer.get_extra_info("peercert")
            writer.write(b"ping")
            await writer.drain()
            echoed = await asyncio.wait_for(reader.readexactly(4), timeout=10)
            writer.close()
            return peer, echoed
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def test_files_and_permissions(creds: Credentials, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert creds.ca_cert_path == pki / CA_CERT_FILE
    assert creds.cert_path == pki / SERVER_CERT_FILE
    assert creds.key_path == pki / KEY_FILE
    assert _mode(creds.key_path) == 0o600
    assert _mode(pki / TOKEN_FILE) == 0o600
    assert _mode(pki) == 0o700
    assert not list(pki.glob("ca.key*")), "the CA key must never be written"
    assert creds.ca_cert_path.read_text() == creds.ca_pem
    assert (pki / TOKEN_FILE).read_text().strip() == creds.token
    assert len(creds.token) >= 32


def test_certificate_has_ip_and_dns_sans(creds: Credentials) -> None:
    cert = x509.load_pem_x509_certificate(creds.cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(LOOPBACK)]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    ca = x509.load_pem_x509_certificate(creds.ca_pem.encode())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 364 <= lifetime.days <= 366


def test_custom_hosts(tmp_path: Path) -> None:
    creds = make_credentials(tmp_path, hosts=("10.251.0.1", "sim.local", "::1"))
    cert = x509.load_pem_x509_certificate(creds.cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("10.251.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert sans.get_values_for_type(x509.DNSName) == ["sim.local"]


def test_loopback_handshake_verifies_against_the_ca(creds: Credentials) -> None:
    client = ssl.create_default_context(cadata=creds.ca_pem)  # hostname checks on
    client.verify_flags |= ssl.VERIFY_X509_STRICT  # the default from Python 3.13 on
    peer, echoed = _handshake(creds, client)
    assert echoed == b"ping"
    assert ("IP Address", LOOPBACK) in peer["subjectAltName"]  # type: ignore[operator]
    # The DNS SAN works too (still dialling 127.0.0.1).
    _, echoed = _handshake(creds, client, server_hostname="localhost")
    assert echoed == b"ping"


def test_handshake_fails_with_another_ca(creds: Credentials, tmp_path: Path) -> None:
    other = make_credentials(tmp_path / "other")
    client = ssl.create_default_context(cadata=other.ca_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(creds, client)


def test_handshake_fails_for_a_name_not_in_the_certificate(creds: Credentials) -> None:
    client = ssl.create_default_context(cadata=creds.ca_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(creds, client, server_hostname="not-the-sim.example")


def test_load_credentials_is_idempotent(tmp_path: Path) -> None:
    first = load_credentials(tmp_path / "pki")  # creates
    second = load_credentials(tmp_path / "pki")  # reuses
    assert first == second
    assert first.ca_cert_path.read_text() == second.ca_pem


def test_load_credentials_reuses_what_make_credentials_wrote(creds: Credentials) -> None:
    assert load_credentials(creds.ca_cert_path.parent) == creds


def test_load_credentials_regenerates_when_a_host_is_missing(creds: Credentials) -> None:
    again = load_credentials(creds.ca_cert_path.parent, hosts=("127.0.0.1", "10.251.0.1"))
    assert again.ca_pem != creds.ca_pem
    assert again.token != creds.token
    cert = x509.load_pem_x509_certificate(again.cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.251.0.1") in sans.get_values_for_type(x509.IPAddress)


@pytest.mark.parametrize("damage", ["missing-token", "foreign-cert", "open-key"])
def test_load_credentials_regenerates_broken_sets(
    creds: Credentials, tmp_path: Path, damage: str
) -> None:
    pki = creds.ca_cert_path.parent
    if damage == "missing-token":
        (pki / TOKEN_FILE).unlink()
    elif damage == "foreign-cert":
        other = make_credentials(tmp_path / "other")
        shutil.copy(other.cert_path, creds.cert_path)
    else:
        os.chmod(creds.key_path, 0o644)
    again = load_credentials(pki)
    assert again.ca_pem != creds.ca_pem
    assert _mode(again.key_path) == 0o600
    assert load_credentials(pki) == again


def test_kubeconfig_loads_with_the_kubernetes_client(creds: Credentials, tmp_path: Path) -> None:
    from kubernetes import client, config

    url = "https://127.0.0.1:6443"
    path = write_kubeconfig(tmp_path / "kube" / "config", server_url=url, creds=creds)
    assert path == tmp_path / "kube" / "config"
    assert _mode(path) == 0o600

    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "conformance-sim"
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"] == url
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode() == (
        creds.ca_pem
    )
    assert doc["users"] == [{"name": "conformance-admin", "user": {"token": creds.token}}]
    assert doc["contexts"] == [
        {
            "name": "conformance-sim",
            "context": {"cluster": "conformance-sim", "user": "conformance-admin"},
        }
    ]

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == url
    # The key name differs between client versions ("authorization", "BearerToken").
    assert list(configuration.api_key.values()) == [f"Bearer {creds.token}"]
    assert configuration.verify_ssl
    assert Path(configuration.ssl_ca_cert).read_text() == creds.ca_pem


def test_kubeconfig_namespace_names_and_overwrite(creds: Credentials, tmp_path: Path) -> None:
    from kubernetes import config

    path = tmp_path / "config"
    path.write_text("stale")
    os.chmod(path, 0o644)
    write_kubeconfig(
        path,
        server_url="https://127.0.0.1:1",
        creds=creds,
        cluster_name="sim-b",
        user="alice",
        namespace="demo",
    )
    assert _mode(path) == 0o600
    contexts, active = config.list_kube_config_contexts(config_file=str(path))
    assert active == {
        "name": "sim-b",
        "context": {"cluster": "sim-b", "user": "alice", "namespace": "demo"},
    }
    assert contexts == [active]


def test_redact(creds: Credentials) -> None:
    line = f"GET /api Authorization: Bearer {creds.token} (again: {creds.token})"
    cleaned = redact(line, creds)
    assert creds.token not in cleaned
    assert cleaned == f"GET /api Authorization: Bearer {REDACTED} (again: {REDACTED})"
    assert redact("nothing secret", creds) == "nothing secret"
    assert creds.token not in repr(creds)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on the PATH")
def test_real_kubectl_accepts_the_certificate_and_sends_the_token(
    creds: Credentials, tmp_path: Path
) -> None:
    """kubectl (Go's x509 verifier) over TLS to an aiohttp server using server_ssl_context."""
    from aiohttp import web

    seen: list[str] = []

    async def version(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {creds.token}":
            return web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "Unauthorized",
                    "code": 401,
                    "message": "Unauthorized",
                },
                status=401,
            )
        return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0"})

    async def main() -> tuple[int, str, str]:
        app = web.Application()
        app.router.add_get("/version", version)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0, ssl_context=server_ssl_context(creds))
        await site.start()
        port = runner.addresses[0][1]
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", server_url=f"https://{LOOPBACK}:{port}", creds=creds
        )
        home = tmp_path / "home"
        home.mkdir()
        try:
            proc = await asyncio.create_subprocess_exec(
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--request-timeout=10s",
                "version",
                "-o",
                "json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={"PATH": os.environ["PATH"], "HOME": str(home)},
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
            assert proc.returncode is not None
            return proc.returncode, out.decode(), err.decode()
        finally:
            await runner.cleanup()

    code, out, err = asyncio.run(main())
    assert code == 0, redact(err, creds)
    assert '"gitVersion": "v1.32.0"' in out
    assert seen  # the dispatcher's /version and kubectl's own
    assert all(h == f"Bearer {creds.token}" for h in seen)
    assert creds.token not in redact(out + err, creds)
