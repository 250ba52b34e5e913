"""Access modes across pods: a ReadWriteOnce volume in use on one node is not mounted
read-write by a pod on another node, and a ReadWriteOncePod claim admits one pod only."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import checks, evidence, observe, probes
from conformance.checks import fail_on
from conformance.checks.access import MULTI_ATTACH
from conformance.deployments import Deployment
from conformance.inventory import AccessMode, VolumeMode

pytestmark = [pytest.mark.disk, pytest.mark.multinode, pytest.mark.per_entry]

SECOND = "second"  # the second pod: <set>-second


def _scheduling(pod: Any) -> tuple[str | None, str | None]:
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == "PodScheduled":
            return condition.reason, condition.message
    return None, None


def _refused_or_started(events: list[tuple[str, str]]) -> bool:
    return any(
        reason in ("Started", "FailedScheduling")
        or (reason == "FailedAttachVolume" and MULTI_ATTACH in message)
        for reason, message in events
    )


def test_a_rwo_volume_is_not_mounted_on_a_second_node(deployed: Deployment) -> None:
    evidence.label_suite("access modes", "ReadWriteOnce across nodes")
    storage = deployed.case.storage
    if AccessMode.RWO not in storage.access_modes:
        pytest.skip(f"storage '{storage.name}' does not ask for ReadWriteOnce")
    if len([n for n in deployed.cluster.nodes() if not n.unschedulable]) < 2:
        pytest.skip("the cluster has fewer than two schedulable nodes")
    holder = deployed.pod(0)
    holder_node = holder.spec.node_name
    claim = deployed.claim_name(0)
    cluster, namespace = deployed.cluster, deployed.namespace
    name = deployed.add_claim_pod(claim, suffix=SECOND, avoid_node=holder_node)
    try:
        events = cluster.wait_events(
            namespace,
            name,
            _refused_or_started,
            what=f"{name} to start or be refused the volume",
            timeout=cluster.timeouts.pod_ready,
        )
        pod = cluster.call(cluster.core.read_namespaced_pod, name, namespace)
        running = any(reason == "Started" for reason, _ in events)
        wrote = None
        if running and storage.volume_mode is VolumeMode.FILESYSTEM:
            written = observe.write_payload(deployed, name, probes.Payload.random(), "second.bin")
            wrote = not checks.written(written)
        problems = checks.not_attached_twice(
            name,
            node=pod.spec.node_name,
            holder=holder.metadata.name,
            holder_node=holder_node,
            claim=claim,
            running=running,
            wrote=wrote,
            events=events,
        )
    finally:
        cluster.delete_pod(namespace, name, wait=True)  # the shared set's claim again
    fail_on(problems)


def _rwop(manifest: dict[str, Any]) -> None:
    for template in manifest["spec"]["volumeClaimTemplates"]:
        template["spec"]["accessModes"] = [AccessMode.RWOP.value]


@pytest.mark.rwop
def test_a_rwop_claim_admits_one_pod_only(statefulset: Deployment) -> None:
    evidence.label_suite("access modes", "ReadWriteOncePod")
    dep = statefulset.variant("rwop")
    dep.deploy(replicas=1, shape=_rwop)
    holder = dep.pod(0)
    holder_node = holder.spec.node_name
    claim = dep.claim_name(0)
    cluster, namespace = dep.cluster, dep.namespace
    name = dep.add_claim_pod(claim, suffix=SECOND, node=holder_node)  # even on the same node
    try:

        def decided(seen: Any) -> bool:
            pod = seen.objects.get(name)
            return pod is not None and (
                bool(pod.spec.node_name) or _scheduling(pod)[0] == "Unschedulable"
            )

        seen = cluster.wait_pods(
            namespace, decided, what=f"{name} to be scheduled or found unschedulable"
        )
        pod = seen.objects[name]
        reason, message = _scheduling(pod)
        evidence.attach_text(f"{name} PodScheduled", f"{reason}: {message}")
        problems = checks.one_pod_only(
            name,
            node=pod.spec.node_name,
            holder=holder.metadata.name,
            holder_node=holder_node,
            claim=claim,
            reason=reason,
            message=message,
        )
    finally:
        cluster.delete_pod(namespace, name, wait=True)  # the shared set's claim again
        cluster.delete_statefulset(namespace, dep.set_name)
    fail_on(problems)
