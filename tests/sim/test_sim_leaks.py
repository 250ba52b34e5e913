"""Twenty simulator lifetimes, some ended by SIGKILL and `sim clean`, leave nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from conformance.sim import lifecycle
from conformance.sim.control_plane import SimConfig
from conformance.sim.kernel import cleanup
from tests.sim.conftest import run_a_pod

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("sshd", path="/usr/sbin:/usr/bin") is None,
    reason="kernel-backed nodes need root and openssh-server (CI runs as root)",
)

CYCLES = 20


def _host_mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(prefix)
    ]


def test_up_down_and_kill_cycles_leave_nothing(tmp_path: Path) -> None:
    state_dirs = []
    for cycle in range(CYCLES):
        state_dir = tmp_path / f"sim{cycle}"
        state_dirs.append(state_dir)
        running = lifecycle.up(SimConfig(state_dir=str(state_dir), nodes=1, runtime="kernel"))
        if cycle % 4 == 0:
            run_a_pod(running.kubeconfig)  # a loop device, kubelet mounts, a pod's namespaces
        if cycle % 5 == 2:
            os.kill(running.pid, signal.SIGKILL)  # a crash: nothing gets to tidy up
            assert lifecycle.wait_exit(running.pid, 10)
            assert lifecycle.status(state_dir) is None
            # what `conformance sim clean` does: every orphan of a dead simulator
            report = cleanup.clean(cleanup.find_leftovers())
            assert report.ok, str(report)
            lifecycle.remove_state(state_dir)
        else:
            assert lifecycle.down(state_dir)
        assert not state_dir.exists()

    leftovers = cleanup.find_leftovers(state_dirs=state_dirs, include_live=True)
    assert leftovers.empty, "\n".join(leftovers.lines())
    orphans = cleanup.find_leftovers()  # bridges and namespaces of any dead simulator
    assert orphans.empty, "\n".join(orphans.lines())
    assert _host_mounts_under(tmp_path) == []
    loops = [line for line in os.popen("losetup -a").read().splitlines() if str(tmp_path) in line]
    assert loops == []
