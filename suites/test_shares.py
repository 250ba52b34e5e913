"""A network file share (nfs, cifs, cephfs, fuse.*) is the share its PV names in every view,
and with ReadWriteMany, pods on different nodes see each other's writes."""

from __future__ import annotations

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.inventory import AccessMode
from conformance.plugin import NodeAccess

pytestmark = pytest.mark.share

PAYLOAD = "shared.bin"


@pytest.mark.exec
def test_every_view_shows_the_share_the_pv_names(
    deployed: Deployment, node_access: NodeAccess
) -> None:
    evidence.label_suite("file shares", "the PV's share in every view")
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        views = observe.volume_views(deployed, node_access.shells, ordinal, container=True)
        declared = observe.declared_share(deployed.volume(views.pv))
        problems += checks.share_source(views, declared)
    fail_on(problems)


@pytest.mark.exec
@pytest.mark.multinode
def test_pods_on_two_nodes_see_each_others_writes(deployed: Deployment) -> None:
    evidence.label_suite("file shares", "ReadWriteMany across nodes")
    if AccessMode.RWX not in deployed.case.storage.access_modes:
        pytest.skip(f"storage '{deployed.case.storage.name}' does not ask for ReadWriteMany")
    first = deployed.pod(0)
    writer, node = first.metadata.name, first.spec.node_name
    reader = deployed.start_reader(deployed.claim_name(0), avoid_node=node)
    try:
        there = f"on {reader.spec.node_name}"
        payload = probes.Payload.random()
        fail_on(checks.written(observe.write_payload(deployed, writer, payload, PAYLOAD)))
        read = observe.read_back(deployed, reader.metadata.name, PAYLOAD)
        problems = checks.seen_by_the_other_pod(
            read, payload, writer=f"{writer} on {node}", where=there
        )
        answer = probes.Payload.random()
        fail_on(
            problems
            + checks.written(
                observe.write_payload(deployed, reader.metadata.name, answer, "answer.bin")
            )
        )
        read = observe.read_back(deployed, writer, "answer.bin")
        fail_on(
            checks.seen_by_the_other_pod(
                read, answer, writer=f"{reader.metadata.name} {there}", where=f"on {node}"
            )
        )
    finally:  # the claim is the shared set's: no pod of ours may hold it afterwards
        deployed.cluster.delete_pod(deployed.namespace, reader.metadata.name, wait=True)
