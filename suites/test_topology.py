"""WaitForFirstConsumer and topology: claims wait for their pod, volumes stay in the
class's allowed topology, a pod returns where its volume reaches, and a pod its volume
cannot follow stays Pending with the scheduler's reason."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import checks, evidence
from conformance.checks import fail_on
from conformance.checks.topology import PROVISIONING_REASONS, WAITING_FOR_CONSUMER
from conformance.cluster import pod_ready
from conformance.deployments import Deployment
from conformance.inventory import BindingMode
from conformance.topology import NodeFacts, reachable

pytestmark = [pytest.mark.topology, pytest.mark.disruptive, pytest.mark.per_entry]

GATE = "conformance.io/hold"  # the harness's own scheduling gate


def _gated(manifest: dict[str, Any]) -> None:
    manifest["spec"]["template"]["spec"]["schedulingGates"] = [{"name": GATE}]


def _node(dep: Deployment, name: str) -> NodeFacts:
    return next(node for node in dep.cluster.nodes() if node.name == name)


def _pv(dep: Deployment, ordinal: int) -> tuple[str, dict[str, Any]]:
    name = str(dep.claim(ordinal).spec.volume_name)
    return name, dep.cluster.as_json(dep.volume(name))


def _storage_class(dep: Deployment, name: str) -> dict[str, Any]:
    return dep.cluster.as_json(dep.cluster.call(dep.cluster.storage.read_storage_class, name))


def _scheduling(pod: Any) -> tuple[str | None, str | None]:
    """The reason and message of a pod's PodScheduled condition."""
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == "PodScheduled":
            return condition.reason, condition.message
    return None, None


def test_claims_stay_pending_until_their_pod_is_scheduled(statefulset: Deployment) -> None:
    evidence.label_suite("topology", "WaitForFirstConsumer")
    class_name = statefulset.claim(0).spec.storage_class_name
    mode = _storage_class(statefulset, class_name).get("volumeBindingMode")
    if mode != BindingMode.WAIT.value:
        pytest.skip(
            f"StorageClass {class_name} binds {mode or 'Immediate'}, not WaitForFirstConsumer"
        )
    dep = statefulset.variant("wffc")
    dep.build(shape=_gated)  # each pod waits at its gate until the claim is seen Pending
    for manifest in dep.manifests:
        dep.apply_manifest(manifest)
    cluster, namespace = dep.cluster, dep.namespace
    for ordinal in range(dep.case.replicas):
        pod, claim = dep.pod_name(ordinal), dep.claim_name(ordinal)
        cluster.wait_pods(
            namespace,
            lambda seen, pod=pod: pod in seen.objects,
            what=f"{pod} created",
            selector=dep.selector,
        )
        events = cluster.wait_events(
            namespace,
            claim,
            lambda said: any(
                WAITING_FOR_CONSUMER in message or reason in PROVISIONING_REASONS
                for reason, message in said
            ),
            what=f"claim {claim} to wait for its consumer",
            timeout=cluster.timeouts.pvc_bound,
        )
        current = dep.claim(ordinal)
        fail_on(
            checks.waited_for_consumer(
                claim,
                pod,
                phase=current.status.phase if current.status else None,
                volume=current.spec.volume_name,
                events=events,
            )
        )
        cluster.ungate(namespace, pod)
        cluster.wait_pods(
            namespace,
            lambda seen, pod=pod: pod in seen.objects and pod_ready(seen.objects[pod]),
            what=f"{pod} Ready once ungated",
            selector=dep.selector,
        )
    dep.wait_up()
    problems: list[str] = []
    for ordinal in range(dep.case.replicas):
        pod = dep.pod(ordinal)
        pv_name, pv = _pv(dep, ordinal)
        node = _node(dep, pod.spec.node_name)
        problems += checks.volume_reaches_node(pod.metadata.name, node, pv_name, pv)
    fail_on(problems)


def test_volumes_stay_within_the_allowed_topologies(deployed: Deployment) -> None:
    evidence.label_suite("topology", "allowedTopologies")
    class_name = deployed.claim(0).spec.storage_class_name
    allowed = _storage_class(deployed, class_name).get("allowedTopologies") or []
    if not allowed:
        pytest.skip(f"StorageClass {class_name} has no allowedTopologies")
    evidence.attach_yaml(f"StorageClass {class_name} allowedTopologies", allowed)
    nodes = deployed.cluster.nodes()
    problems: list[str] = []
    for ordinal in range(deployed.case.replicas):
        pv_name, pv = _pv(deployed, ordinal)
        problems += checks.within_allowed_topologies(
            pv_name, deployed.claim_name(ordinal), pv, allowed, nodes
        )
    fail_on(problems)


def test_a_deleted_pod_returns_where_its_volume_reaches(deployed: Deployment) -> None:
    evidence.label_suite("topology", "pod re-created within its volume's topology")
    ordinal = deployed.case.replicas - 1
    new = deployed.recreate_pod(ordinal)
    pv_name, pv = _pv(deployed, ordinal)
    node = _node(deployed, new.spec.node_name)
    fail_on(checks.volume_reaches_node(new.metadata.name, node, pv_name, pv))


def test_a_pod_its_volume_cannot_follow_stays_pending_and_says_why(deployed: Deployment) -> None:
    evidence.label_suite("topology", "no schedulable node in the volume's topology")
    ordinal = 0
    name = deployed.pod_name(ordinal)
    pv_name, pv = _pv(deployed, ordinal)
    nodes = deployed.cluster.nodes()
    reached = [node.name for node in reachable(pv, nodes)]
    if len(reached) == len(nodes):
        pytest.skip(f"volume {pv_name} reaches every node: no topology keeps its pod away")
    cluster, namespace = deployed.cluster, deployed.namespace
    with cluster.cordoned(*reached):
        old = deployed.pod(ordinal)
        cluster.delete_pod(namespace, name)

        def decided(seen: Any) -> bool:
            pod = seen.objects.get(name)
            if pod is None or pod.metadata.uid == old.metadata.uid:
                return False
            return bool(pod.spec.node_name) or _scheduling(pod)[0] == "Unschedulable"

        seen = cluster.wait_pods(
            namespace,
            decided,
            what=f"{name} to be scheduled or found unschedulable",
            selector=deployed.selector,
        )
        pod = seen.objects[name]
        reason, message = _scheduling(pod)
        evidence.attach_text(f"{name} PodScheduled", f"{reason}: {message}")
        problems = checks.kept_from_its_volume(
            name,
            node=pod.spec.node_name,
            pv_name=pv_name,
            pv=pv,
            reached=reached,
            reason=reason,
            message=message,
        )
    deployed.wait_up()  # uncordoned: the pod comes back where its volume is
    fail_on(problems)
