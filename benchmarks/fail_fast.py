"""Print how long a conformance run takes to give up on a cluster it cannot reach.

    python3 benchmarks/fail_fast.py [--runs 3] [--root PATH]

Cases: a kubeconfig pointing at a closed local port, at a host name that does not
resolve, and at a plain-HTTP port (TLS mismatch). Each run is `pytest suites/...` in a
fresh interpreter, as a user starts it; the figure is its wall time (median), exit code
and the last line it printed. ``--root`` runs another checkout (e.g. an older commit in a
git worktree) to compare before and after.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "%s"}}]
users: [{name: u, user: {token: benchmark}}]
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


def one_run(root: Path, server: str) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG % server)
        inventory = Path(tmp) / "inventory.yaml"
        inventory.write_text(
            f"cluster: {{kubeconfig: {kubeconfig}}}\nnodes: {{access: none}}\n"
            "storage: [{name: gold, storage_class: gold}]\n"
        )
        env = {**os.environ, "PYTHONPATH": str(root)}
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites/test_provisioning.py",
                "-p",
                "no:cacheprovider",
                "-p",
                "conformance.plugin",
                "--conformance-inventory",
                str(inventory),
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        return time.monotonic() - started, done.returncode, (lines[-1] if lines else "")[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    http_server = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    cases = {
        "closed port": f"https://127.0.0.1:{closed_port()}",
        "unknown host": "https://no-such-cluster.invalid:6443",
        "TLS mismatch": f"https://127.0.0.1:{http_server.server_address[1]}",
    }
    print(f"root: {args.root}  runs: {args.runs}")
    print(f"{'case':<14} {'median s':>9} {'exit':>5}  last line")
    for name, server in cases.items():
        results = [one_run(args.root, server) for _ in range(args.runs)]
        median = statistics.median(r[0] for r in results)
        print(f"{name:<14} {median:>9.1f} {results[-1][1]:>5}  {results[-1][2]}")
    http_server.shutdown()


if __name__ == "__main__":
    main()
