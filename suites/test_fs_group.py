"""fsGroup and fsGroupChangePolicy: a non-root container (runAsUser, runAsGroup, fsGroup)
writes to the volume, which the kubelet gave the fsGroup (group rwx and setgid on its
root), and its files carry that group. After the pod's deletion, ``Always`` gives every
file the fsGroup again; ``OnRootMismatch`` leaves a volume whose root already matches
alone (a file moved to another group keeps it).

Each policy has a set of its own (one replica), a variant in the read-only suites'
namespace.
"""

from __future__ import annotations

import functools

import pytest

from conformance import checks, evidence, observe, probes, shapes
from conformance.checks import fail_on
from conformance.deployments import Deployment

pytestmark = [pytest.mark.fs_group, pytest.mark.per_entry, pytest.mark.exec, pytest.mark.filesystem]

USER, GROUP, FS_GROUP = 1001, 1002, 2000
PAYLOAD = "fsgroup.bin"


def _deploy(statefulset: Deployment, policy: str) -> Deployment:
    dep = statefulset.variant(policy.lower())
    shape = functools.partial(
        shapes.run_as, user=USER, group=GROUP, fs_group=FS_GROUP, change_policy=policy
    )
    dep.deploy(replicas=1, shape=shape)
    return dep


def _written_as_non_root(dep: Deployment, pod: str) -> list[str]:
    """The volume's root is the fsGroup's; a file the container writes is USER:FS_GROUP."""
    root = dep.mount_path
    path = f"{root}/{PAYLOAD}"
    problems = checks.fs_group_root(observe.ownership(dep, pod, [root]), root, FS_GROUP)
    if problems:
        return problems
    written = checks.written(observe.write_payload(dep, pod, probes.Payload.random(), PAYLOAD))
    if written:
        return written
    seen = observe.ownership(dep, pod, [path])
    why = f"written by runAsUser {USER} in a setgid directory of fsGroup {FS_GROUP}"
    return checks.file_owned(seen, path, uid=USER, gid=FS_GROUP, why=why)


def _regrouped_and_recreated(dep: Deployment, pod: str) -> observe.Owned:
    """Move the file to the container's own group, re-create the pod; what it sees then."""
    path = f"{dep.mount_path}/{PAYLOAD}"
    fail_on(checks.regrouped(observe.change_group(dep, pod, path, GROUP), GROUP))
    dep.recreate_pod(0)
    return observe.ownership(dep, pod, [dep.mount_path, path])


def test_always_gives_the_volume_and_its_files_the_fs_group(statefulset: Deployment) -> None:
    evidence.label_suite("fsGroup", "Always: every file of the fsGroup at each mount")
    dep = _deploy(statefulset, "Always")
    pod = dep.pod_name(0)
    fail_on(_written_as_non_root(dep, pod))
    seen = _regrouped_and_recreated(dep, pod)
    path = f"{dep.mount_path}/{PAYLOAD}"
    why = "fsGroupChangePolicy Always gives every file the fsGroup at each mount"
    problems = checks.fs_group_root(seen, dep.mount_path, FS_GROUP)
    problems += checks.file_owned(seen, path, uid=USER, gid=FS_GROUP, why=why)
    fail_on(problems)


def test_on_root_mismatch_leaves_a_matching_volume_alone(statefulset: Deployment) -> None:
    evidence.label_suite("fsGroup", "OnRootMismatch: a matching root is left alone")
    dep = _deploy(statefulset, "OnRootMismatch")
    pod = dep.pod_name(0)
    fail_on(_written_as_non_root(dep, pod))
    seen = _regrouped_and_recreated(dep, pod)
    path = f"{dep.mount_path}/{PAYLOAD}"
    why = "fsGroupChangePolicy OnRootMismatch changes nothing when the volume's root matches"
    problems = checks.fs_group_root(seen, dep.mount_path, FS_GROUP)
    problems += checks.file_owned(seen, path, uid=USER, gid=GROUP, why=why)
    fail_on(problems)
