"""Disruptions the suites cause on purpose: a node's kubelet restarted, a node drained.

Each acts, then waits (watches, no sleeps) for the cluster to settle, and returns what a
check compares: the kubelet is back when its node posts a Ready heartbeat newer than
the one before the restart (a starting kubelet posts its status at once); a drained
pod is back when the set's pod of that name is a new pod, Ready.
"""

from __future__ import annotations

from typing import Any

from conformance import evidence
from conformance.cluster import pod_ready
from conformance.deployments import Deployment
from conformance.nodes.base import CommandResult
from conformance.nodes.pool import NodeShells


def restart_kubelet(dep: Deployment, shells: NodeShells, node: str) -> CommandResult:
    """Run the inventory's ``nodes.kubelet_restart_command`` on ``node``; return once the
    node is Ready with a heartbeat from the restarted kubelet."""
    command = dep.inventory.nodes.kubelet_restart_command
    with evidence.step(f"restart the kubelet on {node}: {command}"):
        before = dep.cluster.node_heartbeat(node)
        result = shells.run(node, command).check()
        dep.cluster.wait_node_ready(node, after_heartbeat=before)
    return result


def evict_from_cordoned(dep: Deployment, ordinal: int) -> Any:
    """With pod ``ordinal``'s node cordoned (the caller's ``cluster.cordoned``), evict the
    pod as ``kubectl drain`` does and wait for the set to bring it back Ready elsewhere;
    the new pod."""
    name = dep.pod_name(ordinal)
    old = dep.pod(ordinal)
    since = dep.cluster.resource_version(dep.namespace)
    dep.cluster.evict(dep.namespace, name)
    dep.cluster.wait_pods(
        dep.namespace,
        lambda seen: (
            name in seen.objects
            and seen.objects[name].metadata.uid != old.metadata.uid
            and pod_ready(seen.objects[name])
        ),
        what=f"{name} to come back after its eviction from {old.spec.node_name}",
        selector=dep.selector,
        since=since,
    )
    return dep.pod(ordinal)
