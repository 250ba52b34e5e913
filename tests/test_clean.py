"""`conformance clean` sweeps what a killed run left on a cluster, by labels only.

A simulator is started by hand (`conformance sim up`), a conformance run against it is
SIGKILLed once its set is deployed (as a CI timeout does), and the sweep then removes
the run's namespace, StorageClass and Retain-policy PVs, and leaves alone a namespace
nobody labelled. The in-memory runtime serves the API and controllers without root.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from conformance.workloads import LABEL_RUN
from tests.conftest import ROOT, run

SETUP_DONE = "SETUP    M deployed"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Path]:
    """A simulator started by hand; its inventory, with Retain so PVs outlive claims."""
    state = tmp_path / "sim"
    started = run(
        sys.executable,
        "-m",
        "conformance",
        "sim",
        "up",
        "--runtime",
        "memory",
        "--state-dir",
        str(state),
        "--nodes",
        "1",
    )
    assert started.returncode == 0, started.stderr
    try:
        inventory = yaml.safe_load((state / "inventory.yaml").read_text())
        inventory["storage"] = inventory["storage"][:1]
        inventory["storage"][0]["reclaim_policy"] = "Retain"
        inventory["storage"][0]["capabilities"] = {"scsi": False, "exec": False}
        inventory["workload"]["pod_management_policy"] = ["OrderedReady"]
        path = tmp_path / "inventory.yaml"
        path.write_text(yaml.safe_dump(inventory))
        yield path
    finally:
        run(sys.executable, "-m", "conformance", "sim", "down", "--state-dir", str(state))


def api(inventory: Path) -> client.CoreV1Api:
    settings = yaml.safe_load(inventory.read_text())["cluster"]
    return client.CoreV1Api(
        config.new_client_from_config(settings["kubeconfig"], context=settings.get("context"))
    )


def kill_once_deployed(inventory: Path) -> None:
    """Start a conformance run and SIGKILL it as soon as its set is deployed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites/test_provisioning.py",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--setup-show",
            "--conformance-inventory",
            str(inventory),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    seen, deadline = b"", time.monotonic() + 120
    try:
        while SETUP_DONE.encode() not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"the run never deployed its set:\n{seen.decode()[-2000:]}"
            ready, _, _ = select.select([proc.stdout], [], [], left)
            chunk = os.read(proc.stdout.fileno(), 65536) if ready else b""
            assert chunk or proc.poll() is None, f"the run ended early:\n{seen.decode()[-2000:]}"
            seen += chunk
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def clean(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "conformance", "clean", "--inventory", str(inventory), *args)


def test_a_killed_runs_leftovers_are_swept_and_nothing_else(sim: Path) -> None:
    core = api(sim)
    core.create_namespace({"metadata": {"name": "keep-me"}})
    kill_once_deployed(sim)
    ours = [n.metadata.name for n in core.list_namespace(label_selector=LABEL_RUN).items]
    pvs = [pv.metadata.name for pv in core.list_persistent_volume().items]
    assert ours, "the killed run left no namespace to sweep"
    assert pvs, "the killed run left no volume to sweep"

    dry = clean(sim, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for name in [*ours, *pvs]:
        assert f"would remove Namespace {name}" in dry.stdout or (
            f"would remove PersistentVolume {name}" in dry.stdout
        ), dry.stdout
    assert "keep-me" not in dry.stdout
    assert [n.metadata.name for n in core.list_namespace(label_selector=LABEL_RUN).items] == ours

    swept = clean(sim)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert "removed StorageClass" in swept.stdout
    left = [
        n.metadata.name
        for n in core.list_namespace(label_selector=LABEL_RUN).items
        if not n.metadata.deletion_timestamp
    ]
    assert left == []
    assert all(
        pv.metadata.deletion_timestamp or pv.metadata.name not in pvs
        for pv in core.list_persistent_volume().items
    )
    assert core.read_namespace("keep-me").status.phase == "Active"
    again = clean(sim, "--dry-run")
    assert "keep-me" not in again.stdout


def test_bad_durations_and_started_clusters_are_refused_in_one_line() -> None:
    bad = clean(ROOT / "inventories" / "lab-example.yaml", "--older-than", "2 hours")
    assert bad.returncode == 2
    assert "is not a duration such as 30m, 2h or 1d12h" in bad.stderr
    started = clean(ROOT / "inventories" / "sim.yaml")
    assert started.returncode == 2
    assert "reports/sim/inventory.yaml" in started.stderr
    assert "Traceback" not in bad.stderr + started.stderr
