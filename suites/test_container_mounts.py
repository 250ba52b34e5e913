"""In each pod the volume's device is mounted at the mount path, writable, and keeps data."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.plugin import NodeAccess

pytestmark = pytest.mark.filesystem  # block volumes: suites/test_block_volumes.py


@pytest.mark.exec
def test_the_volume_is_mounted_at_the_mount_path_read_write(
    deployed: Deployment, node_access: NodeAccess
) -> None:
    evidence.label_suite("container mounts", "device at the mount path")
    fs_type = deployed.case.storage.fs_type
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        # with node access, the container's device is compared with the kubelet's mount
        views = observe.volume_views(deployed, node_access.shells, ordinal, container=True)
        problems += checks.container_mount(views, fs_type=fs_type, writable=True)
    fail_on(problems)


@pytest.mark.exec
def test_a_payload_written_with_fsync_reads_back_identical(deployed: Deployment) -> None:
    evidence.label_suite("container mounts", "data round trip")
    problems: list[str] = []
    for pod in deployed.pods():
        name = pod.metadata.name
        payload = probes.Payload.random()
        written = checks.written(observe.write_payload(deployed, name, payload, "payload.bin"))
        problems += written or checks.payload_intact(
            observe.read_back(deployed, name, "payload.bin"), payload
        )
    fail_on(problems)
