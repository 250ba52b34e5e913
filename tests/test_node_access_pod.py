"""``nodes.access: pod`` end to end: the node storage suite reaches the simulator's nodes
through upstream's HostExec shape (a privileged hostPID pod with the node's / at /rootfs,
commands run with nsenter into PID 1's mount namespace), with no SSH at all."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from tests.test_suites_fail_on_faults import inventory_with, needs_nodes, run_suites


@needs_nodes
def test_the_node_storage_suite_passes_through_host_exec_pods(tmp_path: Path) -> None:
    inventory = inventory_with(tmp_path, {})
    data = yaml.safe_load(inventory.read_text())
    data["nodes"] = {"access": "pod"}
    inventory.write_text(yaml.safe_dump(data))
    junit = tmp_path / "junit.xml"
    code, output = run_suites(
        inventory, "suites/test_node_storage.py", "-rs", f"--junitxml={junit}"
    )
    assert code == 0, output[-3000:]
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    ran = [case.get("name") for case in cases if case.find("skipped") is None]
    assert len(ran) == len(cases) >= 4, output[-3000:]  # kubelet mount, lsscsi, stack, guard
