"""On each pod's node the kubelet mounts the volume at that pod's path, and (for SCSI
storage) lsscsi lists the expected disk behind it."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.nodes import NodeShells

pytestmark = pytest.mark.filesystem  # block volumes: suites/test_block_volumes.py


def test_the_kubelet_mounts_each_volume_at_its_pod_path(
    deployed: Deployment, node_shells: NodeShells
) -> None:
    evidence.label_suite("node storage", "kubelet mount")
    fs_type = deployed.case.storage.fs_type
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        views = observe.volume_views(deployed, node_shells, ordinal)
        problems += checks.kubelet_mount(views, fs_type=fs_type)
    fail_on(problems)


@pytest.mark.scsi
@pytest.mark.disk
def test_lsscsi_lists_the_expected_disk_behind_each_volume(
    deployed: Deployment, node_shells: NodeShells
) -> None:
    evidence.label_suite("node storage", "lsscsi")
    hardware = deployed.case.storage.expect.hardware
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        views = observe.volume_views(deployed, node_shells, ordinal, scsi=True)
        problems += checks.scsi_disk(
            views, vendor=hardware.get("vendor"), model=hardware.get("model")
        )
    fail_on(problems)


@pytest.mark.disk
def test_the_device_stack_behind_each_volume_is_as_declared(
    deployed: Deployment, node_shells: NodeShells
) -> None:
    evidence.label_suite("node storage", "device stack")
    entry = deployed.case.storage
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        views = observe.volume_views(deployed, node_shells, ordinal)
        stack = observe.device_stack(node_shells, views, deployed.volume(views.pv))
        problems += checks.device_stack(stack, entry.expect)
    fail_on(problems)


def test_no_volume_is_a_directory_on_the_nodes_own_disk(
    deployed: Deployment, node_shells: NodeShells
) -> None:
    evidence.label_suite("node storage", "not the node's own disk")
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        views = observe.volume_views(
            deployed, node_shells, ordinal, container=deployed.case.storage.capabilities.exec
        )
        problems += checks.not_on_the_nodes_own_disk(views)
    fail_on(problems)
