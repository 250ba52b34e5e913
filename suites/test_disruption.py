"""Disruption: a restarted kubelet keeps its pods, their mounts and data; a drained node's
pod moves to another node with its volume and data."""

from __future__ import annotations

import pytest

from conformance import checks, disruptions, evidence, observe, probes
from conformance.checks import fail_on
from conformance.deployments import Deployment
from conformance.plugin import NodeAccess

pytestmark = [
    pytest.mark.disruptive,
    pytest.mark.persistence,
    pytest.mark.filesystem,  # payloads are files
    pytest.mark.per_entry,  # the pod management policy changes nothing here
]

PAYLOAD = "disruption.bin"


def test_a_kubelet_restart_keeps_pods_mounts_and_data(
    deployed: Deployment, node_access: NodeAccess
) -> None:
    evidence.label_suite("disruption", "kubelet restart")
    shells = node_access.shells
    if shells is None:
        pytest.skip(f"restarting a kubelet needs node access: {node_access.reason}")
    ordinal = deployed.case.replicas - 1
    name = deployed.pod_name(ordinal)
    payload = probes.Payload.random()
    fail_on(checks.written(observe.write_payload(deployed, name, payload, PAYLOAD)))
    before = observe.pod_state(deployed.pod(ordinal))
    mounted = observe.volume_views(deployed, shells, ordinal)

    disruptions.restart_kubelet(deployed, shells, before.node)
    deployed.cluster.wait_ready(
        deployed.namespace, deployed.case.replicas, selector=deployed.selector
    )

    after = observe.pod_state(deployed.pod(ordinal))
    still = observe.volume_views(deployed, shells, ordinal)
    problems = checks.adopted_after_kubelet_restart(before, after)
    problems += checks.mount_kept(
        mounted.kubelet_mount, still.kubelet_mount, pod=name, pv=mounted.pv, node=before.node
    )
    problems += checks.payload_intact(observe.read_back(deployed, name, PAYLOAD), payload)
    fail_on(problems)


@pytest.mark.multinode
def test_a_drained_nodes_pod_moves_with_its_volume_and_data(
    deployed: Deployment, node_access: NodeAccess
) -> None:
    evidence.label_suite("disruption", "node drain")
    ordinal = deployed.case.replicas - 1
    name = deployed.pod_name(ordinal)
    payload = probes.Payload.random()
    fail_on(checks.written(observe.write_payload(deployed, name, payload, PAYLOAD)))
    before = observe.pod_state(deployed.pod(ordinal))
    pv = deployed.claim(ordinal).spec.volume_name

    with deployed.cluster.cordoned(before.node):
        moved = disruptions.evict_from_cordoned(deployed, ordinal)
        after = observe.pod_state(moved)
        problems = checks.moved_off(before, after, cordoned=before.node)
        if node_access.shells is not None:
            problems += checks.volume_left_node(
                observe.node_mounts(node_access.shells, before.node),
                pod=name,
                pv=pv,
                node=before.node,
            )
            views = observe.volume_views(deployed, node_access.shells, ordinal)
            problems += checks.kubelet_mount(views, fs_type=deployed.case.storage.fs_type)
        problems += checks.payload_intact(observe.read_back(deployed, name, PAYLOAD), payload)
    fail_on(problems)
