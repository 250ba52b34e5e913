"""Every judgement of the suites: facts in, sentences naming the object and property out.

A check returns the problems it found (e.g. "web-1: /data is on 7:3 but the kubelet
mounted pvc-... from 7:4"); an empty list means the property holds. Checks are pure:
they never call the cluster or a node, so each can be tested against captured facts,
and each is shown to fail on the simulator fault that breaks its property
(tests/test_suites_fail_on_faults.py). A suite test reads: act, observe, then
``fail_on(checks.X(...))``.
"""

from conformance.checks.block import block_device
from conformance.checks.claims import (
    claims_bound,
    claims_deleted,
    claims_kept,
    claims_rebound,
    pods_mount_their_claims,
    pods_ready,
    volumes_as_declared,
)
from conformance.checks.data import payload_intact, written
from conformance.checks.identity import hostname_is, kept_claim_and_volume, resolves
from conformance.checks.ordering import created_in_order, deleted_highest_first
from conformance.checks.ownership import file_owned, fs_group_root, regrouped
from conformance.checks.shares import seen_by_the_other_pod, share_source
from conformance.checks.stack import device_stack
from conformance.checks.static import bound_as_pre_bound, bound_in_pool
from conformance.checks.templates import own_devices
from conformance.checks.volumes import (
    container_mount,
    kubelet_mount,
    kubelet_mounts_gone,
    not_on_the_nodes_own_disk,
    scsi_disk,
)


def fail_on(problems: list[str]) -> None:
    """Fail the check with every problem, one per line."""
    __tracebackhide__ = True
    assert not problems, "\n".join(problems)


__all__ = [
    "block_device",
    "bound_as_pre_bound",
    "bound_in_pool",
    "claims_bound",
    "claims_deleted",
    "claims_kept",
    "claims_rebound",
    "container_mount",
    "created_in_order",
    "deleted_highest_first",
    "device_stack",
    "fail_on",
    "file_owned",
    "fs_group_root",
    "hostname_is",
    "kept_claim_and_volume",
    "kubelet_mount",
    "kubelet_mounts_gone",
    "not_on_the_nodes_own_disk",
    "own_devices",
    "payload_intact",
    "pods_mount_their_claims",
    "pods_ready",
    "regrouped",
    "resolves",
    "scsi_disk",
    "seen_by_the_other_pod",
    "share_source",
    "volumes_as_declared",
    "written",
]
