"""The properties the suites assert, each returning the problems it found as sentences.

A sentence names the object and the broken property (e.g. "web-1: /data is on 7:3
but the kubelet mounted pvc-... from 7:4"), so a failed check says exactly what
broke; an empty list means the property holds. Suites assert on these lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance import evidence, probes
from conformance.deployments import Deployment
from conformance.inventory import Access
from conformance.nodes.base import CommandResult, NodeShells
from conformance.sim.api.defaults import parse_quantity


def fail_on(problems: list[str]) -> None:
    """Fail the check with every problem, one per line."""
    assert not problems, "\n".join(problems)


def _record(where: str, result: CommandResult) -> CommandResult:
    evidence.attach_command(where, result.command, result.exit_code, result.stdout, result.stderr)
    return result


# --- claims and volumes ---------------------------------------------------------------


def claims_bound(dep: Deployment, replicas: int | None = None) -> list[str]:
    claims = dep.claims()
    problems = []
    for name in dep.claim_names(replicas):
        claim = claims.get(name)
        if claim is None:
            problems.append(f"claim {name} does not exist")
        elif claim.status.phase != "Bound":
            problems.append(f"claim {name} is {claim.status.phase}, not Bound")
        elif not claim.spec.volume_name:
            problems.append(f"claim {name} is Bound but names no volume")
    return problems


def _pv_fs_type(pv: Any) -> str | None:
    spec = pv.spec
    for source in (spec.csi, spec.flex_volume, spec.iscsi, spec.fc, spec.rbd):
        if source is not None and getattr(source, "fs_type", None):
            return str(source.fs_type)
    return None


def volumes_as_declared(dep: Deployment) -> list[str]:
    """Each claim's PV has the class, capacity, access modes and fs type of the entry."""
    entry = dep.case.storage
    wanted = parse_quantity(entry.size)
    problems = []
    claims = dep.claims()
    for name in dep.claim_names():
        claim = claims.get(name)
        if claim is None or not claim.spec.volume_name:
            problems.append(f"claim {name} has no volume")
            continue
        pv = dep.volume(claim.spec.volume_name)
        label = f"{name} -> {pv.metadata.name}"
        if dep.class_name and pv.spec.storage_class_name != dep.class_name:
            problems.append(
                f"{label}: storage class {pv.spec.storage_class_name!r}, "
                f"expected {dep.class_name!r}"
            )
        capacity = (pv.spec.capacity or {}).get("storage")
        if capacity is None or parse_quantity(str(capacity)) < wanted:
            problems.append(f"{label}: capacity {capacity}, expected at least {entry.size}")
        modes = set(pv.spec.access_modes or [])
        missing = {m.value for m in entry.access_modes} - modes
        if missing:
            problems.append(f"{label}: access modes {sorted(modes)} lack {sorted(missing)}")
        fs_type = _pv_fs_type(pv)
        if fs_type is not None and fs_type != entry.fs_type.value:
            problems.append(f"{label}: fs type {fs_type}, expected {entry.fs_type.value}")
    return problems


# --- the three views of a volume ------------------------------------------------------------


@dataclass
class Views:
    pod: str
    node: str
    pv: str
    correlation: probes.Correlation


