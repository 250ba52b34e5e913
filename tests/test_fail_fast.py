"""A cluster that cannot be reached ends the run at once, with one screen naming the
inventory fields to fix: a refused connection, an unknown host and a TLS mismatch will not
mend themselves, so they are not retried (they used to be, for 61 s).

How fast is measured by benchmarks/fail_fast.py (about 2.5 s here); the bound below only
catches a return of the minute of retries, with room for a loaded CI machine."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import run

RETRY_BOUND = 30.0  # seconds: far below the minute that retrying took, far above the ~2.5 s

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "%s", insecure-skip-tls-verify: false}}]
users: [{name: u, user: {token: canary-token-do-not-print}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # the TLS bytes are noise
        return


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def plain_http_server() -> Iterator[int]:
    """An HTTP (not HTTPS) server: what a kubeconfig with the wrong scheme or port meets."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def inventory_for(tmp_path: Path, server: str) -> Path:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG % server)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "cluster": {"kubeconfig": str(kubeconfig)},
                "nodes": {"access": "none"},
                "storage": [{"name": "gold", "storage_class": "gold"}],
            }
        )
    )
    return inventory


@pytest.mark.parametrize(
    "server",
    ["closed-port", "unknown-host", "tls-mismatch"],
)
def test_an_unreachable_cluster_ends_the_run_without_retrying(
    server: str, tmp_path: Path, plain_http_server: int
) -> None:
    url = {
        "closed-port": f"https://127.0.0.1:{closed_port()}",
        "unknown-host": "https://no-such-cluster.invalid:6443",
        "tls-mismatch": f"https://127.0.0.1:{plain_http_server}",
    }[server]
    inventory = inventory_for(tmp_path, url)
    started = time.monotonic()
    result = run(
        sys.executable,
        "-m",
        "pytest",
        "suites/test_provisioning.py",
        "-p",
        "no:cacheprovider",
        "--conformance-inventory",
        str(inventory),
        timeout=60,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert elapsed < RETRY_BOUND, f"took {elapsed:.1f}s:\n{output}"
    assert "Traceback" not in output, output
    assert "cluster.kubeconfig" in output, output
    assert url.split("//", 1)[1] in output, output
    assert "canary-token" not in output
    assert len(output.splitlines()) <= 25, output
