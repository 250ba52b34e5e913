"""On each pod's node the disk is there (lsscsi) and mounted at that pod's kubelet path."""

from __future__ import annotations

import pytest

from conformance import checks, evidence
from conformance.deployments import Deployment
from conformance.nodes.base import NodeShells


@pytest.mark.scsi
def test_lsscsi_lists_the_expected_disk_and_the_kubelet_mounts_it(
    deployed: Deployment, node_shells: NodeShells
) -> None:
    evidence.label_suite("node storage", "lsscsi and kubelet mount")
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        problems += checks.node_storage(deployed, node_shells, ordinal)
    checks.fail_on(problems)