def gather(
    dep: Deployment, shells: NodeShells | None, ordinal: int, *, container: bool = True
) -> Views:
    """lsscsi and mountinfo on the pod's node, mountinfo in the container; correlated."""
    pod = dep.pod(ordinal)
    name = pod.metadata.name
    node = pod.spec.node_name
    claim_name = dep.claim_of_pod(pod) or dep.claim_name(ordinal)
    claim = dep.claims().get(claim_name)
    pv = claim.spec.volume_name if claim is not None else ""
    entry = dep.case.storage
    lsscsi: list[probes.ScsiDevice] | None = None
    node_mounts: list[probes.MountInfo] = []
    if shells is not None and dep.inventory.nodes.access is not Access.NONE:
        with evidence.step(f"look at {pv} on node {node}"):
            if entry.capabilities.scsi:
                result = _record(f"node {node}", shells.run(node, list(probes.LSSCSI)).check())
                lsscsi = probes.parse_lsscsi(result.stdout)
            result = _record(f"node {node}", shells.run(node, list(probes.MOUNTINFO)).check())
            node_mounts = probes.parse_mountinfo(result.stdout)
    container_mounts: list[probes.MountInfo] = []
    if container and entry.capabilities.exec:
        with evidence.step(f"look at {dep.mount_path} in pod {name}"):
            result = dep.exec(name, list(probes.MOUNTINFO))
            if result.exit_code == 0:
                container_mounts = probes.parse_mountinfo(result.stdout)
    correlation = probes.correlate(
        lsscsi,
        node_mounts,
        container_mounts,
        pod_uid=pod.metadata.uid,
        pv_name=pv,
        mount_path=dep.mount_path,
        expect_fs_type=entry.fs_type.value,
        expect_vendor=entry.expect.scsi_vendor,
        expect_model=entry.expect.scsi_model,
        expect_writable=True,
    )
    evidence.attach_text(f"{name}: the three views", correlation.describe())
    return Views(name, node, pv, correlation)


def node_storage(dep: Deployment, shells: NodeShells, ordinal: int) -> list[str]:
    views = gather(dep, shells, ordinal, container=False)
    return [f"{views.pod} on {views.node}: {p}" for p in views.correlation.node_problems]


def container_mount(dep: Deployment, shells: NodeShells | None, ordinal: int) -> list[str]:
    views = gather(dep, shells, ordinal)
    return [f"{views.pod}: {p}" for p in views.correlation.container_problems]


# --- data ----------------------------------------------------------------------------------


def write_payload(dep: Deployment, pod: str, payload: probes.Payload, name: str) -> list[str]:
    path = f"{dep.mount_path}/{name}"
    with evidence.step(f"write {payload} to {path} in {pod}"):
        result = dep.exec(pod, probes.write_payload_command(path, payload))
    if result.exit_code != 0:
        return [f"{pod}: writing {path} failed (exit {result.exit_code}): {result.stderr.strip()}"]
    return []


def payload_intact(dep: Deployment, pod: str, payload: probes.Payload, name: str) -> list[str]:
    path = f"{dep.mount_path}/{name}"
    with evidence.step(f"read {path} back in {pod}"):
        result = dep.exec(pod, probes.checksum_command(path))
    if result.exit_code != 0:
        return [f"{pod}: {path} cannot be read (exit {result.exit_code}): {result.stderr.strip()}"]
    digest = probes.parse_checksum(result.stdout).digest
    if digest != payload.sha256:
        return [f"{pod}: {path} reads back sha256 {digest[:16]}..., wrote {payload.sha256[:16]}..."]
    return []


def hostname_is(dep: Deployment, pod: str) -> list[str]:
    result = dep.exec(pod, list(probes.HOSTNAME_PROC))
    if result.exit_code != 0:
        return [f"{pod}: cannot read its hostname: {result.stderr.strip()}"]
    hostname = probes.parse_hostname(result.stdout)
    return [] if hostname == pod else [f"{pod}: hostname is {hostname!r}, expected {pod!r}"]


def resolves(dep: Deployment, from_pod: str, target: str) -> list[str]:
    name = f"{target}.{dep.set_name}"
    result = dep.exec(from_pod, list(probes.getent_hosts_command(name)))
    if result.exit_code != 0 or not probes.parse_getent_hosts(result.stdout):
        return [f"{from_pod}: the DNS record {name} of {target} does not resolve"]
    return []


def kubelet_mounts_gone(
    dep: Deployment, shells: NodeShells, node: str, pod_uid: str, pod: str
) -> list[str]:
    result = _record(f"node {node}", shells.run(node, list(probes.MOUNTINFO)).check())
    mounts = probes.parse_mountinfo(result.stdout)
    left = [
        m.mount_point for path, m in probes.kubelet_volume_mounts(mounts) if path.pod_uid == pod_uid
    ]
    return [f"{pod} is gone but its kubelet mount {p} remains on {node}" for p in left]
