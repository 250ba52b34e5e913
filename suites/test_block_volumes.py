"""A Block volume (volumeMode: Block) appears in each pod as a device node at its
devicePath, the same device the kubelet maps on the node, and raw data written at an
offset survives the pod being re-created."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.plugin import NodeAccess

pytestmark = pytest.mark.block

OFFSET_BLOCKS = 2048  # 8 MiB into the device: past anything a careless format would touch


@pytest.mark.exec
def test_the_device_is_in_the_container_at_its_device_path(
    deployed: Deployment, node_access: NodeAccess
) -> None:
    evidence.label_suite("block volumes", "device node at devicePath")
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        problems += checks.block_device(observe.block_views(deployed, node_access.shells, ordinal))
    fail_on(problems)


@pytest.mark.exec
@pytest.mark.persistence
@pytest.mark.disruptive
def test_raw_data_at_an_offset_survives_the_pod_being_recreated(deployed: Deployment) -> None:
    evidence.label_suite("block volumes", "raw data survives re-creation")
    ordinal = deployed.case.replicas - 1
    name = deployed.pod_name(ordinal)
    payload = probes.Payload.random(4 * probes.BLOCK)
    written = observe.write_raw(deployed, name, payload, offset_blocks=OFFSET_BLOCKS)
    fail_on(checks.written(written))
    deployed.recreate_pod(ordinal)
    read = observe.read_raw(deployed, name, offset_blocks=OFFSET_BLOCKS, blocks=4)
    fail_on(checks.payload_intact(read, payload))
