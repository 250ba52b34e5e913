"""In each pod the volume's device is mounted at the mount path, writable, and keeps data."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, probes
from conformance.deployments import Deployment
from conformance.inventory import Access
from conformance.nodes.base import NodeShells


@pytest.fixture(scope="module")
def shells_if_any(request: pytest.FixtureRequest, deployed: Deployment) -> NodeShells | None:
    """Node shells when the inventory gives node access (to compare with the kubelet's view)."""
    if deployed.inventory.nodes.access is Access.NONE:
        return None
    shells: NodeShells = request.getfixturevalue("node_shells")
    return shells


@pytest.mark.exec
def test_the_volume_is_mounted_at_the_mount_path_read_write(
    deployed: Deployment, shells_if_any: NodeShells | None
) -> None:
    evidence.label_suite("container mounts", "device at the mount path")
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        problems += checks.container_mount(deployed, shells_if_any, ordinal)
    checks.fail_on(problems)


@pytest.mark.exec
def test_a_payload_written_with_fsync_reads_back_identical(deployed: Deployment) -> None:
    evidence.label_suite("container mounts", "data round trip")
    problems: list[str] = []
    for pod in deployed.pods():
        payload = probes.Payload.random()
        problems += checks.write_payload(deployed, pod.metadata.name, payload, "payload.bin")
        problems += checks.payload_intact(deployed, pod.metadata.name, payload, "payload.bin")
    checks.fail_on(problems)
