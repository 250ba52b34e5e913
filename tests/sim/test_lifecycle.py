"""`conformance sim up|status|fault|down` as users run them; nothing is left behind."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from conformance.sim import lifecycle
from tests.conftest import run


def cli(*args: str) -> tuple[int, str]:
    result = run(sys.executable, "-m", "conformance", "sim", *args)
    return result.returncode, result.stdout + result.stderr


def test_up_status_faults_down_leave_nothing(tmp_path: Path) -> None:
    state = tmp_path / "sim"
    code, out = cli("up", "--state-dir", str(state), "--nodes", "2", "--runtime", "memory")
    assert code == 0, out
    pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
    kubeconfig = re.search(r"kubeconfig: (\S+)", out).group(1)  # type: ignore[union-attr]
    assert "Traceback" not in out
    api = config.new_client_from_config(config_file=kubeconfig)
    assert len(client.CoreV1Api(api).list_node().items) == 2

    code, out = cli("up", "--state-dir", str(state))
    assert code == 1
    assert "already running" in out

    code, out = cli("fault", "set", "--state-dir", str(state), "api-429=1")
    assert code == 0, out
    with pytest.raises(ApiException) as throttled:
        client.CoreV1Api(api).list_node()
    assert throttled.value.status == 429
    code, out = cli("status", "--state-dir", str(state))
    assert "api-429=1.0" in out
    code, out = cli("fault", "clear", "--state-dir", str(state))
    assert code == 0, out
    assert client.CoreV1Api(api).list_node().items
    api.close()

    code, out = cli("down", "--state-dir", str(state))
    assert code == 0, out
    assert not state.exists()
    assert not lifecycle.is_running(pid)
    code, out = cli("status", "--state-dir", str(state))
    assert code == 1
    assert "no simulated cluster is running" in out


def test_api_5xx_rate_fails_some_requests(tmp_path: Path) -> None:
    from tests.sim.conftest import start_sim

    sim = start_sim(tmp_path / "sim", nodes=1, runtime="memory", faults={"api-5xx": 0.5})
    try:
        outcomes = []
        for _ in range(40):
            try:
                sim.core.list_namespace()
                outcomes.append(200)
            except ApiException as exc:
                outcomes.append(exc.status)
        assert {200, 503} <= set(outcomes)
    finally:
        sim.api.close()
        lifecycle.down(tmp_path / "sim")


def test_watch_drop_closes_streams_early(tmp_path: Path) -> None:
    from tests.sim.conftest import start_sim

    sim = start_sim(tmp_path / "sim", nodes=1, runtime="memory", faults={"watch-drop": 1})
    try:
        started = time.monotonic()
        for _ in watch.Watch().stream(sim.core.list_namespace, timeout_seconds=30):
            pass  # initial ADDED events, then the stream is cut
        assert time.monotonic() - started < 10
    finally:
        sim.api.close()
        lifecycle.down(tmp_path / "sim")


def test_kernel_nodes_without_root_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from conformance.sim.control_plane import SimConfig

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(lifecycle.SimError) as refused:
        lifecycle.up(SimConfig(state_dir=str(tmp_path / "sim")))
    message = str(refused.value)
    assert "need root" in message
    assert "--runtime memory" in message
    assert "\n" not in message
    assert not (tmp_path / "sim").exists()
