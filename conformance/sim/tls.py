"""Credentials for the simulated API server: a private CA, a server certificate, a token.

kubectl (Go's x509) only accepts a server certificate whose subjectAltName covers the
address it dials; a CN alone fails with "x509: certificate relies on legacy Common Name
field, use SANs instead". So every host becomes a SAN entry, IP literals as IP SANs.

Files written into the credentials directory (0700):

- ``ca.crt``      the CA certificate (PEM). The CA key is never written: nothing can mint
  further certificates from it, and new credentials mean a new CA.
- ``server.crt``  the server certificate (PEM), signed by the CA.
- ``server.key``  the server key (PEM, PKCS#8, 0600).
- ``token``       the bearer token (0600).

The kubeconfig written by :func:`write_kubeconfig` embeds the CA and the token, so it is
0600 as well. Use :func:`redact` before logging anything that may contain the token.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_CERT_FILE",
    "DEFAULT_HOSTS",
    "KEY_FILE",
    "REDACTED",
    "SERVER_CERT_FILE",
    "TOKEN_FILE",
    "Credentials",
    "load_credentials",
    "make_credentials",
    "redact",
    "server_ssl_context",
    "write_kubeconfig",
]

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")
CA_CERT_FILE = "ca.crt"
SERVER_CERT_FILE = "server.crt"
KEY_FILE = "server.key"
TOKEN_FILE = "token"
REDACTED = "<redacted>"

VALIDITY = dt.timedelta(days=365)
# Backdate notBefore a little so a client whose clock lags slightly still accepts it.
_BACKDATE = dt.timedelta(hours=1)
# load_credentials regenerates certificates that expire sooner than this.
_RENEW_BEFORE = dt.timedelta(days=1)


@dataclass(frozen=True)
class Credentials:
    """Where the server's TLS material lives, plus the bearer token and the CA in PEM."""

    ca_cert_path: Path
    cert_path: Path
    key_path: Path
    token: str
    ca_pem: str

    def __repr__(self) -> str:  # keep the token out of tracebacks and logs
        return (
            f"Credentials(ca_cert_path={str(self.ca_cert_path)!r}, "
            f"cert_path={str(self.cert_path)!r}, key_path={str(self.key_path)!r}, "
            f"token={REDACTED!r})"
        )


def _san_entry(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only, even if the file existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
    finally:
        if fd != -1:
            os.close(fd)


def make_credentials(directory: Path, *, hosts: Sequence[str] = DEFAULT_HOSTS) -> Credentials:
    """Generate a fresh CA, a server certificate for ``hosts`` and a token in ``directory``.

    Existing files are overwritten. Keys are EC P-256; both certificates are valid for a
    year. The CA key lives only in memory.
    """
    if not hosts:
        raise ValueError("make_credentials needs at least one host for the certificate")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)  # an existing one is left as is

    now = dt.datetime.now(dt.timezone.utc)
    not_before, not_after = now - _BACKDATE, now + VALIDITY

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "conformance-sim"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"conformance-sim CA {secrets.token_hex(4)}"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "conformance-sim"),
                    x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([_san_entry(h) for h in dict.fromkeys(hosts)]),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_path = directory / CA_CERT_FILE
    cert_path = directory / SERVER_CERT_FILE
    key_path = directory / KEY_FILE
    token = secrets.token_urlsafe(32)

    _write_private(
        key_path,
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(directory / TOKEN_FILE, (token + "\n").encode("ascii"))
    ca_path.write_bytes(ca_pem)
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    return Credentials(
        ca_cert_path=ca_path,
        cert_path=cert_path,
        key_path=key_path,
        token=token,
        ca_pem=ca_pem.decode("ascii"),
    )


def _spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _reusable(directory: Path, hosts: Sequence[str]) -> Credentials | None:
    """The credentials in ``directory`` if complete, consistent and valid for ``hosts``."""
    paths = [directory / n for n in (CA_CERT_FILE, SERVER_CERT_FILE, KEY_FILE, TOKEN_FILE)]
    if not all(p.is_file() for p in paths):
        return None
    ca_path, cert_path, key_path, token_path = paths
    try:
        ca_pem = ca_path.read_bytes()
        ca_cert = x509.load_pem_x509_certificate(ca_pem)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        token = token_path.read_text(encoding="ascii").strip()
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, UnicodeError, x509.ExtensionNotFound, InvalidSignature):
        return None
    if _spki(key.public_key()) != _spki(cert.public_key()):
        return None
    deadline = dt.datetime.now(dt.timezone.utc) + _RENEW_BEFORE
    if min(cert.not_valid_after_utc, ca_cert.not_valid_after_utc) < deadline:
        return None
    if not token or any(_san_entry(h) not in sans for h in hosts):
        return None
    if (key_path.stat().st_mode | token_path.stat().st_mode) & 0o077:
        return None
    return Credentials(
        ca_cert_path=ca_path,
        cert_path=cert_path,
        key_path=key_path,
        token=token,
        ca_pem=ca_pem.decode("ascii"),
    )


def load_credentials(directory: Path, *, hosts: Sequence[str] = DEFAULT_HOSTS) -> Credentials:
    """Reuse the credentials in ``directory``, creating them first if they are unusable.

    Idempotent: once created, repeated calls return the same CA, certificate and token.
    Credentials are regenerated (all of them, so a new CA) when a file is missing or
    unreadable, the certificate is not signed by the CA or does not match the key, it
    expires within a day, it lacks a SAN for one of ``hosts``, or a key or token file has
    become readable by others.
    """
    directory = Path(directory)
    existing = _reusable(directory, hosts)
    if existing is not None:
        return existing
    return make_credentials(directory, hosts=hosts)


def server_ssl_context(creds: Credentials) -> ssl.SSLContext:
    """A server-side context presenting the server certificate (TLS 1.2+), for aiohttp."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=creds.cert_path, keyfile=creds.key_path)
    return context


def write_kubeconfig(
    path: Path,
    *,
    server_url: str,
    creds: Credentials,
    cluster_name: str = "conformance-sim",
    user: str = "conformance-admin",
    namespace: str | None = None,
) -> Path:
    """Write a kubeconfig (0600: it holds the token) for ``server_url`` and return its path.

    The cluster, and a context named like it, carry the CA inline
    (``certificate-authority-data``) and the user a bearer ``token``; the context is the
    current one. The file works with ``kubectl --kubeconfig`` and with
    ``kubernetes.config.load_kube_config(config_file=...)``.
    """
    path = Path(path)
    context: dict[str, Any] = {"cluster": cluster_name, "user": user}
    if namespace is not None:
        context["namespace"] = namespace
    ca_data = base64.b64encode(creds.ca_pem.encode("ascii")).decode("ascii")
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server_url, "certificate-authority-data": ca_data},
            }
        ],
        "users": [{"name": user, "user": {"token": creds.token}}],
        "contexts": [{"name": cluster_name, "context": context}],
        "current-context": cluster_name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    _write_private(path, text.encode("utf-8"))
    return path


def redact(text: str, creds: Credentials) -> str:
    """``text`` with every occurrence of the bearer token replaced by ``<redacted>``."""
    if not creds.token:
        return text
    return text.replace(creds.token, REDACTED)
